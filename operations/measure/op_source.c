/* op_source.c: measuring from a source image on device 0.
 *
 * qemu-img's order: open the source (probe the format unless -f pinned it,
 * validate its headers), then the files it names -- its data file, extent
 * files and backing chain, each on the next device the host gave, or asked
 * for with ABI_ERROR_NEED_* -- load a snapshot if asked, and only in the
 * target's measure function walk the block status, composed through the
 * chain, from 0 to the virtual size.  The walk streams extents into a unit
 * tracker (crates/measure): memory stays O(1) whatever the disk size, and
 * fragmented sources are counted exactly.
 */
#include "op_measure.h"

#include "abi_format.h"
#include "rt.h"
#include "rt_fmt.h"

/* A device, or for the top image the window of it raw's offset=/size=
 * options select. */
static int64_t read_direct(const struct op_file *l, uint64_t off, uint64_t len, void *buf)
{
    uint64_t pos = l->window_offset + off, n;
    int64_t got;

    if (off >= l->io.size)
        return 0;
    if (len > l->io.size - off)
        len = l->io.size - off;
    n = pos >= l->dev_size ? 0 : len < l->dev_size - pos ? len : l->dev_size - pos;
    got = n > 0 ? l->ct->device_read(l->dev, pos, n, buf) : 0;
    if (got < 0 || (uint64_t)got < n)
        return got;
    memset((uint8_t *)buf + n, 0, len - n); /* the sector padding */
    return (int64_t)len;
}

/*
 * Every device read is a VM exit (~25 us on kvm_pvm hosts), and drivers
 * open an image with a string of small reads close together: the probe's
 * first 2 KiB, a header, its extensions, an L1 or BAT entry read twice.  A
 * read shorter than OP_CACHE_BYTES that misses fetches the aligned block
 * around it, and later reads inside that block are served from memory.
 * Table reads (1 MiB windows, L2 batches) are larger and go straight
 * through.  Devices are read-only for the whole run, so the copy never
 * goes stale.  Without arena memory for the block, reads go straight
 * through too.
 */
static int64_t io_read(void *ctx, uint64_t off, uint64_t len, void *buf)
{
    struct op_file *l = ctx;
    uint64_t start = off & ~(uint64_t)(OP_CACHE_BYTES - 1);
    int64_t got;

    if (off >= l->io.size)
        return 0;
    if (len > l->io.size - off)
        len = l->io.size - off;
    if (l->cache_len == 0 || off < l->cache_off || off - l->cache_off > l->cache_len ||
        len > l->cache_len - (off - l->cache_off)) {
        if (len >= OP_CACHE_BYTES || off + len > start + OP_CACHE_BYTES)
            return read_direct(l, off, len, buf);
        if (l->cache == NULL)
            l->cache = img_alloc(l->arena, OP_CACHE_BYTES);
        if (l->cache == NULL)
            return read_direct(l, off, len, buf);
        l->cache_len = 0;
        got = read_direct(l, start, OP_CACHE_BYTES, l->cache);
        if (got < 0)
            return got; /* the device's error, as a direct read would get */
        if ((uint64_t)got < off + len - start)
            return read_direct(l, off, len, buf);
        l->cache_off = start;
        l->cache_len = (uint64_t)got;
    }
    memcpy(buf, l->cache + (off - l->cache_off), len);
    return (int64_t)len;
}

static int32_t io_extent(void *ctx, uint64_t off, struct abi_extent *out)
{
    const struct op_file *l = ctx;
    int32_t rc;

    if (off >= l->io.size)
        return 0;
    if (l->window_offset + off >= l->dev_size) {
        /* A window's sector padding past the end of the file. */
        out->offset = off;
        out->length = l->io.size - off;
        out->kind = ABI_EXTENT_HOLE;
        return 1;
    }
    rc = l->ct->device_extent(l->dev, l->window_offset + off, out);
    if (rc == 1) {
        out->offset = off;
        if (out->length > l->io.size - off)
            out->length = l->io.size - off;
    }
    return rc;
}

/* Report a failure of link `k`: open-phase failures get qemu's "Could not
 * open" prefix from the host, and each backing level qemu's "Could not open
 * backing file: " (the host counts them to name the file of an errno
 * error). */
