#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Format check: the C lines a change adds or modifies must be formatted as
# .clang-format says. Only changed lines are checked (clang-format-diff), so
# the existing tree is never reformatted wholesale.
#
# Usage: scripts/check-format.sh [BASE]
# What counts as "the change" (the working tree, committed or not, against BASE):
#  - BASE given on the command line, or in VIOMMU_FORMAT_BASE;
#  - otherwise, on a branch that has diverged from main (or origin/main):
#    the merge-base with it, i.e. everything the branch adds;
#  - otherwise (on main itself, e.g. CI on a fresh clone): the last commit
#    (HEAD~1), plus anything uncommitted.
# Exit status: 0 clean, 1 misformatted lines (the diff that would fix them is
# printed; apply it with `git clang-format-14 BASE`), 77 skipped (no
# clang-format-diff, not a git checkout, or no base commit, e.g. a depth-1
# shallow clone).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "SKIP: $*"; exit 77; }

CFD=
for c in clang-format-diff-14 clang-format-diff; do
    if command -v "$c" >/dev/null 2>&1; then CFD=$c; break; fi
done
[[ -n $CFD ]] || skip "clang-format-diff not installed (Debian: apt-get install clang-format-14)"
CF=
for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then CF=$c; break; fi
done
[[ -n $CF ]] || skip "clang-format not installed (Debian: apt-get install clang-format-14)"
git rev-parse --verify -q HEAD >/dev/null 2>&1 || skip "not a git checkout with commits"

base=${1:-${VIOMMU_FORMAT_BASE:-}}
how="given"
if [[ -z $base ]]; then
    for ref in main origin/main; do
        if mb=$(git merge-base HEAD "$ref" 2>/dev/null) && [[ $mb != "$(git rev-parse HEAD)" ]]; then
            base=$mb how="merge-base with $ref"
            break
        fi
    done
fi
if [[ -z $base ]]; then
    base=$(git rev-parse --verify -q HEAD~1) || skip "no previous commit to compare with (shallow clone?)"
    how="last commit"
fi
git rev-parse --verify -q "$base^{commit}" >/dev/null || skip "base $base is not a commit here"

echo "format check: lines changed since $(git rev-parse --short "$base") ($how), $CF"
out=$(git diff -U0 --no-color --no-ext-diff "$base" -- '*.c' '*.h' '*.h.in' |
    "$CFD" -p1 -binary "$(command -v "$CF")" -style file -iregex '.*\.(c|h|h\.in)$')
if [[ -n $out ]]; then
    printf '%s\n' "$out"
    echo "FAIL: changed lines are not formatted as .clang-format says (fix: git clang-format-14 $base)"
    exit 1
fi
echo "OK: every changed C line is formatted"
