/* qcow2_int.h: internal interface of the qcow2 driver (the crates/qcow2 files).
 *
 * qcow2.c opens the image (header, validation in qemu's order), and calls
 * into qcow2_ext.c (header extensions), qcow2_snap.c (snapshot table, -l),
 * qcow2_bitmap.c (persistent bitmaps) and qcow2_map.c (L1/L2 walk, the
 * metadata-preallocation heuristic).  qcow2_util.c holds shared helpers.
 */
#ifndef INSTAR_QCOW2_INT_H
#define INSTAR_QCOW2_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "img.h"
#include "qcow2_spec.h"

/* L2 tables are read in batches: up to Q2_BATCH_BYTES / 2 of tables for up
 * to Q2_BATCH_L1 consecutive L1 entries, contiguous tables in one request. */
#define Q2_BATCH_BYTES (4u << 20)
#define Q2_BATCH_L1 8192u
#define Q2_BATCH_NONE 0xFFFFFFFFu
/* Reading a gap between two tables is cheaper than a second request up to
 * this many bytes (and never more than the table bytes already in the span,
 * so gaps fit the other half of the buffer). */
#define Q2_BATCH_GAP (64u << 10)
/* The header extensions are read up to this boundary first (qcow2_ext.c). */
#define Q2_EXT_FIRST_PAGE 4096u

/* The L2 tables of L1 entries [first, first + count). */
struct q2_batch {
    uint64_t first;           /* first L1 index covered */
    uint32_t count;           /* L1 indexes covered; 0 = empty */
    uint64_t *l1e;            /* [Q2_BATCH_L1] raw L1 entries */
    uint32_t *slot;           /* [Q2_BATCH_L1] table slot in buf, or Q2_BATCH_NONE */
    uint64_t *keys;           /* [Q2_BATCH_L1] sort scratch */
    uint8_t *buf;             /* Q2_BATCH_BYTES: table slots of one cluster each */
};

/* A snapshot found in the table (qcow2_snap.c). */
struct q2_snap {
    bool found;
    uint32_t index;           /* position in the snapshot table */
    uint64_t l1_offset;       /* bytes */
    uint32_t l1_size;         /* entries */
};

struct q2 {
    /* Header (qcow2_spec.h Q2_HDR_*), after the version defaults. */
    uint32_t version;
    uint32_t cluster_bits;
    uint64_t cluster_size;      /* bytes */
    uint64_t size;              /* the header's virtual size field, bytes */
    uint32_t crypt_method;
    uint32_t l1_size;           /* active L1 entries */
    uint64_t l1_offset;
    uint64_t reftable_offset;
    uint32_t reftable_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompat;
    uint64_t autoclear;
    uint32_t refcount_order;    /* refcount width = 1 << order bits */
    uint32_t header_length;     /* bytes; extensions start here */
    uint64_t backing_offset;
    uint32_t backing_size;
    uint64_t ext_end;           /* extensions end: backing name or cluster end */
    bool extl2;                 /* extended L2 entries */
    uint32_t l2_bits;           /* log2(entries per L2 table) */
    uint32_t sc_bits;           /* log2(subcluster bytes); cluster_bits without ext L2 */

    /* Header extensions (qcow2_ext.c). */
    bool crypto_ext;            /* a valid full disk encryption header pointer */
    char backing_fmt[Q2_BACKING_FORMAT_MAX]; /* backing format extension, or "" */
    bool data_file_ext;         /* an external data file name extension */
    bool data_file;             /* the image keeps its clusters in one */
    const uint8_t *data_file_name; /* its bytes (in the extension area) */
    uint32_t data_file_len;
    uint32_t nb_bitmaps;        /* from a consistent bitmaps extension */
    uint64_t bm_dir_offset;
    uint64_t bm_dir_size;

    /* Snapshots matching the -l options (qcow2_snap.c). */
    struct q2_snap sn_id;       /* first with id == opts.snapshot_id or opts.snapshot */
    struct q2_snap sn_name;     /* first with name == opts.snapshot_name or opts.snapshot */
    struct q2_snap sn_both;     /* first with both, when both options are given */

