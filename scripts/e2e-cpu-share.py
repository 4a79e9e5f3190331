#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Share of a QEMU process's host CPU spent in the vIOMMU, from a
`perf record --call-graph dwarf` profile of an e2e run (docs/e2e.md,
"Where the host CPU goes").

  e2e-cpu-share.py PERF_DATA viommu  LIBVIOMMU_A GLUE_PATCH
  e2e-cpu-share.py PERF_DATA builtin MODEL_REGEX      (e.g. '^virtio_iommu_')

viommu: libviommu's functions are the symbols libviommu.a defines, the
glue's are the functions the QEMU patch adds under hw/viommu/ and hw/pci/
(the topology generation the glue reads on every translation). builtin:
QEMU's own model is the functions matching MODEL_REGEX. One vIOMMU runs per
profile, so names that exist on both sides (static vtd_*/amdvi_* helpers)
are attributed by the run's kind (e2e-profile.sh gives the per-phase
MODEL_REGEX). "self" counts samples whose sampled
function is the component's; "incl" counts samples with a component frame
anywhere in the call chain (GLib, QTree, virtqueue and memory-API work done
on its behalf included), and lists the entry points and callees seen there;
"apic" counts the inclusive samples that are the APIC's delivery of a
remapped interrupt (apic_send_msi and below, e.g. the futex wake of a
halted vCPU): QEMU's code either model calls, which swings from run to run
with how often the vCPU happened to be halted.
"""
import collections
import re
import subprocess
import sys


def lib_symbols(archive):
    out = subprocess.run(["nm", "--defined-only", archive], capture_output=True, text=True).stdout
    return {p[2] for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1] in "Tt"}


def glue_symbols(patch):
    names, cur = set(), None
    for line in open(patch, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("+++ "):
            cur = line[6:]
            continue
        if not (cur and cur.startswith(("hw/viommu/", "hw/pci/")) and line.startswith("+")) or line[1:2] in (" ", "\t"):
            continue
        m = re.match(r"^\+(?:static\s+)?(?:inline\s+)?(?:const\s+)?[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\(", line)
        if m and not line.rstrip().endswith(";"):
            names.add(m.group(1))
    return names


def chains(data):
    out = subprocess.run(["perf", "script", "-i", data, "--comm", "qemu-system-x86", "-F", "ip,sym"],
                         capture_output=True, text=True).stdout
    for block in out.split("\n\n"):
        frames = []
        for line in block.strip().splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2:
                frames.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1].strip()).split(" (")[0])
        if frames:
            yield frames


def main():
    data, kind = sys.argv[1], sys.argv[2]
    if kind == "viommu":
        lib, glue = lib_symbols(sys.argv[3]), glue_symbols(sys.argv[4])
        comps = {"libviommu": lambda f: f in lib and f not in glue, "glue": lambda f: f in glue}
    else:
        rx = re.compile(sys.argv[3])
        comps = {"model": lambda f: bool(rx.match(f))}
    total, selfc, incl, apic, entry = 0, collections.Counter(), 0, 0, collections.Counter()
    callee = collections.Counter()
    for frames in chains(data):
        total += 1
        for name, is_c in comps.items():
            if is_c(frames[0]):
                selfc[name] += 1
        own = [i for i, f in enumerate(frames) if any(is_c(f) for is_c in comps.values())]
        if own:
            incl += 1
            top = own[-1]
            # the APIC's delivery of a remapped interrupt (apic_send_msi and
            # below: waking a halted vCPU is a futex syscall) is QEMU's
            # APIC code, the same for both models, and its cost swings with
            # whether the vCPU happened to be halted
            if "apic_send_msi" in frames[:top]:
                apic += 1
            entry[frames[top]] += 1
            # what the outermost component frame was doing: its callee
            callee[frames[top] + " > " + (frames[top - 1] if top else "(self)")] += 1
    print(f"{data}: {total} samples of qemu-system-x86")
    for name in comps:
        print(f"  self {name:10s} {selfc[name]:6d} {100.0 * selfc[name] / max(total, 1):6.2f}%")
    print(f"  incl {'+'.join(comps):17s} {incl:6d} {100.0 * incl / max(total, 1):6.2f}%")
    print(f"  apic {'(of incl)':17s} {apic:6d} {100.0 * apic / max(total, 1):6.2f}%")
    print("  entry points:", ", ".join(f"{k} {v}" for k, v in entry.most_common(6)))
    print("  their callees:", ", ".join(f"{k} {v}" for k, v in callee.most_common(10)))


if __name__ == "__main__":
    main()
