#!/bin/sh
# Boot the e2e guest under QEMU with one vIOMMU.
# Usage: run-guest.sh QEMU PHASE IMPL MODE DISK LOG [SECS]
#   PHASE: virtio | vtd | vtd-sm | vtd-fs | amdvi (32-bit IRTEs) | amdvi-ga (128-bit)
#          | amdvi-v2 (vtd-fs: scalable mode with first-stage tables, x-flts=on;
#          amdvi-v2: amd_iommu=pgtbl_v2, v2 guest tables) | none (no vIOMMU:
#          IMPL ignored; tests/e2e/corruption-loop.sh)
#   IMPL:  builtin (QEMU's own model) | viommu (libviommu-backed device)
#   MODE:  io | fault | irfault | bench | migrate | reread (the migrate job's
#          re-read loop without a migration)
# The serial console goes to LOG; prints the guest's result line (or nothing).
# migrate: the guest is migrated mid-job to a second QEMU (see below).
# env: VIOMMU_E2E_STATS=file  (passed to the libviommu glue: stats at exit)
#      VIOMMU_E2E_TOPO root|rootport|bridge|hotplug (where the disk sits)
#      VIOMMU_E2E_DEVOPTS ,opt=val... appended to the vIOMMU's -device
#      VIOMMU_E2E_BLKOPTS ,opt=val... appended to the disk's -device
#      VIOMMU_E2E_QEMU_EXTRA more QEMU arguments
#      VIOMMU_E2E_TIMEOUT (s, default 600)
#      VIOMMU_E2E_APPEND more guest kernel command-line words
#      VIOMMU_E2E_ACCEL (default tcg), VIOMMU_E2E_MEM (MiB, default 512)
#      VIOMMU_E2E_INTREMAP on|off: guest interrupt remapping (default: on
#        for the libviommu VT-d / AMD-Vi devices, off otherwise)
set -eu
qemu=$1 phase=$2 impl=$3 mode=$4 disk=$5 log=$6 secs=${7:-10}
here=$(cd "$(dirname "$0")" && pwd)
gdir=$("$here/fetch-guest.sh") || exit $?
pre=""; [ "$impl" = viommu ] && pre="viommu-"
machine=q35
append="console=ttyS0 iommu.strict=1 iommu.passthrough=0 quiet loglevel=4 panic=-1 e2e.mode=$mode e2e.secs=$secs${VIOMMU_E2E_APPEND:+ $VIOMMU_E2E_APPEND}"
stats=""
ir=${VIOMMU_E2E_INTREMAP:-}
if [ -z "$ir" ]; then
    ir=off; [ "$impl" = viommu ] && [ "$phase" != virtio ] && ir=on
fi
case $phase in
virtio) dev="-device ${pre}virtio-iommu-pci" ;;
vtd)    dev="-device ${pre}intel-iommu"; append="$append intel_iommu=on" ;;
vtd-sm) dev="-device ${pre}intel-iommu,x-scalable-mode=on"; append="$append intel_iommu=on,sm_on" ;;
# Linux takes 128-bit (GA) IRTEs whenever the IVHD says GASup and the CPU
# has CMPXCHG16B (amd_iommu_intr=legacy still means 128-bit): the 32-bit
# run hides GASup (ga=off, libviommu's device only).
amdvi)  dev="-device ${pre}amd-iommu"; [ "$impl" = viommu ] && dev="$dev,ga=off" ;;
amdvi-ga) dev="-device ${pre}amd-iommu" ;;
vtd-fs) dev="-device ${pre}intel-iommu,x-scalable-mode=on,x-flts=on"; append="$append intel_iommu=on,sm_on" ;;
# Linux takes EFR from the IVRS (IVHD type 11h) when it picks v1 or v2
# tables: libviommu's IVRS builder emits it (and GTSup/GIoSup) by default.
amdvi-v2) dev="-device ${pre}amd-iommu"; append="$append amd_iommu=pgtbl_v2" ;;
none)   dev=""; append="$append e2e.iommu=none" ;;
*) echo "bad phase $phase" >&2; exit 2 ;;
esac
# With remapping on, Linux panics ("timer doesn't work through
# Interrupt-remapped IO-APIC") instead of trying other timer routes when
# its boot-time check sees too few 8254 ticks in a TSC-timed window, which
# happens under TCG on a loaded host (the ticks arrive, late). KVM guests
# skip that check too (no_timer_check).
if [ "$ir" = on ]; then append="$append no_timer_check"; else append="$append intremap=off"; fi
extra=""
case $mode in fault|irfault) extra="-device edu" ;; esac
# Firmware: the build's share/ first (SeaBIOS 1.16.3), then the distro's
# QEMU data dirs (option ROMs: linuxboot_dma.bin).
L=""
for d in "$(dirname "$qemu")/share" /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
    [ -d "$d" ] && L="$L -L $d"
