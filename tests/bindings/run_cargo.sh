#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the Rust bindings' tests offline against the freshly built library,
# with every distinct cargo found (the one in PATH and Debian's /usr/bin/cargo),
# in copies under the build tree. Exit 77 (skipped) when no cargo is installed.
# Usage: run_cargo.sh SRCDIR WORKDIR C_LAYOUT_FILE
set -eu
src=$1 work=$2 layout=$3
cargos=""
for c in "$(command -v cargo 2>/dev/null || true)" /usr/bin/cargo; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    real=$(readlink -f "$c")
    case " $cargos " in *" $real "*) ;; *) cargos="$cargos $real" ;; esac
done
if [ -z "$cargos" ]; then
    echo "SKIP: cargo is not installed (Debian: apt-get install cargo)"
    exit 77
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
    if [ -x "$(dirname "$cargo")/rustc" ]; then
        RUSTC="$(dirname "$cargo")/rustc"
        export RUSTC
    fi
    echo "== $cargo ($("$cargo" --version)), rustc $(${RUSTC:-rustc} --version)"
    if ! (cd "$dir/src" && VIOMMU_C_LAYOUT="$layout" CARGO_TARGET_DIR="$dir/target" \
            "$cargo" test --offline --quiet 2>&1); then
        rc=1
    fi
    unset RUSTC
done
exit $rc
