/* vmm_size.c: qemu-img's number syntax for --size and typed -o values.
 *
 * Behaviour of qemu 7.2's qemu_strtosz()/cvtnum(), re-derived from observed
 * results (docs/measure.md, "size syntax"): decimal integer part (leading
 * whitespace and '+' allowed, never '-'); "0x" hex without fraction; a
 * decimal fraction only with a multiplier suffix, kept as a 0.64 fixed-point
 * value and rounded half up after scaling; one suffix of b k m g t p e.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

/* 1024^n for suffix characters, 1 for 'b', 0 for anything else. */
static uint64_t suffix_mul(char c)
{
    switch (c) {
    case 'b': case 'B':
        return 1;
    case 'k': case 'K':
        return 1ull << 10;
    case 'm': case 'M':
        return 1ull << 20;
    case 'g': case 'G':
        return 1ull << 30;
    case 't': case 'T':
        return 1ull << 40;
    case 'p': case 'P':
        return 1ull << 50;
    case 'e': case 'E':
        return 1ull << 60;
    default:
        return 0;
    }
}

/* strtoull with qemu_strtou64's error rules.  *end always receives the stop
 * position.  Returns VMM_SZ_OK, VMM_SZ_EINVAL (no digits) or VMM_SZ_ERANGE. */
static enum vmm_strtosz_err parse_u64(const char *s, const char **end, int base, uint64_t *out)
{
    char *ep;

    errno = 0;
    *out = strtoull(s, &ep, base);
    *end = ep;
    if (errno == ERANGE)
        return VMM_SZ_ERANGE;
    if (ep == s)
        return VMM_SZ_EINVAL;
    return VMM_SZ_OK;
}

enum vmm_strtosz_err vmm_strtosz(const char *s, uint64_t *out)
{
    const char *end;
    uint64_t val;
    uint64_t valf = 0; /* fraction as a 0.64 fixed-point number */
    uint64_t mul;
    bool hex = false;
    enum vmm_strtosz_err rc;

    rc = parse_u64(s, &end, 10, &val);
    if (rc != VMM_SZ_OK)
        /* Trailing characters turn an overflow into a syntax error. */
        return *end != '\0' ? VMM_SZ_EINVAL : rc;
    if (memchr(s, '-', (size_t)(end - s)) != NULL)
        return VMM_SZ_EINVAL;
    if (val == 0 && (*end == 'x' || *end == 'X')) {
        rc = parse_u64(s, &end, 16, &val);
        if (rc != VMM_SZ_OK)
            return *end != '\0' ? VMM_SZ_EINVAL : rc;
        if (*end == '.')
            return VMM_SZ_EINVAL;
        hex = true;
    } else if (*end == '.') {
        const char *f = end;
        char *fe;
        double fraction;

        errno = 0;
        fraction = strtod(f, &fe);
        if (fe == f || errno != 0 || !(fraction >= 0.0 && fraction <= 1.0)) {
            /* No usable digits after the point: skip the point alone. */
            end = f + 1;
        } else if (memchr(f, 'e', (size_t)(fe - f)) != NULL ||
                   memchr(f, 'E', (size_t)(fe - f)) != NULL) {
            return VMM_SZ_EINVAL; /* no exponents */
        } else {
            end = fe;
            /* A fraction that rounds to 1.0 as a double contributes nothing,
             * exactly as qemu's double -> uint64 conversion behaves on x86. */
            valf = fraction < 1.0 ? (uint64_t)(fraction * 0x1p64) : 0;
        }
    }
    mul = suffix_mul(*end);
    if (mul != 0) {
        if (hex)
            vmm_warn("Using a multiplier suffix on hex numbers is deprecated: %s", s);
        end++;
    } else {
        mul = 1;
    }
    if (mul == 1) {
        /* A fraction needs a scaling suffix. */
        if (valf != 0)
            return VMM_SZ_EINVAL;
    } else {
        unsigned __int128 v = (unsigned __int128)val * mul;
        unsigned __int128 f = (unsigned __int128)valf * mul;

        v += f >> 64;
        v += (uint64_t)f >> 63; /* round half up */
        if (v >> 64 != 0)
            return *end != '\0' ? VMM_SZ_EINVAL : VMM_SZ_ERANGE;
        val = (uint64_t)v;
    }
    if (*end != '\0')
        return VMM_SZ_EINVAL;
    *out = val;
    return VMM_SZ_OK;
}

bool vmm_parse_image_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    enum vmm_strtosz_err rc = vmm_strtosz(s, &v);

    if (rc == VMM_SZ_EINVAL) {
        vmm_error("Invalid image size specified. You may use k, M, G, T, P or E suffixes for");
        vmm_error("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return false;
    }
    if (rc == VMM_SZ_ERANGE || v > (uint64_t)INT64_MAX) {
        vmm_error("Invalid image size specified. Must be between 0 and 9223372036854775807.");
        return false;
    }
    *out = v;
    return true;
}

int vmm_strtou64_base0(const char *s, uint64_t *out)
{
    const char *end;
    enum vmm_strtosz_err rc = parse_u64(s, &end, 0, out);

    if (*end != '\0' || rc == VMM_SZ_EINVAL)
        return -1;
    return rc == VMM_SZ_ERANGE ? -2 : 0;
}
