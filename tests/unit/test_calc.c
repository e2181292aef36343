/* test_calc.c: crates/measure against qemu-img 7.2.
 *
 * Most expectations come from the real qemu-img at test time (qemu_ref.c).
 * The few fixed figures are the worked examples of docs/measure.md, kept to
 * pin the arithmetic even where qemu-img is not the reference (the tracker,
 * overflow handling).
 */
#define _GNU_SOURCE
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "calc.h"
#include "qemu_ref.h"
#include "test_util.h"

static struct calc_qcow2_opts q2(uint64_t cluster, uint64_t bits, bool extl2)
{
    struct calc_qcow2_opts o = {
        .cluster_size = cluster,
        .refcount_bits = bits,
        .extended_l2 = extl2,
        .compat_v3 = true,
        .prealloc = CALC_PREALLOC_OFF,
    };
    return o;
}

static void expect_qcow2(const struct calc_qcow2_opts *o, uint64_t size, const char *qemu_opts)
{
    struct calc_input in = {.virtual_size = size};
    struct calc_result r;
    uint64_t req;
    uint64_t full;
    char *args;

    if (asprintf(&args, "--size %" PRIu64 " -O qcow2 -o '%s'", size, qemu_opts) < 0)
        abort();
    ck_assert_msg(qemu_ref_measure(args, &req, &full), "qemu-img failed: %s", args);
    ck_assert_int_eq(calc_measure_qcow2(o, &in, &r), CALC_OK);
    ck_assert_msg(r.required == req && r.fully_allocated == full,
                  "%s: calc %" PRIu64 "/%" PRIu64 ", qemu-img %" PRIu64 "/%" PRIu64, args,
                  r.required, r.fully_allocated, req, full);
    ck_assert_uint_eq(r.unit_size, o->cluster_size);
    free(args);
}

/* Every cluster size x refcount width x extended L2, over sizes that hit
 * table boundaries. */
START_TEST(qcow2_grid_matches_qemu)
{
    static const uint64_t sizes[] = {0, 1, 512, 65536, 65537, 1ull << 20, 1000000007ull,
                                     1ull << 30, (1ull << 30) + 1, 5ull << 40};
    uint64_t cluster = 512ull << _i;

    for (uint64_t bits = 1; bits <= 64; bits *= 2) {
        for (int extl2 = 0; extl2 <= 1; extl2++) {
            struct calc_qcow2_opts o = q2(cluster, bits, extl2);
            char opts[128];

            if (extl2 && cluster < 16384)
                continue;
            snprintf(opts, sizeof(opts), "cluster_size=%" PRIu64 ",refcount_bits=%" PRIu64
                     ",extended_l2=%s", cluster, bits, extl2 ? "on" : "off");
            for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                if (calc_qcow2_check_size(sizes[i], cluster, extl2) != CALC_R_NONE)
                    continue;
                /* Keep the run short: every width only on a few sizes. */
                if (bits != 16 && i % 3 != 0)
                    continue;
                expect_qcow2(&o, sizes[i], opts);
            }
        }
    }
}
END_TEST

START_TEST(qcow2_size_limit_matches_qemu)
{
    /* Just below and above the L1 limit for each cluster size. */
    uint64_t cluster = 512ull << _i;

    for (int extl2 = 0; extl2 <= 1; extl2++) {
        uint64_t l2e = extl2 ? 16 : 8;
        uint64_t max = (1ull << 22) * (cluster / l2e) * cluster;
        uint64_t req;
        uint64_t full;
        char args[160];

        if (extl2 && cluster < 16384)
            continue;
        if (max > (uint64_t)INT64_MAX)
            continue;
        ck_assert_int_eq(calc_qcow2_check_size(max, cluster, extl2), CALC_R_NONE);
        ck_assert_int_eq(calc_qcow2_check_size(max + 1, cluster, extl2), CALC_R_Q2_TOO_LARGE);
        snprintf(args, sizeof(args), "--size %" PRIu64 " -O qcow2 -o cluster_size=%" PRIu64
                 ",extended_l2=%s", max, cluster, extl2 ? "on" : "off");
        ck_assert_msg(qemu_ref_measure(args, &req, &full), "qemu-img refused %s", args);
        snprintf(args, sizeof(args), "--size %" PRIu64 " -O qcow2 -o cluster_size=%" PRIu64
                 ",extended_l2=%s", max + 1, cluster, extl2 ? "on" : "off");
        ck_assert_msg(!qemu_ref_measure(args, &req, &full), "qemu-img accepted %s", args);
    }
}
END_TEST

