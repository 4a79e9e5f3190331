#!/bin/sh
# End-to-end test: a Debian Linux guest drives a libviommu-backed vIOMMU in
# the patched QEMU (integrations/qemu).  Usage: run-e2e.sh PHASE [MODE]
#   PHASE: virtio | vtd | vtd-sm | amdvi     MODE: io (default) | fault
# Exit 0 pass, 1 fail, 77 skipped (reason printed: no kernel, no QEMU build,
# device not in the patch series).  Building QEMU takes minutes the first
# time, so it only happens with VIOMMU_E2E=1 (else a cached build is used or
# the test skips).
set -u
phase=$1 mode=${2:-io}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
skip() { echo "e2e[$phase/$mode]: SKIP: $*"; exit 77; }
fail() { echo "e2e[$phase/$mode]: FAIL: $*"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/viommu-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$q/fetch-guest.sh" > "$work/guest" 2> "$work/guest.err"
rc=$?
[ $rc = 77 ] && skip "guest kernel: $(tail -1 "$work/guest.err")"
[ $rc = 0 ] || fail "fetch-guest.sh: $(tail -3 "$work/guest.err")"
gdir=$(tail -1 "$work/guest")

if [ "${VIOMMU_E2E:-0}" = 1 ]; then
    t0=$(date +%s)
    "$q/build-qemu.sh" > "$work/qemu" 2> "$work/qemu.err"
    rc=$?
    [ $rc = 77 ] && skip "QEMU build: $(grep SKIP "$work/qemu.err" | tail -1)"
    [ $rc = 0 ] || { tail -30 "$work/qemu.err"; fail "QEMU build failed"; }
    echo "e2e: QEMU ready in $(( $(date +%s) - t0 )) s ($(grep 'build time' "$work/qemu.err" || echo cached))"
    qemu=$(tail -1 "$work/qemu")
else
    qemu=${VIOMMU_E2E_QEMU:-}
    [ -n "$qemu" ] || qemu=$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/*-p*-v*/qemu-system-x86_64 2>/dev/null | head -1)
    [ -n "$qemu" ] && [ -x "$qemu" ] || skip "no patched QEMU build cached; run with VIOMMU_E2E=1 to build it (minutes)"
    echo "e2e: using cached QEMU $qemu (VIOMMU_E2E=1 rebuilds against the current library)"
fi

case $phase in
virtio) devname=viommu-virtio-iommu-pci ;;
vtd|vtd-sm) devname=viommu-intel-iommu ;;
amdvi) devname=viommu-amd-iommu ;;
*) fail "unknown phase $phase" ;;
esac
"$qemu" -device help 2>/dev/null | grep -q "\"$devname\"" || \
    skip "$devname is not in the QEMU patch series yet (not implemented)"

disk=$work/disk.img
truncate -s 64M "$disk"
log=$work/console.log
stats=$work/stats
t0=$(date +%s)
res=$(VIOMMU_E2E_STATS=$stats "$q/run-guest.sh" "$qemu" "$phase" viommu "$mode" "$disk" "$log")
t1=$(date +%s)
echo "e2e: guest ran $((t1 - t0)) s: ${res:-<no result line>}"
show() { echo "---- console (tail) ----"; tail -n 40 "$log"; cat "$log.qemu" 2>/dev/null; \
         echo "---- stats ----"; cat "$stats" 2>/dev/null; }
case $res in "VIOMMU-E2E RESULT ok"*) ;; *) show; fail "guest did not report ok" ;; esac
[ -f "$stats" ] || { show; fail "no libviommu stats file"; }
st() { awk -v k="$1" '$1 == k {print $2}' "$stats"; }
echo "e2e: libviommu stats: $(tr '\n' ' ' < "$stats")"
[ "$(st translations)" -gt 0 ] 2>/dev/null || { show; fail "libviommu translated nothing"; }
if [ "$mode" = io ]; then
    cmp -n "$(wc -c < "$gdir/pattern.bin")" \
        "$disk" "$gdir/pattern.bin" >/dev/null || fail "disk content differs from the pattern"
    [ "$(st faults)" = 0 ] || { show; fail "unexpected translation faults: $(st faults)"; }
    case $phase in
    virtio) [ "$(st map)" -gt 0 ] && [ "$(st unmap)" -gt 0 ] || fail "no MAP/UNMAP requests seen" ;;
    *) [ "$(st walks)" -gt 0 ] || fail "no table walks seen"
       [ "$(st queue_errors)" = 0 ] || { show; fail "invalidation queue errors: $(st queue_errors)"; } ;;
    esac
else
    [ "$(st faults)" -gt 0 ] 2>/dev/null || { show; fail "libviommu reported no fault"; }
    [ "$(st queue_errors)" = "" ] || [ "$(st queue_errors)" = 0 ] || { show; fail "invalidation queue errors: $(st queue_errors)"; }
    grep -a 'e2e: fault line' "$log"
fi
echo "e2e[$phase/$mode]: PASS"
