/* vmdk.c: the vmdk format, as qemu 7.2 reads it (VMware Virtual Disk Format
 * 1.1: hosted sparse extents, stream-optimized extents, ESX "COWD" extents).
 *
 * A single-file sparse extent maps the disk through a grain directory (GD)
 * of grain tables (GT).  A GT entry is 0 (unallocated), 1 (a zeroed grain,
 * when the header enables them) or the sector of the grain: data, whether
 * plain or deflated (streamOptimized).  qemu's block status reports exactly
 * that, grain by grain; the grains themselves are never read.
 *
 * Text descriptor files are parsed (vmdk_desc.c); the FLAT and SPARSE extent
 * files they name are provided by the caller (the host opens them under its
 * path policy) and opened by open_files(): the disk is their concatenation,
 * a SPARSE extent mapped by its own GD and GTs, a FLAT one by its file's
 * data and holes.  Open follows qemu's checks in qemu's order; the
 * checks instar adds (tables inside the file, no table aliasing, no counts
 * qemu truncates) run last, so that whenever qemu refuses an image, instar
 * prints qemu's reason.  The GD is read once at open; GTs are read once each
 * during the walk, in windows of up to 1 MiB of consecutive tables.
 */
#include "img.h"

#include "rt.h"
#include "vmdk_int.h"
#include "vmdk_spec.h"

#define VMDK_WINDOW (1u << 20)     /* GT read-ahead, bytes */
#define VMDK_HOLE_MIN (64u << 10)  /* reads at least this long skip host holes */

/* An extent of a descriptor file (qemu's VmdkExtent, FLAT or SPARSE). */
struct vmdk_extent {
    bool flat;
    uint64_t start;       /* bytes into the disk */
    uint64_t len;         /* bytes */
    uint64_t flat_off;    /* FLAT: bytes into its file */
    struct img_io *io;    /* FLAT: its file */
    struct img *sub;      /* SPARSE: the extent file opened as a sparse image */
};

struct vmdk_state {
    uint64_t granularity; /* sectors per grain, 1 .. VMDK_MAX_GRAIN */
    uint64_t gt_sectors;  /* sectors one GD entry covers (qemu's l1_entry_sectors) */
    uint32_t gtes;        /* entries per grain table */
    uint32_t gt_bytes;    /* gtes * 4 */
    uint32_t gd_entries;  /* qemu's l1_size */
    uint64_t gd_needed;   /* GD entries the capacity needs (VMDK4) */
    uint64_t gd_off;      /* bytes */
    bool zero_grain;      /* VMDK4_FLAG_ZERO_GRAIN: GTE 1 reads as zeros */
    uint32_t *gd;         /* gd_entries sectors, host order (read at open) */
    uint8_t *win;         /* VMDK_WINDOW bytes of consecutive GTs */
    uint64_t win_off;     /* file offset of win[0] */
    uint64_t win_len;     /* valid bytes in win */
    /* A descriptor file's extent files (open_files()). */
    struct vmdk_extent_desc *lines; /* IMG_MAX_FILES parsed extent lines */
    struct vmdk_extent *ext;        /* img->n_files extents, once opened */
    uint32_t cur;                   /* the extent map() used last */
    uint64_t ids_off;               /* where the descriptor's CIDs are read */
};

/* The file length qemu's block layer works with: whole sectors. */
static uint64_t qemu_len(const struct img *img)
{
    return (img->io->size + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1);
}

/* Read [off, off + len) as qemu does: bytes past the end of the file are
 * zeros.  Long reads skip what the host reports as holes. */
static enum img_err vmdk_read(struct img *img, uint64_t off, uint64_t len, uint8_t *buf)
{
    uint64_t size = img->io->size;
    uint64_t n = off < size ? (size - off < len ? size - off : len) : 0;

