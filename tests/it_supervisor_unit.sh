#!/bin/sh
# The systemd unit: `systemd-analyze verify` is clean and the unit has what a
# supervisor needs (Type=notify, reload by SIGHUP, KillMode=mixed, ...). The built
# unit names the installed binary; here it is pointed at the build tree.
. "$srcdir/tests/lib/common.sh"
command -v systemd-analyze >/dev/null 2>&1 || { echo "# no systemd-analyze"; exit 77; }
t_init sup-unit

UNIT=$top_builddir/systemd/instanced.service
ok "unit built" test -s "$UNIT"
for line in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'KillMode=mixed' \
    'Restart=on-failure' 'NoNewPrivileges=yes' 'Delegate=yes'; do
    ok "unit has $line" grep -qxF "$line" "$UNIT"
done
ok "unit has TimeoutStopSec" grep -q '^TimeoutStopSec=' "$UNIT"
ok "unit keeps CAP_SETUID and CAP_SETGID to run workers as other users" \
    sh -c "grep '^CapabilityBoundingSet=' '$UNIT' | grep -q CAP_SETUID && grep '^CapabilityBoundingSet=' '$UNIT' | grep -q CAP_SETGID"
ok "unit does not set User= (workers run as their own users)" sh -c "! grep -q '^User=' '$UNIT'"
ok "unit leaves the delegated cgroup subtree writable (no ProtectControlGroups)" \
    sh -c "! grep -q '^ProtectControlGroups=yes' '$UNIT'"

sbin=$(sed -n 's|^ExecStart=\(.*\)/instanced .*|\1|p' "$UNIT")
sed "s|$sbin/instanced|$top_builddir/src/instanced|g" "$UNIT" >"$T/instanced.service"
# Documentation=man:instanced(8) is checked with man(1): show it the page from here.
mkdir -p "$T/man/man8"
cp "$srcdir/man/instanced.8" "$T/man/man8/"
out=$(MANPATH=$T/man systemd-analyze verify "$T/instanced.service" 2>&1)
rc=$?
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
is "$rc" 0 "systemd-analyze verify exits 0"
is "$out" "" "systemd-analyze verify prints nothing"
t_done
