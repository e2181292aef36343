/* fuzz_cli.c: the host's qemu-img argument syntax.
 *
 * The input's first byte picks the parser: --size numbers, -o option lists
 * (typed against qcow2's options), --image-opts/json: source names, JSON,
 * or a whole `measure` argv (NUL-separated).  Invariants: no crash, no
 * sanitizer report, no leak, deterministic results.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_json.h"
#include "vmm_measure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct vmm_opt_desc descs[] = {
    {"size", VMM_OPT_SIZE},      {"cluster_size", VMM_OPT_SIZE}, {"compat", VMM_OPT_STRING},
    {"refcount_bits", VMM_OPT_NUMBER}, {"extended_l2", VMM_OPT_BOOL}, {NULL, VMM_OPT_STRING},
};

static void fuzz_argv(char *text, size_t len)
{
    char *argv[64];
    int argc = 0;
    struct vmm_measure_args a = {0};
    char *p = text;

    argv[argc++] = (char *)"measure";
    while (p < text + len && argc < 63) {
        argv[argc++] = p;
        p += strlen(p) + 1;
    }
    argv[argc] = NULL;
    (void)vmm_measure_parse_argv(argc, argv, &a);
    vmm_measure_args_free(&a);
    vmm_objects_free();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    char *s;
    uint64_t v1 = 0;
    uint64_t v2 = 0;

    if (!quiet) {
        /* The parsers' messages go nowhere; libFuzzer keeps stderr for its
         * reports. */
        vmm_diag = fopen("/dev/null", "w");
        if (freopen("/dev/null", "w", stdout) == NULL)
            abort();
        quiet = true;
    }
    if (size < 1 || size > 4096)
        return 0;
    s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        /* Deterministic, and an accepted value parses the same way twice. */
        if (vmm_strtosz(s, &v1) != vmm_strtosz(s, &v2) || v1 != v2)
            abort();
        break;
    case 1: {
        struct vmm_opts o = {0};

        if (vmm_opts_list_valid(s) && vmm_opts_parse(&o, s, descs, NULL))
            vmm_opts_free(&o);
        break;
    }
    case 2: {
        struct vmm_source src;
        char *err = NULL;

        (void)vmm_source_parse(s, data[0] & 0x80, &src, &err);
        free(err);
        vmm_source_free(&src);
        break;
    }
    case 3: {
        struct vmm_json_kv kv[VMM_JSON_MAX_KEYS];
        int n = vmm_json_parse(s, kv);

        if (n > VMM_JSON_MAX_KEYS)
            abort();
        if (n > 0)
            vmm_json_free(kv, n);
        break;
    }
    case 4:
        fuzz_argv(s, size - 1);
        break;
    }
    free(s);
    return 0;
}

#include "fuzz_main.h"