    /* The L1 table map() walks: the active one or a snapshot's. */
    uint64_t map_l1_offset;
    uint32_t map_l1_size;
    uint64_t l1_visit;          /* L1 entries covering [0, virtual size) */

    /* map() state (qcow2_map.c). */
    struct q2_batch batch;
    uint64_t l1_held;           /* L1 entries the open-time check left raw in
                                   batch.l1e for the first batch (0: none) */
    bool heur_done;             /* the preallocation heuristic has run */
    bool prealloc;              /* ... and fired: check data against host holes */
    bool corrupt_signaled;      /* qemu printed a corruption event already */
    char corrupt_msg[IMG_ERR_LEN]; /* ... this one */
    bool hext_valid;
    struct abi_extent hext;     /* last host extent, from hext.offset */
};

/* ---- qcow2_util.c ---------------------------------------------------------- */
/* Sort `n` keys ascending (heap sort: no recursion, O(n log n)). */
void q2_sort_u64(uint64_t *keys, uint64_t n);
/* qemu's "%#" PRIx64: "0x1f", but "0" for zero.  `buf` holds 20 bytes. */
const char *q2_hex(char *buf, uint64_t v);
/* The driver's allocator: zeroed arena memory, or NULL. */
void *q2_alloc(struct img *img, uint64_t size);
/* Record a corruption event as qemu's read-only qcow2_signal_corruption
 * prints it (only the first one is printed). */
void q2_signal(struct q2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fail a block-status request after a corruption event: qemu-img's first
 * line of output is the first event's report (then "Unable to get block
 * status: Input/output error"). */
enum img_err q2_corrupt(struct img *img, struct q2 *q, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* qemu's qcow2_validate_table: `entries` of `entry_len` bytes at `off`. */
enum q2_table { Q2_TABLE_OK, Q2_TABLE_TOO_LARGE, Q2_TABLE_BAD_OFFSET };
enum q2_table q2_table_check(const struct q2 *q, uint64_t off, uint64_t entries,
                             uint64_t entry_len, uint64_t max_bytes);
/* True when [off, off + len) lies inside the image file. */
bool q2_in_file(const struct img *img, uint64_t off, uint64_t len);
/* True when qemu's block layer refuses a read of [off, off + len) (EIO)
 * rather than reading zeros past the end of the file. */
bool q2_past_max(uint64_t off, uint64_t len);

/* ---- qcow2_ext.c ----------------------------------------------------------- */
/* The header extensions [header_length, ext_end), qemu's second pass:
 * validate and apply each one. */
__attribute__((warn_unused_result))
enum img_err q2_ext_read(struct img *img, struct q2 *q);
/* qemu's report for unknown incompatible bits: names from the feature name
 * table found by a first, error-tolerant pass over the extensions. */
__attribute__((warn_unused_result))
enum img_err q2_ext_unsupported(struct img *img, struct q2 *q, uint64_t mask);

/* ---- qcow2_snap.c ---------------------------------------------------------- */
/* Read and validate the snapshot table (qemu's qcow2_read_snapshots) and
 * note the snapshots the -l options name. */
__attribute__((warn_unused_result))
enum img_err q2_snap_read(struct img *img, struct q2 *q);
/* After open: switch map() to the snapshot -l names, with the rules of
 * qemu's bdrv_snapshot_load_tmp(_by_id_or_name). */
__attribute__((warn_unused_result))
enum img_err q2_snap_load(struct img *img, struct q2 *q);

/* ---- qcow2_bitmap.c -------------------------------------------------------- */
/* Load the bitmap directory as qemu does on a read-only open and fill
 * img->n_bitmaps / img->bitmaps. */
__attribute__((warn_unused_result))
enum img_err q2_bitmaps_load(struct img *img, struct q2 *q);

/* ---- qcow2_map.c ----------------------------------------------------------- */
/* Check the L2 tables the walk will use: inside the file, none twice. */
__attribute__((warn_unused_result))
enum img_err q2_l1_check(struct img *img, struct q2 *q);
enum img_err q2_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out);

#endif /* INSTAR_QCOW2_INT_H */
