/* vmm_measure.c: `instar measure`, argument for argument like qemu-img 7.2.
 *
 * The host's part: parse argv in qemu-img's order with qemu-img's messages,
 * resolve -O and -o into a struct abi_measure_config, run the measure guest,
 * and print the guest's validated result as qemu-img prints it.  All
 * arithmetic happens in the guest (crates/measure); the host only calls the
 * same library to reproduce qemu-img's option validation and its order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi_calltable.h"
#include "abi_format.h"
#include "abi_measure.h"
#include "calc.h"
#include "vmm_chain.h"
#include "vmm_getopt.h"
#include "vmm_measure.h"

/* The config page as the guest finds it: MeasureConfig, then the extension
 * record at ABI_MEASURE_EXT_OFFSET. */
struct measure_page {
    struct abi_measure_config cfg;
    uint8_t _gap[ABI_MEASURE_EXT_OFFSET - sizeof(struct abi_measure_config)];
    struct abi_measure_ext ext;
};
_Static_assert(offsetof(struct measure_page, ext) == ABI_MEASURE_EXT_OFFSET,
               "extension record offset");

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
    OPTION_OUTPUT,
    OPTION_SIZE,
    OPTION_TIMEOUT,
    OPTION_ALLOW_PATH,
};

/* qemu-img's accumulate_options(). */
static bool accumulate_options(struct vmm_measure_args *a, const char *arg)
{
    char *joined;

    if (!vmm_opts_list_valid(arg)) {
        vmm_error("Invalid option list: %s", arg);
        return false;
    }
    if (a->options == NULL)
        joined = strdup(arg);
    else if (asprintf(&joined, "%s,%s", a->options, arg) < 0)
        joined = NULL;
    if (joined == NULL)
        abort();
    free(a->options);
    a->options = joined;
    return true;
}

static bool parse_snapshot_param(const char *arg, struct vmm_measure_args *a)
{
    static const struct vmm_opt_desc descs[] = {
        {"snapshot.id", VMM_OPT_STRING},
        {"snapshot.name", VMM_OPT_STRING},
        {NULL, VMM_OPT_STRING},
    };
    struct vmm_opts o;

    const char *v;

    if (!vmm_opts_parse(&o, arg, descs, NULL)) {
        vmm_error("Failed in parsing snapshot param '%s'", arg);
        return false;
    }
    free(a->snapshot_id_opt);
    free(a->snapshot_name_opt);
    v = vmm_opts_str(&o, "snapshot.id");
    a->snapshot_id_opt = v != NULL ? strdup(v) : NULL;
    v = vmm_opts_str(&o, "snapshot.name");
    a->snapshot_name_opt = v != NULL ? strdup(v) : NULL;
    vmm_opts_free(&o);
    return true;
}

void vmm_measure_args_free(struct vmm_measure_args *a)
{
    free(a->options);
    free(a->snapshot_id_opt);
    free(a->snapshot_name_opt);
    free(a->allow_paths);
    a->options = a->snapshot_id_opt = a->snapshot_name_opt = NULL;
    a->allow_paths = NULL;
}

static bool parse_timeout(const char *arg, uint32_t *ms)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v == 0 || v > 3600) {
        vmm_error("--timeout must be a whole number of seconds between 1 and 3600");
        return false;
    }
    *ms = (uint32_t)v * 1000u;
    return true;
}

