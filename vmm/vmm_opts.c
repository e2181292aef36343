/* vmm_opts.c: qemu's "-o name=value,..." option lists (QemuOpts rules).
 *
 * Elements are separated by ','; ",," is a literal comma inside a value.
 * A bare "name" means name=on, a bare "noname" means name=off.  An element
 * named "id" is ignored.  Every element is checked against the option
 * descriptions in order, and the first bad one stops the parse with qemu's
 * message.  For a repeated name the last value wins.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

bool vmm_opts_list_valid(const char *list)
{
    size_t len = strlen(list);
    size_t i = len;

    if (len == 0 || list[0] == ',')
        return false;
    while (i > 0 && list[i - 1] == ',')
        i--;
    /* An odd number of trailing commas leaves a lone separator. */
    return (len - i) % 2 == 0;
}

/* Read a value up to a lone ',' or the end, turning ",," into ','. */
static const char *read_value(const char *p, char **value)
{
    size_t cap = strlen(p) + 1;
    size_t n = 0;
    char *v = malloc(cap);

    if (v == NULL)
        abort();
    for (;;) {
        if (*p == '\0')
            break;
        if (*p == ',') {
            if (p[1] != ',')
                break;
            v[n++] = ',';
            p += 2;
            continue;
        }
        v[n++] = *p++;
    }
    v[n] = '\0';
    *value = v;
    return p;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "y"};
    static const char *const no[] = {"off", "no", "false", "n"};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Type-check one element; prints qemu's message on failure. */
static bool check_value(struct vmm_opt *o)
{
    const char *name = o->desc->name;
    int rc;

    switch (o->desc->type) {
    case VMM_OPT_STRING:
        return true;
    case VMM_OPT_BOOL:
        if (parse_bool(o->value, &o->boolean))
            return true;
        vmm_error("Parameter '%s' expects 'on' or 'off'", name);
        return false;
    case VMM_OPT_NUMBER:
        rc = vmm_strtou64_base0(o->value, &o->number);
        if (rc == 0)
            return true;
        if (rc == -2)
            vmm_error("Value '%s' is too large for parameter '%s'", o->value, name);
        else
            vmm_error("Parameter '%s' expects a number", name);
        return false;
    case VMM_OPT_SIZE:
        switch (vmm_strtosz(o->value, &o->number)) {
        case VMM_SZ_OK:
            return true;
        case VMM_SZ_ERANGE:
            vmm_error("Value '%s' is out of range for parameter '%s'", o->value, name);
            return false;
        case VMM_SZ_EINVAL:
            break;
        }
        vmm_error("Parameter '%s' expects a non-negative number below 2^64", name);
        fputs("Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
              "and exabytes, respectively.\n",
              vmm_diag != NULL ? vmm_diag : stderr);
        return false;
    }
    return false;
}

static const struct vmm_opt_desc *find_desc(const struct vmm_opt_desc *descs, const char *name)
{
    if (descs == NULL)
        return NULL;
    for (; descs->name != NULL; descs++) {
        if (strcmp(descs->name, name) == 0)
            return descs;
    }
    return NULL;
}

static bool parse(struct vmm_opts *opts, const char *list, const struct vmm_opt_desc *descs,
                  const struct vmm_opt_desc *more, bool any)
{
    const char *p = list;

    opts->items = NULL;
    opts->count = 0;
    opts->cap = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, "=,");
        char *name = strndup(p, len);
        char *value = NULL;
        struct vmm_opt *o;

        if (name == NULL)
            abort();
        if (p[len] == '=') {
            p = read_value(p + len + 1, &value);
        } else {
            /* Flag form: "name" is on, "noname" is off. */
            p += len;
            if (strncmp(name, "no", 2) == 0) {
                memmove(name, name + 2, strlen(name + 2) + 1);
                value = strdup("off");
            } else {
                value = strdup("on");
            }
            if (value == NULL)
                abort();
        }
        if (*p == ',')
            p++;
        if (strcmp(name, "id") == 0) {
            free(name);
            free(value);
            continue;
        }
        if (opts->count == opts->cap) {
            size_t cap = opts->cap ? opts->cap * 2 : 8;
            struct vmm_opt *items = realloc(opts->items, cap * sizeof(*items));

            if (items == NULL)
                abort();
            opts->items = items;
            opts->cap = cap;
        }
        o = &opts->items[opts->count];
        o->desc = any ? NULL : find_desc(descs, name);
        if (o->desc == NULL && more != NULL)
            o->desc = find_desc(more, name);
        o->name = name;
        o->value = value;
        o->number = 0;
        o->boolean = false;
        if (o->desc == NULL && !any) {
            vmm_error("Invalid parameter '%s'", name);
            free(name);
            free(value);
            vmm_opts_free(opts);
            return false;
        }
        opts->count++;
        if (!any && !check_value(o)) {
            vmm_opts_free(opts);
            return false;
        }
    }
    return true;
}

bool vmm_opts_parse(struct vmm_opts *opts, const char *list, const struct vmm_opt_desc *descs,
                    const struct vmm_opt_desc *more)
{
    return parse(opts, list, descs, more, false);
}

bool vmm_opts_parse_any(struct vmm_opts *opts, const char *list)
{
    return parse(opts, list, NULL, NULL, true);
}

const struct vmm_opt *vmm_opts_get(const struct vmm_opts *opts, const char *name)
{
    for (size_t i = opts->count; i > 0; i--) {
        if (strcmp(opts->items[i - 1].name, name) == 0)
            return &opts->items[i - 1];
    }
    return NULL;
}

const char *vmm_opts_str(const struct vmm_opts *opts, const char *name)
{
    const struct vmm_opt *o = vmm_opts_get(opts, name);

    return o != NULL ? o->value : NULL;
}

uint64_t vmm_opts_num(const struct vmm_opts *opts, const char *name, uint64_t dflt)
{
    const struct vmm_opt *o = vmm_opts_get(opts, name);

    return o != NULL ? o->number : dflt;
}

bool vmm_opts_bool(const struct vmm_opts *opts, const char *name, bool dflt)
{
    const struct vmm_opt *o = vmm_opts_get(opts, name);

    return o != NULL ? o->boolean : dflt;
}

void vmm_opts_free(struct vmm_opts *opts)
{
    for (size_t i = 0; i < opts->count; i++) {
        free(opts->items[i].name);
        free(opts->items[i].value);
    }
    free(opts->items);
    opts->items = NULL;
    opts->count = 0;
    opts->cap = 0;
}
