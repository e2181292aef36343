/* vmm_image.c: -o options of the vmdk, vpc and vhdx targets. */
#include <string.h>

#include "abi_format.h"
#include "vmm_measure.h"

bool vmm_image_config(uint32_t fmt, const struct vmm_opts *o, uint64_t size,
                      struct abi_measure_config *cfg)
{
    (void)o;
    (void)size;
    (void)cfg;
    (void)fmt;
    return true;
}
