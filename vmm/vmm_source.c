/* vmm_source.c: what the measured source is: a file name, an --image-opts
 * option string or a json:{...} name, reduced to a file to open and the
 * options the guest needs (format driver, raw window, key secret).
 *
 * Only qemu's common block options are understood; the ones that only tune
 * I/O (cache, locking, aio, ...) are accepted and ignored.  Messages are
 * qemu-img's, after the "Could not open '<argument>': " prefix the caller
 * prints.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "vmm_json.h"
#include "vmm_measure.h"

/* Options that do not change what is read. */
static const char *const ignored[] = {
    "read-only",    "auto-read-only", "force-share",      "detect-zeroes", "discard",
    "cache.direct", "cache.no-flush", "node-name",        "file.locking",  "file.aio",
    "file.node-name", "file.cache.direct", "file.cache.no-flush", "file.read-only",
    "file.auto-read-only", "file.discard", "file.detect-zeroes", "file.force-share",
    "file.x-check-cache-dropped", "file.aio-max-batch", "file.drop-cache", NULL,
};
static const char *const bools[] = {"read-only", "auto-read-only", "force-share",
                                    "cache.direct", "cache.no-flush", NULL};

static bool in(const char *key, const char *const *list)
{
    for (; *list != NULL; list++) {
        if (strcmp(key, *list) == 0)
            return true;
    }
    return false;
}

static void set(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    if (*dst == NULL)
        abort();
}

/* Check one key=value against the options qemu's block layer accepts. */
static bool take(struct vmm_source *s, const char *key, const char *value, char **err)
{
    if (strcmp(key, "driver") == 0) {
        set(&s->driver, value);
    } else if (strcmp(key, "file") == 0) {
        /* A node name: instar has no other nodes. */
        if (asprintf(err, "Cannot find device='%s' nor node-name='%s'", value, value) < 0)
            abort();
        return false;
    } else if (strcmp(key, "file.filename") == 0 || strcmp(key, "filename") == 0) {
        set(strcmp(key, "filename") == 0 ? &s->plain_filename : &s->path, value);
    } else if (strcmp(key, "file.driver") == 0) {
        set(&s->protocol, value);
    } else if (strcmp(key, "offset") == 0 || strcmp(key, "size") == 0) {
        uint64_t v;

        if (vmm_strtosz(value, &v) != VMM_SZ_OK) {
            if (asprintf(err, "Parameter '%s' expects a non-negative number below 2^64\n"
                         "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, "
                         "tera-, peta-\nand exabytes, respectively.", key) < 0)
                abort();
            return false;
        }
        if (key[0] == 'o')
            s->offset = v;
        else
            s->size = v;
        s->has_size |= key[0] == 's';
        s->has_offset |= key[0] == 'o';
        s->window = true;
    } else if (strcmp(key, "key-secret") == 0 || strcmp(key, "encrypt.key-secret") == 0) {
        set(&s->key_secret, value);
        s->key_secret_opt = key[0] == 'k' ? "key-secret" : "encrypt.key-secret";
    } else if (strcmp(key, "backing") == 0) {
        if (value[0] != '\0' && !s->backing_null_json) {
            set(&s->backing, value);
        } else {
            s->backing_cut = true;
        }
    } else if (strncmp(key, "backing.", 8) == 0) {
        s->backing_opts = true;
    } else if (in(key, ignored)) {
        if (in(key, bools) && strcmp(value, "on") != 0 && strcmp(value, "off") != 0 &&
            strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            if (asprintf(err, "Parameter '%s' expects 'on' or 'off'", key) < 0)
                abort();
            return false;
        }
    } else if (strncmp(key, "file.", 5) == 0) {
        if (asprintf(err, "Block protocol 'file' doesn't support the option '%s'", key + 5) < 0)
            abort();
        return false;
    } else {
        set(&s->unknown, key);
    }
    return true;
}

