/* qcow2_map.c: what qemu's block status reports for a qcow2 image.
 *
 * The walk goes through the L1 table map() uses (the active one or the -l
 * snapshot's) and its L2 tables.  L2 tables are read in batches: for up to
 * Q2_BATCH_L1 consecutive L1 entries, up to half of Q2_BATCH_BYTES of
 * tables, sorted by offset and read in as few requests as possible (small
 * gaps between tables are read rather than split into requests); each table is
 * read once, since open() refused L1 tables that name one table twice.
 *
 * Per (sub)cluster, as qemu's qcow2_get_host_offset and the block layer:
 *   compressed                                      -> data
 *   standard, allocated (subcluster allocated)      -> data
 *   zero flag / zero subcluster, with or without an offset -> zero
 *   unallocated                                     -> unallocated
 * qemu's corruption checks on the entries it visits (misaligned offsets,
 * zero flags in version 2, contradictory subcluster bitmaps) fail the walk
 * with its message.  When the metadata-preallocation heuristic fires
 * (qemu-img-measure.md 9.1), data with a host offset is checked against the
 * host file's holes (the external data file's, when the image has one),
 * which read as zero, as do offsets past its end.
 */
#include "qcow2_int.h"
#include "rt.h"

/* Bits set in a byte (no popcount instruction in the guest build). */
static uint32_t bits8(uint32_t b)
{
    b = b - ((b >> 1) & 0x55u);
    b = (b & 0x33u) + ((b >> 2) & 0x33u);
    return (b + (b >> 4)) & 0x0Fu;
}

/* Trailing one bits of `m` from bit `from` on, at most 32 - from. */
static uint32_t ones_from(uint32_t m, uint32_t from)
{
    uint64_t inv = ~(uint64_t)(m >> from);
    uint32_t n = (uint32_t)__builtin_ctzll(inv);

    return n < 32 - from ? n : 32 - from;
}

/* L1 entries the walk reaches: those covering the virtual size and
 * present in the table. */
static uint64_t l1_walked(const struct q2 *q)
{
    return q->l1_visit < q->map_l1_size ? q->l1_visit : q->map_l1_size;
}

/* ---- open-time checks ------------------------------------------------------- */

static enum img_err alloc_batch(struct img *img, struct q2 *q)
{
    struct q2_batch *b = &q->batch;

    b->l1e = q2_alloc(img, Q2_BATCH_L1 * sizeof(*b->l1e));
    b->slot = q2_alloc(img, Q2_BATCH_L1 * sizeof(*b->slot));
    b->keys = q2_alloc(img, Q2_BATCH_L1 * sizeof(*b->keys));
    b->buf = q2_alloc(img, Q2_BATCH_BYTES);
    if (b->l1e == NULL || b->slot == NULL || b->keys == NULL || b->buf == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    b->count = 0;
    return IMG_OK;
}

enum img_err q2_l1_check(struct img *img, struct q2 *q)
{
    uint32_t shift = q->cluster_bits + q->l2_bits;
    uint64_t vsize = img->virtual_size;
    uint64_t n;
    uint64_t cap;
    uint64_t *offs;
    uint64_t used = 0;
    enum img_err err = alloc_batch(img, q);

