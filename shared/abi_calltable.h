/* abi_calltable.h: the core <-> operation boundary.
 *
 * Core builds one struct abi_call_table at ABI_CALL_TABLE_ADDR and calls the
 * operation's entry point (ABI_OP_LOAD_ADDR) with a pointer to it.  The
 * operation reaches every service -- devices, config, scratch memory, result
 * messages -- through this table only, so the same operation code runs on the
 * host against the mock table in tests/mock/ (tests and fuzzing).
 *
 * HERE BE DRAGONS: the table is consumed through a raw pointer.  Field order
 * and VERSION are fixed by the design (VERSION 14, send_measure_result last,
 * directly after send_compare_result).  Any change to the layout must bump
 * ABI_CALL_TABLE_VERSION; operations refuse a table whose magic, version or
 * size differ from the ones they were built with.
 */
#ifndef INSTAR_ABI_CALLTABLE_H
#define INSTAR_ABI_CALLTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "abi_measure.h"
#include "abi_vm.h"

#define ABI_CALL_TABLE_MAGIC 0x494D4147u /* "IMAG" */
#define ABI_CALL_TABLE_VERSION 14u

/* send_error codes: how the host presents the message. */
#define ABI_ERROR_PLAIN 1u     /* print "<prog>: <message>" */
#define ABI_ERROR_OPEN 2u      /* print "<prog>: Could not open '<file>': <message>" */
#define ABI_ERROR_IO 3u        /* device I/O failed */
#define ABI_ERROR_PANIC 4u     /* guest bug: panic or failed assertion */
#define ABI_ERROR_UNSUPPORTED 5u /* valid input this build cannot handle */
#define ABI_ERROR_OPEN_FILE 6u /* print "<prog>: Could not open '<arg>': Could not open
                                  '<file>': <message>" */
/* Notes: a line qemu prints before its error (error_report() or a bare
 * fprintf), sent before the error it precedes.  The host keeps the first
 * note and prints it only when an error follows. */
#define ABI_ERROR_NOTE 7u      /* print "<prog>: <message>" before the error */
#define ABI_ERROR_NOTE_RAW 8u  /* print "<message>" as it is before the error */
/* Not an error but a request: the last image opened names the backing
 * file <message> (as recorded, unresolved) and no device holds it.  Devices
 * are handed out in the order the guest asks for them: the top image is
 * device 0, then each data file and backing file as the chain is opened.
 * The host resolves the name under its path policy and runs the guest
 * again with the file as one more device, or refuses. */
#define ABI_ERROR_NEED_BACKING 9u
/* Likewise for the external data file <message> of the last image opened
 * (qcow2); qemu resolves its name against the working directory. */
#define ABI_ERROR_NEED_DATA_FILE 10u
/* Likewise for an extent file a vmdk descriptor names; qemu resolves it
 * against the descriptor's directory. */
#define ABI_ERROR_NEED_EXTENT 11u
#define ABI_ERROR_LAST ABI_ERROR_NEED_EXTENT

/* Longest string the host accepts in a message field. */
#define ABI_MAX_STRING 512u

/* Services.  Strings are NUL-terminated; `dev` indexes 0 .. device_count-1. */
typedef uint32_t abi_device_count_fn(void);
/* Size of device `dev` in bytes; 0 for an unknown device. */
typedef uint64_t abi_device_size_fn(uint32_t dev);
/* Read `length` bytes at byte `offset` into `buf`.  Returns the bytes read
 * (fewer only at the end of the device) or a negative ABI_HC_* code.  Any
 * length is accepted; core splits it into large host requests. */
typedef int64_t abi_device_read_fn(uint32_t dev, uint64_t offset, uint64_t length, void *buf);
/* Describe the extent of device `dev` containing byte `offset`: whether it is
 * data or a hole in the host file, and from `offset` for how long.  Returns
 * 1 with *out filled, 0 at or past the end of the device, or a negative
 * ABI_HC_* code. */
typedef int32_t abi_device_extent_fn(uint32_t dev, uint64_t offset, struct abi_extent *out);
/* Bytes the host file of `dev` occupies on disk (st_blocks * 512). */
typedef uint64_t abi_device_allocated_fn(uint32_t dev);
/* The operation's config page; *len receives its size in bytes. */
typedef const void *abi_get_config_fn(uint32_t *len);
/* Scratch memory for the operation, zero-filled when the operation starts;
 * *len receives its size in bytes. */
