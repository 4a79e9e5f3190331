#!/bin/sh
# SPDX-License-Identifier: MIT
#
# integrations/qemu/private-apt.sh with no network (a network namespace):
# the private `apt-get update` must report the failure, and must not record
# the lists as freshly updated, so the next run (online) updates instead of
# trusting empty lists for VIOMMU_APT_MAX_AGE_MIN.  Also checks the extra
# suites are pinned out of candidate selection.  Exit 77 when apt or a
# network namespace is not available.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pa=$here/../../integrations/qemu/private-apt.sh
command -v apt-get >/dev/null 2>&1 || { echo "SKIP: apt-get not available"; exit 77; }
if unshare -n true 2>/dev/null; then ns="unshare -n"
elif unshare -rn true 2>/dev/null; then ns="unshare -rn"
else echo "SKIP: cannot create a network namespace (unshare)"; exit 77; fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/viommu-apt.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2016 # expanded by the inner shell
$ns sh -c '
    set -u
    . "$1"
    viommu_apt_setup "$2" || { echo "SKIP: no Debian archive in /etc/apt sources"; exit 77; }
    fail() { echo "FAIL: $*"; exit 1; }
    stamp=$APT_DIR/state/updated-sources.list
    for i in 1 2; do
        if viommu_apt_update 1440 >"$2/update$i.log" 2>&1; then
            cat "$2/update$i.log"; fail "offline update $i reported success"
        fi
        [ ! -e "$stamp" ] || fail "offline update $i recorded fresh lists ($stamp)"
    done
    echo "ok: offline update fails twice, nothing recorded"
    grep -q "^deb-src .* trixie main$" "$APT_DIR/sources.list" || fail "no deb-src trixie"
    grep -q "^deb .* bookworm-backports main$" "$APT_DIR/sources.list" || fail "no deb bookworm-backports"
    ! grep -q "^deb .* trixie " "$APT_DIR/sources.list" || fail "trixie binaries in the sources"
    for s in trixie bookworm-backports; do
        grep -A1 "^Pin: release n=$s$" "$APT_DIR/preferences" | grep -q "^Pin-Priority: -1$" ||
            fail "$s not pinned to -1"
    done
    $APT_CACHE policy >/dev/null 2>&1 || fail "apt-cache rejects the private configuration"
    echo "ok: extra suites present and pinned"
' sh "$pa" "$tmp"
