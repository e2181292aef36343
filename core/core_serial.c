/* core_serial.c: the guest side of the serial channel.
 *
 * Messages are nanopb-encoded GuestMessages, each wrapped in a checked frame
 * (crates/wire) and appended to one buffer.  The buffer reaches the host in a
 * single exit when it fills, when an error is sent, and before the run ends:
 * never one exit per byte or per message.
 */
#include "core.h"

#include "abi_format.h"
#include "guest.pb.h"
#include "pb_encode.h"
#include "rt.h"
#include "wire.h"

static uint8_t serial_buf[ABI_BUF_MAX];
static size_t serial_len;
static struct abi_buf_req serial_req;
static struct abi_buf_req debug_req;

_Static_assert(instar_GuestMessage_size <= ABI_FRAME_MAX_PAYLOAD,
               "the largest GuestMessage must fit one frame");
_Static_assert(ABI_FRAME_MAX <= ABI_BUF_MAX, "a frame must fit the serial buffer");

void core_serial_flush(void)
{
    if (serial_len == 0)
        return;
    serial_req.gpa = (uint64_t)(uintptr_t)serial_buf;
    serial_req.length = serial_len;
    core_doorbell(ABI_DB_SERIAL, (uint64_t)(uintptr_t)&serial_req);
    serial_len = 0;
}

/* Encode `msg` as one frame at the end of the serial buffer. */
static void core_send(const instar_GuestMessage *msg)
{
    uint8_t payload[instar_GuestMessage_size];
    pb_ostream_t os = pb_ostream_from_buffer(payload, sizeof(payload));
    const size_t hdr = sizeof(struct abi_frame_hdr);

    if (!pb_encode(&os, instar_GuestMessage_fields, msg) || os.bytes_written == 0)
        core_panic("cannot encode a guest message");
    if (serial_len + hdr + os.bytes_written > sizeof(serial_buf))
        core_serial_flush();
    if (wire_frame_header(serial_buf + serial_len, payload, os.bytes_written) != 0)
        core_panic("cannot frame a guest message");
    memcpy(serial_buf + serial_len + hdr, payload, os.bytes_written);
    serial_len += hdr + os.bytes_written;
}

/* NULL-safe bounded copy into a nanopb string field. */
#define COPY_STR(field, src) rt_strlcpy((field), (src) != NULL ? (src) : "", sizeof(field))

void core_send_error(uint32_t code, const char *operation, const char *message)
{
    instar_GuestMessage msg = instar_GuestMessage_init_zero;

    msg.level = instar_Level_ERROR;
    msg.which_payload = instar_GuestMessage_error_tag;
    msg.payload.error.status = code;
    COPY_STR(msg.payload.error.operation, operation);
    COPY_STR(msg.payload.error.message, message);
    core_send(&msg);
    /* Errors go out at once: a fault right after must not lose them. */
    core_serial_flush();
}

void core_send_complete(const char *operation, uint64_t count, uint32_t success)
{
    instar_GuestMessage msg = instar_GuestMessage_init_zero;

    msg.level = instar_Level_COMPLETE;
    msg.which_payload = instar_GuestMessage_complete_tag;
    COPY_STR(msg.payload.complete.operation, operation);
    msg.payload.complete.count = count;
    msg.payload.complete.success = success != 0;
    core_send(&msg);
}

/* Target format names as qemu-img spells its drivers. */
static const char *format_name(uint32_t fmt)
{
    switch (fmt) {
    case ABI_FMT_RAW:
        return "raw";
    case ABI_FMT_QCOW2:
        return "qcow2";
    case ABI_FMT_VMDK4:
        return "vmdk";
    case ABI_FMT_VHD:
        return "vpc";
    case ABI_FMT_VHDX:
        return "vhdx";
    case ABI_FMT_LUKS:
        return "luks";
    default:
        return "unknown";
    }
}

void core_send_measure_result(const struct abi_measure_result *result)
{
    instar_GuestMessage msg = instar_GuestMessage_init_zero;
    struct abi_measure_report rep;
    struct abi_measure_result r;

    if (result == NULL) {
        core_send_error(ABI_ERROR_PANIC, "core", "send_measure_result: NULL result");
        return;
    }
    /* Operations of this build pass a whole struct abi_measure_report. */
    memcpy(&rep, result, sizeof(rep));
    r = rep.result;
    if (r.magic != ABI_MEASURE_RESULT_MAGIC) {
        core_send_error(ABI_ERROR_PANIC, "core", "send_measure_result: bad result magic");
        return;
    }
    msg.level = instar_Level_INFO;
    msg.which_payload = instar_GuestMessage_measure_result_tag;
    COPY_STR(msg.payload.measure_result.target_format, format_name(r.target_format));
    msg.payload.measure_result.required = r.required;
    msg.payload.measure_result.fully_allocated = r.fully_allocated;
    msg.payload.measure_result.resolved_unit_size = r.resolved_unit_size;
    msg.payload.measure_result.error = r.error;
    if (rep.tail_magic == ABI_MEASURE_TAIL_MAGIC && (rep.tail_flags & ABI_MEASURE_TAIL_HAS_BITMAPS)) {
        msg.payload.measure_result.has_bitmaps = true;
        msg.payload.measure_result.bitmaps = rep.bitmaps;
    }
    core_send(&msg);
}

void core_send_reserved_result(const void *result)
{
    (void)result;
    core_send_error(ABI_ERROR_UNSUPPORTED, "core",
                    "this build has no info, check or compare operation");
}

void core_debug_print(const char *text)
{
    if (text == NULL || !(core_boot.flags & ABI_BOOT_FLAG_VERBOSE))
        return;
    debug_req.gpa = (uint64_t)(uintptr_t)text;
    debug_req.length = rt_strnlen(text, ABI_BUF_MAX);
    if (debug_req.length > 0)
        core_doorbell(ABI_DB_DEBUG, (uint64_t)(uintptr_t)&debug_req);
}
