/* abi_measure.h: the measure operation's config and result.
 *
 * MeasureConfig is written by the host to ABI_OPERATION_CONFIG_ADDR before
 * the guest starts; MeasureResult is built by the operation and handed to
 * CallTable.send_measure_result, which encodes it as a MeasureResultMessage.
 * Layouts, magics, flag bits and error codes are fixed by the design
 * (measure-phase3.md); `sector_size` is explicit at offset 12.
 */
#ifndef INSTAR_ABI_MEASURE_H
#define INSTAR_ABI_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#define ABI_MEASURE_CONFIG_MAGIC 0x4D454153u /* "MEAS" */
#define ABI_MEASURE_RESULT_MAGIC 0x4D524553u /* "MRES" */

/* MeasureConfig.flags */
#define ABI_MEASURE_FLAG_EXTENDED_L2 (1u << 0)    /* qcow2: 16-byte L2 entries */
#define ABI_MEASURE_FLAG_LAZY_REFCOUNTS (1u << 1) /* accepted, no size effect */
#define ABI_MEASURE_FLAG_COMPAT_V3 (1u << 2)      /* qcow2 compat 1.1 (else 0.10) */
#define ABI_MEASURE_FLAG_COMPRESS (1u << 3)       /* accepted, no size effect */
#define ABI_MEASURE_PREALLOC_MASK (3u << 4)
#define ABI_MEASURE_PREALLOC_OFF (0u << 4)
#define ABI_MEASURE_PREALLOC_METADATA (1u << 4)
#define ABI_MEASURE_PREALLOC_FALLOC (2u << 4)
#define ABI_MEASURE_PREALLOC_FULL (3u << 4)
/* Extensions of this project (bits the design leaves free): */
#define ABI_MEASURE_FLAG_SIZE_MODE (1u << 6)  /* --size given: virtual_size_override
                                                 is the size, even when it is 0 */
#define ABI_MEASURE_FLAG_BACKING (1u << 7)    /* -o backing_file set: with a source,
                                                 every cluster counts as written */
#define ABI_MEASURE_FLAG_VERBOSE (1u << 31)

/* MeasureConfig.vmdk_subformat (3 and 4 extend the design's list) */
#define ABI_VMDK_MONOLITHIC_SPARSE 0u
#define ABI_VMDK_STREAM_OPTIMIZED 1u
#define ABI_VMDK_MONOLITHIC_FLAT 2u
#define ABI_VMDK_TWOGB_SPARSE 3u   /* twoGbMaxExtentSparse */
#define ABI_VMDK_TWOGB_FLAT 4u     /* twoGbMaxExtentFlat */
/* MeasureConfig.vhd_subformat (vpc and vhdx) */
#define ABI_VHD_DYNAMIC 0u
#define ABI_VHD_FIXED 1u

struct abi_measure_config {
    uint32_t magic;                  /* ABI_MEASURE_CONFIG_MAGIC */
    uint32_t target_format;          /* ABI_FMT_* */
    uint32_t flags;                  /* ABI_MEASURE_FLAG_* | ABI_MEASURE_PREALLOC_* */
    uint32_t sector_size;            /* transport sector in bytes; 0 = 65536 */
    uint64_t virtual_size_override;  /* bytes; used when FLAG_SIZE_MODE or non-zero */
    uint32_t qcow2_cluster_size;     /* bytes; 0 = 65536 */
    uint8_t qcow2_refcount_bits;     /* 1..64; 0 = 16 */
    uint8_t vmdk_subformat;          /* ABI_VMDK_* */
    uint16_t _pad2;
    uint32_t vmdk_grain_size;        /* bytes; 0 = 65536 */
    uint8_t vhd_subformat;           /* ABI_VHD_* */
    uint8_t _pad3[3];
    uint32_t block_size;             /* vpc/vhdx block bytes; 0 = format default */
    uint32_t _pad4;
    uint64_t luks_header_overhead;   /* LUKS header bytes (qcow2 encrypt / luks target) */
};
_Static_assert(sizeof(struct abi_measure_config) == 56, "abi_measure_config size");
_Static_assert(offsetof(struct abi_measure_config, target_format) == 4, "cfg.target_format");
_Static_assert(offsetof(struct abi_measure_config, flags) == 8, "cfg.flags");
_Static_assert(offsetof(struct abi_measure_config, sector_size) == 12, "cfg.sector_size");
_Static_assert(offsetof(struct abi_measure_config, virtual_size_override) == 16, "cfg.vso");
_Static_assert(offsetof(struct abi_measure_config, qcow2_cluster_size) == 24, "cfg.cluster");
_Static_assert(offsetof(struct abi_measure_config, qcow2_refcount_bits) == 28, "cfg.refcount");
_Static_assert(offsetof(struct abi_measure_config, vmdk_subformat) == 29, "cfg.vmdk_subformat");
_Static_assert(offsetof(struct abi_measure_config, _pad2) == 30, "cfg._pad2");
_Static_assert(offsetof(struct abi_measure_config, vmdk_grain_size) == 32, "cfg.grain");
_Static_assert(offsetof(struct abi_measure_config, vhd_subformat) == 36, "cfg.vhd_subformat");
_Static_assert(offsetof(struct abi_measure_config, _pad3) == 37, "cfg._pad3");
_Static_assert(offsetof(struct abi_measure_config, block_size) == 40, "cfg.block_size");
_Static_assert(offsetof(struct abi_measure_config, _pad4) == 44, "cfg._pad4");
_Static_assert(offsetof(struct abi_measure_config, luks_header_overhead) == 48, "cfg.luks");

