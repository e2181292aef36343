/* img.h: the interface between the measure operation and the image format
 * drivers (crates/<fmt>/).
 *
 * A driver parses one image format from untrusted bytes.  It reaches the
 * image only through struct img_io (reads, the host file's data/hole map and
 * allocated size), allocates only from a bounded arena, keeps no globals and
 * never prints: on failure it fills img->err with qemu-img's message and
 * returns an error.  Every field read from the image is range-checked before
 * use; work and memory are proportional to the metadata actually present,
 * never to the virtual size.  Drivers are pure C, freestanding-safe, and are
 * built both for the guest and for the host tests and fuzzers.
 *
 * The operation uses a driver in three steps:
 *   1. probe(first bytes) -> score, as qemu's probe functions score;
 *   2. open(img)          -> validate the headers, set img->virtual_size;
 *   3. map(img, off, len) -> repeatedly, from 0 to the virtual size: what
 *      the image holds at `off` (data, zero or unallocated) and for how long.
 */
#ifndef INSTAR_IMG_H
#define INSTAR_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi_format.h"
#include "abi_vm.h"
#include "calc.h"

/* Result of every driver call; details are in img->err. */
enum img_err {
    IMG_OK = 0,
    IMG_ERR_OPEN,        /* not this format / corrupt / unsupported: qemu's "Could not open" */
    IMG_ERR_PLAIN,       /* an error qemu-img prints without the "Could not open" prefix */
    IMG_ERR_IO,          /* a read failed or came back short */
    IMG_ERR_NOMEM,       /* the arena is exhausted */
    IMG_ERR_UNSUPPORTED, /* valid, but beyond what instar supports (backing files, ...) */
    IMG_ERR_OPEN_ERRNO,  /* a bare errno text qemu prints after naming the file:
                            "Could not open 'ARG': Could not open 'FILE': <text>" */
};

/* The image file, as the host serves it (device 0). */
struct img_io {
    void *ctx;
    uint64_t size;       /* file size in bytes */
    uint64_t allocated;  /* bytes the host file occupies (st_blocks * 512) */
    /* Read up to `len` bytes at `off`; returns bytes read (short only at
     * EOF) or a negative error. */
    int64_t (*read)(void *ctx, uint64_t off, uint64_t len, void *buf);
    /* The host file's extent containing `off`: 1 with *out filled, 0 at or
     * past EOF, negative on error (shared/abi_vm.h's struct abi_extent). */
    int32_t (*extent)(void *ctx, uint64_t off, struct abi_extent *out);
};

/* A bump allocator over the operation's scratch memory.  Never freed during
 * one open image; img_alloc returns zeroed, 64-byte aligned memory. */
struct img_arena {
    uint8_t *base;
    uint64_t size;
    uint64_t used;
    uint64_t clean;   /* memory from here on is known to be zero */
};

/* `zeroed`: the memory is known to be zero-filled (a fresh guest's scratch,
 * which the CallTable promises), so allocations need not clear it -- on a
 * kvm_pvm host every first touch of a guest page costs a fault. */
void img_arena_init(struct img_arena *a, void *base, uint64_t size, bool zeroed);
/* NULL when `size` bytes do not fit. */
void *img_alloc(struct img_arena *a, uint64_t size);

/* What the image holds over a virtual range. */
enum img_status {
    IMG_UNALLOC = 0, /* nothing here (falls through to a backing file, if any) */
    IMG_ZERO = 1,    /* reads as zero and is recorded so (zero clusters, ...) */
    IMG_DATA = 2,    /* allocated data: counts for `required` */
};

struct img_map {
    uint64_t length;        /* > 0 and <= the length asked for */
    enum img_status status;
};

#define IMG_MAX_BITMAPS 65535u
#define IMG_PROBE_LEN 2048u /* qemu's BLOCK_PROBE_BUF_SIZE */
#define IMG_ERR_LEN 256u
#define IMG_FMT_LEN 16u  /* qemu's bs->backing_format buffer */
/* Longest backing file name followed: the host's message string limit. */
#define IMG_NAME_MAX 511u
/* Most extent files one image may name. */
#define IMG_MAX_FILES 64u

struct img_driver;

/* Options of the command line that reach the driver. */
struct img_opts {
    const char *snapshot_id;     /* -l snapshot.id=, or NULL */
    const char *snapshot_name;   /* -l snapshot.name=, or NULL */
    const char *snapshot;        /* -l NAME (an id or a name), or NULL */
    const char *key_secret;      /* key-secret / encrypt.key-secret given, or NULL */
};

