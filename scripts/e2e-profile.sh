#!/bin/sh
# SPDX-License-Identifier: MIT
# Profile the virtio phase's bench job under perf and print the vIOMMU's
# share of QEMU's host CPU (scripts/e2e-cpu-share.py), for several QEMU
# binaries and models in one session, runs interleaved (docs/e2e.md, "Where
# the host CPU goes").
#
# Usage: e2e-profile.sh OUTDIR RUNS SECS LABEL=QEMU:IMPL...
#   IMPL builtin (QEMU's virtio-iommu-pci) or viommu (viommu-virtio-iommu-pci)
#   env: LIBVIOMMU_A (default: the newest libviommu.a in the build cache),
#        PHASE (default virtio; builtin attribution is for virtio only)
# Output: one line per run (label, run, samples, randread I/Os, self and
#         inclusive shares), perf data and logs kept in OUTDIR.
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
            python3 "$here/e2e-cpu-share.py" "$d/perf.data" builtin '^virtio_iommu_' > "$d/share"
        else
            python3 "$here/e2e-cpu-share.py" "$d/perf.data" viommu "$lib" "$patch" > "$d/share"
        fi
        rm -f "$d/disk"
        samples=$(sed -n '1s/.*: \([0-9]*\) samples.*/\1/p' "$d/share")
        shares=$(awk '$1=="self"{printf "self-%s=%s ", $2, $4} $1=="incl"{printf "incl=%s", $4}' "$d/share")
        echo "$label run=$r load=$load samples=$samples ios=${ios:-fail} $shares"
    done
done
