/* core.h: internal API of the guest runtime (core.bin).
 *
 * Core runs almost entirely at CPL3: core_start.S drops from CPL0 to
 * core_main() with one iretq; only the exception stubs run at CPL0 again.
 * Core owns the serial channel, the device services and the call table it
 * hands to the operation loaded at ABI_OP_LOAD_ADDR.
 */
#ifndef INSTAR_CORE_H
#define INSTAR_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi_calltable.h"
#include "abi_vm.h"
#include "abi_wire.h"

/* The single guest -> host transition: an 8-byte store of `value` to the
 * doorbell at `offset` (ABI_DB_*).  Everything else builds on this, so a
 * port-I/O variant would only replace this function. */
void core_doorbell(uint32_t offset, uint64_t value);

/* Boot info copied out of the host page at start-up (core_main). */
extern struct abi_boot_info core_boot;

/* Fill the 32 exception gates of the IDT at ABI_IDT_ADDR (CPL3, before any
 * other work).  Until then a fault triple-faults, which the host reports. */
void core_idt_init(void);

/* ---- serial channel (core_serial.c) ---------------------------------- */
/* Services exported through the call table. */
void core_send_error(uint32_t code, const char *operation, const char *message);
void core_send_complete(const char *operation, uint64_t count, uint32_t success);
void core_send_measure_result(const struct abi_measure_result *result);
void core_send_reserved_result(const void *result);
void core_debug_print(const char *text);
/* Push buffered frames to the host (one exit). */
void core_serial_flush(void);

/* ---- devices (core_dev.c) --------------------------------------------- */
uint32_t core_device_count(void);
uint64_t core_device_size(uint32_t dev);
uint64_t core_device_allocated(uint32_t dev);
int64_t core_device_read(uint32_t dev, uint64_t offset, uint64_t length, void *buf);
int32_t core_device_extent(uint32_t dev, uint64_t offset, struct abi_extent *out);

/* Report `message` as a panic, flush, and end the run.  Never returns. */
__attribute__((noreturn)) void core_panic(const char *message);

/* Entry from core_start.S at CPL3. */
__attribute__((noreturn)) void core_main(void);

#endif /* INSTAR_CORE_H */