int vmm_measure_parse_argv(int argc, char **argv, struct vmm_measure_args *a)
{
    static const struct vmm_long_option long_options[] = {
        {"help", false, 'h'},
        {"image-opts", false, OPTION_IMAGE_OPTS},
        {"object", true, OPTION_OBJECT},
        {"output", true, OPTION_OUTPUT},
        {"size", true, OPTION_SIZE},
        {"force-share", false, 'U'},
        {"timeout", true, OPTION_TIMEOUT},
        {"allow-path", true, OPTION_ALLOW_PATH},
        {NULL, false, 0},
    };
    struct vmm_getopt g;
    int c;

    vmm_getopt_init(&g);
    while ((c = vmm_getopt_long(&g, argc, argv, "hf:O:o:l:U", long_options)) != -1) {
        char *arg = g.arg;

        switch (c) {
        case '?':
        case 'h':
            vmm_print_help(stdout);
            return VMM_EXIT_OK;
        case 'f':
            a->fmt = arg;
            break;
        case 'O':
            a->out_fmt = arg;
            break;
        case 'o':
            if (!accumulate_options(a, arg))
                return VMM_EXIT_ERROR;
            break;
        case 'l':
            if (strncmp(arg, "snapshot.", 9) == 0) {
                if (!parse_snapshot_param(arg, a))
                    return VMM_EXIT_ERROR;
                a->snapshot_opts = true;
                a->snapshot_name = NULL;
            } else {
                a->snapshot_name = arg;
                a->snapshot_opts = false;
            }
            break;
        case 'U':
            break; /* locking only; instar never writes */
        case OPTION_OBJECT:
            switch (vmm_object_add(arg)) {
            case VMM_OBJECT_OK:
                break;
            case VMM_OBJECT_HELP:
                return VMM_EXIT_OK;
            case VMM_OBJECT_ERROR:
                return VMM_EXIT_ERROR;
            }
            break;
        case OPTION_IMAGE_OPTS:
            a->image_opts = true;
            break;
        case OPTION_OUTPUT:
            if (strcmp(arg, "json") == 0) {
                a->json = true;
            } else if (strcmp(arg, "human") == 0) {
                a->json = false;
            } else {
                vmm_error("--output must be used with human or json as argument.");
                return VMM_EXIT_ERROR;
            }
            break;
        case OPTION_SIZE:
            if (!vmm_parse_image_size(arg, &a->img_size))
                return VMM_EXIT_ERROR;
            a->have_size = true;
            break;
        case OPTION_TIMEOUT:
            if (!parse_timeout(arg, &a->timeout_ms))
                return VMM_EXIT_ERROR;
            break;
        case OPTION_ALLOW_PATH: {
            char **more = realloc(a->allow_paths, (a->n_allow_paths + 1) * sizeof(*more));

            if (more == NULL)
                abort();
            more[a->n_allow_paths++] = arg;
            a->allow_paths = more;
            break;
        }
        }
    }
    if (argc - g.ind > 1) {
        vmm_error("At most one filename argument is allowed.");
        return VMM_EXIT_ERROR;
    }
    if (argc - g.ind == 1)
        a->filename = argv[g.ind];
    if (a->filename == NULL &&
        (a->image_opts || a->fmt != NULL || a->snapshot_name != NULL || a->snapshot_opts)) {
        vmm_error("--image-opts, -f, and -l require a filename argument.");
        return VMM_EXIT_ERROR;
    }
    if (a->filename != NULL && a->have_size) {
        vmm_error("--size N cannot be used together with a filename.");
        return VMM_EXIT_ERROR;
    }
    if (a->filename == NULL && !a->have_size) {
        vmm_error("Either --size N or one filename must be specified.");
        return VMM_EXIT_ERROR;
    }
    return -1;
}

/* ---- target options --------------------------------------------------- */

