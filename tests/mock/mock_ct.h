/* mock_ct.h: a host-side CallTable for running operations outside the VM.
 *
 * One implementation serves the cmocka tests and the fuzz harnesses: it
 * serves in-memory images as devices (reads, size, data/hole extents,
 * allocated bytes), records every message the operation sends, and can
 * inject failures.  The table is the real struct abi_call_table, so its
 * layout and VERSION are the guest's by construction.
 *
 * The table's functions take no context, so one mock is "current" at a time
 * (mock_table() selects it).
 */
#ifndef INSTAR_MOCK_CT_H
#define INSTAR_MOCK_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "abi_calltable.h"

struct mock_device {
    const uint8_t *data;        /* image bytes (not owned) */
    uint64_t size;              /* device size in bytes */
    uint64_t allocated;         /* what st_blocks * 512 would say */
    const struct abi_extent *extents; /* data/hole map; NULL = all data */
    uint32_t n_extents;
};

struct mock_state {
    struct mock_device devices[ABI_MAX_DEVICES];
    uint32_t device_count;
    _Alignas(4096) uint8_t config[ABI_OPERATION_CONFIG_SIZE]; /* page-aligned, as in the guest */
    uint8_t *scratch;           /* zero-filled when the operation starts */
    uint64_t scratch_len;
    bool scratch_owned;         /* mapped by mock_init */

    /* Failure injection: the Nth read (1-based) fails or comes back short;
     * 0 disables.  zero_past_eof makes reads past the end return zeros
     * instead of a short count. */
    uint32_t fail_read_at;
    uint32_t short_read_at;
    bool zero_past_eof;

    /* What the operation did. */
    uint32_t reads;
    uint64_t bytes_read;
    uint32_t n_errors;
    uint32_t first_error_code;
    char first_error[ABI_MAX_STRING];
    uint32_t n_complete;
    bool complete_success;
    uint32_t n_measure;
    struct abi_measure_result measure;
    bool has_bitmaps;           /* from the report's tail */
    uint64_t bitmaps;
    uint32_t n_reserved;
    uint32_t n_debug;
};

/* Zero `m` and give it `scratch_len` bytes of scratch memory. */
void mock_init(struct mock_state *m, uint64_t scratch_len);
void mock_fini(struct mock_state *m);
/* Copy `len` bytes into the config page. */
void mock_set_config(struct mock_state *m, const void *cfg, uint32_t len);
/* Add a device; returns its index. */
uint32_t mock_add_device(struct mock_state *m, const struct mock_device *d);
/* A scratch mapping for harnesses that run the operation many times (fuzz
 * targets), and how to make it zero again between runs cheaply. */
void *mock_scratch_reusable(uint64_t len);
void mock_scratch_rezero(void *p, uint64_t len);
/* Make `m` current and return the call table that serves it. */
const struct abi_call_table *mock_table(struct mock_state *m);

#endif /* INSTAR_MOCK_CT_H */
