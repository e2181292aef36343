/* qcow2_bitmap.c: persistent dirty bitmaps (spec "Bitmaps"), as qemu 7.2
 * loads them on a read-only open (qcow2_load_dirty_bitmaps).
 *
 * The directory is checked entry by entry (bitmap_list_load), then each
 * bitmap is "loaded" in order: a second bitmap of the same name is skipped
 * when marked in use and an error otherwise; a bitmap not in use has its
 * table read and checked, and the table must be exactly as long as the
 * virtual size needs.  Bitmap data is never read: measure only needs each
 * bitmap's granularity and name length (qemu-img-measure.md 6.7).
 */
#include "qcow2_int.h"
#include "rt.h"

/* Directory and table chunks; a directory entry is at most 24 + 65535 bytes
 * (plus padding) when it has no extra data. */
#define BM_CHUNK (256u << 10)
#define BM_POOL_BLOCK (64u << 10)

struct bm_rec {
    const char *name;         /* NUL-terminated (qemu's g_strndup) */
    uint32_t name_len;        /* strlen(name) */
    uint32_t flags;           /* Q2_BME_FLAG_* */
    uint64_t table_offset;    /* bytes, cluster aligned */
    uint32_t table_size;      /* entries */
    uint32_t gran_bits;       /* 9..31 */
};

struct bm_state {
    struct bm_rec *rec;       /* [nb_bitmaps] */
    uint32_t n;
    char *pool;               /* current name block */
    uint64_t pool_left;
    uint8_t *buf;             /* BM_CHUNK */
    uint64_t buf_start;       /* file offset of buf[0] */
    uint64_t buf_len;
    uint64_t table_bytes;     /* bitmap table bytes read so far */
};

/* [off, off + len) of the file in the chunk buffer (the caller checked it
 * lies inside the file and len <= BM_CHUNK). */
static const uint8_t *bm_get(struct img *img, struct bm_state *s, uint64_t off, uint64_t len,
                             enum img_err *err)
{
    uint64_t n;

    if (off >= s->buf_start && off - s->buf_start <= s->buf_len &&
        len <= s->buf_len - (off - s->buf_start))
        return s->buf + (off - s->buf_start);
    n = img->io->size - off < BM_CHUNK ? img->io->size - off : BM_CHUNK;
    *err = img_read(img, off, n, s->buf);
    if (*err != IMG_OK)
        return NULL;
    s->buf_start = off;
    s->buf_len = n;
    return s->buf;
}

/* A copy of the name, cut at its first NUL as qemu's string is. */
static const char *keep_name(struct img *img, struct bm_state *s, const uint8_t *p,
                             uint32_t size, uint32_t *len)
{
    char *name;

    *len = (uint32_t)rt_strnlen((const char *)p, size);
    if (s->pool == NULL || s->pool_left < (uint64_t)*len + 1) {
        uint64_t block = *len + 1 > BM_POOL_BLOCK ? *len + 1 : BM_POOL_BLOCK;

        s->pool = q2_alloc(img, block);
        if (s->pool == NULL)
            return NULL;
        s->pool_left = block;
    }
    name = s->pool;
    memcpy(name, p, *len);
    name[*len] = '\0';
    s->pool += *len + 1;
    s->pool_left -= *len + 1;
    return name;
}

