#!/usr/bin/env python3
"""test_chains.py: backing chains and the path policy (docs/security.md).

Side by side with qemu-img (stdout and exit status identical, stderr
identical after the program name), on chains generated with qemu-img and
written with qemu-io:
  - chains of 2 over every pair (overlay format that records a backing file
    x backing format), with data in both layers, an overlay larger than its
    backing file, and data past the backing file's end;
  - chains of 3 with mixed formats, and a chain of 16 images;
  - a missing link (top and middle), a corrupt link, names relative to the
    referring image from another working directory, backing=null, and
    -o backing_file on the target;
  - qcow2 external data files (plain, data_file_raw, extended L2), a data
    file under an overlay, missing data files (the image's and a backing
    file's), an absolute data file name outside the policy and allowed;
  - vmdk descriptors naming extent files (monolithicFlat,
    twoGbMaxExtentSparse, twoGbMaxExtentFlat), an extent overlay over a
    backing file, a missing extent, extents outside the policy.
And the cases qemu-img handles but instar refuses by policy, each with one
clear line and exit status 1: a loop (a -> b -> a; qemu-img hangs), a chain
of 17 images, names outside the allowed directories (absolute, ../, a
symbolic link), protocol and json: names.  --allow-path lets a refused
directory in (then equal to qemu-img).  Under strace, instar touches no path
outside the allowed directories, whatever the images name.
Needs /dev/kvm and strace (fails loudly without them).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_common import compare, kvm_available, run, strace_paths  # noqa: E402

# Formats whose images record a backing file, and formats a backing file
# may have.
OVERLAYS = ["qcow2", "qcow", "qed", "vmdk"]
BACKINGS = ["raw", "qcow2", "qcow", "qed", "vmdk", "vpc", "vhdx", "vdi", "parallels"]
TARGETS = [["-O", "raw"], ["-O", "qcow2"], ["-O", "qcow2", "-o", "cluster_size=4096"],
           ["-O", "qcow2", "--output=json"]]
MiB = 1 << 20


def sh(argv, cwd=None):
    p = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip()}")


def create(path, fmt, size, backing=None, backing_fmt=None, cwd=None):
    """qemu-img create; False when qemu-img cannot make that pair."""
    argv = ["qemu-img", "create", "-q", "-f", fmt]
    if backing is not None:
        argv += ["-u", "-b", backing]
        if backing_fmt is not None:
            argv += ["-F", backing_fmt]
    argv += [path, str(size)]
    p = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    return p.returncode == 0


def write(path, fmt, offset, length, pattern):
    sh(["qemu-io", "-f", fmt, "-c", f"write -P {pattern} {offset} {length}", path])


class Checker:
    def __init__(self, instar):
        self.instar = instar
        self.checks = 0
        self.problems = []

    def same(self, label, args, cwd=None):
        self.checks += 1
        for d in compare(self.instar, args, cwd=cwd):
            self.problems.append(f"{label}: measure {' '.join(args)}: {d}")

    def refused(self, label, args, pattern, cwd=None):
        """instar fails with exit 1 and one line matching `pattern`."""
        self.checks += 1
        p, _ = run([os.path.abspath(self.instar), "measure"] + args, cwd=cwd, timeout=60)
        lines = p.stderr.splitlines()
        if p.returncode != 1 or p.stdout or len(lines) != 1 or not re.search(pattern, lines[0]):
            self.problems.append(f"{label}: want a refusal matching {pattern!r}, got exit "
                                 f"{p.returncode}, stdout {p.stdout!r}, stderr {p.stderr!r}")


def pairs(c, d):
    """Chains of 2: every overlay format over every backing format."""
    made = 0
    for top in OVERLAYS:
        for base in BACKINGS:
            sub = os.path.join(d, f"pair-{top}-{base}")
            os.mkdir(sub)
            b = os.path.join(sub, f"base.{base}")
            t = os.path.join(sub, f"top.{top}")
            if not create(b, base, 32 * MiB):
                continue
            write(b, base, 0, MiB, 1)
            write(b, base, 8 * MiB, 3 * MiB, 2)
            # The overlay is larger than its backing file; it names it
            # relative to its own directory.
            if not create(t, top, 48 * MiB, f"base.{base}", base):
                continue
            write(t, top, 8 * MiB + 65536, 65536, 3)
            write(t, top, 40 * MiB, MiB, 4)  # past the backing file's end
            made += 1
            for tg in TARGETS:
                c.same(f"pair {top}/{base}", tg + [t])
            c.same(f"pair {top}/{base} pinned", ["-O", "qcow2", "-f", top, t])
    if made < len(OVERLAYS) * 4:
        c.problems.append(f"only {made} overlay/backing pairs could be created")
    return made


def chains(c, d):
    sub = os.path.join(d, "chain3")
    os.mkdir(sub)
    j = lambda n: os.path.join(sub, n)  # noqa: E731
    # qcow2 -> vmdk -> vmdk (qemu-img makes vmdk over vmdk only) and
    # qed -> qcow2 -> qcow2, data on every level.
    create(j("r.vmdk"), "vmdk", 16 * MiB)
    write(j("r.vmdk"), "vmdk", 0, 2 * MiB, 1)
    create(j("m.vmdk"), "vmdk", 16 * MiB, "r.vmdk", "vmdk")
    write(j("m.vmdk"), "vmdk", 4 * MiB, MiB, 2)
    create(j("t.qcow2"), "qcow2", 32 * MiB, "m.vmdk", "vmdk")
    write(j("t.qcow2"), "qcow2", 20 * MiB, MiB, 3)
    for tg in TARGETS:
        c.same("chain qcow2/vmdk/vmdk", tg + [j("t.qcow2")])
    create(j("b.qcow2"), "qcow2", 16 * MiB)
    write(j("b.qcow2"), "qcow2", MiB, MiB, 1)
    create(j("m.qcow2"), "qcow2", 16 * MiB, "b.qcow2", "qcow2")
    sh(["qemu-io", "-f", "qcow2", "-c", "write -z 1M 512k", j("m.qcow2")])
    create(j("t.qed"), "qed", 16 * MiB, "m.qcow2", "qcow2")
    write(j("t.qed"), "qed", 8 * MiB, MiB, 5)
    for tg in TARGETS:
        c.same("chain qed/qcow2/qcow2", tg + [j("t.qed")])
    # backing=null cuts the chain; named relative from another directory.
    c.same("backing=null", ["-O", "qcow2", "--image-opts",
                            f"driver=qcow2,file.filename={j('t.qcow2')},backing="])
    c.same("json backing null", ["-O", "qcow2",
                                 'json:{"driver":"qed","backing":null,"file":{"driver":"file",'
                                 f'"filename":"{j("t.qed")}"}}}}'])
    c.same("relative from another cwd", ["-O", "qcow2", "chain3/t.qcow2"], cwd=d)
    # -o backing_file on the target, with a chain as the source.
    c.same("target backing_file", ["-O", "qcow2", "-o", "backing_file=x.qcow2", j("t.qed")])
    # A missing top link, a missing middle link, a corrupt link.
    create(j("miss.qcow2"), "qcow2", 16 * MiB, "nowhere.qcow2", "qcow2")
    c.same("missing link", ["-O", "qcow2", j("miss.qcow2")])
    create(j("miss2.qcow2"), "qcow2", 16 * MiB, "miss.qcow2", "qcow2")
    c.same("missing middle link", ["-O", "qcow2", j("miss2.qcow2")])
    create(j("bad.qcow2"), "qcow2", 16 * MiB)
    with open(j("bad.qcow2"), "r+b") as f:
        f.seek(4)
        f.write(b"\0\0\0\x09")
    create(j("badtop.qcow2"), "qcow2", 16 * MiB, "bad.qcow2", "qcow2")
    c.same("corrupt link", ["-O", "qcow2", j("badtop.qcow2")])
    os.mkdir(j("subdir"))
    create(j("dir.qcow2"), "qcow2", 16 * MiB, "subdir", "raw")
    c.same("a directory as backing file", ["-O", "qcow2", j("dir.qcow2")])
    # 16 images measure; 17 are refused.
    long = os.path.join(d, "long")
    os.mkdir(long)
    create(os.path.join(long, "l0.qcow2"), "qcow2", 8 * MiB)
    write(os.path.join(long, "l0.qcow2"), "qcow2", 0, 65536, 1)
    for i in range(1, 17):
        create(os.path.join(long, f"l{i}.qcow2"), "qcow2", 8 * MiB, f"l{i - 1}.qcow2", "qcow2")
    write(os.path.join(long, "l15.qcow2"), "qcow2", 4 * MiB, 65536, 2)
    c.same("chain of 16", ["-O", "qcow2", os.path.join(long, "l15.qcow2")])
    c.refused("chain of 17", ["-O", "qcow2", os.path.join(long, "l16.qcow2")],
              r"backing chain is longer than 16 images")
    # a -> b -> a: qemu-img recurses until it is killed.
    create(j("a.qcow2"), "qcow2", 8 * MiB, "b.qcow2", "qcow2")
    create(j("b.qcow2"), "qcow2", 8 * MiB, "a.qcow2", "qcow2")
    c.refused("loop", ["-O", "qcow2", j("a.qcow2")], r"backing chain loops back to")
    create(j("self.qcow2"), "qcow2", 8 * MiB, "self.qcow2", "qcow2")
    c.refused("self loop", [j("self.qcow2")], r"backing chain loops back to")


def data_files(c, d):
    """qcow2 external data files: qemu resolves their names against the
    working directory, so the tests run in the image's directory."""
    sub = os.path.join(d, "data")
    os.mkdir(sub)
    runs = [("plain", ""), ("raw", ",data_file_raw=on"), ("extl2", ",extended_l2=on"),
            ("raw-extl2", ",data_file_raw=on,extended_l2=on")]
    for name, opts in runs:
        img = f"{name}.qcow2"
        sh(["qemu-img", "create", "-q", "-f", "qcow2", "-o", f"data_file={name}.dat{opts}", img,
            "64M"], cwd=sub)
        for off, length in [(0, "1M"), ("10M", "64k"), ("33M", "8k")]:
            sh(["qemu-io", "-f", "qcow2", "-c", f"write -P 5 {off} {length}", img], cwd=sub)
        for tg in TARGETS:
            c.same(f"data file {name}", tg + [img], cwd=sub)
    # A backing file with a data file, under an overlay.
    create(os.path.join(sub, "over.qcow2"), "qcow2", 64 * MiB, "plain.qcow2", "qcow2")
    sh(["qemu-io", "-f", "qcow2", "-c", "write -P 6 20M 1M", "over.qcow2"], cwd=sub)
    c.same("overlay over a data-file image", ["-O", "qcow2", "over.qcow2"], cwd=sub)
    # Missing: the image's and the backing file's.
    sh(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=gone.dat", "gone.qcow2",
        "8M"], cwd=sub)
    os.unlink(os.path.join(sub, "gone.dat"))
    c.same("missing data file", ["-O", "qcow2", "gone.qcow2"], cwd=sub)
    create(os.path.join(sub, "over-gone.qcow2"), "qcow2", 8 * MiB, "gone.qcow2", "qcow2")
    c.same("missing data file of a backing file", ["-O", "qcow2", "over-gone.qcow2"], cwd=sub)
    # An errno error of a backing file names that file, not the data file
    # before it among the devices.
    sh(["qemu-img", "create", "-q", "-f", "vmdk", "nocid.vmdk", "8M"], cwd=sub)
    with open(os.path.join(sub, "nocid.vmdk"), "r+b") as f:
        raw = bytearray(f.read())
        for key in (b"CID=", b"parentCID="):
            at = raw.find(key)
            raw[at + len(key) - 4:at + len(key) - 1] = b"XID"
        f.seek(0)
        f.write(raw)
    sh(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-o", "data_file=don.dat", "-b",
        "nocid.vmdk", "-F", "vmdk", "dat-over-nocid.qcow2", "8M"], cwd=sub)
    c.same("errno error of a backing file after a data file",
           ["-O", "qcow2", "dat-over-nocid.qcow2"], cwd=sub)
    # Named from elsewhere: qemu looks in the working directory, instar's
    # policy refuses the place.
    c.refused("data file outside the policy", ["-O", "qcow2", "data/plain.qcow2"],
              r"outside the directories instar may open", cwd=d)
    # An absolute name in another directory, allowed with --allow-path.
    other = os.path.join(d, "data-other")
    os.mkdir(other)
    sh(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
        f"data_file={os.path.join(other, 'x.dat')}", "abs.qcow2", "8M"], cwd=sub)
    sh(["qemu-io", "-f", "qcow2", "-c", "write -P 1 0 64k", "abs.qcow2"], cwd=sub)
    c.refused("absolute data file outside", ["abs.qcow2"],
              r"outside the directories instar may open", cwd=sub)
    allowed = run([os.path.abspath(c.instar), "measure", "--allow-path", other, "abs.qcow2"],
                  cwd=sub)[0]
    want = run(["qemu-img", "measure", "abs.qcow2"], cwd=sub)[0]
    c.checks += 1
    if (allowed.returncode, allowed.stdout) != (0, want.stdout):
        c.problems.append(f"absolute data file with --allow-path: {allowed.returncode} "
                          f"{allowed.stdout!r} {allowed.stderr!r} != {want.stdout!r}")


