/* mock_ct.c: the host-side CallTable (see mock_ct.h). */
#include "mock_ct.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static struct mock_state *cur;
static struct abi_call_table table;

static uint32_t m_device_count(void)
{
    return cur->device_count;
}

static uint64_t m_device_size(uint32_t dev)
{
    return dev < cur->device_count ? cur->devices[dev].size : 0;
}

static uint64_t m_device_allocated(uint32_t dev)
{
    return dev < cur->device_count ? cur->devices[dev].allocated : 0;
}

static int64_t m_device_read(uint32_t dev, uint64_t offset, uint64_t length, void *buf)
{
    const struct mock_device *d;
    uint64_t n = 0;

    if (dev >= cur->device_count || buf == NULL)
        return ABI_HC_EINVAL;
    d = &cur->devices[dev];
    cur->reads++;
    if (cur->fail_read_at != 0 && cur->reads == cur->fail_read_at)
        return ABI_HC_EIO;
    if (offset < d->size)
        n = d->size - offset < length ? d->size - offset : length;
    if (cur->short_read_at != 0 && cur->reads == cur->short_read_at && n > 0)
        n /= 2;
    if (n > 0)
        memcpy(buf, d->data + offset, n);
    cur->bytes_read += n;
    if (cur->zero_past_eof && n < length) {
        memset((uint8_t *)buf + n, 0, length - n);
        return (int64_t)length;
    }
    return (int64_t)n;
}

static int32_t m_device_extent(uint32_t dev, uint64_t offset, struct abi_extent *out)
{
    const struct mock_device *d;

    if (dev >= cur->device_count || out == NULL)
        return ABI_HC_EINVAL;
    d = &cur->devices[dev];
    if (offset >= d->size)
        return 0;
    out->offset = offset;
    out->_pad = 0;
    if (d->extents == NULL) {
        out->length = d->size - offset;
        out->kind = ABI_EXTENT_DATA;
        return 1;
    }
    for (uint32_t i = 0; i < d->n_extents; i++) {
        const struct abi_extent *e = &d->extents[i];

        if (offset >= e->offset && offset - e->offset < e->length) {
            out->length = e->length - (offset - e->offset);
            out->kind = e->kind;
            return 1;
        }
    }
    /* Not covered by the map: a hole up to the next extent or the end. */
    out->length = d->size - offset;
    for (uint32_t i = 0; i < d->n_extents; i++) {
        if (d->extents[i].offset > offset && d->extents[i].offset - offset < out->length)
            out->length = d->extents[i].offset - offset;
    }
    out->kind = ABI_EXTENT_HOLE;
    return 1;
}

static const void *m_get_config(uint32_t *len)
{
    if (len != NULL)
        *len = sizeof(cur->config);
    return cur->config;
}

static void *m_get_scratch(uint64_t *len)
{
    if (len != NULL)
        *len = cur->scratch_len;
    return cur->scratch;
}

static void m_send_error(uint32_t code, const char *operation, const char *message)
{
    (void)operation;
    if (cur->n_errors++ == 0) {
        cur->first_error_code = code;
        strncpy(cur->first_error, message != NULL ? message : "", sizeof(cur->first_error) - 1);
    }
}

static void m_send_complete(const char *operation, uint64_t count, uint32_t success)
{
    (void)operation;
    (void)count;
    cur->n_complete++;
    cur->complete_success = success != 0;
}

static void m_debug_print(const char *text)
{
    (void)text;
    cur->n_debug++;
}

static void m_send_reserved(const void *result)
{
    (void)result;
    cur->n_reserved++;
}

static void m_send_measure_result(const struct abi_measure_result *r)
{
    /* As core: operations pass a whole struct abi_measure_report. */
    const struct abi_measure_report *rep = (const struct abi_measure_report *)r;

    if (cur->n_measure++ == 0 && r != NULL) {
        cur->measure = rep->result;
        cur->has_bitmaps = rep->tail_magic == ABI_MEASURE_TAIL_MAGIC &&
                           (rep->tail_flags & ABI_MEASURE_TAIL_HAS_BITMAPS);
        cur->bitmaps = cur->has_bitmaps ? rep->bitmaps : 0;
    }
}

void mock_init(struct mock_state *m, uint64_t scratch_len)
{
    memset(m, 0, sizeof(*m));
    if (scratch_len > 0) {
        /* Anonymous memory: zero-filled, as the call table promises. */
        m->scratch = mmap(NULL, scratch_len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m->scratch == MAP_FAILED)
            abort();
        m->scratch_len = scratch_len;
        m->scratch_owned = true;
    }
}

void mock_fini(struct mock_state *m)
{
    if (m->scratch != NULL && m->scratch_owned)
        munmap(m->scratch, m->scratch_len);
    m->scratch = NULL;
    if (cur == m)
        cur = NULL;
}

void *mock_scratch_reusable(uint64_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);

    if (p == MAP_FAILED)
        abort();
    return p;
}

void mock_scratch_rezero(void *p, uint64_t len)
{
    /* Drop the pages: the next touch gets zero pages, at the cost of the
     * pages the last run touched only. */
    if (madvise(p, len, MADV_DONTNEED) != 0)
        abort();
}

void mock_set_config(struct mock_state *m, const void *cfg, uint32_t len)
{
    memset(m->config, 0, sizeof(m->config));
    memcpy(m->config, cfg, len < sizeof(m->config) ? len : sizeof(m->config));
}

uint32_t mock_add_device(struct mock_state *m, const struct mock_device *d)
{
    if (m->device_count >= ABI_MAX_DEVICES)
        abort();
    m->devices[m->device_count] = *d;
    return m->device_count++;
}

const struct abi_call_table *mock_table(struct mock_state *m)
{
    cur = m;
    table = (struct abi_call_table){
        .magic = ABI_CALL_TABLE_MAGIC,
        .version = ABI_CALL_TABLE_VERSION,
        .size = sizeof(struct abi_call_table),
        .device_count = m_device_count,
        .device_size = m_device_size,
        .device_read = m_device_read,
        .device_extent = m_device_extent,
        .device_allocated = m_device_allocated,
        .get_operation_config = m_get_config,
        .get_scratch = m_get_scratch,
        .send_error = m_send_error,
        .send_complete = m_send_complete,
        .debug_print = m_debug_print,
        .send_info_result = m_send_reserved,
        .send_check_result = m_send_reserved,
        .send_compare_result = m_send_reserved,
        .send_measure_result = m_send_measure_result,
    };
    return &table;
}
