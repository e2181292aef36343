/* test_img_qcow.c: the qcow (v1) driver against qemu-img 7.2 (map, info and
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

static char dir[] = "/tmp/instar-qcow-XXXXXX";
static const struct img_opts with_key = {.key_secret = ""};

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* Overwrite `len` bytes of `name` at `off` with `bytes`. */
static void poke(const char *name, long off, const void *buf, size_t len)
{
    harness_poke(dir, name, (uint64_t)off, buf, len);
}

static void poke_be32(const char *name, long off, uint32_t v)
{
    uint8_t b[4] = {v >> 24, v >> 16, v >> 8, v};

    poke(name, off, b, sizeof(b));
}

static void poke_be64(const char *name, long off, uint64_t v)
{
    poke_be32(name, off, (uint32_t)(v >> 32));
    poke_be32(name, off + 4, (uint32_t)v);
}

static void poke_u8(const char *name, long off, uint8_t v)
{
    poke(name, off, &v, 1);
}

/* A copy of `src` called `dst`, to be poked. */
static void copy(const char *src, const char *dst)
{
    harness_copy(dir, src, dst);
}

/* qemu-img reads tables of `name` past EOF as zeros; the driver refuses. */
static void check_past_eof(const char *name)
{
    char path[256];

    path_of(path, sizeof(path), name);
    ck_assert_msg(harness_refuses_past_eof(path, "qcow", "-f qcow"), "%s", name);
}

/* The driver (by probe, or `format`) maps `name` as `qemu-img map <args>`. */
static void check_map(const char *name, const char *format, const char *args,
                      const struct img_opts *opts)
{
    char path[256];
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, format, opts);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "qcow");
    ck_assert_msg(!h.img.has_backing, "%s: unexpected backing file", name);
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, args, &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

/* The driver's error for `name` (at open, else during the walk). */
static enum img_err our_error(const char *name, const struct img_opts *opts, char *buf,
                              size_t size)
{
    char path[256];
    struct harness h;
    struct harness_map map;
    enum img_err err;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, "qcow", opts);
    err = h.err;
    if (err == IMG_OK)
        err = harness_walk(&h, &map);
    snprintf(buf, size, "%s", err == IMG_OK ? "" : h.img.err);
    harness_close(&h);
    return err;
}

