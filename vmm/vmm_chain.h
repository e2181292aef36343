/* vmm_chain.h: backing chains under the path policy (vmm_chain.c). */
#ifndef INSTAR_VMM_CHAIN_H
#define INSTAR_VMM_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "abi_vm.h"
#include "vmm.h"

/* Images in a backing chain (the top included): more are refused. */
#define VMM_MAX_IMAGES 16u

/* What a file of the chain is to the image that names it. */
enum vmm_link_kind {
    VMM_LINK_IMAGE,   /* the top image, or a backing file */
    VMM_LINK_DATA,    /* a qcow2 external data file */
    VMM_LINK_EXTENT,  /* a vmdk extent file */
};

/* The files of a source's chain, in the order the guest asked for them:
 * device k of the guest run.  Device 0 is the top image. */
struct vmm_chain {
    uint32_t n;                          /* links opened */
    struct vmm_device dev[ABI_MAX_DEVICES];
    char *name[ABI_MAX_DEVICES];         /* each file's name as qemu prints it */
    enum vmm_link_kind kind[ABI_MAX_DEVICES];
    uint32_t depth[ABI_MAX_DEVICES];     /* backing levels above it (0: the top's) */
    dev_t st_dev[ABI_MAX_DEVICES];       /* identity, for loop detection */
    ino_t st_ino[ABI_MAX_DEVICES];
    char *cwd;                           /* set at the first backing file */
    char **allow;                        /* allowed directories (absolute, as text,
                                            once cwd is set) */
    int *allow_fd;                       /* each opened O_PATH when first used, or -1 */
    size_t n_allow;
};

/* Start a chain at the opened top image (its descriptor stays the caller's).
 * The allowed directories are the top's directory and `allow`; nothing is
 * looked up until a backing file is followed. */
void vmm_chain_init(struct vmm_chain *c, const struct vmm_device *top, const char *top_path,
                    char *const *allow, size_t n_allow);
/* The last image opened names the file `name` (the guest's words, printable
 * ASCII) as its backing file (`kind` VMM_LINK_IMAGE), data file or extent
 * file: resolve, judge and open it as the next device.  On refusal prints
 * "Could not open '<arg>': ..." with qemu's nesting and returns false. */
bool vmm_chain_follow(struct vmm_chain *c, const char *arg, const char *name,
                      enum vmm_link_kind kind);
/* The name of the chain's image `depth` backing levels below the top, or
 * NULL. */
const char *vmm_chain_image(const struct vmm_chain *c, uint32_t depth);
void vmm_chain_free(struct vmm_chain *c);

/* Run fn in a forked child and return its exit status; a child killed by a
 * signal kills the caller with the same signal.  The child may leave a
 * NUL-terminated request in `req` (its own shared page of `req_size`
 * bytes); the parent's `req` receives a copy ("" when none). */
int vmm_sandboxed_run(int (*fn)(void *arg, char *req, size_t req_size), void *arg, char *req,
                      size_t req_size);

#endif /* INSTAR_VMM_CHAIN_H */
