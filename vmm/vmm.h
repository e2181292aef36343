/* vmm.h: internal API of the host monitor and CLI (build/instar).
 *
 * The host never parses image bytes.  It parses the command line, opens the
 * image read-only, boots a fresh guest for the operation, answers the
 * guest's device requests, decodes the guest's framed protobuf messages and
 * prints qemu-img's output.  Guest memory is only ever touched through
 * vmm_guest_range(); every guest request is copied once, validated, then
 * acted upon.
 */
#ifndef INSTAR_VMM_H
#define INSTAR_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abi_vm.h"

/* ---- exit statuses (docs/security.md) ----------------------------------- */
#define VMM_EXIT_OK 0
#define VMM_EXIT_ERROR 1       /* what qemu-img exits with for every failure */
#define VMM_EXIT_GUEST_FAULT 3 /* guest crashed or broke the protocol */
#define VMM_EXIT_BUDGET 4      /* deadline, exit or I/O budget exceeded */
#define VMM_EXIT_HOST 5        /* no /dev/kvm, missing or invalid guest blobs */

/* ---- messages ------------------------------------------------------------ */
/* Program name used as the error prefix ("instar"). */
extern const char *vmm_progname;
/* Where diagnostics go: stderr, or a buffer while they must wait for the
 * guest's verdict on the source (qemu-img opens the source first). */
extern FILE *vmm_diag;
/* Print "<prog>: <fmt>\n" to stderr (qemu's error_report). */
void vmm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "<prog>: warning: <fmt>\n" to stderr (qemu's warn_report). */
void vmm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print to stderr when INSTAR_DEBUG is set. */
void vmm_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* strerror() with glibc's texts (qemu-img's), whichever libc instar links. */
const char *vmm_strerror(int err);
extern bool vmm_debug_enabled;

/* ---- sizes and option lists (vmm_size.c, vmm_opts.c) ------------------- */
enum vmm_strtosz_err { VMM_SZ_OK = 0, VMM_SZ_EINVAL, VMM_SZ_ERANGE };
/* qemu_strtosz: parse a size with optional b/k/m/g/t/p/e suffix (powers of
 * 1024), fraction, or 0x hex.  Prints qemu's deprecation warning for a hex
 * number with a suffix.  The whole string must be consumed. */
enum vmm_strtosz_err vmm_strtosz(const char *s, uint64_t *out);
/* cvtnum("image size"): vmm_strtosz limited to [0, INT64_MAX]; prints
 * qemu-img's error lines and returns false on failure. */
bool vmm_parse_image_size(const char *s, uint64_t *out);
/* qemu_strtou64 with base 0, whole string: 0 ok, -1 invalid, -2 out of range. */
int vmm_strtou64_base0(const char *s, uint64_t *out);

enum vmm_opt_type { VMM_OPT_STRING, VMM_OPT_BOOL, VMM_OPT_NUMBER, VMM_OPT_SIZE };

struct vmm_opt_desc {
    const char *name;
    enum vmm_opt_type type;
};

/* One parsed name=value of an option list, after type checking. */
struct vmm_opt {
    const struct vmm_opt_desc *desc; /* NULL when parsed by vmm_opts_parse_any() */
    char *name;        /* owned */
    char *value;       /* owned */
    uint64_t number;   /* NUMBER and SIZE */
    bool boolean;      /* BOOL */
};

struct vmm_opts {
    struct vmm_opt *items; /* owned, grows as needed */
    size_t count;
    size_t cap;
};

/* qemu-img's is_valid_option_list(): not empty, no leading ',', no lone
 * trailing ','. */
bool vmm_opts_list_valid(const char *list);
/* Parse `list` (name=value,...; ",," escapes a comma; bare "name" means
 * on, bare "noname" means off) against the descriptions `descs` and then
 * `more` (may be NULL; both end with a NULL name), checking each value's
 * type in order.  On failure prints qemu's message(s) and returns false;
 * `opts` is then released. */
