/* vdi_spec.h: the VirtualBox VDI layout (header version 1.1), as QEMU's
 * block/vdi.c reads it.  All fields are little-endian.
 *
 *   pre-header (text, signature, version) | header | block map | blocks
 *
 * The block map has one 32-bit entry per 1 MiB block of the disk: the
 * index of the block in the data area, or one of two markers below.
 */
#ifndef INSTAR_VDI_SPEC_H
#define INSTAR_VDI_SPEC_H

#define VDI_SIGNATURE 0xBEDA107Fu
#define VDI_VERSION_1_1 0x00010001u  /* major << 16 | minor: the only one QEMU reads */

/* Field offsets (bytes from the start of the file). */
#define VDI_HDR_TEXT 0               /* char[64]: free text */
#define VDI_HDR_SIGNATURE 64         /* u32 */
#define VDI_HDR_VERSION 68           /* u32 */
#define VDI_HDR_HEADER_SIZE 72       /* u32: unused by QEMU */
#define VDI_HDR_IMAGE_TYPE 76        /* u32: 1 dynamic, 2 static (others read as dynamic) */
#define VDI_HDR_IMAGE_FLAGS 80       /* u32: unused */
#define VDI_HDR_DESCRIPTION 84       /* char[256] */
#define VDI_HDR_OFFSET_BMAP 340      /* u32: byte offset of the block map, 512-aligned */
#define VDI_HDR_OFFSET_DATA 344      /* u32: byte offset of block 0, 512-aligned */
#define VDI_HDR_SECTOR_SIZE 360      /* u32: must be 512 */
#define VDI_HDR_DISK_SIZE 368        /* u64: virtual size in bytes (rounded up to 512) */
#define VDI_HDR_BLOCK_SIZE 376       /* u32: must be 1 MiB */
#define VDI_HDR_BLOCK_EXTRA 380      /* u32: unused */
#define VDI_HDR_BLOCKS 384           /* u32: block map entries */
#define VDI_HDR_BLOCKS_ALLOCATED 388 /* u32: unused read-only */
#define VDI_HDR_UUID_LINK 424        /* 16 bytes: must be zero */
#define VDI_HDR_UUID_PARENT 440      /* 16 bytes: must be zero */
#define VDI_HDR_LEN 512

#define VDI_TYPE_STATIC 2u
#define VDI_SECTOR_SIZE 512u
#define VDI_BLOCK_SIZE 1048576u
#define VDI_BLOCK_BITS 20u

/* Block map markers: entries below VDI_DISCARDED are allocated. */
#define VDI_UNALLOCATED 0xFFFFFFFFu  /* never written: reads as zeros */
#define VDI_DISCARDED 0xFFFFFFFEu    /* discarded: reads as zeros */

/* QEMU reads the block map in one request of at most INT_MAX bytes, rounded
 * up to a sector: (2^31 - 512) / 4 entries. */
#define VDI_BLOCKS_MAX 0x1FFFFF80u
#define VDI_DISK_SIZE_MAX ((uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE)

#endif /* INSTAR_VDI_SPEC_H */
