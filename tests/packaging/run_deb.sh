#!/bin/sh
# SPDX-License-Identifier: MIT
# Packaging test: build the Debian packages from a copy of the source tree,
# run lintian (any E: line fails), extract libviommu0 + libviommu-dev into a
# private root with dpkg -x, and build and run tests/consumer against that
# root through pkg-config (PKG_CONFIG_PATH into the extracted tree; the .pc
# file is relocatable) and through find_package (CMAKE_PREFIX_PATH).
# Exit 77 (skipped) when the Debian tools are missing.
# Usage: run_deb.sh SRCDIR WORKDIR
set -eu
src=$(cd "$1" && pwd) work=$2

for tool in dpkg-buildpackage dh fakeroot dpkg-deb lintian pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed (Debian: apt-get install dpkg-dev debhelper fakeroot lintian pkg-config)"
        exit 77
    fi
done
if [ ! -f /usr/share/perl5/Debian/Debhelper/Buildsystem/cmake.pm ] && ! dpkg -s debhelper >/dev/null 2>&1; then
    echo "SKIP: debhelper is not installed"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work/src"
# Copy the tree without build directories, VCS data or cargo output.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - 2>/dev/null) |
        (cd "$work/src" && tar xf -)
else
    (cd "$src" && tar cf - --exclude='./build*' --exclude=./.git --exclude='*/target' .) | (cd "$work/src" && tar xf -)
fi
[ -f "$work/src/debian/control" ] || { echo "FAIL: no debian/ in the copied tree"; exit 1; }

echo "== dpkg-buildpackage -us -uc -b (nocheck)"
# Sanitizer runtimes preloaded by a sanitizer build must not leak into the package build.
unset LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
if ! (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
        >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    echo "FAIL: dpkg-buildpackage"
    exit 1
fi
changes=$(ls "$work"/libviommu_*.changes)
for p in libviommu0 libviommu-dev viommu-tools; do
    ls "$work/${p}"_*.deb >/dev/null 2>&1 || { echo "FAIL: package $p was not built"; exit 1; }
done
ls -1 "$work"/*.deb

echo "== lintian"
lintian --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1 || true
cat "$work/lintian.log"
if grep -q '^E: ' "$work/lintian.log"; then
    echo "FAIL: lintian reported errors"
    exit 1
fi

echo "== contents"
for p in libviommu0 libviommu-dev viommu-tools; do
    dpkg-deb -c "$work/${p}"_*.deb >"$work/$p.contents"
done
need() { grep -q "$2" "$work/$1.contents" || { echo "FAIL: $1 lacks $2"; exit 1; }; }
need libviommu0 'usr/lib/.*/libviommu.so.0'
need libviommu-dev 'usr/include/libviommu/viommu.h'
need libviommu-dev 'usr/include/libviommu/export.h'
need libviommu-dev 'pkgconfig/libviommu.pc'
need libviommu-dev 'cmake/libviommu/libviommuConfig.cmake'
need libviommu-dev 'usr/lib/.*/libviommu.a'
need viommu-tools 'usr/bin/viommu$'
need viommu-tools 'man1/viommu.1'
if grep -v -- ' -> ' "$work/libviommu-dev.contents" | grep -q 'libviommu.so.0'; then echo "FAIL: -dev ships the runtime library"; exit 1; fi

echo "== consumer against the extracted packages"
root="$work/root"
mkdir -p "$root"
for p in libviommu0 libviommu-dev viommu-tools; do
    dpkg -x "$work/${p}"_*.deb "$root"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir="$root/usr/lib/$multiarch"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export LD_LIBRARY_PATH="$libdir"
pkg-config --exists libviommu || { echo "FAIL: pkg-config does not find libviommu in $PKG_CONFIG_PATH"; exit 1; }
cflags=$(pkg-config --cflags libviommu)
libs=$(pkg-config --libs libviommu)
echo "pkg-config: cflags '$cflags' libs '$libs'"
case "$cflags $libs" in *"$root"*) ;; *) echo "FAIL: pkg-config paths do not point into the extracted tree"; exit 1 ;; esac
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$work/consumer_pc" "$src/tests/consumer/consumer.c" $cflags $libs
"$work/consumer_pc"
# The binary must have used the packaged library, not one from the system.
ldd "$work/consumer_pc" | grep -q "$libdir/libviommu.so.0" || { echo "FAIL: consumer did not load the packaged library"; exit 1; }
echo "consumer (pkg-config): OK"

cmake -S "$src/tests/consumer" -B "$work/consumer-cmake" -DCMAKE_PREFIX_PATH="$root/usr" >"$work/consumer-cmake.log" 2>&1 ||
    { cat "$work/consumer-cmake.log"; echo "FAIL: find_package(libviommu) against the package"; exit 1; }
cmake --build "$work/consumer-cmake" -j2 >>"$work/consumer-cmake.log" 2>&1 ||
    { cat "$work/consumer-cmake.log"; echo "FAIL: building the CMake consumer"; exit 1; }
"$work/consumer-cmake/consumer"
"$work/consumer-cmake/consumer_static"
echo "consumer (CMake package, shared and static): OK"

"$root/usr/bin/viommu" --help >/dev/null || { echo "FAIL: packaged viommu --help"; exit 1; }
echo "viommu-tools: OK"
echo "1 passed, 0 failed"
