/* calc_basic.c: raw and luks targets, and the data-unit tracker. */
#include "calc.h"

enum calc_err calc_measure_raw(const struct calc_input *in, struct calc_result *out)
{
    uint64_t v;

    out->unit_size = 0;
    out->reason = CALC_R_NONE;
    /* Raw rounds to whole 512-byte sectors; 2^63 - 1 becomes 2^63. */
    if (in->virtual_size > CALC_MAX_IMAGE_SIZE || !calc_round_up(in->virtual_size, CALC_SECTOR, &v)) {
        out->reason = CALC_R_TARGET_SIZE;
        return CALC_ERR_INVALID_SIZE;
    }
    /* Unallocated sectors count towards a raw file's size as well. */
    out->required = v;
    out->fully_allocated = v;
    return CALC_OK;
}

/* LUKS v1 layout: the 592-byte header padded to 4096, then 8 key slots of
 * key_bytes x 4000 anti-forensic stripes, each aligned to 4096. */
#define LUKS_ALIGN 4096u
#define LUKS_STRIPES 4000u
#define LUKS_KEY_SLOTS 8u

uint64_t calc_luks_header_len(uint32_t key_bytes)
{
    uint64_t slot = (uint64_t)key_bytes * LUKS_STRIPES;

    slot = calc_div_round_up(slot, LUKS_ALIGN) * LUKS_ALIGN;
    return LUKS_ALIGN + LUKS_KEY_SLOTS * slot;
}

enum calc_err calc_measure_luks(uint64_t header_len, const struct calc_input *in,
                                struct calc_result *out)
{
    uint64_t total;

    out->unit_size = 0;
    out->reason = CALC_R_NONE;
    if (in->virtual_size > CALC_MAX_IMAGE_SIZE) {
        out->reason = CALC_R_TARGET_SIZE;
        return CALC_ERR_INVALID_SIZE;
    }
    /* Unallocated sectors are encrypted too: the payload is always whole. */
    if (__builtin_add_overflow(header_len, in->virtual_size, &total))
        return CALC_ERR_OVERFLOW;
    out->required = total;
    out->fully_allocated = total;
    return CALC_OK;
}

void calc_tracker_init(struct calc_tracker *t, uint64_t unit)
{
    t->unit = unit;
    t->pos = 0;
    t->next_free = 0;
    t->count = 0;
    t->bad = unit == 0;
}

enum calc_err calc_tracker_add(struct calc_tracker *t, uint64_t offset, uint64_t length)
{
    uint64_t end;
    uint64_t first;
    uint64_t last;

    if (t->bad)
        return CALC_ERR_INVALID_SIZE;
    if (length == 0)
        return CALC_OK;
    /* Extents must come in increasing order and must not overlap. */
    if (offset < t->pos || __builtin_add_overflow(offset, length, &end)) {
        t->bad = true;
        return CALC_ERR_INVALID_SIZE;
    }
    t->pos = end;
    first = offset / t->unit;
    last = (end - 1) / t->unit;
    /* A unit shared with the previous extent is already counted. */
    if (first < t->next_free)
        first = t->next_free;
    if (last >= first) {
        t->count += last - first + 1;
        t->next_free = last + 1;
    }
    return CALC_OK;
}
