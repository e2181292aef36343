/* luks.c: LUKS1 images, opened as qemu-img 7.2 opens them.
 *
 * QEMU asks for the key secret before it reads anything: without one, every
 * file opened as luks fails with "Parameter 'key-secret' is required for
 * cipher".  With one, the header is checked in QEMU's order and with its
 * messages: magic, version, NUL-terminated names, payload offset, key slots
 * (stripes, state, iterations, overlaps), then the cipher, mode, IV
 * generator and hash names with the key size, and the limits of QEMU's
 * crypto backend that it meets for an active key slot before it compares
 * the password.
 *
 * Deliberate differences: instar never derives keys, decrypts or checks the
 * password (measure does not need the plaintext), so a wrong password opens
 * where QEMU says "Invalid password, cannot unlock any keyslot"; and an
 * active slot whose key material is not whole sectors (192-bit keys outside
 * XTS), on which qemu-img aborts, is refused with a message.
 *
 * The virtual size is the file size rounded up to a sector, minus the
 * payload offset; the crypto driver has no block status, so QEMU (and
 * instar) count the whole payload as data.
 */
#include "img.h"

#include "luks_spec.h"
#include "rt.h"

static const uint8_t luks_magic[LUKS_MAGIC_LEN] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};

/* QEMU's LUKS cipher table: names and key sizes (bytes). */
struct luks_cipher {
    const char *name;
    uint32_t key_bytes[3];  /* 0 = unused */
    bool block16;           /* a 16-byte block, as XTS needs */
    const char *essiv_name; /* QEMU's name for its family in ESSIV errors */
};

static const struct luks_cipher luks_ciphers[] = {
    {"aes", {16, 24, 32}, true, "AES"},
    {"cast5", {16, 0, 0}, false, NULL},
    {"serpent", {16, 24, 32}, true, "Serpent"},
    {"twofish", {16, 24, 32}, true, "Twofish"},
};

/* QEMU's QCryptoHashAlgorithm names and digest sizes. */
struct luks_hash {
    const char *name;
    uint32_t digest;
};

static const struct luks_hash luks_hashes[] = {
    {"md5", 16},    {"sha1", 20},   {"sha224", 28},    {"sha256", 32},
    {"sha384", 48}, {"sha512", 64}, {"ripemd160", 20},
};

static const char *const luks_modes[] = {"ecb", "cbc", "xts", "ctr"};
static const char *const luks_ivgens[] = {"plain", "plain64", "essiv"};
#define LUKS_MODE_XTS 2
#define LUKS_IVGEN_ESSIV 2

/* Index of `name` in `names`, or -1. */
static int luks_lookup(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rt_streq(name, names[i]))
            return (int)i;
    }
    return -1;
}

static const struct luks_hash *luks_hash(const char *name)
{
    for (size_t i = 0; i < sizeof(luks_hashes) / sizeof(luks_hashes[0]); i++) {
        if (rt_streq(name, luks_hashes[i].name))
            return &luks_hashes[i];
    }
    return NULL;
}

static int luks_probe(const uint8_t *buf, size_t len)
{
    uint8_t h[8] = {0};

    /* QEMU probes a zero-padded 2048-byte buffer: missing bytes are zeros. */
    memcpy(h, buf, len < sizeof(h) ? len : sizeof(h));
    return memcmp(h, luks_magic, LUKS_MAGIC_LEN) == 0 && img_be16(h + 6) == LUKS_VERSION ? 100
                                                                                         : 0;
}

/* Sectors of key material of a slot: cryptsetup's rounding, in QEMU's
 * 32-bit arithmetic (the wrap is QEMU's and reproduced on purpose). */
static uint32_t luks_slot_sectors(uint32_t key_bytes, uint32_t stripes)
{
    uint32_t bytes = key_bytes * stripes;
    uint32_t sectors = bytes / LUKS_SECTOR + (bytes % LUKS_SECTOR != 0);

    return (sectors + LUKS_KEY_SLOT_SECTORS - 1) / LUKS_KEY_SLOT_SECTORS * LUKS_KEY_SLOT_SECTORS;
}

static bool luks_has_nul(const uint8_t *p)
{
    for (size_t i = 0; i < LUKS_STR_LEN; i++) {
        if (p[i] == 0)
            return true;
    }
    return false;
}