bool vmm_opts_parse(struct vmm_opts *opts, const char *list, const struct vmm_opt_desc *descs,
                    const struct vmm_opt_desc *more);
/* Split `list` like vmm_opts_parse(), accepting every name as a string
 * option (for --image-opts, whose names the block layer checks). */
bool vmm_opts_parse_any(struct vmm_opts *opts, const char *list);

/* The last occurrence of `name`, or NULL. */
const struct vmm_opt *vmm_opts_get(const struct vmm_opts *opts, const char *name);
/* The last value of `name`: its text (or NULL), its number, its bool. */
const char *vmm_opts_str(const struct vmm_opts *opts, const char *name);
uint64_t vmm_opts_num(const struct vmm_opts *opts, const char *name, uint64_t dflt);
bool vmm_opts_bool(const struct vmm_opts *opts, const char *name, bool dflt);
void vmm_opts_free(struct vmm_opts *opts);

/* ---- guest memory (vmm_mem.c) ------------------------------------------ */
/* A guest-physical address: a distinct type so it cannot be dereferenced or
 * mixed up with host pointers. */
typedef struct {
    uint64_t v;
} vmm_gpa_t;

#define VMM_GPA(x) ((vmm_gpa_t){(x)})

/* Page permissions in the small-page area (first ABI_SMALL_PAGES_END bytes). */
#define VMM_PAGE_ABSENT 0u
#define VMM_PAGE_R 1u  /* present, readable */
#define VMM_PAGE_W 2u  /* writable */
#define VMM_PAGE_X 4u  /* executable */
#define VMM_PAGE_U 8u  /* reachable from CPL3 */

struct vmm_mem {
    uint8_t *ram;          /* host mapping of guest RAM, guard pages around it */
    uint64_t ram_size;     /* bytes, a multiple of 2 MiB */
    size_t map_size;       /* whole mapping including the guards */
    uint8_t perm[ABI_SMALL_PAGES_END / ABI_PAGE_SIZE];
};

/* Map `ram_size` bytes of zeroed guest RAM (lazily; never MAP_POPULATE),
 * with PROT_NONE guard pages on both sides.  Returns 0 or -errno. */
int vmm_mem_init(struct vmm_mem *mem, uint64_t ram_size);
void vmm_mem_fini(struct vmm_mem *mem);
/* The one checked path from guest address to host pointer: NULL unless
 * [gpa, gpa + len) lies wholly inside guest RAM (len may be 0). */
void *vmm_guest_range(const struct vmm_mem *mem, vmm_gpa_t gpa, uint64_t len);
/* Set VMM_PAGE_* permissions for the pages covering [gpa, gpa + len) of the
 * small-page area.  Returns false if the range leaves that area. */
bool vmm_mem_set_perm(struct vmm_mem *mem, uint64_t gpa, uint64_t len, uint8_t perm);
/* Write GDT, TSS and page tables into guest RAM from the permission map.
 * Call after every vmm_mem_set_perm(). */
void vmm_mem_build_tables(struct vmm_mem *mem);

/* ---- guest blobs (vmm_elf.c) ------------------------------------------- */
/* Load the ELF blob `path` of `kind` (ABI_BLOB_*) at `base`, limited to
 * `cap` bytes of memsz extent, into guest RAM, and set page permissions from
 * its segments.  *entry receives e_entry.  Prints a diagnostic and returns
 * false on any problem. */
bool vmm_load_blob(struct vmm_mem *mem, const char *path, uint32_t kind, uint64_t base,
                   uint64_t cap, uint64_t *entry);
/* Directory holding core.bin and the operation blobs: $INSTAR_BLOB_DIR, the
 * executable's directory, or <exe dir>/../lib/instar.  Returns false if no
 * candidate has core.bin. */
bool vmm_blob_dir(char *out, size_t out_size);

