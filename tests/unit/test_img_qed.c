/* test_img_qed.c: the QED driver against qemu-img 7.2 (map, info and
 * measure's error texts) on images made by qemu-img and qemu-io. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_harness.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-qed-XXXXXX";

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void poke_le(const char *name, long off, uint64_t v, size_t len)
{
    harness_poke_le(dir, name, (uint64_t)off, v, len);
}

static void copy(const char *src, const char *dst)
{
    harness_copy(dir, src, dst);
}

/* The driver (by probe, or `format`) maps `name` as `qemu-img map -f qed`. */
static void check_map(const char *name, const char *format)
{
    char path[256];
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, format, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "qed");
    ck_assert_msg(!h.img.has_backing, "%s: unexpected backing file", name);
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, "-f qed", &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

static enum img_err our_error(const char *name, char *buf, size_t size)
{
    char path[256];
    struct harness h;
    struct harness_map map;
    enum img_err err;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, "qed", NULL);
    err = h.err;
    if (err == IMG_OK)
        err = harness_walk(&h, &map);
    snprintf(buf, size, "%s", err == IMG_OK ? "" : h.img.err);
    harness_close(&h);
    return err;
}

/* `qemu-img measure -O qcow2 -f qed` and the driver fail alike. */
static void check_error(const char *name)
{
    char path[256];
    char want[512];
    char got[IMG_ERR_LEN];

    path_of(path, sizeof(path), name);
    harness_qemu_error(path, "-O qcow2 -f qed", want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    ck_assert_msg(our_error(name, got, sizeof(got)) != IMG_OK, "%s: accepted", name);
    ck_assert_str_eq(got, want);
}

START_TEST(qed_probe_matches_qemu)
{
    uint8_t buf[64] = {'Q', 'E', 'D', 0};

    /* QEMU zero-pads its probe buffer: even "QED" without its NUL is QED. */
    ck_assert_int_eq(img_driver_qed.probe(buf, 4), 100);
    ck_assert_int_eq(img_driver_qed.probe(buf, 3), 100);
    ck_assert_int_eq(img_driver_qed.probe(buf, 2), 0);
    ck_assert_int_eq(img_driver_qed.probe(buf, sizeof(buf)), 100);
    buf[3] = 1;
    ck_assert_int_eq(img_driver_qed.probe(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(qed_maps_match_qemu)
{
    char cmds[4096];
    size_t n = 0;

    ck_assert(mkdtemp(dir) != NULL);
    /* Data, zero clusters (write -z), an unaligned tail. */
    harness_sh("cd %s && qemu-img create -q -f qed a.qed 64M && qemu-io -f qed "
               "-c 'write -P 1 0 4k' -c 'write -P 2 1M 64k' -c 'write -z 10M 64k' "
               "-c 'write -z 20M 4k' -c 'write -P 3 20M 4k' -c 'write -P 4 67104768 4k' "
               "-c 'write -z 30M 192k' -c 'write -P 5 31M 1M' a.qed >/dev/null", dir);
    harness_sh("cd %s && qemu-img create -q -f qed odd.qed 1000001 && qemu-io -f qed "
               "-c 'write -P 5 995328 4096' odd.qed >/dev/null", dir);
    /* Other geometries: 4 KiB clusters with 2-cluster tables, 1 MiB clusters
     * with 16-cluster tables (16 MiB of L1, read in windows). */
    harness_sh("cd %s && qemu-img create -q -f qed -o cluster_size=4k,table_size=2 c4k.qed 1G && "
               "qemu-io -f qed -c 'write -P 1 0 4k' -c 'write -P 1 8k 8k' -c 'write -z 1M 4k' "
               "-c 'write -P 2 512M 12k' -c 'write -P 3 1073733632 8k' c4k.qed >/dev/null", dir);
    harness_sh("cd %s && qemu-img create -q -f qed -o cluster_size=1M,table_size=16 c1m.qed 3G && "
               "qemu-io -f qed -c 'write -P 1 0 4k' -c 'write -z 5M 1M' -c 'write -P 2 2G 3M' "
               "c1m.qed >/dev/null", dir);
    /* A 5 PiB disk with 2 MiB tables: the second window of the L1 table,
     * and L2 tables read in two windows.  (qemu-img aborts on a run of 4 GiB
     * or more inside an allocated L2 table, so every 3 GiB holds data.) */
    for (int k = 0; k <= 10; k++)
        n += (size_t)snprintf(cmds + n, sizeof(cmds) - n,
                              " -c 'write -P 1 %llu 64k' -c 'write -P 2 %llu 128k'",
                              (unsigned long long)k * (3ull << 30),
                              (4503599627370496ull + (unsigned long long)k * (3ull << 30)));
    harness_sh("cd %s && qemu-img create -q -f qed -o cluster_size=128k,table_size=16 huge.qed "
               "5P && qemu-io -f qed %s huge.qed >/dev/null", dir, cmds);
    /* Not closed cleanly: need-check is ignored read-only. */
    copy("a.qed", "dirty.qed");
    poke_le("dirty.qed", 16, 2, 8);
    /* A backing file feature with an empty name opens no backing file. */
    copy("a.qed", "nulback.qed");
    poke_le("nulback.qed", 16, 1, 8);
    poke_le("nulback.qed", 56, 100, 4);
    poke_le("nulback.qed", 60, 200, 4);
    /* The largest geometry wraps QEMU's 64-bit size limit to 2^63: 0 bytes. */
    harness_sh("cd %s && qemu-img create -q -f qed -o cluster_size=2M,table_size=8 wrap.qed "
               "1G", dir);
    poke_le("wrap.qed", 48, 1ull << 63, 8);
    /* QEMU's file length is whole sectors: the last cluster of this L1
     * table ends in the partial last sector, and still counts. */
    harness_sh("cd %s && qemu-img create -q -f qed -o cluster_size=4k,table_size=2 part.qed 16M "
               "&& truncate -s 11996 part.qed", dir);
    harness_sh("cd %s && for f in *.qed; do cp --sparse=always $f t && mv t $f; done", dir);
    check_map("a.qed", NULL);
    check_map("part.qed", NULL);
    check_map("odd.qed", NULL);
    check_map("c4k.qed", NULL);
    check_map("c1m.qed", "qed");
    check_map("huge.qed", NULL);
    check_map("dirty.qed", NULL);
    check_map("nulback.qed", NULL);
    check_map("wrap.qed", NULL);
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(qed_rejects_like_qemu)
{
    static const char *bad[] = {
        "magic.qed", "feature.qed", "csize.qed", "csize2.qed", "tsize.qed", "tsize1.qed",
        "isize.qed", "imax.qed", "l1mis.qed", "l1eof.qed", "hsize.qed", "boff.qed",
        "blen.qed", "l2bad.qed", "clbad.qed", "clmis.qed", "efbig.qed", "trunc.qed",
    };

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && qemu-img create -q -f qed a.qed 64M && qemu-io -f qed "
               "-c 'write -P 1 0 4k' -c 'write -P 2 5M 64k' a.qed >/dev/null", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        copy("a.qed", bad[i]);
    /* a.qed: 64 KiB clusters, 4-cluster tables, L1 at 64 KiB, data clusters
     * at 320 KiB and 640 KiB, the L2 table at 384 KiB. */
    poke_le("magic.qed", 0, 0x00444552, 4);
    poke_le("feature.qed", 16, 0x1008, 8);
    poke_le("csize.qed", 4, 2048, 4);
    poke_le("csize2.qed", 4, 65537, 4);
    poke_le("tsize.qed", 8, 3, 4);
    poke_le("tsize1.qed", 8, 1, 4);
    poke_le("isize.qed", 48, 1000, 8);
    poke_le("imax.qed", 48, 1ull << 50, 8);
    poke_le("l1mis.qed", 40, 65536 + 512, 8);
    poke_le("l1eof.qed", 40, 1ull << 30, 8);
    poke_le("hsize.qed", 12, 0x10000, 4);
    poke_le("boff.qed", 16, 1, 8);
    poke_le("boff.qed", 56, 65000, 4);
    poke_le("boff.qed", 60, 1000, 4);
    poke_le("blen.qed", 16, 1, 8);
    poke_le("blen.qed", 12, 2, 4);
    poke_le("blen.qed", 56, 64, 4);
    poke_le("blen.qed", 60, 4096, 4);
    poke_le("l2bad.qed", 65536, 393216 + 512, 8);
    poke_le("clbad.qed", 393216, 1ull << 40, 8);
    poke_le("clmis.qed", 393216 + 80 * 8, 655360 + 4096, 8);
    /* 2 MiB clusters and 8-cluster tables allow sizes up to 2^63, past the
     * block layer's limit. */
    poke_le("efbig.qed", 4, 2u << 20, 4);
    poke_le("efbig.qed", 8, 8, 4);
    poke_le("efbig.qed", 40, 2u << 20, 8);
    poke_le("efbig.qed", 48, 0x7fffffffc0000200ull, 8);
    /* The L2 table of a.qed lies past the end of the cut file. */
    harness_sh("cd %s && truncate -s 20M efbig.qed && truncate -s 400000 trunc.qed", dir);
    check_error("magic.qed");
    check_error("feature.qed");
    check_error("csize.qed");
    check_error("csize2.qed");
    check_error("tsize.qed");
    check_error("tsize1.qed");
    check_error("isize.qed");
    check_error("imax.qed");
    check_error("l1mis.qed");
    check_error("l1eof.qed");
    check_error("hsize.qed");
    check_error("boff.qed");
    check_error("blen.qed");
    check_error("l2bad.qed");
    check_error("clbad.qed");
    check_error("clmis.qed");
    check_error("efbig.qed");
    check_error("trunc.qed");
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(qed_backing_and_aliasing)
{
    char path[256];
    char got[IMG_ERR_LEN];
    struct harness h;

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && truncate -s 1M base && qemu-img create -q -f qed -b base -F raw "
               "b.qed 1M", dir);
    path_of(path, sizeof(path), "b.qed");
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert(h.img.has_backing);
    harness_close(&h);
    /* Every L1 entry points at one L2 table (T13): refused. */
    harness_sh("cd %s && qemu-img create -q -f qed -o cluster_size=4k,table_size=2 al.qed 1G && "
               "qemu-io -f qed -c 'write -P 1 0 4k' al.qed >/dev/null && python3 -c \""
               "f = open('al.qed', 'r+b'); f.seek(4096); e = f.read(8)\n"
               "f.seek(4096); f.write(e * 512)\"", dir);
    ck_assert_int_ne(our_error("al.qed", got, sizeof(got)), IMG_OK);
    ck_assert_msg(strstr(got, "overlapping L2 tables") != NULL, "%s", got);
    harness_sh("rm -rf %s", dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("img_qed");
    TCase *tc = tcase_create("qed");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, qed_probe_matches_qemu);
    tcase_add_test(tc, qed_maps_match_qemu);
    tcase_add_test(tc, qed_rejects_like_qemu);
    tcase_add_test(tc, qed_backing_and_aliasing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
