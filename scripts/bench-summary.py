#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise viommu_bench JSON files of a before/after run (bench-compare.sh):
median over rounds of each metric's value, baseline and ratio, old vs new.

    scripts/bench-summary.py build/bench-compare
"""
import glob
import json
import statistics
import sys


def load(pattern):
    out = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for m in json.load(f):
                out.setdefault(m["name"], []).append(m)
    return out


def med(ms, key):
    v = [m[key] for m in ms if m.get(key) is not None]
    return statistics.median(v) if v else None


def fmt(x):
    return "-" if x is None else ("%.2f" % x if abs(x) < 1e5 else "%.3g" % x)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build/bench-compare"
    old, new = load(d + "/old-*.json"), load(d + "/new-*.json")
    print("| metric | unit | before | after | after/before speed-up | baseline (after run) | after vs baseline |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, ms in new.items():
        unit = ms[0]["unit"]
        a, ob = med(ms, "value"), med(old.get(name, []), "value")
        lower = unit not in ("x",) and "/s" not in unit
        speed = None
        if a and ob:
            speed = ob / a if lower else a / ob
        print("| %s | %s | %s | %s | %s | %s | %s |" % (name, unit, fmt(ob), fmt(a),
              "-" if speed is None else "%.2fx" % speed, fmt(med(ms, "baseline")),
              "-" if med(ms, "ratio") is None else "%.2fx" % med(ms, "ratio")))


if __name__ == "__main__":
    main()