START_TEST(qcow2_prealloc_and_luks_match_qemu)
{
    struct calc_qcow2_opts o = q2(65536, 16, false);
    struct calc_input in = {.virtual_size = 1ull << 30};
    struct calc_result r;
    uint64_t req;
    uint64_t full;

    o.prealloc = CALC_PREALLOC_FULL;
    o.cluster_size = 2ull << 20;
    ck_assert(qemu_ref_measure("--size 1G -O qcow2 -o preallocation=full,cluster_size=2M",
                               &req, &full));
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, req);
    ck_assert_uint_eq(r.fully_allocated, full);
    ck_assert_uint_eq(r.required, r.fully_allocated);

    o.prealloc = CALC_PREALLOC_FALLOC;
    ck_assert(qemu_ref_measure("--size 1G -O qcow2 -o preallocation=falloc,cluster_size=2M",
                               &req, &full));
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, req);

    o.prealloc = CALC_PREALLOC_METADATA;
    ck_assert(qemu_ref_measure("--size 1G -O qcow2 -o preallocation=metadata,cluster_size=2M",
                               &req, &full));
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, req);

    /* encrypt.format=luks adds the header rounded to the cluster. */
    o = q2(65536, 16, false);
    o.luks_header_len = calc_luks_header_len(64);
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, 393216 + 2097152);
    ck_assert_uint_eq(r.fully_allocated, 1074135040 + 2097152);
}
END_TEST

START_TEST(qcow2_source_counts_data_clusters)
{
    /* docs/measure.md: 256 MiB source, 56 touched clusters. */
    struct calc_qcow2_opts o = q2(65536, 16, false);
    struct calc_input in = {.virtual_size = 256ull << 20, .from_source = true, .data_units = 56};
    struct calc_result r;

    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.fully_allocated, 268763136);
    ck_assert_uint_eq(r.required, 3997696);
    /* backing_file: every cluster counts. */
    o.backing_file = true;
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, r.fully_allocated);
    /* More data units than clusters is a scanner bug, not a number. */
    o.backing_file = false;
    in.data_units = 4097;
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_ERR_INVALID_SIZE);
    ck_assert_int_eq(r.reason, CALC_R_DATA_UNITS);
}
END_TEST

START_TEST(qcow2_validation_order)
{
    ck_assert_int_eq(calc_qcow2_check_cluster(0, false), CALC_R_Q2_CLUSTER_SIZE);
    ck_assert_int_eq(calc_qcow2_check_cluster(256, false), CALC_R_Q2_CLUSTER_SIZE);
    ck_assert_int_eq(calc_qcow2_check_cluster(4096 + 512, false), CALC_R_Q2_CLUSTER_SIZE);
    ck_assert_int_eq(calc_qcow2_check_cluster(4ull << 20, false), CALC_R_Q2_CLUSTER_SIZE);
    ck_assert_int_eq(calc_qcow2_check_cluster((1ull << 32) | 65536, false),
                     CALC_R_Q2_CLUSTER_SIZE);
    ck_assert_int_eq(calc_qcow2_check_cluster(8192, true), CALC_R_Q2_EXTL2_CLUSTER);
    ck_assert_int_eq(calc_qcow2_check_cluster(16384, true), CALC_R_NONE);
    ck_assert_int_eq(calc_qcow2_check_refcount(0, true), CALC_R_Q2_REFCOUNT_WIDTH);
    ck_assert_int_eq(calc_qcow2_check_refcount(128, true), CALC_R_Q2_REFCOUNT_WIDTH);
    ck_assert_int_eq(calc_qcow2_check_refcount(UINT64_MAX, true), CALC_R_Q2_REFCOUNT_WIDTH);
    ck_assert_int_eq(calc_qcow2_check_refcount(8, false), CALC_R_Q2_REFCOUNT_COMPAT);
    ck_assert_int_eq(calc_qcow2_check_refcount(16, false), CALC_R_NONE);
}
END_TEST