static void fail_link(struct op_source *src, uint32_t k, enum img_err err, bool opening)
{
    static const char prefix[] = "Could not open backing file: ";
    struct img *img = &src->link[k].img;
    uint32_t code = opening && err != IMG_ERR_PLAIN ? ABI_ERROR_OPEN : ABI_ERROR_PLAIN;
    char msg[ABI_MAX_STRING];
    size_t n = 0;

    if (opening && err == IMG_ERR_OPEN_ERRNO)
        code = ABI_ERROR_OPEN_FILE;
    if (err == IMG_ERR_NOMEM)
        rt_format(img->err, sizeof(img->err),
                  "the image needs more metadata memory than instar allows (%llu MiB)",
                  (unsigned long long)(src->arena.size >> 20));
    if (img->note[0] != '\0')
        src->ct->send_error(img->note_raw ? ABI_ERROR_NOTE_RAW : ABI_ERROR_NOTE, "measure",
                            img->note);
    for (uint32_t i = 0; opening && i < k && n + sizeof(prefix) < sizeof(msg); i++) {
        memcpy(msg + n, prefix, sizeof(prefix) - 1);
        n += sizeof(prefix) - 1;
    }
    rt_strlcpy(msg + n, img->err, sizeof(msg) - n);
    src->ct->send_error(code, "measure", msg);
}

static void fail(struct op_source *src, enum img_err err, bool opening)
{
    fail_link(src, 0, err, opening);
}

/* raw's offset= and size= (qemu's raw_apply_options()): checked against the
 * file's length rounded up to sectors, as qemu's block layer sees it, in
 * qemu's order.  A window may reach into that rounding, past the file's
 * last byte: it reads as zeros there. */
static bool apply_window(struct op_source *src, const struct abi_measure_ext *ext)
{
    struct op_file *top = &src->link[0].file;
    struct img *img = &src->link[0].img;
    uint64_t file = top->io.size;
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
        top->window_offset = off;
        top->io.size = size;
        top->cache_len = 0; /* the probe's reads saw the whole file */
        return true;
    }
    fail(src, IMG_ERR_OPEN, true);
    return false;
}

/* Serve device `dev` as a file. */
static void file_init(struct op_source *src, struct op_file *f, uint32_t dev)
{
    memset(f, 0, sizeof(*f));
    f->ct = src->ct;
    f->dev = dev;
    f->io.ctx = f;
    f->io.size = src->ct->device_size(dev);
    f->dev_size = f->io.size;
    f->io.allocated = src->ct->device_allocated(dev);
    f->io.read = io_read;
    f->io.extent = io_extent;
    f->arena = &src->arena;
}

/* Ask the host for the file `name` link `k` needs, with `code` (the name
 * must be printable ASCII for the host).  Always false: the run stops. */
static bool ask(struct op_source *src, uint32_t k, uint32_t code, const char *name)
{
    struct img *img = &src->link[k].img;

    for (const char *p = name; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7E) {
            rt_format(img->err, sizeof(img->err), "%s file names with bytes outside printable "
                      "ASCII are not supported",
                      code == ABI_ERROR_NEED_DATA_FILE ? "data"
                      : code == ABI_ERROR_NEED_EXTENT  ? "extent"
                                                       : "backing");
            fail_link(src, k, IMG_ERR_UNSUPPORTED, true);
            return false;
        }
    }
    src->ct->send_error(code, "measure", name);
    return false;
}

/* The next device, or false when the host has not given it yet: then it
 * is asked for. */
static bool take_device(struct op_source *src, uint32_t k, uint32_t code, const char *name,
                        uint32_t *dev)
{
    if (src->next_dev < src->devices) {
        *dev = src->next_dev++;
        return true;
    }
    return ask(src, k, code, name);
}

/* Set up link `k` on device `dev`: its I/O over the device, the shared arena. */
static void link_init(struct op_source *src, uint32_t k, uint32_t dev)
{
    struct op_link *l = &src->link[k];

    memset(l, 0, sizeof(*l));
    file_init(src, &l->file, dev);
    l->img.io = &l->file.io;
    l->img.arena = &src->arena;
}

