#!/bin/sh
# Containment across a supervisor crash, and the fallback without cgroups: after kill -9
# of the supervisor, the setsid'd descendants it left are killed (and logged by
# instance, pid and comm) before their instance starts again; with `cgroups = false`
# an orphan re-parented to the supervisor is killed when its worker is stopped.
. "$srcdir/tests/lib/common.sh"
t_init contain-crash
. "$srcdir/tests/it_supervisor_lib.sh"

M2=ctC$$ M6=ctF$$
CT_MARKERS="$M2 $M6"
. "$srcdir/tests/lib/contain.sh"
pid_gone() { _s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -z "$_s" ] || [ "$_s" = Z ]; }
health_is() { [ "$("$CTL" -s "$SOCK" --json status "$1" 2>/dev/null | jq -r '.instances[0].status')" = "$2" ]; }

# The worker: writes how many marker processes are alive as it starts, then leaves a
# child in a session of its own that ignores SIGTERM, and sleeps.
worker() { # MARKER
    cat <<EOF
n=0
for p in \$(pgrep -x $1); do
    grep -q '^State:.*Z' /proc/\$p/status 2>/dev/null || n=\$((n + 1))
done
echo "alive at start: \$n" >>"$T/$1.counts"
setsid sh -c 'trap "" TERM; exec "$T/bin/$1" 1000' &
exec sleep 1000
EOF
}
worker $M6 >"$T/w6.sh"
worker $M2 >"$T/w2.sh"

# ---- 6. the fallback: cgroups = false ---------------------------------------------------
cat >"$T/inv6.conf" <<EOF
$(sup_globals)
cgroups = false
service "fb" { command = "/bin/sh"  args = {"$T/w6.sh"}  instance_prefix = "fb" }
instance "fb-a" { service = "fb" }
EOF
if ! sup_start "$T/inv6.conf"; then
    fail "instanced starts with cgroups = false"; sed 's/^/#   /' "$T/sup.log"; t_done; exit 1
fi
ok "the log says the fallback is in use" \
    grep -q 'msg="containment: no cgroup per instance.*reason="cgroups = false in the inventory"' "$T/sup.log"
ok "fb-a runs" wait_for 20 state_is fb-a running
ok "its setsid'd child runs" wait_for 10 nlive_is $M6 1
o6=$(live $M6)
"$CTL" -s "$SOCK" pause fb-a >"$T/pause6.out" 2>&1
rc=$?
ok "pause is refused without cgroups (exit $rc)" test "$rc" -ne 0
sed 's/^/#   /' "$T/pause6.out"
"$CTL" -s "$SOCK" stop fb-a >/dev/null 2>&1
is "$?" 0 "instancectl stop fb-a"
ok "fb-a stopped" wait_for 30 state_is fb-a stopped
ok "the orphan was killed" wait_for 10 pid_gone "${o6% }"
ok "... and logged" grep -q "msg=\"killing a process the worker left in the background\" instance=fb-a pid=${o6% } command=$M6" "$T/sup.log"
sup_stop 30
is "$SUP_RC" 0 "fallback: exit 0"
mv "$T/sup.log" "$T/sup6.log"

# ---- 2. kill -9 of the supervisor, then a new start ------------------------------------
cat >"$T/inv2.conf" <<EOF
$(sup_globals)
service "cr" { command = "/bin/sh"  args = {"$T/w2.sh"}  instance_prefix = "cr" }
instance "cr-a" { service = "cr" }
EOF
if ! sup_start "$T/inv2.conf"; then
    fail "instanced starts"; sed 's/^/#   /' "$T/sup.log"; t_done; exit 1
fi
if grep -q 'msg="containment: no cgroup per instance' "$T/sup.log"; then
    echo "# SKIP: no cgroup per instance here (the fallback above ran):"
    grep 'containment' "$T/sup.log" | sed 's/^/#   /'
    exit 77
fi
ok "containment is on" grep -q 'msg="containment: a cgroup per instance"' "$T/sup.log"
SUBTREE=$(subtrees | head -n 1)
ok "cr-a runs" wait_for 20 state_is cr-a running
ok "its setsid'd child runs" wait_for 10 nlive_is $M2 1
old=$(live $M2)
old=${old% }
w1=$(wpid cr-a)
kill -9 "$SUP_PID"
wait "$SUP_PID" 2>/dev/null
ok "the old worker died with the supervisor" wait_for 10 pid_gone "$w1"
ok "its setsid'd child outlived it" sh -c "! grep -q '^State:.*Z' /proc/$old/status"
ok "... in the instance's cgroup" grep -qw "$old" "$SUBTREE/cr-a/cgroup.procs"
mv "$T/sup.log" "$T/sup2a.log"
if ! sup_start "$T/inv2.conf"; then
    fail "instanced starts again"; sed 's/^/#   /' "$T/sup.log"; t_done; exit 1
fi
ok "cr-a runs again" wait_for 30 state_is cr-a running
ok "... and is healthy" wait_for 30 health_is cr-a healthy
ok "the log names the leftover (instance, pid, comm)" \
    grep -q "msg=\"killing a leftover process of a previous run\" instance=cr-a pid=$old comm=$M2" "$T/sup.log"
grep 'leftover' "$T/sup.log" | sed 's/^/#   /'
ok "the leftover was killed before the worker started" \
    awk '/msg="killing a leftover process of a previous run" instance=cr-a /{k=NR} /msg="worker started" instance=cr-a /{s=NR} END{exit !(k && s > k)}' "$T/sup.log"
ok "the old child is gone" pid_gone "$old"
w2=$(wpid cr-a)
ok "a new worker ($w2, was $w1)" test -n "$w2" -a "$w2" != "$w1"
sed 's/^/#   /' "$T/$M2.counts"
is "$(sed -n 2p "$T/$M2.counts")" "alive at start: 0" "no old child alive when the new worker started"
ok "the new child runs" wait_for 10 nlive_is $M2 1
sup_stop 30
is "$SUP_RC" 0 "exit 0"
ok "no child left" wait_for 10 nlive_is $M2 0
ok "shutdown removed the subtree" test ! -d "$SUBTREE"
t_done
