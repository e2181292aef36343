#!/usr/bin/env bash
# build-musl-deps.sh: build the host monitor's one library, protobuf-c's
# runtime, against musl, from the Debian source package that
# scripts/install-deps.sh unpacked (the release of Debian 12's
# libprotobuf-c-dev, with its Debian patches).  The seccomp filter needs no
# library at run time: libseccomp compiles it at build time
# (vmm/vmm_seccomp_gen.c).
#
# Why musl: the release build of instar is a static-pie executable, and
# glibc's static start-up identifies the CPU with ~40 CPUID instructions;
# under a hypervisor each one traps (~4 us on our machines), a quarter of a
# millisecond per run before main().  musl's start-up executes none.  See
# docs/building.md.
#
# Output (under build/deps/musl/, whatever BUILD is):
#   include/   protobuf-c/protobuf-c.h, and links to the kernel's UAPI headers (linux/, asm/, asm-generic/)
#              from Debian's linux-libc-dev, which musl's own include
#              directory does not carry
#   lib/       libprotobuf-c.a (position-independent)
#
# Usage: scripts/build-musl-deps.sh  (idempotent; rebuilds everything)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/build/deps"
out="$deps/musl"
MUSL_CC=${MUSL_CC:-musl-gcc}
PROTOBUF_C_DIR="$deps/protobuf-c-1.4.1"

[ -f "$PROTOBUF_C_DIR/.sha256-ok" ] ||
    { echo "build-musl-deps: $PROTOBUF_C_DIR missing (run scripts/install-deps.sh)" >&2; exit 1; }
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

touch "$out/.ok"
echo "build-musl-deps: done"
