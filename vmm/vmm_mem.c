/* vmm_mem.c: guest RAM, the checked guest-address accessor, and the boot
 * structures (GDT, TSS, page tables) the host builds for the guest. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm.h"

/* x86-64 page-table entry bits. */
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)  /* 2 MiB page in a PD entry */
#define PTE_NX (1ull << 63)

#define SMALL_PAGES (ABI_SMALL_PAGES_END / ABI_PAGE_SIZE)
#define LARGE_PAGE 0x200000ull

int vmm_mem_init(struct vmm_mem *mem, uint64_t ram_size)
{
    uint8_t *map;

    memset(mem, 0, sizeof(*mem));
    if (ram_size < ABI_RAM_MIN || ram_size > ABI_RAM_MAX || ram_size % LARGE_PAGE != 0)
        return -EINVAL;
    /* One guard page on each side: a host overrun faults instead of
     * touching a neighbouring mapping. */
    mem->map_size = ram_size + 2 * ABI_PAGE_SIZE;
    map = mmap(NULL, mem->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
               -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    if (mprotect(map + ABI_PAGE_SIZE, ram_size, PROT_READ | PROT_WRITE) != 0) {
        int err = -errno;

        munmap(map, mem->map_size);
        return err;
    }
    /* Guest RAM must never end up in a core dump of the monitor. */
    (void)madvise(map + ABI_PAGE_SIZE, ram_size, MADV_DONTDUMP);
    mem->ram = map + ABI_PAGE_SIZE;
    mem->ram_size = ram_size;
    return 0;
}

void vmm_mem_fini(struct vmm_mem *mem)
{
    if (mem->ram != NULL)
        munmap(mem->ram - ABI_PAGE_SIZE, mem->map_size);
    mem->ram = NULL;
}

void *vmm_guest_range(const struct vmm_mem *mem, vmm_gpa_t gpa, uint64_t len)
{
    uint64_t end;

    if (mem->ram == NULL || __builtin_add_overflow(gpa.v, len, &end) || end > mem->ram_size)
        return NULL;
    /* An empty range still needs a valid start. */
    if (len == 0 && gpa.v >= mem->ram_size)
        return NULL;
    return mem->ram + gpa.v;
}

bool vmm_mem_set_perm(struct vmm_mem *mem, uint64_t gpa, uint64_t len, uint8_t perm)
{
    uint64_t end;

    if (__builtin_add_overflow(gpa, len, &end) || end > ABI_SMALL_PAGES_END)
        return false;
    for (uint64_t a = gpa & ~(uint64_t)(ABI_PAGE_SIZE - 1); a < end; a += ABI_PAGE_SIZE)
        mem->perm[a / ABI_PAGE_SIZE] = perm;
    return true;
}

/* Store a 64-bit value at a host-chosen, in-range guest address. */
static void put64(const struct vmm_mem *mem, uint64_t gpa, uint64_t v)
{
    uint8_t *p = vmm_guest_range(mem, VMM_GPA(gpa), 8);

    if (p != NULL)
        memcpy(p, &v, 8);
}

static uint64_t pte_flags(uint8_t perm)
{
    uint64_t f = PTE_P | PTE_A | PTE_D;

    if (perm & VMM_PAGE_W)
        f |= PTE_W;
    if (perm & VMM_PAGE_U)
        f |= PTE_U;
    if (!(perm & VMM_PAGE_X))
        f |= PTE_NX;
    return f;
}

static void build_gdt_tss(const struct vmm_mem *mem)
{
    const uint64_t tss = ABI_TSS_ADDR;
    const uint64_t tss_limit = 104 - 1;

    /* Code/data descriptors with the accessed bit preset, so the CPU never
     * writes to the GDT. */
    put64(mem, ABI_GDT_ADDR + 0x00, 0);
    put64(mem, ABI_GDT_ADDR + ABI_SEL_KCODE, 0x00AF9B000000FFFFull);
    put64(mem, ABI_GDT_ADDR + ABI_SEL_KDATA, 0x00CF93000000FFFFull);
    /* 16-byte available 64-bit TSS descriptor. */
    put64(mem, ABI_GDT_ADDR + ABI_SEL_TSS,
          (tss_limit & 0xFFFF) | (tss & 0xFFFFFF) << 16 | 0x89ull << 40 |
              ((tss_limit >> 16) & 0xF) << 48 | ((tss >> 24) & 0xFF) << 56);
    put64(mem, ABI_GDT_ADDR + ABI_SEL_TSS + 8, tss >> 32);
    put64(mem, ABI_GDT_ADDR + (ABI_SEL_UDATA & ~3u), 0x00CFF3000000FFFFull);
    put64(mem, ABI_GDT_ADDR + (ABI_SEL_UCODE & ~3u), 0x00AFFB000000FFFFull);

    /* TSS: only rsp0 matters; the I/O bitmap offset points past the limit,
     * so every port is denied at CPL3. */
    put64(mem, tss + 4, ABI_KSTACK_TOP);
    put64(mem, tss + 96, (uint64_t)104 << 48);
}

void vmm_mem_build_tables(struct vmm_mem *mem)
{
    const uint64_t table_flags = PTE_P | PTE_W | PTE_U | PTE_A;

    build_gdt_tss(mem);
    put64(mem, ABI_PML4_ADDR, ABI_PDPT_ADDR | table_flags);
    put64(mem, ABI_PDPT_ADDR + 0 * 8, ABI_PD0_ADDR | table_flags);
    put64(mem, ABI_PDPT_ADDR + 3 * 8, ABI_PD3_ADDR | table_flags);

    /* First 4 MiB: 4 KiB pages with per-page permissions. */
    for (uint64_t i = 0; i < ABI_PT_COUNT; i++)
        put64(mem, ABI_PD0_ADDR + i * 8, (ABI_PT_ADDR + i * ABI_PAGE_SIZE) | table_flags);
    for (uint64_t pg = 0; pg < SMALL_PAGES; pg++) {
        uint64_t e = 0;

        if (mem->perm[pg] != VMM_PAGE_ABSENT)
            e = pg * ABI_PAGE_SIZE | pte_flags(mem->perm[pg]);
        put64(mem, ABI_PT_ADDR + pg * 8, e);
    }
    /* The rest of RAM: 2 MiB pages, user read-write, never executable. */
    for (uint64_t a = ABI_SMALL_PAGES_END; a < mem->ram_size; a += LARGE_PAGE)
        put64(mem, ABI_PD0_ADDR + (a / LARGE_PAGE) * 8,
              a | PTE_PS | pte_flags(VMM_PAGE_R | VMM_PAGE_W | VMM_PAGE_U));
    /* Doorbell window: mapped, but no memslot behind it, so every store
     * exits to the host as MMIO. */
    put64(mem, ABI_PD3_ADDR + ((ABI_DOORBELL_BASE - 0xC0000000ull) / LARGE_PAGE) * 8,
          ABI_DOORBELL_BASE | PTE_PS | pte_flags(VMM_PAGE_R | VMM_PAGE_W | VMM_PAGE_U));
}
