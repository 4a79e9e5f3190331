#!/bin/sh
# Build Debian's QEMU (x86_64-softmmu only, minimal features) with the libviommu
# patch series applied.  Nothing of QEMU's source lives in this repository: the
# source package is fetched with `apt-get source` through the PRIVATE apt
# configuration of private-apt.sh (own sources.list with deb/deb-src lines for
# the archives the system already uses, own state/cache dirs).  The system's
# apt sources are never modified.
#
# Usage: build-qemu.sh [--unpatched] [--print-path]
#   env: VIOMMU_PREFIX   install prefix of libviommu (pkg-config dir looked up
#                        under it); default: the build tree given by
#                        VIOMMU_BUILD_DIR (default <repo>/build).
#        JOBS            make parallelism (default 2)
# Output: path of the qemu-system-x86_64 binary on the last stdout line.
# Exit:   0 built/cached, 77 cannot be had (reason on stderr), 1 build error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/libviommu
jobs=${JOBS:-2}
patched=1
[ "${1:-}" = "--unpatched" ] && patched=0

skip() { echo "build-qemu: SKIP: $*" >&2; exit 77; }
log() { echo "build-qemu: $*" >&2; }

command -v apt-get >/dev/null || skip "apt-get not available"
command -v dpkg-source >/dev/null || skip "dpkg-source (dpkg-dev) not installed"
for t in ninja meson pkg-config cc python3; do
    command -v $t >/dev/null || skip "$t not installed"
done
pkg-config --exists glib-2.0 pixman-1 && [ -f /usr/include/libfdt.h ] || skip "libglib2.0-dev/libpixman-1-dev/libfdt-dev missing"

# ---- private apt configuration (shared with fetch-guest.sh) ----------------
. "$here/private-apt.sh"
viommu_apt_setup "$cache" || skip "no Debian archive found in /etc/apt sources"

