#!/bin/sh
# End-to-end test: a Debian Linux guest drives a libviommu-backed vIOMMU in
# the patched QEMU (integrations/qemu).  Usage: run-e2e.sh PHASE [MODE]
#   PHASE: virtio | vtd | vtd-sm | vtd-fs | amdvi (32-bit IRTEs) | amdvi-ga (128-bit)
#          | amdvi-v2 (vtd-fs: scalable mode + first stage, x-flts=on; amdvi-v2:
#          amd_iommu=pgtbl_v2 on v2 guest tables; docs/e2e.md)
#   MODE: io (default) | fault | irfault (an interrupt through a remapping
#         entry that is not present, VT-d/AMD-Vi) | x2apic (the io job on an
#         x2APIC CPU: remapping in x2APIC mode) | bench | migrate (the io job, migrated
#         mid-run) | rootport | bridge | hotplug (the io job with the disk
#         behind a root port / PCI bridge / hot-plugged) | notify (the io job
#         with an IOMMU-notifier consumer on the disk) | ats (vtd, vtd-sm:
#         the io job on a disk with PCIe ATS behind a root port, the
#         IOMMU advertising device-TLB support, a device-IOTLB notifier
#         consumer on the disk)
# Exit 0 pass, 1 fail, 77 skipped (reason printed: no kernel, no QEMU build,
# device not in the patch series).  Building QEMU takes minutes the first
# time, so it only happens with VIOMMU_E2E=1 (else a cached build is used or
# the test skips).
set -u
phase=$1 mode=${2:-io}
here=$(cd "$(dirname "$0")" && pwd)
q=$here/../../integrations/qemu
skip() { echo "e2e[$phase/$mode]: SKIP: $*"; exit 77; }
fail() { echo "e2e[$phase/$mode]: FAIL: $*"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/viommu-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$q/fetch-guest.sh" > "$work/guest" 2> "$work/guest.err"
rc=$?
[ $rc = 77 ] && skip "guest kernel: $(tail -1 "$work/guest.err")"
[ $rc = 0 ] || fail "fetch-guest.sh: $(tail -3 "$work/guest.err")"
gdir=$(tail -1 "$work/guest")

if [ "${VIOMMU_E2E:-0}" = 1 ]; then
    t0=$(date +%s)
    "$q/build-qemu.sh" > "$work/qemu" 2> "$work/qemu.err"
    rc=$?
    [ $rc = 77 ] && skip "QEMU build: $(grep SKIP "$work/qemu.err" | tail -1)"
    [ $rc = 0 ] || { tail -30 "$work/qemu.err"; fail "QEMU build failed"; }
    echo "e2e: QEMU ready in $(( $(date +%s) - t0 )) s ($(grep 'build time' "$work/qemu.err" || echo cached))"
    qemu=$(tail -1 "$work/qemu")
else
    qemu=${VIOMMU_E2E_QEMU:-}
    qv=$(sed -n 's/^QEMU_UPSTREAM=\([^ ]*\).*/\1/p' "$q/build-qemu.sh")
    [ -n "$qemu" ] || qemu=$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/libviommu/qemu/"$qv"-p*-v*/qemu-system-x86_64 2>/dev/null | head -1)
    [ -n "$qemu" ] && [ -x "$qemu" ] || skip "no patched QEMU build cached; run with VIOMMU_E2E=1 to build it (minutes)"
    echo "e2e: using cached QEMU $qemu (VIOMMU_E2E=1 rebuilds against the current library)"
fi

case $phase in
virtio) devname=viommu-virtio-iommu-pci ;;
vtd|vtd-sm|vtd-fs) devname=viommu-intel-iommu ;;
amdvi|amdvi-ga|amdvi-v2) devname=viommu-amd-iommu ;;
*) fail "unknown phase $phase" ;;
esac
"$qemu" -device help 2>/dev/null | grep -q "\"$devname\"" || \
    skip "$devname is not in the QEMU patch series yet (not implemented)"