/* qcow2_measure()'s option checks, in its order. */
static bool qcow2_config(const struct vmm_opts *o, uint64_t size, struct abi_measure_config *cfg)
{
    bool extl2 = vmm_opts_bool(o, "extended_l2", false);
    uint64_t cluster = vmm_opts_num(o, "cluster_size", CALC_Q2_DEFAULT_CLUSTER);
    const char *compat = vmm_opts_str(o, "compat");
    bool v3 = true;
    uint64_t refcount_bits = vmm_opts_num(o, "refcount_bits", CALC_Q2_DEFAULT_REFCOUNT_BITS);
    const char *prealloc = vmm_opts_str(o, "preallocation");
    const char *encrypt = vmm_opts_str(o, "encrypt.format");
    uint32_t flags = 0;

    switch (calc_qcow2_check_cluster(cluster, extl2)) {
    case CALC_R_NONE:
        break;
    case CALC_R_Q2_EXTL2_CLUSTER:
        vmm_error("Extended L2 entries are only supported with cluster sizes of at least "
                  "16384 bytes");
        return false;
    default:
        vmm_error("Cluster size must be a power of two between 512 and 2048k");
        return false;
    }
    if (compat != NULL) {
        if (strcmp(compat, "0.10") == 0) {
            v3 = false;
        } else if (strcmp(compat, "1.1") != 0) {
            vmm_error("Invalid compatibility level: '%s'", compat);
            return false;
        }
    }
    switch (calc_qcow2_check_refcount(refcount_bits, v3)) {
    case CALC_R_NONE:
        break;
    case CALC_R_Q2_REFCOUNT_COMPAT:
        vmm_error("Different refcount widths than 16 bits require compatibility level 1.1 "
                  "or above (use compat=1.1 or greater)");
        return false;
    default:
        vmm_error("Refcount width must be a power of two and may not exceed 64 bits");
        return false;
    }
    if (prealloc == NULL || strcmp(prealloc, "off") == 0) {
        flags |= ABI_MEASURE_PREALLOC_OFF;
    } else if (strcmp(prealloc, "metadata") == 0) {
        flags |= ABI_MEASURE_PREALLOC_METADATA;
    } else if (strcmp(prealloc, "falloc") == 0) {
        flags |= ABI_MEASURE_PREALLOC_FALLOC;
    } else if (strcmp(prealloc, "full") == 0) {
        flags |= ABI_MEASURE_PREALLOC_FULL;
    } else {
        vmm_error("invalid parameter value: %s", prealloc);
        return false;
    }
    /* Only encrypt.format=luks changes the size; any other value is ignored. */
    if (encrypt != NULL && strcmp(encrypt, "luks") == 0 &&
        !vmm_luks_header_len(o, "encrypt.", &cfg->luks_header_overhead))
        return false;
    if (calc_qcow2_check_size(size, cluster, extl2) != CALC_R_NONE) {
        vmm_error("The image size is too large (try using a larger cluster size)");
        return false;
    }
    if (extl2)
        flags |= ABI_MEASURE_FLAG_EXTENDED_L2;
    if (v3)
        flags |= ABI_MEASURE_FLAG_COMPAT_V3;
    if (vmm_opts_bool(o, "lazy_refcounts", false))
        flags |= ABI_MEASURE_FLAG_LAZY_REFCOUNTS;
    if (vmm_opts_str(o, "backing_file") != NULL)
        flags |= ABI_MEASURE_FLAG_BACKING;
    cfg->flags |= flags;
    cfg->qcow2_cluster_size = (uint32_t)cluster;
    cfg->qcow2_refcount_bits = (uint8_t)refcount_bits;
    return true;
}

/* Resolve -O/-o into `page`; prints qemu-img's messages on failure. */
static bool build_config(const struct vmm_measure_args *a, struct measure_page *page)
{
    struct abi_measure_config *cfg = &page->cfg;
    const char *out_fmt = a->out_fmt != NULL ? a->out_fmt : "raw";
    const struct vmm_target *t = vmm_target_find(out_fmt);
    struct vmm_opts opts = {0};
    uint64_t size;
    bool ok = false;

    if (t == NULL) {
        vmm_error("Unknown file format '%s'", out_fmt);
        return false;
    }
    if (t->kind == VMM_TARGET_NO_CREATE) {
        vmm_error("Format driver '%s' does not support image creation", t->name);
        return false;
    }
    if (!vmm_opts_parse(&opts, a->options != NULL ? a->options : "", t->opts, vmm_file_opts())) {
        vmm_error("Invalid options for file format '%s'", out_fmt);
        return false;
    }
    if (t->kind == VMM_TARGET_NO_MEASURE) {
        vmm_error("Block driver '%s' does not support size measurement", t->name);
        goto out;
    }
    /* --size overrides -o size=; with a source, -o size= only feeds the
     * qcow2 size-limit check. */
    size = a->have_size ? a->img_size : vmm_opts_num(&opts, "size", 0);
    memset(page, 0, sizeof(*page));
    page->ext = (struct abi_measure_ext){
        .magic = ABI_MEASURE_EXT_MAGIC,
        .size = sizeof(struct abi_measure_ext),
        .flags = ABI_MEASURE_EXT_BLOCK_STATE_ZERO,
        .vmdk_heads = 16,
        .vmdk_strings_len = 3 + 1 + 10,
        .vhdx_log_size = CALC_MIB,
    };
    cfg->magic = ABI_MEASURE_CONFIG_MAGIC;
    cfg->target_format = t->abi_fmt;
    cfg->sector_size = 65536;
    if (a->have_size) {
        cfg->flags |= ABI_MEASURE_FLAG_SIZE_MODE;
        cfg->virtual_size_override = a->img_size;
    }
    switch (t->abi_fmt) {
    case ABI_FMT_RAW:
        ok = true;
        break;
    case ABI_FMT_QCOW2:
        ok = qcow2_config(&opts, size, cfg);
        break;
    case ABI_FMT_LUKS:
        ok = vmm_luks_header_len(&opts, "", &cfg->luks_header_overhead);
        break;
    default:
        ok = vmm_image_config(t->abi_fmt, &opts, a->have_size, size, cfg, &page->ext);
        break;
    }
out:
    vmm_opts_free(&opts);
    return ok;
}

