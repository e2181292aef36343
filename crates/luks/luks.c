/* luks.c: the luks format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int luks_probe(const uint8_t *buf, size_t len)
{
    static const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};

    /* LUKS version 1 only. */
    return len >= 592 && memcmp(buf, magic, 6) == 0 && img_be16(buf + 6) == 1 ? 100 : 0;
}

static enum img_err luks_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'luks' format is not supported yet");
}

static enum img_err luks_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'luks' format is not supported yet");
}

const struct img_driver img_driver_luks = {
    .name = "luks",
    .abi_fmt = ABI_FMT_LUKS,
    .probe = luks_probe,
    .open = luks_open,
    .map = luks_map,
};