# The first-stage / v2 phases need the options of patches/0003.
case $phase in
vtd-fs) opt=x-flts ;;
amdvi-v2) opt= ;;   # v2 tables need no option (library default)
*) opt= ;;
esac
[ -z "$opt" ] || "$qemu" -device "$devname,help" 2>/dev/null | grep -q "^ *$opt=" || \
    skip "$devname has no $opt option in this QEMU build (patches/0003)"

disk=$work/disk.img
truncate -s 64M "$disk"
log=$work/console.log
stats=$work/stats
# Test name -> guest job (io/fault/bench/migrate), disk placement, probe.
gmode=$mode topo=root secs=10 probe=$work/probe
case $mode in
io|fault) ;;
irfault) case $phase in virtio) skip "virtio-iommu does not remap interrupts";; esac ;;
bench) secs=3 ;;
migrate) secs=3 ;;
rootport|bridge|hotplug) gmode=io topo=$mode ;;
notify) gmode=io ;;
ats) gmode=io topo=rootport ;;
x2apic) gmode=io
        case $phase in virtio) skip "virtio-iommu does not remap interrupts";; esac ;;
*) fail "unknown mode $mode" ;;
esac
# notify: QEMU's IOMMU notifier interface (what VFIO and vhost use), fed by
# libviommu's notifiers, consumed by viommu-notifier-probe on the disk.
# VT-d offers MAP events only with caching mode (spec 6.1): first check
# that a MAP notifier is refused without it, then run with caching-mode=on.
probe_args() { echo "-device viommu-notifier-probe,target=blk0,log=$1"; }
pv() { awk -v k="$1" '$1 == k {sub(/^[^ ]* /, ""); print}' "$2"; }
devopts=
if [ "$mode" = notify ] && [ "${phase#vtd}" != "$phase" ]; then
    res=$(VIOMMU_E2E_QEMU_EXTRA="$(probe_args "$probe.nocm")" VIOMMU_E2E_STATS=$stats.nocm \
          "$q/run-guest.sh" "$qemu" "$phase" viommu io "$disk" "$log.nocm" 10)
    echo "e2e: caching mode off: probe: $(tr '\n' ' ' < "$probe.nocm" 2>/dev/null)"
    [ "$(pv registered "$probe.nocm")" = 0 ] || fail "a MAP notifier was accepted without caching mode"
    pv refused "$probe.nocm" | grep -q "caching mode" || fail "refusal does not name caching mode"
    case $res in "VIOMMU-E2E RESULT ok"*) ;; *) fail "guest failed with caching mode off" ;; esac
    devopts=,caching-mode=on
fi
extra_q=
[ "$mode" = notify ] && extra_q=$(probe_args "$probe")
# ats: the disk has an ATS capability (PCIe: behind a root port); with
# device-iotlb=on the VT-d unit advertises ECAP.DT and the DMAR an ATSR, so
# Linux enables ATS and sends device-TLB invalidations; a DEVIOTLB_UNMAP
# notifier (what vhost registers with ATS) on the disk counts what reaches it.
blkopts=
if [ "$mode" = ats ]; then
    case $phase in
    vtd|vtd-sm) ;;
    # device-iotlb=on: IotlbSup (capability, IVHD); Linux 6.12 reads a
    # device's ATS capability only when the IOMMU also has GTSup, PPRSup
    # and EPHSup (amd_iommu_gt_ppr_supported() in iommu_init_device()),
    # which the glue's VIOMMU_AMDVI_EFR_ALL advertises.
    amdvi) ;;
    *) skip "virtio-iommu has no device-TLB invalidation" ;;
    esac
    "$qemu" -device help 2>/dev/null | grep -q '"viommu-deviotlb-probe"' || \
        skip "viommu-deviotlb-probe is not in the QEMU patch series (patches/0004)"
    blkopts=,ats=on
    # First without device-iotlb: no ECAP.DT, no ATSR, so the guest must leave
    # ATS off, send no device-TLB invalidation, and the notifier hear nothing.
    res=$(VIOMMU_E2E_QEMU_EXTRA="-device viommu-deviotlb-probe,target=blk0,log=$probe.nodt" \
          VIOMMU_E2E_STATS=$stats.nodt VIOMMU_E2E_TOPO=rootport VIOMMU_E2E_BLKOPTS=$blkopts \
          "$q/run-guest.sh" "$qemu" "$phase" viommu io "$disk" "$log.nodt" 10)
    ats=$(grep -a 'e2e: vda ats:' "$log.nodt" | sed 's/.*vda ats: //' | tr -d '\r')
    echo "e2e: device-iotlb off: ATS $ats; devtlb_invalidations $(awk '$1 == "devtlb_invalidations" {print $2}' "$stats.nodt" 2>/dev/null); probe: $(tr '\n' ' ' < "$probe.nodt" 2>/dev/null)"
    case $res in "VIOMMU-E2E RESULT ok"*) ;; *) tail -n 30 "$log.nodt"; fail "guest failed with device-iotlb off" ;; esac
    case $ats in *enabled=0*) ;; *) fail "ATS not reported disabled without device-iotlb: ${ats:-no report}" ;; esac
    [ "$(awk '$1 == "devtlb_invalidations" {print $2}' "$stats.nodt")" = 0 ] || fail "device-TLB invalidations without ECAP.DT"
    [ "$(pv registered "$probe.nodt")" = 1 ] && [ "$(pv deviotlb_events "$probe.nodt")" = 0 ] || \
        fail "device-IOTLB notifier: not registered, or told something without ECAP.DT"
    devopts=,device-iotlb=on
    extra_q="-device viommu-deviotlb-probe,target=blk0,log=$probe"
