/* op_source.c: measuring from a source image on device 0.
 *
 * qemu-img's order: open the source (probe the format unless -f pinned it,
 * validate its headers), load a snapshot if asked, and only in the target's
 * measure function walk the block status from 0 to the virtual size.  The
 * walk streams extents into a unit tracker (crates/measure): memory stays
 * O(1) whatever the disk size, and fragmented sources are counted exactly.
 */
#include "op_measure.h"

#include "abi_format.h"
#include "rt.h"
#include "rt_fmt.h"

/* Device 0, or the window of it raw's offset=/size= options select. */
static int64_t io_read(void *ctx, uint64_t off, uint64_t len, void *buf)
{
    const struct op_source *src = ctx;
    uint64_t pos = src->window_offset + off, n;
    int64_t got;

    if (off >= src->io.size)
        return 0;
    if (len > src->io.size - off)
        len = src->io.size - off;
    n = pos >= src->dev_size ? 0 : len < src->dev_size - pos ? len : src->dev_size - pos;
    got = n > 0 ? src->ct->device_read(0, pos, n, buf) : 0;
    if (got < 0 || (uint64_t)got < n)
        return got;
    memset((uint8_t *)buf + n, 0, len - n); /* the sector padding */
    return (int64_t)len;
}

static int32_t io_extent(void *ctx, uint64_t off, struct abi_extent *out)
{
    const struct op_source *src = ctx;
    int32_t rc;

    if (off >= src->io.size)
        return 0;
    if (src->window_offset + off >= src->dev_size) {
        /* A window's sector padding past the end of the file. */
        out->offset = off;
        out->length = src->io.size - off;
        out->kind = ABI_EXTENT_HOLE;
        return 1;
    }
    rc = src->ct->device_extent(0, src->window_offset + off, out);
    if (rc == 1) {
        out->offset = off;
        if (out->length > src->io.size - off)
            out->length = src->io.size - off;
    }
    return rc;
}

/* Report a failure of the source: open-phase failures get qemu's
 * "Could not open" prefix from the host. */
static void fail(struct op_source *src, enum img_err err, bool opening)
{
    uint32_t code = opening && err != IMG_ERR_PLAIN ? ABI_ERROR_OPEN : ABI_ERROR_PLAIN;

    if (opening && err == IMG_ERR_OPEN_ERRNO)
        code = ABI_ERROR_OPEN_FILE;
    if (err == IMG_ERR_NOMEM)
        rt_format(src->img.err, sizeof(src->img.err),
                  "the image needs more metadata memory than instar allows (%llu MiB)",
                  (unsigned long long)(src->arena.size >> 20));
    if (src->img.note[0] != '\0')
        src->ct->send_error(src->img.note_raw ? ABI_ERROR_NOTE_RAW : ABI_ERROR_NOTE, "measure",
                            src->img.note);
    src->ct->send_error(code, "measure", src->img.err);
}

/* raw's offset= and size= (qemu's raw_apply_options()): checked against the
 * file's length rounded up to sectors, as qemu's block layer sees it, in
 * qemu's order.  A window may reach into that rounding, past the file's
 * last byte: it reads as zeros there. */
static bool apply_window(struct op_source *src, const struct abi_measure_ext *ext)
{
    struct img *img = &src->img;
    uint64_t file = src->io.size;
    uint64_t real = file > UINT64_MAX - 511 ? file : (file + 511) & ~(uint64_t)511;
    uint64_t off = ext->window_offset;
    bool has_size = (ext->source_flags & ABI_MEASURE_SRC_WINDOW_SIZE) != 0;
    uint64_t size = has_size ? ext->window_size : real - off;

    if (off > real) {
        rt_format(img->err, sizeof(img->err),
                  "Offset (%llu) cannot be greater than size of the containing file (%llu)",
                  (unsigned long long)off, (unsigned long long)real);
    } else if (has_size && real - off < size) {
        rt_format(img->err, sizeof(img->err),
                  "The sum of offset (%llu) and size (%llu) has to be smaller or equal to the "
                  " actual size of the containing file (%llu)",
                  (unsigned long long)off, (unsigned long long)size, (unsigned long long)real);
    } else if (has_size && size % 512 != 0) {
        rt_format(img->err, sizeof(img->err), "Specified size is not multiple of 512");
    } else {
        src->window_offset = off;
        src->io.size = size;
        return true;
    }
    fail(src, IMG_ERR_OPEN, true);
    return false;
}

