/* fuzz_driver.c: one image format driver's open() and map() directly, on
 * arbitrary bytes (-DFUZZ_DRIVER="qcow2").  Invariants: no crash or
 * sanitizer report; a failure leaves a message; map() answers with a length
 * within the range asked, statuses that are known, and the walk covers the
 * disk exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixup.h"
#include "img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
    const uint8_t *data;
    uint64_t size;
};

static int64_t buf_read(void *ctx, uint64_t off, uint64_t len, void *out)
{
    const struct buf *b = ctx;

    if (off >= b->size)
        return 0;
    if (len > b->size - off)
        len = b->size - off;
    memcpy(out, b->data + off, len);
    return (int64_t)len;
}

static int32_t buf_extent(void *ctx, uint64_t off, struct abi_extent *out)
{
    const struct buf *b = ctx;

    if (off >= b->size)
        return 0;
    out->offset = off;
    out->length = b->size - off;
    out->kind = ABI_EXTENT_DATA;
    out->_pad = 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *arena_mem;
    struct buf b = {data, size};
    struct img_io io = {&b, size, size, buf_read, buf_extent};
    struct img_arena arena;
    struct img img;
    uint64_t off = 0;

    if (strcmp(FUZZ_DRIVER, "vhdx") == 0)
        b.data = fuzz_fixup_vhdx(data, size);
    else if (strcmp(FUZZ_DRIVER, "vpc") == 0)
        b.data = fuzz_fixup_vpc(data, size);
    if (arena_mem == NULL)
        arena_mem = malloc(64u << 20);
    img_arena_init(&arena, arena_mem, 64u << 20, false); /* reused between runs */
    memset(&img, 0, sizeof(img));
    img.io = &io;
    img.arena = &arena;
    img.opts.key_secret = "";
    img.drv = img_driver_by_name(FUZZ_DRIVER);
    if (img.drv == NULL)
        abort();
    if (img.drv->open(&img) != IMG_OK) {
        if (img.err[0] == '\0')
            abort(); /* every failure explains itself */
        return 0;
    }
    while (off < img.virtual_size) {
        struct img_map m = {0, IMG_UNALLOC};

        if (img.drv->map(&img, off, img.virtual_size - off, &m) != IMG_OK) {
            if (img.err[0] == '\0')
                abort();
            break;
        }
        if (m.length == 0 || m.length > img.virtual_size - off ||
            (m.status != IMG_UNALLOC && m.status != IMG_ZERO && m.status != IMG_DATA))
            abort();
        off += m.length;
    }
    return 0;
}

#include "fuzz_main.h"
