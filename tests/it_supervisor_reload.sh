#!/bin/sh
# Reload (SIGHUP): added instances start, removed ones stop, changed ones restart (a
# failed one gets a new chance), unchanged ones keep their PID; an invalid inventory
# logs every error and changes nothing.
. "$srcdir/tests/lib/common.sh"
t_init sup-reload
. "$srcdir/tests/it_supervisor_lib.sh"

GLOBALS=$(sup_globals)
write_inv() { # write_inv BODY: the inventory, replaced atomically
    printf '%s\n%s\n%s\n' "$GLOBALS" "$(sup_service tw 'ready_after = 100ms')" "$1" >"$T/inv.new"
    mv "$T/inv.new" "$T/inv.conf"
}
write_inv '
instance "tw-keep"   { service = "tw" }
instance "tw-keep2"  { service = "tw"  env = {"X=1"} }
instance "tw-change" { service = "tw"  env = {"TW_REPORT='"$T"'/change.report", "COLOUR=red"} }
instance "tw-remove" { service = "tw" }
instance "tw-fixme"  { service = "tw"  env = {"TW_EXIT_AFTER_MS=0", "TW_EXIT_CODE=78"} }
instance "tw-slow"   { service = "tw"  env = {"TW_TERM_DELAY_MS=3000"} }
'
sup_start "$T/inv.conf" || fail "instanced starts"
all4() { running tw-keep && running tw-keep2 && running tw-change && running tw-remove; }
ok "four instances run" wait_for 5 all4
ok "tw-fixme failed (exit 78)" wait_for 5 grep -q 'msg="instance failed" instance=tw-fixme' "$T/sup.log"
keep=$(wpid tw-keep); keep2=$(wpid tw-keep2); change=$(wpid tw-change); remove=$(wpid tw-remove)
ok "tw-change saw COLOUR=red" wait_for 5 grep -q '^env COLOUR=red$' "$T/change.report"

# 1. An invalid inventory: every error logged, nothing changes.
cp "$T/inv.conf" "$T/inv.good"
write_inv '
instance "tw-keep"   { service = "tw"  port = 70000 }
instance "tw-new"    { service = "nosuch" }
instance "tw-change" { service = "tw"  bogus_key = 1 }
'
starts_before=$(nlog 'msg="worker started"')
kill -HUP "$SUP_PID"
ok "invalid reload reported" wait_for 5 grep -q 'msg="reload failed: still running the previous inventory"' "$T/sup.log"
nerr=$(nlog 'msg="reload rejected"')
ok "every error logged ($nerr lines)" test "$nerr" -ge 2
ok "errors carry FILE:LINE" grep -q 'msg="reload rejected" error=".*inv.conf:[0-9]*: ' "$T/sup.log"
is "$(nlog 'msg="worker started"')" "$starts_before" "invalid reload: nothing started"
is "$(nlog 'msg="stopping worker"')" 0 "invalid reload: nothing stopped"
ok "invalid reload: PIDs unchanged" sh -c "[ '$(wpid tw-keep) $(wpid tw-change) $(wpid tw-remove)' = '$keep $change $remove' ]"
ok "invalid reload: workers still run" all4

# 2. A valid one: keep, keep2 unchanged; change changed; remove removed; add added;
# fixme changed (no longer exits 78).
write_inv '
instance "tw-keep"   { service = "tw" }
instance "tw-change" { service = "tw"  env = {"TW_REPORT='"$T"'/change.report", "COLOUR=blue"} }
instance "tw-add"    { service = "tw" }
instance "tw-keep2"  { service = "tw"  env = {"X=1"} }
instance "tw-fixme"  { service = "tw" }
instance "tw-slow"   { service = "tw"  env = {"TW_TERM_DELAY_MS=3000"} }
'
rm -f "$T/change.report"
kill -HUP "$SUP_PID"
ok "reload summary" wait_for 5 grep -q 'msg=reloaded summary="1 added, 1 removed, 2 changed, 3 unchanged"' "$T/sup.log"
ok "added instance runs" wait_for 5 running tw-add
ok "changed instance restarted with its new settings" wait_for 5 grep -q '^env COLOUR=blue$' "$T/change.report"
ok "changed instance has a new PID" sh -c "[ -n '$(wpid tw-change)' ] && [ '$(wpid tw-change)' != '$change' ]"
ok "changed instance runs" wait_for 5 running tw-change
ok "the old process of the changed instance is gone" wait_for 5 sh -c "! kill -0 $change 2>/dev/null"
ok "removed instance stopped" wait_for 5 grep -q "msg=\"worker exited\" instance=tw-remove pid=$remove cause=\"exited with status 0\"" "$T/sup.log"
ok "removed instance's process is gone" wait_for 5 sh -c "! kill -0 $remove 2>/dev/null"
is "$(wpid tw-keep)" "$keep" "unchanged instance keeps its PID"
is "$(wpid tw-keep2)" "$keep2" "unchanged instance (moved in the file) keeps its PID"
ok "unchanged workers still run" sh -c ". '$srcdir/tests/it_supervisor_lib.sh'; T='$T' SUP_PID=$SUP_PID; alive $keep && alive $keep2"
ok "a failed instance changed by the reload runs again" wait_for 5 running tw-fixme
is "$(nlog 'msg="worker started" instance=tw-keep ')" 1 "tw-keep started once"

