/* vmm_chain.c: backing chains under the path policy, and the sandboxed run.
 *
 * The guest reports the name of a file an image needs -- a backing file, a
 * qcow2 data file, a vmdk extent file (ABI_ERROR_NEED_*); the host alone
 * decides whether to open it.  It resolves the name as qemu does (relative
 * to the referring image's directory; a data file's to the working
 * directory), normalises it as text and
 * opens it only when it lies inside an allowed directory -- the directory
 * of the image named on the command line, and each --allow-path -- through
 * openat2(RESOLVE_BENEATH) from that directory, so that no symbolic link
 * can lead out of it, and only when it is a regular file.
 * Protocol and json: names, loops and chains of more than VMM_MAX_IMAGES
 * images are refused.  Every file is opened read-only.
 *
 * The monitor locks itself down before the first guest instruction and
 * cannot open files afterwards, so each guest run of a source happens in a
 * forked child (vmm_sandboxed_run); the parent never runs guest code, and
 * learns the child's request through a shared page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm_chain.h"

#define PREFIX "Could not open backing file: "

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        abort();
    return d;
}

/* The directory part of `path` as qemu's path_combine() keeps it: up to
 * and including the last '/', or "" (the current directory). */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? (size_t)(slash - path) + 1 : 0;
}

/* `path` made absolute (against `cwd`) and normalised by its text alone:
 * no "." or ".." components, no repeated or trailing '/'.  No system call
 * looks at the file system. */
static char *lexical(const char *cwd, const char *path)
{
    size_t n = strlen(cwd) + strlen(path) + 3;
    char *in = malloc(n);
    char *out = malloc(n);
    size_t len = 0;
    char *save = NULL;

    if (in == NULL || out == NULL)
        abort();
    snprintf(in, n, "%s/%s", path[0] == '/' ? "" : cwd, path);
    for (char *part = strtok_r(in, "/", &save); part != NULL; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--; /* the '/' before it */
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, part, strlen(part));
        len += strlen(part);
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    free(in);
    return out;
}

void vmm_chain_init(struct vmm_chain *c, const struct vmm_device *top, const char *top_path,
                    char *const *allow, size_t n_allow)
{
    char *dir = strndup(top_path, dir_len(top_path));
    struct stat st;

    memset(c, 0, sizeof(*c));
    if (dir == NULL)
        abort();
    c->dev[0] = *top;
    c->name[0] = xstrdup(top_path);
    if (fstat(top->fd, &st) == 0) {
        c->st_dev[0] = st.st_dev;
        c->st_ino[0] = st.st_ino;
    }
    c->n = 1;
    /* The image's own directory, then each --allow-path, as given; they
     * are made absolute and opened only when a backing file is followed. */
    c->allow = calloc(n_allow + 1, sizeof(*c->allow));
    c->allow_fd = calloc(n_allow + 1, sizeof(*c->allow_fd));
    if (c->allow == NULL || c->allow_fd == NULL)
        abort();
    c->allow[0] = dir;
    c->allow_fd[0] = -1;
    for (size_t i = 0; i < n_allow; i++) {
        c->allow[i + 1] = xstrdup(allow[i]);
        c->allow_fd[i + 1] = -1;
    }
    c->n_allow = n_allow + 1;
}

/* At the first backing file: the allowed directories as absolute paths. */
static bool absolute_dirs(struct vmm_chain *c)
{
    if (c->cwd != NULL)
        return true;
    c->cwd = getcwd(NULL, 0);
    if (c->cwd == NULL)
        return false;
    for (size_t i = 0; i < c->n_allow; i++) {
        char *abs = lexical(c->cwd, c->allow[i][0] != '\0' ? c->allow[i] : ".");

        free(c->allow[i]);
        c->allow[i] = abs;
    }
    return true;
}

const char *vmm_chain_image(const struct vmm_chain *c, uint32_t depth)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->kind[i] == VMM_LINK_IMAGE && c->depth[i] == depth)
            return c->name[i];
    }
    return NULL;
}

