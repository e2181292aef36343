/* test_img_qcow2.c: the qcow2 driver against qemu-img 7.2 (map, measure and
 * error texts) on images made by qemu-img and qemu-io, and on malformed
 * variants of them. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../crates/qcow2/qcow2_int.h"
#include "img_harness.h"
#include "qemu_ref.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-qcow2-XXXXXX";

/* Counters of map-phase requests (installed after open). */
struct counted_io {
    struct img_io inner;
    uint64_t reads;
    uint64_t read_bytes;
    uint64_t extents;
};

static int64_t counted_read(void *ctx, uint64_t off, uint64_t len, void *buf)
{
    struct counted_io *c = ctx;

    c->reads++;
    c->read_bytes += len;
    if (getenv("INSTAR_TEST_TRACE") != NULL)
        fprintf(stderr, "read %" PRIu64 " +%" PRIu64 "\n", off, len);
    return c->inner.read(c->inner.ctx, off, len, buf);
}

static int32_t counted_extent(void *ctx, uint64_t off, struct abi_extent *out)
{
    struct counted_io *c = ctx;

    c->extents++;
    return c->inner.extent(c->inner.ctx, off, out);
}

static void count_io(struct harness *h, struct counted_io *c)
{
    memset(c, 0, sizeof(*c));
    c->inner = h->io;
    h->io.ctx = c;
    h->io.read = counted_read;
    h->io.extent = counted_extent;
}

static char *path_of(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];

    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

/* qemu-img create -f qcow2 [-o opts] name size */
static void create(const char *name, const char *opts, const char *size)
{
    harness_sh("cd %s && qemu-img create -q -f qcow2 %s%s %s %s", dir, opts[0] ? "-o " : "",
               opts, name, size);
}

/* qemu-io with a list of -c commands. */
static void qio(const char *name, const char *cmds)
{
    harness_sh("cd %s && qemu-io -f qcow2 %s %s >/dev/null", dir, cmds, name);
}

/* Make the unwritten extents qemu zero-allocated into real holes
 * (qemu-img-measure.md 9.3). */
static void sparsify(const char *name)
{
    harness_sh("cd %s && cp --sparse=always %s %s.tmp && mv %s.tmp %s", dir, name, name, name,
               name);
}

static void copy(const char *from, const char *to)
{
    harness_sh("cd %s && cp --sparse=always %s %s", dir, from, to);
}

/* Write `width` bytes (1, 2, 4, 8) of `value` big-endian at `off`. */
static void poke(const char *name, uint64_t off, int width, uint64_t value)
{
    uint8_t b[8];
    int fd = open(path_of(name), O_WRONLY);

    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < width; i++)
        b[i] = (uint8_t)(value >> (8 * (width - 1 - i)));
    ck_assert_int_eq(pwrite(fd, b, (size_t)width, (off_t)off), width);
    close(fd);
}

static uint64_t peek(const char *name, uint64_t off, int width)
{
    uint8_t b[8];
    uint64_t v = 0;
    int fd = open(path_of(name), O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, b, (size_t)width, (off_t)off), width);
    close(fd);
    for (int i = 0; i < width; i++)
        v = v << 8 | b[i];
    return v;
}

/* Our map equals qemu-img map's; `qemu_extra`/`qemu_path` address the
 * image for qemu-img (NULL: "-f qcow2" and the file). */
static void check_map_full(const char *name, const struct img_opts *opts, const char *qemu_extra,
                           const char *qemu_path)
{
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;
    const char *path = path_of(name);

    harness_open(&h, path, NULL, opts);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "qcow2");
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(qemu_path != NULL ? qemu_path : path,
                                   qemu_extra != NULL ? qemu_extra : "-f qcow2", &qemu),
                  "qemu-img map failed on %s", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

static void check_map(const char *name)
{
    check_map_full(name, NULL, NULL, NULL);
}

/* Whether the metadata-preallocation heuristic fires on the image. */
static bool heuristic_fires(const char *name)
{
    struct harness h;
    struct harness_map m;
    bool fired;

    harness_open(&h, path_of(name), "qcow2", NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_walk(&h, &m) == IMG_OK, "%s: %s", name, h.img.err);
    fired = ((struct q2 *)h.img.state)->prealloc;
    harness_close(&h);
    return fired;
}

/* "bitmaps": N of qemu-img measure --output=json, or -1 without the key. */
static int64_t qemu_bitmaps(const char *args)
{
    char *cmd;
    char buf[4096];
    size_t n;
    FILE *p;
    char *k;

    ck_assert(asprintf(&cmd, "qemu-img measure --output=json -O qcow2 %s 2>/dev/null", args) > 0);
    p = popen(cmd, "r");
    ck_assert(p != NULL);
    n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    pclose(p);
    free(cmd);
    k = strstr(buf, "\"bitmaps\": ");
    return k != NULL ? (int64_t)strtoull(k + 11, NULL, 10) : -1;
}

/* Our "bitmaps size" (for the default 64 KiB target clusters) equals
 * qemu-img measure's; returns the bitmap count. */
