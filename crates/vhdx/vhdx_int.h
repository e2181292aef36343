/* vhdx_int.h: the vhdx crate's internal API (vhdx.c, vhdx_log.c). */
#ifndef INSTAR_VHDX_INT_H
#define INSTAR_VHDX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img.h"

#define VHDX_WINDOW (1u << 20)         /* read-ahead window, bytes */

struct vhdx_state {
    uint32_t crc_table[256];           /* CRC-32C (Castagnoli, reflected) */
    uint8_t *win;                      /* VHDX_WINDOW bytes of the file */
    uint64_t win_off;                  /* file offset of win[0] */
    uint64_t win_len;                  /* valid bytes in win */
};

/* bdrv_pread()'s request check: false means qemu fails with EIO. */
bool vhdx_range_ok(uint64_t off, uint64_t len);

/* Read [off, off + len) as qemu does: bytes past the end of the file are
 * zeros.  Long reads skip what the host reports as holes. */
__attribute__((warn_unused_result))
enum img_err vhdx_read(struct img *img, uint64_t off, uint64_t len, uint8_t *buf);

/* Continue a CRC-32C over (buf, len): crc is the running register (start
 * with 0xFFFFFFFF; the checksum is its complement). */
uint32_t vhdx_crc32c(const struct vhdx_state *st, uint32_t crc, const uint8_t *buf, size_t len);

/* qemu's vhdx_parse_log() on a read-only open, for the current header
 * `hdr`: IMG_OK when no log entry needs replaying; qemu's refusal when one
 * does (instar never replays: security.md T22); qemu's errno text when the
 * log fields or the log's entries are invalid. */
__attribute__((warn_unused_result))
enum img_err vhdx_log_check(struct img *img, struct vhdx_state *st, const uint8_t *hdr);

#endif /* INSTAR_VHDX_INT_H */