/* ---- running and printing ------------------------------------------------ */

static void print_result(const struct vmm_measure_args *a, const struct vmm_measure_msg *m)
{
    if (a->json) {
        /* qemu prints these QAPI ints as signed 64-bit numbers, bitmaps first. */
        printf("{\n");
        if (m->has_bitmaps)
            printf("    \"bitmaps\": %" PRId64 ",\n", (int64_t)m->bitmaps);
        printf("    \"required\": %" PRId64 ",\n    \"fully-allocated\": %" PRId64 "\n}\n",
               (int64_t)m->required, (int64_t)m->fully_allocated);
    } else {
        printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64 "\n", m->required,
               m->fully_allocated);
        if (m->has_bitmaps)
            printf("bitmaps size: %" PRIu64 "\n", m->bitmaps);
    }
}

/* Print why a guest run failed; returns the exit status. */
static int report_failure(const struct vmm_measure_args *a, const struct vmm_run_result *r)
{
    const struct vmm_guest_report *rep = &r->report;

    switch (r->outcome) {
    case VMM_RUN_OK:
        break;
    case VMM_RUN_FAULT:
        vmm_error("%s", r->message);
        return VMM_EXIT_GUEST_FAULT;
    case VMM_RUN_BUDGET:
        vmm_error("%s", r->message);
        return VMM_EXIT_BUDGET;
    case VMM_RUN_HOST:
        vmm_error("%s", r->message);
        return VMM_EXIT_HOST;
    }
    if (rep->have_error) {
        if (rep->have_note && rep->note_raw)
            fprintf(stderr, "%s\n", rep->note);
        else if (rep->have_note)
            vmm_error("%s", rep->note);
        switch (rep->error_status) {
        case ABI_ERROR_OPEN:
            vmm_error("Could not open '%s': %s", a->filename != NULL ? a->filename : "",
                      rep->error_message);
            return VMM_EXIT_ERROR;
        case ABI_ERROR_OPEN_FILE: {
            /* The guest nests one "Could not open backing file: " per level:
             * the file is that link's. */
            static const char nest[] = "Could not open backing file: ";
            const char *rest = rep->error_message;
            const char *file = a->source_path;
            uint32_t k = 0;

            while (strncmp(rest, nest, sizeof(nest) - 1) == 0) {
                rest += sizeof(nest) - 1;
                k++;
            }
            if (k > 0)
                file = a->chain != NULL ? vmm_chain_image(a->chain, k) : NULL;
            vmm_error("Could not open '%s': %.*sCould not open '%s': %s",
                      a->filename != NULL ? a->filename : "", (int)(rest - rep->error_message),
                      rep->error_message, file != NULL ? file : "", rest);
            return VMM_EXIT_ERROR;
        }
        case ABI_ERROR_PANIC:
            vmm_error("guest panic in %s: %s", rep->error_operation, rep->error_message);
            return VMM_EXIT_GUEST_FAULT;
        case ABI_ERROR_NEED_BACKING:
        case ABI_ERROR_NEED_DATA_FILE:
        case ABI_ERROR_NEED_EXTENT:
            /* A source run takes this request before printing anything. */
            vmm_error("guest protocol violation: a file asked for without a source");
            return VMM_EXIT_GUEST_FAULT;
        default:
            vmm_error("%s", rep->error_message);
            return VMM_EXIT_ERROR;
        }
    }
    vmm_error("the guest ended without a result (exit status %llu)",
              (unsigned long long)r->guest_exit_status);
    return VMM_EXIT_GUEST_FAULT;
}

