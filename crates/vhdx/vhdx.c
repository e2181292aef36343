/* vhdx.c: the vhdx format, validated as qemu 7.2 validates it on a read-only
 * open ([MS-VHDX] v1.0: headers, log, region table, metadata, BAT).
 *
 * qemu's vhdx driver has no block-status function, so qemu-img counts the
 * whole disk as data: map() says so.  What matters is refusing exactly the
 * images qemu refuses, in qemu's order and with its texts: most of them are
 * bare errno strings ("Invalid argument", "Operation not supported"), a few
 * are printed on their own line (region overlaps, BAT entries past the end
 * of the file).  The BAT is streamed once in 1 MiB requests; a BAT that lies
 * past the end of the file, or whose entry count qemu truncates to 32 bits,
 * is refused after qemu's checks (docs/formats/vhdx.md).
 */
#include <stdarg.h>

#include "img.h"

#include "rt.h"
#include "rt_fmt.h"
#include "vhdx_int.h"
#include "vhdx_spec.h"

#define VHDX_MAX_REGIONS (VHDX_RT_MAX_ENTRIES + 1)  /* the log, then the table's */

/* The regions qemu registers, in registration order; overlaps are checked
 * against all of them (qemu's vhdx_region_check). */
struct vhdx_regions {
    uint32_t n;
    uint64_t start[VHDX_MAX_REGIONS];
    uint64_t end[VHDX_MAX_REGIONS];    /* start + length, wrapping as qemu's */
    uint32_t sorted[VHDX_MAX_REGIONS]; /* non-wrapping regions by (start, end) */
    uint32_t n_sorted;
};

