/* op_targets.c: the measure operation's vmdk, vpc and vhdx targets. */
#include "op_measure.h"

#include "abi_format.h"

enum calc_err op_measure_image_target(const struct abi_measure_config *cfg,
                                      const struct calc_input *in, struct calc_result *out)
{
    switch (cfg->target_format) {
    case ABI_FMT_VMDK4: {
        struct calc_vmdk_opts o = {
            .subformat = cfg->vmdk_subformat == ABI_VMDK_STREAM_OPTIMIZED ? CALC_VMDK_STREAM
                         : cfg->vmdk_subformat == ABI_VMDK_MONOLITHIC_FLAT ? CALC_VMDK_FLAT
                                                                          : CALC_VMDK_SPARSE,
            .grain_size = cfg->vmdk_grain_size,
        };

        if (cfg->vmdk_subformat > ABI_VMDK_MONOLITHIC_FLAT)
            break;
        return calc_measure_vmdk(&o, in, out);
    }
    case ABI_FMT_VHD: {
        struct calc_vpc_opts o = {
            .subformat = cfg->vhd_subformat == ABI_VHD_FIXED ? CALC_VHD_FIXED : CALC_VHD_DYNAMIC,
            .block_size = cfg->block_size,
        };

        if (cfg->vhd_subformat > ABI_VHD_FIXED)
            break;
        return calc_measure_vpc(&o, in, out);
    }
    case ABI_FMT_VHDX: {
        struct calc_vhdx_opts o = {
            .subformat = cfg->vhd_subformat == ABI_VHD_FIXED ? CALC_VHD_FIXED : CALC_VHD_DYNAMIC,
            .block_size = cfg->block_size,
        };

        if (cfg->vhd_subformat > ABI_VHD_FIXED)
            break;
        return calc_measure_vhdx(&o, in, out);
    }
    default:
        break;
    }
    out->reason = CALC_R_TARGET;
    return CALC_ERR_INVALID_OPTION;
}