static const char *abi_target_name(uint32_t fmt)
{
    switch (fmt) {
    case ABI_FMT_RAW: return "raw";
    case ABI_FMT_QCOW2: return "qcow2";
    case ABI_FMT_VMDK4: return "vmdk";
    case ABI_FMT_VHD: return "vpc";
    case ABI_FMT_VHDX: return "vhdx";
    case ABI_FMT_LUKS: return "luks";
    default: return "unknown";
    }
}

static void run_guest(const struct vmm_measure_args *a, const struct measure_page *page,
                      const struct vmm_device *dev, uint32_t n_dev, struct vmm_run_result *r)
{
    struct vmm_run_params p = {
        .op_name = "measure",
        .config = page,
        .config_len = sizeof(*page),
        .devices = dev,
        .device_count = n_dev,
        /* Each image of a backing chain opens its own driver, with its own
         * metadata windows (up to 32 MiB each; RAM is mapped lazily). */
        .ram_size = n_dev <= 1 ? 0
                    : n_dev > (ABI_RAM_MAX - ABI_RAM_DEFAULT) / (32u << 20)
                        ? ABI_RAM_MAX
                        : ABI_RAM_DEFAULT + (uint64_t)(n_dev - 1) * (32u << 20),
        .timeout_ms = a->timeout_ms,
    };

    vmm_run(&p, r);
    vmm_debug("guest run: %llu exits, %llu bytes read", (unsigned long long)r->exits,
              (unsigned long long)r->bytes_read);
}

/* Print a finished run's result (or why there is none); the exit status. */
static int print_measure(const struct vmm_measure_args *a, const struct measure_page *page,
                         const struct vmm_run_result *r)
{
    const struct abi_measure_config *cfg = &page->cfg;
    const struct vmm_measure_msg *m = &r->report.measure;

    if (r->outcome != VMM_RUN_OK || r->report.have_error)
        return report_failure(a, r);
    if (!r->report.have_measure || !r->report.have_complete) {
        vmm_error("the guest ended without a complete measure result");
        return VMM_EXIT_GUEST_FAULT;
    }
    if (strcmp(m->target_format, abi_target_name(cfg->target_format)) != 0) {
        vmm_error("guest protocol violation: result for target '%s'", m->target_format);
        return VMM_EXIT_GUEST_FAULT;
    }
    /* bitmaps exist only for a qcow2 v3 target measured from a source. */
    if (m->has_bitmaps && (cfg->target_format != ABI_FMT_QCOW2 || a->filename == NULL ||
                           !(cfg->flags & ABI_MEASURE_FLAG_COMPAT_V3))) {
        vmm_error("guest protocol violation: a bitmaps figure where none applies");
        return VMM_EXIT_GUEST_FAULT;
    }
    switch (m->error) {
    case ABI_MEASURE_ERROR_OK:
        if (!r->report.complete_success) {
            vmm_error("the guest reported failure without a reason");
            return VMM_EXIT_GUEST_FAULT;
        }
        print_result(a, m);
        return VMM_EXIT_OK;
    case ABI_MEASURE_ERROR_OVERFLOW:
        vmm_error("measure failed: a size does not fit in 64 bits");
        return VMM_EXIT_ERROR;
    case ABI_MEASURE_ERROR_INVALID_OPTION:
        vmm_error("measure failed: invalid option for target format '%s'", m->target_format);
        return VMM_EXIT_ERROR;
    default:
        /* The size checks of qemu-img create, for the targets qemu-img cannot
         * measure; for the others the host has checked already. */
        if (cfg->target_format == ABI_FMT_VHDX)
            vmm_error("Image size too large; max of 64TB");
        else if (cfg->target_format == ABI_FMT_QCOW2)
            vmm_error("The image size is too large (try using a larger cluster size)");
        else
            vmm_error("The image size is too large for file format '%s'", m->target_format);
        return VMM_EXIT_ERROR;
    }
}