static const uint8_t guid_bat[VHDX_GUID_LEN] = {
    0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
    0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
static const uint8_t guid_metadata[VHDX_GUID_LEN] = {
    0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
    0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
/* The metadata items qemu knows, in its META_*_PRESENT bit order. */
enum { MD_FILE_PARAMS, MD_VIRTUAL_SIZE, MD_PAGE83, MD_LOGICAL_SECTOR, MD_PHYSICAL_SECTOR,
       MD_PARENT_LOCATOR, MD_ITEMS };
static const uint8_t guid_items[MD_ITEMS][VHDX_GUID_LEN] = {
    {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
     0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b},
    {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
     0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8},
    {0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
     0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46},
    {0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
     0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f},
    {0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
     0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56},
    {0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
     0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c},
};
#define MD_ALL_REQUIRED 0x1Fu   /* every item but the parent locator */

/* What open() learns, for the checks that follow. */
struct vhdx_geom {
    uint64_t bat_off;        /* BAT region, bytes */
    uint32_t bat_len;        /* BAT region length, bytes */
    uint64_t md_off;         /* metadata region, bytes */
    uint32_t block_size;     /* bytes, a power of two, 1 MiB .. 256 MiB */
    uint64_t chunk_ratio;    /* payload blocks per sector bitmap block */
    uint32_t chunk_bits;     /* log2(chunk_ratio) */
    uint64_t disk_size;      /* the virtual disk size item, bytes */
};

/* ---- shared helpers -------------------------------------------------------- */

bool vhdx_range_ok(uint64_t off, uint64_t len)
{
    return img_qemu_range_ok(off, len);
}

enum img_err vhdx_read(struct img *img, uint64_t off, uint64_t len, uint8_t *buf)
{
    uint64_t size = img->io->size;
    uint64_t n = off < size ? (size - off < len ? size - off : len) : 0;

    memset(buf + n, 0, len - n);
    while (n >= (64u << 10)) {
        struct abi_extent e;
        uint64_t h;

        if (img->io->extent(img->io->ctx, off, &e) != 1 || e.kind != ABI_EXTENT_HOLE ||
            e.length == 0)
            break;
        h = e.length < n ? e.length : n;
        memset(buf, 0, h);
        buf += h;
        off += h;
        n -= h;
    }
    return img_read(img, off, n, buf);
}

uint32_t vhdx_crc32c(const struct vhdx_state *st, uint32_t crc, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        crc = st->crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

static void vhdx_crc_init(struct vhdx_state *st)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        st->crc_table[i] = c;
    }
}

/* The CRC-32C of (buf, len) with its 4-byte checksum field at `field`
 * taken as zero equals the stored one. */
static bool vhdx_crc_ok(const struct vhdx_state *st, const uint8_t *buf, size_t len,
                        size_t field)
{
    static const uint8_t zero[4];
    uint32_t crc = vhdx_crc32c(st, 0xFFFFFFFFu, buf, field);

    crc = vhdx_crc32c(st, crc, zero, 4);
    crc = vhdx_crc32c(st, crc, buf + field + 4, len - field - 4);
    return ~crc == img_le32(buf + field);
}

static enum img_err vhdx_errno(struct img *img, const char *text)
{
    /* qemu names the file before these: the host prints both names. */
    return img_fail(img, IMG_ERR_OPEN_ERRNO, "%s", text);
}

/* qemu's error_report() line for a bad BAT entry, then EINVAL. */
__attribute__((format(printf, 2, 3)))
static enum img_err bat_error(struct img *img, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_vformat(img->note, sizeof(img->note), fmt, ap);
    va_end(ap);
    img->note_raw = false;
    return vhdx_errno(img, "Invalid argument");
}

static int vhdx_probe(const uint8_t *buf, size_t len)
{
    return len >= 8 && memcmp(buf, "vhdxfile", 8) == 0 ? 100 : 0;
}

/* ---- regions --------------------------------------------------------------- */

/* qemu's overlap test, with its wrapping ends. */
static bool region_overlaps(uint64_t start, uint64_t end, uint64_t r_start, uint64_t r_end)
{
    return !(start >= r_end || end <= r_start);
}

/* qemu's error_report() for an overlap with the newest overlapping region
 * (its list is newest first).  qemu prints the last number with "%.0"
 * precision: 0 prints nothing. */
static enum img_err region_conflict(struct img *img, const struct vhdx_regions *r,
                                    uint64_t start, uint64_t end)
{
    for (uint32_t i = r->n; i-- > 0;) {
        if (!region_overlaps(start, end, r->start[i], r->end[i]))
            continue;
        if (r->end[i] == 0)
            img_note(img, false, "VHDX region %llu-%llu overlaps with region %llu-",
                     (unsigned long long)start, (unsigned long long)end,
                     (unsigned long long)r->start[i]);
        else
            img_note(img, false, "VHDX region %llu-%llu overlaps with region %llu-%llu",
                     (unsigned long long)start, (unsigned long long)end,
                     (unsigned long long)r->start[i], (unsigned long long)r->end[i]);
        return vhdx_errno(img, "Invalid argument");
    }
    return IMG_OK;
}

static void region_add(struct vhdx_regions *r, uint64_t start, uint64_t len)
{
    r->start[r->n] = start;
    r->end[r->n] = start + len;
    r->n++;
}

/* Index the non-wrapping regions by (start, end) for the BAT checks: they
 * are pairwise disjoint (each was checked against the others), so their
 * ends are sorted too and one binary search finds any overlap. */
static void region_index(struct vhdx_regions *r)
{
    r->n_sorted = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t j;

        if (r->end[i] < r->start[i])
            continue; /* wrapped: cannot overlap a block below 2^63 */
        for (j = r->n_sorted; j > 0; j--) {
            uint32_t p = r->sorted[j - 1];

            if (r->start[p] < r->start[i] ||
                (r->start[p] == r->start[i] && r->end[p] <= r->end[i]))
                break;
            r->sorted[j] = p;
        }
        r->sorted[j] = i;
        r->n_sorted++;
    }
}

/* Does [start, end) (end > start, no wrap) overlap a registered region? */
static bool region_hit(const struct vhdx_regions *r, uint64_t start, uint64_t end)
{
    uint32_t lo = 0;
    uint32_t hi = r->n_sorted;

    /* The first region whose end is past start. */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (r->end[r->sorted[mid]] > start)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo < r->n_sorted && r->start[r->sorted[lo]] < end;
}