    if (err != IMG_OK)
        return err;
    /* vsize < 2^63 and shift <= 39: no overflow. */
    q->l1_visit = (vsize + ((1ull << shift) - 1)) >> shift;
    n = l1_walked(q);
    /* Distinct tables inside the file: at most one per cluster of it. */
    cap = img->io->size >> q->cluster_bits;
    cap = cap < n ? cap : n;
    offs = q2_alloc(img, (cap + 1) * sizeof(*offs));
    if (offs == NULL)
        return img_fail(img, IMG_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i += Q2_BATCH_L1) {
        uint64_t k = n - i < Q2_BATCH_L1 ? n - i : Q2_BATCH_L1;
        uint8_t *raw = (uint8_t *)q->batch.l1e;

        err = img_read(img, q->map_l1_offset + i * 8, k * 8, raw);
        if (err != IMG_OK)
            return err;
        for (uint64_t j = 0; j < k; j++) {
            uint64_t off = img_be64(raw + j * 8) & Q2_L1E_OFFSET_MASK;

            /* Unallocated; misaligned ones fail the walk as in qemu. */
            if (off == 0 || (off & (q->cluster_size - 1)))
                continue;
            /* qemu reads such a table as zeros (security.md T29); offsets
             * are below 2^56, so its reads never fail this way. */
            if (!q2_in_file(img, off, q->cluster_size))
                return img_fail(img, IMG_ERR_OPEN, "L2 table at offset %llu (L1 index %llu) "
                                "is beyond the end of the file", (unsigned long long)off,
                                (unsigned long long)(i + j));
            offs[used++] = off;
            /* One more table than clusters: some table is named twice. */
            if (used > cap)
                goto sort;
        }
    }
sort:
    /* A table that fits one batch stays loaded for the walk's first batch:
     * every table is read once. */
    q->l1_held = n <= Q2_BATCH_L1 ? n : 0;
    q2_sort_u64(offs, used);
    for (uint64_t i = 1; i < used; i++) {
        /* An aliased L2 table makes the walk's work grow with the virtual
         * size instead of the metadata (security.md T13). */
        if (offs[i] == offs[i - 1])
            return img_fail(img, IMG_ERR_OPEN, "the L1 table names the L2 table at offset %llu "
                            "more than once", (unsigned long long)offs[i]);
    }
    return IMG_OK;
}

/* ---- the metadata-preallocation heuristic ------------------------------------ */

/* Non-zero refcounts among entries [from, from + n) of a refcount block,
 * counting no further than `limit`. */
static uint64_t count_used(const uint8_t *blk, uint32_t order, uint64_t from, uint64_t n,
                           uint64_t limit)
{
    uint64_t count = 0;
    uint64_t i = from;
    uint64_t end = from + n;

    if (order >= 3) {
        uint32_t w = 1u << (order - 3);

        for (; i < end && count < limit; i++) {
            const uint8_t *p = blk + i * w;
            uint32_t any = 0;

            for (uint32_t k = 0; k < w; k++)
                any |= p[k];
            count += any != 0;
        }
        return count;
    }
    /* Sub-byte widths: bit 0 is the least significant (spec). */
    {
        uint32_t w = 1u << order;
        uint32_t per = 8 / w;
        uint32_t mask = (1u << w) - 1;

        while (i < end && count < limit) {
            if (i % per == 0 && end - i >= per) {
                uint32_t b = blk[i / per];
                uint32_t fields = 0;

                /* One bit per non-zero field, at the field's lowest bit. */
                if (w == 1)
                    fields = b;
                else if (w == 2)
                    fields = (b | b >> 1) & 0x55u;
                else
                    fields = (b | b >> 1 | b >> 2 | b >> 3) & 0x11u;
                count += bits8(fields);
                i += per;
            } else {
                count += ((blk[i / per] >> ((i % per) * w)) & mask) != 0;
                i++;
            }
        }
    }
    return count;
}

/* qemu's qcow2_detect_metadata_preallocation: do the first ceil(file size /
 * C) clusters hold at least max(real * 10 / 9, real + 2) clusters with a
 * non-zero refcount, real being the file's allocated clusters? */
static enum img_err detect_prealloc(struct img *img, struct q2 *q)
{
    uint64_t csize = q->cluster_size;
    uint64_t real = img->io->allocated >> q->cluster_bits;
    uint64_t threshold = real * 10 / 9 > real + 2 ? real * 10 / 9 : real + 2;
    uint64_t end_cluster = (img->io->size >> q->cluster_bits) +
                           ((img->io->size & (csize - 1)) != 0);
    /* Refcount entries per block: C * 8 / width. */
    uint32_t rb_bits = q->cluster_bits + 3 - q->refcount_order;
    uint64_t rt_entries = (uint64_t)q->reftable_clusters << (q->cluster_bits - 3);
    uint64_t per_group = Q2_BATCH_BYTES >> q->cluster_bits;
    uint64_t count = 0;
    uint64_t *rbo = q->batch.keys;
    uint8_t *raw = (uint8_t *)q->batch.l1e;