/* After link `k` opened: the extent files its descriptor names, from the
 * next devices. */
static bool open_extent_files(struct op_source *src, uint32_t k)
{
    struct img *img = &src->link[k].img;
    struct op_file *files;
    enum img_err err;

    if (img->n_files == 0 || img->drv->open_files == NULL)
        return true;
    files = img_alloc(&src->arena, img->n_files * sizeof(*files));
    if (files == NULL) {
        fail_link(src, k, IMG_ERR_NOMEM, true);
        return false;
    }
    for (uint32_t i = 0; i < img->n_files; i++) {
        uint32_t dev = 0;

        if (!take_device(src, k, ABI_ERROR_NEED_EXTENT, img->file_names[i], &dev))
            return false;
        file_init(src, &files[i], dev);
        img->file_io[i] = &files[i].io;
    }
    err = img->drv->open_files(img);
    if (err != IMG_OK) {
        fail_link(src, k, err, true);
        return false;
    }
    return true;
}

/* After link `k` opened: the files it names besides its backing file --
 * its external data file, then its extent files -- from the next devices. */
static bool open_named_files(struct op_source *src, uint32_t k)
{
    struct op_link *l = &src->link[k];
    uint32_t dev = 0;

    if (l->img.data_file == NULL)
        return open_extent_files(src, k);
    if (rt_strnlen(l->img.data_file, IMG_NAME_MAX + 1) > IMG_NAME_MAX) {
        rt_format(l->img.err, sizeof(l->img.err),
                  "data file names longer than %u bytes are not supported", IMG_NAME_MAX);
        fail_link(src, k, IMG_ERR_UNSUPPORTED, true);
        return false;
    }
    if (!take_device(src, k, ABI_ERROR_NEED_DATA_FILE, l->img.data_file, &dev))
        return false;
    file_init(src, &l->data, dev);
    l->img.data_io = &l->data.io;
    return open_extent_files(src, k);
}

/* Probe link `k`'s format from its first bytes (qemu's bdrv_probe_all). */
static const struct img_driver *probe(struct op_source *src, uint32_t k, bool name_dmg)
{
    uint8_t head[IMG_PROBE_LEN];
    struct img *img = &src->link[k].img;
    uint64_t n = img->io->size < sizeof(head) ? img->io->size : sizeof(head);
    const struct img_driver *drv;
    const char *other = NULL;

    if (n > 0 && img_read(img, 0, n, head) != IMG_OK) {
        fail_link(src, k, IMG_ERR_IO, true);
        return NULL;
    }
    drv = img_probe(head, (size_t)n, &other);
    /* qemu's dmg probe looks at the name alone and beats raw. */
    if (drv == &img_driver_raw && other == NULL && name_dmg)
        other = "dmg";
    if (other != NULL) {
        rt_format(img->err, sizeof(img->err), "the '%s' format is not supported by instar",
                  other);
        fail_link(src, k, IMG_ERR_UNSUPPORTED, true);
        return NULL;
    }
    return drv;
}

/* The checks every opened link passes. */
static bool link_opened(struct op_source *src, uint32_t k)
{
    struct img *img = &src->link[k].img;

    if (img->virtual_size % 512 != 0 || img->virtual_size > (uint64_t)INT64_MAX) {
        rt_format(img->err, sizeof(img->err), "invalid virtual size %llu",
                  (unsigned long long)img->virtual_size);
        fail_link(src, k, IMG_ERR_OPEN, true);
        return false;
    }
    return true;
}