/* ---- open ------------------------------------------------------------------ */

/* vhdx_parse_header(): the current header (the valid one with the higher
 * sequence number) into cur[VHDX_HEADER_LEN]. */
static enum img_err vhdx_headers(struct img *img, struct vhdx_state *st, uint8_t *cur)
{
    uint8_t *h1 = st->win;
    uint8_t *h2 = st->win + VHDX_HEADER_LEN;
    bool v1;
    bool v2;
    const uint8_t *pick = h1;
    enum img_err err;

    err = vhdx_read(img, VHDX_HEADER1_OFF, VHDX_HEADER_LEN, h1);
    if (err == IMG_OK)
        err = vhdx_read(img, VHDX_HEADER2_OFF, VHDX_HEADER_LEN, h2);
    if (err != IMG_OK)
        return err;
    v1 = vhdx_crc_ok(st, h1, VHDX_HEADER_LEN, VHDX_HDR_CHECKSUM) &&
         img_le32(h1) == VHDX_HEADER_SIGNATURE && img_le16(h1 + VHDX_HDR_VERSION) == 1;
    v2 = vhdx_crc_ok(st, h2, VHDX_HEADER_LEN, VHDX_HDR_CHECKSUM) &&
         img_le32(h2) == VHDX_HEADER_SIGNATURE && img_le16(h2 + VHDX_HDR_VERSION) == 1;
    if (v1 && v2) {
        uint64_t s1 = img_le64(h1 + VHDX_HDR_SEQUENCE);
        uint64_t s2 = img_le64(h2 + VHDX_HDR_SEQUENCE);

        /* Equal sequence numbers are corrupt, unless the headers are the
         * same (disk2vhd writes two identical ones). */
        if (s1 == s2 && memcmp(h1, h2, VHDX_HEADER_CMP_LEN) != 0)
            v1 = v2 = false;
        else
            pick = s2 > s1 ? h2 : h1;
    } else {
        pick = v1 ? h1 : h2;
    }
    if (!v1 && !v2)
        return img_fail(img, IMG_ERR_OPEN, "No valid VHDX header found");
    memcpy(cur, pick, VHDX_HEADER_LEN);
    return IMG_OK;
}

/* vhdx_open_region_tables(). */
static enum img_err vhdx_region_table(struct img *img, struct vhdx_state *st,
                                      struct vhdx_regions *r, struct vhdx_geom *g)
{
    uint8_t *rt = st->win;
    bool bat = false;
    bool md = false;
    uint32_t count;
    enum img_err err;

    err = vhdx_read(img, VHDX_REGION_TABLE_OFF, VHDX_BLOCK_64K, rt);
    if (err != IMG_OK)
        return err;
    if (!vhdx_crc_ok(st, rt, VHDX_BLOCK_64K, VHDX_RT_CHECKSUM))
        return vhdx_errno(img, "Invalid argument"); /* corrupt table */
    if (img_le32(rt) != VHDX_RT_SIGNATURE)
        return vhdx_errno(img, "Invalid argument"); /* not a region table */
    count = img_le32(rt + VHDX_RT_COUNT);
    if (count > VHDX_RT_MAX_ENTRIES)
        return vhdx_errno(img, "Invalid argument"); /* the spec's maximum */
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = rt + VHDX_RT_ENTRIES + i * VHDX_RT_ENTRY_LEN;
        uint64_t off = img_le64(e + VHDX_RTE_OFFSET);
        uint32_t len = img_le32(e + VHDX_RTE_LENGTH);

        /* Regions must not overlap each other or the log. */
        err = region_conflict(img, r, off, off + len);
        if (err != IMG_OK)
            return err;
        region_add(r, off, len);
        if (memcmp(e + VHDX_RTE_GUID, guid_bat, VHDX_GUID_LEN) == 0) {
            if (bat)
                return vhdx_errno(img, "Invalid argument"); /* must be unique */
            bat = true;
            g->bat_off = off;
            g->bat_len = len;
        } else if (memcmp(e + VHDX_RTE_GUID, guid_metadata, VHDX_GUID_LEN) == 0) {
            if (md)
                return vhdx_errno(img, "Invalid argument"); /* must be unique */
            md = true;
            g->md_off = off;
        } else if (img_le32(e + VHDX_RTE_FLAGS) & VHDX_RTE_REQUIRED) {
            /* A required region instar (and qemu) does not know. */
            return vhdx_errno(img, "Operation not supported");
        }
    }
    if (!bat || !md)
        return vhdx_errno(img, "Invalid argument"); /* both regions are required */
    return IMG_OK;
}

