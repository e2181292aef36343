#!/usr/bin/env python3
"""test_lockdown.py: the monitor is locked down while the guest runs.

While a guest spins (the test blob, on a source whose first byte is 'L'),
/proc shows, for the sandbox process that runs it (the child instar forks
for every guest run of a source image; the parent only opens files), and
for it alone, seccomp in filter mode, no_new_privs, no core dumps, the CPU
and descriptor limits, and exactly the descriptors the run needs, the image
read-only.  A system call outside the allow-list (INSTAR_SECCOMP_SELFTEST=1)
kills the process with SIGSYS.  Needs /dev/kvm.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def sandbox_children(pid):
    """The child processes of `pid` (instar's sandbox runs)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instar", required=True)
    ap.add_argument("--core", required=True)
    ap.add_argument("--guest", required=True)
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("FAIL: /dev/kvm is not available")
        return 1
    problems = []
    tmp = tempfile.mkdtemp(prefix="instar-lockdown-")
    try:
        blobs = os.path.join(tmp, "blobs")
        os.mkdir(blobs)
        shutil.copy(args.core, os.path.join(blobs, "core.bin"))
        shutil.copy(args.guest, os.path.join(blobs, "measure.bin"))
        image = os.path.join(tmp, "spin.img")
        with open(image, "wb") as f:
            f.write(b"L" + b"\0" * 4095)
        env = dict(os.environ, INSTAR_BLOB_DIR=blobs)
        p = subprocess.Popen([os.path.abspath(args.instar), "measure", "--timeout", "5", image],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 3
            child = None
            while time.monotonic() < deadline:
                kids = sandbox_children(p.pid)
                if kids and status_field(kids[0], "Seccomp") == "2":
                    child = kids[0]
                    break
                time.sleep(0.01)
            if child is None:
                problems.append("no locked-down sandbox process appeared")
                child = p.pid
            parent_seccomp = status_field(p.pid, "Seccomp")
            seccomp = status_field(child, "Seccomp")
            nnp = status_field(child, "NoNewPrivs")
            limits = open(f"/proc/{child}/limits").read()
            fds = {}
            for fd in os.listdir(f"/proc/{child}/fd"):
                target = os.readlink(f"/proc/{child}/fd/{fd}")
                flags = open(f"/proc/{child}/fdinfo/{fd}").read().split("flags:")[1].split()[0]
                fds[int(fd)] = (target, int(flags, 8))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        if parent_seccomp != "0":
            # The parent never runs guest code; it must stay able to open files.
            problems.append(f"parent Seccomp is {parent_seccomp}, want 0")
        if seccomp != "2":
            problems.append(f"Seccomp is {seccomp}, want 2 (filter) while the guest runs")
        if nnp != "1":
            problems.append(f"NoNewPrivs is {nnp}")
        core = [l for l in limits.splitlines() if l.startswith("Max core file size")]
        if not core or core[0].split()[4:6] != ["0", "0"]:
            problems.append(f"core limit: {core}")
        cpu = [l for l in limits.splitlines() if l.startswith("Max cpu time")]
        if not cpu or cpu[0].split()[3] != "10":
            problems.append(f"cpu limit (deadline 5 s + 5): {cpu}")
        want = {"anon_inode:kvm-vm", "anon_inode:kvm-vcpu:0", image}
        got = {t for fd, (t, _) in fds.items() if fd > 2}
        if got != want:
            problems.append(f"descriptors {sorted(got)}, want {sorted(want)}")
        for fd, (target, flags) in fds.items():
            if target == image and flags & os.O_ACCMODE != os.O_RDONLY:
                problems.append(f"image opened with flags {oct(flags)}")
        # A forbidden system call after lockdown is fatal.
        q = subprocess.run([os.path.abspath(args.instar), "measure", "--size", "100"],
                           env=dict(env, INSTAR_SECCOMP_SELFTEST="1"), capture_output=True,
                           timeout=30)
        if q.returncode != -signal.SIGSYS or q.stdout:
            problems.append(f"forbidden syscall: exit {q.returncode}, stdout {q.stdout!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for pr in problems:
        print("FAIL", pr)
    print(f"lockdown: {7 - len(problems)} of 7 checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
