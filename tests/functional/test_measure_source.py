#!/usr/bin/env python3
"""test_measure_source.py: `instar measure FILE` against `qemu-img measure
FILE`, side by side, on a generated corpus of source images (corpus.py:
every format instar reads and its variants), for every target with several
-o sets: stdout and exit status identical, stderr identical after the
program-name prefix.  For the vmdk/vpc/vhdx targets, which qemu-img cannot
measure, `qemu-img convert` must produce a file that fits `required`.
Needs /dev/kvm (fails loudly without it).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
from measure_common import differences, kvm_available, run, run_both  # noqa: E402

SECRET = ["--object", corpus.SECRET]

TARGETS = [
    ["-O", "raw"],
    ["-O", "qcow2"],
    ["-O", "qcow2", "--output=json"],
    ["-O", "qcow2", "-o", "cluster_size=512"],
    ["-O", "qcow2", "-o", "cluster_size=2M,extended_l2=on", "--output=json"],
    ["-O", "qcow2", "-o", "compat=0.10"],
    ["-O", "qcow2", "-o", "preallocation=full"],
    ["-O", "qcow2", "-o", "backing_file=base.img"],
]

# A few error paths once per image kind.
ERRORS = [["-O", "foo"], ["-O", "qcow2", "-o", "cluster_size=3000"],
          ["-O", "qcow2", "-o", "size=8P"], ["-O", "vdi"]]


# --image-opts options that only some formats take, or none: probed and
# pinned, qemu refuses them once the format has opened (raw's window is
# checked against the file's size rounded up to sectors).
OPTIONS = ["offset=0", "size=512", "offset=512,size=512", "offset=1000", "offset=512,size=1000",
           "size=1073741824", "offset=1099511627776", "key-secret=sec0",
           "encrypt.key-secret=sec0", "bogus=1", "backing=x", "backing=",
           "backing.file.filename=nosuch", "backing.driver=qcow2,bogus=1"]


def option_cases(img):
    out = []
    for o in OPTIONS:
        for drv in ["", f"driver={img.fmt},", "driver=file,"]:
            name = "filename" if drv == "driver=file," else "file.filename"
            out.append(SECRET + ["-O", "qcow2", "--image-opts", f"{drv}{name}={img.path},{o}"])
    return out


# instar's documented refusal of backing files named by options (docs/quirks.md
# row 19) where qemu tries to open them: both must fail at that step.
BACKING_REFUSAL = (
    "Could not open backing file: backing files named by options are not supported\n")


def documented_backing_refusal(i, q):
    """True when instar (run `i`) refuses a backing file qemu-img (run `q`)
    fails to open."""
    return (q.returncode == 1 and i.returncode == 1 and i.stderr.endswith(BACKING_REFUSAL)
            and "Could not open backing file: " in q.stderr and i.stdout == "")


def source_args(img):
    """How each kind of image is named so that qemu-img can open it."""
    if img.kind == "encrypted":
        key = "key-secret" if img.fmt == "luks" else "encrypt.key-secret"
        return SECRET + ["--image-opts", f"driver={img.fmt},file.filename={img.path},{key}=sec0"]
    return img.args


def cases_for(img):
    out = [t + source_args(img) for t in TARGETS]
    if img.kind == "snapshots":
        for l in ["first", "1", "second", "snapshot.name=second", "snapshot.id=1",
                  "snapshot.id=1,snapshot.name=first", "snapshot.id=1,snapshot.name=second",
                  "nosuch"]:
            out.append(["-l", l, "-O", "qcow2", "--output=json"] + img.args)
            out.append(["-l", l, "-O", "raw"] + img.args)
    if img.kind == "encrypted":
        # Without the secret, with an unknown one, and the luks target once.
        out.append(["-O", "qcow2"] + img.args)
        out.append(SECRET + ["--image-opts", f"driver={img.fmt},file.filename={img.path},"
                             f"{'key-secret' if img.fmt == 'luks' else 'encrypt.key-secret'}"
                             "=nosuch"])
    return out


def image_target_bounds(instar, img, tmp, problems):
    """vmdk/vpc/vhdx: what qemu-img convert writes fits in `required`."""
    checks = 0
    for fmt in ["vmdk", "vpc", "vhdx"]:
        p, _ = run([instar, "measure", "-O", fmt, "--output=json"] + source_args(img))
        if p.returncode != 0:
            if "too large" not in p.stderr and "not supported" not in p.stderr:
                problems.append(f"{img.name} -O {fmt}: {p.stderr.strip()}")
            continue
        got = json.loads(p.stdout)
        out = os.path.join(tmp, "conv")
        shutil.rmtree(out, ignore_errors=True)
        os.mkdir(out)
        argv = ["qemu-img", "convert", "-O", fmt]
        if img.kind == "encrypted":
            argv = ["qemu-img", "convert", "--object", corpus.SECRET, "--image-opts", "-O", fmt,
                    source_args(img)[-1]]
        else:
            argv += img.args
        c = subprocess.run(argv + [os.path.join(out, "o." + fmt)], capture_output=True,
                           text=True)
        checks += 1
        if c.returncode != 0:
            continue  # qemu-img cannot convert it (sizes beyond its limits)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        if not size <= got["required"] <= got["fully-allocated"]:
            problems.append(f"{img.name} -O {fmt}: converted {size}, instar required "
                            f"{got['required']} fully {got['fully-allocated']}")
    return checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    ap.add_argument("-k", "--keyword", help="only images whose name contains this")
    ap.add_argument("--keep", help="generate the corpus into this directory and keep it")
    args = ap.parse_args()
    if not kvm_available():
        print("FAIL: /dev/kvm is not available; the functional tests need it")
        return 1
    instar = os.path.abspath(args.instar)
    tmp = args.keep or tempfile.mkdtemp(prefix="instar-corpus-")
    os.makedirs(tmp, exist_ok=True)
    problems = []
    checks = 0
    try:
        imgs = corpus.generate(tmp)
        os.chdir(tmp)
        variants = corpus.with_variants(imgs)
        print(f"corpus: {len(imgs)} images, {len(variants)} ways to name them")
        kinds_seen = set()
        options_seen = set()
        for img in variants:
            if args.keyword and args.keyword not in img.name:
                continue
            cases = cases_for(img)
            if img.fmt not in kinds_seen:
                kinds_seen.add(img.fmt)
                cases += [e + source_args(img) for e in ERRORS]
            if (img.kind == "plain" and img.fmt is not None and img.fmt not in options_seen
                    and "," not in img.path and img.args == [img.path]):
                options_seen.add(img.fmt)
                cases += option_cases(img)
            for argv in cases:
                checks += 1
                i, q = run_both(instar, argv)
                diffs = differences(i, q)
                if diffs and any(a.startswith("backing") or ",backing" in a for a in argv) \
                        and documented_backing_refusal(i, q):
                    diffs = []
                for d in diffs:
                    problems.append(f"measure {' '.join(argv)}: {d}")
            if img.kind in ("plain", "bitmaps", "snapshots") and " " not in img.name:
                checks += image_target_bounds(instar, img, tmp, problems)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print("FAIL", p)
    print(f"measure FILE side by side with qemu-img: {checks - len(problems)} of {checks} "
          f"checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