    memset(buf + n, 0, len - n);
    while (n >= VMDK_HOLE_MIN) {
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

static int vmdk_probe(const uint8_t *buf, size_t len)
{
    uint8_t m[4] = {0, 0, 0, 0};

    memcpy(m, buf, len < 4 ? len : 4);
    if (img_be32(m) == VMDK4_MAGIC || img_be32(m) == VMDK3_MAGIC)
        return 100;
    return vmdk_desc_probe(buf, len);
}

/* A descriptor file, or a descriptor embedded at `off` in a sparse extent
 * whose capacity is 0 (qemu then treats the extent as a descriptor file). */
static enum img_err vmdk_open_desc(struct img *img, struct vmdk_state *st, uint64_t off)
{
    uint64_t len = qemu_len(img) < VMDK_DESC_MAX ? qemu_len(img) : VMDK_DESC_MAX;
    char *desc = img_alloc(img->arena, len + 1);
    uint32_t n = 0;
    enum img_err err;

    st->lines = img_alloc(img->arena, IMG_MAX_FILES * sizeof(*st->lines));
    if (desc == NULL || st->lines == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    if (!img_qemu_range_ok(off, len))  /* past qemu's read limit */
        return img_fail(img, IMG_ERR_OPEN, "Could not read from file: Input/output error");
    err = vmdk_read(img, off, len, (uint8_t *)desc);
    if (err != IMG_OK)
        return err;
    desc[len] = '\0';
    err = vmdk_desc_parse(img, desc, st->lines, IMG_MAX_FILES, &n);
    if (err != IMG_OK || n == 0)
        return err; /* with no extent to open, the disk has 0 sectors */
    /* The files are the caller's to provide (the host's path policy). */
    img->file_names = img_alloc(img->arena, n * sizeof(*img->file_names));
    img->file_io = img_alloc(img->arena, n * sizeof(*img->file_io));
    if (img->file_names == NULL || img->file_io == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        char *name = img_alloc(img->arena, st->lines[i].name_len + 1);

        if (name == NULL)
            return img_fail(img, IMG_ERR_NOMEM, "out of memory");
        memcpy(name, st->lines[i].name, st->lines[i].name_len);
        name[st->lines[i].name_len] = '\0';
        img->file_names[i] = name;
    }
    img->n_files = n;
    return IMG_OK;
}

/* qemu's vmdk_open_vmdk4(): a hosted sparse or stream-optimized extent. */
static enum img_err vmdk_open_vmdk4(struct img *img, struct vmdk_state *st, uint64_t *capacity)
{
    uint8_t h[VMDK4_HDR_LEN];
    uint8_t foot[VMDK_FOOTER_LEN];
    const uint8_t *hdr = h;
    enum img_err err;
    uint32_t version;
    uint32_t flags;
    uint64_t grain_off;
    uint32_t l1e;
    uint64_t l1_size;

    err = vmdk_read(img, VMDK4_HDR_OFF, sizeof(h), h);
    if (err != IMG_OK)
        return err;
    *capacity = img_le64(h + VMDK4_CAPACITY);
    if (*capacity == 0 && img_le64(h + VMDK4_DESC_OFF) != 0)
        return vmdk_open_desc(img, st, img_le64(h + VMDK4_DESC_OFF) << 9);
    if (img_le64(h + VMDK4_GD_OFF) == VMDK4_GD_AT_END) {
        /* streamOptimized: the footer's copy of the header wins. */
        uint64_t at = qemu_len(img) - VMDK_FOOTER_LEN;

        if (qemu_len(img) < VMDK_FOOTER_LEN)
            return img_fail(img, IMG_ERR_OPEN, "Failed to read footer: Input/output error");
        err = vmdk_read(img, at, sizeof(foot), foot);
        if (err != IMG_OK)
            return err;
        if (img_be32(foot + 512) != VMDK4_MAGIC || img_le32(foot + VMDK_MARKER_SIZE) != 0 ||
            img_le32(foot + VMDK_MARKER_TYPE) != VMDK_MARKER_FOOTER ||
            img_le64(foot + 1024 + VMDK_MARKER_VAL) != 0 ||
            img_le32(foot + 1024 + VMDK_MARKER_SIZE) != 0 ||
            img_le32(foot + 1024 + VMDK_MARKER_TYPE) != VMDK_MARKER_EOS)
            return img_fail(img, IMG_ERR_OPEN, "Invalid footer"); /* markers, magic */
        hdr = foot + 512 + VMDK4_HDR_OFF;
        *capacity = img_le64(hdr + VMDK4_CAPACITY);
    }
    version = img_le32(hdr + VMDK4_VERSION);
    flags = img_le32(hdr + VMDK4_FLAGS);
    st->granularity = img_le64(hdr + VMDK4_GRAIN);
    st->gtes = img_le32(hdr + VMDK4_GTES);
    st->gd_off = img_le64(hdr + VMDK4_GD_OFF) << 9;
    grain_off = img_le64(hdr + VMDK4_GRAIN_OFF);
    /* Version 3 adds changed-block tracking; readable (read-only). */
    if (version > 3)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported VMDK version %u", version);
    if (st->gtes > VMDK4_MAX_GTES)  /* T21: bounded GTs */
        return img_fail(img, IMG_ERR_OPEN, "L2 table size too big");
    /* qemu keeps this product in 32 bits. */
    l1e = (uint32_t)(st->gtes * st->granularity);
    if (l1e == 0)  /* a divisor */
        return img_fail(img, IMG_ERR_OPEN, "L1 entry size is invalid");
    l1_size = (*capacity + l1e - 1) / l1e;
    /* The metadata must end before the first grain's sector. */
    if (qemu_len(img) / VMDK_SECTOR < grain_off)
        return img_fail(img, IMG_ERR_OPEN, "File truncated, expecting at least %lld bytes",
                        (long long)(grain_off * VMDK_SECTOR));
    if (st->granularity > VMDK_MAX_GRAIN)  /* T21: 1 GiB grains at most */
        return img_fail(img, IMG_ERR_OPEN, "Invalid granularity, image may be corrupt");
    if ((uint32_t)l1_size > VMDK_MAX_GD_ENTRIES)  /* T21: bounded GD */
        return img_fail(img, IMG_ERR_OPEN, "L1 size too big");
    /* qemu keeps the GD entry count in 32 bits too; vmdk_check() refuses a
     * truncated one. */
    st->gd_entries = (uint32_t)l1_size;
    st->gd_needed = l1_size;
    st->gt_sectors = l1e;
    if (!img_qemu_range_ok(st->gd_off, (uint64_t)st->gd_entries * 4))  /* past qemu's limit */
        return img_fail(img, IMG_ERR_OPEN, "Could not read l1 table from extent: "
                        "Input/output error");
    /* qemu reads the redundant GD too, and only fails on its offset. */
    if ((flags & VMDK4_FLAG_RGD) &&
        !img_qemu_range_ok(img_le64(hdr + VMDK4_RGD_OFF) << 9, (uint64_t)st->gd_entries * 4))
        return img_fail(img, IMG_ERR_OPEN, "Could not read l1 backup table from extent: "
                        "Input/output error");
    st->zero_grain = (flags & VMDK4_FLAG_ZERO_GRAIN) != 0;
    return IMG_OK;
}

/* qemu's vmdk_open_vmfs_sparse(): an ESX "COWD" extent. */
static enum img_err vmdk_open_cowd(struct img *img, struct vmdk_state *st, uint64_t *capacity)
{
    uint8_t h[VMDK3_HDR_LEN];
    enum img_err err = vmdk_read(img, VMDK3_HDR_OFF, sizeof(h), h);

    if (err != IMG_OK)
        return err;
    *capacity = img_le32(h + VMDK3_DISK_SECTORS);
    st->granularity = img_le32(h + VMDK3_GRAIN);
    st->gd_off = (uint64_t)img_le32(h + VMDK3_GD_OFF) << 9;
    st->gd_entries = img_le32(h + VMDK3_GD_ENTRIES);
    st->gtes = VMDK3_GTES;
    if (st->granularity > VMDK_MAX_GRAIN)  /* T21 */
        return img_fail(img, IMG_ERR_OPEN, "Invalid granularity, image may be corrupt");
    if (st->gd_entries > VMDK_MAX_GD_ENTRIES)  /* T21 */
        return img_fail(img, IMG_ERR_OPEN, "L1 size too big");
    /* qemu divides by the grain and by a 32-bit GT span: a zero or
     * truncated one would crash or misread it. */
    st->gt_sectors = (uint64_t)VMDK3_GTES * st->granularity;
    if (st->granularity == 0 || st->gt_sectors > UINT32_MAX)
        return img_fail(img, IMG_ERR_OPEN, "COWD grain size %llu is invalid",
                        (unsigned long long)st->granularity);
    return IMG_OK;
}

/* instar's own checks, after qemu's: read the GD once, and require every
 * table to lie inside the file (qemu reads zeros past the end, T29) and the
 * GTs not to alias each other (T13: the walk stays proportional to the
 * tables present). */
static enum img_err vmdk_check(struct img *img, struct vmdk_state *st)
{
    uint64_t size = img->io->size;
    uint64_t gd_bytes = (uint64_t)st->gd_entries * 4;
    uint64_t used = 0;
    enum img_err err;

    /* A count qemu truncated maps the disk with too small a GD (T14). */
    if (st->gd_needed > st->gd_entries)
        return img_fail(img, IMG_ERR_OPEN, "VMDK grain directory too large (%llu entries)",
                        (unsigned long long)st->gd_needed);
    if (st->gd_entries == 0)
        return IMG_OK;
    st->gt_bytes = st->gtes * 4;
    if (gd_bytes > size || st->gd_off > size - gd_bytes)
        return img_fail(img, IMG_ERR_OPEN, "VMDK grain directory at offset %llu lies beyond the "
                        "end of the file", (unsigned long long)st->gd_off);
    st->gd = img_alloc(img->arena, gd_bytes);
    st->win = img_alloc(img->arena, VMDK_WINDOW);
    if (st->gd == NULL || st->win == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    err = vmdk_read(img, st->gd_off, gd_bytes, (uint8_t *)st->gd);
    if (err != IMG_OK)
        return err;
    for (uint32_t i = 0; i < st->gd_entries; i++) {
        uint64_t gt;

        st->gd[i] = img_le32((const uint8_t *)&st->gd[i]);
        if (st->gd[i] == 0)
            continue;
        gt = (uint64_t)st->gd[i] * VMDK_SECTOR;
        if (st->gt_bytes > size || gt > size - st->gt_bytes)
            return img_fail(img, IMG_ERR_OPEN, "VMDK grain table %u at offset %llu lies beyond "
                            "the end of the file", i, (unsigned long long)gt);
        used += st->gt_bytes;
        /* Distinct tables cannot hold more bytes than the file has. */
        if (used > size)
            return img_fail(img, IMG_ERR_OPEN, "VMDK grain tables overlap: the grain directory "
                            "references more tables than the file holds");
    }
    return IMG_OK;
}

/* qemu's end of vmdk_open(), once the extents are open: the CIDs and the
 * parent's name from the descriptor at `ids_off`, the size checks. */
static enum img_err vmdk_finish(struct img *img, struct vmdk_state *st, uint64_t ids_off,
                                uint64_t capacity)
{
    char *win = img_alloc(img->arena, VMDK_DESC_WINDOW + 1);
    size_t name_at = 0;
    size_t name_len = 0;
    enum img_err err;

    if (win == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    err = vmdk_read(img, ids_off, VMDK_DESC_WINDOW, (uint8_t *)win);
    if (err != IMG_OK)
        return err;
    win[VMDK_DESC_WINDOW] = '\0';
    err = vmdk_desc_ids(img, win, &name_at, &name_len);
    if (err != IMG_OK)
        return err;
    /* The block layer's checks of the size, before qemu-img walks. */
    err = img_check_sectors(img, capacity);
    if (err != IMG_OK)
        return err;
    err = vmdk_check(img, st);
    if (err != IMG_OK)
        return err;
    img->virtual_size = capacity * VMDK_SECTOR;
    /* The parent's format is probed. */
    return img_set_backing(img, (const uint8_t *)win + name_at, name_len, NULL);
}

static enum img_err vmdk_open(struct img *img)
{
    struct vmdk_state *st = img_alloc(img->arena, sizeof(*st));
    uint8_t magic[4];
    uint64_t capacity = 0;
    uint64_t ids_off = 0;
    enum img_err err;

    if (st == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    img->state = st;
    /* Both descriptor files and sparse extents are far longer. */
    if (qemu_len(img) < 4)
        return img_fail(img, IMG_ERR_OPEN, "File is too small, not a valid image");
    err = vmdk_read(img, 0, sizeof(magic), magic);
    if (err != IMG_OK)
        return err;
    if (img_be32(magic) == VMDK4_MAGIC) {
        err = vmdk_open_vmdk4(img, st, &capacity);
        ids_off = VMDK_SPARSE_DESC_OFF;
    } else if (img_be32(magic) == VMDK3_MAGIC) {
        err = vmdk_open_cowd(img, st, &capacity);
        ids_off = VMDK_SPARSE_DESC_OFF;
    } else {
        err = vmdk_open_desc(img, st, 0);
    }
    if (err != IMG_OK)
        return err;
    /* qemu opens the extent files first (open_files() goes on from here). */
    st->ids_off = ids_off;
    if (img->n_files > 0)
        return IMG_OK;
    return vmdk_finish(img, st, ids_off, capacity);
}

/* One SPARSE extent file, opened as qemu's vmdk_open_sparse() does. */
static enum img_err open_sparse(struct img *img, struct img_io *io, const char *name,
                                struct img **out, uint64_t *sectors)
{
    struct img *sub = img_alloc(img->arena, sizeof(*sub));
    struct vmdk_state *st = img_alloc(img->arena, sizeof(*st));
    uint8_t magic[4] = {0, 0, 0, 0};
    enum img_err err;

    if (sub == NULL || st == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    sub->drv = &img_driver_vmdk;
    sub->io = io;
    sub->arena = img->arena;
    sub->state = st;
    *sectors = 0;
    err = vmdk_read(sub, 0, sizeof(magic), magic);
    if (err == IMG_OK && img_be32(magic) == VMDK4_MAGIC)
        err = vmdk_open_vmdk4(sub, st, sectors);
    else if (err == IMG_OK && img_be32(magic) == VMDK3_MAGIC)
        err = vmdk_open_cowd(sub, st, sectors);
    else if (err == IMG_OK)
        err = img_fail(sub, IMG_ERR_OPEN, "Could not open '%s': not a VMDK sparse extent", name);
    /* An extent that is itself a descriptor would open more files. */
    if (err == IMG_OK && sub->n_files > 0)
        err = img_fail(sub, IMG_ERR_UNSUPPORTED, "VMDK extent '%s' names extent files itself",
                       name);
    if (err == IMG_OK)
        err = vmdk_check(sub, st);
    if (err != IMG_OK) {
        memcpy(img->err, sub->err, sizeof(img->err));
        memcpy(img->note, sub->note, sizeof(img->note));
        img->note_raw = sub->note_raw;
        return err;
    }
    *out = sub;
    return IMG_OK;
}

/* The extent files, in the descriptor's order: the disk is their
 * concatenation (qemu's vmdk_parse_extents()). */
static enum img_err vmdk_open_files(struct img *img)
{
    struct vmdk_state *st = img->state;
    uint64_t total = 0;
    enum img_err err;

    st->ext = img_alloc(img->arena, img->n_files * sizeof(*st->ext));
    if (st->ext == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < img->n_files; i++) {
        struct vmdk_extent *e = &st->ext[i];
        const struct vmdk_extent_desc *d = &st->lines[i];
        uint64_t sectors = d->sectors;

        e->flat = d->flat;
        e->io = img->file_io[i];
        if (e->flat) {
            e->flat_off = d->flat_off * VMDK_SECTOR;
        } else {
            err = open_sparse(img, e->io, img->file_names[i], &e->sub, &sectors);
            if (err != IMG_OK)
                return err;
        }
        if (sectors > (UINT64_MAX >> 9) - total)
            return img_fail(img, IMG_ERR_OPEN, "Image size too large");
        e->start = total * VMDK_SECTOR;
        e->len = sectors * VMDK_SECTOR;
        total += sectors;
    }
    return vmdk_finish(img, st, st->ids_off, total);
}

/* A FLAT extent reads its file: qemu's block status recurses into it, so
 * holes (and anything past its end) are zeros. */
static enum img_err map_flat(const struct vmdk_extent *e, uint64_t in, uint64_t n,
                             struct img_map *out)
{
    uint64_t pos = e->flat_off + in;
    struct abi_extent x;

    out->length = n;
    out->status = IMG_DATA;
    if (pos >= e->io->size) {
        out->status = IMG_ZERO;
        return IMG_OK;
    }
    if (e->io->extent(e->io->ctx, pos, &x) != 1 || x.offset > pos || x.length == 0 ||
        pos - x.offset >= x.length)
        return IMG_OK; /* qemu ignores a failed query: data stays data */
    if (x.length - (pos - x.offset) < n)
        out->length = x.length - (pos - x.offset);
    out->status = x.kind == ABI_EXTENT_DATA ? IMG_DATA : IMG_ZERO;
    return IMG_OK;
}

static enum img_err map_extents(struct img *img, struct vmdk_state *st, uint64_t off,
                                uint64_t max, struct img_map *out)
{
    const struct vmdk_extent *e;
    uint64_t in;
    uint64_t n;
    enum img_err err;

    if (st->cur >= img->n_files || off < st->ext[st->cur].start)
        st->cur = 0;
    while (st->cur + 1 < img->n_files && off - st->ext[st->cur].start >= st->ext[st->cur].len)
        st->cur++;
    e = &st->ext[st->cur];
    in = off - e->start;
    n = e->len - in < max ? e->len - in : max;
    if (e->flat)
        return map_flat(e, in, n, out);
    err = e->sub->drv->map(e->sub, in, n, out);
    if (err != IMG_OK) {
        memcpy(img->err, e->sub->err, sizeof(img->err));
        memcpy(img->note, e->sub->note, sizeof(img->note));
        img->note_raw = e->sub->note_raw;
    }
    return err;
}

/* The status a grain table entry gives its grain. */
static enum img_status vmdk_gte(const struct vmdk_state *st, const uint8_t *gt, uint64_t i)
{
    uint32_t e = img_le32(gt + i * 4);

    if (e == VMDK_GTE_UNALLOCATED)
        return IMG_UNALLOC;
    if (e == VMDK_GTE_ZEROED && st->zero_grain)
        return IMG_ZERO;
    return IMG_DATA; /* plain or compressed grain, wherever it points */
}

/* The GT of GD entry `l1`, through the window: a miss reads that GT and the
 * GTs that follow it in the file for the next GD entries, up to 1 MiB. */
static enum img_err vmdk_gt(struct img *img, struct vmdk_state *st, uint32_t l1,
                            const uint8_t **gt)
{
    uint64_t off = (uint64_t)st->gd[l1] * VMDK_SECTOR;
    uint64_t end = off + st->gt_bytes;
    enum img_err err;

    if (off < st->win_off || end > st->win_off + st->win_len) {
        uint32_t scanned = 0;

        for (uint32_t j = l1 + 1; j < st->gd_entries && scanned < 4096; j++, scanned++) {
            uint64_t o = (uint64_t)st->gd[j] * VMDK_SECTOR;

            if (st->gd[j] == 0)
                continue;
            /* Only tables packed after this one (sector padding allowed). */
            if (o < end || o - end >= VMDK_SECTOR || o + st->gt_bytes - off > VMDK_WINDOW)
                break;
            end = o + st->gt_bytes;
        }
        st->win_len = 0;
        err = vmdk_read(img, off, end - off, st->win);
        if (err != IMG_OK)
            return err;
        st->win_off = off;
        st->win_len = end - off;
    }
    *gt = st->win + (off - st->win_off);
    return IMG_OK;
}

static enum img_err vmdk_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct vmdk_state *st = img->state;

    if (st->ext != NULL)
        return map_extents(img, st, off, max, out);
    uint64_t end = off + max;
    uint64_t span = st->gt_sectors * VMDK_SECTOR;  /* bytes per GD entry */
    uint64_t grain_bytes = st->granularity * VMDK_SECTOR;
    uint64_t l1 = off / span;
    uint64_t stop;

    /* qemu's get_cluster_offset() fails past the GD (COWD only). */
    if (l1 >= st->gd_entries)
        return img_fail(img, IMG_ERR_PLAIN, "Unable to get block status: Input/output error");
    if (st->gd[l1] == 0) {
        uint64_t last = (end + span - 1) / span;
        uint64_t i = l1 + 1;

        while (i < st->gd_entries && i < last && st->gd[i] == 0)
            i++;
        stop = i * span;
        out->status = IMG_UNALLOC;
    } else {
        const uint8_t *gt;
        uint64_t first = l1 * st->gtes;              /* grain index of gt[0] */
        uint64_t g = off / grain_bytes;
        uint64_t last = (end + grain_bytes - 1) / grain_bytes;
        enum img_err err = vmdk_gt(img, st, (uint32_t)l1, &gt);

        if (err != IMG_OK)
            return err;
        out->status = vmdk_gte(st, gt, g - first);
        for (g++; g < first + st->gtes && g < last; g++) {
            if (vmdk_gte(st, gt, g - first) != out->status)
                break;
        }
        stop = g * grain_bytes;
    }
    out->length = (stop < end ? stop : end) - off;
    return IMG_OK;
}

const struct img_driver img_driver_vmdk = {
    .name = "vmdk",
    .abi_fmt = ABI_FMT_VMDK4,
    .probe = vmdk_probe,
    .open = vmdk_open,
    .open_files = vmdk_open_files,
    .map = vmdk_map,
};
