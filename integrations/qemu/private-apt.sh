# shellcheck shell=sh
# SPDX-License-Identifier: MIT
#
# The project's PRIVATE apt configuration, shared by build-qemu.sh (QEMU
# source package) and fetch-guest.sh (guest kernel and busybox): its own
# sources.list, state (package lists) and cache directories under
# ${XDG_CACHE_HOME:-$HOME/.cache}/libviommu/apt.  The sources list holds a
# `deb` and a `deb-src` line for every Debian archive entry the system's apt
# sources already use; the system's sources, lists and cache are never
# modified, and no root is needed.  Sourced (POSIX sh), not executed:
#
#   . "$here/private-apt.sh"
#   viommu_apt_setup "$cache" || skip "no Debian archive in /etc/apt sources"
#   viommu_apt_update [MAX_AGE_MINUTES] || ...
#   $APT download PKG; $APT source --download-only PKG=VER; $APT_CACHE search RE
#
# viommu_apt_setup CACHE_DIR: (re)write CACHE_DIR/apt/sources.list from the
# system's sources and set APT_DIR, APT and APT_CACHE (apt-get and apt-cache
# with the private configuration).  Returns 1 when the system's sources name
# no Debian archive.
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
    } | grep -E 'debian(-security)?([ /]|$)' | sort -u > "$_va_srcs.new.$$"
    if [ ! -s "$_va_srcs.new.$$" ]; then
        rm -f "$_va_srcs.new.$$"
        return 1
    fi
    mv "$_va_srcs.new.$$" "$_va_srcs"
    _va_opts="-o Dir::Etc::SourceList=$_va_srcs -o Dir::Etc::SourceParts=$APT_DIR/parts \
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
# younger than that.  Returns apt-get's status.
viommu_apt_update() {
    _va_stamp=$APT_DIR/state/updated-sources.list
    if [ "${1:-0}" -gt 0 ] && [ -f "$_va_stamp" ] && cmp -s "$_va_stamp" "$APT_DIR/sources.list" &&
       [ -n "$(find "$_va_stamp" -mmin -"$1" 2>/dev/null)" ]; then
        return 0
    fi
    if command -v flock >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        flock "$APT_DIR/update.lock" $APT update || return $?
    else
        # shellcheck disable=SC2086
        $APT update || return $?
    fi
    cp "$APT_DIR/sources.list" "$_va_stamp"
}
