/* parallels_md5.h: MD5 (RFC 1321), for the checksum of the Parallels format
 * extension cluster.  Freestanding; streams any length in pieces. */
#ifndef INSTAR_PARALLELS_MD5_H
#define INSTAR_PARALLELS_MD5_H

#include <stddef.h>
#include <stdint.h>

struct prl_md5 {
    uint32_t h[4];       /* chaining state A, B, C, D */
    uint64_t bytes;      /* message bytes so far */
    uint8_t block[64];   /* pending partial block */
};

void prl_md5_init(struct prl_md5 *m);
/* Add `len` bytes; `data` may be NULL to add that many zero bytes. */
void prl_md5_update(struct prl_md5 *m, const uint8_t *data, uint64_t len);
void prl_md5_final(struct prl_md5 *m, uint8_t digest[16]);

#endif /* INSTAR_PARALLELS_MD5_H */