/* One open image. */
struct img {
    const struct img_driver *drv;
    struct img_io *io;
    struct img_arena *arena;
    struct img_opts opts;
    void *state;                 /* the driver's, from the arena */

    /* Set by open(). */
    uint64_t virtual_size;       /* bytes, as qemu-img info reports it (a multiple of 512) */
    bool has_backing;            /* names a backing file */
    const char *backing;         /* its name (NUL-terminated, in the arena), or NULL
                                    when it cannot be followed (too long, or a
                                    format whose parent instar does not follow) */
    char backing_fmt[IMG_FMT_LEN]; /* the format the image records for it; "" = probe */
    const char *data_file;       /* an external data file the image needs (qcow2), its
                                    name as recorded (in the arena), or NULL */
    struct img_io *data_io;      /* that file, set by the caller after open() and
                                    before map(); NULL: the image file itself */
    uint32_t n_files;            /* extent files a descriptor names (vmdk), in order */
    const char **file_names;     /* their names as recorded (in the arena) */
    struct img_io **file_io;     /* set by the caller before open_files() */
    bool supports_bitmaps;       /* qcow2 v3: measure reports a bitmaps figure */
    uint32_t n_bitmaps;          /* persistent bitmaps (qcow2 v3), for "bitmaps size" */
    struct calc_bitmap *bitmaps; /* n_bitmaps entries, in the arena */

    /* Set on failure. */
    char err[IMG_ERR_LEN];
    /* A line qemu prints before that error, if any (img_note()). */
    char note[IMG_ERR_LEN];
    bool note_raw;               /* printed without the program name */
};

struct img_driver {
    const char *name;            /* qemu's driver name ("qcow2", "vpc", ...) */
    uint32_t abi_fmt;            /* ABI_FMT_* */
    /* qemu's probe score (0..100) for the first `len` bytes of the file
     * (len <= IMG_PROBE_LEN); NULL never matches. */
    int (*probe)(const uint8_t *buf, size_t len);
    enum img_err (*open)(struct img *img);
    /* When open() named extent files (n_files > 0): open them, once the
     * caller has set file_io[]; sets the virtual size.  NULL otherwise. */
    enum img_err (*open_files)(struct img *img);
    /* Describe [off, off + max) from its start: how much of it has one
     * status.  Called with 0 <= off < virtual_size and off + max <=
     * virtual_size, increasing `off` by the returned length each time. */
    enum img_err (*map)(struct img *img, uint64_t off, uint64_t max, struct img_map *out);
};

