/* host_rt.c: the crates/rt string helpers guest code uses that the C library
 * lacks, for building guest code on the host (tests, fuzzing).  The guest
 * gets them from crates/rt/rt_string.c, whose mem* functions would clash
 * with the C library's. */
#include <string.h>

#include "rt.h"

size_t rt_strnlen(const char *s, size_t max)
{
    return strnlen(s, max);
}

bool rt_streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

size_t rt_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n;

    if (size == 0)
        return 0;
    n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}
