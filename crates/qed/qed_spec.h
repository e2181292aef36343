/* qed_spec.h: the QED on-disk layout, as QEMU's block/qed.h describes it.
 * All fields are little-endian.
 *
 *   header (header_size clusters) | L1 table | L2 tables, data clusters
 *
 * Tables are table_size clusters of 8-byte entries.  A guest offset splits
 * into an L1 index, an L2 index and the offset in the cluster.  L1 entries
 * are byte offsets of L2 tables (0 = unallocated); L2 entries are byte
 * offsets of clusters, 0 = unallocated, 1 = zero cluster.
 */
#ifndef INSTAR_QED_SPEC_H
#define INSTAR_QED_SPEC_H

#define QED_MAGIC 0x00444551u    /* "QED\0" */

/* Header field offsets (bytes from the start of the file). */
#define QED_HDR_MAGIC 0          /* u32 */
#define QED_HDR_CLUSTER_SIZE 4   /* u32: bytes, a power of two, 4 KiB..64 MiB */
#define QED_HDR_TABLE_SIZE 8     /* u32: clusters per table, a power of two, 1..16 */
#define QED_HDR_HEADER_SIZE 12   /* u32: clusters before the first table or data */
#define QED_HDR_FEATURES 16      /* u64: incompatible feature bits */
#define QED_HDR_COMPAT 24        /* u64: compatible feature bits (ignored) */
#define QED_HDR_AUTOCLEAR 32     /* u64: auto-clear feature bits (ignored read-only) */
#define QED_HDR_L1_OFF 40        /* u64: byte offset of the L1 table */
#define QED_HDR_IMAGE_SIZE 48    /* u64: virtual size in bytes, a multiple of 512 */
#define QED_HDR_BACKING_OFF 56   /* u32: byte offset of the backing name */
#define QED_HDR_BACKING_LEN 60   /* u32: bytes of the backing name */
#define QED_HDR_LEN 64

/* Feature bits. */
#define QED_F_BACKING_FILE 0x01u        /* a backing file is named */
#define QED_F_NEED_CHECK 0x02u          /* not closed cleanly (read-only: ignored) */
#define QED_F_BACKING_FORMAT_NO_PROBE 0x04u /* the backing file is raw */
#define QED_FEATURE_MASK 0x07u

#define QED_MIN_CLUSTER_SIZE (4u * 1024)
#define QED_MAX_CLUSTER_SIZE (64u * 1024 * 1024)
#define QED_MIN_TABLE_SIZE 1u
#define QED_MAX_TABLE_SIZE 16u
/* QEMU reads the backing name into a PATH_MAX (4096) buffer with its NUL. */
#define QED_MAX_BACKING_LEN 4095u

/* L2 entries with a meaning of their own. */
#define QED_UNALLOCATED 0u
#define QED_ZERO_CLUSTER 1u

#endif /* INSTAR_QED_SPEC_H */