fi
# x2apic: TCG's x2APIC (QEMU >= 9.0); Linux enables it only with interrupt
# remapping in x2APIC mode (VT-d EIM, AMD-Vi XT).
[ "$mode" = x2apic ] && extra_q="-cpu qemu64,+x2apic"
# AMD-Vi: XT mode needs XTSup in the EFR, which the glue leaves out unless
# asked (x-xtsup=on); Linux then sends the IOMMU's own interrupts through
# the IntCapXT registers.
case $mode:$phase in x2apic:amdvi*) devopts="$devopts,x-xtsup=on" ;; esac
t0=$(date +%s)
run_job() {
    VIOMMU_E2E_QEMU_EXTRA="$extra_q" VIOMMU_E2E_DEVOPTS=$devopts VIOMMU_E2E_TOPO=$topo VIOMMU_E2E_BLKOPTS=$blkopts \
        VIOMMU_E2E_STATS=$stats "$q/run-guest.sh" "$qemu" "$phase" viommu "$gmode" "$disk" "$log" $secs
}
res=$(run_job)
# The guest page-table corruption of docs/e2e.md ("The guest page-table
# corruption": bad pud/pmd, Bad page state pfn:00010, corrupted stack end)
# was QEMU 10.0's used-ring bug that patches/0005 fixes: no rerun any more;
# name it if it shows up (a QEMU build without 0005, e.g. an old cached one).
case $res in "VIOMMU-E2E RESULT ok"*) ;; *)
    if grep -aqE 'bad pud|bad pmd|Bad page state|corrupted stack end' "$log" "$log.src" 2>/dev/null; then
        echo "e2e: guest page-table corruption (bad pud/pmd, Bad page state): is $qemu built with patches/0005?"
    fi ;;
esac
t1=$(date +%s)
echo "e2e: guest ran $((t1 - t0)) s: ${res:-<no result line>}"
show() { [ -f "$log.src" ] && { echo "---- source console (tail) ----"; tail -n 30 "$log.src"; }; \
         echo "---- console (tail) ----"; tail -n 40 "$log"; cat "$log.qemu" 2>/dev/null; \
         echo "---- stats ----"; cat "$stats" 2>/dev/null; }
case $res in "VIOMMU-E2E RESULT ok"*) ;; *) show; fail "guest did not report ok" ;; esac
[ -f "$stats" ] || { show; fail "no libviommu stats file"; }
st() { awk -v k="$1" '$1 == k {print $2}' "$stats"; }
echo "e2e: libviommu stats: $(tr '\n' ' ' < "$stats")"
[ "$(st translations)" -gt 0 ] 2>/dev/null || { show; fail "libviommu translated nothing"; }
# The glue registers guest RAM with libviommu (its fast path: table entries,
# queues and logs without the read/write callbacks; VIOMMU_QEMU_NO_RAM=1
# turns that off for comparisons).
if [ -n "$(st ram_regions)" ] && [ -z "${VIOMMU_QEMU_NO_RAM:-}" ]; then
    [ "$(st ram_regions)" -gt 0 ] 2>/dev/null || { show; fail "no guest RAM registered with libviommu"; }
