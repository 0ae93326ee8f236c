#!/bin/sh
# More instances than probes may be in flight at once (256 by default; the test sets
# 16 with INSTANCED_PROBE_MAX_IN_FLIGHT to stay light beside other tests): a probe
# cycle starts the next probe as one ends instead of all of them at once, so the
# supervisor never holds one socket or process per instance for its probes. 40
# instances whose exec probe takes two seconds: instanced_probes_in_flight, sampled
# while cycles run, never goes above the cap, and every instance still gets probed and
# healthy.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init probe-inflight
at_exit mon_dump_log

N=40
CAP=16
INSTANCED_PROBE_MAX_IN_FLIGHT=$CAP
export INSTANCED_PROBE_MAX_IN_FLIGHT
mon_inventory 10s 4s
mon_service sleeper sleep "" 'args = {"100000"}' \
    'health_command = {"sh", "-c", "sleep 2; echo ok"}' 'stop_timeout = 2s'
mon_instances sleeper $N
ulimit -n 4096 2>/dev/null || true
mon_start || { fail "instanced starts"; t_done; exit 1; }


# Sample the gauge until all are healthy and two more cycles have completed.
max=0
samples=0
c0=
end=$(( $(date +%s) + 120 ))
while [ "$(date +%s)" -lt "$end" ]; do
    v=$(mon_metric instanced_probes_in_flight)
    if [ -n "$v" ]; then
        samples=$((samples + 1))
        [ "$v" -gt "$max" ] && max=$v
    fi
    if [ -z "$c0" ] && healthy_is $N; then
        c0=$(mon_metric instanced_probe_cycles_total)
    fi
    if [ -n "$c0" ] && [ "$(mon_metric instanced_probe_cycles_total)" -ge $((c0 + 2)) ]; then
        break
    fi
    sleep 0.1
done
echo "# probes in flight: max $max over $samples samples"
ok "all $N instances got healthy" test -n "$c0"
ok "two more probe cycles completed" test -n "$c0" -a \
    "$(mon_metric instanced_probe_cycles_total)" -ge "$((${c0:-0} + 2))"
ok "probes were seen in flight" test "$max" -gt 0
ok "never more than $CAP probes in flight (max $max)" test "$max" -le $CAP
t_done
