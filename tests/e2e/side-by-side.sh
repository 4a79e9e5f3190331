#!/bin/sh
# Side by side: the same guest workload through QEMU's built-in vIOMMU and
# through libviommu, in ONE QEMU binary (the patched build has both), same
# run.  Prints a Markdown table (used for docs/e2e.md).
# Usage: side-by-side.sh [SECS] [PHASES...]   env: VIOMMU_E2E_QEMU (binary)
set -eu
secs=${1:-10}; shift 2>/dev/null || true
phases=${*:-virtio vtd vtd-sm amdvi}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
qemu=${VIOMMU_E2E_QEMU:-$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/*-p*-v*/qemu-system-x86_64 | head -1)}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
cpu() { awk '{printf "%.2f", $1 + $2}' "$1"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# counts: built-in from QEMU trace events, libviommu from its stats
traces() {
    case $1 in
    virtio) echo "-trace enable=virtio_iommu_map -trace enable=virtio_iommu_unmap" ;;
    vtd|vtd-sm) echo "-trace enable=vtd_inv_desc" ;;
    amdvi) echo "-trace enable=amdvi_command_exec" ;;
    esac
}
libcount() {
    case $1 in
    virtio) awk '$1=="map"||$1=="unmap"{n+=$2} END{print n+0}' "$2" ;;
    vtd|vtd-sm) awk '$1=="descriptors"{print $2}' "$2" ;;
    amdvi) awk '$1=="commands"{print $2}' "$2" ;;
    esac
}
what() { case $1 in virtio) echo "MAP+UNMAP requests";; amdvi) echo "commands";; *) echo "inv. descriptors";; esac; }
echo "| phase | model | boot to /init (s) | wall, fixed 4 MiB job (s) | $secs s randread IOPS | host CPU / I/O (ms) | map/unmap or invalidations (4 MiB job) |"
echo "|---|---|---|---|---|---|---|"
for p in $phases; do
    for impl in builtin viommu; do
        d=$w/$p-$impl; mkdir -p "$d"; truncate -s 64M "$d/disk"
        # 1) fixed job (write+read 4 MiB) with counting
        t0=$(date +%s.%N)
        if [ $impl = builtin ]; then
            r=$(VIOMMU_E2E_QEMU_EXTRA="$(traces $p) -D $d/trace" "$q/run-guest.sh" "$qemu" $p builtin io "$d/disk" "$d/io.log")
            n=$(cat "$d/trace" 2>/dev/null | wc -l)
        else
            r=$(VIOMMU_E2E_STATS=$d/stats "$q/run-guest.sh" "$qemu" $p viommu io "$d/disk" "$d/io.log")
            n=$(libcount $p "$d/stats")
        fi
        t1=$(date +%s.%N)
        boot=$(field "$r" boot-s)
        wall=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')
        # 2) timed random reads, host CPU measured around QEMU
        truncate -s 64M "$d/disk2"
        /usr/bin/time -f "%U %S" -o "$d/cpu" "$q/run-guest.sh" "$qemu" $p $impl bench "$d/disk2" "$d/b.log" $secs > "$d/res"
        /usr/bin/time -f "%U %S" -o "$d/cpu0" "$q/run-guest.sh" "$qemu" $p $impl bench "$d/disk2" "$d/b0.log" 0 > "$d/res0"
        rb=$(cat "$d/res"); ios=$(field "$rb" ios); s=$(field "$rb" secs)
        case $rb in *"RESULT ok"*) ;; *) ios=0 ;; esac
        iops=$(echo "$ios $s" | awk '{ if ($2 > 0) printf "%.0f", $1 / $2; else print "n/a" }')
        cpio=$(echo "$(cpu "$d/cpu") $(cpu "$d/cpu0") $ios" | awk '{ if ($3 > 0) printf "%.3f", ($1 - $2) * 1000 / $3; else print "n/a" }')
        echo "| $p | $impl | $boot | $wall | $iops | $cpio | $n $(what $p) |"
    done
done
