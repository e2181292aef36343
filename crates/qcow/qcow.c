/* qcow.c: the qcow (version 1) format, read as qemu-img 7.2 reads it.
 *
 * open() checks the 48-byte header in QEMU's order and with its messages;
 * map() walks the L1 and L2 tables: a non-zero L2 entry (normal or
 * compressed cluster) is data for the whole cluster, anything else is
 * unallocated.  Encrypted images need a key secret, as in QEMU; the data is
 * never decrypted, which block status does not need.
 *
 * Requests beyond QEMU's limits fail with EIO, as in QEMU.  Tables QEMU
 * would read past the end of the file (as zeros) are refused instead
 * (security.md T29, docs/formats/qcow.md).  The L1 table is streamed in
 * 1 MiB windows as the walk advances; one L2 table (at most 64 KiB) is held
 * at a time.  Work is bounded by the file: an L1 table whose L2 tables add
 * up to more bytes than the file holds (tables referenced twice, security.md
 * T13) is refused.
 */
#include "img.h"

#include "qcow_spec.h"
#include "rt.h"

#define QCOW_L1_WINDOW (1ull << 20)                /* bytes of L1 table per read */
#define QCOW_NO_TABLE UINT64_MAX

struct qcow_state {
    uint32_t cluster_bits;  /* log2(cluster bytes), 9..16 */
    uint32_t l2_bits;       /* log2(entries per L2 table), 6..13 */
    uint32_t shift;         /* cluster_bits + l2_bits: log2(bytes per L1 entry) */
    struct img_table l1;    /* the L1 table (covers the virtual size), big-endian */
    uint8_t *l2;            /* the current L2 table, 8 << l2_bits bytes */
    uint64_t l2_for;        /* L1 index whose table l2 holds, or QCOW_NO_TABLE */
    uint64_t l2_file_bytes; /* in-file bytes of every L2 table loaded so far */
};

static int qcow_probe(const uint8_t *buf, size_t len)
{
    uint8_t h[8] = {0};

    /* QEMU probes a zero-padded 2048-byte buffer: missing bytes are zeros. */
    memcpy(h, buf, len < sizeof(h) ? len : sizeof(h));
    return img_be32(h) == QCOW_MAGIC && img_be32(h + 4) == QCOW_VERSION ? 100 : 0;
}

static enum img_err qcow_open(struct img *img)
{
    uint8_t h[QCOW_HDR_LEN];
    struct qcow_state *s;
    uint64_t size;
    uint64_t backing_off;
    uint32_t backing_len;
    uint32_t crypt;
    uint64_t span;
    enum img_err err;

    err = img_read_zf(img, 0, sizeof(h), h);
    if (err != IMG_OK)
        return err;
    /* Reachable with -f qcow only: the probe needs the magic. */
    if (img_be32(h + QCOW_HDR_MAGIC) != QCOW_MAGIC)
        return img_fail(img, IMG_ERR_OPEN, "Image not in qcow format");
    /* qcow2 shares the magic; this driver reads version 1 only. */
    if (img_be32(h + QCOW_HDR_VERSION) != QCOW_VERSION)
        return img_fail(img, IMG_ERR_OPEN, "qcow (v1) does not support qcow version %u",
                        img_be32(h + QCOW_HDR_VERSION));
    size = img_be64(h + QCOW_HDR_SIZE);
    /* A one-byte disk has no sector; QEMU refuses it. */
    if (size <= 1)
        return img_fail(img, IMG_ERR_OPEN,
                        "Image size is too small (must be at least 2 bytes)");
    /* QEMU's limits: 512 B .. 64 KiB clusters and L2 tables. */
    if (h[QCOW_HDR_CLUSTER_BITS] < QCOW_MIN_CLUSTER_BITS ||
        h[QCOW_HDR_CLUSTER_BITS] > QCOW_MAX_CLUSTER_BITS)
        return img_fail(img, IMG_ERR_OPEN, "Cluster size must be between 512 and 64k");
    if (h[QCOW_HDR_L2_BITS] < QCOW_MIN_L2_BITS || h[QCOW_HDR_L2_BITS] > QCOW_MAX_L2_BITS)
        return img_fail(img, IMG_ERR_OPEN, "L2 table size must be between 512 and 64k");
    crypt = img_be32(h + QCOW_HDR_CRYPT);
    if (crypt == QCOW_CRYPT_AES && img->opts.key_secret == NULL)
        /* QEMU sets up the AES key before it reads any table. */
        return img_fail(img, IMG_ERR_OPEN,
                        "Parameter 'encrypt.key-secret' is required for cipher");
    /* AES-CBC is the only method the format defines. */
    if (crypt > QCOW_CRYPT_AES)
        return img_fail(img, IMG_ERR_OPEN, "invalid encryption method in qcow header");

