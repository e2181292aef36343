/* vmm_proto.c: decode and validate one GuestMessage frame payload.
 *
 * protobuf-c unpacks into a fixed static arena (no heap), and a frame that
 * carries unknown fields, an unknown payload, an out-of-range enum, an
 * over-long or non-printable string, or breaks the message order is a
 * protocol violation.  The guest's strings end up on the user's terminal, so
 * only printable characters pass.
 */
#include <string.h>

#include "abi_calltable.h"
#include "abi_measure.h"
#include "guest.pb-c.h"
#include "vmm.h"

/* A frame payload is at most 4 KiB; this bounds what protobuf-c may build. */
#define ARENA_SIZE (256u << 10)

struct arena {
    _Alignas(16) uint8_t buf[ARENA_SIZE];
    size_t used;
};

static struct arena arena;

static void *arena_alloc(void *data, size_t size)
{
    struct arena *a = data;
    size_t need = (size + 15u) & ~(size_t)15u;

    if (need < size || need > ARENA_SIZE - a->used)
        return NULL; /* protobuf-c then fails the unpack */
    a->used += need;
    return a->buf + a->used - need;
}

static void arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr; /* released all at once by the next reset */
}

static ProtobufCAllocator arena_allocator = {arena_alloc, arena_free, &arena};

/* Copy a guest string into `dst` if it is printable and short enough. */
static bool take_string(char *dst, size_t dst_size, const char *src)
{
    size_t n;

    if (src == NULL) {
        dst[0] = '\0';
        return true;
    }
    n = strlen(src);
    if (n >= dst_size)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];

        /* ASCII printable only: no control bytes, escapes or UTF-8 tricks. */
        if (c < 0x20 || c > 0x7E)
            return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

static bool known_target(const char *name)
{
    static const char *const names[] = {"raw", "qcow2", "vmdk", "vpc", "vhdx", "luks",
                                        "unknown"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

#define FAIL(...)                                  \
    do {                                           \
        snprintf(why, why_size, __VA_ARGS__);      \
        goto out_free;                             \
    } while (0)

int vmm_proto_decode(struct vmm_guest_report *rep, const uint8_t *payload, size_t len,
                     char *why, size_t why_size)
{
    Instar__GuestMessage *m;
    int rc = -1;

    arena.used = 0;
    m = instar__guest_message__unpack(&arena_allocator, len, payload);
    if (m == NULL) {
        snprintf(why, why_size, "undecodable guest message");
        return -1;
    }
    if (m->base.n_unknown_fields != 0)
        FAIL("guest message with unknown fields");
    if ((int)m->level < INSTAR__LEVEL__DEBUG || m->level > INSTAR__LEVEL__COMPLETE)
        FAIL("guest message with invalid level %d", (int)m->level);
    if (rep->have_complete)
        FAIL("guest message after completion");
    rep->messages++;
    switch (m->payload_case) {
    case INSTAR__GUEST_MESSAGE__PAYLOAD_ERROR: {
        Instar__ErrorMessage *e = m->error;
        char op[sizeof(rep->error_operation)];
        char msg[sizeof(rep->error_message)];

        if (e->base.n_unknown_fields != 0 || e->status == 0 || e->status > ABI_ERROR_LAST ||
            !take_string(op, sizeof(op), e->operation) ||
            !take_string(msg, sizeof(msg), e->message))
            FAIL("malformed guest error message");
        if (e->status == ABI_ERROR_NOTE || e->status == ABI_ERROR_NOTE_RAW) {
            if (!rep->have_note && !rep->have_error) {
                rep->have_note = true;
                rep->note_raw = e->status == ABI_ERROR_NOTE_RAW;
                memcpy(rep->note, msg, sizeof(msg));
            }
        } else if (!rep->have_error) {
            rep->have_error = true;
            rep->error_status = e->status;
            memcpy(rep->error_operation, op, sizeof(op));
            memcpy(rep->error_message, msg, sizeof(msg));
        }
        break;
    }
    case INSTAR__GUEST_MESSAGE__PAYLOAD_COMPLETE: {
        Instar__CompleteMessage *c = m->complete;
        char op[33];

        if (c->base.n_unknown_fields != 0 || !take_string(op, sizeof(op), c->operation))
            FAIL("malformed guest complete message");
        rep->have_complete = true;
        rep->complete_success = c->success;
        break;
    }
    case INSTAR__GUEST_MESSAGE__PAYLOAD_MEASURE_RESULT: {
        Instar__MeasureResultMessage *r = m->measure_result;
        struct vmm_measure_msg *out = &rep->measure;

        if (rep->have_measure)
            FAIL("second measure result from the guest");
        if (r->base.n_unknown_fields != 0 ||
            !take_string(out->target_format, sizeof(out->target_format), r->target_format) ||
            !known_target(out->target_format))
            FAIL("malformed guest measure result");
        if (r->error > ABI_MEASURE_ERROR_INVALID_SIZE)
            FAIL("guest measure result with unknown error %u", r->error);
        /* Every target's required size counts a subset of what a fully
         * allocated image holds. */
        if (r->error == ABI_MEASURE_ERROR_OK && r->required > r->fully_allocated)
            FAIL("guest measure result with required > fully allocated");
        out->required = r->required;
        out->fully_allocated = r->fully_allocated;
        out->resolved_unit_size = r->resolved_unit_size;
        out->error = r->error;
        out->has_bitmaps = r->has_bitmaps;
        out->bitmaps = r->has_bitmaps ? r->bitmaps : 0;
        rep->have_measure = true;
        break;
    }
    default:
        FAIL("unexpected guest message (payload %d)", (int)m->payload_case);
    }
    rc = 0;
out_free:
    instar__guest_message__free_unpacked(m, &arena_allocator);
    return rc;
}
