/* vmm_seccomp.c: lock the monitor down before the guest runs.
 *
 * After set-up (/dev/kvm, the VM and vCPU, guest RAM, the blobs and the
 * image are open or loaded), nothing the monitor does needs a new resource.
 * vmm_lockdown() sets rlimits, no_new_privs and a seccomp allow-list whose
 * default action kills the process.  Every rule names the code path that
 * needs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm.h"

#define RULE(call, ...) seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_##call, __VA_ARGS__)

static int fd_rules(scmp_filter_ctx ctx, const int *image_fds, uint32_t n)
{
    int rc = 0;

    for (uint32_t i = 0; i < n && rc == 0; i++) {
        /* Device reads (vmm_kvm.c db_read): the image, read-only. */
        rc = RULE(pread64, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)image_fds[i]));
        /* Extent queries (db_extents): SEEK_DATA/SEEK_HOLE on the image. */
        if (rc == 0)
            rc = RULE(lseek, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)image_fds[i]));
    }
    return rc;
}

int vmm_lockdown(int vcpu_fd, const int *image_fds, uint32_t n_images, uint64_t ram_size,
                 uint32_t timeout_ms)
{
    static const unsigned long vcpu_ioctls[] = {
        KVM_RUN,       /* the run loop */
        KVM_GET_REGS,  /* fault reports (db_fault) */
        KVM_GET_SREGS, /* fault reports: CR2 */
    };
    scmp_filter_ctx ctx;
    struct rlimit rl;
    int rc = 0;

    /* No core dump may carry guest memory; no descriptor beyond ours. */
    rl.rlim_cur = rl.rlim_max = 0;
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        return -errno;
    rl.rlim_cur = rl.rlim_max = (rlim_t)vcpu_fd + 1 > 16 ? (rlim_t)vcpu_fd + 1 : 16;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    /* A backstop behind the watchdog: CPU time of the deadline plus 5 s. */
    rl.rlim_cur = timeout_ms / 1000 + 5;
    rl.rlim_max = rl.rlim_cur + 1;
    if (setrlimit(RLIMIT_CPU, &rl) != 0)
        return -errno;
#ifndef INSTAR_SAN
    /* Guest RAM plus room for the monitor; sanitizers reserve terabytes. */
    rl.rlim_cur = rl.rlim_max = ram_size + (256ull << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return -errno;
#else
    (void)ram_size;
#endif
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]) && rc == 0; i++)
        rc = RULE(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vcpu_fd),
                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, (scmp_datum_t)vcpu_ioctls[i]));
    if (rc == 0)
        rc = fd_rules(ctx, image_fds, n_images);
    /* Results and diagnostics (print_result, vmm_error): stdout and stderr. */
    if (rc == 0)
        rc = RULE(write, 1, SCMP_A0(SCMP_CMP_EQ, 1));
    if (rc == 0)
        rc = RULE(write, 1, SCMP_A0(SCMP_CMP_EQ, 2));
    /* musl's stdio writes with writev. */
    if (rc == 0)
        rc = RULE(writev, 1, SCMP_A0(SCMP_CMP_EQ, 1));
    if (rc == 0)
        rc = RULE(writev, 1, SCMP_A0(SCMP_CMP_EQ, 2));
    /* Teardown (vmm_run): closing the VM's descriptors, unmapping guest RAM
     * and kvm_run, freeing heap memory (free may trim with brk/munmap). */
    if (rc == 0)
        rc = RULE(close, 0);
    if (rc == 0)
        rc = RULE(munmap, 0);
    if (rc == 0)
        rc = RULE(brk, 0);
    /* The watchdog: its signal handler returns, and the timer is deleted. */
    if (rc == 0)
        rc = RULE(rt_sigreturn, 0);
    if (rc == 0)
        rc = RULE(timer_delete, 0);
    /* Leaving. */
    if (rc == 0)
        rc = RULE(exit_group, 0);
    if (rc == 0)
        rc = RULE(exit, 0);
#ifndef INSTAR_SAN
    if (rc == 0)
        rc = seccomp_load(ctx);
#else
    /* Sanitizer builds (make check-asan) build the filter but do not load
     * it: LeakSanitizer stops the world at exit from a ptrace-ing helper
     * process, which no sensible allow-list admits.  The release build's
     * filter is tested by tests/functional/test_lockdown.py. */
#endif
    seccomp_release(ctx);
    return rc;
}