    per_group = per_group < Q2_BATCH_L1 ? per_group : Q2_BATCH_L1;
    q->heur_done = true;
    q->prealloc = false;
    /* At most end_cluster clusters are counted: when the threshold is
     * higher (any file not sparser than its size, i.e. almost every
     * image), the answer is no without a read. */
    if (threshold > end_cluster)
        return IMG_OK;
    q->l1_held = 0; /* the batch buffers hold refcounts from here on */
    for (uint64_t rt = 0; rt < rt_entries && (rt << rb_bits) < end_cluster && count < threshold;
         rt += per_group) {
        uint64_t k = rt_entries - rt < per_group ? rt_entries - rt : per_group;
        uint64_t blocks = ((end_cluster - 1) >> rb_bits) + 1 - rt;
        enum img_err err;

        k = k < blocks ? k : blocks;
        /* The refcount table is inside the file (checked in open). */
        err = img_read(img, q->reftable_offset + rt * 8, k * 8, raw);
        if (err != IMG_OK)
            return err;
        for (uint64_t j = 0; j < k; j++)
            rbo[j] = img_be64(raw + j * 8) & Q2_REFT_OFFSET_MASK;
        /* Read runs of consecutive aligned refcount blocks together; past
         * the end of the file they read as zeros, as in qemu. */
        for (uint64_t j = 0; j < k;) {
            uint64_t m = 1;

            if (rbo[j] == 0 || (rbo[j] & (csize - 1)) || q2_past_max(rbo[j], csize)) {
                j++;
                continue;
            }
            while (j + m < k && rbo[j + m] == rbo[j] + m * csize)
                m++;
            err = img_read_zf(img, rbo[j], m * csize, q->batch.buf + j * csize);
            if (err != IMG_OK)
                return err;
            j += m;
        }
        for (uint64_t j = 0; j < k && count < threshold; j++) {
            uint64_t first = (rt + j) << rb_bits;
            uint64_t n = end_cluster - first < (1ull << rb_bits) ? end_cluster - first
                                                                 : 1ull << rb_bits;
            char a[20];
            char b[20];

            if (rbo[j] == 0)
                continue;
            /* qemu's get_refcount fails here; the heuristic is then off. */
            if (rbo[j] & (csize - 1)) {
                q2_signal(q, "Refblock offset %s unaligned (reftable index: %s)",
                          q2_hex(a, rbo[j]), q2_hex(b, rt + j));
                return IMG_OK;
            }
            /* So does its read of a block this far out (EIO). */
            if (q2_past_max(rbo[j], csize))
                return IMG_OK;
            count += count_used(q->batch.buf + j * csize, q->refcount_order, 0, n,
                                threshold - count);
        }
    }
    q->prealloc = count >= threshold;
    return IMG_OK;
}

/* ---- L2 batches --------------------------------------------------------------- */

/* Load the L2 tables of L1 entries [l1i, ...) into the batch. */
static enum img_err batch_load(struct img *img, struct q2 *q, uint64_t l1i)
{
    struct q2_batch *b = &q->batch;
    uint64_t csize = q->cluster_size;
    /* Half the buffer for tables, the other half for the gaps between
     * them: a span's gaps never exceed its tables' bytes. */
    uint64_t max_tables = (Q2_BATCH_BYTES / 2) >> q->cluster_bits;
    uint64_t n = l1_walked(q) - l1i;
    uint64_t tables = 0;
    uint64_t used = 0;      /* bytes of buf in use */
    uint64_t count;
    uint64_t tail_j = UINT64_MAX; /* batch index of the final table, if here */
    uint64_t tail = csize;        /* its bytes the walk needs */
    enum img_err err;

