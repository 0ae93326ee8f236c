#!/bin/sh
# 500 instances with exec probes every 5 s: every probe is a process spawned and reaped
# on the loop, so the loop must keep turning: all 500 get ready through their probes,
# probe cycles keep completing (instanced_probe_cycles_total) with every instance
# probed in each, and the status endpoint and the control socket keep answering.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init probe-scale
at_exit mon_dump_log

# A sanitizer build (ci-builds.sh sets ASAN_OPTIONS) forks each probe and each worker
# from a process many times larger and slower: 100 instances there, 500 otherwise.
N=500
[ -n "${ASAN_OPTIONS:-}" ] && N=100
mon_inventory 5s 2s
mon_service sleeper sleep "" 'args = {"100000"}' \
    'health_command = {"sh", "-c", "echo ok %i"}' 'stop_timeout = 2s'
mon_instances sleeper $N
ulimit -n 4096 2>/dev/null || true
mon_start || { fail "instanced starts"; t_done; exit 1; }

ok "all $N instances get ready and healthy through their exec probes" \
    wait_for 120 healthy_is $N
# The message is that of the last probe: on a loaded machine one probe can time out
# (the instance stays healthy until two did), so wait for one that answered.
msg7_is() { [ "$(mon_json /api/v1/instances/sleeper-7 .message)" = "$1" ]; }
if wait_for 15 msg7_is "ok sleeper-7"; then pass "the probe's output is the message (placeholders expanded)"
else fail "the probe's output is the message (placeholders expanded): got '$(mon_json /api/v1/instances/sleeper-7 .message)'"; fi

c0=$(mon_metric instanced_probe_cycles_total)
p0=$(mon_json /api/v1/instances/sleeper-0 .probes)
answered=0
# Three more cycles: the one under way when p0 was read may have probed sleeper-0
# already (it goes first), so two more probes of it are certain only after the third.
cycles_moved() { [ "$(mon_metric instanced_probe_cycles_total)" -ge $((c0 + 3)) ]; }
# While they run, the endpoint and the control socket answer each poll.
end=$(( $(date +%s) + 60 ))
while ! cycles_moved && [ "$(date +%s)" -lt "$end" ]; do
    mon_up && CTL status sleeper-1 >/dev/null && answered=$((answered + 1))
    sleep 0.5
done
ok "three more probe cycles complete" cycles_moved
ok "the status endpoint and control socket answered throughout ($answered polls)" \
    test "$answered" -ge 1
# The view's counters may be up to a second old (instanced(8)): read again briefly.
probed_twice() { p1=$(mon_json /api/v1/instances/sleeper-0 .probes); [ "$p1" -ge $((p0 + 2)) ]; }
wait_for 5 probed_twice
ok "each cycle probed the instances ($p0 -> $p1 probes of sleeper-0)" test "$p1" -ge $((p0 + 2))
# Two probes of one instance timing out in a row on a loaded machine make it unhealthy
# until its next probe (5 s later): waited for, over a few cycles.
if wait_for 20 healthy_is $N; then pass "still all healthy"
else fail "still all healthy: got '$(mon_json /api/v1/health .summary.healthy)', want $N"; fi
echo "# cycle duration $(mon_metric instanced_probe_cycle_duration_seconds) s," \
     "max $(mon_metric instanced_probe_cycle_max_duration_seconds) s," \
     "overruns $(mon_metric instanced_probe_cycle_overruns_total)"
t_done
