#!/usr/bin/env bash
# install-deps.sh: install the Debian packages instar builds and tests with,
# and fetch two Debian source packages: nanopb (the runtime compiled into
# the guest) and protobuf-c (the host monitor's library, compiled against
# musl for the release binary by scripts/build-musl-deps.sh).
#
# Idempotent: packages already present are not reinstalled and a source
# package is fetched only when its unpacked tree under build/deps/ is missing.
# Every tarball's sha256 is pinned here.  The system's apt sources are never
# edited: the deb-src entry lives in a private temporary apt configuration
# (see docs/building.md).
#
# Usage: scripts/install-deps.sh [--no-packages] [--nanopb-only]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps_dir="$top/build/deps"

# The generator (Debian package nanopb) and the runtime we compile for the
# guest must be the same release; the orig tarball's sha256 pins it.
NANOPB_VERSION=0.4.7
NANOPB_SHA256=e1d89b166367a3c42d42311bdc2ed57ff78f86aede9a66828516e45490d48c81
# The host's library for the musl build: the release of Debian 12's
# libprotobuf-c-dev (which the glibc test builds use), with the Debian
# revision's patches (none in 1.4.1-1).
PROTOBUF_C_VERSION=1.4.1
PROTOBUF_C_DEBIAN=1.4.1-1
PROTOBUF_C_SHA256=4cc4facd508172f3e0a4d3a8736225d472418aee35b4ad053384b137b220339f
PROTOBUF_C_DEBIAN_SHA256=7b303d1f1fb995fd242681db40f1415f368d14fe877b3c832ad1ca67b7db8096

PACKAGES=(
    gcc make binutils libc6-dev pkg-config python3
    musl-tools linux-libc-dev patch
    protobuf-c-compiler libprotobuf-c-dev
    nanopb python3-protobuf
    check libcmocka-dev libseccomp-dev libsubunit-dev
    qemu-utils strace openssl
    clang llvm libclang-rt-14-dev
    hyperfine time
)

want_packages=1
nanopb_only=0
for arg in "$@"; do
    case "$arg" in
    --no-packages) want_packages=0 ;;
    --nanopb-only) want_packages=0; nanopb_only=1 ;;
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

# Download Debian source package $1's files (bookworm) into $2, through a
# private apt configuration.
apt_source_download() {
    local pkg=$1 out=$2 d
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
    (cd "$d" && apt-get "${apt_priv[@]}" -q source --download-only "$pkg")
    cp "$d"/*.tar.* "$out"/
}

# fetch_source NAME VERSION SHA256 CHECK_FILE [DEBIAN_REVISION DEBIAN_SHA256]
# Unpacks NAME's orig tarball to build/deps/NAME-VERSION and, given a Debian
# revision, applies that revision's patch series.  CHECK_FILE (relative to
# the tree) must exist afterwards.
fetch_source() {
    local name=$1 version=$2 sha=$3 check=$4 deb_rev=${5:-} deb_sha=${6:-}
    local dest="$deps_dir/$name-$version"
    if [ -f "$dest/$check" ] && [ -f "$dest/.sha256-ok" ]; then
        echo "install-deps: $name $version sources present"
        return
    fi
    mkdir -p "$deps_dir"
    local orig="$deps_dir/${name}_$version.orig.tar.gz"
    local debian=""
    [ -n "$deb_rev" ] && debian="$deps_dir/${name}_$deb_rev.debian.tar.xz"
    if ! echo "$sha  $orig" | sha256sum -c --status 2>/dev/null ||
       { [ -n "$debian" ] && ! echo "$deb_sha  $debian" | sha256sum -c --status 2>/dev/null; }; then
        apt_source_download "$name" "$deps_dir"
    fi
    echo "$sha  $orig" | sha256sum -c --quiet
    rm -rf "$dest"
    tar --no-same-owner -xzf "$orig" -C "$deps_dir"
    if [ -n "$debian" ]; then
        echo "$deb_sha  $debian" | sha256sum -c --quiet
        local p
        tar --no-same-owner -xJf "$debian" -C "$dest"
        if [ -f "$dest/debian/patches/series" ]; then
            while read -r p; do
                case "$p" in ''|'#'*) continue ;; esac
                patch -s -p1 -d "$dest" < "$dest/debian/patches/$p"
            done < "$dest/debian/patches/series"
        fi
    fi
    [ -f "$dest/$check" ] || { echo "install-deps: $dest/$check missing" >&2; exit 1; }
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
fetch_source nanopb "$NANOPB_VERSION" "$NANOPB_SHA256" pb_encode.c
if [ "$nanopb_only" -eq 0 ]; then
    fetch_source protobuf-c "$PROTOBUF_C_VERSION" "$PROTOBUF_C_SHA256" protobuf-c/protobuf-c.c \
        "$PROTOBUF_C_DEBIAN" "$PROTOBUF_C_DEBIAN_SHA256"
fi
echo "install-deps: done"