START_TEST(raw_matches_qemu)
{
    static const uint64_t sizes[] = {0, 1, 511, 512, 513, 1000, 1ull << 40,
                                     (uint64_t)INT64_MAX};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct calc_input in = {.virtual_size = sizes[i]};
        struct calc_result r;
        uint64_t req;
        uint64_t full;
        char args[64];

        snprintf(args, sizeof(args), "--size %" PRIu64 " -O raw", sizes[i]);
        ck_assert(qemu_ref_measure(args, &req, &full));
        ck_assert_int_eq(calc_measure_raw(&in, &r), CALC_OK);
        ck_assert_uint_eq(r.required, req);
        ck_assert_uint_eq(r.fully_allocated, full);
    }
}
END_TEST

START_TEST(luks_header_lengths)
{
    /* H = 4096 + 8 x roundup(key_bytes x 4000, 4096) (docs/measure.md). */
    ck_assert_uint_eq(calc_luks_header_len(64), 2068480);
    ck_assert_uint_eq(calc_luks_header_len(48), 1544192);
    ck_assert_uint_eq(calc_luks_header_len(32), 1052672);
    ck_assert_uint_eq(calc_luks_header_len(16), 528384);
}
END_TEST

START_TEST(luks_target)
{
    struct calc_input in = {.virtual_size = 1000};
    struct calc_result r;

    ck_assert_int_eq(calc_measure_luks(2068480, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, 2069480); /* not rounded */
    ck_assert_uint_eq(r.fully_allocated, 2069480);
    in.virtual_size = (uint64_t)INT64_MAX;
    ck_assert_int_eq(calc_measure_luks(2068480, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, (uint64_t)INT64_MAX + 2068480);
    ck_assert_int_eq(calc_measure_luks(UINT64_MAX, &in, &r), CALC_ERR_OVERFLOW);
}
END_TEST

START_TEST(refcount_overflow_is_an_error)
{
    uint64_t bytes;

    ck_assert_int_eq(calc_qcow2_refcount_bytes(UINT64_MAX - 2, 512, 64, &bytes),
                     CALC_ERR_OVERFLOW);
    ck_assert_int_eq(calc_qcow2_refcount_bytes(0, 65536, 16, &bytes), CALC_OK);
    ck_assert_uint_eq(bytes, 0);
    ck_assert_int_eq(calc_qcow2_refcount_bytes(1, 65536, 16, &bytes), CALC_OK);
    ck_assert_uint_eq(bytes, 2 * 65536);
}
END_TEST

START_TEST(tracker_counts_touched_units)
{
    struct calc_tracker t;

    /* The docs/measure.md sparse source: (offset, length) data extents. */
    static const uint64_t ext[][2] = {
        {0, 4096},
        {(1u << 20) + 4096, 8192},
        {(64u << 20) - 4096, 8192},
        {100u << 20, 1u << 20},
        {(130u << 20) + 61440, 12288},
        {200u << 20, (2u << 20) + 4096},
        {(256u << 20) - 4096, 4096},
    };

    calc_tracker_init(&t, 65536);
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        ck_assert_int_eq(calc_tracker_add(&t, ext[i][0], ext[i][1]), CALC_OK);
    ck_assert_uint_eq(t.count, 56);

    /* Adjacent extents sharing a unit count it once. */
    calc_tracker_init(&t, 65536);
    ck_assert_int_eq(calc_tracker_add(&t, 0, 100), CALC_OK);
    ck_assert_int_eq(calc_tracker_add(&t, 100, 100), CALC_OK);
    ck_assert_int_eq(calc_tracker_add(&t, 65535, 2), CALC_OK);
    ck_assert_uint_eq(t.count, 2);
    /* Going backwards is refused and latches. */
    ck_assert_int_eq(calc_tracker_add(&t, 0, 1), CALC_ERR_INVALID_SIZE);
    ck_assert_int_eq(calc_tracker_add(&t, 1u << 30, 1), CALC_ERR_INVALID_SIZE);
    /* The end of the address space does not wrap (disks end below 2^63). */
    calc_tracker_init(&t, 512);
    ck_assert_int_eq(calc_tracker_add(&t, (uint64_t)INT64_MAX - 511, 512), CALC_OK);
    ck_assert_uint_eq(t.count, 1);
    ck_assert_int_eq(calc_tracker_add(&t, UINT64_MAX - 511, 512), CALC_ERR_INVALID_SIZE);
    ck_assert_uint_eq(t.count, 1);
}
END_TEST

/* vpc: CHS rounding around every geometry switch and the size limit. */
START_TEST(vpc_matches_qemu_create)
{
    static const uint64_t sizes[] = {
        0, 1, 512, 1ull << 20, (1ull << 20) + 1, 64ull << 20, 1000000007ull, 1ull << 30,
        /* spt 17 -> 31 -> 63 -> 255 switch points, in sectors x 512 */
        65535ull * 16 * 17 * 512, 65535ull * 16 * 17 * 512 + 512, 1024ull * 16 * 31 * 512,
        1024ull * 16 * 31 * 512 + 512, 65535ull * 16 * 63 * 512 - 512,
        65535ull * 16 * 63 * 512, 65535ull * 16 * 255 * 512, 65535ull * 16 * 255 * 512 + 512,
        200000000001ull, 2190433320960ull,
    };
    struct calc_result r;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int fixed = 0; fixed <= 1; fixed++) {
            for (int force = 0; force <= 1; force++) {
                struct calc_vpc_opts o = {fixed ? CALC_VHD_FIXED : CALC_VHD_DYNAMIC, force};
                struct calc_input in = {.virtual_size = sizes[i]};
                char opts[64];
                int64_t real;

                if (fixed && sizes[i] > (2ull << 30))
                    continue; /* a fixed file would really be written */
                snprintf(opts, sizeof(opts), "subformat=%s,force_size=%s",
                         fixed ? "fixed" : "dynamic", force ? "on" : "off");
                real = qemu_ref_create_size("vpc", opts, sizes[i]);
                ck_assert_int_eq(calc_measure_vpc(&o, &in, &r), CALC_OK);
                ck_assert_msg((int64_t)r.required == real, "vpc %s %" PRIu64 ": %" PRIu64
                              " != %" PRId64, opts, sizes[i], r.required, real);
            }
        }
    }
    {
        struct calc_vpc_opts o = {CALC_VHD_DYNAMIC, false};
        struct calc_input in = {.virtual_size = 2190433320961ull};

        ck_assert_int_eq(qemu_ref_create_size("vpc", "", in.virtual_size), -1);
        ck_assert_int_eq(calc_measure_vpc(&o, &in, &r), CALC_ERR_INVALID_SIZE);
    }
}
END_TEST

