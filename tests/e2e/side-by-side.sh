#!/bin/sh
# Side by side: the same guest workload through QEMU's built-in vIOMMU and
# through libviommu, in ONE QEMU binary (the patched build has both), same
# run.  Prints a Markdown table of medians over RUNS runs (used for
# docs/e2e.md), then the per-run viommu/builtin ratios of IOPS and host CPU
# per I/O (the two models of a phase run back to back in each run) with
# their medians, spread (IQR, a distribution-free confidence interval of
# the median) and the split by which model ran first.  Method: docs/e2e.md,
# "Side by side: method".
# Usage: side-by-side.sh [SECS] [PHASES...]
#   env: VIOMMU_E2E_QEMU (binary), RUNS (default 6: even, so each model runs
#        first equally often), NOMIGRATE=1 (skip the migrate job),
#        INTREMAP=on|off (default on: QEMU's own VT-d/AMD-Vi also run with
#        interrupt remapping, like libviommu's),
#        ORDER=alt|random|fixed (default alt: which model of a phase runs
#        first alternates from run to run and from phase to phase; random:
#        a coin per pair, SEED (printed); fixed: built-in first, the old
#        behaviour), WARMUP=0|1 (default 1: one discarded bench of each
#        model before run 1), CPUS=list (taskset -c list for every QEMU of
#        both models; default unset: no pinning), CPU=window|boot0 (default
#        window: host CPU inside the guest's timed window; boot0: the old
#        bench run minus the same run with 0 s of reads)
# Host CPU per I/O (CPU=window): QEMU's utime+stime sampled when the guest
# prints its "bench-window start/end" markers (tests/e2e/window-cpu.py) over
# the I/Os randread did in that window; interrupts/s and host CPU per
# interrupt from the virtio interrupts randread counted in the same window.
set -eu
secs=${1:-10}; shift 2>/dev/null || true
# amdvi-ga is the like-for-like AMD-Vi phase: QEMU's own amd-iommu always
# advertises GASup, so the guest uses 128-bit IRTEs with it; the amdvi phase
# runs libviommu with ga=off (32-bit IRTEs, ~9x the interrupt-table
# invalidations) and so compares two different guest configurations.
phases=${*:-virtio vtd vtd-sm amdvi-ga}
runs=${RUNS:-6}
order=${ORDER:-alt}
seed=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
cpumode=${CPU:-window}
pin=""; [ -n "${CPUS:-}" ] && pin="taskset -c $CPUS"
# A guest that hangs (QEMU 10's amd-iommu soft-locks the benchmark) costs 2 min, not 10.
export VIOMMU_E2E_TIMEOUT=${VIOMMU_E2E_TIMEOUT:-120}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
qv=$(sed -n 's/^QEMU_UPSTREAM=\([^ ]*\).*/\1/p' "$q/build-qemu.sh")
qemu=${VIOMMU_E2E_QEMU:-$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/"$qv"-p*-v*/qemu-system-x86_64 | head -1)}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
intremap=${INTREMAP:-on}
load() { cut -d' ' -f1 /proc/loadavg; }
# The guest once, before anything is timed: run-guest.sh calls fetch-guest.sh
# every time, whose private apt lists refresh when a day old (seconds of
# CPU), so let that happen here rather than inside one model's run.
"$q/fetch-guest.sh" > /dev/null
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
    amdvi|amdvi-ga|amdvi-v2) echo "-trace enable=amdvi_command_exec" ;;
    esac
}
libcount() {
    case $1 in
    virtio) awk '$1=="map"||$1=="unmap"{n+=$2} END{print n+0}' "$2" ;;
    vtd|vtd-sm|vtd-fs) awk '$1=="descriptors"{print $2}' "$2" ;;
    amdvi|amdvi-ga|amdvi-v2) awk '$1=="commands"{print $2}' "$2" ;;
    esac
}
what() { case $1 in virtio) echo "MAP+UNMAP requests";; amdvi*) echo "commands";; *) echo "inv. descriptors";; esac; }
# first RUN PHASEINDEX: the model that runs first in this pair.
# alt: alternates with the run and the phase (ABBA over runs; within a run
# half the phases start with each model); random: a coin from SEED.
first() {
    case $order in
    fixed) echo builtin ;;
    random) awk -v s="$seed" -v r="$1" -v i="$2" 'BEGIN { srand(s * 1000 + r * 37 + i); print (rand() < 0.5) ? "builtin" : "viommu" }' ;;
    *) [ $(( ($1 + $2) % 2 )) = 0 ] && echo builtin || echo viommu ;;
    esac
}
# bench D IMPL PHASE SECS LOG: one bench run; D/cpu holds the whole
# process's CPU (s, as /usr/bin/time saw it), D/win.SECS the CPU and host
# wall time inside the guest's timed window.
bench() {
    rm -f "$1/pid"
    python3 "$here/window-cpu.py" "$1/pid" "$5" "$1/win.$4" "$VIOMMU_E2E_TIMEOUT" &
    wpid=$!
    VIOMMU_E2E_QEMU_EXTRA="-pidfile $1/pid" /usr/bin/time -f "%U %S" -o "$1/cpu.$4" \
        $pin "$q/run-guest.sh" "$qemu" "$3" "$2" bench "$1/disk2" "$5" "$4"
    wait $wpid || true
}
nph=$(echo $phases | wc -w)
nmig=0; [ "${NOMIGRATE:-0}" != 1 ] && nmig=1
# Rough wall time per model and run on an idle host: io job ~7 s, bench
# boot + checks + epilogue ~9 s + SECS, the 0 s bench ~9 s, migrate ~15 s.
est=$(( (runs * nph * 2 * (16 + secs + nmig * 15 + $([ "$cpumode" = boot0 ] && echo 9 || echo 0)) + ${WARMUP:-1} * 2 * 9) / 60 + 1 ))
echo "side-by-side: $runs runs x $nph phases ($phases) x 2 models, $secs s reads, order $order$([ "$order" = random ] && echo " seed $seed"), cpu $cpumode${pin:+, $pin}; about $est min on an idle host; load $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S) UTC" >&2
if [ "${WARMUP:-1}" = 1 ]; then
    # Page cache (QEMU, kernel, initrd) and the host's clocks, for both
    # models alike: one 0 s bench each of the first phase, discarded.
    p1=${phases%% *}
    for impl in builtin viommu; do
        d=$w/warmup-$impl; mkdir -p "$d"; truncate -s 64M "$d/disk2"
        ir=off; [ "$p1" != virtio ] && ir=$intremap
        VIOMMU_E2E_INTREMAP=$ir bench "$d" $impl $p1 0 "$d/b.log" > /dev/null
    done
