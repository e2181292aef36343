/* vmm_kvm.c: boot a fresh KVM guest for one operation and run it.
 *
 * One vCPU, no irqchip, no firmware: the vCPU starts in 64-bit mode at
 * core's entry with host-built GDT, TSS and page tables.  The guest reaches
 * the host only through doorbells (stores to an unbacked MMIO window, see
 * shared/abi_vm.h).  This file holds the single run loop every operation
 * uses; anything unexpected ends the run as a guest fault, and a watchdog
 * timer ends a guest that runs past its deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "abi_blob.h"
#include "abi_calltable.h"
#include "abi_wire.h"
#include "vmm.h"
#include "wire.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Debug text kept per run; the rest is counted and dropped. */
#define DEBUG_BUDGET (64u << 10)

struct vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_fd;
    int dev_fd[ABI_MAX_DEVICES]; /* the images, at VMM_FD_IMAGE0.. after lockdown */
    struct kvm_run *run;
    size_t run_size;
    struct vmm_mem mem;
    const struct vmm_run_params *p;
    struct vmm_run_result *res;
    struct wire_reader wire;
    uint64_t read_budget;
    uint64_t debug_bytes;
    timer_t timer;
    bool timer_armed;
    bool done;
};

/* The watchdog's view of the running vCPU (one VM per process at a time). */
static struct kvm_run *volatile watchdog_run;
static volatile sig_atomic_t watchdog_fired;

static void watchdog_handler(int sig)
{
    (void)sig;
    watchdog_fired = 1;
    if (watchdog_run != NULL)
        watchdog_run->immediate_exit = 1;
}

static void set_outcome(struct vm *vm, enum vmm_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_outcome(struct vm *vm, enum vmm_outcome o, const char *fmt, ...)
{
    va_list ap;

    vm->res->outcome = o;
    va_start(ap, fmt);
    vsnprintf(vm->res->message, sizeof(vm->res->message), fmt, ap);
    va_end(ap);
    vm->done = true;
}

/* ---- setup ------------------------------------------------------------- */

/* Which hypervisor backs /dev/kvm (platform.md: timings differ a lot). */
static const char *kvm_backend(void)
{
    if (access("/sys/module/kvm_pvm", F_OK) == 0)
        return "kvm_pvm (CPL0 emulated, CPL3 native)";
    if (access("/sys/module/kvm_intel", F_OK) == 0)
        return "kvm_intel (hardware)";
    if (access("/sys/module/kvm_amd", F_OK) == 0)
        return "kvm_amd (hardware)";
    return "unknown";
}

/*
 * A vCPU created without an in-kernel local APIC makes KVM flip a global
 * static key (kvm_has_noapic_vcpu) on creation and again on destruction;
 * each flip patches kernel text on every host CPU, which on kvm_pvm hosts
 * is ~0.3 ms of a ~2.5 ms run.  A split irqchip (local APIC in the kernel,
 * no PIC or IOAPIC) avoids both flips; the APIC's own key is released
 * lazily by the kernel.  The guest never enables interrupts or touches the
 * APIC (its page is unmapped at CPL3); a CPL0 hlt would now wait in the
 * kernel for the watchdog instead of exiting (the core only halts after
 * the doorbell that ends the run).  Without the capability, runs go on
 * without it.
 */
static void enable_split_irqchip(struct vm *vm)
{
    struct kvm_enable_cap cap;

    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0)
        return;
    memset(&cap, 0, sizeof(cap));
    cap.cap = KVM_CAP_SPLIT_IRQCHIP;
    cap.args[0] = 0; /* no IOAPIC routes */
    if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) != 0 && vmm_debug_enabled)
        vmm_debug("KVM_CAP_SPLIT_IRQCHIP: %s", vmm_strerror(errno));
}

static bool kvm_open(struct vm *vm)
{
    int mmap_size;

    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        set_outcome(vm, VMM_RUN_HOST, "cannot open /dev/kvm: %s", vmm_strerror(errno));
        return false;
    }
    if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION ||
        ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 ||
        ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
        set_outcome(vm, VMM_RUN_HOST, "/dev/kvm lacks the required API or capabilities");
        return false;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        set_outcome(vm, VMM_RUN_HOST, "KVM_CREATE_VM: %s", vmm_strerror(errno));
        return false;
    }
    enable_split_irqchip(vm);
    mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size < (int)sizeof(struct kvm_run)) {
        set_outcome(vm, VMM_RUN_HOST, "KVM_GET_VCPU_MMAP_SIZE failed");
        return false;
    }
    vm->run_size = (size_t)mmap_size;
    if (vmm_debug_enabled)
        vmm_debug("kvm backend: %s", kvm_backend());
    return true;
}

