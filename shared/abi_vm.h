/* abi_vm.h: the host <-> guest boundary: guest memory map, boot info page,
 * doorbell hypercalls and their request descriptors.
 *
 * Included by vmm/ (host) and core/ (guest).  Fixed-width types only; every
 * struct size and field offset is pinned by a static assertion, and every
 * region of the memory map is checked against its neighbours at compile time.
 *
 * Guest memory is identity mapped (GVA == GPA).  The host builds the page
 * tables; the first ABI_SMALL_PAGES_END bytes use 4 KiB pages so that page 0,
 * the guard gaps and the read-only blob segments get their own permissions.
 */
#ifndef INSTAR_ABI_VM_H
#define INSTAR_ABI_VM_H

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>
#endif

/* Constants carry no C integer suffix: core_start.S includes this file. */
#define ABI_PAGE_SIZE 0x1000

/* ---- Memory map ------------------------------------------------------- */
/* Page 0 is never mapped, so a NULL dereference faults with CR2 = 0. */
#define ABI_GDT_ADDR 0x1000          /* GDT, host-written, supervisor only */
#define ABI_IDT_ADDR 0x2000          /* IDT, filled by core at CPL3 */
#define ABI_IDT_ENTRIES 32           /* exception vectors only, no IRQs */
#define ABI_TSS_ADDR 0x3000          /* 64-bit TSS, host-written */
#define ABI_PML4_ADDR 0x4000         /* page tables, host-written */
#define ABI_PDPT_ADDR 0x5000
#define ABI_PD0_ADDR 0x6000          /* PD for GiB 0 (RAM) */
#define ABI_PD3_ADDR 0x7000          /* PD for GiB 3 (doorbell window) */
#define ABI_PT_ADDR 0x8000           /* 2 page tables for the first 4 MiB */
#define ABI_PT_COUNT 2
#define ABI_BOOT_INFO_ADDR 0xA000    /* struct abi_boot_info, host-written */
#define ABI_OPERATION_CONFIG_ADDR 0xB000 /* 4 KiB operation config page */
#define ABI_OPERATION_CONFIG_SIZE 0x1000
#define ABI_CALL_TABLE_ADDR 0xC000   /* struct abi_call_table, core-written */
#define ABI_CALL_TABLE_SIZE 0x1000
/* 0xD000 .. 0x1FFFF: unmapped guard */
#define ABI_OP_LOAD_ADDR 0x20000     /* operation blob load address and entry */
#define ABI_OP_MAX_SIZE 0x60000      /* 384 KiB including .bss */
/* 0x80000 .. 0xFFFFF: unmapped guard */
#define ABI_CORE_LOAD_ADDR 0x100000  /* core runtime blob */
#define ABI_CORE_MAX_SIZE 0x100000   /* 1 MiB including .bss */
/* 0x200000: one unmapped guard page below each stack */
#define ABI_KSTACK_BASE 0x201000     /* exception stack (TSS.rsp0), CPL0 only */
#define ABI_KSTACK_TOP 0x210000
#define ABI_USTACK_BASE 0x211000     /* CPL3 stack for core and operation */
#define ABI_USTACK_TOP 0x300000
/* 0x300000 .. 0x3FFFFF: unmapped guard */
#define ABI_SMALL_PAGES_END 0x400000 /* end of the 4 KiB-page area */
#define ABI_SCRATCH_BASE 0x400000    /* operation scratch: to the end of RAM */

#define ABI_RAM_MIN 0x1000000        /* 16 MiB */
#define ABI_RAM_DEFAULT 0x4000000    /* 64 MiB */
#define ABI_RAM_MAX 0x40000000       /* 1 GiB: one page directory */

/* Doorbell window: 2 MiB of guest-physical space with no memory behind it.
 * An 8-byte store to ABI_DOORBELL_BASE + ABI_DB_* exits to the host as
 * KVM_EXIT_MMIO; the stored value is the argument (usually the GPA of a
 * request descriptor in guest RAM). */