/* qemu's check_dir_entry: true when the entry is acceptable. */
static bool entry_ok(const struct q2 *q, const uint8_t *e)
{
    uint64_t table_off = img_be64(e + Q2_BMDIR_TABLE_OFFSET);
    uint32_t table_size = img_be32(e + Q2_BMDIR_TABLE_SIZE);
    uint32_t flags = img_be32(e + Q2_BMDIR_FLAGS);
    uint32_t gran_bits = e[Q2_BMDIR_GRAN_BITS];
    uint64_t phys;

    if (table_size == 0 || table_off == 0 || (table_off & (q->cluster_size - 1)) ||
        table_size > Q2_BME_MAX_TABLE_SIZE || gran_bits > Q2_BME_MAX_GRAN_BITS ||
        gran_bits < Q2_BME_MIN_GRAN_BITS || (flags & Q2_BME_RESERVED_FLAGS) ||
        img_be16(e + Q2_BMDIR_NAME_SIZE) > Q2_BME_MAX_NAME || e[Q2_BMDIR_TYPE] != Q2_BME_TYPE_DIRTY)
        return false;
    /* bdrv_getlength fails for sizes past INT64_MAX. */
    if (q->size / 512 > (uint64_t)INT64_MAX / 512)
        return false;
    /* qemu keeps the bitmap in RAM: at most 512 MiB of it. */
    phys = (uint64_t)table_size << q->cluster_bits;
    if (phys > Q2_BME_MAX_PHYS_SIZE)
        return false;
    /* A consistent bitmap's table must cover the disk (<= 2^63: no overflow). */
    if (!(flags & Q2_BME_FLAG_IN_USE) && q->size / 512 * 512 > ((phys * 8) << gran_bits))
        return false;
    return true;
}

/* qemu's bitmap_list_load: walk and check the directory. */
static enum img_err read_dir(struct img *img, struct q2 *q, struct bm_state *s)
{
    uint64_t size = q->bm_dir_size;
    uint64_t pos = 0;
    enum img_err err = IMG_OK;

    /* At least one entry was announced. */
    if (size == 0)
        return img_fail(img, IMG_ERR_OPEN, "Requested bitmap directory size is zero");
    /* qemu fails far out, and reads zeros past the end of the file
     * otherwise (security.md T29): refused. */
    if (q2_past_max(q->bm_dir_offset, size))
        return img_fail(img, IMG_ERR_OPEN, "Failed to read bitmap directory: Input/output error");
    if (!q2_in_file(img, q->bm_dir_offset, size))
        return img_fail(img, IMG_ERR_OPEN, "Bitmap directory is beyond the end of the file "
                        "(offset %llu)", (unsigned long long)q->bm_dir_offset);
    while (pos < size) {
        const uint8_t *e;
        uint32_t name_size;
        uint32_t extra;
        uint32_t esize;
        struct bm_rec *r;

        /* Each entry has a 24-byte fixed part inside the directory. */
        if (Q2_BMDIR_HDR_LEN > size - pos)
            return img_fail(img, IMG_ERR_OPEN, "Broken bitmap directory");
        /* The header extension's count bounds the directory. */
        if (s->n >= q->nb_bitmaps)
            return img_fail(img, IMG_ERR_OPEN,
                            "More bitmaps found than specified in header extension");
        e = bm_get(img, s, q->bm_dir_offset + pos, Q2_BMDIR_HDR_LEN, &err);
        if (e == NULL)
            return err;
        name_size = img_be16(e + Q2_BMDIR_NAME_SIZE);
        extra = img_be32(e + Q2_BMDIR_EXTRA_SIZE);
        /* qemu sizes the entry in an int: extra data can wrap it. */
        esize = (Q2_BMDIR_HDR_LEN + name_size + extra + 7u) & ~7u;
        if ((int32_t)esize > 0 && esize > size - pos)
            return img_fail(img, IMG_ERR_OPEN, "Broken bitmap directory");
        /* No extra data is defined. */
        if (extra != 0)
            return img_fail(img, IMG_ERR_OPEN, "Bitmap extra data is not supported");
        /* The whole entry is in the directory; <= 24 + 65535 + 7 bytes. */
        e = bm_get(img, s, q->bm_dir_offset + pos, esize, &err);
        if (e == NULL)
            return err;
        /* qemu's check_dir_entry constraints. */
        if (!entry_ok(q, e)) {
            uint32_t n = (uint32_t)rt_strnlen((const char *)e + Q2_BMDIR_HDR_LEN, name_size);
            char shown[IMG_ERR_LEN];

            n = n < sizeof(shown) - 1 ? n : sizeof(shown) - 1;
            memcpy(shown, e + Q2_BMDIR_HDR_LEN, n);
            shown[n] = '\0';
            return img_fail(img, IMG_ERR_OPEN, "Bitmap '%s' doesn't satisfy the constraints",
                            shown);
        }
        r = &s->rec[s->n++];
        r->name = keep_name(img, s, e + Q2_BMDIR_HDR_LEN, name_size, &r->name_len);
        /* Names total at most the directory size (checked). */
        if (r->name == NULL)
            return img_fail(img, IMG_ERR_NOMEM, "out of memory");
        r->flags = img_be32(e + Q2_BMDIR_FLAGS);
        r->table_offset = img_be64(e + Q2_BMDIR_TABLE_OFFSET);
        r->table_size = img_be32(e + Q2_BMDIR_TABLE_SIZE);
        r->gran_bits = e[Q2_BMDIR_GRAN_BITS];
        pos += esize;
    }
    /* Every announced bitmap has an entry. */
    if (s->n != q->nb_bitmaps)
        return img_fail(img, IMG_ERR_OPEN,
                        "Less bitmaps found than specified in header extension");
    return IMG_OK;
}

