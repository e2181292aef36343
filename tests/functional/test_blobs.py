#!/usr/bin/env python3
"""test_blobs.py: the blob loader refuses every broken guest blob.

The blobs ship with instar, but vmm/vmm_elf.c checks them as untrusted
input: each broken copy of measure.bin or core.bin below (in a private blob
directory, INSTAR_BLOB_DIR) must end the run with the loader's message and a
non-zero status, never a crash or a guest run; the intact copies must still
measure like qemu-img.  Needs /dev/kvm.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W = 1, 2


def phdrs(elf):
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phnum, = struct.unpack_from("<H", elf, 0x38)
    return [phoff + i * 56 for i in range(phnum)]


def first(elf, ptype, flags=None):
    for off in phdrs(elf):
        t, f = struct.unpack_from("<II", elf, off)
        if t == ptype and (flags is None or f & flags):
            return off
    raise SystemExit(f"test_blobs: no segment of type {ptype}")


def mutate(elf, name):
    """A broken copy of the blob `elf`, and what the loader must say."""
    b = bytearray(elf)
    invalid = "is not a valid instar blob"
    if name == "empty":
        return b"", "cannot read guest blob"
    if name == "truncated-header":
        return bytes(b[:40]), invalid
    if name == "truncated-segment":
        return bytes(b[:len(b) // 2]), invalid
    if name == "bad-magic":
        b[1] = ord("X")
    elif name == "not-exec":
        struct.pack_into("<H", b, 0x10, 3)  # ET_DYN
    elif name == "too-many-phdrs":
        struct.pack_into("<H", b, 0x38, 17)
    elif name == "phdrs-past-eof":
        struct.pack_into("<Q", b, 0x20, len(b) - 8)
    elif name == "write-and-exec":
        off = first(b, PT_LOAD, PF_X)
        struct.pack_into("<I", b, off + 4, PF_X | PF_W | 4)
    elif name == "outside-region":
        off = first(b, PT_LOAD, PF_X)
        struct.pack_into("<Q", b, off + 16, 0x700000)
    elif name == "unaligned":
        off = first(b, PT_LOAD, PF_X)
        vaddr, = struct.unpack_from("<Q", b, off + 16)
        struct.pack_into("<Q", b, off + 16, vaddr + 8)
    elif name == "segment-past-eof":
        off = first(b, PT_LOAD, PF_X)
        struct.pack_into("<Q", b, off + 32, len(b))
    elif name == "huge-memsz":
        off = first(b, PT_LOAD, PF_W)
        struct.pack_into("<Q", b, off + 40, 1 << 62)
    elif name == "overlapping":
        a = first(b, PT_LOAD, PF_X)
        w = first(b, PT_LOAD, PF_W)
        vaddr, = struct.unpack_from("<Q", b, a + 16)
        struct.pack_into("<Q", b, w + 16, vaddr)
    elif name == "no-note":
        off = first(b, PT_NOTE)
        struct.pack_into("<I", b, off, 0x6474e551)  # PT_GNU_STACK
        return bytes(b), "was not built for this instar"
    elif name == "wrong-note":
        off = first(b, PT_NOTE)
        noff, = struct.unpack_from("<Q", b, off + 8)
        desc = noff + 12 + 8  # Nhdr, "INSTAR\0" padded to 8
        b[desc] ^= 0xFF
        return bytes(b), "was not built for this instar"
    elif name == "entry-outside-code":
        struct.pack_into("<Q", b, 0x18, 0x10)
    else:
        raise SystemExit(f"test_blobs: unknown case {name}")
    return bytes(b), invalid


CASES = ["empty", "truncated-header", "truncated-segment", "bad-magic", "not-exec",
         "too-many-phdrs", "phdrs-past-eof", "write-and-exec", "outside-region", "unaligned",
         "segment-past-eof", "huge-memsz", "overlapping", "no-note", "wrong-note",
         "entry-outside-code"]


def run(instar, blob_dir):
    env = dict(os.environ, INSTAR_BLOB_DIR=blob_dir)
    return subprocess.run([instar, "measure", "--size", "1G", "-O", "qcow2"], env=env,
                          capture_output=True, text=True, timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("test_blobs: /dev/kvm is missing or not accessible; this test needs it")
    instar = os.path.abspath(args.instar)
    src = os.path.dirname(instar)
    want = subprocess.run(["qemu-img", "measure", "--size", "1G", "-O", "qcow2"],
                          capture_output=True, text=True, check=True).stdout
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        for blob in ("core.bin", "measure.bin"):
            shutil.copy(os.path.join(src, "core.bin"), d)
            shutil.copy(os.path.join(src, "measure.bin"), d)
            r = run(instar, d)
            ok = r.returncode == 0 and r.stdout == want
            print(f"{'ok  ' if ok else 'FAIL'} intact blobs")
            passed, failed = passed + ok, failed + (not ok)
            with open(os.path.join(src, blob), "rb") as f:
                elf = f.read()
            for case in CASES:
                data, message = mutate(elf, case)
                with open(os.path.join(d, blob), "wb") as f:
                    f.write(data)
                r = run(instar, d)
                # A positive status: an error exit, not success or a signal.
                ok = r.returncode > 0 and message in r.stderr and r.stdout == ""
                print(f"{'ok  ' if ok else 'FAIL'} {blob:12} {case:20} status {r.returncode}")
                if not ok:
                    print(f"     stderr: {r.stderr!r}")
                passed, failed = passed + ok, failed + (not ok)
            os.remove(os.path.join(d, blob))
            r = run(instar, d)
            ok = r.returncode > 0 and "blob" in r.stderr and r.stdout == ""
            print(f"{'ok  ' if ok else 'FAIL'} {blob:12} {'missing':20} status {r.returncode}")
            passed, failed = passed + ok, failed + (not ok)
    print(f"blob loader: {passed} of {passed + failed} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
