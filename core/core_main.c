/* core_main.c: guest start-up at CPL3, the call table, and the run's end. */
#include "core.h"

#include "abi_blob.h"
#include "rt.h"

ABI_BLOB_NOTE_DEFINE(ABI_BLOB_CORE, ABI_CORE_LOAD_ADDR);

struct abi_boot_info core_boot;

/* Stub addresses, from core_start.S. */
extern const uint64_t core_isr_table[ABI_IDT_ENTRIES];

void core_doorbell(uint32_t offset, uint64_t value)
{
    /* The compiler must not sink request-descriptor stores past the exit. */
    __asm__ volatile("" : : : "memory");
    *(volatile uint64_t *)(uintptr_t)(ABI_DOORBELL_BASE + offset) = value;
    __asm__ volatile("" : : : "memory");
}

void core_idt_init(void)
{
    volatile uint32_t *idt = (volatile uint32_t *)(uintptr_t)ABI_IDT_ADDR;

    for (uint32_t v = 0; v < ABI_IDT_ENTRIES; v++) {
        uint64_t h = core_isr_table[v];

        /* 64-bit interrupt gate: present, DPL 0, type 0xE, IST 0. */
        idt[v * 4 + 0] = (uint32_t)(h & 0xFFFFu) | (uint32_t)ABI_SEL_KCODE << 16;
        idt[v * 4 + 1] = (uint32_t)(h & 0xFFFF0000u) | 0x8E00u;
        idt[v * 4 + 2] = (uint32_t)(h >> 32);
        idt[v * 4 + 3] = 0;
    }
}

void core_panic(const char *message)
{
    core_send_error(ABI_ERROR_PANIC, "core", message);
    core_serial_flush();
    core_doorbell(ABI_DB_EXIT, ABI_EXIT_PANIC);
    __builtin_trap(); /* not reached: the exit doorbell ends the run */
}

static const void *core_get_config(uint32_t *len)
{
    if (len != NULL)
        *len = ABI_OPERATION_CONFIG_SIZE;
    return (const void *)(uintptr_t)ABI_OPERATION_CONFIG_ADDR;
}

static void *core_get_scratch(uint64_t *len)
{
    if (len != NULL)
        *len = core_boot.ram_size - ABI_SCRATCH_BASE;
    return (void *)(uintptr_t)ABI_SCRATCH_BASE;
}

static void core_build_call_table(struct abi_call_table *ct)
{
    ct->magic = ABI_CALL_TABLE_MAGIC;
    ct->version = ABI_CALL_TABLE_VERSION;
    ct->size = sizeof(*ct);
    ct->_reserved = 0;
    ct->device_count = core_device_count;
    ct->device_size = core_device_size;
    ct->device_read = core_device_read;
    ct->device_extent = core_device_extent;
    ct->device_allocated = core_device_allocated;
    ct->get_operation_config = core_get_config;
    ct->get_scratch = core_get_scratch;
    ct->send_error = core_send_error;
    ct->send_complete = core_send_complete;
    ct->debug_print = core_debug_print;
    ct->send_info_result = core_send_reserved_result;
    ct->send_check_result = core_send_reserved_result;
    ct->send_compare_result = core_send_reserved_result;
    ct->send_measure_result = core_send_measure_result;
}

/* No stack protector here: this frame is live while the canary changes. */
__attribute__((noreturn, no_stack_protector)) void core_main(void)
{
    const struct abi_boot_info *bi = (const struct abi_boot_info *)(uintptr_t)ABI_BOOT_INFO_ADDR;
    struct abi_call_table *ct = (struct abi_call_table *)(uintptr_t)ABI_CALL_TABLE_ADDR;
    abi_op_entry_fn *op = (abi_op_entry_fn *)(uintptr_t)ABI_OP_LOAD_ADDR;
    uint64_t rc;

    core_idt_init();
    if (bi->stack_guard != 0)
        __stack_chk_guard = bi->stack_guard;
    /* A plain copy: the page is read-only and written before we start. */
    core_boot = *(const struct abi_boot_info *)(uintptr_t)ABI_BOOT_INFO_ADDR;
    if (core_boot.magic != ABI_BOOT_MAGIC || core_boot.version != ABI_BOOT_VERSION ||
        core_boot.device_count > ABI_MAX_DEVICES || core_boot.ram_size < ABI_RAM_MIN ||
        core_boot.ram_size > ABI_RAM_MAX)
        core_panic("invalid boot info page");
    core_build_call_table(ct);
    rc = op(ct);
    core_serial_flush();
    core_doorbell(ABI_DB_EXIT, rc == 0 ? ABI_EXIT_OK : ABI_EXIT_FAILED);
    __builtin_trap(); /* not reached */
}
