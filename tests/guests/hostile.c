/* hostile.c: a test-only operation blob that misbehaves on purpose.
 *
 * Built for tests, never installed.  tests/functional/test_hostile.py runs
 * it as measure.bin; the `--size N` value picks the misbehaviour, and the
 * test checks that instar ends every run with the right exit status and a
 * clear message, within its deadline.
 */
#include <stdint.h>

#include "abi_calltable.h"
#include "abi_format.h"
#include "abi_measure.h"
#include "abi_vm.h"
#include "abi_wire.h"
#include "rt.h"

enum mode {
    H_LOOP = 1,        /* spin forever */
    H_FAULT = 2,       /* write to an unmapped address */
    H_NULL = 3,        /* read address 0 */
    H_PANIC = 4,       /* report a panic */
    H_GARBAGE = 5,     /* raw garbage on the serial channel */
    H_BIGFRAME = 6,    /* a frame header announcing 64 KiB */
    H_NORESULT = 7,    /* return without any result */
    H_TWORESULTS = 8,  /* two measure results */
    H_BADREQ = 9,      /* a read request descriptor outside RAM */
    H_NXEXEC = 10,     /* jump into a data page */
    H_TEXTWRITE = 11,  /* write into our own code */
    H_UD2 = 12,        /* invalid opcode */
    H_PORTIO = 13,     /* port I/O at CPL3 */
    H_BADDOORBELL = 14,/* store to an undefined doorbell */
    H_FLOOD = 15,      /* more than 1 MiB of valid frames */
    H_HLT = 16,        /* hlt at CPL3 */
    H_IDTWIPE = 17,    /* destroy the IDT, then fault: triple fault */
    H_BADMAGIC = 18,   /* a result with a wrong magic */
    H_DEBUGFLOOD = 19, /* 16 MiB of debug text, then a valid result */
    H_STACK = 20,      /* unbounded recursion into the stack guard */
    H_UNTERMINATED = 21, /* an error message without a NUL in 64 KiB */
    H_IMPOSSIBLE = 22, /* a result with required > fully allocated */
    H_BADREAD = 23,    /* a device read into a destination outside RAM */
    H_NEEDFILE = 24,   /* ask for a backing file with no source at all */
    H_OK = 100,        /* behave: result 100/200 (control case) */
};

static void doorbell(uint32_t off, uint64_t v)
{
    __asm__ volatile("" : : : "memory");
    *(volatile uint64_t *)(uintptr_t)(ABI_DOORBELL_BASE + off) = v;
    __asm__ volatile("" : : : "memory");
}

static struct abi_buf_req buf_req;
static uint8_t buf[ABI_BUF_MAX];

static void send_result(const struct abi_call_table *ct, uint64_t req, uint64_t full)
{
    struct abi_measure_report r = {
        .result = {
            .magic = ABI_MEASURE_RESULT_MAGIC,
            .target_format = ABI_FMT_RAW,
            .required = req,
            .fully_allocated = full,
        },
    };

    ct->send_measure_result(&r.result);
}

static uint64_t ask_backing(const struct abi_call_table *ct)
{
    static char name[256];
    int64_t n = ct->device_read(0, 1, sizeof(name) - 1, name);
    uint32_t devs = ct->device_count();

    for (int64_t i = 0; i < n; i++) {
        if (name[i] == '\n') {
            name[i] = '\0';
            break;
        }
    }
    name[n > 0 ? n : 0] = '\0';
    if (name[0] == '*' && name[1] == '\0') {
        name[0] = 'f';
        name[1] = (char)('a' + devs % 26);
        name[2] = (char)('a' + devs / 26);
        name[3] = '\0';
    }
    ct->send_error(ABI_ERROR_NEED_BACKING, "hostile", name);
    return 1;
}