/* Extension record: options the design's MeasureConfig has no field for
 * (target options of vmdk/vpc/vhdx, the source's format, snapshot and
 * secret).  It sits at ABI_MEASURE_EXT_OFFSET in the same config page,
 * leaving MeasureConfig's layout untouched; a guest that finds no valid
 * record uses qemu-img's defaults and probes the source. */
#define ABI_MEASURE_EXT_MAGIC 0x5458454Du /* "MEXT" */
#define ABI_MEASURE_EXT_OFFSET 64u
#define ABI_MEASURE_EXT_FORCE_SIZE (1u << 0)       /* vpc: no CHS rounding */
#define ABI_MEASURE_EXT_BLOCK_STATE_ZERO (1u << 1) /* vhdx: blocks start in state ZERO */
/* ext.source_flags */
#define ABI_MEASURE_SRC_SNAPSHOT (1u << 0)      /* -l NAME: snapshot[] is an id or name */
#define ABI_MEASURE_SRC_SNAPSHOT_ID (1u << 1)   /* snapshot.id=: snapshot[] */
#define ABI_MEASURE_SRC_SNAPSHOT_NAME (1u << 2) /* snapshot.name=: snapshot_name[] */
#define ABI_MEASURE_SRC_KEY_SECRET (1u << 3)    /* a LUKS key secret was given */
#define ABI_MEASURE_SRC_PROBE_ONLY (1u << 4)    /* open the source, then stop: the
                                                   host has an option error to print */
#define ABI_MEASURE_SRC_WINDOW (1u << 5)        /* raw offset=/size= were given: the
                                                   guest checks them as raw does and
                                                   refuses them for other formats */
#define ABI_MEASURE_SRC_NO_BACKING (1u << 6)    /* backing=null: ignore a backing file */
#define ABI_MEASURE_SRC_UNKNOWN_OPTION (1u << 7) /* --image-opts gave unknown_option[]:
                                                    refuse it once the format is known */
#define ABI_MEASURE_SRC_WINDOW_SIZE (1u << 8)   /* size= was given: window_size is it;
                                                   else the window runs to the end */
#define ABI_MEASURE_SRC_WINDOW_OFFSET (1u << 10) /* offset= was given */
#define ABI_MEASURE_SRC_NAME_DMG (1u << 12)     /* the file name ends in ".dmg":
                                                   qemu's dmg probe scores 2 */
#define ABI_MEASURE_SRC_BACKING_NAMED (1u << 11) /* backing=NODE or backing.*=: a
                                                    backing file named by options */
#define ABI_MEASURE_SRC_KEY_ENCRYPT (1u << 9)   /* the key secret came as
                                                   encrypt.key-secret (qcow2, qcow),
                                                   not key-secret (luks) */
#define ABI_MEASURE_SRC_BACKING_NODE (1u << 13) /* backing=NODE: backing_node[] names
                                                   a node, which qemu-img never has */
#define ABI_MEASURE_OPTION_MAX 64u
#define ABI_MEASURE_SNAPSHOT_MAX 256u

