#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the Rust bindings' tests offline against the freshly built library,
# with every distinct cargo found (the one in PATH and Debian's /usr/bin/cargo),
# in copies under the build tree. Exit 77 (skipped) when no cargo is installed.
# Usage: run_cargo.sh SRCDIR WORKDIR C_LAYOUT_FILE
set -eu
src=$1 work=$2 layout=$3
cargos=""
seen=""
for c in "$(command -v cargo 2>/dev/null || true)" /usr/bin/cargo; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    # rustup's cargo is a proxy named cargo: keep the path, compare versions.
    v=$("$c" --version 2>/dev/null | tr ' ' _) || continue
    case " $seen " in *" $v "*) ;; *) seen="$seen $v" cargos="$cargos $c" ;; esac
done
if [ -z "$cargos" ]; then
    echo "SKIP: cargo is not installed (Debian: apt-get install cargo)"
    exit 77
fi
# Sanitizer runtimes (preloaded by CTest) must reach only the test binaries,
# not cargo and rustc: hand them over through a cargo runner.
preload=${LD_PRELOAD:-}
unset LD_PRELOAD
if [ -n "$preload" ]; then
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="env LD_PRELOAD=$preload"
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER
fi
rc=0
i=0
for cargo in $cargos; do
    i=$((i + 1))
    dir="$work/copy$i"
    rm -rf "$dir/src"
    mkdir -p "$dir/src"
    cp -r "$src/bindings/rust/." "$dir/src/"
    rm -rf "$dir/src/target"
    # A rustup cargo finds its own rustc; Debian's cargo wants Debian's rustc.
    if [ "$cargo" = /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
        RUSTC="$(dirname "$cargo")/rustc"
        RUSTDOC="$(dirname "$cargo")/rustdoc"
        export RUSTC RUSTDOC
    fi
    echo "== $cargo ($("$cargo" --version)), rustc $(${RUSTC:-rustc} --version)"
    if ! (cd "$dir/src" && VIOMMU_C_LAYOUT="$layout" CARGO_TARGET_DIR="$dir/target" \
            "$cargo" test --offline --quiet 2>&1); then
        rc=1
    fi
    unset RUSTC RUSTDOC
done
exit $rc
