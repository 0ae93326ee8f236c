#!/bin/sh
# 200 instances of the test worker: every probe cycle completes within one interval
# (instanced_probe_cycle_*), all are probed every cycle, the status stays prompt.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init monitor-scale
at_exit mon_dump_log

N=${MONITOR_SCALE_N:-200}
INTERVAL_MS=1000
mon_inventory ${INTERVAL_MS}ms 500ms
mon_service tw "$TW" /api/v1/health 'entity_type = "exchange"'
mon_ports "$N" >"$T/ports"   # excludes the status port (MON_USED)
i=0
while read -r port; do
    i=$((i + 1))
    printf 'instance "tw-N%03d" {\n    service = "tw"\n    port = %s\n}\n' "$i" "$port" >>"$INV"
done <"$T/ports"
mon_start || { fail "instanced starts"; t_done; }

ok "all $N instances become healthy" wait_for 60 sh -c "[ \"\$(curl -s $BASE/api/v1/health | jq .summary.healthy)\" = $N ]"
is "$(mon_json /api/v1/health .status)" healthy "combined healthy with $N instances"

# Watch five cycles after start-up (start-up itself, 200 workers coming up at once, is
# not what is measured): sample the last cycle's duration a few times per interval.
c0=$(mon_metric instanced_probe_cycles_total)
o0=$(mon_metric instanced_probe_cycle_overruns_total)
p0=$(mon_json /api/v1/instances/tw-N001 .probes)
maxs=0
end=$(( $(now_ms) + 15000 ))
while :; do
    curl -s "$BASE/metrics" >"$T/m"
    c=$(awk '$1 == "instanced_probe_cycles_total" { print $2 }' "$T/m")
    d=$(awk '$1 == "instanced_probe_cycle_duration_seconds" { print $2 }' "$T/m")
    [ "$(echo "$d > $maxs" | bc -l)" = 1 ] && maxs=$d
    [ "$c" -ge $((c0 + 5)) ] && break
    [ "$(now_ms)" -ge "$end" ] && break
    sleep 0.2
done
ok "five more probe cycles complete" test "$c" -ge $((c0 + 5))
echo "# probe cycle of $N instances: longest of the last 5 ${maxs}s (since start" \
    "$(mon_metric instanced_probe_cycle_max_duration_seconds)s), interval $((INTERVAL_MS / 1000))s"
ok "every probe cycle (longest ${maxs}s) fits in one interval" \
    test "$(echo "$maxs < $INTERVAL_MS / 1000" | bc -l)" = 1
is "$(mon_metric instanced_probe_cycle_overruns_total)" "$o0" "no probe cycle overran the interval"
# Every instance was probed in those cycles, not only some. (The document may be up to
# a second old: probe counters alone do not make it render again.)
ok "every instance was probed at least 4 more times" \
    wait_for 5 jurl "$BASE/api/v1/instances" '[.instances[].probes] | min >= $p + 4' --argjson p "$p0"
ok "every instance's last probe is recent" \
    jurl "$BASE/api/v1/instances" '[.instances[].last_check] | all(. >= $now)' \
        --arg now "$(date -u -d '-3 seconds' +%Y-%m-%dT%H:%M:%SZ)"
t0=$(now_ms)
curl -s "$BASE/metrics" >"$T/metrics.txt"
t1=$(now_ms)
ok "/metrics for $N instances in $((t1 - t0)) ms" test $((t1 - t0)) -lt 1000
if command -v promtool >/dev/null; then
    ok "promtool check metrics with $N instances" sh -c "promtool check metrics <'$T/metrics.txt'"
fi
is "$(CTL status | grep -c '^tw-N')" "$N" "instancectl status lists $N instances"
echo "# supervisor VmRSS: $(rss_kib "$MON_PID") KiB"
t_done