fi
# vtd-fs: the guest's DMA domains are first-stage ones (PASID entries with
# PGTT = 001b, counted by libviommu).  amdvi-v2: Linux kept v2 tables (no
# fallback to v1) and the translated DTEs point at v2 tables (GV, GIoV).
case $phase in
vtd-fs)
    echo "e2e: first stage: fs_resolves=$(st fs_resolves) of resolves=$(st resolves)"
    [ "$(st fs_resolves)" -gt 0 ] 2>/dev/null || { show; fail "no PASID entry with PGTT=001b (first stage) resolved"; } ;;
amdvi-v2)
    # migrate: the boot messages are in the source's console.
    boot=$log; [ -f "$log.src" ] && boot=$log.src
    grep -a 'AMD-Vi: V2 page table enabled' "$boot" | head -1 | tr -d '\r'
    ! grep -aq 'Fallback to v1' "$boot" || { show; fail "the driver fell back to v1 tables"; }
    grep -aq 'AMD-Vi: V2 page table enabled' "$boot" || { show; fail "no 'V2 page table enabled' in the guest log"; }
    echo "e2e: DTEs at exit: v2=$(st v2_dtes) v1=$(st v1_dtes)"
    [ "$(st v2_dtes)" -gt 0 ] 2>/dev/null && [ "$(st v1_dtes)" = 0 ] || { show; fail "translated DTEs are not all on v2 tables"; } ;;
esac
if [ "$gmode" = irfault ]; then
    grep -a '^irfault: ' "$log" | tr -d '\r' | sed 's/^/e2e: /'
    line=$(grep -a 'e2e: irfault line' "$log" | tr -d '\r')
    echo "$line"
    [ "$(st irq_blocked)" -gt 0 ] 2>/dev/null || { show; fail "libviommu blocked no interrupt"; }
    [ "$(st irq_remapped)" -gt 0 ] 2>/dev/null || { show; fail "libviommu remapped no interrupt"; }
    case $phase in
    vtd*) echo "$line" | grep -q 'fault reason 0x22' || { show; fail "the guest did not log fault reason 0x22"; }
          [ "$(st faults_recorded)" -gt 0 ] || { show; fail "no fault recorded"; } ;;
    amdvi*) # IO_PAGE_FAULT flags (event bits 27:16): I (interrupt) is bit 3.
          fl=$(echo "$line" | sed -n 's/.*flags=\(0x[0-9a-fA-F]*\).*/\1/p')
          [ -n "$fl" ] && [ $(( fl & 8 )) = 8 ] || { show; fail "IO_PAGE_FAULT without the interrupt flag: flags=$fl"; }
          [ "$(st events_logged)" -gt 0 ] || { show; fail "no event logged"; } ;;
    esac
