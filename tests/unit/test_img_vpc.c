/* test_img_vpc.c: the vpc driver against qemu-img map/measure, on VHDs
 * made by qemu-img and qemu-io, with the footer poked (creator, geometry,
 * type) and the checksums recomputed where a later check is the point. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img_harness.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-vpc-XXXXXX";

static void path_of(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
}

static uint64_t file_size(const char *name)
{
    char path[256];
    struct stat st;

    path_of(path, sizeof(path), name);
    ck_assert_int_eq(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void poke(const char *name, uint64_t off, const void *buf, size_t len)
{
    harness_poke(dir, name, (uint64_t)off, buf, len);
}

static void peek(const char *name, uint64_t off, void *buf, size_t n)
{
    harness_peek(dir, name, off, buf, n);
}

/* Big-endian store of `n` bytes. */
static void poke_be(const char *name, uint64_t off, uint64_t v, size_t n)
{
    uint8_t b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    poke(name, off, b, n);
}

/* Recompute the footer checksum at `off` (0 for the copy of a dynamic disk,
 * size - 512 for the footer). */
static void fix_footer(const char *name, uint64_t off)
{
    uint8_t f[512];
    uint32_t sum = 0;

    peek(name, off, f, sizeof(f));
    memset(f + 64, 0, 4);
    for (size_t i = 0; i < sizeof(f); i++)
        sum += f[i];
    poke_be(name, off + 64, ~sum, 4);
}

/* Poke the footer field at `field` of both footers of a dynamic disk (or
 * the only one of a fixed disk) and fix the checksums. */
static void poke_footer(const char *name, bool dynamic, uint64_t field, const void *v, size_t n)
{
    uint64_t end = file_size(name) - 512;

    if (dynamic) {
        poke(name, field, v, n);
        fix_footer(name, 0);
    }
    poke(name, end + field, v, n);
    fix_footer(name, end);
}

static void copy(const char *from, const char *to)
{
    harness_copy(dir, from, to);
}

/* Open `name` with `fmt` (NULL: probe), compare the walk with qemu-img map
 * given `qargs`; returns the virtual size. */
static uint64_t check_map(const char *name, const char *fmt, const char *qargs)
{
    char path[256];
    struct harness h;
    static struct harness_map ours;
    static struct harness_map qemu;

    path_of(path, sizeof(path), name);
    harness_sh("cd %s && cp --sparse=always %s %s.sp && mv %s.sp %s", dir, name, name, name,
               name);
    harness_open(&h, path, fmt, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "vpc");
    ck_assert_msg(!h.img.has_backing, "%s: unexpected backing file", name);
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, qargs, &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
    return ours.virtual_size;
}

/* qemu-img's message without the image's name (see test_img_vmdk.c). */
static void qemu_error(const char *path, const char *args, char *buf, size_t size)
{
    char prefix[300];

    harness_qemu_error(path, args, buf, size);
    snprintf(prefix, sizeof(prefix), "Could not open '%s': ", path);
    if (strncmp(buf, prefix, strlen(prefix)) == 0)
        memmove(buf, buf + strlen(prefix), strlen(buf + strlen(prefix)) + 1);
}

