/* raw.c: the raw format: the file is the disk.
 *
 * Data is what the host file's SEEK_DATA/SEEK_HOLE map says is data; its
 * content is never inspected (qemu counts a written block of zeros as data
 * and never counts a hole).  The virtual size is the file size rounded up to
 * 512 bytes; the padding past the end reads as zeros.
 */
#include "img.h"

static int raw_probe(const uint8_t *buf, size_t len)
{
    (void)buf;
    (void)len;
    return 1; /* the fallback */
}

static enum img_err raw_open(struct img *img)
{
    uint64_t size = img->io->size;

    if (size > (uint64_t)INT64_MAX - 511)
        return img_fail(img, IMG_ERR_OPEN, "Image size too large");
    img->virtual_size = (size + 511) & ~(uint64_t)511;
    return IMG_OK;
}

static enum img_err raw_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct abi_extent e;
    int32_t rc;

    if (off >= img->io->size) {
        /* The sector padding past the end of the file. */
        out->length = max;
        out->status = IMG_ZERO;
        return IMG_OK;
    }
    rc = img->io->extent(img->io->ctx, off, &e);
    if (rc <= 0 || e.length == 0)
        return img_fail(img, IMG_ERR_IO, "Unable to get block status");
    out->length = e.length < max ? e.length : max;
    out->status = e.kind == ABI_EXTENT_DATA ? IMG_DATA : IMG_ZERO;
    return IMG_OK;
}

const struct img_driver img_driver_raw = {
    .name = "raw",
    .abi_fmt = ABI_FMT_RAW,
    .probe = raw_probe,
    .open = raw_open,
    .map = raw_map,
};
