/* parallels_md5.c: MD5 as RFC 1321 specifies it (see parallels_md5.h). */
#include "parallels_md5.h"

#include "rt.h"

/* Per-round left rotations (RFC 1321 section 3.4). */
static const uint8_t prl_md5_rot[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

/* T[i] = floor(2^32 * |sin(i + 1)|). */
static const uint32_t prl_md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391,
};

static void prl_md5_block(struct prl_md5 *m, const uint8_t *p)
{
    uint32_t x[16];
    uint32_t a = m->h[0];
    uint32_t b = m->h[1];
    uint32_t c = m->h[2];
    uint32_t d = m->h[3];

    for (int i = 0; i < 16; i++)
        x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
               (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        uint32_t t;

        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        t = a + f + prl_md5_t[i] + x[g];
        a = d;
        d = c;
        c = b;
        b = b + (t << prl_md5_rot[i] | t >> (32 - prl_md5_rot[i]));
    }
    m->h[0] += a;
    m->h[1] += b;
    m->h[2] += c;
    m->h[3] += d;
}

void prl_md5_init(struct prl_md5 *m)
{
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
    m->bytes = 0;
}

void prl_md5_update(struct prl_md5 *m, const uint8_t *data, uint64_t len)
{
    while (len > 0) {
        size_t used = (size_t)(m->bytes % 64);
        size_t n = 64 - used;

        if (n > len)
            n = (size_t)len;
        if (data != NULL) {
            memcpy(m->block + used, data, n);
            data += n;
        } else {
            memset(m->block + used, 0, n);
        }
        m->bytes += n;
        len -= n;
        if (used + n == 64)
            prl_md5_block(m, m->block);
    }
}

void prl_md5_final(struct prl_md5 *m, uint8_t digest[16])
{
    static const uint8_t pad = 0x80;
    uint64_t bits = m->bytes * 8;
    uint8_t len[8];

    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (8 * i));
    prl_md5_update(m, &pad, 1);
    if (m->bytes % 64 > 56)
        prl_md5_update(m, NULL, 64 - m->bytes % 64);
    prl_md5_update(m, NULL, 56 - m->bytes % 64);
    prl_md5_update(m, len, 8);
    for (int i = 0; i < 4; i++) {
        digest[4 * i] = (uint8_t)m->h[i];
        digest[4 * i + 1] = (uint8_t)(m->h[i] >> 8);
        digest[4 * i + 2] = (uint8_t)(m->h[i] >> 16);
        digest[4 * i + 3] = (uint8_t)(m->h[i] >> 24);
    }
}
