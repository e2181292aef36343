/* rt_fmt.c: a small, bounded snprintf for guest error messages.
 *
 * Supports %s, %c, %d, %i, %u, %x, %X with the h, l, ll and z length
 * modifiers, %% and a zero-padded field width (%08x).  Anything else is
 * copied literally.  Built for the guest and the host (tests, fuzzing).
 */
#include "rt_fmt.h"

struct out {
    char *buf;
    size_t size;
    size_t len; /* characters produced, even past the end */
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_uint(struct out *o, uint64_t v, unsigned base, bool upper, unsigned width,
                     char pad)
{
    char tmp[24];
    unsigned n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v != 0);
    while (width > n) {
        put(o, pad);
        width--;
    }
    while (n > 0)
        put(o, tmp[--n]);
}

size_t rt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};

    for (const char *p = fmt; *p != '\0'; p++) {
        unsigned width = 0;
        char pad = ' ';
        int longs = 0;
        uint64_t u;
        int64_t s;

        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        p++;
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (unsigned)(*p++ - '0');
        while (*p == 'l' || *p == 'z' || *p == 'h') {
            if (*p != 'h')
                longs++;
            p++;
        }
        switch (*p) {
        case 's': {
            const char *str = va_arg(ap, const char *);

            for (str = str != NULL ? str : "(null)"; *str != '\0'; str++)
                put(&o, *str);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i':
            s = longs ? va_arg(ap, long long) : va_arg(ap, int);
            if (s < 0) {
                put(&o, '-');
                u = (uint64_t)0 - (uint64_t)s;
            } else {
                u = (uint64_t)s;
            }
            put_uint(&o, u, 10, false, width, pad);
            break;
        case 'u':
        case 'x':
        case 'X':
            u = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
            put_uint(&o, u, *p == 'u' ? 10 : 16, *p == 'X', width, pad);
            break;
        case '%':
            put(&o, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    if (size > 0)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

size_t rt_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = rt_vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
