/* vdi.c: the VirtualBox VDI format, read as qemu-img 7.2 reads it.
 *
 * open() checks the 512-byte header in QEMU's order and with its messages
 * (version 1.1 only, 1 MiB blocks, no parent or link UUID).  map() walks
 * the block map: unallocated and discarded blocks read as zeros (QEMU
 * reports both as zero); an allocated block of a dynamic image is data as a
 * whole.  QEMU asks the host file about the blocks of a static image: data
 * where the mapped bytes are data in the file, zero over holes and past EOF.
 *
 * The block map (up to 2 GiB) is streamed in 1 MiB windows as the walk
 * advances.  A map QEMU would read past the end of the file (as zeros) is
 * refused instead (security.md T29, docs/formats/vdi.md).
 */
#include "img.h"

#include "rt.h"
#include "vdi_spec.h"

#define VDI_WINDOW (1ull << 20) /* bytes of block map per read */

struct vdi_state {
    struct img_table bmap;   /* the block map: little-endian u32 entries */
    uint64_t data_off;       /* byte offset of block 0 */
    bool is_static;          /* image type 2: ask the host file */
    struct abi_extent ext;   /* the host extent last asked for (length 0: none) */
};


static bool vdi_is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

static int vdi_probe(const uint8_t *buf, size_t len)
{
    uint8_t sig[4] = {0};
    size_t n = len > VDI_HDR_SIGNATURE ? len - VDI_HDR_SIGNATURE : 0;

    /* QEMU probes a zero-padded 2048-byte buffer: missing bytes are zeros. */
    if (n > 0)
        memcpy(sig, buf + VDI_HDR_SIGNATURE, n < sizeof(sig) ? n : sizeof(sig));
    return img_le32(sig) == VDI_SIGNATURE ? 100 : 0;
}

static enum img_err vdi_open(struct img *img)
{
    uint8_t h[VDI_HDR_LEN];
    struct vdi_state *s;
    uint64_t disk_size;
    uint32_t version;
    uint32_t bmap_off;
    uint32_t data_off;
    uint32_t blocks;
    enum img_err err;

    err = img_read_zf(img, 0, sizeof(h), h);
    if (err != IMG_OK)
        return err;
    disk_size = img_le64(h + VDI_HDR_DISK_SIZE);
    /* QEMU checks the size even before the signature. */
    if (disk_size > VDI_DISK_SIZE_MAX)
        return img_fail(img, IMG_ERR_OPEN,
                        "Unsupported VDI image size (size is 0x%llx, max supported is 0x%llx)",
                        (unsigned long long)disk_size, (unsigned long long)VDI_DISK_SIZE_MAX);
    /* VBoxManage convertfromraw makes odd sizes; QEMU rounds them up. */
    disk_size = (disk_size + VDI_SECTOR_SIZE - 1) & ~(uint64_t)(VDI_SECTOR_SIZE - 1);
    version = img_le32(h + VDI_HDR_VERSION);
    bmap_off = img_le32(h + VDI_HDR_OFFSET_BMAP);
    data_off = img_le32(h + VDI_HDR_OFFSET_DATA);
    blocks = img_le32(h + VDI_HDR_BLOCKS);
    /* Reachable with -f vdi only: the probe needs the signature. */
    if (img_le32(h + VDI_HDR_SIGNATURE) != VDI_SIGNATURE)
        return img_fail(img, IMG_ERR_OPEN, "Image not in VDI format (bad signature %08x)",
                        img_le32(h + VDI_HDR_SIGNATURE));
    /* Older headers have another layout; QEMU reads 1.1 only. */
    if (version != VDI_VERSION_1_1)
        return img_fail(img, IMG_ERR_OPEN, "unsupported VDI image (version %u.%u)",
                        version >> 16, version & 0xffff);
    /* QEMU reads the map and the blocks in whole sectors. */
    if (bmap_off % VDI_SECTOR_SIZE != 0)
        return img_fail(img, IMG_ERR_OPEN,
                        "unsupported VDI image (unaligned block map offset 0x%x)", bmap_off);
    if (data_off % VDI_SECTOR_SIZE != 0)
        return img_fail(img, IMG_ERR_OPEN, "unsupported VDI image (unaligned data offset 0x%x)",
                        data_off);
    /* QEMU supports the default geometry only: 512-byte sectors, 1 MiB blocks. */
    if (img_le32(h + VDI_HDR_SECTOR_SIZE) != VDI_SECTOR_SIZE)
        return img_fail(img, IMG_ERR_OPEN, "unsupported VDI image (sector size %u is not 512)",
                        img_le32(h + VDI_HDR_SECTOR_SIZE));
    if (img_le32(h + VDI_HDR_BLOCK_SIZE) != VDI_BLOCK_SIZE)
        return img_fail(img, IMG_ERR_OPEN,
                        "unsupported VDI image (block size %u is not 1048576)",
                        img_le32(h + VDI_HDR_BLOCK_SIZE));
    /* The map must cover the disk (blocks * 1 MiB < 2^52: no overflow). */
    if (disk_size > (uint64_t)blocks * VDI_BLOCK_SIZE)
        return img_fail(img, IMG_ERR_OPEN,
                        "unsupported VDI image (disk size %llu, image bitmap has room for %llu)",
                        (unsigned long long)disk_size,
                        (unsigned long long)blocks * VDI_BLOCK_SIZE);
    /* Differencing images (snapshots) are not supported by QEMU. */
    if (!vdi_is_zero(h + VDI_HDR_UUID_LINK, 16))
        return img_fail(img, IMG_ERR_OPEN, "unsupported VDI image (non-NULL link UUID)");
    if (!vdi_is_zero(h + VDI_HDR_UUID_PARENT, 16))
        return img_fail(img, IMG_ERR_OPEN, "unsupported VDI image (non-NULL parent UUID)");
    /* QEMU reads the map in one request of at most INT_MAX bytes. */
    if (blocks > VDI_BLOCKS_MAX)
        return img_fail(img, IMG_ERR_OPEN, "unsupported VDI image (too many blocks %u, max is %u)",
                        blocks, VDI_BLOCKS_MAX);
    if (!img_in_file(img, bmap_off, (uint64_t)blocks * 4))
        return img_fail(img, IMG_ERR_OPEN,
                        "VDI block map at offset %u (%u entries) is beyond the end of the file",
                        bmap_off, blocks);

