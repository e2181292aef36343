/* qcow2.c: the qcow2 format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int qcow2_probe(const uint8_t *buf, size_t len)
{
    /* "QFI\xfb" and version >= 2, with a whole v2 header in the buffer. */
    return len >= 104 && img_be32(buf) == 0x514649FBu && img_be32(buf + 4) >= 2 ? 100 : 0;
}

static enum img_err qcow2_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'qcow2' format is not supported yet");
}

static enum img_err qcow2_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'qcow2' format is not supported yet");
}

const struct img_driver img_driver_qcow2 = {
    .name = "qcow2",
    .abi_fmt = ABI_FMT_QCOW2,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .map = qcow2_map,
};
