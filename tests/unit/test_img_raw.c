/* test_img_raw.c: the raw driver against qemu-img map, on sparse files. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "img_harness.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-raw-XXXXXX";

static void check_file(const char *name)
{
    char path[256];
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "raw");
    ck_assert_int_eq(harness_walk(&h, &ours), IMG_OK);
    ck_assert(harness_qemu_map(path, "-f raw", &qemu));
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

START_TEST(raw_maps_match_qemu)
{
    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && : > empty && printf x > one && truncate -s 1000 odd", dir);
    harness_sh("cd %s && truncate -s 256M sparse && for o in 0 1052672 67104768 104857600 "
               "136376320 209715200 268431360; do dd if=/dev/urandom of=sparse bs=4096 count=1 "
               "seek=$((o / 4096)) conv=notrunc status=none; done", dir);
    harness_sh("cd %s && head -c 3000000 /dev/urandom > dense", dir);
    check_file("empty");
    check_file("one");
    check_file("odd");
    check_file("sparse");
    check_file("dense");
    harness_sh("rm -rf %s", dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("img_raw");
    TCase *tc = tcase_create("raw");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, raw_maps_match_qemu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
