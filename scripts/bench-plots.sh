#!/bin/bash
# SPDX-License-Identifier: MIT
# Docs generation (not run by CI): run viommu_bench (Release) with plot data
# and regenerate the PNGs in docs/ with gnuplot (Debian: gnuplot-nox, listed
# in scripts/deps.sh as BENCH_PKGS).
#   scripts/bench-plots.sh [viommu_bench args, e.g. --quick]
set -eu
top=$(git rev-parse --show-toplevel)
# shellcheck source=scripts/deps.sh
. "$top/scripts/deps.sh"
viommu_ensure_pkgs "${BENCH_PKGS[@]}"
dir=$top/build/bench-plots
mkdir -p "$dir"
cd "$top"
cmake --preset release >/dev/null
cmake --build build/release -j2 --target viommu_bench >/dev/null
build/release/bench/viommu_bench --json "$dir/bench.json" --plot-data "$dir" "$@"
gnuplot -e "dir='$dir'; out='$top/docs'" "$top/docs/bench.gp"
echo "wrote docs/bench-translate-threads.png docs/bench-replay-sizes.png (data in $dir)"
