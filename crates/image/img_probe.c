/* img_probe.c: the driver registry and qemu's format probing.
 *
 * qemu reads the first 2048 bytes of a file opened without a format and asks
 * every driver for a score; the highest wins, raw (score 1) being the
 * fallback, and an empty file is always raw.  The scores below are qemu's.
 */
#include "img.h"

#include "rt.h"

const struct img_driver *const img_drivers[] = {
    &img_driver_qcow2, &img_driver_qcow, &img_driver_vmdk, &img_driver_vpc,
    &img_driver_vhdx,  &img_driver_qed,  &img_driver_vdi,  &img_driver_parallels,
    &img_driver_luks,  &img_driver_raw,  NULL,
};

const struct img_driver *img_driver_by_name(const char *name)
{
    for (size_t i = 0; img_drivers[i] != NULL; i++) {
        if (rt_streq(img_drivers[i]->name, name))
            return img_drivers[i];
    }
    return NULL;
}

/* Formats qemu reads but instar refuses to parse (security.md: out of
 * scope, many CVEs): recognised only so that they are not mistaken for raw. */
static int bochs_probe(const uint8_t *buf, size_t len)
{
    static const char magic[] = "Bochs Virtual HD Image";

    return len >= 512 && memcmp(buf, magic, sizeof(magic)) == 0 ? 100 : 0;
}

static int cloop_probe(const uint8_t *buf, size_t len)
{
    static const char magic[] = "#!/bin/sh\n#V2.0 Format\n"
                                "modprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";

    return len >= sizeof(magic) - 1 && memcmp(buf, magic, sizeof(magic) - 1) == 0 ? 2 : 0;
}

const struct img_driver *img_probe(const uint8_t *buf, size_t len, const char **other)
{
    const struct img_driver *best = &img_driver_raw;
    int best_score = 1;

    *other = NULL;
    if (len == 0)
        return best;
    for (size_t i = 0; img_drivers[i] != NULL; i++) {
        int score = img_drivers[i]->probe != NULL ? img_drivers[i]->probe(buf, len) : 0;

        if (score > best_score) {
            best = img_drivers[i];
            best_score = score;
        }
    }
    if (bochs_probe(buf, len) > best_score)
        *other = "bochs";
    else if (cloop_probe(buf, len) > best_score)
        *other = "cloop";
    return best;
}