/* bdrv_pread() of a small metadata item at (region + item offset). */
static enum img_err vhdx_item(struct img *img, const struct vhdx_geom *g, const uint8_t *entry,
                              uint32_t len, uint8_t *out)
{
    uint64_t off = g->md_off + img_le32(entry + VHDX_MDE_OFFSET);

    if (!vhdx_range_ok(off, len))
        return vhdx_errno(img, "Input/output error"); /* past qemu's read limit */
    return vhdx_read(img, off, len, out);
}

/* vhdx_parse_metadata(). */
static enum img_err vhdx_metadata(struct img *img, struct vhdx_state *st, struct vhdx_geom *g)
{
    uint8_t *md = st->win;
    const uint8_t *items[MD_ITEMS] = {NULL};
    uint32_t present = 0;
    uint32_t count;
    uint8_t fp[8];
    uint8_t vs[8];
    uint8_t ls[4];
    uint8_t ps[4];
    uint32_t logical;
    uint32_t spb;
    enum img_err err;

    if (!vhdx_range_ok(g->md_off, VHDX_MD_TABLE_LEN))
        return vhdx_errno(img, "Input/output error"); /* past qemu's read limit */
    err = vhdx_read(img, g->md_off, VHDX_MD_TABLE_LEN, md);
    if (err != IMG_OK)
        return err;
    if (img_le64(md) != VHDX_MD_SIGNATURE)
        return vhdx_errno(img, "Invalid argument"); /* not a metadata table */
    count = img_le16(md + VHDX_MD_COUNT);
    if (count * VHDX_MD_ENTRY_LEN > VHDX_MD_TABLE_LEN - VHDX_MD_ENTRIES)
        return vhdx_errno(img, "Invalid argument"); /* more than 2047 entries */
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = md + VHDX_MD_ENTRIES + i * VHDX_MD_ENTRY_LEN;
        int k;

        for (k = 0; k < MD_ITEMS; k++) {
            if (memcmp(e + VHDX_MDE_GUID, guid_items[k], VHDX_GUID_LEN) == 0)
                break;
        }
        if (k < MD_ITEMS) {
            if (present & (1u << k))
                return vhdx_errno(img, "Invalid argument"); /* duplicate item */
            present |= 1u << k;
            items[k] = e;
        } else if (img_le32(e + VHDX_MDE_FLAGS) & VHDX_MDE_REQUIRED) {
            return vhdx_errno(img, "Operation not supported"); /* unknown, required */
        }
    }
    /* qemu does not open differencing disks: a parent locator, or a missing
     * item, is "not supported". */
    if (present != MD_ALL_REQUIRED)
        return vhdx_errno(img, "Operation not supported");
    err = vhdx_item(img, g, items[MD_FILE_PARAMS], sizeof(fp), fp);
    if (err != IMG_OK)
        return err;
    /* A parent without a locator is inconsistent. */
    if (img_le32(fp + VHDX_FP_FLAGS) & VHDX_FP_HAS_PARENT)
        return vhdx_errno(img, "Invalid argument");
    err = vhdx_item(img, g, items[MD_VIRTUAL_SIZE], sizeof(vs), vs);
    if (err == IMG_OK)
        err = vhdx_item(img, g, items[MD_LOGICAL_SECTOR], sizeof(ls), ls);
    if (err == IMG_OK)
        err = vhdx_item(img, g, items[MD_PHYSICAL_SECTOR], sizeof(ps), ps);
    if (err != IMG_OK)
        return err;
    g->block_size = img_le32(fp + VHDX_FP_BLOCK_SIZE);
    g->disk_size = img_le64(vs);
    logical = img_le32(ls);
    if (g->block_size < VHDX_BLOCK_MIN || g->block_size > VHDX_BLOCK_MAX)
        return vhdx_errno(img, "Invalid argument"); /* the spec's range */
    /* qemu reads 512-byte logical sectors only. */
    if (logical != 512)
        return vhdx_errno(img, "Operation not supported");
    spb = g->block_size / logical;
    g->chunk_ratio = (uint64_t)VHDX_SECTORS_PER_BLOCK_MAX * logical / g->block_size;
    /* Sizes are shifts (T19: CVE-2014-0148). */
    if ((spb & (spb - 1)) != 0 || (g->chunk_ratio & (g->chunk_ratio - 1)) != 0 ||
        (g->block_size & (g->block_size - 1)) != 0)
        return vhdx_errno(img, "Invalid argument");
    g->chunk_bits = 0;
    while ((1ull << g->chunk_bits) < g->chunk_ratio)
        g->chunk_bits++;
    return IMG_OK;
}

