"""corpus.py: source images for the functional tests and the benchmark,
generated with qemu-img and qemu-io (never stored in the repository).

Each image is a recipe: a format, creation options, a size and a list of
qemu-io writes.  Images are made sparse afterwards (`cp --sparse=always`),
because qemu fills copy-on-write areas with fallocate(ZERO_RANGE), which a
file system may report as data or hole depending on its page cache
(qemu-img-measure.md §9.3).
"""
import os
import shutil
import subprocess

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
SECRET = "secret,id=sec0,data=password"


def sh(argv, cwd=None):
    for _ in range(40):
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        # qemu-img's PBKDF benchmark fails at random on fast CPUs: noise.
        if "Unable to get accurate CPU usage" not in p.stderr:
            break
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip()}")
    return p.stdout


class Image:
    """One generated source image and how to name it on the command line."""

    def __init__(self, name, path, args=None, fmt=None, kind="plain"):
        self.name = name
        self.path = path
        self.fmt = fmt        # the -f value tests may pin
        self.kind = kind      # plain, secret (needs --object), snapshots, bitmaps
        self.args = args or [path]  # measure arguments that name the source

    def __repr__(self):
        return self.name


def qemu_io(fmt, path, cmds, extra=()):
    argv = ["qemu-io", "-f", fmt] + list(extra)
    for c in cmds:
        argv += ["-c", c]
    sh(argv + [path])


def sparsify(path):
    tmp = path + ".sparse"
    sh(["cp", "--sparse=always", path, tmp])
    os.replace(tmp, path)


# Write patterns: (offset, length, pattern) or ("zero", offset, length) or
# ("discard", offset, length); offsets may be negative (from the end).
SCATTERED = [(0, 4 * KiB, 0x11), (MiB + 4 * KiB, 8 * KiB, 0x22), (5 * MiB + 7, 70000, 0x33),
             (-8 * KiB, 4 * KiB, 0x44)]
DENSE = [(0, -1, 0x55)]


def _writes(pattern, size):
    cmds = []
    for w in pattern:
        if w[0] in ("zero", "discard"):
            op, off, length = w
        else:
            off, length, byte = w
        if off < 0:
            off = max(0, size + off)
        if length < 0:
            length = size - off
        length = min(length, size - off)
        if length <= 0:
            continue
        if w[0] == "zero":
            cmds.append(f"write -z {off} {length}")
        elif w[0] == "discard":
            cmds.append(f"discard {off} {length}")
        else:
            cmds.append(f"write -P {w[2]} {off} {length}")
    return cmds


def make_raw(d, name, size, pattern=()):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.truncate(size)
    for w in pattern:
        off, length, byte = w
        if off < 0:
            off = max(0, size + off)
        if length < 0:
            length = size - off
        length = min(length, size - off)
        with open(path, "r+b") as f:
            f.seek(off)
            left = length
            while left > 0:
                n = min(left, 8 * MiB)
                f.write(bytes([byte]) * n)
                left -= n
    return Image(name, path, fmt="raw")


def make(d, name, fmt, size, opts="", pattern=(), extra_create=(), kind="plain"):
    path = os.path.join(d, name)
    argv = ["qemu-img", "create", "-q", "-f", fmt] + list(extra_create)
    if opts:
        argv += ["-o", opts]
    sh(argv + [path, str(size)])
    cmds = _writes(pattern, size)
    if cmds:
        qemu_io(fmt, path, cmds)
    sparsify(path)
    return Image(name, path, fmt=fmt, kind=kind)


def convert(d, name, src, fmt, opts="", compress=False):
    path = os.path.join(d, name)
    argv = ["qemu-img", "convert", "-O", fmt]
    if compress:
        argv.append("-c")
    if opts:
        argv += ["-o", opts]
    sh(argv + [src.path, path])
    sparsify(path)
    return Image(name, path, fmt=fmt)


