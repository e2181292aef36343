/* vmdk.c: the vmdk format (not parsed yet: detected only). */
#include "img.h"

#include "rt.h"

static int vmdk_probe(const uint8_t *buf, size_t len)
{
    /* Binary sparse extents; descriptor files are the driver's job. */
    if (len >= 4 && (img_le32(buf) == 0x564D444Bu || img_le32(buf) == 0x44574F43u))
        return 100;
    return 0;
}

static enum img_err vmdk_open(struct img *img)
{
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vmdk' format is not supported yet");
}

static enum img_err vmdk_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)off;
    (void)max;
    (void)out;
    return img_fail(img, IMG_ERR_UNSUPPORTED, "the 'vmdk' format is not supported yet");
}

const struct img_driver img_driver_vmdk = {
    .name = "vmdk",
    .abi_fmt = ABI_FMT_VMDK4,
    .probe = vmdk_probe,
    .open = vmdk_open,
    .map = vmdk_map,
};
