#!/usr/bin/env python3
"""test_malformed.py: instar on the malformed-image corpus (malformed.py).

For every image, `instar measure -O qcow2 --output=json ...` must, within
5 seconds:
  - print exactly what qemu-img prints (stdout, stderr after the program
    name, exit status), or
  - fail with one clear line on stderr and exit status 1; where qemu-img
    measured the image, the message must be one of instar's documented
    refusals (docs/quirks.md), so a new divergence cannot slip in;
and never crash (a guest fault or a protocol violation fails the test too),
never leave the input changed (SHA-256 and mtime), and never touch a file
besides its fixed start-up set (the files `instar measure --size` touches),
the named image, and paths inside the image's directory (where the default
path policy looks up backing files; lookups beneath the directory's
descriptor count as inside it), as strace shows.  Peak RSS stays under the guest RAM
plus 16 MiB.  Under a sanitizer build (make check-asan) each image is run
a second time without strace (LeakSanitizer cannot work under ptrace): a
leak or any sanitizer report fails the image; the deadline is tripled and
the RSS bound, which ASan's shadow memory defeats, is not applied.

Needs /dev/kvm and strace: without them the test fails, loudly.
"""
import argparse
import collections
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import malformed  # noqa: E402
from measure_common import (data_extents, kvm_available, normalise_qemu_stderr,  # noqa: E402
                            strace_paths)

DEADLINE_S = 5.0
GUEST_RAM_KIB = 64 * 1024
RSS_SLACK_KIB = 16 * 1024
# An ASan build: leaks are checked by a second, untraced run; the deadline
# is tripled and the RSS bound (shadow memory) not applied.
SANITIZED = False

# instar's refusals where qemu-img measures (docs/quirks.md, docs/formats/).
DOCUMENTED = [
    (r"is beyond the end of the file|lies beyond the end of the file", "tables past EOF (T29)"),
    (r"overlapping|more than once|named twice|references more tables than the file holds",
     "aliased tables (T13)"),
    (r"qemu-img aborts", "qemu-img would abort"),
    (r"outside the directories instar may open|names a protocol|json: backing",
     "path policy"),
    (r"data file|external|extent file|differencing VHD", "external files (not followed)"),
    (r"not a regular file|requires .* to be a regular file", "non-regular files"),
]

# Stands for the image's directory in relative names looked up beneath it.
BENEATH = "<beneath>"



def sha256(path):
    """SHA-256 of the data extents and their offsets (holes read as zeros
    need not be read: the corpus has multi-TiB sparse files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for pos, hole in data_extents(f):
            h.update(pos.to_bytes(8, "little"))
            f.seek(pos)
            while pos < hole:
                chunk = f.read(min(1 << 20, hole - pos))
                if not chunk:
                    break
                h.update(chunk)
                pos += len(chunk)
    return h.hexdigest()


def fingerprint(path):
    """What must not change: content and mtime of a regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return (st.st_mode, st.st_mtime_ns)
    return (sha256(path), st.st_mtime_ns, st.st_size)


def sanitized(instar):
    """Is this an ASan build (make check-asan)?"""
    with open(instar, "rb") as f:
        return b"__asan_init" in f.read()


