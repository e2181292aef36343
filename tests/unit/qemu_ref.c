/* qemu_ref.c: reference values from the real qemu-img. */
#define _GNU_SOURCE
#include "qemu_ref.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    char buf[4096];
    size_t n;

    if (p == NULL || mem == NULL) {
        fprintf(stderr, "qemu_ref: cannot run %s\n", cmd);
        abort();
    }
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        fwrite(buf, 1, n, mem);
    *status = pclose(p);
    fclose(mem);
    return out;
}

bool qemu_ref_measure(const char *args, uint64_t *required, uint64_t *fully)
{
    char *cmd;
    char *out;
    int status;
    char *r;
    char *f;
    bool ok;

    if (asprintf(&cmd, "qemu-img measure --output=json %s 2>/dev/null", args) < 0)
        abort();
    out = run(cmd, &status);
    free(cmd);
    r = strstr(out, "\"required\": ");
    f = strstr(out, "\"fully-allocated\": ");
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && r != NULL && f != NULL;
    if (ok) {
        /* JSON prints signed numbers; reinterpret as the unsigned value. */
        *required = (uint64_t)strtoll(r + 12, NULL, 10);
        *fully = (uint64_t)strtoll(f + 19, NULL, 10);
    }
    free(out);
    return ok;
}

int qemu_ref_size(const char *s, uint64_t *out, bool *warned)
{
    char tmpl[] = "/tmp/instar-size-XXXXXX";
    int fd = mkstemp(tmpl);
    char *cmd;
    char *res;
    int status;
    char *p;
    int rc;

    if (fd < 0)
        abort();
    close(fd);
    /* Single-quote the size for the shell. */
    if (strchr(s, '\'') != NULL)
        abort();
    if (asprintf(&cmd, "qemu-img create -f qcow2 -- %s '%s' 2>&1", tmpl, s) < 0)
        abort();
    res = run(cmd, &status);
    free(cmd);
    unlink(tmpl);
    *warned = strstr(res, "warning:") != NULL;
    if (strstr(res, "Must be between") != NULL) {
        rc = 2;
    } else if (strstr(res, "Invalid image size specified") != NULL) {
        rc = 1;
    } else if ((p = strstr(res, " size=")) != NULL) {
        *out = strtoull(p + 6, NULL, 10);
        rc = 0;
    } else {
        fprintf(stderr, "qemu_ref: unexpected qemu-img output for '%s': %s\n", s, res);
        abort();
    }
    free(res);
    return rc;
}

int64_t qemu_ref_create_size(const char *fmt, const char *opts, uint64_t size)
{
    char dir[] = "/tmp/instar-create-XXXXXX";
    char *cmd;
    char *out;
    int status;
    int64_t total = 0;
    DIR *d;
    struct dirent *e;

    if (mkdtemp(dir) == NULL)
        abort();
    if (asprintf(&cmd, "cd %s && qemu-img create -q -f %s %s%s%s img %" PRIu64 " 2>&1", dir, fmt,
                 opts[0] ? "-o '" : "", opts, opts[0] ? "'" : "", size) < 0)
        abort();
    out = run(cmd, &status);
    free(cmd);
    free(out);
    d = opendir(dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        char *path;
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            abort();
        if (stat(path, &st) == 0)
            total += st.st_size;
        unlink(path);
        free(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? total : -1;
}
