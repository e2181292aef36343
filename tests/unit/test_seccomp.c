/* test_seccomp.c: the seccomp filter compiled at build time, run on calls.
 *
 * build/gen/seccomp/seccomp_filter.h is libseccomp's output for the rules in
 * vmm/vmm_seccomp_gen.c.  A small classic-BPF interpreter runs it on
 * seccomp_data for every call the monitor makes after the lockdown (each
 * must be allowed) and for calls it must never make, on the wrong
 * descriptors, with other ioctls, the x32 ABI or another architecture (each
 * must kill the process).  tests/functional/test_lockdown.py checks the
 * kernel's side: the filter loaded and a refused call ending in SIGSYS.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "test_util.h"
#include "vmm.h"
#include "vmm_fds.h"

#define N_INSNS (sizeof(vmm_seccomp_filter) / sizeof(vmm_seccomp_filter[0]))

/* Run the filter on `d`; returns its action, or 0 on an instruction this
 * interpreter does not know (a test failure). */
static uint32_t run_filter(const struct seccomp_data *d)
{
    uint32_t a = 0;
    uint32_t x = 0;
    uint32_t mem[BPF_MEMWORDS] = {0};

    for (size_t pc = 0; pc < N_INSNS; pc++) {
        const struct sock_filter *i = &vmm_seccomp_filter[pc];
        uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
        bool jump;

        switch (BPF_CLASS(i->code)) {
        case BPF_LD:
            if (i->code == (BPF_LD | BPF_W | BPF_ABS)) {
                ck_assert_uint_le(i->k + 4, sizeof(*d));
                ck_assert_uint_eq(i->k % 4, 0);
                memcpy(&a, (const uint8_t *)d + i->k, 4);
            } else if (i->code == (BPF_LD | BPF_MEM)) {
                ck_assert_uint_lt(i->k, BPF_MEMWORDS);
                a = mem[i->k];
            } else if (i->code == (BPF_LD | BPF_IMM)) {
                a = i->k;
            } else {
                return 0;
            }
            break;
        case BPF_LDX:
            if (i->code == (BPF_LDX | BPF_MEM)) {
                ck_assert_uint_lt(i->k, BPF_MEMWORDS);
                x = mem[i->k];
            } else if (i->code == (BPF_LDX | BPF_IMM)) {
                x = i->k;
            } else {
                return 0;
            }
            break;
        case BPF_ST:
        case BPF_STX:
            ck_assert_uint_lt(i->k, BPF_MEMWORDS);
            mem[i->k] = BPF_CLASS(i->code) == BPF_ST ? a : x;
            break;
        case BPF_ALU:
            switch (BPF_OP(i->code)) {
            case BPF_AND: a &= src; break;
            case BPF_OR: a |= src; break;
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_RSH: a = src < 32 ? a >> src : 0; break;
            case BPF_LSH: a = src < 32 ? a << src : 0; break;
            default: return 0;
            }
            break;
        case BPF_JMP:
            switch (BPF_OP(i->code)) {
            case BPF_JA:
                pc += i->k;
                continue;
            case BPF_JEQ: jump = a == src; break;
            case BPF_JGT: jump = a > src; break;
            case BPF_JGE: jump = a >= src; break;
            case BPF_JSET: jump = (a & src) != 0; break;
            default: return 0;
            }
            pc += jump ? i->jt : i->jf;
            break;
        case BPF_RET:
            return BPF_RVAL(i->code) == BPF_A ? a : i->k;
        case BPF_MISC:
            if (BPF_MISCOP(i->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default:
            return 0;
        }
    }
    return 0; /* fell off the end */
}

struct call {
    const char *what;
    uint32_t arch;
    int nr;
    uint64_t a0;
    uint64_t a1;
    bool allowed;
};

#define X86_64 AUDIT_ARCH_X86_64
#define ALLOW(nr, a0, a1) {#nr "(" #a0 ", " #a1 ")", X86_64, nr, a0, a1, true}
#define KILL(nr, a0, a1) {#nr "(" #a0 ", " #a1 ")", X86_64, nr, a0, a1, false}

static const struct call calls[] = {
    /* What the monitor does after the lockdown. */
    ALLOW(SYS_ioctl, VMM_FD_VCPU, KVM_RUN),
    ALLOW(SYS_ioctl, VMM_FD_VCPU, KVM_GET_REGS),
    ALLOW(SYS_ioctl, VMM_FD_VCPU, KVM_GET_SREGS),
    ALLOW(SYS_pread64, VMM_FD_IMAGE0, 0),
    ALLOW(SYS_pread64, VMM_FD_IMAGE0 + 1, 0),
    ALLOW(SYS_pread64, VMM_FD_END - 1, 0),
    ALLOW(SYS_lseek, VMM_FD_IMAGE0, 0),
    ALLOW(SYS_lseek, VMM_FD_END - 1, 0),
    ALLOW(SYS_write, 1, 0),
    ALLOW(SYS_write, 2, 0),
    ALLOW(SYS_writev, 1, 0),
    ALLOW(SYS_writev, 2, 0),
    ALLOW(SYS_close, 5, 0),
    ALLOW(SYS_munmap, 0, 0),
    ALLOW(SYS_brk, 0, 0),
    ALLOW(SYS_rt_sigreturn, 0, 0),
    ALLOW(SYS_timer_delete, 0, 0),
    ALLOW(SYS_exit_group, 0, 0),
    ALLOW(SYS_exit, 0, 0),
    /* The vCPU only, and only those three ioctls. */
    KILL(SYS_ioctl, VMM_FD_VCPU - 1, KVM_RUN),
    KILL(SYS_ioctl, VMM_FD_IMAGE0, KVM_RUN),
    KILL(SYS_ioctl, 3, KVM_RUN),
    KILL(SYS_ioctl, VMM_FD_VCPU, KVM_SET_REGS),
    KILL(SYS_ioctl, VMM_FD_VCPU, KVM_SET_SREGS),
    KILL(SYS_ioctl, VMM_FD_VCPU, KVM_SET_USER_MEMORY_REGION),
    KILL(SYS_ioctl, VMM_FD_VCPU, KVM_CREATE_VCPU),
    KILL(SYS_ioctl, 1, 0x5401 /* TCGETS */),
    /* Images only, read-only. */
    KILL(SYS_pread64, VMM_FD_IMAGE0 - 1, 0),
    KILL(SYS_pread64, VMM_FD_END, 0),
    KILL(SYS_pread64, 0, 0),
    KILL(SYS_pread64, 3, 0),
    KILL(SYS_lseek, 1, 0),
    KILL(SYS_read, VMM_FD_IMAGE0, 0),
    KILL(SYS_pwrite64, VMM_FD_IMAGE0, 0),
    KILL(SYS_write, VMM_FD_IMAGE0, 0),
    KILL(SYS_write, 0, 0),
    KILL(SYS_write, 3, 0),
    KILL(SYS_writev, 3, 0),
    KILL(SYS_pwritev, 1, 0),
    /* Nothing new: files, memory, processes, sockets, signals. */
    KILL(SYS_open, 0, 0),
    KILL(SYS_openat, 0, 0),
    KILL(SYS_dup, 1, 0),
    KILL(SYS_mmap, 0, 4096),
    KILL(SYS_mprotect, 0, 0),
    KILL(SYS_mremap, 0, 0),
    KILL(SYS_madvise, 0, 0),
    KILL(SYS_execve, 0, 0),
    KILL(SYS_fork, 0, 0),
    KILL(SYS_clone, 0, 0),
    KILL(SYS_clone3, 0, 0),
    KILL(SYS_socket, 2, 1),
    KILL(SYS_kill, 1, 9),
    KILL(SYS_ptrace, 0, 0),
    KILL(SYS_getppid, 0, 0),
    KILL(SYS_prctl, 0, 0),
    KILL(SYS_seccomp, 0, 0),
    KILL(SYS_rt_sigaction, 0, 0),
    KILL(SYS_timer_settime, 0, 0),
    /* Other ABIs: x32 numbers and 32-bit x86. */
    {"x32 write(1)", X86_64, SYS_write | 0x40000000, 1, 0, false},
    {"x32 close", X86_64, SYS_close | 0x40000000, 5, 0, false},
    {"i386 write(1)", AUDIT_ARCH_I386, 4, 1, 0, false},
    {"i386 exit", AUDIT_ARCH_I386, 1, 0, 0, false},
};

START_TEST(filter_allows_exactly_the_monitors_calls)
{
    const struct call *c = &calls[_i];
    struct seccomp_data d;
    uint32_t action;

    memset(&d, 0, sizeof(d));
    d.nr = c->nr;
    d.arch = c->arch;
    d.args[0] = c->a0;
    d.args[1] = c->a1;
    action = run_filter(&d) & SECCOMP_RET_ACTION_FULL;
    ck_assert_msg(action == (c->allowed ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS),
                  "%s: action 0x%08x", c->what, action);
}
END_TEST

START_TEST(ioctl_ignores_the_high_half_of_the_request)
{
    /* ioctl's request is an unsigned int: the kernel ignores bits 32-63. */
    struct seccomp_data d = {.nr = SYS_ioctl, .arch = X86_64};

    d.args[0] = VMM_FD_VCPU;
    d.args[1] = 0xFFFFFFFF00000000ull | KVM_RUN;
    ck_assert_uint_eq(run_filter(&d) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW);
    d.args[1] = 0xFFFFFFFF00000000ull | KVM_SET_REGS;
    ck_assert_uint_eq(run_filter(&d) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_KILL_PROCESS);
}
END_TEST

static ino_t inode(int fd)
{
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    return st.st_ino;
}

/* The lockdown moves descriptors to the filter's numbers even when they
 * start on each other's places. */
START_TEST(descriptors_move_to_the_filters_numbers)
{
    /* Where each starts: vm and vcpu on image slots, image 0 on the vCPU's
     * number, image 1 outside the range, image 2 already in place. */
    const int start[5] = {VMM_FD_IMAGE0, VMM_FD_IMAGE0 + 1, VMM_FD_VCPU, 100, VMM_FD_IMAGE0 + 2};
    ino_t ino[5];
    int fds[5];
    int images[3];

    for (int i = 0; i < 5; i++) {
        FILE *f = tmpfile();

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(dup2(fileno(f), start[i]), start[i]);
        fclose(f);
        ino[i] = inode(start[i]);
        fds[i] = start[i];
    }
    images[0] = fds[2];
    images[1] = fds[3];
    images[2] = fds[4];
    ck_assert_int_eq(vmm_place_fds(&fds[0], &fds[1], images, 3), 0);
    ck_assert_int_eq(fds[1], VMM_FD_VCPU);
    ck_assert(inode(VMM_FD_VCPU) == ino[1]);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(images[i], VMM_FD_IMAGE0 + i);
        ck_assert(inode(VMM_FD_IMAGE0 + i) == ino[2 + i]);
    }
    ck_assert_int_ge(fds[0], VMM_FD_END); /* the VM's left the range */
    ck_assert(inode(fds[0]) == ino[0]);
    ck_assert_int_eq(fcntl(100, F_GETFD), -1); /* the old numbers are closed */
    ck_assert_int_ne(fcntl(VMM_FD_VCPU, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_eq(vmm_place_fds(&fds[0], &fds[1], images, VMM_FD_IMAGES + 1), -EMFILE);
}
END_TEST

static Suite *seccomp_suite(void)
{
    Suite *s = suite_create("seccomp");
    TCase *tc = tcase_create("filter");

    tcase_add_loop_test(tc, filter_allows_exactly_the_monitors_calls, 0,
                        (int)(sizeof(calls) / sizeof(calls[0])));
    tcase_add_test(tc, ioctl_ignores_the_high_half_of_the_request);
    tcase_add_test(tc, descriptors_move_to_the_filters_numbers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(seccomp_suite());
}
