#!/usr/bin/env python3
"""bench.py: instar against qemu-img, whole process, in the same run.

For each case hyperfine times both commands back to back after warm-up
runs, in several rounds that alternate which one goes first (the machine's
speed drifts, and a single back-to-back pair would put the drift into the
ratio); the report gives the medians of all runs, their ratio (instar /
qemu-img; below 1 is faster), the lowest and highest ratio of one round,
and each command's peak RSS (kernel ru_maxrss of one run).
Speed targets live here, never in timed tests.  Images are generated with
qemu-img/qemu-io into a temporary directory.

Usage: scripts/bench.py [--instar build/instar] [--runs N] [--rounds R] [--quick]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def qemu_io(fmt, path, cmds):
    argv = ["qemu-io", "-f", fmt]
    for c in cmds:
        argv += ["-c", c]
    sh(*argv, path)


def make_images(d):
    imgs = {}
    p = os.path.join(d, "64m.qcow2")
    sh("qemu-img", "create", "-q", "-f", "qcow2", p, "64M")
    qemu_io("qcow2", p, ["write -P 1 0 16M", "write -P 2 40M 4M"])
    imgs["64 MiB qcow2"] = p
    p = os.path.join(d, "1g-scattered.qcow2")
    sh("qemu-img", "create", "-q", "-f", "qcow2", p, "1G")
    # ~100 MiB in 400 scattered 256 KiB writes.
    qemu_io("qcow2", p, [f"write -P 3 {(i * 2654435761) % (GiB - MiB) // 4096 * 4096} 256k"
                         for i in range(400)])
    imgs["1 GiB qcow2, ~100 MiB scattered"] = p
    p = os.path.join(d, "1t.qcow2")
    sh("qemu-img", "create", "-q", "-f", "qcow2", p, "1T")
    # One 4 KiB write in each 512 MiB region: 2048 L2 tables.
    cmds = [f"write -P 4 {i * 512 * MiB} 4k" for i in range(2048)]
    for i in range(0, len(cmds), 256):
        qemu_io("qcow2", p, cmds[i:i + 256])
    imgs["1 TiB qcow2, 2048 L2 tables"] = p
    p = os.path.join(d, "3t.raw")
    with open(p, "wb") as f:
        f.truncate(3 * TiB)
        for i in range(64):
            f.seek(i * 48 * GiB + 12345)
            f.write(b"\x05" * 65536)
    imgs["3 TiB sparse raw"] = p
    return imgs


def peak_rss_kib(argv):
    """Peak RSS of one run of argv in KiB, from GNU time (a small C parent,
    unlike this Python process, whose footprint a forked child inherits)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, capture_output=True, text=True)
    return int(p.stderr.strip().splitlines()[-1])


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def timed(a, q, runs, rounds, out):
    """Medians of instar's and qemu-img's times over all rounds, and the
    lowest and highest ratio of one round's medians."""
    times = {0: [], 1: []}
    ratios = []
    for k in range(rounds):
        order = [0, 1] if k % 2 == 0 else [1, 0]
        argvs = [a, q]
        subprocess.run(["hyperfine", "-N", "--warmup", "5", "--runs", str(runs),
                        "--export-json", out] + [" ".join(argvs[i]) for i in order],
                       check=True, capture_output=True)
        r = json.load(open(out))["results"]
        got = {order[0]: r[0]["times"], order[1]: r[1]["times"]}
        for i in (0, 1):
            times[i] += got[i]
        ratios.append(median(got[0]) / median(got[1]))
    return median(times[0]), median(times[1]), min(ratios), max(ratios)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", default="build/instar")
    ap.add_argument("--runs", type=int, default=50, help="runs per command and round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="--size cases only")
    args = ap.parse_args()
    if shutil.which("hyperfine") is None:
        sys.exit("bench: hyperfine is missing (scripts/install-deps.sh)")
    instar = os.path.abspath(args.instar)
    cases = [
        ("--size 1G -O qcow2", ["--size", "1G", "-O", "qcow2"]),
        ("--size 1G (raw)", ["--size", "1G"]),
        ("--size 100T -O qcow2, 2M clusters, json",
         ["--size", "100T", "-O", "qcow2", "-o", "cluster_size=2M", "--output=json"]),
    ]
    tmp = tempfile.mkdtemp(prefix="instar-bench-")
    try:
        if not args.quick:
            for name, path in make_images(tmp).items():
                cases.append((name + " -> qcow2", ["-O", "qcow2", path]))
            cases.append(("3 TiB sparse raw -> raw", ["-O", "raw", os.path.join(tmp, "3t.raw")]))
        print(f"{'case':48s} {'instar':>10s} {'qemu-img':>10s} {'ratio':>7s} "
              f"{'rounds':>13s} {'RSS instar':>11s} {'RSS qemu':>9s}")
        for name, margs in cases:
            a = [instar, "measure"] + margs
            q = ["qemu-img", "measure"] + margs
            check = subprocess.run(a, capture_output=True, text=True)
            if check.returncode != 0:
                print(f"{name:48s} instar fails: {check.stderr.strip()[:60]}")
                continue
            ia, qa, lo, hi = timed(a, q, args.runs, args.rounds, os.path.join(tmp, "h.json"))
            print(f"{name:48s} {ia * 1000:8.2f}ms {qa * 1000:8.2f}ms {ia / qa:7.3f} "
                  f"{lo:6.3f}-{hi:5.3f} "
                  f"{peak_rss_kib(a) / 1024:9.1f}M {peak_rss_kib(q) / 1024:8.1f}M")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
