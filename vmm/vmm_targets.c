/* vmm_targets.c: the -O target formats qemu-img knows, and their creation
 * options (name and type), as qemu-img 7.2 with Debian's qemu-utils has them.
 *
 * qemu parses -o against the target's creation options followed by the file
 * protocol's; the first description of a name wins.
 */
#include <string.h>

#include "abi_format.h"
#include "vmm_measure.h"

#define END {NULL, VMM_OPT_STRING}

static const struct vmm_opt_desc file_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"preallocation", VMM_OPT_STRING},
    {"nocow", VMM_OPT_BOOL},
    {"extent_size_hint", VMM_OPT_SIZE},
    END,
};

static const struct vmm_opt_desc raw_opts[] = {
    {"size", VMM_OPT_SIZE},
    END,
};

static const struct vmm_opt_desc qcow2_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"compat", VMM_OPT_STRING},
    {"backing_file", VMM_OPT_STRING},
    {"backing_fmt", VMM_OPT_STRING},
    {"data_file", VMM_OPT_STRING},
    {"data_file_raw", VMM_OPT_BOOL},
    {"encryption", VMM_OPT_BOOL},
    {"encrypt.format", VMM_OPT_STRING},
    {"encrypt.key-secret", VMM_OPT_STRING},
    {"encrypt.cipher-alg", VMM_OPT_STRING},
    {"encrypt.cipher-mode", VMM_OPT_STRING},
    {"encrypt.ivgen-alg", VMM_OPT_STRING},
    {"encrypt.ivgen-hash-alg", VMM_OPT_STRING},
    {"encrypt.hash-alg", VMM_OPT_STRING},
    {"encrypt.iter-time", VMM_OPT_NUMBER},
    {"cluster_size", VMM_OPT_SIZE},
    {"preallocation", VMM_OPT_STRING},
    {"lazy_refcounts", VMM_OPT_BOOL},
    {"refcount_bits", VMM_OPT_NUMBER},
    {"compression_type", VMM_OPT_STRING},
    {"extended_l2", VMM_OPT_BOOL},
    END,
};

static const struct vmm_opt_desc luks_opts[] = {
    {"key-secret", VMM_OPT_STRING},
    {"cipher-alg", VMM_OPT_STRING},
    {"cipher-mode", VMM_OPT_STRING},
    {"ivgen-alg", VMM_OPT_STRING},
    {"ivgen-hash-alg", VMM_OPT_STRING},
    {"hash-alg", VMM_OPT_STRING},
    {"iter-time", VMM_OPT_NUMBER},
    {"size", VMM_OPT_SIZE},
    END,
};

static const struct vmm_opt_desc vmdk_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"adapter_type", VMM_OPT_STRING},
    {"backing_file", VMM_OPT_STRING},
    {"backing_fmt", VMM_OPT_STRING},
    {"compat6", VMM_OPT_BOOL},
    {"hwversion", VMM_OPT_STRING},
    {"toolsversion", VMM_OPT_STRING},
    {"subformat", VMM_OPT_STRING},
    {"zeroed_grain", VMM_OPT_BOOL},
    END,
};

static const struct vmm_opt_desc vpc_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"subformat", VMM_OPT_STRING},
    {"force_size", VMM_OPT_BOOL},
    END,
};

static const struct vmm_opt_desc vhdx_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"log_size", VMM_OPT_SIZE},
    {"block_size", VMM_OPT_SIZE},
    {"subformat", VMM_OPT_STRING},
    {"block_state_zero", VMM_OPT_BOOL},
    END,
};

static const struct vmm_opt_desc vdi_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"static", VMM_OPT_BOOL},
    END,
};

static const struct vmm_opt_desc qed_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"backing_file", VMM_OPT_STRING},
    {"backing_fmt", VMM_OPT_STRING},
    {"cluster_size", VMM_OPT_SIZE},
    {"table_size", VMM_OPT_SIZE},
    END,
};

static const struct vmm_opt_desc qcow_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"backing_file", VMM_OPT_STRING},
    {"backing_fmt", VMM_OPT_STRING},
    {"encryption", VMM_OPT_BOOL},
    {"encrypt.format", VMM_OPT_STRING},
    {"encrypt.key-secret", VMM_OPT_STRING},
    END,
};

static const struct vmm_opt_desc parallels_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"cluster_size", VMM_OPT_SIZE},
    END,
};

static const struct vmm_opt_desc host_opts[] = {
    {"size", VMM_OPT_SIZE},
    {"preallocation", VMM_OPT_STRING},
    END,
};

static const struct vmm_target targets[] = {
    {"raw", VMM_TARGET_MEASURE, ABI_FMT_RAW, raw_opts},
    {"qcow2", VMM_TARGET_MEASURE, ABI_FMT_QCOW2, qcow2_opts},
    {"luks", VMM_TARGET_MEASURE, ABI_FMT_LUKS, luks_opts},
    /* qemu-img refuses these three; instar measures them (docs/quirks.md). */
    {"vmdk", VMM_TARGET_MEASURE, ABI_FMT_VMDK4, vmdk_opts},
    {"vpc", VMM_TARGET_MEASURE, ABI_FMT_VHD, vpc_opts},
    {"vhdx", VMM_TARGET_MEASURE, ABI_FMT_VHDX, vhdx_opts},
    {"vdi", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, vdi_opts},
    {"qed", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, qed_opts},
    {"qcow", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, qcow_opts},
    {"parallels", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, parallels_opts},
    {"file", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, file_opts},
    {"nbd", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, host_opts},
    {"host_device", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, host_opts},
    {"host_cdrom", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, host_opts},
    {"nvme", VMM_TARGET_NO_MEASURE, ABI_FMT_UNKNOWN, host_opts},
    {"bochs", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"cloop", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"dmg", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"vvfat", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"null-co", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"null-aio", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"throttle", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"quorum", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"blkdebug", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"blkverify", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"blklogwrites", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"compress", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"copy-on-read", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"copy-before-write", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"preallocate", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"replication", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
    {"snapshot-access", VMM_TARGET_NO_CREATE, ABI_FMT_UNKNOWN, NULL},
};

const struct vmm_target *vmm_target_find(const char *name)
{
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    }
    return NULL;
}

const struct vmm_opt_desc *vmm_file_opts(void)
{
    return file_opts;
}
