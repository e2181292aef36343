/* test_img_vdi.c: the VDI driver against qemu-img 7.2 (map, info and
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

static char dir[] = "/tmp/instar-vdi-XXXXXX";

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

/* qemu-img reads the block map of `name` past EOF as zeros; the driver
 * refuses. */
static void check_past_eof(const char *name)
{
    char path[256];

    path_of(path, sizeof(path), name);
    ck_assert_msg(harness_refuses_past_eof(path, "vdi", "-f vdi"), "%s", name);
}

/* The driver (by probe, or `format`) maps `name` as `qemu-img map -f vdi`. */
static void check_map(const char *name, const char *format)
{
    char path[256];
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, format, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "vdi");
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, "-f vdi", &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

/* `qemu-img measure -O qcow2 -f vdi` and the driver fail alike. */
static void check_error(const char *name)
{
    char path[256];
    char want[512];
    struct harness h;

    path_of(path, sizeof(path), name);
    harness_qemu_error(path, "-O qcow2 -f vdi", want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    harness_open(&h, path, "vdi", NULL);
    ck_assert_msg(h.err != IMG_OK, "%s: accepted", name);
    ck_assert_str_eq(h.img.err, want);
    harness_close(&h);
}

START_TEST(vdi_probe_matches_qemu)
{
    uint8_t buf[512] = {0};

    buf[64] = 0x7f;
    buf[65] = 0x10;
    buf[66] = 0xda;
    buf[67] = 0xbe;
    /* QEMU zero-pads its probe buffer: the signature alone is enough. */
    ck_assert_int_eq(img_driver_vdi.probe(buf, 68), 100);
    ck_assert_int_eq(img_driver_vdi.probe(buf, 67), 0);
    ck_assert_int_eq(img_driver_vdi.probe(buf, 10), 0);
    ck_assert_int_eq(img_driver_vdi.probe(buf, sizeof(buf)), 100);
}
END_TEST

START_TEST(vdi_maps_match_qemu)
{
    ck_assert(mkdtemp(dir) != NULL);
    /* Dynamic: scattered writes (zero writes allocate blocks too). */
    harness_sh("cd %s && qemu-img create -q -f vdi a.vdi 64M && qemu-io -f vdi "
               "-c 'write -P 1 0 4k' -c 'write -P 2 3M 64k' -c 'write -z 10M 64k' "
               "-c 'write -P 3 11M 2M' -c 'write -P 4 67104768 4k' a.vdi >/dev/null", dir);
    harness_sh("cd %s && qemu-img create -q -f vdi odd.vdi 5000001 && qemu-io -f vdi "
               "-c 'write -P 5 4999680 512' odd.vdi >/dev/null", dir);
    /* Static: the host file's holes inside allocated blocks read as zeros. */
    harness_sh("cd %s && qemu-img create -q -f vdi -o static=on st.vdi 16M && qemu-io -f vdi "
               "-c 'write -P 1 0 4k' -c 'write -P 2 3M 64k' -c 'write -P 3 5242368 8k' "
               "-c 'write -P 4 16773120 4k' st.vdi >/dev/null", dir);
    /* Large: a 4 MiB block map, read in four windows. */
    harness_sh("cd %s && qemu-img create -q -f vdi big.vdi 1T && qemu-io -f vdi "
               "-c 'write -P 1 0 4k' -c 'write -P 2 300G 1M' -c 'write -P 3 1099510579200 1M' "
               "big.vdi >/dev/null", dir);
    harness_sh("cd %s && qemu-img create -q -f vdi -o static=on bigst.vdi 64G && qemu-io -f vdi "
               "-c 'write -P 1 1M 4k' -c 'write -P 2 40G 1M' bigst.vdi >/dev/null", dir);
    /* Discarded blocks (QEMU never writes them) read as zeros. */
    copy("a.vdi", "disc.vdi");
    poke_le("disc.vdi", 512 + 3 * 4, 0xfffffffe, 4);
    /* A static image read as dynamic, and a dynamic one read as static. */
    copy("st.vdi", "st2dyn.vdi");
    poke_le("st2dyn.vdi", 76, 1, 4);
    copy("a.vdi", "dyn2st.vdi");
    poke_le("dyn2st.vdi", 76, 2, 4);
    /* Block maps cut by EOF: qemu reads the rest as zeros, i.e. block 0;
     * refused (T29).  cutst2's map is whole, its blocks lie past EOF. */
    harness_sh("cd %s && qemu-img create -q -f vdi cut.vdi 64M && truncate -s 600 cut.vdi && "
               "qemu-img create -q -f vdi -o static=on cutst.vdi 64M && "
               "truncate -s 600 cutst.vdi", dir);
    copy("st.vdi", "cutst2.vdi");
    poke_le("cutst2.vdi", 340, 1u << 20, 4); /* the map now lies in block 0's data */
    harness_sh("cd %s && truncate -s 1049000 cutst2.vdi", dir);
    /* A map far past EOF over a data area with holes. */
    copy("st.vdi", "farst.vdi");
    poke_le("farst.vdi", 340, 0x40000000, 4);
    harness_sh("cd %s && for f in *.vdi; do cp --sparse=always $f t && mv t $f; done", dir);
    check_map("a.vdi", NULL);
    check_map("odd.vdi", NULL);
    check_map("st.vdi", NULL);
    check_map("big.vdi", NULL);
    check_map("bigst.vdi", "vdi");
    check_map("disc.vdi", NULL);
    check_map("st2dyn.vdi", NULL);
    check_map("dyn2st.vdi", NULL);
    check_past_eof("cut.vdi");
    check_past_eof("cutst.vdi");
    check_map("cutst2.vdi", NULL);
    check_past_eof("farst.vdi");
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(vdi_rejects_like_qemu)
{
    static const char *bad[] = {
        "maxsize.vdi", "sig.vdi", "version.vdi", "bmapmis.vdi", "datamis.vdi", "sector.vdi",
        "block.vdi", "room.vdi", "link.vdi", "parent.vdi", "blocks.vdi", "v0.vdi",
    };

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && qemu-img create -q -f vdi a.vdi 64M && qemu-io -f vdi "
               "-c 'write -P 1 0 4k' a.vdi >/dev/null", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        copy("a.vdi", bad[i]);
    poke_le("maxsize.vdi", 368, 0x1FFFFF8000001ull, 8);
    poke_le("sig.vdi", 64, 0xbeda1070, 4);
    poke_le("version.vdi", 68, 0x00010000, 4);
    poke_le("v0.vdi", 68, 0, 4);
    poke_le("bmapmis.vdi", 340, 513, 4);
    poke_le("datamis.vdi", 344, 1000, 4);
    poke_le("sector.vdi", 360, 4096, 4);
    poke_le("block.vdi", 376, 2u << 20, 4);
    poke_le("room.vdi", 384, 63, 4);
    poke_le("link.vdi", 430, 1, 1);
    poke_le("parent.vdi", 455, 0x80, 1);
    poke_le("blocks.vdi", 384, 0x1FFFFF81, 4);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_error(bad[i]);
    harness_sh("rm -rf %s", dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("img_vdi");
    TCase *tc = tcase_create("vdi");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, vdi_probe_matches_qemu);
    tcase_add_test(tc, vdi_maps_match_qemu);
    tcase_add_test(tc, vdi_rejects_like_qemu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
