/* test_op_measure.c: the measure operation, run on the host against the
 * mock CallTable (tests/mock), checked against the real qemu-img. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "abi_format.h"
#include "abi_measure.h"
#include "mock_ct.h"
#include "op_measure.h"
#include "qemu_ref.h"

static struct abi_measure_config size_config(uint32_t fmt, uint64_t size)
{
    struct abi_measure_config c;

    memset(&c, 0, sizeof(c));
    c.magic = ABI_MEASURE_CONFIG_MAGIC;
    c.target_format = fmt;
    c.flags = ABI_MEASURE_FLAG_SIZE_MODE | ABI_MEASURE_FLAG_COMPAT_V3;
    c.virtual_size_override = size;
    return c;
}

/* Run the operation with `cfg`; returns its exit value. */
static uint64_t run_op(struct mock_state *m, const struct abi_measure_config *cfg)
{
    mock_init(m, 1 << 20);
    mock_set_config(m, cfg, sizeof(*cfg));
    return op_entry(mock_table(m));
}

static void assert_result_is_qemus(const struct mock_state *m, const char *qemu_args)
{
    uint64_t req;
    uint64_t full;

    assert_true(qemu_ref_measure(qemu_args, &req, &full));
    assert_int_equal(m->n_measure, 1);
    assert_int_equal(m->measure.magic, ABI_MEASURE_RESULT_MAGIC);
    assert_int_equal(m->measure.error, ABI_MEASURE_ERROR_OK);
    assert_int_equal(m->measure.required, req);
    assert_int_equal(m->measure.fully_allocated, full);
    assert_int_equal(m->n_complete, 1);
    assert_true(m->complete_success);
    assert_int_equal(m->n_errors, 0);
}

static void qcow2_size_mode(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 1ull << 30);

    (void)state;
    c.qcow2_cluster_size = 8192;
    c.qcow2_refcount_bits = 64;
    assert_int_equal(run_op(&m, &c), 0);
    assert_result_is_qemus(&m, "--size 1G -O qcow2 -o cluster_size=8k,refcount_bits=64");
    assert_int_equal(m.measure.target_format, ABI_FMT_QCOW2);
    assert_int_equal(m.measure.resolved_unit_size, 8192);
    mock_fini(&m);
}

static void qcow2_defaults_and_prealloc(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 5ull << 40);

    (void)state;
    c.flags |= ABI_MEASURE_PREALLOC_FALLOC | ABI_MEASURE_FLAG_EXTENDED_L2;
    assert_int_equal(run_op(&m, &c), 0);
    assert_result_is_qemus(&m, "--size 5T -O qcow2 -o preallocation=falloc,extended_l2=on");
    assert_int_equal(m.measure.resolved_unit_size, 65536);
    mock_fini(&m);
}

static void size_zero_is_size_mode(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 0);

    (void)state;
    assert_int_equal(run_op(&m, &c), 0);
    assert_result_is_qemus(&m, "--size 0 -O qcow2");
    mock_fini(&m);
}

static void raw_rounds_to_sectors(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_RAW, 1000);

    (void)state;
    assert_int_equal(run_op(&m, &c), 0);
    assert_result_is_qemus(&m, "--size 1000 -O raw");
    assert_int_equal(m.measure.resolved_unit_size, 0);
    mock_fini(&m);
}

static void luks_adds_the_header(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_LUKS, 1000);

    (void)state;
    c.luks_header_overhead = calc_luks_header_len(64);
    assert_int_equal(run_op(&m, &c), 0);
    assert_int_equal(m.measure.required, 2069480);
    assert_int_equal(m.measure.fully_allocated, 2069480);
    mock_fini(&m);
}

static void bad_config_magic_is_an_invalid_option(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 1 << 20);

    (void)state;
    c.magic = 0x12345678;
    assert_int_equal(run_op(&m, &c), 1);
    assert_int_equal(m.n_measure, 1);
    assert_int_equal(m.measure.error, ABI_MEASURE_ERROR_INVALID_OPTION);
    assert_int_equal(m.measure.target_format, ABI_FMT_UNKNOWN);
    assert_int_equal(m.n_complete, 1);
    assert_false(m.complete_success);
    mock_fini(&m);
}

static void invalid_options_are_refused(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 1 << 20);

    (void)state;
    /* The host validates first; the guest must still refuse, not compute. */
    c.qcow2_cluster_size = 3000;
    assert_int_equal(run_op(&m, &c), 1);
    assert_int_equal(m.measure.error, ABI_MEASURE_ERROR_INVALID_OPTION);
    assert_false(m.complete_success);
    mock_fini(&m);
    c = size_config(ABI_FMT_QCOW2, 1ull << 60); /* beyond the L1 limit at 64 KiB */
    assert_int_equal(run_op(&m, &c), 1);
    assert_int_equal(m.measure.error, ABI_MEASURE_ERROR_INVALID_SIZE);
    mock_fini(&m);
    c = size_config(ABI_FMT_QCOW2, 1 << 20);
    c.flags &= ~ABI_MEASURE_FLAG_COMPAT_V3;
    c.qcow2_refcount_bits = 8;
    assert_int_equal(run_op(&m, &c), 1);
    assert_int_equal(m.measure.error, ABI_MEASURE_ERROR_INVALID_OPTION);
    mock_fini(&m);
    c = size_config(ABI_FMT_QED, 1 << 20);
    assert_int_equal(run_op(&m, &c), 1);
    assert_int_equal(m.measure.error, ABI_MEASURE_ERROR_INVALID_OPTION);
    mock_fini(&m);
}

static void foreign_call_table_is_not_used(void **state)
{
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_RAW, 1 << 20);
    struct abi_call_table ct;

    (void)state;
    mock_init(&m, 0);
    mock_set_config(&m, &c, sizeof(c));
    ct = *mock_table(&m);
    ct.version = 13;
    assert_int_equal(op_entry(&ct), 1);
    ct.version = 14;
    ct.size = 120;
    assert_int_equal(op_entry(&ct), 1);
    assert_int_equal(op_entry(NULL), 1);
    assert_int_equal(m.n_measure + m.n_complete + m.n_errors, 0);
    mock_fini(&m);
}

static void source_mode_is_not_supported_yet(void **state)
{
    static const uint8_t image[4096];
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 0);
    struct mock_device d = {.data = image, .size = sizeof(image), .allocated = 4096};

    (void)state;
    c.flags &= ~ABI_MEASURE_FLAG_SIZE_MODE;
    mock_init(&m, 0);
    mock_set_config(&m, &c, sizeof(c));
    mock_add_device(&m, &d);
    assert_int_equal(op_entry(mock_table(&m)), 1);
    assert_int_equal(m.n_errors, 1);
    assert_int_equal(m.first_error_code, ABI_ERROR_UNSUPPORTED);
    assert_int_equal(m.n_measure, 0);
    mock_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qcow2_size_mode),
        cmocka_unit_test(qcow2_defaults_and_prealloc),
        cmocka_unit_test(size_zero_is_size_mode),
        cmocka_unit_test(raw_rounds_to_sectors),
        cmocka_unit_test(luks_adds_the_header),
        cmocka_unit_test(bad_config_magic_is_an_invalid_option),
        cmocka_unit_test(invalid_options_are_refused),
        cmocka_unit_test(foreign_call_table_is_not_used),
        cmocka_unit_test(source_mode_is_not_supported_yet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
