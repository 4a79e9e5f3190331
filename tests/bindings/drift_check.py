#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drift check: the Python (ctypes) and Rust (-sys crate) declarations must
match the C headers.

1. Parse include/libviommu/*.h: structs (fields), enums (members, including
   the error X-macro), VIOMMU_API functions (name, parameter count).
2. Generate a C program printing sizeof/offsetof of every public struct and
   the value of every enum member; compile it with the C compiler against the
   headers and run it (the C compiler is the judge of layout and values).
3. Compare with Python: struct sizes, field names and offsets, enum values,
   function names and arity (argtypes).
4. Compare with Rust: `pub const` values, struct and field names, extern
   function names and arity; optionally write the C layout to a file that the
   crate's own test (tests/layout.rs) compares against Rust's real offsets.

Every public header must be bound completely in both languages: every
struct (with its exact field list), every enum member and every VIOMMU_API
function; an unbound function is a failure, not a warning. Python may list
functions as OPTIONAL_FUNCTIONS (bound only if the loaded library exports
them) but they still count as bound and must match the C arity.

Usage: drift_check.py --src SRCDIR --include BUILD_INCLUDE_DIR --cc CC [--c-layout-out FILE]
"""

import argparse
import ast
import glob
import operator
import os
import re
import subprocess
import sys
import tempfile

#: Headers whose whole API must be bound in both languages: all of them.
#: (viommu.h is the umbrella header and declares nothing itself.)
COVERED = {"error.h", "types.h", "ctx.h", "as.h", "pt_format.h", "version.h", "acpi.h",
           "virtio_iommu.h", "vtd.h", "amdvi.h", "iova_tree.h", "irq.h", "x86_pt.h", "pri.h", "offload.h"}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def strip_preproc(text):
    # Drop preprocessor lines (with continuations) except X-macro lists we read separately.
    return re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)


def split_top(s, sep=","):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [x.strip() for x in out]


def parse_headers(paths):
    structs, enums, funcs = {}, {}, {}
    for path in paths:
        hname = os.path.basename(path)
        raw = strip_comments(open(path).read())
        # Error X-macro: X(NAME, VALUE, "msg")
        for m in re.finditer(r"\bX\((VIOMMU_\w+),\s*(-?\d+),", raw):
            enums.setdefault("viommu_error", (hname, []))[1].append(m.group(1))
        text = strip_preproc(raw)
        for m in re.finditer(r"\bstruct\s+(\w+)\s*\{([^{}]*)\}\s*;", text):
            fields = []
            for decl in m.group(2).split(";"):
                decl = " ".join(decl.split())
                if not decl:
                    continue
                fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
                if fp:
                    fields.append(fp.group(1))
                    continue
                fm = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", decl)
                fields.append(fm.group(1))
            structs[m.group(1)] = (hname, fields)
        for m in re.finditer(r"\benum\s+(\w+)\s*\{([^{}]*)\}\s*;", text):
            members = [x.split("=")[0].strip() for x in split_top(m.group(2)) if x.strip() and "(" not in x]
            if members:
                enums[m.group(1)] = (hname, members)
        for m in re.finditer(r"\bVIOMMU_API\s+([^;{}]*?)\b(\w+)\s*\(([^;{}]*)\)\s*;", text):
            params = m.group(3).strip()
            n = 0 if params in ("", "void") else len(split_top(params))
            funcs[m.group(2)] = (hname, n)
    return structs, enums, funcs


def c_layout(structs, enums, include_dirs, cc, workdir):
    lines = []
    for h in sorted(glob.glob(os.path.join(include_dirs[0], "libviommu", "*.h"))):
        if os.path.basename(h) != "viommu.h":
            lines.append("#include <libviommu/%s>" % os.path.basename(h))
    lines += ["#include <stddef.h>", "#include <stdio.h>", "int main(void) {"]
    for s, (_h, fields) in structs.items():
        lines.append('printf("size %s %%zu\\n", sizeof(struct %s));' % (s, s))
        for f in fields:
            lines.append('printf("offset %s.%s %%zu\\n", offsetof(struct %s, %s));' % (s, f, s, f))
    for _e, (_h, members) in enums.items():
        for mem in members:
            lines.append('printf("enum %s %%lld\\n", (long long)(%s));' % (mem, mem))
    lines += ["return 0;", "}"]
    src = os.path.join(workdir, "layout.c")
    exe = os.path.join(workdir, "layout")
    open(src, "w").write("\n".join(lines) + "\n")
    cmd = [cc, "-std=c11", "-o", exe, src] + ["-I" + d for d in include_dirs]
    subprocess.run(cmd, check=True)
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    sizes, offsets, values = {}, {}, {}
    for line in out.splitlines():
        kind, name, val = line.split()
        {"size": sizes, "offset": offsets, "enum": values}[kind][name] = int(val)
    return out, sizes, offsets, values


def check_python(src, structs, enums, funcs, sizes, offsets, values, errors):
    sys.path.insert(0, os.path.join(src, "bindings", "python"))
    import libviommu as py  # noqa: E402  (no library needed: declarations only)
    for s, (h, fields) in structs.items():
        cls = py.STRUCTS.get(s)
        if cls is None:
            if h in COVERED:
                errors.append("python: struct %s (%s) not bound" % (s, h))
            continue
        import ctypes
        if ctypes.sizeof(cls) != sizes[s]:
            errors.append("python: sizeof %s %d != C %d" % (s, ctypes.sizeof(cls), sizes[s]))
        pyfields = [n for n, _t in cls._fields_]
        if pyfields != fields:
            errors.append("python: fields of %s %s != C %s" % (s, pyfields, fields))
        for f in fields:
            if hasattr(cls, f) and getattr(cls, f).offset != offsets["%s.%s" % (s, f)]:
                errors.append("python: offset %s.%s %d != C %d" % (s, f, getattr(cls, f).offset,
                                                                 offsets["%s.%s" % (s, f)]))
    for e, (h, members) in enums.items():
        bound = py.ENUMS.get(e)
        if bound is None:
            if h in COVERED:
                errors.append("python: enum %s (%s) not bound" % (e, h))
            continue
        prefix, cls = bound
        for mem in members:
            short = mem[len(prefix):] if mem.startswith(prefix) else mem
            if short not in cls.__members__:
                errors.append("python: %s.%s missing (C %s)" % (cls.__name__, short, mem))
            elif int(cls.__members__[short]) != values[mem]:
                errors.append("python: %s = %d != C %d" % (mem, int(cls.__members__[short]), values[mem]))
    allpy = dict(py.FUNCTIONS)
    allpy.update(py.OPTIONAL_FUNCTIONS)
    for f, (h, n) in funcs.items():
        if f not in allpy:
            if h in COVERED:
                errors.append("python: function %s (%s) not bound" % (f, h))
            continue
        if len(allpy[f][1]) != n:
            errors.append("python: %s takes %d args, C %d" % (f, len(allpy[f][1]), n))
    for f in allpy:
        if f not in funcs:
            errors.append("python: %s is not declared in any header" % f)


_OPS = {ast.LShift: operator.lshift, ast.BitOr: operator.or_, ast.Add: operator.add,
        ast.Sub: operator.sub, ast.USub: operator.neg}


def _eval(node, consts):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return consts[node.id]
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_eval(node.left, consts), _eval(node.right, consts))
    if isinstance(node, ast.UnaryOp):
        return _OPS[type(node.op)](_eval(node.operand, consts))
    raise ValueError(ast.dump(node))


def check_rust(src, structs, enums, funcs, values, errors):
    text = open(os.path.join(src, "bindings", "rust", "libviommu-sys", "src", "lib.rs")).read()
    text = re.sub(r"//[^\n]*", "", text)
    consts = {}
    for m in re.finditer(r"pub const (\w+):\s*[\w:]+\s*=\s*([^;]+);", text):
        expr = " ".join(m.group(2).split())
        expr = expr.replace("_", "") if re.match(r"^0x[0-9A-Fa-f_]+$", expr) else expr
        try:
            consts[m.group(1)] = _eval(ast.parse(expr.strip(), mode="eval").body, consts)
        except (ValueError, KeyError, SyntaxError):
            errors.append("rust: cannot evaluate const %s = %s" % (m.group(1), m.group(2)))
    for e, (h, members) in enums.items():
        for mem in members:
            if mem not in consts:
                if h in COVERED:
                    errors.append("rust: const %s (%s) missing" % (mem, h))
            elif consts[mem] != values[mem]:
                errors.append("rust: %s = %d != C %d" % (mem, consts[mem], values[mem]))
    rstructs = {}
    for m in re.finditer(r"pub struct (\w+)\s*\{([^}]*)\}", text):
        rstructs[m.group(1)] = [x.split(":")[0].replace("pub", "").strip()
                                for x in split_top(m.group(2)) if ":" in x]
    for s, (h, fields) in structs.items():
        if s not in rstructs:
            if h in COVERED:
                errors.append("rust: struct %s (%s) missing" % (s, h))
            continue
        rf = [f.rstrip("_") if f.endswith("_") else f for f in rstructs[s]]
        if rf != fields:
            errors.append("rust: fields of %s %s != C %s" % (s, rf, fields))
    rfuncs = {}
    for block in re.findall(r'extern "C" \{(.*?)\n\}', text, flags=re.S):
        for m in re.finditer(r"pub fn (\w+)\s*\(([^;]*?)\)\s*(?:->[^;]*)?;", block, flags=re.S):
            params = m.group(2).strip().rstrip(",")
            rfuncs[m.group(1)] = 0 if not params else len(split_top(params))
    for f, (h, n) in funcs.items():
        if f not in rfuncs:
            if h in COVERED:
                errors.append("rust: fn %s (%s) missing" % (f, h))
        elif rfuncs[f] != n:
            errors.append("rust: fn %s takes %d args, C %d" % (f, rfuncs[f], n))
    for f in rfuncs:
        if f not in funcs:
            errors.append("rust: fn %s is not declared in any header" % f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--include", required=True, help="build include dir (export.h, version.h)")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--c-layout-out")
    a = ap.parse_args()
    hdr_dir = os.path.join(a.src, "include")
    headers = sorted(glob.glob(os.path.join(hdr_dir, "libviommu", "*.h")))
    headers += [os.path.join(a.include, "libviommu", "version.h")]
    structs, enums, funcs = parse_headers(headers)
    uncovered = sorted({os.path.basename(h) for h in headers} - COVERED - {"viommu.h"})
    with tempfile.TemporaryDirectory() as tmp:
        out, sizes, offsets, values = c_layout(structs, enums, [hdr_dir, a.include], a.cc, tmp)
    if a.c_layout_out:
        open(a.c_layout_out, "w").write(out)
    errors = ["header %s is not in COVERED: bind it and add it" % h for h in uncovered]
    check_python(a.src, structs, enums, funcs, sizes, offsets, values, errors)
    check_rust(a.src, structs, enums, funcs, values, errors)
    print("drift check: %d structs, %d enums, %d functions in the headers" % (len(structs), len(enums), len(funcs)))
    for e in errors:
        print("DRIFT:", e)
    if errors:
        print("0 passed, 1 failed")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