/* Order of bitmap indexes: by name, then by position. */
static int cmp_rec(const struct bm_rec *rec, uint32_t a, uint32_t b)
{
    uint32_t la = rec[a].name_len;
    uint32_t lb = rec[b].name_len;
    int c = memcmp(rec[a].name, rec[b].name, la < lb ? la : lb);

    if (c != 0)
        return c;
    if (la != lb)
        return la < lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

static void sift(const struct bm_rec *rec, uint32_t *idx, uint32_t root, uint32_t n)
{
    for (;;) {
        uint32_t child = 2 * root + 1;
        uint32_t tmp;

        if (child >= n)
            return;
        if (child + 1 < n && cmp_rec(rec, idx[child + 1], idx[child]) > 0)
            child++;
        if (cmp_rec(rec, idx[root], idx[child]) >= 0)
            return;
        tmp = idx[root];
        idx[root] = idx[child];
        idx[child] = tmp;
        root = child;
    }
}

/* dup[i]: an earlier bitmap has the same name (heap sort, no recursion). */
static bool find_dups(struct img *img, const struct bm_state *s, uint8_t **dup)
{
    uint32_t n = s->n;
    uint32_t *idx = q2_alloc(img, (uint64_t)n * sizeof(*idx));

    *dup = q2_alloc(img, n);
    if (idx == NULL || *dup == NULL)
        return false;
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i;
    for (uint32_t i = n / 2; i-- > 0;)
        sift(s->rec, idx, i, n);
    for (uint32_t end = n; end-- > 1;) {
        uint32_t tmp = idx[0];

        idx[0] = idx[end];
        idx[end] = tmp;
        sift(s->rec, idx, 0, end);
    }
    for (uint32_t i = 1; i < n; i++) {
        const struct bm_rec *a = &s->rec[idx[i - 1]];
        const struct bm_rec *b = &s->rec[idx[i]];

        if (a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0)
            (*dup)[idx[i]] = 1;
    }
    return true;
}

/* qemu's bitmap_table_load and load_bitmap_data checks for bitmap `r`. */
static enum img_err check_table(struct img *img, struct q2 *q, struct bm_state *s,
                                const struct bm_rec *r)
{
    uint64_t gran = 1ull << r->gran_bits;
    uint64_t vsize = q->size / 512 * 512;
    uint64_t bits = vsize / gran + (vsize % gran != 0);
    /* hbitmap serializes whole 64-bit words. */
    uint64_t bytes = (bits / 64 + (bits % 64 != 0)) * 8;
    uint64_t clusters = (bytes >> q->cluster_bits) + ((bytes & (q->cluster_size - 1)) != 0);
    uint64_t end;
    enum img_err err = IMG_OK;

    /* qemu's block layer refuses reads this far out. */
    if (q2_past_max(r->table_offset, (uint64_t)r->table_size * 8))
        return img_fail(img, IMG_ERR_OPEN, "Could not read bitmap_table table from image for "
                        "bitmap '%s': Input/output error", r->name);
    /* <= 2^63 - 1 GiB + 1 GiB: no overflow. */
    end = r->table_offset + (uint64_t)r->table_size * 8;
    /* Entries past the end of the file read as zeros in qemu, which are
     * valid; the part inside the file is read, at most the file's size in
     * all (tables sharing clusters would read more: security.md T13). */
    for (uint64_t off = r->table_offset; off < end && off < img->io->size;) {
        uint64_t n = end - off;
        const uint8_t *p;

        n = n < BM_CHUNK ? n : BM_CHUNK;
        n = n < img->io->size - off ? n : img->io->size - off;
        s->table_bytes += n;
        /* Valid tables do not share clusters, so they fit the file. */
        if (s->table_bytes > img->io->size)
            return img_fail(img, IMG_ERR_OPEN, "Bitmap tables overlap (bitmap '%s')", r->name);
        p = bm_get(img, s, off, n, &err);
        if (p == NULL)
            return err;
        for (uint64_t i = 0; i < n; i += 8) {
            uint8_t tail[8] = {0};
            uint64_t entry;
            uint64_t data;

            /* An entry cut by the end of the file ends in zeros. */
            if (n - i < 8)
                memcpy(tail, p + i, (size_t)(n - i));
            entry = n - i < 8 ? img_be64(tail) : img_be64(p + i);
            data = entry & Q2_BME_ENTRY_OFFSET;

            /* Reserved bits, all-ones with an offset, misaligned data. */
            if ((entry & Q2_BME_ENTRY_RESERVED) ||
                (data != 0 && ((entry & Q2_BME_ENTRY_ALL_ONES) ||
                               (data & (q->cluster_size - 1)))))
                return img_fail(img, IMG_ERR_OPEN, "Could not read bitmap_table table from "
                                "image for bitmap '%s': Invalid argument", r->name);
        }
        off += n;
    }
    /* The table must be exactly as long as the bitmap needs. */
    if (clusters != r->table_size || clusters > Q2_BME_MAX_TABLE_SIZE)
        return img_fail(img, IMG_ERR_OPEN, "Could not read bitmap '%s' from image: Invalid "
                        "argument", r->name);
    return IMG_OK;
}

enum img_err q2_bitmaps_load(struct img *img, struct q2 *q)
{
    struct bm_state s = {0};
    uint8_t *dup = NULL;
    enum img_err err;

    if (q->nb_bitmaps == 0)
        return IMG_OK;
    /* nb_bitmaps <= 65535 (checked in the extension). */
    s.rec = q2_alloc(img, (uint64_t)q->nb_bitmaps * sizeof(*s.rec));
    s.buf = q2_alloc(img, BM_CHUNK);
    img->bitmaps = q2_alloc(img, (uint64_t)q->nb_bitmaps * sizeof(*img->bitmaps));
    if (s.rec == NULL || s.buf == NULL || img->bitmaps == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    err = read_dir(img, q, &s);
    if (err != IMG_OK)
        return err;
    if (!find_dups(img, &s, &dup))
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < s.n; i++) {
        const struct bm_rec *r = &s.rec[i];

        if (dup[i]) {
            /* An in-use copy of a loaded bitmap is skipped (migration). */
            if (r->flags & Q2_BME_FLAG_IN_USE)
                continue;
            return img_fail(img, IMG_ERR_OPEN, "Bitmap already exists: %s", r->name);
        }
        /* In-use bitmaps are loaded as inconsistent, without their data. */
        if (!(r->flags & Q2_BME_FLAG_IN_USE)) {
            err = check_table(img, q, &s, r);
            if (err != IMG_OK)
                return err;
        }
        img->bitmaps[img->n_bitmaps].granularity = 1ull << r->gran_bits;
        img->bitmaps[img->n_bitmaps].name_len = r->name_len;
        img->n_bitmaps++;
    }
    return IMG_OK;
}
