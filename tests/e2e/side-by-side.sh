#!/bin/sh
# Side by side: the same guest workload through QEMU's built-in vIOMMU and
# through libviommu, in ONE QEMU binary (the patched build has both), same
# run.  Prints a Markdown table of medians over RUNS runs (used for
# docs/e2e.md), then the per-run viommu/builtin ratios of IOPS and host CPU
# per I/O (the two models of a phase run back to back in each run) with
# their medians, next to the ratio of the medians.
# Usage: side-by-side.sh [SECS] [PHASES...]
#   env: VIOMMU_E2E_QEMU (binary), RUNS (default 3), NOMIGRATE=1 (skip the
#        migrate job), INTREMAP=on|off (default on: QEMU's own VT-d/AMD-Vi
#        also run with interrupt remapping, like libviommu's)
# Interrupts: the guest's /proc/interrupts (printed at the end of each job)
# gives the disk's virtio interrupts; interrupts/s and host CPU per interrupt
# come from the bench run minus the same run with 0 s of reads.
set -eu
secs=${1:-10}; shift 2>/dev/null || true
phases=${*:-virtio vtd vtd-sm amdvi}
runs=${RUNS:-3}
# A guest that hangs (QEMU 10's amd-iommu soft-locks the benchmark) costs 2 min, not 10.
export VIOMMU_E2E_TIMEOUT=${VIOMMU_E2E_TIMEOUT:-120}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
qv=$(sed -n 's/^QEMU_UPSTREAM=\([^ ]*\).*/\1/p' "$q/build-qemu.sh")
qemu=${VIOMMU_E2E_QEMU:-$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/"$qv"-p*-v*/qemu-system-x86_64 | head -1)}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
intremap=${INTREMAP:-on}
# The disk's interrupts the guest took (all CPUs, every virtio vector).
virqs() { tr -d '\r' < "$1" | sed -n '/e2e: ---- \/proc\/interrupts/,/e2e: ---- end/p' |
          awk '/virtio/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }'; }
cpu() { awk '{printf "%.2f", $1 + $2}' "$1"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# counts: built-in from QEMU trace events, libviommu from its stats
traces() {
    case $1 in
    virtio) echo "-trace enable=virtio_iommu_map -trace enable=virtio_iommu_unmap" ;;
    vtd|vtd-sm|vtd-fs) echo "-trace enable=vtd_inv_desc" ;;
    amdvi|amdvi-v2) echo "-trace enable=amdvi_command_exec" ;;
    esac
}
libcount() {
    case $1 in
    virtio) awk '$1=="map"||$1=="unmap"{n+=$2} END{print n+0}' "$2" ;;
    vtd|vtd-sm|vtd-fs) awk '$1=="descriptors"{print $2}' "$2" ;;
    amdvi|amdvi-v2) awk '$1=="commands"{print $2}' "$2" ;;
    esac
}
what() { case $1 in virtio) echo "MAP+UNMAP requests";; amdvi*) echo "commands";; *) echo "inv. descriptors";; esac; }
# rows: phase impl run boot wall iops cpu count downtime
for r in $(seq 1 "$runs"); do
for p in $phases; do
    for impl in builtin viommu; do
        d=$w/$p-$impl-$r; mkdir -p "$d"; truncate -s 64M "$d/disk"
        ir=off; [ "$p" != virtio ] && ir=$intremap
        export VIOMMU_E2E_INTREMAP=$ir
        # 1) fixed job (write+read 4 MiB) with counting
        t0=$(date +%s.%N)
        if [ $impl = builtin ]; then
            res=$(VIOMMU_E2E_QEMU_EXTRA="$(traces $p) -D $d/trace" "$q/run-guest.sh" "$qemu" $p builtin io "$d/disk" "$d/io.log")
            n=$(wc -l < "$d/trace" 2>/dev/null || echo n/a)
        else
            res=$(VIOMMU_E2E_STATS=$d/stats "$q/run-guest.sh" "$qemu" $p viommu io "$d/disk" "$d/io.log")
            n=$(libcount $p "$d/stats")
        fi
        t1=$(date +%s.%N)
        case $res in *"RESULT ok"*) ;; *) n=fail ;; esac
        boot=$(field "$res" boot-s)
        wall=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')
        # 2) timed random reads, host CPU measured around QEMU
        truncate -s 64M "$d/disk2"
        /usr/bin/time -f "%U %S" -o "$d/cpu" "$q/run-guest.sh" "$qemu" $p $impl bench "$d/disk2" "$d/b.log" "$secs" > "$d/res"
        /usr/bin/time -f "%U %S" -o "$d/cpu0" "$q/run-guest.sh" "$qemu" $p $impl bench "$d/disk2" "$d/b0.log" 0 > "$d/res0"
        rb=$(cat "$d/res"); ios=$(field "$rb" ios); s=$(field "$rb" secs)
        case $rb in *"RESULT ok"*) ;; *) ios=0 ;; esac
        iops=$(echo "$ios $s" | awk '{ if ($2 > 0) printf "%.0f", $1 / $2; else print "n/a" }')
        cpio=$(echo "$(cpu "$d/cpu") $(cpu "$d/cpu0") $ios" | awk '{ if ($3 > 0) printf "%.3f", ($1 - $2) * 1000 / $3; else print "n/a" }')
        nint=$(( $(virqs "$d/b.log") - $(virqs "$d/b0.log") ))
        case $rb in *"RESULT ok"*) ;; *) nint=0 ;; esac
        ips=$(echo "$nint $s" | awk '{ if ($1 > 0 && $2 > 0) printf "%.0f", $1 / $2; else print "n/a" }')
        cpint=$(echo "$(cpu "$d/cpu") $(cpu "$d/cpu0") $nint" | awk '{ if ($3 > 0) printf "%.3f", ($1 - $2) * 1000 / $3; else print "n/a" }')
        # 3) the io job migrated mid-run: downtime reported by the source
        dt=n/a
        if [ "${NOMIGRATE:-0}" != 1 ]; then
            truncate -s 64M "$d/disk3"
            rm=$("$q/run-guest.sh" "$qemu" $p $impl migrate "$d/disk3" "$d/m.log" 3)
            case $rm in *"RESULT ok"*) dt=$(sed -n 's/.*downtime-ms=\([0-9]*\).*/\1/p' "$d/m.log.migration") ;; esac
        fi
        echo "$p $impl $r ${boot:-n/a} $wall $iops $cpio $n ${dt:-n/a} $ips $cpint $ir" >> "$w/rows"
        echo "side-by-side: run $r $p $impl: boot ${boot:-n/a} wall $wall iops $iops cpu/io $cpio count $n downtime ${dt:-n/a} irq/s $ips cpu/irq $cpint intremap $ir" >&2
    done