def sanitizer_env():
    """LeakSanitizer cannot run under ptrace: the strace'd run leaves leaks
    to the untraced run (check())."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


def inside(p, home):
    """True when `p`, normalised as text, is `home` or lies below it."""
    p = os.path.normpath(p)
    return p == home or p.startswith(home + "/")


def traced_run(instar, args, trace):
    """Run instar under strace (file syscalls only); returns exit status,
    stdout, stderr, seconds, peak RSS in KiB, and the paths it named."""
    argv = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=%file", "-o", trace,
            instar, "measure", "-O", "qcow2", "--output=json"] + args
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=sanitizer_env())
        status = None
        while status is None:
            pid, st, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, rss = st, usage.ru_maxrss
            elif time.monotonic() - start > 4 * DEADLINE_S:
                proc.kill()
            else:
                time.sleep(0.002)
        secs = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    return proc.returncode, stdout, stderr, secs, rss, strace_paths(trace, BENEATH)


def qemu(args):
    argv = ["prlimit", "--cpu=20", "--as=4294967296", "timeout", "30", "qemu-img", "measure",
            "-O", "qcow2", "--output=json"] + args
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def image_path(case):
    """The file the case names (inside --image-opts too)."""
    for a in case.args:
        m = re.search(r"file\.filename=([^,]+)", a)
        if m:
            return m.group(1)
    return case.args[-1]


def check(instar, case, baseline, trace, verbose=False):
    """Problems of one case (empty: it passed) and its outcome."""
    problems = []
    path = image_path(case)
    before = fingerprint(path)
    rc, out, err, secs, rss, paths = traced_run(instar, case.args, trace)
    if SANITIZED:
        # Leaks and sanitizer reports: the same run without ptrace must end
        # the same way (LeakSanitizer exits 23 and prints its report).
        plain = subprocess.run([instar, "measure", "-O", "qcow2", "--output=json"] + case.args,
                               capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if (plain.returncode, plain.stdout, plain.stderr) != (rc, out, err):
            problems.append(f"untraced run differs (exit {plain.returncode}): "
                            f"{plain.stderr.strip()[:300]}")
    after = fingerprint(path)
    if secs > DEADLINE_S * (3 if SANITIZED else 1):
        problems.append(f"took {secs:.1f} s")
    if rss > GUEST_RAM_KIB + RSS_SLACK_KIB and not SANITIZED:
        problems.append(f"peak RSS {rss} KiB")
    if before != after:
        problems.append("the input changed")
    home = os.path.dirname(os.path.realpath(path))
    extra = {p for p in paths - baseline
             if p != path and os.path.realpath(p) != os.path.realpath(path)
             and not inside(p.replace(BENEATH, home, 1), home)}
    if extra:
        problems.append(f"touched other files: {sorted(extra)}")
    lines = err.splitlines()
    if rc not in (0, 1):
        problems.append(f"exit {rc}: {err.strip()[:300]}")
        return problems, "crash"
    # A refusal is one "instar:" line, optionally after one note line that
    # qemu-img prints before the same error (a "qcow2: Image is corrupt" event).
    if rc == 1 and (len(lines) not in (1, 2) or not lines[-1].startswith("instar: ")
                    or not lines[-1][8:].strip() or out
                    or not all(line.strip() and line.isprintable() for line in lines)):
        problems.append(f"unclear error: {err[:300]!r}")
    if not case.qemu:
        if rc == 0:
            problems.append(f"measured a non-file: {out.strip()}")
        return problems, "refused"
    q = qemu(case.args)
    want_err = normalise_qemu_stderr(q.stderr)
    if q.returncode < 0 or q.returncode >= 128:
        # qemu-img crashed or ran out of its CPU limit (docs/quirks.md rows
        # 16-17, T13): instar's answer or clear error stands alone.
        return problems, "qemu-img crashed or timed out"
    if rc == 0:
        if q.returncode != 0 or out != q.stdout or err != want_err:
            problems.append(f"instar measured ({out.strip()}) but qemu-img exit "
                            f"{q.returncode}: {(q.stdout + q.stderr).strip()[:200]}")
        return problems, "same"
    if q.returncode == 1:
        if err != want_err and verbose:
            print(f"  {case}: instar {err.strip()!r}\n  {' ' * len(repr(case))}  qemu-img "
                  f"{want_err.strip()!r}")
        return problems, "same" if err == want_err else "both-refuse"
    if q.returncode == 0:
        why = [w for pat, w in DOCUMENTED if re.search(pat, err)]
        if not why:
            problems.append(f"refused what qemu-img measures, undocumented: {err.strip()}")
        return problems, "refused: " + (why[0] if why else "?")
    return problems, f"qemu-img exit {q.returncode}"  # 2+: qemu-img's own usage errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    ap.add_argument("-k", "--keyword", help="only cases whose class or name contains this")
    ap.add_argument("--keep", help="generate the corpus into this directory and keep it")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show both messages where both refuse with different ones")
    args = ap.parse_args()
    if not kvm_available():
        print("test_malformed: /dev/kvm is not usable: this test needs it", file=sys.stderr)
        return 1
    if shutil.which("strace") is None:
        print("test_malformed: strace is missing (scripts/install-deps.sh installs it)",
              file=sys.stderr)
        return 1
    instar = os.path.abspath(args.instar)
    global SANITIZED
    SANITIZED = sanitized(instar)
    d = args.keep or tempfile.mkdtemp(prefix="instar-malformed-")
    os.makedirs(d, exist_ok=True)
    try:
        cases = malformed.generate(d)
        classes = sorted({c.cls for c in cases})
        print(f"malformed corpus: {len(cases)} images in {len(classes)} classes")
        trace = os.path.join(d, "strace.log")
        rc, out, err, _, _, baseline = traced_run(instar, ["--size", "1G"], trace)
        baseline = {p for p in baseline if p != "1G"}
        if rc != 0:
            print(f"instar --size fails under strace: {err}", file=sys.stderr)
            return 1
        failures = 0
        outcomes = collections.defaultdict(collections.Counter)
        for case in cases:
            if args.keyword and args.keyword not in repr(case):
                continue
            problems, outcome = check(instar, case, baseline, trace, args.verbose)
            outcomes[case.cls][outcome] += 1
            if problems:
                failures += 1
                print(f"FAIL {case}: {'; '.join(problems)}")
        for cls in sorted(outcomes):
            summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes[cls].items()))
            print(f"  {cls}: {summary}")
        total = sum(sum(c.values()) for c in outcomes.values())
        print(f"malformed images: {total - failures} of {total} ended as required")
        return 1 if failures else 0
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
