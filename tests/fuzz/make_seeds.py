#!/usr/bin/env python3
"""make_seeds.py: seed corpora for the fuzz targets.

Host-side targets get hand-made inputs (frames with valid CRCs, option
strings, argv lists); image targets get the first 64 KiB to 1 MiB of images
that qemu-img generates (tests/functional/corpus.py), plus minimal headers.
Seeds are regenerated on every machine; nothing is stored.

Usage: make_seeds.py OUT_DIR
"""
import os
import shutil
import struct
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "functional"))


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def frame(payload):
    return struct.pack("<IIII", 0x31425049, len(payload), zlib.crc32(payload), 0) + payload


def guest_messages():
    result = (field(1, 2, b"qcow2") + field(2, 0, 393216) + field(3, 0, 1074135040) +
              field(4, 0, 65536) + field(6, 0, 1) + field(7, 0, 786432))
    measure = field(1, 0, 1) + field(10, 2, result)
    complete = field(1, 0, 4) + field(6, 2, field(1, 2, b"measure") + field(3, 0, 1))
    error = field(1, 0, 3) + field(5, 2, field(1, 2, b"measure") + field(4, 0, 2) +
                                   field(5, 2, b"Image is not in qcow2 format"))
    return measure, complete, error


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def host_seeds(out):
    m, c, e = guest_messages()
    d = os.path.join(out, "frames")
    write(d, "result", b"\x07" + frame(m) + frame(c))
    write(d, "error", b"\x01" + frame(e))
    write(d, "split", b"\x03" + frame(m)[:10])
    d = os.path.join(out, "cli")
    for i, s in enumerate([b"\x001.5G", b"\x000x10k", b"\x00 +7.99999999999999e",
                           b"\x01cluster_size=64k,refcount_bits=8,extended_l2",
                           b"\x01compat=1.1,,x,nocow,id=1",
                           b"\x02driver=raw,file.filename=x,offset=1M,size=2M",
                           b"\x82json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"a\"}}",
                           b"\x03{\"qom-type\":\"secret\",\"id\":\"s\",\"data\":\"x\"}",
                           b"\x04--size\x001G\x00-O\x00qcow2\x00-o\x00cluster_size=2M",
                           b"\x04--object\x00secret,id=s,data=x\x00-O\x00luks\x00-o\x00key-secret=s"
                           b"\x00--size\x000x10k",
                           b"\x04-l\x00snapshot.id=1\x00a.img\x00--output=json"]):
        write(d, f"s{i}", s)
    d = os.path.join(out, "calc")
    write(d, "qcow2", b"\x00" + struct.pack("<QQQQQBB6x", 1 << 30, 100, 7, 4, 2068480, 0x80, 0))
    write(d, "tracker", b"\x01\x07" + bytes(range(64)))


def image_seeds(out):
    import corpus
    tmp = tempfile.mkdtemp(prefix="instar-seeds-")
    try:
        imgs = corpus.generate(tmp)
        for img in imgs:
            fmt = img.fmt or "raw"
            # The fuzzers' -max_len (fuzz.mk): vhdx puts its metadata and
            # BAT past the first MiB.
            with open(img.path, "rb") as f:
                head = f.read((8 if fmt == "vhdx" else 1) << 20)
            # fuzz_measure.c: the first byte selects the target.
            write(os.path.join(out, "measure"), img.name, b"\x01" + head)
            write(os.path.join(out, "driver"), img.name, head)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    out = sys.argv[1]
    host_seeds(out)
    if "--host-only" not in sys.argv:
        image_seeds(out)


if __name__ == "__main__":
    main()
