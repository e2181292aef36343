/* qcow2.c: the qcow2 format (versions 2 and 3): probe and open.
 *
 * open() follows qemu 7.2's qcow2_do_open for a read-only open, in its
 * order and with its messages: magic -> version -> cluster size -> header
 * length -> compression type -> incompatible features -> refcount width ->
 * table limits (refcount table, snapshot table, L1) -> encryption method ->
 * header extensions -> data file -> encryption -> backing file name ->
 * snapshot table -> persistent bitmaps -> virtual size; then qemu-img's -l.
 * Tables qemu would read past the end of the file (as zeros) are refused
 * instead (docs/formats/qcow2.md), as are L1 tables naming one L2 table
 * twice.  map() is in qcow2_map.c.
 */
#include "qcow2_int.h"
#include "rt.h"

/* Backing file names are copied into a buffer of this size (PATH_MAX). */

static int qcow2_probe(const uint8_t *buf, size_t len)
{
    uint8_t head[8] = {0};

    /* qemu probes a 2048-byte buffer zero-filled past the end of the file,
     * so 8 bytes of magic and version suffice. */
    memcpy(head, buf, len < sizeof(head) ? len : sizeof(head));
    return img_be32(head) == Q2_MAGIC && img_be32(head + 4) >= 2 ? 100 : 0;
}

/* qemu's qcow2_validate_table, with its messages. */
static enum img_err validate_table(struct img *img, const struct q2 *q, uint64_t off,
                                   uint64_t entries, uint64_t entry_len, uint64_t max_bytes,
                                   const char *name)
{
    switch (q2_table_check(q, off, entries, entry_len, max_bytes)) {
    case Q2_TABLE_TOO_LARGE:
        /* qemu's in-memory limit for the table. */
        return img_fail(img, IMG_ERR_OPEN, "%s too large", name);
    case Q2_TABLE_BAD_OFFSET:
        /* Past INT64_MAX, or not cluster aligned. */
        return img_fail(img, IMG_ERR_OPEN, "%s offset invalid", name);
    default:
        return IMG_OK;
    }
}

/* Magic, version, cluster size, header length, version 3 fields. */
static enum img_err parse_header(struct img *img, struct q2 *q, const uint8_t *h)
{
    /* "QFI\xfb" (only reached with -f qcow2). */
    if (img_be32(h + Q2_HDR_MAGIC) != Q2_MAGIC)
        return img_fail(img, IMG_ERR_OPEN, "Image is not in qcow2 format");
    q->version = img_be32(h + Q2_HDR_VERSION);
    /* Versions 2 and 3 are the only ones defined. */
    if (q->version < 2 || q->version > 3)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported qcow2 version %u", q->version);
    q->cluster_bits = img_be32(h + Q2_HDR_CLUSTER_BITS);
    /* qemu supports 512 B .. 2 MiB clusters. */
    if (q->cluster_bits < Q2_MIN_CLUSTER_BITS || q->cluster_bits > Q2_MAX_CLUSTER_BITS)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported cluster size: 2^%u", q->cluster_bits);
    q->cluster_size = 1ull << q->cluster_bits;
    q->backing_offset = img_be64(h + Q2_HDR_BACKING_OFFSET);
    q->backing_size = img_be32(h + Q2_HDR_BACKING_SIZE);
    q->size = img_be64(h + Q2_HDR_SIZE);
    q->crypt_method = img_be32(h + Q2_HDR_CRYPT_METHOD);
    q->l1_size = img_be32(h + Q2_HDR_L1_SIZE);
    q->l1_offset = img_be64(h + Q2_HDR_L1_OFFSET);
    q->reftable_offset = img_be64(h + Q2_HDR_REFTABLE_OFFSET);
    q->reftable_clusters = img_be32(h + Q2_HDR_REFTABLE_CLUSTERS);
    q->nb_snapshots = img_be32(h + Q2_HDR_NB_SNAPSHOTS);
    q->snapshots_offset = img_be64(h + Q2_HDR_SNAPSHOTS_OFFSET);
    if (q->version == 2) {
        /* Version 2 has none of the later fields: qemu's defaults. */
        q->incompat = 0;
        q->autoclear = 0;
        q->refcount_order = 4;
        q->header_length = Q2_HDR_V2_LENGTH;
    } else {
        q->incompat = img_be64(h + Q2_HDR_INCOMPAT);
        q->autoclear = img_be64(h + Q2_HDR_AUTOCLEAR);
        q->refcount_order = img_be32(h + Q2_HDR_REFCOUNT_ORDER);
        q->header_length = img_be32(h + Q2_HDR_HEADER_LENGTH);
        /* A v3 header has at least the fields up to header_length. */
        if (q->header_length < Q2_HDR_V3_MIN_LENGTH)
            return img_fail(img, IMG_ERR_OPEN, "qcow2 header too short");
    }
    /* The header and its extensions live in the first cluster. */
    if (q->header_length > q->cluster_size)
        return img_fail(img, IMG_ERR_OPEN, "qcow2 header exceeds cluster size");
    /* So does the backing file name, which ends the extension area. */
    if (q->backing_offset > q->cluster_size)
        return img_fail(img, IMG_ERR_OPEN, "Invalid backing file offset");
    q->ext_end = q->backing_offset != 0 ? q->backing_offset : q->cluster_size;
    return IMG_OK;
}

