/* test_img_parallels.c: the Parallels driver against qemu-img 7.2 (map, info
 * and measure's error texts) on images made by qemu-img and qemu-io, and on
 * format extensions written by a script (qemu-img 7.2 only reads them). */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_harness.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-parallels-XXXXXX";

/* ext.py IMAGE FEATURE...: append a format extension cluster and point
 * ext_off at it.  Features: end | bm:SECTORS:GRAN:L1SIZE:DATASIZE:E1,E2..[:UUID]
 * | raw:MAGIC:FLAGS:DATASIZE | badsum | magic:VALUE. */
static const char ext_py[] =
    "import sys, struct, hashlib, uuid\n"
    "f = open(sys.argv[1], 'r+b')\n"
    "cs = struct.unpack_from('<I', f.read(64), 28)[0] * 512\n"
    "f.seek(0, 2)\n"
    "ext = (f.tell() + cs - 1) // cs * cs\n"
    "buf = bytearray(cs)\n"
    "pos, bad, magic = 24, False, 0xAB234CEF23DCEA87\n"
    "for s in sys.argv[2:]:\n"
    "    p = s.split(':')\n"
    "    if p[0] == 'end':\n"
    "        pos += 24\n"
    "    elif p[0] == 'bm':\n"
    "        n, g, l1, ds = (int(x, 0) for x in p[1:5])\n"
    "        ents = [int(x, 0) for x in p[5].split(',')] if p[5] else []\n"
    "        uid = uuid.UUID(p[6]).bytes if len(p) > 6 else uuid.uuid4().bytes\n"
    "        struct.pack_into('<QQII', buf, pos, 0x20385FAE252CB34A, 0, ds, 0)\n"
    "        struct.pack_into('<Q16sII', buf, pos + 24, n, uid, g, l1)\n"
    "        for i, e in enumerate(ents):\n"
    "            struct.pack_into('<Q', buf, pos + 56 + 8 * i, e)\n"
    "        pos += 24 + (ds + 7) // 8 * 8\n"
    "    elif p[0] == 'raw':\n"
    "        struct.pack_into('<QQII', buf, pos, int(p[1], 0), int(p[2], 0), int(p[3], 0), 0)\n"
    "        pos += 24 + (int(p[3], 0) + 7) // 8 * 8\n"
    "    elif p[0] == 'badsum':\n"
    "        bad = True\n"
    "    elif p[0] == 'magic':\n"
    "        magic = int(p[1], 0)\n"
    "struct.pack_into('<Q', buf, 0, magic)\n"
    "buf[8:24] = bytes(16) if bad else hashlib.md5(bytes(buf[24:])).digest()\n"
    "f.seek(ext)\n"
    "f.write(buf)\n"
    "f.seek(56)\n"
    "f.write(struct.pack('<Q', ext // 512))\n";

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

static void setup_dir(void)
{
    char path[256];
    FILE *f;

    ck_assert(mkdtemp(dir) != NULL);
    path_of(path, sizeof(path), "ext.py");
    f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(ext_py, f);
    fclose(f);
}

/* A copy of `src` called `dst` with a format extension of `features`. */
static void with_ext(const char *src, const char *dst, const char *features)
{
    copy(src, dst);
    harness_sh("cd %s && python3 ext.py %s %s", dir, dst, features);
}

/* The driver (by probe, or `format`) maps `name` as `qemu-img map`. */
static void check_map(const char *name, const char *format)
{
    char path[256];
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, format, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "parallels");
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, "-f parallels", &qemu), "%s: qemu-img map failed",
                  name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

/* qemu-img reads the BAT of `name` past EOF as zeros; the driver refuses. */
static void check_past_eof(const char *name)
{
    char path[256];

    path_of(path, sizeof(path), name);
    ck_assert_msg(harness_refuses_past_eof(path, "parallels", "-f parallels"), "%s", name);
}

