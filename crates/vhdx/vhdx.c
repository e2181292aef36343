/* vhdx.c: the vhdx format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int vhdx_probe(const uint8_t *buf, size_t len)
{
    return len >= 8 && memcmp(buf, "vhdxfile", 8) == 0 ? 100 : 0;
}

static enum img_err vhdx_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vhdx' format is not supported yet");
}

static enum img_err vhdx_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vhdx' format is not supported yet");
}

const struct img_driver img_driver_vhdx = {
    .name = "vhdx",
    .abi_fmt = ABI_FMT_VHDX,
    .probe = vhdx_probe,
    .open = vhdx_open,
    .map = vhdx_map,
};