bool op_source_open(const struct abi_call_table *ct, const struct abi_measure_ext *ext,
                    struct op_source *src)
{
    uint8_t head[IMG_PROBE_LEN];
    uint64_t scratch_len = 0;
    void *scratch = ct->get_scratch(&scratch_len);
    const struct img_driver *drv = NULL;
    const char *other = NULL;
    const char *unknown = NULL;
    bool key_ok;
    enum img_err err;
    struct img *img = &src->img;

    memset(src, 0, sizeof(*src));
    src->ct = ct;
    src->io.ctx = src;
    src->io.size = ct->device_size(0);
    src->dev_size = src->io.size;
    src->io.allocated = ct->device_allocated(0);
    src->io.read = io_read;
    src->io.extent = io_extent;
    /* The call table hands over zero-filled scratch memory. */
    img_arena_init(&src->arena, scratch, scratch != NULL ? scratch_len : 0, true);
    img->io = &src->io;
    img->arena = &src->arena;
    if (ct->device_count() < 1) {
        ct->send_error(ABI_ERROR_PANIC, "measure", "no source device");
        return false;
    }
    /* The options that reach the driver; strings are bounded copies. */
    if (ext->source_flags & (ABI_MEASURE_SRC_SNAPSHOT | ABI_MEASURE_SRC_SNAPSHOT_ID)) {
        rt_strlcpy(src->snapshot, ext->snapshot, sizeof(src->snapshot));
        if (ext->source_flags & ABI_MEASURE_SRC_SNAPSHOT_ID)
            img->opts.snapshot_id = src->snapshot;
        else
            img->opts.snapshot = src->snapshot;
    }
    if (ext->source_flags & ABI_MEASURE_SRC_SNAPSHOT_NAME) {
        rt_strlcpy(src->snapshot_name, ext->snapshot_name, sizeof(src->snapshot_name));
        img->opts.snapshot_name = src->snapshot_name;
    }
    /* The format: pinned by -f, else probed from the first bytes. */
    if (ext->source_format != ABI_FMT_UNKNOWN) {
        for (size_t i = 0; img_drivers[i] != NULL && drv == NULL; i++) {
            if (img_drivers[i]->abi_fmt == ext->source_format)
                drv = img_drivers[i];
        }
        if (drv == NULL) {
            ct->send_error(ABI_ERROR_PANIC, "measure", "unknown source format in config");
            return false;
        }
    } else {
        uint64_t n = src->io.size < sizeof(head) ? src->io.size : sizeof(head);

        if (n > 0 && img_read(img, 0, n, head) != IMG_OK) {
            fail(src, IMG_ERR_IO, true);
            return false;
        }
        drv = img_probe(head, (size_t)n, &other);
        /* qemu's dmg probe looks at the name alone and beats raw. */
        if (drv == &img_driver_raw && other == NULL &&
            (ext->source_flags & ABI_MEASURE_SRC_NAME_DMG))
            other = "dmg";
        if (other != NULL) {
            rt_format(img->err, sizeof(img->err),
                      "the '%s' format is not supported by instar", other);
            fail(src, IMG_ERR_UNSUPPORTED, true);
            return false;
        }
    }
    img->drv = drv;
    /* Format options go to the format that takes them; qemu refuses the
     * rest once the format has opened. */
    key_ok = (ext->source_flags & ABI_MEASURE_SRC_KEY_ENCRYPT)
                 ? drv == &img_driver_qcow2 || drv == &img_driver_qcow
                 : drv == &img_driver_luks;
    if ((ext->source_flags & ABI_MEASURE_SRC_KEY_SECRET) && key_ok)
        img->opts.key_secret = "";
    if ((ext->source_flags & ABI_MEASURE_SRC_WINDOW) && drv == &img_driver_raw &&
        !apply_window(src, ext))
        return false;
    err = drv->open(img);
    if (err != IMG_OK) {
        fail(src, err, true);
        return false;
    }
    /* A backing file named by options: opened after the format, before
     * leftover options are refused. */
    if (ext->source_flags & ABI_MEASURE_SRC_BACKING_NAMED) {
        bool takes = drv == &img_driver_qcow2 || drv == &img_driver_qcow ||
                     drv == &img_driver_qed || drv == &img_driver_vmdk ||
                     drv == &img_driver_parallels;

        rt_format(img->err, sizeof(img->err), "%s",
                  takes ? "Could not open backing file: backing files are not supported yet"
                        : "Driver doesn't support backing files");
        fail(src, takes ? IMG_ERR_UNSUPPORTED : IMG_ERR_OPEN, true);
        return false;
    }
    /* An --image-opts option no layer took, once the format is known. */
    if (ext->source_flags & ABI_MEASURE_SRC_UNKNOWN_OPTION)
        unknown = ext->unknown_option;
    else if ((ext->source_flags & ABI_MEASURE_SRC_KEY_SECRET) && !key_ok)
        unknown = (ext->source_flags & ABI_MEASURE_SRC_KEY_ENCRYPT) ? "encrypt.key-secret"
                                                                    : "key-secret";
    else if ((ext->source_flags & ABI_MEASURE_SRC_WINDOW) && drv != &img_driver_raw)
        unknown = (ext->source_flags & ABI_MEASURE_SRC_WINDOW_OFFSET) ? "offset" : "size";
    if (unknown != NULL) {
        rt_format(img->err, sizeof(img->err),
                  "Block format '%s' does not support the option '%s'", drv->name, unknown);
        fail(src, IMG_ERR_OPEN, true);
        return false;
    }
    if (img->virtual_size % 512 != 0 || img->virtual_size > (uint64_t)INT64_MAX) {
        rt_format(img->err, sizeof(img->err), "invalid virtual size %llu",
                  (unsigned long long)img->virtual_size);
        fail(src, IMG_ERR_OPEN, true);
        return false;
    }
    if (img->has_backing && !(ext->source_flags & ABI_MEASURE_SRC_NO_BACKING)) {
        rt_format(img->err, sizeof(img->err),
                  "images with a backing file are not supported yet");
        fail(src, IMG_ERR_UNSUPPORTED, true);
        return false;
    }
    /* -l on a format without internal snapshots (qcow2's driver loads its
     * own in open()). */
    if ((ext->source_flags & (ABI_MEASURE_SRC_SNAPSHOT | ABI_MEASURE_SRC_SNAPSHOT_ID |
                              ABI_MEASURE_SRC_SNAPSHOT_NAME)) &&
        drv != &img_driver_qcow2) {
        rt_format(img->err, sizeof(img->err),
                  "Failed to load snapshot: Block format '%s' used by device '' does not "
                  "support temporarily loading internal snapshots",
                  drv->name);
        fail(src, IMG_ERR_PLAIN, true);
        return false;
    }
    return true;
}

bool op_source_count(struct op_source *src, uint64_t unit, uint64_t *units)
{
    struct img *img = &src->img;
    struct calc_tracker t;
    uint64_t off = 0;

    calc_tracker_init(&t, unit);
    while (off < img->virtual_size) {
        struct img_map m = {0, IMG_UNALLOC};
        uint64_t left = img->virtual_size - off;
        enum img_err err = img->drv->map(img, off, left, &m);

        if (err != IMG_OK) {
            fail(src, err, false);
            return false;
        }
        if (m.length == 0 || m.length > left) {
            rt_format(img->err, sizeof(img->err), "%s driver returned an invalid extent",
                      img->drv->name);
            src->ct->send_error(ABI_ERROR_PANIC, "measure", img->err);
            return false;
        }
        if (m.status == IMG_DATA && calc_tracker_add(&t, off, m.length) != CALC_OK) {
            src->ct->send_error(ABI_ERROR_PANIC, "measure", "data extents out of order");
            return false;
        }
        off += m.length;
    }
    *units = t.count;
    return true;
}
