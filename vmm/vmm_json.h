/* vmm_json.h: a small JSON reader for qemu's `json:{...}` filenames and
 * JSON --object definitions, flattening nested objects into dotted keys as
 * qemu's qdict_flatten does ({"file": {"filename": "x"}} -> file.filename). */
#ifndef INSTAR_VMM_JSON_H
#define INSTAR_VMM_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum vmm_json_type { VMM_JSON_STRING, VMM_JSON_NUMBER, VMM_JSON_BOOL, VMM_JSON_NULL };

struct vmm_json_kv {
    char *key;    /* dotted path (owned) */
    char *value;  /* text of the value (owned): the string, the number, "on"/"off", "" */
    enum vmm_json_type type;
};

#define VMM_JSON_MAX_KEYS 64

/* Parse the JSON object `text`; fills up to VMM_JSON_MAX_KEYS pairs and
 * returns their number, or -1 after printing qemu's JSON error. */
int vmm_json_parse(const char *text, struct vmm_json_kv *kv);
void vmm_json_free(struct vmm_json_kv *kv, int n);

#endif /* INSTAR_VMM_JSON_H */
