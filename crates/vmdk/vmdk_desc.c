/* vmdk_desc.c: VMDK descriptor text, read as qemu 7.2 reads it.
 *
 * A descriptor ("The Descriptor File", VMDK 1.1) is a text file naming the
 * extent files that hold the data, or the same text embedded in a sparse
 * extent.  qemu scans it with strstr() and sscanf(), so its quirks decide
 * what is valid: keys are found anywhere in the text (even inside another
 * key), values end at the next '"', and sscanf's whitespace directives cross
 * line ends.  The scanner below reproduces those rules on bounded,
 * NUL-terminated buffers.  instar never opens an extent file: a descriptor
 * that would make qemu open one is refused as unsupported.
 */
#include "vmdk_int.h"

#include "rt.h"
#include "vmdk_spec.h"

/* C-locale isspace(). */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_xdigit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* strstr(): the first `pat` in the NUL-terminated `s`, or NULL. */
static const char *find(const char *s, const char *pat)
{
    for (; *s != '\0'; s++) {
        size_t i = 0;

        /* Stops at the string's NUL: `pat` has none. */
        while (pat[i] != '\0' && s[i] == pat[i])
            i++;
        if (pat[i] == '\0')
            return s;
    }
    return NULL;
}

static bool str_eq(const char *a, const char *b)
{
    size_t n = strlen(b);

    return strlen(a) == n && memcmp(a, b, n) == 0;
}

/* ---- probing ------------------------------------------------------------- */

int vmdk_desc_probe(const uint8_t *buf, size_t len)
{
    /* qemu probes a zero-padded IMG_PROBE_LEN buffer. */
    size_t end = IMG_PROBE_LEN;
    size_t p = 0;

#define AT(i) ((i) < len ? (char)buf[i] : '\0')
    while (p < end) {
        if (AT(p) == '#') {
            /* A comment line. */
            while (p < end && AT(p) != '\n')
                p++;
            p++;
            continue;
        }
        if (AT(p) == ' ') {
            /* Only blank lines (spaces, then \n or \r\n) may precede version=. */
            while (p < end && AT(p) == ' ')
                p++;
            if (p < end && AT(p) == '\r')
                p++;
            if (p == end || AT(p) != '\n')
                return 0;
            p++;
            continue;
        }
        /* The first other line must be version=1, 2 or 3. */
        if (end - p >= 10 && AT(p) == 'v' && AT(p + 1) == 'e' && AT(p + 2) == 'r' &&
            AT(p + 3) == 's' && AT(p + 4) == 'i' && AT(p + 5) == 'o' && AT(p + 6) == 'n' &&
            AT(p + 7) == '=' && AT(p + 8) >= '1' && AT(p + 8) <= '3') {
            if (AT(p + 9) == '\n')
                return 100;
            if (end - p >= 11 && AT(p + 9) == '\r' && AT(p + 10) == '\n')
                return 100;
        }
        return 0;
    }
#undef AT
    return 0;
}

/* ---- sscanf, as qemu's extent line format uses it ------------------------- */

static const char *skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* %Ns: up to `width` non-space characters into out[width + 1]; false when
 * the input ends first (nothing converted). */
static bool scan_word(const char **pp, char *out, size_t width)
{
    const char *p = skip_space(*pp);
    size_t n = 0;

    if (*p == '\0')
        return false;
    while (n < width && *p != '\0' && !is_space(*p))
        out[n++] = *p++;
    out[n] = '\0';
    *pp = p;
    return true;
}

/* %lld (SCNd64): glibc saturates on overflow. */
static bool scan_i64(const char **pp, int64_t *out)
{
    const char *p = skip_space(*pp);
    bool neg = false;
    uint64_t v = 0;
    bool over = false;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');

        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (neg)
        *out = over || v > (uint64_t)INT64_MAX + 1 ? INT64_MIN : (int64_t)(0 - v);
    else
        *out = over || v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
    *pp = p;
    return true;
}

struct extent_line {
    char access[11];  /* %10s */
    int64_t sectors;  /* %lld */
    char type[11];    /* %10s */
    int64_t flat_off; /* %lld, -1 when absent */
    const char *name; /* the file name (name_len bytes) */
    size_t name_len;
};

/* sscanf(p, "%10s %lld %10s \"%511[^\n\r\"]\" %lld", ...): the number of
 * conversions. */
static int scan_extent(const char *p, struct extent_line *l)
{
    size_t n = 0;

    l->flat_off = -1;
    if (!scan_word(&p, l->access, 10))
        return -1;
    if (!scan_i64(&p, &l->sectors))
        return 1;
    if (!scan_word(&p, l->type, 10))
        return 2;
    p = skip_space(p);
    if (*p != '"')
        return 3;
    p++;
    l->name = p;
    while (n < 511 && *p != '\0' && *p != '\n' && *p != '\r' && *p != '"') {
        p++;
        n++;
    }
    if (n == 0)
        return 3;
    l->name_len = n;
    if (*p != '"')
        return 4;
    p++;
    if (!scan_i64(&p, &l->flat_off))
        return 4;
    return 5;
}

static const char *next_line(const char *s)
{
    while (*s != '\0') {
        if (*s++ == '\n')
            return s;
    }
    return s;
}

/* "Invalid extent line: <line without its \n>", truncated to img->err. */
static enum img_err invalid_line(struct img *img, const char *p)
{
    static const char prefix[] = "Invalid extent line: ";
    const char *np = next_line(p);
    size_t n = (size_t)(np - p);
    size_t at = sizeof(prefix) - 1;

    if (n > 0 && np[-1] == '\n')
        n--;
    memcpy(img->err, prefix, at);
    for (size_t i = 0; i < n && at + 1 < sizeof(img->err); i++)
        img->err[at++] = p[i];
    img->err[at] = '\0';
    return IMG_ERR_OPEN;
}