/* qcrypto_block_luks_check_header(): the layout. */
static enum img_err luks_check_header(struct img *img, const uint8_t *h)
{
    uint32_t payload = img_be32(h + LUKS_HDR_PAYLOAD);
    uint32_t key_bytes = img_be32(h + LUKS_HDR_KEY_BYTES);

    /* Reachable with -f luks only: the probe needs the magic. */
    if (memcmp(h, luks_magic, LUKS_MAGIC_LEN) != 0)
        return img_fail(img, IMG_ERR_OPEN, "Volume is not in LUKS format");
    /* LUKS2 has another header; QEMU 7.2 reads LUKS1 only. */
    if (img_be16(h + LUKS_HDR_VERSION) != LUKS_VERSION)
        return img_fail(img, IMG_ERR_OPEN, "LUKS version %u is not supported",
                        img_be16(h + LUKS_HDR_VERSION));
    /* The names are C strings to QEMU. */
    if (!luks_has_nul(h + LUKS_HDR_CIPHER_NAME))
        return img_fail(img, IMG_ERR_OPEN, "LUKS header cipher name is not NUL terminated");
    if (!luks_has_nul(h + LUKS_HDR_CIPHER_MODE))
        return img_fail(img, IMG_ERR_OPEN, "LUKS header cipher mode is not NUL terminated");
    if (!luks_has_nul(h + LUKS_HDR_HASH_SPEC))
        return img_fail(img, IMG_ERR_OPEN, "LUKS header hash spec is not NUL terminated");
    /* The payload follows the 4096-byte header area. */
    if (payload < LUKS_KEY_SLOT_SECTORS)
        return img_fail(img, IMG_ERR_OPEN, "LUKS payload is overlapping with the header");
    /* PBKDF2 needs at least one iteration. */
    if (img_be32(h + LUKS_HDR_MK_ITERATIONS) == 0)
        return img_fail(img, IMG_ERR_OPEN, "LUKS key iteration count is zero");
    for (uint32_t i = 0; i < LUKS_NUM_SLOTS; i++) {
        const uint8_t *s1 = h + LUKS_HDR_SLOTS + i * LUKS_SLOT_LEN;
        uint32_t active = img_be32(s1 + LUKS_SLOT_ACTIVE);
        uint32_t stripes = img_be32(s1 + LUKS_SLOT_STRIPES);
        uint32_t start1 = img_be32(s1 + LUKS_SLOT_KEY_OFFSET);
        uint32_t len1 = luks_slot_sectors(key_bytes, stripes);

        /* cryptsetup always splits keys into 4000 stripes. */
        if (stripes != LUKS_STRIPES)
            return img_fail(img, IMG_ERR_OPEN, "Keyslot %u is corrupted (stripes %d != %d)", i,
                            (int)stripes, LUKS_STRIPES);
        /* A slot is enabled or disabled, nothing else. */
        if (active != LUKS_SLOT_DISABLED && active != LUKS_SLOT_ENABLED)
            return img_fail(img, IMG_ERR_OPEN, "Keyslot %u state (active/disable) is corrupted",
                            i);
        /* An enabled slot is unlocked with PBKDF2: at least one iteration. */
        if (active == LUKS_SLOT_ENABLED && img_be32(s1 + LUKS_SLOT_ITERATIONS) == 0)
            return img_fail(img, IMG_ERR_OPEN, "Keyslot %u iteration count is zero", i);
        /* Key material lies between the header and the payload, and
         * slots do not share it. */
        if (start1 < LUKS_KEY_SLOT_SECTORS)
            return img_fail(img, IMG_ERR_OPEN, "Keyslot %u is overlapping with the LUKS header",
                            i);
        /* 32-bit sums, as in QEMU. */
        if ((uint32_t)(start1 + len1) > payload)
            return img_fail(img, IMG_ERR_OPEN,
                            "Keyslot %u is overlapping with the encrypted payload", i);
        for (uint32_t j = i + 1; j < LUKS_NUM_SLOTS; j++) {
            const uint8_t *s2 = h + LUKS_HDR_SLOTS + j * LUKS_SLOT_LEN;
            uint32_t start2 = img_be32(s2 + LUKS_SLOT_KEY_OFFSET);
            uint32_t len2 = luks_slot_sectors(key_bytes, img_be32(s2 + LUKS_SLOT_STRIPES));

            if ((uint32_t)(start1 + len1) > start2 && (uint32_t)(start2 + len2) > start1)
                return img_fail(img, IMG_ERR_OPEN,
                                "Keyslots %u and %u are overlapping in the header", i, j);
        }
    }
    return IMG_OK;
}

