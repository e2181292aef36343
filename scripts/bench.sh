#!/usr/bin/env bash
# bench.sh: whole-process time of instar against qemu-img in the same run.
#
# hyperfine times each pair back to back (warm-up runs first); the report is
# the median of each and their ratio (instar / qemu-img: below 1 is faster).
# Speed targets live here, never in timed tests.
#
# Usage: scripts/bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
runs=${2:-100}
instar=$build/instar
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (scripts/install-deps.sh)" >&2; exit 1; }

cases=(
    "--size 1G -O qcow2"
    "--size 1G"
    "--size 100T -O qcow2 -o cluster_size=2M,extended_l2=on --output=json"
)

printf '%-66s %10s %10s %7s\n' "measure arguments" "instar" "qemu-img" "ratio"
i=0
for args in "${cases[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    hyperfine -N --warmup 10 --runs "$runs" --export-json "$out/$i.json" \
        "$instar measure $args" "qemu-img measure $args" >/dev/null 2>&1
    python3 - "$out/$i.json" "$args" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, q = r[0]["median"], r[1]["median"]
print(f"{sys.argv[2]:66s} {a * 1000:8.2f}ms {q * 1000:8.2f}ms {a / q:7.3f}")
PY
done
