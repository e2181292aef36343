/* fuzz_calc.c: the measure calculators (crates/measure) under their
 * invariants: no overflow goes unreported, required <= fully allocated,
 * preallocation full/falloc means required == fully allocated, required
 * grows with the data, raw's fully allocated covers the virtual size, and
 * the unit tracker counts what the extents touch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    uint64_t size;
    uint64_t units;
    uint64_t cluster_shift; /* cluster_size = 1 << (9 + n % 13), or raw bits */
    uint64_t refcount_shift;
    uint64_t luks;
    uint8_t flags;
    uint8_t sub;
};

static void check_result(enum calc_err e, const struct calc_result *r)
{
    if (e == CALC_OK && r->required > r->fully_allocated)
        abort();
}

static void qcow2(const struct input *in)
{
    struct calc_qcow2_opts o = {
        .cluster_size = in->flags & 0x40 ? in->cluster_shift : 1ull << (9 + in->cluster_shift % 13),
        .refcount_bits = 1ull << (in->refcount_shift % 7),
        .extended_l2 = in->flags & 1,
        .compat_v3 = !(in->flags & 2),
        .prealloc = (enum calc_prealloc)((in->flags >> 2) & 3),
        .backing_file = in->flags & 16,
        .luks_header_len = in->flags & 32 ? in->luks % (64u << 20) : 0,
    };
    struct calc_input c = {.virtual_size = in->size, .from_source = in->flags & 0x80,
                           .data_units = in->units};
    struct calc_result r;
    struct calc_result more;
    enum calc_err e = calc_measure_qcow2(&o, &c, &r);

    check_result(e, &r);
    if (e != CALC_OK)
        return;
    if ((o.prealloc == CALC_PREALLOC_FULL || o.prealloc == CALC_PREALLOC_FALLOC) &&
        r.required != r.fully_allocated)
        abort();
    /* More data never needs less space. */
    if (c.from_source && c.data_units > 0) {
        c.data_units--;
        if (calc_measure_qcow2(&o, &c, &more) != CALC_OK || more.required > r.required)
            abort();
    }
}

static void others(const struct input *in)
{
    struct calc_input c = {.virtual_size = in->size, .from_source = in->flags & 0x80,
                           .data_units = in->units};
    struct calc_result r;
    struct calc_vmdk_opts v = {(enum calc_vmdk_sub)(in->sub % 5), in->flags & 1 ? 255 : 16,
                               (uint32_t)(in->luks % 100000), in->flags & 2};
    struct calc_vpc_opts p = {(enum calc_vhd_sub)(in->sub % 2), in->flags & 4};
    struct calc_vhdx_opts x = {(enum calc_vhd_sub)(in->sub % 2),
                               in->flags & 8 ? 1ull << (20 + in->cluster_shift % 9) : 0,
                               (1 + in->refcount_shift % 4095) << 20, in->flags & 16};
    enum calc_err e = calc_measure_raw(&c, &r);

    check_result(e, &r);
    if (e == CALC_OK && r.fully_allocated < c.virtual_size)
        abort();
    check_result(calc_measure_luks(in->luks, &c, &r), &r);
    check_result(calc_measure_vmdk(&v, &c, &r), &r);
    check_result(calc_measure_vpc(&p, &c, &r), &r);
    check_result(calc_measure_vhdx(&x, &c, &r), &r);
}

static void tracker(const uint8_t *data, size_t size)
{
    struct calc_tracker t;
    uint64_t unit;
    uint64_t pos = 0;
    uint64_t bytes = 0;

    if (size < 1)
        return;
    unit = 512ull << (data[0] % 13);
    calc_tracker_init(&t, unit);
    for (size_t i = 1; i + 4 <= size; i += 4) {
        uint64_t gap = (uint64_t)data[i] << 9 | data[i + 1];
        uint64_t len = ((uint64_t)data[i + 2] << 9 | data[i + 3]) + 1;

        pos += gap;
        if (calc_tracker_add(&t, pos, len) != CALC_OK)
            abort();
        pos += len;
        bytes += len;
    }
    /* Each extent touches at least one unit and the units cover the data. */
    if (t.count * unit < bytes || t.count > bytes)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        tracker(data + 1, size - 1);
        return 0;
    }
    if (size < 1 + sizeof(in))
        return 0;
    memcpy(&in, data + 1, sizeof(in));
    qcow2(&in);
    others(&in);
    return 0;
}

#include "fuzz_main.h"