/* qcrypto_block_luks_parse_header(): the algorithm names. */
static enum img_err luks_parse_header(struct img *img, const uint8_t *h,
                                      const struct luks_cipher **cipher, int *mode)
{
    char name[LUKS_STR_LEN];
    char spec[LUKS_STR_LEN];
    char hash[LUKS_STR_LEN];
    char *ivgen = NULL;
    char *ivhash = NULL;
    const struct luks_hash *ivh = NULL;
    uint32_t key_bytes = img_be32(h + LUKS_HDR_KEY_BYTES);
    int iv;

    /* NUL-terminated: checked before. */
    memcpy(name, h + LUKS_HDR_CIPHER_NAME, sizeof(name));
    memcpy(spec, h + LUKS_HDR_CIPHER_MODE, sizeof(spec));
    memcpy(hash, h + LUKS_HDR_HASH_SPEC, sizeof(hash));
    /* "<mode>-<ivgen>[:<ivhash>]" */
    for (char *p = spec; *p != '\0' && ivgen == NULL; p++) {
        if (*p == '-') {
            *p = '\0';
            ivgen = p + 1;
        }
    }
    if (ivgen == NULL)
        return img_fail(img, IMG_ERR_OPEN, "Unexpected cipher mode string format '%s'", spec);
    for (char *p = ivgen; *p != '\0' && ivhash == NULL; p++) {
        if (*p == ':') {
            *p = '\0';
            ivhash = p + 1;
        }
    }
    if (ivhash != NULL) {
        ivh = luks_hash(ivhash);
        if (ivh == NULL)
            return img_fail(img, IMG_ERR_OPEN, "Hash algorithm '%s' not supported", ivhash);
    }
    *mode = luks_lookup(spec, luks_modes, sizeof(luks_modes) / sizeof(luks_modes[0]));
    if (*mode < 0)
        return img_fail(img, IMG_ERR_OPEN, "Cipher mode '%s' not supported", spec);
    /* XTS keys are two cipher keys. */
    if (*mode == LUKS_MODE_XTS)
        key_bytes /= 2;
    *cipher = NULL;
    for (size_t i = 0; i < sizeof(luks_ciphers) / sizeof(luks_ciphers[0]); i++) {
        if (!rt_streq(name, luks_ciphers[i].name))
            continue;
        for (size_t k = 0; k < 3; k++) {
            if (luks_ciphers[i].key_bytes[k] != 0 && luks_ciphers[i].key_bytes[k] == key_bytes)
                *cipher = &luks_ciphers[i];
        }
    }
    if (*cipher == NULL)
        return img_fail(img, IMG_ERR_OPEN, "Algorithm '%s' with key size %d bytes not supported",
                        name, (int)key_bytes);
    if (luks_hash(hash) == NULL)
        return img_fail(img, IMG_ERR_OPEN, "Hash algorithm '%s' not supported", hash);
    iv = luks_lookup(ivgen, luks_ivgens, sizeof(luks_ivgens) / sizeof(luks_ivgens[0]));
    if (iv < 0)
        return img_fail(img, IMG_ERR_OPEN, "IV generator '%s' not supported", ivgen);
    if (iv == LUKS_IVGEN_ESSIV) {
        /* ESSIV encrypts with a cipher keyed by a digest of the key: the
         * family must have that key size. */
        if (ivh == NULL)
            return img_fail(img, IMG_ERR_OPEN, "Missing IV generator hash specification");
        if (ivh->digest != key_bytes) {
            if ((*cipher)->essiv_name == NULL)
                return img_fail(img, IMG_ERR_OPEN, "Cipher cast5-128 not supported with essiv");
            if (ivh->digest != 16 && ivh->digest != 24 && ivh->digest != 32)
                return img_fail(img, IMG_ERR_OPEN, "No %s cipher with key size %u available",
                                (*cipher)->essiv_name, ivh->digest);
        }
    }
    return IMG_OK;
}

