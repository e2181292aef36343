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
