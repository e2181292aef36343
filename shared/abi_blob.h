/* abi_blob.h: the ABI note every guest blob (core.bin, <op>.bin) carries.
 *
 * Blobs are static ELF64 executables.  Each carries one PT_NOTE with name
 * "INSTAR" and type ABI_NOTE_TYPE whose descriptor is struct abi_blob_note.
 * The host loader refuses a blob without the note or with another ABI
 * version, kind or load address, before any of its bytes reach guest RAM.
 */
#ifndef INSTAR_ABI_BLOB_H
#define INSTAR_ABI_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "abi_calltable.h"

#define ABI_NOTE_NAME "INSTAR"
#define ABI_NOTE_TYPE 0x49534e31u /* "1NSI" */

#define ABI_BLOB_CORE 1u
#define ABI_BLOB_OPERATION 2u

struct abi_blob_note {
    uint32_t abi_version; /* ABI_CALL_TABLE_VERSION the blob was built with */
    uint32_t kind;        /* ABI_BLOB_CORE or ABI_BLOB_OPERATION */
    uint64_t load_addr;   /* ABI_CORE_LOAD_ADDR or ABI_OP_LOAD_ADDR */
};
_Static_assert(sizeof(struct abi_blob_note) == 16, "abi_blob_note size");
_Static_assert(offsetof(struct abi_blob_note, kind) == 4, "abi_blob_note.kind");
_Static_assert(offsetof(struct abi_blob_note, load_addr) == 8, "abi_blob_note.load_addr");

/* Emit the note from a guest C file (guest builds only).  The descriptor is
 * written as 32-bit words: an ELF note only guarantees 4-byte alignment, so
 * a struct with a uint64_t member would gain padding here. */
#define ABI_BLOB_NOTE_DEFINE(kind_, addr_)                                         \
    __attribute__((section(".note.instar"), aligned(4), used))                     \
    static const struct {                                                          \
        uint32_t namesz, descsz, type;                                             \
        char name[8];                                                              \
        uint32_t desc[4];                                                          \
    } abi_blob_note_ = {sizeof(ABI_NOTE_NAME), sizeof(struct abi_blob_note),       \
                        ABI_NOTE_TYPE, ABI_NOTE_NAME,                              \
                        {ABI_CALL_TABLE_VERSION, (kind_), (uint32_t)(addr_),       \
                         (uint32_t)((uint64_t)(addr_) >> 32)}}

#endif /* INSTAR_ABI_BLOB_H */