void vmm_chain_free(struct vmm_chain *c)
{
    /* Device 0 belongs to the caller. */
    for (uint32_t i = 0; i < c->n; i++) {
        if (i > 0 && c->dev[i].fd >= 0)
            close(c->dev[i].fd);
        free(c->name[i]);
    }
    for (size_t i = 0; i < c->n_allow; i++) {
        if (c->allow_fd[i] >= 0)
            close(c->allow_fd[i]);
        free(c->allow[i]);
    }
    free(c->allow);
    free(c->allow_fd);
    free(c->cwd);
    memset(c, 0, sizeof(*c));
}

/* qemu's path_has_protocol(): a ':' before any '/'. */
static bool has_protocol(const char *name)
{
    return name[strcspn(name, ":/")] == ':';
}

/* The part of `path` below directory `dir` ("" for dir itself), or NULL. */
static const char *below(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return path + 1;
    if (strncmp(path, dir, n) != 0)
        return NULL;
    if (path[n] == '\0')
        return path + n;
    return path[n] == '/' ? path + n + 1 : NULL;
}

/* Print "Could not open 'ARG': " and one "Could not open backing file: " per
 * level down to the file being opened (`nesting`), then the message. */
__attribute__((format(printf, 3, 4))) static void refuse(uint32_t nesting, const char *arg,
                                                         const char *fmt, ...)
{
    char msg[1024];
    char prefixes[sizeof(PREFIX) * ABI_MAX_DEVICES + 1] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (uint32_t i = 0; i < nesting && i < ABI_MAX_DEVICES; i++)
        strcat(prefixes, PREFIX);
    vmm_error("Could not open '%s': %s%s", arg, prefixes, msg);
}

/* Open `rel` beneath allowed directory `i`: the kernel resolves it and
 * refuses (EXDEV) any step -- "..", an absolute or escaping symbolic link,
 * a mount crossing through /proc magic links -- that would leave it. */
