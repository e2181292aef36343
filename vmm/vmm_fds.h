/* vmm_fds.h: the descriptor numbers the seccomp filter names.
 *
 * The filter is compiled at build time (vmm_seccomp_gen.c), so the lockdown
 * moves the vCPU and the image descriptors to these numbers first
 * (vmm_seccomp.c).  Images take a 64-aligned block of 64, so that one masked
 * compare admits them all.
 */
#ifndef INSTAR_VMM_FDS_H
#define INSTAR_VMM_FDS_H

#define VMM_FD_VCPU 63
#define VMM_FD_IMAGE0 64
#define VMM_FD_IMAGES 64 /* ABI_MAX_DEVICES */
#define VMM_FD_END (VMM_FD_IMAGE0 + VMM_FD_IMAGES)

#endif