START_TEST(vhdx_and_vmdk_match_qemu_create)
{
    static const uint64_t sizes[] = {0,           1,           1ull << 20,   1ull << 30,
                                     (1ull << 30) + 512, 4294967808ull, 100ull << 30,
                                     (100ull << 30) + 512, 14ull << 40, 32ull << 40,
                                     (32ull << 40) + 512, 64ull << 40};
    struct calc_result r;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct calc_vhdx_opts x = {CALC_VHD_DYNAMIC, 0, CALC_MIB, true};
        struct calc_vmdk_opts v = {CALC_VMDK_SPARSE, 16, 14, false};
        struct calc_input in = {.virtual_size = sizes[i]};

        ck_assert_int_eq(calc_measure_vhdx(&x, &in, &r), CALC_OK);
        ck_assert_int_eq((int64_t)r.required, qemu_ref_create_size("vhdx", "", sizes[i]));
        x.block_size = CALC_MIB;
        x.log_size = 3 * CALC_MIB;
        ck_assert_int_eq(calc_measure_vhdx(&x, &in, &r), CALC_OK);
        ck_assert_int_eq((int64_t)r.required,
                         qemu_ref_create_size("vhdx", "block_size=1M,log_size=3M", sizes[i]));
        ck_assert_int_eq(calc_measure_vmdk(&v, &in, &r), CALC_OK);
        ck_assert_int_eq((int64_t)r.required, qemu_ref_create_size("vmdk", "", sizes[i]));
    }
}
END_TEST

