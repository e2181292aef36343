/* test_wire.c: the host's frame splitter (crates/wire) and GuestMessage
 * validation (vmm/vmm_proto.c): truncated, oversized, corrupted and
 * malicious frames must be refused, valid ones accepted in any chunking. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "abi_calltable.h"
#include "abi_measure.h"
#include "guest.pb-c.h"
#include "vmm.h"
#include "wire.h"
#include "test_util.h"

struct sink {
    unsigned frames;
    size_t last_len;
    uint8_t last[ABI_FRAME_MAX_PAYLOAD];
    int fail_with;
};

static int sink_cb(void *ctx, const uint8_t *payload, size_t len)
{
    struct sink *s = ctx;

    s->frames++;
    s->last_len = len;
    memcpy(s->last, payload, len);
    return s->fail_with;
}

static size_t frame(uint8_t *out, const void *payload, size_t len)
{
    ck_assert_int_eq(wire_frame_header(out, payload, len), 0);
    memcpy(out + sizeof(struct abi_frame_hdr), payload, len);
    return sizeof(struct abi_frame_hdr) + len;
}

START_TEST(crc32_is_the_zlib_crc)
{
    ck_assert_uint_eq(wire_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(wire_crc32(0, "", 0), 0);
    /* Incremental use gives the same value. */
    ck_assert_uint_eq(wire_crc32(wire_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}
END_TEST

START_TEST(frames_survive_any_chunking)
{
    uint8_t stream[3 * (sizeof(struct abi_frame_hdr) + 100)];
    uint8_t payload[100];
    size_t len = 0;

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 3; i++)
        len += frame(stream + len, payload, sizeof(payload));
    for (size_t chunk = 1; chunk <= len; chunk++) {
        struct wire_reader r;
        struct sink s = {0};

        wire_reader_init(&r);
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;

            ck_assert_int_eq(wire_reader_feed(&r, stream + off, n, sink_cb, &s), WIRE_OK);
        }
        ck_assert_uint_eq(s.frames, 3);
        ck_assert_uint_eq(s.last_len, sizeof(payload));
        ck_assert_mem_eq(s.last, payload, sizeof(payload));
        ck_assert(wire_reader_idle(&r));
    }
}
END_TEST

START_TEST(truncated_frame_is_not_idle)
{
    uint8_t buf[64];
    size_t len = frame(buf, "hello", 5);
    struct wire_reader r;
    struct sink s = {0};

    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len - 1, sink_cb, &s), WIRE_OK);
    ck_assert_uint_eq(s.frames, 0);
    ck_assert(!wire_reader_idle(&r));
}
END_TEST

START_TEST(bad_frames_are_refused_and_latch)
{
    uint8_t buf[64];
    size_t len;
    struct wire_reader r;
    struct sink s = {0};
    uint8_t garbage[32] = "not a frame at all, not at all!";

    /* Garbage: bad magic. */
    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, garbage, sizeof(garbage), sink_cb, &s),
                     WIRE_ERR_MAGIC);
    /* Latched: even a good frame is refused afterwards. */
    len = frame(buf, "hello", 5);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len, sink_cb, &s), WIRE_ERR_MAGIC);
    ck_assert_uint_eq(s.frames, 0);

    /* Oversized and zero lengths are refused from the header alone. */
    len = frame(buf, "hello", 5);
    buf[4] = 0xFF;
    buf[5] = 0xFF;
    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, buf, sizeof(struct abi_frame_hdr), sink_cb, &s),
                     WIRE_ERR_LENGTH);
    buf[4] = 0;
    buf[5] = 0;
    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len, sink_cb, &s), WIRE_ERR_LENGTH);
    ck_assert(wire_frame_header(buf, "x", 0) != 0);
    ck_assert(wire_frame_header(buf, "x", ABI_FRAME_MAX_PAYLOAD + 1) != 0);

    /* A flipped payload bit fails the CRC. */
    len = frame(buf, "hello", 5);
    buf[len - 1] ^= 1;
    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len, sink_cb, &s), WIRE_ERR_CRC);

    /* Reserved field must be zero. */
    len = frame(buf, "hello", 5);
    buf[12] = 1;
    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len, sink_cb, &s), WIRE_ERR_RESERVED);

    /* A callback failure stops the reader and latches. */
    s.fail_with = -7;
    len = frame(buf, "hello", 5);
    wire_reader_init(&r);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len, sink_cb, &s), -7);
    ck_assert_int_eq(wire_reader_feed(&r, buf, len, sink_cb, &s), -7);
    ck_assert_uint_eq(s.frames, 1);
}
END_TEST