enum img_err vmdk_desc_parse(struct img *img, const char *desc, struct vmdk_extent_desc *out,
                             uint32_t max, uint32_t *n_out)
{
    static const char *const types[] = {
        "monolithicFlat", "vmfs", "vmfsSparse", "seSparse", "twoGbMaxExtentSparse",
        "twoGbMaxExtentFlat",
    };
    static const char *const extent_types[] = {"FLAT", "SPARSE", "VMFS", "VMFSSPARSE",
                                               "SESPARSE"};
    const char *end = desc + strlen(desc);
    const char *v = find(desc, "createType");
    const char *q;
    char ct[VMDK_CREATE_TYPE_MAX];
    bool known = false;

    *n_out = 0;
    /* qemu skips the two characters after the key (meant to be ="), then
     * takes everything up to the next '"' (vmdk_parse_description). */
    if (v == NULL || end - v <= (ptrdiff_t)(sizeof("createType") - 1 + 2))
        return img_fail(img, IMG_ERR_OPEN, "invalid VMDK image descriptor");
    v += sizeof("createType") - 1 + 2;
    for (q = v; q < end && *q != '"'; q++)
        ;
    if (q == end || (size_t)(q - v) + 1 > sizeof(ct))
        return img_fail(img, IMG_ERR_OPEN, "invalid VMDK image descriptor");
    memcpy(ct, v, (size_t)(q - v));
    ct[q - v] = '\0';
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        known = known || str_eq(ct, types[i]);
    /* Types that are never described by a separate descriptor file. */
    if (!known)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported image type '%s'", ct);

    for (const char *p = desc; *p != '\0'; p = next_line(p)) {
        struct extent_line l;
        int matches = scan_extent(p, &l);
        bool opens = false;

        if (matches < 4 || !str_eq(l.access, "RW"))
            continue; /* not an extent line, or not read-write: ignored */
        if (str_eq(l.type, "FLAT")) {
            if (matches != 5 || l.flat_off < 0)
                return invalid_line(img, p); /* FLAT needs a valid offset */
        } else if (str_eq(l.type, "VMFS")) {
            if (matches != 4)
                return invalid_line(img, p); /* VMFS takes no offset */
        } else if (matches != 4) {
            return invalid_line(img, p); /* only FLAT takes an offset */
        }
        for (size_t i = 0; i < sizeof(extent_types) / sizeof(extent_types[0]); i++)
            opens = opens || str_eq(l.type, extent_types[i]);
        if (l.sectors <= 0 || !opens)
            continue; /* qemu skips empty extents and unknown types */
        /* qemu opens the named file here: the host does, under its path
         * policy (T6), for the kinds instar parses. */
        if (!str_eq(l.type, "FLAT") && !str_eq(l.type, "SPARSE"))
            return img_fail(img, IMG_ERR_UNSUPPORTED,
                            "VMDK extents of type %s are not supported", l.type);
        if (*n_out >= max)
            return img_fail(img, IMG_ERR_UNSUPPORTED,
                            "VMDK descriptors naming more than %u extent files are not "
                            "supported", (unsigned)max);
        out[*n_out].flat = str_eq(l.type, "FLAT");
        out[*n_out].sectors = (uint64_t)l.sectors;
        out[*n_out].flat_off = l.flat_off > 0 ? (uint64_t)l.flat_off : 0;
        out[*n_out].name = l.name;
        out[*n_out].name_len = l.name_len;
        (*n_out)++;
    }
    return IMG_OK;
}

/* ---- CID, parentCID, parentFileNameHint ------------------------------------ */

/* sscanf(p, "%x") succeeds: optional space and sign, then a hex digit ("0x"
 * alone is 0 for glibc). */
static bool scans_hex(const char *p)
{
    p = skip_space(p);
    if (*p == '+' || *p == '-')
        p++;
    return is_xdigit(*p);
}

enum img_err vmdk_desc_ids(struct img *img, const char *win, size_t *name_at, size_t *name_len)
{
    const char *hint = find(win, "parentFileNameHint");
    const char *cid;
    char cid_win[VMDK_DESC_WINDOW + 1];

    *name_at = 0;
    *name_len = 0;
    if (hint != NULL) {
        /* qemu skips 'parentFileNameHint="' and reads up to the next '"',
         * wherever it is (the window ends with a NUL at VMDK_DESC_WINDOW).
         * The skip may step over the string's NUL; the bytes after it are
         * still inside the window. */
        size_t start = (size_t)(hint - win) + sizeof("parentFileNameHint") + 1;
        size_t i = start;

        while (i < VMDK_DESC_WINDOW && win[i] != '\0' && win[i] != '"')
            i++;
        if (i >= VMDK_DESC_WINDOW || win[i] != '"')
            return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument"); /* unterminated */
        if (i - start > VMDK_BACKING_NAME_MAX)
            return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument"); /* name too long */
        *name_at = start; /* an empty name is no backing file */
        *name_len = i - start;
    }
    /* vmdk_read_cid() terminates its copy one byte earlier. */
    memcpy(cid_win, win, VMDK_DESC_WINDOW);
    cid_win[VMDK_DESC_WINDOW - 1] = '\0';
    cid_win[VMDK_DESC_WINDOW] = '\0';
    /* "CID" also matches inside "parentCID"; qemu takes the first. */
    cid = find(cid_win, "CID");
    if (cid == NULL || !scans_hex(cid + sizeof("CID")))
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument");
    cid = find(cid_win, "parentCID");
    if (cid == NULL || !scans_hex(cid + sizeof("parentCID")))
        return img_fail(img, IMG_ERR_OPEN_ERRNO, "Invalid argument");
    return IMG_OK;
}
