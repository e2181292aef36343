/* qcow2_ext.c: header extensions (spec "Header extensions") and the report
 * of unsupported incompatible features.
 *
 * The extension area is [header_length, ext_end), inside the first cluster,
 * so it is read once (at most 2 MiB) and parsed in memory; past the end of
 * the file it reads as zeros, as qemu's block layer makes it.  qemu walks it
 * twice: a first, error-tolerant pass that only looks for the feature name
 * table when unknown incompatible bits are set, and the real pass; in the
 * first pass the encryption method is not known yet.
 */
#include "qcow2_int.h"
#include "rt.h"
#include "rt_fmt.h"

struct ext_scan {
    bool full;                  /* the second pass: apply every extension */
    const uint8_t *feat;        /* last feature name table seen (first pass) */
    uint32_t feat_len;          /* its bytes */
};

/* Does the extension list end (an end marker) inside the first `have`
 * bytes of the area?  Then nothing past them is ever looked at. */
static bool ends_within(const uint8_t *area, uint64_t have)
{
    uint64_t off = 0;

    while (have - off >= Q2_EXT_HDR_LEN) {
        if (img_be32(area + off) == Q2_EXT_END)
            return true;
        off += Q2_EXT_HDR_LEN + (((uint64_t)img_be32(area + off + 4) + 7) & ~(uint64_t)7);
        if (off > have)
            return false;
    }
    return false;
}

/* The extension area, zero-filled past the end of the file.  Extensions
 * almost always end within the header's 4 KiB page: that part is read
 * first (one small read, usually served by the probe's), the rest of the
 * cluster only when the list goes on. */
static enum img_err load_area(struct img *img, const struct q2 *q, uint8_t **area)
{
    uint64_t len = q->ext_end > q->header_length ? q->ext_end - q->header_length : 0;
    uint64_t first = Q2_EXT_FIRST_PAGE - (q->header_length & (Q2_EXT_FIRST_PAGE - 1));
    enum img_err err;

    *area = NULL;
    if (len == 0)
        return IMG_OK;
    /* ext_end <= cluster size <= 2 MiB, checked in open. */
    *area = q2_alloc(img, len);
    if (*area == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    first = first < len ? first : len;
    err = img_read_zf(img, q->header_length, first, *area);
    if (err != IMG_OK || first == len || ends_within(*area, first))
        return err;
    return img_read_zf(img, q->header_length + first, len - first, *area + first);
}

static enum img_err ext_crypto(struct img *img, struct q2 *q, const struct ext_scan *s,
                               const uint8_t *p, uint32_t len)
{
    /* The first pass runs before qemu has stored the encryption method. */
    uint32_t method = s->full ? q->crypt_method : Q2_CRYPT_NONE;
    uint64_t off;

    if (method != Q2_CRYPT_LUKS)
        return img_fail(img, IMG_ERR_OPEN, "CRYPTO header extension only expected with LUKS "
                        "encryption method");
    /* An offset and a length, 8 bytes each. */
    if (len != Q2_CRYPTO_EXT_LEN)
        return img_fail(img, IMG_ERR_OPEN, "CRYPTO header extension size %u, but expected "
                        "size %u", len, Q2_CRYPTO_EXT_LEN);
    off = img_be64(p);
    /* The LUKS header starts on a cluster boundary. */
    if (off & (q->cluster_size - 1))
        return img_fail(img, IMG_ERR_OPEN, "Encryption header offset '%llu' is not a multiple "
                        "of cluster size '%llu'", (unsigned long long)off,
                        (unsigned long long)q->cluster_size);
    /* qemu opens the LUKS header here; it needs the passphrase first. */
    if (img->opts.key_secret == NULL)
        return img_fail(img, IMG_ERR_OPEN,
                        "Parameter 'encrypt.key-secret' is required for cipher");
    /* With a secret, qemu would parse the LUKS header and try the key
     * slots; instar decrypts nothing, so it does neither. */
    if (s->full)
        q->crypto_ext = true;
    return IMG_OK;
}

static enum img_err ext_bitmaps(struct img *img, struct q2 *q, const struct ext_scan *s,
                                const uint8_t *p, uint32_t len)
{
    uint32_t nb;
    uint64_t dir_size;
    uint64_t dir_off;

    /* The extension has a fixed size (checked before the autoclear bit). */
    if (len != Q2_BMEXT_LEN)
        return img_fail(img, IMG_ERR_OPEN, "bitmaps_ext: Invalid extension length");
    /* Without the autoclear bit a program without bitmap support wrote the
     * image: qemu warns and ignores the extension. */
    if (!(q->autoclear & Q2_AUTOCLEAR_BITMAPS))
        return IMG_OK;
    /* Reserved for future use. */
    if (img_be32(p + Q2_BMEXT_RESERVED) != 0)
        return img_fail(img, IMG_ERR_OPEN, "bitmaps_ext: Reserved field is not zero");
    nb = img_be32(p + Q2_BMEXT_NB);
    dir_size = img_be64(p + Q2_BMEXT_DIR_SIZE);
    dir_off = img_be64(p + Q2_BMEXT_DIR_OFFSET);
    /* qemu's limits: 65535 bitmaps, at least one, an aligned directory of
     * at most 1 KiB per bitmap. */
    if (nb > Q2_MAX_BITMAPS)
        return img_fail(img, IMG_ERR_OPEN, "bitmaps_ext: Image has %u bitmaps, exceeding the "
                        "QEMU supported maximum of %u", nb, Q2_MAX_BITMAPS);
    if (nb == 0)
        return img_fail(img, IMG_ERR_OPEN, "found bitmaps extension with zero bitmaps");
    if (dir_off & (q->cluster_size - 1))
        return img_fail(img, IMG_ERR_OPEN, "bitmaps_ext: invalid bitmap directory offset");
    if (dir_size > Q2_MAX_BITMAP_DIR_SIZE)
        return img_fail(img, IMG_ERR_OPEN, "bitmaps_ext: bitmap directory size (%llu) exceeds "
                        "the maximum supported size (%u)", (unsigned long long)dir_size,
                        Q2_MAX_BITMAP_DIR_SIZE);
    if (s->full) {
        q->nb_bitmaps = nb;
        q->bm_dir_offset = dir_off;
        q->bm_dir_size = dir_size;
    }
    return IMG_OK;
}

/* qemu's qcow2_read_extensions over the area loaded at `area`. */
static enum img_err scan(struct img *img, struct q2 *q, const uint8_t *area,
                         struct ext_scan *s)
{
    uint64_t off = q->header_length;
    uint64_t end = q->ext_end;

