/* qed.c: the QED format, read as qemu-img 7.2 reads it.
 *
 * open() checks the header in QEMU's order and with its messages (read-only:
 * the need-check flag and unknown auto-clear bits are ignored, as QEMU does
 * for a read-only open).  map() walks the L1 and L2 tables: allocated
 * clusters are data, zero clusters (entry 1) are zero, the rest is
 * unallocated.  Like QEMU, an L2 table offset is validated when the walk
 * reaches it, and an allocated cluster offset when it starts a run of
 * contiguous clusters (QEMU checks only the first cluster of each run);
 * either failure is "Unable to get block status: Invalid argument".
 *
 * Tables can be 1 GiB (16 clusters of 64 MiB): both levels are streamed in
 * 1 MiB windows as the walk advances, each byte read once.  QEMU keeps every
 * table inside the file; an L1 table whose L2 tables add up to more bytes
 * than the file holds references a table twice (security.md T13) and is
 * refused, which bounds the walk by the file size.
 */
#include "img.h"

#include "qed_spec.h"
#include "rt.h"

#define QED_WINDOW (1ull << 20)                   /* bytes of a table per read */
#define QED_NONE UINT64_MAX

struct qed_state {
    uint64_t cluster_size; /* bytes, a power of two */
    uint32_t cluster_bits; /* log2(cluster_size) */
    uint64_t table_size;   /* clusters per table */
    uint64_t nelems;       /* entries per table */
    uint32_t l1_shift;     /* log2(guest bytes per L1 entry) */
    uint64_t file_size;    /* the file size, up to a sector, down to a cluster */
    uint64_t data_start;   /* header_size * cluster_size: lowest valid cluster */
    struct img_table l1;   /* little-endian u64 entries, nelems of them */
    struct img_table l2;
    uint64_t l2_for;       /* L1 index whose table l2 is, or QED_NONE */
    uint64_t prev_j;       /* last L2 index looked at in it, or QED_NONE */
    uint64_t prev;         /* its entry */
    enum img_status prev_st; /* and its status */
    uint64_t l2_bytes;     /* bytes of the L2 tables loaded so far */
};

static uint32_t qed_log2(uint64_t v)
{
    uint32_t n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

static bool qed_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}


/* qed_check_cluster_offset(): aligned, past the header, inside the file. */
static bool qed_cluster_ok(const struct qed_state *s, uint64_t off)
{
    return (off & (s->cluster_size - 1)) == 0 && off >= s->data_start && off < s->file_size;
}

/* qed_check_table_offset(): the first and last clusters of the table are
 * valid cluster offsets.  QEMU's overflow test also refuses every
 * one-cluster table (its last cluster is its first). */
static bool qed_table_ok(const struct qed_state *s, uint64_t off)
{
    uint64_t last = off + (s->table_size - 1) * s->cluster_size;

    if (last <= off)
        return false;
    return qed_cluster_ok(s, off) && qed_cluster_ok(s, last);
}


static int qed_probe(const uint8_t *buf, size_t len)
{
    uint8_t h[4] = {0};

    /* QEMU probes a zero-padded 2048-byte buffer: missing bytes are zeros. */
    memcpy(h, buf, len < sizeof(h) ? len : sizeof(h));
    return img_le32(h) == QED_MAGIC ? 100 : 0;
}

static enum img_err qed_open(struct img *img)
{
    uint8_t h[QED_HDR_LEN];
    struct qed_state *s;
    uint64_t features;
    uint64_t image_size;
    uint64_t max_size;
    uint32_t header_size;
    enum img_err err;