    count = n < Q2_BATCH_L1 ? n : Q2_BATCH_L1;
    b->count = 0;
    /* The L1 table is inside the file (checked in open and for -l); the
     * check may have left this very batch in the buffer, unconverted. */
    if (l1i != 0 || q->l1_held != count) {
        err = img_read(img, q->map_l1_offset + l1i * 8, count * 8, b->l1e);
        if (err != IMG_OK)
            return err;
    }
    q->l1_held = 0;
    for (uint64_t j = 0; j < count; j++) {
        uint64_t off = img_be64((const uint8_t *)&b->l1e[j]) & Q2_L1E_OFFSET_MASK;

        b->slot[j] = Q2_BATCH_NONE;
        b->l1e[j] = img_be64((const uint8_t *)&b->l1e[j]);
        if (off == 0 || (off & (csize - 1)))
            continue;
        /* Keep the batch to what the buffer holds. */
        if (tables == max_tables) {
            count = j;
            break;
        }
        /* off < 2^56, so (off >> 9) << 13 | j < 2^60. */
        b->keys[tables++] = (off >> 9) << 13 | j;
    }
    /* The table of the virtual size's last L1 entry is read only up to the
     * entry of its last cluster (a small image uses a sliver of its only
     * table); the walk never looks further. */
    if (count > 0 && l1i + count == q->l1_visit && q->l1_visit <= q->map_l1_size) {
        uint64_t rest = img->virtual_size - ((l1i + count - 1) << (q->cluster_bits + q->l2_bits));

        tail_j = count - 1;
        tail = ((rest + csize - 1) >> q->cluster_bits) << (q->cluster_bits - q->l2_bits);
    }
    q2_sort_u64(b->keys, tables);
    for (uint64_t t = 0; t < tables;) {
        uint64_t start = (b->keys[t] >> 13) << 9;
        uint64_t end = start + csize;
        uint64_t base = used;
        uint64_t tbytes = csize;    /* table bytes in this span */
        uint64_t last_j = b->keys[t] & 8191;

        b->slot[b->keys[t] & 8191] = (uint32_t)(used >> q->cluster_bits);
        used += csize;
        for (t++; t < tables; t++) {
            uint64_t off = (b->keys[t] >> 13) << 9;
            uint64_t gap = off - end;

            /* open() refused tables named twice. */
            if (off < end)
                return img_fail(img, IMG_ERR_IO, "L2 table at offset %llu listed twice",
                                (unsigned long long)off);
            /* Contiguous, or a small gap cheaper to read than a request. */
            if (gap > Q2_BATCH_GAP || gap > tbytes || used + gap + csize > Q2_BATCH_BYTES)
                break;
            used += gap;
            b->slot[b->keys[t] & 8191] = (uint32_t)(used >> q->cluster_bits);
            used += csize;
            tbytes += csize;
            end = off + csize;
            last_j = b->keys[t] & 8191;
        }
        if (last_j == tail_j)
            end -= csize - tail;
        /* Tables are inside the file (checked in open). */
        err = img_read(img, start, end - start, b->buf + base);
        if (err != IMG_OK)
            return err;
    }
    b->first = l1i;
    b->count = (uint32_t)count;
    return IMG_OK;
}

/* ---- block status -------------------------------------------------------------- */

/* The host file at `h` for up to `len` bytes, as qemu's recursive query:
 * holes and anything past the end read as zero. */
static void host_status(struct img *img, struct q2 *q, uint64_t h, uint64_t len,
                        enum img_status *st, uint64_t *n)
{
    /* The clusters live in the external data file when there is one. */
    const struct img_io *io = img->data_io != NULL ? img->data_io : img->io;
    struct abi_extent *e = &q->hext;
    uint64_t avail;