def vmdk_extents(c, d):
    """vmdk descriptors naming extent files (relative to the descriptor)."""
    sub = os.path.join(d, "vmdk")
    os.mkdir(sub)
    j = lambda n: os.path.join(sub, n)  # noqa: E731
    for fmt, size in [("monolithicFlat", "64M"), ("twoGbMaxExtentSparse", "5G"),
                      ("twoGbMaxExtentFlat", "5G")]:
        img = j(f"{fmt}.vmdk")
        sh(["qemu-img", "create", "-q", "-f", "vmdk", "-o", f"subformat={fmt}", img, size])
        sh(["qemu-io", "-f", "vmdk", "-c", "write -P 1 1M 1M", "-c", "write -P 2 50M 64k", img])
        if size == "5G":
            sh(["qemu-io", "-f", "vmdk", "-c", "write -P 3 3G 128k", img])
        for tg in TARGETS:
            c.same(f"vmdk {fmt}", tg + [img])
        c.same(f"vmdk {fmt} from its directory", ["-O", "qcow2", os.path.basename(img)],
               cwd=sub)
    # 51 extent files: more than one run's worth of files of a short chain.
    sh(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
        j("big.vmdk"), "100G"])
    sh(["qemu-io", "-f", "vmdk", "-c", "write -P 1 1M 1M", "-c", "write -P 2 70G 64k",
        j("big.vmdk")])
    c.same("vmdk with 51 extent files", ["-O", "qcow2", j("big.vmdk")])
    # A chain: a twoGbMaxExtentSparse overlay over a monolithicSparse base.
    sh(["qemu-img", "create", "-q", "-f", "vmdk", j("base.vmdk"), "3G"])
    sh(["qemu-io", "-f", "vmdk", "-c", "write -P 4 2G 1M", j("base.vmdk")])
    sh(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b",
        "base.vmdk", "-F", "vmdk", j("over.vmdk")])
    sh(["qemu-io", "-f", "vmdk", "-c", "write -P 5 0 64k", j("over.vmdk")])
    c.same("vmdk extents over a backing file", ["-O", "qcow2", j("over.vmdk")])
    # A missing extent, and extents the policy refuses.
    with open(j("twoGbMaxExtentSparse.vmdk")) as f:
        text = f.read()
    with open(j("gone.vmdk"), "w") as f:
        f.write(text.replace("twoGbMaxExtentSparse-s002.vmdk", "nowhere-s002.vmdk"))
    c.same("missing extent", ["-O", "qcow2", j("gone.vmdk")])
    with open(j("out.vmdk"), "w") as f:
        f.write(text.replace('"twoGbMaxExtentSparse-s002.vmdk"', '"/etc/passwd"'))
    c.refused("extent outside the policy", ["-O", "qcow2", j("out.vmdk")],
              r"\(/etc/passwd\) is outside the directories instar may open")
    with open(j("up.vmdk"), "w") as f:
        f.write(text.replace('"twoGbMaxExtentSparse-s002.vmdk"', '"../x/s002.vmdk"'))
    c.refused("extent escaping with ../", ["-O", "qcow2", j("up.vmdk")],
              r"is outside the directories instar may open")


