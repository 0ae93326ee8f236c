#!/bin/sh
# soak.sh - `make soak`: the supervisor under every kind of pressure at once, for
# SOAK_SECONDS (default 1800), then checks that nothing accumulated.
#
# Pressure, all on loopback and each a loop bounded by the deadline:
#   kill storm    SIGKILL a random worker of the "k" service every SOAK_KILL_MS (700)
#   reload storm  alternate the inventory between two valid versions (one extra
#                 instance added, then removed) every 2 s, by SIGHUP and by
#                 `instancectl reload` in turn
#   flood         a worker writing its log as fast as it can (small log_max_bytes, so
#                 rotation runs all the time)
#   hostile       health endpoints that hang, dribble, send 10 MiB, reset, close, lie
#   clients       8 curl loops on the status endpoint and instancectl status, plus
#                 slow clients that open 20 connections and send one byte a second
# Sampled every 10 s: the supervisor's open descriptors, its RSS and its zombie
# children. Checks at the end, after the pressure stops:
#   - descriptors back within SOAK_FD_SLACK (4) of the quiet count before the storms
#   - RSS grew less than SOAK_RSS_MAX_KIB (16384) from the first sample after the
#     warm-up (the first fifth of the run, at most 60 s) to the end
#   - no zombie child of the supervisor
#   - no lost restart: every worker killed came back, and the supervisor's restart
#     counters (/api/v1/instances) add up to at least the number of kills
# A summary table is printed; exit status 1 when a check fails.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init soak

SECS=${SOAK_SECONDS:-1800}
KILL_MS=${SOAK_KILL_MS:-700}
FD_SLACK=${SOAK_FD_SLACK:-4}
RSS_MAX=${SOAK_RSS_MAX_KIB:-16384}
WARMUP=$(( SECS / 5 < 60 ? SECS / 5 : 60 ))
PY=$(command -v python3)
NKILL=4

for t in curl jq python3; do
    command -v $t >/dev/null || { fail "$t is installed (scripts/deps.sh)"; t_done; }
done

# Two inventories: B is A plus one instance, so every reload starts or stops one.
mon_inventory 1s 500ms
mon_service k "$TW" /api/v1/health 'start_limit_burst = 1000000' 'restart_delay = 50ms'
for i in $(seq 1 $NKILL); do mon_instance "k-$i" k; done
mon_service flood "$TW" '' 'env = {"TW_FLOOD_BYTES=forever"}' 'log_max_bytes = 256KiB' \
    'log_backups = 2'
mon_instance flood-1 flood
mon_service hostile "$PY" /api/v1/health "args = {\"$HOSTILE\"}" 'start_limit_burst = 1000000'
for m in hang slow huge reset close badjson; do
    mon_instance "hostile-$m" hostile "env = {\"HOSTILE_MODE=$m\"}"
done
cp "$INV" "$T/inv-a.conf"
mon_new_port
cat >>"$INV" <<EOF2
instance "k-extra" {
    service = "k"
    port = $MON_PORT
}
EOF2
cp "$INV" "$T/inv-b.conf"
cp "$T/inv-a.conf" "$INV"

mon_start || { fail "instanced starts"; t_done; }
SUP_PID=$MON_PID
all_running() {
    [ "$(mon_json /api/v1/instances '[.instances[] | select(.name | startswith("k-")) | select(.name != "k-extra") | select(.pid != null)] | length')" = "$NKILL" ]
}
wait_for 20 all_running || fail "the k workers start"
# The quiet descriptor count: everything started, no client connected.
sleep 2   # let the first probes of the hostile endpoints settle (they time out in 0.5 s)
FD0=$(ls "/proc/$SUP_PID/fd" | wc -l)
END=$(( $(date +%s) + SECS ))
echo "# soak: ${SECS}s, supervisor pid $SUP_PID, quiet fds $FD0"

running_until() { [ "$(date +%s)" -lt "$END" ]; }

# Kill storm: kills per instance counted in $T/kills.
kill_storm() {
    while running_until; do
        n=$(( $(od -An -N2 -tu2 /dev/urandom) % NKILL + 1 ))
        pid=$(mon_json "/api/v1/instances/k-$n" '.pid // empty' 2>/dev/null)
        if [ -n "$pid" ] && [ "$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)" = "$SUP_PID" ] &&
            kill -9 "$pid" 2>/dev/null; then
            echo "k-$n" >>"$T/kills"
        fi
        sleep "$(awk "BEGIN { print $KILL_MS / 1000 }")"
    done
}

reload_storm() {
    i=0
    while running_until; do
        i=$((i + 1))
        if [ $((i % 2)) -eq 1 ]; then src=$T/inv-b.conf; else src=$T/inv-a.conf; fi
        cp "$src" "$INV.tmp" && mv "$INV.tmp" "$INV"
        if [ $(( (i / 2) % 2 )) -eq 0 ]; then
            kill -HUP "$SUP_PID"
        else
            timeout 20 "$INSTANCECTL" -s "$SOCK" reload >/dev/null 2>&1 ||
                echo "reload $i failed" >>"$T/reload-errors"
        fi
        echo "$i" >"$T/reloads"
        sleep 2
    done
}

client_loop() {
    while running_until; do
        curl -s -m 10 -o /dev/null "$BASE/api/v1/instances"
        curl -s -m 10 -o /dev/null "$BASE/api/v1/health"
        curl -s -m 10 -o /dev/null "$BASE/metrics"
        timeout 20 "$INSTANCECTL" -s "$SOCK" status >/dev/null 2>&1
        echo x >>"$T/requests.$1"
    done
}