/* `qemu-img measure -O qcow2 -f qcow` and the driver fail alike. */
static void check_error(const char *name)
{
    char path[256];
    char want[512];
    char got[IMG_ERR_LEN];

    path_of(path, sizeof(path), name);
    harness_qemu_error(path, "-O qcow2 -f qcow", want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    ck_assert_msg(our_error(name, NULL, got, sizeof(got)) != IMG_OK, "%s: accepted", name);
    ck_assert_str_eq(got, want);
}

/* A documented difference: qemu-img says "Could not open '<path>': <theirs>"
 * (the file name twice, with measure's own prefix), instar `ours`. */
static void check_difference(const char *name, const char *theirs, const char *ours)
{
    char path[256];
    char want[512];
    char got[IMG_ERR_LEN];
    char expect[512];

    path_of(path, sizeof(path), name);
    harness_qemu_error(path, "-O qcow2 -f qcow", want, sizeof(want));
    snprintf(expect, sizeof(expect), "Could not open '%s': %s", path, theirs);
    ck_assert_str_eq(want, expect);
    ck_assert_msg(our_error(name, NULL, got, sizeof(got)) != IMG_OK, "%s: accepted", name);
    ck_assert_msg(strstr(got, ours) != NULL, "%s: '%s'", name, got);
}

START_TEST(qcow_probe_matches_qemu)
{
    uint8_t buf[48] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 1};

    /* QEMU zero-pads its probe buffer: 8 bytes are enough. */
    ck_assert_int_eq(img_driver_qcow.probe(buf, 8), 100);
    ck_assert_int_eq(img_driver_qcow.probe(buf, 7), 0);
    ck_assert_int_eq(img_driver_qcow.probe(buf, sizeof(buf)), 100);
    buf[7] = 2;
    ck_assert_int_eq(img_driver_qcow.probe(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(qcow_maps_match_qemu)
{
    char path[256];
    char args[512];

    ck_assert(mkdtemp(dir) != NULL);
    /* Scattered writes, zero writes (allocated in qcow), an unaligned tail. */
    harness_sh("cd %s && qemu-img create -q -f qcow a.qcow 64M && qemu-io -f qcow "
               "-c 'write -P 1 0 4k' -c 'write -P 2 1M 64k' -c 'write -z 10M 64k' "
               "-c 'write -P 3 33550336 8k' -c 'write -P 4 67104768 4k' a.qcow >/dev/null",
               dir);
    harness_sh("cd %s && qemu-img create -q -f qcow odd.qcow 1000001 && qemu-io -f qcow "
               "-c 'write -P 5 995328 4096' odd.qcow >/dev/null", dir);
    /* A large sparse disk whose L1 table (256 Ki entries, 2 MiB) takes two
     * windows: the empty image gets 64 KiB clusters and 512-byte L2 tables
     * (so that qemu-img map walks it in seconds) before anything is written. */
    harness_sh("cd %s && qemu-img create -q -f qcow big.qcow 1T && printf '\\020\\006' | "
               "dd of=big.qcow bs=1 seek=32 conv=notrunc status=none && qemu-io -f qcow "
               "-c 'write -P 6 0 4k' -c 'write -P 7 600G 64k' -c 'write -P 8 1099511623680 4k' "
               "big.qcow >/dev/null", dir);
    /* Compressed clusters (qemu-img convert -c fails for qcow; qemu-io
     * writes them), next to normal ones. */
    harness_sh("cd %s && qemu-img create -q -f qcow comp.qcow 8M && qemu-io -f qcow "
               "-c 'write -c -P 1 0 4k' -c 'write -c -P 2 8k 4k' -c 'write -P 3 12k 4k' "
               "-c 'write -c -P 4 1M 4k' -c 'write -c -P 5 8384512 4k' comp.qcow >/dev/null",
               dir);
    /* 512-byte clusters and 32 KiB L2 tables, as qemu makes with a backing
     * file; the backing pointer is then dropped. */
    harness_sh("cd %s && truncate -s 8M base && qemu-img create -q -f qcow -b base -F raw "
               "small.qcow 8M && qemu-io -f qcow -c 'write -P 9 512 512' -c 'write -P 9 3M 1536' "
               "small.qcow >/dev/null", dir);
    poke_be64("small.qcow", 8, 0);
    /* AES encryption: needs the key secret; block status needs no key. */
    harness_sh("cd %s && qemu-img create -q -f qcow --object secret,id=s,data=x -o "
               "encrypt.format=aes,encrypt.key-secret=s aes.qcow 16M && qemu-io --object "
               "secret,id=s,data=x --image-opts driver=qcow,encrypt.key-secret=s,"
               "file.filename=aes.qcow -c 'write -P 1 4k 4k' -c 'write -P 1 9M 8k' >/dev/null",
               dir);
    harness_sh("cd %s && for f in *.qcow; do cp --sparse=always $f t && mv t $f; done", dir);
    check_map("a.qcow", NULL, "-f qcow", NULL);
    check_map("odd.qcow", NULL, "-f qcow", NULL);
    check_map("big.qcow", NULL, "-f qcow", NULL);
    check_map("comp.qcow", "qcow", "-f qcow", NULL);
    check_map("small.qcow", NULL, "-f qcow", NULL);
    /* --image-opts takes the file name inside the option string: the
     * harness's own trailing file name argument is commented out. */
    path_of(path, sizeof(path), "aes.qcow");
    snprintf(args, sizeof(args), "--object secret,id=s,data=x --image-opts "
             "driver=qcow,encrypt.key-secret=s,file.filename=%s #", path);
    check_map("aes.qcow", NULL, args, &with_key);
    /* Tables qemu reads past EOF as zeros are refused (T29): a truncated
     * image, an L1 beyond EOF, and a header cut short (the rest reads as
     * zeros: the L1 table at offset 0 runs past the 44 bytes). */
    copy("a.qcow", "trunc.qcow");
    harness_sh("cd %s && truncate -s 40000 trunc.qcow", dir);
    check_past_eof("trunc.qcow");
    copy("a.qcow", "l1eof.qcow");
    poke_be64("l1eof.qcow", 40, 1ull << 40);
    check_past_eof("l1eof.qcow");
    harness_sh("cd %s && head -c 44 a.qcow > short.qcow", dir);
    check_past_eof("short.qcow");
    /* A backing name of zeros is no backing file. */
    copy("a.qcow", "nulname.qcow");
    poke_be64("nulname.qcow", 8, 100);
    poke_be32("nulname.qcow", 16, 1023);
    check_map("nulname.qcow", "qcow", "-f qcow", NULL);
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(qcow_rejects_like_qemu)
{
    char got[IMG_ERR_LEN];
    struct harness h;
    char path[256];
    static const char *bad[] = {
        "version.qcow", "magic.qcow", "size1.qcow", "cbits.qcow", "l2bits.qcow",
        "crypt2.qcow", "aes.qcow", "huge.qcow", "l1max.qcow", "backlen.qcow",
        "l2eio.qcow", "backeio.qcow",
    };

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && qemu-img create -q -f qcow a.qcow 64M && qemu-io -f qcow "
               "-c 'write -P 1 0 4k' -c 'write -P 2 5M 4k' a.qcow >/dev/null", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        copy("a.qcow", bad[i]);
    poke_be32("version.qcow", 4, 2);
    poke_be32("magic.qcow", 0, 0x514649fa);
    poke_be64("size1.qcow", 24, 1);
    poke_u8("cbits.qcow", 32, 8);
    poke_u8("l2bits.qcow", 33, 14);
    poke_be32("crypt2.qcow", 36, 2);
    poke_be32("aes.qcow", 36, 1);
    poke_be64("huge.qcow", 24, 0xffffffffffffff00ull);
    poke_be64("l1max.qcow", 24, (0x0FFFFFC0ull << 21) + 1);
    poke_be64("backlen.qcow", 8, 48);
    poke_be32("backlen.qcow", 16, 1024);
    poke_be64("l2eio.qcow", 48 + 16, 0x7fffffffffff0000ull); /* the L2 table of 4 MiB..6 MiB */
    poke_be64("backeio.qcow", 8, 0x7fffffffffffff00ull);
    poke_be32("backeio.qcow", 16, 512);
    check_error("version.qcow");
    check_error("magic.qcow");
    check_error("size1.qcow");
    check_error("cbits.qcow");
    check_error("l2bits.qcow");
    check_error("crypt2.qcow");
    check_error("aes.qcow");
    check_error("huge.qcow");
    check_error("backlen.qcow");
    check_error("l2eio.qcow");
    /* With a key secret, an AES image opens. */
    path_of(path, sizeof(path), "aes.qcow");
    harness_open(&h, path, "qcow", &with_key);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    harness_close(&h);
    /* Requests QEMU's block layer refuses: it prints the file name twice. */
    check_difference("l1max.qcow", "Input/output error", "Input/output error");
    check_difference("backeio.qcow", "Input/output error", "Input/output error");
    ck_assert_int_ne(our_error("l1max.qcow", NULL, got, sizeof(got)), IMG_OK);
    ck_assert_str_eq(got, "Input/output error");
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(qcow_backing_and_aliasing)
{
    char path[256];
    char got[IMG_ERR_LEN];
    struct harness h;

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && truncate -s 1M base && qemu-img create -q -f qcow -b base -F raw "
               "b.qcow 1M", dir);
    path_of(path, sizeof(path), "b.qcow");
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert(h.img.has_backing);
    harness_close(&h);
    /* Every L1 entry points at one L2 table (T13): qemu-img walks it again
     * and again; instar refuses once the tables outgrow the file. */
    harness_sh("cd %s && qemu-img create -q -f qcow al.qcow 1G && qemu-io -f qcow "
               "-c 'write -P 1 0 4k' al.qcow >/dev/null && python3 -c \"import struct\n"
               "f = open('al.qcow', 'r+b'); f.seek(48); e = f.read(8)\n"
               "f.seek(48); f.write(e * 512)\"", dir);
    ck_assert_int_ne(our_error("al.qcow", NULL, got, sizeof(got)), IMG_OK);
    ck_assert_msg(strstr(got, "overlapping L2 tables") != NULL, "%s", got);
    harness_sh("rm -rf %s", dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("img_qcow");
    TCase *tc = tcase_create("qcow");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, qcow_probe_matches_qemu);
    tcase_add_test(tc, qcow_maps_match_qemu);
    tcase_add_test(tc, qcow_rejects_like_qemu);
    tcase_add_test(tc, qcow_backing_and_aliasing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
