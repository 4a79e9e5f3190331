#!/bin/sh
# Manual investigation helper (not a ctest): a stand-in for the QEMU binary
# that catches, with a host hardware watchpoint, who writes a given value to
# a guest-physical address.  Written for the page-table corruption of
# docs/e2e.md ("Findings"); use it as run-guest.sh's QEMU argument.
#   WATCH_QEMU   the real qemu-system-x86_64 (required)
#   WATCH_GPA    guest-physical address to watch (8 bytes; default 0x10000)
#   WATCH_VALUE  report only writes leaving this 64-bit value (default
#                0x5a4d: "MZ", the first bytes of the bzImage setup that
#                QEMU's -kernel loader puts at 0x10000)
#   WATCH_LOG    where gdb's report goes (default: copied to stderr, i.e.
#                run-guest.sh's LOG.qemu, when QEMU ends)
# QEMU starts paused (-S) with a QMP socket; the host address of WATCH_GPA
# comes from HMP gpa2hva; gdb attaches, sets the watchpoint (any host
# thread: TCG vCPU stores, DMA memcpy, fw_cfg, the host kernel's preadv
# into guest RAM is NOT seen) and the guest is let run.  Each hit prints
# the writing thread's backtrace.
set -u
: "${WATCH_QEMU:?set WATCH_QEMU to the real QEMU binary}"
gpa=${WATCH_GPA:-0x10000} val=${WATCH_VALUE:-0x5a4d}
here=$(cd "$(dirname "$0")" && pwd)
qmp=$here/../../integrations/qemu/qmp.py
d=$(mktemp -d "${TMPDIR:-/tmp}/watch-gpa.XXXXXX")
sock=$d/qmp
"$WATCH_QEMU" "$@" -S -qmp "unix:$sock,server=on,wait=off" &
qpid=$!
hva=$(python3 "$qmp" "$sock" cmd "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"gpa2hva $gpa\"}}" |
      sed -n 's/.*is \(0x[0-9a-fA-F]*\).*/\1/p')
if [ -z "$hva" ]; then
    echo "qemu-watch-gpa: no host address for $gpa" >&2
    python3 "$qmp" "$sock" cmd '{"execute": "cont"}' >/dev/null
    wait $qpid; rc=$?; rm -rf "$d"; exit $rc
fi
cat > "$d/gdb" <<EOF
set pagination off
set confirm off
handle SIGUSR1 SIGUSR2 SIGPIPE SIG34 SIG35 SIG36 SIG37 SIG38 nostop noprint pass
printf "WATCH GPA $gpa = HVA $hva, value $val\\n"
watch -l *(unsigned long *)$hva if *(unsigned long *)$hva == $val
commands
  printf "WATCH-HIT GPA $gpa <- %#lx\\n", *(unsigned long *)$hva
  bt 30
  cont
end
echo WATCH-READY\\n
continue
EOF
log=${WATCH_LOG:-$d/gdb.log}
gdb -q -batch -x "$d/gdb" -p $qpid > "$log" 2>&1 &
gpid=$!
n=0
until grep -q WATCH-READY "$log" 2>/dev/null || [ $n -ge 100 ]; do sleep 0.1; n=$((n + 1)); done
python3 "$qmp" "$sock" cmd '{"execute": "cont"}' >/dev/null
wait $qpid; rc=$?
wait $gpid
[ -n "${WATCH_LOG:-}" ] || cat "$log" >&2
rm -rf "$d"
exit $rc