def policy(c, d):
    """Names outside the allowed directories: refused, unless allowed."""
    img = os.path.join(d, "img")
    other = os.path.join(d, "other")
    os.mkdir(img)
    os.mkdir(other)
    create(os.path.join(other, "base.qcow2"), "qcow2", 16 * MiB)
    write(os.path.join(other, "base.qcow2"), "qcow2", 0, MiB, 7)
    j = lambda n: os.path.join(img, n)  # noqa: E731
    create(j("abs.qcow2"), "qcow2", 16 * MiB, os.path.join(other, "base.qcow2"), "qcow2")
    create(j("up.qcow2"), "qcow2", 16 * MiB, "../other/base.qcow2", "qcow2")
    os.symlink(os.path.join(other, "base.qcow2"), j("link.qcow2"))
    create(j("sym.qcow2"), "qcow2", 16 * MiB, "link.qcow2", "qcow2")
    os.symlink(other, j("linkdir"))
    create(j("symdir.qcow2"), "qcow2", 16 * MiB, "linkdir/base.qcow2", "qcow2")
    create(j("passwd.qcow2"), "qcow2", 16 * MiB, "/etc/passwd", "raw")
    create(j("proto.qcow2"), "qcow2", 16 * MiB, "nbd://127.0.0.1:1/x", "raw")
    create(j("json.qcow2"), "qcow2", 16 * MiB,
           'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}}', "raw")
    outside = r"outside the directories instar may open"
    for name in ["abs", "up", "sym", "symdir"]:
        c.refused(f"policy {name}", ["-O", "qcow2", j(f"{name}.qcow2")], outside)
        allowed = run([os.path.abspath(c.instar), "measure", "--allow-path", other, "-O", "qcow2",
                       j(f"{name}.qcow2")])[0]
        want = run(["qemu-img", "measure", "-O", "qcow2", j(f"{name}.qcow2")])[0]
        c.checks += 1
        if (allowed.returncode, allowed.stdout) != (want.returncode, want.stdout) or \
                allowed.returncode != 0:
            c.problems.append(f"policy {name} with --allow-path: exit {allowed.returncode} "
                              f"{allowed.stdout!r} {allowed.stderr!r} != qemu-img "
                              f"{want.returncode} {want.stdout!r}")
    c.refused("policy /etc/passwd", [j("passwd.qcow2")], outside)
    c.refused("protocol name", [j("proto.qcow2")], r"names a protocol")
    c.refused("json: name", [j("json.qcow2")], r"does not follow json: backing file names")
    create(j("nope.qcow2"), "qcow2", 16 * MiB, os.path.join(d, "nope", "base.qcow2"), "qcow2")
    c.refused("missing --allow-path directory",
              ["--allow-path", os.path.join(d, "nope"), j("nope.qcow2")],
              r"cannot open the allowed directory")
    return img, other


