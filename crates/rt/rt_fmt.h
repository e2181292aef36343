/* rt_fmt.h: bounded string formatting for freestanding code (rt_fmt.c). */
#ifndef INSTAR_RT_FMT_H
#define INSTAR_RT_FMT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Format into `buf` of `size` bytes (always NUL-terminated when size > 0).
 * Returns the length the full result would have.  %lu/%llu/%zu take 64-bit
 * values. */
size_t rt_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t rt_vformat(char *buf, size_t size, const char *fmt, va_list ap);

#endif /* INSTAR_RT_FMT_H */
