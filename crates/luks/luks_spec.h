/* luks_spec.h: the LUKS1 header (cryptsetup's on-disk format 1.2.1, as QEMU's
 * crypto/block-luks.c reads it).  All numbers are big-endian.
 *
 *   header (592 bytes) | key material (8 slots) | encrypted payload
 */
#ifndef INSTAR_LUKS_SPEC_H
#define INSTAR_LUKS_SPEC_H

#define LUKS_MAGIC_LEN 6              /* "LUKS\xba\xbe" */
#define LUKS_VERSION 1u

/* Header field offsets (bytes from the start of the file). */
#define LUKS_HDR_MAGIC 0              /* char[6] */
#define LUKS_HDR_VERSION 6            /* u16: 1 */
#define LUKS_HDR_CIPHER_NAME 8        /* char[32], NUL-terminated: "aes", ... */
#define LUKS_HDR_CIPHER_MODE 40       /* char[32]: "<mode>-<ivgen>[:<ivhash>]" */
#define LUKS_HDR_HASH_SPEC 72         /* char[32]: the PBKDF2 hash */
#define LUKS_HDR_PAYLOAD 104          /* u32: payload offset in 512-byte sectors */
#define LUKS_HDR_KEY_BYTES 108        /* u32: master key length in bytes */
#define LUKS_HDR_MK_DIGEST 112        /* u8[20] */
#define LUKS_HDR_MK_SALT 132          /* u8[32] */
#define LUKS_HDR_MK_ITERATIONS 164    /* u32: > 0 */
#define LUKS_HDR_UUID 168             /* char[40] */
#define LUKS_HDR_SLOTS 208            /* 8 key slots of LUKS_SLOT_LEN bytes */
#define LUKS_HDR_LEN 592
#define LUKS_STR_LEN 32

/* Key slot fields (bytes from the start of the slot). */
#define LUKS_SLOT_ACTIVE 0            /* u32: LUKS_SLOT_ENABLED or LUKS_SLOT_DISABLED */
#define LUKS_SLOT_ITERATIONS 4        /* u32: PBKDF2 iterations, > 0 when enabled */
#define LUKS_SLOT_SALT 8              /* u8[32] */
#define LUKS_SLOT_KEY_OFFSET 40       /* u32: key material offset in sectors */
#define LUKS_SLOT_STRIPES 44          /* u32: anti-forensic stripes, 4000 */
#define LUKS_SLOT_LEN 48
#define LUKS_NUM_SLOTS 8u

#define LUKS_SLOT_ENABLED 0x00AC71F3u
#define LUKS_SLOT_DISABLED 0x0000DEADu
#define LUKS_STRIPES 4000u
#define LUKS_SECTOR 512u
/* Key material starts at 4096 bytes, in slots aligned to 8 sectors. */
#define LUKS_KEY_SLOT_SECTORS 8u

#endif /* INSTAR_LUKS_SPEC_H */
