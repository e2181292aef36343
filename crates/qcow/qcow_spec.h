/* qcow_spec.h: the qcow (version 1) on-disk layout, as QEMU's block/qcow.c
 * reads it.  All fields are big-endian.
 *
 *   header (48 bytes) | backing file name | L1 table | L2 tables, clusters
 *
 * A guest offset splits into an L1 index (the bits above cluster_bits +
 * l2_bits), an L2 index (l2_bits) and the offset in the cluster
 * (cluster_bits).  L1 entries are byte offsets of L2 tables (0 =
 * unallocated); L2 entries are byte offsets of clusters (0 = unallocated,
 * bit 63 = compressed, the compressed size in the bits below it).
 */
#ifndef INSTAR_QCOW_SPEC_H
#define INSTAR_QCOW_SPEC_H

#define QCOW_MAGIC 0x514649FBu   /* "QFI\xfb" */
#define QCOW_VERSION 1u

/* Header field offsets (bytes from the start of the file). */
#define QCOW_HDR_MAGIC 0         /* u32 */
#define QCOW_HDR_VERSION 4       /* u32: 1 */
#define QCOW_HDR_BACKING_OFF 8   /* u64: byte offset of the backing name, 0 = none */
#define QCOW_HDR_BACKING_LEN 16  /* u32: bytes of the backing name, <= 1023 */
#define QCOW_HDR_MTIME 20        /* u32: unused */
#define QCOW_HDR_SIZE 24         /* u64: virtual size in bytes, >= 2 */
#define QCOW_HDR_CLUSTER_BITS 32 /* u8: 9..16 */
#define QCOW_HDR_L2_BITS 33      /* u8: entries per L2 table, 6..13 (512 B..64 KiB) */
#define QCOW_HDR_CRYPT 36        /* u32: 0 none, 1 AES-CBC */
#define QCOW_HDR_L1_OFF 40       /* u64: byte offset of the L1 table (any alignment) */
#define QCOW_HDR_LEN 48

#define QCOW_MIN_CLUSTER_BITS 9u
#define QCOW_MAX_CLUSTER_BITS 16u
#define QCOW_MIN_L2_BITS 6u      /* 512-byte L2 tables */
#define QCOW_MAX_L2_BITS 13u     /* 64 KiB L2 tables */
#define QCOW_CRYPT_NONE 0u
#define QCOW_CRYPT_AES 1u
#define QCOW_MAX_BACKING_LEN 1023u
/* QEMU allocates the L1 table with an int size: at most INT_MAX / 8 entries. */
#define QCOW_MAX_L1_ENTRIES 268435455ull

#endif /* INSTAR_QCOW_SPEC_H */
