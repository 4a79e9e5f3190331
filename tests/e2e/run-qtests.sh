#!/bin/sh
# QEMU's own vIOMMU qtests from the QEMU 10.0.13 source, patched by
# integrations/qemu/patches/0002 to run against QEMU's model and the
# libviommu-backed device in the same binary:
#   intel-iommu-test, amd-iommu-test   (device name substituted)
#   qos-test, filtered to virtio-iommu-test's paths: libqos graph nodes for
#     virtio-iommu-pci and viommu-virtio-iommu-pci, on a q35 machine node
#     (the build has no i440FX)
# Where QEMU's model answers what the virtio spec does not allow, the step
# expects the spec's answer for libviommu's device; each divergence is in
# docs/e2e.md ("QEMU's own vIOMMU qtests") with its spec clause.
# Exit 0 pass, 1 fail (or a libviommu case did not run), 77 skipped (no
# QEMU build; VIOMMU_E2E=1 builds it).
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
[ -x "$dir/qtests/qos-test" ] || skip "$dir has no qos-test (built before it was shipped)"
# libqtest wants a binary named *-system-<arch>: a wrapper adding the firmware path.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec "%s" -L "%s/share" -L /usr/share/qemu "$@"\n' "$qemu" "$dir" > "$work/bin/qemu-system-x86_64"
chmod +x "$work/bin/qemu-system-x86_64"
fail=0
export QTEST_QEMU_BINARY="$work/bin/qemu-system-x86_64"
for t in intel-iommu-test amd-iommu-test; do
    timeout 300 "$dir/qtests/$t" --tap -k > "$work/$t.log" 2>&1 || fail=1
    grep -E '^(ok|not ok)' "$work/$t.log"
    grep -q '^not ok' "$work/$t.log" && fail=1
    grep -q 'viommu-' "$work/$t.log" || { echo "qtests: $t ran no libviommu case"; fail=1; }
done
# virtio-iommu-test: only the graph paths that end in its tests (the rest of
# qos-test exercises other devices).
t=qos-test
timeout 120 "$dir/qtests/$t" -l > "$work/$t.list" 2>&1 || {
    tail -20 "$work/$t.list"; echo "qtests: $t -l failed"; fail=1; }
paths=$(grep '/virtio-iommu-tests/' "$work/$t.list" | sed 's/^[[:space:]]*//')
for dev in virtio-iommu-pci viommu-virtio-iommu-pci; do
    echo "$paths" | grep -q "/$dev/" || { echo "qtests: $t has no virtio-iommu-test path for $dev"; fail=1; }
done
if [ -n "$paths" ]; then
    set --
    for p in $paths; do set -- "$@" -p "$p"; done
    timeout 600 "$dir/qtests/$t" --tap -k "$@" > "$work/$t.log" 2>&1 || fail=1
    grep -E '^(ok|not ok)' "$work/$t.log"
    # Every listed path must have passed (a failed g_assert aborts qos-test:
    # "Bail out!", no "not ok" line).
    nlisted=$(echo "$paths" | wc -l)
    nok=$(grep -c '^ok .*/virtio-iommu-tests/' "$work/$t.log")
    [ "$nok" = "$nlisted" ] || {
        grep -E '^(not ok|Bail out!|ERROR:)' "$work/$t.log" | tail -5
        echo "qtests: $t: $nok of $nlisted virtio-iommu cases passed"; fail=1; }
    grep -q '^ok .*/viommu-virtio-iommu-pci/' "$work/$t.log" || {
        echo "qtests: $t ran no libviommu virtio-iommu case"; fail=1; }
fi
[ $fail = 0 ] || { echo "qtests: FAIL"; exit 1; }
echo "qtests: PASS"
