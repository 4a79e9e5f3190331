#!/bin/sh
# QEMU's own vIOMMU qtests (intel-iommu-test, amd-iommu-test from the QEMU
# 10.0.13 source), patched by integrations/qemu/patches/0002 to run every
# case against QEMU's model and the libviommu-backed device; divergences
# are documented there and in docs/e2e.md.  virtio-iommu-test lives in
# qos-test (libqos graph) and is not run yet.
# Exit 0 pass, 1 fail, 77 skipped (no QEMU build; VIOMMU_E2E=1 builds it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
skip() { echo "qtests: SKIP: $*"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/viommu-qtests.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "${VIOMMU_E2E:-0}" = 1 ]; then
    "$q/build-qemu.sh" > "$work/qemu" 2> "$work/qemu.err"
    rc=$?
    [ $rc = 77 ] && skip "QEMU build: $(grep SKIP "$work/qemu.err" | tail -1)"
    [ $rc = 0 ] || { tail -30 "$work/qemu.err"; echo "qtests: FAIL: QEMU build failed"; exit 1; }
    qemu=$(tail -1 "$work/qemu")
else
    qv=$(sed -n 's/^QEMU_UPSTREAM=\([^ ]*\).*/\1/p' "$q/build-qemu.sh")
    qemu=${VIOMMU_E2E_QEMU:-$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/"$qv"-p*-v*/qemu-system-x86_64 2>/dev/null | head -1)}
    [ -n "$qemu" ] && [ -x "$qemu" ] || skip "no patched QEMU build cached; run with VIOMMU_E2E=1"
fi
dir=$(dirname "$qemu")
[ -x "$dir/qtests/intel-iommu-test" ] || skip "$dir has no qtests (built before they were added)"
# libqtest wants a binary named *-system-<arch>: a wrapper adding the firmware path.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec "%s" -L "%s/share" -L /usr/share/qemu "$@"\n' "$qemu" "$dir" > "$work/bin/qemu-system-x86_64"
chmod +x "$work/bin/qemu-system-x86_64"
fail=0
for t in intel-iommu-test amd-iommu-test; do
    QTEST_QEMU_BINARY=$work/bin/qemu-system-x86_64 timeout 300 "$dir/qtests/$t" --tap -k > "$work/$t.log" 2>&1 || fail=1
    grep -E '^(ok|not ok)' "$work/$t.log"
    grep -q '^not ok' "$work/$t.log" && fail=1
    grep -q 'viommu-' "$work/$t.log" || { echo "qtests: $t ran no libviommu case"; fail=1; }
done
[ $fail = 0 ] || { echo "qtests: FAIL"; exit 1; }
echo "qtests: PASS"