/* vhdx_check_bat_entries() over the first `entries` BAT entries: a fully
 * present block must lie inside the file and outside every region. */
static enum img_err vhdx_bat(struct img *img, struct vhdx_state *st, struct vhdx_regions *r,
                             const struct vhdx_geom *g, uint32_t entries, uint64_t disk_bytes)
{
    uint64_t file_len = (img->io->size + 511) & ~(uint64_t)511;  /* qemu's, in sectors */
    uint64_t bytes = (uint64_t)entries * 8;
    uint64_t payblocks = g->chunk_ratio;
    enum img_err err;

    /* Entries past the end of the file read as zeros: nothing to check. */
    if (g->bat_off >= img->io->size)
        bytes = 0;
    else if (bytes > img->io->size - g->bat_off)
        bytes = (img->io->size - g->bat_off + 7) & ~(uint64_t)7;
    region_index(r);
    st->win_len = 0;
    for (uint64_t done = 0; done < bytes;) {
        uint64_t n = bytes - done < VHDX_WINDOW ? bytes - done : VHDX_WINDOW;

        err = vhdx_read(img, g->bat_off + done, n, st->win);
        if (err != IMG_OK)
            return err;
        for (uint64_t k = 0; k < n; k += 8) {
            uint64_t i = (done + k) / 8;
            uint64_t e = img_le64(st->win + k);
            uint64_t off = e & VHDX_BAT_OFFSET_MASK;
            uint64_t left = disk_bytes - i * g->block_size;   /* wraps as qemu's */
            uint64_t len = left < g->block_size ? left : g->block_size;

            if ((e & VHDX_BAT_STATE_MASK) != VHDX_BAT_FULLY_PRESENT)
                continue;
            len = (uint32_t)len;
            if (off > (uint64_t)INT64_MAX - g->block_size)
                return bat_error(img, "VHDX BAT entry %llu offset overflow.",
                                 (unsigned long long)i);
            if (off >= file_len)
                return bat_error(img, "VHDX BAT entry %llu start offset %llu points after end "
                                 "of file (%lld). Image has probably been truncated.",
                                 (unsigned long long)i, (unsigned long long)off,
                                 (long long)file_len);
            if (off + len > file_len)
                return bat_error(img, "VHDX BAT entry %llu end offset %llu points after end of "
                                 "file (%lld). Image has probably been truncated.",
                                 (unsigned long long)i, (unsigned long long)(off + len - 1),
                                 (long long)file_len);
            /* qemu counts fully present entries, not indexes, to tell payload
             * blocks from sector bitmap blocks. */
            if (payblocks--) {
                if (region_hit(r, off, off + g->block_size))
                    return region_conflict(img, r, off, off + g->block_size);
            } else {
                payblocks = g->chunk_ratio;
            }
        }
        done += n;
    }
    return IMG_OK;
}

