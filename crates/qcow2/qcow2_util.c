/* qcow2_util.c: helpers shared by the qcow2 driver's files. */
#include <stdarg.h>

#include "qcow2_int.h"
#include "rt.h"
#include "rt_fmt.h"

enum q2_table q2_table_check(const struct q2 *q, uint64_t off, uint64_t entries,
                             uint64_t entry_len, uint64_t max_bytes)
{
    /* qemu's in-memory limit for the table. */
    if (entries > max_bytes / entry_len)
        return Q2_TABLE_TOO_LARGE;
    /* Offsets are int64_t in qemu, and tables are cluster aligned. */
    if ((uint64_t)INT64_MAX - entries * entry_len < off || (off & (q->cluster_size - 1)))
        return Q2_TABLE_BAD_OFFSET;
    return Q2_TABLE_OK;
}

bool q2_in_file(const struct img *img, uint64_t off, uint64_t len)
{
    return off <= img->io->size && len <= img->io->size - off;
}

bool q2_past_max(uint64_t off, uint64_t len)
{
    return !img_qemu_range_ok(off, len);
}

void *q2_alloc(struct img *img, uint64_t size)
{
    return img_alloc(img->arena, size);
}

/* Restore the heap property below `root` in keys[0, n). */
static void sift_down(uint64_t *keys, uint64_t root, uint64_t n)
{
    for (;;) {
        uint64_t child = 2 * root + 1;
        uint64_t tmp;

        if (child >= n)
            return;
        if (child + 1 < n && keys[child + 1] > keys[child])
            child++;
        if (keys[root] >= keys[child])
            return;
        tmp = keys[root];
        keys[root] = keys[child];
        keys[child] = tmp;
        root = child;
    }
}

void q2_sort_u64(uint64_t *keys, uint64_t n)
{
    if (n < 2)
        return;
    for (uint64_t i = n / 2; i-- > 0;)
        sift_down(keys, i, n);
    for (uint64_t end = n - 1; end > 0; end--) {
        uint64_t tmp = keys[0];

        keys[0] = keys[end];
        keys[end] = tmp;
        sift_down(keys, 0, end);
    }
}

const char *q2_hex(char *buf, uint64_t v)
{
    if (v == 0)
        rt_format(buf, 20, "0");
    else
        rt_format(buf, 20, "0x%llx", (unsigned long long)v);
    return buf;
}

static void vsignal(struct q2 *q, const char *fmt, va_list ap)
{
    char msg[IMG_ERR_LEN];

    if (q->corrupt_signaled)
        return;
    rt_vformat(msg, sizeof(msg), fmt, ap);
    rt_format(q->corrupt_msg, sizeof(q->corrupt_msg),
              "qcow2: Image is corrupt: %s; further non-fatal corruption events will be "
              "suppressed",
              msg);
    q->corrupt_signaled = true;
}

void q2_signal(struct q2 *q, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsignal(q, fmt, ap);
    va_end(ap);
}

enum img_err q2_corrupt(struct img *img, struct q2 *q, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsignal(q, fmt, ap);
    va_end(ap);
    /* qemu prints the event as it is, then measure's own error. */
    img_note(img, true, "%s", q->corrupt_msg);
    return img_fail(img, IMG_ERR_PLAIN, "Unable to get block status: Input/output error");
}
