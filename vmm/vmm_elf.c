/* vmm_elf.c: load the guest blobs (static ELF64 executables) into guest RAM.
 *
 * The blobs ship with instar, but the loader still trusts nothing: every
 * header field is range-checked, each PT_LOAD must sit page-aligned inside
 * the blob's region (memsz, so .bss counts), no segment may be both writable
 * and executable, and the INSTAR ABI note must match this build.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi_blob.h"
#include "vmm.h"

#define BLOB_MAX_FILE (4u << 20)
#define BLOB_MAX_PHDRS 16u
#define BLOB_MAX_NOTES 256u

/* Read exactly `len` bytes at `off`. */
static bool read_at(int fd, void *dst, size_t len, uint64_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)dst + got, len - got, (off_t)(off + got));

        if (n <= 0) {
            errno = n == 0 ? EIO : errno;
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

/* Find and check the INSTAR note among the notes `n` (a PT_NOTE segment's
 * `len` bytes). */
static bool check_note(const uint8_t *n, uint64_t len, uint32_t kind, uint64_t base)
{
    uint64_t off = 0;

    while (len - off >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        uint64_t name_off = off + sizeof(nh);
        uint64_t desc_off;
        uint64_t next;

        memcpy(&nh, n + off, sizeof(nh));
        desc_off = name_off + ((nh.n_namesz + 3u) & ~3ull);
        next = desc_off + ((nh.n_descsz + 3u) & ~3ull);
        if (next > len || next <= off)
            return false;
        if (nh.n_type == ABI_NOTE_TYPE && nh.n_namesz == sizeof(ABI_NOTE_NAME) &&
            memcmp(n + name_off, ABI_NOTE_NAME, sizeof(ABI_NOTE_NAME)) == 0 &&
            nh.n_descsz == sizeof(struct abi_blob_note)) {
            struct abi_blob_note note;

            memcpy(&note, n + desc_off, sizeof(note));
            return note.abi_version == ABI_CALL_TABLE_VERSION && note.kind == kind &&
                   note.load_addr == base;
        }
        off = next;
    }
    return false;
}

/* Segments are read straight into guest RAM: no copy of the whole file. */
bool vmm_load_blob(struct vmm_mem *mem, const char *path, uint32_t kind, uint64_t base,
                   uint64_t cap, uint64_t *entry)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint64_t flen;
    Elf64_Ehdr eh;
    Elf64_Phdr phs[BLOB_MAX_PHDRS];
    bool note_ok = false;
    bool entry_ok = false;
    uint8_t seen[ABI_SMALL_PAGES_END / ABI_PAGE_SIZE] = {0};

    if (fd < 0 || fstat(fd, &st) != 0)
        goto io_error;
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > BLOB_MAX_FILE) {
        errno = EFBIG;
        goto io_error;
    }
    flen = (uint64_t)st.st_size;
    if (flen < sizeof(eh))
        goto bad;
    if (!read_at(fd, &eh, sizeof(eh), 0))
        goto io_error;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_EXEC ||
        eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum == 0 || eh.e_phnum > BLOB_MAX_PHDRS || eh.e_phoff > flen ||
        (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > flen - eh.e_phoff)
        goto bad;
    if (!read_at(fd, phs, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff))
        goto io_error;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        const Elf64_Phdr ph = phs[i];
        uint64_t mend;
        uint64_t fend;
        uint8_t perm = VMM_PAGE_R | VMM_PAGE_U;
        uint8_t *dst;

        if (__builtin_add_overflow(ph.p_offset, ph.p_filesz, &fend) || fend > flen)
            goto bad;
        if (ph.p_type == PT_NOTE) {
            uint8_t notes[BLOB_MAX_NOTES];

            if (ph.p_filesz > sizeof(notes))
                goto bad;
            if (!read_at(fd, notes, ph.p_filesz, ph.p_offset))
                goto io_error;
            note_ok = note_ok || check_note(notes, ph.p_filesz, kind, base);
            continue;
        }
        if (ph.p_type == PT_GNU_STACK)
            continue;
        if (ph.p_type != PT_LOAD)
            goto bad; /* no interpreter, dynamic section or TLS */
        if (ph.p_memsz == 0)
            continue;
        if (ph.p_vaddr % ABI_PAGE_SIZE != 0 || ph.p_vaddr < base || ph.p_filesz > ph.p_memsz ||
            __builtin_add_overflow(ph.p_vaddr, ph.p_memsz, &mend) || mend > base + cap)
            goto bad;
        if ((ph.p_flags & PF_W) && (ph.p_flags & PF_X))
            goto bad; /* W^X */
        if (ph.p_flags & PF_W)
            perm |= VMM_PAGE_W;
        if (ph.p_flags & PF_X)
            perm |= VMM_PAGE_X;
        /* Segments may not share pages: each page gets one permission. */
        for (uint64_t a = ph.p_vaddr; a < mend; a += ABI_PAGE_SIZE) {
            if (a >= ABI_SMALL_PAGES_END || seen[a / ABI_PAGE_SIZE])
                goto bad;
            seen[a / ABI_PAGE_SIZE] = 1;
        }
        dst = vmm_guest_range(mem, VMM_GPA(ph.p_vaddr), ph.p_memsz);
        if (dst == NULL)
            goto bad;
        if (!read_at(fd, dst, ph.p_filesz, ph.p_offset))
            goto io_error;
        /* .bss stays as the fresh, zero-filled mapping left it. */
        if (!vmm_mem_set_perm(mem, ph.p_vaddr, ph.p_memsz, perm))
            goto bad;
        if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_vaddr && eh.e_entry < mend)
            entry_ok = true;
    }
    if (!note_ok) {
        vmm_error("guest blob '%s' was not built for this instar (ABI note missing or "
                  "version %u expected)", path, ABI_CALL_TABLE_VERSION);
        close(fd);
        return false;
    }
    if (!entry_ok)
        goto bad;
    close(fd);
    *entry = eh.e_entry;
    return true;
io_error:
    vmm_error("cannot read guest blob '%s': %s", path, vmm_strerror(errno));
    if (fd >= 0)
        close(fd);
    return false;
bad:
    close(fd);
    vmm_error("guest blob '%s' is not a valid instar blob for 0x%llx", path,
              (unsigned long long)base);
    return false;
}

static bool has_core(const char *dir)
{
    char p[PATH_MAX];

    if ((size_t)snprintf(p, sizeof(p), "%s/core.bin", dir) >= sizeof(p))
        return false;
    return access(p, R_OK) == 0;
}

bool vmm_blob_dir(char *out, size_t out_size)
{
    const char *env = getenv("INSTAR_BLOB_DIR");
    char exe[PATH_MAX];
    ssize_t n;
    char *slash;

    if (env != NULL && env[0] != '\0') {
        if ((size_t)snprintf(out, out_size, "%s", env) >= out_size)
            return false;
        return has_core(out);
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    if ((size_t)snprintf(out, out_size, "%s", exe) < out_size && has_core(out))
        return true;
    if ((size_t)snprintf(out, out_size, "%s/../lib/instar", exe) < out_size && has_core(out))
        return true;
    return false;
}
