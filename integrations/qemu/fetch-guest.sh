#!/bin/sh
# Fetch Debian's linux-image-6.12.*-amd64-unsigned and busybox-static with
# `apt-get download` through the project's private apt configuration
# (private-apt.sh: own lists under ~/.cache/libviommu/apt, refreshed when
# older than a day, so a kernel the system's own apt lists do not know, or
# know in a version the archive no longer has, is still found; the system's
# apt state is not touched) into ${XDG_CACHE_HOME:-$HOME/.cache}/libviommu/guest and
# build the e2e guest: vmlinuz + initramfs (busybox, virtio_blk and
# virtio-iommu modules, /init from guest/init, the randread benchmark, a
# known 4 MiB pattern).  Prints the guest directory on the last stdout line;
# it holds vmlinuz, initrd.gz, pattern.bin.
# Exit: 0 ok, 77 kernel/busybox cannot be had (reason on stderr), 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/libviommu/guest
skip() { echo "fetch-guest: SKIP: $*" >&2; exit 77; }
for t in apt-get apt-cache dpkg-deb cpio gzip xz modinfo python3 cc; do
    command -v $t >/dev/null || skip "$t not installed"
done
mkdir -p "$cache/debs"
inputs=$(cat "$here/guest/init" "$here/guest/randread.c" "$here/guest/irfault.c" "$here/fetch-guest.sh" | sha256sum | cut -c1-12)
# shellcheck source=integrations/qemu/private-apt.sh
. "$here/private-apt.sh"
viommu_apt_setup "${XDG_CACHE_HOME:-$HOME/.cache}/libviommu" || skip "no Debian archive found in /etc/apt sources"
# A failed refresh (offline) keeps the previous private lists.
viommu_apt_update "${VIOMMU_APT_MAX_AGE_MIN:-1440}" >&2 || echo "fetch-guest: private apt update failed" >&2
kpkg=${VIOMMU_E2E_KERNEL_PKG:-$($APT_CACHE search --names-only '^linux-image-6\.12\.[0-9.]*\+deb[0-9]*-amd64-unsigned$' \
       2>/dev/null | cut -d' ' -f1 | sort -V | tail -1)}
if [ -z "$kpkg" ]; then
    # Offline and never fetched through the private lists: a guest built before still does.
    built=$(ls -dt "$cache"/*-"$inputs"/.built 2>/dev/null | head -1)
    [ -n "$built" ] || skip "no linux-image-6.12.*-amd64-unsigned in the private apt lists ($APT_DIR)"
    echo "fetch-guest: no kernel in the private apt lists; using the guest built before" >&2
    dirname "$built"
    exit 0
fi
kver=$(echo "$kpkg" | sed 's/^linux-image-//; s/-unsigned$//')
# One directory per kernel and guest inputs, built under a temporary name
# and renamed: checkouts with different guest files (several worktrees, CI)
# share the cache without rebuilding each other's guest.
gdir=$cache/$kver-$inputs
if [ -f "$gdir/.built" ]; then echo "$gdir"; exit 0; fi
final=$gdir
gdir=$cache/.tmp-$kver-$inputs.$$
trap 'rm -rf "$gdir"' EXIT

cd "$cache/debs"
ls "${kpkg}"_*.deb >/dev/null 2>&1 || $APT download "$kpkg" >&2 || skip "apt-get download $kpkg failed"
ls busybox-static_*.deb >/dev/null 2>&1 || $APT download busybox-static >&2 || skip "apt-get download busybox-static failed"

rm -rf "$gdir" && mkdir -p "$gdir/x" "$gdir/root/bin" "$gdir/root/lib/modules" "$gdir/root/proc" \
    "$gdir/root/sys" "$gdir/root/dev" "$gdir/root/tmp"
dpkg-deb -x "$(ls ${kpkg}_*.deb | head -1)" "$gdir/x"
dpkg-deb -x "$(ls busybox-static_*.deb | head -1)" "$gdir/bb"
cp "$gdir/x/boot/vmlinuz-$kver" "$gdir/vmlinuz"
cp "$gdir/x/boot/config-$kver" "$gdir/config"
cp "$gdir/bb/bin/busybox" "$gdir/root/bin/busybox"
for app in $("$gdir/root/bin/busybox" --list); do [ "$app" = busybox ] || ln -sf busybox "$gdir/root/bin/$app"; done
# Modular drivers the guest needs (built-ins need nothing): IOMMU first.
n=10
# uio_pci_generic gives the edu device a driver, so its DMA gets configured
# (VIOT/virtio-iommu only sets up endpoints at driver bind).
for sym in VIRTIO_IOMMU:drivers/iommu/virtio-iommu VIRTIO_BLK:drivers/block/virtio_blk \
           UIO:drivers/uio/uio UIO_PCI_GENERIC:drivers/uio/uio_pci_generic \
           IRQ_BYPASS_MANAGER:virt/lib/irqbypass VFIO:drivers/vfio/vfio \
           VFIO_IOMMU_TYPE1:drivers/vfio/vfio_iommu_type1 VFIO_PCI_CORE:drivers/vfio/pci/vfio-pci-core \
           VFIO_PCI:drivers/vfio/pci/vfio-pci; do
    opt=${sym%%:*}; path=${sym#*:}
    case $(grep "^CONFIG_$opt=" "$gdir/config" | cut -d= -f2) in
    y) ;;
    m) xz -dc "$gdir/x/lib/modules/$kver/kernel/$path.ko.xz" > "$gdir/root/lib/modules/$n-$(basename $path).ko" ;;
    *) skip "kernel $kver lacks CONFIG_$opt" ;;
    esac
    n=$((n + 10))
done
for opt in INTEL_IOMMU AMD_IOMMU VIRTIO_PCI ACPI_VIOT; do
    grep -q "^CONFIG_$opt=y" "$gdir/config" || skip "kernel $kver lacks built-in CONFIG_$opt"
done
cc -O2 -static -o "$gdir/root/bin/randread" "$here/guest/randread.c" || skip "cannot build static randread"
# irfault job: the edu device's MSI through VFIO, then through a bad entry.
cc -O2 -static -o "$gdir/root/bin/irfault" "$here/guest/irfault.c" || skip "cannot build static irfault"
cp "$here/guest/init" "$gdir/root/init" && chmod +x "$gdir/root/init"
# Known pattern: every 512-byte sector = 16 x SHA-256(sector index).
python3 - "$gdir/pattern.bin" <<'PY'
import hashlib, sys
with open(sys.argv[1], "wb") as f:
    for i in range(8192):
        f.write(hashlib.sha256(b"libviommu-e2e-%d" % i).digest() * 16)
PY
cp "$gdir/pattern.bin" "$gdir/root/pattern.bin"
(cd "$gdir/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$gdir/initrd.gz"
rm -rf "$gdir/x" "$gdir/bb"
touch "$gdir/.built"
if ! mv -T "$gdir" "$final" 2>/dev/null; then
    [ -f "$final/.built" ] || { echo "fetch-guest: cannot install $final" >&2; exit 1; }
fi
trap - EXIT
rm -rf "$gdir"
echo "$final"
