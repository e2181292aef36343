/* abi_wire.h: framing of the guest -> host serial channel.
 *
 * The guest's serial channel is a byte stream of frames.  Each frame is a
 * fixed header followed by `length` bytes of a nanopb-encoded GuestMessage
 * (proto/guest.proto).  The host checks magic, length and CRC before a single
 * payload byte reaches protobuf-c, and treats any violation as a protocol
 * error that ends the run: there is no resynchronisation.
 */
#ifndef INSTAR_ABI_WIRE_H
#define INSTAR_ABI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define ABI_FRAME_MAGIC 0x31425049u /* "IPB1", little-endian */
#define ABI_FRAME_MAX_PAYLOAD 4096u /* bytes; a GuestMessage never needs more */
/* All protocol bytes one run may send; more is a protocol violation. */
#define ABI_SERIAL_MAX_TOTAL 0x100000u /* 1 MiB */
/* Frames one run may send. */
#define ABI_SERIAL_MAX_FRAMES 4096u

/* All fields little-endian. */
struct abi_frame_hdr {
    uint32_t magic;   /* ABI_FRAME_MAGIC */
    uint32_t length;  /* payload bytes, 1 .. ABI_FRAME_MAX_PAYLOAD */
    uint32_t crc32;   /* CRC-32 (IEEE 802.3, reflected, as zlib) of the payload */
    uint32_t _reserved; /* must be 0 */
};
_Static_assert(sizeof(struct abi_frame_hdr) == 16, "abi_frame_hdr size");
_Static_assert(offsetof(struct abi_frame_hdr, length) == 4, "abi_frame_hdr.length");
_Static_assert(offsetof(struct abi_frame_hdr, crc32) == 8, "abi_frame_hdr.crc32");
_Static_assert(offsetof(struct abi_frame_hdr, _reserved) == 12, "abi_frame_hdr._reserved");

#define ABI_FRAME_MAX (sizeof(struct abi_frame_hdr) + ABI_FRAME_MAX_PAYLOAD)

#endif /* INSTAR_ABI_WIRE_H */
