/* vpc.c: the vpc (VHD) format, as qemu 7.2 reads it.
 *
 * A dynamic VHD starts with a copy of its footer, points to a dynamic disk
 * header and through it to a block allocation table (BAT); each allocated
 * block counts whole (qemu ignores the sector bitmaps), unallocated blocks
 * read as zeros.  A fixed VHD is the disk followed by a 512-byte footer;
 * qemu only opens it as vpc with -f vpc and then maps it like a raw file.
 * The disk size follows qemu's rules: CHS geometry, unless the creator is
 * one that sizes disks by current_size or the geometry is the maximum.
 *
 * The BAT is read once, at open, in 1 MiB requests; only one bit per block
 * of the disk is kept.  A differencing disk is reported as having a backing
 * file (qemu opens it as a standalone dynamic disk: docs/formats/vpc.md).
 */
#include "img.h"

#include "rt.h"
#include "vpc_spec.h"

#define VPC_CHUNK (1u << 20)        /* BAT read size, bytes */

struct vpc_state {
    bool raw;              /* fixed: the file maps the disk one to one */
    uint32_t block_size;   /* bytes, dynamic disks */
    uint8_t *alloc;        /* one bit per block of the disk: allocated */
    uint64_t blocks;       /* blocks covering the disk */
};

/* The file length qemu's block layer works with: whole sectors. */
static uint64_t qemu_len(const struct img *img)
{
    return (img->io->size + VPC_SECTOR - 1) & ~(uint64_t)(VPC_SECTOR - 1);
}

/* Read as qemu does: bytes past the end of the file are zeros.  Long reads
 * skip what the host reports as holes. */
static enum img_err vpc_read(struct img *img, uint64_t off, uint64_t len, uint8_t *buf)
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

static int vpc_probe(const uint8_t *buf, size_t len)
{
    /* A dynamic VHD starts with a copy of its footer; fixed ones do not. */
    return len >= 8 && memcmp(buf, "conectix", 8) == 0 ? 100 : 0;
}

/* The spec's checksum: ones' complement of the byte sum, the checksum
 * field counted as zero. */
static uint32_t vpc_checksum(const uint8_t *buf, size_t len, size_t field)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum += i >= field && i < field + 4 ? 0 : buf[i];
    return ~sum;
}

/* qemu's disk size in sectors: Virtual PC and qemu size a disk by its CHS
 * geometry, Hyper-V, disk2vhd, XenServer and qemu's force_size by
 * current_size; the maximum geometry means current_size too. */
static uint64_t vpc_sectors(const uint8_t *f)
{
    static const char *const by_size[] = {"win ", "qem2", "d2v ", "CTXS"};
    uint64_t chs = (uint64_t)img_be16(f + VPC_CYLINDERS) * f[VPC_HEADS] *
                   f[VPC_SECTORS_PER_TRACK];
    bool use_chs = memcmp(f + VPC_CREATOR_APP, "tap\0", 4) != 0;

    for (size_t i = 0; i < sizeof(by_size) / sizeof(by_size[0]); i++)
        use_chs = use_chs && memcmp(f + VPC_CREATOR_APP, by_size[i], 4) != 0;
    if (!use_chs || chs == VPC_MAX_GEOMETRY)
        return img_be64(f + VPC_CURRENT_SIZE) / VPC_SECTOR;
    return chs;
}

