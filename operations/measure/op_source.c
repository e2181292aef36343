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

    if (off >= src->io.size)
        return 0;
    if (len > src->io.size - off)
        len = src->io.size - off;
    return src->ct->device_read(0, src->window_offset + off, len, buf);
}

static int32_t io_extent(void *ctx, uint64_t off, struct abi_extent *out)
{
    const struct op_source *src = ctx;
    int32_t rc;

    if (off >= src->io.size)
        return 0;
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

bool op_source_open(const struct abi_call_table *ct, const struct abi_measure_ext *ext,
                    struct op_source *src)
{
    uint8_t head[IMG_PROBE_LEN];
    uint64_t scratch_len = 0;
    void *scratch = ct->get_scratch(&scratch_len);
    const struct img_driver *drv = NULL;
    const char *other = NULL;
    enum img_err err;
    struct img *img = &src->img;

    memset(src, 0, sizeof(*src));
    src->ct = ct;
    src->io.ctx = src;
    src->io.size = ct->device_size(0);
    if (ext->source_flags & ABI_MEASURE_SRC_WINDOW) {
        /* The host checked the window against the file. */
        if (ext->window_offset > src->io.size ||
            ext->window_size > src->io.size - ext->window_offset) {
            ct->send_error(ABI_ERROR_PANIC, "measure", "source window outside the device");
            return false;
        }
        src->window_offset = ext->window_offset;
        src->io.size = ext->window_size;
    }
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
    if (ext->source_flags & ABI_MEASURE_SRC_KEY_SECRET)
        img->opts.key_secret = "";
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
        if (other != NULL) {
            rt_format(img->err, sizeof(img->err),
                      "the '%s' format is not supported by instar", other);
            fail(src, IMG_ERR_UNSUPPORTED, true);
            return false;
        }
    }
    img->drv = drv;
    err = drv->open(img);
    if (err != IMG_OK) {
        fail(src, err, true);
        return false;
    }
    /* An --image-opts option no layer took, once the format is known. */
    if (ext->source_flags & ABI_MEASURE_SRC_UNKNOWN_OPTION) {
        rt_format(img->err, sizeof(img->err),
                  "Block format '%s' does not support the option '%s'", drv->name,
                  ext->unknown_option);
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
