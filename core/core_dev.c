/* core_dev.c: device services over the read and extent doorbells.
 *
 * Sizes and allocated bytes come from the boot info page (no exit).  Reads
 * go to the host in requests of up to ABI_READ_MAX bytes straight into the
 * caller's buffer.  Extent queries are answered from a cache the host fills
 * with up to ABI_EXTENTS_MAX extents per exit.
 */
#include "core.h"

#include "rt.h"

static struct abi_read_req read_req;
static struct abi_extents_req ext_req;
static struct abi_extent ext_cache[ABI_EXTENTS_MAX];
static uint32_t ext_count;
static uint32_t ext_dev;

uint32_t core_device_count(void)
{
    return core_boot.device_count;
}

uint64_t core_device_size(uint32_t dev)
{
    return dev < core_boot.device_count ? core_boot.devices[dev].size : 0;
}

uint64_t core_device_allocated(uint32_t dev)
{
    return dev < core_boot.device_count ? core_boot.devices[dev].allocated : 0;
}

int64_t core_device_read(uint32_t dev, uint64_t offset, uint64_t length, void *buf)
{
    uint8_t *dst = buf;
    uint64_t done = 0;

    if (dev >= core_boot.device_count || buf == NULL)
        return ABI_HC_EINVAL;
    while (done < length) {
        uint64_t chunk = length - done;

        if (chunk > ABI_READ_MAX)
            chunk = ABI_READ_MAX;
        read_req.dev = dev;
        read_req._pad = 0;
        read_req.offset = offset + done;
        read_req.length = chunk;
        read_req.dest_gpa = (uint64_t)(uintptr_t)(dst + done);
        read_req.result = ABI_HC_EIO;
        core_doorbell(ABI_DB_READ, (uint64_t)(uintptr_t)&read_req);
        if (read_req.result < 0)
            return read_req.result;
        if ((uint64_t)read_req.result > chunk)
            core_panic("host read returned more than requested");
        done += (uint64_t)read_req.result;
        if ((uint64_t)read_req.result < chunk)
            break; /* end of device */
    }
    return (int64_t)done;
}

/* Index of the cached extent containing `offset`, or -1. */
static int32_t ext_lookup(uint32_t dev, uint64_t offset)
{
    uint32_t lo = 0;
    uint32_t hi = ext_count;

    if (ext_count == 0 || dev != ext_dev)
        return -1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct abi_extent *e = &ext_cache[mid];

        if (offset < e->offset)
            hi = mid;
        else if (offset - e->offset >= e->length)
            lo = mid + 1;
        else
            return (int32_t)mid;
    }
    return -1;
}

int32_t core_device_extent(uint32_t dev, uint64_t offset, struct abi_extent *out)
{
    int32_t i;

    if (dev >= core_boot.device_count || out == NULL)
        return ABI_HC_EINVAL;
    if (offset >= core_boot.devices[dev].size)
        return 0;
    i = ext_lookup(dev, offset);
    if (i < 0) {
        ext_req.dev = dev;
        ext_req.max_entries = ABI_EXTENTS_MAX;
        ext_req.offset = offset;
        ext_req.dest_gpa = (uint64_t)(uintptr_t)ext_cache;
        ext_req.result = ABI_HC_EIO;
        ext_count = 0;
        core_doorbell(ABI_DB_EXTENTS, (uint64_t)(uintptr_t)&ext_req);
        if (ext_req.result < 0)
            return (int32_t)ext_req.result;
        if (ext_req.result == 0)
            return 0;
        if (ext_req.result > ABI_EXTENTS_MAX)
            core_panic("host returned too many extents");
        ext_count = (uint32_t)ext_req.result;
        ext_dev = dev;
        i = ext_lookup(dev, offset);
        if (i < 0)
            core_panic("host extents do not cover the requested offset");
    }
    out->offset = offset;
    out->length = ext_cache[i].length - (offset - ext_cache[i].offset);
    out->kind = ext_cache[i].kind;
    out->_pad = 0;
    return 1;
}
