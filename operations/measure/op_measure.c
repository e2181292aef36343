/* op_measure.c: the measure operation (measure.bin, entry at 0x20000).
 *
 * Reads the MeasureConfig the host wrote, works out the virtual size and the
 * data units to count (from --size, or from the source image on device 0,
 * opened and walked by op_source.c), runs the target's calculator from
 * crates/measure,
 * and reports through send_measure_result then send_complete.  Reaches the
 * world only through the call table, so tests run it on the host against the
 * mock table in tests/mock/.
 */
#include "op_measure.h"

#include "abi_format.h"
#include "calc.h"
#include "rt.h"

static enum calc_prealloc prealloc_of(uint32_t flags)
{
    switch (flags & ABI_MEASURE_PREALLOC_MASK) {
    case ABI_MEASURE_PREALLOC_METADATA:
        return CALC_PREALLOC_METADATA;
    case ABI_MEASURE_PREALLOC_FALLOC:
        return CALC_PREALLOC_FALLOC;
    case ABI_MEASURE_PREALLOC_FULL:
        return CALC_PREALLOC_FULL;
    default:
        return CALC_PREALLOC_OFF;
    }
}

/* Run the calculator for the configured target. */
static enum calc_err measure_target(const struct abi_measure_config *cfg,
                                    const struct abi_measure_ext *ext,
                                    const struct calc_input *in, struct calc_result *out)
{
    switch (cfg->target_format) {
    case ABI_FMT_RAW:
        return calc_measure_raw(in, out);
    case ABI_FMT_QCOW2: {
        struct calc_qcow2_opts o = {
            .cluster_size = cfg->qcow2_cluster_size ? cfg->qcow2_cluster_size
                                                    : CALC_Q2_DEFAULT_CLUSTER,
            .refcount_bits = cfg->qcow2_refcount_bits ? cfg->qcow2_refcount_bits
                                                      : CALC_Q2_DEFAULT_REFCOUNT_BITS,
            .extended_l2 = (cfg->flags & ABI_MEASURE_FLAG_EXTENDED_L2) != 0,
            .compat_v3 = (cfg->flags & ABI_MEASURE_FLAG_COMPAT_V3) != 0,
            .prealloc = prealloc_of(cfg->flags),
            .backing_file = (cfg->flags & ABI_MEASURE_FLAG_BACKING) != 0,
            .luks_header_len = cfg->luks_header_overhead,
        };

        return calc_measure_qcow2(&o, in, out);
    }
    case ABI_FMT_LUKS:
        return calc_measure_luks(cfg->luks_header_overhead, in, out);
    default:
        return op_measure_image_target(cfg, ext, in, out);
    }
}

/* The unit whose touched count `required` needs for this target, or 0 when
 * the target does not depend on where the source has data. */
static uint64_t data_unit(const struct abi_measure_config *cfg,
                          uint64_t virtual_size)
{
    bool backing = (cfg->flags & ABI_MEASURE_FLAG_BACKING) != 0;

    switch (cfg->target_format) {
    case ABI_FMT_QCOW2:
        /* With backing_file every cluster counts: qemu does not walk. */
        return backing ? 0 : cfg->qcow2_cluster_size ? cfg->qcow2_cluster_size
                                                     : CALC_Q2_DEFAULT_CLUSTER;
    case ABI_FMT_VMDK4:
        return backing ? 0 : CALC_VMDK_GRAIN;
    case ABI_FMT_VHD:
        return CALC_VPC_BLOCK;
    case ABI_FMT_VHDX: {
        struct calc_vhdx_opts o = {.block_size = cfg->block_size};

        return calc_vhdx_block_size(&o, virtual_size);
    }
    default:
        return 0; /* raw and luks: the virtual size is all that matters */
    }
}