    err = img_read_zf(img, 0, sizeof(h), h);
    if (err != IMG_OK)
        return err;
    /* Reachable with -f qed only: the probe needs the magic. */
    if (img_le32(h + QED_HDR_MAGIC) != QED_MAGIC)
        return img_fail(img, IMG_ERR_OPEN, "Image not in QED format");
    features = img_le64(h + QED_HDR_FEATURES);
    /* Unknown incompatible features change the layout. */
    if (features & ~(uint64_t)QED_FEATURE_MASK)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported QED features: %llx",
                        (unsigned long long)(features & ~(uint64_t)QED_FEATURE_MASK));
    s = img_alloc(img->arena, sizeof(*s));
    if (s == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->cluster_size = img_le32(h + QED_HDR_CLUSTER_SIZE);
    /* Cluster and table sizes: powers of two within QED's limits. */
    if (!qed_pow2(s->cluster_size) || s->cluster_size < QED_MIN_CLUSTER_SIZE ||
        s->cluster_size > QED_MAX_CLUSTER_SIZE)
        return img_fail(img, IMG_ERR_OPEN, "QED cluster size is invalid");
    s->cluster_bits = qed_log2(s->cluster_size);
    /* QEMU's file length counts whole sectors (the last one partial). */
    s->file_size = ((img->io->size + 511) & ~511ull) & ~(s->cluster_size - 1);
    s->table_size = img_le32(h + QED_HDR_TABLE_SIZE);
    if (!qed_pow2(s->table_size) || s->table_size < QED_MIN_TABLE_SIZE ||
        s->table_size > QED_MAX_TABLE_SIZE)
        return img_fail(img, IMG_ERR_OPEN, "QED table size is invalid");
    s->nelems = s->table_size * s->cluster_size / 8; /* <= 2^27 */
    /* QEMU's maximum, nelems^2 clusters, is computed in 64 bits and wraps
     * for the largest geometries (to 0: only a 0-byte image is accepted);
     * the wrap is reproduced on purpose. */
    max_size = s->nelems * s->cluster_size * s->nelems;
    image_size = img_le64(h + QED_HDR_IMAGE_SIZE);
    /* Whole sectors, addressable by the two table levels. */
    if (image_size % 512 != 0 || image_size > max_size)
        return img_fail(img, IMG_ERR_OPEN, "QED image size is invalid");
    header_size = img_le32(h + QED_HDR_HEADER_SIZE);
    s->data_start = (uint64_t)header_size * s->cluster_size;
    s->l1.off = img_le64(h + QED_HDR_L1_OFF);
    /* The L1 table must lie inside the file, past the header. */
    if (!qed_table_ok(s, s->l1.off))
        return img_fail(img, IMG_ERR_OPEN, "QED table offset is invalid");
    s->l1_shift = s->cluster_bits + qed_log2(s->nelems);
    /* QEMU computes header_size * cluster_size in 32 bits. */
    if (header_size > UINT32_MAX / s->cluster_size)
        return img_fail(img, IMG_ERR_OPEN, "QED header size is too large");
    if (features & QED_F_BACKING_FILE) {
        uint64_t off = img_le32(h + QED_HDR_BACKING_OFF);
        uint64_t len = img_le32(h + QED_HDR_BACKING_LEN);
        char name[QED_MAX_BACKING_LEN + 1];

        /* The name must lie inside the header clusters. */
        if (off + len > s->data_start)
            return img_fail(img, IMG_ERR_OPEN, "QED backing filename offset is invalid");
        /* QEMU's name buffer is PATH_MAX bytes. */
        if (len > QED_MAX_BACKING_LEN)
            return img_fail(img, IMG_ERR_OPEN, "Failed to read backing filename");
        err = img_read_zf(img, off, len, (uint8_t *)name);
        if (err != IMG_OK)
            return err;
        /* An empty name (a leading NUL) opens no backing file.  The
         * no-probe feature makes it raw; otherwise it is probed. */
        err = img_set_backing(img, (const uint8_t *)name, len,
                              (features & QED_F_BACKING_FORMAT_NO_PROBE) ? "raw" : NULL);
        if (err != IMG_OK)
            return err;
    }
    /* QEMU reads the whole L1 table here; it lies inside the file, so only
     * an I/O error could fail it.  instar streams it during the walk. */
    s->l1.win = img_alloc(img->arena, QED_WINDOW);
    s->l2.win = img_alloc(img->arena, QED_WINDOW);
    s->l1.win_bytes = s->l2.win_bytes = QED_WINDOW;
    s->l1.esize = s->l2.esize = 8;
    s->l1.entries = s->l2.entries = s->nelems;
    if (s->l1.win == NULL || s->l2.win == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->l2_for = QED_NONE;
    s->prev_j = QED_NONE;
    img->state = s;
    /* The block layer's length checks: 2^63 (possible with 2 MiB clusters
     * and 8-cluster tables) is INT64_MIN to QEMU, whose error code then
     * truncates to 0, leaving a 0-byte disk. */
    if (image_size == 1ull << 63)
        image_size = 0;
    if (image_size > IMG_QEMU_MAX_LENGTH)
        return img_fail(img, IMG_ERR_OPEN,
                        "Could not refresh total sector count: File too large");
    img->virtual_size = image_size;
    return IMG_OK;
}

/* Status of L2 entry `j` of L1 entry `i` (at `l2_off`), as QEMU's
 * qed_find_cluster() would report a run starting there. */
static enum img_err qed_l2_status(struct img *img, struct qed_state *s, uint64_t i,
                                  uint64_t l2_off, uint64_t j, enum img_status *out)
{
    uint64_t v;
    enum img_err err;

    if (s->l2_for != i) {
        if (!qed_table_ok(s, l2_off))
            return img_fail(img, IMG_ERR_IO, "Unable to get block status: Invalid argument");
        /* Distinct tables inside the file cannot outgrow it (T13). */
        s->l2_bytes += s->nelems * 8;
        if (s->l2_bytes > s->file_size)
            return img_fail(img, IMG_ERR_UNSUPPORTED,
                            "the QED L1 table references overlapping L2 tables; instar "
                            "refuses metadata it would have to walk more than once");
        s->l2_for = i;
        s->l2.off = l2_off;
        s->l2.count = 0;
        s->prev_j = QED_NONE;
    }
    if (s->prev_j == j) {
        /* Looked at already (a previous map() ended just before it). */
        *out = s->prev_st;
        return IMG_OK;
    }
    err = img_table_entry(img, &s->l2, j, &v);
    if (err != IMG_OK)
        return err;
    if (v == QED_UNALLOCATED) {
        *out = IMG_UNALLOC;
    } else if (v == QED_ZERO_CLUSTER) {
        *out = IMG_ZERO;
    } else {
        /* QEMU validates the first cluster of each contiguous run only. */
        bool starts_run = s->prev_j == QED_NONE || s->prev_j + 1 != j ||
                          s->prev == QED_UNALLOCATED || s->prev == QED_ZERO_CLUSTER ||
                          v != s->prev + s->cluster_size;

        if (starts_run && !qed_cluster_ok(s, v))
            return img_fail(img, IMG_ERR_IO, "Unable to get block status: Invalid argument");
        *out = IMG_DATA;
    }
    s->prev_j = j;
    s->prev = v;
    s->prev_st = *out;
    return IMG_OK;
}

static enum img_err qed_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct qed_state *s = img->state;
    uint64_t end = off + max;
    uint64_t pos = off;
    uint64_t span = 1ull << s->l1_shift;
    bool have = false;
    enum img_status st = IMG_UNALLOC;

    while (pos < end) {
        /* pos < 2^63 and span <= 2^53: no overflow. */
        uint64_t i = pos >> s->l1_shift;
        uint64_t seg_end = pos - (pos & (span - 1)) + span;
        enum img_status cur = IMG_UNALLOC;
        uint64_t l2_off;
        enum img_err err;

        if (seg_end > end)
            seg_end = end;
        err = img_table_entry(img, &s->l1, i, &l2_off);
        if (err != IMG_OK)
            return err;
        if (l2_off != QED_UNALLOCATED) {
            uint64_t j = (pos >> s->cluster_bits) & (s->nelems - 1);
            uint64_t cluster_end = pos - (pos & (s->cluster_size - 1)) + s->cluster_size;

            err = qed_l2_status(img, s, i, l2_off, j, &cur);
            if (err != IMG_OK)
                return err;
            if (cur == IMG_UNALLOC && cluster_end < seg_end) {
                /* The run of unallocated entries up to seg_end in one step
                 * (the next allocated one starts a run of its own). */
                uint64_t last = j + 1 + (seg_end - cluster_end + s->cluster_size - 1) /
                                            s->cluster_size;
                uint64_t k;

                err = img_table_skip_zeros(img, &s->l2, j + 1, last, &k);
                if (err != IMG_OK)
                    return err;
                cluster_end += (k - j - 1) * s->cluster_size;
            }
            if (cluster_end < seg_end)
                seg_end = cluster_end;
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

const struct img_driver img_driver_qed = {
    .name = "qed",
    .abi_fmt = ABI_FMT_QED,
    .probe = qed_probe,
    .open = qed_open,
    .map = qed_map,
};