# 3. Removed, then added back while its old process is still stopping (it takes
# 3 s to exit: the second SIGHUP must land before that even on a loaded machine, and
# stop_timeout, 10 s, is far off): the new one starts only after the old one is gone.
slow=$(wpid tw-slow)
sed '/^instance "tw-slow"/d' "$T/inv.conf" >"$T/inv.new" && mv "$T/inv.new" "$T/inv.conf"
kill -HUP "$SUP_PID"
wait_for 5 grep -q 'msg=reloaded summary="0 added, 1 removed' "$T/sup.log"
echo 'instance "tw-slow"   { service = "tw"  env = {"TW_TERM_DELAY_MS=3000"} }' >>"$T/inv.conf"
kill -HUP "$SUP_PID"
ok "re-added while the old one stops: it waits" wait_for 5 grep -q 'msg="waiting for the removed process of the same name to exit" instance=tw-slow' "$T/sup.log"
newslow() { _p=$(wpid tw-slow); [ -n "$_p" ] && [ "$_p" != "$slow" ] && running tw-slow; }
ok "re-added instance runs with a new PID" wait_for 10 newslow
ok "and started only after the old process exited" \
    awk -v old="$slow" '$0 ~ "msg=\"worker exited\" instance=tw-slow pid=" old " " {e=NR} /msg="worker started" instance=tw-slow /{s=NR} END{exit !(e && s > e)}' "$T/sup.log"

# 4. A reload that changes control_socket and status_listen moves neither: the running
# ones keep serving, and the summary and a warning say a restart is needed.
old_port=$(printf '%s\n' "$GLOBALS" | sed -n 's/^status_listen *= *"127.0.0.1:\([0-9]*\)"/\1/p')
GLOBALS=$(printf '%s\n' "$GLOBALS" |
    sed -e "s|^control_socket .*|control_socket = \"$T/moved.sock\"|" \
        -e "s|^status_listen .*|status_listen = \"127.0.0.1:$(free_port)\"|")
write_inv "$(sed -n '/^instance /p' "$T/inv.conf")"
kill -HUP "$SUP_PID"
ok "listener change reported in the reload summary" wait_for 5 grep -q 'msg=reloaded summary="0 added, 0 removed, 0 changed, 6 unchanged; needs a restart to change: control_socket, status_listen (still the running one)"' "$T/sup.log"
ok "a warning names control_socket" grep -q 'msg="reload does not move this listener: restart instanced to apply the change" key=control_socket running='"$T"'/ctl.sock configured='"$T"'/moved.sock' "$T/sup.log"
ok "a warning names status_listen" grep -q 'msg="reload does not move this listener.* key=status_listen running=127.0.0.1:'"$old_port" "$T/sup.log"
ok "the control socket stays where it was" test -S "$T/ctl.sock"
ok "no socket at the new path" test ! -e "$T/moved.sock"
ok "the control socket still answers" "$top_builddir/src/instancectl" -s "$T/ctl.sock" status
ok "the status endpoint still listens on its old port" python3 -c "import socket; socket.create_connection(('127.0.0.1', $old_port), 2).close()"

sup_stop 10
is "$SUP_RC" 0 "instanced exits 0"
t_done