def traced(c, d, img, other):
    """strace: no path outside the image's directory is touched."""
    if shutil.which("strace") is None:
        c.problems.append("strace is missing (scripts/install-deps.sh installs it)")
        return
    trace = os.path.join(d, "trace.log")
    base = set()
    for args in [["--size", "1G"]] + [[os.path.join(img, f"{n}.qcow2")]
                                      for n in ["abs", "up", "sym", "symdir", "passwd", "proto",
                                                "json"]]:
        p = subprocess.run(["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=%file", "-o",
                            trace, os.path.abspath(c.instar), "measure"] + args,
                           capture_output=True, text=True)
        # Relative names are looked up beneath the image's directory, the
        # only one allowed.
        paths = {os.path.normpath(p) for p in strace_paths(trace, img)}
        if args[0] == "--size":
            base = paths
            continue
        c.checks += 1
        bad = sorted(p for p in paths - base if p != img and not p.startswith(img + "/"))
        if bad:
            c.problems.append(f"strace {args}: touched paths outside {img}: {bad}")
        if p.returncode != 1:
            c.problems.append(f"strace {args}: exit {p.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    args = ap.parse_args()
    if not kvm_available():
        print("FAIL: /dev/kvm is not available; chain tests need it")
        return 1
    c = Checker(args.instar)
    d = tempfile.mkdtemp(prefix="instar-chains-")
    try:
        made = pairs(c, d)
        chains(c, d)
        data_files(c, d)
        vmdk_extents(c, d)
        img, other = policy(c, d)
        traced(c, d, img, other)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for pr in c.problems:
        print("FAIL", pr)
    print(f"chains: {made} overlay/backing pairs; {c.checks - len(c.problems)} of {c.checks} "
          "checks passed")
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
