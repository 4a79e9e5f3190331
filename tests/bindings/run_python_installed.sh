#!/bin/sh
# SPDX-License-Identifier: MIT
# The Python binding the way its users get it: install the library of this
# build to a temporary prefix (cmake --install), `pip install` a copy of
# bindings/python into a fresh venv (offline: --no-build-isolation --no-index,
# Debian's setuptools and wheel through --system-site-packages), then run the
# binding's tests with the *installed* module (LIBVIOMMU_TEST_INSTALLED=1)
# against the *installed* library, found through LD_LIBRARY_PATH alone
# (LIBVIOMMU_PATH unset). Sanitizer runtimes (LD_PRELOAD from CTest) reach
# only the Python processes that load the library, not pip.
# Uses PYTHON, or /usr/bin/python3 when PYTHON lacks setuptools/wheel.
# Exit 77 (skipped) when venv (python3-venv) or setuptools/wheel is missing.
# Usage: run_python_installed.sh PYTHON BUILDDIR SRCDIR WORKDIR
set -eu
py=$1 build=$2 src=$3 work=$4
cmake=${CMAKE:-cmake}
preload=${LD_PRELOAD:-}
unset LD_PRELOAD LIBVIOMMU_PATH LIBVIOMMU_LIB_DIR LD_LIBRARY_PATH PYTHONPATH
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
fail() { echo "FAIL: $*"; exit 1; }

# The interpreter CMake found, else Debian's (e.g. when a pyenv/conda python
# comes first in PATH): the first one that has setuptools and wheel.
for cand in "$py" /usr/bin/python3; do
    if [ -x "$cand" ] && "$cand" -c 'import setuptools, wheel' 2>/dev/null; then
        py=$cand
        break
    fi
    cand=
done
[ -n "$cand" ] ||
    { echo "SKIP: setuptools/wheel missing (Debian: apt-get install python3-setuptools python3-wheel)"; exit 77; }
echo "python: $py ($("$py" --version 2>&1))"
rm -rf "$work"
mkdir -p "$work"
cd "$work"  # not the source tree: nothing may be imported from there

echo "== cmake --install $build --prefix $work/prefix"
"$cmake" --install "$build" --prefix "$work/prefix" >install.log 2>&1 || { cat install.log; fail "cmake --install"; }
lib=$(find "$work/prefix" -name libviommu.so.0 | head -1)
[ -n "$lib" ] || fail "no libviommu.so.0 installed"
libdir=$(dirname "$lib")

echo "== $py -m venv --system-site-packages venv"
if ! "$py" -m venv --system-site-packages venv >venv.log 2>&1; then
    cat venv.log
    if grep -q ensurepip venv.log; then
        echo "SKIP: no ensurepip (Debian: apt-get install python3-venv)"
        exit 77
    fi
    fail "python3 -m venv"
fi

echo "== pip install --no-build-isolation --no-index ./python (a copy of bindings/python)"
tar -C "$src/bindings" --exclude=build --exclude='*.egg-info' --exclude=__pycache__ -cf - python | tar -xf -
venv/bin/python -m pip install --no-build-isolation --no-index ./python >pip.log 2>&1 ||
    { cat pip.log; fail "pip install"; }
tail -1 pip.log

echo "== the installed module, without the library on the loader's path"
if ! ldconfig -p 2>/dev/null | grep -q 'libviommu\.so\.0 '; then
    venv/bin/python - <<'PY' || fail "the module found a library outside the loader's search"
import libviommu
try:
    libviommu.load()
except OSError as e:
    print("not found, as expected:", str(e)[:100])
else:
    raise SystemExit("loaded %s" % libviommu.library_path())
PY
fi

echo "== the installed module with LD_LIBRARY_PATH=$libdir"
export LD_LIBRARY_PATH="$libdir"
[ -z "$preload" ] || export LD_PRELOAD="$preload"
venv/bin/python - "$work" "$lib" <<'PY' || fail "installed module check"
import importlib.metadata, os, sys
import libviommu
work, lib = sys.argv[1], os.path.realpath(sys.argv[2])
mod = os.path.realpath(libviommu.__file__)
print("module ", mod)
print("library", libviommu.library_path())
assert mod.startswith(os.path.realpath(work) + "/venv/"), "module not from the venv"
assert libviommu.library_path() == lib, "library not the installed one"
assert importlib.metadata.version("libviommu") == libviommu.version_string(), \
    "package version %s != library version %s" % (importlib.metadata.version("libviommu"), libviommu.version_string())
PY

echo "== binding tests against the installed module and library"
LIBVIOMMU_TEST_INSTALLED=1 LIBVIOMMU_TEST_EXPECT_LIB="$lib" \
    venv/bin/python -m unittest discover -s "$src/bindings/python/tests" -v