/* The formats instar parses, by qemu driver name ("file" reads as raw). */
static uint32_t source_format(const char *name)
{
    static const struct {
        const char *name;
        uint32_t fmt;
    } formats[] = {
        {"raw", ABI_FMT_RAW},         {"file", ABI_FMT_RAW},     {"qcow2", ABI_FMT_QCOW2},
        {"qcow", ABI_FMT_QCOW1},      {"vmdk", ABI_FMT_VMDK4},   {"vpc", ABI_FMT_VHD},
        {"vhdx", ABI_FMT_VHDX},       {"qed", ABI_FMT_QED},      {"vdi", ABI_FMT_VDI},
        {"parallels", ABI_FMT_PARALLELS}, {"luks", ABI_FMT_LUKS},
    };

    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(name, formats[i].name) == 0)
            return formats[i].fmt;
    }
    return ABI_FMT_UNKNOWN;
}

/* qemu's block drivers instar does not open as a source. */
static bool qemu_driver(const char *name)
{
    static const char *const drivers[] = {
        "bochs", "cloop", "dmg", "host_device", "host_cdrom", "nbd", "nvme", "vvfat",
        "null-co", "null-aio", "throttle", "quorum", "blkdebug", "blkverify",
        "blklogwrites", "compress", "copy-on-read", "copy-before-write", "preallocate",
        "replication", "snapshot-access", NULL,
    };

    for (size_t i = 0; drivers[i] != NULL; i++) {
        if (strcmp(name, drivers[i]) == 0)
            return true;
    }
    return false;
}

/* Open the source read-only, as qemu-img does before looking at -O. */
static bool open_source(const struct vmm_measure_args *a, struct vmm_source *src,
                        struct vmm_device *dev)
{
    const char *f = a->filename;
    const char *driver;
    char *err = NULL;
    struct stat st;

