#!/usr/bin/env python3
"""test_measure_targets.py: the vmdk, vpc and vhdx targets, which qemu-img
refuses to measure (docs/quirks.md #3).

For each size and option set, instar's numbers must bound what qemu-img
really writes (apparent size of every file it creates):
  required        >= `qemu-img create`       (== where the layout is exact)
  fully allocated >= `qemu-img convert` of a fully written source (== likewise)
and invalid option values must give `qemu-img create`'s messages.
Needs /dev/kvm (fails loudly without it).
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_common import compare, kvm_available, run  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

# (format, -o options, exact): exact means the layout is deterministic, so
# instar's numbers must equal qemu-img's files, not merely bound them.
TARGETS = [
    ("vmdk", "", True),
    ("vmdk", "subformat=monolithicSparse,adapter_type=lsilogic,zeroed_grain=on", True),
    ("vmdk", "subformat=streamOptimized", False),       # deflate: a bound
    ("vmdk", "subformat=monolithicFlat", False),        # file names unknown: a bound
    ("vmdk", "subformat=monolithicFlat,adapter_type=legacyESX,hwversion=7,toolsversion=1",
     False),
    ("vmdk", "subformat=twoGbMaxExtentSparse", False),
    ("vmdk", "subformat=twoGbMaxExtentFlat,compat6=on", False),
    ("vpc", "", True),
    ("vpc", "force_size=on", True),
    ("vpc", "subformat=fixed", True),
    ("vpc", "subformat=fixed,force_size=on", True),
    ("vhdx", "", True),
    ("vhdx", "block_size=1M", True),
    ("vhdx", "block_size=256M,log_size=3M", True),
    ("vhdx", "subformat=fixed", True),
    ("vhdx", "subformat=fixed,block_state_zero=off", True),
]

# Sizes for create (sparse files, so large ones are cheap).
CREATE_SIZES = [0, 1, 511, 512, MiB, MiB + 1, 64 * MiB, GiB, GiB + 512, 1000000007,
                100 * GiB, 2 * TiB + 12345]
# Sizes for converting a fully written source.
FULL_SIZES = [1, MiB + 1, 5 * MiB + 12345, 32 * MiB]

# Values `qemu-img create` refuses: its messages, without its file prefix.
CREATE_ERRORS = [
    ("vmdk", "subformat=foo"), ("vmdk", "subformat=monolithicsparse"),
    ("vmdk", "adapter_type=scsi"), ("vmdk", "compat6=on,hwversion=7"),
    ("vmdk", "subformat=monolithicFlat,zeroed_grain=on"), ("vmdk", "backing_fmt=qcow2"),
    ("vpc", "subformat=foo"), ("vpc", "subformat=Fixed"),
    ("vhdx", "block_size=3M"), ("vhdx", "block_size=2097153"), ("vhdx", "log_size=0"),
    ("vhdx", "log_size=4G"), ("vhdx", "subformat=foo"),
]
# -o lists `qemu-img measure` itself refuses while parsing, before it says
# it cannot measure the target: identical output expected.
PARSE_ERRORS = [
    ("vmdk", "compat6=maybe"), ("vmdk", "bogus=1"), ("vpc", "force_size=1"),
    ("vpc", "block_size=1M"), ("vhdx", "block_size=-1"), ("vhdx", "block_state_zero=1"),
    ("vhdx", "log_size"), ("vmdk", "size=1k,,"),
]

TOO_LARGE = [("vpc", "", 2190433320961), ("vpc", "subformat=fixed,force_size=on", 3 * TiB),
             ("vhdx", "", 64 * TiB + 1), ("vmdk", "", 256 * TiB)]


def apparent_size(prefix_dir):
    return sum(os.path.getsize(os.path.join(prefix_dir, f)) for f in os.listdir(prefix_dir))


def instar_numbers(instar, fmt, opts, size):
    args = [instar, "measure", "--size", str(size), "-O", fmt, "--output=json"]
    if opts:
        args += ["-o", opts]
    p, _ = run(args)
    if p.returncode != 0:
        raise AssertionError(f"instar {args[2:]} failed: {p.stderr.strip()}")
    lines = dict(line.strip().rstrip(",").split(": ") for line in p.stdout.splitlines()
                 if ":" in line)
    return int(lines['"required"']), int(lines['"fully-allocated"'])


def qemu_files(argv, cwd):
    """Run a qemu-img command writing into the empty directory `cwd`;
    return the apparent size of everything it wrote."""
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {p.stderr.strip()}")
    return apparent_size(cwd)


def check(label, ours, real, exact, problems):
    ok = ours == real if exact else ours >= real
    if not ok:
        problems.append(f"{label}: instar {ours}, qemu-img {real}"
                        f" ({'must be equal' if exact else 'must bound it'})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    args = ap.parse_args()
    if not kvm_available():
        print("FAIL: /dev/kvm is not available; the functional tests need it")
        return 1
    instar = os.path.abspath(args.instar)
    problems = []
    checks = 0
    with tempfile.TemporaryDirectory(prefix="instar-targets-") as tmp:
        for fmt, opts, exact in TARGETS:
            o = ["-o", opts] if opts else []
            for size in CREATE_SIZES:
                if fmt == "vpc" and size > 2040 * GiB:
                    continue
                if fmt == "vhdx" and "fixed" in opts and size > 100 * GiB:
                    continue  # would really allocate; covered by smaller sizes
                if fmt == "vhdx" and "256M" in opts and size == 0:
                    continue  # qemu-img fails: "Failed to write the BAT" (docs/measure.md)
                out = tempfile.mkdtemp(dir=tmp)
                real = qemu_files(["qemu-img", "create", "-q", "-f", fmt] + o +
                                  ["img." + fmt, str(size)], out)
                req, full = instar_numbers(instar, fmt, opts, size)
                check(f"create {fmt} {opts} {size}", req, real, exact, problems)
                if full < req:
                    problems.append(f"{fmt} {opts} {size}: fully {full} < required {req}")
                checks += 1
            for size in FULL_SIZES:
                src = os.path.join(tmp, f"src-{size}.raw")
                if not os.path.exists(src):
                    with open(src, "wb") as f:
                        f.write(os.urandom(size))
                out = tempfile.mkdtemp(dir=tmp)
                real = qemu_files(["qemu-img", "convert", "-f", "raw", "-O", fmt] + o +
                                  [src, "img." + fmt], out)
                _, full = instar_numbers(instar, fmt, opts, size)
                check(f"convert full {fmt} {opts} {size}", full, real, exact, problems)
                checks += 1
        # Invalid values: qemu-img create's messages, after its file prefix.
        for fmt, opts in PARSE_ERRORS:
            checks += 1
            for d in compare(instar, ["--size", "1G", "-O", fmt, "-o", opts]):
                problems.append(f"-O {fmt} -o {opts}: {d}")
        for fmt, opts in CREATE_ERRORS:
            q = subprocess.run(["qemu-img", "create", "-f", fmt, "-o", opts,
                                os.path.join(tmp, "e.img"), "1G"], capture_output=True,
                               text=True)
            want = q.stderr.replace("qemu-img: " + os.path.join(tmp, "e.img") + ": ",
                                    "instar: ").replace("qemu-img: ", "instar: ")
            p, _ = run([instar, "measure", "--size", "1G", "-O", fmt, "-o", opts])
            checks += 1
            if p.returncode != 1 or p.stderr != want or p.stdout:
                problems.append(f"-O {fmt} -o {opts}: exit {p.returncode}, stderr "
                                f"{p.stderr!r}, want {want!r}")
        for fmt, opts, size in TOO_LARGE:
            p, _ = run([instar, "measure", "--size", str(size), "-O", fmt] +
                       (["-o", opts] if opts else []))
            checks += 1
            if p.returncode != 1 or "too large" not in p.stderr:
                problems.append(f"-O {fmt} {opts} --size {size}: {p.returncode} {p.stderr!r}")
        # qemu-img itself still refuses: the deviation is deliberate.
        q = subprocess.run(["qemu-img", "measure", "--size", "1G", "-O", "vhdx"],
                           capture_output=True, text=True)
        checks += 1
        if "does not support size measurement" not in q.stderr:
            problems.append(f"qemu-img measures vhdx now: {q.stdout!r}; revisit quirk #3")
    for p in problems:
        print("FAIL", p)
    print(f"vmdk/vpc/vhdx targets against qemu-img create/convert: "
          f"{checks - len(problems)} of {checks} checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