START_TEST(stream_budget_is_enforced)
{
    static uint8_t chunk[64 * 1024];
    uint8_t buf[64];
    size_t len = frame(buf, "hi", 2);
    struct wire_reader r;
    struct sink s = {0};
    size_t fed = 0;
    int rc = WIRE_OK;

    for (size_t off = 0; off + len <= sizeof(chunk); off += len)
        memcpy(chunk + off, buf, len);
    wire_reader_init(&r);
    /* Whole frames only, so the first failure is the budget. */
    while (rc == WIRE_OK && fed < 4 * ABI_SERIAL_MAX_TOTAL) {
        size_t n = sizeof(chunk) / len * len;

        rc = wire_reader_feed(&r, chunk, n, sink_cb, &s);
        fed += n;
    }
    ck_assert_int_eq(rc, WIRE_ERR_TOTAL);
    ck_assert(fed <= ABI_SERIAL_MAX_TOTAL + sizeof(chunk));
    ck_assert_uint_le(s.frames, ABI_SERIAL_MAX_FRAMES);
}
END_TEST

/* ---- GuestMessage validation -------------------------------------------- */

static size_t pack(const Instar__GuestMessage *m, uint8_t *out)
{
    size_t n = instar__guest_message__get_packed_size(m);

    ck_assert_uint_le(n, ABI_FRAME_MAX_PAYLOAD);
    return instar__guest_message__pack(m, out);
}

static int decode(struct vmm_guest_report *rep, const Instar__GuestMessage *m, char *why)
{
    uint8_t buf[ABI_FRAME_MAX_PAYLOAD];
    size_t n = pack(m, buf);

    return vmm_proto_decode(rep, buf, n, why, 160);
}

static Instar__GuestMessage measure_msg(Instar__MeasureResultMessage *r, uint64_t req,
                                        uint64_t full)
{
    Instar__GuestMessage m = INSTAR__GUEST_MESSAGE__INIT;

    instar__measure_result_message__init(r);
    r->target_format = (char *)"qcow2";
    r->required = req;
    r->fully_allocated = full;
    r->resolved_unit_size = 65536;
    m.level = INSTAR__LEVEL__INFO;
    m.payload_case = INSTAR__GUEST_MESSAGE__PAYLOAD_MEASURE_RESULT;
    m.measure_result = r;
    return m;
}

START_TEST(valid_messages_decode)
{
    struct vmm_guest_report rep = {0};
    Instar__MeasureResultMessage r;
    Instar__GuestMessage m = measure_msg(&r, 393216, 1074135040);
    Instar__CompleteMessage c = INSTAR__COMPLETE_MESSAGE__INIT;
    Instar__GuestMessage cm = INSTAR__GUEST_MESSAGE__INIT;
    char why[160];

    ck_assert_int_eq(decode(&rep, &m, why), 0);
    ck_assert(rep.have_measure);
    ck_assert_str_eq(rep.measure.target_format, "qcow2");
    ck_assert_uint_eq(rep.measure.required, 393216);
    ck_assert_uint_eq(rep.measure.fully_allocated, 1074135040);
    c.operation = (char *)"measure";
    c.success = 1;
    cm.level = INSTAR__LEVEL__COMPLETE;
    cm.payload_case = INSTAR__GUEST_MESSAGE__PAYLOAD_COMPLETE;
    cm.complete = &c;
    ck_assert_int_eq(decode(&rep, &cm, why), 0);
    ck_assert(rep.have_complete && rep.complete_success);
    /* Nothing may follow completion. */
    ck_assert_int_eq(decode(&rep, &cm, why), -1);
    ck_assert_str_eq(why, "guest message after completion");
}
END_TEST

