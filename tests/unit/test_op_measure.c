/* test_op_measure.c: the measure operation, run on the host against the
 * mock CallTable (tests/mock), checked against the real qemu-img. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

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

/* A sparse raw file on disk, served to the operation from memory with the
 * same data/hole map the host would report. */
struct source_file {
    char path[64];
    uint8_t *data;
    uint64_t size;
    struct abi_extent ext[64];
    uint32_t n_ext;
};

/* Load the file at f->path into memory with the data/hole map the host
 * would serve (SEEK_DATA/SEEK_HOLE). */
static void load_source(struct source_file *f)
{
    int fd = open(f->path, O_RDONLY);
    off_t off = 0;

    assert_true(fd >= 0);
    f->size = (uint64_t)lseek(fd, 0, SEEK_END);
    f->data = calloc(1, f->size + 1);
    assert_int_equal(pread(fd, f->data, f->size, 0), (ssize_t)f->size);
    f->n_ext = 0;
    while ((uint64_t)off < f->size && f->n_ext < 64) {
        off_t data = lseek(fd, off, SEEK_DATA);
        off_t hole;

        if (data < 0)
            data = (off_t)f->size;
        if (data > off) {
            f->ext[f->n_ext++] = (struct abi_extent){(uint64_t)off, (uint64_t)(data - off),
                                                     ABI_EXTENT_HOLE, 0};
            off = data;
            continue;
        }
        hole = lseek(fd, off, SEEK_HOLE);
        f->ext[f->n_ext++] = (struct abi_extent){(uint64_t)off, (uint64_t)(hole - off),
                                                 ABI_EXTENT_DATA, 0};
        off = hole;
    }
    close(fd);
}

static void make_source(struct source_file *f)
{
    static const uint64_t writes[][2] = {{0, 4096}, {1052672, 8192}, {(64 << 20) - 4096, 8192},
                                         {100 << 20, 1 << 20}};
    int fd;

    snprintf(f->path, sizeof(f->path), "/tmp/instar-opsrc-XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    f->size = (128 << 20) + 1000; /* not a multiple of 512 */
    assert_int_equal(ftruncate(fd, (off_t)f->size), 0);
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        static uint8_t buf[1 << 20];

        memset(buf, 0xA5, sizeof(buf));
        assert_int_equal(pwrite(fd, buf, writes[i][1], (off_t)writes[i][0]),
                         (ssize_t)writes[i][1]);
    }
    fsync(fd);
    close(fd);
    load_source(f);
}

static uint64_t run_source_failing(struct mock_state *m, const struct source_file *f,
                                   struct abi_measure_config *c,
                                   const struct abi_measure_ext *ext, uint32_t fail_read_at);

static uint64_t run_source(struct mock_state *m, const struct source_file *f,
                           struct abi_measure_config *c, const struct abi_measure_ext *ext)
{
    return run_source_failing(m, f, c, ext, 0);
}

/* run_source() with the device's read number `fail_read_at` (1-based; 0:
 * none) failing with EIO. */
static uint64_t run_source_failing(struct mock_state *m, const struct source_file *f,
                                   struct abi_measure_config *c,
                                   const struct abi_measure_ext *ext, uint32_t fail_read_at)
{
    struct mock_device d = {.data = f->data, .size = f->size, .allocated = f->size,
                            .extents = f->ext, .n_extents = f->n_ext};
    uint8_t page[ABI_OPERATION_CONFIG_SIZE] = {0};

    memcpy(page, c, sizeof(*c));
    if (ext != NULL)
        memcpy(page + ABI_MEASURE_EXT_OFFSET, ext, sizeof(*ext));
    mock_init(m, 64 << 20);
    m->fail_read_at = fail_read_at;
    mock_set_config(m, page, sizeof(page));
    mock_add_device(m, &d);
    return op_entry(mock_table(m));
}

