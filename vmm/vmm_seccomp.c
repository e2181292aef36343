/* vmm_seccomp.c: lock the monitor down before the guest runs.
 *
 * After set-up (/dev/kvm, the VM and vCPU, guest RAM, the blobs and the
 * image are open or loaded), nothing the monitor does needs a new resource.
 * vmm_lockdown() moves the descriptors the filter names to their fixed
 * numbers (vmm_fds.h), sets rlimits and no_new_privs, and installs the
 * seccomp allow-list whose default action kills the process.  The filter is
 * libseccomp's, compiled at build time (vmm_seccomp_gen.c, where every rule
 * names the code path that needs it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_vm.h"
#include "seccomp_filter.h"
#include "vmm.h"
#include "vmm_fds.h"

_Static_assert(VMM_FD_IMAGES == ABI_MAX_DEVICES, "one filter slot per device");
_Static_assert((VMM_FD_IMAGE0 & (VMM_FD_IMAGES - 1)) == 0 &&
                   (VMM_FD_IMAGES & (VMM_FD_IMAGES - 1)) == 0,
               "the images' block must suit one masked compare");

/* Move *fd to `target` (closing whatever stranger held it). */
static int place(int *fd, int target)
{
    if (*fd == target)
        return 0;
    if (dup3(*fd, target, O_CLOEXEC) < 0)
        return -errno;
    close(*fd);
    *fd = target;
    return 0;
}

/* Our descriptors inside [VMM_FD_VCPU, VMM_FD_END) move above it first, so
 * that placing one never closes another. */
static int clear_range(int *fd)
{
    int moved;

    if (*fd < VMM_FD_VCPU || *fd >= VMM_FD_END)
        return 0;
    moved = fcntl(*fd, F_DUPFD_CLOEXEC, VMM_FD_END);
    if (moved < 0)
        return -errno;
    close(*fd);
    *fd = moved;
    return 0;
}

int vmm_place_fds(int *vm_fd, int *vcpu_fd, int *image_fds, uint32_t n_images)
{
    int rc;

    if (n_images > VMM_FD_IMAGES)
        return -EMFILE;
    rc = clear_range(vm_fd);
    if (rc == 0)
        rc = clear_range(vcpu_fd);
    for (uint32_t i = 0; i < n_images && rc == 0; i++)
        rc = clear_range(&image_fds[i]);
    if (rc == 0)
        rc = place(vcpu_fd, VMM_FD_VCPU);
    for (uint32_t i = 0; i < n_images && rc == 0; i++)
        rc = place(&image_fds[i], VMM_FD_IMAGE0 + (int)i);
    return rc;
}

int vmm_lockdown(int highest_fd, uint64_t ram_size, uint32_t timeout_ms)
{
    struct sock_filter filter[sizeof(vmm_seccomp_filter) / sizeof(vmm_seccomp_filter[0])];
    const struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
        .filter = filter,
    };
    struct rlimit rl;

    memcpy(filter, vmm_seccomp_filter, sizeof(filter));

    /* No core dump may carry guest memory; no descriptor beyond ours. */
    rl.rlim_cur = rl.rlim_max = 0;
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        return -errno;
    rl.rlim_cur = rl.rlim_max = (rlim_t)highest_fd + 1 > 16 ? (rlim_t)highest_fd + 1 : 16;
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
#ifndef INSTAR_SAN
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return -errno;
#else
    /* Sanitizer builds (make check-asan) do not load the filter:
     * LeakSanitizer stops the world at exit from a ptrace-ing helper
     * process, which no sensible allow-list admits.  The release build's
     * filter is tested by tests/functional/test_lockdown.py. */
    (void)prog;
#endif
    return 0;
}
