/* vmm_measure.h: pieces of the measure command shared by its files. */
#ifndef INSTAR_VMM_MEASURE_H
#define INSTAR_VMM_MEASURE_H

#include "vmm.h"

struct vmm_chain;

enum vmm_target_kind {
    VMM_TARGET_MEASURE,    /* measured (by qemu-img, or by instar only) */
    VMM_TARGET_NO_MEASURE, /* "Block driver '%s' does not support size measurement" */
    VMM_TARGET_NO_CREATE,  /* "Format driver '%s' does not support image creation" */
};

struct vmm_target {
    const char *name;               /* qemu driver name, as given to -O */
    enum vmm_target_kind kind;
    uint32_t abi_fmt;               /* ABI_FMT_* for measured targets */
    const struct vmm_opt_desc *opts; /* creation options; NULL for NO_CREATE */
};

/* The measure command's arguments after parsing. */
struct vmm_measure_args {
    bool json;
    const char *fmt;           /* -f */
    const char *out_fmt;       /* -O; NULL means raw */
    char *options;             /* accumulated -o lists, joined with ',' (owned) */
    const char *snapshot_name; /* -l NAME */
    bool snapshot_opts;        /* -l snapshot.id=...,snapshot.name=... */
    char *snapshot_id_opt;     /* its snapshot.id value (owned), or NULL */
    char *snapshot_name_opt;   /* its snapshot.name value (owned), or NULL */
    bool image_opts;
    bool have_size;
    uint64_t img_size;
    const char *filename;      /* the source argument as given */
    const char *source_path;   /* the file it names (set when opened) */
    uint32_t timeout_ms;       /* 0 = default */
    char **allow_paths;        /* --allow-path DIRs (the array is owned) */
    size_t n_allow_paths;
    const struct vmm_chain *chain; /* the source's chain (set when run) */
};

/* Parse `measure` argv (argv[0] is "measure") in qemu-img's order, with its
 * messages.  Returns -1 to go on, or the exit status to end with (0 after
 * printing the usage text).  Release with vmm_measure_args_free(). */
int vmm_measure_parse_argv(int argc, char **argv, struct vmm_measure_args *a);
void vmm_measure_args_free(struct vmm_measure_args *a);

/* The source image, from a file name, --image-opts or json:{...}. */
struct vmm_source {
    const char *display;       /* the argument, as "Could not open '%s'" names it */
    char *path;                /* the file to open */
    char *plain_filename;      /* "filename" option (driver=file) */
    char *driver;              /* format driver, or NULL to probe */
    char *protocol;            /* file.driver */
    bool window;               /* raw offset= / size= given */
    bool has_size;
    bool has_offset;
    uint64_t offset;
    uint64_t size;
    char *key_secret;          /* key-secret / encrypt.key-secret */
    const char *key_secret_opt;
    char *backing;             /* backing=<node> (not supported) */
    bool backing_cut;          /* backing=null or "": do not follow a backing file */
    bool backing_null_json;    /* json: "backing": null */
    bool backing_opts;         /* backing.<key>=...: options of a backing file */
    char *unknown;             /* first option nothing understands */
};

/* Reduce `arg` (a file name, or with image_opts an option string; json:
 * names either way) to `s`.  On failure *err is qemu's message (malloc'd),
 * to print after "Could not open '<arg>': ". */
bool vmm_source_parse(const char *arg, bool image_opts, struct vmm_source *s, char **err);
void vmm_source_free(struct vmm_source *s);

/* The target called `name` (case-sensitive), or NULL. */
const struct vmm_target *vmm_target_find(const char *name);
/* The file protocol's creation options, appended to every target's. */
const struct vmm_opt_desc *vmm_file_opts(void);

/* --object definitions given so far (vmm_object.c). */
enum vmm_object_rc {
    VMM_OBJECT_OK,
    VMM_OBJECT_ERROR, /* message printed: exit 1 */
    VMM_OBJECT_HELP,  /* help printed: exit 0 */
};
/* Process one --object argument as qemu-img does when it sees it. */
enum vmm_object_rc vmm_object_add(const char *def);
/* True if a secret object with this id was defined. */
bool vmm_secret_exists(const char *id);
/* qemu-img's checks when a secret is used as a passphrase: defined, and its
 * bytes valid UTF-8.  Otherwise false, with qemu's message in `why`. */
bool vmm_secret_check(const char *id, char *why, size_t why_size);
void vmm_objects_free(void);

/* LUKS header length for the encryption options in `opts` whose names start
 * with `prefix` ("" for the luks target, "encrypt." for qcow2).  Prints
 * qemu-img's message and returns false when they are invalid. */
bool vmm_luks_header_len(const struct vmm_opts *opts, const char *prefix, uint64_t *len);

/* Resolve the -o options of the vmdk, vpc or vhdx target `fmt` into `cfg`
 * and `ext` (vmm_image.c); `size` is the --size value when have_size.  Prints qemu-img's message and returns false when invalid. */
struct abi_measure_config;
struct abi_measure_ext;
bool vmm_image_config(uint32_t fmt, const struct vmm_opts *o, bool have_size, uint64_t size,
                      struct abi_measure_config *cfg, struct abi_measure_ext *ext);

#endif /* INSTAR_VMM_MEASURE_H */