# Same version as the installed/candidate binary (binNMU suffix +bN stripped).
ver=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
[ -n "$ver" ] || ver=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/{print $2}')
srcver=$(echo "$ver" | sed 's/+b[0-9]*$//')
srcdirver=$(echo "$srcver" | sed "s/^[0-9]*://")
[ -n "$srcver" ] && [ "$srcver" != "(none)" ] || skip "cannot determine qemu version"
upver=$(echo "$srcver" | sed 's/^[0-9]*://; s/-[^-]*$//')
srcdir=$cache/src/qemu-$srcdirver
if [ ! -f "$srcdir/.extracted" ]; then
    log "fetching qemu source $srcver via private apt config"
    viommu_apt_update >&2 || skip "private apt update failed"
    mkdir -p "$cache/src/dl.$$" && cd "$cache/src/dl.$$"
    # Try the exact version first, then whatever the archive has.
    $APT source --download-only "qemu=$srcver" >&2 || \
        skip "apt-get source qemu=$srcver failed"
    dsc=$(ls ./*.dsc | head -1)
    rm -rf "$srcdir"
    dpkg-source --no-check -x "$dsc" "$srcdir" >&2 || skip "dpkg-source -x failed"
    cd "$cache/src" && rm -rf "dl.$$"
    touch "$srcdir/.extracted"
fi

# ---- patch series + cache key -----------------------------------------------
patches=""
[ $patched = 1 ] && patches=$(ls "$here"/patches/*.patch 2>/dev/null || true)
phash=$(cat $patches /dev/null "$here/build-qemu.sh" "$here/minimal.mak" | sha256sum | cut -c1-12)
vver=none
if [ $patched = 1 ]; then
    if [ -n "${VIOMMU_PREFIX:-}" ]; then
        # An installed libviommu: use its own pkg-config file.
        PKG_CONFIG_PATH=$VIOMMU_PREFIX/lib/pkgconfig:$VIOMMU_PREFIX/lib/x86_64-linux-gnu/pkgconfig:$VIOMMU_PREFIX/share/pkgconfig
    else
        # The repository's build tree: a static, PIC, non-sanitized build of
        # the library (QEMU links PIE) and a private .pc pointing at it.
        # One build dir per checkout path: a CMake cache is tied to its source dir.
        bdir=${VIOMMU_BUILD_DIR:-$cache/libviommu-build-$(echo "$repo" | sha256sum | cut -c1-8)}
        command -v cmake >/dev/null || skip "cmake not installed"
        if [ -z "${VIOMMU_BUILD_DIR:-}" ]; then
            cmake -S "$repo" -B "$bdir" -DCMAKE_BUILD_TYPE=Release \
                -DCMAKE_POSITION_INDEPENDENT_CODE=ON >&2 || { log "libviommu configure failed"; exit 1; }
            nice cmake --build "$bdir" -j"$jobs" --target viommu_static >&2 || \
                { log "libviommu build failed"; exit 1; }
        fi
        [ -f "$bdir/libviommu.a" ] || skip "no $bdir/libviommu.a"
        mkdir -p "$cache/pc"
        lver=$(sed -n 's/^Version: //p' "$bdir/libviommu.pc" 2>/dev/null || echo 0)
        cat > "$cache/pc/libviommu.pc" <<PC
Name: libviommu
Description: libviommu (static, from $bdir)
Version: ${lver:-0}
Libs: $bdir/libviommu.a -pthread
Cflags: -DVIOMMU_STATIC -I$repo/include -I$bdir/include
PC
        PKG_CONFIG_PATH=$cache/pc
    fi
    export PKG_CONFIG_PATH
    pkg-config --exists libviommu || skip "libviommu.pc not found (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
    # Key on the library *contents* so a rebuilt lib relinks QEMU.
    libfile=$(pkg-config --libs libviommu | tr ' ' '\n' | grep '\.a$' || true)
    [ -n "$libfile" ] || libfile=$(pkg-config --variable=libdir libviommu)/libviommu.a
    vver=$(pkg-config --modversion libviommu)-$( (cat "$libfile" 2>/dev/null; \
        cat "$repo"/include/libviommu/*.h) | sha256sum | cut -c1-8)
fi
key="$srcdirver-p$phash-v$vver"
[ $patched = 1 ] || key="$srcdirver-unpatched-p$phash"
out=$cache/qemu/$key
if [ -x "$out/qemu-system-x86_64" ]; then
    log "cached: $out"
    echo "$out/qemu-system-x86_64"
    exit 0
fi

# One work tree for both flavours (created by the first, usually unpatched,
# build): switching series re-syncs the pristine source, touching only files
# whose content changes, so ninja rebuilds just what the series touches.
wdir=$cache/work/qemu-$srcdirver-unpatched
flavour=patched; [ $patched = 1 ] || flavour=unpatched
stamp=$wdir/.series
want="$(cat $patches /dev/null "$here/minimal.mak" | sha256sum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    mkdir -p "$wdir"
    command -v rsync >/dev/null || skip "rsync not installed"
    # Remove files a previous series added, restore pristine content.
    if [ -f "$wdir/.added" ]; then (cd "$wdir" && xargs rm -f < .added); fi
    rsync -a --checksum -i --exclude=/build --exclude=/.series --exclude=/.added \
        "$srcdir/" "$wdir/" | awk '$1 ~ /^>f/ {print $2}' > "$wdir/.changed"
    (cd "$wdir" && xargs -r touch < .changed)
    : > "$wdir/.added"
    for p in $patches; do
        log "applying $(basename "$p")"
        sed -n 's|^+++ b/||p' "$p" | while read -r f; do [ -e "$wdir/$f" ] || echo "$f"; done >> "$wdir/.added"
        patch -d "$wdir" -p1 --no-backup-if-mismatch -s < "$p" >&2 || { log "patch failed: $p"; exit 1; }
    done
    cp "$here/minimal.mak" "$wdir/configs/devices/x86_64-softmmu/viommu-minimal.mak"
    echo "$want" > "$stamp"
fi

start=$(date +%s)
mkdir -p "$wdir/build"
cd "$wdir/build"
if [ ! -f build.ninja ]; then
    log "configuring"
    ../configure --target-list=x86_64-softmmu --without-default-features \
        --without-default-devices --with-devices-x86_64=viommu-minimal \
        --disable-docs --disable-tools --disable-werror --disable-debug-info \
        --disable-user --enable-tcg --disable-kvm --disable-xen --enable-fdt=system \
        --disable-slirp --disable-guest-agent --disable-install-blobs \
        >&2 || { log "configure failed"; exit 1; }
fi
# meson regenerates with the pkg-config path it stored at setup: give it ours.
meson configure -Dpkg_config_path="${PKG_CONFIG_PATH:-}" . >&2 || { log "meson configure failed"; exit 1; }
nice -n 10 ninja -j"$jobs" qemu-system-x86_64 >&2 || { log "build failed"; exit 1; }
end=$(date +%s)
log "build time: $((end - start)) s ($flavour, key $key)"
mkdir -p "$out.tmp"
cp qemu-system-x86_64 "$out.tmp/"
mkdir -p "$out.tmp/share"
# firmware blobs: use Debian's installed ones (seabios, ipxe not needed)
echo "$((end - start))" > "$out.tmp/build-seconds"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out/qemu-system-x86_64"