static int open_beneath(struct vmm_chain *c, size_t i, const char *rel, int flags)
{
    struct open_how how = {
        .flags = flags != 0 ? (uint64_t)flags : O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };

    if (c->allow_fd[i] < 0) {
        c->allow_fd[i] = open(c->allow[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->allow_fd[i] < 0)
            return -1;
    }
    /* O_NONBLOCK: a FIFO must not wait for a writer. */
    return (int)syscall(SYS_openat2, c->allow_fd[i], rel[0] != '\0' ? rel : ".", &how,
                        sizeof(how));
}

/* The first symbolic link on the way to `rel` (beneath allowed directory
 * `i`; `abs` is the whole path as text) made into the path it stands for,
 * absolute and normalised as text, with the rest of `rel` after it; NULL
 * when there is none.  Each step is looked up beneath the directory, so the
 * link itself is never reached through another one. */
static char *link_target(struct vmm_chain *c, size_t i, const char *rel, const char *abs)
{
    size_t base = strlen(abs) - strlen(rel); /* where rel starts in abs */

    for (const char *end = rel; *end != '\0';) {
        char target[4096];
        char *prefix;
        char *dir;
        char *joined;
        char *out;
        struct stat st;
        ssize_t n;
        int fd;

        end += strcspn(end, "/");
        prefix = strndup(rel, (size_t)(end - rel));
        if (prefix == NULL)
            abort();
        fd = open_beneath(c, i, prefix, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        free(prefix);
        if (fd < 0)
            return NULL;
        if (fstat(fd, &st) != 0 || !S_ISLNK(st.st_mode)) {
            close(fd);
            if (*end == '/')
                end++;
            continue;
        }
        n = readlinkat(fd, "", target, sizeof(target) - 1);
        close(fd);
        if (n <= 0)
            return NULL;
        target[n] = '\0';
        /* The link's directory, then its target, then the rest. */
        dir = strndup(abs, base + (size_t)(end - rel));
        if (dir == NULL)
            abort();
        dir[dir_len(dir)] = '\0';
        if (asprintf(&joined, "%s%s", target, end) < 0)
            abort();
        out = lexical(dir, joined);
        free(joined);
        free(dir);
        return out;
    }
    return NULL;
}

bool vmm_chain_follow(struct vmm_chain *c, const char *arg, const char *name,
                      enum vmm_link_kind kind)
{
    static const char policy[] = "is outside the directories instar may open (the image's "
                                 "directory and each --allow-path DIR); add --allow-path to "
                                 "allow it";
    static const char *const what[] = {"backing file", "data file", "extent file"};
    uint32_t ref = c->n - 1;
    uint32_t images = 0;
    uint32_t nesting;
    char *path = NULL;
    char *abs = NULL;
    struct stat st;
    int fd = -1;
    bool ok = false;

    /* The image that names the file: the last one opened. */
    while (ref > 0 && c->kind[ref] != VMM_LINK_IMAGE)
        ref--;
    for (uint32_t i = 0; i < c->n; i++)
        images += c->kind[i] == VMM_LINK_IMAGE;
    /* A backing file's errors nest one level below its image; a data or
     * extent file's belong to its image. */
    nesting = c->depth[ref] + (kind == VMM_LINK_IMAGE ? 1 : 0);
    if (strncmp(name, "json:", 5) == 0) {
        refuse(nesting, arg, "'%s': instar does not follow json: %s names", name, what[kind]);
        return false;
    }
    if (has_protocol(name)) {
        refuse(nesting, arg, "'%s' names a protocol; instar opens only local files", name);
        return false;
    }
    if (kind == VMM_LINK_IMAGE && images >= VMM_MAX_IMAGES) {
        refuse(nesting, arg, "'%s': the backing chain is longer than %u images", name,
               VMM_MAX_IMAGES);
        return false;
    }
    if (c->n >= ABI_MAX_DEVICES) {
        refuse(nesting, arg, "'%s': the image needs more than %u files", name, ABI_MAX_DEVICES);
        return false;
    }
    if (!absolute_dirs(c)) {
        refuse(nesting, arg, "cannot tell the current directory: %s", vmm_strerror(errno));
        return false;
    }
    /* qemu resolves backing and extent file names against the referring
     * image's directory as it was named (bdrv_get_full_backing_filename(),
     * vmdk_parse_extents()), a data file name against the working
     * directory. */
    if (kind == VMM_LINK_DATA || name[0] == '/' || dir_len(c->name[ref]) == 0)
        path = xstrdup(name);
    else if (asprintf(&path, "%.*s%s", (int)dir_len(c->name[ref]), c->name[ref], name) < 0)
        abort();
    /* Judged by its text first: a name outside every allowed directory is
     * refused without a system call touching it.  A final symbolic link
     * that leaves its directory is judged again by its target. */
    abs = lexical(c->cwd, path);
    for (int hops = 0;; hops++) {
        const char *rel = NULL;
        size_t best = 0;
        char *next;

        for (size_t i = 0; i < c->n_allow; i++) {
            const char *r = below(abs, c->allow[i]);

            if (r != NULL && (rel == NULL || strlen(c->allow[i]) > strlen(c->allow[best]))) {
                rel = r;
                best = i;
            }
        }
        if (rel == NULL) {
            refuse(nesting, arg, "'%s' (%s) %s", path, abs, policy);
            goto out;
        }
        fd = open_beneath(c, best, rel, 0);
        if (fd >= 0)
            break;
        if (errno == EXDEV && hops < 16 && (next = link_target(c, best, rel, abs)) != NULL) {
            free(abs);
            abs = next;
            continue;
        }
        if (errno == EXDEV || errno == ELOOP)
            refuse(nesting, arg, "'%s' leads outside the directories instar may open through a "
                   "symbolic link; add --allow-path to allow its target", path);
        else if (c->allow_fd[best] < 0)
            refuse(nesting, arg, "cannot open the allowed directory '%s': %s", c->allow[best],
                   vmm_strerror(errno));
        else
            refuse(nesting, arg, "Could not open '%s': %s", path, vmm_strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        refuse(nesting, arg, "'file' driver requires '%s' to be a regular file", path);
        goto out;
    }
    for (uint32_t i = 0; i < c->n && kind == VMM_LINK_IMAGE; i++) {
        if (c->kind[i] == VMM_LINK_IMAGE && c->st_dev[i] == st.st_dev &&
            c->st_ino[i] == st.st_ino) {
            refuse(nesting, arg, "'%s': the backing chain loops back to '%s'", path, c->name[i]);
            goto out;
        }
    }
    c->dev[c->n].fd = fd;
    c->dev[c->n].size = (uint64_t)st.st_size;
    c->dev[c->n].allocated = (uint64_t)st.st_blocks * 512u;
    c->st_dev[c->n] = st.st_dev;
    c->st_ino[c->n] = st.st_ino;
    c->kind[c->n] = kind;
    c->depth[c->n] = nesting;
    c->name[c->n] = path;
    c->n++;
    path = NULL;
    fd = -1;
    ok = true;
out:
    if (fd >= 0)
        close(fd);
    free(abs);
    free(path);
    return ok;
}

/*
 * The parent only sleeps while the child runs.  Started on the parent's
 * CPU, the child needs no other CPU woken, and unless the scheduler moves
 * it, its exit wakes the parent on the same CPU: two cross-CPU wake-ups
 * saved, ~70 us of a ~2 ms run when the host is itself a VM (an idle vCPU
 * must be woken).  Only the sleeping parent stays pinned; its mask is put
 * back afterwards.  Without the calls (an odd kernel, a seccomp'd caller)
 * nothing changes but the speed.
 */
static bool pin_here(cpu_set_t *saved)
{
    int cpu = sched_getcpu();
    cpu_set_t one;

    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(*saved), saved) != 0)
        return false;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof(one), &one) == 0;
}