#define ABI_DOORBELL_BASE 0xD0000000
#define ABI_DOORBELL_SIZE 0x200000

/* Segment selectors in the host-built GDT. */
#define ABI_SEL_KCODE 0x08
#define ABI_SEL_KDATA 0x10
#define ABI_SEL_TSS 0x18             /* 16-byte descriptor: slots 3 and 4 */
#define ABI_SEL_UDATA 0x2B           /* slot 5, RPL 3 */
#define ABI_SEL_UCODE 0x33           /* slot 6, RPL 3 */
#define ABI_GDT_ENTRIES 7

/* ---- Doorbells ----------------------------------------------------------- */
/* Offsets inside the doorbell window.  Every store must be 8 bytes wide. */
#define ABI_DB_READ 0x00     /* value: GPA of struct abi_read_req */
#define ABI_DB_EXTENTS 0x08  /* value: GPA of struct abi_extents_req */
#define ABI_DB_SERIAL 0x10   /* value: GPA of struct abi_buf_req (frame bytes) */
#define ABI_DB_DEBUG 0x18    /* value: GPA of struct abi_buf_req (debug text) */
#define ABI_DB_FAULT 0x20    /* value: exception vector; frame on the kstack */
#define ABI_DB_EXIT 0x28     /* value: guest exit status; ends the run */
#define ABI_DB_LAST ABI_DB_EXIT

/* Status codes written back into request descriptors (negative = error). */
#define ABI_HC_OK 0
#define ABI_HC_EINVAL (-22)   /* bad device, range or length */
#define ABI_HC_EIO (-5)       /* host I/O failed */

/* Largest single device read; the guest splits larger reads. */
#define ABI_READ_MAX 0x800000 /* 8 MiB */
/* Largest serial or debug flush. */
#define ABI_BUF_MAX 0x4000    /* 16 KiB */
/* Largest extent batch. */
#define ABI_EXTENTS_MAX 512

#ifndef __ASSEMBLER__
/* ---- Compile-time layout checks ----------------------------------------- */
#define ABI_END(base, size) ((uint64_t)(base) + (uint64_t)(size))
#define ABI_BEFORE(a_base, a_size, b_base) (ABI_END(a_base, a_size) <= (uint64_t)(b_base))

_Static_assert(ABI_BEFORE(ABI_GDT_ADDR, ABI_PAGE_SIZE, ABI_IDT_ADDR), "GDT/IDT overlap");
_Static_assert(ABI_IDT_ENTRIES * 16u <= ABI_PAGE_SIZE, "IDT exceeds its page");
_Static_assert(ABI_BEFORE(ABI_IDT_ADDR, ABI_PAGE_SIZE, ABI_TSS_ADDR), "IDT/TSS overlap");
_Static_assert(ABI_BEFORE(ABI_TSS_ADDR, ABI_PAGE_SIZE, ABI_PML4_ADDR), "TSS/PML4 overlap");
_Static_assert(ABI_BEFORE(ABI_PML4_ADDR, ABI_PAGE_SIZE, ABI_PDPT_ADDR), "PML4/PDPT overlap");
_Static_assert(ABI_BEFORE(ABI_PDPT_ADDR, ABI_PAGE_SIZE, ABI_PD0_ADDR), "PDPT/PD0 overlap");
_Static_assert(ABI_BEFORE(ABI_PD0_ADDR, ABI_PAGE_SIZE, ABI_PD3_ADDR), "PD0/PD3 overlap");
_Static_assert(ABI_BEFORE(ABI_PD3_ADDR, ABI_PAGE_SIZE, ABI_PT_ADDR), "PD3/PT overlap");
_Static_assert(ABI_BEFORE(ABI_PT_ADDR, ABI_PT_COUNT * ABI_PAGE_SIZE, ABI_BOOT_INFO_ADDR),
               "PT/boot info overlap");
