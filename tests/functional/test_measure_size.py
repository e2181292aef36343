#!/usr/bin/env python3
"""test_measure_size.py: `instar measure` against `qemu-img measure`, side by
side, on argv variations that need no source image: sizes from 0 to the
limits, every qcow2 cluster size, refcount widths, extended L2, compat,
preallocation, LUKS ciphers, bad options, bad sizes and argv errors.
stdout and the exit status must be identical, stderr identical after the
program-name prefix.  Needs /dev/kvm (fails loudly without it).
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_common import compare, kvm_available  # noqa: E402

SECRET = ["--object", "secret,id=sec0,data=password"]


def encrypted_secret():
    """--object arguments for secret sec0 encrypted with AES-256-CBC under
    secret key0, whose ciphertext is not UTF-8 (the plaintext is): qemu
    decrypts it and measures; instar must not check the ciphertext."""
    key, iv = "k" * 32, "i" * 16
    for n in range(64):
        plain = f"password{n}".encode()
        enc = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-K", key.encode().hex(),
                              "-iv", iv.encode().hex(), "-base64", "-A"], input=plain,
                             capture_output=True, check=True).stdout.decode().strip()
        raw = subprocess.run(["openssl", "base64", "-d", "-A"], input=enc.encode(),
                             capture_output=True, check=True).stdout
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            b64 = subprocess.run(["openssl", "base64", "-A"], input=iv.encode(),
                                 capture_output=True, check=True).stdout.decode().strip()
            return ["--object", f"secret,id=key0,data={key}", "--object",
                    f"secret,id=sec0,data={enc},format=base64,keyid=key0,iv={b64}"]
    raise RuntimeError("no ciphertext that is not UTF-8")


def cases():
    c = []
    # Sizes: syntax, rounding and limits, raw and qcow2, human and json.
    for size in ["0", "1", "511", "512", "513", "1000", "1k", "64k", "65537", "1M", "1G",
                 "1.5G", "1T", "2P", "3P", "7E", "8E", "9223372036854775807",
                 "9223372036854775808", "0x10000", "0x10k", " +1k", "1.0009k", "1b",
                 "1e3", "1 k", "", "-1", "abc", "18446744073709551616"]:
        c.append(["--size", size])
        c.append(["--size", size, "-O", "qcow2"])
    for size in ["0", "1", "1G", "7E", "9223372036854775807"]:
        c.append(["--size", size, "--output=json"])
        c.append(["--size", size, "-O", "qcow2", "--output", "json"])
    # Every cluster size, then the size limit around it.
    for cs in ["512", "1k", "2k", "4k", "8k", "16k", "32k", "64k", "128k", "256k", "512k",
               "1M", "2M"]:
        c.append(["--size", "1G", "-O", "qcow2", "-o", f"cluster_size={cs}"])
        c.append(["--size", "100G", "-O", "qcow2", "-o", f"cluster_size={cs}",
                  "--output=json"])
    c += [["--size", "128G", "-O", "qcow2", "-o", "cluster_size=512"],
          ["--size", "128G", "-O", "qcow2", "-o", "cluster_size=512", "--size", "129G"],
          ["--size", "2P", "-O", "qcow2"], ["--size", "2049T", "-O", "qcow2"],
          ["--size", "1P", "-O", "qcow2", "-o", "extended_l2=on"],
          ["--size", "1025T", "-O", "qcow2", "-o", "extended_l2=on"],
          ["--size", "2E", "-O", "qcow2", "-o", "cluster_size=2M"],
          ["--size", "4E", "-O", "qcow2", "-o", "cluster_size=2M"]]
    # Refcount widths, extended L2, compat, preallocation, ignored options.
    for bits in ["1", "2", "4", "8", "16", "32", "64", "0", "3", "128", "0x10", "010", "-1",
                 "16k"]:
        c.append(["--size", "1T", "-O", "qcow2", "-o", f"refcount_bits={bits}"])
    for opts in ["extended_l2=on", "extended_l2=off", "extended_l2", "noextended_l2",
                 "extended_l2=yes", "extended_l2=ON", "extended_l2=on,cluster_size=8k",
                 "extended_l2=on,cluster_size=16k", "compat=0.10", "compat=1.1",
                 "compat=v3", "compat=", "compat=0.10,refcount_bits=8",
                 "compat=0.10,extended_l2=on", "compat=0.10,lazy_refcounts=on",
                 "preallocation=off", "preallocation=metadata", "preallocation=falloc",
                 "preallocation=full", "preallocation=FULL", "preallocation=",
                 "preallocation=full,cluster_size=2M", "lazy_refcounts=on",
                 "compression_type=zstd", "compression_type=bogus", "backing_file=base.img",
                 "backing_file=base.img,preallocation=full", "backing_fmt=raw",
                 "data_file=x.raw", "data_file_raw=on", "data_file_raw=maybe", "encryption=on",
                 "encrypt.format=aes", "size=1k", "size=99999999999999999999", "nocow=on",
                 "nocow", "extent_size_hint=1M", "id=foo", "help", "?", "bogus=1", "=5",
                 "cluster_size=4k,,lazy_refcounts=on", "cluster_size=0x10k",
                 "cluster_size=1.5k", "cluster_size=3000", "cluster_size=4M",
                 "cluster_size=0", "preallocation=bogus,preallocation=off",
                 "compat=1.1,refcount_bits=8,compat=0.10"]:
        c.append(["--size", "1G", "-O", "qcow2", "-o", opts])
    c += [["--size", "1G", "-O", "qcow2", "-o", "cluster_size=8k", "-o", "refcount_bits=8"],
          ["--size", "1G", "-O", "qcow2", "-o", "cluster_size=8k,"],
          ["--size", "1G", "-O", "qcow2", "-o", ",cluster_size=8k"],
          ["--size", "1G", "-O", "qcow2", "-o", ""]]
    # raw target options.
    for opts in ["size=1k", "preallocation=bogus", "preallocation=full", "nocow=x",
                 "nocow=on", "extent_size_hint=abc", "cluster_size=64k", "extended_l2=on"]:
        c.append(["--size", "1G", "-o", opts])
    # LUKS: the default cipher and every key size, inside qcow2 and as target.
    c += [["--size", "1G", "-O", "luks"],
          ["--size", "1G", "-O", "luks", "-o", "key-secret=sec0"],
          SECRET + ["--size", "1G", "-O", "luks", "-o", "key-secret=sec0"],
          SECRET + ["--size", "1000", "-O", "luks", "-o", "key-secret=sec0"],
          SECRET + ["--size", "0", "-O", "luks", "-o", "key-secret=sec0,cipher-alg=aes-128"],
          SECRET + ["--size", "1G", "-O", "luks", "-o",
                    "key-secret=sec0,cipher-alg=aes-128,cipher-mode=cbc"],
          SECRET + ["--size", "1G", "-O", "luks", "-o", "key-secret=sec0,cipher-alg=aes-192"],
          encrypted_secret() + ["--size", "1G", "-O", "luks", "-o", "key-secret=sec0"],
          encrypted_secret() + ["--size", "1G", "-O", "qcow2", "-o",
                                "encrypt.format=luks,encrypt.key-secret=sec0"],
          SECRET + ["--size", "7E", "-O", "luks", "-o", "key-secret=sec0", "--output=json"],
          SECRET + ["--size", "1G", "-O", "luks", "-o", "key-secret=nosuch"],
          SECRET + ["--size", "1G", "-O", "luks", "-o", "key-secret=sec0,cipher-alg=sm4"],
          SECRET + ["--size", "1G", "-O", "luks", "-o", "key-secret=sec0,cipher-alg=bogus"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.key-secret=sec0"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-alg=aes-128,"
                    "cluster_size=2M"],
          ["--size", "1G", "-O", "qcow2", "-o", "encrypt.format=luks"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.key-secret=nosuch"]]
    # LUKS option checks that fail before qemu-img's PBKDF benchmark.
    for opts in ["cipher-mode=bogus", "cipher-mode=XTS", "ivgen-alg=bogus", "ivgen-alg=",
                 "ivgen-hash-alg=bogus", "hash-alg=bogus", "iter-time=x", "iter-time=1k",
                 "iter-time=9223372036854775808", "iter-time=18446744073709551616",
                 "cipher-alg=des", "cipher-alg=3des,cipher-mode=cbc",
                 "ivgen-alg=essiv,ivgen-hash-alg=sha1", "ivgen-alg=essiv,ivgen-hash-alg=sha512,"
                 "cipher-alg=twofish-128", "ivgen-alg=essiv,cipher-alg=serpent-256,"
                 "ivgen-hash-alg=sha224", "cipher-alg=cast5-128,ivgen-alg=essiv",
                 "cipher-alg=cast5-128", "cipher-alg=bogus,cipher-mode=bogus",
                 "cipher-mode=bogus,cipher-alg=des", "cipher-alg=des,ivgen-alg=essiv,"
                 "ivgen-hash-alg=sha1", "key-secret=", "cipher-alg=bogus,cipher-alg=des"]:
        key = "" if "key-secret" in opts else "key-secret=sec0,"
        c.append(SECRET + ["--size", "1G", "-O", "luks", "-o", key + opts])
    c += [["--size", "1G", "-O", "luks", "-o", "cipher-alg=des"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-alg=des"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-mode=bogus"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=aes,encrypt.key-secret=nosuch,encrypt.cipher-alg=bogus"],
          SECRET + ["--size", "1G", "-O", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.iter-time=abc"],
          ["--size", "1G", "-O", "qcow2", "-o", "encrypt.format=luks,encrypt.bogus=1"],
          ["--size", "1G", "-O", "qcow2", "-o", "encrypt.format=luks,encryption=bogus"]]
    # --object definitions (processed as they appear, before anything else).
    for obj in ["secret,id=1abc,data=x", "secret,id=,data=x", "secret,data=x",
                "secret,id=s", "secret,id=s,data=x,file=/etc/hostname",
                "secret,id=s,file=/nonexistent/secret", "secret,id=s,file=/",
                "secret,id=s,data=@@,format=base64", "secret,id=s,data=YWJj,format=base64",
                "secret,id=s,data=x,format=bogus", "secret,id=s,data=x,bogus=1",
                "foo,id=x", "", "id=x", "secret,id=s,data", "secret,id.x=x",
                "secret,a.b=x,id=s,data=x", "qom-type=secret,id=s,data=x",
                '{"qom-type":"secret","id":"s","data":"x"}',
                '{"qom-type":"secret","id":"s","data":5}', '{"qom-type":"secret","id":"s"',
                "{}", "secret,id=s,data=x,keyid=k", "help", "?", "secret,help",
                "foo,help", "secret,id=s,data=abc,,def", "secret,id=s,id=t,data=x"]:
        c.append(["--object", obj, "--size", "1G"])
    c += [["--object", "secret,id=s,data=x", "--object", "secret,id=s,data=y", "--size", "1"],
          ["--object", "secret,id=k,data=12345678901234567890123456789012", "--object",
           "secret,id=s,data=x,keyid=k", "--size", "1"],
          ["--object", "secret,id=k,data=short", "--object",
           "secret,id=s,data=x,keyid=k,iv=YWJj", "--size", "1"],
          ["--object", "secret,id=k,data=12345678901234567890123456789012", "--object",
           "secret,id=s,data=x,keyid=k,iv=YWJj", "--size", "1"],
          ["--object", "secret,id=k,data=12345678901234567890123456789012", "--object",
           "secret,id=s,data=YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4,format=base64,keyid=k,"
           "iv=MDEyMzQ1Njc4OWFiY2RlZg==", "--size", "1"],
          ["--size", "bad", "--object", "foo,id=x"], ["--object", "foo,id=x", "--size", "bad"],
          ["-o", ",", "--object", "foo"], ["--object", "help", "--size", "bad"]]

    # Target formats qemu-img knows but cannot measure or create.
    for fmt in ["vdi", "qed", "qcow", "parallels", "file", "nbd", "host_device", "bochs",
                "dmg", "null-co", "RAW", "vhd", "bogus", ""]:
        c.append(["--size", "1G", "-O", fmt])
    c += [["--size", "1G", "-O", "vdi", "-o", "bogus=1"],
          ["--size", "1G", "-O", "vdi", "-o", "static=on"],
          ["--size", "1G", "-O", "bochs", "-o", "bogus=1"],
          ["--size", "1G", "-O", "bogus", "-o", "bogus=1"],
          ["--size", "1G", "-O", "qcow2", "-O", "raw"]]
    # argv rules, ordering and getopt.
    c += [[], ["--size"], ["-O"], ["--size", "1G", "--output=xml"],
          ["--size", "1G", "--output", "JSON"], ["--output=json", "--size", "1G"],
          ["--size", "1G", "--size", "2G"], ["--size", "1G", "-U"],
          ["--size", "1G", "--force-share"], ["--size", "1G", "a.img"],
          ["--size", "1G", "-f", "qcow2"], ["--size", "1G", "-l", "snap"],
          ["--size", "1G", "--image-opts"], ["-l", "snapshot.foo=1", "--size", "1G"],
          ["-l", "snapshot.id=1", "--size", "1G"], ["-f", "raw"],
          ["a.img", "b.img"], ["/nonexistent/x.img"], ["-O", "foo", "/nonexistent/x.img"],
          ["--size", "1G", "-q"], ["--bogus"], ["-h"], ["--help"], ["--si", "1k"],
          ["--out", "json", "--size", "1k"], ["--o", "json", "--size", "1k"],
          ["--size", "1G", "--", "a.img"], ["--size", "1G", "-"], ["--", "--size", "1G"],
          ["--image-opts=x", "--size", "1G"], ["--size", "1G", "-:"], ["-Uf"],
          ["-UO", "raw", "--size", "1G"], ["-Ofoo", "--size", "1G"], ["--si=1G", "--out=json"],
          ["--size=1k", "--output=json"], ["--size", "bad", "--output=xml"],
          ["--output=xml", "--size", "bad"], ["-o", "x,", "--size", "bad"],
          ["--size", "bad", "-o", "x,"], ["--object", "foo,id=x", "--size", "1G"],
          ["--object", "secret,id=s", "--size", "1G"],
          SECRET + ["--size", "1G"], SECRET + ["--size", "1G", "-O", "qcow2"]]
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    ap.add_argument("-k", "--keyword", help="only cases whose argv contains this")
    args = ap.parse_args()
    if not kvm_available():
        print("FAIL: /dev/kvm is not available; the functional tests need it")
        return 1
    instar = os.path.abspath(args.instar)
    all_cases = cases()
    failures = 0
    ran = 0
    # Relative names in argv (a.img, base.img) resolve in an empty directory.
    with tempfile.TemporaryDirectory(prefix="instar-func-") as tmp:
        os.chdir(tmp)
        for argv in all_cases:
            if args.keyword and not any(args.keyword in a for a in argv):
                continue
            ran += 1
            diffs = compare(instar, argv)
            if diffs:
                failures += 1
                print(f"FAIL measure {argv}:")
                for d in diffs:
                    print(f"     {d}")
    print(f"measure --size side by side with qemu-img: {ran - failures} of {ran} identical")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
