/* qed.c: the qed format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int qed_probe(const uint8_t *buf, size_t len)
{
    /* "QED\0" with a whole header in the buffer. */
    return len >= 64 && img_le32(buf) == 0x00444551u ? 100 : 0;
}

static enum img_err qed_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'qed' format is not supported yet");
}

static enum img_err qed_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'qed' format is not supported yet");
}

const struct img_driver img_driver_qed = {
    .name = "qed",
    .abi_fmt = ABI_FMT_QED,
    .probe = qed_probe,
    .open = qed_open,
    .map = qed_map,
};
