/* parallels.c: the parallels format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int parallels_probe(const uint8_t *buf, size_t len)
{
    /* Either magic, version 2, with a whole header in the buffer. */
    if (len < 64 || img_le32(buf + 16) != 2)
        return 0;
    return memcmp(buf, "WithoutFreeSpace", 16) == 0 || memcmp(buf, "WithouFreSpacExt", 16) == 0
               ? 100 : 0;
}

static enum img_err parallels_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'parallels' format is not supported yet");
}

static enum img_err parallels_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'parallels' format is not supported yet");
}

const struct img_driver img_driver_parallels = {
    .name = "parallels",
    .abi_fmt = ABI_FMT_PARALLELS,
    .probe = parallels_probe,
    .open = parallels_open,
    .map = parallels_map,
};