START_TEST(hostile_messages_are_refused)
{
    struct vmm_guest_report rep = {0};
    Instar__MeasureResultMessage r;
    Instar__GuestMessage m = measure_msg(&r, 393216, 1074135040);
    Instar__ErrorMessage e = INSTAR__ERROR_MESSAGE__INIT;
    Instar__GuestMessage em = INSTAR__GUEST_MESSAGE__INIT;
    Instar__InitMessage init = INSTAR__INIT_MESSAGE__INIT;
    char why[160];
    uint8_t junk[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    uint8_t unknown[] = {0x08, 0x01, 0xF8, 0x07, 0x01}; /* level=1, field 127 varint */

    /* Undecodable bytes and unknown fields. */
    ck_assert_int_eq(vmm_proto_decode(&rep, junk, sizeof(junk), why, sizeof(why)), -1);
    ck_assert_int_eq(vmm_proto_decode(&rep, unknown, sizeof(unknown), why, sizeof(why)), -1);
    ck_assert_str_eq(why, "guest message with unknown fields");
    /* required > fully allocated is impossible for every target. */
    r.required = 2;
    r.fully_allocated = 1;
    ck_assert_int_eq(decode(&rep, &m, why), -1);
    /* Unknown target and error codes. */
    m = measure_msg(&r, 1, 2);
    r.target_format = (char *)"ext4";
    ck_assert_int_eq(decode(&rep, &m, why), -1);
    m = measure_msg(&r, 1, 2);
    r.error = 99;
    ck_assert_int_eq(decode(&rep, &m, why), -1);
    /* Level outside the enum. */
    m = measure_msg(&r, 1, 2);
    m.level = (Instar__Level)42;
    ck_assert_int_eq(decode(&rep, &m, why), -1);
    /* A second result. */
    m = measure_msg(&r, 1, 2);
    ck_assert_int_eq(decode(&rep, &m, why), 0);
    ck_assert_int_eq(decode(&rep, &m, why), -1);
    ck_assert_str_eq(why, "second measure result from the guest");
    /* Control characters and escapes never reach the terminal. */
    e.status = ABI_ERROR_PLAIN;
    e.operation = (char *)"measure";
    e.message = (char *)"bad\033[2Jthing";
    em.level = INSTAR__LEVEL__ERROR;
    em.payload_case = INSTAR__GUEST_MESSAGE__PAYLOAD_ERROR;
    em.error = &e;
    ck_assert_int_eq(decode(&rep, &em, why), -1);
    e.message = (char *)"plain text";
    e.status = 0;
    ck_assert_int_eq(decode(&rep, &em, why), -1);
    e.status = ABI_ERROR_LAST + 1;
    ck_assert_int_eq(decode(&rep, &em, why), -1);
    /* Payloads a measure guest never sends. */
    em.payload_case = INSTAR__GUEST_MESSAGE__PAYLOAD_INIT;
    em.init = &init;
    ck_assert_int_eq(decode(&rep, &em, why), -1);
}
END_TEST

START_TEST(error_message_is_latched)
{
    struct vmm_guest_report rep = {0};
    Instar__ErrorMessage e = INSTAR__ERROR_MESSAGE__INIT;
    Instar__GuestMessage em = INSTAR__GUEST_MESSAGE__INIT;
    char why[160];

    e.status = ABI_ERROR_OPEN;
    e.operation = (char *)"measure";
    e.message = (char *)"Image is not in qcow2 format";
    em.level = INSTAR__LEVEL__ERROR;
    em.payload_case = INSTAR__GUEST_MESSAGE__PAYLOAD_ERROR;
    em.error = &e;
    ck_assert_int_eq(decode(&rep, &em, why), 0);
    e.message = (char *)"second";
    ck_assert_int_eq(decode(&rep, &em, why), 0);
    ck_assert(rep.have_error);
    ck_assert_uint_eq(rep.error_status, ABI_ERROR_OPEN);
    ck_assert_str_eq(rep.error_message, "Image is not in qcow2 format");
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("frames");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, crc32_is_the_zlib_crc);
    tcase_add_test(tc, frames_survive_any_chunking);
    tcase_add_test(tc, truncated_frame_is_not_idle);
    tcase_add_test(tc, bad_frames_are_refused_and_latch);
    tcase_add_test(tc, stream_budget_is_enforced);
    suite_add_tcase(s, tc);
    tc = tcase_create("proto");
    tcase_add_test(tc, valid_messages_decode);
    tcase_add_test(tc, hostile_messages_are_refused);
    tcase_add_test(tc, error_message_is_latched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(wire_suite());
}
