/* op_measure.h: internal interface of the measure operation. */
#ifndef INSTAR_OP_MEASURE_H
#define INSTAR_OP_MEASURE_H

#include <stdint.h>

#include "abi_calltable.h"
#include "abi_measure.h"
#include "calc.h"
#include "img.h"

/* Images in a backing chain the guest follows (the host refuses more). */
#define OP_MAX_LINKS 16u

/* Reads shorter than this that miss the cache fetch the aligned block of
 * this size around them (op_source.c io_read). */
#define OP_CACHE_BYTES 4096u

/* One device read as a file (op_source.c). */
struct op_file {
    const struct abi_call_table *ct;
    uint32_t dev;
    uint64_t window_offset;      /* raw offset= into the device (the top only) */
    uint64_t dev_size;           /* the device's size: a window may reach past
                                    it into the last sector, read as zeros */
    struct img_io io;
    struct img_arena *arena;     /* where the cache comes from */
    uint8_t *cache;              /* OP_CACHE_BYTES of the file, or NULL */
    uint64_t cache_off;          /* file offset of cache[0] */
    uint64_t cache_len;          /* bytes of it that are valid (0: empty) */
};

/* One image of the chain: its file, its external data file if it has
 * one, and the driver's state. */
struct op_link {
    struct op_file file;
    struct op_file data;
    struct img img;
    uint64_t run_off;            /* the last run the driver described */
    uint64_t run_len;
    enum img_status run_status;
    bool broken;                 /* its driver returned an invalid extent */
};

/* A source image being measured: the top (link 0) and its backing chain. */
struct op_source {
    const struct abi_call_table *ct;
    struct img_arena arena;      /* shared by every link's driver */
    uint32_t links;              /* opened links */
    uint32_t devices;            /* devices the host gave */
    uint32_t next_dev;           /* the next device to hand out */
    struct op_link link[OP_MAX_LINKS];
    char snapshot[ABI_MEASURE_SNAPSHOT_MAX];
    char snapshot_name[ABI_MEASURE_SNAPSHOT_MAX];
};

/* Open device 0 as the source image: probe or pin its format, validate it,
 * apply the snapshot rule; then the files it names (data file, extent
 * files, backing chain), each on the next device.  When a file is needed
 * and no device holds it, ABI_ERROR_NEED_* asks the host for it.  On failure
 * the error has been sent (qemu's text) and false is returned. */
bool op_source_open(const struct abi_call_table *ct, const struct abi_measure_ext *ext,
                    struct op_source *src);
/* Count the units of `unit` bytes that hold data, walking the block status
 * through the chain from 0 to the top's virtual size.  On failure the error
 * has been sent. */
bool op_source_count(struct op_source *src, uint64_t unit, uint64_t *units);

/* Entry point (ABI_OP_LOAD_ADDR in the blob; called directly by tests). */
uint64_t op_entry(const struct abi_call_table *ct);

/* The extension record of the config page `page` (`page_len` bytes), or
 * qemu-img's defaults when it has none (op_targets.c). */
void op_measure_ext(const void *page, uint32_t page_len, struct abi_measure_ext *ext);

/* vmdk, vpc and vhdx targets (op_targets.c). */
enum calc_err op_measure_image_target(const struct abi_measure_config *cfg,
                                      const struct abi_measure_ext *ext,
                                      const struct calc_input *in, struct calc_result *out);

#endif /* INSTAR_OP_MEASURE_H */
