#!/bin/sh
# SPDX-License-Identifier: MIT
# Before/after benchmark on the same machine, in the same session:
# builds the current bench/ sources against an older revision of the library
# (in a temporary git worktree) and against this tree (Release), then runs
# the two binaries alternately, ROUNDS times each, writing JSON per run.
#
#   scripts/bench-compare.sh OLD_REV [ROUNDS] [-- viommu_bench args...]
#
# Output: build/bench-compare/{old,new}-N.json and the tables on stdout.
set -eu
old_rev=${1:?usage: $0 OLD_REV [ROUNDS] [-- bench args]}
shift
rounds=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds=$1; shift; fi
[ "${1:-}" = "--" ] && shift
top=$(git rev-parse --show-toplevel)
out=$top/build/bench-compare
tmp=$(mktemp -d /tmp/viommu-bench-old.XXXXXX)
cleanup() { git -C "$top" worktree remove --force "$tmp/src" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$out"
# The summary reads every JSON here: drop an earlier run's rounds.
rm -f "$out"/old-*.json "$out"/new-*.json
git -C "$top" worktree add --detach "$tmp/src" "$old_rev" >/dev/null
cp "$top/bench/viommu_bench.c" "$top/bench/CMakeLists.txt" "$tmp/src/bench/"
cmake -S "$tmp/src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DVIOMMU_BUILD_TESTS=ON >/dev/null
cmake --build "$tmp/build" -j2 --target viommu_bench >/dev/null
cmake --preset release >/dev/null
cmake --build "$top/build/release" -j2 --target viommu_bench >/dev/null
cp "$tmp/build/bench/viommu_bench" "$out/viommu_bench.old"
i=1
while [ "$i" -le "$rounds" ]; do
    echo "== round $i: old ($old_rev)"
    "$out/viommu_bench.old" --json "$out/old-$i.json" "$@"
    echo "== round $i: new (working tree)"
    "$top/build/release/bench/viommu_bench" --json "$out/new-$i.json" "$@"
    i=$((i + 1))
done
python3 "$top/scripts/bench-summary.py" "$out"