static bool setup_memory(struct vm *vm)
{
    uint64_t ram = vm->p->ram_size ? vm->p->ram_size : ABI_RAM_DEFAULT;
    struct kvm_userspace_memory_region region;
    int rc = vmm_mem_init(&vm->mem, ram);

    if (rc != 0) {
        set_outcome(vm, VMM_RUN_HOST, "cannot map %llu bytes of guest RAM: %s",
                    (unsigned long long)ram, vmm_strerror(-rc));
        return false;
    }
    memset(&region, 0, sizeof(region));
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = vm->mem.ram_size;
    region.userspace_addr = (uint64_t)(uintptr_t)vm->mem.ram;
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
        set_outcome(vm, VMM_RUN_HOST, "KVM_SET_USER_MEMORY_REGION: %s", vmm_strerror(errno));
        return false;
    }
    return true;
}

/* Write the boot info page the core reads at start-up. */
static void write_boot_info(struct vm *vm)
{
    struct abi_boot_info *bi =
        vmm_guest_range(&vm->mem, VMM_GPA(ABI_BOOT_INFO_ADDR), sizeof(*bi));
    uint64_t guard = 0;

    if (bi == NULL)
        return; /* cannot happen: RAM is at least ABI_RAM_MIN */
    if (getrandom(&guard, sizeof(guard), GRND_NONBLOCK) != sizeof(guard))
        guard = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    bi->magic = ABI_BOOT_MAGIC;
    bi->version = ABI_BOOT_VERSION;
    bi->ram_size = vm->mem.ram_size;
    bi->stack_guard = guard;
    bi->flags = vmm_debug_enabled ? ABI_BOOT_FLAG_VERBOSE : 0;
    bi->device_count = vm->p->device_count;
    for (uint32_t i = 0; i < vm->p->device_count; i++) {
        bi->devices[i].size = vm->p->devices[i].size;
        bi->devices[i].allocated = vm->p->devices[i].allocated;
    }
}

static bool load_guest(struct vm *vm, uint64_t *entry)
{
    char dir[4096];
    char path[4200];
    uint64_t op_entry = 0;
    uint8_t *cfg;
    struct vmm_mem *mem = &vm->mem;

    if (!vmm_blob_dir(dir, sizeof(dir))) {
        set_outcome(vm, VMM_RUN_HOST,
                    "cannot find the guest blobs (core.bin); set INSTAR_BLOB_DIR");
        return false;
    }
    snprintf(path, sizeof(path), "%s/core.bin", dir);
    if (!vmm_load_blob(mem, path, ABI_BLOB_CORE, ABI_CORE_LOAD_ADDR, ABI_CORE_MAX_SIZE, entry)) {
        set_outcome(vm, VMM_RUN_HOST, "invalid guest blob %s", path);
        return false;
    }
    snprintf(path, sizeof(path), "%s/%s.bin", dir, vm->p->op_name);
    if (!vmm_load_blob(mem, path, ABI_BLOB_OPERATION, ABI_OP_LOAD_ADDR, ABI_OP_MAX_SIZE,
                       &op_entry) ||
        op_entry != ABI_OP_LOAD_ADDR) {
        set_outcome(vm, VMM_RUN_HOST, "invalid guest blob %s", path);
        return false;
    }
    /* Fixed regions; everything else stays unmapped and faults. */
    vmm_mem_set_perm(mem, ABI_GDT_ADDR, ABI_PAGE_SIZE, VMM_PAGE_R | VMM_PAGE_W);
    vmm_mem_set_perm(mem, ABI_IDT_ADDR, ABI_PAGE_SIZE, VMM_PAGE_R | VMM_PAGE_W | VMM_PAGE_U);
    vmm_mem_set_perm(mem, ABI_TSS_ADDR, ABI_PAGE_SIZE, VMM_PAGE_R | VMM_PAGE_W);
    vmm_mem_set_perm(mem, ABI_PML4_ADDR, ABI_BOOT_INFO_ADDR - ABI_PML4_ADDR,
                     VMM_PAGE_R | VMM_PAGE_W);
    vmm_mem_set_perm(mem, ABI_BOOT_INFO_ADDR, ABI_PAGE_SIZE, VMM_PAGE_R | VMM_PAGE_U);
    vmm_mem_set_perm(mem, ABI_OPERATION_CONFIG_ADDR, ABI_OPERATION_CONFIG_SIZE,
                     VMM_PAGE_R | VMM_PAGE_U);
    vmm_mem_set_perm(mem, ABI_CALL_TABLE_ADDR, ABI_CALL_TABLE_SIZE,
                     VMM_PAGE_R | VMM_PAGE_W | VMM_PAGE_U);
    vmm_mem_set_perm(mem, ABI_KSTACK_BASE, ABI_KSTACK_TOP - ABI_KSTACK_BASE,
                     VMM_PAGE_R | VMM_PAGE_W);
    vmm_mem_set_perm(mem, ABI_USTACK_BASE, ABI_USTACK_TOP - ABI_USTACK_BASE,
                     VMM_PAGE_R | VMM_PAGE_W | VMM_PAGE_U);
    vmm_mem_build_tables(mem);
    write_boot_info(vm);
    if (vm->p->config_len > ABI_OPERATION_CONFIG_SIZE) {
        set_outcome(vm, VMM_RUN_HOST, "operation config too large");
        return false;
    }
    cfg = vmm_guest_range(mem, VMM_GPA(ABI_OPERATION_CONFIG_ADDR), vm->p->config_len);
    if (cfg != NULL && vm->p->config_len > 0)
        memcpy(cfg, vm->p->config, vm->p->config_len);
    return true;
}

