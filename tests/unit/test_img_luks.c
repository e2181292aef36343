/* test_img_luks.c: the LUKS driver against qemu-img 7.2 (info, map and
 * measure's error texts, with and without the key secret) on images made by
 * qemu-img create and poked headers. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_harness.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-luks-XXXXXX";
static const struct img_opts with_key = {.key_secret = ""};

/* qemu-img fails at random in its PBKDF benchmark ("Unable to get accurate
 * CPU usage"): harness_sh() retries that failure. */
#define CREATE "qemu-img create -q -f luks --object secret,id=s,data=x -o key-secret=s,iter-time=10"
#define CREATE_END ""

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void poke(const char *name, long off, const void *buf, size_t len)
{
    harness_poke(dir, name, (uint64_t)off, buf, len);
}

static void poke_be32(const char *name, long off, uint32_t v)
{
    uint8_t b[4] = {v >> 24, v >> 16, v >> 8, v};

    poke(name, off, b, sizeof(b));
}

/* Overwrite the 32-byte name field at `off` with `s` (NUL-padded). */
static void poke_str(const char *name, long off, const char *s)
{
    char field[32] = {0};

    memcpy(field, s, strlen(s) < sizeof(field) ? strlen(s) : sizeof(field));
    poke(name, off, field, sizeof(field));
}

static void copy(const char *src, const char *dst)
{
    harness_copy(dir, src, dst);
}

/* Key slot `i`'s field at `field` (see luks_spec.h). */
static long slot(int i, long field)
{
    return 208 + 48 * i + field;
}

/* qemu-img measure's error for `name` opened with the key secret (x). */
static void qemu_error_key(const char *name, char *buf, size_t size)
{
    char path[256];
    char args[768];
    char raw[1024];
    char prefix[512];

    path_of(path, sizeof(path), name);
    /* --image-opts carries the file name: the harness's own trailing file
     * name argument is commented out. */
    snprintf(args, sizeof(args), "-O qcow2 --object secret,id=s,data=x --image-opts "
             "driver=luks,key-secret=s,file.filename=%s 2>&1 >/dev/null #", path);
    harness_qemu_error(path, args, raw, sizeof(raw));
    snprintf(prefix, sizeof(prefix),
             "Could not open 'driver=luks,key-secret=s,file.filename=%s': ", path);
    snprintf(buf, size, "%s",
             strncmp(raw, prefix, strlen(prefix)) == 0 ? raw + strlen(prefix) : raw);
}

/* The driver, given a key secret, opens `name` and walks it as
 * `qemu-img map --image-opts` with the key does. */
