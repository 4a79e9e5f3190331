# shellcheck shell=sh
# SPDX-License-Identifier: MIT
#
# The project's ONE private apt configuration, shared by fetch-guest.sh
# (guest kernel and busybox) and build-qemu.sh (QEMU source package and its
# build tools): its own sources.list, preferences, state (package lists) and
# cache directories under ${XDG_CACHE_HOME:-$HOME/.cache}/libviommu/apt.  The
# sources list holds
#   - a `deb` and a `deb-src` line for every Debian archive entry the
#     system's apt sources already use (Debian 12: bookworm,
#     bookworm-updates, bookworm-security), and
#   - the extra suites of VIOMMU_APT_EXTRA_SUITES (below), on the Debian
#     mirror and keyring the system already uses.
# The extra suites are pinned to -1 in the private preferences, so nothing
# from them is ever a candidate: a plain `$APT download PKG` or
# `$APT_CACHE search` only sees the system's suites (a trixie or backports
# kernel is never picked for the guest); only an explicit request reaches
# them: `$APT download PKG/bookworm-backports`, `$APT source PKG=VERSION`,
# `$APT_CACHE showsrc PKG`.  The system's sources, preferences, lists and
# cache are never read or modified (only dpkg's status), and no root is
# needed.  Sourced (POSIX sh), not executed:
#
#   . "$here/private-apt.sh"
#   viommu_apt_setup "$cache" || skip "no Debian archive in /etc/apt sources"
#   viommu_apt_update [MAX_AGE_MINUTES] || ...
#   $APT download PKG; $APT source --download-only PKG=VER; $APT_CACHE search RE

# Suites beyond the system's, as TYPE:SUITE (one sources.list for every user,
# so fetch-guest.sh and build-qemu.sh never invalidate each other's lists):
#   deb-src:trixie          Debian 13's `qemu` source package (QEMU 10.0.13)
#   deb:bookworm-backports  meson 1.7, python3-pycotap, SeaBIOS 1.16.3
VIOMMU_APT_EXTRA_SUITES="deb-src:trixie deb:bookworm-backports"

# viommu_apt_setup CACHE_DIR: (re)write CACHE_DIR/apt/sources.list (the
# system's Debian suites + VIOMMU_APT_EXTRA_SUITES) and CACHE_DIR/apt/preferences
# (the extra suites pinned to -1) and set APT_DIR, APT and APT_CACHE (apt-get
# and apt-cache with the private configuration).  Returns 1 when the
# system's sources name no Debian archive.  The extra suites need a Debian
# mirror (not only debian-security) among the system's sources; without one
# they are left out (callers check `viommu_apt_has_suite`).
viommu_apt_setup() {
    APT_DIR=$1/apt
    mkdir -p "$APT_DIR/state/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/parts" || return 1
    _va_srcs=$APT_DIR/sources.list
    {
        # deb822 files: every "Types: deb" stanza becomes deb + deb-src one-liners.
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk '
              function flush() {
                if (types ~ /(^| )deb( |$)/ && uris != "")
                  { n = split(uris, U, " "); m = split(suites, S, " ");
                    for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
                      for (t = 1; t <= 2; t++)
                        printf "%s %s%s %s %s\n", (t == 1 ? "deb" : "deb-src"),
                               (sb != "" ? "[signed-by=" sb "] " : ""), U[i], S[j], comps }
                types = uris = suites = comps = sb = "" }
              /^[ \t]*$/ { flush(); next }
              /^#/ { next }
              /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
              /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
              /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
              /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
              /^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); sb = $0 }
              END { flush() }' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            sed -n 's/^[ \t]*deb[ \t]\(.*debian.*\)$/deb \1\ndeb-src \1/p' "$f"
        done
    } | grep -E 'debian(-security)?([ /]|$)' | sort -u > "$_va_srcs.sys.$$"
    if [ ! -s "$_va_srcs.sys.$$" ]; then
        rm -f "$_va_srcs.sys.$$"
        return 1
    fi
    # The extra suites: on the first Debian mirror (not debian-security) of
    # the system's `deb` lines, with its options (keyring); Debian's archive
    # keyring when it names none.
    _va_mirror=$(awk '$1 == "deb" {
          o = ""; i = 2
          if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) { o = o $i " "; i++ } o = o $i " "; i++ }
          if ($i ~ /\/debian\/?$/) {
            if (o !~ /signed-by=/) {
              k = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
              if (o == "") o = "[" k "] "; else sub(/\] $/, " " k "] ", o) }
            print o $i; exit } }' "$_va_srcs.sys.$$")
    {
        cat "$_va_srcs.sys.$$"
        if [ -n "$_va_mirror" ]; then
            for _va_x in $VIOMMU_APT_EXTRA_SUITES; do
                echo "${_va_x%%:*} $_va_mirror ${_va_x#*:} main"
            done
        fi
    } | sort -u > "$_va_srcs.new.$$"
    rm -f "$_va_srcs.sys.$$"
    mv "$_va_srcs.new.$$" "$_va_srcs"
    # Pin the extra suites out of candidate selection (binaries and sources).
    for _va_x in $VIOMMU_APT_EXTRA_SUITES; do
        printf 'Package: *\nPin: release n=%s\nPin-Priority: -1\n\n' "${_va_x#*:}"
    done > "$APT_DIR/preferences.new.$$"
    mv "$APT_DIR/preferences.new.$$" "$APT_DIR/preferences"
    _va_opts="-o Dir::Etc::SourceList=$_va_srcs -o Dir::Etc::SourceParts=$APT_DIR/parts \
 -o Dir::Etc::Preferences=$APT_DIR/preferences -o Dir::Etc::PreferencesParts=$APT_DIR/parts \
 -o Dir::State=$APT_DIR/state -o Dir::Cache=$APT_DIR/cache \
 -o Dir::State::status=/var/lib/dpkg/status -o Debug::NoLocking=1 -o Acquire::Languages=none"
    # As root, apt would hand downloads to its `_apt` user, who cannot write
    # into a private home: download as root (the same files either way).
    [ "$(id -u)" != 0 ] || _va_opts="$_va_opts -o APT::Sandbox::User=root"
    APT="apt-get -q $_va_opts"
    # shellcheck disable=SC2034 # used by the scripts that source this file
    APT_CACHE="apt-cache $_va_opts"
}

# viommu_apt_update [MAX_AGE_MINUTES]: `apt-get update` of the private lists
# (serialised with flock when available).  With MAX_AGE_MINUTES > 0 it is
# skipped when the last successful update used the same sources.list and is
# younger than that.  Returns apt-get's status: with --error-on=any an index
# that could not be fetched (no network) is a failure, not a warning with
# status 0, so it is never recorded as a fresh update.
viommu_apt_update() {
    _va_stamp=$APT_DIR/state/updated-sources.list
    if [ "${1:-0}" -gt 0 ] && [ -f "$_va_stamp" ] && cmp -s "$_va_stamp" "$APT_DIR/sources.list" &&
       [ -n "$(find "$_va_stamp" -mmin -"$1" 2>/dev/null)" ]; then
        return 0
    fi
    if command -v flock >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        flock "$APT_DIR/update.lock" $APT update --error-on=any || return $?
    else
        # shellcheck disable=SC2086
        $APT update --error-on=any || return $?
    fi
    cp "$APT_DIR/sources.list" "$_va_stamp"
}

# viommu_apt_has_suite TYPE SUITE: true when the private sources.list has a
# TYPE (deb or deb-src) line for SUITE.
viommu_apt_has_suite() {
    grep -q "^$1 .* $2 " "$APT_DIR/sources.list" 2>/dev/null
}
