/* wire.c: CRC-32 and frame splitting for the serial channel. */
#include "wire.h"

/* Reflected CRC-32 polynomial 0x04C11DB7. */
#define WIRE_CRC_POLY 0xEDB88320u

uint32_t wire_crc32(uint32_t crc, const void *data, size_t len)
{
    /* Nibble-wise table: 64 bytes of rodata, 2 lookups per byte; the frames
     * are small, so this beats a 1 KiB table on blob size. */
    static const uint32_t tab[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    const uint8_t *p = data;

    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ tab[crc & 0xFu];
        crc = (crc >> 4) ^ tab[crc & 0xFu];
    }
    return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int wire_frame_header(uint8_t out[sizeof(struct abi_frame_hdr)], const void *payload, size_t len)
{
    if (len == 0 || len > ABI_FRAME_MAX_PAYLOAD)
        return -1;
    put_le32(out + offsetof(struct abi_frame_hdr, magic), ABI_FRAME_MAGIC);
    put_le32(out + offsetof(struct abi_frame_hdr, length), (uint32_t)len);
    put_le32(out + offsetof(struct abi_frame_hdr, crc32), wire_crc32(0, payload, len));
    put_le32(out + offsetof(struct abi_frame_hdr, _reserved), 0);
    return 0;
}

void wire_reader_init(struct wire_reader *r)
{
    r->have = 0;
    r->need = sizeof(struct abi_frame_hdr);
    r->total = 0;
    r->frames = 0;
    r->err = WIRE_OK;
}

/* Check a complete header in r->buf; on success set r->need to the frame size. */
static int check_header(struct wire_reader *r)
{
    uint32_t len = get_le32(r->buf + offsetof(struct abi_frame_hdr, length));

    if (get_le32(r->buf + offsetof(struct abi_frame_hdr, magic)) != ABI_FRAME_MAGIC)
        return WIRE_ERR_MAGIC;
    /* Reject an over-long length before buffering a single payload byte. */
    if (len == 0 || len > ABI_FRAME_MAX_PAYLOAD)
        return WIRE_ERR_LENGTH;
    if (get_le32(r->buf + offsetof(struct abi_frame_hdr, _reserved)) != 0)
        return WIRE_ERR_RESERVED;
    r->need = sizeof(struct abi_frame_hdr) + len;
    return WIRE_OK;
}

int wire_reader_feed(struct wire_reader *r, const uint8_t *data, size_t len,
                     wire_frame_fn *cb, void *ctx)
{
    const size_t hdr = sizeof(struct abi_frame_hdr);

    if (r->err != WIRE_OK)
        return r->err;
    if (len > ABI_SERIAL_MAX_TOTAL - r->total) {
        r->err = WIRE_ERR_TOTAL;
        return r->err;
    }
    r->total += len;
    while (len > 0) {
        size_t take = r->need - r->have;

        if (take > len)
            take = len;
        for (size_t i = 0; i < take; i++)
            r->buf[r->have + i] = data[i];
        r->have += take;
        data += take;
        len -= take;
        if (r->have < r->need)
            break;
        if (r->have == hdr) {
            int err = check_header(r);

            if (err != WIRE_OK) {
                r->err = err;
                return err;
            }
            continue;
        }
        /* A whole frame: verify, deliver, start the next one. */
        if (wire_crc32(0, r->buf + hdr, r->have - hdr) !=
            get_le32(r->buf + offsetof(struct abi_frame_hdr, crc32))) {
            r->err = WIRE_ERR_CRC;
            return r->err;
        }
        if (++r->frames > ABI_SERIAL_MAX_FRAMES) {
            r->err = WIRE_ERR_TOTAL;
            return r->err;
        }
        {
            int rc = cb(ctx, r->buf + hdr, r->have - hdr);

            r->have = 0;
            r->need = hdr;
            if (rc < 0) {
                r->err = rc;
                return rc;
            }
        }
    }
    return WIRE_OK;
}

int wire_reader_idle(const struct wire_reader *r)
{
    return r->err == WIRE_OK && r->have == 0;
}

const char *wire_strerror(enum wire_err err)
{
    switch (err) {
    case WIRE_OK:
        return "no error";
    case WIRE_ERR_MAGIC:
        return "bad frame magic";
    case WIRE_ERR_LENGTH:
        return "frame length out of range";
    case WIRE_ERR_RESERVED:
        return "reserved frame field not zero";
    case WIRE_ERR_CRC:
        return "frame checksum mismatch";
    case WIRE_ERR_TOTAL:
        return "serial channel budget exceeded";
    }
    return "unknown frame error";
}
