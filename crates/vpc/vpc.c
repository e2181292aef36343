/* vpc.c: the vpc format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int vpc_probe(const uint8_t *buf, size_t len)
{
    /* A dynamic VHD starts with a copy of its footer; fixed ones do not. */
    return len >= 8 && memcmp(buf, "conectix", 8) == 0 ? 100 : 0;
}

static enum img_err vpc_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vpc' format is not supported yet");
}

static enum img_err vpc_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vpc' format is not supported yet");
}

const struct img_driver img_driver_vpc = {
    .name = "vpc",
    .abi_fmt = ABI_FMT_VHD,
    .probe = vpc_probe,
    .open = vpc_open,
    .map = vpc_map,
};