    s = img_alloc(img->arena, sizeof(*s));
    if (s == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->cluster_bits = h[QCOW_HDR_CLUSTER_BITS];
    s->l2_bits = h[QCOW_HDR_L2_BITS];
    s->shift = s->cluster_bits + s->l2_bits;
    span = 1ull << s->shift;
    /* The L1 table must cover the size and fit QEMU's int-sized allocation. */
    if (size > UINT64_MAX - span)
        return img_fail(img, IMG_ERR_OPEN, "Image too large");
    s->l1.entries = (size + span - 1) >> s->shift;
    if (s->l1.entries > QCOW_MAX_L1_ENTRIES)
        return img_fail(img, IMG_ERR_OPEN, "Image too large");
    s->l1.off = img_be64(h + QCOW_HDR_L1_OFF);
    /* QEMU reads the whole L1 table here; its block layer refuses the
     * request with EIO (and no message of the driver's). */
    if (!img_qemu_request_ok(s->l1.off, s->l1.entries * 8))
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Input/output error");
    if (!img_in_file(img, s->l1.off, s->l1.entries * 8))
        return img_fail(img, IMG_ERR_OPEN,
                        "qcow L1 table at offset %llu (%llu entries) is beyond the end of the "
                        "file", (unsigned long long)s->l1.off,
                        (unsigned long long)s->l1.entries);

    backing_off = img_be64(h + QCOW_HDR_BACKING_OFF);
    if (backing_off != 0) {
        char name[QCOW_MAX_BACKING_LEN + 1];

        backing_len = img_be32(h + QCOW_HDR_BACKING_LEN);
        /* QEMU keeps the name in a 1024-byte buffer. */
        if (backing_len > QCOW_MAX_BACKING_LEN)
            return img_fail(img, IMG_ERR_OPEN, "Backing file name too long");
        if (!img_qemu_request_ok(backing_off, backing_len))
            return img_fail(img, IMG_ERR_OPEN_ERRNO, "Input/output error");
        err = img_read_zf(img, backing_off, backing_len, (uint8_t *)name);
        if (err != IMG_OK)
            return err;
        /* An empty name (a leading NUL) means no backing file to QEMU;
         * qcow records no backing format: it is probed. */
        err = img_set_backing(img, (const uint8_t *)name, backing_len, NULL);
        if (err != IMG_OK)
            return err;
    }

    s->l1.esize = 8;
    s->l1.big_endian = true;
    s->l1.win_bytes = QCOW_L1_WINDOW;
    s->l1.win = img_alloc(img->arena, QCOW_L1_WINDOW);
    s->l2 = img_alloc(img->arena, 8ull << s->l2_bits);
    if (s->l1.win == NULL || s->l2 == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->l2_for = QCOW_NO_TABLE;
    img->state = s;
    /* QEMU counts whole sectors: bs->total_sectors = size / 512. */
    img->virtual_size = size / 512 * 512;
    return IMG_OK;
}


/* Make s->l2 hold the L2 table at `l2_off` for L1 entry `i`. */
static enum img_err qcow_load_l2(struct img *img, struct qcow_state *s, uint64_t i,
                                 uint64_t l2_off)
{
    uint64_t entries = 1ull << s->l2_bits;
    enum img_err err;

    if (s->l2_for == i)
        return IMG_OK;
    /* QEMU reads the table with bdrv_pread: beyond its limits, EIO. */
    if (!img_qemu_request_ok(l2_off, entries * 8))
        return img_fail(img, IMG_ERR_IO, "Unable to get block status: Input/output error");
    if (!img_in_file(img, l2_off, entries * 8))
        return img_fail(img, IMG_ERR_OPEN,
                        "qcow L2 table at offset %llu (L1 index %llu) is beyond the end of the "
                        "file", (unsigned long long)l2_off, (unsigned long long)i);
    /* Distinct L2 tables cannot hold more bytes than the file: more means
     * tables referenced twice, whose walk would not be bounded by the file
     * (T13). */
    s->l2_file_bytes += entries * 8;
    if (s->l2_file_bytes > img->io->size)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "the qcow L1 table references overlapping L2 tables; instar "
                        "refuses metadata it would have to walk more than once");
    err = img_read_zf(img, l2_off, entries * 8, s->l2);
    if (err != IMG_OK)
        return err;
    s->l2_for = i;
    return IMG_OK;
}

static enum img_err qcow_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct qcow_state *s = img->state;
    uint64_t end = off + max;
    uint64_t pos = off;
    bool have = false;
    enum img_status st = IMG_UNALLOC;

    while (pos < end) {
        uint64_t i = pos >> s->shift;
        uint64_t span_end = (i + 1) << s->shift;
        uint64_t seg_end;
        enum img_status cur = IMG_UNALLOC;
        uint64_t l2_off;
        enum img_err err;

        if (span_end > end)
            span_end = end;
        err = img_table_entry(img, &s->l1, i, &l2_off);
        if (err != IMG_OK)
            return err;
        seg_end = span_end;
        if (l2_off != 0) {
            uint64_t j = (pos >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
            uint64_t cluster_end = ((pos >> s->cluster_bits) + 1) << s->cluster_bits;

            err = qcow_load_l2(img, s, i, l2_off);
            if (err != IMG_OK)
                return err;
            /* Any non-zero entry, compressed or not, is data. */
            cur = img_be64(s->l2 + j * 8) != 0 ? IMG_DATA : IMG_UNALLOC;
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

const struct img_driver img_driver_qcow = {
    .name = "qcow",
    .abi_fmt = ABI_FMT_QCOW1,
    .probe = qcow_probe,
    .open = qcow_open,
    .map = qcow_map,
};