_Static_assert(ABI_PT_COUNT * 0x200000u == ABI_SMALL_PAGES_END, "PTs must cover the small-page area");
_Static_assert(ABI_BEFORE(ABI_BOOT_INFO_ADDR, ABI_PAGE_SIZE, ABI_OPERATION_CONFIG_ADDR),
               "boot info/config overlap");
_Static_assert(ABI_BEFORE(ABI_OPERATION_CONFIG_ADDR, ABI_OPERATION_CONFIG_SIZE, ABI_CALL_TABLE_ADDR),
               "config/call table overlap");
_Static_assert(ABI_BEFORE(ABI_CALL_TABLE_ADDR, ABI_CALL_TABLE_SIZE, ABI_OP_LOAD_ADDR),
               "call table/operation overlap");
_Static_assert(ABI_OP_LOAD_ADDR == 0x20000u && ABI_OP_MAX_SIZE == 0x60000u,
               "operation load address and cap are fixed by the design");
_Static_assert(ABI_BEFORE(ABI_OP_LOAD_ADDR, ABI_OP_MAX_SIZE, ABI_CORE_LOAD_ADDR),
               "operation/core overlap");
_Static_assert(ABI_BEFORE(ABI_CORE_LOAD_ADDR, ABI_CORE_MAX_SIZE, ABI_KSTACK_BASE - ABI_PAGE_SIZE),
               "core/guard/kernel stack overlap");
_Static_assert(ABI_BEFORE(ABI_KSTACK_TOP, ABI_PAGE_SIZE, ABI_USTACK_BASE),
               "kernel stack needs a guard page before the user stack");
_Static_assert(ABI_USTACK_TOP <= ABI_SCRATCH_BASE, "user stack/scratch overlap");
_Static_assert(ABI_SCRATCH_BASE >= ABI_SMALL_PAGES_END, "scratch starts after the small-page area");
_Static_assert(ABI_SCRATCH_BASE < ABI_RAM_MIN, "scratch must exist at the smallest RAM size");
_Static_assert(ABI_RAM_MAX <= 0x40000000u, "RAM must fit the one page directory PD0");
_Static_assert(ABI_DOORBELL_BASE >= 0xC0000000u &&
               ABI_END(ABI_DOORBELL_BASE, ABI_DOORBELL_SIZE) <= 0x100000000u,
               "doorbell window must lie in GiB 3 (PD3)");
_Static_assert(ABI_GDT_ENTRIES * 8u <= ABI_PAGE_SIZE, "GDT exceeds its page");
_Static_assert(ABI_SEL_UCODE / 8u < ABI_GDT_ENTRIES, "selector outside GDT");

/* Read `length` bytes at byte `offset` of device `dev` into guest RAM at
 * `dest_gpa`.  The host writes `result`: bytes read (short only at end of
 * device) or a negative ABI_HC_* code. */
struct abi_read_req {
    uint32_t dev;
    uint32_t _pad;
    uint64_t offset;
    uint64_t length;   /* 1 .. ABI_READ_MAX */
    uint64_t dest_gpa;
    int64_t result;    /* OUT */
};
_Static_assert(sizeof(struct abi_read_req) == 40, "abi_read_req size");
_Static_assert(offsetof(struct abi_read_req, offset) == 8, "abi_read_req.offset");
_Static_assert(offsetof(struct abi_read_req, length) == 16, "abi_read_req.length");
_Static_assert(offsetof(struct abi_read_req, dest_gpa) == 24, "abi_read_req.dest_gpa");
_Static_assert(offsetof(struct abi_read_req, result) == 32, "abi_read_req.result");

/* One extent of a device: [offset, offset + length) is all data or all hole,
 * as the host file's SEEK_DATA/SEEK_HOLE report it. */
