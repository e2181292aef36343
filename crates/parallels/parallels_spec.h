/* parallels_spec.h: the Parallels expandable image layout (QEMU's
 * docs/interop/parallels.txt, block/parallels.h, block/parallels-ext.c).
 * All fields are little-endian.
 *
 *   header (64 bytes) | BAT (one u32 per cluster) | data clusters
 *
 * A cluster is `tracks` sectors.  A BAT entry of 0 is unallocated; else it
 * locates the cluster: in sectors ("WithoutFreeSpace") or in clusters
 * ("WithouFreSpacExt").  ext_off optionally names a format extension
 * cluster (dirty bitmaps), which QEMU 7.2 reads on read-only opens.
 */
#ifndef INSTAR_PARALLELS_SPEC_H
#define INSTAR_PARALLELS_SPEC_H

#define PRL_MAGIC "WithoutFreeSpace"     /* BAT entries in sectors */
#define PRL_MAGIC2 "WithouFreSpacExt"    /* BAT entries in clusters, 64-bit size */
#define PRL_VERSION 2u
#define PRL_INUSE_MAGIC 0x746F6E59u      /* "Ynot": not closed (ignored read-only) */

/* Header field offsets (bytes from the start of the file). */
#define PRL_HDR_MAGIC 0          /* char[16] */
#define PRL_HDR_VERSION 16       /* u32: 2 */
#define PRL_HDR_HEADS 20         /* u32: geometry, unused */
#define PRL_HDR_CYLINDERS 24     /* u32: geometry, unused */
#define PRL_HDR_TRACKS 28        /* u32: sectors per cluster, 1..INT32_MAX / 513 */
#define PRL_HDR_BAT_ENTRIES 32   /* u32: BAT entries, <= INT_MAX / 4 */
#define PRL_HDR_NB_SECTORS 36    /* u64: virtual size in sectors (low 32 bits, old magic) */
#define PRL_HDR_INUSE 44         /* u32 */
#define PRL_HDR_DATA_OFF 48      /* u32: first data sector (0: right after the BAT) */
#define PRL_HDR_FLAGS 52         /* u32: unused */
#define PRL_HDR_EXT_OFF 56       /* u64: format extension cluster, in sectors (0: none) */
#define PRL_HDR_LEN 64

#define PRL_MAX_TRACKS (0x7FFFFFFFu / 513)
#define PRL_MAX_BAT_ENTRIES (0x7FFFFFFFu / 4)

/* The format extension cluster (block/parallels-ext.c). */
#define PRL_EXT_MAGIC 0xAB234CEF23DCEA87ull
#define PRL_EXT_HDR_LEN 24       /* u64 magic, 16-byte MD5 of the rest of the cluster */
#define PRL_FEAT_END 0x0ull      /* end of the feature list */
#define PRL_FEAT_BITMAP 0x20385FAE252CB34Aull
#define PRL_FEAT_HDR_LEN 24      /* u64 magic, u64 flags, u32 data_size, u32 unused */
#define PRL_BITMAP_HDR_LEN 32    /* u64 size (sectors), id[16], u32 granularity
                                  * (sectors), u32 l1_size; then l1_size u64 */

#endif /* INSTAR_PARALLELS_SPEC_H */
