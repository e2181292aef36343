/* img_harness.c: see img_harness.h. */
#define _GNU_SOURCE
#include "img_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARENA_SIZE (256ull << 20)

static int64_t fd_read(void *ctx, uint64_t off, uint64_t len, void *buf)
{
    struct harness *h = ctx;
    int fd = h->fd;
    uint64_t done = 0;

    h->reads++;
    h->read_bytes += len;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -5;
        if (n == 0)
            break;
        done += (uint64_t)n;
    }
    return (int64_t)done;
}

/* As the host does: SEEK_DATA/SEEK_HOLE, one extent at a time. */
static int32_t fd_extent(void *ctx, uint64_t off, struct abi_extent *out)
{
    int fd = ((const struct harness *)ctx)->fd;
    struct stat st;
    off_t data;
    off_t hole;

    if (fstat(fd, &st) != 0)
        return -5;
    if (off >= (uint64_t)st.st_size)
        return 0;
    data = lseek(fd, (off_t)off, SEEK_DATA);
    if (data < 0 && errno == ENXIO)
        data = st.st_size;
    else if (data < 0)
        data = (off_t)off;
    out->offset = off;
    out->_pad = 0;
    if ((uint64_t)data > off) {
        out->length = (uint64_t)data - off;
        out->kind = ABI_EXTENT_HOLE;
        return 1;
    }
    hole = lseek(fd, (off_t)off, SEEK_HOLE);
    if (hole < 0 || hole > st.st_size)
        hole = st.st_size;
    out->length = (uint64_t)hole - off;
    out->kind = ABI_EXTENT_DATA;
    return 1;
}

void harness_open(struct harness *h, const char *path, const char *format,
                  const struct img_opts *opts)
{
    struct stat st;
    uint8_t head[IMG_PROBE_LEN];
    int64_t n;
    const char *other = NULL;

    memset(h, 0, sizeof(*h));
    h->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (h->fd < 0 || fstat(h->fd, &st) != 0) {
        fprintf(stderr, "harness: cannot open %s: %s\n", path, strerror(errno));
        abort();
    }
    h->io.ctx = h;
    h->io.size = (uint64_t)st.st_size;
    h->io.allocated = (uint64_t)st.st_blocks * 512;
    h->io.read = fd_read;
    h->io.extent = fd_extent;
    /* Untouched pages of a large mapping cost nothing. */
    h->arena_mem = calloc(1, ARENA_SIZE);
    if (h->arena_mem == NULL)
        abort();
    img_arena_init(&h->arena, h->arena_mem, ARENA_SIZE, true); /* calloc'd */
    h->img.io = &h->io;
    h->img.arena = &h->arena;
    if (opts != NULL)
        h->img.opts = *opts;
    if (format != NULL) {
        h->img.drv = img_driver_by_name(format);
        if (h->img.drv == NULL) {
            fprintf(stderr, "harness: no driver '%s'\n", format);
            abort();
        }
    } else {
        n = fd_read(&h->fd, 0, sizeof(head), head);
        h->img.drv = img_probe(head, n > 0 ? (size_t)n : 0, &other);
    }
    h->err = h->img.drv->open(&h->img);
}

enum img_err harness_walk(struct harness *h, struct harness_map *out)
{
    uint64_t off = 0;
    uint64_t size = h->img.virtual_size;

    memset(out, 0, sizeof(*out));
    out->virtual_size = size;
    while (off < size) {
        struct img_map m = {0, IMG_UNALLOC};
        enum img_err err = h->img.drv->map(&h->img, off, size - off, &m);

        if (err != IMG_OK)
            return err;
        if (m.length == 0 || m.length > size - off) {
            snprintf(h->img.err, sizeof(h->img.err), "harness: bad extent length %" PRIu64
                     " at %" PRIu64, m.length, off);
            return IMG_ERR_IO;
        }
        if (m.status == IMG_DATA) {
            if (out->n > 0 && out->data[out->n - 1].start + out->data[out->n - 1].length == off)
                out->data[out->n - 1].length += m.length;
            else if (out->n < HARNESS_MAX_EXTENTS)
                out->data[out->n++] = (struct harness_range){off, m.length};
            else
                out->truncated = true;
        }
        off += m.length;
    }
    return IMG_OK;
}

