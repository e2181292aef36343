/* vmm_image.c: -o options of the vmdk, vpc and vhdx targets.
 *
 * qemu-img cannot measure these targets, so there is no measure behaviour to
 * copy: option values are checked as `qemu-img create` checks them, with its
 * messages, and resolved into MeasureConfig plus the extension record.
 */
#include <string.h>

#include "abi_format.h"
#include "abi_measure.h"
#include "calc.h"
#include "vmm_measure.h"

static int index_of(const char *v, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(v, names[i]) == 0)
            return i;
    }
    return -1;
}

static bool vmdk_config(const struct vmm_opts *o, struct abi_measure_config *cfg,
                        struct abi_measure_ext *ext)
{
    /* Indexes are ABI_VMDK_* values. */
    static const char *const subformats[] = {"monolithicSparse", "streamOptimized",
                                             "monolithicFlat", "twoGbMaxExtentSparse",
                                             "twoGbMaxExtentFlat", NULL};
    static const char *const adapters[] = {"ide", "lsilogic", "buslogic", "legacyESX", NULL};
    const char *sub = vmm_opts_str(o, "subformat");
    const char *adapter = vmm_opts_str(o, "adapter_type");
    const char *hw = vmm_opts_str(o, "hwversion");
    const char *tools = vmm_opts_str(o, "toolsversion");
    const char *backing_fmt = vmm_opts_str(o, "backing_fmt");
    bool compat6 = vmm_opts_bool(o, "compat6", false);
    int s = sub != NULL ? index_of(sub, subformats) : (int)ABI_VMDK_MONOLITHIC_SPARSE;

    if (adapter == NULL)
        adapter = "ide";
    if (index_of(adapter, adapters) < 0) {
        vmm_error("invalid parameter value: %s", adapter);
        return false;
    }
    if (s < 0) {
        vmm_error("invalid parameter value: %s", sub);
        return false;
    }
    if (hw != NULL && strcmp(hw, "undefined") == 0)
        hw = NULL;
    if (compat6 && hw != NULL) {
        vmm_error("compat6 cannot be enabled with hwversion set");
        return false;
    }
    if ((s == ABI_VMDK_MONOLITHIC_FLAT || s == ABI_VMDK_TWOGB_FLAT) &&
        vmm_opts_bool(o, "zeroed_grain", false)) {
        vmm_error("Flat image can't enable zeroed grain");
        return false;
    }
    if (backing_fmt != NULL && strcmp(backing_fmt, "vmdk") != 0) {
        vmm_error("backing_file must be a vmdk image");
        return false;
    }
    /* The backing file is never opened: it only makes every grain count. */
    if (vmm_opts_str(o, "backing_file") != NULL)
        cfg->flags |= ABI_MEASURE_FLAG_BACKING;
    cfg->vmdk_subformat = (uint8_t)s;
    cfg->vmdk_grain_size = CALC_VMDK_GRAIN;
    ext->vmdk_heads = strcmp(adapter, "ide") == 0 ? 16 : 255;
    /* Descriptor text: adapter, hwversion ("4", or "6" with compat6) and
     * toolsversion ("2147483647" by default). */
    ext->vmdk_strings_len = (uint32_t)(strlen(adapter) + (hw != NULL ? strlen(hw) : 1) +
                                       (tools != NULL ? strlen(tools) : 10));
    return true;
}

static bool vhd_subformat(const struct vmm_opts *o, struct abi_measure_config *cfg)
{
    static const char *const subformats[] = {"dynamic", "fixed", NULL}; /* ABI_VHD_* */
    const char *sub = vmm_opts_str(o, "subformat");
    int s = sub != NULL ? index_of(sub, subformats) : (int)ABI_VHD_DYNAMIC;

    if (s < 0) {
        vmm_error("Parameter 'subformat' does not accept value '%s'", sub);
        return false;
    }
    cfg->vhd_subformat = (uint8_t)s;
    return true;
}

/* Round up to a MiB with qemu's 64-bit wrap-around. */
static uint64_t mib_round(uint64_t v)
{
    return (v + CALC_MIB - 1) & ~(CALC_MIB - 1);
}

static bool vhdx_config(const struct vmm_opts *o, bool have_size, uint64_t size,
                        struct abi_measure_config *cfg, struct abi_measure_ext *ext)
{
    const struct vmm_opt *bs = vmm_opts_get(o, "block_size");
    const struct vmm_opt *log = vmm_opts_get(o, "log_size");
    uint64_t block = bs != NULL ? mib_round(bs->number) : 0;
    uint64_t log_size = log != NULL ? mib_round(log->number) : CALC_MIB;

    if (!vhd_subformat(o, cfg))
        return false;
    if (have_size && (size + 511) / 512 * 512 > CALC_VHDX_MAX_SIZE) {
        vmm_error("Image size too large; max of 64TB");
        return false;
    }
    if (log_size == 0) {
        vmm_error("Log size must be a multiple of 1 MB");
        return false;
    }
    if (log_size > 0xFFFFFFFFull) {
        vmm_error("Log size must be smaller than 4 GB");
        return false;
    }
    /* Block sizes round up to a MiB and are capped at 256 MiB; 0 is "auto". */
    if (block > CALC_VHDX_MAX_BLOCK)
        block = CALC_VHDX_MAX_BLOCK;
    if (block != 0 && !calc_is_pow2(block)) {
        vmm_error("Block size must be a power of two");
        return false;
    }
    cfg->block_size = (uint32_t)block;
    ext->vhdx_log_size = log_size;
    if (!vmm_opts_bool(o, "block_state_zero", true))
        ext->flags &= ~ABI_MEASURE_EXT_BLOCK_STATE_ZERO;
    return true;
}

bool vmm_image_config(uint32_t fmt, const struct vmm_opts *o, bool have_size, uint64_t size,
                      struct abi_measure_config *cfg, struct abi_measure_ext *ext)
{
    switch (fmt) {
    case ABI_FMT_VMDK4:
        return vmdk_config(o, cfg, ext);
    case ABI_FMT_VHD:
        if (!vhd_subformat(o, cfg))
            return false;
        if (vmm_opts_bool(o, "force_size", false))
            ext->flags |= ABI_MEASURE_EXT_FORCE_SIZE;
        return true;
    case ABI_FMT_VHDX:
        return vhdx_config(o, have_size, size, cfg, ext);
    default:
        vmm_error("Block driver does not support size measurement");
        return false;
    }
}
