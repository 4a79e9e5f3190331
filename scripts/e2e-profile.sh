#!/bin/sh
# SPDX-License-Identifier: MIT
# Profile one phase's bench job under perf and print the vIOMMU's share of
# QEMU's host CPU (scripts/e2e-cpu-share.py), for several QEMU binaries and
# models in one session, runs interleaved (docs/e2e.md, "Where the host CPU
# goes").
#
# Usage: e2e-profile.sh OUTDIR RUNS SECS LABEL=QEMU:IMPL...
#   IMPL builtin (QEMU's virtio-iommu-pci) or viommu (viommu-virtio-iommu-pci)
#   env: LIBVIOMMU_A (default: the newest libviommu.a in the build cache),
#        PHASE virtio (default) | vtd | vtd-sm | vtd-fs | amdvi | amdvi-ga |
#          amdvi-v2 (run-guest.sh's phases),
#        INTREMAP on (default) | off: guest interrupt remapping for the
#          VT-d / AMD-Vi phases, both models alike (as side-by-side.sh)
# QEMU's own model's functions (builtin runs): virtio-iommu's virtio_iommu_*;
# intel-iommu's vtd_* (DMA translation, queued invalidation, interrupt
# remapping: vtd_mem_ir_write, vtd_int_remap ...) and do_invalidate_device_tlb;
# amd-iommu's amdvi_* / __amdvi_* and its un-prefixed helpers
# (iommu_inval_iotlb, get_pte_translation_mode, pte_*_page_mask); both x86
# models also the shared x86_iommu_* helpers (hw/i386/x86-iommu.c).
# Output: one line per run (label, run, samples, randread I/Os, self and
#         inclusive shares, apic: the part of inclusive that is the APIC's
#         delivery of remapped interrupts), perf data and logs kept in OUTDIR.
# The guest gets no_timer_check (a wrapper around QEMU adds it): under load
# its early IO-APIC timer check can panic with interrupt remapping off too.
set -eu
out=$1 runs=$2 secs=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../integrations/qemu
patch=$q/patches/0001-libviommu-backed-viommu-devices.patch
cache=${XDG_CACHE_HOME:-$HOME/.cache}/libviommu
lib=${LIBVIOMMU_A:-$(ls -t "$cache"/libviommu-build-*/libviommu.a | head -1)}
phase=${PHASE:-virtio}
case $phase in
virtio) model='^virtio_iommu_' ;;
vtd|vtd-sm|vtd-fs) model='^(vtd_|do_invalidate_device_tlb$|x86_iommu_)' ;;
amdvi|amdvi-ga|amdvi-v2)
    model='^(_*amdvi_|iommu_inval_iotlb$|get_pte_translation_mode$|pte_get_page_mask$|pte_override_page_mask$|x86_iommu_)' ;;
*) echo "e2e-profile: bad PHASE $phase" >&2; exit 2 ;;
esac
# Both models with the same interrupt path (run-guest.sh's default is
# remapping on for libviommu's devices only).
if [ "$phase" != virtio ]; then export VIOMMU_E2E_INTREMAP="${INTREMAP:-on}"; fi
mkdir -p "$out"
for r in $(seq 1 "$runs"); do
    for spec in "$@"; do
        label=${spec%%=*} rest=${spec#*=}
        qemu=${rest%:*} impl=${rest##*:}
        w=$out/$label-qemu-wrapper.sh
        cat > "$w" <<EOF
#!/bin/sh
# $qemu with no_timer_check appended to the guest's command line
n=\$#; i=0; prev=
for a in "\$@"; do
    i=\$((i + 1))
    [ "\$prev" = -append ] && a="\$a no_timer_check"
    set -- "\$@" "\$a"; prev=\$a
done
shift \$n
exec "$qemu" "\$@"
EOF
        chmod +x "$w"
        d=$out/$label-$r
        mkdir -p "$d"; truncate -s 64M "$d/disk"
        load=$(cut -d' ' -f1 /proc/loadavg)
        perf record -q -F 1999 --call-graph dwarf,4096 -o "$d/perf.data" -- \
            "$q/run-guest.sh" "$w" "$phase" "$impl" bench "$d/disk" "$d/log" "$secs" \
            > "$d/result" 2> "$d/perf.err" || true
        ios=$(tr ' ' '\n' < "$d/result" | sed -n 's/^ios=//p')
        if [ "$impl" = builtin ]; then
            python3 "$here/e2e-cpu-share.py" "$d/perf.data" builtin "$model" > "$d/share"
        else
            python3 "$here/e2e-cpu-share.py" "$d/perf.data" viommu "$lib" "$patch" > "$d/share"
        fi
        rm -f "$d/disk"
        samples=$(sed -n '1s/.*: \([0-9]*\) samples.*/\1/p' "$d/share")
        shares=$(awk '$1=="self"{printf "self-%s=%s ", $2, $4} $1=="incl"{printf "incl=%s", $4} $1=="apic"{printf " apic=%s", $5}' "$d/share")
        echo "$label run=$r load=$load samples=$samples ios=${ios:-fail} $shares"
    done
done