    *st = IMG_DATA;
    *n = len;
    if (h >= io->size) {
        *st = IMG_ZERO;
        return;
    }
    if (!q->hext_valid || h < e->offset || h - e->offset >= e->length) {
        int32_t rc = io->extent(io->ctx, h, e);

        /* qemu ignores errors of this query: the data stays data. */
        if (rc < 0 || (rc > 0 && (e->offset > h || e->length == 0))) {
            q->hext_valid = false;
            return;
        }
        if (rc == 0) {
            q->hext_valid = false;
            *st = IMG_ZERO;
            return;
        }
        q->hext_valid = true;
    }
    avail = e->length - (h - e->offset);
    *n = len < avail ? len : avail;
    *st = e->kind == ABI_EXTENT_DATA ? IMG_DATA : IMG_ZERO;
}

/* A run being built: one status, `len` bytes. */
struct run {
    bool started;
    enum img_status st;
    uint64_t len;
    bool done;              /* the next piece would change status */
};

/* Add a piece of `n` bytes; false when the run has ended. */
static bool run_add(struct run *r, enum img_status st, uint64_t n)
{
    if (!r->started) {
        r->started = true;
        r->st = st;
    } else if (st != r->st) {
        r->done = true;
        return false;
    }
    r->len += n;
    return true;
}

/* Add `n` bytes of data at host offset `h` (or without one, h = 0 and
 * `hosted` false); false when the run has ended. */
static bool run_data(struct img *img, struct q2 *q, struct run *r, bool hosted, uint64_t h,
                     uint64_t n)
{
    enum img_status st = IMG_DATA;
    uint64_t got = n;

    /* qemu's recursion needs an offset into the file (none when encrypted). */
    if (hosted && q->prealloc && q->crypt_method == Q2_CRYPT_NONE)
        host_status(img, q, h, n, &st, &got);
    if (!run_add(r, st, got))
        return false;
    if (got < n) {
        r->done = true;
        return false;
    }
    return true;
}

/* The first entry in [j, last) of `tbl` that is not all zero (unallocated,
 * no flags, no subclusters): the entry holding the first non-zero word. */
static uint64_t skip_empty(const uint8_t *tbl, uint64_t j, uint64_t last, uint32_t esize)
{
    const uint8_t *p = img_skip_zero_units(tbl + j * esize, tbl + last * esize, 8);

    return (uint64_t)(p - tbl) / esize;
}

/* Walk the L2 table `tbl` (at file offset `l2off`) from guest offset `pos`
 * for at most `lim` bytes, within one L1 entry. */
static enum img_err walk_table(struct img *img, struct q2 *q, const uint8_t *tbl,
                               uint64_t l2off, uint64_t pos, uint64_t lim, struct run *r)
{
    uint64_t csize = q->cluster_size;
    uint32_t esize = q->extl2 ? 16 : 8;
    uint64_t idx = (pos >> q->cluster_bits) & ((1ull << q->l2_bits) - 1);
    uint64_t in = pos & (csize - 1);
    uint64_t stop = r->len + lim;
    char a[20];
    char b[20];
    char c[20];

    for (; r->len < stop && !r->done; idx++, in = 0) {
        const uint8_t *p = tbl + idx * esize;
        uint64_t e = img_be64(p);
        uint64_t host = e & Q2_L2E_OFFSET_MASK;
        /* Offset 0 is a cluster of an external data file when the entry
         * is marked COPIED (qemu's qcow2_get_cluster_type()). */
        bool hosted = host != 0 || (q->data_file && (e & Q2_OFLAG_COPIED));
        uint64_t left = stop - r->len;
        uint64_t n = csize - in < left ? csize - in : left;

        /* A run of empty entries (unallocated, no flags) in one step: large
         * sparse images are mostly that. */
        if (e == 0 && (esize == 8 || img_be64(p + 8) == 0)) {
            uint64_t last = idx + (left + in + csize - 1) / csize;
            uint64_t j;
            uint64_t bytes;

            if (last > (1ull << q->l2_bits))
                last = 1ull << q->l2_bits;
            j = skip_empty(tbl, idx + 1, last, esize);
            bytes = (j - idx) * csize - in;
            if (!run_add(r, IMG_UNALLOC, bytes < left ? bytes : left))
                break;
            idx = j - 1;
            continue;
        }

        if (e & Q2_OFLAG_COMPRESSED) {
            /* Compressed clusters are data, with no offset to recurse into. */
            if (!run_data(img, q, r, false, 0, n))
                break;
            continue;
        }
        if (!q->extl2) {
            bool zero = (e & Q2_OFLAG_ZERO) != 0;

            /* Version 2 has no zero clusters. */
            if (zero && q->version < 3)
                return q2_corrupt(img, q, "Zero cluster entry found in pre-v3 image (L2 "
                                  "offset: %s, L2 index: %s)", q2_hex(a, l2off), q2_hex(b, idx));
            /* Clusters start on a cluster boundary. */
            if (host & (csize - 1))
                return q2_corrupt(img, q, "Cluster allocation offset %s unaligned (L2 offset: "
                                  "%s, L2 index: %s)", q2_hex(a, host), q2_hex(b, l2off),
                                  q2_hex(c, idx));
            if (zero) {
                if (!run_add(r, IMG_ZERO, n))
                    break;
            } else if (!hosted) {
                if (!run_add(r, IMG_UNALLOC, n))
                    break;
            } else if (!run_data(img, q, r, true, host + in, n)) {
                break;
            }
            continue;
        }
        /* Extended L2: 32 subclusters, allocation bits 0-31, zero bits 32-63. */
        {
            uint64_t bm = img_be64(p + 8);
            uint32_t zmask = (uint32_t)(bm >> 32);
            uint32_t amask = (uint32_t)bm;
            uint64_t done = 0;
            uint32_t sc = (uint32_t)(in >> q->sc_bits);

            /* A subcluster cannot be both allocated and zero; without an
             * offset none can be allocated. */
            if ((hosted && (zmask & amask)) || (!hosted && amask != 0))
                return q2_corrupt(img, q, "Invalid cluster entry found  (L2 offset: %s, L2 "
                                  "index: %s)", q2_hex(a, l2off), q2_hex(b, idx));
            if (host & (csize - 1))
                return q2_corrupt(img, q, "Cluster allocation offset %s unaligned (L2 offset: "
                                  "%s, L2 index: %s)", q2_hex(a, host), q2_hex(b, l2off),
                                  q2_hex(c, idx));
            while (done < n) {
                uint32_t bit = 1u << sc;
                uint32_t same;
                uint64_t piece;
                bool ok;

                if (zmask & bit)
                    same = zmask;
                else if (amask & bit)
                    same = amask;
                else
                    same = ~(zmask | amask);
                /* The run of subclusters of this type, from `in`. */
                piece = ((uint64_t)(sc + ones_from(same, sc)) << q->sc_bits) - (in + done);
                piece = piece < n - done ? piece : n - done;
                if (zmask & bit)
                    ok = run_add(r, IMG_ZERO, piece);
                else if (amask & bit)
                    ok = run_data(img, q, r, true, host + in + done, piece);
                else
                    ok = run_add(r, IMG_UNALLOC, piece);
                if (!ok)
                    break;
                done += piece;
                sc = (uint32_t)((in + done) >> q->sc_bits);
            }
            if (r->done)
                break;
        }
    }
    return IMG_OK;
}

enum img_err q2_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    struct q2 *q = img->state;
    uint32_t shift = q->cluster_bits + q->l2_bits;
    uint64_t walked = l1_walked(q);
    struct run r = {false, IMG_UNALLOC, 0, false};
    enum img_err err;
    char a[20];
    char b[20];