static uint64_t finish(const struct abi_call_table *ct, uint32_t target, enum calc_err err,
                       const struct calc_result *res, bool has_bitmaps, uint64_t bitmaps)
{
    struct abi_measure_report r = {
        .result = {
            .magic = ABI_MEASURE_RESULT_MAGIC,
            .target_format = target,
            .required = err == CALC_OK ? res->required : 0,
            .fully_allocated = err == CALC_OK ? res->fully_allocated : 0,
            .resolved_unit_size = err == CALC_OK ? res->unit_size : 0,
            .error = (uint32_t)err,
        },
        .tail_magic = ABI_MEASURE_TAIL_MAGIC,
        .tail_flags = err == CALC_OK && has_bitmaps ? ABI_MEASURE_TAIL_HAS_BITMAPS : 0,
        .bitmaps = bitmaps,
    };

    ct->send_measure_result(&r.result);
    ct->send_complete("measure", 0, err == CALC_OK);
    return err == CALC_OK ? 0 : 1;
}

/* Source mode: everything qemu-img does between opening the source and
 * printing.  Returns the operation's exit value. */
static uint64_t measure_source(const struct abi_call_table *ct,
                               const struct abi_measure_config *cfg,
                               const struct abi_measure_ext *ext)
{
    static struct op_source src; /* too large for the stack */
    struct calc_input in = {.from_source = true};
    struct calc_result res = {0};
    uint64_t unit;
    uint64_t bitmaps = 0;
    bool has_bitmaps;
    enum calc_err err;

    if (!op_source_open(ct, ext, &src))
        return 1;
    /* The host has an option error to print once the source is known good. */
    if (ext->source_flags & ABI_MEASURE_SRC_PROBE_ONLY)
        return finish(ct, ABI_FMT_UNKNOWN, CALC_ERR_INVALID_OPTION, &res, false, 0);
    in.virtual_size = src.link[0].img.virtual_size;
    unit = data_unit(cfg, in.virtual_size);
    if (unit != 0 && !op_source_count(&src, unit, &in.data_units))
        return 1;
    err = measure_target(cfg, ext, &in, &res);
    /* "bitmaps size": a qcow2 v3 target from a source with persistent
     * bitmaps support (a qcow2 v3 image), even when it has none. */
    has_bitmaps = cfg->target_format == ABI_FMT_QCOW2 &&
                  (cfg->flags & ABI_MEASURE_FLAG_COMPAT_V3) && src.link[0].img.supports_bitmaps;
    if (err == CALC_OK && has_bitmaps)
        err = calc_qcow2_bitmaps(src.link[0].img.bitmaps, src.link[0].img.n_bitmaps, in.virtual_size,
                                 res.unit_size, &bitmaps);
    return finish(ct, cfg->target_format, err, &res, has_bitmaps, bitmaps);
}

__attribute__((section(".text.entry"))) uint64_t op_entry(const struct abi_call_table *ct)
{
    const struct abi_measure_config *cfg;
    struct abi_measure_config c;
    struct abi_measure_ext ext;
    struct calc_input in = {0};
    struct calc_result res = {0};
    uint32_t len = 0;

    /* A table from another build cannot be trusted even to report with. */
    if (!abi_call_table_ok(ct))
        return 1;
    cfg = ct->get_operation_config(&len);
    if (cfg == NULL || len < sizeof(c))
        return finish(ct, ABI_FMT_UNKNOWN, CALC_ERR_INVALID_OPTION, &res, false, 0);
    /* Copy once: the page is read-only to us, but the copy is what we check. */
    memcpy(&c, cfg, sizeof(c));
    if (c.magic != ABI_MEASURE_CONFIG_MAGIC)
        return finish(ct, ABI_FMT_UNKNOWN, CALC_ERR_INVALID_OPTION, &res, false, 0);
    op_measure_ext(cfg, len, &ext);
    if (!(c.flags & ABI_MEASURE_FLAG_SIZE_MODE) && c.virtual_size_override == 0)
        return measure_source(ct, &c, &ext);
    in.virtual_size = c.virtual_size_override;
    return finish(ct, c.target_format, measure_target(&c, &ext, &in, &res), &res, false, 0);
}
