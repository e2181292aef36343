/* test_img_vhdx.c: the vhdx driver against qemu-img map/measure, on images
 * made by qemu-img and qemu-io, with headers, tables and logs poked or
 * crafted here and their CRC-32C recomputed where a later check is the
 * point. */
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

static char dir[] = "/tmp/instar-vhdx-XXXXXX";

#define MD (3u << 20)                 /* metadata region of qemu's images */
#define MD_ITEMS (MD + 0x10000)       /* its items */
#define BAT (2u << 20)                /* BAT region of qemu's images */

static void path_of(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
}

static void poke(const char *name, uint64_t off, const void *buf, size_t len)
{
    harness_poke(dir, name, (uint64_t)off, buf, len);
}

static void peek(const char *name, uint64_t off, void *buf, size_t n)
{
    harness_peek(dir, name, off, buf, n);
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void poke_le(const char *name, uint64_t off, uint64_t v, size_t n)
{
    uint8_t b[8];

    put_le(b, v, n);
    poke(name, off, b, n);
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

/* Recompute the CRC-32C (at +4) of the `len` bytes at `off`. */
static void fix_crc(const char *name, uint64_t off, size_t len)
{
    uint8_t *b = malloc(len);

    ck_assert_ptr_nonnull(b);
    peek(name, off, b, len);
    memset(b + 4, 0, 4);
    poke_le(name, off + 4, crc32c(b, len), 4);
    free(b);
}

/* Both headers and the region table. */
static void fix_all(const char *name)
{
    fix_crc(name, 0x10000, 4096);
    fix_crc(name, 0x20000, 4096);
    fix_crc(name, 0x30000, 0x10000);
}

/* Poke a field of both headers (offset inside the header), fix the CRCs. */
static void poke_headers(const char *name, uint64_t field, uint64_t v, size_t n)
{
    poke_le(name, 0x10000 + field, v, n);
    poke_le(name, 0x20000 + field, v, n);
    fix_all(name);
}

static void copy(const char *from, const char *to)
{
    harness_copy(dir, from, to);
}

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
    ck_assert_str_eq(h.img.drv->name, "vhdx");
    ck_assert(!h.img.has_backing);
    ck_assert_msg(harness_walk(&h, &ours) == IMG_OK, "%s: %s", name, h.img.err);
    ck_assert_msg(harness_qemu_map(path, qargs, &qemu), "%s: qemu-img map failed", name);
    ck_assert_msg(harness_same_map(&ours, &qemu), "%s differs from qemu-img map", name);
    harness_close(&h);
}

/* qemu-img's message without the image's name (see test_img_vmdk.c). */
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

static void check_err_fmt(const char *name, const char *fmt)
{
    char path[256];
    char want[1024];
    struct harness h;

    path_of(path, sizeof(path), name);
    qemu_error(path, fmt != NULL ? "-O qcow2 -f vhdx" : "-O qcow2", want, sizeof(want));
    ck_assert_msg(want[0] != '\0', "%s: qemu-img accepted it", name);
    harness_open(&h, path, fmt, NULL);
    ck_assert_msg(h.err != IMG_OK, "%s: instar accepted it (qemu: %s)", name, want);
    ck_assert_msg(strcmp(harness_first_line(&h), want) == 0, "%s: instar '%s', qemu '%s'", name,
                  harness_first_line(&h), want);
    if (getenv("TEST_VERBOSE") != NULL)
        fprintf(stderr, "%s: %s\n", name, want);
    harness_close(&h);
}

static void check_err(const char *name)
{
    check_err_fmt(name, NULL);
}

/* A deliberate difference: qemu-img accepts `name`, instar refuses it. */
static void check_refused(const char *name, const char *why)
{
    char path[256];
    char qemu[1024];
    struct harness h;

    path_of(path, sizeof(path), name);
    qemu_error(path, "-O qcow2", qemu, sizeof(qemu));
    ck_assert_msg(qemu[0] == '\0', "%s: qemu-img refused it: %s", name, qemu);
    harness_open(&h, path, NULL, NULL);
    ck_assert_msg(h.err == IMG_ERR_OPEN, "%s: err %d (%s)", name, h.err, h.img.err);
    ck_assert_msg(strstr(h.img.err, why) != NULL, "%s: '%s' lacks '%s'", name, h.img.err, why);
    harness_close(&h);
}

/* ---- logs ------------------------------------------------------------------ */

enum log_kind { LOG_EMPTY, LOG_DATA, LOG_BAD_DESC, LOG_BAD_CRC, LOG_WRAP, LOG_GUID_ONLY };

/* Give the image a log GUID and (unless LOG_GUID_ONLY) one log entry with
 * sequence number 5, in the 1 MiB log at 1 MiB. */
static void make_log(const char *name, enum log_kind kind)
{
    static const uint8_t guid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static uint8_t e[2 * 4096];
    uint32_t sectors = kind == LOG_EMPTY || kind == LOG_BAD_CRC ? 1 : 2;
    uint64_t slot = kind == LOG_WRAP ? 255 : 3;

    poke(name, 0x10000 + 48, guid, 16);
    poke(name, 0x20000 + 48, guid, 16);
    fix_all(name);
    if (kind == LOG_GUID_ONLY)
        return;
    memset(e, 0, sizeof(e));
    memcpy(e, "loge", 4);
    put_le(e + 8, sectors * 4096, 4);
    put_le(e + 16, 5, 8);
    memcpy(e + 32, guid, 16);
    put_le(e + 48, 16u << 20, 8);
    put_le(e + 56, 16u << 20, 8);
    if (sectors == 2) {
        /* One data descriptor and its data sector. */
        put_le(e + 24, 1, 4);
        memcpy(e + 64, "desc", 4);
        put_le(e + 64 + 16, 10u << 20, 8);
        put_le(e + 64 + 24, kind == LOG_BAD_DESC ? 6 : 5, 8);
        memcpy(e + 4096, "data", 4);
    }
    put_le(e + 4, crc32c(e, sectors * 4096) ^ (kind == LOG_BAD_CRC), 4);
    poke(name, (1u << 20) + slot * 4096, e, 4096);
    if (sectors == 2)
        poke(name, (1u << 20) + (kind == LOG_WRAP ? 0 : slot + 1) * 4096, e + 4096, 4096);
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(vhdx_images_match_qemu)
{
    /* Dynamic, with writes (fully present blocks for the BAT checks). */
    check_map("dyn.vhdx", NULL, "");
    check_map("dyn.vhdx", "vhdx", "-f vhdx");
    /* Every block size qemu allows, with data in several blocks. */
    harness_sh("cd %s && for b in 1 2 4 8 16 32 64 128 256; do qemu-img create -q -f vhdx "
               "-o block_size=${b}M b$b.vhdx 300M && qemu-io -c 'write -P 1 0 4k' -c "
               "'write -P 2 150M 3M' -c 'write -P 3 299M 1M' b$b.vhdx >/dev/null; done", dir);
    check_map("b1.vhdx", NULL, "");
    check_map("b2.vhdx", NULL, "");
    check_map("b4.vhdx", NULL, "");
    check_map("b8.vhdx", NULL, "");
    check_map("b16.vhdx", NULL, "");
    check_map("b32.vhdx", NULL, "");
    check_map("b64.vhdx", NULL, "");
    check_map("b128.vhdx", NULL, "");
    check_map("b256.vhdx", NULL, "");
    harness_sh("rm -f %s/b*.vhdx", dir);
    /* Fixed, odd sizes, empty, a large empty one, a bigger log. */
    harness_sh("cd %s && qemu-img create -q -f vhdx -o subformat=fixed fixed.vhdx 64M && "
               "qemu-io -c 'write -P 1 1M 1M' fixed.vhdx >/dev/null && qemu-img create -q -f "
               "vhdx odd.vhdx 1000000000 && qemu-io -c 'write -P 1 999999000 1000' odd.vhdx "
               ">/dev/null && qemu-img create -q -f vhdx zero.vhdx 0 && qemu-img create -q -f "
               "vhdx big.vhdx 3T && qemu-img create -q -f vhdx -o log_size=4M,block_size=1M "
               "log4.vhdx 10M", dir);
    check_map("fixed.vhdx", NULL, "");
    check_map("odd.vhdx", NULL, "");
    check_map("zero.vhdx", NULL, "");
    check_map("big.vhdx", NULL, "");
    check_map("log4.vhdx", NULL, "");
    harness_sh("rm -f %s/big.vhdx %s/zero.vhdx", dir, dir);
    /* A disk size that is not a multiple of 512: qemu rounds it down. */
    copy("dyn.vhdx", "size1000.vhdx");
    poke_le("size1000.vhdx", MD_ITEMS + 8, 1000, 8);
    check_map("size1000.vhdx", NULL, "");
    /* Header 1 broken: header 2 is used.  Both the same: fine. */
    copy("dyn.vhdx", "h1bad.vhdx");
    poke_le("h1bad.vhdx", 0x10000 + 4, 0, 4);
    check_map("h1bad.vhdx", NULL, "");
    copy("dyn.vhdx", "same.vhdx");
    {
        static uint8_t h[4096];

        peek("same.vhdx", 0x20000, h, sizeof(h));
        poke("same.vhdx", 0x10000, h, sizeof(h));
    }
    check_map("same.vhdx", NULL, "");
    /* Unknown optional region and metadata items are ignored; so is the
     * physical sector size. */
    copy("dyn.vhdx", "optional.vhdx");
    poke_le("optional.vhdx", 0x30000 + 8, 3, 4);
    poke_le("optional.vhdx", 0x30000 + 16 + 64, 0x1234, 8);   /* a GUID, not BAT/metadata */
    poke_le("optional.vhdx", 0x30000 + 16 + 64 + 16, 5u << 20, 8);
    poke_le("optional.vhdx", 0x30000 + 16 + 64 + 24, 1u << 20, 4);
    poke_le("optional.vhdx", MD + 10, 6, 2);
    poke_le("optional.vhdx", MD + 32 + 5 * 32, 0x5678, 8);
    poke_le("optional.vhdx", MD + 32 + 5 * 32 + 24, 3, 4);
    poke_le("optional.vhdx", MD_ITEMS + 36, 1234, 4);
    fix_all("optional.vhdx");
    check_map("optional.vhdx", NULL, "");
}
END_TEST

START_TEST(vhdx_logs)
{
    /* A valid entry: qemu refuses a read-only open (instar never replays). */
    copy("dyn.vhdx", "l_empty.vhdx");
    make_log("l_empty.vhdx", LOG_EMPTY);
    check_err("l_empty.vhdx");
    copy("dyn.vhdx", "l_data.vhdx");
    make_log("l_data.vhdx", LOG_DATA);
    check_err("l_data.vhdx");
    copy("dyn.vhdx", "l_wrap.vhdx");
    make_log("l_wrap.vhdx", LOG_WRAP);
    check_err("l_wrap.vhdx");
    /* A valid entry header with a bad descriptor fails the open. */
    copy("dyn.vhdx", "l_desc.vhdx");
    make_log("l_desc.vhdx", LOG_BAD_DESC);
    check_err("l_desc.vhdx");
    /* No valid entry: nothing to replay. */
    copy("dyn.vhdx", "l_crc.vhdx");
    make_log("l_crc.vhdx", LOG_BAD_CRC);
    check_map("l_crc.vhdx", NULL, "");
    copy("dyn.vhdx", "l_guid.vhdx");
    make_log("l_guid.vhdx", LOG_GUID_ONLY);
    check_map("l_guid.vhdx", NULL, "");
    /* Log fields. */
    copy("dyn.vhdx", "l_off.vhdx");
    poke_headers("l_off.vhdx", 72, (1u << 20) + 4096, 8);
    check_err("l_off.vhdx");
    copy("dyn.vhdx", "l_off0.vhdx");
    poke_headers("l_off0.vhdx", 72, 0, 8);
    check_err("l_off0.vhdx");
    copy("dyn.vhdx", "l_ver.vhdx");
    poke_headers("l_ver.vhdx", 64, 1, 2);
    check_err("l_ver.vhdx");
    copy("l_guid.vhdx", "l_len.vhdx");
    poke_headers("l_len.vhdx", 68, (1u << 20) + 4096, 4);
    check_err("l_len.vhdx");
    copy("l_guid.vhdx", "l_eio.vhdx");
    poke_headers("l_eio.vhdx", 72, 0x7ffffffffff00000ull, 8);
    check_err("l_eio.vhdx");
}
END_TEST

/* A copy of dyn.vhdx with the metadata item `item`'s field at `field`
 * set to (v, n bytes). */
static void item_case(const char *name, unsigned item, uint64_t field, uint64_t v, size_t n)
{
    copy("dyn.vhdx", name);
    poke_le(name, MD + 32 + item * 32 + field, v, n);
    check_err(name);
}

START_TEST(vhdx_malformed)
{
    static const uint8_t parent_guid[16] = {0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
                                            0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c};
    static const uint8_t other_guid[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    static const uint32_t block_sizes[] = {0, 512, 3u << 20, (1u << 20) + 512, 512u << 20};
    uint8_t item0[16];

    /* File identifier and headers. */
    harness_sh("cd %s && : > m_empty.vhdx && printf vhdxfile > m_sig.vhdx", dir);
    check_err_fmt("m_empty.vhdx", "vhdx");
    check_err("m_sig.vhdx");
    copy("dyn.vhdx", "m_hdrs.vhdx");
    poke_le("m_hdrs.vhdx", 0x10000 + 4, 0, 4);
    poke_le("m_hdrs.vhdx", 0x20000 + 4, 0, 4);
    check_err("m_hdrs.vhdx");
    copy("dyn.vhdx", "m_seq.vhdx");
    poke_le("m_seq.vhdx", 0x10000 + 8, 7, 8);
    poke_le("m_seq.vhdx", 0x20000 + 8, 7, 8);
    poke_le("m_seq.vhdx", 0x10000 + 16, 1, 1);      /* the headers differ */
    fix_all("m_seq.vhdx");
    check_err("m_seq.vhdx");
    copy("dyn.vhdx", "m_ver.vhdx");
    poke_headers("m_ver.vhdx", 66, 2, 2);
    check_err("m_ver.vhdx");
    /* Region table. */
    copy("dyn.vhdx", "m_rtcrc.vhdx");
    poke_le("m_rtcrc.vhdx", 0x30000 + 4, 0, 4);
    check_err("m_rtcrc.vhdx");
    copy("dyn.vhdx", "m_rtsig.vhdx");
    poke("m_rtsig.vhdx", 0x30000, "rego", 4);
    fix_all("m_rtsig.vhdx");
    check_err("m_rtsig.vhdx");
    copy("dyn.vhdx", "m_rtcount.vhdx");
    poke_le("m_rtcount.vhdx", 0x30000 + 8, 2048, 4);
    fix_all("m_rtcount.vhdx");
    check_err("m_rtcount.vhdx");
    copy("dyn.vhdx", "m_overlap.vhdx");
    poke_le("m_overlap.vhdx", 0x30000 + 16 + 16, 1u << 20, 8);   /* BAT on the log */
    fix_all("m_overlap.vhdx");
    check_err("m_overlap.vhdx");
    copy("dyn.vhdx", "m_overlap2.vhdx");
    poke_le("m_overlap2.vhdx", 0x30000 + 16 + 24, 2u << 20, 4);  /* BAT into the metadata */
    fix_all("m_overlap2.vhdx");
    check_err("m_overlap2.vhdx");
    copy("dyn.vhdx", "m_dupbat.vhdx");
    peek("m_dupbat.vhdx", 0x30000 + 16, item0, 16);
    poke("m_dupbat.vhdx", 0x30000 + 48, item0, 16);
    fix_all("m_dupbat.vhdx");
    check_err("m_dupbat.vhdx");
    copy("dyn.vhdx", "m_required.vhdx");
    poke("m_required.vhdx", 0x30000 + 48, other_guid, 16);
    poke_le("m_required.vhdx", 0x30000 + 48 + 28, 1, 4);
    fix_all("m_required.vhdx");
    check_err("m_required.vhdx");
    copy("dyn.vhdx", "m_nomd.vhdx");
    poke_le("m_nomd.vhdx", 0x30000 + 8, 1, 4);
    fix_all("m_nomd.vhdx");
    check_err("m_nomd.vhdx");
    copy("dyn.vhdx", "m_mdeio.vhdx");
    poke_le("m_mdeio.vhdx", 0x30000 + 48 + 16, 0x7ffffffffff00000ull, 8);
    fix_all("m_mdeio.vhdx");
    check_err("m_mdeio.vhdx");
    copy("dyn.vhdx", "m_mdeof.vhdx");
    poke_le("m_mdeof.vhdx", 0x30000 + 48 + 16, 1ull << 40, 8);
    fix_all("m_mdeof.vhdx");
    check_err("m_mdeof.vhdx");
    /* Metadata table and items. */
    copy("dyn.vhdx", "m_mdsig.vhdx");
    poke("m_mdsig.vhdx", MD, "x", 1);
    check_err("m_mdsig.vhdx");
    copy("dyn.vhdx", "m_mdcount.vhdx");
    poke_le("m_mdcount.vhdx", MD + 10, 2048, 2);
    check_err("m_mdcount.vhdx");
    copy("dyn.vhdx", "m_mdmissing.vhdx");
    poke_le("m_mdmissing.vhdx", MD + 10, 4, 2);
    check_err("m_mdmissing.vhdx");
    copy("dyn.vhdx", "m_mddup.vhdx");
    peek("m_mddup.vhdx", MD + 32, item0, 16);
    poke("m_mddup.vhdx", MD + 64, item0, 16);
    check_err("m_mddup.vhdx");
    copy("dyn.vhdx", "m_mdreq.vhdx");
    poke_le("m_mdreq.vhdx", MD + 10, 6, 2);
    poke("m_mdreq.vhdx", MD + 32 + 5 * 32, other_guid, 16);
    poke_le("m_mdreq.vhdx", MD + 32 + 5 * 32 + 24, 4, 4);
    check_err("m_mdreq.vhdx");
    /* Differencing disks: qemu 7.2 opens none. */
    copy("dyn.vhdx", "m_parent.vhdx");
    poke_le("m_parent.vhdx", MD + 10, 6, 2);
    poke("m_parent.vhdx", MD + 32 + 5 * 32, parent_guid, 16);
    check_err("m_parent.vhdx");
    copy("dyn.vhdx", "m_hasparent.vhdx");
    poke_le("m_hasparent.vhdx", MD_ITEMS + 4, 2, 4);
    check_err("m_hasparent.vhdx");
    for (size_t i = 0; i < sizeof(block_sizes) / sizeof(block_sizes[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "m_bs%zu.vhdx", i);
        copy("dyn.vhdx", name);
        poke_le(name, MD_ITEMS, block_sizes[i], 4);
        check_err(name);
    }
    copy("dyn.vhdx", "m_lss.vhdx");
    poke_le("m_lss.vhdx", MD_ITEMS + 32, 4096, 4);
    check_err("m_lss.vhdx");
    copy("dyn.vhdx", "m_vsize.vhdx");
    poke_le("m_vsize.vhdx", MD_ITEMS + 8, 1ull << 50, 8);          /* BAT too small */
    check_err("m_vsize.vhdx");
    item_case("m_itemeof.vhdx", 1, 16, 0xfffffff0u, 4);  /* size item past EOF: 0 */
    /* BAT entries (qemu prints these on their own line). */
    copy("dyn.vhdx", "m_batstart.vhdx");
    poke_le("m_batstart.vhdx", BAT + 8, (64ull << 20) | 6, 8);
    check_err("m_batstart.vhdx");
    copy("dyn.vhdx", "m_batend.vhdx");
    poke_le("m_batend.vhdx", BAT + 16, (36ull << 20) | 6, 8);
    check_err("m_batend.vhdx");
    copy("dyn.vhdx", "m_batover.vhdx");
    poke_le("m_batover.vhdx", BAT + 24, 0xfffffffffff00006ull, 8);
    check_err("m_batover.vhdx");
    copy("dyn.vhdx", "m_batregion.vhdx");
    poke_le("m_batregion.vhdx", BAT + 24, (3ull << 20) | 6, 8);    /* onto the metadata */
    check_err("m_batregion.vhdx");
    copy("dyn.vhdx", "m_cut.vhdx");
    harness_sh("cd %s && truncate -s 20M m_cut.vhdx", dir);
    check_err("m_cut.vhdx");

    /* Deliberate differences (docs/formats/vhdx.md). */
    copy("dyn.vhdx", "m_bateof.vhdx");
    poke_le("m_bateof.vhdx", 0x30000 + 16 + 16, 1ull << 30, 8);    /* BAT past the end */
    fix_all("m_bateof.vhdx");
    check_refused("m_bateof.vhdx", "beyond the end");
    copy("dyn.vhdx", "m_batwrap.vhdx");
    poke_le("m_batwrap.vhdx", MD_ITEMS + 8, ((1ull << 32) + 1) << 23, 8);
    check_refused("m_batwrap.vhdx", "overflows");
}
END_TEST

static void setup(void)
{
    if (mkdtemp(dir) == NULL)
        abort();
    harness_sh("cd %s && qemu-img create -q -f vhdx dyn.vhdx 100M && qemu-io -c "
               "'write -P 1 0 4k' -c 'write -P 2 20M 9M' -c 'write -P 3 99M 1M' dyn.vhdx "
               ">/dev/null", dir);
}

static void teardown(void)
{
    harness_sh("rm -rf %s", dir);
}

static Suite *suite(void)
{
    Suite *s = suite_create("img_vhdx");
    TCase *tc = tcase_create("vhdx");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vhdx_images_match_qemu);
    tcase_add_test(tc, vhdx_logs);
    tcase_add_test(tc, vhdx_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
