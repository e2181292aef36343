/* vhdx_log.c: the VHDX log ([MS-VHDX] "Log"), searched as qemu 7.2 searches
 * it on open, and never replayed.
 *
 * The log is a ring of 4 KiB sectors.  qemu walks the whole ring looking for
 * a valid entry (signature, the header's log GUID, descriptors, CRC-32C over
 * the entry); on a read-only open a valid entry makes it refuse the image,
 * and an entry with a valid header but an invalid descriptor fails the open
 * with EINVAL.  The walk below reproduces qemu's read pointer arithmetic, so
 * it finds the same entries.  Every sector read is counted: a crafted log
 * cannot make the search quadratic (T11).
 */
#include "vhdx_int.h"

#include "rt.h"
#include "vhdx_spec.h"

/* Sector reads allowed per 4 KiB of log: an honest log needs about 3. */
#define VHDX_LOG_READS_PER_SECTOR 4u

struct vhdx_log {
    struct img *img;
    struct vhdx_state *st;
    const uint8_t *guid;  /* the current header's log GUID */
    uint64_t offset;      /* file offset of the ring, bytes */
    uint64_t length;      /* ring length, bytes (a multiple of 1 MiB) */
    uint32_t read;        /* qemu's read index, bytes into the ring */
    uint32_t write;       /* qemu's write index: the search sets it to length */
    uint64_t budget;      /* reads left */
};

/* (len) bytes at ring position r, through the window. */
static enum img_err log_read(struct vhdx_log *l, uint32_t r, uint32_t len, uint8_t *out)
{
    struct vhdx_state *st = l->st;
    uint64_t off = l->offset + r;  /* wraps as qemu's does */
    enum img_err err;

    if (!vhdx_range_ok(off, len))
        return img_fail(l->img, IMG_ERR_OPEN, "Input/output error");
    if (l->budget == 0)
        return img_fail(l->img, IMG_ERR_OPEN, "VHDX log: the entries need more reads than "
                        "instar allows (a crafted log?)");
    l->budget--;
    if (st->win_len == 0 || off < st->win_off || off + len > st->win_off + st->win_len) {
        uint64_t n = VHDX_WINDOW;

        /* Read ahead within the ring only. */
        if (l->length - r < n)
            n = l->length - r;
        if (n < len)
            n = len;
        st->win_len = 0;
        err = vhdx_read(l->img, off, n, st->win);
        if (err != IMG_OK)
            return err;
        st->win_off = off;
        st->win_len = n;
    }
    memcpy(out, st->win + (off - st->win_off), len);
    return IMG_OK;
}

static uint32_t log_inc(const struct vhdx_log *l, uint32_t idx)
{
    idx += VHDX_LOG_SECTOR;
    return idx >= l->length ? 0 : idx;
}

/* vhdx_log_peek_hdr(): the entry header at the read index. */
static enum img_err log_peek(struct vhdx_log *l, uint8_t *h)
{
    uint32_t r = l->read;

    if (r + VHDX_LOG_HDR_LEN > l->length)
        r = 0;
    if (r == l->write)
        return img_fail(l->img, IMG_ERR_OPEN, "Invalid argument"); /* empty ring */
    return log_read(l, r, VHDX_LOG_HDR_LEN, h);
}

/* vhdx_log_hdr_is_valid(). */
static bool log_hdr_valid(const struct vhdx_log *l, const uint8_t *h)
{
    uint32_t len = img_le32(h + VHDX_LE_ENTRY_LENGTH);

    return img_le32(h) == VHDX_LOG_SIGNATURE && len <= l->length &&
           len % VHDX_LOG_SECTOR == 0 && img_le64(h + VHDX_LE_SEQUENCE) != 0 &&
           memcmp(h + VHDX_LE_LOG_GUID, l->guid, VHDX_GUID_LEN) == 0 &&
           (uint64_t)img_le32(h + VHDX_LE_DESC_COUNT) * VHDX_LOG_DESC_LEN <= len;
}

/* vhdx_log_desc_is_valid(). */
static bool log_desc_valid(const uint8_t *d, uint64_t seq)
{
    uint32_t sig = img_le32(d + VHDX_LD_SIGNATURE);

    if (img_le64(d + VHDX_LD_SEQUENCE) != seq ||
        img_le64(d + VHDX_LD_FILE_OFFSET) % VHDX_LOG_SECTOR != 0)
        return false;
    if (sig == VHDX_LOG_ZERO_SIGNATURE)
        return img_le64(d + VHDX_LD_ZERO_LENGTH) % VHDX_LOG_SECTOR == 0;
    return sig == VHDX_LOG_DESC_SIGNATURE;
}

/* vhdx_validate_log_entry(): is the entry at the read index valid (and, with
 * seq > 0, numbered seq + 1)?  Advances the read index as qemu does. */
