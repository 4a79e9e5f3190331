#!/bin/sh
# Manual investigation helper (not a ctest): run the re-read job once and,
# if the guest shows the page-table corruption signature (docs/e2e.md,
# "Findings"), save all guest RAM (QMP pmemsave, after the guest powered
# off; QEMU runs with -no-shutdown) for corruption-scan.py.
# Usage: corruption-dump.sh PHASE IMPL OUTDIR [SECS]   (PHASE/IMPL as run-guest.sh;
# PHASE none = no vIOMMU).  Exit 0: signature seen, RAM in OUTDIR/ram.bin;
# 1: no signature (nothing kept but the console, unless ALWAYS=1: RAM saved
# after every run, e.g. for corruption-scan.py --used-ring).
set -u
phase=$1 impl=$2 out=$3 secs=${4:-25}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
qemu=${VIOMMU_E2E_QEMU:-$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/*-p*-v*/qemu-system-x86_64 2>/dev/null | head -1)}
mem=${VIOMMU_E2E_MEM:-512}
mkdir -p "$out"
rm -f "$out/ram.bin" "$out/console" "$out/console.qemu"
sock=$out/qmp
truncate -s 64M "$out/disk"
VIOMMU_E2E_QEMU_EXTRA="${VIOMMU_E2E_QEMU_EXTRA:-} -no-shutdown -qmp unix:$sock,server=on,wait=off" \
    "$q/run-guest.sh" "$qemu" "$phase" "$impl" reread "$out/disk" "$out/console" "$secs" > "$out/result" &
rg=$!
n=0
until grep -aq 'reboot: Power down\|Kernel panic' "$out/console" 2>/dev/null; do
    sleep 0.5; n=$((n + 1))
    [ $n -lt 1200 ] && kill -0 $rg 2>/dev/null || break
done
sleep 1
sig='bad pud|bad pmd|bad pte|Bad page state|corrupted stack end|unable to handle page fault'
rc=1
if grep -aqE "$sig" "$out/console" || [ "${ALWAYS:-0}" = 1 ]; then
    grep -aqE "$sig" "$out/console" && rc=0
    python3 "$q/qmp.py" "$sock" cmd "{\"execute\": \"pmemsave\", \"arguments\": {\"val\": 0, \"size\": $((mem << 20)), \"filename\": \"$out/ram.bin\"}}" >/dev/null
fi
python3 "$q/qmp.py" "$sock" quit >/dev/null 2>&1
wait $rg
rm -f "$out/disk"
exit $rc
