/* op_measure.h: internal interface of the measure operation. */
#ifndef INSTAR_OP_MEASURE_H
#define INSTAR_OP_MEASURE_H

#include <stdint.h>

#include "abi_calltable.h"
#include "abi_measure.h"
#include "calc.h"

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