static enum img_err vhdx_open(struct img *img)
{
    struct vhdx_state *st = img_alloc(img->arena, sizeof(*st));
    struct vhdx_regions *r = img_alloc(img->arena, sizeof(*r));
    uint8_t *cur = img_alloc(img->arena, VHDX_HEADER_LEN);
    struct vhdx_geom g;
    uint8_t sig[8];
    uint64_t blocks;
    uint32_t entries;
    uint64_t wide;
    enum img_err err;

    if (st == NULL || r == NULL || cur == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    st->win = img_alloc(img->arena, VHDX_WINDOW);
    if (st->win == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    img->state = st;
    vhdx_crc_init(st);
    memset(&g, 0, sizeof(g));
    err = vhdx_read(img, VHDX_FILE_ID_OFF, sizeof(sig), sig);
    if (err != IMG_OK)
        return err;
    if (memcmp(sig, "vhdxfile", 8) != 0)
        return vhdx_errno(img, "Invalid argument"); /* not a VHDX file */
    err = vhdx_headers(img, st, cur);
    if (err != IMG_OK)
        return err;
    region_add(r, img_le64(cur + VHDX_HDR_LOG_OFFSET), img_le32(cur + VHDX_HDR_LOG_LENGTH));
    err = vhdx_log_check(img, st, cur);
    if (err != IMG_OK)
        return err;
    err = vhdx_region_table(img, st, r, &g);
    if (err != IMG_OK)
        return err;
    err = vhdx_metadata(img, st, &g);
    if (err != IMG_OK)
        return err;
    /* vhdx_calc_bat_entries(), in qemu's 32-bit arithmetic: a payload entry
     * per block and a sector bitmap entry per chunk (an empty disk gets
     * (0 - 1) >> chunk_bits entries, as qemu creates it). */
    blocks = (uint32_t)((g.disk_size + g.block_size - 1) / g.block_size);  /* wraps */
    entries = (uint32_t)blocks + (((uint32_t)blocks - 1) >> g.chunk_bits);
    if (entries > g.bat_len / 8)
        return vhdx_errno(img, "Invalid argument"); /* the BAT region is too small */
    if (!vhdx_range_ok(g.bat_off, g.bat_len))
        return vhdx_errno(img, "Input/output error"); /* past qemu's read limit */
    err = vhdx_bat(img, st, r, &g, entries, g.disk_size & ~(uint64_t)511);
    if (err != IMG_OK)
        return err;
    /* The block layer's limit on the disk size. */
    if ((g.disk_size & ~(uint64_t)511) > IMG_QEMU_MAX_LENGTH)
        return img_fail(img, IMG_ERR_OPEN,
                        "Could not refresh total sector count: File too large");
    /* instar's own checks.  qemu's 32-bit count can wrap to a small one and
     * map blocks past the BAT it read (T19). */
    blocks = g.disk_size / g.block_size + (g.disk_size % g.block_size != 0);
    wide = blocks + (blocks == 0 ? (uint64_t)UINT32_MAX >> g.chunk_bits
                                 : (blocks - 1) >> g.chunk_bits);
    if (wide != entries)
        return img_fail(img, IMG_ERR_OPEN, "VHDX BAT entry count overflows (%llu blocks)",
                        (unsigned long long)blocks);
    /* The entries qemu reads must be in the file (T29: it reads zeros). */
    if ((uint64_t)entries * 8 > img->io->size || g.bat_off > img->io->size - (uint64_t)entries * 8)
        return img_fail(img, IMG_ERR_OPEN, "VHDX BAT at offset %llu lies beyond the end of "
                        "the file", (unsigned long long)g.bat_off);
    img->virtual_size = g.disk_size & ~(uint64_t)511;
    return IMG_OK;
}

static enum img_err vhdx_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    /* qemu's vhdx driver reports no block status: everything is data. */
    (void)img;
    (void)off;
    out->length = max;
    out->status = IMG_DATA;
    return IMG_OK;
}

const struct img_driver img_driver_vhdx = {
    .name = "vhdx",
    .abi_fmt = ABI_FMT_VHDX,
    .probe = vhdx_probe,
    .open = vhdx_open,
    .map = vhdx_map,
};
