/* calc.h: pure, overflow-checked size calculators for `measure`.
 *
 * Freestanding C: no I/O, no allocation, no globals.  Linked into the measure
 * operation (guest), the host CLI (option validation) and the unit and fuzz
 * tests.  Every function returns an error instead of a wrong number.
 *
 * Formulas: docs/measure.md (qemu-img 7.2's for raw, qcow2 and luks targets;
 * this project's own, checked against qemu-img convert, for vmdk/vpc/vhdx).
 */
#ifndef INSTAR_CALC_H
#define INSTAR_CALC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors; the first four equal ABI_MEASURE_ERROR_* (shared/abi_measure.h). */
enum calc_err {
    CALC_OK = 0,
    CALC_ERR_OVERFLOW = 1,       /* a result does not fit in 64 bits */
    CALC_ERR_INVALID_OPTION = 2, /* an option value the target refuses */
    CALC_ERR_INVALID_SIZE = 3,   /* a size the target refuses */
};

/* Reasons for CALC_ERR_INVALID_OPTION/SIZE, in qemu-img's checking order, so
 * the host can print qemu-img's text for each. */
enum calc_reason {
    CALC_R_NONE = 0,
    CALC_R_Q2_CLUSTER_SIZE,     /* not a power of two in [512, 2 MiB] */
    CALC_R_Q2_EXTL2_CLUSTER,    /* extended L2 needs cluster >= 16 KiB */
    CALC_R_Q2_REFCOUNT_WIDTH,   /* not a power of two <= 64 */
    CALC_R_Q2_REFCOUNT_COMPAT,  /* width != 16 needs compat 1.1 */
    CALC_R_Q2_TOO_LARGE,        /* L1 table would exceed 32 MiB */
    CALC_R_UNIT_SIZE,           /* vmdk grain / vpc, vhdx block size invalid */
    CALC_R_SUBFORMAT,           /* unknown subformat */
    CALC_R_TARGET_SIZE,         /* size above the target format's maximum */
    CALC_R_DATA_UNITS,          /* more data units than the disk has */
    CALC_R_TARGET,              /* target format cannot be measured */
};

#define CALC_SECTOR 512u
#define CALC_Q2_DEFAULT_CLUSTER 65536u
#define CALC_Q2_MIN_CLUSTER 512u
#define CALC_Q2_MAX_CLUSTER 0x200000u
#define CALC_Q2_DEFAULT_REFCOUNT_BITS 16u
#define CALC_Q2_MAX_L1_BYTES 0x2000000u /* qemu's QCOW_MAX_L1_SIZE, 32 MiB */
#define CALC_MAX_IMAGE_SIZE 0x7FFFFFFFFFFFFFFFull /* INT64_MAX, qemu's limit */

/* What is being measured. */
struct calc_input {
    uint64_t virtual_size; /* bytes: --size N, or the source's virtual size */
    bool from_source;      /* false: --size mode (nothing is allocated) */
    /* Source mode: target units (of the size calc_unit_size() gives) that
     * contain at least one byte of data.  Ignored in --size mode. */
    uint64_t data_units;
};

struct calc_result {
    uint64_t required;
    uint64_t fully_allocated;
    uint32_t unit_size;    /* cluster/grain/block bytes; 0 for raw and luks */
    enum calc_reason reason; /* why, when the call failed */
};

/* ---- qcow2 ---------------------------------------------------------- */
enum calc_prealloc { CALC_PREALLOC_OFF, CALC_PREALLOC_METADATA, CALC_PREALLOC_FALLOC,
                     CALC_PREALLOC_FULL };

struct calc_qcow2_opts {
    uint64_t cluster_size;     /* bytes */
    uint64_t refcount_bits;    /* 1, 2, 4, ..., 64 */
    bool extended_l2;
    bool compat_v3;            /* compat=1.1 */
    enum calc_prealloc prealloc;
    bool backing_file;         /* -o backing_file set */
    uint64_t luks_header_len;  /* bytes of a LUKS header (encrypt.format=luks), or 0 */
};

/* Validation steps in qemu-img's order; each returns CALC_R_NONE or the reason. */
enum calc_reason calc_qcow2_check_cluster(uint64_t cluster_size, bool extended_l2);
enum calc_reason calc_qcow2_check_refcount(uint64_t refcount_bits, bool compat_v3);
/* The size limit for the size given by --size or -o size=. */
enum calc_reason calc_qcow2_check_size(uint64_t size, uint64_t cluster_size, bool extended_l2);

/* Bytes of refcount table + blocks needed to cover `clusters` clusters and
 * themselves.  Returns CALC_OK or CALC_ERR_OVERFLOW. */
__attribute__((warn_unused_result))
enum calc_err calc_qcow2_refcount_bytes(uint64_t clusters, uint64_t cluster_size,
                                        uint64_t refcount_bits, uint64_t *bytes);

/* Measure a qcow2 target.  In --size mode the size-limit check applies to
 * in->virtual_size; with a source the caller checks the -o size= value. */
__attribute__((warn_unused_result))
enum calc_err calc_measure_qcow2(const struct calc_qcow2_opts *o, const struct calc_input *in,
                                 struct calc_result *out);

/* One persistent dirty bitmap of a source image. */
struct calc_bitmap {
    uint64_t granularity;  /* bytes per bit: a power of two, at least 512 */
    uint32_t name_len;     /* bytes of its name */
};

/* qemu's "bitmaps size": every bitmap fully allocated over `disk_size`
 * bytes, its table, and the bitmap directory, in clusters of `cluster`. */