/* The dynamic disk header and the BAT, checked as qemu checks them. */
static enum img_err vpc_open_dynamic(struct img *img, struct vpc_state *st, const uint8_t *f,
                                     uint64_t sectors)
{
    uint8_t h[VPC_DYN_LEN];
    uint64_t data_off = img_be64(f + VPC_DATA_OFFSET);
    uint64_t bat_off;
    uint64_t bat_len;
    uint64_t free_off;
    uint32_t bitmap_size;
    int32_t max;
    uint8_t *chunk;
    enum img_err err;

    if (!img_qemu_range_ok(data_off, sizeof(h)))  /* past qemu's read limit */
        return img_fail(img, IMG_ERR_OPEN, "Error reading dynamic VHD header");
    err = vpc_read(img, data_off, sizeof(h), h);
    if (err != IMG_OK)
        return err;
    if (memcmp(h + VPC_DYN_COOKIE, "cxsparse", 8) != 0)  /* no dynamic header there */
        return img_fail(img, IMG_ERR_OPEN, "Invalid header magic");
    st->block_size = img_be32(h + VPC_DYN_BLOCK_SIZE);
    /* Blocks are addressed by shifts (T15: CVE-2014-0144). */
    if (st->block_size < VPC_SECTOR || (st->block_size & (st->block_size - 1)) != 0)
        return img_fail(img, IMG_ERR_OPEN, "Invalid block size %u", st->block_size);
    bitmap_size = ((st->block_size / (8 * VPC_SECTOR)) + 511) & ~511u;
    max = (int32_t)img_be32(h + VPC_DYN_MAX_ENTRIES);
    if (sectors * VPC_SECTOR / st->block_size > UINT32_MAX)  /* block numbers are 32-bit */
        return img_fail(img, IMG_ERR_OPEN, "Too many blocks");
    /* The BAT must cover the disk.  qemu's product wraps for a negative
     * count; the next check catches that. */
    if ((uint64_t)(int64_t)max * st->block_size < sectors * VPC_SECTOR)
        return img_fail(img, IMG_ERR_OPEN, "Page table too small");
    if (max < 0 || max > VPC_MAX_TABLE_ENTRIES)  /* T15: CVE-2014-0144 */
        return img_fail(img, IMG_ERR_OPEN, "Max Table Entries too large (%d)", max);
    bat_off = img_be64(h + VPC_DYN_TABLE_OFFSET);
    bat_len = (uint64_t)max * 4;
    if (!img_qemu_range_ok(bat_off, bat_len))  /* past qemu's read limit */
        return img_fail(img, IMG_ERR_OPEN, "Error reading pagetable");
    /* Every block, and the BAT itself, must end inside the file. */
    free_off = (bat_off + bat_len + VPC_SECTOR - 1) & ~(uint64_t)(VPC_SECTOR - 1);
    if (free_off > qemu_len(img))
        goto truncated;
    st->blocks = (sectors * VPC_SECTOR + st->block_size - 1) / st->block_size;
    st->alloc = img_alloc(img->arena, (st->blocks + 7) / 8 + 1);
    chunk = img_alloc(img->arena, VPC_CHUNK);
    if (st->alloc == NULL || chunk == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    for (uint64_t done = 0; done < bat_len;) {
        uint64_t n = bat_len - done < VPC_CHUNK ? bat_len - done : VPC_CHUNK;

        err = vpc_read(img, bat_off + done, n, chunk);
        if (err != IMG_OK)
            return err;
        for (uint64_t i = 0; i < n; i += 4) {
            uint64_t idx = (done + i) / 4;
            uint32_t e = img_be32(chunk + i);
            uint64_t next;

            if (e == VPC_BAT_UNUSED)
                continue;
            next = (uint64_t)e * VPC_SECTOR + bitmap_size + st->block_size;
            if (next > free_off)
                free_off = next;
            if (idx < st->blocks)
                st->alloc[idx / 8] |= (uint8_t)(1u << (idx % 8));
        }
        done += n;
    }
    if (free_off > qemu_len(img))
        goto truncated;
    return IMG_OK;
truncated:
    return img_fail(img, IMG_ERR_OPEN, "block-vpc: free_data_block_offset points after the end "
                    "of file. The image has been truncated.");
}

static enum img_err vpc_open(struct img *img)
{
    struct vpc_state *st = img_alloc(img->arena, sizeof(*st));
    uint8_t f[VPC_FOOTER_LEN];
    bool dynamic = true;
    uint64_t sectors;
    uint32_t type;
    enum img_err err;

    if (st == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    img->state = st;
    err = vpc_read(img, 0, sizeof(f), f);
    if (err != IMG_OK)
        return err;
    if (memcmp(f + VPC_COOKIE, "conectix", 8) != 0) {
        /* No copy at 0: a fixed disk, with its footer at the end only. */
        if (qemu_len(img) < VPC_FOOTER_LEN)  /* an empty file */
            return img_fail(img, IMG_ERR_OPEN, "File too small for a VHD header");
        err = vpc_read(img, qemu_len(img) - VPC_FOOTER_LEN, sizeof(f), f);
        if (err != IMG_OK)
            return err;
        if (memcmp(f + VPC_COOKIE, "conectix", 8) != 0 ||  /* no footer either */
            img_be32(f + VPC_DISK_TYPE) != VPC_TYPE_FIXED)
            return img_fail(img, IMG_ERR_OPEN, "invalid VPC image");
        dynamic = false;
    }
    if (vpc_checksum(f, sizeof(f), VPC_CHECKSUM) != img_be32(f + VPC_CHECKSUM))  /* corrupt */
        return img_fail(img, IMG_ERR_OPEN, "Incorrect header checksum");
    sectors = vpc_sectors(f);
    if (sectors > VPC_MAX_SECTORS)  /* qemu's 2040 GiB limit */
        return img_fail(img, IMG_ERR_OPEN, "File too large");
    /* qemu reads the header and BAT of every disk with a copy of the footer
     * at 0, whatever its type says. */
    if (dynamic) {
        err = vpc_open_dynamic(img, st, f, sectors);
        if (err != IMG_OK)
            return err;
    }
    /* ... but maps a disk whose footer says "fixed" like a raw file. */
    type = img_be32(f + VPC_DISK_TYPE);
    st->raw = type == VPC_TYPE_FIXED;
    img->virtual_size = sectors * VPC_SECTOR;
    /* qemu ignores the parent and reads the child alone: instar refuses. */
    img->has_backing = dynamic && type == VPC_TYPE_DIFFERENCING;
    return IMG_OK;
}

static bool vpc_allocated(const struct vpc_state *st, uint64_t block)
{
    return (st->alloc[block / 8] >> (block % 8)) & 1;
}

static enum img_err vpc_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct vpc_state *st = img->state;
    uint64_t end = off + max;
    uint64_t stop;

    if (st->raw) {
        struct abi_extent e;

        if (off >= img->io->size) {
            /* Past the end of the file: zeros. */
            out->length = max;
            out->status = IMG_ZERO;
            return IMG_OK;
        }
        if (img->io->extent(img->io->ctx, off, &e) <= 0 || e.length == 0)
            return img_fail(img, IMG_ERR_IO, "Unable to get block status");
        out->length = e.length < max ? e.length : max;
        out->status = e.kind == ABI_EXTENT_DATA ? IMG_DATA : IMG_ZERO;
        return IMG_OK;
    } else {
        uint64_t b = off / st->block_size;
        uint64_t last = (end + st->block_size - 1) / st->block_size;
        bool data = vpc_allocated(st, b);

        /* Whole bytes of the bitmap at a time across long runs. */
        for (b++; b < last; b++) {
            if (b % 8 == 0 && last - b >= 8 && st->alloc[b / 8] == (data ? 0xFF : 0)) {
                b += 7;
                continue;
            }
            if (vpc_allocated(st, b) != data)
                break;
        }
        stop = b * st->block_size;
        out->status = data ? IMG_DATA : IMG_ZERO;
    }
    out->length = (stop < end ? stop : end) - off;
    return IMG_OK;
}

const struct img_driver img_driver_vpc = {
    .name = "vpc",
    .abi_fmt = ABI_FMT_VHD,
    .probe = vpc_probe,
    .open = vpc_open,
    .map = vpc_map,
};
