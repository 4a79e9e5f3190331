#!/bin/sh
# Build QEMU 10.0.13 (x86_64-softmmu only, minimal features) with the
# libviommu patch series applied, on Debian 12.  Nothing of QEMU's source
# lives in this repository: the upstream tarball comes from Debian 13's
# `qemu` source package, fetched with `apt-get source` through the project's
# PRIVATE apt configuration (private-apt.sh: own sources.list, preferences,
# state/cache dirs, shared with fetch-guest.sh): deb-src for trixie
# (the source) and deb for bookworm-backports (meson 1.7 and python3-pycotap,
# which QEMU 10's configure needs, and SeaBIOS 1.16.3, which boots QEMU 10
# without Debian 12's SeaBIOS 1.16.2's ~30 s stall under TCG).  The backports
# .debs are unpacked into the cache, never installed; the system's apt
# sources are never modified.
#
# Usage: build-qemu.sh [--unpatched]
#   env: VIOMMU_PREFIX   install prefix of libviommu (pkg-config dir looked up
#                        under it); default: the build tree given by
#                        VIOMMU_BUILD_DIR (default: a Release PIC build of
#                        this checkout in the cache).
#        JOBS            ninja parallelism (default 2)
# Output: path of the qemu-system-x86_64 binary on the last stdout line; its
#         directory also holds share/ (firmware: pass -L DIR/share first) and
#         qtests/ (QEMU's intel-iommu-test, amd-iommu-test and qos-test,
#         which holds virtio-iommu-test).
# Exit:   0 built/cached, 77 cannot be had (reason on stderr), 1 build error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/libviommu
jobs=${JOBS:-2}
patched=1
[ "${1:-}" = "--unpatched" ] && patched=0

QEMU_UPSTREAM=10.0.13           # the one QEMU version this tree supports
SRC_SUITE=trixie                # Debian release whose source package has it
TOOLS_SUITE=bookworm-backports  # meson >= 1.5, pycotap, SeaBIOS 1.16.3
TOOL_DEBS="meson python3-pycotap seabios"

skip() { echo "build-qemu: SKIP: $*" >&2; exit 77; }
log() { echo "build-qemu: $*" >&2; }

command -v apt-get >/dev/null || skip "apt-get not available"
command -v dpkg-source >/dev/null || skip "dpkg-source (dpkg-dev) not installed"
for t in ninja pkg-config cc python3 rsync dpkg-deb; do
    command -v $t >/dev/null || skip "$t not installed"
done
python3 -c 'import venv, ensurepip' 2>/dev/null || skip "python3-venv not installed"
pkg-config --exists glib-2.0 pixman-1 && [ -f /usr/include/libfdt.h ] || skip "libglib2.0-dev/libpixman-1-dev/libfdt-dev missing"

# ---- private apt configuration ---------------------------------------------
# The project's one private apt configuration (private-apt.sh, shared with
# fetch-guest.sh): the system's Debian suites plus deb-src $SRC_SUITE and
# deb $TOOLS_SUITE on the system's mirror and keyring, the two pinned so
# only explicit requests (PKG/$TOOLS_SUITE, qemu=VERSION) reach them.
# shellcheck source=integrations/qemu/private-apt.sh
. "$here/private-apt.sh"
viommu_apt_setup "$cache" || skip "no Debian archive found in /etc/apt sources"
if ! viommu_apt_has_suite deb-src $SRC_SUITE || ! viommu_apt_has_suite deb $TOOLS_SUITE; then
    skip "private apt sources lack deb-src $SRC_SUITE/deb $TOOLS_SUITE (no Debian mirror in /etc/apt sources?)"
fi
apt_update() {
    log "private apt update if older than ${VIOMMU_APT_MAX_AGE_MIN:-1440} min (system suites, $SRC_SUITE source, $TOOLS_SUITE tools)"
    viommu_apt_update "${VIOMMU_APT_MAX_AGE_MIN:-1440}" >&2 || skip "private apt update failed (no network?)"
}

