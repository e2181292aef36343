/* calc_qcow2.c: qcow2 target size, as qemu-img 7.2 computes it.
 *
 * fully_allocated = header + L2 tables + L1 table + refcount metadata
 *                   + virtual size (rounded to the cluster) + LUKS area;
 * required = fully_allocated - V + D, D being the data clusters written.
 * All arithmetic is checked; see docs/measure.md for the derivation.
 */
#include "calc.h"

#define Q2_L1E_SIZE 8u
#define Q2_L2E_NORMAL 8u
#define Q2_L2E_EXTENDED 16u
#define Q2_REFTABLE_ENTRY_SIZE 8u
#define Q2_MIN_CLUSTER_EXTL2 16384u

enum calc_reason calc_qcow2_check_cluster(uint64_t cluster_size, bool extended_l2)
{
    if (!calc_is_pow2(cluster_size) || cluster_size < CALC_Q2_MIN_CLUSTER ||
        cluster_size > CALC_Q2_MAX_CLUSTER)
        return CALC_R_Q2_CLUSTER_SIZE;
    if (extended_l2 && cluster_size < Q2_MIN_CLUSTER_EXTL2)
        return CALC_R_Q2_EXTL2_CLUSTER;
    return CALC_R_NONE;
}

enum calc_reason calc_qcow2_check_refcount(uint64_t refcount_bits, bool compat_v3)
{
    if (refcount_bits > 64 || !calc_is_pow2(refcount_bits))
        return CALC_R_Q2_REFCOUNT_WIDTH;
    /* qcow2 v2 has 16-bit refcounts only. */
    if (!compat_v3 && refcount_bits != 16)
        return CALC_R_Q2_REFCOUNT_COMPAT;
    return CALC_R_NONE;
}

enum calc_reason calc_qcow2_check_size(uint64_t size, uint64_t cluster_size, bool extended_l2)
{
    uint64_t l2e = extended_l2 ? Q2_L2E_EXTENDED : Q2_L2E_NORMAL;
    uint64_t v;
    uint64_t l2_tables;

    if (calc_qcow2_check_cluster(cluster_size, extended_l2) != CALC_R_NONE)
        return CALC_R_Q2_CLUSTER_SIZE;
    if (size > CALC_MAX_IMAGE_SIZE || !calc_round_up(size, cluster_size, &v))
        return CALC_R_Q2_TOO_LARGE;
    /* One L1 entry (8 bytes) per L2 table; the L1 may not exceed 32 MiB. */
    l2_tables = calc_div_round_up(v / cluster_size, cluster_size / l2e);
    if (l2_tables > CALC_Q2_MAX_L1_BYTES / Q2_L1E_SIZE)
        return CALC_R_Q2_TOO_LARGE;
    return CALC_R_NONE;
}

enum calc_err calc_qcow2_refcount_bytes(uint64_t clusters, uint64_t cluster_size,
                                        uint64_t refcount_bits, uint64_t *bytes)
{
    uint64_t per_table = cluster_size / Q2_REFTABLE_ENTRY_SIZE; /* blocks per table cluster */
    uint64_t per_block = cluster_size * 8 / refcount_bits;      /* refcounts per block */
    uint64_t table = 0;
    uint64_t blocks = 0;
    uint64_t n = 0;
    uint64_t last;

    if (per_table == 0 || per_block == 0)
        return CALC_ERR_INVALID_OPTION;
    /* Every cluster is refcounted, the refcount metadata included: iterate
     * to the fixed point where one more block or table cluster is not needed.
     * n grows monotonically and is bounded, so this terminates. */
    do {
        uint64_t sum;

        last = n;
        if (__builtin_add_overflow(clusters, table, &sum) ||
            __builtin_add_overflow(sum, blocks, &sum))
            return CALC_ERR_OVERFLOW;
        blocks = calc_div_round_up(sum, per_block);
        table = calc_div_round_up(blocks, per_table);
        if (__builtin_add_overflow(clusters, blocks, &n) ||
            __builtin_add_overflow(n, table, &n))
            return CALC_ERR_OVERFLOW;
    } while (n != last);
    if (__builtin_add_overflow(blocks, table, &n) ||
        __builtin_mul_overflow(n, cluster_size, bytes))
        return CALC_ERR_OVERFLOW;
    return CALC_OK;
}

/* Bytes of header, L2, L1 and refcount metadata for a fully allocated image
 * of `v` bytes (already a multiple of the cluster size). */
static enum calc_err qcow2_metadata(const struct calc_qcow2_opts *o, uint64_t v, uint64_t *meta)
{
    uint64_t c = o->cluster_size;
    uint64_t l2e = o->extended_l2 ? Q2_L2E_EXTENDED : Q2_L2E_NORMAL;
    uint64_t m = c; /* header: one cluster */
    uint64_t nl2e;
    uint64_t nl1e;
    uint64_t bytes;
    uint64_t clusters;
    enum calc_err err;

