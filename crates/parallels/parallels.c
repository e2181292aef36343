/* parallels.c: the Parallels expandable format, read as qemu-img 7.2 reads it.
 *
 * open() checks the header in QEMU's order and with its messages: both
 * magics ("WithoutFreeSpace": BAT in sectors, 32-bit size;
 * "WithouFreSpacExt": BAT in clusters), the cluster size, the BAT size and
 * QEMU's request limit for reading header and BAT in one go.  The in-use
 * flag only matters to read-write opens and is ignored, as by QEMU.  The
 * format extension cluster, which QEMU 7.2 reads on read-only opens, is
 * validated as QEMU does: magic, MD5 checksum, feature list and dirty
 * bitmap features (whose contents measure does not need).  Where QEMU's
 * checks end in an assertion failure or would read outside the extension
 * cluster, instar refuses the image with a message of its own.
 *
 * map(): a cluster with a non-zero BAT entry is data as a whole; clusters
 * past the BAT are unallocated.  The BAT is streamed in 1 MiB windows.  A
 * BAT QEMU would read past the end of the file (as zeros) is refused
 * instead (security.md T29, docs/formats/parallels.md).
 */
#include "img.h"

#include "parallels_md5.h"
#include "parallels_spec.h"
#include "rt.h"
#include "rt_fmt.h"

#define PRL_QEMU_MEM_ALIGN 4096u                  /* bdrv_opt_mem_align() of a file */
#define PRL_WINDOW (1ull << 20)                   /* bytes per table read */
/* Distinct bitmaps instar tracks in an extension (QEMU has no limit, but
 * allocates each bitmap in memory). */
#define PRL_MAX_BITMAPS 4096u

struct prl_state {
    uint64_t cluster;       /* cluster bytes: tracks * 512 */
    uint64_t bat_entries;   /* BAT entries */
    struct img_table bat;   /* the BAT: little-endian u32 entries after the header */
};

/* The extension cluster, read through a window. */
struct prl_ext {
    uint64_t off;           /* byte offset of the cluster in the file */
    uint64_t len;           /* cluster bytes */
    uint8_t *win;           /* PRL_WINDOW bytes */
    uint64_t win_off;       /* cluster offset of win[0] */
    uint64_t win_len;       /* bytes held (0: none) */
    uint8_t (*ids)[16];     /* bitmap ids seen, PRL_MAX_BITMAPS */
    uint32_t n_ids;
};


static int parallels_probe(const uint8_t *buf, size_t len)
{
    uint8_t h[20] = {0};

    /* QEMU probes a zero-padded 2048-byte buffer: missing bytes are zeros. */
    memcpy(h, buf, len < sizeof(h) ? len : sizeof(h));
    if (img_le32(h + PRL_HDR_VERSION) != PRL_VERSION)
        return 0;
    return memcmp(h, PRL_MAGIC, 16) == 0 || memcmp(h, PRL_MAGIC2, 16) == 0 ? 100 : 0;
}

/* Copy `n` (<= 64) bytes at cluster offset `at` of the extension. */
static enum img_err prl_ext_get(struct img *img, struct prl_ext *e, uint64_t at, size_t n,
                                uint8_t *out)
{
    if (e->win_len == 0 || at < e->win_off || at - e->win_off > e->win_len ||
        n > e->win_len - (at - e->win_off)) {
        uint64_t len = e->len - at;
        enum img_err err;

        if (len > PRL_WINDOW)
            len = PRL_WINDOW;
        err = img_read_zf(img, e->off + at, len, e->win);
        if (err != IMG_OK)
            return err;
        e->win_off = at;
        e->win_len = len;
    }
    memcpy(out, e->win + (at - e->win_off), n);
    return IMG_OK;
}

/* QEMU's hbitmap serialization of a `bytes`-long bitmap of 2^gbits-byte
 * granules: 64-bit words, in extension clusters of `cluster` bytes. */