    while (off < end) {
        const uint8_t *p = area + (off - q->header_length);
        uint32_t magic;
        uint32_t len;
        enum img_err err = IMG_OK;

        /* The 8-byte extension header must fit before the end. */
        if (end - off < Q2_EXT_HDR_LEN)
            return img_fail(img, IMG_ERR_OPEN, "Header extension too large");
        magic = img_be32(p);
        len = img_be32(p + 4);
        off += Q2_EXT_HDR_LEN;
        p += Q2_EXT_HDR_LEN;
        /* The data must fit before the end as well. */
        if (len > end - off)
            return img_fail(img, IMG_ERR_OPEN, "Header extension too large");
        switch (magic) {
        case Q2_EXT_END:
            return IMG_OK;
        case Q2_EXT_BACKING_FORMAT:
            /* qemu copies the name into a 16-byte buffer. */
            if (len >= Q2_BACKING_FORMAT_MAX)
                return img_fail(img, IMG_ERR_OPEN, "ERROR: ext_backing_format: len=%u too "
                                "large (>=%u)", len, Q2_BACKING_FORMAT_MAX);
            if (s->full) {
                memcpy(q->backing_fmt, p, len);
                q->backing_fmt[len] = '\0';
            }
            break;
        case Q2_EXT_FEATURE_TABLE:
            if (!s->full) {
                s->feat = p;
                s->feat_len = len;
            }
            break;
        case Q2_EXT_CRYPTO_HEADER:
            err = ext_crypto(img, q, s, p, len);
            break;
        case Q2_EXT_BITMAPS:
            err = ext_bitmaps(img, q, s, p, len);
            break;
        case Q2_EXT_DATA_FILE:
            /* The name is judged by the host's path policy; the area
             * stays in the arena while the image is open. */
            if (s->full) {
                q->data_file_ext = true;
                q->data_file_name = p;
                q->data_file_len = len;
            }
            break;
        default:
            /* Unknown extensions: nothing to check. */
            break;
        }
        if (err != IMG_OK)
            return err;
        off += ((uint64_t)len + 7) & ~(uint64_t)7;
    }
    return IMG_OK;
}

enum img_err q2_ext_read(struct img *img, struct q2 *q)
{
    struct ext_scan s = {true, NULL, 0};
    uint8_t *area;
    enum img_err err = load_area(img, q, &area);

    if (err != IMG_OK)
        return err;
    return scan(img, q, area, &s);
}

/* Append to a bounded message. */
static void append(char *msg, size_t size, size_t *len, const char *text)
{
    size_t n = rt_strlcpy(msg + *len, text, size - *len);

    *len += n;
}

enum img_err q2_ext_unsupported(struct img *img, struct q2 *q, uint64_t mask)
{
    struct ext_scan s = {false, NULL, 0};
    uint8_t *area;
    char list[IMG_ERR_LEN] = "";
    size_t used = 0;
    enum img_err err = load_area(img, q, &area);

    if (err == IMG_ERR_NOMEM || err == IMG_ERR_IO)
        return err;
    /* Errors of this pass are ignored: the table found before one counts. */
    if (area != NULL)
        (void)scan(img, q, area, &s);
    /* qemu stops at the first entry with an empty name; bytes past the
     * extension read as zeros. */
    for (uint64_t i = 0; s.feat != NULL; i += Q2_FEAT_ENTRY_LEN) {
        uint8_t e[Q2_FEAT_ENTRY_LEN] = {0};
        uint64_t bit;
        char name[Q2_FEAT_NAME_LEN + 1];

        if (i >= s.feat_len)
            break;
        memcpy(e, s.feat + i, s.feat_len - i < sizeof(e) ? s.feat_len - i : sizeof(e));
        if (e[Q2_FEAT_NAME] == 0)
            break;
        /* x86 shifts by the low 6 bits, as qemu's 1ULL << bit does there. */
        bit = 1ull << (e[Q2_FEAT_BIT] & 63);
        if (e[Q2_FEAT_TYPE] != 0 || !(mask & bit))
            continue;
        memcpy(name, e + Q2_FEAT_NAME, Q2_FEAT_NAME_LEN);
        name[Q2_FEAT_NAME_LEN] = '\0';
        if (used > 0)
            append(list, sizeof(list), &used, ", ");
        append(list, sizeof(list), &used, name);
        mask &= ~bit;
    }
    if (mask != 0) {
        char unknown[64];

        rt_format(unknown, sizeof(unknown), "Unknown incompatible feature: %llx",
                  (unsigned long long)mask);
        if (used > 0)
            append(list, sizeof(list), &used, ", ");
        append(list, sizeof(list), &used, unknown);
    }
    return img_fail(img, IMG_ERR_OPEN, "Unsupported qcow2 feature(s): %s", list);
}
