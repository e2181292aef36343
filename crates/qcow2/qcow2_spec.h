/* qcow2_spec.h: the qcow2 on-disk format (QEMU docs/interop/qcow2.txt) and
 * qemu 7.2's implementation limits, as constants.
 *
 * All numbers on disk are big-endian.  Offsets below are byte offsets inside
 * the structure named in the prefix; each comment gives the spec section and
 * the constraint qemu enforces on a read-only open.
 */
#ifndef INSTAR_QCOW2_SPEC_H
#define INSTAR_QCOW2_SPEC_H

#include <stdint.h>

/* ---- Header (spec "Header") ------------------------------------------------ */
#define Q2_MAGIC 0x514649FBu         /* "QFI\xfb" */
#define Q2_HDR_MAGIC 0               /* u32 */
#define Q2_HDR_VERSION 4             /* u32: 2 or 3 */
#define Q2_HDR_BACKING_OFFSET 8      /* u64: 0 = no backing file; <= cluster size */
#define Q2_HDR_BACKING_SIZE 16       /* u32: name bytes, <= 1023 */
#define Q2_HDR_CLUSTER_BITS 20       /* u32: 9..21 (qemu) */
#define Q2_HDR_SIZE 24               /* u64: virtual size, bytes */
#define Q2_HDR_CRYPT_METHOD 32       /* u32: 0 none, 1 AES, 2 LUKS */
#define Q2_HDR_L1_SIZE 36            /* u32: active L1 entries */
#define Q2_HDR_L1_OFFSET 40          /* u64: cluster aligned */
#define Q2_HDR_REFTABLE_OFFSET 48    /* u64: cluster aligned */
#define Q2_HDR_REFTABLE_CLUSTERS 56  /* u32: > 0 */
#define Q2_HDR_NB_SNAPSHOTS 60       /* u32 */
#define Q2_HDR_SNAPSHOTS_OFFSET 64   /* u64: cluster aligned */
#define Q2_HDR_V2_LENGTH 72          /* a v2 header ends here */
#define Q2_HDR_INCOMPAT 72           /* u64 (v3) */
#define Q2_HDR_COMPAT 80             /* u64 (v3) */
#define Q2_HDR_AUTOCLEAR 88          /* u64 (v3) */
#define Q2_HDR_REFCOUNT_ORDER 96     /* u32 (v3): <= 6; 4 for v2 */
#define Q2_HDR_HEADER_LENGTH 100     /* u32 (v3): >= 104; 72 for v2 */
#define Q2_HDR_V3_MIN_LENGTH 104     /* the v3 fields end here */
#define Q2_HDR_COMPRESSION_TYPE 104  /* u8, present when header_length > 104 */
#define Q2_HDR_READ_LEN 112          /* qemu reads sizeof(QCowHeader) = 112 bytes */

#define Q2_MIN_CLUSTER_BITS 9u
#define Q2_MAX_CLUSTER_BITS 21u      /* qemu's implementation limit (2 MiB) */

/* Incompatible feature bits (spec "Header", bytes 72-79). */
#define Q2_INCOMPAT_DIRTY (1ull << 0)       /* refcounts may be stale: fine read-only */
#define Q2_INCOMPAT_CORRUPT (1ull << 1)     /* refused read/write only */
#define Q2_INCOMPAT_DATA_FILE (1ull << 2)   /* guest data lives in another file */
#define Q2_INCOMPAT_COMPRESSION (1ull << 3) /* compression_type is not zlib */
#define Q2_INCOMPAT_EXTL2 (1ull << 4)       /* extended L2 entries (subclusters) */
#define Q2_INCOMPAT_MASK 0x1full            /* the bits qemu 7.2 knows */

/* Compatible and autoclear bits (bytes 80-95). */
#define Q2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
#define Q2_AUTOCLEAR_BITMAPS (1ull << 0)    /* the bitmaps extension is consistent */
#define Q2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

#define Q2_COMPRESSION_ZLIB 0u
#define Q2_COMPRESSION_ZSTD 1u              /* built into Debian's qemu 7.2 */

#define Q2_CRYPT_NONE 0u
#define Q2_CRYPT_AES 1u
#define Q2_CRYPT_LUKS 2u

/* ---- Header extensions (spec "Header extensions") ---------------------------- */
#define Q2_EXT_END 0x00000000u
#define Q2_EXT_BACKING_FORMAT 0xE2792ACAu   /* string, len < 16 (qemu's buffer) */
#define Q2_EXT_FEATURE_TABLE 0x6803F857u    /* 48-byte entries */
#define Q2_EXT_BITMAPS 0x23852875u          /* 24 bytes */
#define Q2_EXT_CRYPTO_HEADER 0x0537BE77u    /* 16 bytes: offset, length */
#define Q2_EXT_DATA_FILE 0x44415441u        /* string */
#define Q2_EXT_HDR_LEN 8                    /* u32 type, u32 length */
#define Q2_BACKING_FORMAT_MAX 16u           /* sizeof(bs->backing_format) */
#define Q2_BACKING_NAME_MAX 1023u           /* spec; qemu also caps at cluster end */
#define Q2_CRYPTO_EXT_LEN 16u

