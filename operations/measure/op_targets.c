/* op_targets.c: the measure operation's vmdk, vpc and vhdx targets.
 *
 * Their options come from MeasureConfig plus the extension record that
 * follows it in the config page (shared/abi_measure.h); without a valid
 * record, qemu-img's defaults apply.
 */
#include "op_measure.h"

#include "abi_format.h"
#include "rt.h"

/* qemu-img's defaults: ide adapter, hwversion "4", toolsversion
 * "2147483647", 1 MiB vhdx log, vhdx blocks starting in state ZERO. */
#define DEFAULT_VMDK_STRINGS (3u + 1u + 10u)

void op_measure_ext(const void *page, uint32_t page_len, struct abi_measure_ext *ext)
{
    /* Byte copies: the page's alignment is the host's business. */
    if (page_len >= ABI_MEASURE_EXT_OFFSET + sizeof(*ext)) {
        memcpy(ext, (const uint8_t *)page + ABI_MEASURE_EXT_OFFSET, sizeof(*ext));
        if (ext->magic == ABI_MEASURE_EXT_MAGIC && ext->size == sizeof(*ext)) {
            /* Strings from the host are terminated here, whatever it sent. */
            ext->snapshot[sizeof(ext->snapshot) - 1] = '\0';
            ext->snapshot_name[sizeof(ext->snapshot_name) - 1] = '\0';
            ext->unknown_option[sizeof(ext->unknown_option) - 1] = '\0';
            return;
        }
    }
    memset(ext, 0, sizeof(*ext));
    *ext = (struct abi_measure_ext){
        .magic = ABI_MEASURE_EXT_MAGIC,
        .size = sizeof(*ext),
        .flags = ABI_MEASURE_EXT_BLOCK_STATE_ZERO,
        .vmdk_heads = 16,
        .vmdk_strings_len = DEFAULT_VMDK_STRINGS,
        .vhdx_log_size = CALC_MIB,
    };
}

enum calc_err op_measure_image_target(const struct abi_measure_config *cfg,
                                      const struct abi_measure_ext *ext,
                                      const struct calc_input *in, struct calc_result *out)
{
    static const enum calc_vmdk_sub vmdk_subs[] = {
        [ABI_VMDK_MONOLITHIC_SPARSE] = CALC_VMDK_SPARSE,
        [ABI_VMDK_STREAM_OPTIMIZED] = CALC_VMDK_STREAM,
        [ABI_VMDK_MONOLITHIC_FLAT] = CALC_VMDK_FLAT,
        [ABI_VMDK_TWOGB_SPARSE] = CALC_VMDK_TWOGB_SPARSE,
        [ABI_VMDK_TWOGB_FLAT] = CALC_VMDK_TWOGB_FLAT,
    };
    enum calc_vhd_sub vhd = cfg->vhd_subformat == ABI_VHD_FIXED ? CALC_VHD_FIXED
                                                                 : CALC_VHD_DYNAMIC;

    out->reason = CALC_R_NONE;
    switch (cfg->target_format) {
    case ABI_FMT_VMDK4: {
        struct calc_vmdk_opts o = {
            .heads = ext->vmdk_heads,
            .strings_len = ext->vmdk_strings_len,
            .backing_file = (cfg->flags & ABI_MEASURE_FLAG_BACKING) != 0,
        };

        /* qemu-img writes 64 KiB grains only. */
        if (cfg->vmdk_subformat > ABI_VMDK_TWOGB_FLAT ||
            (cfg->vmdk_grain_size != 0 && cfg->vmdk_grain_size != CALC_VMDK_GRAIN))
            break;
        o.subformat = vmdk_subs[cfg->vmdk_subformat];
        return calc_measure_vmdk(&o, in, out);
    }
    case ABI_FMT_VHD: {
        struct calc_vpc_opts o = {
            .subformat = vhd,
            .force_size = (ext->flags & ABI_MEASURE_EXT_FORCE_SIZE) != 0,
        };

        /* qemu-img's vpc blocks are always 2 MiB. */
        if (cfg->vhd_subformat > ABI_VHD_FIXED ||
            (cfg->block_size != 0 && cfg->block_size != CALC_VPC_BLOCK))
            break;
        return calc_measure_vpc(&o, in, out);
    }
    case ABI_FMT_VHDX: {
        struct calc_vhdx_opts o = {
            .subformat = vhd,
            .block_size = cfg->block_size,
            .log_size = ext->vhdx_log_size,
            .block_state_zero = (ext->flags & ABI_MEASURE_EXT_BLOCK_STATE_ZERO) != 0,
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