const char *harness_first_line(const struct harness *h)
{
    return h->img.note[0] != '\0' ? h->img.note : h->img.err;
}

void harness_close(struct harness *h)
{
    if (h->fd >= 0)
        close(h->fd);
    free(h->arena_mem);
    h->arena_mem = NULL;
    h->fd = -1;
}

static char *capture(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    char buf[65536];
    size_t n;

    if (p == NULL || mem == NULL)
        abort();
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        fwrite(buf, 1, n, mem);
    *status = pclose(p);
    fclose(mem);
    return out;
}

static uint64_t json_num(const char *p, const char *key)
{
    const char *k = strstr(p, key);

    return k != NULL ? strtoull(k + strlen(key), NULL, 10) : 0;
}

bool harness_qemu_map(const char *path, const char *extra_args, struct harness_map *out)
{
    char *cmd;
    char *text;
    int status;
    char *line;
    char *save = NULL;

    memset(out, 0, sizeof(*out));
    if (asprintf(&cmd, "qemu-img info --output=json %s '%s' 2>/dev/null", extra_args, path) < 0)
        abort();
    text = capture(cmd, &status);
    free(cmd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(text);
        return false;
    }
    out->virtual_size = json_num(text, "\"virtual-size\": ");
    free(text);
    if (asprintf(&cmd, "qemu-img map --output=json %s '%s' 2>/dev/null", extra_args, path) < 0)
        abort();
    text = capture(cmd, &status);
    free(cmd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(text);
        return false;
    }
    /* One object per line: { "start": S, "length": L, ..., "zero": Z, "data": D, ...} */
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        uint64_t start;
        uint64_t length;

        if (strstr(line, "\"start\"") == NULL || strstr(line, "\"data\": true") == NULL ||
            strstr(line, "\"zero\": false") == NULL)
            continue;
        start = json_num(line, "\"start\": ");
        length = json_num(line, "\"length\": ");
        if (out->n > 0 && out->data[out->n - 1].start + out->data[out->n - 1].length == start)
            out->data[out->n - 1].length += length;
        else if (out->n < HARNESS_MAX_EXTENTS)
            out->data[out->n++] = (struct harness_range){start, length};
        else
            out->truncated = true;
    }
    free(text);
    return true;
}

void harness_qemu_error(const char *path, const char *args, char *buf, size_t size)
{
    char *cmd;
    char *text;
    int status;
    char *nl;
    char *p;
    char prefix[4200];

    if (asprintf(&cmd, "qemu-img measure %s '%s' 2>&1 >/dev/null", args, path) < 0)
        abort();
    text = capture(cmd, &status);
    free(cmd);
    p = text;
    /* Skip qemu's hints about optional module packages. */
    while (strncmp(p, "qemu: module ", 13) == 0 && (nl = strchr(p, '\n')) != NULL)
        p = nl + 1;
    nl = strchr(p, '\n');
    if (nl != NULL)
        *nl = '\0';
    if (strncmp(p, "qemu-img: ", 10) == 0)
        p += 10;
    snprintf(prefix, sizeof(prefix), "Could not open '%s': ", path);
    if (strncmp(p, prefix, strlen(prefix)) == 0)
        p += strlen(prefix);
    snprintf(buf, size, "%s", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : p);
    free(text);
}

