#!/usr/bin/env bash
# build-musl-deps.sh: build the host monitor's two libraries, protobuf-c's
# runtime and libseccomp, against musl, from the Debian source packages that
# scripts/install-deps.sh unpacked (same releases and Debian patches as
# Debian 12's libprotobuf-c-dev and libseccomp-dev).
#
# Why musl: the release build of instar is a static-pie executable, and
# glibc's static start-up identifies the CPU with ~60 CPUID instructions;
# under a hypervisor each one traps (~4 us on our machines), a quarter of a
# millisecond per run before main().  musl's start-up executes none.  See
# docs/building.md.
#
# Output (under build/deps/musl/, whatever BUILD is):
#   include/   protobuf-c/protobuf-c.h, seccomp.h, seccomp-syscalls.h, and
#              links to the kernel's UAPI headers (linux/, asm/, asm-generic/)
#              from Debian's linux-libc-dev, which musl's own include
#              directory does not carry
#   lib/       libprotobuf-c.a, libseccomp.a (position-independent)
#
# Usage: scripts/build-musl-deps.sh  (idempotent; rebuilds everything)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/build/deps"
out="$deps/musl"
MUSL_CC=${MUSL_CC:-musl-gcc}
PROTOBUF_C_DIR="$deps/protobuf-c-1.4.1"
LIBSECCOMP_DIR="$deps/libseccomp-2.5.4"

for d in "$PROTOBUF_C_DIR" "$LIBSECCOMP_DIR"; do
    [ -f "$d/.sha256-ok" ] || { echo "build-musl-deps: $d missing (run scripts/install-deps.sh)" >&2; exit 1; }
done
command -v "$MUSL_CC" >/dev/null || { echo "build-musl-deps: $MUSL_CC missing (Debian package musl-tools)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/include/protobuf-c" "$out/lib" "$out/obj"

# Kernel UAPI headers: Debian's linux-libc-dev layout.
multiarch=$(gcc -print-multiarch)
for h in linux asm-generic; do
    [ -d "/usr/include/$h" ] || { echo "build-musl-deps: /usr/include/$h missing (linux-libc-dev)" >&2; exit 1; }
    ln -s "/usr/include/$h" "$out/include/$h"
done
[ -d "/usr/include/$multiarch/asm" ] || { echo "build-musl-deps: /usr/include/$multiarch/asm missing" >&2; exit 1; }
ln -s "/usr/include/$multiarch/asm" "$out/include/asm"

cflags=(-O2 -fPIE -fstack-protector-strong -fstack-clash-protection -isystem "$out/include")

# protobuf-c: the runtime is one file.
cp "$PROTOBUF_C_DIR/protobuf-c/protobuf-c.h" "$out/include/protobuf-c/"
"$MUSL_CC" "${cflags[@]}" -w -I "$PROTOBUF_C_DIR" -c "$PROTOBUF_C_DIR/protobuf-c/protobuf-c.c" \
    -o "$out/obj/protobuf-c.o"
ar rcs "$out/lib/libprotobuf-c.a" "$out/obj/protobuf-c.o"

# libseccomp: its own configure and make, out of tree.  The Debian patch
# updates the syscall table, so gperf regenerates the lookup code.
mkdir -p "$out/seccomp-build"
(
    cd "$out/seccomp-build"
    "$LIBSECCOMP_DIR/configure" -q CC="$MUSL_CC" CFLAGS="${cflags[*]} -w" \
        --enable-static --disable-shared --disable-python >/dev/null
    make -s -C src libseccomp.la >/dev/null
)
cp "$out/seccomp-build/src/.libs/libseccomp.a" "$out/lib/"
cp "$out/seccomp-build/include/seccomp.h" "$LIBSECCOMP_DIR/include/seccomp-syscalls.h" \
    "$out/include/"
touch "$out/.ok"
echo "build-musl-deps: done"