static bool setup_vcpu(struct vm *vm, uint64_t entry)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs;
    struct kvm_segment code = {
        .base = 0, .limit = 0xFFFFFFFF, .selector = ABI_SEL_KCODE, .type = 11,
        .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
    };
    struct kvm_segment data = {
        .base = 0, .limit = 0xFFFFFFFF, .selector = ABI_SEL_KDATA, .type = 3,
        .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
    };
    struct kvm_segment tr = {
        .base = ABI_TSS_ADDR, .limit = 103, .selector = ABI_SEL_TSS, .type = 11,
        .present = 1, .dpl = 0, .db = 0, .s = 0, .l = 0, .g = 0,
    };

    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        set_outcome(vm, VMM_RUN_HOST, "KVM_CREATE_VCPU: %s", vmm_strerror(errno));
        return false;
    }
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        set_outcome(vm, VMM_RUN_HOST, "mmap of kvm_run: %s", vmm_strerror(errno));
        return false;
    }
    /* The guest never executes CPUID, so KVM_SET_CPUID2 is skipped (it
     * costs ~0.3 ms on kvm_pvm hosts). */
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) != 0)
        goto err_sregs;
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.tr = tr;
    sregs.gdt.base = ABI_GDT_ADDR;
    sregs.gdt.limit = ABI_GDT_ENTRIES * 8 - 1;
    sregs.idt.base = ABI_IDT_ADDR;
    sregs.idt.limit = ABI_IDT_ENTRIES * 16 - 1;
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    sregs.cr3 = ABI_PML4_ADDR;
    sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) != 0)
        goto err_sregs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = entry;
    regs.rsp = ABI_KSTACK_TOP;
    regs.rflags = 0x2;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) != 0) {
        set_outcome(vm, VMM_RUN_HOST, "KVM_SET_REGS: %s", vmm_strerror(errno));
        return false;
    }
    return true;
err_sregs:
    set_outcome(vm, VMM_RUN_HOST, "cannot set up the vCPU registers: %s", vmm_strerror(errno));
    return false;
}

