#!/bin/sh
# Manual investigation script (not a ctest): how often does the guest
# page-table corruption of docs/e2e.md ("Findings": bad pud / bad pmd /
# Bad page state ... pfn:00010 / corrupted stack end) strike the migrate
# job's re-read loop, per vIOMMU configuration?
#
# Usage: corruption-loop.sh CONFIG RUNS [SECS] [PARALLEL]
#   CONFIG: none (no vIOMMU) | builtin:PHASE (QEMU's own model) |
#           viommu:PHASE (libviommu's device); PHASE as in run-guest.sh
#           (virtio, vtd, amdvi, ...)
#   RUNS:   how many guests to boot; SECS: length of the re-read loop
#           (default 25, as the old migrate job); PARALLEL: default 1
# Every run boots the e2e guest with e2e.mode=reread (integrations/qemu/guest/init:
# O_DIRECT write + read of a 4 MiB pattern, then SECS of re-reads) and
# classifies its console: ok, corrupt (the signature), fail (anything else).
# env: VIOMMU_E2E_QEMU (default: newest cached patched QEMU), LOOP_OUT
#      (directory for the logs of runs that did not pass; default
#      /tmp/viommu-corruption), and everything run-guest.sh takes
#      (VIOMMU_E2E_APPEND kernel words, VIOMMU_E2E_ACCEL, VIOMMU_E2E_MEM,
#      VIOMMU_E2E_QEMU_EXTRA ...).
# Prints one line per run and a summary line "CONFIG runs=N ok=.. corrupt=.. fail=..".
set -u
cfg=$1 runs=$2 secs=${3:-25} par=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
qemu=${VIOMMU_E2E_QEMU:-$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/*-p*-v*/qemu-system-x86_64 2>/dev/null | head -1)}
[ -x "$qemu" ] || { echo "no QEMU build (set VIOMMU_E2E_QEMU)" >&2; exit 2; }
case $cfg in
none) impl=builtin phase=none ;;
builtin:*|viommu:*) impl=${cfg%%:*} phase=${cfg#*:} ;;
*) echo "bad CONFIG $cfg" >&2; exit 2 ;;
esac
out=${LOOP_OUT:-/tmp/viommu-corruption}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/viommu-loop.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$q/fetch-guest.sh" >/dev/null || exit $?
sig='bad pud|bad pmd|bad pte|Bad page state|corrupted stack end|Bad rss-counter|unable to handle page fault'

one() {
    i=$1 d=$work/$i
    mkdir -p "$d"
    truncate -s 64M "$d/disk"
    t0=$(date +%s)
    res=$("$q/run-guest.sh" "$qemu" "$phase" "$impl" reread "$d/disk" "$d/console" "$secs")
    t=$(( $(date +%s) - t0 ))
    rounds=$(grep -ac 'e2e: round' "$d/console")
    case $res in
    "VIOMMU-E2E RESULT ok"*) v=ok ;;
    *) if grep -aqE "$sig" "$d/console"; then v=corrupt; else v=fail; fi
       keep=$out/$(echo "$cfg" | tr ':' '-')-$(date +%H%M%S)-$i
       mkdir -p "$keep" && cp "$d/console" "$d/console.qemu" "$keep/" 2>/dev/null ;;
    esac
    echo "$cfg run $i: $v rounds=$rounds ${t}s ${keep:+logs=$keep} $(grep -aoE "$sig" "$d/console" | head -1)"
    rm -rf "$d"
}

i=0
while [ $i -lt "$runs" ]; do
    j=0
    while [ $j -lt "$par" ] && [ $i -lt "$runs" ]; do
        one $i > "$work/res.$i" &
        i=$((i + 1)); j=$((j + 1))
    done
    wait
done
cat "$work"/res.* | sort -t' ' -k3n
ok=$(cat "$work"/res.* | grep -c ': ok ')
co=$(cat "$work"/res.* | grep -c ': corrupt ')
fa=$(cat "$work"/res.* | grep -c ': fail ')
echo "$cfg runs=$runs ok=$ok corrupt=$co fail=$fa secs=$secs append='${VIOMMU_E2E_APPEND:-}' accel=${VIOMMU_E2E_ACCEL:-tcg} mem=${VIOMMU_E2E_MEM:-512}"