/* Source mode: exercise the device services.  Read device 0 through the
 * call table in chunks of odd sizes (crossing core's 8 MiB request limit),
 * hash it with FNV-1a, and walk its extents.  Reports required = the hash
 * (top bit cleared, so required <= fully) and fully = the hash with the top
 * bit set; the test compares both with the file, plus the data bytes. */
static uint64_t exercise_devices(const struct abi_call_table *ct)
{
    static const uint64_t chunks[] = {1, 511, 4096, 65537, 9u << 20};
    uint64_t scratch_len;
    uint8_t *mem = ct->get_scratch(&scratch_len);
    uint64_t size = ct->device_size(0);
    uint64_t hash = 0xcbf29ce484222325ull;
    uint64_t off = 0;
    uint64_t data = 0;
    struct abi_extent e;
    int32_t rc;
    struct abi_measure_report rep = {.result = {.magic = ABI_MEASURE_RESULT_MAGIC,
                                                .target_format = ABI_FMT_RAW}};
    struct abi_measure_result *r = &rep.result;

    for (unsigned i = 0; off < size; i++) {
        uint64_t want = chunks[i % 5];
        int64_t got;

        if (want > scratch_len)
            want = scratch_len;
        got = ct->device_read(0, off, want, mem);
        if (got <= 0) {
            ct->send_error(ABI_ERROR_IO, "exercise", "device read failed");
            return 1;
        }
        for (int64_t k = 0; k < got; k++)
            hash = (hash ^ mem[k]) * 0x100000001b3ull;
        off += (uint64_t)got;
    }
    /* Reads at and past the end, and of another device, are refused cleanly. */
    if (ct->device_read(0, size, 1, mem) != 0 || ct->device_read(0, size + 1, 1, mem) >= 0 ||
        ct->device_read(1, 0, 1, mem) >= 0) {
        ct->send_error(ABI_ERROR_IO, "exercise", "out-of-range read accepted");
        return 1;
    }
    for (off = 0; (rc = ct->device_extent(0, off, &e)) == 1; off += e.length) {
        if (e.offset != off || e.length == 0) {
            ct->send_error(ABI_ERROR_IO, "exercise", "bad extent");
            return 1;
        }
        if (e.kind == ABI_EXTENT_DATA)
            data += e.length;
    }
    if (rc != 0 || off != size) {
        ct->send_error(ABI_ERROR_IO, "exercise", "extents do not cover the device");
        return 1;
    }
    r->required = data;
    r->fully_allocated = hash | (1ull << 63);
    ct->send_measure_result(r);
    ct->send_complete("measure", data, 1);
    return 0;
}

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(volatile int depth)
{
    volatile uint8_t pad[1024];

    pad[0] = (uint8_t)depth;
    return recurse(depth + 1) + pad[0];
}

uint64_t op_entry(const struct abi_call_table *ct);