# ---- build tools from bookworm-backports (unpacked, not installed) ----------
tools=$cache/tools/$TOOLS_SUITE
if [ ! -f "$tools/.unpacked" ]; then
    apt_update
    rm -rf "$tools.dl" && mkdir -p "$tools.dl" && cd "$tools.dl"
    for p in $TOOL_DEBS; do
        $APT download "$p/$TOOLS_SUITE" >&2 || skip "apt-get download $p/$TOOLS_SUITE failed"
    done
    rm -rf "$tools" && mkdir -p "$tools"
    for d in ./*.deb; do dpkg-deb -x "$d" "$tools"; done
    cd "$cache" && rm -rf "$tools.dl"
    touch "$tools/.unpacked"
fi
pydeps=$tools/usr/lib/python3/dist-packages
PYTHONPATH=$pydeps${PYTHONPATH:+:$PYTHONPATH}
PATH=$tools/usr/bin:$PATH
export PYTHONPATH PATH
mver=$(meson --version 2>/dev/null || echo 0)
case $mver in 1.[5-9]*|1.[1-9][0-9]*) ;; *) skip "meson $mver from $TOOLS_SUITE is older than 1.5";; esac
[ -f "$tools/usr/share/seabios/bios-256k.bin" ] || skip "no SeaBIOS in $TOOLS_SUITE's seabios package"

# ---- QEMU source: the upstream tarball of Debian's source package -----------
srcdir=$cache/src/qemu-$QEMU_UPSTREAM
if [ ! -f "$srcdir/.extracted" ]; then
    apt_update
    ver=$($APT_CACHE showsrc qemu 2>/dev/null | awk '/^Version:/ {print $2}' |
          grep "^[0-9]*:$QEMU_UPSTREAM+" | sort -V | tail -1)
    [ -n "$ver" ] || skip "no qemu $QEMU_UPSTREAM source in $SRC_SUITE"
    log "fetching qemu $ver source via the private apt config"
    dl=$cache/dl && mkdir -p "$dl" && cd "$dl"
    $APT source --download-only "qemu=$ver" >&2 || skip "apt-get source qemu=$ver failed"
    orig=$(ls "$dl"/qemu_"$QEMU_UPSTREAM"*.orig.tar.* | head -1)
    [ -f "$orig" ] || skip "no upstream tarball in the qemu source package"
    rm -rf "$srcdir" "$srcdir.tmp" && mkdir -p "$srcdir.tmp"
    tar -C "$srcdir.tmp" -xf "$orig" || skip "cannot unpack $orig"
    mv "$srcdir.tmp"/qemu-* "$srcdir" && rm -rf "$srcdir.tmp"
    rm -f "$dl"/qemu_*
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
        pcdir=$cache/pc/$(echo "$bdir" | sha256sum | cut -c1-8)
        mkdir -p "$pcdir"
        lver=$(sed -n 's/^Version: //p' "$bdir/libviommu.pc" 2>/dev/null || echo 0)
        cat > "$pcdir/libviommu.pc" <<PC
Name: libviommu
Description: libviommu (static, from $bdir)
Version: ${lver:-0}
Libs: $bdir/libviommu.a -pthread
Cflags: -DVIOMMU_STATIC -I$repo/include -I$bdir/include
PC
        PKG_CONFIG_PATH=$pcdir
    fi
    export PKG_CONFIG_PATH
    pkg-config --exists libviommu || skip "libviommu.pc not found (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
    # Key on the library *contents* so a rebuilt lib relinks QEMU.
    libfile=$(pkg-config --libs libviommu | tr ' ' '\n' | grep '\.a$' || true)
    [ -n "$libfile" ] || libfile=$(pkg-config --variable=libdir libviommu)/libviommu.a
    incdir=$(pkg-config --cflags-only-I libviommu | tr ' ' '\n' | sed -n 's/^-I//p' | head -1)
    vver=$(pkg-config --modversion libviommu)-$( (cat "$libfile" 2>/dev/null; \
        cat "$incdir"/libviommu/*.h 2>/dev/null) | sha256sum | cut -c1-8)
fi
key="$QEMU_UPSTREAM-p$phash-v$vver"
[ $patched = 1 ] || key="$QEMU_UPSTREAM-unpatched-p$phash"
out=$cache/qemu/$key
if [ -x "$out/qemu-system-x86_64" ]; then
    log "cached: $out"
    echo "$out/qemu-system-x86_64"
    exit 0
fi

# One work tree for both flavours: switching series re-syncs the pristine
# source, touching only files whose content changes, so ninja rebuilds just
# what the series touches.
wdir=$cache/work/qemu-$QEMU_UPSTREAM
flavour=patched; [ $patched = 1 ] || flavour=unpatched
stamp=$wdir/.series
want="$(cat $patches /dev/null "$here/minimal.mak" | sha256sum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    mkdir -p "$wdir"
    # Remove files a previous series added, restore pristine content.
    if [ -f "$wdir/.added" ]; then (cd "$wdir" && xargs rm -f < .added); fi
    rsync -a --checksum -i --exclude=/build --exclude=/.series --exclude=/.added \
        --exclude=/.placeholders "$srcdir/" "$wdir/" | awk '$1 ~ /^>f/ {print $2}' > "$wdir/.changed"
    (cd "$wdir" && xargs -r touch < .changed)
    : > "$wdir/.added"
    for p in $patches; do
        log "applying $(basename "$p")"
        sed -n 's|^+++ b/||p' "$p" | while read -r f; do [ -e "$wdir/$f" ] || echo "$f"; done >> "$wdir/.added"
        patch -d "$wdir" -p1 --no-backup-if-mismatch -s < "$p" >&2 || { log "patch failed: $p"; exit 1; }
    done
    cp "$here/minimal.mak" "$wdir/configs/devices/x86_64-softmmu/viommu-minimal.mak"
    # Debian's +ds tarball drops the prebuilt EDK2 images pc-bios/meson.build
    # unpacks when bzip2 exists: empty placeholders (we boot SeaBIOS).
    for f in $(sed -n "/^  fds = \[/,/\]/p" "$wdir/pc-bios/meson.build" | grep -o "'edk2[^']*'" | tr -d "'"); do
        [ -e "$wdir/pc-bios/$f.bz2" ] || bzip2 < /dev/null > "$wdir/pc-bios/$f.bz2" 2>/dev/null || true
    done
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
        --disable-download >&2 || { log "configure failed"; exit 1; }
fi
# The pyvenv configure made must find the unpacked meson/pycotap even when
# ninja re-runs meson on its own.
for sp in pyvenv/lib/python3*/site-packages; do
    [ -d "$sp" ] && echo "$pydeps" > "$sp/zz-$TOOLS_SUITE.pth"