static bool arm_watchdog(struct vm *vm)
{
    uint32_t ms = vm->p->timeout_ms ? vm->p->timeout_ms : VMM_DEFAULT_TIMEOUT_MS;
    struct sigaction sa;
    struct sigevent sev;
    struct itimerspec its;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watchdog_handler;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: KVM_RUN must return EINTR. */
    if (sigaction(SIGRTMIN, &sa, NULL) != 0)
        goto err;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN;
#ifdef sigev_notify_thread_id /* musl, glibc >= 2.41 */
    sev.sigev_notify_thread_id = gettid();
#else
    sev._sigev_un._tid = gettid();
#endif
    if (timer_create(CLOCK_MONOTONIC, &sev, &vm->timer) != 0)
        goto err;
    vm->timer_armed = true;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    /* Re-fire every 100 ms in case a signal lands between two KVM_RUNs. */
    its.it_interval.tv_nsec = 100000000L;
    if (timer_settime(vm->timer, 0, &its, NULL) != 0)
        goto err;
    return true;
err:
    set_outcome(vm, VMM_RUN_HOST, "cannot arm the watchdog: %s", vmm_strerror(errno));
    return false;
}

/* ---- doorbells --------------------------------------------------------- */

/* Copy a request descriptor out of guest RAM exactly once. */
static bool copy_req(struct vm *vm, uint64_t gpa, void *dst, size_t len, const char *what)
{
    const void *src = vmm_guest_range(&vm->mem, VMM_GPA(gpa), len);

    if (src == NULL) {
        set_outcome(vm, VMM_RUN_FAULT, "guest %s request at invalid address 0x%llx", what,
                    (unsigned long long)gpa);
        return false;
    }
    memcpy(dst, src, len);
    return true;
}

/* Write a request's result field back (the descriptor was checked already). */
static void put_result(struct vm *vm, uint64_t gpa, int64_t v)
{
    void *dst = vmm_guest_range(&vm->mem, VMM_GPA(gpa), sizeof(v));

    if (dst != NULL)
        memcpy(dst, &v, sizeof(v));
}

static void db_read(struct vm *vm, uint64_t gpa)
{
    struct abi_read_req req;
    const struct vmm_device *dev;
    uint64_t n;
    uint8_t *dst;
    uint64_t done = 0;

    if (!copy_req(vm, gpa, &req, sizeof(req), "read"))
        return;
    if (req.length == 0 || req.length > ABI_READ_MAX) {
        put_result(vm, gpa + offsetof(struct abi_read_req, result), ABI_HC_EINVAL);
        return;
    }
    /* The whole destination must be guest RAM, whatever the device says. */
    dst = vmm_guest_range(&vm->mem, VMM_GPA(req.dest_gpa), req.length);
    if (dst == NULL) {
        set_outcome(vm, VMM_RUN_FAULT, "guest read into invalid range 0x%llx+%llu",
                    (unsigned long long)req.dest_gpa, (unsigned long long)req.length);
        return;
    }
    if (req.dev >= vm->p->device_count || req.offset > vm->p->devices[req.dev].size) {
        put_result(vm, gpa + offsetof(struct abi_read_req, result), ABI_HC_EINVAL);
        return;
    }
    dev = &vm->p->devices[req.dev];
    n = dev->size - req.offset;
    if (n > req.length)
        n = req.length;
    if (n > vm->read_budget - vm->res->bytes_read) {
        set_outcome(vm, VMM_RUN_BUDGET, "the guest read more than its budget of %llu bytes",
                    (unsigned long long)vm->read_budget);
        return;
    }
    vm->res->bytes_read += n;
    while (done < n) {
        ssize_t r = pread(vm->dev_fd[req.dev], dst + done, n - done, (off_t)(req.offset + done));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* The file shrank or failed: an error, never stale bytes. */
            put_result(vm, gpa + offsetof(struct abi_read_req, result), ABI_HC_EIO);
            return;
        }
        done += (uint64_t)r;
    }
    put_result(vm, gpa + offsetof(struct abi_read_req, result), (int64_t)n);
}

