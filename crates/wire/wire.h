/* wire.h: serial-channel framing shared by core (encoder) and vmm (decoder).
 *
 * Pure C, no allocation, no I/O; built for the guest and for the host.
 * See shared/abi_wire.h for the frame layout.
 */
#ifndef INSTAR_WIRE_H
#define INSTAR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "abi_wire.h"

/* CRC-32 (IEEE 802.3 polynomial, reflected; the zlib/PNG CRC) of `len`
 * bytes, continuing from `crc` (start with 0). */
__attribute__((warn_unused_result))
uint32_t wire_crc32(uint32_t crc, const void *data, size_t len);

/* Fill the 16-byte header for `payload` of `len` bytes into `out`
 * (little-endian).  Returns 0, or -1 if len is 0 or too large. */
__attribute__((warn_unused_result))
int wire_frame_header(uint8_t out[sizeof(struct abi_frame_hdr)], const void *payload, size_t len);

enum wire_err {
    WIRE_OK = 0,
    WIRE_ERR_MAGIC,    /* header magic is not ABI_FRAME_MAGIC */
    WIRE_ERR_LENGTH,   /* length 0 or above ABI_FRAME_MAX_PAYLOAD */
    WIRE_ERR_RESERVED, /* reserved header field is not 0 */
    WIRE_ERR_CRC,      /* payload CRC mismatch */
    WIRE_ERR_TOTAL,    /* stream exceeded ABI_SERIAL_MAX_TOTAL or frame count */
};

/* Incremental frame splitter: feed it the serial byte stream in any chunks;
 * it calls back once per complete, checked frame.  Never allocates: the
 * largest frame fits `buf`.  The first error latches. */
typedef int wire_frame_fn(void *ctx, const uint8_t *payload, size_t len);

struct wire_reader {
    uint8_t buf[ABI_FRAME_MAX];
    size_t have;          /* bytes of the current frame in buf */
    size_t need;          /* total bytes of the current frame once known */
    uint64_t total;       /* stream bytes consumed */
    uint32_t frames;      /* complete frames delivered */
    int err;              /* first failure (wire_err or callback), latched */
};

void wire_reader_init(struct wire_reader *r);

/* Consume `len` bytes.  The callback returns 0 to go on or a negative value
 * to stop.  Returns WIRE_OK, a (positive) enum wire_err, or the callback's
 * negative value; after any failure the reader refuses further input and
 * keeps returning the same failure. */
__attribute__((warn_unused_result))
int wire_reader_feed(struct wire_reader *r, const uint8_t *data, size_t len,
                     wire_frame_fn *cb, void *ctx);

/* True when the stream ended between frames (no partial frame pending). */
__attribute__((warn_unused_result))
int wire_reader_idle(const struct wire_reader *r);

/* A one-line description of `err`. */
const char *wire_strerror(enum wire_err err);

#endif /* INSTAR_WIRE_H */
