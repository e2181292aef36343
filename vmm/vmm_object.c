/* vmm_object.c: --object definitions (qemu's user-creatable objects).
 *
 * Definitions use qemu's keyval syntax ("type,key=value,...", ",," is a
 * literal comma, the first element may omit "qom-type=") or a flat JSON
 * object.  instar implements the object type measure needs, `secret`: it
 * supplies a LUKS passphrase by id.  No key derivation ever runs, so a
 * secret's value is only checked the way qemu-img checks it (readable file,
 * base64 alphabet, UTF-8 when used).  Other object types are refused with a
 * clear message (docs/quirks.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_json.h"
#include "vmm_measure.h"

#define MAX_SECRETS 64
#define MAX_KEYS 32
#define SECRET_FILE_MAX (1u << 20)

struct secret {
    char *id;
    uint8_t *data; /* decoded value */
    size_t len;
    bool encrypted; /* keyid=: data is ciphertext, never decrypted */
};

static struct secret secrets[MAX_SECRETS];
static size_t n_secrets;

struct kv {
    char *key;
    char *value;
    bool is_string; /* JSON: value was a string */
};

static const struct secret *find_secret(const char *id)
{
    for (size_t i = 0; i < n_secrets; i++) {
        if (strcmp(secrets[i].id, id) == 0)
            return &secrets[i];
    }
    return NULL;
}

bool vmm_secret_exists(const char *id)
{
    return find_secret(id) != NULL;
}

/* qemu checks a secret's bytes are UTF-8 only when it is used. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t more;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            more = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= more)
            return false;
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += more + 1;
    }
    return true;
}

bool vmm_secret_check(const char *id, char *why, size_t why_size)
{
    const struct secret *s = find_secret(id);

    if (s == NULL) {
        snprintf(why, why_size, "No secret with id '%s'", id);
        return false;
    }
    /* An encrypted secret's plaintext is unknown (docs/quirks.md row 6). */
    if (!s->encrypted && !utf8_valid(s->data, s->len)) {
        snprintf(why, why_size, "Data from secret %s is not valid UTF-8", id);
        return false;
    }
    return true;
}

void vmm_objects_free(void)
{
    for (size_t i = 0; i < n_secrets; i++) {
        free(secrets[i].id);
        free(secrets[i].data);
    }
    n_secrets = 0;
}

/* ---- keyval and JSON splitting ------------------------------------------ */

static void kv_free(struct kv *kv, int n)
{
    for (int i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
}

/* Read up to a lone ',' (",," is a comma); returns the position after. */
static const char *read_until_comma(const char *p, char **out)
{
    size_t n = 0;
    char *v = malloc(strlen(p) + 1);

    if (v == NULL)
        abort();
    while (*p != '\0') {
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;
        }
        v[n++] = *p++;
    }
    v[n] = '\0';
    *out = v;
    return *p == ',' ? p + 1 : p;
}