int vmm_sandboxed_run(int (*fn)(void *arg, char *req, size_t req_size), void *arg, char *req,
                      size_t req_size)
{
    size_t len = 4096;
    char *page = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid;
    int status = 0;
    cpu_set_t saved;
    bool pinned;

    req[0] = '\0';
    if (page == MAP_FAILED) {
        vmm_error("cannot map the request page: %s", vmm_strerror(errno));
        return VMM_EXIT_HOST;
    }
    fflush(stdout);
    fflush(stderr);
    pinned = pin_here(&saved);
    pid = fork();
    if (pid < 0) {
        vmm_error("cannot start the sandbox process: %s", vmm_strerror(errno));
        if (pinned)
            sched_setaffinity(0, sizeof(saved), &saved);
        munmap(page, len);
        return VMM_EXIT_HOST;
    }
    if (pid == 0) {
        int rc;

        /* Born on the parent's CPU, the child may move when that CPU is
         * busy; the parent stays pinned while it sleeps. */
        if (pinned)
            sched_setaffinity(0, sizeof(saved), &saved);
        rc = fn(arg, page, len);

        fflush(stdout);
        fflush(stderr);
#ifdef INSTAR_SAN
        /* LeakSanitizer checks the guest run's path at exit. */
        exit(rc);
#else
        _exit(rc);
#endif
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            vmm_error("cannot wait for the sandbox process: %s", vmm_strerror(errno));
            munmap(page, len);
            return VMM_EXIT_HOST;
        }
    }
    if (pinned)
        sched_setaffinity(0, sizeof(saved), &saved);
    /* The page is the child's: take a bounded copy. */
    if (memchr(page, '\0', len) != NULL && page[0] != '\0')
        snprintf(req, req_size, "%s", page);
    munmap(page, len);
    if (WIFSIGNALED(status)) {
        /* Die the way the sandbox died (SIGSYS from seccomp, SIGKILL from a
         * limit), without a core dump. */
        struct rlimit none = {0, 0};
        int sig = WTERMSIG(status);

        req[0] = '\0';
        setrlimit(RLIMIT_CORE, &none);
        signal(sig, SIG_DFL);
        raise(sig);
        return VMM_EXIT_HOST;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : VMM_EXIT_HOST;
}