/* Compression type, incompatible features, subclusters, refcount width. */
static enum img_err parse_features(struct img *img, struct q2 *q, const uint8_t *h)
{
    /* The field exists only when the header is long enough to hold it. */
    uint32_t ctype = q->header_length > Q2_HDR_COMPRESSION_TYPE ? h[Q2_HDR_COMPRESSION_TYPE]
                                                                : Q2_COMPRESSION_ZLIB;
    uint64_t unknown = q->incompat & ~Q2_INCOMPAT_MASK;

    /* qemu 7.2 (built with zstd) decompresses zlib and zstd. */
    if (ctype != Q2_COMPRESSION_ZLIB && ctype != Q2_COMPRESSION_ZSTD)
        return img_fail(img, IMG_ERR_OPEN, "qcow2: unknown compression type: %u", ctype);
    /* The feature bit says whether the type is not zlib. */
    if (ctype == Q2_COMPRESSION_ZLIB && (q->incompat & Q2_INCOMPAT_COMPRESSION))
        return img_fail(img, IMG_ERR_OPEN,
                        "qcow2: Compression type incompatible feature bit must not be set");
    if (ctype != Q2_COMPRESSION_ZLIB && !(q->incompat & Q2_INCOMPAT_COMPRESSION))
        return img_fail(img, IMG_ERR_OPEN,
                        "qcow2: Compression type incompatible feature bit must be set");
    /* The spec: unknown incompatible features make the image unreadable. */
    if (unknown != 0)
        return q2_ext_unsupported(img, q, unknown);
    /* Dirty (stale refcounts) and corrupt are refused only read/write. */
    q->extl2 = (q->incompat & Q2_INCOMPAT_EXTL2) != 0;
    q->sc_bits = q->extl2 ? q->cluster_bits - 5 : q->cluster_bits;
    /* 32 subclusters of at least 512 bytes: 16 KiB clusters and up. */
    if (q->sc_bits < Q2_MIN_CLUSTER_BITS)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported subcluster size: %u",
                        1u << q->sc_bits);
    /* Refcounts are at most 64 bits wide. */
    if (q->refcount_order > Q2_MAX_REFCOUNT_ORDER)
        return img_fail(img, IMG_ERR_OPEN,
                        "Reference count entry width too large; may not exceed 64 bits");
    /* 8-byte L2 entries, 16 with extended L2. */
    q->l2_bits = q->cluster_bits - (q->extl2 ? 4 : 3);
    return IMG_OK;
}

