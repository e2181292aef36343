/* img_harness.h: run an image format driver (crates/<fmt>) on the host
 * against a real image file, and ask qemu-img what it thinks of the same
 * file, for the format drivers' unit tests (tests/unit/test_img_*.c). */
#ifndef INSTAR_IMG_HARNESS_H
#define INSTAR_IMG_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "img.h"

#define HARNESS_MAX_EXTENTS 4096

/* A byte range [start, start + length) of the virtual disk. */
struct harness_range {
    uint64_t start;
    uint64_t length;
};

struct harness_map {
    uint64_t virtual_size;
    uint32_t n;                                   /* merged data ranges */
    struct harness_range data[HARNESS_MAX_EXTENTS];
    bool truncated;                               /* more than the array holds */
};

struct harness {
    int fd;
    struct img_io io;
    struct img_arena arena;
    void *arena_mem;
    struct img img;
    enum img_err err;                             /* of the failing step */
    uint64_t reads;                               /* requests since open */
    uint64_t read_bytes;                          /* and their bytes */
};

/* Open `path` with the driver `format` ("qcow2", ...), or probe when NULL,
 * with `opts` (may be NULL).  On return h->err is IMG_OK or the error of
 * probing/open, with the message in h->img.err.  Always release with
 * harness_close(). */
void harness_open(struct harness *h, const char *path, const char *format,
                  const struct img_opts *opts);
/* Walk the whole disk with the driver's map(): merged DATA ranges. */
enum img_err harness_walk(struct harness *h, struct harness_map *out);
void harness_close(struct harness *h);
/* The first line instar prints for the driver's failure: the note qemu
 * prints before its error (img_note()) when there is one, else the error. */
const char *harness_first_line(const struct harness *h);

/* qemu-img's view of the file: `qemu-img map --output=json` ranges with
 * "data": true and "zero": false, merged, and the virtual size from
 * `qemu-img info`.  `extra_args` (may be "") go before the file name, e.g.
 * "-f qcow2".  Returns false when qemu-img fails. */
bool harness_qemu_map(const char *path, const char *extra_args, struct harness_map *out);

/* qemu-img's first stderr line for `qemu-img measure <args> <path>`, without
 * "qemu-img: " and without "Could not open '<path>': ", or "" on success. */
void harness_qemu_error(const char *path, const char *args, char *buf, size_t size);

/* Run a shell command (qemu-img create/qemu-io ...), failing the test on a
 * non-zero exit. */
void harness_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The deliberate difference of security.md T29: qemu-img maps `path`
 * (`qemu_args` as for harness_qemu_map), reading tables past the end of the
 * file as zeros, while the driver `format` refuses it, opening or walking,
 * with a message naming "beyond the end of the file".  Prints what differs
 * otherwise. */
bool harness_refuses_past_eof(const char *path, const char *format, const char *qemu_args);

/* True when both maps are equal; prints the first difference otherwise. */
/* Write (read) `len` bytes at `off` of DIR/NAME; aborts on failure. */
void harness_poke(const char *dir, const char *name, uint64_t off, const void *buf, size_t len);
void harness_peek(const char *dir, const char *name, uint64_t off, void *buf, size_t len);
/* Write `len` (≤ 8) bytes of `v`, little-endian, at `off` of DIR/NAME. */
void harness_poke_le(const char *dir, const char *name, uint64_t off, uint64_t v, size_t len);
/* cp --sparse=always DIR/SRC DIR/DST. */
void harness_copy(const char *dir, const char *src, const char *dst);

bool harness_same_map(const struct harness_map *ours, const struct harness_map *qemu);

#endif /* INSTAR_IMG_HARNESS_H */