typedef void *abi_get_scratch_fn(uint64_t *len);
typedef void abi_send_error_fn(uint32_t code, const char *operation, const char *message);
typedef void abi_send_complete_fn(const char *operation, uint64_t count, uint32_t success);
typedef void abi_debug_print_fn(const char *text);
/* Result senders of operations this build does not ship (info, check,
 * compare).  Their slots keep the VERSION 14 layout; core answers a call with
 * an ABI_ERROR_UNSUPPORTED error. */
typedef void abi_send_reserved_result_fn(const void *result);
typedef void abi_send_measure_result_fn(const struct abi_measure_result *result);

struct abi_call_table {
    uint32_t magic;     /* ABI_CALL_TABLE_MAGIC */
    uint32_t version;   /* ABI_CALL_TABLE_VERSION */
    uint32_t size;      /* sizeof(struct abi_call_table) */
    uint32_t _reserved; /* 0 */
    abi_device_count_fn *device_count;
    abi_device_size_fn *device_size;
    abi_device_read_fn *device_read;
    abi_device_extent_fn *device_extent;
    abi_device_allocated_fn *device_allocated;
    abi_get_config_fn *get_operation_config;
    abi_get_scratch_fn *get_scratch;
    abi_send_error_fn *send_error;
    abi_send_complete_fn *send_complete;
    abi_debug_print_fn *debug_print;
    abi_send_reserved_result_fn *send_info_result;
    abi_send_reserved_result_fn *send_check_result;
    abi_send_reserved_result_fn *send_compare_result;
    abi_send_measure_result_fn *send_measure_result; /* last field (VERSION 14) */
};
_Static_assert(sizeof(void (*)(void)) == 8, "the call table assumes 8-byte function pointers");
_Static_assert(offsetof(struct abi_call_table, version) == 4, "ct.version");
_Static_assert(offsetof(struct abi_call_table, size) == 8, "ct.size");
_Static_assert(offsetof(struct abi_call_table, device_count) == 16, "ct.device_count");
_Static_assert(offsetof(struct abi_call_table, device_size) == 24, "ct.device_size");
_Static_assert(offsetof(struct abi_call_table, device_read) == 32, "ct.device_read");
_Static_assert(offsetof(struct abi_call_table, device_extent) == 40, "ct.device_extent");
_Static_assert(offsetof(struct abi_call_table, device_allocated) == 48, "ct.device_allocated");
_Static_assert(offsetof(struct abi_call_table, get_operation_config) == 56, "ct.get_config");
_Static_assert(offsetof(struct abi_call_table, get_scratch) == 64, "ct.get_scratch");
_Static_assert(offsetof(struct abi_call_table, send_error) == 72, "ct.send_error");
_Static_assert(offsetof(struct abi_call_table, send_complete) == 80, "ct.send_complete");
_Static_assert(offsetof(struct abi_call_table, debug_print) == 88, "ct.debug_print");
_Static_assert(offsetof(struct abi_call_table, send_info_result) == 96, "ct.send_info_result");
_Static_assert(offsetof(struct abi_call_table, send_check_result) == 104, "ct.send_check_result");
_Static_assert(offsetof(struct abi_call_table, send_compare_result) == 112, "ct.send_compare_result");
_Static_assert(offsetof(struct abi_call_table, send_measure_result) == 120, "ct.send_measure_result");
_Static_assert(sizeof(struct abi_call_table) == 128, "send_measure_result must be the last field");
_Static_assert(sizeof(struct abi_call_table) <= ABI_CALL_TABLE_SIZE, "call table exceeds its page");

/* Operation entry point, at ABI_OP_LOAD_ADDR.  Returns 0 on success. */
typedef uint64_t abi_op_entry_fn(const struct abi_call_table *ct);

/* True when `ct` is a table this build can use. */
static inline int abi_call_table_ok(const struct abi_call_table *ct)
{
    return ct != NULL && ct->magic == ABI_CALL_TABLE_MAGIC &&
           ct->version == ABI_CALL_TABLE_VERSION && ct->size == sizeof(*ct);
}

#endif /* INSTAR_ABI_CALLTABLE_H */
