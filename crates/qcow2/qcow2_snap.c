/* qcow2_snap.c: the snapshot table (spec "Snapshots") and qemu-img's -l.
 *
 * qemu reads every entry at open and refuses the image when one carries
 * more than 1 KiB of extra data or the table grows past 64 MiB.  Entries are
 * variable-sized (40 bytes, extra data, id, name, padding to 8), so the
 * table is streamed through a chunk buffer; only the entries the -l options
 * name are remembered.  Names and ids compare as C strings: qemu keeps them
 * NUL-terminated, so bytes after an embedded NUL are ignored.
 */
#include "qcow2_int.h"
#include "rt.h"

/* Chunk buffer; an entry is at most 40 + 1024 + 2 * 65535 bytes. */
#define SN_CHUNK (256u << 10)
_Static_assert(Q2_SN_HDR_LEN + Q2_MAX_SNAPSHOT_EXTRA + 2 * 0xFFFFu <= SN_CHUNK,
               "a snapshot table entry fits the chunk buffer");

struct sn_reader {
    uint8_t *buf;
    uint64_t start;           /* file offset of buf[0] */
    uint64_t len;             /* valid bytes in buf */
};

/* Make [off, off + len) available in the chunk buffer; the pointer or NULL
 * (with img->err set). */
static const uint8_t *sn_get(struct img *img, struct sn_reader *r, uint64_t off, uint64_t len,
                             enum img_err *err)
{
    uint64_t n;

    if (off >= r->start && off - r->start <= r->len && len <= r->len - (off - r->start))
        return r->buf + (off - r->start);
    /* qemu fails far out, and reads zeros past the end of the file
     * otherwise (security.md T29): refused. */
    if (q2_past_max(off, len)) {
        *err = img_fail(img, IMG_ERR_OPEN, "Failed to read snapshot table: Input/output error");
        return NULL;
    }
    if (!q2_in_file(img, off, len)) {
        *err = img_fail(img, IMG_ERR_OPEN, "Snapshot table is beyond the end of the file "
                        "(offset %llu)", (unsigned long long)off);
        return NULL;
    }
    n = img->io->size - off < SN_CHUNK ? img->io->size - off : SN_CHUNK;
    *err = img_read(img, off, n, r->buf);
    if (*err != IMG_OK)
        return NULL;
    r->start = off;
    r->len = n;
    return r->buf;
}

/* `field` of `size` bytes equals the C string `want` (NULL never matches). */
static bool str_eq(const uint8_t *field, uint32_t size, const char *want)
{
    size_t n;

    if (want == NULL)
        return false;
    n = rt_strnlen((const char *)field, size);
    return strlen(want) == n && memcmp(field, want, n) == 0;
}

static void note(struct q2_snap *sn, uint32_t i, const uint8_t *h)
{
    if (sn->found)
        return;
    sn->found = true;
    sn->index = i;
    sn->l1_offset = img_be64(h + Q2_SN_L1_OFFSET);
    sn->l1_size = img_be32(h + Q2_SN_L1_SIZE);
}

enum img_err q2_snap_read(struct img *img, struct q2 *q)
{
    const char *want_id = img->opts.snapshot_id != NULL ? img->opts.snapshot_id
                                                         : img->opts.snapshot;
    const char *want_name = img->opts.snapshot_name != NULL ? img->opts.snapshot_name
                                                             : img->opts.snapshot;
    bool want_both = img->opts.snapshot_id != NULL && img->opts.snapshot_name != NULL;
    struct sn_reader r = {NULL, 0, 0};
    uint64_t off = q->snapshots_offset;
    enum img_err err = IMG_OK;

