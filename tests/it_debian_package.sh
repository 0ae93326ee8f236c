#!/bin/sh
# The Debian packages build from the distributed files alone (debian/ included), in a
# scratch directory (the source tree, possibly read-only, is never written), pass
# lintian without errors, and, unpacked into a scratch root, hold the programs, man
# pages, unit, conffile and shared files; the packaged instanced validates the packaged
# inventory and systemd accepts the packaged unit.
. "$srcdir/tests/lib/common.sh"
t_init debian_package

for tool in dpkg-buildpackage dh lintian systemd-analyze; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "# $tool is missing: install the packaging tools with scripts/deps.sh --packaging"
        exit 77
    }
done

# Run under `make check`, this test's make variables (TESTS=...) would reach the
# package build's own make through the environment.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
# The distributed files, as `make dist` would pack them, in a directory of our own.
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
src="$T/src/instanced-$version"
mkdir -p "$T/src"
make -s -C "$top_builddir" distdir distdir="$src" >"$T/distdir.log" 2>&1 ||
    { cat "$T/distdir.log"; fail "make distdir"; t_done; }
ok "debian/ is distributed" test -x "$src/debian/rules"

# nocheck: make check runs the unit tests already; noddebs: no debug symbol packages.
start=$(date +%s)
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" dpkg-buildpackage -b -us -uc) \
    >"$T/build.log" 2>&1 || { tail -40 "$T/build.log"; fail "dpkg-buildpackage -b -us -uc"; t_done; }
echo "# dpkg-buildpackage took $(( $(date +%s) - start )) s"
deb="$T/src/instanced_${version}_$(dpkg --print-architecture).deb"
wdeb="$T/src/instanced-workers_${version}_$(dpkg --print-architecture).deb"
ok "instanced .deb built" test -f "$deb"
ok "instanced-workers .deb built" test -f "$wdeb"

# lintian: no error (E:) tag on either package; warnings are shown, not fatal.
lintian "$deb" "$wdeb" >"$T/lintian.log" 2>&1
sed 's/^/# lintian: /' "$T/lintian.log"
is "$(grep -c '^E: ' "$T/lintian.log")" "0" "lintian reports no error"

# The file lists: each package holds its part and not the other's.
list() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'; }
list "$deb" >"$T/instanced.list"
list "$wdeb" >"$T/workers.list"
for f in /usr/sbin/instanced /usr/bin/instancectl /lib/systemd/system/instanced.service \
         /usr/share/man/man8/instanced.8.gz /usr/share/man/man8/instancectl.8.gz \
         /usr/share/man/man5/instanced.conf.5.gz /etc/instanced/instanced.conf \
         /usr/share/instanced/prometheus-rules.yml /usr/share/instanced/prometheus.yml \
         /usr/share/instanced/grafana/dashboards/instanced-infrastructure.json \
         /usr/share/instanced/examples/redis.conf /usr/share/doc/instanced/copyright \
         /usr/share/doc/instanced/docs/design.md.gz \
         /usr/share/bash-completion/completions/instancectl; do
    ok "instanced holds $f" grep -qx "$f" "$T/instanced.list"
done
for f in /usr/libexec/instanced/audit-correlator /usr/libexec/instanced/entity-worker; do
    ok "instanced-workers holds $f" grep -qx "$f" "$T/workers.list"
    ok "instanced does not hold $f" test "$(grep -cx "$f" "$T/instanced.list")" -eq 0
done
dpkg-deb -e "$deb" "$T/control"
is "$(cat "$T/control/conffiles")" "/etc/instanced/instanced.conf" "the inventory is the conffile"
is "$(dpkg-deb -f "$wdeb" Package)" "instanced-workers" "workers package name"

# Unpacked into a scratch root (dpkg -x: no maintainer scripts, no dpkg database).
root="$T/root"
dpkg -x "$deb" "$root"
dpkg -x "$wdeb" "$root"
ok "packaged instanced runs" "$root/usr/sbin/instanced" --version
"$root/usr/sbin/instanced" --check-config -c "$root/etc/instanced/instanced.conf" \
    >"$T/check.out" 2>&1 || { cat "$T/check.out"; fail "packaged inventory validates"; }
ok "packaged inventory validates" grep -q 'ok, [0-9]* instances' "$T/check.out"
# Every program the packaged inventory runs is in the packages.
for cmd in $(sed -n 's/^ *command *= *"\(.*\)"/\1/p' "$root/etc/instanced/instanced.conf" | sort -u); do
    ok "the packages hold $cmd" test -x "$root$cmd"
done

# systemd checks the unit as installed, with its programs taken from the scratch root
# (on the host they are not installed) and its man page from the package.
mkdir -p "$T/unit"
sed "s|=/usr/sbin/|=$root/usr/sbin/|" "$root/lib/systemd/system/instanced.service" \
    >"$T/unit/instanced.service"
ok "unit rewritten to the scratch root" grep -q "^ExecStart=$root/usr/sbin/instanced " "$T/unit/instanced.service"
MANPATH="$root/usr/share/man" systemd-analyze verify "$T/unit/instanced.service" \
    >"$T/verify.log" 2>&1 || { cat "$T/verify.log"; fail "systemd-analyze verify"; }
t_done