/* Feature name table entry (spec "Feature name table"). */
#define Q2_FEAT_ENTRY_LEN 48
#define Q2_FEAT_TYPE 0                      /* u8: 0 incompatible, 1 compatible, 2 autoclear */
#define Q2_FEAT_BIT 1                       /* u8: bit number */
#define Q2_FEAT_NAME 2                      /* 46 bytes, NUL padded */
#define Q2_FEAT_NAME_LEN 46

/* Bitmaps extension (spec "Bitmaps extension"). */
#define Q2_BMEXT_LEN 24u
#define Q2_BMEXT_NB 0                       /* u32: 1..65535 */
#define Q2_BMEXT_RESERVED 4                 /* u32: 0 */
#define Q2_BMEXT_DIR_SIZE 8                 /* u64: <= 64 MiB */
#define Q2_BMEXT_DIR_OFFSET 16              /* u64: cluster aligned */
#define Q2_MAX_BITMAPS 65535u               /* QCOW2_MAX_BITMAPS */
#define Q2_MAX_BITMAP_DIR_SIZE (1024u * Q2_MAX_BITMAPS) /* QCOW2_MAX_BITMAP_DIRECTORY_SIZE */

/* Bitmap directory entry (spec "Bitmap directory"). */
#define Q2_BMDIR_TABLE_OFFSET 0             /* u64: cluster aligned, non-zero */
#define Q2_BMDIR_TABLE_SIZE 8               /* u32: entries, 1..BME_MAX_TABLE_SIZE */
#define Q2_BMDIR_FLAGS 12                   /* u32: bit 0 in_use, bit 1 auto */
#define Q2_BMDIR_TYPE 16                    /* u8: 1 = dirty tracking */
#define Q2_BMDIR_GRAN_BITS 17               /* u8: 9..31 */
#define Q2_BMDIR_NAME_SIZE 18               /* u16: <= 1023 */
#define Q2_BMDIR_EXTRA_SIZE 20              /* u32: qemu supports only 0 */
#define Q2_BMDIR_HDR_LEN 24
#define Q2_BME_MAX_TABLE_SIZE 0x8000000u
#define Q2_BME_MAX_PHYS_SIZE 0x20000000u    /* bytes of bitmap data */
#define Q2_BME_MIN_GRAN_BITS 9u
#define Q2_BME_MAX_GRAN_BITS 31u
#define Q2_BME_MAX_NAME 1023u
#define Q2_BME_FLAG_IN_USE 1u
#define Q2_BME_RESERVED_FLAGS 0xFFFFFFFCu
#define Q2_BME_TYPE_DIRTY 1u
#define Q2_BME_ENTRY_RESERVED 0xFF000000000001FEull /* bitmap table entry */
#define Q2_BME_ENTRY_OFFSET 0x00FFFFFFFFFFFE00ull
#define Q2_BME_ENTRY_ALL_ONES 1ull

/* ---- Refcounts (spec "Host cluster management") -------------------------------- */
#define Q2_MAX_REFCOUNT_ORDER 6u            /* 64-bit refcounts */
#define Q2_MAX_REFTABLE_BYTES (8u << 20)    /* QCOW_MAX_REFTABLE_SIZE */
#define Q2_REFT_OFFSET_MASK 0xFFFFFFFFFFFFFE00ull

/* ---- L1 and L2 tables (spec "Cluster mapping") ---------------------------------- */
#define Q2_MAX_L1_BYTES (32u << 20)         /* QCOW_MAX_L1_SIZE */
#define Q2_L1E_OFFSET_MASK 0x00FFFFFFFFFFFE00ull
#define Q2_L2E_OFFSET_MASK 0x00FFFFFFFFFFFE00ull
#define Q2_OFLAG_COPIED (1ull << 63)
#define Q2_OFLAG_COMPRESSED (1ull << 62)
#define Q2_OFLAG_ZERO 1ull                  /* standard descriptor bit 0 (v3, no ext L2) */
#define Q2_EXTL2_SUBCLUSTERS 32u            /* spec "Extended L2 Entries" */
#define Q2_SUB_ALLOC_MASK 0xFFFFFFFFull     /* bitmap bits 0-31: allocated */

/* ---- Snapshots (spec "Snapshots") -------------------------------------------------- */
#define Q2_SN_L1_OFFSET 0                   /* u64 */
#define Q2_SN_L1_SIZE 8                     /* u32 */
#define Q2_SN_ID_SIZE 12                    /* u16 */
#define Q2_SN_NAME_SIZE 14                  /* u16 */
#define Q2_SN_EXTRA_SIZE 36                 /* u32: <= 1024 (qemu) */
#define Q2_SN_HDR_LEN 40                    /* sizeof(QCowSnapshotHeader) */
#define Q2_MAX_SNAPSHOTS 65536u             /* QCOW_MAX_SNAPSHOTS */
#define Q2_MAX_SNAPSHOT_EXTRA 1024u         /* QCOW_MAX_SNAPSHOT_EXTRA_DATA */
#define Q2_MAX_SNAPSHOTS_SIZE (64u << 20)   /* QCOW_MAX_SNAPSHOTS_SIZE */

#endif /* INSTAR_QCOW2_SPEC_H */
