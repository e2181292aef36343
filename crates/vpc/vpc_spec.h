/* vpc_spec.h: the VHD layout ("Microsoft Virtual Hard Disk Image Format
 * Specification", version 1.0) and the limits qemu 7.2's block/vpc.c
 * applies to it.  Every field is big-endian; offsets are byte offsets into
 * the structure.  A sector is 512 bytes.
 */
#ifndef INSTAR_VPC_SPEC_H
#define INSTAR_VPC_SPEC_H

#include <stdint.h>

#define VPC_SECTOR 512u

/* ---- Hard disk footer (spec "Hard Disk Footer Format"): the last 512
 * bytes of every VHD, and a copy at offset 0 of dynamic and differencing
 * disks. ---- */
#define VPC_FOOTER_LEN 512u
#define VPC_COOKIE 0u                 /* 8 bytes: "conectix" */
#define VPC_DATA_OFFSET 16u           /* u64: dynamic header offset, bytes */
#define VPC_CREATOR_APP 28u           /* 4 bytes: "vpc ", "qemu", "win ", ... */
#define VPC_CURRENT_SIZE 48u          /* u64: disk size, bytes */
#define VPC_CYLINDERS 56u             /* u16 */
#define VPC_HEADS 58u                 /* u8 */
#define VPC_SECTORS_PER_TRACK 59u     /* u8 */
#define VPC_DISK_TYPE 60u             /* u32: VPC_TYPE_* */
#define VPC_CHECKSUM 64u              /* u32: ones' complement of the byte sum,
                                         this field taken as zero */

#define VPC_TYPE_FIXED 2u
#define VPC_TYPE_DYNAMIC 3u
#define VPC_TYPE_DIFFERENCING 4u      /* names a parent disk */

/* ---- Dynamic disk header (spec "Dynamic Disk Header Format"): at the
 * footer's data offset.  qemu does not check its checksum. ---- */
#define VPC_DYN_LEN 1024u
#define VPC_DYN_COOKIE 0u             /* 8 bytes: "cxsparse" */
#define VPC_DYN_TABLE_OFFSET 16u      /* u64: BAT offset, bytes */
#define VPC_DYN_MAX_ENTRIES 28u       /* u32: BAT entries (qemu: a signed int) */
#define VPC_DYN_BLOCK_SIZE 32u        /* u32: bytes, a power of two >= 512 */

/* ---- Block allocation table (spec "Block Allocation Table and Data
 * Blocks"): one u32 per block, the sector of the block's sector bitmap,
 * which the block's data follows. ---- */
#define VPC_BAT_UNUSED 0xFFFFFFFFu

/* ---- qemu's limits ---- */
#define VPC_CHS_MAX_C 65535ull
#define VPC_CHS_MAX_H 16ull
#define VPC_CHS_MAX_S 255ull
/* CHS of this size means "use current_size" (force_size images). */
#define VPC_MAX_GEOMETRY (VPC_CHS_MAX_C * VPC_CHS_MAX_H * VPC_CHS_MAX_S)
#define VPC_MAX_SECTORS 0xff000000ull  /* 2040 GiB */
#define VPC_MAX_TABLE_ENTRIES (0x7fffffff / 4) /* INT_MAX / 4 */

#endif /* INSTAR_VPC_SPEC_H */
