/* fuzz_fixup.h: make a mutated input pass the checksums a format checks
 * before anything else, so the fuzzer reaches the code behind them.
 *
 * VHDX: both headers (4 KiB at 64 and 128 KiB) and both region tables
 * (64 KiB at 192 and 256 KiB) carry a CRC-32C over their block with the
 * checksum field (offset 4) zeroed.  Blocks whose signature is intact get
 * their checksum recomputed on a copy of the input.
 *
 * VHD (vpc): the 512-byte footer ("conectix", at 0 for dynamic disks and
 * at the end of the file) carries a big-endian ones' complement byte sum
 * at offset 64.
 *
 * The mapping is deterministic, so a saved crash input reproduces.
 * Included by the fuzz targets only. */
#ifndef FUZZ_FIXUP_H
#define FUZZ_FIXUP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t fuzz_crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* A copy of the input to fix up, reused between runs. */
static uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
    static uint8_t *copy;
    static size_t copy_size;

    if (copy_size < size) {
        free(copy);
        copy = malloc(size);
        if (copy == NULL)
            abort();
        copy_size = size;
    }
    memcpy(copy, data, size);
    return copy;
}

static void fuzz_vpc_footer(uint8_t *f)
{
    uint32_t sum = 0;

    if (memcmp(f, "conectix", 8) != 0)
        return;
    memset(f + 64, 0, 4);
    for (int i = 0; i < 512; i++)
        sum += f[i];
    sum = ~sum;
    f[64] = (uint8_t)(sum >> 24);
    f[65] = (uint8_t)(sum >> 16);
    f[66] = (uint8_t)(sum >> 8);
    f[67] = (uint8_t)sum;
}

/* The input as the vpc driver should see it. */
static const uint8_t *fuzz_fixup_vpc(const uint8_t *data, size_t size)
{
    uint8_t *copy;

    if (size < 512)
        return data;
    copy = fuzz_copy(data, size);
    fuzz_vpc_footer(copy);
    fuzz_vpc_footer(copy + size - 512);
    return copy;
}

/* The input as the vhdx driver should see it: `data` itself, or a fixed copy. */
static const uint8_t *fuzz_fixup_vhdx(const uint8_t *data, size_t size)
{
    static const struct {
        uint32_t off, len;
        char sig[5];
    } blocks[] = {{64u << 10, 4096, "head"}, {128u << 10, 4096, "head"},
                  {192u << 10, 64u << 10, "regi"}, {256u << 10, 64u << 10, "regi"}};
    uint8_t *copy;

    if (size < (64u << 10) + 4096)
        return data;
    copy = fuzz_copy(data, size);
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        uint8_t *b = copy + blocks[i].off;
        uint32_t crc;

        if (blocks[i].off + (size_t)blocks[i].len > size || memcmp(b, blocks[i].sig, 4) != 0)
            continue;
        memset(b + 4, 0, 4);
        crc = fuzz_crc32c(b, blocks[i].len);
        b[4] = (uint8_t)crc;
        b[5] = (uint8_t)(crc >> 8);
        b[6] = (uint8_t)(crc >> 16);
        b[7] = (uint8_t)(crc >> 24);
    }
    return copy;
}

#endif