def generate(d):
    """Build the corpus in directory `d`; returns the list of Images."""
    imgs = []
    # raw
    imgs.append(make_raw(d, "raw-empty.raw", 0))
    imgs.append(make_raw(d, "raw-1byte.raw", 1, [(0, 1, 0x61)]))
    imgs.append(make_raw(d, "raw-odd.raw", 1000000007 % (8 * MiB), [(0, 3000, 0x62)]))
    imgs.append(make_raw(d, "raw-dense.raw", 3 * MiB + 12345, DENSE))
    imgs.append(make_raw(d, "raw-zeros.raw", 2 * MiB, [(0, -1, 0)]))
    imgs.append(make_raw(d, "raw-sparse256m.raw", 256 * MiB,
                         [(0, 4 * KiB, 1), (MiB + 4 * KiB, 8 * KiB, 2), (64 * MiB - 4 * KiB, 8 * KiB, 3),
                          (100 * MiB, MiB, 4), (130 * MiB + 60 * KiB, 12 * KiB, 5),
                          (200 * MiB, 2 * MiB + 4 * KiB, 6), (256 * MiB - 4 * KiB, 4 * KiB, 7)]))
    imgs.append(make_raw(d, "raw-3t.raw", 3 * TiB,
                         [(i * 97 * GiB + 12345, 4 * KiB, 8) for i in range(31)]))
    # qcow2: versions, every cluster size, refcount widths, extended L2, ...
    for cs in ["512", "1k", "4k", "16k", "64k", "256k", "1M", "2M"]:
        imgs.append(make(d, f"q2-cs{cs}.qcow2", "qcow2", 64 * MiB, f"cluster_size={cs}",
                         SCATTERED))
    for bits in [1, 2, 4, 8, 32, 64]:
        imgs.append(make(d, f"q2-rc{bits}.qcow2", "qcow2", 32 * MiB, f"refcount_bits={bits}",
                         SCATTERED))
    imgs.append(make(d, "q2-empty.qcow2", "qcow2", GiB))
    imgs.append(make(d, "q2-v2.qcow2", "qcow2", 64 * MiB, "compat=0.10", SCATTERED))
    imgs.append(make(d, "q2-v2-empty.qcow2", "qcow2", 64 * MiB, "compat=0.10"))
    imgs.append(make(d, "q2-1byte.qcow2", "qcow2", 1, "", [(0, 1, 0x61)]))
    imgs.append(make(d, "q2-odd.qcow2", "qcow2", 1000000007, "", SCATTERED))
    imgs.append(make(d, "q2-dense.qcow2", "qcow2", 16 * MiB, "", DENSE))
    imgs.append(make(d, "q2-zero.qcow2", "qcow2", 64 * MiB, "",
                     SCATTERED + [("zero", 0, 2 * MiB), ("zero", 32 * MiB, 64 * KiB)]))
    imgs.append(make(d, "q2-v2-zero.qcow2", "qcow2", 64 * MiB, "compat=0.10",
                     SCATTERED + [("zero", 0, 2 * MiB)]))
    imgs.append(make(d, "q2-discard.qcow2", "qcow2", 64 * MiB, "",
                     [(0, 8 * MiB, 9), ("discard", 2 * MiB, 2 * MiB)]))
    imgs.append(make(d, "q2-extl2.qcow2", "qcow2", 64 * MiB, "extended_l2=on",
                     [(0, 4 * KiB, 1), (70 * KiB, 3 * KiB, 2), (MiB + 2048, 512, 3)]))
    imgs.append(make(d, "q2-extl2-2m.qcow2", "qcow2", 256 * MiB,
                     "extended_l2=on,cluster_size=2M", SCATTERED + [("zero", 64 * MiB, 64 * KiB)]))
    imgs.append(make(d, "q2-lazy.qcow2", "qcow2", 64 * MiB, "lazy_refcounts=on", SCATTERED))
    for p in ["metadata", "falloc", "full"]:
        imgs.append(make(d, f"q2-prealloc-{p}.qcow2", "qcow2", 16 * MiB,
                         f"preallocation={p}", SCATTERED))
    imgs.append(make(d, "q2-3t.qcow2", "qcow2", 3 * TiB, "",
                     [(i * 97 * GiB + 12345, 4 * KiB, 8) for i in range(31)]))
    imgs.append(make(d, "q2-1p.qcow2", "qcow2", 1 << 50, "cluster_size=2M",
                     [(0, 4 * KiB, 1), ((1 << 50) - 4 * KiB, 4 * KiB, 2)]))
    src = make_raw(d, "src-for-compress.raw", 8 * MiB, [(0, 3 * MiB, 0x77), (5 * MiB, MiB, 0)])
    imgs.append(convert(d, "q2-compressed.qcow2", src, "qcow2", compress=True))
    imgs.append(convert(d, "q2-converted.qcow2", src, "qcow2", "cluster_size=4k"))
    bm = make(d, "q2-bitmaps.qcow2", "qcow2", GiB, "", SCATTERED, kind="bitmaps")
    for gran, name in [("64K", "b1"), ("512", "b2"), ("2M", "b3"), ("64K", "b" * 75)]:
        sh(["qemu-img", "bitmap", "--add", "-g", gran, bm.path, name])
    imgs.append(bm)
    bm2 = make(d, "q2-bitmap-disabled.qcow2", "qcow2", 100 * MiB, "cluster_size=512",
               SCATTERED, kind="bitmaps")
    sh(["qemu-img", "bitmap", "--add", "-g", "4K", "--disable", bm2.path, "off"])
    imgs.append(bm2)
    snap = make(d, "q2-snapshots.qcow2", "qcow2", 64 * MiB, "", [(0, MiB, 1)], kind="snapshots")
    sh(["qemu-img", "snapshot", "-c", "first", snap.path])
    qemu_io("qcow2", snap.path, ["write -P 2 8M 4M"])
    sh(["qemu-img", "snapshot", "-c", "second", snap.path])
    sh(["qemu-img", "resize", "-q", snap.path, "128M"])
    qemu_io("qcow2", snap.path, ["write -P 3 100M 1M"])
    sparsify(snap.path)
    imgs.append(snap)
    enc = os.path.join(d, "q2-luks.qcow2")
    sh(["qemu-img", "create", "-q", "--object", SECRET, "-f", "qcow2", "-o",
        "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", enc, "32M"])
    imgs.append(Image("q2-luks.qcow2", enc, fmt="qcow2", kind="encrypted"))
    # vmdk
    for sub in ["monolithicSparse", "streamOptimized"]:
        imgs.append(make(d, f"vmdk-{sub}-empty.vmdk", "vmdk", GiB, f"subformat={sub}"))
    imgs.append(make(d, "vmdk-sparse.vmdk", "vmdk", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "vmdk-sparse-odd.vmdk", "vmdk", 1000000007, "", SCATTERED))
    imgs.append(make(d, "vmdk-sparse-3t.vmdk", "vmdk", 3 * TiB, "",
                     [(i * 97 * GiB + 12345, 4 * KiB, 8) for i in range(31)]))
    imgs.append(make(d, "vmdk-zeroed.vmdk", "vmdk", 64 * MiB, "zeroed_grain=on",
                     SCATTERED + [("zero", 10 * MiB, MiB)]))
    imgs.append(convert(d, "vmdk-stream.vmdk", src, "vmdk", "subformat=streamOptimized"))
    # vpc
    imgs.append(make(d, "vpc-dynamic.vhd", "vpc", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "vpc-dynamic-odd.vhd", "vpc", 1000000007, "", SCATTERED))
    imgs.append(make(d, "vpc-dynamic-force.vhd", "vpc", 100 * MiB, "force_size=on", SCATTERED))
    imgs.append(make(d, "vpc-dynamic-empty.vhd", "vpc", GiB))
    fixed = make(d, "vpc-fixed.vhd", "vpc", 32 * MiB, "subformat=fixed", SCATTERED)
    imgs.append(fixed)
    imgs.append(make(d, "vpc-fixed-force.vhd", "vpc", 32 * MiB, "subformat=fixed,force_size=on",
                     SCATTERED))
    # vhdx
    imgs.append(make(d, "vhdx-dynamic.vhdx", "vhdx", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "vhdx-dynamic-empty.vhdx", "vhdx", GiB))
    imgs.append(make(d, "vhdx-bs1m.vhdx", "vhdx", 100 * MiB, "block_size=1M", SCATTERED))
    imgs.append(make(d, "vhdx-fixed.vhdx", "vhdx", 32 * MiB, "subformat=fixed", SCATTERED))
    imgs.append(make(d, "vhdx-odd.vhdx", "vhdx", 1000000007, "", SCATTERED))
    # qcow (v1), qed, vdi, parallels
    imgs.append(make(d, "qcow1.qcow", "qcow", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "qcow1-empty.qcow", "qcow", GiB))
    imgs.append(make(d, "qed.qed", "qed", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "qed-zero.qed", "qed", 64 * MiB, "cluster_size=4k",
                     SCATTERED + [("zero", 0, MiB)]))
    imgs.append(make(d, "qed-empty.qed", "qed", 10 * GiB))
    imgs.append(make(d, "vdi.vdi", "vdi", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "vdi-static.vdi", "vdi", 16 * MiB, "static=on", SCATTERED))
    imgs.append(make(d, "vdi-empty.vdi", "vdi", GiB))
    imgs.append(make(d, "parallels.img", "parallels", 64 * MiB, "", SCATTERED))
    imgs.append(make(d, "parallels-empty.img", "parallels", GiB))
    imgs.append(make(d, "parallels-cs.img", "parallels", 64 * MiB, "cluster_size=64k", SCATTERED))
    # Sizes and patterns across every format: 1 byte, odd, dense, large
    # sparse, zero-only writes.
    for fmt, ext in [("vmdk", "vmdk"), ("vpc", "vhd"), ("vhdx", "vhdx"), ("qcow", "qcow"),
                     ("qed", "qed"), ("vdi", "vdi"), ("parallels", "img"), ("qcow2", "qcow2")]:
        imgs.append(make(d, f"v-{fmt}-1byte.{ext}", fmt, 1, "", [(0, 1, 0x61)]))
        imgs.append(make(d, f"v-{fmt}-odd.{ext}", fmt, 12345679, "", SCATTERED))
        imgs.append(make(d, f"v-{fmt}-dense.{ext}", fmt, 8 * MiB + 512, "", DENSE))
        imgs.append(make(d, f"v-{fmt}-100g.{ext}", fmt, 100 * GiB, "",
                         [(i * 7 * GiB + 4097, 12 * KiB, 9) for i in range(14)]))
        imgs.append(make(d, f"v-{fmt}-zeros.{ext}", fmt, 64 * MiB, "",
                         [("zero", 0, 4 * MiB), (8 * MiB, 4 * KiB, 1), ("zero", 16 * MiB, MiB)]))
    # luks
    luks = os.path.join(d, "disk.luks")
    sh(["qemu-img", "create", "-q", "--object", SECRET, "-f", "luks", "-o",
        "key-secret=sec0,iter-time=10", luks, "16M"])
    imgs.append(Image("disk.luks", luks, fmt="luks", kind="encrypted"))
    return imgs


def with_variants(imgs):
    """The same images under other names: -f pinned, --image-opts, json:."""
    out = []
    for img in imgs:
        out.append(img)
        if img.kind == "plain" and img.fmt is not None:
            out.append(Image(img.name + " -f", img.path, ["-f", img.fmt, img.path], img.fmt))
    raw = next(i for i in imgs if i.name == "raw-sparse256m.raw")
    q2 = next(i for i in imgs if i.name == "q2-cs64k.qcow2")
    out.append(Image("image-opts raw window", raw.path,
                     ["--image-opts", f"driver=raw,file.filename={raw.path},offset=1M,size=128M"]))
    out.append(Image("image-opts qcow2", q2.path,
                     ["--image-opts", f"driver=qcow2,file.filename={q2.path}"]))
    out.append(Image("json qcow2", q2.path,
                     [f'json:{{"driver":"qcow2","file":{{"driver":"file",'
                      f'"filename":"{q2.path}"}}}}']))
    out.append(Image("fixed vpc as raw", next(i for i in imgs if i.name == "vpc-fixed.vhd").path,
                     [next(i for i in imgs if i.name == "vpc-fixed.vhd").path]))
    return out
