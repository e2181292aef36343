/* calc_image.c: vmdk, vpc and vhdx targets.
 *
 * qemu-img cannot measure these formats.  The formulas below reproduce the
 * files `qemu-img create` and `qemu-img convert` (7.2) write, derived from
 * the formats' layouts and checked against qemu-img on a grid of sizes,
 * data patterns and options (docs/measure.md): exact, except where noted as
 * an upper bound (compressed grains, descriptor file names).
 */
#include "calc.h"

#define SECTOR 512ull
#define VMDK_GT_ENTRIES 512ull  /* entries per grain table: 32 MiB of disk */
#define VMDK_DESC_BASE 269ull   /* descriptor bytes that do not vary */
#define VMDK_CID_DIGITS 8ull
#define TWO_GIB (1ull << 31)

static void clear(struct calc_result *out)
{
    out->required = 0;
    out->fully_allocated = 0;
    out->unit_size = 0;
    out->reason = CALC_R_NONE;
}

static unsigned digits(uint64_t v)
{
    unsigned n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Data units to charge in `required`: none in --size mode, all of them
 * with a backing file, else what the source has. */
static enum calc_err data_units(const struct calc_input *in, uint64_t total, bool all,
                                uint64_t *units, struct calc_result *out)
{
    if (!in->from_source) {
        *units = 0;
    } else if (all) {
        *units = total;
    } else if (in->data_units > total) {
        out->reason = CALC_R_DATA_UNITS;
        return CALC_ERR_INVALID_SIZE;
    } else {
        *units = in->data_units;
    }
    return CALC_OK;
}

/* ---- vmdk -------------------------------------------------------------- */

/* Header, embedded descriptor, redundant and primary grain directory and
 * grain tables of a sparse extent of `e` bytes, padded to a grain. */
static uint64_t vmdk_sparse_meta(uint64_t e)
{
    uint64_t grains = calc_div_round_up(e / SECTOR, CALC_VMDK_GRAIN / SECTOR);
    uint64_t gt = calc_div_round_up(grains, VMDK_GT_ENTRIES);
    uint64_t gd_sectors = calc_div_round_up(4 * gt, SECTOR);
    uint64_t sectors = 21 + 2 * gd_sectors + 8 * gt;

    return calc_div_round_up(sectors, CALC_VMDK_GRAIN / SECTOR) * CALC_VMDK_GRAIN;
}

/* Bytes of the separate descriptor file of the flat and split subformats,
 * padded to a sector as qemu leaves it after the first write.  File names
 * are not known when measuring, so each is charged CALC_VMDK_NAME_MAX. */
static uint64_t vmdk_descriptor(const struct calc_vmdk_opts *o, uint64_t size, uint64_t extents)
{
    uint64_t len = VMDK_DESC_BASE + VMDK_CID_DIGITS + o->strings_len;
    uint64_t cyl = size / (63ull * o->heads * SECTOR);

    len += o->subformat == CALC_VMDK_FLAT ? 14 : o->subformat == CALC_VMDK_TWOGB_FLAT ? 18 : 20;
    len += digits(cyl) + digits(o->heads);
    if (extents > 0) {
        uint64_t last = size - (extents - 1) * TWO_GIB;

        /* "RW <sectors> FLAT|SPARSE "<name>"" lines; split extents are
         * numbered with at least 3 digits. */
        len += extents * (14 + CALC_VMDK_NAME_MAX) + digits(last / SECTOR);
        if (extents > 1)
            len += (extents - 1) * digits(TWO_GIB / SECTOR);
        for (uint64_t p = 1000; extents >= p; p *= 10)
            len += extents - p + 1; /* one more digit from index p on */
    }
    return calc_div_round_up(len, SECTOR) * SECTOR;
}

enum calc_err calc_measure_vmdk(const struct calc_vmdk_opts *o, const struct calc_input *in,
                                struct calc_result *out)
{
    uint64_t s;
    uint64_t grains;
    uint64_t units;
    uint64_t per_grain = CALC_VMDK_GRAIN;
    uint64_t meta;
    uint64_t extents;
    enum calc_err err;

    clear(out);
    if (o->heads == 0) {
        out->reason = CALC_R_UNIT_SIZE;
        return CALC_ERR_INVALID_OPTION;
    }
    if (in->virtual_size > CALC_MAX_IMAGE_SIZE || !calc_round_up(in->virtual_size, SECTOR, &s)) {
        out->reason = CALC_R_TARGET_SIZE;
        return CALC_ERR_INVALID_SIZE;
    }
    grains = calc_div_round_up(s, CALC_VMDK_GRAIN);
    out->unit_size = CALC_VMDK_GRAIN;
    switch (o->subformat) {
    case CALC_VMDK_FLAT:
    case CALC_VMDK_TWOGB_FLAT:
        /* Every byte of the flat extents exists from creation on. */
        extents = s == 0 ? 0 : o->subformat == CALC_VMDK_FLAT ? 1 : calc_div_round_up(s, TWO_GIB);
        out->required = vmdk_descriptor(o, s, extents) + s;
        out->fully_allocated = out->required;
        return CALC_OK;
    case CALC_VMDK_STREAM:
        /* A deflated grain is at most compressBound(64 KiB) = 65569 bytes
         * plus a 12-byte marker, padded to a sector: 66048. */
        per_grain = 66048;
        /* fall through */
    case CALC_VMDK_SPARSE:
        if (s > CALC_VMDK_MAX_SPARSE) {
            out->reason = CALC_R_TARGET_SIZE;
            return CALC_ERR_INVALID_SIZE;
        }
        meta = vmdk_sparse_meta(s);
        break;
    case CALC_VMDK_TWOGB_SPARSE:
        if (s > CALC_VMDK_MAX_SPARSE) {
            out->reason = CALC_R_TARGET_SIZE;
            return CALC_ERR_INVALID_SIZE;
        }
        extents = s == 0 ? 0 : calc_div_round_up(s, TWO_GIB);
        meta = vmdk_descriptor(o, s, extents);
        if (extents > 0)
            meta += (extents - 1) * vmdk_sparse_meta(TWO_GIB) +
                    vmdk_sparse_meta(s - (extents - 1) * TWO_GIB);
        break;
    default:
        out->reason = CALC_R_SUBFORMAT;
        return CALC_ERR_INVALID_OPTION;
    }
    err = data_units(in, grains, o->backing_file, &units, out);
    if (err != CALC_OK)
        return err;
    /* s <= 2^48, so none of these products can overflow. */
    out->fully_allocated = meta + grains * per_grain;
    out->required = meta + units * per_grain;
    return CALC_OK;
}

/* ---- vpc ---------------------------------------------------------------- */

#define VPC_MAX_GEOMETRY (65535ull * 16 * 255)

/* qemu's CHS geometry for `ts` sectors: cylinders * heads * sectors. */
static uint64_t vpc_chs_product(uint64_t ts)
{
    uint64_t spt;
    uint64_t heads;
    uint64_t cth;

    if (ts > VPC_MAX_GEOMETRY)
        ts = VPC_MAX_GEOMETRY;
    if (ts >= 65535ull * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = ts / spt;
    } else {
        spt = 17;
        cth = ts / spt;
        heads = calc_div_round_up(cth, 1024);
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            spt = 31;
            heads = 16;
            cth = ts / spt;
        }
        if (cth >= heads * 1024) {
            spt = 63;
            heads = 16;
            cth = ts / spt;
        }
    }
    return cth / heads * heads * spt;
}