    /* L2 tables: one entry per cluster, whole tables. */
    if (!calc_round_up(v / c, c / l2e, &nl2e) || __builtin_mul_overflow(nl2e, l2e, &bytes) ||
        __builtin_add_overflow(m, bytes, &m))
        return CALC_ERR_OVERFLOW;
    /* L1 table: one entry per L2 table, whole clusters. */
    nl1e = bytes / c;
    if (!calc_round_up(nl1e, c / Q2_L1E_SIZE, &nl1e) ||
        __builtin_mul_overflow(nl1e, Q2_L1E_SIZE, &bytes) || __builtin_add_overflow(m, bytes, &m))
        return CALC_ERR_OVERFLOW;
    /* Refcounts for all of it plus the data clusters. */
    if (__builtin_add_overflow(m, v, &clusters))
        return CALC_ERR_OVERFLOW;
    err = calc_qcow2_refcount_bytes(clusters / c, c, o->refcount_bits, &bytes);
    if (err != CALC_OK)
        return err;
    if (__builtin_add_overflow(m, bytes, meta))
        return CALC_ERR_OVERFLOW;
    return CALC_OK;
}

enum calc_err calc_measure_qcow2(const struct calc_qcow2_opts *o, const struct calc_input *in,
                                 struct calc_result *out)
{
    uint64_t c = o->cluster_size;
    uint64_t v;
    uint64_t meta;
    uint64_t luks = 0;
    uint64_t data;
    uint64_t fully;
    enum calc_err err;

    out->required = 0;
    out->fully_allocated = 0;
    out->unit_size = 0;
    out->reason = calc_qcow2_check_cluster(c, o->extended_l2);
    if (out->reason == CALC_R_NONE)
        out->reason = calc_qcow2_check_refcount(o->refcount_bits, o->compat_v3);
    if (out->reason != CALC_R_NONE)
        return CALC_ERR_INVALID_OPTION;
    if (!in->from_source) {
        out->reason = calc_qcow2_check_size(in->virtual_size, c, o->extended_l2);
        if (out->reason != CALC_R_NONE)
            return CALC_ERR_INVALID_SIZE;
    }
    if (in->virtual_size > CALC_MAX_IMAGE_SIZE || !calc_round_up(in->virtual_size, c, &v)) {
        out->reason = CALC_R_TARGET_SIZE;
        return CALC_ERR_INVALID_SIZE;
    }
    err = qcow2_metadata(o, v, &meta);
    if (err != CALC_OK)
        return err;
    if (o->luks_header_len != 0 && !calc_round_up(o->luks_header_len, c, &luks))
        return CALC_ERR_OVERFLOW;
    if (__builtin_add_overflow(meta, v, &fully) || __builtin_add_overflow(fully, luks, &fully))
        return CALC_ERR_OVERFLOW;

    /* Data clusters that must be written. */
    if (o->prealloc == CALC_PREALLOC_FULL || o->prealloc == CALC_PREALLOC_FALLOC) {
        data = v;
    } else if (!in->from_source) {
        data = 0;
    } else if (o->backing_file) {
        /* The new backing file may share nothing with the source. */
        data = v;
    } else {
        if (in->data_units > v / c) {
            out->reason = CALC_R_DATA_UNITS;
            return CALC_ERR_INVALID_SIZE;
        }
        data = in->data_units * c;
    }
    out->fully_allocated = fully;
    out->required = fully - v + data;
    out->unit_size = (uint32_t)c;
    return CALC_OK;
}

enum calc_err calc_qcow2_bitmaps(const struct calc_bitmap *b, uint32_t n, uint64_t disk_size,
                                 uint64_t cluster, uint64_t *bytes)
{
    uint64_t total = 0;
    uint64_t dir = 0;

    if (!calc_is_pow2(cluster))
        return CALC_ERR_INVALID_OPTION;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t bits;
        uint64_t clusters;
        uint64_t table;
        uint64_t sum;

        if (b[i].granularity == 0)
            return CALC_ERR_INVALID_SIZE;
        bits = calc_div_round_up(disk_size, b[i].granularity);
        clusters = calc_div_round_up(calc_div_round_up(bits, 8), cluster);
        /* The bitmap's data, all of it, and its table of 8-byte entries. */
        if (!calc_round_up(clusters * 8, cluster, &table) ||
            __builtin_add_overflow(clusters * cluster, table, &sum) ||
            __builtin_add_overflow(total, sum, &total))
            return CALC_ERR_OVERFLOW;
        /* Its directory entry: 24 bytes and the name, 8-byte aligned. */
        dir += (24 + (uint64_t)b[i].name_len + 7) & ~(uint64_t)7;
    }
    if (!calc_round_up(dir, cluster, &dir) || __builtin_add_overflow(total, dir, bytes))
        return CALC_ERR_OVERFLOW;
    return CALC_OK;
}