static uint64_t prl_bitmap_clusters(uint64_t bytes, uint32_t gbits, uint64_t cluster)
{
    uint64_t words;

    if (bytes == 0)
        return 0;
    words = ((bytes - 1) >> gbits >> 6) + 1;
    return (words * 8 + cluster - 1) / cluster;
}

/* A dirty bitmap feature of `size` bytes at cluster offset `at`
 * (parallels_load_bitmap()). */
static enum img_err prl_ext_bitmap(struct img *img, struct prl_ext *e, int64_t total_sectors,
                                   uint64_t at, uint64_t size)
{
    uint8_t bf[PRL_BITMAP_HDR_LEN];
    uint64_t sectors;
    uint32_t gran;
    uint32_t gbits = 0;
    uint64_t l1_size;
    uint64_t tab_size;
    const uint8_t *id = bf + 8;
    enum img_err err;

    /* The feature must hold its own header. */
    if (size < PRL_BITMAP_HDR_LEN)
        return img_fail(img, IMG_ERR_OPEN,
                        "Too small Bitmap Feature area in Parallels Format Extension: %llu "
                        "bytes, expected at least %u bytes",
                        (unsigned long long)size, PRL_BITMAP_HDR_LEN);
    /* QEMU would read past its buffer. */
    if (at > e->len || PRL_BITMAP_HDR_LEN > e->len - at)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "Parallels Format Extension: bitmap feature beyond the extension "
                        "cluster");
    err = prl_ext_get(img, e, at, sizeof(bf), bf);
    if (err != IMG_OK)
        return err;
    sectors = img_le64(bf);
    gran = img_le32(bf + 24) << 9; /* in bytes, 32 bits as in QEMU */
    l1_size = img_le32(bf + 28);
    /* A bitmap covers the whole disk. */
    if (sectors != (uint64_t)total_sectors)
        return img_fail(img, IMG_ERR_OPEN,
                        "Bitmap size (in sectors) %lld differs from disk size in sectors %lld",
                        (long long)sectors, (long long)total_sectors);
    /* Its table lies inside the feature's data. */
    if (l1_size * 8 > size - PRL_BITMAP_HDR_LEN)
        return img_fail(img, IMG_ERR_OPEN,
                        "Bitmaps feature corrupted: l1 table exceeds extension data_size");
    /* bdrv_create_dirty_bitmap() asserts on such a granularity: QEMU aborts. */
    if (gran < 512 || (gran & (gran - 1)) != 0)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "Parallels Format Extension: invalid bitmap granularity %u "
                        "(qemu-img aborts)", gran);
    /* Bitmaps are named by their UUID: names must be unique. */
    for (uint32_t k = 0; k < e->n_ids; k++) {
        if (memcmp(e->ids[k], id, 16) == 0)
            return img_fail(img, IMG_ERR_OPEN,
                            "Bitmap already exists: %02x%02x%02x%02x-%02x%02x-%02x%02x-"
                            "%02x%02x-%02x%02x%02x%02x%02x%02x",
                            id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8],
                            id[9], id[10], id[11], id[12], id[13], id[14], id[15]);
    }
    /* Bounded memory for the names (a documented instar limit). */
    if (e->n_ids == PRL_MAX_BITMAPS)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "Parallels Format Extension: more than %u bitmaps", PRL_MAX_BITMAPS);
    memcpy(e->ids[e->n_ids++], id, 16);
    /* The bitmap's length is the disk's (bdrv_getlength()). */
    if (img_length_bad(total_sectors))
        return img_length_error(img, IMG_ERR_OPEN, "could not get length of device",
                                total_sectors);
    /* QEMU copies the L1 table out of its buffer. */
    if (l1_size * 8 > e->len - at - PRL_BITMAP_HDR_LEN)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "Parallels Format Extension: bitmap table beyond the extension cluster");
    while ((1u << gbits) < gran)
        gbits++;
    tab_size = prl_bitmap_clusters((uint64_t)total_sectors * 512, gbits, e->len);
    /* One table entry per cluster of serialized bitmap. */
    if (tab_size != l1_size)
        return img_fail(img, IMG_ERR_OPEN,
                        "Bitmap table size %u does not correspond to bitmap size and cluster "
                        "size. Expected %llu",
                        (uint32_t)l1_size, (unsigned long long)tab_size);
    for (uint64_t i = 0; i < l1_size; i++) {
        uint8_t b[8];
        uint64_t entry;
        uint64_t off;

        err = prl_ext_get(img, e, at + PRL_BITMAP_HDR_LEN + i * 8, sizeof(b), b);
        if (err != IMG_OK)
            return err;
        entry = img_le64(b);
        off = entry << 9; /* an int64_t offset in QEMU: wraps */
        /* 0: all clear, 1: all set, else a data cluster QEMU reads. */
        if (entry > 1 && (off > (uint64_t)INT64_MAX || !img_qemu_request_ok(off, e->len)))
            return img_fail(img, IMG_ERR_OPEN,
                            "Failed to read bitmap data cluster: Input/output error");
    }
    return IMG_OK;
}