    /* qemu runs the heuristic at the first block-status request. */
    if (!q->heur_done) {
        err = detect_prealloc(img, q);
        if (err != IMG_OK)
            return err;
    }
    while (r.len < max && !r.done) {
        uint64_t pos = off + r.len;
        uint64_t l1i = pos >> shift;
        uint64_t span_left = ((l1i + 1) << shift) - pos;
        uint64_t lim = max - r.len < span_left ? max - r.len : span_left;
        uint64_t e;
        uint64_t l2off;

        if (l1i >= walked) {
            /* Past the L1 table (a snapshot's may be short): unallocated. */
            run_add(&r, IMG_UNALLOC, max - r.len);
            break;
        }
        if (q->batch.count == 0 || l1i < q->batch.first ||
            l1i - q->batch.first >= q->batch.count) {
            err = batch_load(img, q, l1i);
            if (err != IMG_OK)
                return err;
        }
        e = q->batch.l1e[l1i - q->batch.first];
        l2off = e & Q2_L1E_OFFSET_MASK;
        if (l2off == 0) {
            if (!run_add(&r, IMG_UNALLOC, lim))
                break;
            continue;
        }
        /* L2 tables are one cluster, cluster aligned. */
        if (l2off & (q->cluster_size - 1))
            return q2_corrupt(img, q, "L2 table offset %s unaligned (L1 index: %s)",
                              q2_hex(a, l2off), q2_hex(b, l1i));
        err = walk_table(img, q,
                         q->batch.buf +
                             ((uint64_t)q->batch.slot[l1i - q->batch.first] << q->cluster_bits),
                         l2off, pos, lim, &r);
        if (err != IMG_OK)
            return err;
    }
    out->length = r.len;
    out->status = r.st;
    return IMG_OK;
}
