/* vmm_log.c: qemu-style diagnostics on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "vmm.h"

const char *vmm_progname = "instar";
bool vmm_debug_enabled;
FILE *vmm_diag;

/* "<prog>: <kind><message>\n", as qemu's error_report and warn_report. */
static void vlog(const char *kind, const char *fmt, va_list ap)
{
    FILE *out = vmm_diag != NULL ? vmm_diag : stderr;

    fprintf(out, "%s: %s", vmm_progname, kind);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
}

void vmm_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void vmm_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog("warning: ", fmt, ap);
    va_end(ap);
}

void vmm_debug(const char *fmt, ...)
{
    va_list ap;

    if (!vmm_debug_enabled)
        return;
    va_start(ap, fmt);
    vlog("debug: ", fmt, ap);
    va_end(ap);
}

/* glibc's texts for the errors opening, reading or probing a file can give.
 * qemu-img prints glibc's strerror(); the release build links musl, whose
 * texts differ for some of these (EIO, ELOOP, ENAMETOOLONG, ENOMEM,
 * EOVERFLOW, ENOTSUP, ...).  test_cli checks the table against glibc. */
static const struct {
    int err;
    const char *text;
} glibc_texts[] = {
    {EPERM, "Operation not permitted"},
    {ENOENT, "No such file or directory"},
    {EINTR, "Interrupted system call"},
    {EIO, "Input/output error"},
    {ENXIO, "No such device or address"},
    {EBADF, "Bad file descriptor"},
    {EAGAIN, "Resource temporarily unavailable"},
    {ENOMEM, "Cannot allocate memory"},
    {EACCES, "Permission denied"},
    {EFAULT, "Bad address"},
    {EBUSY, "Device or resource busy"},
    {EEXIST, "File exists"},
    {ENODEV, "No such device"},
    {ENOTDIR, "Not a directory"},
    {EISDIR, "Is a directory"},
    {EINVAL, "Invalid argument"},
    {ENFILE, "Too many open files in system"},
    {EMFILE, "Too many open files"},
    {ETXTBSY, "Text file busy"},
    {EFBIG, "File too large"},
    {ENOSPC, "No space left on device"},
    {ESPIPE, "Illegal seek"},
    {EROFS, "Read-only file system"},
    {ERANGE, "Numerical result out of range"},
    {ENAMETOOLONG, "File name too long"},
    {ENOSYS, "Function not implemented"},
    {ELOOP, "Too many levels of symbolic links"},
    {EOVERFLOW, "Value too large for defined data type"},
    {ENOTSUP, "Operation not supported"},
    {ESTALE, "Stale file handle"},
    {EDQUOT, "Disk quota exceeded"},
    {ENOMEDIUM, "No medium found"},
};

const char *vmm_strerror(int err)
{
    for (size_t i = 0; i < sizeof(glibc_texts) / sizeof(glibc_texts[0]); i++)
        if (glibc_texts[i].err == err)
            return glibc_texts[i].text;
    return strerror(err);
}