static enum img_err log_validate(struct vhdx_log *l, uint64_t seq, bool *valid,
                                 uint64_t *entry_seq)
{
    uint8_t h[VHDX_LOG_HDR_LEN];
    uint8_t sector[VHDX_LOG_SECTOR];
    uint32_t count;
    uint32_t desc_sectors;
    uint32_t total;
    uint64_t hseq;
    uint32_t crc = 0xFFFFFFFFu;
    bool bad_desc = false;
    enum img_err err;

    *valid = false;
    err = log_peek(l, h);
    if (err != IMG_OK)
        return err;
    hseq = img_le64(h + VHDX_LE_SEQUENCE);
    if (!log_hdr_valid(l, h) || (seq > 0 && hseq != seq + 1)) {
        l->read = log_inc(l, l->read);
        return IMG_OK;
    }
    count = img_le32(h + VHDX_LE_DESC_COUNT);
    /* The header and 126 descriptors fill the first sector, 128 the others. */
    desc_sectors = (count + 2) / 128 + ((count + 2) % 128 != 0);
    total = img_le32(h + VHDX_LE_ENTRY_LENGTH) / VHDX_LOG_SECTOR;
    /* vhdx_log_read_desc(): all descriptor sectors are read before any
     * descriptor is checked, so a read error wins over a bad descriptor. */
    for (uint32_t s = 0; s < desc_sectors; s++) {
        if (l->read == l->write)
            return img_fail(l->img, IMG_ERR_OPEN, "Invalid argument"); /* short */
        err = log_read(l, l->read, VHDX_LOG_SECTOR, sector);
        if (err != IMG_OK)
            return err;
        l->read = log_inc(l, l->read);
        for (uint32_t k = 0; k < VHDX_LOG_SECTOR / VHDX_LOG_DESC_LEN; k++) {
            uint64_t i = (uint64_t)s * 128 + k;

            /* Slots 0 and 1 of the first sector are the entry header. */
            if (i < 2 || i - 2 >= count)
                continue;
            bad_desc = bad_desc || !log_desc_valid(sector + k * VHDX_LOG_DESC_LEN, hseq);
        }
        if (s == 0)
            memset(sector + VHDX_LE_CHECKSUM, 0, 4);
        crc = vhdx_crc32c(l->st, crc, sector, sizeof(sector));
    }
    if (bad_desc)
        return img_fail(l->img, IMG_ERR_OPEN, "Invalid argument");
    for (uint32_t s = desc_sectors; s < total; s++) {
        if (l->read == l->write)
            return IMG_OK;
        err = log_read(l, l->read, VHDX_LOG_SECTOR, sector);
        if (err != IMG_OK)
            return err;
        l->read = log_inc(l, l->read);
        crc = vhdx_crc32c(l->st, crc, sector, sizeof(sector));
    }
    if (~crc != img_le32(h + VHDX_LE_CHECKSUM))
        return IMG_OK;
    *valid = true;
    *entry_seq = hseq;
    return IMG_OK;
}

/* vhdx_log_search(): is there a valid entry anywhere in the ring? */
static enum img_err log_search(struct vhdx_log *l, bool *found)
{
    enum img_err err;

    *found = false;
    l->read = 0;
    l->write = (uint32_t)l->length; /* "assume log is full" */
    for (;;) {
        uint64_t curr_seq = 0;
        uint32_t tail = l->read;
        uint64_t s = 0;
        bool valid;

        err = log_validate(l, curr_seq, &valid, &s);
        if (err != IMG_OK)
            return err;
        if (valid) {
            *found = true;
            /* qemu follows the sequence; its errors still fail the open. */
            for (;;) {
                err = log_validate(l, curr_seq, &valid, &s);
                if (err != IMG_OK)
                    return err;
                if (!valid)
                    break;
                curr_seq = s;
            }
        }
        if (l->read < tail)
            return IMG_OK;
    }
}

enum img_err vhdx_log_check(struct img *img, struct vhdx_state *st, const uint8_t *hdr)
{
    static const uint8_t zero_guid[VHDX_GUID_LEN];
    struct vhdx_log l;
    bool found;
    enum img_err err;

    memset(&l, 0, sizeof(l));
    l.img = img;
    l.st = st;
    l.guid = hdr + VHDX_HDR_LOG_GUID;
    l.offset = img_le64(hdr + VHDX_HDR_LOG_OFFSET);
    l.length = img_le32(hdr + VHDX_HDR_LOG_LENGTH);
    /* The log sits after the header section, 1 MiB aligned. */
    if (l.offset < VHDX_LOG_ALIGN || l.offset % VHDX_LOG_ALIGN != 0)
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument");
    if (img_le16(hdr + VHDX_HDR_LOG_VERSION) != 0)
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument"); /* only version 0 exists */
    /* A zero GUID or length: no log to replay. */
    if (memcmp(l.guid, zero_guid, VHDX_GUID_LEN) == 0 || l.length == 0)
        return IMG_OK;
    if (l.length % VHDX_LOG_ALIGN != 0)
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument");
    l.budget = l.length / VHDX_LOG_SECTOR * VHDX_LOG_READS_PER_SECTOR + 1024;
    st->win_len = 0;
    err = log_search(&l, &found);
    st->win_len = 0;
    if (err != IMG_OK)
        return err;
    /* qemu replays the log only on a read-write open; instar never does. */
    if (found)
        return img_fail(img, IMG_ERR_OPEN, "VHDX image file opened read-only, but contains a "
                        "log that needs to be replayed");
    return IMG_OK;
}