static void db_extents(struct vm *vm, uint64_t gpa)
{
    struct abi_extents_req req;
    struct abi_extent ext[ABI_EXTENTS_MAX];
    const struct vmm_device *dev;
    uint32_t count = 0;
    uint64_t off;
    bool at_data = false;
    void *dst;

    if (!copy_req(vm, gpa, &req, sizeof(req), "extents"))
        return;
    if (req.max_entries == 0 || req.max_entries > ABI_EXTENTS_MAX) {
        put_result(vm, gpa + offsetof(struct abi_extents_req, result), ABI_HC_EINVAL);
        return;
    }
    dst = vmm_guest_range(&vm->mem, VMM_GPA(req.dest_gpa),
                          (uint64_t)req.max_entries * sizeof(struct abi_extent));
    if (dst == NULL) {
        set_outcome(vm, VMM_RUN_FAULT, "guest extent request into invalid range 0x%llx",
                    (unsigned long long)req.dest_gpa);
        return;
    }
    if (req.dev >= vm->p->device_count || req.offset > vm->p->devices[req.dev].size) {
        put_result(vm, gpa + offsetof(struct abi_extents_req, result), ABI_HC_EINVAL);
        return;
    }
    dev = &vm->p->devices[req.dev];
    off = req.offset;
    memset(ext, 0, sizeof(ext));
    while (off < dev->size && count < req.max_entries) {
        /* After a hole, SEEK_DATA has already said where data starts. */
        off_t data = at_data ? (off_t)off : lseek(vm->dev_fd[req.dev], (off_t)off, SEEK_DATA);
        off_t hole;

        at_data = false;
        if (data < 0 && errno == ENXIO)
            data = (off_t)dev->size; /* only a hole remains */
        else if (data < 0)
            data = (off_t)off;       /* no SEEK_DATA support: all data */
        if ((uint64_t)data > off) {
            uint64_t end = (uint64_t)data < dev->size ? (uint64_t)data : dev->size;

            ext[count++] = (struct abi_extent){off, end - off, ABI_EXTENT_HOLE, 0};
            off = end;
            at_data = true;
            continue;
        }
        hole = lseek(vm->dev_fd[req.dev], (off_t)off, SEEK_HOLE);
        if (hole < 0 || (uint64_t)hole > dev->size || (uint64_t)hole <= off)
            hole = (off_t)dev->size;
        ext[count++] = (struct abi_extent){off, (uint64_t)hole - off, ABI_EXTENT_DATA, 0};
        off = (uint64_t)hole;
    }
    memcpy(dst, ext, (size_t)count * sizeof(ext[0]));
    put_result(vm, gpa + offsetof(struct abi_extents_req, result), count);
}

static int on_frame(void *ctx, const uint8_t *payload, size_t len)
{
    struct vm *vm = ctx;
    char why[160];

    if (vmm_proto_decode(&vm->res->report, payload, len, why, sizeof(why)) != 0) {
        set_outcome(vm, VMM_RUN_FAULT, "guest protocol violation: %s", why);
        return -1;
    }
    return 0;
}

/* Copy a guest byte buffer (serial or debug) once into `out`. */
static bool copy_buf(struct vm *vm, uint64_t gpa, uint8_t *out, uint64_t *len, const char *what)
{
    struct abi_buf_req req;
    const void *src;

    if (!copy_req(vm, gpa, &req, sizeof(req), what))
        return false;
    if (req.length == 0 || req.length > ABI_BUF_MAX) {
        set_outcome(vm, VMM_RUN_FAULT, "guest %s buffer of invalid length %llu", what,
                    (unsigned long long)req.length);
        return false;
    }
    src = vmm_guest_range(&vm->mem, VMM_GPA(req.gpa), req.length);
    if (src == NULL) {
        set_outcome(vm, VMM_RUN_FAULT, "guest %s buffer at invalid range 0x%llx+%llu", what,
                    (unsigned long long)req.gpa, (unsigned long long)req.length);
        return false;
    }
    memcpy(out, src, req.length);
    *len = req.length;
    return true;
}

static void db_serial(struct vm *vm, uint64_t gpa)
{
    static uint8_t buf[ABI_BUF_MAX];
    uint64_t len;
    int rc;

    if (!copy_buf(vm, gpa, buf, &len, "serial"))
        return;
    rc = wire_reader_feed(&vm->wire, buf, len, on_frame, vm);
    if (rc > 0)
        set_outcome(vm, VMM_RUN_FAULT, "guest protocol violation: %s",
                    wire_strerror((enum wire_err)rc));
}

static void db_debug(struct vm *vm, uint64_t gpa)
{
    static uint8_t buf[ABI_BUF_MAX];
    uint64_t len;

    if (!copy_buf(vm, gpa, buf, &len, "debug"))
        return;
    if (!vmm_debug_enabled || vm->debug_bytes >= DEBUG_BUDGET) {
        vm->debug_bytes += len;
        return;
    }
    vm->debug_bytes += len;
    fputs("[guest] ", stderr);
    for (uint64_t i = 0; i < len; i++) {
        unsigned char c = buf[i];

        fputc(c == '\n' || (c >= 0x20 && c < 0x7F) ? c : '?', stderr);
    }
    if (buf[len - 1] != '\n')
        fputc('\n', stderr);
}