/* ---- decoded guest messages (vmm_proto.c) ------------------------------ */
struct vmm_measure_msg {
    char target_format[17];
    uint64_t required;
    uint64_t fully_allocated;
    uint32_t resolved_unit_size;
    uint32_t error;
    bool has_bitmaps;       /* qemu's "bitmaps size" applies */
    uint64_t bitmaps;
};

/* What a run produced, decoded and validated. */
struct vmm_guest_report {
    bool have_error;            /* first ErrorMessage, latched */
    uint32_t error_status;      /* ABI_ERROR_* */
    char error_operation[33];
    char error_message[513];
    bool have_note;             /* first ABI_ERROR_NOTE*, latched */
    bool note_raw;              /* ABI_ERROR_NOTE_RAW: no program name */
    char note[513];
    bool have_complete;
    bool complete_success;
    bool have_measure;
    struct vmm_measure_msg measure;
    uint32_t messages;
};

/* Decode one frame payload (a GuestMessage) into `rep`, enforcing the
 * protocol: known payload, bounded clean strings, at most one result, nothing
 * after Complete.  Returns 0, or -1 with a reason in `why`. */
int vmm_proto_decode(struct vmm_guest_report *rep, const uint8_t *payload, size_t len,
                     char *why, size_t why_size);

/* ---- running a guest (vmm_kvm.c, vmm_run.c) ---------------------------- */
#define VMM_DEFAULT_TIMEOUT_MS 30000u
#define VMM_MAX_EXITS 1000000u

enum vmm_outcome {
    VMM_RUN_OK,          /* guest exited cleanly; see report */
    VMM_RUN_FAULT,       /* guest fault or protocol violation: message set */
    VMM_RUN_BUDGET,      /* deadline or budget exceeded: message set */
    VMM_RUN_HOST,        /* host-side failure (KVM, blobs): message set */
};

struct vmm_device {
    int fd;              /* opened read-only by the caller */
    uint64_t size;       /* bytes */
    uint64_t allocated;  /* st_blocks * 512 */
};

struct vmm_run_params {
    const char *op_name;         /* "measure" -> <blob dir>/measure.bin */
    const void *config;          /* copied to ABI_OPERATION_CONFIG_ADDR */
    size_t config_len;
    const struct vmm_device *devices;
    uint32_t device_count;
    uint64_t ram_size;           /* 0 = ABI_RAM_DEFAULT */
    uint32_t timeout_ms;         /* 0 = VMM_DEFAULT_TIMEOUT_MS */
};

struct vmm_run_result {
    enum vmm_outcome outcome;
    char message[512];           /* for every outcome but VMM_RUN_OK */
    uint64_t guest_exit_status;  /* ABI_EXIT_* from the exit doorbell */
    struct vmm_guest_report report;
    uint64_t exits;
    uint64_t bytes_read;
};

/* Boot a fresh guest for one operation and run it to its end.  Always fills
 * `res`; never exits the process. */
void vmm_run(const struct vmm_run_params *p, struct vmm_run_result *res);

/* ---- lockdown (vmm_seccomp.c) -------------------------------------------- */
/* Move the vCPU and image descriptors to the numbers the seccomp filter
 * names (vmm_fds.h), first moving any of `vm_fd`, `vcpu_fd` and `image_fds`
 * out of that range; updates them.  Returns 0 or a negative errno. */
int vmm_place_fds(int *vm_fd, int *vcpu_fd, int *image_fds, uint32_t n_images);
/* Drop what the run does not need, once set-up is complete and before the
 * guest runs: rlimits (no core, no descriptor above `highest_fd`, CPU and
 * address-space caps), no_new_privs, and the seccomp allow-list (ioctl on
 * the vCPU only, pread64/lseek on the images, write to stdout/stderr,
 * teardown) that kills the process on anything else.  Returns 0 or a
 * negative errno. */
int vmm_lockdown(int highest_fd, uint64_t ram_size, uint32_t timeout_ms);

/* ---- commands ---------------------------------------------------------- */
int vmm_cmd_measure(int argc, char **argv);
void vmm_print_help(FILE *out);

#endif /* INSTAR_VMM_H */