static void check_err(const char *name, const char *fmt)
{
    char path[256];
    char want[1024];
    char args[64];
    struct harness h;

    path_of(path, sizeof(path), name);
    snprintf(args, sizeof(args), "-O qcow2%s%s", fmt != NULL ? " -f " : "",
             fmt != NULL ? fmt : "");
    qemu_error(path, args, want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    harness_open(&h, path, fmt, NULL);
    ck_assert_msg(h.err != IMG_OK, "%s: instar accepted it (qemu: %s)", name, want);
    ck_assert_msg(strcmp(h.img.err, want) == 0, "%s: instar '%s', qemu '%s'", name, h.img.err,
                  want);
    if (getenv("TEST_VERBOSE") != NULL)
        fprintf(stderr, "%s: %s\n", name, want);
    harness_close(&h);
}

START_TEST(vpc_dynamic_matches_qemu)
{
    /* CHS-rounded (creator "qemu"): 100 MiB becomes 104,865,792 bytes. */
    check_map("dyn.vhd", NULL, "");
    check_map("dyn.vhd", "vpc", "-f vpc");
    /* force_size: creator "qem2" and the maximum geometry: current_size. */
    harness_sh("cd %s && qemu-img create -q -f vpc -o force_size=on forced.vhd 100M && "
               "qemu-io -c 'write -P 1 0 1' -c 'write -P 2 104857000 600' forced.vhd >/dev/null",
               dir);
    check_map("forced.vhd", NULL, "");
    /* Sizes on and around the CHS algorithm's boundaries. */
    harness_sh("cd %s && for s in 512 35328 2097153 532635648 33815224320 33815224832 "
               "136899993600; do qemu-img create -q -f vpc s$s.vhd $s && qemu-io -c "
               "\"write -P 7 $((s / 2)) 512\" s$s.vhd >/dev/null; done", dir);
    check_map("s512.vhd", NULL, "");
    check_map("s35328.vhd", NULL, "");
    check_map("s2097153.vhd", NULL, "");
    check_map("s532635648.vhd", NULL, "");
    check_map("s33815224320.vhd", NULL, "");
    check_map("s33815224832.vhd", NULL, "");
    check_map("s136899993600.vhd", NULL, "");
    /* The largest disk qemu makes: 2040 GiB, 1 Mi BAT entries. */
    harness_sh("cd %s && qemu-img create -q -f vpc -o force_size=on max.vhd 2040G && qemu-io "
               "-c 'write -P 1 1T 3M' -c 'write -P 1 2190433320448 512' max.vhd >/dev/null", dir);
    check_map("max.vhd", NULL, "");
    harness_sh("rm -f %s/max.vhd %s/s1*.vhd %s/s3*.vhd", dir, dir, dir);
    /* qemu does not check the dynamic header's checksum. */
    copy("dyn.vhd", "dynsum.vhd");
    poke_be("dynsum.vhd", 512 + 36, 0, 4);
    check_map("dynsum.vhd", NULL, "");
    /* Truncated inside the last block: the BAT says it ends in the file
     * (qemu counts the block whole). */
    copy("dyn.vhd", "cut.vhd");
    harness_sh("cd %s && truncate -s -100000 cut.vhd", dir);
    check_err("cut.vhd", NULL);
}
END_TEST

START_TEST(vpc_creator_decides_the_size)
{
    static const char *const apps[] = {"win ", "qem2", "d2v ", "CTXS", "tap\0", "tap ",
                                       "vpc ", "qemu", "xxxx"};
    static const uint8_t max_chs[4] = {0xff, 0xff, 0x10, 0xff};

    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "app%zu.vhd", i);
        copy("dyn.vhd", name);
        poke_footer(name, true, 28, apps[i], 4);
        poke_be(name, 48, 50u << 20, 8);            /* current_size: 50 MiB */
        poke_be(name, file_size(name) - 512 + 48, 50u << 20, 8);
        fix_footer(name, 0);
        fix_footer(name, file_size(name) - 512);
        ck_assert_uint_eq(check_map(name, NULL, ""), i < 5 ? 50u << 20 : 104865792u);
        /* The maximum geometry means current_size for every creator. */
        snprintf(name, sizeof(name), "appmax%zu.vhd", i);
        copy("dyn.vhd", name);
        poke_footer(name, true, 28, apps[i], 4);
        poke_footer(name, true, 56, max_chs, 4);
        poke_be(name, 48, 60u << 20, 8);
        fix_footer(name, 0);
        ck_assert_uint_eq(check_map(name, NULL, ""), 60u << 20);
    }
}
END_TEST