/* The format extension cluster at sector `ext_off`
 * (parallels_read_format_extension()). */
static enum img_err prl_ext_check(struct img *img, uint64_t cluster, int64_t total_sectors,
                                  uint64_t ext_off)
{
    struct prl_ext e = {0};
    struct prl_md5 md5;
    uint8_t hdr[PRL_EXT_HDR_LEN];
    uint8_t sum[16];
    uint64_t pos = PRL_EXT_HDR_LEN;
    uint64_t remaining = cluster - PRL_EXT_HDR_LEN; /* QEMU's count: never lowered by data */
    enum img_err err;

    e.off = ext_off << 9;
    e.len = cluster;
    /* QEMU asserts a positive offset: it aborts on these. */
    if (e.off == 0 || e.off > (uint64_t)INT64_MAX)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "Parallels Format Extension offset %llu is invalid (qemu-img aborts)",
                        (unsigned long long)ext_off);
    /* Beyond QEMU's request limits: EIO. */
    if (!img_qemu_request_ok(e.off, e.len))
        return img_fail(img, IMG_ERR_OPEN,
                        "Failed to read Format Extension cluster: Input/output error");
    e.win = img_alloc(img->arena, PRL_WINDOW);
    e.ids = img_alloc(img->arena, 16ull * PRL_MAX_BITMAPS);
    if (e.win == NULL || e.ids == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    err = prl_ext_get(img, &e, 0, sizeof(hdr), hdr);
    if (err != IMG_OK)
        return err;
    /* Not an extension cluster (zeros past EOF included). */
    if (img_le64(hdr) != PRL_EXT_MAGIC)
        return img_fail(img, IMG_ERR_OPEN,
                        "Wrong parallels Format Extension magic: 0x%llx, expected: 0x%llx",
                        (unsigned long long)img_le64(hdr), (unsigned long long)PRL_EXT_MAGIC);
    /* The MD5 of the rest of the cluster, streamed; zeros past EOF. */
    prl_md5_init(&md5);
    for (uint64_t at = PRL_EXT_HDR_LEN; at < cluster;) {
        uint64_t n = cluster - at;
        uint64_t in_file;

        if (n > PRL_WINDOW)
            n = PRL_WINDOW;
        in_file = e.off + at < img->io->size ? img->io->size - (e.off + at) : 0;
        if (in_file == 0) {
            prl_md5_update(&md5, NULL, cluster - at);
            break;
        }
        err = prl_ext_get(img, &e, at, 1, sum);
        if (err != IMG_OK)
            return err;
        if (n > e.win_len - (at - e.win_off))
            n = e.win_len - (at - e.win_off);
        prl_md5_update(&md5, e.win + (at - e.win_off), n);
        at += n;
    }
    prl_md5_final(&md5, sum);
    /* A corrupt extension. */
    if (memcmp(sum, hdr + 8, 16) != 0)
        return img_fail(img, IMG_ERR_OPEN,
                        "Wrong checksum in Format Extension header. Format extension is "
                        "corrupted.");
    for (;;) {
        uint8_t fh[PRL_FEAT_HDR_LEN];
        uint64_t magic;
        uint64_t size;

        /* The list must end with an end marker inside the cluster. */
        if (remaining < PRL_FEAT_HDR_LEN)
            return img_fail(img, IMG_ERR_OPEN,
                            "Can not read feature header, as remaining bytes (%u) in Format "
                            "Extension is less than Feature header size (%u)",
                            (uint32_t)remaining, PRL_FEAT_HDR_LEN);
        /* QEMU does not lower `remaining` by the feature data it skips, so
         * it can read a header past its buffer: instar refuses. */
        if (pos > cluster || PRL_FEAT_HDR_LEN > cluster - pos)
            return img_fail(img, IMG_ERR_UNSUPPORTED,
                            "Parallels Format Extension: feature header beyond the extension "
                            "cluster");
        err = prl_ext_get(img, &e, pos, sizeof(fh), fh);
        if (err != IMG_OK)
            return err;
        pos += PRL_FEAT_HDR_LEN;
        remaining -= PRL_FEAT_HDR_LEN;
        magic = img_le64(fh);
        size = img_le32(fh + 16);
        /* No feature flags are defined. */
        if (img_le64(fh + 8) != 0)
            return img_fail(img, IMG_ERR_OPEN, "Flags for extension feature are unsupported");
        /* The data must fit what QEMU counts as left of the cluster. */
        if (size > remaining)
            return img_fail(img, IMG_ERR_OPEN,
                            "Feature data_size exceedes Format Extension cluster");
        if (magic == PRL_FEAT_END)
            return IMG_OK;
        /* Dirty bitmaps are the only feature QEMU knows. */
        if (magic != PRL_FEAT_BITMAP)
            return img_fail(img, IMG_ERR_OPEN, "Unknown feature: 0x%llx",
                            (unsigned long long)magic);
        err = prl_ext_bitmap(img, &e, total_sectors, pos, size);
        if (err != IMG_OK)
            return err;
        pos += (size + 7) & ~7ull; /* pos <= 2^31 + 2^32: no overflow */
    }
}

