#!/bin/sh
# Boot the e2e guest under QEMU with one vIOMMU.
# Usage: run-guest.sh QEMU PHASE IMPL MODE DISK LOG [SECS]
#   PHASE: virtio | vtd | vtd-sm | amdvi
#   IMPL:  builtin (QEMU's own model) | viommu (libviommu-backed device)
#   MODE:  io | fault | bench
# The serial console goes to LOG; prints the guest's result line (or nothing).
# env: VIOMMU_E2E_STATS=file  (passed to the libviommu glue: stats at exit)
#      VIOMMU_E2E_TIMEOUT (s, default 600)
set -eu
qemu=$1 phase=$2 impl=$3 mode=$4 disk=$5 log=$6 secs=${7:-10}
here=$(cd "$(dirname "$0")" && pwd)
gdir=$("$here/fetch-guest.sh") || exit $?
pre=""; [ "$impl" = viommu ] && pre="viommu-"
machine=q35
append="console=ttyS0 iommu.strict=1 iommu.passthrough=0 quiet loglevel=4 panic=-1 intremap=off e2e.mode=$mode e2e.secs=$secs"
stats=""
case $phase in
virtio) dev="-device ${pre}virtio-iommu-pci" ;;
vtd)    dev="-device ${pre}intel-iommu"; append="$append intel_iommu=on" ;;
vtd-sm) dev="-device ${pre}intel-iommu,x-scalable-mode=on"; append="$append intel_iommu=on,sm_on" ;;
amdvi)  dev="-device ${pre}amd-iommu"; append="$append" ;;
*) echo "bad phase $phase" >&2; exit 2 ;;
esac
if [ "$impl" = viommu ] && [ -n "${VIOMMU_E2E_STATS:-}" ]; then
    dev="$dev,stats-file=$VIOMMU_E2E_STATS"
fi
extra=""
[ "$mode" = fault ] && extra="-device edu"
# Firmware from the distro's QEMU data dirs (our build installs no blobs).
L=""
for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do [ -d $d ] && L="$L -L $d"; done
# shellcheck disable=SC2086
timeout "${VIOMMU_E2E_TIMEOUT:-600}" "$qemu" $L -accel tcg -M $machine -m 512 -smp 1 -nodefaults \
    -display none -no-reboot -serial "file:$log" -monitor none \
    -kernel "$gdir/vmlinuz" -initrd "$gdir/initrd.gz" -append "$append" \
    $dev ${VIOMMU_E2E_QEMU_EXTRA:-} \
    -drive "file=$disk,if=none,id=d0,format=raw,cache=writeback" \
    -device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on $extra \
    </dev/null >>"$log.qemu" 2>&1 || echo "run-guest: qemu exited $?" >>"$log.qemu"
grep -a '^VIOMMU-E2E RESULT' "$log" | head -1 | tr -d '\r' || true
