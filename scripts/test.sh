#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Quick start, part 2: the full test suite, exactly what CI runs (.ci/run).
#
#  1. install missing Debian packages (scripts/deps.sh: TEST_PKGS)
#  2. format check: lines changed against main (or by the last commit) must
#     follow .clang-format (scripts/check-format.sh; skipped without a base)
#  3. `asan` preset (Debug, ASan+UBSan, -Werror): configure, build, ctest
#  4. `release` preset (-Werror): configure, build, ctest
#  5. `tsan` preset: configure, build, ctest -L tsan (tests labelled `tsan`)
#     `fuzz` preset (clang, libFuzzer): configure, build, ctest -L fuzz-smoke
#  6. docs: Doxygen with warnings as errors (target `docs` of build/release)
#  7. install build/release to a temporary prefix, then move the prefix (the
#     package must be relocatable) and build + run tests/consumer/ twice:
#     with `cc $(pkg-config --cflags --libs libviommu)` and with CMake's
#     find_package(libviommu); also check the installed headers are ISO C11
#     (cc -std=c11 -pedantic-errors)
#
# ctest runs with --output-on-failure and 2 parallel jobs. Build dirs are
# build/<preset> and are reused, so a second run only rebuilds what changed.
# The last line is the summary "N passed, N failed, N skipped": every ctest
# test plus one test each for the format check, docs, install, the two
# consumer builds and the ISO C11 (-pedantic-errors) compile of the
# installed headers; a
# configure or build that fails counts as one failure and its tests do not
# run. Exit status is non-zero if anything failed. Logs: build/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# shellcheck source=scripts/deps.sh
source scripts/deps.sh
viommu_ensure_pkgs "${TEST_PKGS[@]}" || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

JOBS=2
# The end-to-end tests (label e2e) rebuild the patched QEMU against this very
# checkout's library (incremental when the QEMU work tree is cached outside
# the repo; a cold build takes about 10 minutes), so they never test a stale
# library. VIOMMU_E2E=0 falls back to the newest cached build.
export VIOMMU_E2E=${VIOMMU_E2E:-1}
LOGS=$ROOT/build/test-logs
mkdir -p "$LOGS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/libviommu-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

PASSED=0 FAILED=0 SKIPPED=0
FAILURES=()
T_START=$SECONDS

say() { printf '\n== %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "FAIL: $1"; }

# quiet NAME CMD...: run CMD with output in $LOGS/NAME.log; on failure show its tail.
quiet() {
    local name=$1 t0=$SECONDS
    shift
    if "$@" >"$LOGS/$name.log" 2>&1; then
        echo "   $name: ok ($((SECONDS - t0))s)"
        return 0
    fi
    echo "   $name: FAILED ($((SECONDS - t0))s); last lines of $LOGS/$name.log:"
    tail -n 60 "$LOGS/$name.log" | sed 's/^/   | /'
    return 1
}

# count_ctest NAME XML RC: add a ctest run's results (from its JUnit file).
count_ctest() {
    local name=$1 xml=$2 rc=$3 tests failures disabled skipped
    if [[ ! -s $xml ]]; then
        fail "$name: ctest produced no results (exit $rc)"
        return
    fi
    attr() { grep -o -m1 "$1=\"[0-9]*\"" "$xml" | tr -dc 0-9; }
    tests=$(attr tests) failures=$(attr failures) disabled=$(attr disabled) skipped=$(attr skipped)
    local p=$((tests - failures - disabled - skipped))
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + failures))
    SKIPPED=$((SKIPPED + disabled + skipped))
    echo "   $name: $p passed, $failures failed, $((disabled + skipped)) skipped"
    if ((failures > 0)); then
        FAILURES+=("$name: $failures test(s): $(grep -o 'name="[^"]*"[^>]*status="fail"' "$xml" |
            sed 's/name="\([^"]*\)".*/\1/' | tr '\n' ' ')")
    elif ((rc != 0)); then
        fail "$name: ctest exited $rc"
    fi
}