enum calc_err calc_vpc_sectors(uint64_t size, bool force_size, uint64_t *sectors)
{
    uint64_t ts = size / SECTOR;
    uint64_t chs = 0;

    if (!force_size) {
        uint64_t want = ts < VPC_MAX_GEOMETRY ? ts : VPC_MAX_GEOMETRY;

        /* The smallest geometry that holds the disk; the product never
         * falls more than heads * spt (< 4096) below its input. */
        for (uint64_t i = 0; want > chs; i++) {
            if (i > 8192)
                return CALC_ERR_OVERFLOW; /* cannot happen */
            chs = vpc_chs_product(want + i);
        }
        if (chs != VPC_MAX_GEOMETRY)
            ts = chs;
    }
    if (ts > CALC_VPC_MAX_SECTORS)
        return CALC_ERR_INVALID_SIZE;
    *sectors = ts;
    return CALC_OK;
}

enum calc_err calc_measure_vpc(const struct calc_vpc_opts *o, const struct calc_input *in,
                               struct calc_result *out)
{
    uint64_t s;
    uint64_t t;
    uint64_t blocks;
    uint64_t units;
    uint64_t bat;
    uint64_t meta;
    const uint64_t per_block = CALC_VPC_BLOCK + SECTOR; /* block + its sector bitmap */
    enum calc_err err;

