/* fuzz_measure.c: the measure operation end to end, on the host, over the
 * mock CallTable (tests/mock): the fuzz input is the source image.
 *
 * Built once per source format (-DFUZZ_FORMAT=ABI_FMT_<X>, or 0 to probe);
 * the first input byte picks the target and whether reads past the end
 * fail or return zeros; the last byte's low two bits serve the image again
 * as up to three more devices, so that whatever the image names (a backing
 * file, a data file, extent files) is there and the chain code runs.
 * Invariants: no crash or sanitizer report; exactly
 * one result or one error; a result has required <= fully allocated and a
 * known error code; reads stay within a budget of the input's size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi_format.h"
#include "fuzz_fixup.h"
#include "mock_ct.h"
#include "op_measure.h"

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT ABI_FMT_UNKNOWN
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t targets[] = {ABI_FMT_QCOW2, ABI_FMT_RAW, ABI_FMT_VMDK4, ABI_FMT_VHD,
                                   ABI_FMT_VHDX, ABI_FMT_LUKS};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mock_state m;
    static uint8_t page[ABI_OPERATION_CONFIG_SIZE] __attribute__((aligned(4096)));
    static uint8_t *scratch; /* reused: ASan makes a fresh 64 MiB per run slow */
    struct abi_measure_config *cfg = (struct abi_measure_config *)page;
    struct abi_measure_ext ext;
    struct mock_device dev;
    uint8_t sel;

    if (size < 1)
        return 0;
    sel = data[0];
    memset(page, 0, sizeof(page));
    cfg->magic = ABI_MEASURE_CONFIG_MAGIC;
    cfg->target_format = targets[sel % 6];
    cfg->flags = ABI_MEASURE_FLAG_COMPAT_V3;
    cfg->qcow2_cluster_size = 512u << ((sel >> 3) % 13);
    memset(&ext, 0, sizeof(ext));
    ext.magic = ABI_MEASURE_EXT_MAGIC;
    ext.size = sizeof(ext);
    ext.flags = ABI_MEASURE_EXT_BLOCK_STATE_ZERO;
    ext.vmdk_heads = 16;
    ext.vmdk_strings_len = 14;
    ext.vhdx_log_size = 1 << 20;
    ext.source_format = FUZZ_FORMAT;
    /* A key secret under the name the format takes (qcow2 and qcow share
     * their magic), so encrypted images reach their checks. */
    ext.source_flags = ABI_MEASURE_SRC_KEY_SECRET;
    if (size >= 5 && memcmp(data + 1, "QFI\xfb", 4) == 0)
        ext.source_flags |= ABI_MEASURE_SRC_KEY_ENCRYPT;
    memcpy(page + ABI_MEASURE_EXT_OFFSET, &ext, sizeof(ext));
    memset(&dev, 0, sizeof(dev));
    dev.data = data + 1;
    if (FUZZ_FORMAT == ABI_FMT_VHDX ||
        (FUZZ_FORMAT == ABI_FMT_UNKNOWN && size >= 9 && memcmp(data + 1, "vhdxfile", 8) == 0))
        dev.data = fuzz_fixup_vhdx(data + 1, size - 1);
    else if (FUZZ_FORMAT == ABI_FMT_VHD ||
             (FUZZ_FORMAT == ABI_FMT_UNKNOWN && size >= 9 && memcmp(data + 1, "conectix", 8) == 0))
        dev.data = fuzz_fixup_vpc(data + 1, size - 1);
    dev.size = size - 1;
    dev.allocated = (size - 1 + 4095) & ~4095ull;
    if (scratch == NULL)
        scratch = mock_scratch_reusable(64u << 20);
    else
        mock_scratch_rezero(scratch, 64u << 20);
    mock_init(&m, 0);
    m.scratch = scratch;
    m.scratch_len = 64u << 20;
    m.zero_past_eof = sel & 0x80;
    mock_set_config(&m, page, sizeof(page));
    mock_add_device(&m, &dev);
    for (uint8_t i = 0; size >= 2 && i < (data[size - 1] & 3); i++)
        mock_add_device(&m, &dev);
    (void)op_entry(mock_table(&m));
    if (m.n_measure + m.n_errors == 0 || m.n_measure > 1)
        abort(); /* every run ends with one result or an error */
    if (m.n_measure == 1 && m.n_errors == 0 && m.measure.error == 0 &&
        m.measure.required > m.measure.fully_allocated)
        abort();
    if (m.measure.error > 3)
        abort();
    /* Metadata is read once: no amplification beyond a generous bound. */
    if (m.bytes_read > 4 * (64 * (uint64_t)size + (64u << 20)))
        abort();
    m.scratch = NULL; /* not the mock's to free */
    mock_fini(&m);
    return 0;
}

#include "fuzz_main.h"