static bool finish(struct vmm_source *s, char **err)
{
    if (s->protocol != NULL && strcmp(s->protocol, "file") != 0) {
        if (asprintf(err, "the '%s' protocol is not supported by instar", s->protocol) < 0)
            abort();
        return false;
    }
    if (s->driver == NULL && s->path == NULL) {
        if (asprintf(err, s->plain_filename != NULL ? "Must specify either driver or file"
                                                    : "A block device must be specified for "
                                                      "\"file\"") < 0)
            abort();
        return false;
    }
    if (s->driver != NULL && strcmp(s->driver, "file") == 0) {
        /* The protocol driver itself: read as raw. */
        if (s->plain_filename == NULL) {
            if (asprintf(err, "The 'file' block driver requires a file name") < 0)
                abort();
            return false;
        }
        set(&s->path, s->plain_filename);
    }
    if (s->path == NULL) {
        if (asprintf(err, "A block device must be specified for \"file\"") < 0)
            abort();
        return false;
    }
    /* Options no format takes (unknown ones, offset=/size= outside raw, a
     * key secret the format does not use) are refused by the guest once the
     * format has opened, as qemu refuses leftovers after the driver's open;
     * so is a backing file named by options.  The protocol driver's
     * leftovers are refused here. */
    if (s->driver != NULL) {
        /* A backing file named by options is refused first (by the guest). */
        bool file = strcmp(s->driver, "file") == 0 && s->backing == NULL && !s->backing_opts;
        const char *k = NULL;

        if (file && s->window)
            k = s->has_offset ? "offset" : "size";
        else if (file && s->key_secret != NULL)
            k = s->key_secret_opt;
        else if (file && s->unknown != NULL)
            k = s->unknown;
        if (k != NULL) {
            if (asprintf(err, file ? "Block protocol 'file' doesn't support the option '%s'"
                                   : "Block format '%s' does not support the option '%s'",
                         file ? k : s->driver, k) < 0)
                abort();
            return false;
        }
    }
    return true;
}

bool vmm_source_parse(const char *arg, bool image_opts, struct vmm_source *s, char **err)
{
    memset(s, 0, sizeof(*s));
    s->display = arg;
    *err = NULL;
    if (strncmp(arg, "json:", 5) == 0) {
        struct vmm_json_kv kv[VMM_JSON_MAX_KEYS];
        int n;
        bool ok = true;
        FILE *saved = vmm_diag;
        char *jerr = NULL;
        size_t jlen = 0;

        /* qemu wraps JSON errors: "Could not parse the JSON options: ...". */
        vmm_diag = open_memstream(&jerr, &jlen);
        n = vmm_json_parse(arg + 5, kv);
        fclose(vmm_diag);
        vmm_diag = saved;
        if (n < 0) {
            char *nl = strchr(jerr, '\n');
            const char *msg = strstr(jerr, "JSON parse error");

            if (nl != NULL)
                *nl = '\0';
            if (asprintf(err, "Could not parse the JSON options: %s",
                         msg != NULL ? msg : jerr) < 0)
                abort();
            free(jerr);
            return false;
        }
        free(jerr);
        for (int i = 0; i < n && ok; i++) {
            if (strcmp(kv[i].key, "backing") == 0 && kv[i].type == VMM_JSON_NULL)
                s->backing_null_json = true;
            ok = take(s, kv[i].key, kv[i].value, err);
        }
        vmm_json_free(kv, n);
        return ok && finish(s, err);
    }
    if (!image_opts) {
        set(&s->path, arg);
        return true;
    }
    {
        struct vmm_opts o = {0};
        const char *p = arg;
        bool ok = true;

        /* The implied first option is "file" (a node name). */
        if (strcspn(p, "=,") == strlen(p) || p[strcspn(p, "=,")] == ',') {
            size_t len = strcspn(p, ",");

            if (asprintf(err, "Cannot find device='%.*s' nor node-name='%.*s'", (int)len, p,
                         (int)len, p) < 0)
                abort();
            return false;
        }
        /* Split like an option list that accepts every name. */
        if (!vmm_opts_parse_any(&o, p)) {
            if (asprintf(err, "invalid option string") < 0)
                abort();
            return false;
        }
        for (size_t i = 0; i < o.count && ok; i++)
            ok = take(s, o.items[i].name, o.items[i].value, err);
        vmm_opts_free(&o);
        return ok && finish(s, err);
    }
}

void vmm_source_free(struct vmm_source *s)
{
    free(s->path);
    free(s->plain_filename);
    free(s->driver);
    free(s->protocol);
    free(s->key_secret);
    free(s->backing);
    free(s->unknown);
    memset(s, 0, sizeof(*s));
}
