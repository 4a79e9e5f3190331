# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# Debian packages for the quick-start scripts, in one place. Sourced by
# scripts/demo.sh (DEMO_PKGS: build the library and run the demo) and
# scripts/test.sh (TEST_PKGS: everything the full test suite needs).

DEMO_PKGS=(
    cmake        # build system (>= 3.25, Debian 12)
    gcc          # C11 compiler
    libc6-dev
    make
    pkg-config   # finds Check; used by the installed-package consumer test
    check        # unit-test framework (pulls libsubunit-dev)
    uthash-dev   # header-only hash tables used inside the library
)

TEST_PKGS=(
    "${DEMO_PKGS[@]}"
    doxygen      # `docs` target, built with warnings as errors
    acpica-tools # iasl -d validates the generated IVRS/DMAR/VIOT tables
    clang        # `fuzz` preset
    libclang-rt-14-dev # libFuzzer and sanitizer runtimes for clang (only "recommended" by clang)
    python3      # test helpers
    # e2e (tests/e2e, integrations/qemu): QEMU 10.0.13 source build (meson 1.7,
    # pycotap and SeaBIOS 1.16.3 come unpacked from bookworm-backports; source, tools and
    # guest kernel are fetched through integrations/qemu/private-apt.sh) + guest initramfs
    dpkg-dev ninja-build python3-venv bzip2 libglib2.0-dev libpixman-1-dev libfdt-dev rsync cpio xz-utils kmod
    qemu-system-data         # option ROMs (linuxboot_dma.bin) for the QEMU we build
    time                     # /usr/bin/time for side-by-side
)

# ---- Hook: later issues add the packages their tests need here, one line
# ---- each with the issue number, e.g.  TEST_PKGS+=(qemu-system-x86)  # issue N
TEST_PKGS+=(cargo debhelper lintian dpkg-dev fakeroot)  # issue 6: bindings, packaging tests
TEST_PKGS+=(build-essential)  # issue 10: dpkg-buildpackage checks it (packaging_deb)
TEST_PKGS+=(python3-venv python3-setuptools python3-wheel)  # issue 10: pip install of the Python binding into a venv, offline
TEST_PKGS+=(clang-format-14 git)  # issue 11: format check of changed lines (scripts/check-format.sh)
# ---- end of hook

# Docs generation only (scripts/bench-plots.sh), not needed by the tests.
BENCH_PKGS=(
    gnuplot-nox  # plots in docs/bench.md
    libglib2.0-dev # GLib baselines in bench/viommu_bench (optional)
)

# viommu_ensure_pkgs PKG...: install whatever is missing, quietly and
# non-interactively; `apt-get update` only runs when something is missing.
viommu_ensure_pkgs() {
    local missing=() p
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "deps: not a Debian system; make sure these are installed: $*" >&2
        return 0
    fi
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "deps: missing packages (${missing[*]}) and neither root nor sudo available" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    echo "deps: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}"
}
