#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host CPU time of one QEMU process inside the guest's timed window.

  window-cpu.py PIDFILE CONSOLE_LOG OUT [TIMEOUT_S]

Started next to a run-guest.sh bench run whose QEMU writes PIDFILE
(-pidfile).  Reads the QEMU pid as soon as the file appears, then watches
the guest console log for randread's "e2e: bench-window start" and
"e2e: bench-window end" lines and samples the process's utime + stime
(/proc/PID/stat, all threads, exited ones included) when each appears.
Writes "cpu_s wall_s" (CPU seconds and host wall seconds between the two
samples) to OUT, or "n/a n/a" if the window was not seen.

The guest idles for a guard interval after each marker (randread.c), so
the polling delay here lands in idle guest time on both sides of the
window; boot, the I/O checks, the epilogue, and whatever else the run's
scripts cost (fetch-guest.sh, apt) are outside it.  Used identically for
both arms of tests/e2e/side-by-side.sh.
"""
import os
import sys
import time

POLL_S = 0.005


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])  # fields 14, 15: utime, stime


def main():
    pidfile, log, out = sys.argv[1:4]
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 600)
    hz = os.sysconf("SC_CLK_TCK")
    result = "n/a n/a"
    pid = None
    pos = 0
    buf = b""
    samples = []
    want = [b"e2e: bench-window start", b"e2e: bench-window end"]
    try:
        while time.monotonic() < deadline and len(samples) < 2:
            if pid is None:
                try:
                    with open(pidfile) as f:
                        pid = int(f.read().strip())
                except (OSError, ValueError):
                    time.sleep(POLL_S)
                    continue
            try:
                with open(log, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except OSError:
                chunk = b""
            if chunk:
                pos += len(chunk)
                buf += chunk
                while len(samples) < 2 and want[len(samples)] in buf:
                    m = want[len(samples)]
                    samples.append((ticks(pid), time.monotonic()))
                    buf = buf[buf.index(m) + len(m):]
                buf = buf[-64:]
            else:
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(POLL_S)
        if len(samples) == 2:
            result = "%.2f %.3f" % ((samples[1][0] - samples[0][0]) / hz,
                                    samples[1][1] - samples[0][1])
    except (OSError, IndexError, ValueError):
        pass
    with open(out, "w") as f:
        f.write(result + "\n")


if __name__ == "__main__":
    main()