/* Open the top image, device 0, with the command line's options. */
static bool open_top(struct op_source *src, const struct abi_measure_ext *ext)
{
    const struct abi_call_table *ct = src->ct;
    const struct img_driver *drv = NULL;
    const char *unknown = NULL;
    bool key_ok;
    enum img_err err;
    struct img *img = &src->link[0].img;

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
        drv = probe(src, 0, (ext->source_flags & ABI_MEASURE_SRC_NAME_DMG) != 0);
        if (drv == NULL)
            return false;
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
    if (!open_named_files(src, 0))
        return false;
    /* A backing file named by options: opened after the format, before
     * leftover options are refused. */
    if (ext->source_flags & ABI_MEASURE_SRC_BACKING_NAMED) {
        bool takes = drv == &img_driver_qcow2 || drv == &img_driver_qcow ||
                     drv == &img_driver_qed || drv == &img_driver_vmdk ||
                     drv == &img_driver_parallels;
        char node[ABI_MEASURE_OPTION_MAX];

        /* backing=NODE: qemu-img defines no nodes, so qemu looks it up in
         * vain; backing.* options name a file instar does not open. */
        rt_strlcpy(node, ext->backing_node, sizeof(node));
        if (!takes)
            rt_format(img->err, sizeof(img->err), "Driver doesn't support backing files");
        else if (ext->source_flags & ABI_MEASURE_SRC_BACKING_NODE)
            rt_format(img->err, sizeof(img->err),
                      "Could not open backing file: Cannot find device='%s' nor "
                      "node-name='%s'",
                      node, node);
        else
            rt_format(img->err, sizeof(img->err), "Could not open backing file: backing "
                      "files named by options are not supported");
        fail(src,
             takes && !(ext->source_flags & ABI_MEASURE_SRC_BACKING_NODE) ? IMG_ERR_UNSUPPORTED
                                                                         : IMG_ERR_OPEN,
             true);
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
    if (!link_opened(src, 0))
        return false;
    /* backing=null: the chain ends here. */
    if (ext->source_flags & ABI_MEASURE_SRC_NO_BACKING)
        img->has_backing = false;
    return true;
}

/* Open link `k` (k >= 1), the backing file of link k - 1, as qemu's
 * bdrv_open_backing_file does: in the format the referring image records,
 * else probed; no options. */
static bool open_backing(struct op_source *src, uint32_t k)
{
    const char *fmt = src->link[k - 1].img.backing_fmt;
    struct img *img = &src->link[k].img;
    const struct img_driver *drv;
    enum img_err err;

    if (fmt[0] == '\0') {
        drv = probe(src, k, false);
        if (drv == NULL)
            return false;
    } else {
        /* "file" opens the protocol alone: the bytes, as raw reads them. */
        drv = img_driver_by_name(rt_streq(fmt, "file") ? "raw" : fmt);
        if (drv == NULL) {
            bool known = rt_streq(fmt, "dmg") || rt_streq(fmt, "bochs") ||
                         rt_streq(fmt, "cloop") || rt_streq(fmt, "vvfat");

            rt_format(img->err, sizeof(img->err),
                      known ? "the '%s' format is not supported by instar"
                            : "Unknown driver '%s'",
                      fmt);
            fail_link(src, k, known ? IMG_ERR_UNSUPPORTED : IMG_ERR_OPEN, true);
            return false;
        }
    }
    img->drv = drv;
    err = drv->open(img);
    if (err != IMG_OK) {
        fail_link(src, k, err, true);
        return false;
    }
    return open_named_files(src, k) && link_opened(src, k);
}

bool op_source_open(const struct abi_call_table *ct, const struct abi_measure_ext *ext,
                    struct op_source *src)
{
    uint64_t scratch_len = 0;
    void *scratch = ct->get_scratch(&scratch_len);
    uint32_t k;

    memset(src, 0, sizeof(*src));
    src->ct = ct;
    src->devices = ct->device_count();
    /* The call table hands over zero-filled scratch memory; every link's
     * driver allocates from it. */
    img_arena_init(&src->arena, scratch, scratch != NULL ? scratch_len : 0, true);
    if (src->devices < 1 || src->devices > ABI_MAX_DEVICES) {
        ct->send_error(ABI_ERROR_PANIC, "measure", "no source device");
        return false;
    }
    link_init(src, 0, src->next_dev++);
    if (!open_top(src, ext))
        return false;
    /* Down the backing chain: each backing file (and data file) on the
     * next device, as the host resolved it under its path policy.  When
     * the host has not given it yet, ask for it: the host decides and runs
     * the guest again. */
    for (k = 1; src->link[k - 1].img.has_backing; k++) {
        struct img *prev = &src->link[k - 1].img;
        uint32_t dev = 0;

        if (prev->backing == NULL) {
            rt_format(prev->err, sizeof(prev->err), "%s",
                      prev->drv == &img_driver_vpc
                          ? "differencing VHD images are not supported"
                          : "backing file names longer than 511 bytes are not supported");
            fail_link(src, k - 1, IMG_ERR_UNSUPPORTED, true);
            return false;
        }
        /* Past OP_MAX_LINKS the host refuses the request. */
        if (k >= OP_MAX_LINKS)
            return ask(src, k - 1, ABI_ERROR_NEED_BACKING, prev->backing);
        if (!take_device(src, k - 1, ABI_ERROR_NEED_BACKING, prev->backing, &dev))
            return false;
        link_init(src, k, dev);
        if (!open_backing(src, k))
            return false;
    }
    src->links = k;
    /* -l on a format without internal snapshots (qcow2's driver loads its
     * own in open()). */
    if ((ext->source_flags & (ABI_MEASURE_SRC_SNAPSHOT | ABI_MEASURE_SRC_SNAPSHOT_ID |
                              ABI_MEASURE_SRC_SNAPSHOT_NAME)) &&
        src->link[0].img.drv != &img_driver_qcow2) {
        struct img *img = &src->link[0].img;

        rt_format(img->err, sizeof(img->err),
                  "Failed to load snapshot: Block format '%s' used by device '' does not "
                  "support temporarily loading internal snapshots",
                  img->drv->name);
        fail(src, IMG_ERR_PLAIN, true);
        return false;
    }
    return true;
}

/* Link `k`'s status at `off` (up to `max` bytes): its driver's answer, or
 * the rest of the run it gave last when `off` lies inside it -- a backing
 * file may split an overlay's run, and the overlay is not asked again. */
static enum img_err link_map(struct op_link *l, uint64_t off, uint64_t max, struct img_map *out)
{
    struct img *img = &l->img;
    enum img_err err;

    if (l->run_len == 0 || off < l->run_off || off - l->run_off >= l->run_len) {
        struct img_map m = {0, IMG_UNALLOC};

        err = img->drv->map(img, off, max, &m);
        if (err != IMG_OK)
            return err;
        if (m.length == 0 || m.length > max) {
            rt_format(img->err, sizeof(img->err), "%s driver returned an invalid extent",
                      img->drv->name);
            l->broken = true;
            return IMG_ERR_PLAIN;
        }
        l->run_off = off;
        l->run_len = m.length;
        l->run_status = m.status;
    }
    out->length = l->run_len - (off - l->run_off);
    if (out->length > max)
        out->length = max;
    out->status = l->run_status;
    return IMG_OK;
}

/* The status of [off, off + max) through the chain: qemu's
 * bdrv_block_status_above().  A range a link leaves unallocated is asked of
 * its backing file; past the end of a shorter backing file it reads as
 * zeros.  On failure *failed is the link that failed. */
static enum img_err chain_map(struct op_source *src, uint64_t off, uint64_t max,
                              struct img_map *out, uint32_t *failed)
{
    for (uint32_t k = 0; k < src->links; k++) {
        struct op_link *l = &src->link[k];
        enum img_err err;

        if (off >= l->img.virtual_size) {
            out->length = max;
            out->status = IMG_ZERO;
            return IMG_OK;
        }
        if (max > l->img.virtual_size - off)
            max = l->img.virtual_size - off;
        err = link_map(l, off, max, out);
        if (err != IMG_OK) {
            *failed = k;
            return err;
        }
        if (out->status != IMG_UNALLOC)
            return IMG_OK;
        max = out->length;
    }
    return IMG_OK;
}

bool op_source_count(struct op_source *src, uint64_t unit, uint64_t *units)
{
    uint64_t size = src->link[0].img.virtual_size;
    struct calc_tracker t;
    uint64_t off = 0;

    calc_tracker_init(&t, unit);
    while (off < size) {
        struct img_map m = {0, IMG_UNALLOC};
        uint32_t failed = 0;
        enum img_err err = chain_map(src, off, size - off, &m, &failed);

        if (err != IMG_OK && src->link[failed].broken) {
            /* A driver broke its own contract. */
            src->ct->send_error(ABI_ERROR_PANIC, "measure", src->link[failed].img.err);
            return false;
        }
        if (err != IMG_OK) {
            fail_link(src, failed, err, false);
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