static const char *vector_name(uint64_t v)
{
    static const char *const names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
        "#NP", "#SS", "#GP", "#PF", "?",   "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    };

    return v < 32 && names[v] != NULL ? names[v] : "?";
}

static void db_fault(struct vm *vm, uint64_t vector)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    uint64_t frame[6] = {0}; /* error, rip, cs, rflags, rsp, ss */
    const void *f;

    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) != 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) != 0) {
        set_outcome(vm, VMM_RUN_FAULT, "guest fault, vector %llu (registers unavailable)",
                    (unsigned long long)vector);
        return;
    }
    f = vmm_guest_range(&vm->mem, VMM_GPA(regs.rsp), sizeof(frame));
    if (f != NULL)
        memcpy(frame, f, sizeof(frame));
    set_outcome(vm, VMM_RUN_FAULT,
                "guest fault: vector %llu (%s), error 0x%llx, rip 0x%llx, cr2 0x%llx, rsp 0x%llx",
                (unsigned long long)vector, vector_name(vector), (unsigned long long)frame[0],
                (unsigned long long)frame[1], (unsigned long long)sregs.cr2,
                (unsigned long long)frame[4]);
}

static void handle_mmio(struct vm *vm)
{
    uint64_t addr = vm->run->mmio.phys_addr;
    uint64_t off = addr - ABI_DOORBELL_BASE;
    uint64_t value;

    if (addr < ABI_DOORBELL_BASE || off >= ABI_DOORBELL_SIZE || !vm->run->mmio.is_write ||
        vm->run->mmio.len != 8 || off % 8 != 0 || off > ABI_DB_LAST) {
        set_outcome(vm, VMM_RUN_FAULT, "guest %s of %u bytes at unknown address 0x%llx",
                    vm->run->mmio.is_write ? "write" : "read", vm->run->mmio.len,
                    (unsigned long long)addr);
        return;
    }
    memcpy(&value, vm->run->mmio.data, 8);
    switch (off) {
    case ABI_DB_READ:
        db_read(vm, value);
        break;
    case ABI_DB_EXTENTS:
        db_extents(vm, value);
        break;
    case ABI_DB_SERIAL:
        db_serial(vm, value);
        break;
    case ABI_DB_DEBUG:
        db_debug(vm, value);
        break;
    case ABI_DB_FAULT:
        db_fault(vm, value);
        break;
    case ABI_DB_EXIT:
        vm->res->guest_exit_status = value;
        if (!wire_reader_idle(&vm->wire))
            set_outcome(vm, VMM_RUN_FAULT, "guest protocol violation: incomplete frame at exit");
        else
            set_outcome(vm, VMM_RUN_OK, "guest exited");
        break;
    }
}

/* ---- the run loop -------------------------------------------------------- */

static void run_loop(struct vm *vm)
{
    while (!vm->done) {
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) != 0) {
            if (errno == EINTR || errno == EAGAIN) {
                if (watchdog_fired) {
                    set_outcome(vm, VMM_RUN_BUDGET, "the guest ran past its deadline of %u ms",
                                vm->p->timeout_ms ? vm->p->timeout_ms : VMM_DEFAULT_TIMEOUT_MS);
                    return;
                }
                vm->run->immediate_exit = 0;
                continue;
            }
            set_outcome(vm, VMM_RUN_HOST, "KVM_RUN: %s", vmm_strerror(errno));
            return;
        }
        if (++vm->res->exits > VMM_MAX_EXITS) {
            set_outcome(vm, VMM_RUN_BUDGET, "the guest exceeded its budget of %u exits",
                        VMM_MAX_EXITS);
            return;
        }
        switch (vm->run->exit_reason) {
        case KVM_EXIT_MMIO:
            handle_mmio(vm);
            break;
        case KVM_EXIT_HLT:
            set_outcome(vm, VMM_RUN_FAULT, "guest halted without ending the run");
            break;
        case KVM_EXIT_SHUTDOWN:
            set_outcome(vm, VMM_RUN_FAULT, "guest triple fault (KVM_EXIT_SHUTDOWN)");
            break;
        case KVM_EXIT_IO:
            set_outcome(vm, VMM_RUN_FAULT, "guest port I/O to 0x%x (no ports exist)",
                        vm->run->io.port);
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            set_outcome(vm, VMM_RUN_FAULT, "KVM internal error, suberror %u",
                        vm->run->internal.suberror);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            set_outcome(vm, VMM_RUN_FAULT, "KVM entry failure, reason 0x%llx",
                        (unsigned long long)vm->run->fail_entry.hardware_entry_failure_reason);
            break;
        default:
            set_outcome(vm, VMM_RUN_FAULT, "unexpected KVM exit reason %u",
                        vm->run->exit_reason);
            break;
        }
    }
}