static void raw_source_matches_qemu(void **state)
{
    struct source_file f;
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 0);
    char args[160];

    (void)state;
    make_source(&f);
    c.flags = ABI_MEASURE_FLAG_COMPAT_V3; /* source mode: no SIZE_MODE flag */
    for (uint32_t cs = 512; cs <= (2u << 20); cs *= 4) {
        c.qcow2_cluster_size = cs;
        assert_int_equal(run_source(&m, &f, &c, NULL), 0);
        snprintf(args, sizeof(args), "-O qcow2 -o cluster_size=%u %s", cs, f.path);
        assert_result_is_qemus(&m, args);
        /* A raw source has no persistent bitmaps: no "bitmaps" key. */
        assert_false(m.has_bitmaps);
        mock_fini(&m);
    }
    c = size_config(ABI_FMT_RAW, 0);
    c.flags = 0;
    assert_int_equal(run_source(&m, &f, &c, NULL), 0);
    snprintf(args, sizeof(args), "-O raw %s", f.path);
    assert_result_is_qemus(&m, args);
    mock_fini(&m);
    unlink(f.path);
    free(f.data);
}

static void source_options_are_applied(void **state)
{
    struct source_file f;
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 0);
    struct abi_measure_ext ext;

    (void)state;
    make_source(&f);
    c.flags = ABI_MEASURE_FLAG_COMPAT_V3;
    memset(&ext, 0, sizeof(ext));
    ext.magic = ABI_MEASURE_EXT_MAGIC;
    ext.size = sizeof(ext);
    ext.vmdk_heads = 16;
    ext.vhdx_log_size = 1 << 20;
    /* -l on raw: qemu's refusal, before anything else happens. */
    ext.source_flags = ABI_MEASURE_SRC_SNAPSHOT;
    memcpy(ext.snapshot, "snap", 5);
    assert_int_equal(run_source(&m, &f, &c, &ext), 1);
    assert_int_equal(m.first_error_code, ABI_ERROR_PLAIN);
    assert_string_equal(m.first_error, "Failed to load snapshot: Block format 'raw' used by "
                                       "device '' does not support temporarily loading "
                                       "internal snapshots");
    assert_int_equal(m.n_measure, 0);
    mock_fini(&m);
    /* Probe only: the host has an option error to print. */
    ext.source_flags = ABI_MEASURE_SRC_PROBE_ONLY;
    assert_int_equal(run_source(&m, &f, &c, &ext), 1);
    assert_int_equal(m.n_errors, 0);
    assert_int_equal(m.measure.error, ABI_MEASURE_ERROR_INVALID_OPTION);
    assert_int_equal(m.reads, 1); /* the probe only, no walk */
    mock_fini(&m);
    /* -f qcow2 on raw bytes: the qcow2 driver's refusal as an open error. */
    ext.source_flags = 0;
    ext.source_format = ABI_FMT_QCOW2;
    assert_int_equal(run_source(&m, &f, &c, &ext), 1);
    assert_int_equal(m.first_error_code, ABI_ERROR_OPEN);
    mock_fini(&m);
    unlink(f.path);
    free(f.data);
}

/* Run the operation over the files `f[0..n)` as devices 0..n-1. */
static uint64_t run_chain(struct mock_state *m, const struct source_file *f, uint32_t n,
                          const struct abi_measure_config *c)
{
    uint8_t page[ABI_OPERATION_CONFIG_SIZE] = {0};

    memcpy(page, c, sizeof(*c));
    mock_init(m, 64 << 20);
    mock_set_config(m, page, sizeof(page));
    for (uint32_t i = 0; i < n; i++) {
        struct mock_device d = {.data = f[i].data, .size = f[i].size,
                                .allocated = f[i].size, .extents = f[i].ext,
                                .n_extents = f[i].n_ext};

        mock_add_device(m, &d);
    }
    return op_entry(mock_table(m));
}

static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* The guest asks for each file of a chain in turn (the top's data file,
 * its backing file), and with all of them measures as qemu-img does. */
/* Every device read is a VM exit: a small qcow2 source is measured with
 * three -- the probe's 4 KiB block (which also serves the header and its
 * extensions), the L1 entry's block, and the used part of the L2 table. */