/* The whole of a small text file, or NULL. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;

    if (f == NULL)
        return NULL;
    if (getdelim(&text, &len, '\0', f) < 0) {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

void harness_sh(const char *fmt, ...)
{
    va_list ap;
    char *cmd;
    int rc;

    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    /* qemu-img's LUKS PBKDF benchmark fails at random on a loaded machine
     * ("Unable to get accurate CPU usage"): noise, retried with back-off. */
    for (int attempt = 0;; attempt++) {
        char err_path[] = "/tmp/instar-harness-XXXXXX";
        int fd = mkstemp(err_path);
        char *wrapped;
        char *text;
        bool flake;

        if (fd < 0 || asprintf(&wrapped, "{ %s ; } 2>%s", cmd, err_path) < 0)
            abort();
        close(fd);
        rc = system(wrapped);
        free(wrapped);
        text = read_text(err_path);
        unlink(err_path);
        flake = rc != 0 && text != NULL && strstr(text, "Unable to get accurate CPU usage");
        if (rc == 0 || !flake || attempt == 40) {
            if (rc != 0)
                fprintf(stderr, "harness: command failed (%d): %s\n%s", rc, cmd,
                        text != NULL ? text : "");
            free(text);
            if (rc != 0)
                abort();
            break;
        }
        free(text);
        usleep(50000u * (unsigned)(attempt + 1 < 20 ? attempt + 1 : 20));
    }
    free(cmd);
}

bool harness_same_map(const struct harness_map *ours, const struct harness_map *qemu)
{
    if (ours->virtual_size != qemu->virtual_size) {
        fprintf(stderr, "virtual size: instar %" PRIu64 ", qemu-img %" PRIu64 "\n",
                ours->virtual_size, qemu->virtual_size);
        return false;
    }
    if (ours->truncated || qemu->truncated) {
        fprintf(stderr, "too many extents to compare\n");
        return false;
    }
    for (uint32_t i = 0; i < ours->n || i < qemu->n; i++) {
        if (i >= ours->n || i >= qemu->n || ours->data[i].start != qemu->data[i].start ||
            ours->data[i].length != qemu->data[i].length) {
            fprintf(stderr, "data range %u: instar ", i);
            if (i < ours->n)
                fprintf(stderr, "[%" PRIu64 ", +%" PRIu64 ")", ours->data[i].start,
                        ours->data[i].length);
            else
                fprintf(stderr, "none");
            fprintf(stderr, ", qemu-img ");
            if (i < qemu->n)
                fprintf(stderr, "[%" PRIu64 ", +%" PRIu64 ")\n", qemu->data[i].start,
                        qemu->data[i].length);
            else
                fprintf(stderr, "none\n");
            return false;
        }
    }
    return true;
}

bool harness_refuses_past_eof(const char *path, const char *format, const char *qemu_args)
{
    struct harness_map qemu;
    struct harness_map ours;
    struct harness h;
    bool ok;

    if (!harness_qemu_map(path, qemu_args, &qemu)) {
        fprintf(stderr, "%s: qemu-img map fails too\n", path);
        return false;
    }
    harness_open(&h, path, format, NULL);
    if (h.err == IMG_OK)
        h.err = harness_walk(&h, &ours);
    ok = h.err != IMG_OK && strstr(h.img.err, "beyond the end of the file") != NULL;
    if (!ok)
        fprintf(stderr, "%s: expected a past-EOF refusal, got %s\n", path,
                h.err == IMG_OK ? "success" : h.img.err);
    harness_close(&h);
    return ok;
}

static void harness_io(const char *dir, const char *name, uint64_t off, void *buf, size_t len,
                       bool write)
{
    char path[512];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, write ? O_WRONLY : O_RDONLY);
    n = fd < 0 ? -1 : write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
    if (n != (ssize_t)len) {
        fprintf(stderr, "harness: cannot %s %s\n", write ? "write" : "read", path);
        abort();
    }
    close(fd);
}

void harness_poke(const char *dir, const char *name, uint64_t off, const void *buf, size_t len)
{
    harness_io(dir, name, off, (void *)(uintptr_t)buf, len, true);
}

void harness_peek(const char *dir, const char *name, uint64_t off, void *buf, size_t len)
{
    harness_io(dir, name, off, buf, len, false);
}

void harness_poke_le(const char *dir, const char *name, uint64_t off, uint64_t v, size_t len)
{
    uint8_t b[8];

    if (len > sizeof(b))
        abort();
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    harness_poke(dir, name, off, b, len);
}

void harness_copy(const char *dir, const char *src, const char *dst)
{
    harness_sh("cd %s && cp --sparse=always %s %s", dir, src, dst);
}
