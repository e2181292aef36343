#!/usr/bin/env bash
# install-deps.sh: install the Debian packages instar builds and tests with,
# and fetch the nanopb runtime sources from Debian's nanopb source package.
#
# Idempotent: packages already present are not reinstalled and the nanopb
# sources are fetched only when build/deps/nanopb-<ver>/ is missing.  The
# system's apt sources are never edited: the deb-src entry lives in a private
# temporary apt configuration (see docs/building.md).
#
# Usage: scripts/install-deps.sh [--no-packages] [--nanopb-only]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps_dir="$top/build/deps"

# The generator (Debian package nanopb) and the runtime we compile for the
# guest must be the same release; the orig tarball's sha256 pins it.
NANOPB_VERSION=0.4.7
NANOPB_SHA256=e1d89b166367a3c42d42311bdc2ed57ff78f86aede9a66828516e45490d48c81

PACKAGES=(
    gcc make binutils libc6-dev pkg-config python3
    protobuf-c-compiler libprotobuf-c-dev
    nanopb python3-protobuf
    check libcmocka-dev libseccomp-dev libsubunit-dev
    qemu-utils strace openssl
    clang llvm libclang-rt-14-dev
    hyperfine time
)

want_packages=1
for arg in "$@"; do
    case "$arg" in
    --no-packages|--nanopb-only) want_packages=0 ;;
    *) echo "install-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
    local missing=()
    local p
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "install-deps: all Debian packages present"
        return
    fi
    echo "install-deps: installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The mirror URI the system already uses for Debian main.
debian_mirror() {
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 ~ /debian/ {print $2; exit}' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

fetch_nanopb() {
    local dest="$deps_dir/nanopb-$NANOPB_VERSION"
    if [ -f "$dest/pb_encode.c" ] && [ -f "$dest/.sha256-ok" ]; then
        echo "install-deps: nanopb $NANOPB_VERSION sources present"
        return
    fi
    mkdir -p "$deps_dir"
    local tarball="$deps_dir/nanopb_$NANOPB_VERSION.orig.tar.gz"
    if [ ! -f "$tarball" ] || ! echo "$NANOPB_SHA256  $tarball" | sha256sum -c --status; then
        local d
        d=$(mktemp -d)
        # shellcheck disable=SC2064
        trap "rm -rf '$d'" RETURN
        mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
        echo "deb-src $(debian_mirror) bookworm main" > "$d/sources.list"
        local apt_priv=(-o "Dir::Etc::sourcelist=$d/sources.list"
                        -o "Dir::Etc::sourceparts=-"
                        -o "Dir::State::Lists=$d/lists"
                        -o "Dir::Cache=$d/cache")
        apt-get "${apt_priv[@]}" -q update
        (cd "$d" && apt-get "${apt_priv[@]}" -q source --download-only nanopb)
        cp "$d/nanopb_$NANOPB_VERSION.orig.tar.gz" "$tarball"
    fi
    echo "$NANOPB_SHA256  $tarball" | sha256sum -c --quiet
    rm -rf "$dest"
    tar -xzf "$tarball" -C "$deps_dir"
    [ -f "$dest/pb_encode.c" ] || { echo "install-deps: $dest/pb_encode.c missing" >&2; exit 1; }
    touch "$dest/.sha256-ok"
}

check_generator_version() {
    local v
    v=$(dpkg-query -W -f='${Version}' nanopb 2>/dev/null || true)
    case "$v" in
    "$NANOPB_VERSION"*) ;;
    "") echo "install-deps: warning: Debian package nanopb is not installed" >&2 ;;
    *) echo "install-deps: nanopb generator $v does not match runtime $NANOPB_VERSION" >&2; exit 1 ;;
    esac
}

[ "$want_packages" -eq 1 ] && install_packages
check_generator_version
fetch_nanopb
echo "install-deps: done"