done
# meson regenerates with the pkg-config path it stored at setup: give it ours.
pyvenv/bin/meson configure -Dpkg_config_path="${PKG_CONFIG_PATH:-}" . >&2 || { log "meson configure failed"; exit 1; }
# QEMU's own vIOMMU qtests (patches/0002 runs them against the libviommu
# devices too; tests/e2e/run-qtests.sh).  virtio-iommu-test lives in
# qos-test (the libqos graph driver).
qtests="tests/qtest/intel-iommu-test tests/qtest/amd-iommu-test tests/qtest/qos-test"
nice -n 10 ninja -j"$jobs" qemu-system-x86_64 $qtests >&2 || { log "build failed"; exit 1; }
end=$(date +%s)
log "build time: $((end - start)) s ($flavour, key $key)"
rm -rf "$out.tmp" && mkdir -p "$out.tmp/share"
cp qemu-system-x86_64 "$out.tmp/"
mkdir -p "$out.tmp/qtests" && cp $qtests "$out.tmp/qtests/"
# Firmware: SeaBIOS 1.16.3 from bookworm-backports (run-guest.sh passes
# -L <dir>/share first; option ROMs such as linuxboot_dma.bin come from the
# distro's qemu-system-data).
cp "$tools"/usr/share/seabios/bios*.bin "$out.tmp/share/"
echo "$((end - start))" > "$out.tmp/build-seconds"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out/qemu-system-x86_64"