/* The refcount table, the snapshot table and the active L1 table. */
static enum img_err check_tables(struct img *img, struct q2 *q)
{
    uint32_t shift = q->cluster_bits + q->l2_bits;
    uint64_t l1_need;
    enum img_err err;

    /* Refcounts are mandatory (qemu only opens such images to repair). */
    if (q->reftable_clusters == 0)
        return img_fail(img, IMG_ERR_OPEN, "Image does not contain a reference count table");
    err = validate_table(img, q, q->reftable_offset, q->reftable_clusters, q->cluster_size,
                         Q2_MAX_REFTABLE_BYTES, "Reference count table");
    if (err == IMG_OK)
        err = validate_table(img, q, q->snapshots_offset, q->nb_snapshots, Q2_SN_HDR_LEN,
                             (uint64_t)Q2_SN_HDR_LEN * Q2_MAX_SNAPSHOTS, "Snapshot table");
    if (err == IMG_OK)
        err = validate_table(img, q, q->l1_offset, q->l1_size, 8, Q2_MAX_L1_BYTES,
                             "Active L1 table");
    if (err != IMG_OK)
        return err;
    /* L1 entries needed for the virtual size; qemu's sum wraps for sizes
     * near 2^64 (those fail later, at the total sector count). */
    l1_need = (q->size + ((1ull << shift) - 1)) >> shift;
    if (l1_need > (uint64_t)INT32_MAX)
        return img_fail(img, IMG_ERR_OPEN, "Image is too big");
    /* The L1 table must cover the virtual size. */
    if (q->l1_size < l1_need)
        return img_fail(img, IMG_ERR_OPEN, "L1 table is too small");
    /* qemu reads the L1 table here, as zeros past the end of the file
     * (security.md T29): refused instead, unless qemu fails too. */
    if (q2_past_max(q->l1_offset, (uint64_t)q->l1_size * 8))
        return img_fail(img, IMG_ERR_OPEN, "Could not read L1 table: Input/output error");
    if (!q2_in_file(img, q->l1_offset, (uint64_t)q->l1_size * 8))
        return img_fail(img, IMG_ERR_OPEN,
                        "Active L1 table is beyond the end of the file (offset %llu, %u entries)",
                        (unsigned long long)q->l1_offset, q->l1_size);
    /* Methods beyond LUKS do not exist (printed as a signed int). */
    if (q->crypt_method > Q2_CRYPT_LUKS)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported encryption method %d",
                        (int)q->crypt_method);
    /* qemu reads the refcount table next: refused past the end likewise. */
    if (q2_past_max(q->reftable_offset, (uint64_t)q->reftable_clusters << q->cluster_bits))
        return img_fail(img, IMG_ERR_OPEN,
                        "Could not initialize refcount handling: Input/output error");
    if (!q2_in_file(img, q->reftable_offset, (uint64_t)q->reftable_clusters << q->cluster_bits))
        return img_fail(img, IMG_ERR_OPEN,
                        "Reference count table is beyond the end of the file (offset %llu)",
                        (unsigned long long)q->reftable_offset);
    return IMG_OK;
}

/* External data file, encryption, backing file name. */
static enum img_err check_references(struct img *img, struct q2 *q)
{
    uint8_t name[Q2_BACKING_NAME_MAX];