static enum img_err luks_open(struct img *img)
{
    uint8_t h[LUKS_HDR_LEN];
    const struct luks_cipher *cipher = NULL;
    uint64_t size = img->io->size;
    uint64_t payload;
    uint32_t key_bytes;
    bool active = false;
    bool unlockable;
    int mode = 0;
    uint64_t n;
    enum img_err err;

    /* QEMU looks the secret up before it reads the file. */
    if (img->opts.key_secret == NULL)
        return img_fail(img, IMG_ERR_OPEN, "Parameter 'key-secret' is required for cipher");
    /* The header, with zeros past EOF as QEMU's block layer reads. */
    n = size < sizeof(h) ? size : sizeof(h);
    memset(h + n, 0, sizeof(h) - n);
    err = img_read(img, 0, n, h);
    if (err != IMG_OK)
        return err;
    err = luks_check_header(img, h);
    if (err == IMG_OK)
        err = luks_parse_header(img, h, &cipher, &mode);
    if (err != IMG_OK)
        return err;
    key_bytes = img_be32(h + LUKS_HDR_KEY_BYTES);
    for (uint32_t i = 0; i < LUKS_NUM_SLOTS; i++)
        active |= img_be32(h + LUKS_HDR_SLOTS + i * LUKS_SLOT_LEN) == LUKS_SLOT_ENABLED;
    /* QEMU tries the password on every active slot; with none, it fails
     * whatever the password. */
    if (!active)
        return img_fail(img, IMG_ERR_OPEN, "Invalid password, cannot unlock any keyslot");
    /* What QEMU's crypto backend refuses before it can compare the key. */
    if (mode == LUKS_MODE_XTS && !cipher->block16)
        return img_fail(img, IMG_ERR_OPEN, "Unsupported cipher mode xts");
    if (mode == LUKS_MODE_XTS && key_bytes % 2 != 0)
        return img_fail(img, IMG_ERR_OPEN, "XTS cipher key length should be a multiple of 2");
    if (key_bytes * LUKS_STRIPES % LUKS_SECTOR != 0)
        return img_fail(img, IMG_ERR_UNSUPPORTED,
                        "LUKS key material of %u bytes is not a multiple of 512 bytes "
                        "(qemu-img aborts on it)", key_bytes * LUKS_STRIPES);
    /* Key material cut by EOF reads as zeros to QEMU and cannot unlock its
     * slot, whatever the password (key_bytes <= 64: no overflow). */
    unlockable = false;
    for (uint32_t i = 0; i < LUKS_NUM_SLOTS; i++) {
        const uint8_t *sl = h + LUKS_HDR_SLOTS + i * LUKS_SLOT_LEN;
        uint64_t end = (uint64_t)img_be32(sl + LUKS_SLOT_KEY_OFFSET) * LUKS_SECTOR +
                       (uint64_t)key_bytes * LUKS_STRIPES;

        if (img_be32(sl + LUKS_SLOT_ACTIVE) == LUKS_SLOT_ENABLED && end <= img->io->size)
            unlockable = true;
    }
    if (!unlockable)
        return img_fail(img, IMG_ERR_OPEN, "Invalid password, cannot unlock any keyslot");
    /* The payload follows the file's sector-rounded length. */
    payload = (uint64_t)img_be32(h + LUKS_HDR_PAYLOAD) * LUKS_SECTOR;
    size = (size + LUKS_SECTOR - 1) & ~(uint64_t)(LUKS_SECTOR - 1);
    if (payload > size)
        return img_fail(img, IMG_ERR_OPEN,
                        "Could not refresh total sector count: Input/output error");
    img->virtual_size = size - payload;
    return IMG_OK;
}

static enum img_err luks_map(struct img *img, uint64_t off, uint64_t max, struct img_map *out)
{
    (void)img;
    (void)off;
    /* No block status in QEMU's crypto driver: everything is data. */
    out->length = max;
    out->status = IMG_DATA;
    return IMG_OK;
}

const struct img_driver img_driver_luks = {
    .name = "luks",
    .abi_fmt = ABI_FMT_LUKS,
    .probe = luks_probe,
    .open = luks_open,
    .map = luks_map,
};