START_TEST(vpc_fixed_matches_qemu)
{
    struct harness h;
    char path[256];

    /* Fixed disks open as vpc only with -f vpc; qemu then maps the file. */
    harness_sh("cd %s && qemu-img create -q -f vpc "
               "-o subformat=fixed,force_size=on ffixed.vhd 10000000 && qemu-io -f vpc -c "
               "'write -P 1 9999000 1000' ffixed.vhd >/dev/null && qemu-img create -q -f vpc -o "
               "subformat=fixed small.vhd 512", dir);
    check_map("fixed.vhd", "vpc", "-f vpc");
    check_map("ffixed.vhd", "vpc", "-f vpc");
    check_map("small.vhd", "vpc", "-f vpc");
    /* Probed, a fixed VHD is raw, footer included in the size. */
    path_of(path, sizeof(path), "fixed.vhd");
    harness_open(&h, path, NULL, NULL);
    ck_assert_str_eq(h.img.drv->name, "raw");
    ck_assert_uint_eq(h.img.virtual_size, file_size("fixed.vhd"));
    harness_close(&h);
    /* current_size larger than the file (creator "win "): zeros past it. */
    copy("fixed.vhd", "fbig.vhd");
    poke_footer("fbig.vhd", false, 28, "win ", 4);
    poke_be("fbig.vhd", file_size("fbig.vhd") - 512 + 48, 200u << 20, 8);
    fix_footer("fbig.vhd", file_size("fbig.vhd") - 512);
    check_map("fbig.vhd", "vpc", "-f vpc");
    /* A dynamic disk whose footer copy says "fixed": qemu checks the BAT but
     * maps the file from offset 0. */
    copy("dyn.vhd", "dynfixed.vhd");
    poke_be("dynfixed.vhd", 60, 2, 4);
    fix_footer("dynfixed.vhd", 0);
    check_map("dynfixed.vhd", NULL, "");
}
END_TEST

START_TEST(vpc_differencing_has_backing)
{
    struct harness h;
    char path[256];

    /* qemu opens a differencing disk as a dynamic one, ignoring the parent;
     * instar reports the parent (docs/formats/vpc.md). */
    copy("dyn.vhd", "diff.vhd");
    poke_be("diff.vhd", 60, 4, 4);
    fix_footer("diff.vhd", 0);
    path_of(path, sizeof(path), "diff.vhd");
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert(h.img.has_backing);
    harness_close(&h);
    /* Other unknown types are dynamic for qemu. */
    copy("dyn.vhd", "type99.vhd");
    poke_be("type99.vhd", 60, 99, 4);
    fix_footer("type99.vhd", 0);
    check_map("type99.vhd", NULL, "");
}
END_TEST