    clear(out);
    if (in->virtual_size > CALC_MAX_IMAGE_SIZE || !calc_round_up(in->virtual_size, SECTOR, &s) ||
        calc_vpc_sectors(s, o->force_size, &t) != CALC_OK) {
        out->reason = CALC_R_TARGET_SIZE;
        return CALC_ERR_INVALID_SIZE;
    }
    if (o->subformat == CALC_VHD_FIXED) {
        /* The whole disk, then the 512-byte footer. */
        out->required = t * SECTOR + SECTOR;
        out->fully_allocated = out->required;
        return CALC_OK;
    }
    if (o->subformat != CALC_VHD_DYNAMIC) {
        out->reason = CALC_R_SUBFORMAT;
        return CALC_ERR_INVALID_OPTION;
    }
    out->unit_size = CALC_VPC_BLOCK;
    /* Footer copy and dynamic header (1536 bytes), the BAT of one entry per
     * block of the CHS-sized disk, the footer at the end (512 bytes). */
    bat = calc_div_round_up(4 * calc_div_round_up(t, CALC_VPC_BLOCK / SECTOR), SECTOR) * SECTOR;
    meta = 2048 + bat;
    /* convert writes blocks inside the source's size only. */
    blocks = calc_div_round_up(s, CALC_VPC_BLOCK);
    err = data_units(in, blocks, false, &units, out);
    if (err != CALC_OK)
        return err;
    out->fully_allocated = meta + blocks * per_block;
    out->required = meta + units * per_block;
    return CALC_OK;
}

/* ---- vhdx --------------------------------------------------------------- */

uint64_t calc_vhdx_block_size(const struct calc_vhdx_opts *o, uint64_t size)
{
    if (o->block_size != 0)
        return o->block_size;
    if (size > (32ull << 40))
        return 64 * CALC_MIB;
    if (size > (100ull << 30))
        return 32 * CALC_MIB;
    if (size > (1ull << 30))
        return 16 * CALC_MIB;
    return 8 * CALC_MIB;
}

enum calc_err calc_measure_vhdx(const struct calc_vhdx_opts *o, const struct calc_input *in,
                                struct calc_result *out)
{
    uint64_t s;
    uint64_t bs;
    uint64_t chunk_shift = 0;
    uint64_t blocks;
    uint64_t entries;
    uint64_t data_start;
    uint64_t units;
    enum calc_err err;

    clear(out);
    if (in->virtual_size > CALC_MAX_IMAGE_SIZE || !calc_round_up(in->virtual_size, SECTOR, &s) ||
        s > CALC_VHDX_MAX_SIZE) {
        out->reason = CALC_R_TARGET_SIZE;
        return CALC_ERR_INVALID_SIZE;
    }
    bs = calc_vhdx_block_size(o, s);
    if (!calc_is_pow2(bs) || bs < CALC_MIB || bs > CALC_VHDX_MAX_BLOCK || o->log_size == 0 ||
        o->log_size % CALC_MIB != 0 || o->log_size > 0xFFFFFFFFull) {
        out->reason = CALC_R_UNIT_SIZE;
        return CALC_ERR_INVALID_OPTION;
    }
    if (o->subformat != CALC_VHD_DYNAMIC && o->subformat != CALC_VHD_FIXED) {
        out->reason = CALC_R_SUBFORMAT;
        return CALC_ERR_INVALID_OPTION;
    }
    out->unit_size = (uint32_t)bs;
    /* One sector-bitmap BAT entry per chunk of 2^32 / bs data blocks (4 GiB
     * of disk); qemu computes the count in 32 bits, so an empty disk wraps
     * to a full table. */
    while ((1ull << chunk_shift) < (1ull << 32) / bs)
        chunk_shift++;
    blocks = calc_div_round_up(s, bs);
    entries = blocks + (((blocks - 1) & 0xFFFFFFFFull) >> chunk_shift);
    /* File identifier, headers and region tables (1 MiB), the log, the BAT,
     * the metadata region (1 MiB) and qemu's alignment gap (4 MiB). */
    data_start = 6 * CALC_MIB + o->log_size +
                 calc_div_round_up(8 * entries, CALC_MIB) * CALC_MIB;
    err = data_units(in, blocks, false, &units, out);
    if (err != CALC_OK)
        return err;
    if (o->subformat == CALC_VHD_DYNAMIC) {
        out->fully_allocated = data_start + blocks * bs;
        out->required = data_start + units * bs;
    } else if (!o->block_state_zero) {
        out->fully_allocated = data_start + s;
        out->required = out->fully_allocated;
    } else {
        /* The preallocated blocks start in state ZERO: every block written
         * is appended again after the preallocated disk. */
        uint64_t base = calc_div_round_up(data_start + s, CALC_MIB) * CALC_MIB;

        out->fully_allocated = base + blocks * bs;
        out->required = units == 0 ? data_start + s : base + units * bs;
    }
    return CALC_OK;
}
