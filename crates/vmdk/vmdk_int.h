/* vmdk_int.h: the vmdk crate's internal API (vmdk.c, vmdk_desc.c). */
#ifndef INSTAR_VMDK_INT_H
#define INSTAR_VMDK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img.h"

/* qemu's vmdk_probe() on the text of a descriptor file: 100 when the first
 * line that is not a comment or blank is "version=1|2|3" (then \n or \r\n).
 * (buf, len) are the file's first bytes; qemu sees IMG_PROBE_LEN bytes,
 * zero-padded, and so does this. */
int vmdk_desc_probe(const uint8_t *buf, size_t len);

/* An extent line of a descriptor file that names a file to open. */
struct vmdk_extent_desc {
    bool flat;                   /* FLAT, else SPARSE (hosted sparse extent) */
    uint64_t sectors;            /* from the line (FLAT: the extent's size) */
    uint64_t flat_off;           /* FLAT: sectors into the file */
    const char *name;            /* name_len bytes inside the descriptor text */
    size_t name_len;
};

/* qemu's vmdk_open_desc_file() on the NUL-terminated descriptor text `desc`:
 * createType must name a type qemu opens from a descriptor, and every extent
 * line is checked as qemu checks it.  The lines that make qemu open a file
 * are returned in out[0 .. *n_out) (at most `max`); IMG_ERR_UNSUPPORTED for
 * extent kinds instar does not parse (VMFS, VMFSSPARSE, SESPARSE) or more
 * than `max`; IMG_ERR_OPEN with qemu's message for an invalid descriptor. */
__attribute__((warn_unused_result))
enum img_err vmdk_desc_parse(struct img *img, const char *desc, struct vmdk_extent_desc *out,
                             uint32_t max, uint32_t *n_out);

/* qemu's vmdk_parent_open() and vmdk_read_cid() on the VMDK_DESC_WINDOW + 1
 * bytes `win` (the last one 0) read at the descriptor offset: a
 * parentFileNameHint names a backing file (*name_len bytes at win +
 * *name_at; length 0 for none), and "CID" and
 * "parentCID" must be followed by a hex number.  IMG_ERR_OPEN otherwise. */
__attribute__((warn_unused_result))
enum img_err vmdk_desc_ids(struct img *img, const char *win, size_t *name_at, size_t *name_len);

#endif /* INSTAR_VMDK_INT_H */