/* `qemu-img measure -O qcow2 -f parallels` and the driver fail alike. */
static void check_error(const char *name)
{
    char path[256];
    char want[512];
    struct harness h;

    path_of(path, sizeof(path), name);
    harness_qemu_error(path, "-O qcow2 -f parallels", want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    harness_open(&h, path, "parallels", NULL);
    ck_assert_msg(h.err != IMG_OK, "%s: accepted", name);
    ck_assert_str_eq(h.img.err, want);
    harness_close(&h);
}

/* A documented difference: qemu-img fails with `theirs` (a prefix, as
 * assertion texts carry build paths), instar with `ours` (a substring). */
static void check_difference(const char *name, const char *theirs, const char *ours)
{
    char path[256];
    char want[512];
    struct harness h;

    path_of(path, sizeof(path), name);
    harness_qemu_error(path, "-O qcow2 -f parallels", want, sizeof(want));
    ck_assert_msg(strstr(want, theirs) != NULL, "%s: qemu-img says '%s'", name, want);
    harness_open(&h, path, "parallels", NULL);
    ck_assert_msg(h.err != IMG_OK, "%s: accepted", name);
    ck_assert_msg(strstr(h.img.err, ours) != NULL, "%s: '%s'", name, h.img.err);
    harness_close(&h);
}

START_TEST(parallels_probe_matches_qemu)
{
    uint8_t buf[64] = "WithouFreSpacExt\2";

    /* QEMU zero-pads its probe buffer: magic and version byte suffice. */
    ck_assert_int_eq(img_driver_parallels.probe(buf, 17), 100);
    ck_assert_int_eq(img_driver_parallels.probe(buf, 16), 0);
    ck_assert_int_eq(img_driver_parallels.probe(buf, sizeof(buf)), 100);
    memcpy(buf, "WithoutFreeSpace", 16);
    ck_assert_int_eq(img_driver_parallels.probe(buf, sizeof(buf)), 100);
    buf[16] = 3;
    ck_assert_int_eq(img_driver_parallels.probe(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(parallels_maps_match_qemu)
{
    setup_dir();
    harness_sh("cd %s && qemu-img create -q -f parallels a.prl 64M && qemu-io -f parallels "
               "-c 'write -P 1 0 4k' -c 'write -P 2 3M 64k' -c 'write -z 10M 64k' "
               "-c 'write -P 3 11M 2M' -c 'write -P 4 67104768 4k' a.prl >/dev/null", dir);
    /* 3 MiB clusters (6144 sectors: not a power of two), an odd size. */
    harness_sh("cd %s && qemu-img create -q -f parallels -o cluster_size=3M c3.prl 100000256 "
               "&& qemu-io -f parallels -c 'write -P 1 4M 4k' -c 'write -P 2 99999744 512' "
               "c3.prl >/dev/null", dir);
    /* 1023 GiB: a 4 MiB BAT read in four windows.  (qemu-img map and
     * measure abort on disks of 1 TiB and more.) */
    harness_sh("cd %s && qemu-img create -q -f parallels big.prl 1023G && qemu-io -f parallels "
               "-c 'write -P 1 0 4k' -c 'write -P 2 700G 4k' -c 'write -P 3 1098437881856 4k' "
               "big.prl >/dev/null", dir);
    /* The old magic: BAT entries in sectors, a 32-bit size. */
    copy("a.prl", "old.prl");
    harness_sh("cd %s && python3 -c \"import struct\n"
               "f = open('old.prl', 'r+b'); h = f.read(64)\n"
               "t, n = struct.unpack_from('<II', h, 28)\n"
               "bat = struct.unpack_from('<%%dI' %% n, f.read(4 * n))\n"
               "f.seek(0); f.write(b'WithoutFreeSpace')\n"
               "f.seek(40); f.write(struct.pack('<I', 7))\n"
               "f.seek(64); f.write(struct.pack('<%%dI' %% n, *(e * t for e in bat)))\"", dir);
    /* Not closed (the in-use magic), data_off anything: ignored read-only. */
    copy("a.prl", "inuse.prl");
    poke_le("inuse.prl", 44, 0x746F6E59, 4);
    poke_le("inuse.prl", 48, 0xffffffff, 4);
    /* A BAT cut by EOF (refused, T29), a BAT shorter than the disk. */
    copy("a.prl", "cut.prl");
    harness_sh("cd %s && truncate -s 100 cut.prl", dir);
    copy("a.prl", "short.prl");
    poke_le("short.prl", 32, 5, 4);
    /* Format extensions: empty, and dirty bitmaps (all clear, all set, and
     * one data cluster) that QEMU loads and measure ignores. */
    with_ext("a.prl", "ext.prl", "end");
    with_ext("a.prl", "extbm.prl", "bm:131072:128:1:40:0 bm:131072:8:1:40:1 "
             "bm:131072:1:1:40:0x800 end");
    harness_sh("cd %s && for f in *.prl; do cp --sparse=always $f t && mv t $f; done", dir);
    check_map("a.prl", NULL);
    check_map("c3.prl", NULL);
    check_map("big.prl", NULL);
    check_map("old.prl", NULL);
    check_map("inuse.prl", "parallels");
    check_past_eof("cut.prl");
    check_map("short.prl", NULL);
    check_map("ext.prl", NULL);
    check_map("extbm.prl", NULL);
    harness_sh("rm -rf %s", dir);
}
END_TEST

/* qemu-img aborts on disks of 1 TiB and more (see parallels.md); instar
 * maps them: the clusters written, 1 MiB each. */
START_TEST(parallels_maps_what_qemu_cannot)
{
    char path[256];
    struct harness h;
    struct harness_map ours;

    setup_dir();
    harness_sh("cd %s && qemu-img create -q -f parallels huge.prl 4T && qemu-io -f parallels "
               "-c 'write -P 1 0 4k' -c 'write -P 2 3T 4k' -c 'write -P 3 4398045462528 4k' "
               "huge.prl >/dev/null && cp --sparse=always huge.prl t && mv t huge.prl", dir);
    path_of(path, sizeof(path), "huge.prl");
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert_int_eq(harness_walk(&h, &ours), IMG_OK);
    ck_assert_uint_eq(ours.virtual_size, 4ull << 40);
    ck_assert_uint_eq(ours.n, 3);
    ck_assert_uint_eq(ours.data[0].start, 0);
    ck_assert_uint_eq(ours.data[1].start, 3ull << 40);
    ck_assert_uint_eq(ours.data[2].start, (4ull << 40) - (1 << 20));
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(ours.data[i].length, 1 << 20);
    harness_close(&h);
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(parallels_rejects_like_qemu)
{
    char path[256];
    struct harness h;
    static const char *bad[] = {
        "version.prl", "magic.prl", "tracks0.prl", "tracksbig.prl", "bat.prl", "bateio.prl",
        "efbig.prl", "efbig2.prl", "efbig3.prl", "negsize.prl", "exteio.prl",
    };

    setup_dir();
    harness_sh("cd %s && qemu-img create -q -f parallels a.prl 64M && qemu-io -f parallels "
               "-c 'write -P 1 0 4k' a.prl >/dev/null && cp --sparse=always a.prl t && "
               "mv t a.prl", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        copy("a.prl", bad[i]);
    poke_le("version.prl", 16, 3, 4);
    poke_le("magic.prl", 15, 'X', 1);
    poke_le("tracks0.prl", 28, 0, 4);
    poke_le("tracksbig.prl", 28, 4186128, 4);
    poke_le("bat.prl", 32, 0x20000000, 4);
    poke_le("bateio.prl", 32, 0x1fffff71, 4);
    poke_le("efbig.prl", 36, 0x003fffffffe00001ull, 8);
    poke_le("efbig2.prl", 36, 0xfffffffffffffe00ull, 8);
    /* Sizes whose product with 512 wraps below the limit: they open, and
     * measure cannot get the length. */
    poke_le("efbig3.prl", 36, 0x0080000000000000ull, 8);
    poke_le("negsize.prl", 36, 0xff00000000000000ull, 8);
    poke_le("exteio.prl", 56, 0x3fffffffffffffull, 8);
    with_ext("a.prl", "emagic.prl", "magic:0x1234 end");
    with_ext("a.prl", "esum.prl", "badsum end");
    with_ext("a.prl", "eunknown.prl", "raw:0x10:0:0");
    with_ext("a.prl", "eflags.prl", "raw:0:1:0");
    with_ext("a.prl", "esize.prl", "raw:7:0:1048529");
    with_ext("a.prl", "esmall.prl", "raw:0x20385FAE252CB34A:0:31");
    with_ext("a.prl", "ebmsize.prl", "bm:131071:128:1:40:0 end");
    with_ext("a.prl", "ebml1.prl", "bm:131072:128:2:40:0 end");
    with_ext("a.prl", "ebmtab.prl", "bm:131072:128:2:48:0,0 end");
    with_ext("a.prl", "ebmdup.prl", "bm:131072:128:1:40:0:11111111-2222-3333-4444-555555555555 "
             "bm:131072:128:1:40:0:11111111-2222-3333-4444-555555555555 end");
    with_ext("a.prl", "ebmeio.prl", "bm:131072:128:1:40:0x7fffffffffffff end");
    with_ext("a.prl", "egran.prl", "bm:131072:0:1:40:0 end");
    with_ext("a.prl", "eoob.prl", "bm:131072:128:1:1048512:0 end");
    check_error("version.prl");
    check_error("magic.prl");
    check_error("tracks0.prl");
    check_error("tracksbig.prl");
    check_error("bat.prl");
    check_error("efbig.prl");
    check_error("efbig2.prl");
    check_error("efbig3.prl");
    check_error("negsize.prl");
    check_error("exteio.prl");
    check_error("emagic.prl");
    check_error("esum.prl");
    check_error("eunknown.prl");
    check_error("eflags.prl");
    check_error("esize.prl");
    check_error("esmall.prl");
    check_error("ebmsize.prl");
    check_error("ebml1.prl");
    check_error("ebmtab.prl");
    check_error("ebmdup.prl");
    check_error("ebmeio.prl");
    /* QEMU's request limit: it names the file twice (see qcow's test). */
    check_difference("bateio.prl", "Could not open", "Input/output error");
    /* QEMU aborts on these; instar refuses them. */
    check_difference("egran.prl", "Assertion", "invalid bitmap granularity");
    /* QEMU does not count skipped feature data against the cluster, and
     * reads the next feature header past its buffer: instar refuses. */
    path_of(path, sizeof(path), "eoob.prl");
    harness_open(&h, path, "parallels", NULL);
    ck_assert_msg(h.err != IMG_OK, "eoob.prl: accepted");
    ck_assert_msg(strstr(h.img.err, "beyond the extension cluster") != NULL, "%s", h.img.err);
    harness_close(&h);
    harness_sh("rm -rf %s", dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("img_parallels");
    TCase *tc = tcase_create("parallels");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parallels_probe_matches_qemu);
    tcase_add_test(tc, parallels_maps_match_qemu);
    tcase_add_test(tc, parallels_maps_what_qemu_cannot);
    tcase_add_test(tc, parallels_rejects_like_qemu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
