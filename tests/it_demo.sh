#!/bin/bash
# scripts/demo.sh, as a newcomer runs it, on free ports and in a scratch directory:
# - with its status port held by a listener that never answers, it fails at once,
#   non-zero, naming the port, and starts no server;
# - otherwise it brings up 8+ healthy instances, two of one service side by side with
#   their own schema, namespace, role and ACL user; a Ctrl-C (SIGINT to its process
#   group, as a terminal sends it) stops instanced with one signal, gracefully (no
#   "second stop signal"), then the servers, and the demo exits 130.
. "$srcdir/tests/lib/common.sh"
t_init demo
demo="$srcdir/scripts/demo.sh"
export INSTANCED_DEMO_BUILD_DIR="$top_builddir"

# Every instance port of the demo inventory, moved to a free one.
for var in $(grep -o 'INSTANCED_DEMO_PORT_[A-Z_]*' "$srcdir/etc/demo.conf" | sort -u); do
    export "$var=$(free_port)"
done

# 1. The status port is taken by a listener that accepts nothing.
held=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("ready", flush=True); time.sleep(600)' "$held" >"$T/holder.out" &
holder=$!
at_exit "kill $holder"
wait_for 10 grep -q ready "$T/holder.out" || fail "the port holder listens"
start=$(date +%s)
INSTANCED_DEMO_DIR="$T/held" INSTANCED_DEMO_STATUS_PORT=$held DEMO_SECONDS=30 \
    timeout 120 "$demo" >"$T/held.out" 2>&1 && rc=0 || rc=$?
took=$(( $(date +%s) - start ))
sed 's/^/# held: /' "$T/held.out"
ok "port taken: the demo fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
ok "port taken: it says which port and why" \
    grep -q "status port 127.0.0.1:$held is in use" "$T/held.out"
ok "port taken: it fails before starting any server ($took s)" test ! -e "$T/held/pg/data"
kill "$holder" 2>/dev/null

# 2. The fleet, then a Ctrl-C.
export INSTANCED_DEMO_STATUS_PORT=$(free_port)
export INSTANCED_DEMO_DIR="$T/run"
# A terminal's foreground job has SIGINT at its default action; a job started with &
# by a script has it ignored (and bash cannot trap it then), so reset it, and give the
# demo its own process group to send the "Ctrl-C" to.
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' \
    "$demo" >"$T/run.out" 2>&1 &
pgid=$!
stop_demo() {
    kill -TERM "$pgid" 2>/dev/null
    wait_for 60 gone
    [ -s "$T/run/instanced.pid" ] && kill -KILL "$(cat "$T/run/instanced.pid")"
    [ -s "$T/run/redis.pid" ] && kill "$(cat "$T/run/redis.pid")"
    [ -f "$T/run/pg/data/postmaster.pid" ] &&
        kill "$(head -n1 "$T/run/pg/data/postmaster.pid")"
}
at_exit stop_demo
wait_for 150 grep -q 'the fleet runs; Ctrl-C stops it' "$T/run.out" ||
    { cat "$T/run.out"; fail "the demo fleet comes up"; t_done; }
# The printout: a header, one row per instance, then the summary lines.
sed -n '/^INSTANCE /,/^several instances/p' "$T/run.out" >"$T/table"
sed 's/^/# /' "$T/table"
healthy=$(awk 'NR > 1 && NF == 8 && $6 ~ /^[0-9]+$/ && $NF == "healthy"' "$T/table" | wc -l)
ok "8+ instances healthy (got $healthy)" test "$healthy" -ge 8
row() { awk -v n="$1" 'NR > 1 && $1 == n' "$T/table" | head -n1 | tr -s ' '; }
is "$(row exchange-OKX | cut -d' ' -f2-5)" \
    "exchange-simulator exchange_okx exchange:OKX inst_exchange_okx" "exchange-OKX's names"
is "$(row exchange-Binance | cut -d' ' -f2-5)" \
    "exchange-simulator exchange_binance exchange:Binance inst_exchange_binance" \
    "exchange-Binance's names"
is "$(row exchange-Binance | awk '{print $NF}')" "healthy" "exchange-Binance is healthy"
ok "the printout names the services with several instances" \
    grep -q 'several instances of one service: .*exchange-simulator (exchange-OKX, exchange-Binance)' \
    "$T/run.out"

kill -INT -- -"$pgid"
# (An exited child stays a zombie until waited for: kill -0 alone cannot tell.)
gone() { ! kill -0 "$pgid" 2>/dev/null || ps -o stat= -p "$pgid" | grep -q Z; }
wait_for 120 gone || fail "the demo stops within 120 s of Ctrl-C"
wait "$pgid" && rc=0 || rc=$?
is "$rc" "130" "Ctrl-C: the demo exits 130"
ok "Ctrl-C: instanced is asked to stop once" \
    test "$(grep -c '^time=.* msg="shutting down"' "$T/run.out")" -eq 1
ok "Ctrl-C: no second stop signal (workers are not SIGKILLed)" \
    test "$(grep -c 'second stop signal\|stop timeout: killing' "$T/run.out")" -eq 0
ok "Ctrl-C: instanced stops" grep -q 'instanced stopped' "$T/run.out"
ok "Ctrl-C: Redis is stopped" test ! -e "/proc/$(cat "$T/run/redis.pid" 2>/dev/null || echo 0)"
ok "Ctrl-C: PostgreSQL is stopped" test ! -e "$T/run/pg/data/postmaster.pid"
tail -n 20 "$T/run.out" | sed 's/^/# end: /'
t_done
