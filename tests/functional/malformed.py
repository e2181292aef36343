"""malformed.py: a seeded generator of malformed source images, by class
(docs/security.md, after the classes Q1-Q21 of the project's security
reference).  Base images come from `qemu-img create` and `qemu-io`; each
case pokes bytes at known header offsets, truncates, or mutates at random
(seeded), recomputing the checksums a format has (VHD footer and dynamic
header, VHDX headers and region tables) so that the mutation reaches the
code behind the checksum.  Nothing is stored in the repository.

generate(d) returns the cases: (class, name, path, measure arguments naming
the source, whether qemu-img can be asked about it).
"""
import os
import random
import shutil
import socket
import struct
import uuid

from corpus import KiB, MiB, TiB, SECRET, convert, make, make_raw, qemu_io, sh

SEED = 20261123


class Case:
    def __init__(self, cls, name, path, args=None, qemu=True):
        self.cls = cls
        self.name = name
        self.path = path
        self.args = args if args is not None else [path]
        self.qemu = qemu  # False: qemu-img would block (FIFO) or is not comparable

    def __repr__(self):
        return f"{self.cls}/{self.name}"


# ---- byte-level helpers ------------------------------------------------------

def read(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def poke(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def be(fmt, *v):
    return struct.pack(">" + fmt, *v)


def le(fmt, *v):
    return struct.pack("<" + fmt, *v)


def u_be(path, off, fmt):
    return struct.unpack(">" + fmt, read(path, off, struct.calcsize(fmt)))[0]


def u_le(path, off, fmt):
    return struct.unpack("<" + fmt, read(path, off, struct.calcsize(fmt)))[0]


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def vhd_sum(block, at):
    """VHD checksum: ones' complement of the byte sum, the field zeroed."""
    b = bytearray(block)
    b[at:at + 4] = bytes(4)
    return (~sum(b)) & 0xFFFFFFFF


def vhd_fix(path):
    """Recompute the checksums of a VHD's footer (and its copy) and of its
    dynamic header."""
    size = os.path.getsize(path)
    if size < 512:
        return
    footer = bytearray(read(path, size - 512, 512))
    footer[64:68] = be("I", vhd_sum(footer, 64))
    poke(path, size - 512, footer)
    if read(path, 0, 8) == b"conectix" and size >= 1024 + 512:
        head = bytearray(read(path, 0, 512))
        head[64:68] = be("I", vhd_sum(head, 64))
        poke(path, 0, head)
        dyn_off = struct.unpack(">Q", head[16:24])[0]
        if dyn_off < size and read(path, dyn_off, 8) == b"cxsparse":
            dyn = bytearray(read(path, dyn_off, 1024))
            dyn[36:40] = be("I", vhd_sum(dyn, 36))
            poke(path, dyn_off, dyn)


def vhdx_fix(path):
    """Recompute the CRC-32C of both VHDX headers and region tables."""
    for off, n in [(64 * KiB, 4 * KiB), (128 * KiB, 4 * KiB), (192 * KiB, 64 * KiB),
                   (256 * KiB, 64 * KiB)]:
        b = bytearray(read(path, off, n))
        if len(b) < n:
            continue
        b[4:8] = bytes(4)
        b[4:8] = le("I", crc32c(b))
        poke(path, off, b)


VHDX_BAT = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08").bytes_le
VHDX_META = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
VHDX_ITEMS = {
    "params": uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B").bytes_le,
    "size": uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le,
    "logical": uuid.UUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F").bytes_le,
    "physical": uuid.UUID("CDA348C7-445D-4471-9CC9-E9885251C556").bytes_le,
    "page83": uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746").bytes_le,
}


def vhdx_regions(path):
    """{guid bytes: (entry offset in the file, region offset, length)}."""
    out = {}
    count = u_le(path, 192 * KiB + 8, "I")
    for i in range(min(count, 2047)):
        e = 192 * KiB + 16 + 32 * i
        g = read(path, e, 16)
        off, length = struct.unpack("<QI", read(path, e + 16, 12))
        out[g] = (e, off, length)
    return out


def vhdx_item(path, name):
    """(entry offset, file offset of the data) of a metadata item."""
    _, meta, _ = vhdx_regions(path)[VHDX_META]
    count = u_le(path, meta + 10, "H")
    for i in range(count):
        e = meta + 32 + 32 * i
        if read(path, e, 16) == VHDX_ITEMS[name]:
            return e, meta + u_le(path, e + 16, "I")
    raise KeyError(name)


class Gen:
    """Makes base images once and copies of them to poke."""

    def __init__(self, d):
        self.d = d
        self.cases = []
        self.rng = random.Random(SEED)
        self.bases = {}

    def base(self, key, fmt, size, opts="", writes=()):
        if key not in self.bases:
            img = make(self.d, "base-" + key, fmt, size, opts, writes)
            self.bases[key] = img.path
        return self.bases[key]

    def copy(self, key, name):
        path = os.path.join(self.d, name)
        shutil.copyfile(self.bases[key], path)
        return path

    def add(self, cls, name, path, args=None, qemu=True):
        self.cases.append(Case(cls, name, path, args, qemu))

    def poked(self, cls, key, name, pokes, fix=None, fmt=None):
        """A copy of base `key` with (offset, bytes) pokes; `fmt` pins -f."""
        path = self.copy(key, name)
        for off, data in pokes:
            poke(path, off, data)
        if fix:
            fix(path)
        self.add(cls, name, path, (["-f", fmt] if fmt else []) + [path])
        return path

    def truncated(self, cls, key, lengths, fmt=None):
        for n in sorted(set(lengths)):
            path = self.copy(key, f"{key}-cut{n}")
            with open(path, "r+b") as f:
                f.truncate(n)
            self.add(cls, f"{key}-cut{n}", path, (["-f", fmt] if fmt else []) + [path])

    def mutated(self, cls, key, count, span, fix=None, fmt=None):
        """`count` copies with 1-8 random bytes changed in the first `span`."""
        size = os.path.getsize(self.bases[key])
        for i in range(count):
            path = self.copy(key, f"{key}-mut{i}")
            for _ in range(self.rng.randint(1, 8)):
                off = self.rng.randrange(min(span, size))
                poke(path, off, bytes([self.rng.randrange(256)]))
            if fix:
                fix(path)
            self.add(cls, f"{key}-mut{i}", path, (["-f", fmt] if fmt else []) + [path])


SCATTER = [(0, 4 * KiB, 0x11), (MiB + 4 * KiB, 8 * KiB, 0x22), (5 * MiB + 7, 70000, 0x33),
           (-8 * KiB, 4 * KiB, 0x44)]


def gen_qcow2(g):
    g.base("q2", "qcow2", 64 * MiB, "", SCATTER)
    g.base("q2v2", "qcow2", 64 * MiB, "compat=0.10", SCATTER)
    g.base("q2x", "qcow2", 64 * MiB, "extended_l2=on", SCATTER)
    p = g.bases["q2"]
    l1_off = u_be(p, 40, "Q")
    rt_off = u_be(p, 48, "Q")
    l2_off = u_be(p, l1_off, "Q") & 0x00FFFFFFFFFFFE00
    size = os.path.getsize(p)
    # Q1 truncated: short headers, and cuts at each structure boundary.
    g.truncated("Q1-truncated", "q2", [0, 1, 3, 4, 7, 8, 20, 71, 72, 103, 104, 200, 511, 4096,
                                       rt_off, rt_off + 8, l1_off, l1_off + 4, l2_off,
                                       l2_off + 4096, size - 1])
    g.truncated("Q1-truncated", "q2v2", [71, 72, 1000])
    # Q2 header_length.
    for v in [0xFFFFFFFF, 0x7FFFFFFF, 0, 103, 105, 65537]:
        g.poked("Q2-header-length", "q2", f"q2-hlen{v:x}", [(100, be("I", v))])
    # Q3 header extensions (they start at 104 on v3, 72 on v2).
    g.poked("Q3-extensions", "q2", "q2-ext-huge", [(104, be("II", 0x12345678, 0x7FFFFFFF))])
    g.poked("Q3-extensions", "q2", "q2-ext-past", [(104, be("II", 0x12345678, 65000))])
    g.poked("Q3-extensions", "q2v2", "q2v2-ext-past", [(72, be("II", 0x12345678, 0xFFF0))])
    g.poked("Q3-extensions", "q2", "q2-ext-many",
            [(104 + 8 * i, be("II", 0x4000 + i, 0)) for i in range(8000)])
    g.poked("Q3-extensions", "q2", "q2-ext-fmt2",
            [(104, be("II", 0xE2792ACA, 3) + b"raw\0\0\0\0\0" + be("II", 0xE2792ACA, 5) +
              b"qcow2\0\0\0" + be("II", 0, 0))])
    g.poked("Q3-extensions", "q2", "q2-ext-features-huge",
            [(104, be("II", 0x6803F857, 0x7FFFFFF8))])
    # Q4 cluster_bits.
    for v in [0, 8, 22, 31, 63, 255]:
        g.poked("Q4-cluster-bits", "q2", f"q2-cbits{v}", [(20, be("I", v))])
    # Q5 L1 table.
    for v in [0xFFFFFFFF, 0x7FFFFFFF, 0x10000000, 0]:
        g.poked("Q5-l1", "q2", f"q2-l1size{v:x}", [(36, be("I", v))])
    for v in [l1_off + 8, 1 << 56, 1 << 40, 0x7FFFFFFFFFFF0000, 0]:
        g.poked("Q5-l1", "q2", f"q2-l1off{v:x}", [(40, be("Q", v))])
    # Q6 refcount table.
    for v in [0xFFFFFFFF, 0x00020001, 0]:
        g.poked("Q6-refcount", "q2", f"q2-rtclusters{v:x}", [(56, be("I", v))])
    for v in [rt_off + 8, 1 << 40, 0]:
        g.poked("Q6-refcount", "q2", f"q2-rtoff{v:x}", [(48, be("Q", v))])
    for v in [7, 255, 0]:
        g.poked("Q6-refcount", "q2", f"q2-rorder{v}", [(96, be("I", v))])
    # Q7 snapshots (the table is not there: counts and offsets only).
    for n, off in [(0xFFFFFFFF, 0x30000), (65537, 0x30000), (1, 1 << 40), (1, 0x30008),
                   (3, size - 8)]:
        g.poked("Q7-snapshots", "q2", f"q2-snap{n:x}-{off:x}", [(60, be("IQ", n, off))])
    path = g.copy("q2", "q2-snap-l")
    poke(path, 60, be("IQ", 1, 1 << 40))
    g.add("Q7-snapshots", "q2-snap-l", path, ["-l", "first", path])
    # Q8 feature bits.
    for name, bit in [("unknown", 1 << 40), ("corrupt", 2), ("dirty", 1), ("datafile", 4),
                      ("compression", 8), ("extl2", 16)]:
        g.poked("Q8-features", "q2", f"q2-feat-{name}", [(72, be("Q", bit))])
    g.poked("Q8-features", "q2x", "q2x-feat-off", [(72, be("Q", 0))])
    # Q9 size extremes.
    for v in [0, (1 << 63) - 512, 1 << 63, 1000001, 1 << 50, (1 << 64) - 1]:
        g.poked("Q9-size", "q2", f"q2-size{v:x}", [(24, be("Q", v))])
    g.add("Q9-size", "q2-1p-empty", make(g.d, "q2-1p-empty.qcow2", "qcow2", 1 << 50,
                                           "cluster_size=2M").path)
    # Q10 L2 entries (the first entry maps the 0x11 cluster).
    for name, v in [("past-eof", (1 << 40) | (1 << 63)), ("misaligned", (l2_off + 512) | (1 << 63)),
                    ("huge", (1 << 56) | (1 << 63)), ("reserved", (1 << 60) | l2_off | (1 << 63)),
                    ("zero-with-offset", l2_off | 1 | (1 << 63)),
                    ("in-header", 1 << 63), ("compressed-huge", (1 << 62) | ((1 << 62) - 1)),
                    ("compressed-past-eof", (1 << 62) | (1 << 39))]:
        g.poked("Q10-l2-entries", "q2", f"q2-l2-{name}", [(l2_off, be("Q", v))])
    # Q11 aliasing: L1 entries naming one L2 table, and L2 = L1 cluster.
    for n in [4, 32]:
        g.poked("Q11-aliasing", "q2", f"q2-alias{n}",
                [(l1_off + 8 * i, be("Q", l2_off | (1 << 63))) for i in range(n)])
    g.poked("Q11-aliasing", "q2", "q2-l2-is-l1", [(l1_off, be("Q", l1_off | (1 << 63)))])
    g.poked("Q11-aliasing", "q2", "q2-l2-is-header", [(l1_off + 8, be("Q", 0 | (1 << 63)))])
    for n in [4, 32, 262144]:
        path = os.path.join(g.d, f"q2-alias-big{n}.qcow2")
        alias_image(path, n)
        g.add("Q11-aliasing", f"q2-alias-big{n}", path)
    # Q12 external names: backing and data files that must not be opened.
    for i, name in enumerate(["/etc/passwd", "../../etc/passwd", "/proc/self/fd/0", "/dev/zero",
                              'json:{"file":{"driver":"nbd","host":"127.0.0.1"}}',
                              "nbd://127.0.0.1/x", "file:/etc/passwd", "\\\\host\\share",
                              "a" * 1023, "b\x1b[2J"]):
        path = os.path.join(g.d, f"q2-backing{i}.qcow2")
        sh(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", name, "-F", "raw", path, "1M"])
        g.add("Q12-external-names", f"q2-backing{i}", path)
    path = os.path.join(g.d, "q2-datafile.qcow2")
    sh(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=" + path + ".data", path,
        "1M"])
    g.add("Q12-external-names", "q2-datafile", path)
    # Q14 format confusion.
    path = g.copy("q2", "q2-as-raw")
    g.add("Q14-confusion", "q2-as-raw", path, ["-f", "raw", path])
    path = g.copy("q2", "q2-as-vmdk")
    g.add("Q14-confusion", "q2-as-vmdk", path, ["-f", "vmdk", path])
    path = os.path.join(g.d, "q2-magic-elf")
    with open(path, "wb") as f:
        f.write(b"QFI\xfb" + be("I", 3) + open("/bin/true", "rb").read(65536)[8:])
    g.add("Q14-confusion", "q2-magic-elf", path)
    path = g.copy("q2", "q2-vhd-footer")
    with open(path, "ab") as f:
        f.write(read(vpc_base(g), os.path.getsize(vpc_base(g)) - 512, 512))
    g.add("Q14-confusion", "q2-vhd-footer", path)
    # Q20 output floods: many snapshots with long names.
    path = os.path.join(g.d, "q2-many-snaps.qcow2")
    snapshot_flood(g, path, 4000, 1000)
    g.add("Q20-floods", "q2-many-snaps", path)
    path = os.path.join(g.d, "q2-many-snaps-l")
    shutil.copyfile(os.path.join(g.d, "q2-many-snaps.qcow2"), path)
    g.add("Q20-floods", "q2-many-snaps-l", path, ["-l", "3999", path])
    # Q21 random mutations of the header cluster and tables.
    g.mutated("Q21-mutations", "q2", 30, 4096)
    g.mutated("Q21-mutations", "q2x", 10, 0x50000)


def alias_image(path, n):
    """A 2 MiB-cluster qcow2 v3 whose `n` L1 entries all name one L2 table
    (every L2 entry naming one data cluster): 12 MiB claiming n * 2^39."""
    c = 2 * MiB
    hdr = bytearray(c)
    struct.pack_into(">IIQIIQIIQQIIQQQQII", hdr, 0, 0x514649FB, 3, 0, 0, 21, n * (c // 8) * c,
                     0, n, 3 * c, c, 1, 0, 0, 0, 0, 0, 4, 104)
    reft = bytearray(c)
    struct.pack_into(">Q", reft, 0, 2 * c)
    refb = bytearray(c)
    for i in range(6):
        struct.pack_into(">H", refb, 2 * i, 1)
    l1 = bytearray(c)
    for i in range(min(n, c // 8)):
        struct.pack_into(">Q", l1, 8 * i, 4 * c | 1 << 63)
    l2 = bytearray(c)
    for i in range(c // 8):
        struct.pack_into(">Q", l2, 8 * i, 5 * c | 1 << 63)
    with open(path, "wb") as f:
        for part in (hdr, reft, refb, l1, l2):
            f.write(part)
        f.write(b"\x5a" * 4096)
        f.truncate(6 * c)


def snapshot_flood(g, path, count, name_len):
    """A qcow2 with `count` snapshots named by their number padded to
    `name_len` bytes, all sharing the active L1 table."""
    sh(["qemu-img", "create", "-q", "-f", "qcow2", path, "64M"])
    qemu_io("qcow2", path, ["write -P 1 0 64k"])
    l1_off = u_be(path, 40, "Q")
    l1_size = u_be(path, 36, "I")
    size = os.path.getsize(path)
    table = bytearray()
    for i in range(count):
        sid = str(i).encode()
        name = str(i).encode().ljust(name_len, b"n")
        e = struct.pack(">QIHHIIQII", l1_off, l1_size, len(sid), len(name), 0, 0, 0, 0, 16)
        e += struct.pack(">QQ", 0, 64 * MiB) + sid + name
        e += bytes(-len(e) % 8)
        table += e
    off = (size + 65535) // 65536 * 65536
    poke(path, off, table)
    poke(path, 60, be("IQ", count, off))


def vpc_base(g):
    return g.base("vpc", "vpc", 64 * MiB, "", SCATTER)


def gen_vpc(g):
    p = vpc_base(g)
    g.base("vpcfix", "vpc", 8 * MiB, "subformat=fixed", SCATTER)
    dyn = u_be(p, 16, "Q")
    bat = u_be(p, dyn + 16, "Q")
    size = os.path.getsize(p)
    g.truncated("Q1-truncated", "vpc", [0, 511, 512, 1023, 1536, dyn + 1024, bat + 4, size - 1])
    # Q16: checksums, disk types, tables, sizes.
    g.poked("Q16-vpc", "vpc", "vpc-badsum", [(64, be("I", 0x12345678))])
    g.poked("Q16-vpc", "vpc", "vpc-dyn-badsum", [(dyn + 36, be("I", 0x12345678))])
    for t in [0, 1, 5, 99]:
        g.poked("Q16-vpc", "vpc", f"vpc-type{t}", [(60, be("I", t)), (size - 512 + 60, be("I", t))],
                vhd_fix)
    for v in [0xFFFFFFFF, 0, 1]:
        g.poked("Q16-vpc", "vpc", f"vpc-maxent{v:x}", [(dyn + 28, be("I", v))], vhd_fix)
    for v in [0, 128, 0x12345678, 1 << 31]:
        g.poked("Q16-vpc", "vpc", f"vpc-bs{v:x}", [(dyn + 32, be("I", v))], vhd_fix)
    for v in [1 << 40, bat + 1, 0]:
        g.poked("Q16-vpc", "vpc", f"vpc-batoff{v:x}", [(dyn + 16, be("Q", v))], vhd_fix)
    alloc = [i for i in range(32) if u_be(p, bat + 4 * i, "I") != 0xFFFFFFFF]
    first = u_be(p, bat + 4 * alloc[0], "I")
    g.poked("Q16-vpc", "vpc", "vpc-bat-alias", [(bat + 4 * i, be("I", first)) for i in range(32)])
    g.poked("Q16-vpc", "vpc", "vpc-bat-past-eof", [(bat, be("I", 0x7FFFFFF0))])
    for name, v in [("cursize0", 0), ("cursize-odd", 1000001), ("cursize-huge", 1 << 62)]:
        g.poked("Q16-vpc", "vpc", f"vpc-{name}", [(48, be("Q", v)), (size - 512 + 48, be("Q", v))],
                vhd_fix)
    g.poked("Q16-vpc", "vpc", "vpc-chs0", [(56, be("I", 0)), (size - 512 + 56, be("I", 0))],
            vhd_fix)
    g.poked("Q16-vpc", "vpc", "vpc-differencing",
            [(60, be("I", 4)), (size - 512 + 60, be("I", 4))], vhd_fix)
    path = os.path.join(g.d, "vpc-footer-only.vhd")
    with open(path, "wb") as f:
        f.write(read(g.bases["vpcfix"], os.path.getsize(g.bases["vpcfix"]) - 512, 512))
    g.add("Q16-vpc", "vpc-footer-only", path, ["-f", "vpc", path])
    fsz = os.path.getsize(g.bases["vpcfix"])
    g.poked("Q16-vpc", "vpcfix", "vpcfix-size-past", [(fsz - 512 + 48, be("Q", 1 << 40))],
            vhd_fix, fmt="vpc")
    g.mutated("Q21-mutations", "vpc", 15, bat + 512, vhd_fix)


def gen_vmdk(g):
    p = g.base("vmdk", "vmdk", 64 * MiB, "", SCATTER)
    src = make_raw(g.d, "base-vmdks.raw", 64 * MiB, SCATTER)
    g.bases["vmdks"] = convert(g.d, "base-vmdks", src, "vmdk", "subformat=streamOptimized").path
    gd = u_le(p, 56, "Q") * 512
    gt = u_le(p, gd, "I") * 512
    size = os.path.getsize(p)
    g.truncated("Q1-truncated", "vmdk", [0, 3, 4, 80, 511, 512, 1024, gd + 4, gt + 4, size - 1])
    for v in [0, 1, 3, 1 << 63, 1 << 40]:
        g.poked("Q15-vmdk", "vmdk", f"vmdk-grain{v:x}", [(20, le("Q", v))])
    for v in [0, 0xFFFFFFFF, 1, 1 << 20]:
        g.poked("Q15-vmdk", "vmdk", f"vmdk-gtes{v:x}", [(44, le("I", v))])
    for v in [1 << 40, 0, 3]:
        g.poked("Q15-vmdk", "vmdk", f"vmdk-gd{v:x}", [(56, le("Q", v))])
    g.poked("Q15-vmdk", "vmdk", "vmdk-gd-alias", [(gd + 4 * i, le("I", gt // 512))
                                                    for i in range(8)])
    g.poked("Q15-vmdk", "vmdk", "vmdk-gt-past-eof", [(gd, le("I", 0x7FFFFFFF))])
    g.poked("Q15-vmdk", "vmdk", "vmdk-grain-past-eof", [(gt, le("I", 0x7FFFFFFF))])
    for v in [(1 << 64) - 1, 1 << 62, 0]:
        g.poked("Q15-vmdk", "vmdk", f"vmdk-capacity{v:x}", [(12, le("Q", v))])
    for name, off, size_ in [("desc-off", 7, 1), ("desc-huge", 1, 2048), ("desc-past", 1 << 30, 20)]:
        g.poked("Q15-vmdk", "vmdk", f"vmdk-{name}", [(28, le("QQ", off, size_))])
    desc = read(p, 512, 1024)
    g.poked("Q15-vmdk", "vmdk", "vmdk-desc-nul", [(512, desc.replace(b"createType", b"create\0ype"))])
    g.poked("Q15-vmdk", "vmdk", "vmdk-desc-garbage", [(512, bytes(range(128, 256)) * 4)])
    g.poked("Q15-vmdk", "vmdk", "vmdk-desc-flat",
            [(512, desc.replace(b"SPARSE", b"FLAT  ").replace(b'"monolithicSparse"',
                                                              b'"monolithicFlat"  '))])
    g.poked("Q15-vmdk", "vmdk", "vmdk-version9", [(4, le("I", 9))])
    g.poked("Q15-vmdk", "vmdk", "vmdk-flags-unknown", [(8, le("I", 0xFFFFFFFF))])
    ps = g.bases["vmdks"]
    ssize = os.path.getsize(ps)
    g.truncated("Q15-vmdk", "vmdks", [ssize - 1024, ssize - 512, ssize - 1536, 65536 + 100])
    g.poked("Q15-vmdk", "vmdks", "vmdks-footer-garbled", [(ssize - 1024, b"\xff" * 512)])
    g.poked("Q15-vmdk", "vmdks", "vmdks-marker-huge", [(65536 + 8, le("I", 0xFFFFFFFF))])
    g.mutated("Q21-mutations", "vmdk", 15, 1536)
    g.mutated("Q21-mutations", "vmdks", 10, 4096)
    # A text descriptor naming files outside the image directory.
    for i, (kind, target) in enumerate([("FLAT", "/etc/passwd"), ("SPARSE", "../../etc/shadow"),
                                        ("VMFS", "/dev/zero"), ("FLAT", "nbd://127.0.0.1/x")]):
        path = os.path.join(g.d, f"vmdk-desc-ext{i}.vmdk")
        with open(path, "w") as f:
            f.write('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                    f'createType="monolithicFlat"\nRW 2048 {kind} "{target}" 0\n')
        g.add("Q12-external-names", f"vmdk-desc-ext{i}", path)


def gen_vhdx(g):
    p = g.base("vhdx", "vhdx", 64 * MiB, "", SCATTER)
    regions = vhdx_regions(p)
    bat_entry, bat_off, _ = regions[VHDX_BAT]
    meta_entry, meta_off, _ = regions[VHDX_META]
    size = os.path.getsize(p)
    g.truncated("Q1-truncated", "vhdx", [0, 8, 65536, 65536 + 100, 128 * KiB, 192 * KiB + 10,
                                         320 * KiB, meta_off + 10, bat_off + 8, size - 1])
    # Headers: one or both CRCs wrong, conflicting sequence numbers.
    g.poked("Q17-vhdx", "vhdx", "vhdx-h1-crc", [(64 * KiB + 4, le("I", 1))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-h12-crc", [(64 * KiB + 4, le("I", 1)),
                                                  (128 * KiB + 4, le("I", 1))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-seq-equal", [(64 * KiB + 8, le("Q", 7)),
                                                    (128 * KiB + 8, le("Q", 7))], vhdx_fix)
    g.poked("Q17-vhdx", "vhdx", "vhdx-r1-crc", [(192 * KiB + 4, le("I", 1))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-r12-crc", [(192 * KiB + 4, le("I", 1)),
                                                  (256 * KiB + 4, le("I", 1))])
    for v in [2048, 0xFFFFFFFF, 0]:
        g.poked("Q17-vhdx", "vhdx", f"vhdx-regions{v:x}",
                [(192 * KiB + 8, le("I", v)), (256 * KiB + 8, le("I", v))], vhdx_fix)
    for name, off in [("bat", bat_entry), ("meta", meta_entry)]:
        for v in [1 << 40, 12345]:
            g.poked("Q17-vhdx", "vhdx", f"vhdx-{name}-off{v:x}",
                    [(off + 16, le("Q", v)), (off - 192 * KiB + 256 * KiB + 16, le("Q", v))],
                    vhdx_fix)
    e, data = vhdx_item(p, "params")
    for v in [0, 3 * MiB, 512 * MiB, 1 << 31]:
        g.poked("Q17-vhdx", "vhdx", f"vhdx-bs{v:x}", [(data, le("I", v))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-has-parent", [(data + 4, le("I", 2))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-params-past", [(e + 16, le("I", 1 << 30))])
    _, data = vhdx_item(p, "logical")
    for v in [1234, 0, 4096]:
        g.poked("Q17-vhdx", "vhdx", f"vhdx-lss{v}", [(data, le("I", v))])
    _, data = vhdx_item(p, "size")
    for v in [(1 << 64) - 1, 0, 1 << 46, 1000001]:
        g.poked("Q17-vhdx", "vhdx", f"vhdx-vsize{v:x}", [(data, le("Q", v))])
    e, _ = vhdx_item(p, "size")
    g.poked("Q17-vhdx", "vhdx", "vhdx-item-missing", [(e, bytes(16))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-item-dup", [(e, VHDX_ITEMS["params"])])
    g.poked("Q17-vhdx", "vhdx", "vhdx-meta-count", [(meta_off + 10, le("H", 0xFFFF))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-bat-past-eof", [(bat_off, le("Q", (1 << 40) | 6))])
    g.poked("Q17-vhdx", "vhdx", "vhdx-bat-alias",
            [(bat_off + 8 * i, read(p, bat_off, 8)) for i in range(16)])
    # A log that would need replaying: a log GUID in the current header.
    g.poked("Q17-vhdx", "vhdx", "vhdx-log", [(64 * KiB + 48, b"\x11" * 16),
                                              (128 * KiB + 48, b"\x11" * 16)], vhdx_fix)
    g.mutated("Q21-mutations", "vhdx", 15, 320 * KiB, vhdx_fix)


def gen_others(g):
    # qcow (v1)
    p = g.base("qcow", "qcow", 64 * MiB, "", SCATTER)
    l1 = u_be(p, 40, "Q")
    g.truncated("Q1-truncated", "qcow", [0, 4, 47, 48, l1 + 8, os.path.getsize(p) - 1])
    for name, off, data in [("version3", 4, be("I", 3)), ("cbits8", 32, b"\x08"),
                            ("cbits17", 32, b"\x11"), ("l2bits20", 33, b"\x14"),
                            ("crypt2", 36, be("I", 2)), ("crypt1", 36, be("I", 1)),
                            ("size-huge", 24, be("Q", 1 << 62)), ("size1", 24, be("Q", 1)),
                            ("l1-past", 40, be("Q", 1 << 40)), ("backing-long", 8, be("QI", 48, 5000)),
                            ("l2-alias", l1, be("Q", u_be(p, l1, "Q")) * 16)]:
        g.poked("Q19-qcow", "qcow", f"qcow-{name}", [(off, data)])
    g.mutated("Q21-mutations", "qcow", 8, 4096)
    # qed
    p = g.base("qed", "qed", 64 * MiB, "", SCATTER)
    g.truncated("Q1-truncated", "qed", [0, 3, 64, 4096, os.path.getsize(p) // 2])
    for name, off, data in [("cs0", 4, le("I", 0)), ("cs3000", 4, le("I", 3000)),
                            ("ts0", 8, le("I", 0)), ("ts3", 8, le("I", 3)),
                            ("hs-huge", 12, le("I", 0xFFFFFFFF)), ("feat", 16, le("Q", 1 << 20)),
                            ("l1-past", 40, le("Q", 1 << 40)), ("l1-odd", 40, le("Q", 4097)),
                            ("size-huge", 48, le("Q", 1 << 62)), ("size-odd", 48, le("Q", 1000001)),
                            ("backing", 16, le("Q", 1) + bytes(32) + le("II", 64, 0x7FFFFFFF))]:
        g.poked("Q19-qed", "qed", f"qed-{name}", [(off, data)])
    g.mutated("Q21-mutations", "qed", 8, 4096)
    # vdi
    p = g.base("vdi", "vdi", 64 * MiB, "", SCATTER)
    g.truncated("Q1-truncated", "vdi", [0, 64, 400, 512, 600, os.path.getsize(p) - 1])
    for name, off, data in [("version", 68, le("I", 0x00020000)), ("bmap-odd", 340, le("I", 7)),
                            ("bmap-past", 340, le("I", 0x7FFFFE00)), ("data-odd", 344, le("I", 3)),
                            ("sector", 360, le("I", 4096)), ("disk-huge", 368, le("Q", 1 << 62)),
                            ("block", 376, le("I", 4096)), ("blocks-huge", 384, le("I", 0x7FFFFFFF)),
                            ("blocks0", 384, le("I", 0)), ("parent", 440, b"\x01" * 16),
                            ("entry-huge", 512, le("I", 0x7FFFFFF0))]:
        g.poked("Q19-vdi", "vdi", f"vdi-{name}", [(off, data)])
    g.mutated("Q21-mutations", "vdi", 8, 1024)
    # parallels
    p = g.base("prl", "parallels", 64 * MiB, "", SCATTER)
    g.truncated("Q1-truncated", "prl", [0, 16, 63, 64, 100, os.path.getsize(p) - 1])
    for name, off, data in [("tracks0", 28, le("I", 0)), ("tracks-huge", 28, le("I", 0x7FFFFFFF)),
                            ("bat-huge", 32, le("I", 0x7FFFFFFF)), ("bat-past", 32, le("I", 1 << 24)),
                            ("sectors-huge", 36, le("Q", 1 << 62)),
                            ("sectors-neg", 36, le("Q", (1 << 64) - 512)),
                            ("ext-past", 56, le("Q", 1 << 40)), ("ext-here", 56, le("Q", 1)),
                            ("entry-huge", 64, le("I", 0xFFFFFFFF))]:
        g.poked("Q19-parallels", "prl", f"prl-{name}", [(off, data)])
    g.mutated("Q21-mutations", "prl", 8, 1024)
    # luks (needs the secret)
    path = os.path.join(g.d, "base-luks")
    sh(["qemu-img", "create", "-q", "--object", SECRET, "-f", "luks", "-o",
        "key-secret=sec0,iter-time=10", path, "4M"])
    g.bases["luks"] = path
    for name, off, data in [("version", 6, be("H", 2)), ("cipher", 8, b"nosuch\0"),
                            ("mode", 40, b"cbc-plain\0"), ("hash", 72, b"md4\0"),
                            ("payload0", 104, be("I", 0)), ("payload-huge", 104, be("I", 0xFFFFFFFF)),
                            ("keybytes", 108, be("I", 7)), ("iters0", 164, be("I", 0)),
                            ("slot-stripes", 208 + 44, be("I", 1)),
                            ("slot-state", 208, be("I", 0x12345678)),
                            ("slot-overlap", 208 + 40, be("I", 1))]:
        p2 = g.copy("luks", f"luks-{name}")
        poke(p2, off, data)
        g.add("Q19-luks", f"luks-{name}", p2,
              ["--object", SECRET, "--image-opts",
               f"driver=luks,file.filename={p2},key-secret=sec0"])
    # Formats instar does not parse: bochs, cloop, dmg.
    for name, data in [("bochs", b"Bochs Virtual HD Image\0" + bytes(9) + b"Redolog\0" +
                        bytes(8) + b"Growing\0" + bytes(8) + le("I", 0x00020000)),
                       ("cloop", b"#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r"
                        b" -t iso9660 /dev/cloop $1\n"),
                       ("dmg", bytes(512))]:
        path = os.path.join(g.d, f"fmt-{name}")
        with open(path, "wb") as f:
            f.write(data.ljust(4096, b"\0"))
            if name == "dmg":
                f.seek(4096 - 512)
                f.write(b"koly" + bytes(508))
        g.add("Q19-out-of-scope", f"fmt-{name}", path)
        g.add("Q19-out-of-scope", f"fmt-{name}-f", path, ["-f", name, path])
    # qemu probes a plain name ending in ".dmg" as dmg, over raw only.
    path = os.path.join(g.d, "named.dmg")
    with open(path, "wb") as f:
        f.write(b"\x61" * 4096)
    g.add("Q19-out-of-scope", "raw-named-dmg", path)
    g.add("Q19-out-of-scope", "raw-named-dmg-f", path, ["-f", "raw", path])
    g.add("Q19-out-of-scope", "raw-named-dmg-opts", path,
          ["--image-opts", f"file.filename={path}"])


def gen_raw(g):
    for n in [0, 1, 511, 513]:
        img = make_raw(g.d, f"raw-{n}", n, [(0, n, 0x61)] if n else [])
        g.add("Q18-raw", f"raw-{n}", img.path)
    img = make_raw(g.d, "raw-8t", 8 * TiB, [(5 * TiB, 4 * KiB, 1)])
    g.add("Q18-raw", "raw-8t", img.path)
    path = os.path.join(g.d, "raw-extents")
    with open(path, "wb") as f:
        for i in range(10000):
            f.seek(i * 8 * KiB)
            f.write(b"\x42" * 4 * KiB)
    g.add("Q18-raw", "raw-extents", path)
    # Not regular files: qemu-img would block on the FIFO.
    fifo = os.path.join(g.d, "fifo")
    os.mkfifo(fifo)
    g.add("Q18-non-files", "fifo", fifo, qemu=False)
    g.add("Q18-non-files", "dev-zero", "/dev/zero", qemu=False)
    g.add("Q18-non-files", "dev-null", "/dev/null", qemu=False)
    sub = os.path.join(g.d, "a-directory")
    os.mkdir(sub)
    g.add("Q18-non-files", "directory", sub, qemu=False)
    loop = os.path.join(g.d, "loop")
    os.symlink(loop, loop)
    g.add("Q18-non-files", "symlink-loop", loop, qemu=False)
    g.add("Q18-non-files", "missing", os.path.join(g.d, "no-such-file"), qemu=False)
    sock = os.path.join(g.d, "socket")
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock)
    s.close()
    g.add("Q18-non-files", "socket", sock, qemu=False)


def generate(d):
    g = Gen(d)
    gen_qcow2(g)
    gen_vpc(g)
    gen_vmdk(g)
    gen_vhdx(g)
    gen_others(g)
    gen_raw(g)
    return g.cases