    s = img_alloc(img->arena, sizeof(*s));
    if (s == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->bmap.win = img_alloc(img->arena, VDI_WINDOW);
    s->bmap.win_bytes = VDI_WINDOW;
    s->bmap.esize = 4;
    if (s->bmap.win == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    s->bmap.off = bmap_off;
    s->bmap.entries = blocks;
    s->data_off = data_off;
    s->is_static = img_le32(h + VDI_HDR_IMAGE_TYPE) == VDI_TYPE_STATIC;
    img->state = s;
    img->virtual_size = disk_size;
    return IMG_OK;
}


/* What the host file holds at `host`, for at most `max` bytes: QEMU's
 * recursion into the file for static images (past EOF: zeros). */
static enum img_err vdi_host(struct img *img, struct vdi_state *s, uint64_t host, uint64_t max,
                             uint64_t *len, enum img_status *st)
{
    uint64_t n;

    if (host >= img->io->size) {
        *len = max;
        *st = IMG_ZERO;
        return IMG_OK;
    }
    if (s->ext.length == 0 || host < s->ext.offset || host - s->ext.offset >= s->ext.length) {
        if (img->io->extent(img->io->ctx, host, &s->ext) <= 0 || s->ext.length == 0 ||
            s->ext.offset > host || host - s->ext.offset >= s->ext.length)
            return img_fail(img, IMG_ERR_IO, "Unable to get block status");
    }
    n = s->ext.length - (host - s->ext.offset);
    *len = n < max ? n : max;
    *st = s->ext.kind == ABI_EXTENT_DATA ? IMG_DATA : IMG_ZERO;
    return IMG_OK;
}

static enum img_err vdi_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct vdi_state *s = img->state;
    uint64_t end = off + max;
    uint64_t pos = off;
    bool have = false;
    enum img_status st = IMG_UNALLOC;

    while (pos < end) {
        uint64_t i = pos >> VDI_BLOCK_BITS;
        uint64_t in_block = pos & (VDI_BLOCK_SIZE - 1);
        uint64_t seg_end = pos - in_block + VDI_BLOCK_SIZE;
        enum img_status cur = IMG_UNALLOC;
        uint64_t e;
        enum img_err err;

        if (seg_end > end)
            seg_end = end;
        err = img_table_entry(img, &s->bmap, i, &e);
        if (err != IMG_OK)
            return err;
        if (e >= VDI_DISCARDED) {
            cur = IMG_ZERO;
        } else if (!s->is_static) {
            cur = IMG_DATA;
        } else {
            uint64_t host = s->data_off + (uint64_t)e * VDI_BLOCK_SIZE + in_block;
            uint64_t len = 0;

            err = vdi_host(img, s, host, seg_end - pos, &len, &cur);
            if (err != IMG_OK)
                return err;
            seg_end = pos + len;
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

const struct img_driver img_driver_vdi = {
    .name = "vdi",
    .abi_fmt = ABI_FMT_VDI,
    .probe = vdi_probe,
    .open = vdi_open,
    .map = vdi_map,
};