done
# Where the disk sits (VIOMMU_E2E_TOPO): root (bus 0), rootport (behind a
# PCIe root port: requester ID 01:00.0), bridge (behind a conventional
# PCI-PCI bridge, which takes ownership: DMA aliased to the bridge's ID),
# hotplug (plugged into an empty root port by QMP once the guest is up).
blkdev="virtio-blk-pci,id=blk0,drive=d0,iommu_platform=on,disable-legacy=on${VIOMMU_E2E_BLKOPTS:-}"
topo=${VIOMMU_E2E_TOPO:-root}
case $topo in
root)     blk="-device $blkdev" ;;
rootport) blk="-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=4 -device $blkdev,bus=rp0" ;;
bridge)   blk="-device pci-bridge,id=br0,bus=pcie.0,chassis_nr=2,addr=5 -device $blkdev,bus=br0,addr=3" ;;
hotplug)  blk="-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=4"
          append="$append e2e.hotplug=1" ;;
*) echo "bad VIOMMU_E2E_TOPO $topo" >&2; exit 2 ;;
esac

# run_qemu LOG STATS EXTRA...: one QEMU, serial console to LOG.
run_qemu() {
    rlog=$1 rstats=$2; shift 2
    rdev=$dev${VIOMMU_E2E_DEVOPTS:-}
    if [ "$impl" = viommu ] && [ -n "$rstats" ] && [ -n "$dev" ]; then rdev="$rdev,stats-file=$rstats"; fi
    # shellcheck disable=SC2086
    timeout "${VIOMMU_E2E_TIMEOUT:-600}" "$qemu" $L -accel "${VIOMMU_E2E_ACCEL:-tcg}" -M $machine -m "${VIOMMU_E2E_MEM:-512}" -smp 1 -nodefaults \
        -display none -no-reboot -serial "file:$rlog" -monitor none \
        -kernel "$gdir/vmlinuz" -initrd "$gdir/initrd.gz" -append "$append" \
        $rdev ${VIOMMU_E2E_QEMU_EXTRA:-} \
        -drive "file=$disk,if=none,id=d0,format=raw,cache=writeback" \
        $blk $extra "$@" \
        </dev/null >>"$log.qemu" 2>&1 || echo "run-guest: qemu exited $?" >>"$log.qemu"
}
stats=${VIOMMU_E2E_STATS:-}
if [ "$topo" = hotplug ]; then
    sock=$log.qmp
    rm -f "$sock"
    run_qemu "$log" "$stats" -qmp "unix:$sock,server=on,wait=off" &
    vm=$!
    n=0
    until grep -aq 'e2e: hotplug-ready' "$log" 2>/dev/null; do
        sleep 0.2; n=$((n + 1))
        kill -0 $vm 2>/dev/null && [ $n -lt 1500 ] || break
    done
    python3 "$here/qmp.py" "$sock" cmd \
        '{"execute": "device_add", "arguments": {"driver": "virtio-blk-pci", "id": "blk0", "bus": "rp0", "drive": "d0", "iommu_platform": true, "disable-legacy": "on"}}' \
        >>"$log.qemu" 2>&1 || echo "run-guest: device_add failed" >>"$log.qemu"
    wait $vm || true
    grep -a '^VIOMMU-E2E RESULT' "$log" | head -1 | tr -d '\r' || true
    exit 0
fi
if [ "$mode" != migrate ]; then
    run_qemu "$log" "$stats"
    grep -a '^VIOMMU-E2E RESULT' "$log" | head -1 | tr -d '\r' || true
    exit 0
fi

# migrate: the source runs until the guest's job says "migrate-point", is
# migrated to a file (QMP `migrate file:`), quits; a second QEMU with the
# same configuration and `-incoming file:` resumes the job.  The source's
# console/stats go to LOG.src / STATS.src, the destination's to LOG / STATS;
# the migration's downtime and total time go to LOG.migration.
sock=$log.qmp
mig=$log.vmstate
rm -f "$sock" "$mig" "$log.migration"
run_qemu "$log.src" "${stats:+$stats.src}" -qmp "unix:$sock,server=on,wait=off" &
src=$!
n=0
until grep -aq 'e2e: migrate-point' "$log.src" 2>/dev/null; do
    sleep 0.2; n=$((n + 1))
    if [ $n -gt 1500 ] || ! kill -0 $src 2>/dev/null; then
        echo "run-guest: the guest never reached the migration point" >>"$log.qemu"
        python3 "$here/qmp.py" "$sock" quit 2>/dev/null || true; wait $src || true
        cat "$log.src" > "$log"
        exit 0
    fi
done
if ! python3 "$here/qmp.py" "$sock" migrate "file:$mig" > "$log.migration" 2>>"$log.qemu"; then
    echo "run-guest: migration failed" >>"$log.qemu"
    python3 "$here/qmp.py" "$sock" quit 2>/dev/null || true
fi
wait $src || true
[ -s "$log.migration" ] || { cat "$log.src" > "$log"; exit 0; }
run_qemu "$log" "$stats" -incoming "file:$mig"
rm -f "$mig"
grep -a '^VIOMMU-E2E RESULT' "$log" | head -1 | tr -d '\r' || true