#define ABI_EXTENT_HOLE 0
#define ABI_EXTENT_DATA 1
struct abi_extent {
    uint64_t offset;
    uint64_t length;
    uint32_t kind;     /* ABI_EXTENT_HOLE or ABI_EXTENT_DATA */
    uint32_t _pad;
};
_Static_assert(sizeof(struct abi_extent) == 24, "abi_extent size");
_Static_assert(offsetof(struct abi_extent, length) == 8, "abi_extent.length");
_Static_assert(offsetof(struct abi_extent, kind) == 16, "abi_extent.kind");

/* Describe device `dev` from byte `offset` onwards as up to `max_entries`
 * consecutive extents written to `dest_gpa`.  The host writes `result`: the
 * number of extents (0 at or past the end of the device) or an error. */
struct abi_extents_req {
    uint32_t dev;
    uint32_t max_entries; /* 1 .. ABI_EXTENTS_MAX */
    uint64_t offset;
    uint64_t dest_gpa;
    int64_t result;       /* OUT */
};
_Static_assert(sizeof(struct abi_extents_req) == 32, "abi_extents_req size");
_Static_assert(offsetof(struct abi_extents_req, offset) == 8, "abi_extents_req.offset");
_Static_assert(offsetof(struct abi_extents_req, dest_gpa) == 16, "abi_extents_req.dest_gpa");
_Static_assert(offsetof(struct abi_extents_req, result) == 24, "abi_extents_req.result");

/* A byte buffer in guest RAM (serial frames or debug text). */
struct abi_buf_req {
    uint64_t gpa;
    uint64_t length;   /* 1 .. ABI_BUF_MAX */
};
_Static_assert(sizeof(struct abi_buf_req) == 16, "abi_buf_req size");
_Static_assert(offsetof(struct abi_buf_req, length) == 8, "abi_buf_req.length");

/* ---- Boot info page -------------------------------------------------------- */
#define ABI_BOOT_MAGIC 0x544F4F42 /* "BOOT" */
#define ABI_BOOT_VERSION 2
/* Devices of one run: a source image, its backing chain (at most 16
 * images), their data files and vmdk extent files. */
#define ABI_MAX_DEVICES 64
#define ABI_BOOT_FLAG_VERBOSE 0x1 /* debug_print reaches the host */

struct abi_device_info {
    uint64_t size;       /* bytes */
    uint64_t allocated;  /* host file st_blocks * 512 */
};
_Static_assert(sizeof(struct abi_device_info) == 16, "abi_device_info size");

struct abi_boot_info {
    uint32_t magic;
    uint32_t version;
    uint64_t ram_size;       /* bytes of guest RAM from GPA 0 */
    uint64_t stack_guard;    /* random value for the stack protector */
    uint32_t flags;          /* ABI_BOOT_FLAG_* */
    uint32_t device_count;   /* 0 .. ABI_MAX_DEVICES */
    struct abi_device_info devices[ABI_MAX_DEVICES];
};
_Static_assert(offsetof(struct abi_boot_info, ram_size) == 8, "abi_boot_info.ram_size");
_Static_assert(offsetof(struct abi_boot_info, stack_guard) == 16, "abi_boot_info.stack_guard");
_Static_assert(offsetof(struct abi_boot_info, flags) == 24, "abi_boot_info.flags");
_Static_assert(offsetof(struct abi_boot_info, device_count) == 28, "abi_boot_info.device_count");
_Static_assert(offsetof(struct abi_boot_info, devices) == 32, "abi_boot_info.devices");
_Static_assert(sizeof(struct abi_boot_info) == 32 + 16 * ABI_MAX_DEVICES, "abi_boot_info size");
_Static_assert(sizeof(struct abi_boot_info) <= ABI_PAGE_SIZE, "boot info exceeds its page");

/* Guest exit status passed with ABI_DB_EXIT. */
#define ABI_EXIT_OK 0
#define ABI_EXIT_FAILED 1  /* operation reported failure */
#define ABI_EXIT_PANIC 2   /* core or operation panicked */

#endif /* !__ASSEMBLER__ */
#endif /* INSTAR_ABI_VM_H */
