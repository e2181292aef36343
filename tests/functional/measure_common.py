"""measure_common.py: helpers shared by the functional tests: run instar and
qemu-img side by side and compare what a user would see."""
import os
import re
import subprocess
import time

QEMU_NOISE = re.compile(r"^qemu: module .* not found, do you want to install .*$\n?", re.M)
QEMU_FLAKE = "Unable to get accurate CPU usage"


def run(argv, env=None, timeout=120, cwd=None):
    start = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    return p, time.monotonic() - start


def run_qemu(args, retries=40, cwd=None):
    """qemu-img measure <args>; retries qemu-img's random LUKS benchmark
    failure, which is noise, not behaviour (docs/quirks.md).  It fails more
    often on a loaded machine, hence the back-off."""
    for attempt in range(retries):
        p, _ = run(["qemu-img", "measure"] + args, cwd=cwd)
        if QEMU_FLAKE not in p.stderr:
            return p
        time.sleep(min(0.05 * (attempt + 1), 1.0))
    raise RuntimeError(f"qemu-img kept failing with '{QEMU_FLAKE}': {args}")


def normalise_qemu_stderr(text):
    """qemu-img's stderr as instar prints it: instar's program name, and
    without qemu's hint about optional module packages."""
    text = QEMU_NOISE.sub("", text)
    return re.sub(r"^qemu-img: ", "instar: ", text, flags=re.M)


def is_help(p):
    return p.returncode == 0 and p.stdout.startswith("qemu-img version")


def compare(instar, args, env=None, cwd=None):
    """Run both; return a list of differences (empty when identical)."""
    return differences(*run_both(instar, args, env=env, cwd=cwd))


def run_both(instar, args, env=None, cwd=None):
    """instar's and qemu-img's completed processes for `measure args`."""
    q = run_qemu(args, cwd=cwd)
    i, _ = run([os.path.abspath(instar), "measure"] + args, env=env, cwd=cwd)
    return i, q


def differences(i, q):
    """What differs between instar's run `i` and qemu-img's run `q`."""
    diffs = []
    if i.returncode != q.returncode:
        diffs.append(f"exit {i.returncode} != qemu-img {q.returncode}")
    want_err = normalise_qemu_stderr(q.stderr)
    if i.stderr != want_err:
        diffs.append(f"stderr {i.stderr!r} != qemu-img {want_err!r}")
    if is_help(q):
        # Usage text: instar prints its own (docs/quirks.md); both go to stdout.
        if not i.stdout.startswith("instar version"):
            diffs.append(f"help text missing: {i.stdout[:80]!r}")
    elif i.stdout != q.stdout:
        diffs.append(f"stdout {i.stdout!r} != qemu-img {q.stdout!r}")
    return diffs


# A file system call in an `strace -e trace=%file` log: name, dirfd, path.
PATH_CALL = re.compile(r'^\d+\s+(\w+)\((AT_FDCWD, |\d+, )?"((?:[^"\\]|\\.)*)"')


def strace_paths(trace, beneath):
    """The paths the calls in strace log `trace` name.  A relative name
    looked up beneath a directory descriptor (instar's openat2 under its
    path policy) is joined to `beneath`; getcwd names the process's
    directory and looks nothing up."""
    paths = set()
    with open(trace, errors="replace") as f:
        for line in f:
            m = PATH_CALL.match(line)
            if m and m.group(3) and m.group(1) != "getcwd":
                p = m.group(3).encode().decode("unicode_escape")
                if m.group(2) and m.group(2)[0].isdigit() and not p.startswith("/"):
                    p = os.path.join(beneath, p)
                paths.add(p)
    return paths


def kvm_available():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def data_extents(f):
    """(start, end) of each SEEK_DATA extent of an open file, in order."""
    fd = f.fileno()
    size = os.fstat(fd).st_size
    off = 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            return
        off = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, min(off, size)