/* Nothing new is opened from here on: close what the run does not need and
 * apply the seccomp allow-list (vmm_seccomp.c). */
static bool lock_down(struct vm *vm)
{
    const char *selftest = getenv("INSTAR_SECCOMP_SELFTEST");
    int highest;
    int rc;

    close(vm->kvm_fd); /* the VM and vCPU descriptors keep KVM alive */
    vm->kvm_fd = -1;
    /* The filter is compiled at build time: descriptors to their numbers. */
    rc = vmm_place_fds(&vm->vm_fd, &vm->vcpu_fd, vm->dev_fd, vm->p->device_count);
    highest = vm->vm_fd > vm->vcpu_fd ? vm->vm_fd : vm->vcpu_fd;
    for (uint32_t i = 0; i < vm->p->device_count; i++)
        highest = vm->dev_fd[i] > highest ? vm->dev_fd[i] : highest;
    if (rc == 0)
        rc = vmm_lockdown(highest, vm->mem.ram_size,
                          vm->p->timeout_ms ? vm->p->timeout_ms : VMM_DEFAULT_TIMEOUT_MS);
    if (rc != 0) {
        set_outcome(vm, VMM_RUN_HOST, "cannot lock the monitor down: %s", vmm_strerror(-rc));
        return false;
    }
    /* Self-test of the filter (tests/functional/test_lockdown.py): a system
     * call outside the allow-list must kill the process here. */
    if (selftest != NULL && selftest[0] == '1')
        syscall(SYS_getppid);
    return true;
}

static uint64_t read_budget(const struct vmm_run_params *p)
{
    uint64_t b = 16u << 20;

    for (uint32_t i = 0; i < p->device_count; i++) {
        uint64_t twice = p->devices[i].size > UINT64_MAX / 4 ? UINT64_MAX / 4 : 2 * p->devices[i].size;

        b = b > UINT64_MAX - twice ? UINT64_MAX : b + twice;
    }
    return b;
}

void vmm_run(const struct vmm_run_params *p, struct vmm_run_result *res)
{
    struct vm vm;
    uint64_t entry = 0;

    memset(res, 0, sizeof(*res));
    memset(&vm, 0, sizeof(vm));
    vm.kvm_fd = vm.vm_fd = vm.vcpu_fd = -1;
    vm.p = p;
    vm.res = res;
    vm.read_budget = read_budget(p);
    wire_reader_init(&vm.wire);
    watchdog_fired = 0;
    if (p->device_count > ABI_MAX_DEVICES) {
        set_outcome(&vm, VMM_RUN_HOST, "too many devices");
        return;
    }
    for (uint32_t i = 0; i < p->device_count; i++)
        vm.dev_fd[i] = p->devices[i].fd;
    if (kvm_open(&vm) && setup_memory(&vm) && load_guest(&vm, &entry) &&
        setup_vcpu(&vm, entry) && arm_watchdog(&vm) && lock_down(&vm)) {
        watchdog_run = vm.run;
        vm.done = false;
        run_loop(&vm);
        watchdog_run = NULL;
    }
    if (vm.timer_armed)
        timer_delete(vm.timer);
    if (vm.run != NULL)
        munmap(vm.run, vm.run_size);
    if (vm.vcpu_fd >= 0)
        close(vm.vcpu_fd);
    /* Images moved by the lockdown are ours to close (the caller's numbers
     * were closed by the move). */
    for (uint32_t i = 0; i < p->device_count; i++)
        if (vm.dev_fd[i] != p->devices[i].fd)
            close(vm.dev_fd[i]);
    if (vm.vm_fd >= 0)
        close(vm.vm_fd);
    if (vm.kvm_fd >= 0)
        close(vm.kvm_fd);
    vmm_mem_fini(&vm.mem);
}