static enum img_err parallels_open(struct img *img)
{
    uint8_t h[PRL_HDR_LEN];
    struct prl_state *s;
    int64_t total_sectors;
    uint64_t tracks;
    uint64_t bat_bytes;
    uint64_t header_read;
    uint64_t data_end;
    uint64_t ext_off;
    enum img_err err;

    err = img_read_zf(img, 0, sizeof(h), h);
    if (err != IMG_OK)
        return err;
    total_sectors = (int64_t)img_le64(h + PRL_HDR_NB_SECTORS);
    /* Reachable with -f parallels only: the probe needs version and magic. */
    if (img_le32(h + PRL_HDR_VERSION) != PRL_VERSION)
        return img_fail(img, IMG_ERR_OPEN, "Image not in Parallels format");
    if (memcmp(h, PRL_MAGIC, 16) == 0)
        total_sectors &= 0xffffffff; /* the old format's size is 32 bits */
    else if (memcmp(h, PRL_MAGIC2, 16) != 0)
        return img_fail(img, IMG_ERR_OPEN, "Image not in Parallels format");
    tracks = img_le32(h + PRL_HDR_TRACKS);
    /* A zero cluster size would divide by zero (CVE-2014-0142, T17). */
    if (tracks == 0)
        return img_fail(img, IMG_ERR_OPEN, "Invalid image: Zero sectors per track");
    /* QEMU keeps cluster sizes in an int (with room for 513 of them). */
    if (tracks > PRL_MAX_TRACKS)
        return img_fail(img, IMG_ERR_OPEN, "Invalid image: Too big cluster");
    s = img_alloc(img->arena, sizeof(*s));
    if (s == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->cluster = tracks * 512;
    s->bat_entries = img_le32(h + PRL_HDR_BAT_ENTRIES);
    /* QEMU sizes the BAT buffer in an int. */
    if (s->bat_entries > PRL_MAX_BAT_ENTRIES)
        return img_fail(img, IMG_ERR_OPEN, "Catalog too large");
    /* QEMU reads header and BAT in one request, rounded up to its memory
     * alignment unless the data area starts before that (data_off is in
     * sectors but compared with bytes, as QEMU does). */
    bat_bytes = PRL_HDR_LEN + 4 * s->bat_entries;
    header_read = (bat_bytes + PRL_QEMU_MEM_ALIGN - 1) & ~(uint64_t)(PRL_QEMU_MEM_ALIGN - 1);
    data_end = img_le32(h + PRL_HDR_DATA_OFF);
    if (data_end == 0)
        data_end = (bat_bytes + 511) & ~511ull;
    if (data_end < header_read)
        header_read = bat_bytes;
    if (!img_qemu_request_ok(0, header_read))
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Input/output error");
    if (!img_in_file(img, PRL_HDR_LEN, 4 * s->bat_entries))
        return img_fail(img, IMG_ERR_OPEN,
                        "Parallels BAT (%llu entries) is beyond the end of the file",
                        (unsigned long long)s->bat_entries);
    ext_off = img_le64(h + PRL_HDR_EXT_OFF);
    if (ext_off != 0) {
        err = prl_ext_check(img, s->cluster, total_sectors, ext_off);
        if (err != IMG_OK)
            return err;
    }
    /* The block layer's checks of the size. */
    err = img_check_sectors(img, (uint64_t)total_sectors);
    if (err != IMG_OK)
        return err;
    s->bat.off = PRL_HDR_LEN;
    s->bat.entries = s->bat_entries;
    s->bat.esize = 4;
    s->bat.win_bytes = PRL_WINDOW;
    s->bat.win = img_alloc(img->arena, PRL_WINDOW);
    if (s->bat.win == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    img->state = s;
    img->virtual_size = (uint64_t)total_sectors * 512;
    return IMG_OK;
}


static enum img_err parallels_map(struct img *img, uint64_t off, uint64_t max,
                                  struct img_map *out)
{
    struct prl_state *s = img->state;
    uint64_t end = off + max;
    uint64_t pos = off;
    bool have = false;
    enum img_status st = IMG_UNALLOC;

    while (pos < end) {
        uint64_t i = pos / s->cluster;
        /* pos < 2^63 and the cluster < 2^31: no overflow. */
        uint64_t seg_end = pos - pos % s->cluster + s->cluster;
        enum img_status cur = IMG_UNALLOC;

        if (i >= s->bat_entries) {
            /* Past the BAT: unallocated. */
            seg_end = end;
        } else {
            uint64_t e;
            enum img_err err = img_table_entry(img, &s->bat, i, &e);

            if (err != IMG_OK)
                return err;
            cur = e != 0 ? IMG_DATA : IMG_UNALLOC;
            if (e == 0 && seg_end < end) {
                /* The whole run of empty entries up to `end` in one step. */
                uint64_t last = (end - 1) / s->cluster + 1;
                uint64_t k;

                err = img_table_skip_zeros(img, &s->bat, i + 1,
                                           last < s->bat_entries ? last : s->bat_entries, &k);
                if (err != IMG_OK)
                    return err;
                seg_end = k * s->cluster;
            }
            if (seg_end > end)
                seg_end = end;
        }
        if (have && cur != st)
            break;
        st = cur;
        have = true;
        pos = seg_end;
    }
    out->length = pos - off;
    out->status = st;
    return IMG_OK;
}

const struct img_driver img_driver_parallels = {
    .name = "parallels",
    .abi_fmt = ABI_FMT_PARALLELS,
    .probe = parallels_probe,
    .open = parallels_open,
    .map = parallels_map,
};