static bool is_help(const char *v)
{
    return strcmp(v, "help") == 0 || strcmp(v, "?") == 0;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

static int split_keyval(const char *def, struct kv *kv)
{
    const char *p = def;
    int n = 0;

    while (*p != '\0') {
        size_t klen = strcspn(p, "=,");
        char *key;

        if (n == MAX_KEYS) {
            vmm_error("Too many parameters in object definition");
            goto err;
        }
        if (p[klen] != '=' && n == 0) {
            /* An implied "qom-type=" for the first element. */
            kv[n].key = strdup("qom-type");
            p = read_until_comma(p, &kv[n].value);
        } else {
            key = strndup(p, klen);
            if (key == NULL)
                abort();
            for (size_t i = 0; i < klen; i++) {
                if (!key_char(key[i])) {
                    vmm_error("Invalid parameter '%s'", key);
                    free(key);
                    goto err;
                }
            }
            if (p[klen] != '=' && is_help(key)) {
                kv[n].key = key;
                kv[n].value = strdup("on");
                kv[n].is_string = true;
                p += klen + (p[klen] == ',');
                n++;
                continue;
            }
            if (p[klen] != '=') {
                vmm_error("Expected '=' after parameter '%s'", key);
                free(key);
                goto err;
            }
            kv[n].key = key;
            p = read_until_comma(p + klen + 1, &kv[n].value);
        }
        if (kv[n].key == NULL)
            abort();
        kv[n].is_string = true;
        n++;
    }
    return n;
err:
    kv_free(kv, n);
    return -1;
}

/* A JSON object definition; nested objects flatten to dotted keys, which
 * then fail as unexpected parameters, as in qemu. */
static int split_json(const char *def, struct kv *kv)
{
    struct vmm_json_kv j[VMM_JSON_MAX_KEYS];
    int n = vmm_json_parse(def, j);

    if (n > MAX_KEYS) {
        vmm_json_free(j, n);
        vmm_error("Too many parameters in object definition");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        kv[i].key = j[i].key;
        kv[i].value = j[i].value;
        kv[i].is_string = j[i].type == VMM_JSON_STRING;
    }
    return n;
}

static const char *lookup(const struct kv *kv, int n, const char *key)
{
    const char *v = NULL;

    for (int i = 0; i < n; i++) {
        if (strcmp(kv[i].key, key) == 0)
            v = kv[i].value;
    }
    return v;
}

/* ---- the secret object ---------------------------------------------------- */

static const char *const object_types[] = {
    "authz-list",      "authz-list-file", "authz-simple",     "main-loop",
    "pr-manager-helper", "secret",        "secret_keyring",   "thread-context",
    "throttle-group",  "tls-cipher-suites", "tls-creds-anon", "tls-creds-psk",
    "tls-creds-x509",  NULL,
};

static bool identifier_ok(const char *id)
{
    if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
        return false;
    for (size_t i = 1; id[i] != '\0'; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode base64 leniently (as GLib does) after checking the alphabet. */
static bool b64_decode(const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *d = malloc(n / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (d == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);

        if (v < 0 && s[i] != '=') {
            vmm_error("Base64 data contains invalid characters");
            free(d);
            return false;
        }
        if (v < 0)
            continue;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out = d;
    *len = o;
    return true;
}

static bool read_secret_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    uint8_t *buf;
    ssize_t r;

    if (fd < 0) {
        vmm_error("Unable to read %s: Failed to open file \u201c%s\u201d: %s", path, path,
                  vmm_strerror(errno));
        return false;
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        vmm_error("Unable to read %s: Error reading file \u201c%s\u201d: %s", path, path,
                  vmm_strerror(EISDIR));
        close(fd);
        return false;
    }
    buf = malloc(SECRET_FILE_MAX);
    if (buf == NULL)
        abort();
    r = read(fd, buf, SECRET_FILE_MAX);
    close(fd);
    if (r < 0) {
        vmm_error("Unable to read %s: Error reading file \u201c%s\u201d: %s", path, path,
                  vmm_strerror(errno));
        free(buf);
        return false;
    }
    *out = buf;
    *len = (size_t)r;
    return true;
}

/* Checks of an encrypted secret (keyid=, iv=) that need no decryption. */
static bool check_encrypted(const char *keyid, const char *iv, size_t data_len)
{
    const struct secret *key = find_secret(keyid);
    uint8_t *ivb;
    size_t ivlen;

    if (key == NULL) {
        vmm_error("No secret with id '%s'", keyid);
        return false;
    }
    if (key->len != 32) {
        vmm_error("Key should be 32 bytes in length");
        return false;
    }
    if (iv == NULL) {
        vmm_error("IV is required to decrypt secret");
        return false;
    }
    if (!b64_decode(iv, &ivb, &ivlen))
        return false;
    free(ivb);
    if (ivlen != 16) {
        vmm_error("IV should be 16 bytes in length not %zu", ivlen);
        return false;
    }
    if (data_len % 16 != 0) {
        vmm_error("Length %zu must be a multiple of block size 16", data_len);
        return false;
    }
    return true;
}

static bool add_secret(const struct kv *kv, int n)
{
    static const char *const keys[] = {"qom-type", "id", "data", "file", "format", "keyid",
                                       "iv", NULL};
    const char *id = lookup(kv, n, "id");
    const char *data = lookup(kv, n, "data");
    const char *file = lookup(kv, n, "file");
    const char *format = lookup(kv, n, "format");
    const char *keyid = lookup(kv, n, "keyid");
    struct secret s = {0};
    bool base64;

    for (int i = 0; i < n; i++) {
        const char *dot = strchr(kv[i].key, '.');
        size_t klen = dot != NULL ? (size_t)(dot - kv[i].key) : strlen(kv[i].key);
        bool known = false;

        for (size_t k = 0; keys[k] != NULL; k++)
            known = known || (strlen(keys[k]) == klen && strncmp(kv[i].key, keys[k], klen) == 0);
        if (!known) {
            vmm_error("Parameter '%.*s' is unexpected", (int)klen, kv[i].key);
            return false;
        }
        if (dot != NULL) {
            vmm_error("Parameters '%.*s.*' are unexpected", (int)klen, kv[i].key);
            return false;
        }
        if (!kv[i].is_string) {
            vmm_error("Invalid parameter type for '%s', expected: string", kv[i].key);
            return false;
        }
    }
    if (id == NULL) {
        vmm_error("Parameter 'id' is missing");
        return false;
    }
    if (!identifier_ok(id)) {
        vmm_error("Parameter 'id' expects an identifier");
        fputs("Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n",
              vmm_diag != NULL ? vmm_diag : stderr);
        return false;
    }
    if (format != NULL && strcmp(format, "raw") != 0 && strcmp(format, "base64") != 0) {
        vmm_error("Parameter 'format' does not accept value '%s'", format);
        return false;
    }
    base64 = format != NULL && strcmp(format, "base64") == 0;
    if (data != NULL && file != NULL) {
        vmm_error("'file' and 'data' are mutually exclusive");
        return false;
    }
    if (data == NULL && file == NULL) {
        vmm_error("Either 'file' or 'data' must be provided");
        return false;
    }
    if (file != NULL) {
        uint8_t *raw;
        size_t len;

        if (!read_secret_file(file, &raw, &len))
            return false;
        if (base64) {
            char *text = strndup((const char *)raw, len);

            free(raw);
            if (text == NULL)
                abort();
            if (!b64_decode(text, &s.data, &s.len)) {
                free(text);
                return false;
            }
            free(text);
        } else {
            s.data = raw;
            s.len = len;
        }
    } else if (base64) {
        if (!b64_decode(data, &s.data, &s.len))
            return false;
    } else {
        s.data = (uint8_t *)strdup(data);
        if (s.data == NULL)
            abort();
        s.len = strlen(data);
    }
    if (keyid != NULL && !check_encrypted(keyid, lookup(kv, n, "iv"), s.len))
        goto err;
    s.encrypted = keyid != NULL;
    if (find_secret(id) != NULL) {
        vmm_error("attempt to add duplicate property '%s' to object (type 'container')", id);
        goto err;
    }
    if (n_secrets == MAX_SECRETS) {
        vmm_error("too many secret objects (at most %d)", MAX_SECRETS);
        goto err;
    }
    s.id = strdup(id);
    if (s.id == NULL)
        abort();
    secrets[n_secrets++] = s;
    return true;
err:
    free(s.data);
    return false;
}

enum vmm_object_rc vmm_object_add(const char *def)
{
    struct kv kv[MAX_KEYS] = {{0}};
    int n = def[0] == '{' ? split_json(def, kv) : split_keyval(def, kv);
    const char *type;
    bool ok = false;

    if (n < 0)
        return VMM_OBJECT_ERROR;
    type = lookup(kv, n, "qom-type");
    /* "help" lists the types; "TYPE,help" lists its properties. */
    if (def[0] != '{') {
        if (type != NULL && is_help(type)) {
            printf("List of user creatable objects:\n");
            for (size_t i = 0; object_types[i] != NULL; i++)
                printf("  %s\n", object_types[i]);
            kv_free(kv, n);
            return VMM_OBJECT_HELP;
        }
        for (int i = 1; i < n; i++) {
            if (!is_help(kv[i].key) || strcmp(kv[i].value, "on") != 0)
                continue;
            if (type != NULL && strcmp(type, "secret") == 0) {
                printf("secret options:\n  data=<string>\n  file=<string>\n"
                       "  format=<QCryptoSecretFormat>\n  iv=<string>\n  keyid=<string>\n");
            } else {
                printf("List of user creatable objects:\n");
                for (size_t k = 0; object_types[k] != NULL; k++)
                    printf("  %s\n", object_types[k]);
            }
            kv_free(kv, n);
            return VMM_OBJECT_HELP;
        }
    }
    if (type == NULL) {
        vmm_error("Parameter 'qom-type' is missing");
        goto out;
    }
    if (strcmp(type, "secret") == 0) {
        ok = add_secret(kv, n);
        goto out;
    }
    for (size_t i = 0; object_types[i] != NULL; i++) {
        if (strcmp(type, object_types[i]) == 0) {
            vmm_error("object type '%s' is not supported by instar (only 'secret' is)", type);
            goto out;
        }
    }
    vmm_error("Parameter 'qom-type' does not accept value '%s'", type);
out:
    kv_free(kv, n);
    return ok ? VMM_OBJECT_OK : VMM_OBJECT_ERROR;
}