__attribute__((warn_unused_result))
enum calc_err calc_qcow2_bitmaps(const struct calc_bitmap *b, uint32_t n, uint64_t disk_size,
                                 uint64_t cluster, uint64_t *bytes);

/* ---- raw and luks --------------------------------------------------- */
__attribute__((warn_unused_result))
enum calc_err calc_measure_raw(const struct calc_input *in, struct calc_result *out);

/* LUKS header length for a cipher key of `key_bytes` bytes (already doubled
 * for xts): 4096-byte header area plus 8 key slots of key_bytes x 4000
 * anti-forensic stripes, each slot aligned to 4096. */
uint64_t calc_luks_header_len(uint32_t key_bytes);

/* luks target: header + the exact size, unrounded. */
__attribute__((warn_unused_result))
enum calc_err calc_measure_luks(uint64_t header_len, const struct calc_input *in,
                                struct calc_result *out);

/* ---- vmdk, vpc, vhdx (targets qemu-img cannot measure) ------------ */
/* Upper bounds of what `qemu-img convert -O FMT` writes (apparent size of
 * every file), exact wherever qemu's layout is deterministic; see
 * docs/measure.md.  `data_units` counts target units with data. */
enum calc_vmdk_sub { CALC_VMDK_SPARSE, CALC_VMDK_STREAM, CALC_VMDK_FLAT, CALC_VMDK_TWOGB_SPARSE,
                     CALC_VMDK_TWOGB_FLAT };
#define CALC_VMDK_GRAIN 65536u
#define CALC_VMDK_MAX_SPARSE 281474943156224ull /* 256 TiB - 32 MiB: 32-bit grain count */
#define CALC_VMDK_NAME_MAX 260u /* longest extent file name: NAME_MAX + "-flat" */

struct calc_vmdk_opts {
    enum calc_vmdk_sub subformat;
    uint32_t heads;        /* descriptor geometry: 16 (ide) or 255 */
    uint32_t strings_len;  /* adapter_type + hwversion + toolsversion text */
    bool backing_file;     /* with a source, every grain counts */
};

enum calc_vhd_sub { CALC_VHD_DYNAMIC, CALC_VHD_FIXED };
#define CALC_VPC_BLOCK 0x200000u
#define CALC_VPC_MAX_SECTORS 0xFF000000ull /* 2040 GiB */

struct calc_vpc_opts {
    enum calc_vhd_sub subformat;
    bool force_size;       /* no CHS rounding */
};

#define CALC_MIB 0x100000ull
#define CALC_VHDX_MAX_SIZE (64ull << 40)
#define CALC_VHDX_MAX_BLOCK (256ull << 20)

struct calc_vhdx_opts {
    enum calc_vhd_sub subformat;
    uint64_t block_size;   /* bytes, a power of two 1..256 MiB; 0 = automatic */
    uint64_t log_size;     /* bytes, a multiple of 1 MiB */
    bool block_state_zero; /* qemu's default: fixed images grow on write */
};

/* Sectors the vpc driver gives a disk of `size` bytes (CHS rounding unless
 * force_size).  Returns CALC_OK or CALC_ERR_INVALID_SIZE above 2040 GiB. */
__attribute__((warn_unused_result))
enum calc_err calc_vpc_sectors(uint64_t size, bool force_size, uint64_t *sectors);
/* The block size vhdx uses for a disk of `size` bytes. */
uint64_t calc_vhdx_block_size(const struct calc_vhdx_opts *o, uint64_t size);

__attribute__((warn_unused_result))
enum calc_err calc_measure_vmdk(const struct calc_vmdk_opts *o, const struct calc_input *in,
                                struct calc_result *out);
__attribute__((warn_unused_result))
enum calc_err calc_measure_vpc(const struct calc_vpc_opts *o, const struct calc_input *in,
                               struct calc_result *out);
__attribute__((warn_unused_result))
enum calc_err calc_measure_vhdx(const struct calc_vhdx_opts *o, const struct calc_input *in,
                                struct calc_result *out);

/* ---- data-unit tracking --------------------------------------------- */
/* Counts the distinct units of `unit` bytes that data extents touch.  Feed
 * extents in increasing, non-overlapping order; memory is O(1) whatever the
 * disk size, so fragmented sources are counted exactly. */
struct calc_tracker {
    uint64_t unit;       /* bytes, power of two or not, > 0 */
    uint64_t pos;        /* end of the last extent added */
    uint64_t next_free;  /* first unit index not yet counted */
    uint64_t count;      /* units counted so far */
    bool bad;            /* an extent went backwards or overflowed */
};

void calc_tracker_init(struct calc_tracker *t, uint64_t unit);
/* Add the data extent [offset, offset + length).  Returns CALC_OK, or
 * CALC_ERR_INVALID_SIZE if the extents are out of order or overflow. */
__attribute__((warn_unused_result))
enum calc_err calc_tracker_add(struct calc_tracker *t, uint64_t offset, uint64_t length);

/* ---- helpers -------------------------------------------------------- */
static inline bool calc_is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* *out = ceil(a / b); b > 0. */
static inline uint64_t calc_div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* *out = a rounded up to a multiple of b (b > 0); false on overflow. */
static inline bool calc_round_up(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r = a % b;

    if (r == 0) {
        *out = a;
        return true;
    }
    return !__builtin_add_overflow(a, b - r, out);
}

#endif /* INSTAR_CALC_H */