done
done
med() { # med PHASE IMPL COLUMN: median of the numeric values
    awk -v p="$1" -v i="$2" -v c="$3" '$1 == p && $2 == i && $c ~ /^[0-9.]+$/ {print $c}' "$w/rows" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "| phase | model | intremap | boot to /init (s) | wall, fixed 4 MiB job (s) | $secs s randread IOPS | host CPU / I/O (ms) | disk interrupts/s (randread) | host CPU / interrupt (ms) | map/unmap or invalidations (4 MiB job) | migration downtime (ms) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for p in $phases; do
    ir=off; [ "$p" != virtio ] && ir=$intremap
    for impl in builtin viommu; do
        echo "| $p | $impl | $ir | $(med $p $impl 4) | $(med $p $impl 5) | $(med $p $impl 6) | $(med $p $impl 7) | $(med $p $impl 10) | $(med $p $impl 11) | $(med $p $impl 8) $(what $p) | $(med $p $impl 9) |"
    done
done
echo
# Per-pair ratios: in each run the two models of a phase ran back to back,
# so their ratio shares that moment's host load; the median of the
# per-run ratios is more robust to load drifting over the session than the
# ratio of the medians above.
pair() { # pair PHASE COLUMN: per-run viommu/builtin ratios, comma-separated, then their median
    awk -v p="$1" -v c="$2" '$1 == p && $c ~ /^[0-9.]+$/ { v[$3 " " $2] = $c; r[$3] = 1 }
        END { for (k in r) if ((k " builtin") in v && (k " viommu") in v && v[k " builtin"] > 0)
                  printf "%s %.2f\n", k, v[k " viommu"] / v[k " builtin"] }' "$w/rows" | sort -n |
        awk '{ l = l (NR > 1 ? ", " : "") $2; x[NR] = $2 } END {
                 n = NR; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
                 if (n == 0) print "n/a | n/a"; else printf "%s | **%.2f**\n", l, (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "| phase | IOPS viommu/builtin, per run | median of per-run ratios | ratio of medians | host CPU per I/O viommu/builtin, per run | median of per-run ratios | ratio of medians |"
echo "|---|---|---|---|---|---|---|"
for p in $phases; do
    ip=$(pair $p 6); cp=$(pair $p 7)
    echo "| $p | ${ip% | *} | ${ip#* | } | $(ratio "$(med $p viommu 6)" "$(med $p builtin 6)") | ${cp% | *} | ${cp#* | } | $(ratio "$(med $p viommu 7)" "$(med $p builtin 7)") |"
done
echo
echo "Runs: $runs (medians). Raw rows (phase impl run boot wall iops cpu/io count downtime irq/s cpu/irq intremap):"
sed 's/^/    /' "$w/rows"