    if (a->image_opts && a->fmt != NULL) {
        vmm_error("--image-opts and --format are mutually exclusive");
        return false;
    }
    if (!vmm_source_parse(f, a->image_opts, src, &err)) {
        vmm_error("Could not open '%s': %s", f, err);
        free(err);
        return false;
    }
    driver = src->driver != NULL ? src->driver : a->fmt;
    if (driver != NULL && source_format(driver) == ABI_FMT_UNKNOWN) {
        if (qemu_driver(driver))
            vmm_error("Could not open '%s': the '%s' driver is not supported by instar", f,
                      driver);
        else
            vmm_error("Could not open '%s': Unknown driver '%s'", f, driver);
        return false;
    }
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    dev->fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (dev->fd < 0) {
        vmm_error("Could not open '%s': Could not open '%s': %s", f, src->path, vmm_strerror(errno));
        return false;
    }
    if (fstat(dev->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        vmm_error("Could not open '%s': 'file' driver requires '%s' to be a regular file", f,
                  src->path);
        return false;
    }
    dev->size = (uint64_t)st.st_size;
    dev->allocated = (uint64_t)st.st_blocks * 512u;
    if (src->backing_cut && !src->backing_null_json)
        vmm_warn("Use of \"backing\": \"\" is deprecated; use \"backing\": null instead");
    return true;
}

static bool copy_snapshot(char *dst, const char *src)
{
    size_t n = strlen(src);

    if (n >= ABI_MEASURE_SNAPSHOT_MAX) {
        vmm_error("Failed to load snapshot: snapshot id or name longer than %u bytes",
                  ABI_MEASURE_SNAPSHOT_MAX - 1);
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

/* The source's options in the extension record. */
static bool source_options(const struct vmm_measure_args *a, const struct vmm_source *src,
                           struct abi_measure_ext *ext)
{
    const char *driver = src->driver != NULL ? src->driver : a->fmt;

    size_t name_len = strlen(a->filename);

    ext->source_format = driver != NULL ? source_format(driver) : ABI_FMT_UNKNOWN;
    ext->source_flags = 0;
    /* qemu's dmg probe scores a plain file name ending in ".dmg" (not a
     * name inside --image-opts or json:). */
    if (!a->image_opts && strncmp(a->filename, "json:", 5) != 0 && name_len > 4 &&
        strcmp(a->filename + name_len - 4, ".dmg") == 0)
        ext->source_flags |= ABI_MEASURE_SRC_NAME_DMG;
    if (a->snapshot_name != NULL) {
        ext->source_flags |= ABI_MEASURE_SRC_SNAPSHOT;
        if (!copy_snapshot(ext->snapshot, a->snapshot_name))
            return false;
    }
    if (a->snapshot_opts) {
        if (a->snapshot_id_opt != NULL) {
            ext->source_flags |= ABI_MEASURE_SRC_SNAPSHOT_ID;
            if (!copy_snapshot(ext->snapshot, a->snapshot_id_opt))
                return false;
        }
        if (a->snapshot_name_opt != NULL) {
            ext->source_flags |= ABI_MEASURE_SRC_SNAPSHOT_NAME;
            if (!copy_snapshot(ext->snapshot_name, a->snapshot_name_opt))
                return false;
        }
        /* -l snapshot.id= alone with no value still asks for a snapshot. */
        if (!(ext->source_flags & (ABI_MEASURE_SRC_SNAPSHOT_ID | ABI_MEASURE_SRC_SNAPSHOT_NAME)))
            ext->source_flags |= ABI_MEASURE_SRC_SNAPSHOT_ID;
    }
    /* The guest checks a window as raw does, once the format is known. */
    if (src->window) {
        ext->source_flags |= ABI_MEASURE_SRC_WINDOW;
        if (src->has_size)
            ext->source_flags |= ABI_MEASURE_SRC_WINDOW_SIZE;
        if (src->has_offset)
            ext->source_flags |= ABI_MEASURE_SRC_WINDOW_OFFSET;
        ext->window_offset = src->offset;
        ext->window_size = src->size;
    }
    if (src->backing_cut)
        ext->source_flags |= ABI_MEASURE_SRC_NO_BACKING;
    if (src->backing != NULL || src->backing_opts)
        ext->source_flags |= ABI_MEASURE_SRC_BACKING_NAMED;
    /* The guest quotes the name back: printable ASCII that fits only. */
    if (src->backing != NULL && !src->backing_opts &&
        strlen(src->backing) < sizeof(ext->backing_node) &&
        strspn(src->backing, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == strlen(src->backing)) {
        ext->source_flags |= ABI_MEASURE_SRC_BACKING_NODE;
        snprintf(ext->backing_node, sizeof(ext->backing_node), "%s", src->backing);
    }
    if (src->unknown != NULL) {
        ext->source_flags |= ABI_MEASURE_SRC_UNKNOWN_OPTION;
        snprintf(ext->unknown_option, sizeof(ext->unknown_option), "%s", src->unknown);
    }
    if (src->key_secret != NULL) {
        char why[512];

        /* The passphrase is never used, but qemu-img looks the secret up. */
        if (!vmm_secret_check(src->key_secret, why, sizeof(why))) {
            vmm_error("Could not open '%s': %s", a->filename, why);
            return false;
        }
        ext->source_flags |= ABI_MEASURE_SRC_KEY_SECRET;
        if (src->key_secret_opt[0] == 'e')
            ext->source_flags |= ABI_MEASURE_SRC_KEY_ENCRYPT;
    }
    return true;
}

/* One guest run over the chain so far, in the sandbox process. */
struct source_run {
    const struct vmm_measure_args *a;
    const struct measure_page *page;
    const struct vmm_chain *chain;
    const char *pending;       /* option messages held back */
    bool options_ok;
};

/* In the sandbox child: run the guest, then print its result -- or, when
 * the guest asks for a file, leave the request in `req` for the parent
 * (its ABI_ERROR_NEED_* code as the first byte, then the name) and print
 * nothing. */
static int source_run(void *arg, char *req, size_t req_size)
{
    const struct source_run *s = arg;
    struct vmm_run_result r;

    run_guest(s->a, s->page, s->chain->dev, s->chain->n, &r);
    if (r.outcome == VMM_RUN_OK && r.report.have_error &&
        (r.report.error_status == ABI_ERROR_NEED_BACKING ||
         r.report.error_status == ABI_ERROR_NEED_DATA_FILE ||
         r.report.error_status == ABI_ERROR_NEED_EXTENT)) {
        snprintf(req, req_size, "%c%s", (char)r.report.error_status, r.report.error_message);
        return VMM_EXIT_OK;
    }
    if (r.outcome != VMM_RUN_OK || r.report.have_error)
        return report_failure(s->a, &r);
    fputs(s->pending, stderr);
    if (!s->options_ok) {
        /* The guest must have stopped after opening the source. */
        if (!r.report.have_measure || r.report.measure.error != ABI_MEASURE_ERROR_INVALID_OPTION) {
            vmm_error("guest protocol violation: result where none was asked for");
            return VMM_EXIT_GUEST_FAULT;
        }
        return VMM_EXIT_ERROR;
    }
    return print_measure(s->a, s->page, &r);
}

/* A source: qemu-img opens (validates) it before -O and -o are looked at,
 * so their messages wait in a buffer for the guest's verdict.  Each backing
 * file the guest asks for is judged here and the guest run again with it. */
static int measure_source(struct vmm_measure_args *a, struct vmm_device *dev)
{
    struct measure_page page;
    struct vmm_source src;
    struct vmm_chain chain;
    struct source_run run;
    char *pending = NULL;
    size_t pending_len = 0;
    char req[ABI_MAX_STRING];
    bool ok;
    int rc = VMM_EXIT_ERROR;

    memset(&src, 0, sizeof(src));
    memset(&chain, 0, sizeof(chain));
    if (!open_source(a, &src, dev))
        goto out;
    a->source_path = src.path;
    vmm_diag = open_memstream(&pending, &pending_len);
    if (vmm_diag == NULL)
        abort();
    ok = build_config(a, &page);
    fclose(vmm_diag);
    vmm_diag = NULL;
    if (!ok) {
        /* Only open the source; then print the option error. */
        memset(&page, 0, sizeof(page));
        page.cfg.magic = ABI_MEASURE_CONFIG_MAGIC;
        page.ext.magic = ABI_MEASURE_EXT_MAGIC;
        page.ext.size = sizeof(page.ext);
    }
    if (!source_options(a, &src, &page.ext))
        goto out;
    if (!ok)
        page.ext.source_flags |= ABI_MEASURE_SRC_PROBE_ONLY;
    vmm_chain_init(&chain, dev, src.path, a->allow_paths, a->n_allow_paths);
    a->chain = &chain;
    run = (struct source_run){a, &page, &chain, pending, ok};
    for (;;) {
        rc = vmm_sandboxed_run(source_run, &run, req, sizeof(req));
        if (req[0] == '\0')
            break;
        vmm_debug("the guest asks for file '%s' (request %d)", req + 1, req[0]);
        if (!vmm_chain_follow(&chain, a->filename, req + 1,
                              req[0] == ABI_ERROR_NEED_BACKING     ? VMM_LINK_IMAGE
                              : req[0] == ABI_ERROR_NEED_DATA_FILE ? VMM_LINK_DATA
                                                                   : VMM_LINK_EXTENT)) {
            rc = VMM_EXIT_ERROR;
            break;
        }
    }
out:
    a->chain = NULL;
    vmm_chain_free(&chain);
    free(pending);
    vmm_source_free(&src);
    return rc;
}

int vmm_cmd_measure(int argc, char **argv)
{
    struct vmm_measure_args a = {0};
    struct measure_page page;
    struct vmm_device dev = {.fd = -1};
    struct vmm_run_result r;
    int rc;

    rc = vmm_measure_parse_argv(argc, argv, &a);
    if (rc >= 0)
        goto out;
    if (a.filename != NULL) {
        rc = measure_source(&a, &dev);
        goto out;
    }
    rc = VMM_EXIT_ERROR;
    if (!build_config(&a, &page))
        goto out;
    run_guest(&a, &page, NULL, 0, &r);
    rc = print_measure(&a, &page, &r);
out:
    if (dev.fd >= 0)
        close(dev.fd);
    vmm_measure_args_free(&a);
    vmm_objects_free();
    return rc;
}
