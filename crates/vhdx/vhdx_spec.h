/* vhdx_spec.h: the VHDX layout ([MS-VHDX] "Virtual Hard Disk v2 (VHDX) File
 * Format", v1.0) and the limits qemu 7.2's block/vhdx.c applies to it.
 *
 * Every field is little-endian; offsets are byte offsets into the
 * structure.  GUIDs are stored as Microsoft lays them out (data1..3
 * little-endian), so the byte strings below are the on-disk bytes.
 */
#ifndef INSTAR_VHDX_SPEC_H
#define INSTAR_VHDX_SPEC_H

#include <stdint.h>

#define VHDX_GUID_LEN 16u

/* ---- Header section ([MS-VHDX] "Header Section"): the first 1 MiB, in
 * 64 KiB blocks: file identifier, header 1, header 2, region table 1,
 * region table 2 (qemu reads the first region table only). ---- */
#define VHDX_FILE_ID_OFF 0u           /* "vhdxfile", then an optional creator */
#define VHDX_HEADER1_OFF 0x10000u
#define VHDX_HEADER2_OFF 0x20000u
#define VHDX_REGION_TABLE_OFF 0x30000u
#define VHDX_BLOCK_64K 0x10000u

/* Header ([MS-VHDX] "Header"): CRC-32C over its 4 KiB. */
#define VHDX_HEADER_LEN 4096u
#define VHDX_HEADER_CMP_LEN 80u       /* the defined fields (qemu compares these) */
#define VHDX_HDR_SIGNATURE 0u         /* u32: "head" */
#define VHDX_HDR_CHECKSUM 4u          /* u32: CRC-32C, this field taken as 0 */
#define VHDX_HDR_SEQUENCE 8u          /* u64: the higher valid header is current */
#define VHDX_HDR_LOG_GUID 48u         /* GUID: zero when the log is empty */
#define VHDX_HDR_LOG_VERSION 64u      /* u16: must be 0 */
#define VHDX_HDR_VERSION 66u          /* u16: must be 1 */
#define VHDX_HDR_LOG_LENGTH 68u       /* u32: bytes, a multiple of 1 MiB */
#define VHDX_HDR_LOG_OFFSET 72u       /* u64: bytes, a multiple of 1 MiB, >= 1 MiB */
#define VHDX_HEADER_SIGNATURE 0x64616568u /* "head" */

/* Region table ([MS-VHDX] "Region Table"): CRC-32C over 64 KiB. */
#define VHDX_RT_SIGNATURE 0x69676572u /* "regi" */
#define VHDX_RT_CHECKSUM 4u
#define VHDX_RT_COUNT 8u              /* u32: entries, <= 2047 */
#define VHDX_RT_ENTRIES 16u
#define VHDX_RT_ENTRY_LEN 32u
#define VHDX_RT_MAX_ENTRIES 2047u
#define VHDX_RTE_GUID 0u
#define VHDX_RTE_OFFSET 16u           /* u64: bytes */
#define VHDX_RTE_LENGTH 24u           /* u32: bytes */
#define VHDX_RTE_FLAGS 28u            /* u32: bit 0 = required */
#define VHDX_RTE_REQUIRED 1u

/* ---- Log ([MS-VHDX] "Log"): a ring of 4 KiB sectors holding entries. ---- */
#define VHDX_LOG_SECTOR 4096u
#define VHDX_LOG_ALIGN (1u << 20)     /* log offset and length granularity */
#define VHDX_LOG_HDR_LEN 64u
#define VHDX_LOG_SIGNATURE 0x65676f6cu /* "loge" */
#define VHDX_LE_CHECKSUM 4u           /* u32: CRC-32C over the whole entry */
#define VHDX_LE_ENTRY_LENGTH 8u       /* u32: bytes, a multiple of 4 KiB */
#define VHDX_LE_SEQUENCE 16u          /* u64: > 0 */
#define VHDX_LE_DESC_COUNT 24u        /* u32 */
#define VHDX_LE_LOG_GUID 32u          /* GUID: the header's log GUID */
#define VHDX_LOG_DESC_LEN 32u         /* descriptors follow the entry header */
#define VHDX_LD_SIGNATURE 0u          /* u32: "zero" or "desc" */
#define VHDX_LD_ZERO_LENGTH 8u        /* u64: zero descriptors, a multiple of 4 KiB */
#define VHDX_LD_FILE_OFFSET 16u       /* u64: a multiple of 4 KiB */
#define VHDX_LD_SEQUENCE 24u          /* u64: the entry's sequence number */
#define VHDX_LOG_ZERO_SIGNATURE 0x6f72657au /* "zero" */
#define VHDX_LOG_DESC_SIGNATURE 0x63736564u /* "desc" */

/* ---- BAT ([MS-VHDX] "BAT"): one u64 per payload block, with a sector
 * bitmap entry after every chunk_ratio of them. ---- */
#define VHDX_BAT_STATE_MASK 0x7u
#define VHDX_BAT_FULLY_PRESENT 6u     /* PAYLOAD_BLOCK_FULLY_PRESENT */
#define VHDX_BAT_OFFSET_MASK 0xFFFFFFFFFFF00000ull /* file offset, 1 MiB units */

/* ---- Metadata region ([MS-VHDX] "Metadata Region"): a 64 KiB table. ---- */
#define VHDX_MD_TABLE_LEN 0x10000u    /* 32 * (2047 + 1) */
#define VHDX_MD_SIGNATURE 0x617461646174656dull /* "metadata" */
#define VHDX_MD_COUNT 10u             /* u16: entries */
#define VHDX_MD_ENTRIES 32u
#define VHDX_MD_ENTRY_LEN 32u
#define VHDX_MDE_GUID 0u
#define VHDX_MDE_OFFSET 16u           /* u32: bytes from the region's start */
#define VHDX_MDE_FLAGS 24u            /* u32: bit 2 = required */
#define VHDX_MDE_REQUIRED 4u

/* Known metadata items ([MS-VHDX] "Known Metadata Items"). */
#define VHDX_FP_BLOCK_SIZE 0u         /* u32: bytes, 1 MiB .. 256 MiB, power of 2 */
#define VHDX_FP_FLAGS 4u              /* u32 */
#define VHDX_FP_HAS_PARENT 2u         /* a differencing disk */
#define VHDX_BLOCK_MIN (1u << 20)
#define VHDX_BLOCK_MAX (256u << 20)
#define VHDX_SECTORS_PER_BLOCK_MAX (1u << 23) /* sets chunk_ratio */

#endif /* INSTAR_VHDX_SPEC_H */
