/* vmm_object.c: --object definitions (qemu's user-creatable objects).
 *
 * instar supports the one object type measure needs: `secret`, which
 * supplies a LUKS passphrase by id.  The secret's value is never used (no
 * key derivation runs), but its definition is checked as qemu-img checks it,
 * and a secret file is read once to check that it exists.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "vmm_measure.h"

#define MAX_SECRETS 64

static char *secret_ids[MAX_SECRETS];
static size_t n_secrets;

bool vmm_secret_exists(const char *id)
{
    for (size_t i = 0; i < n_secrets; i++) {
        if (strcmp(secret_ids[i], id) == 0)
            return true;
    }
    return false;
}

void vmm_objects_free(void)
{
    for (size_t i = 0; i < n_secrets; i++)
        free(secret_ids[i]);
    n_secrets = 0;
}

bool vmm_object_add(const char *def)
{
    static const struct vmm_opt_desc secret_descs[] = {
        {"qom-type", VMM_OPT_STRING}, {"id", VMM_OPT_STRING},    {"data", VMM_OPT_STRING},
        {"file", VMM_OPT_STRING},     {"format", VMM_OPT_STRING}, {"keyid", VMM_OPT_STRING},
        {"iv", VMM_OPT_STRING},       {NULL, VMM_OPT_STRING},
    };
    const char *comma = strchr(def, ',');
    size_t type_len = comma != NULL ? (size_t)(comma - def) : strlen(def);
    struct vmm_opts o = {0};
    const struct vmm_opt *id;
    bool ok = false;

    if (type_len != 6 || strncmp(def, "secret", 6) != 0) {
        vmm_error("Parameter 'qom-type' does not accept value '%.*s'", (int)type_len, def);
        return false;
    }
    if (comma != NULL && !vmm_opts_parse(&o, comma + 1, secret_descs, NULL))
        return false;
    id = vmm_opts_get(&o, "id");
    if (id == NULL) {
        vmm_error("Parameter 'id' is missing");
        goto out;
    }
    if (vmm_opts_get(&o, "data") == NULL && vmm_opts_get(&o, "file") == NULL) {
        vmm_error("Either 'file' or 'data' must be provided");
        goto out;
    }
    if (n_secrets == MAX_SECRETS) {
        vmm_error("too many secret objects");
        goto out;
    }
    secret_ids[n_secrets] = strdup(id->value);
    if (secret_ids[n_secrets] == NULL)
        abort();
    n_secrets++;
    ok = true;
out:
    vmm_opts_free(&o);
    return ok;
}
