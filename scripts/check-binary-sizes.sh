#!/usr/bin/env bash
# check-binary-sizes.sh: gate the guest blobs' memory footprint.
#
# For core.bin and every operation blob, the extent of all PT_LOAD segments
# (highest vaddr + memsz, so .bss counts) minus the load address must fit the
# blob's region from shared/abi_vm.h.  Warns at 85 %, fails above 100 %.
# shakenfist/instar once shipped a core whose .bss overwrote operation code
# because its gate measured file size; this one measures memsz.
#
# Usage: scripts/check-binary-sizes.sh [BUILD_DIR]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
abi=$top/shared/abi_vm.h

const() {
    local v
    v=$(awk -v n="$1" '$1 == "#define" && $2 == n {print $3; exit}' "$abi")
    [ -n "$v" ] || { echo "check-binary-sizes: $1 not found in $abi" >&2; exit 2; }
    printf '%d' "$v"
}

core_base=$(const ABI_CORE_LOAD_ADDR)
core_cap=$(const ABI_CORE_MAX_SIZE)
op_base=$(const ABI_OP_LOAD_ADDR)
op_cap=$(const ABI_OP_MAX_SIZE)

status=0

# extent FILE: highest vaddr+memsz over PT_LOAD segments, in bytes.
extent() {
    local max=0 vaddr memsz
    while read -r vaddr memsz; do
        if [ $((vaddr + memsz)) -gt "$max" ]; then max=$((vaddr + memsz)); fi
    done < <(readelf -lW "$1" | awk '$1 == "LOAD" {print $3, $6}')
    echo "$max"
}

check() {
    local file=$1 base=$2 cap=$3 end used pct
    if [ ! -f "$file" ]; then
        echo "FAIL $(basename "$file"): missing"
        status=1
        return
    fi
    end=$(extent "$file")
    used=$((end - base))
    pct=$((used * 100 / cap))
    if [ "$end" -le "$base" ] || [ "$used" -gt "$cap" ]; then
        printf 'FAIL %-14s %7d bytes of %7d (%d%%) at 0x%x\n' "$(basename "$file")" "$used" "$cap" "$pct" "$base"
        status=1
    elif [ "$pct" -ge 85 ]; then
        printf 'WARN %-14s %7d bytes of %7d (%d%%) at 0x%x\n' "$(basename "$file")" "$used" "$cap" "$pct" "$base"
    else
        printf 'ok   %-14s %7d bytes of %7d (%d%%) at 0x%x\n' "$(basename "$file")" "$used" "$cap" "$pct" "$base"
    fi
}

check "$build/core.bin" "$core_base" "$core_cap"
found=0
for f in "$build"/*.bin; do
    [ "$(basename "$f")" = core.bin ] && continue
    found=1
    check "$f" "$op_base" "$op_cap"
done
if [ "$found" -eq 0 ]; then
    echo "FAIL no operation blobs in $build"
    status=1
fi
exit $status
