/* vmm_log.c: qemu-style diagnostics on stderr. */
#include <stdarg.h>

#include "vmm.h"

const char *vmm_progname = "instar";
bool vmm_debug_enabled;

void vmm_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", vmm_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void vmm_warn(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: warning: ", vmm_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void vmm_debug(const char *fmt, ...)
{
    va_list ap;

    if (!vmm_debug_enabled)
        return;
    fprintf(stderr, "%s: debug: ", vmm_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