/* Set img->err from a format (rt_format syntax) and return `kind`. */
enum img_err img_fail(struct img *img, enum img_err kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the backing file name `name` (`len` bytes, cut at the first NUL as
 * qemu reads it into a C string) and its recorded format `fmt` (NULL or ""
 * to probe).  An empty name is no backing file.  A name longer than
 * IMG_NAME_MAX sets has_backing but leaves backing NULL: it cannot be
 * followed (the host could not be told it). */
enum img_err img_set_backing(struct img *img, const uint8_t *name, size_t len, const char *fmt);

/* Set the line qemu prints before the error that follows (img_fail()):
 * through error_report() ("<prog>: " first), or, when `raw`, as it is. */
void img_note(struct img *img, bool raw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read exactly `len` bytes at `off`; a short read is IMG_ERR_IO with
 * qemu's message "Could not read ...". */
__attribute__((warn_unused_result))
enum img_err img_read(struct img *img, uint64_t off, uint64_t len, void *buf);

/* img_read(), with bytes past the end of the file read as zeros, as qemu's
 * block layer reads them. */
__attribute__((warn_unused_result))
enum img_err img_read_zf(struct img *img, uint64_t off, uint64_t len, void *buf);

/* A table of `entries` entries of `esize` bytes (4 or 8, big- or
 * little-endian) at file offset `off`, read through a window of `win_bytes`
 * as a walk advances: the L1 tables of qcow and qed, qed's L2 tables, the
 * block maps of vdi and parallels. */
struct img_table {
    uint64_t off;        /* byte offset of entry 0 in the file */
    uint64_t entries;
    uint32_t esize;      /* 4 or 8 */
    bool big_endian;
    uint8_t *win;        /* win_bytes, from the arena */
    uint64_t win_bytes;
    uint64_t first;      /* index of the first entry in win */
    uint64_t count;      /* entries held in win (0: none yet) */
};

/* Entry `i` (< entries) of `t`, reading the window from it on when it is
 * not held (zeros past the end of the file). */
__attribute__((warn_unused_result))
enum img_err img_table_entry(struct img *img, struct img_table *t, uint64_t i, uint64_t *out);

/* The first unit of `unit` bytes (4 or 8) in [p, end) that is not zero, or
 * `end` ((end - p) a multiple of `unit`): a cache line per step, then unit
 * by unit.  Sparse tables are mostly such runs. */
const uint8_t *img_skip_zero_units(const uint8_t *p, const uint8_t *end, uint32_t unit);

/* The first index in [i, last) (last <= entries) whose entry is not zero,
 * or `last`: runs of empty entries (unallocated in most formats) are
 * skipped a cache line at a time, window by window. */
__attribute__((warn_unused_result))
enum img_err img_table_skip_zeros(struct img *img, struct img_table *t, uint64_t i,
                                  uint64_t last, uint64_t *out);

/* ---- qemu's block layer ----------------------------------------------------
 * Its limits (include/block/block_int-common.h) and checks, which decide
 * qemu's errors before any driver code runs. */
#define IMG_QEMU_MAX_LENGTH 0x7FFFFFFFC0000000ull /* BDRV_MAX_LENGTH */
#define IMG_QEMU_MAX_REQUEST 0x7FFFFE00ull        /* BDRV_REQUEST_MAX_BYTES */

/* bdrv_check_request(): false means qemu fails the read with EIO. */
static inline bool img_qemu_range_ok(uint64_t off, uint64_t len)
{
    return off <= IMG_QEMU_MAX_LENGTH && len <= IMG_QEMU_MAX_LENGTH - off;
}

/* bdrv_pread() of one buffer (bdrv_check_request32): at most
 * IMG_QEMU_MAX_REQUEST bytes as well. */
static inline bool img_qemu_request_ok(uint64_t off, uint64_t len)
{
    return len <= IMG_QEMU_MAX_REQUEST && img_qemu_range_ok(off, len);
}

/* The block layer's checks of the sector count a driver opened with:
 * bdrv_refresh_total_sectors() multiplies it by 512 in 64 unsigned bits,
 * wrapping, and refuses more than IMG_QEMU_MAX_LENGTH ("Could not refresh
 * total sector count: File too large", an open error); counts that wrap
 * below the limit open, and qemu-img measure then fails to get the length
 * (bdrv_getlength()).  IMG_OK when both pass. */
enum img_err img_check_sectors(struct img *img, uint64_t sectors);
/* Would bdrv_getlength() fail for this count (negative, or too large to
 * multiply by 512)? */
bool img_length_bad(int64_t sectors);
/* bdrv_getlength()'s failure as "<what>: <strerror>": EFBIG, or the negated
 * count itself truncated to an int (glibc's text). */
enum img_err img_length_error(struct img *img, enum img_err kind, const char *what,
                              int64_t sectors);

/* Does [off, off + len) lie inside the file?  Tables qemu would read past
 * the end of the file (as zeros) are refused with this (security.md T29). */
static inline bool img_in_file(const struct img *img, uint64_t off, uint64_t len)
{
    return off <= img->io->size && len <= img->io->size - off;
}

/* Big- and little-endian loads from untrusted buffers. */
static inline uint16_t img_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t img_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t img_be64(const uint8_t *p)
{
    return (uint64_t)img_be32(p) << 32 | img_be32(p + 4);
}
static inline uint16_t img_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t img_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t img_le64(const uint8_t *p)
{
    return (uint64_t)img_le32(p) | (uint64_t)img_le32(p + 4) << 32;
}

/* ---- the drivers (crates/<fmt>/) ----------------------------------------- */
extern const struct img_driver img_driver_raw;
extern const struct img_driver img_driver_qcow2;
extern const struct img_driver img_driver_qcow;
extern const struct img_driver img_driver_vmdk;
extern const struct img_driver img_driver_vpc;
extern const struct img_driver img_driver_vhdx;
extern const struct img_driver img_driver_qed;
extern const struct img_driver img_driver_vdi;
extern const struct img_driver img_driver_parallels;
extern const struct img_driver img_driver_luks;

/* All drivers, in probe order; NULL-terminated. */
extern const struct img_driver *const img_drivers[];

/* The driver called `name`, or NULL. */
const struct img_driver *img_driver_by_name(const char *name);
/* The driver qemu's probing would pick for these first bytes (raw when no
 * format scores above raw).  *other is set to the name of a format qemu
 * knows but instar does not parse (bochs, cloop), else NULL. */
const struct img_driver *img_probe(const uint8_t *buf, size_t len, const char **other);

#endif /* INSTAR_IMG_H */
