/* vmm_log.c: qemu-style diagnostics on stderr. */
#include <stdarg.h>

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