static uint32_t check_bitmaps(const char *name)
{
    struct harness h;
    char args[600];
    int64_t want;
    uint64_t got = 0;
    uint32_t n;

    harness_open(&h, path_of(name), "qcow2", NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    snprintf(args, sizeof(args), "'%s'", path_of(name));
    want = qemu_bitmaps(args);
    if (!h.img.supports_bitmaps) {
        ck_assert_int_eq(want, -1);
    } else {
        ck_assert_int_eq(calc_qcow2_bitmaps(h.img.bitmaps, h.img.n_bitmaps, h.img.virtual_size,
                                            65536, &got),
                         CALC_OK);
        ck_assert_msg(want == (int64_t)got, "%s: bitmaps size %" PRIu64 ", qemu-img %" PRId64,
                      name, got, want);
    }
    n = h.img.n_bitmaps;
    harness_close(&h);
    return n;
}

/* qemu-img measure's "required" for the data our map reports. */
static uint64_t our_required(struct harness *h)
{
    struct harness_map m;
    struct calc_tracker t;
    struct calc_qcow2_opts o = {65536, 16, false, true, CALC_PREALLOC_OFF, false, 0};
    struct calc_input in;
    struct calc_result r;

    ck_assert_msg(harness_walk(h, &m) == IMG_OK, "%s", h->img.err);
    ck_assert(!m.truncated);
    calc_tracker_init(&t, 65536);
    for (uint32_t i = 0; i < m.n; i++)
        ck_assert_int_eq(calc_tracker_add(&t, m.data[i].start, m.data[i].length), CALC_OK);
    in = (struct calc_input){h->img.virtual_size, true, t.count};
    ck_assert_int_eq(calc_measure_qcow2(&o, &in, &r), CALC_OK);
    return r.required;
}

/* With -l options, our required size equals qemu-img measure's. */
static void check_snapshot(const char *name, const struct img_opts *opts, const char *l_arg)
{
    struct harness h;
    char args[700];
    uint64_t required;
    uint64_t fully;

    harness_open(&h, path_of(name), NULL, opts);
    ck_assert_msg(h.err == IMG_OK, "%s -l %s: %s", name, l_arg, h.img.err);
    snprintf(args, sizeof(args), "-O qcow2 -l '%s' '%s'", l_arg, path_of(name));
    ck_assert(qemu_ref_measure(args, &required, &fully));
    ck_assert_msg(our_required(&h) == required, "%s -l %s: required %" PRIu64 ", qemu %" PRIu64,
                  name, l_arg, our_required(&h), required);
    harness_close(&h);
}

/* Our error (open or walk) is qemu-img measure's first line of stderr. */
static void check_err_opts(const char *name, const struct img_opts *opts, const char *qemu_args)
{
    struct harness h;
    struct harness_map m;
    char want[1024];
    const char *path = path_of(name);

    harness_qemu_error(path, qemu_args, want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    harness_open(&h, path, "qcow2", opts);
    if (h.err == IMG_OK)
        ck_assert_msg(harness_walk(&h, &m) != IMG_OK, "%s: accepted, qemu-img: %s", name, want);
    ck_assert_msg(strcmp(harness_first_line(&h), want) == 0, "%s:\n  instar:  %s\n  qemu-img: %s",
                  name, harness_first_line(&h), want);
    if (getenv("INSTAR_TEST_VERBOSE") != NULL)
        fprintf(stderr, "%s: %s\n", name, want);
    harness_close(&h);
}

static void check_err(const char *name)
{
    check_err_opts(name, NULL, "-f qcow2 -O qcow2");
}

/* A deliberate difference: qemu-img measures the image, instar refuses it
 * with a message containing `text`. */
static void check_refused(const char *name, const char *text)
{
    struct harness h;
    struct harness_map m;
    char want[1024];
    const char *path = path_of(name);
    enum img_err err;

    harness_qemu_error(path, "-f qcow2 -O qcow2", want, sizeof(want));
    ck_assert_msg(want[0] == '\0', "%s: qemu-img refused it: %s", name, want);
    harness_open(&h, path, "qcow2", NULL);
    err = h.err == IMG_OK ? harness_walk(&h, &m) : h.err;
    ck_assert_msg(err != IMG_OK, "%s: accepted", name);
    ck_assert_msg(strstr(h.img.err, text) != NULL, "%s: %s", name, h.img.err);
    if (getenv("INSTAR_TEST_VERBOSE") != NULL)
        fprintf(stderr, "%s: refused: %s\n", name, h.img.err);
    harness_close(&h);
}

/* Header offsets (security.md 3.3). */
enum {
    H_VERSION = 4, H_BACKING_OFF = 8, H_BACKING_SIZE = 16, H_CLUSTER_BITS = 20, H_SIZE = 24,
    H_CRYPT = 32, H_L1_SIZE = 36, H_L1_OFF = 40, H_RT_OFF = 48, H_RT_CLUSTERS = 56,
    H_NB_SN = 60, H_SN_OFF = 64, H_INCOMPAT = 72, H_AUTOCLEAR = 88, H_REFCOUNT_ORDER = 96,
    H_HEADER_LEN = 100,
};

/* ---- valid images ---------------------------------------------------------- */

START_TEST(versions_zero_and_discard)
{
    static const char *cmds =
        "-c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 300k' -c 'write -z 2M 128k' "
        "-c 'write -P 0x33 3M 128k' -c 'write -z -u 3M 64k' -c 'write -P 0x44 4M 64k' "
        "-c 'discard 4M 64k' -c 'write -P 0x55 63M 1M' -c 'write -P 5 10M 4k' "
        "-c 'write -z 10M 4k'";

    create("v3.qcow2", "", "64M");
    qio("v3.qcow2", cmds);
    sparsify("v3.qcow2");
    check_map("v3.qcow2");
    create("v2.qcow2", "compat=0.10", "64M");
    qio("v2.qcow2", cmds);
    sparsify("v2.qcow2");
    check_map("v2.qcow2");
    /* Lazy refcounts; a process killed mid-write leaves the dirty bit. */
    create("lazy.qcow2", "lazy_refcounts=on", "64M");
    harness_sh("cd %s && qemu-io -f qcow2 -c 'write -P 0x5a 0 512' -c 'write -P 1 5M 1M' "
               "-c 'sigraise 9' lazy.qcow2 >/dev/null 2>&1; true", dir);
    ck_assert_int_eq(peek("lazy.qcow2", H_INCOMPAT, 8) & 1, 1);
    sparsify("lazy.qcow2");
    check_map("lazy.qcow2");
    /* The corrupt bit does not stop a read-only open. */
    copy("v3.qcow2", "corrupt.qcow2");
    poke("corrupt.qcow2", H_INCOMPAT, 8, 2);
    check_map("corrupt.qcow2");
    /* zstd compression type, compressed clusters. */
    harness_sh("cd %s && qemu-img convert -c -O qcow2 rnd.raw comp.qcow2 && "
               "qemu-img convert -c -O qcow2 -o compression_type=zstd rnd.raw zstd.qcow2 && "
               "qemu-img convert -c -O qcow2 -o compat=0.10 rnd.raw comp2.qcow2", dir);
    check_map("comp.qcow2");
    check_map("zstd.qcow2");
    check_map("comp2.qcow2");
    /* A compressed cluster rewritten in part becomes a normal one. */
    qio("comp.qcow2", "-c 'write -P 7 4k 4k' -c 'write -z 128k 64k'");
    sparsify("comp.qcow2");
    check_map("comp.qcow2");
}
END_TEST

START_TEST(cluster_sizes_and_refcount_widths)
{
    char name[64];
    char opts[128];

    for (int bits = 9; bits <= 21; bits++) {
        snprintf(name, sizeof(name), "c%d.qcow2", bits);
        snprintf(opts, sizeof(opts), "cluster_size=%d", 1 << bits);
        create(name, opts, "200M");
        qio(name, "-c 'write -P 1 0 3k' -c 'write -P 2 1000k 5k' -c 'write -z 1M 1M' "
                  "-c 'write -P 3 7M 2M' -c 'discard 8M 64k' -c 'write -P 4 150M 777' "
                  "-c 'write -P 5 199M 1M'");
        sparsify(name);
        check_map(name);
    }
    for (int w = 1; w <= 64; w *= 2) {
        snprintf(name, sizeof(name), "r%d.qcow2", w);
        snprintf(opts, sizeof(opts), "refcount_bits=%d,cluster_size=4096", w);
        create(name, opts, "32M");
        qio(name, "-c 'write -P 1 0 100k' -c 'write -P 2 9M 33k' -c 'write -z 10M 8k'");
        sparsify(name);
        check_map(name);
    }
}
END_TEST

START_TEST(extended_l2)
{
    char name[64];
    char opts[128];

    for (int bits = 14; bits <= 21; bits += 7) {
        snprintf(name, sizeof(name), "x%d.qcow2", bits);
        snprintf(opts, sizeof(opts), "extended_l2=on,cluster_size=%d", 1 << bits);
        create(name, opts, "256M");
        /* Partial subclusters, zeroed subclusters, discards. */
        qio(name, "-c 'write -P 1 0 1k' -c 'write -P 2 5k 2k' -c 'write -z 16k 8k' "
                  "-c 'write -P 3 70k 1k' -c 'write -z -u 80k 2k' -c 'write -P 4 1M 3M' "
                  "-c 'discard 2M 64k' -c 'write -z 2200k 4k' -c 'write -P 5 255M 512'");
        sparsify(name);
        check_map(name);
    }
    create("x16.qcow2", "extended_l2=on", "1G");
    qio("x16.qcow2", "-c 'write -P 1 1k 1k' -c 'write -P 1 65k 3k' -c 'write -z 100M 10M' "
                     "-c 'write -P 9 512M 64k' -c 'write -P 9 600M 6k'");
    sparsify("x16.qcow2");
    check_map("x16.qcow2");
    harness_sh("cd %s && qemu-img convert -c -O qcow2 -o extended_l2=on rnd.raw xc.qcow2", dir);
    check_map("xc.qcow2");
}
END_TEST

START_TEST(preallocation)
{
    create("pm.qcow2", "preallocation=metadata", "64M");
    qio("pm.qcow2", "-c 'write -P 1 0 4k' -c 'write -P 2 1M 100k' -c 'write -P 3 30M 64k'");
    sparsify("pm.qcow2");
    check_map("pm.qcow2");
    ck_assert(heuristic_fires("pm.qcow2"));
    create("pm2.qcow2", "preallocation=metadata,cluster_size=2M", "64M");
    qio("pm2.qcow2", "-c 'write -P 1 0 4k' -c 'write -P 2 3M 1k'");
    sparsify("pm2.qcow2");
    check_map("pm2.qcow2");
    create("pf.qcow2", "preallocation=falloc", "32M");
    qio("pf.qcow2", "-c 'write -P 1 0 4k'");
    sparsify("pf.qcow2");
    check_map("pf.qcow2");
    create("pfull.qcow2", "preallocation=full", "16M");
    check_map("pfull.qcow2");
    sparsify("pfull.qcow2");
    check_map("pfull.qcow2");
    /* 2 MiB clusters partly written: the heuristic fires on small images. */
    create("big2m.qcow2", "cluster_size=2M", "1G");
    qio("big2m.qcow2", "-c 'write -P 1 0 4k' -c 'write -P 2 5M 12k' -c 'write -P 3 100M 1M'");
    sparsify("big2m.qcow2");
    check_map("big2m.qcow2");
    ck_assert(heuristic_fires("big2m.qcow2"));
    /* A larger ordinary image with partly written clusters: it does not
     * fire, and the clusters count whole. */
    create("part.qcow2", "", "1G");
    qio("part.qcow2", "-c 'write -P 1 0 10M' -c 'write -P 2 20M 4k' -c 'write -P 3 30M 4k'");
    sparsify("part.qcow2");
    check_map("part.qcow2");
    ck_assert(!heuristic_fires("part.qcow2"));
    /* A misaligned refcount block turns the heuristic off (qemu prints a
     * corruption event and goes on). */
    copy("pm.qcow2", "pmbad.qcow2");
    poke("pmbad.qcow2", peek("pmbad.qcow2", H_RT_OFF, 8), 8, 0x10200);
    check_map("pmbad.qcow2");
    ck_assert(!heuristic_fires("pmbad.qcow2"));
}
END_TEST

START_TEST(sizes)
{
    struct harness h;
    struct harness_map m;
    struct counted_io c;
    struct timespec t0;
    struct timespec t1;
    double secs;

    create("one.qcow2", "", "1");
    check_map("one.qcow2");
    create("odd.qcow2", "", "1000");
    qio("odd.qcow2", "-c 'write -P 1 0 512'");
    check_map("odd.qcow2");
    /* A size that is not a multiple of 512 in the header. */
    copy("odd.qcow2", "odd2.qcow2");
    poke("odd2.qcow2", H_SIZE, 8, 1000);
    check_map("odd2.qcow2");
    create("zero.qcow2", "", "0");
    check_map("zero.qcow2");
    /* Beyond 2 TiB, sparse. */
    create("3t.qcow2", "", "3T");
    qio("3t.qcow2", "-c 'write -P 1 0 64k' -c 'write -P 2 2199023255552 64k' "
                    "-c 'write -P 3 3298534817792 4k'");
    check_map("3t.qcow2");
    /* An empty 1 PiB image is instant. */
    create("1p.qcow2", "", "1P");
    harness_open(&h, path_of("1p.qcow2"), "qcow2", NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    count_io(&h, &c);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_msg(harness_walk(&h, &m) == IMG_OK, "%s", h.img.err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "1 PiB, empty: %.3f s, %" PRIu64 " reads\n", secs, c.reads);
    ck_assert(secs + (double)(c.reads + c.extents) * 25e-6 < 0.5);
    ck_assert_uint_eq(m.n, 0);
    harness_close(&h);
    /* 1 TiB with 2048 L2 tables: few, large requests. */
    create("1t.qcow2", "preallocation=metadata", "1T");
    qio("1t.qcow2", "-c 'write -P 1 0 1M' -c 'write -P 2 600G 64k'");
    sparsify("1t.qcow2");
    harness_open(&h, path_of("1t.qcow2"), "qcow2", NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    count_io(&h, &c);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_msg(harness_walk(&h, &m) == IMG_OK, "%s", h.img.err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "1 TiB, 2048 L2 tables: %.3f s, %" PRIu64 " reads (%" PRIu64
            " bytes), %" PRIu64 " extent queries\n", secs, c.reads, c.read_bytes, c.extents);
    /* Each guest request costs about 25 us: the tables are 512 MiB apart
     * (each one before its preallocated data), so one read each, and one
     * host extent query per table for the preallocation heuristic. */
    ck_assert_uint_le(c.reads, 2048 + 200);
    ck_assert_uint_le(c.extents, 2048 + 100);
    ck_assert(secs + (double)(c.reads + c.extents) * 25e-6 < 1.0);
    harness_close(&h);
    check_map("1t.qcow2");
    /* 128 L2 tables, each followed by one data cluster: read together
     * (gaps no larger than the tables before them), 4 MiB at a time. */
    create("il.qcow2", "", "64G");
    harness_sh("cd %s && for i in $(seq 0 127); do echo \"write -P 1 $((i * 512))M 512\"; "
               "done | qemu-io -f qcow2 il.qcow2 >/dev/null", dir);
    harness_open(&h, path_of("il.qcow2"), "qcow2", NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    count_io(&h, &c);
    ck_assert_msg(harness_walk(&h, &m) == IMG_OK, "%s", h.img.err);
    fprintf(stderr, "64 GiB, 128 interleaved L2 tables: %" PRIu64 " reads (%" PRIu64
            " bytes)\n", c.reads, c.read_bytes);
    ck_assert_uint_le(c.reads, 12);
    harness_close(&h);
    check_map("il.qcow2");
    harness_sh("cd %s && rm -f 1t.qcow2 1p.qcow2 3t.qcow2", dir);
}
END_TEST

/* A small image opens and maps with a few small reads: the extensions'
 * first page, the L1 entry once and the used part of the only L2 table; no
 * refcounts when the file is not sparse enough for the preallocation
 * heuristic to say yes.  Extensions past the first page are still read. */
START_TEST(small_image_reads)
{
    struct harness h;
    struct harness_map m;

    create("small.qcow2", "", "64M");
    qio("small.qcow2", "-c 'write -P 1 0 1M'");
    harness_open(&h, path_of("small.qcow2"), "qcow2", NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert_msg(harness_walk(&h, &m) == IMG_OK, "%s", h.img.err);
    fprintf(stderr, "64 MiB, 1 MiB written: %" PRIu64 " reads (%" PRIu64 " bytes)\n", h.reads,
            h.read_bytes);
    /* 112-byte header, 3984 bytes of extensions, the L1 entry once (the
     * open-time check leaves it for the walk), 1024 L2 entries. */
    ck_assert_uint_le(h.reads, 4);
    ck_assert_uint_le(h.read_bytes, 4096 + 8 + 8192);
    harness_close(&h);
    check_map("small.qcow2");
    /* An unknown extension of 5000 bytes at the start of the area: the end
     * marker lies past the first page. */
    copy("small.qcow2", "bigext.qcow2");
    poke("bigext.qcow2", 0x70, 4, 0x12345678);
    poke("bigext.qcow2", 0x74, 4, 5000);
    poke("bigext.qcow2", 0x70 + 8 + 5000, 8, 0);
    check_map("bigext.qcow2");
    /* The same, followed by one too large for the cluster: qemu's error,
     * from bytes past the first page. */
    poke("bigext.qcow2", 0x70 + 8 + 5000, 4, 0x87654321);
    poke("bigext.qcow2", 0x70 + 8 + 5000 + 4, 4, 0x10000);
    check_err("bigext.qcow2");
}
END_TEST

START_TEST(bitmaps)
{
    create("bm.qcow2", "", "1G");
    qio("bm.qcow2", "-c 'write -P 1 0 1M'");
    ck_assert_uint_eq(check_bitmaps("bm.qcow2"), 0);
    harness_sh("cd %s && qemu-img bitmap --add bm.qcow2 a && "
               "qemu-img bitmap --add -g 512 bm.qcow2 b && "
               "qemu-img bitmap --add -g 2M bm.qcow2 c && "
               "qemu-img bitmap --add --disable bm.qcow2 "
               "a23456789012345678901234567890123456789012345678901234567890123456789012345 && "
               "qemu-img bitmap --add -g 1G bm.qcow2 d && "
               "qemu-img bitmap --add -g 4096 bm.qcow2 e",
               dir);
    ck_assert_uint_eq(check_bitmaps("bm.qcow2"), 6);
    check_map("bm.qcow2");
    /* In-use bitmaps (a process killed with them loaded) still count. */
    harness_sh("cd %s && qemu-img bitmap --add bm.qcow2 live && qemu-io -f qcow2 "
               "-c 'write -P 1 0 4k' -c 'sigraise 9' bm.qcow2 >/dev/null 2>&1; true", dir);
    ck_assert_uint_eq(check_bitmaps("bm.qcow2"), 7);
    /* A name of 1023 bytes; a big image with a 512-byte granularity. */
    create("bm2.qcow2", "cluster_size=2M", "2T");
    harness_sh("cd %s && qemu-img bitmap --add -g 512 bm2.qcow2 x && "
               "qemu-img bitmap --add -g 2M bm2.qcow2 $(head -c 1023 /dev/zero | tr '\\0' n)",
               dir);
    ck_assert_uint_eq(check_bitmaps("bm2.qcow2"), 2);
    /* v2 has no bitmaps figure. */
    create("bmv2.qcow2", "compat=0.10", "1G");
    ck_assert_uint_eq(check_bitmaps("bmv2.qcow2"), 0);
    /* The autoclear bit cleared: the extension is ignored. */
    copy("bm.qcow2", "bm3.qcow2");
    poke("bm3.qcow2", H_AUTOCLEAR, 8, 0);
    ck_assert_uint_eq(check_bitmaps("bm3.qcow2"), 0);
}
END_TEST

START_TEST(snapshots)
{
    struct img_opts o = {0};

    create("sn.qcow2", "", "64M");
    qio("sn.qcow2", "-c 'write -P 1 0 1M' -c 'write -P 2 32M 64k'");
    harness_sh("cd %s && qemu-img snapshot -c first sn.qcow2 && qemu-img resize -q sn.qcow2 "
               "128M", dir);
    qio("sn.qcow2", "-c 'write -P 3 100M 1M' -c 'write -z 0 512k' -c 'discard 32M 64k'");
    harness_sh("cd %s && qemu-img snapshot -c second sn.qcow2 && qemu-img snapshot -c 7 "
               "sn.qcow2", dir);
    qio("sn.qcow2", "-c 'write -P 4 50M 2M'");
    sparsify("sn.qcow2");
    check_map("sn.qcow2");
    o.snapshot = "first";
    check_snapshot("sn.qcow2", &o, "first");
    o.snapshot = "1";
    check_snapshot("sn.qcow2", &o, "1");
    o.snapshot = "second";
    check_snapshot("sn.qcow2", &o, "second");
    /* "7" is both snapshot 3's name and no snapshot's id: by id, then name. */
    o.snapshot = "7";
    check_snapshot("sn.qcow2", &o, "7");
    o.snapshot = NULL;
    o.snapshot_id = "2";
    check_snapshot("sn.qcow2", &o, "snapshot.id=2");
    o.snapshot_id = NULL;
    o.snapshot_name = "first";
    check_snapshot("sn.qcow2", &o, "snapshot.name=first");
    o.snapshot_id = "2";
    o.snapshot_name = "second";
    check_snapshot("sn.qcow2", &o, "snapshot.id=2,snapshot.name=second");
    /* Not found, including an id and a name of different snapshots. */
    o.snapshot_name = "first";
    check_err_opts("sn.qcow2", &o, "-O qcow2 -l snapshot.id=2,snapshot.name=first");
    o = (struct img_opts){0};
    o.snapshot = "nope";
    check_err_opts("sn.qcow2", &o, "-O qcow2 -l nope");
    /* Small clusters: the first snapshot's L1 table is half the size. */
    create("sn4k.qcow2", "cluster_size=4096", "64M");
    qio("sn4k.qcow2", "-c 'write -P 1 0 1M' -c 'write -P 2 60M 3M'");
    harness_sh("cd %s && qemu-img snapshot -c a sn4k.qcow2 && qemu-img resize -q sn4k.qcow2 "
               "128M", dir);
    qio("sn4k.qcow2", "-c 'write -P 3 100M 1M' -c 'discard 0 512k'");
    sparsify("sn4k.qcow2");
    ck_assert_uint_eq(peek("sn4k.qcow2", H_L1_SIZE, 4), 64);
    o = (struct img_opts){0};
    o.snapshot = "a";
    check_snapshot("sn4k.qcow2", &o, "a");
    check_map("sn4k.qcow2");
    /* v2 internal snapshots. */
    create("snv2.qcow2", "compat=0.10", "64M");
    qio("snv2.qcow2", "-c 'write -P 1 0 1M'");
    harness_sh("cd %s && qemu-img snapshot -c s snv2.qcow2", dir);
    qio("snv2.qcow2", "-c 'write -P 1 8M 1M'");
    check_map("snv2.qcow2");
    o.snapshot = "s";
    check_snapshot("snv2.qcow2", &o, "s");
}
END_TEST

START_TEST(encrypted)
{
    struct img_opts o = {0};
    char qpath[600];
    const char *secret = "--object secret,id=sec0,data=abc --image-opts";

    /* qemu-img's PBKDF benchmark fails at random (qemu-img-measure.md 8):
     * harness_sh() retries. */
    harness_sh("cd %s && qemu-img create -q -f qcow2 "
               "--object secret,id=sec0,data=abc -o encrypt.format=luks,"
               "encrypt.key-secret=sec0,encrypt.iter-time=10 luks.qcow2 64M", dir);
    harness_sh("cd %s && qemu-io --object secret,id=sec0,data=abc --image-opts "
               "-c 'write -P 1 0 1M' -c 'write -P 2 10M 4k' -c 'write -z 20M 1M' "
               "driver=qcow2,file.filename=luks.qcow2,encrypt.key-secret=sec0 >/dev/null", dir);
    check_err_opts("luks.qcow2", NULL, "-O qcow2");
    o.key_secret = "";
    snprintf(qpath, sizeof(qpath), "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0",
             path_of("luks.qcow2"));
    check_map_full("luks.qcow2", &o, secret, qpath);
    /* Legacy AES. */
    harness_sh("cd %s && qemu-img create -q -f qcow2 --object secret,id=sec0,data=abc "
               "-o encrypt.format=aes,encrypt.key-secret=sec0 aes.qcow2 64M && "
               "qemu-io --object secret,id=sec0,data=abc --image-opts -c 'write -P 1 0 1M' "
               "driver=qcow2,file.filename=aes.qcow2,encrypt.key-secret=sec0 >/dev/null", dir);
    check_err_opts("aes.qcow2", NULL, "-O qcow2");
    snprintf(qpath, sizeof(qpath), "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0",
             path_of("aes.qcow2"));
    check_map_full("aes.qcow2", &o, secret, qpath);
}
END_TEST

START_TEST(backing_file)
{
    struct harness h;

    create("base.qcow2", "", "64M");
    harness_sh("cd %s && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2", dir);
    harness_open(&h, path_of("top.qcow2"), NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert(h.img.has_backing);
    ck_assert_uint_eq(h.img.virtual_size, 64u << 20);
    harness_close(&h);
    /* An empty name is no backing file. */
    copy("top.qcow2", "top0.qcow2");
    poke("top0.qcow2", H_BACKING_SIZE, 4, 0);
    harness_open(&h, path_of("top0.qcow2"), NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert(!h.img.has_backing);
    harness_close(&h);
    check_map("top0.qcow2");
    /* A name past the first cluster. */
    copy("top.qcow2", "topl.qcow2");
    poke("topl.qcow2", H_BACKING_SIZE, 4, 1024);
    check_err("topl.qcow2");
}
END_TEST

/* ---- malformed images --------------------------------------------------------- */

/* A fresh copy of the 64 MiB image with a little data. */
static void base_copy(const char *name)
{
    copy("m.qcow2", name);
}

START_TEST(malformed_header)
{
    static const struct {
        uint64_t off;
        int width;
        uint64_t value;
    } pokes[] = {
        {H_VERSION, 4, 4},              {H_VERSION, 4, 1},
        {H_CLUSTER_BITS, 4, 8},         {H_CLUSTER_BITS, 4, 22},
        {H_CLUSTER_BITS, 4, 31},        {H_HEADER_LEN, 4, 0xFFFFFFFF},
        {H_HEADER_LEN, 4, 100},         {H_HEADER_LEN, 4, 108},
        {H_BACKING_OFF, 8, 0x20000},    {H_REFCOUNT_ORDER, 4, 7},
        {H_REFCOUNT_ORDER, 4, 255},     {H_RT_CLUSTERS, 4, 0},
        {H_RT_CLUSTERS, 4, 0xFFFFFFFF}, {H_RT_CLUSTERS, 4, 0x20001},
        {H_RT_OFF, 8, 0x30001},         {H_NB_SN, 4, 0xFFFFFFFF},
        {H_NB_SN, 4, 65537},            {H_SN_OFF, 8, 0x1001},
        {H_L1_SIZE, 4, 0xFFFFFFFF},     {H_L1_SIZE, 4, 0x7FFFFFFF},
        {H_L1_SIZE, 4, 0},              {H_L1_OFF, 8, 0x1000},
        {H_L1_OFF, 8, 0x7FFFFFFFFFFF0000}, {H_SIZE, 8, 0x7FFFFFFFFFFFFE00},
        {H_SIZE, 8, 0xFFFFFFFFFFFFFFFF}, {H_SIZE, 8, 0x8000000000000000},
        {H_INCOMPAT, 8, 1ull << 40},    {H_INCOMPAT, 8, 8},
        {H_INCOMPAT, 8, 0x10},          {H_AUTOCLEAR, 8, 2},
        {H_CRYPT, 4, 3},                {H_CRYPT, 4, 0xFFFFFFFF},
        {H_CRYPT, 4, 1},                {H_CRYPT, 4, 2},
        {0x74, 4, 0x7FFFFFFF},          {0x70, 4, 0xE2792ACA},
        {0x70, 4, 0x0537BE77},          {104, 1, 2},
    };
    char name[64];

    for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
        snprintf(name, sizeof(name), "mh%zu.qcow2", i);
        base_copy(name);
        poke(name, pokes[i].off, pokes[i].width, pokes[i].value);
        if (pokes[i].off == H_INCOMPAT && pokes[i].value == 0x10)
            poke(name, H_CLUSTER_BITS, 4, 13); /* extended L2 with 8 KiB clusters */
        if (pokes[i].off == 104)
            poke(name, H_INCOMPAT, 8, 8);      /* compression type 2 */
        if (pokes[i].off == 0x70 && pokes[i].value == 0xE2792ACA)
            poke(name, 0x74, 4, 16);           /* backing format of 16 bytes */
        check_err(name);
    }
    /* Unknown incompatible bits named by the feature table, in its order. */
    base_copy("feat.qcow2");
    poke("feat.qcow2", 0x79, 1, 40);
    poke("feat.qcow2", 0xA9, 1, 104);
    poke("feat.qcow2", H_INCOMPAT, 8, 0x38000000000ull);
    check_err("feat.qcow2");
    /* Bitmaps extension problems. */
    base_copy("bmext.qcow2");
    poke("bmext.qcow2", 0x70, 4, 0x23852875);
    poke("bmext.qcow2", 0x74, 4, 8);
    check_err("bmext.qcow2");
    base_copy("bmext2.qcow2");
    poke("bmext2.qcow2", 0x70, 4, 0x23852875);
    poke("bmext2.qcow2", 0x74, 4, 24);
    poke("bmext2.qcow2", H_AUTOCLEAR, 8, 1);
    check_err("bmext2.qcow2"); /* the feature table's bytes: reserved field */
    poke("bmext2.qcow2", 0x78, 8, 0);
    check_err("bmext2.qcow2"); /* zero bitmaps */
    poke("bmext2.qcow2", 0x78, 4, 1);
    poke("bmext2.qcow2", 0x80 + 8, 8, 0x200);
    check_err("bmext2.qcow2"); /* misaligned directory */
    /* The external data file bit without a file name: qemu's error. */
    base_copy("df.qcow2");
    poke("df.qcow2", H_INCOMPAT, 8, 4);
    check_err("df.qcow2");
    /* With one: the driver opens and records the name for the host to
     * judge (qemu opens the file). */
    {
        struct harness h;
        const char *df = path_of("dfn.qcow2");
        char want[4096];

        harness_sh("qemu-img create -q -f qcow2 -o data_file=%s.data %s 1M", df, df);
        snprintf(want, sizeof(want), "%s.data", df);
        harness_open(&h, df, NULL, NULL);
        ck_assert_int_eq(h.err, IMG_OK);
        ck_assert_ptr_nonnull(h.img.data_file);
        ck_assert_str_eq(h.img.data_file, want);
        harness_close(&h);
    }
}
END_TEST

START_TEST(malformed_tables)
{
    uint64_t l1 = peek("m.qcow2", H_L1_OFF, 8);
    uint64_t l2 = peek("m.qcow2", l1, 8) & 0x00FFFFFFFFFFFE00ull;

    /* Misaligned L2 table, misaligned data clusters: qemu's corruption
     * report at the first one the walk reaches. */
    base_copy("l2mis.qcow2");
    poke("l2mis.qcow2", l1, 8, (1ull << 63) | (l2 + 0x200));
    check_err("l2mis.qcow2");
    base_copy("dmis.qcow2");
    poke("dmis.qcow2", l2 + 8, 8, (1ull << 63) | 0x50200);
    check_err("dmis.qcow2");
    base_copy("zmis.qcow2");
    poke("zmis.qcow2", l2 + 24, 8, 0x50201);
    check_err("zmis.qcow2");
    /* A zero cluster in a version 2 image. */
    create("v2z.qcow2", "compat=0.10", "64M");
    qio("v2z.qcow2", "-c 'write -P 1 0 1M'");
    {
        uint64_t l1b = peek("v2z.qcow2", H_L1_OFF, 8);
        uint64_t l2b = peek("v2z.qcow2", l1b, 8) & 0x00FFFFFFFFFFFE00ull;

        poke("v2z.qcow2", l2b + 16, 8, 1);
    }
    check_err("v2z.qcow2");
    /* Extended L2: a subcluster both allocated and zero. */
    create("xbad.qcow2", "extended_l2=on", "64M");
    qio("xbad.qcow2", "-c 'write -P 1 0 1M'");
    {
        uint64_t l1b = peek("xbad.qcow2", H_L1_OFF, 8);
        uint64_t l2b = peek("xbad.qcow2", l1b, 8) & 0x00FFFFFFFFFFFE00ull;

        poke("xbad.qcow2", l2b + 16 * 3 + 8, 8, 0x00000001FFFFFFFFull);
    }
    check_err("xbad.qcow2");
    /* Deliberate differences: tables past the end of the file, aliasing. */
    base_copy("l2eof.qcow2");
    poke("l2eof.qcow2", l1, 8, (1ull << 63) | 0xFFFF0000ull);
    check_refused("l2eof.qcow2", "beyond the end of the file");
    base_copy("l1eof.qcow2");
    poke("l1eof.qcow2", H_L1_OFF, 8, 0x10000000);
    check_refused("l1eof.qcow2", "beyond the end of the file");
    base_copy("rteof.qcow2");
    poke("rteof.qcow2", H_RT_OFF, 8, 0x10000000);
    check_refused("rteof.qcow2", "beyond the end of the file");
    create("alias.qcow2", "", "4G");
    qio("alias.qcow2", "-c 'write -P 1 0 64k'");
    {
        uint64_t l1b = peek("alias.qcow2", H_L1_OFF, 8);
        uint64_t e = peek("alias.qcow2", l1b, 8);

        for (int i = 1; i < 8; i++)
            poke("alias.qcow2", l1b + 8 * (uint64_t)i, 8, e);
    }
    check_refused("alias.qcow2", "more than once");
    /* Data clusters past the end of the file are data for qemu (zeros when
     * the preallocation heuristic fires). */
    base_copy("deof.qcow2");
    poke("deof.qcow2", l2 + 8 * 20, 8, (1ull << 63) | 0x7FFF0000ull);
    check_map("deof.qcow2");
    create("deof2.qcow2", "preallocation=metadata", "8M");
    qio("deof2.qcow2", "-c 'write -P 1 0 64k'");
    {
        uint64_t l1b = peek("deof2.qcow2", H_L1_OFF, 8);
        uint64_t l2b = peek("deof2.qcow2", l1b, 8) & 0x00FFFFFFFFFFFE00ull;

        poke("deof2.qcow2", l2b + 8 * 3, 8, (1ull << 63) | 0x7FFF0000ull);
    }
    sparsify("deof2.qcow2");
    check_map("deof2.qcow2");
    base_copy("l2far.qcow2");
    poke("l2far.qcow2", l1, 8, 0x00FFFFFFFFFF0000ull);
    check_refused("l2far.qcow2", "beyond the end of the file");
    /* Tables so far out that qemu's block layer fails the read. */
    base_copy("rtfar.qcow2");
    poke("rtfar.qcow2", H_RT_OFF, 8, 0x7FFFFFFFF0000000ull);
    check_err("rtfar.qcow2");
    /* A truncated image. */
    base_copy("trunc.qcow2");
    harness_sh("cd %s && truncate -s 200000 trunc.qcow2", dir);
    check_refused("trunc.qcow2", "beyond the end of the file");
    base_copy("trunc2.qcow2");
    harness_sh("cd %s && truncate -s 100 trunc2.qcow2", dir);
    check_err("trunc2.qcow2");
    /* 8 bytes of magic and version are probed as qcow2, as qemu does. */
    {
        struct harness h;
        char want[1024];

        harness_sh("cd %s && head -c 8 m.qcow2 > tiny.qcow2", dir);
        harness_qemu_error(path_of("tiny.qcow2"), "-O qcow2", want, sizeof(want));
        harness_open(&h, path_of("tiny.qcow2"), NULL, NULL);
        ck_assert_str_eq(h.img.drv->name, "qcow2");
        ck_assert_str_eq(h.img.err, want);
        harness_close(&h);
    }
}
END_TEST

START_TEST(malformed_snapshots_and_bitmaps)
{
    struct img_opts o = {0};
    uint64_t sn;

    base_copy("msn.qcow2");
    harness_sh("cd %s && qemu-img snapshot -c s1 msn.qcow2 && qemu-img snapshot -c s2 "
               "msn.qcow2", dir);
    sn = peek("msn.qcow2", H_SN_OFF, 8);
    /* Extra data over 1 KiB. */
    copy("msn.qcow2", "msn1.qcow2");
    poke("msn1.qcow2", sn + 36, 4, 1025);
    check_err("msn1.qcow2");
    /* A snapshot L1 table that is too large, or misaligned: "-l 1" then
     * falls back to the names. */
    copy("msn.qcow2", "msn2.qcow2");
    poke("msn2.qcow2", sn + 8, 4, 0xFFFFFFFF);
    o.snapshot = "1";
    check_err_opts("msn2.qcow2", &o, "-f qcow2 -O qcow2 -l 1");
    copy("msn.qcow2", "msn3.qcow2");
    poke("msn3.qcow2", sn, 8, 0x10200);
    check_err_opts("msn3.qcow2", &o, "-f qcow2 -O qcow2 -l 1");
    o.snapshot = "s2";
    check_snapshot("msn3.qcow2", &o, "s2");
    o.snapshot = NULL;
    o.snapshot_id = "1";
    check_err_opts("msn3.qcow2", &o, "-f qcow2 -O qcow2 -l snapshot.id=1");
    o.snapshot_id = NULL;
    /* A table over 64 MiB: 600 entries with 65535-byte ids and names
     * (sparse: only the 40-byte headers are written). */
    copy("msn.qcow2", "msn7.qcow2");
    harness_sh("cd %s && truncate -s 128M msn7.qcow2", dir);
    poke("msn7.qcow2", H_NB_SN, 4, 600);
    poke("msn7.qcow2", H_SN_OFF, 8, 32u << 20);
    for (uint64_t i = 0; i < 600; i++) {
        poke("msn7.qcow2", (32u << 20) + i * 131112 + 12, 2, 0xFFFF);
        poke("msn7.qcow2", (32u << 20) + i * 131112 + 14, 2, 0xFFFF);
    }
    check_err("msn7.qcow2");
    /* The table past the end of the file (qemu reads zeros). */
    copy("msn.qcow2", "msn4.qcow2");
    poke("msn4.qcow2", H_SN_OFF, 8, 0x40000000);
    check_refused("msn4.qcow2", "beyond the end of the file");
    copy("msn.qcow2", "msn5.qcow2");
    poke("msn5.qcow2", H_SN_OFF, 8, 0x7FFFFFFFF0000000ull);
    check_err("msn5.qcow2");
    /* A snapshot L1 table past the end of the file (qemu: all zeros). */
    copy("msn.qcow2", "msn6.qcow2");
    poke("msn6.qcow2", sn, 8, 0x40000000);
    o.snapshot = "s1";
    {
        struct harness h;
        char want[1024];

        harness_qemu_error(path_of("msn6.qcow2"), "-f qcow2 -O qcow2 -l s1", want, sizeof(want));
        ck_assert_str_eq(want, "");
        harness_open(&h, path_of("msn6.qcow2"), "qcow2", &o);
        ck_assert_int_eq(h.err, IMG_ERR_PLAIN);
        ck_assert_msg(strstr(h.img.err, "beyond the end of the file") != NULL, "%s", h.img.err);
        harness_close(&h);
    }
    o.snapshot = NULL;

    /* Bitmap directory entries. */
    create("mbm.qcow2", "", "1G");
    harness_sh("cd %s && qemu-img bitmap --add mbm.qcow2 a && "
               "qemu-img bitmap --add -g 512 mbm.qcow2 b && "
               "qemu-img bitmap --add --disable mbm.qcow2 c && "
               "qemu-img bitmap --add -g 1M mbm.qcow2 d", dir);
    {
        /* Find the bitmaps extension (magic 0x23852875) in the header. */
        uint64_t ext = 0;
        uint64_t dir_off;

        for (uint64_t p = 112; p < 4096; p += 8) {
            if (peek("mbm.qcow2", p, 4) == 0x23852875) {
                ext = p;
                break;
            }
        }
        ck_assert_uint_ne(ext, 0);
        dir_off = peek("mbm.qcow2", ext + 8 + 16, 8);
        copy("mbm.qcow2", "mbm1.qcow2");
        poke("mbm1.qcow2", dir_off + 17, 1, 8); /* granularity 256 bytes */
        check_err("mbm1.qcow2");
        copy("mbm.qcow2", "mbm2.qcow2");
        poke("mbm2.qcow2", ext + 8, 4, 3);      /* more entries than bitmaps */
        check_err("mbm2.qcow2");
        copy("mbm.qcow2", "mbm3.qcow2");
        poke("mbm3.qcow2", dir_off + 20, 4, 8); /* extra data */
        check_err("mbm3.qcow2");
        copy("mbm.qcow2", "mbm4.qcow2");
        poke("mbm4.qcow2", dir_off + 8, 4, 2);  /* table size */
        check_err("mbm4.qcow2");
        copy("mbm.qcow2", "mbm5.qcow2");
        poke("mbm5.qcow2", ext + 8, 4, 9);      /* fewer entries than bitmaps */
        check_err("mbm5.qcow2");
        /* Entries of 32 bytes ("a", "b", ...): the second renamed "a". */
        copy("mbm.qcow2", "mbm6.qcow2");
        poke("mbm6.qcow2", dir_off + 32 + 24, 1, 'a');
        check_err("mbm6.qcow2");
        /* ... and in use: skipped, as qemu skips a bitmap it already has. */
        poke("mbm6.qcow2", dir_off + 32 + 12, 4, 3);
        ck_assert_uint_eq(check_bitmaps("mbm6.qcow2"), 3);
        /* A name cut by a NUL counts as the shorter name. */
        copy("mbm.qcow2", "mbm7.qcow2");
        poke("mbm7.qcow2", dir_off + 32 + 24, 1, 0);
        ck_assert_uint_eq(check_bitmaps("mbm7.qcow2"), 4);
        /* qemu's directory limit is 1 KiB per bitmap, not 64 MiB. */
        copy("mbm.qcow2", "mbm9.qcow2");
        poke("mbm9.qcow2", ext + 8 + 8, 8, 67107841);
        check_err("mbm9.qcow2");
        /* A bitmap table entry with reserved bits. */
        copy("mbm.qcow2", "mbm8.qcow2");
        poke("mbm8.qcow2", peek("mbm8.qcow2", dir_off, 8), 8, 0x2);
        check_err("mbm8.qcow2");
    }
}
END_TEST

static void setup(void)
{
    ck_assert(mkdtemp(dir) != NULL);
    create("m.qcow2", "", "64M");
    qio("m.qcow2", "-c 'write -P 1 0 1M' -c 'write -P 2 10M 64k'");
    /* Raw data for compressed images: random, zeros, a few bytes. */
    harness_sh("cd %s && head -c 3M /dev/urandom > rnd.raw && truncate -s 16M rnd.raw && "
               "dd if=/dev/zero of=rnd.raw bs=64k seek=100 count=3 conv=notrunc status=none && "
               "printf abc | dd of=rnd.raw bs=1 seek=9000000 conv=notrunc status=none", dir);
}

static void teardown(void)
{
    harness_sh("rm -rf %s", dir);
}

static Suite *suite(void)
{
    Suite *s = suite_create("img_qcow2");
    TCase *tc = tcase_create("qcow2");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, versions_zero_and_discard);
    tcase_add_test(tc, cluster_sizes_and_refcount_widths);
    tcase_add_test(tc, extended_l2);
    tcase_add_test(tc, preallocation);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, small_image_reads);
    tcase_add_test(tc, bitmaps);
    tcase_add_test(tc, snapshots);
    tcase_add_test(tc, encrypted);
    tcase_add_test(tc, backing_file);
    tcase_add_test(tc, malformed_header);
    tcase_add_test(tc, malformed_tables);
    tcase_add_test(tc, malformed_snapshots_and_bitmaps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