START_TEST(image_targets_count_data_units)
{
    struct calc_input in = {.virtual_size = 64ull << 20, .from_source = true, .data_units = 5};
    struct calc_vpc_opts p = {CALC_VHD_DYNAMIC, false};
    struct calc_vhdx_opts x = {CALC_VHD_DYNAMIC, 0, CALC_MIB, true};
    struct calc_vmdk_opts v = {CALC_VMDK_SPARSE, 16, 14, false};
    struct calc_result r;

    /* File sizes `qemu-img convert` wrote from 64 MiB sources with scattered
     * data (docs/measure.md, "experiments"): vpc with 5 blocks, vhdx with 4. */
    ck_assert_int_eq(calc_measure_vpc(&p, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, 10490880);
    ck_assert_uint_eq(r.unit_size, 2u << 20);
    in.data_units = 4;
    ck_assert_int_eq(calc_measure_vhdx(&x, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.unit_size, 8u << 20);
    ck_assert_uint_eq(r.required, 41943040);
    in.data_units = 1025; /* more grains than the disk has */
    ck_assert_int_eq(calc_measure_vmdk(&v, &in, &r), CALC_ERR_INVALID_SIZE);
    in.data_units = 1024;
    v.backing_file = true;
    ck_assert_int_eq(calc_measure_vmdk(&v, &in, &r), CALC_OK);
    ck_assert_uint_eq(r.required, r.fully_allocated);
}
END_TEST

static Suite *calc_suite(void)
{
    Suite *s = suite_create("calc");
    TCase *tc = tcase_create("qcow2");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, qcow2_grid_matches_qemu, 0, 13); /* 512 B .. 2 MiB */
    tcase_add_loop_test(tc, qcow2_size_limit_matches_qemu, 0, 13);
    tcase_add_test(tc, qcow2_prealloc_and_luks_match_qemu);
    tcase_add_test(tc, qcow2_source_counts_data_clusters);
    tcase_add_test(tc, qcow2_validation_order);
    tcase_add_test(tc, refcount_overflow_is_an_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("raw-luks");
    tcase_add_test(tc, raw_matches_qemu);
    tcase_add_test(tc, luks_header_lengths);
    tcase_add_test(tc, luks_target);
    suite_add_tcase(s, tc);
    tc = tcase_create("images");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, vpc_matches_qemu_create);
    tcase_add_test(tc, vhdx_and_vmdk_match_qemu_create);
    tcase_add_test(tc, image_targets_count_data_units);
    suite_add_tcase(s, tc);
    tc = tcase_create("tracker");
    tcase_add_test(tc, tracker_counts_touched_units);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(calc_suite());
}