fi
# rows: phase impl run boot wall iops cpu count downtime irq/s cpu/irq
#       intremap first load window-cpu-s whole-cpu-s ios
for r in $(seq 1 "$runs"); do
pi=0
for p in $phases; do
    pi=$((pi + 1))
    f=$(first "$r" "$pi")
    if [ "$f" = builtin ]; then impls="builtin viommu"; else impls="viommu builtin"; fi
    for impl in $impls; do
        d=$w/$p-$impl-$r; mkdir -p "$d"; truncate -s 64M "$d/disk"
        ir=off; [ "$p" != virtio ] && ir=$intremap
        export VIOMMU_E2E_INTREMAP=$ir
        ld=$(load)
        # 1) fixed job (write+read 4 MiB) with counting
        t0=$(date +%s.%N)
        if [ $impl = builtin ]; then
            res=$(VIOMMU_E2E_QEMU_EXTRA="$(traces $p) -D $d/trace" $pin "$q/run-guest.sh" "$qemu" $p builtin io "$d/disk" "$d/io.log")
            n=$(wc -l < "$d/trace" 2>/dev/null || echo n/a)
        else
            res=$(VIOMMU_E2E_STATS=$d/stats $pin "$q/run-guest.sh" "$qemu" $p viommu io "$d/disk" "$d/io.log")
            n=$(libcount $p "$d/stats")
        fi
        t1=$(date +%s.%N)
        case $res in *"RESULT ok"*) ;; *) n=fail ;; esac
        boot=$(field "$res" boot-s)
        wall=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')
        # 2) timed random reads, host CPU measured around QEMU
        truncate -s 64M "$d/disk2"
        bench "$d" $impl $p "$secs" "$d/b.log" > "$d/res"
        rb=$(cat "$d/res"); ios=$(field "$rb" ios); s=$(field "$rb" secs)
        case $rb in *"RESULT ok"*) ;; *) ios=0 ;; esac
        iops=$(echo "$ios $s" | awk '{ if ($2 > 0) printf "%.0f", $1 / $2; else print "n/a" }')
        wcpu=$(cut -d' ' -f1 "$d/win.$secs" 2>/dev/null || echo n/a)
        if [ "$cpumode" = boot0 ]; then
            bench "$d" $impl $p 0 "$d/b0.log" > "$d/res0"
            dcpu=$(echo "$(cpu "$d/cpu.$secs") $(cpu "$d/cpu.0")" | awk '{ printf "%.2f", $1 - $2 }')
            nint=$(( $(virqs "$d/b.log") - $(virqs "$d/b0.log") ))
        else
            dcpu=$wcpu
            nint=$(field "$rb" irqs)
        fi
        case $rb in *"RESULT ok"*) ;; *) nint=0 ;; esac
        case $dcpu in [0-9]*) ;; *) dcpu=n/a ;; esac
        cpio=$(echo "$dcpu $ios" | awk '{ if ($1 ~ /^[0-9.]+$/ && $2 > 0) printf "%.3f", $1 * 1000 / $2; else print "n/a" }')
        ips=$(echo "${nint:-0} $s" | awk '{ if ($1 > 0 && $2 > 0) printf "%.0f", $1 / $2; else print "n/a" }')
        cpint=$(echo "$dcpu ${nint:-0}" | awk '{ if ($1 ~ /^[0-9.]+$/ && $2 > 0) printf "%.3f", $1 * 1000 / $2; else print "n/a" }')
        # 3) the io job migrated mid-run: downtime reported by the source
        dt=n/a
        if [ "${NOMIGRATE:-0}" != 1 ]; then
            truncate -s 64M "$d/disk3"
            rm=$($pin "$q/run-guest.sh" "$qemu" $p $impl migrate "$d/disk3" "$d/m.log" 3)
            case $rm in *"RESULT ok"*) dt=$(sed -n 's/.*downtime-ms=\([0-9]*\).*/\1/p' "$d/m.log.migration") ;; esac
        fi
        echo "$p $impl $r ${boot:-n/a} $wall $iops $cpio $n ${dt:-n/a} $ips $cpint $ir $f $ld ${wcpu:-n/a} $(cpu "$d/cpu.$secs") ${ios:-0}" >> "$w/rows"
        echo "side-by-side: run $r $p $impl: boot ${boot:-n/a} wall $wall iops $iops cpu/io $cpio count $n downtime ${dt:-n/a} irq/s $ips cpu/irq $cpint intremap $ir first $f load $ld" >&2
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
# ratio of the medians above.  Spread: the interquartile range of the
# per-run ratios, and a distribution-free confidence interval of their
# median (order statistics x(k) .. x(n+1-k), the widest k whose coverage
# 1 - 2 P[Binomial(n, 1/2) < k] is still >= 90%, coverage printed; with
# n < 5 no such interval exists and min..max is given with its coverage).
ratios() { # ratios PHASE COLUMN [FIRST]: "run ratio" per run (only pairs where FIRST ran first)
    awk -v p="$1" -v c="$2" -v f="${3:-}" '$1 == p && $c ~ /^[0-9.]+$/ && (f == "" || $13 == f) { v[$3 " " $2] = $c; r[$3] = 1 }
        END { for (k in r) if ((k " builtin") in v && (k " viommu") in v && v[k " builtin"] > 0)
                  printf "%s %.4f\n", k, v[k " viommu"] / v[k " builtin"] }' "$w/rows" | sort -n
}
# spread: reads "run ratio" lines; prints
# "list | median | q1–q3 | lo–hi (cov%) | above/n" (above: runs with ratio > 1).
spread() {
    awk '{ l = l (NR > 1 ? ", " : "") sprintf("%.2f", $2); x[NR] = $2 } END {
        n = NR; if (n == 0) { print "n/a | n/a | n/a | n/a | n/a"; exit }
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
        m = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
        # type-7 quantiles
        h = 1 + (n - 1) * 0.25; lo = int(h); q1 = x[lo] + (h - lo) * (x[lo < n ? lo + 1 : n] - x[lo])
        h = 1 + (n - 1) * 0.75; lo = int(h); q3 = x[lo] + (h - lo) * (x[lo < n ? lo + 1 : n] - x[lo])
        # cov(k) = 1 - 2 P[B < k], B ~ Binomial(n, 1/2); the largest k >= 1 with cov >= 90%, else k = 1
        k = 1; cum = 0.5 ^ n; c = n; cov = 1 - 2 * cum
        for (j = 2; 2 * j <= n + 1; j++) { nc = 1 - 2 * (cum + c * (0.5 ^ n)); if (nc < 0.9) break
            cum += c * (0.5 ^ n); c = c * (n - j + 1) / j; k = j; cov = nc }
        a = 0; for (i = 1; i <= n; i++) if (x[i] > 1) a++
        printf "%s | **%.2f** | %.2f–%.2f | %.2f–%.2f (%.0f%%) | %d/%d\n", l, m, q1, q3, x[k], x[n + 1 - k], 100 * cov, a, n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
col() { echo "$1" | awk -F' [|] ' -v i="$2" '{ print $i }'; }
echo "| phase | IOPS viommu/builtin, per run | median of per-run ratios | ratio of medians | host CPU per I/O viommu/builtin, per run | median of per-run ratios | ratio of medians |"
echo "|---|---|---|---|---|---|---|"
for p in $phases; do
    ip=$(ratios $p 6 | spread); cp=$(ratios $p 7 | spread)
    echo "| $p | $(col "$ip" 1) | $(col "$ip" 2) | $(ratio "$(med $p viommu 6)" "$(med $p builtin 6)") | $(col "$cp" 1) | $(col "$cp" 2) | $(ratio "$(med $p viommu 7)" "$(med $p builtin 7)") |"
done
echo
echo "Spread of the per-run ratios: interquartile range, a distribution-free confidence interval of the median (coverage), runs with ratio > 1."
echo
echo "| phase | IOPS ratio IQR | IOPS median CI | IOPS runs > 1 | CPU/I/O ratio IQR | CPU/I/O median CI | CPU/I/O runs > 1 |"
echo "|---|---|---|---|---|---|---|"
for p in $phases; do
    ip=$(ratios $p 6 | spread); cp=$(ratios $p 7 | spread)
    echo "| $p | $(col "$ip" 3) | $(col "$ip" 4) | $(col "$ip" 5) | $(col "$cp" 3) | $(col "$cp" 4) | $(col "$cp" 5) |"
done
echo
echo "Order check: median per-run ratio (viommu/builtin) by which model ran first (a systematic difference is an order effect)."
echo
echo "| phase | IOPS, builtin first | IOPS, viommu first | CPU/I/O, builtin first | CPU/I/O, viommu first |"
echo "|---|---|---|---|---|"
for p in $phases; do
    echo "| $p | $(ratios $p 6 builtin | spread | awk -F' [|] ' '{ print $2 " (" $5 ")" }') | $(ratios $p 6 viommu | spread | awk -F' [|] ' '{ print $2 " (" $5 ")" }') | $(ratios $p 7 builtin | spread | awk -F' [|] ' '{ print $2 " (" $5 ")" }') | $(ratios $p 7 viommu | spread | awk -F' [|] ' '{ print $2 " (" $5 ")" }') |"
done
echo
echo "Runs: $runs (medians), order $order$([ "$order" = random ] && echo " (SEED=$seed)"), cpu $cpumode${pin:+, $pin}; load $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S) UTC."
echo "Raw rows (phase impl run boot wall iops cpu/io count downtime irq/s cpu/irq intremap first load window-cpu-s whole-cpu-s ios):"
sed 's/^/    /' "$w/rows"
