/* fuzz_frames.c: the host's view of a hostile guest's serial channel.
 *
 * The input is a byte stream the guest flushed, fed to the frame splitter
 * in chunks whose sizes come from the input; every complete frame goes
 * through protobuf-c and the GuestMessage validator.  Invariants: no crash
 * or sanitizer report, the reader never holds more than one frame, a
 * failure latches.  Frames with a valid header can be forged by the fuzzer
 * through the dictionary (tests/fuzz/fuzz.dict).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *ctx, const uint8_t *payload, size_t len)
{
    struct vmm_guest_report *rep = ctx;
    char why[160];

    if (len == 0 || len > ABI_FRAME_MAX_PAYLOAD)
        abort(); /* the splitter let a bad length through */
    return vmm_proto_decode(rep, payload, len, why, sizeof(why)) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wire_reader r;
    struct vmm_guest_report rep;
    size_t off = 0;
    int last = WIRE_OK;
    uint8_t step;

    if (size < 1)
        return 0;
    memset(&rep, 0, sizeof(rep));
    wire_reader_init(&r);
    step = data[0] ? data[0] : 1;
    data++;
    size--;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        int rc = wire_reader_feed(&r, data + off, n, on_frame, &rep);

        if (r.have > sizeof(r.buf) || r.need > sizeof(r.buf))
            abort();
        if (last != WIRE_OK && rc != last)
            abort(); /* a failure must latch */
        last = rc;
        off += n;
    }
    return 0;
}

#include "fuzz_main.h"
