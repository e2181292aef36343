/* vmm_luks.c: LUKS creation options -> LUKS header length.
 *
 * qemu-img builds a real LUKS header (running its PBKDF benchmark) just to
 * learn the header length.  instar computes it: the length depends only on
 * the cipher's key size (calc_luks_header_len()).  The options are checked
 * in qemu-img's order with its messages.
 */
#include <string.h>

#include "calc.h"
#include "vmm_measure.h"

struct cipher {
    const char *name;
    uint32_t key_bytes;
};

static const struct cipher ciphers[] = {
    {"aes-128", 16},     {"aes-192", 24},     {"aes-256", 32},     {"des", 8},
    {"3des", 24},        {"cast5-128", 16},   {"serpent-128", 16}, {"serpent-192", 24},
    {"serpent-256", 32}, {"twofish-128", 16}, {"twofish-192", 24}, {"twofish-256", 32},
};

static const char *get(const struct vmm_opts *o, const char *prefix, const char *key)
{
    char name[64];
    const struct vmm_opt *x;

    snprintf(name, sizeof(name), "%s%s", prefix, key);
    x = vmm_opts_get(o, name);
    return x != NULL ? x->value : NULL;
}

bool vmm_luks_header_len(const struct vmm_opts *o, const char *prefix, uint64_t *len)
{
    const char *secret = get(o, prefix, "key-secret");
    const char *alg = get(o, prefix, "cipher-alg");
    const char *mode = get(o, prefix, "cipher-mode");
    const struct cipher *c = NULL;
    uint32_t key_bytes;

    if (alg == NULL)
        alg = "aes-256";
    if (mode == NULL)
        mode = "xts";
    for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
        if (strcmp(ciphers[i].name, alg) == 0)
            c = &ciphers[i];
    }
    if (c == NULL) {
        vmm_error("Parameter '%scipher-alg' does not accept value '%s'", prefix, alg);
        return false;
    }
    if (secret == NULL) {
        vmm_error("Parameter '%skey-secret' is required for cipher", prefix);
        return false;
    }
    if (!vmm_secret_exists(secret)) {
        vmm_error("No secret with id '%s'", secret);
        return false;
    }
    key_bytes = c->key_bytes;
    if (strcmp(mode, "xts") == 0)
        key_bytes *= 2;
    *len = calc_luks_header_len(key_bytes);
    return true;
}
