/* qemu_ref.h: ask the real qemu-img (Debian qemu-utils) for reference
 * values while a test runs, so expected numbers are never hard-coded. */
#ifndef INSTAR_QEMU_REF_H
#define INSTAR_QEMU_REF_H

#include <stdbool.h>
#include <stdint.h>

/* Run `qemu-img measure --output=json <args>`; true with both numbers when
 * it succeeded.  `args` is passed through the shell. */
bool qemu_ref_measure(const char *args, uint64_t *required, uint64_t *fully);

/* How qemu-img parses the size string `s` (via `qemu-img create -f qcow2`,
 * which echoes the parsed size).  Returns 0 and *out on success, 1 for an
 * invalid size, 2 for an out-of-range size.  *warned is set when qemu-img
 * printed a warning. */
int qemu_ref_size(const char *s, uint64_t *out, bool *warned);

/* Apparent size of the files `qemu-img create -f fmt -o opts NAME size`
 * writes (opts may be ""), or -1 when qemu-img fails. */
int64_t qemu_ref_create_size(const char *fmt, const char *opts, uint64_t size);

#endif /* INSTAR_QEMU_REF_H */