    /* The data file is another host file (security.md T7): the caller
     * asks the host for it, which judges the name by its path policy.
     * Without a name qemu has nothing to open. */
    if ((q->incompat & Q2_INCOMPAT_DATA_FILE) && !q->data_file_ext)
        return img_fail(img, IMG_ERR_OPEN, "'data-file' is required for this image");
    if (q->incompat & Q2_INCOMPAT_DATA_FILE) {
        char *df = img_alloc(img->arena, (uint64_t)q->data_file_len + 1);
        uint32_t n = 0;

        if (df == NULL)
            return img_fail(img, IMG_ERR_NOMEM, "out of memory");
        while (n < q->data_file_len && q->data_file_name[n] != '\0') {
            df[n] = (char)q->data_file_name[n];
            n++;
        }
        df[n] = '\0';
        img->data_file = df;
        q->data_file = true;
    }
    /* The raw-data autoclear bit needs the data file bit. */
    if ((q->autoclear & Q2_AUTOCLEAR_DATA_FILE_RAW) && !(q->incompat & Q2_INCOMPAT_DATA_FILE))
        return img_fail(img, IMG_ERR_OPEN, "data-file-raw requires a data file");
    /* The AES key is the passphrase itself (qcrypto_block_qcow_open). */
    if (q->crypt_method == Q2_CRYPT_AES && img->opts.key_secret == NULL)
        return img_fail(img, IMG_ERR_OPEN,
                        "Parameter 'encrypt.key-secret' is required for cipher");
    /* LUKS keeps its header in clusters named by an extension. */
    if (q->crypt_method == Q2_CRYPT_LUKS && !q->crypto_ext)
        return img_fail(img, IMG_ERR_OPEN, "Missing CRYPTO header for crypt method %u",
                        q->crypt_method);
    if (q->backing_offset != 0) {
        uint64_t room = q->cluster_size - q->backing_offset;
        uint64_t max = room < Q2_BACKING_NAME_MAX ? room : Q2_BACKING_NAME_MAX;
        enum img_err err;

        /* The name must fit the spec's limit and the first cluster. */
        if (q->backing_size > max || q->backing_size > sizeof(name))
            return img_fail(img, IMG_ERR_OPEN, "Backing file name too long");
        /* An empty name (or one starting with NUL) means no backing file. */
        if (q->backing_size > 0) {
            err = img_read_zf(img, q->backing_offset, q->backing_size, name);
            if (err != IMG_OK)
                return err;
        }
        return img_set_backing(img, name, q->backing_size, q->backing_fmt);
    }
    return IMG_OK;
}

static enum img_err qcow2_open(struct img *img)
{
    uint8_t h[Q2_HDR_READ_LEN];
    struct q2 *q = q2_alloc(img, sizeof(*q));
    enum img_err err;

    /* The arena is the driver's only memory. */
    if (q == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    img->state = q;
    /* qemu reads sizeof(QCowHeader), zero-filled past the end. */
    err = img_read_zf(img, 0, sizeof(h), h);
    if (err == IMG_OK)
        err = parse_header(img, q, h);
    if (err == IMG_OK)
        err = parse_features(img, q, h);
    if (err == IMG_OK)
        err = check_tables(img, q);
    if (err == IMG_OK)
        err = q2_ext_read(img, q);
    if (err == IMG_OK)
        err = check_references(img, q);
    if (err == IMG_OK)
        err = q2_snap_read(img, q);
    if (err == IMG_OK)
        err = q2_bitmaps_load(img, q);
    if (err != IMG_OK)
        return err;
    /* qemu's total sector count must fit int64_t bytes. */
    if (q->size / 512 > (uint64_t)INT64_MAX / 512)
        return img_fail(img, IMG_ERR_OPEN,
                        "Could not refresh total sector count: File too large");
    img->virtual_size = q->size / 512 * 512;
    img->supports_bitmaps = q->version >= 3;
    q->map_l1_offset = q->l1_offset;
    q->map_l1_size = q->l1_size;
    /* qemu-img loads the -l snapshot after opening the image. */
    err = q2_snap_load(img, q);
    if (err == IMG_OK)
        err = q2_l1_check(img, q);
    return err;
}

static enum img_err qcow2_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    return q2_map(img, off, max, out);
}

const struct img_driver img_driver_qcow2 = {
    .name = "qcow2",
    .abi_fmt = ABI_FMT_QCOW2,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .map = qcow2_map,
};
