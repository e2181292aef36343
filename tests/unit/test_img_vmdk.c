/* test_img_vmdk.c: the vmdk driver against qemu-img map/measure, on images
 * made by qemu-img and qemu-io or crafted here (COWD, VMware-style
 * streamOptimized with the grain directory in the footer, descriptors). */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_harness.h"
#include "test_util.h"

static char dir[] = "/tmp/instar-vmdk-XXXXXX";

static void path_of(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
}

/* ---- byte-level helpers ------------------------------------------------- */

static void poke(const char *name, uint64_t off, const void *buf, size_t len)
{
    harness_poke(dir, name, (uint64_t)off, buf, len);
}

static void poke_le(const char *name, uint64_t off, uint64_t v, size_t n)
{
    uint8_t b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    poke(name, off, b, n);
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void write_file(const char *name, const void *buf, size_t n)
{
    char path[256];
    FILE *f;

    path_of(path, sizeof(path), name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* Copy `from` to `to`, punching holes where blocks are zero (qemu-img-measure.md
 * §9.3: the host's data map must not depend on the page cache). */
static void copy(const char *from, const char *to)
{
    harness_copy(dir, from, to);
}

/* ---- comparisons --------------------------------------------------------- */

/* Open `name` (probing when `fmt` is NULL) and compare the walk with
 * qemu-img map; qemu is asked with `qargs`. */
static void check_map(const char *name, const char *fmt, const char *qargs)
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
    ck_assert_str_eq(h.img.drv->name, "vmdk");
    ck_assert_msg(!h.img.has_backing, "%s: unexpected backing file", name);
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, qargs, &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

/* qemu-img's message with the image's own name taken out: when qemu has no
 * better text it says "Could not open 'F': <errno>", and some messages name
 * the file; a driver never knows the name, so instar's messages omit it. */
static void qemu_error(const char *path, const char *args, char *buf, size_t size)
{
    char prefix[300];
    char quoted[300];
    char *p;

    harness_qemu_error(path, args, buf, size);
    snprintf(prefix, sizeof(prefix), "Could not open '%s': ", path);
    if (strncmp(buf, prefix, strlen(prefix)) == 0)
        memmove(buf, buf + strlen(prefix), strlen(buf + strlen(prefix)) + 1);
    snprintf(quoted, sizeof(quoted), " '%s'", path);
    while ((p = strstr(buf, quoted)) != NULL)
        memmove(p, p + strlen(quoted), strlen(p + strlen(quoted)) + 1);
}

/* instar refuses `name` at open with qemu's message. */
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

/* The walk fails with qemu-img measure's message. */
static void check_walk_err(const char *name)
{
    char path[256];
    char want[1024];
    struct harness h;
    static struct harness_map ours;

    path_of(path, sizeof(path), name);
    qemu_error(path, "-O qcow2", want, sizeof(want));
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_walk(&h, &ours) != IMG_OK, "%s: the walk succeeded", name);
    ck_assert_msg(strcmp(h.img.err, want) == 0, "%s: instar '%s', qemu '%s'", name, h.img.err,
                  want);
    harness_close(&h);
}

/* A deliberate difference (docs/formats/vmdk.md): qemu-img accepts `name`
 * (when `qemu_ok`), instar refuses it with a message containing `why`. */
static void check_refused(const char *name, bool qemu_ok, const char *why, enum img_err kind)
{
    char path[256];
    char qemu[1024];
    struct harness h;

    path_of(path, sizeof(path), name);
    if (qemu_ok) {
        qemu_error(path, "-O raw", qemu, sizeof(qemu));
        ck_assert_msg(qemu[0] == '\0', "%s: qemu-img refused it: %s", name, qemu);
    }
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == kind, "%s: err %d (%s)", name, h.err, h.img.err);
    ck_assert_msg(strstr(h.img.err, why) != NULL, "%s: '%s' lacks '%s'", name, h.img.err, why);
    harness_close(&h);
}

/* A descriptor that names one extent file, `file`: open() records it for
 * the caller and opens nothing. */
static void check_names(const char *name, const char *file)
{
    char path[256];
    struct harness h;

    path_of(path, sizeof(path), name);
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_uint_eq(h.img.n_files, 1);
    ck_assert_str_eq(h.img.file_names[0], file);
    harness_close(&h);
}

/* ---- crafted images ------------------------------------------------------ */

static const char desc_text[] = "# Disk DescriptorFile\nversion=1\nCID=1a2b3c4d\n"
                                "parentCID=ffffffff\ncreateType=\"streamOptimized\"\n";

/* A VMware-style streamOptimized extent: header with gd_offset = GD_AT_END,
 * compressed grains with markers, GT and GD markers, footer.  Grains of 128
 * sectors, 512 GTEs; `lbas` lists the grains (in grain units) to store. */
static void make_stream(const char *name, uint64_t capacity, const uint64_t *grains, size_t n)
{
    uint64_t n_gt = (capacity + 65535) / 65536;
    size_t cap = 1u << 22;
    uint8_t *f = calloc(1, cap);
    uint32_t *gts = calloc(n_gt * 512, 4);
    uint64_t sec = 128;
    uint64_t gd_sec;
    uint8_t hdr[512] = {0};

    ck_assert_ptr_nonnull(f);
    memcpy(hdr, "KDMV", 4);
    put_le(hdr + 4, 3, 4);
    put_le(hdr + 8, 0x30001, 4);           /* NL detect, compressed, markers */
    put_le(hdr + 12, capacity, 8);
    put_le(hdr + 20, 128, 8);
    put_le(hdr + 28, 1, 8);
    put_le(hdr + 36, 20, 8);
    put_le(hdr + 44, 512, 4);
    put_le(hdr + 56, UINT64_MAX, 8);       /* the GD is in the footer */
    put_le(hdr + 64, 128, 8);
    memcpy(hdr + 73, "\n \r\n", 4);
    put_le(hdr + 77, 1, 2);
    memcpy(f, hdr, 512);
    memcpy(f + 512, desc_text, sizeof(desc_text) - 1);
    for (size_t i = 0; i < n; i++) {
        /* Grain marker: LBA, compressed size, then the (here fake) data. */
        put_le(f + sec * 512, grains[i] * 128, 8);
        put_le(f + sec * 512 + 8, 300, 4);
        memset(f + sec * 512 + 12, 0xA5, 300);
        gts[grains[i]] = (uint32_t)sec;
        sec += 1;
    }
    for (uint64_t t = 0; t < n_gt; t++) {
        put_le(f + sec * 512, 4, 8);        /* GT marker: 4 sectors follow */
        put_le(f + sec * 512 + 12, 1, 4);
        sec++;
        for (int e = 0; e < 512; e++)
            put_le(f + sec * 512 + 4 * e, gts[t * 512 + e], 4);
        gts[t] = (uint32_t)sec;            /* reuse as the GD */
        sec += 4;
    }
    put_le(f + sec * 512, (n_gt * 4 + 511) / 512, 8);
    put_le(f + sec * 512 + 12, 2, 4);      /* GD marker */
    sec++;
    gd_sec = sec;
    for (uint64_t t = 0; t < n_gt; t++)
        put_le(f + sec * 512 + 4 * t, gts[t], 4);
    sec += (n_gt * 4 + 511) / 512;
    put_le(f + sec * 512, 1, 8);
    put_le(f + sec * 512 + 12, 3, 4);      /* footer marker */
    sec++;
    memcpy(f + sec * 512, hdr, 512);
    put_le(f + sec * 512 + 56, gd_sec, 8);
    sec++;
    sec++;                                 /* end-of-stream marker: zeros */
    ck_assert_uint_le(sec * 512, cap);
    write_file(name, f, sec * 512);
    free(gts);
    free(f);
}

/* An ESX "COWD" sparse extent: 4 KiB grains (8 sectors), GTs of 4096
 * entries; GD at sector 4, one GT at sector 8, grains from sector 40.
 * qemu reads CID and parentCID at 0x200, so the test puts them there. */
static void make_cowd(const char *name, uint32_t disk_sectors, uint32_t gd_entries,
                      uint32_t grain)
{
    static uint8_t f[64 << 10];

    memset(f, 0, sizeof(f));
    memcpy(f, "COWD", 4);
    put_le(f + 4, 1, 4);
    put_le(f + 8, 3, 4);
    put_le(f + 12, disk_sectors, 4);
    put_le(f + 16, grain, 4);
    put_le(f + 20, 4, 4);
    put_le(f + 24, gd_entries, 4);
    memcpy(f + 0x200, "CID=1\nparentCID=ffffffff\n", 25);
    put_le(f + 0x800, 8, 4);                /* GD[0] -> GT at sector 8 */
    put_le(f + 0x1000, 40, 4);              /* grain 0 */
    put_le(f + 0x1004, 1, 4);               /* grain 1: 1 is data without zero grains */
    put_le(f + 0x1000 + 4 * 100, 48, 4);    /* grain 100 */
    write_file(name, f, sizeof(f));
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(vmdk_valid_images_match_qemu)
{
    /* monolithicSparse with scattered, unaligned writes (setup()). */
    check_map("sparse.vmdk", NULL, "");
    /* Zeroed grains (version 2 with the zero-grain flag). */
    harness_sh("cd %s && qemu-img create -q -f vmdk -o zeroed_grain=on zero.vmdk 64M && "
               "qemu-io -c 'write -P 1 0 64k' -c 'write -z 1M 192k' -c 'write -P 2 2M 4k' "
               "-c 'write -z 40M 1M' -c 'write -P 5 40M 64k' zero.vmdk >/dev/null", dir);
    check_map("zero.vmdk", NULL, "");
    /* qemu's streamOptimized (GD in the header), converted from the above. */
    harness_sh("cd %s && qemu-img convert -O vmdk -o subformat=streamOptimized sparse.vmdk "
               "stream.vmdk", dir);
    check_map("stream.vmdk", NULL, "");
    /* VMware-style streamOptimized: the GD is found through the footer. */
    check_map("vmware.vmdk", NULL, "");
    /* Odd sizes: not a multiple of the grain, of the GT span, tiny, empty. */
    harness_sh("cd %s && qemu-img create -q -f vmdk odd.vmdk 1000000 && qemu-io -c "
               "'write -P 9 999000 1000' odd.vmdk >/dev/null && qemu-img create -q -f vmdk "
               "one.vmdk 512 && qemu-img create -q -f vmdk empty.vmdk 0 && qemu-img create -q "
               "-f vmdk span.vmdk 33619968 && qemu-io -c 'write -P 1 33554432 65536' span.vmdk "
               ">/dev/null", dir);
    check_map("odd.vmdk", NULL, "");
    check_map("one.vmdk", NULL, "");
    /* A 0-byte disk has capacity 0: qemu then reads the embedded descriptor
     * as a descriptor file, and refuses its createType. */
    check_err("empty.vmdk", NULL);
    check_map("span.vmdk", NULL, "");
    /* Version 3 is read-only in qemu, which is all measure needs. */
    copy("sparse.vmdk", "v3.vmdk");
    poke_le("v3.vmdk", 4, 3, 4);
    check_map("v3.vmdk", NULL, "");
    /* ESX COWD: GTE 1 is data there (no zeroed grains). */
    make_cowd("cowd.vmdk", 8192, 1, 8);
    check_map("cowd.vmdk", NULL, "");
    /* -f vmdk on a sparse file gives the same. */
    check_map("sparse.vmdk", "vmdk", "-f vmdk");
}
END_TEST

START_TEST(vmdk_big_sparse_matches_qemu)
{
    /* > 2 TiB: 67,200 grain tables (131 MiB, holes in the file). */
    harness_sh("cd %s && qemu-img create -q -f vmdk big.vmdk 2100G && qemu-io -c "
               "'write -P 1 0 64k' -c 'write -P 2 1T 128k' -c 'write -P 3 2254857764864 64k' "
               "big.vmdk >/dev/null", dir);
    check_map("big.vmdk", NULL, "");
    harness_sh("rm -f %s/big.vmdk", dir);
}
END_TEST

START_TEST(vmdk_descriptors)
{
    char path[256];
    char qemu[1024];
    struct harness h;
    static const char no_extents[] =
        "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
        "createType=\"monolithicFlat\"\nRDONLY 2048 FLAT \"secret.img\" 0\n"
        "RW 0 FLAT \"secret.img\" 0\nRW 100 ZERO \"secret.img\"\n";
    static const char flat[] = "version=1\nCID=1\nparentCID=ffffffff\n"
                               "createType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/passwd\" 0\n";
    static const char sparse_twogb[] = "# x\n  \nversion=1\r\ncreateType=\"twoGbMaxExtentSparse\"\n"
                                       "RW 4096 SPARSE \"x-s001.vmdk\"\n";
    static const char bad_line[] = "version=1\ncreateType=\"monolithicFlat\"\nRW 100 FLAT \"x\"\n";
    static const char bad_vmfs[] = "version=2\r\ncreateType=\"vmfs\"\r\nRW 10 VMFS \"a\" 7\r\n";
    static const char bad_type[] = "version=1\ncreateType=\"monolithicSparse\"\n";
    static const char no_type[] = "version=1\ncreateTyp=\"vmfs\"\n";
    static const char no_cid[] = "version=3\ncreateType=\"vmfs\"\n";

    /* An empty disk: qemu opens no file and measures 0 bytes. */
    write_file("none.vmdk", no_extents, sizeof(no_extents) - 1);
    path_of(path, sizeof(path), "none.vmdk");
    harness_qemu_error(path, "-O qcow2", qemu, sizeof(qemu));
    ck_assert_str_eq(qemu, "");
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert_str_eq(h.img.drv->name, "vmdk");
    ck_assert_uint_eq(h.img.virtual_size, 0);
    harness_close(&h);
    /* Extent files are named for the caller (the host's path policy, T6),
     * never opened by the driver itself; open_files() needs their I/O. */
    write_file("flat.vmdk", flat, sizeof(flat) - 1);
    check_names("flat.vmdk", "/etc/passwd");
    write_file("twogb.vmdk", sparse_twogb, sizeof(sparse_twogb) - 1);
    check_names("twogb.vmdk", "x-s001.vmdk");
    /* Invalid descriptors: qemu's messages. */
    write_file("badline.vmdk", bad_line, sizeof(bad_line) - 1);
    check_err("badline.vmdk", NULL);
    write_file("badvmfs.vmdk", bad_vmfs, sizeof(bad_vmfs) - 1);
    check_err("badvmfs.vmdk", NULL);
    write_file("badtype.vmdk", bad_type, sizeof(bad_type) - 1);
    check_err("badtype.vmdk", NULL);
    write_file("notype.vmdk", no_type, sizeof(no_type) - 1);
    check_err("notype.vmdk", NULL);
    write_file("nocid.vmdk", no_cid, sizeof(no_cid) - 1);
    check_err("nocid.vmdk", NULL);
    /* -f vmdk on a file that is no descriptor. */
    harness_sh("cd %s && head -c 5000 /dev/urandom | tr -d '\\000' > noise.bin", dir);
    check_err("noise.bin", "vmdk");
    /* An empty file. */
    harness_sh("cd %s && : > nothing.vmdk", dir);
    check_err("nothing.vmdk", "vmdk");
}
END_TEST

START_TEST(vmdk_probe_matches_qemu)
{
    static const struct {
        const char *text;
        bool vmdk;
    } cases[] = {
        {"version=1\n", true},
        {"# comment\n# more\nversion=2\r\n", true},
        {"   \n  \r\nversion=3\n", true},
        {"\nversion=1\n", false},     /* an empty line is not a blank line */
        {"version=4\n", false},
        {"version=1", false},
        {" x\nversion=1\n", false},
        {"KDMV", true},
        {"COWD", true},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *other = NULL;
        const struct img_driver *d =
            img_probe((const uint8_t *)cases[i].text, strlen(cases[i].text), &other);

        ck_assert_msg((d == &img_driver_vmdk) == cases[i].vmdk, "case %zu: %s", i, d->name);
    }
}
END_TEST

START_TEST(vmdk_backing_file)
{
    struct harness h;
    char path[256];
    static const char hint[] = "parentFileNameHint=\"base.vmdk\"\n";
    static const char empty_hint[] = "parentFileNameHint=\"\"\n";

    /* A parent named in the embedded descriptor. */
    copy("sparse.vmdk", "child.vmdk");
    poke("child.vmdk", 512 + 256, hint, sizeof(hint) - 1);
    path_of(path, sizeof(path), "child.vmdk");
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_OK, "%s", h.img.err);
    ck_assert(h.img.has_backing);
    harness_close(&h);
    /* An empty name is no parent. */
    copy("sparse.vmdk", "nochild.vmdk");
    poke("nochild.vmdk", 512 + 256, empty_hint, sizeof(empty_hint) - 1);
    check_map("nochild.vmdk", NULL, "");
    /* An unterminated name. */
    copy("sparse.vmdk", "badhint.vmdk");
    {
        static char d[20 * 512] = "CID=1\nparentCID=ffffffff\nparentFileNameHint=\"abc";

        poke("badhint.vmdk", 512, d, sizeof(d));
    }
    check_err("badhint.vmdk", NULL);
}
END_TEST

START_TEST(vmdk_malformed)
{
    static uint8_t zeros[4096];
    /* qemu's messages. */
    copy("sparse.vmdk", "m_version.vmdk");
    poke_le("m_version.vmdk", 4, 4, 4);
    check_err("m_version.vmdk", NULL);
    copy("sparse.vmdk", "m_gtes.vmdk");
    poke_le("m_gtes.vmdk", 44, 513, 4);
    check_err("m_gtes.vmdk", NULL);
    copy("sparse.vmdk", "m_gtes0.vmdk");
    poke_le("m_gtes0.vmdk", 44, 0, 4);
    check_err("m_gtes0.vmdk", NULL);
    copy("sparse.vmdk", "m_grain0.vmdk");
    poke_le("m_grain0.vmdk", 20, 0, 8);
    check_err("m_grain0.vmdk", NULL);
    copy("sparse.vmdk", "m_grainbig.vmdk");
    poke_le("m_grainbig.vmdk", 20, 0x200001, 8);
    check_err("m_grainbig.vmdk", NULL);
    copy("sparse.vmdk", "m_grain2p32.vmdk");
    poke_le("m_grain2p32.vmdk", 20, 1ull << 32, 8);
    check_err("m_grain2p32.vmdk", NULL);
    copy("sparse.vmdk", "m_capacity.vmdk");
    poke_le("m_capacity.vmdk", 12, 1ull << 54, 8);
    check_err("m_capacity.vmdk", NULL);
    copy("sparse.vmdk", "m_capmax.vmdk");
    poke_le("m_capmax.vmdk", 12, UINT64_MAX, 8);
    check_err("m_capmax.vmdk", NULL);
    copy("sparse.vmdk", "m_l1big.vmdk");
    poke_le("m_l1big.vmdk", 44, 1, 4);
    poke_le("m_l1big.vmdk", 20, 1, 8);
    poke_le("m_l1big.vmdk", 12, (32u << 20) + 1, 8);
    check_err("m_l1big.vmdk", NULL);
    copy("sparse.vmdk", "m_truncgrain.vmdk");
    poke_le("m_truncgrain.vmdk", 64, 0x100000, 8);
    check_err("m_truncgrain.vmdk", NULL);
    copy("sparse.vmdk", "m_gdeio.vmdk");
    poke_le("m_gdeio.vmdk", 56, 0x7fffffffffffffull, 8);
    check_err("m_gdeio.vmdk", NULL);
    copy("sparse.vmdk", "m_rgdeio.vmdk");
    poke_le("m_rgdeio.vmdk", 48, 0xffffffffffffffull, 8);
    check_err("m_rgdeio.vmdk", NULL);
    copy("sparse.vmdk", "m_nofooter.vmdk");
    poke_le("m_nofooter.vmdk", 56, UINT64_MAX, 8);
    check_err("m_nofooter.vmdk", NULL);
    copy("vmware.vmdk", "m_footer.vmdk");
    harness_sh("cd %s && truncate -s -512 m_footer.vmdk", dir);
    check_err("m_footer.vmdk", NULL);
    {
        /* GD_AT_END in a file shorter than the footer. */
        uint8_t tiny[64] = "KDMV";

        put_le(tiny + 4, 1, 4);
        put_le(tiny + 56, UINT64_MAX, 8);
        write_file("m_tiny.vmdk", tiny, sizeof(tiny));
    }
    check_err("m_tiny.vmdk", NULL);
    copy("sparse.vmdk", "m_nocid.vmdk");
    poke("m_nocid.vmdk", 512, zeros, 512);
    check_err("m_nocid.vmdk", NULL);
    copy("sparse.vmdk", "m_badpcid.vmdk");
    poke("m_badpcid.vmdk", 512, "CID=1 parentCID=zz\n", 20);
    check_err("m_badpcid.vmdk", NULL);
    copy("sparse.vmdk", "m_hosted.vmdk");
    poke_le("m_hosted.vmdk", 12, 0, 8);           /* capacity 0: the descriptor rules */
    check_err("m_hosted.vmdk", NULL);
    make_cowd("m_cowdgrain.vmdk", 8192, 1, 0x200001);
    check_err("m_cowdgrain.vmdk", NULL);
    make_cowd("m_cowdl1.vmdk", 8192, (32u << 20) + 1, 8);
    check_err("m_cowdl1.vmdk", NULL);
    /* COWD whose GD covers less than the disk: qemu fails in the walk. */
    make_cowd("m_cowdshort.vmdk", 100000, 1, 8);
    check_walk_err("m_cowdshort.vmdk");

    /* Truncated in the grains: qemu still reports them as data. */
    copy("sparse.vmdk", "m_cut.vmdk");
    harness_sh("cd %s && truncate -s 200000 m_cut.vmdk", dir);
    check_map("m_cut.vmdk", NULL, "");

    /* Deliberate differences (docs/formats/vmdk.md): tables past the end of
     * the file, which qemu reads as zeros (T29). */
    copy("sparse.vmdk", "m_gdeof.vmdk");
    poke_le("m_gdeof.vmdk", 56, 0x100000, 8);
    check_refused("m_gdeof.vmdk", true, "grain directory", IMG_ERR_OPEN);
    copy("sparse.vmdk", "m_gteof.vmdk");
    poke_le("m_gteof.vmdk", 38 * 512 + 4, 0x1000000, 4);
    check_refused("m_gteof.vmdk", true, "grain table 1", IMG_ERR_OPEN);
    /* 8,000 GD entries aliasing one GT (T13): qemu walks them all. */
    copy("sparse.vmdk", "m_alias.vmdk");
    poke_le("m_alias.vmdk", 12, 8000ull * 65536, 8);   /* 8,000 GTs of 32 MiB */
    poke_le("m_alias.vmdk", 56, 8, 8);                  /* GD at sector 8 */
    poke_le("m_alias.vmdk", 64, 128, 8);
    {
        uint8_t gd[32000];

        for (int i = 0; i < 8000; i++)
            put_le(gd + 4 * i, 42, 4);
        poke("m_alias.vmdk", 8 * 512, gd, sizeof(gd));
    }
    poke("m_alias.vmdk", 512, "CID=1\nparentCID=ffffffff\n", 26);
    check_refused("m_alias.vmdk", true, "overlap", IMG_ERR_OPEN);
    /* A GD entry count qemu truncates to 32 bits. */
    copy("sparse.vmdk", "m_gdwrap.vmdk");
    poke_le("m_gdwrap.vmdk", 44, 1, 4);
    poke_le("m_gdwrap.vmdk", 20, 1, 8);
    poke_le("m_gdwrap.vmdk", 12, (1ull << 32) + 5, 8);
    check_refused("m_gdwrap.vmdk", true, "too large", IMG_ERR_OPEN);
    /* COWD grain 0: qemu divides by zero in the walk. */
    make_cowd("m_cowd0.vmdk", 8192, 1, 0);
    check_refused("m_cowd0.vmdk", false, "grain size", IMG_ERR_OPEN);
}
END_TEST

/* Unchecked fixture (runs once, in the parent): the shared images. */
static void setup(void)
{
    static const uint64_t grains[] = {0, 1, 7, 600, 1000, 1599};

    if (mkdtemp(dir) == NULL)
        abort();
    harness_sh("cd %s && qemu-img create -q -f vmdk sparse.vmdk 100M && qemu-io -c "
               "'write -P 1 0 512' -c 'write -P 2 70000 200000' -c 'write -P 3 33554432 65536' "
               "-c 'write -P 4 104791040 65536' sparse.vmdk >/dev/null", dir);
    make_stream("vmware.vmdk", 204800, grains, sizeof(grains) / sizeof(grains[0]));
}

static void teardown(void)
{
    harness_sh("rm -rf %s", dir);
}

static Suite *suite(void)
{
    Suite *s = suite_create("img_vmdk");
    TCase *tc = tcase_create("vmdk");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vmdk_valid_images_match_qemu);
    tcase_add_test(tc, vmdk_big_sparse_matches_qemu);
    tcase_add_test(tc, vmdk_descriptors);
    tcase_add_test(tc, vmdk_probe_matches_qemu);
    tcase_add_test(tc, vmdk_backing_file);
    tcase_add_test(tc, vmdk_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