# preset NAME [CTEST ARGS...]: configure, build and test one preset.
preset() {
    local p=$1 t0=$SECONDS rc=0
    shift
    say "preset $p"
    if ! quiet "$p-configure" cmake --preset "$p"; then
        fail "$p: configure"
        return 1
    fi
    if ! quiet "$p-build" cmake --build --preset "$p" -j "$JOBS"; then
        fail "$p: build"
        return 1
    fi
    rm -f "$LOGS/$p-ctest.xml"
    ctest --preset "$p" --output-on-failure -j "$JOBS" --no-tests=ignore \
        --output-junit "$LOGS/$p-ctest.xml" "$@" || rc=$?
    count_ctest "$p" "$LOGS/$p-ctest.xml" "$rc"
    echo "   preset $p: $((SECONDS - t0))s"
}

say "format check (changed lines, .clang-format)"
rc=0
scripts/check-format.sh >"$LOGS/format.log" 2>&1 || rc=$?
case $rc in
0) pass "format check ($(head -n1 "$LOGS/format.log"))" ;;
77) SKIPPED=$((SKIPPED + 1)); echo "$(grep -m1 '^SKIP' "$LOGS/format.log") (format check)" ;;
*)
    tail -n 60 "$LOGS/format.log" | sed 's/^/   | /'
    fail "format check (changed lines; see $LOGS/format.log)"
    ;;
esac

# The e2e and packaging tests do not use the preset's build (they build a
# Release library of their own), so they run once, with the release preset.
preset asan -LE '^(e2e|packaging)$'
preset release
RELEASE_OK=$?
preset tsan -L tsan
preset fuzz -L fuzz-smoke

say "docs (Doxygen, warnings are errors)"
if ((RELEASE_OK != 0)); then
    SKIPPED=$((SKIPPED + 1)); echo "SKIP: docs (release preset failed)"
elif quiet docs cmake --build build/release --target docs; then
    pass "docs (build/release/html/index.html)"
else
    fail "docs"
fi

say "install + out-of-tree consumers"
if ((RELEASE_OK != 0)); then
    SKIPPED=$((SKIPPED + 4)); echo "SKIP: install and consumers (release preset failed)"
elif ! quiet install cmake --install build/release --prefix "$TMP/prefix"; then
    fail "install"
    SKIPPED=$((SKIPPED + 3))
else
    # Use the package from somewhere else than where it was installed.
    mv "$TMP/prefix" "$TMP/moved-prefix"
    PREFIX=$TMP/moved-prefix
    pass "install (to a temporary prefix, then moved)"

    pcdir=$(dirname "$(find "$PREFIX" -name libviommu.pc -print -quit)")
    consumer_pc() {
        export PKG_CONFIG_PATH=$pcdir
        local flags libdir
        flags=$(pkg-config --cflags --libs libviommu) || return 1
        libdir=$(pkg-config --variable=libdir libviommu) || return 1
        echo "cc -std=c11 -Wall -Wextra -Werror tests/consumer/consumer.c $flags -o consumer-pc"
        # shellcheck disable=SC2086
        cc -std=c11 -Wall -Wextra -Werror tests/consumer/consumer.c $flags \
            -Wl,-rpath,"$libdir" -o "$TMP/consumer-pc" && "$TMP/consumer-pc"
    }
    if quiet consumer-pkgconfig consumer_pc; then
        pass "consumer via pkg-config"
    else
        fail "consumer via pkg-config"
    fi

    # The installed headers are plain ISO C11 (no extensions needed).
    headers_c11() {
        # shellcheck disable=SC2046
        cc -std=c11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only \
            $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags libviommu) tests/consumer/consumer.c
    }
    if quiet headers-c11 headers_c11; then
        pass "installed headers compile as ISO C11 (-pedantic-errors)"
    else
        fail "installed headers compile as ISO C11 (-pedantic-errors)"
    fi

    consumer_cmake() {
        cmake -S tests/consumer -B "$TMP/consumer-build" -DCMAKE_PREFIX_PATH="$PREFIX" \
            -DCMAKE_BUILD_TYPE=Release &&
            cmake --build "$TMP/consumer-build" -j "$JOBS" &&
            "$TMP/consumer-build/consumer" && "$TMP/consumer-build/consumer_static"
    }
    if quiet consumer-cmake consumer_cmake; then
        pass "consumer via find_package (libviommu::viommu, libviommu::viommu_static)"
    else
        fail "consumer via find_package"
    fi
fi

say "done in $((SECONDS - T_START))s"
for f in "${FAILURES[@]}"; do
    echo "   failed: $f"
done
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
((FAILED == 0))