    if (q->nb_snapshots == 0)
        return IMG_OK;
    r.buf = q2_alloc(img, SN_CHUNK);
    if (r.buf == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    /* nb_snapshots <= 65536 (checked with the table's offset in open). */
    for (uint32_t i = 0; i < q->nb_snapshots; i++) {
        const uint8_t *h;
        const uint8_t *id;
        const uint8_t *name;
        uint32_t extra;
        uint32_t id_size;
        uint32_t name_size;
        uint64_t len;

        /* Entries start 8-byte aligned; off < 2^63 + 64 MiB here. */
        off = (off + 7) & ~(uint64_t)7;
        h = sn_get(img, &r, off, Q2_SN_HDR_LEN, &err);
        if (h == NULL)
            return err;
        extra = img_be32(h + Q2_SN_EXTRA_SIZE);
        id_size = img_be16(h + Q2_SN_ID_SIZE);
        name_size = img_be16(h + Q2_SN_NAME_SIZE);
        /* qemu caps the extra data it keeps in memory. */
        if (extra > Q2_MAX_SNAPSHOT_EXTRA)
            return img_fail(img, IMG_ERR_OPEN,
                            "Too much extra metadata in snapshot table entry %d", (int)i);
        len = Q2_SN_HDR_LEN + (uint64_t)extra + id_size + name_size;
        h = sn_get(img, &r, off, len, &err);
        if (h == NULL)
            return err;
        id = h + Q2_SN_HDR_LEN + extra;
        name = id + id_size;
        if (str_eq(id, id_size, want_id))
            note(&q->sn_id, i, h);
        if (str_eq(name, name_size, want_name))
            note(&q->sn_name, i, h);
        if (want_both && str_eq(id, id_size, want_id) && str_eq(name, name_size, want_name))
            note(&q->sn_both, i, h);
        off += len;
        /* qemu's limit on the whole table. */
        if (off - q->snapshots_offset > Q2_MAX_SNAPSHOTS_SIZE)
            return img_fail(img, IMG_ERR_OPEN, "Snapshot table is too big");
    }
    return IMG_OK;
}

/* qcow2_snapshot_load_tmp for a found snapshot: 0 or qemu's -errno kind. */
static enum q2_table check_l1(const struct q2 *q, const struct q2_snap *sn)
{
    return q2_table_check(q, sn->l1_offset, sn->l1_size, 8, Q2_MAX_L1_BYTES);
}

static enum img_err fail_l1(struct img *img, enum q2_table t)
{
    return img_fail(img, IMG_ERR_PLAIN, "Failed to load snapshot: Snapshot L1 table %s",
                    t == Q2_TABLE_TOO_LARGE ? "too large" : "offset invalid");
}

enum img_err q2_snap_load(struct img *img, struct q2 *q)
{
    const struct q2_snap *sn = NULL;
    enum q2_table t;

    if (img->opts.snapshot_id != NULL || img->opts.snapshot_name != NULL) {
        /* snapshot.id= and/or snapshot.name=: both must match when given. */
        if (img->opts.snapshot_id != NULL && img->opts.snapshot_name != NULL)
            sn = &q->sn_both;
        else if (img->opts.snapshot_id != NULL)
            sn = &q->sn_id;
        else
            sn = &q->sn_name;
        if (!sn->found)
            return img_fail(img, IMG_ERR_PLAIN, "Failed to load snapshot: Can't find snapshot");
        t = check_l1(q, sn);
        if (t != Q2_TABLE_OK)
            return fail_l1(img, t);
    } else if (img->opts.snapshot != NULL) {
        /* -l NAME: by id first; "not found" and "offset invalid" (EINVAL)
         * fall back to a search by name, "too large" (EFBIG) does not. */
        t = Q2_TABLE_BAD_OFFSET;
        if (q->sn_id.found) {
            t = check_l1(q, &q->sn_id);
            if (t == Q2_TABLE_TOO_LARGE)
                return fail_l1(img, t);
            if (t == Q2_TABLE_OK)
                sn = &q->sn_id;
        }
        if (sn == NULL) {
            if (!q->sn_name.found)
                return img_fail(img, IMG_ERR_PLAIN,
                                "Failed to load snapshot: Can't find snapshot");
            t = check_l1(q, &q->sn_name);
            if (t != Q2_TABLE_OK)
                return fail_l1(img, t);
            sn = &q->sn_name;
        }
    } else {
        return IMG_OK;
    }
    /* qemu reads the snapshot's L1 table as zeros past the end of the
     * file (security.md T29): refused instead, unless qemu fails too. */
    if (q2_past_max(sn->l1_offset, (uint64_t)sn->l1_size * 8))
        return img_fail(img, IMG_ERR_PLAIN,
                        "Failed to load snapshot: Failed to read l1 table for snapshot");
    if (!q2_in_file(img, sn->l1_offset, (uint64_t)sn->l1_size * 8))
        return img_fail(img, IMG_ERR_PLAIN, "Failed to load snapshot: Snapshot L1 table is "
                        "beyond the end of the file (offset %llu, %u entries)",
                        (unsigned long long)sn->l1_offset, sn->l1_size);
    q->map_l1_offset = sn->l1_offset;
    q->map_l1_size = sn->l1_size;
    return IMG_OK;
}
