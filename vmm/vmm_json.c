/* vmm_json.c: see vmm_json.h.  Strings support the escapes \" \\ \/ \b \f
 * \n \r \t and \uXXXX (ASCII only); numbers are kept as text. */
#define _GNU_SOURCE
#include "vmm_json.h"

#include <stdlib.h>
#include <string.h>

#include "vmm.h"

struct parser {
    const char *p;
    struct vmm_json_kv *kv;
    int n;
    bool eoi;  /* ran out of input */
};

static void ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

/* A string at ps->p (after the opening quote has been checked). */
static char *string(struct parser *ps)
{
    size_t cap = strlen(ps->p) + 1;
    char *s = malloc(cap);
    size_t n = 0;

    if (s == NULL)
        abort();
    ps->p++;
    for (;;) {
        char c = *ps->p++;

        if (c == '\0') {
            ps->eoi = true;
            free(s);
            return NULL;
        }
        if (c == '"')
            break;
        if (c == '\\') {
            char e = *ps->p++;

            switch (e) {
            case '"': case '\\': case '/':
                c = e;
                break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v = 0;

                for (int i = 0; i < 4; i++) {
                    char h = *ps->p++;

                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= (unsigned)(h - 'A' + 10);
                    else {
                        free(s);
                        return NULL;
                    }
                }
                if (v == 0 || v > 0x7F) {
                    free(s);
                    return NULL;
                }
                c = (char)v;
                break;
            }
            default:
                ps->eoi = e == '\0';
                free(s);
                return NULL;
            }
        }
        s[n++] = c;
    }
    s[n] = '\0';
    return s;
}

static bool add(struct parser *ps, const char *prefix, const char *key, char *value,
                enum vmm_json_type type)
{
    char *full;

    if (ps->n == VMM_JSON_MAX_KEYS) {
        free(value);
        return false;
    }
    if (asprintf(&full, "%s%s", prefix, key) < 0)
        abort();
    ps->kv[ps->n++] = (struct vmm_json_kv){full, value, type};
    return true;
}

static bool object(struct parser *ps, const char *prefix);

static bool value(struct parser *ps, const char *prefix, const char *key)
{
    const char *start;

    ws(ps);
    if (*ps->p == '"') {
        char *s = string(ps);

        return s != NULL && add(ps, prefix, key, s, VMM_JSON_STRING);
    }
    if (*ps->p == '{') {
        char *nested;
        bool ok;

        if (asprintf(&nested, "%s%s.", prefix, key) < 0)
            abort();
        ok = object(ps, nested);
        free(nested);
        return ok;
    }
    if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
        bool t = ps->p[0] == 't';

        ps->p += t ? 4 : 5;
        return add(ps, prefix, key, strdup(t ? "on" : "off"), VMM_JSON_BOOL);
    }
    if (strncmp(ps->p, "null", 4) == 0) {
        ps->p += 4;
        return add(ps, prefix, key, strdup(""), VMM_JSON_NULL);
    }
    start = ps->p;
    if (*ps->p == '-')
        ps->p++;
    while ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' || *ps->p == 'e' ||
           *ps->p == 'E' || *ps->p == '+' || *ps->p == '-')
        ps->p++;
    if (ps->p == start) {
        ps->eoi = *ps->p == '\0';
        return false;
    }
    return add(ps, prefix, key, strndup(start, (size_t)(ps->p - start)), VMM_JSON_NUMBER);
}

static bool object(struct parser *ps, const char *prefix)
{
    ws(ps);
    if (*ps->p != '{') {
        ps->eoi = *ps->p == '\0';
        return false;
    }
    ps->p++;
    ws(ps);
    if (*ps->p == '}') {
        ps->p++;
        return true;
    }
    for (;;) {
        char *key;
        bool ok;

        ws(ps);
        if (*ps->p != '"') {
            ps->eoi = *ps->p == '\0';
            return false;
        }
        key = string(ps);
        if (key == NULL)
            return false;
        ws(ps);
        if (*ps->p != ':') {
            ps->eoi = *ps->p == '\0';
            free(key);
            return false;
        }
        ps->p++;
        ok = value(ps, prefix, key);
        free(key);
        if (!ok)
            return false;
        ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == '}') {
            ps->p++;
            return true;
        }
        ps->eoi = *ps->p == '\0';
        return false;
    }
}

int vmm_json_parse(const char *text, struct vmm_json_kv *kv)
{
    struct parser ps = {text, kv, 0, false};
    bool ok = object(&ps, "");

    if (ok) {
        ws(&ps);
        ok = *ps.p == '\0';
    }
    if (!ok) {
        vmm_error(ps.eoi ? "JSON parse error, premature EOI" : "JSON parse error, invalid syntax");
        vmm_json_free(kv, ps.n);
        return -1;
    }
    return ps.n;
}

void vmm_json_free(struct vmm_json_kv *kv, int n)
{
    for (int i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
}