__attribute__((section(".text.entry"))) uint64_t op_entry(const struct abi_call_table *ct)
{
    uint32_t len;
    const struct abi_measure_config *cfg = ct->get_operation_config(&len);
    uint64_t mode = cfg->virtual_size_override;

    if (!(cfg->flags & ABI_MEASURE_FLAG_SIZE_MODE)) {
        uint8_t first = 0;

        /* A source starting with 'L' keeps the guest busy for inspection. */
        if (ct->device_read(0, 0, 1, &first) == 1 && first == 'L')
            for (;;)
                __asm__ volatile("");
        /* 'B' + name: ask for that backing file on every run, whatever the
         * host gave; "*" asks for "f<devices>", a new file each run. */
        if (first == 'B')
            return ask_backing(ct);
        return exercise_devices(ct);
    }
    switch (mode) {
    case H_LOOP:
        for (;;)
            __asm__ volatile("");
    case H_FAULT:
        *(volatile uint64_t *)0x80000000000ull = 1;
        break;
    case H_NULL:
        return *(volatile uint64_t *)(uintptr_t)0;
    case H_PANIC:
        ct->send_error(ABI_ERROR_PANIC, "hostile", "deliberate panic");
        return 1;
    case H_NEEDFILE:
        ct->send_error(ABI_ERROR_NEED_BACKING, "hostile", "/etc/passwd");
        return 1;
    case H_GARBAGE:
        memset(buf, 0x41, 64);
        buf_req.gpa = (uint64_t)(uintptr_t)buf;
        buf_req.length = 64;
        doorbell(ABI_DB_SERIAL, (uint64_t)(uintptr_t)&buf_req);
        break;
    case H_BIGFRAME: {
        struct abi_frame_hdr h = {ABI_FRAME_MAGIC, 0x10000, 0, 0};

        memcpy(buf, &h, sizeof(h));
        buf_req.gpa = (uint64_t)(uintptr_t)buf;
        buf_req.length = sizeof(h);
        doorbell(ABI_DB_SERIAL, (uint64_t)(uintptr_t)&buf_req);
        break;
    }
    case H_NORESULT:
        return 0;
    case H_TWORESULTS:
        send_result(ct, 1, 2);
        send_result(ct, 1, 2);
        ct->send_complete("measure", 0, 1);
        return 0;
    case H_BADREQ:
        doorbell(ABI_DB_READ, 0x7FFFFFFF000ull);
        break;
    case H_NXEXEC: {
        static uint8_t code[16] = {0xC3}; /* ret, in .data */

        ((void (*)(void))(uintptr_t)code)();
        break;
    }
    case H_TEXTWRITE:
        *(volatile uint8_t *)(uintptr_t)ABI_OP_LOAD_ADDR = 0xCC;
        break;
    case H_UD2:
        __asm__ volatile("ud2");
        break;
    case H_PORTIO:
        __asm__ volatile("outb %%al, $0x80" : : "a"(0));
        break;
    case H_BADDOORBELL:
        doorbell(0x1000, 0);
        break;
    case H_FLOOD:
        for (int i = 0; i < 100000; i++)
            ct->send_error(ABI_ERROR_PLAIN, "hostile", "flooding the serial channel with errors");
        return 1;
    case H_HLT:
        __asm__ volatile("hlt");
        break;
    case H_IDTWIPE:
        memset((void *)(uintptr_t)ABI_IDT_ADDR, 0, ABI_PAGE_SIZE);
        __asm__ volatile("ud2");
        break;
    case H_BADMAGIC: {
        struct abi_measure_report r = {.result = {.magic = 0xBAD}};

        ct->send_measure_result(&r.result);
        return 1;
    }
    case H_DEBUGFLOOD:
        memset(buf, 'x', sizeof(buf));
        buf_req.gpa = (uint64_t)(uintptr_t)buf;
        buf_req.length = sizeof(buf);
        for (int i = 0; i < 1024; i++)
            doorbell(ABI_DB_DEBUG, (uint64_t)(uintptr_t)&buf_req);
        send_result(ct, 100, 200);
        ct->send_complete("measure", 0, 1);
        return 0;
    case H_STACK:
        return (uint64_t)recurse(0);
    case H_UNTERMINATED: {
        uint64_t scratch_len;
        char *s = ct->get_scratch(&scratch_len);

        memset(s, 'A', 65536);
        ct->send_error(ABI_ERROR_PLAIN, "hostile", s);
        return 1;
    }
    case H_IMPOSSIBLE:
        send_result(ct, 2, 1);
        ct->send_complete("measure", 0, 1);
        return 0;
    case H_BADREAD: {
        static struct abi_read_req rq;

        rq.dev = 0;
        rq.offset = 0;
        rq.length = 4096;
        rq.dest_gpa = 0x7FFFFFF0000ull;
        doorbell(ABI_DB_READ, (uint64_t)(uintptr_t)&rq);
        break;
    }
    case H_OK:
        send_result(ct, 100, 200);
        ct->send_complete("measure", 0, 1);
        return 0;
    default:
        break;
    }
    return 1;
}