static void check_map(const char *name)
{
    char path[256];
    char args[768];
    struct harness h;
    struct harness_map ours;
    struct harness_map qemu;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, NULL, &with_key);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_str_eq(h.img.drv->name, "luks");
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    snprintf(args, sizeof(args), "--object secret,id=s,data=x --image-opts "
             "driver=luks,key-secret=s,file.filename=%s #", path);
    ck_assert_msg(harness_qemu_map(path, args, &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

/* With the key secret, qemu-img and the driver fail alike. */
static void check_error(const char *name)
{
    char path[256];
    char want[512];
    struct harness h;

    qemu_error_key(name, want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    path_of(path, sizeof(path), name);
    harness_open(&h, path, "luks", &with_key);
    ck_assert_msg(h.err != IMG_OK, "%s: accepted", name);
    ck_assert_str_eq(h.img.err, want);
    harness_close(&h);
}

START_TEST(luks_probe_matches_qemu)
{
    uint8_t buf[592] = {'L', 'U', 'K', 'S', 0xba, 0xbe, 0, 1};

    /* QEMU zero-pads its probe buffer: magic and version suffice. */
    ck_assert_int_eq(img_driver_luks.probe(buf, 8), 100);
    ck_assert_int_eq(img_driver_luks.probe(buf, 7), 0);
    ck_assert_int_eq(img_driver_luks.probe(buf, sizeof(buf)), 100);
    buf[7] = 2;
    ck_assert_int_eq(img_driver_luks.probe(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(luks_needs_the_key_secret)
{
    char path[256];
    char want[512];
    struct harness h;

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && " CREATE " a.luks 16M" CREATE_END, dir);
    harness_sh("cd %s && printf 'not luks' > other && truncate -s 1M other", dir);
    /* Probed, a LUKS image needs the key; so does anything with -f luks. */
    path_of(path, sizeof(path), "a.luks");
    harness_qemu_error(path, "-O qcow2", want, sizeof(want));
    ck_assert_str_eq(want, "Parameter 'key-secret' is required for cipher");
    harness_open(&h, path, NULL, NULL);
    ck_assert_str_eq(h.img.drv->name, "luks");
    ck_assert_int_eq(h.err, IMG_ERR_OPEN);
    ck_assert_str_eq(h.img.err, want);
    harness_close(&h);
    path_of(path, sizeof(path), "other");
    harness_qemu_error(path, "-O qcow2 -f luks", want, sizeof(want));
    ck_assert_str_eq(want, "Parameter 'key-secret' is required for cipher");
    harness_open(&h, path, "luks", NULL);
    ck_assert_int_eq(h.err, IMG_ERR_OPEN);
    ck_assert_str_eq(h.img.err, want);
    harness_close(&h);
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(luks_maps_match_qemu)
{
    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && " CREATE " a.luks 64M" CREATE_END, dir);
    harness_sh("cd %s && " CREATE ",cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=essiv "
               "cbc.luks 1M" CREATE_END, dir);
    harness_sh("cd %s && " CREATE ",cipher-alg=serpent-192,hash-alg=sha512 serp.luks 3M"
               CREATE_END, dir);
    harness_sh("cd %s && " CREATE ",cipher-alg=twofish-256,cipher-mode=cbc,ivgen-alg=plain "
               "tf.luks 2M" CREATE_END, dir);
    harness_sh("cd %s && " CREATE ",cipher-alg=cast5-128,cipher-mode=cbc,hash-alg=sha1 "
               "cast5.luks 1M" CREATE_END, dir);
    harness_sh("cd %s && " CREATE " empty.luks 0" CREATE_END, dir);
    /* A file cut short of a sector: the size rounds up. */
    copy("a.luks", "odd.luks");
    harness_sh("cd %s && truncate -s 69177000 odd.luks", dir);
    /* A 1 TiB payload: all of it is data to QEMU. */
    copy("a.luks", "big.luks");
    harness_sh("cd %s && truncate -s 1T big.luks", dir);
    check_map("a.luks");
    check_map("cbc.luks");
    check_map("serp.luks");
    check_map("tf.luks");
    check_map("cast5.luks");
    check_map("empty.luks");
    check_map("odd.luks");
    check_map("big.luks");
    harness_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(luks_rejects_like_qemu)
{
    char path[256];
    char args[768];
    char want[512];
    struct harness h;
    static const char *bad[] = {
        "magic.luks", "version.luks", "nulname.luks", "nulmode.luks", "nulhash.luks",
        "payload.luks", "mkiter.luks", "stripes.luks", "state.luks", "iter.luks",
        "slothdr.luks", "slotpay.luks", "slotpair.luks", "modefmt.luks", "ivhash.luks",
        "mode.luks", "keysize.luks", "hash.luks", "ivgen.luks", "essiv.luks", "essivaes.luks",
        "essivcast.luks", "castxts.luks", "xtsodd.luks", "eof.luks", "noslot.luks",
        "cutkey.luks", "aes192.luks",
    };
    static const uint8_t v2[2] = {0, 2};
    static const uint8_t mag[1] = {'l'};
    static const uint8_t full[32] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    ck_assert(mkdtemp(dir) != NULL);
    harness_sh("cd %s && " CREATE " a.luks 4M" CREATE_END, dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        copy("a.luks", bad[i]);
    /* a.luks: aes-256-xts-plain64, sha256, slot 0 enabled at sector 8, the
     * payload at sector 4040 (key material: 64 * 4000 bytes per slot). */
    poke("magic.luks", 0, mag, sizeof(mag));
    poke("version.luks", 6, v2, sizeof(v2));
    poke("nulname.luks", 8, full, sizeof(full));
    poke("nulmode.luks", 40, full, sizeof(full));
    poke("nulhash.luks", 72, full, sizeof(full));
    poke_be32("payload.luks", 104, 7);
    poke_be32("mkiter.luks", 164, 0);
    poke_be32("stripes.luks", slot(3, 44), 3999);
    poke_be32("state.luks", slot(2, 0), 1);
    poke_be32("iter.luks", slot(0, 4), 0);
    poke_be32("slothdr.luks", slot(5, 40), 7);
    poke_be32("slotpay.luks", slot(7, 40), 4000);
    poke_be32("slotpair.luks", slot(1, 40), 200);
    poke_str("modefmt.luks", 40, "xtsplain64");
    poke_str("ivhash.luks", 40, "xts-plain64:sha3");
    poke_str("mode.luks", 40, "gcm-plain64");
    poke_be32("keysize.luks", 108, 40);
    poke_str("hash.luks", 72, "SHA256");
    poke_str("ivgen.luks", 40, "xts-plain63");
    poke_str("essiv.luks", 40, "xts-essiv");
    poke_str("essivaes.luks", 40, "xts-essiv:sha1");
    poke_str("essivcast.luks", 8, "cast5");
    poke_str("essivcast.luks", 40, "cbc-essiv:sha256");
    poke_be32("essivcast.luks", 108, 16);
    poke_str("castxts.luks", 8, "cast5");
    poke_be32("castxts.luks", 108, 32);
    poke_be32("xtsodd.luks", 108, 33);
    poke_be32("eof.luks", 104, 1u << 20);
    poke_be32("noslot.luks", slot(0, 0), 0xdead);
    /* Key material cut by EOF reads as zeros: no slot unlocks. */
    harness_sh("cd %s && truncate -s 100000 cutkey.luks", dir);
    poke_str("aes192.luks", 40, "cbc-plain64");
    poke_be32("aes192.luks", 108, 24);
    for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++)
        check_error(bad[i]);
    /* qemu-img aborts on 192-bit keys outside XTS (96000 bytes of key
     * material are not whole sectors); instar refuses them. */
    qemu_error_key("aes192.luks", want, sizeof(want));
    ck_assert_msg(strstr(want, "Assertion") != NULL, "%s", want);
    path_of(path, sizeof(path), "aes192.luks");
    harness_open(&h, path, "luks", &with_key);
    ck_assert_msg(strstr(h.img.err, "not a multiple of 512 bytes") != NULL, "%s", h.img.err);
    harness_close(&h);
    /* A wrong password: qemu-img refuses, instar never checks it. */
    path_of(path, sizeof(path), "a.luks");
    snprintf(args, sizeof(args), "-O qcow2 --object secret,id=s,data=y --image-opts "
             "driver=luks,key-secret=s,file.filename=%s 2>&1 >/dev/null #", path);
    harness_qemu_error(path, args, want, sizeof(want));
    ck_assert_msg(strstr(want, "Invalid password, cannot unlock any keyslot") != NULL, "%s",
                  want);
    harness_open(&h, path, "luks", &with_key);
    ck_assert_int_eq(h.err, IMG_OK);
    harness_close(&h);
    harness_sh("rm -rf %s", dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("img_luks");
    TCase *tc = tcase_create("luks");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, luks_probe_matches_qemu);
    tcase_add_test(tc, luks_needs_the_key_secret);
    tcase_add_test(tc, luks_maps_match_qemu);
    tcase_add_test(tc, luks_rejects_like_qemu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
