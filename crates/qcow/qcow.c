/* qcow.c: the qcow format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int qcow_probe(const uint8_t *buf, size_t len)
{
    /* "QFI\xfb" and version 1, with a whole v1 header in the buffer. */
    return len >= 48 && img_be32(buf) == 0x514649FBu && img_be32(buf + 4) == 1 ? 100 : 0;
}

static enum img_err qcow_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'qcow' format is not supported yet");
}

static enum img_err qcow_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'qcow' format is not supported yet");
}

const struct img_driver img_driver_qcow = {
    .name = "qcow",
    .abi_fmt = ABI_FMT_QCOW1,
    .probe = qcow_probe,
    .open = qcow_open,
    .map = qcow_map,
};