# Slow clients: 20 connections, one byte a second for 5 s each round, then closed.
slow_clients() {
    "$PY" - "$STATUS_PORT" "$END" <<'PY'
import socket, sys, time
port, end = int(sys.argv[1]), int(sys.argv[2])
while time.time() < end:
    socks = []
    for _ in range(20):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            socks.append(s)
        except OSError:
            pass
    req = b"GET /api/v1/instances HTTP/1.1\r\n"
    for i in range(5):
        for s in socks:
            try:
                s.send(req[i:i + 1])
            except OSError:
                pass
        time.sleep(1)
    for s in socks:
        s.close()
PY
}

# Samples: seconds since start, fds, RSS KiB, zombie children.
sample_loop() {
    t0=$(date +%s)
    while running_until; do
        z=0
        for c in $(pgrep -P "$SUP_PID"); do
            [ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" = Z ] && z=$((z + 1))
        done
        echo "$(( $(date +%s) - t0 )) $(ls "/proc/$SUP_PID/fd" | wc -l) $(rss_kib "$SUP_PID") $z" \
            >>"$T/samples"
        sleep 10
    done
}

: >"$T/kills"
: >"$T/reload-errors"
sample_loop & P1=$!
kill_storm & P2=$!
reload_storm & P3=$!
slow_clients & P4=$!
CP=""
for c in 1 2 3 4 5 6 7 8; do client_loop "$c" & CP="$CP $!"; done
at_exit "kill $P1 $P2 $P3 $P4 $CP 2>/dev/null"
wait $P1 $P2 $P3 $P4 $CP

# Quiet again: the inventory A (no extra instance), then every check.
cp "$T/inv-a.conf" "$INV" && kill -HUP "$SUP_PID"
ok "instanced is still running" kill -0 "$SUP_PID"
ok "every killed worker came back" wait_for 30 all_running
fds_settled() { [ "$(ls "/proc/$SUP_PID/fd" | wc -l)" -le $((FD0 + FD_SLACK)) ]; }
wait_for 30 fds_settled
FD1=$(ls "/proc/$SUP_PID/fd" | wc -l)
no_zombies() {
    for c in $(pgrep -P "$SUP_PID"); do
        [ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" = Z ] && return 1
    done
    return 0
}
wait_for 10 no_zombies
ZEND=0
for c in $(pgrep -P "$SUP_PID"); do
    [ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" = Z ] && ZEND=$((ZEND + 1))
done
RSS_END=$(rss_kib "$SUP_PID")
RSS_WARM=$(awk -v w="$WARMUP" '$1 >= w { print $3; exit }' "$T/samples")
: "${RSS_WARM:=$(awk 'NR == 1 { print $3 }' "$T/samples")}"
KILLS=$(wc -l <"$T/kills")
RESTARTS=$(mon_json /api/v1/instances '[.instances[] | select(.name | test("^k-[0-9]+$")) | .restarts] | add')
RELOADS=$(cat "$T/reloads" 2>/dev/null || echo 0)
RELOAD_ERR=$(wc -l <"$T/reload-errors" 2>/dev/null || echo 0)
REQS=$(cat "$T"/requests.* 2>/dev/null | wc -l)
FDMAX=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$T/samples")
RSSMAX=$(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { print m }' "$T/samples")
ZMAX=$(awk 'BEGIN { m = 0 } $4 > m { m = $4 } END { print m }' "$T/samples")
LOST=$(( KILLS > RESTARTS ? KILLS - RESTARTS : 0 ))
# Evidence that the flood and the hostile endpoints really ran.
FLOOD_FILES=$(find "$T/volumes" -name 'flood-1.log*' | wc -l)
FLOOD_KIB=$(find "$T/volumes" -name 'flood-1.log*' -exec du -ck {} + | awk 'END { print $1 }')
HOSTILE=$(mon_json /api/v1/instances '[.instances[] | select(.name | startswith("hostile-")) | .health // .state] | group_by(.) | map("\(.[0]) x\(length)") | join(", ")')

echo "# samples (s fds rss_kib zombies):"
sed 's/^/#   /' "$T/samples"
cat <<EOF2
soak summary (${SECS}s)
  measure                          value        bound
  kills (SIGKILL to k-*)           $KILLS
  restarts counted (k-*)           $RESTARTS        >= kills
  lost restarts                    $LOST            0
  reloads (SIGHUP + instancectl)   $RELOADS         (failed: $RELOAD_ERR)
  status/ctl rounds (8 clients)    $REQS
  flood: log files / KiB at end    $FLOOD_FILES / $FLOOD_KIB   (rotated at 256 KiB, 2 backups)
  hostile endpoints' health        $HOSTILE
  fds quiet before / after         $FD0 / $FD1      after <= before + $FD_SLACK
  fds max while storming           $FDMAX
  RSS KiB after warm-up / end      $RSS_WARM / $RSS_END   growth < $RSS_MAX
  RSS KiB max                      $RSSMAX
  zombies max sampled / at end     $ZMAX / $ZEND        0 at end
EOF2
is "$LOST" 0 "no lost restart ($KILLS kills, $RESTARTS restarts)"
ok "descriptors back to $FD0 + $FD_SLACK (now $FD1)" [ "$FD1" -le $((FD0 + FD_SLACK)) ]
ok "RSS growth $((RSS_END - RSS_WARM)) KiB < $RSS_MAX KiB" [ $((RSS_END - RSS_WARM)) -lt "$RSS_MAX" ]
is "$ZEND" 0 "no zombie children at the end"
is "$RELOAD_ERR" 0 "every instancectl reload answered"
[ "$T_FAILS" -eq 0 ] || tail -n 60 "$T/instanced.log" | sed 's/^/#   /'
t_done
