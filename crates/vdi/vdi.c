/* vdi.c: the vdi format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int vdi_probe(const uint8_t *buf, size_t len)
{
    /* The signature at offset 64 of a 512-byte header. */
    return len >= 512 && img_le32(buf + 64) == 0xBEDA107Fu ? 100 : 0;
}

static enum img_err vdi_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vdi' format is not supported yet");
}

static enum img_err vdi_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vdi' format is not supported yet");
}

const struct img_driver img_driver_vdi = {
    .name = "vdi",
    .abi_fmt = ABI_FMT_VDI,
    .probe = vdi_probe,
    .open = vdi_open,
    .map = vdi_map,
};
