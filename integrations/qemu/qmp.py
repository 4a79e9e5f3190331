#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Minimal QMP client for the e2e scripts (no dependencies).

  qmp.py SOCKET migrate URI   migrate, wait for completion, print
                              "downtime-ms=N total-ms=N", then quit the source
  qmp.py SOCKET quit          quit QEMU
  qmp.py SOCKET cmd JSON      run one command, print its "return" as JSON
"""
import json
import socket
import sys
import time


class QMP:
    def __init__(self, path, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.buf = b""
        self._read()                       # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))
            return r.get("return")


def main():
    path, what = sys.argv[1], sys.argv[2]
    q = QMP(path)
    if what == "migrate":
        q.cmd("migrate", uri=sys.argv[3])
        deadline = time.monotonic() + 300
        while True:
            st = q.cmd("query-migrate")
            status = st.get("status")
            if status == "completed":
                print("downtime-ms=%d total-ms=%d" % (st.get("downtime", -1), st.get("total-time", -1)))
                break
            if status in ("failed", "cancelled") or time.monotonic() > deadline:
                print("migration %s: %s" % (status, st.get("error-desc", "")), file=sys.stderr)
                sys.exit(1)
            time.sleep(0.05)
        q.cmd("quit")
    elif what == "quit":
        q.cmd("quit")
    elif what == "cmd":
        msg = json.loads(sys.argv[3])
        print(json.dumps(q.cmd(msg["execute"], **msg.get("arguments", {}))))
    else:
        sys.exit("unknown action " + what)


if __name__ == "__main__":
    main()
