#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ABI check: the exported dynamic symbols of the built libviommu.so must be
exactly the public API, each bound to a version node of libviommu.map.

Compared, as sets of names:
 1. every VIOMMU_API declaration in include/libviommu/*.h and the generated
    version.h (parsed as tests/bindings/drift_check.py does);
 2. the `global:` names of libviommu.map (each listed once, in one node);
 3. debian/libviommu0.symbols (name@NODE, with the node each name has in the
    map, plus one NODE@NODE line per node);
 4. the defined dynamic symbols of the library (nm -D), each with the
    default version (@@NODE) that the map gives it;
and the library's SONAME must be libviommu.so.<VIOMMU_VERSION_MAJOR>.

Usage: check_exports.py --src SRCDIR --include BUILD_INCLUDE_DIR --lib LIBVIOMMU_SO [--nm NM]
"""

import argparse
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings"))
import drift_check  # noqa: E402


def parse_map(path):
    """Return ({symbol: node}, [nodes in order], errors)."""
    text = re.sub(r"/\*.*?\*/", " ", open(path).read(), flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    syms, nodes, errors = {}, [], []
    for m in re.finditer(r"(\w+(?:\.\w+)*)\s*\{(.*?)\}\s*([\w.]*)\s*;", text, flags=re.S):
        node, body = m.group(1), m.group(2)
        nodes.append(node)
        section = None
        for item in body.split(";"):
            item = item.strip()
            lab = re.match(r"(global|local)\s*:\s*(.*)", item, flags=re.S)
            if lab:
                section, item = lab.group(1), lab.group(2).strip()
            if not item:
                continue
            if section == "local":
                if item != "*":
                    errors.append("map: node %s: local entry %r (only '*' expected)" % (node, item))
                continue
            if not re.fullmatch(r"\w+", item):
                errors.append("map: node %s: %r is not a plain symbol name (no wildcards in global:)" % (node, item))
                continue
            if item in syms:
                errors.append("map: %s listed twice (%s and %s)" % (item, syms[item], node))
            syms[item] = node
    if not nodes:
        errors.append("map: no version node found")
    return syms, nodes, errors


def parse_symbols_file(path):
    syms, nodes = {}, set()
    lines = open(path).read().splitlines()
    soname = lines[0].split()[0] if lines else ""
    for line in lines[1:]:
        m = re.match(r"^ (\S+)@(\S+) (\S+)$", line)
        if not m:
            continue
        name, ver = m.group(1), m.group(2)
        if name == ver:
            nodes.add(ver)
        else:
            syms[name] = ver
    return soname, syms, nodes


def library_exports(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", "--with-symbol-versions", lib],
                         check=True, capture_output=True, text=True).stdout
    syms, nodes, unversioned = {}, set(), []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        if kind == "A":  # version node definitions
            nodes.add(name.split("@")[0])
            continue
        if kind.islower() and kind not in ("u", "w", "v", "i"):
            continue  # local
        m = re.match(r"^([^@]+)@@?(.+)$", name)
        if m:
            syms[m.group(1)] = m.group(2)
        else:
            unversioned.append(name)
    return syms, nodes, unversioned


def soname(lib):
    out = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True, text=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--include", required=True, help="build include dir (version.h, export.h)")
    ap.add_argument("--lib", required=True, help="the built libviommu.so")
    ap.add_argument("--nm", default="nm")
    a = ap.parse_args()

    headers = sorted(glob.glob(os.path.join(a.src, "include", "libviommu", "*.h")))
    version_h = os.path.join(a.include, "libviommu", "version.h")
    headers.append(version_h)
    _s, _e, funcs = drift_check.parse_headers(headers)
    api = set(funcs)
    major = re.search(r"#define VIOMMU_VERSION_MAJOR (\d+)", open(version_h).read()).group(1)

    errors = []
    mapped, map_nodes, map_errors = parse_map(os.path.join(a.src, "libviommu.map"))
    errors += map_errors
    deb_soname, deb_syms, deb_nodes = parse_symbols_file(os.path.join(a.src, "debian", "libviommu0.symbols"))
    lib_syms, lib_nodes, unversioned = library_exports(a.nm, a.lib)

    def compare(what, names, ref="the public headers"):
        for n in sorted(set(names) - api):
            errors.append("%s: %s is not declared VIOMMU_API in %s" % (what, n, ref))
        for n in sorted(api - set(names)):
            errors.append("%s: public function %s is missing" % (what, n))

    compare("libviommu.map", mapped)
    compare("debian/libviommu0.symbols", deb_syms)
    compare("library exports (%s)" % os.path.basename(a.lib), lib_syms)
    for n in unversioned:
        errors.append("library exports %s without a version (not covered by libviommu.map?)" % n)
    for n, node in sorted(lib_syms.items()):
        if n in mapped and node != mapped[n]:
            errors.append("library: %s has version %s, libviommu.map says %s" % (n, node, mapped[n]))
    for n, node in sorted(deb_syms.items()):
        if n in mapped and node != mapped[n]:
            errors.append("debian/libviommu0.symbols: %s@%s, libviommu.map says %s" % (n, node, mapped[n]))
    if set(map_nodes) != lib_nodes:
        errors.append("version nodes: map %s, library %s" % (sorted(map_nodes), sorted(lib_nodes)))
    if set(map_nodes) != deb_nodes:
        errors.append("version nodes: map %s, debian symbols file %s (one NODE@NODE line each)"
                      % (sorted(map_nodes), sorted(deb_nodes)))
    for node in map_nodes:
        if not node.startswith("LIBVIOMMU_%s." % major):
            errors.append("map: node %s does not belong to major version %s" % (node, major))
    want = "libviommu.so.%s" % major
    got = soname(a.lib)
    if got != want:
        errors.append("SONAME %s, expected %s (VIOMMU_VERSION_MAJOR)" % (got, want))
    if deb_soname != want:
        errors.append("debian/libviommu0.symbols is for %s, expected %s" % (deb_soname, want))

    print("abi check: %d public functions, %d in libviommu.map (%s), %d in the symbols file, %d exported by %s"
          % (len(api), len(mapped), ", ".join(map_nodes), len(deb_syms), len(lib_syms), os.path.basename(a.lib)))
    for e in errors:
        print("ABI:", e)
    if errors:
        print("0 passed, 1 failed")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
