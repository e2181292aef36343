/* vmdk_spec.h: the VMDK on-disk layout (VMware "Virtual Disk Format 1.1",
 * with the zeroed-grain GTE of "Virtual Disk Format 5.0"), and the limits
 * qemu 7.2's block/vmdk.c applies to it.
 *
 * Every multi-byte field is little-endian, except the magics, which qemu
 * compares as big-endian words (so "KDMV" and "COWD" read as bytes).  A
 * sector is 512 bytes.  Offsets below are byte offsets into the structure.
 */
#ifndef INSTAR_VMDK_SPEC_H
#define INSTAR_VMDK_SPEC_H

#include <stdint.h>

#define VMDK_SECTOR 512u

/* ---- Hosted sparse extent header (VMDK 1.1 "Hosted Sparse Extents") ---- */
#define VMDK4_MAGIC 0x4B444D56u       /* "KDMV", big-endian word at byte 0 */
#define VMDK4_HDR_OFF 4u              /* qemu reads the header after the magic */
#define VMDK4_HDR_LEN 75u             /* packed size of the fields below */
/* Offsets inside the header (relative to VMDK4_HDR_OFF). */
#define VMDK4_VERSION 0u              /* u32: 1, 2 or 3; qemu refuses > 3 */
#define VMDK4_FLAGS 4u                /* u32: VMDK4_FLAG_* */
#define VMDK4_CAPACITY 8u             /* u64: virtual size in sectors */
#define VMDK4_GRAIN 16u               /* u64: sectors per grain; qemu: <= 0x200000 */
#define VMDK4_DESC_OFF 24u            /* u64: embedded descriptor, sectors */
#define VMDK4_DESC_SIZE 32u           /* u64: descriptor size, sectors (unused by qemu) */
#define VMDK4_GTES 40u                /* u32: entries per grain table; qemu: <= 512 */
#define VMDK4_RGD_OFF 44u             /* u64: redundant grain directory, sectors */
#define VMDK4_GD_OFF 52u              /* u64: grain directory, sectors, or GD_AT_END */
#define VMDK4_GRAIN_OFF 60u           /* u64: first grain, sectors (end of metadata) */
#define VMDK4_COMPRESS 73u            /* u16: 1 = deflate (streamOptimized) */

#define VMDK4_FLAG_RGD (1u << 1)       /* the redundant GD is present */
#define VMDK4_FLAG_ZERO_GRAIN (1u << 2) /* GTE 1 means "zeroed grain" (VDF 5.0) */
#define VMDK4_FLAG_MARKER (1u << 17)   /* grains carry stream markers */
#define VMDK4_COMPRESSION_DEFLATE 1u
#define VMDK4_GD_AT_END UINT64_MAX     /* streamOptimized: the GD is in the footer */

#define VMDK4_MAX_GTES 512u            /* qemu: "L2 table size too big" */
#define VMDK_MAX_GRAIN 0x200000u       /* sectors (1 GiB); qemu: "Invalid granularity" */
#define VMDK_MAX_GD_ENTRIES (32u << 20) /* qemu: "L1 size too big" */

/* ---- Stream-optimized footer (VMDK 1.1 "Stream-Optimized Compressed
 * Sparse Extents"): the last three sectors of the file are a footer marker,
 * a copy of the header (magic included) and an end-of-stream marker. ---- */
#define VMDK_FOOTER_LEN 1536u          /* qemu reads it at round_up(size, 512) - 1536 */
#define VMDK_MARKER_VAL 0u             /* u64 */
#define VMDK_MARKER_SIZE 8u            /* u32: 0 for metadata markers */
#define VMDK_MARKER_TYPE 12u           /* u32 */
#define VMDK_MARKER_EOS 0u
#define VMDK_MARKER_FOOTER 3u

/* ---- ESX Server sparse extent, "COWD" (VMDK 1.1 "ESX Server Sparse
 * Extents", qemu's VMDK3) ---- */
#define VMDK3_MAGIC 0x434F5744u       /* "COWD" */
#define VMDK3_HDR_OFF 4u
#define VMDK3_HDR_LEN 40u
#define VMDK3_DISK_SECTORS 8u         /* u32: capacity, sectors */
#define VMDK3_GRAIN 12u               /* u32: sectors per grain */
#define VMDK3_GD_OFF 16u              /* u32: grain directory, sectors */
#define VMDK3_GD_ENTRIES 20u          /* u32: grain directory entries */
#define VMDK3_GTES 4096u              /* entries per grain table (fixed) */

/* ---- Grain table entries (u32, sectors) ---- */
#define VMDK_GTE_UNALLOCATED 0u
#define VMDK_GTE_ZEROED 1u             /* only with VMDK4_FLAG_ZERO_GRAIN */

/* ---- Descriptor ("The Descriptor File") ---- */
/* qemu reads at most this much of a descriptor file (avoids unbounded
 * allocation) and NUL-terminates it. */
#define VMDK_DESC_MAX ((1u << 20) - 1)
/* qemu looks for CID, parentCID and parentFileNameHint in 20 sectors read at
 * 0x200 (sparse) or 0 (descriptor file). */
#define VMDK_DESC_WINDOW (20u * VMDK_SECTOR)
#define VMDK_SPARSE_DESC_OFF 0x200u
#define VMDK_CREATE_TYPE_MAX 128u      /* qemu's buffer, NUL included */
#define VMDK_BACKING_NAME_MAX 4095u    /* sizeof(bs->auto_backing_file) - 1 */

/* ---- qemu's block layer ---- */

#endif /* INSTAR_VMDK_SPEC_H */