static void small_qcow2_source_reads_little(void **state)
{
    char dir[] = "/tmp/instar-opsmall-XXXXXX";
    struct source_file f;
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 0);
    char args[256];

    (void)state;
    assert_non_null(mkdtemp(dir));
    c.flags = ABI_MEASURE_FLAG_COMPAT_V3;
    sh("qemu-img create -q -f qcow2 %s/s.qcow2 64M && "
       "qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 40M 64k' %s/s.qcow2 >/dev/null", dir, dir);
    snprintf(f.path, sizeof(f.path), "%s/s.qcow2", dir);
    load_source(&f);
    assert_int_equal(run_source(&m, &f, &c, NULL), 0);
    snprintf(args, sizeof(args), "-O qcow2 %s", f.path);
    assert_result_is_qemus(&m, args);
    assert_int_equal(m.reads, 3);
    assert_true(m.bytes_read <= 2 * 4096 + 8192);
    mock_fini(&m);
    /* A block fetch that fails is the read's failure, not retried. */
    for (uint32_t k = 1; k <= 3; k++) {
        assert_int_equal(run_source_failing(&m, &f, &c, NULL, k), 1);
        assert_int_equal(m.reads, k);
        assert_int_equal(m.n_measure, 0);
        assert_non_null(strstr(m.first_error, "Input/output error"));
        mock_fini(&m);
    }
    sh("rm -rf %s", dir);
    free(f.data);
}

static void chain_requests_then_measures(void **state)
{
    char dir[] = "/tmp/instar-opchain-XXXXXX";
    struct source_file f[3];
    struct mock_state m;
    struct abi_measure_config c = size_config(ABI_FMT_QCOW2, 0);
    char args[256];

    (void)state;
    assert_non_null(mkdtemp(dir));
    c.flags = ABI_MEASURE_FLAG_COMPAT_V3;
    sh("qemu-img create -q -f qcow2 %s/base.qcow2 32M && "
       "qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 8M 64k' %s/base.qcow2 >/dev/null && "
       "qemu-img create -q -f qcow2 -o data_file=%s/top.dat -b base.qcow2 -F qcow2 "
       "%s/top.qcow2 48M && "
       "qemu-io -c 'write -P 3 8M 128k' -c 'write -P 4 40M 64k' %s/top.qcow2 >/dev/null",
       dir, dir, dir, dir, dir);
    snprintf(f[0].path, sizeof(f[0].path), "%s/top.qcow2", dir);
    snprintf(f[1].path, sizeof(f[1].path), "%s/top.dat", dir);
    snprintf(f[2].path, sizeof(f[2].path), "%s/base.qcow2", dir);
    for (int i = 0; i < 3; i++)
        load_source(&f[i]);
    /* One device: the data file is asked for, by its recorded name. */
    assert_int_equal(run_chain(&m, f, 1, &c), 1);
    assert_int_equal(m.first_error_code, ABI_ERROR_NEED_DATA_FILE);
    assert_string_equal(m.first_error, f[1].path);
    assert_int_equal(m.n_measure, 0);
    mock_fini(&m);
    /* Two: the backing file, as recorded (relative). */
    assert_int_equal(run_chain(&m, f, 2, &c), 1);
    assert_int_equal(m.first_error_code, ABI_ERROR_NEED_BACKING);
    assert_string_equal(m.first_error, "base.qcow2");
    mock_fini(&m);
    /* All three: qemu-img's numbers through the chain. */
    assert_int_equal(run_chain(&m, f, 3, &c), 0);
    snprintf(args, sizeof(args), "-O qcow2 %s", f[0].path);
    assert_result_is_qemus(&m, args);
    mock_fini(&m);
    sh("rm -rf %s", dir);
    for (int i = 0; i < 3; i++)
        free(f[i].data);
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
        cmocka_unit_test(raw_source_matches_qemu),
        cmocka_unit_test(source_options_are_applied),
        cmocka_unit_test(small_qcow2_source_reads_little),
        cmocka_unit_test(chain_requests_then_measures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