elif [ "$gmode" != fault ]; then
    psz=$(wc -c < "$gdir/pattern.bin")
    cmp -n "$psz" "$disk" "$gdir/pattern.bin" >/dev/null || fail "disk content differs from the pattern"
    [ "$(st faults)" = 0 ] || { show; fail "unexpected translation faults: $(st faults)"; }
    # Interrupt remapping (VT-d, AMD-Vi): on in the guest, the disk's MSI-X
    # vectors and the IOAPIC lines on IR chips, every interrupt through
    # libviommu.
    if [ "$phase" != virtio ]; then
        irlines=$(grep -a 'e2e: ir: ' "$log" | sed 's/^e2e: ir: //')
        echo "e2e: guest IR: $(echo "$irlines" | tr '\n' '|')"
        case $phase in
        vtd*) echo "$irlines" | grep -q 'DMAR-IR: Enabled IRQ remapping' || { show; fail "interrupt remapping not enabled in the guest"; } ;;
        amdvi*) echo "$irlines" | grep -q 'AMD-Vi: Interrupt remapping enabled' || { show; fail "interrupt remapping not enabled in the guest"; } ;;
        esac
        procint=$(sed -n '/e2e: ---- \/proc\/interrupts/,/e2e: ---- end/p' "$log" | tr -d '\r')
        echo "e2e: remapped lines:"; echo "$procint" | grep -a 'virtio\|IR-IO-APIC' | sed 's/^/    /'
        echo "$procint" | grep -a 'virtio' | grep -q 'IR-PCI-MSI' || { show; fail "the disk's MSI-X vectors are not on an IR-PCI-MSI chip"; }
        echo "$procint" | grep -a 'virtio' | grep -v 'IR-PCI-MSI' | grep -q . && { show; fail "a virtio vector is not remapped"; }
        echo "$procint" | grep -aq 'IR-IO-APIC' || { show; fail "no IR-IO-APIC line in /proc/interrupts"; }
        [ "$(st irq_remapped)" -gt 0 ] 2>/dev/null || { show; fail "libviommu remapped no interrupt"; }
        [ "$(st irq_blocked)" = 0 ] || { show; fail "libviommu blocked $(st irq_blocked) interrupts"; }
        if [ "$mode" = x2apic ]; then
            case $phase in
            vtd*) echo "$irlines" | grep -q 'Enabled IRQ remapping in x2apic mode' || { show; fail "remapping not in x2APIC mode"; }
                  [ "$(st irta_eime)" = 1 ] || fail "IRTA.EIME is not set" ;;
            amdvi*) [ "$(st control_xten)" = 1 ] || { show; fail "Control.XTEn is not set"; } ;;
            esac
            echo "$irlines" | grep -qi 'x2apic enabled\|Switched APIC routing to.*x2apic\|APIC: Switched APIC routing to: .*x2apic' || { show; fail "the guest did not enable x2APIC"; }
        fi
        case $phase in
        amdvi) [ "$(st control_gaen)" = 0 ] || fail "the guest chose 128-bit IRTEs (GAEn), expected 32-bit" ;;
        amdvi-ga) [ "$(st control_gaen)" = 1 ] || fail "the guest did not enable 128-bit IRTEs (GAEn)" ;;
        esac
    fi
    case $phase in
    virtio) [ "$(st map)" -gt 0 ] && [ "$(st unmap)" -gt 0 ] || fail "no MAP/UNMAP requests seen" ;;
    *) [ "$(st walks)" -gt 0 ] || fail "no table walks seen"
       [ "$(st queue_errors)" = 0 ] || { show; fail "invalidation queue errors: $(st queue_errors)"; } ;;
    esac
    case $mode in
    rootport|bridge|hotplug|ats)
        where=$(grep -a 'e2e: vda on' "$log" | sed 's/.*vda on //')
        echo "e2e: disk ($topo): $where"
        case $topo:$where in
        rootport:*0000:01:00.0*|hotplug:*0000:01:00.0*|bridge:*0000:01:03.0*) ;;
        *) fail "disk is not where the topology puts it: $where" ;;
        esac
        if [ "$mode" = ats ]; then
            ats=$(grep -a 'e2e: vda ats:' "$log" | sed 's/.*vda ats: //' | tr -d '\r')
            echo "e2e: disk ATS capability: $ats"
            case $ats in *enabled=1*) ;; *) show; fail "the guest did not enable ATS on the disk: ${ats:-no report}" ;; esac
            dtlb=$(st devtlb_invalidations)
            [ "${dtlb:-0}" -gt 0 ] 2>/dev/null || { show; fail "libviommu counted no device-TLB invalidations" ; }
            [ -f "$probe" ] || fail "no device-IOTLB probe log"
            echo "e2e: device-IOTLB probe: $(tr '\n' ' ' < "$probe")"
            [ "$(pv registered "$probe")" = 1 ] || fail "DEVIOTLB_UNMAP notifier refused: $(pv refused "$probe")"
            ev=$(pv deviotlb_events "$probe")
            [ "${ev:-0}" -gt 0 ] 2>/dev/null || fail "no DEVIOTLB_UNMAP events reached QEMU's notifier"
            # The disk is the only ATS device and the probe registered before
            # the guest ran: every device-TLB invalidation libviommu executed
            # must reach QEMU's notifier exactly once.
            [ "$ev" = "$dtlb" ] || fail "DEVIOTLB_UNMAP events ($ev) != device-TLB invalidations ($dtlb)"
            for k in bad_ranges bad_perm; do
                [ "$(pv $k "$probe")" = 0 ] || fail "probe: $k = $(pv $k "$probe")"
            done
            echo "e2e: ats: device-TLB invalidations $dtlb, DEVIOTLB_UNMAP events $ev"
        fi ;;
    notify)
        [ -f "$probe" ] || fail "no probe log"
        echo "e2e: probe: $(tr '\n' ' ' < "$probe")"
        [ "$(pv registered "$probe")" = 1 ] || fail "probe's notifier refused: $(pv refused "$probe")"
        [ "$(pv maps "$probe")" -gt 0 ] && [ "$(pv unmaps "$probe")" -gt 0 ] || fail "no MAP/UNMAP notifications"
        for k in overlaps unknown_unmaps mismatches; do
            [ "$(pv $k "$probe")" = 0 ] || fail "probe: $k = $(pv $k "$probe")"
        done
        # VT-d / AMD-Vi: the probe's IEC notifier (KVM's route caches) saw
        # the guest's interrupt-cache invalidations.
        if [ "$phase" != virtio ]; then
            [ "$(pv iec_events "$probe")" -gt 0 ] 2>/dev/null || fail "probe: no stale-interrupt-route notification"
        fi ;;
    bench)
        ios=$(echo "$res" | tr ' ' '\n' | sed -n 's/^ios=//p')
        [ "${ios:-0}" -gt 0 ] 2>/dev/null || fail "the benchmark did no I/O"
        echo "e2e: bench: $(echo "$res" | tr ' ' '\n' | grep -E '^(ios|secs|iops)=' | tr '\n' ' ')" ;;
    migrate)
        # The destination's libviommu context is new: every translation it
        # counted happened after the switch-over.
        cmp -i "$psz:0" -n "$psz" "$disk" "$gdir/pattern.bin" >/dev/null || \
            fail "pattern written after the migration differs"
        grep -aq 'e2e: round' "$log" || { show; fail "no job round ran on the destination"; }
        echo "e2e: migration: $(cat "$log.migration"); destination rounds: $(grep -ac 'e2e: round' "$log"), translations after switch-over: $(st translations)"
        [ -f "$stats.src" ] && echo "e2e: source stats: $(tr '\n' ' ' < "$stats.src")"
        # The library's own stores into registered RAM (completion/wait
        # status, event log, A/D bits) during precopy must reach QEMU's
        # migration dirty bitmap (the glue's ram_written callback), else
        # the destination could resume on stale pages.  virtio-iommu
        # stores nothing into guest memory.
        sst() { awk -v k="$1" '$1 == k {print $2}' "$stats.src"; }
        if [ "$phase" != virtio ] && [ -n "$(sst ram_written_migration 2>/dev/null)" ] &&
           [ -z "${VIOMMU_QEMU_NO_RAM:-}" ]; then
            echo "e2e: library stores while migration logged dirty memory: $(sst ram_written_migration), seen in the dirty bitmap: $(sst ram_written_migration_marked)"
            [ "$(sst ram_written_migration)" -gt 0 ] || fail "no library store into guest RAM during the migration's dirty logging"
            [ "$(sst ram_written_migration_marked)" -gt 0 ] || fail "library stores during the migration never reached QEMU's dirty bitmap"
        fi ;;
    esac
else
    [ "$(st faults)" -gt 0 ] 2>/dev/null || { show; fail "libviommu reported no fault"; }
    [ "$(st queue_errors)" = "" ] || [ "$(st queue_errors)" = 0 ] || { show; fail "invalidation queue errors: $(st queue_errors)"; }
    grep -a 'e2e: fault line' "$log"
    # First-stage faults carry the scalable-mode first-level reasons.
    if [ "$phase" = vtd-fs ]; then
        grep -a 'e2e: fault line' "$log" | grep -qi 'first-level' || { show; fail "no first-stage fault reason in the guest log"; }
    fi
fi
echo "e2e[$phase/$mode]: PASS"