START_TEST(vpc_malformed)
{
    uint64_t end;

    copy("dyn.vhd", "m_sum.vhd");
    poke_be("m_sum.vhd", 64, 0, 4);
    check_err("m_sum.vhd", NULL);
    copy("dyn.vhd", "m_sum2.vhd");
    poke_be("m_sum2.vhd", 20, 7, 4);            /* a field changed, sum not fixed */
    check_err("m_sum2.vhd", NULL);
    harness_sh("cd %s && : > m_empty.vhd && printf abc > m_tiny.vhd && head -c 1000 "
               "/dev/zero > m_zero.vhd", dir);
    check_err("m_empty.vhd", "vpc");
    check_err("m_tiny.vhd", "vpc");
    check_err("m_zero.vhd", "vpc");
    copy("fixed.vhd", "m_ftype.vhd");
    end = file_size("m_ftype.vhd") - 512;
    poke_be("m_ftype.vhd", end + 60, 3, 4);
    fix_footer("m_ftype.vhd", end);
    check_err("m_ftype.vhd", "vpc");
    copy("fixed.vhd", "m_fsum.vhd");
    poke_be("m_fsum.vhd", end + 64, 1, 4);
    check_err("m_fsum.vhd", "vpc");
    copy("dyn.vhd", "m_big.vhd");
    poke_footer("m_big.vhd", true, 28, "win ", 4);
    poke_be("m_big.vhd", 48, 0x1fe00000200ull, 8);  /* 2040 GiB + 512 */
    fix_footer("m_big.vhd", 0);
    check_err("m_big.vhd", NULL);
    copy("dyn.vhd", "m_hdreio.vhd");
    poke_be("m_hdreio.vhd", 16, 0x7fffffffffffffffull, 8);
    fix_footer("m_hdreio.vhd", 0);
    check_err("m_hdreio.vhd", NULL);
    copy("dyn.vhd", "m_hdreof.vhd");
    poke_be("m_hdreof.vhd", 16, 1ull << 30, 8);
    fix_footer("m_hdreof.vhd", 0);
    check_err("m_hdreof.vhd", NULL);
    copy("dyn.vhd", "m_magic.vhd");
    poke("m_magic.vhd", 512, "cxsparsf", 8);
    check_err("m_magic.vhd", NULL);
    static const uint32_t block_sizes[] = {0, 128, 0x12345678, 1024, 0x80000000u};
    for (size_t i = 0; i < sizeof(block_sizes) / sizeof(block_sizes[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "m_bs%zu.vhd", i);
        copy("dyn.vhd", name);
        poke_be(name, 512 + 32, block_sizes[i], 4);
        check_err(name, NULL);
    }
    static const uint32_t entries[] = {0xffffffffu, 0x80000000u, 0x7fffffffu, 0x20000000u, 0,
                                       49};
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "m_max%zu.vhd", i);
        copy("dyn.vhd", name);
        poke_be(name, 512 + 28, entries[i], 4);
        check_err(name, NULL);
    }
    copy("dyn.vhd", "m_bateio.vhd");
    poke_be("m_bateio.vhd", 512 + 16, UINT64_MAX, 8);
    check_err("m_bateio.vhd", NULL);
    copy("dyn.vhd", "m_bateof.vhd");
    poke_be("m_bateof.vhd", 512 + 16, 1ull << 30, 8);
    check_err("m_bateof.vhd", NULL);
    copy("dyn.vhd", "m_entry.vhd");
    poke_be("m_entry.vhd", 1536 + 8, 0x100000, 4);   /* block 2 far past the end */
    check_err("m_entry.vhd", NULL);
    copy("dyn.vhd", "m_cut.vhd");
    harness_sh("cd %s && truncate -s 1000 m_cut.vhd", dir);
    check_err("m_cut.vhd", NULL);
}
END_TEST

static void setup(void)
{
    if (mkdtemp(dir) == NULL)
        abort();
    harness_sh("cd %s && qemu-img create -q -f vpc dyn.vhd 100M && qemu-io -c "
               "'write -P 1 0 512' -c 'write -P 2 3000000 2000000' -c 'write -P 3 50M 64k' "
               "-c 'write -P 4 104865280 512' dyn.vhd >/dev/null", dir);
    harness_sh("cd %s && qemu-img create -q -f vpc -o subformat=fixed fixed.vhd 100M && "
               "qemu-io -f vpc -c 'write -P 1 0 4k' -c 'write -P 2 50M 1M' -c "
               "'write -P 3 104861696 4096' fixed.vhd >/dev/null", dir);
}

static void teardown(void)
{
    harness_sh("rm -rf %s", dir);
}

static Suite *suite(void)
{
    Suite *s = suite_create("img_vpc");
    TCase *tc = tcase_create("vpc");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vpc_dynamic_matches_qemu);
    tcase_add_test(tc, vpc_creator_decides_the_size);
    tcase_add_test(tc, vpc_fixed_matches_qemu);
    tcase_add_test(tc, vpc_differencing_has_backing);
    tcase_add_test(tc, vpc_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
