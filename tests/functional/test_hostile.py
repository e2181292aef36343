#!/usr/bin/env python3
"""test_hostile.py: instar against a guest that misbehaves on purpose.

tests/guests/hostile.c is installed as measure.bin in a private blob
directory; `--size N` picks its misbehaviour.  Every run must end with the
expected exit status and a clear message on stderr, nothing on stdout, and
within the deadline.  Needs /dev/kvm: without it the test fails, loudly.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_common import data_extents  # noqa: E402

FAULT, BUDGET, ERROR, OK = 3, 4, 1, 0

# mode: (exit status, stderr pattern, what it proves)
CASES = {
    1: (BUDGET, r"^instar: the guest ran past its deadline of 1000 ms$", "spinning guest"),
    2: (FAULT, r"guest fault: vector 14 \(#PF\), error 0x6, .* cr2 0x80000000000", "bad write"),
    3: (FAULT, r"guest fault: vector 14 \(#PF\), error 0x4, .* cr2 0x0,", "NULL read"),
    4: (FAULT, r"^instar: guest panic in hostile: deliberate panic$", "panic"),
    5: (FAULT, r"protocol violation: bad frame magic", "garbage frame"),
    6: (FAULT, r"protocol violation: frame length out of range", "oversized frame"),
    7: (FAULT, r"ended without a complete measure result", "no result"),
    8: (FAULT, r"protocol violation: second measure result", "two results"),
    9: (FAULT, r"read request at invalid address 0x7fffffff000", "descriptor outside RAM"),
    10: (FAULT, r"vector 14 \(#PF\), error 0x15,", "NX: execute from data"),
    11: (FAULT, r"vector 14 \(#PF\), error 0x7, .* cr2 0x20000,", "W^X: write to text"),
    12: (FAULT, r"vector 6 \(#UD\)", "invalid opcode"),
    13: (FAULT, r"vector 13 \(#GP\)", "port I/O at CPL3"),
    14: (FAULT, r"write of 8 bytes at unknown address 0xd0001000", "unknown doorbell"),
    15: (FAULT, r"protocol violation: serial channel budget exceeded", "serial flood"),
    16: (FAULT, r"vector 13 \(#GP\)", "hlt at CPL3"),
    17: (FAULT, r"triple fault \(KVM_EXIT_SHUTDOWN\)", "IDT destroyed"),
    18: (FAULT, r"guest panic in core: send_measure_result: bad result magic", "bad magic"),
    20: (FAULT, r"vector 14 \(#PF\), error 0x6, .* cr2 0x210", "stack overflow into guard"),
    21: (ERROR, r"^instar: A{511}$", "unterminated string is bounded"),
    22: (FAULT, r"required > fully allocated", "impossible result"),
    23: (FAULT, r"read into invalid range 0x7ffffff0000\+4096", "read destination outside RAM"),
    24: (FAULT, r"a file asked for without a source", "backing file without a source"),
}

# A source "B<name>" makes the guest ask for backing file <name> on every
# run, whatever it was given ("*": a new name each run).  The host's path
# policy must refuse; files the guest may name exist next to the image.
BACKING_CASES = [
    ("/etc/passwd", r"\(/etc/passwd\) is outside the directories instar may open"),
    ("../../../../etc/shadow", r"is outside the directories instar may open"),
    ("nbd://127.0.0.1:1/x", r"names a protocol"),
    ('json:{"file":{"filename":"/etc/passwd"}}', r"does not follow json: backing file names"),
    ("link", r"\(/etc/hostname\) is outside the directories instar may open"),
    ("top.img", r"the backing chain loops back to"),
    ("faa", r"the backing chain loops back to"),
    ("*", r"the backing chain is longer than 16 images"),
]


def check_backing_requests(instar, blob_dir):
    failures = 0
    for name, pattern in BACKING_CASES:
        with tempfile.TemporaryDirectory(prefix="instar-ask-") as tmp:
            top = os.path.join(tmp, "top.img")
            with open(top, "w") as f:
                f.write("B" + name + "\n")
            for i in range(40):
                with open(os.path.join(tmp, "f" + chr(97 + i % 26) + chr(97 + i // 26)), "w") as f:
                    f.write("x")
            os.symlink("/etc/hostname", os.path.join(tmp, "link"))
            env = dict(os.environ, INSTAR_BLOB_DIR=blob_dir)
            p = subprocess.run([instar, "measure", top], env=env, capture_output=True,
                               text=True, timeout=120)
            lines = p.stderr.splitlines()
            ok = (p.returncode == ERROR and not p.stdout and len(lines) == 1
                  and re.search(pattern, lines[0]))
            print(f"{'ok  ' if ok else 'FAIL'} backing request {name[:30]!r:34s}"
                  + ("" if ok else f": exit {p.returncode}, stderr {p.stderr.strip()[:300]!r}"))
            failures += not ok
    return failures, len(BACKING_CASES)


def run(instar, blob_dir, mode, timeout_s=1):
    env = dict(os.environ, INSTAR_BLOB_DIR=blob_dir)
    env.pop("INSTAR_DEBUG", None)
    start = time.monotonic()
    p = subprocess.run([instar, "measure", "--timeout", str(timeout_s), "--size", str(mode)],
                       env=env, capture_output=True, text=True, timeout=30)
    return p, time.monotonic() - start


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def data_bytes(path):
    """Bytes of the file inside SEEK_DATA extents, as the host reports them."""
    with open(path, "rb") as f:
        return sum(end - start for start, end in data_extents(f))


def check_devices(instar, blob_dir):
    """The source-mode path of the test blob reads the whole device through
    core's read and extent services; its hash and data count must match."""
    failures = 0
    with tempfile.TemporaryDirectory(prefix="instar-dev-") as tmp:
        layouts = {
            "empty": [],
            "one-byte": [(0, b"x")],
            "sparse": [(0, os.urandom(4096)), (5 << 20, os.urandom(70000)),
                       (20 << 20, os.urandom(8192))],
            "dense-odd": [(0, os.urandom((9 << 20) + 12345))],
        }
        for name, writes in layouts.items():
            path = os.path.join(tmp, name + ".img")
            with open(path, "wb") as f:
                f.truncate((24 << 20) + 777 if name == "sparse" else 0)
                for off, blob in writes:
                    f.seek(off)
                    f.write(blob)
            content = open(path, "rb").read()
            h = fnv1a(content)
            want = (f"required size: {data_bytes(path)}\n"
                    f"fully allocated size: {h | (1 << 63)}\n")
            env = dict(os.environ, INSTAR_BLOB_DIR=blob_dir)
            p = subprocess.run([instar, "measure", "-O", "raw", path], env=env,
                               capture_output=True, text=True, timeout=60)
            problems = []
            if p.returncode != 0 or p.stdout != want:
                problems.append(f"exit {p.returncode}, stdout {p.stdout!r}, want {want!r}, "
                                f"stderr {p.stderr!r}")
            state = "ok  " if not problems else "FAIL"
            print(f"{state} device {name:10s} {len(content):9d} bytes, "
                  f"{data_bytes(path):9d} in data extents" +
                  ("" if not problems else ": " + "; ".join(problems)))
            failures += bool(problems)
    return failures, len(layouts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    ap.add_argument("--core", required=True)
    ap.add_argument("--guest", required=True)
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("FAIL: /dev/kvm is not available; the hostile-guest suite needs it")
        return 1
    blob_dir = tempfile.mkdtemp(prefix="instar-hostile-")
    shutil.copy(args.core, os.path.join(blob_dir, "core.bin"))
    shutil.copy(args.guest, os.path.join(blob_dir, "measure.bin"))
    failures = 0
    device_cases = 0
    try:
        for mode, (status, pattern, what) in sorted(CASES.items()):
            p, elapsed = run(os.path.abspath(args.instar), blob_dir, mode)
            problems = []
            if p.returncode != status:
                problems.append(f"exit {p.returncode}, want {status}")
            if not re.search(pattern, p.stderr.strip(), re.M):
                problems.append(f"stderr {p.stderr.strip()[:300]!r} !~ {pattern!r}")
            if p.stdout:
                problems.append(f"stdout not empty: {p.stdout[:100]!r}")
            # Deadline 1 s; allow 1 s of slack for a loaded machine.
            if elapsed > 2.0:
                problems.append(f"took {elapsed:.2f}s")
            state = "ok  " if not problems else "FAIL"
            print(f"{state} mode {mode:3d} {what:32s} {elapsed * 1000:7.0f} ms"
                  + ("" if not problems else ": " + "; ".join(problems)))
            failures += bool(problems)
        # Controls: a well-behaved run, and a debug flood that must not matter.
        for mode, want in ((100, "required size: 100\nfully allocated size: 200\n"),
                           (19, "required size: 100\nfully allocated size: 200\n")):
            p, elapsed = run(os.path.abspath(args.instar), blob_dir, mode)
            ok = p.returncode == 0 and p.stdout == want and p.stderr == ""
            print(f"{'ok  ' if ok else 'FAIL'} mode {mode:3d} {'control':32s} "
                  f"{elapsed * 1000:7.0f} ms" + ("" if ok else f": {p.returncode} {p.stderr!r}"))
            failures += not ok
        device_failures, device_cases = check_devices(os.path.abspath(args.instar), blob_dir)
        failures += device_failures
        ask_failures, ask_cases = check_backing_requests(os.path.abspath(args.instar), blob_dir)
        failures += ask_failures
        device_cases += ask_cases
    finally:
        shutil.rmtree(blob_dir)
    total = len(CASES) + 2 + device_cases
    print(f"hostile guests and device services: {total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