struct abi_measure_ext {
    uint32_t magic;              /* ABI_MEASURE_EXT_MAGIC */
    uint32_t size;               /* sizeof(struct abi_measure_ext) */
    uint32_t flags;              /* ABI_MEASURE_EXT_* */
    uint32_t vmdk_heads;         /* descriptor geometry: 16 (ide) or 255 */
    uint32_t vmdk_strings_len;   /* bytes of adapter, hwversion and toolsversion text */
    uint32_t source_format;      /* -f as ABI_FMT_*; 0 = probe the source */
    uint64_t vhdx_log_size;      /* bytes, a multiple of 1 MiB, 1 MiB .. 4 GiB - 1 MiB */
    uint32_t source_flags;       /* ABI_MEASURE_SRC_* */
    uint32_t _pad;
    char snapshot[ABI_MEASURE_SNAPSHOT_MAX];      /* NUL-terminated */
    char snapshot_name[ABI_MEASURE_SNAPSHOT_MAX]; /* NUL-terminated */
    uint64_t window_offset;      /* bytes into the file (ABI_MEASURE_SRC_WINDOW) */
    uint64_t window_size;        /* bytes (ABI_MEASURE_SRC_WINDOW) */
    char unknown_option[ABI_MEASURE_OPTION_MAX]; /* NUL-terminated */
    char backing_node[ABI_MEASURE_OPTION_MAX];   /* NUL-terminated */
};
_Static_assert(offsetof(struct abi_measure_ext, flags) == 8, "ext.flags");
_Static_assert(offsetof(struct abi_measure_ext, vmdk_heads) == 12, "ext.vmdk_heads");
_Static_assert(offsetof(struct abi_measure_ext, vmdk_strings_len) == 16, "ext.vmdk_strings_len");
_Static_assert(offsetof(struct abi_measure_ext, source_format) == 20, "ext.source_format");
_Static_assert(offsetof(struct abi_measure_ext, vhdx_log_size) == 24, "ext.vhdx_log_size");
_Static_assert(offsetof(struct abi_measure_ext, source_flags) == 32, "ext.source_flags");
_Static_assert(offsetof(struct abi_measure_ext, snapshot) == 40, "ext.snapshot");
_Static_assert(offsetof(struct abi_measure_ext, snapshot_name) == 296, "ext.snapshot_name");
_Static_assert(offsetof(struct abi_measure_ext, window_offset) == 552, "ext.window_offset");
_Static_assert(offsetof(struct abi_measure_ext, window_size) == 560, "ext.window_size");
_Static_assert(offsetof(struct abi_measure_ext, unknown_option) == 568, "ext.unknown_option");
_Static_assert(offsetof(struct abi_measure_ext, backing_node) == 632, "ext.backing_node");
_Static_assert(sizeof(struct abi_measure_ext) == 696, "abi_measure_ext size");
_Static_assert(ABI_MEASURE_EXT_OFFSET >= sizeof(struct abi_measure_config),
               "the extension record must follow MeasureConfig");
_Static_assert(ABI_MEASURE_EXT_OFFSET + sizeof(struct abi_measure_ext) <= 4096,
               "config page overflow");

/* MeasureResult.error */
#define ABI_MEASURE_ERROR_OK 0u
#define ABI_MEASURE_ERROR_OVERFLOW 1u
#define ABI_MEASURE_ERROR_INVALID_OPTION 2u
#define ABI_MEASURE_ERROR_INVALID_SIZE 3u

struct abi_measure_result {
    uint32_t magic;               /* ABI_MEASURE_RESULT_MAGIC */
    uint32_t target_format;       /* ABI_FMT_*, echoed from the config */
    uint64_t required;            /* bytes when only allocated data is written */
    uint64_t fully_allocated;     /* bytes when every unit is allocated */
    uint32_t resolved_unit_size;  /* cluster/grain/block bytes used; 0 for raw */
    uint32_t error;               /* ABI_MEASURE_ERROR_* */
};
_Static_assert(sizeof(struct abi_measure_result) == 32, "abi_measure_result size");
_Static_assert(offsetof(struct abi_measure_result, target_format) == 4, "res.target_format");
_Static_assert(offsetof(struct abi_measure_result, required) == 8, "res.required");
_Static_assert(offsetof(struct abi_measure_result, fully_allocated) == 16, "res.fully");
_Static_assert(offsetof(struct abi_measure_result, resolved_unit_size) == 24, "res.unit");
_Static_assert(offsetof(struct abi_measure_result, error) == 28, "res.error");

/* What the measure operation passes to CallTable.send_measure_result: the
 * design's 32-byte MeasureResult, then a tagged tail with the figure qemu
 * prints as "bitmaps size" (persistent bitmaps of a qcow2 v3 source measured
 * for a qcow2 v3 target).  core reads the tail only when its magic is there;
 * every operation of this build passes the whole report. */
#define ABI_MEASURE_TAIL_MAGIC 0x4C54524Du /* "MRTL" */
#define ABI_MEASURE_TAIL_HAS_BITMAPS (1u << 0)

struct abi_measure_report {
    struct abi_measure_result result;
    uint32_t tail_magic;         /* ABI_MEASURE_TAIL_MAGIC */
    uint32_t tail_flags;         /* ABI_MEASURE_TAIL_* */
    uint64_t bitmaps;            /* bytes, valid with ABI_MEASURE_TAIL_HAS_BITMAPS */
};
_Static_assert(offsetof(struct abi_measure_report, result) == 0, "report.result");
_Static_assert(offsetof(struct abi_measure_report, tail_magic) == 32, "report.tail_magic");
_Static_assert(offsetof(struct abi_measure_report, bitmaps) == 40, "report.bitmaps");
_Static_assert(sizeof(struct abi_measure_report) == 48, "abi_measure_report size");

#endif /* INSTAR_ABI_MEASURE_H */
