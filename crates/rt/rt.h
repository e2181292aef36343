/* rt.h: the freestanding C runtime every guest blob links (core and each
 * operation link their own copy; blobs share no code).
 *
 * gcc may emit calls to memcpy, memmove, memset and memcmp on its own, so
 * these keep their standard names.  They are written with `rep` string
 * instructions, which gcc cannot turn back into calls to themselves, and run
 * at CPL3 where `rep` executes natively.
 */
#ifndef INSTAR_RT_H
#define INSTAR_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#if defined(INSTAR_GUEST) && !defined(RT_STRING_IMPL)
/* -ffreestanding implies -fno-builtin: without these, every small
 * fixed-size copy (an 8-byte load from an image table) would call the
 * functions above.  gcc inlines what it can and calls them for the rest. */
#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))
#define strlen(s) __builtin_strlen(s)
#endif

/* Length of `s`, scanning at most `max` bytes. */
size_t rt_strnlen(const char *s, size_t max);

/* True when the NUL-terminated strings are equal. */
bool rt_streq(const char *a, const char *b);

/* Copy the NUL-terminated `src` into `dst` of `size` bytes, truncating;
 * `dst` is always terminated when size > 0.  Returns strlen(dst). */
size_t rt_strlcpy(char *dst, const char *src, size_t size);

/* Stack protector support (-mstack-protector-guard=global). */
extern uintptr_t __stack_chk_guard;
__attribute__((noreturn)) void __stack_chk_fail(void);

#endif /* INSTAR_RT_H */
