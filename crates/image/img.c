/* img.c: helpers shared by the image format drivers. */
#include "img.h"

#include <stdarg.h>

#include "rt.h"
#include "rt_fmt.h"

void img_arena_init(struct img_arena *a, void *base, uint64_t size, bool zeroed)
{
    a->base = base;
    a->size = size;
    a->used = 0;
    a->clean = zeroed ? 0 : size;
}

void *img_alloc(struct img_arena *a, uint64_t size)
{
    uint64_t start = (a->used + 63) & ~(uint64_t)63;
    uint8_t *p;

    if (start < a->used || start > a->size || size > a->size - start)
        return NULL;
    a->used = start + size;
    p = a->base + start;
    /* Only memory that may hold old bytes needs clearing. */
    if (start < a->clean)
        memset(p, 0, (a->clean - start < size ? a->clean - start : size));
    return p;
}

enum img_err img_fail(struct img *img, enum img_err kind, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_vformat(img->err, sizeof(img->err), fmt, ap);
    va_end(ap);
    return kind;
}

enum img_err img_set_backing(struct img *img, const uint8_t *name, size_t len, const char *fmt)
{
    size_t n = 0;
    char *copy;

    while (n < len && name[n] != '\0')
        n++;
    img->has_backing = n > 0;
    img->backing = NULL;
    img->backing_fmt[0] = '\0';
    if (n == 0)
        return IMG_OK;
    if (n > IMG_NAME_MAX)
        return IMG_OK; /* refused only if it is to be followed */
    copy = img_alloc(img->arena, n + 1);
    if (copy == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    memcpy(copy, name, n);
    copy[n] = '\0';
    img->backing = copy;
    if (fmt != NULL) {
        size_t k = 0;

        while (fmt[k] != '\0' && k + 1 < sizeof(img->backing_fmt)) {
            img->backing_fmt[k] = fmt[k];
            k++;
        }
        img->backing_fmt[k] = '\0';
    }
    return IMG_OK;
}

void img_note(struct img *img, bool raw, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_vformat(img->note, sizeof(img->note), fmt, ap);
    va_end(ap);
    img->note_raw = raw;
}

bool img_length_bad(int64_t sectors)
{
    return sectors < 0 || (uint64_t)sectors > (uint64_t)INT64_MAX / 512;
}

enum img_err img_length_error(struct img *img, enum img_err kind, const char *what,
                              int64_t sectors)
{
    int32_t errnum;

    if (sectors >= 0)
        return img_fail(img, kind, "%s: File too large", what);
    /* No suffix when the truncated number is 0; glibc's text for numbers
     * outside its table (crafted counts only). */
    errnum = (int32_t)(uint32_t)(0 - (uint64_t)sectors);
    if (errnum == 0)
        return img_fail(img, kind, "%s", what);
    return img_fail(img, kind, "%s: Unknown error %d", what, errnum);
}

enum img_err img_check_sectors(struct img *img, uint64_t sectors)
{
    if (sectors * 512 > IMG_QEMU_MAX_LENGTH)
        return img_fail(img, IMG_ERR_OPEN, "Could not refresh total sector count: File too large");
    if (img_length_bad((int64_t)sectors))
        return img_length_error(img, IMG_ERR_PLAIN, "Unable to get image virtual_size",
                                (int64_t)sectors);
    return IMG_OK;
}

enum img_err img_read_zf(struct img *img, uint64_t off, uint64_t len, void *buf)
{
    uint64_t size = img->io->size;
    uint64_t n = off < size ? (len < size - off ? len : size - off) : 0;

    memset((uint8_t *)buf + n, 0, (size_t)(len - n));
    return img_read(img, off, n, buf);
}

enum img_err img_table_entry(struct img *img, struct img_table *t, uint64_t i, uint64_t *out)
{
    const uint8_t *p;

    if (t->count == 0 || i < t->first || i - t->first >= t->count) {
        uint64_t n = t->entries - i;
        enum img_err err;

        if (n > t->win_bytes / t->esize)
            n = t->win_bytes / t->esize;
        err = img_read_zf(img, t->off + i * t->esize, n * t->esize, t->win);
        if (err != IMG_OK)
            return err;
        t->first = i;
        t->count = n;
    }
    p = t->win + (i - t->first) * t->esize;
    if (t->esize == 8)
        *out = t->big_endian ? img_be64(p) : img_le64(p);
    else
        *out = t->big_endian ? img_be32(p) : img_le32(p);
    return IMG_OK;
}

/* Fixed-size loads: the compiler makes them single moves (a variable or
 * large memcpy would be a `rep movs` in the size-optimised guest). */
static uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static uint32_t load32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

const uint8_t *img_skip_zero_units(const uint8_t *p, const uint8_t *end, uint32_t unit)
{
    while (end - p >= 64 && (load64(p) | load64(p + 8) | load64(p + 16) | load64(p + 24) |
                             load64(p + 32) | load64(p + 40) | load64(p + 48) |
                             load64(p + 56)) == 0)
        p += 64;
    if (unit == 8) {
        while (p < end && load64(p) == 0)
            p += 8;
    } else {
        while (p < end && load32(p) == 0)
            p += 4;
    }
    return p;
}

enum img_err img_table_skip_zeros(struct img *img, struct img_table *t, uint64_t i,
                                  uint64_t last, uint64_t *out)
{
    while (i < last) {
        uint64_t v;
        uint64_t stop;
        const uint8_t *p;
        enum img_err err = img_table_entry(img, t, i, &v); /* loads i's window */

        if (err != IMG_OK)
            return err;
        if (v != 0)
            break;
        stop = t->first + t->count < last ? t->first + t->count : last;
        p = img_skip_zero_units(t->win + (i + 1 - t->first) * t->esize,
                            t->win + (stop - t->first) * t->esize, t->esize);
        i = t->first + (uint64_t)(p - t->win) / t->esize;
        if (i < stop)
            break;
    }
    *out = i < last ? i : last;
    return IMG_OK;
}

enum img_err img_read(struct img *img, uint64_t off, uint64_t len, void *buf)
{
    int64_t got;

    if (len == 0)
        return IMG_OK;
    got = img->io->read(img->io->ctx, off, len, buf);
    if (got < 0 || (uint64_t)got != len)
        return img_fail(img, IMG_ERR_IO, "Could not read %llu bytes at offset %llu: %s",
                        (unsigned long long)len, (unsigned long long)off,
                        got < 0 ? "Input/output error" : "unexpected end of file");
    return IMG_OK;
}
