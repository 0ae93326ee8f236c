# it_monitor_lib.sh - helpers for the monitoring integration tests (sourced, not a test).
#
#   . "$srcdir/tests/lib/common.sh"; . "$srcdir/tests/it_monitor_lib.sh"
#   t_init NAME
#   mon_inventory 1s 500ms          # writes the global part of $INV (free status port)
#   mon_service tw "$TW" '/api/v1/health'   # a service block (command, health_path)
#   mon_instance tw-A tw 'env = {"TW_HEALTH=healthy"}'   # an instance on a free port
#   mon_instances sleeper 500       # sleeper-0 .. sleeper-499 of service sleeper, no port
#   mon_start                        # runs instanced in the background, waits for it
#   mon_json /api/v1/health '.status'   # GET and jq
#   mon_metric instanced_probe_cycles_total   # one value of GET /metrics
#   healthy_is 500                   # the combined health counts 500 healthy
#   CTL status; echo $?             # instancectl on the test's control socket

# Ports for these tests come from below the kernel's ephemeral range: free_port (port 0)
# hands out ephemeral ports, which other tests running in parallel and the probes' own
# outgoing connections keep taking, so a port found free could be gone when the worker
# binds it. mon_ports N prints N distinct ports that are free now and not in $MON_USED.
mon_ports() {
    MON_USED=$MON_USED python3 - "$1" <<'EOF'
import os, random, socket, sys
lo, hi = 20000, 32000
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        eph = int(f.read().split()[0])
    hi = min(hi, eph - 1)
except (OSError, ValueError):
    pass
if hi - lo < 1000:  # an unusual ephemeral range: take what is left above 1024
    lo, hi = 1025, 65535
used = set(int(p) for p in os.environ.get("MON_USED", "").split())
n, got, socks = int(sys.argv[1]), [], []
while len(got) < n:
    p = random.randint(lo, hi)
    if p in got or p in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    socks.append(s)
    got.append(p)
print("\n".join(map(str, got)))
EOF
}
# mon_new_port: sets MON_PORT to a free port not handed out before in this test.
MON_USED=""
mon_new_port() {
    while :; do
        MON_PORT=$(mon_ports 1)
        case " $MON_USED " in *" $MON_PORT "*) ;; *) break ;; esac
    done
    MON_USED="$MON_USED $MON_PORT"
}

INSTANCED="$top_builddir/src/instanced"
INSTANCECTL="$top_builddir/src/instancectl"
TW="$top_builddir/tests/test-worker"
HOSTILE="$srcdir/tests/hostile_health.py"

mon_inventory() {
    INV="$T/inventory.conf"
    mon_new_port
    STATUS_PORT=$MON_PORT
    BASE="http://127.0.0.1:$STATUS_PORT"
    SOCK="$T/run/control.sock"
    cat >"$INV" <<EOF
environment     = "test"
version         = "9.9.9"
volumes_root    = "$T/volumes"
state_dir       = "$T/state"
status_listen   = "127.0.0.1:$STATUS_PORT"
control_socket  = "$SOCK"
health_interval = ${1:-1s}
health_timeout  = ${2:-500ms}
EOF
}

# mon_service NAME COMMAND HEALTH_PATH [EXTRA LINES...]
mon_service() {
    _n=$1 _c=$2 _h=$3
    shift 3
    {
        echo "service \"$_n\" {"
        echo "    command = \"$_c\""
        [ -n "$_h" ] && echo "    health_path = \"$_h\""
        for _l in "$@"; do echo "    $_l"; done
        echo "}"
    } >>"$INV"
}

# mon_instance NAME SERVICE [EXTRA LINES...]; the port goes to PORT_<NAME with - as _>.
mon_instance() {
    _n=$1 _s=$2
    shift 2
    mon_new_port
    _p=$MON_PORT
    eval "PORT_$(echo "$_n" | tr '-' '_')=$_p"
    {
        echo "instance \"$_n\" {"
        echo "    service = \"$_s\""
        echo "    port = $_p"
        for _l in "$@"; do echo "    $_l"; done
        echo "}"
    } >>"$INV"
}

# mon_instances SERVICE N: instances SERVICE-0 .. SERVICE-(N-1) of SERVICE, without a port.
mon_instances() {
    _i=0
    while [ $_i -lt "$2" ]; do
        printf 'instance "%s-%d" {\n    service = "%s"\n}\n' "$1" $_i "$1" >>"$INV"
        _i=$((_i + 1))
    done
}

mon_up() { curl -fsS -o /dev/null "$BASE/api/v1/instances"; }

mon_up_or_gone() { mon_up || ! kill -0 "$MON_PID" 2>/dev/null; }

# mon_start: run instanced on $INV and wait until its status endpoint answers. A port
# found free by mon_ports can be taken by a test running beside this one before
# instanced binds it: when instanced exits because its status_listen is in use, the
# inventory gets another free port and instanced is started again (up to 5 times).
mon_start() {
    _tries=0
    while :; do
        "$INSTANCED" -c "$INV" >"$T/instanced.log" 2>&1 &
        MON_PID=$!
        at_exit "kill $MON_PID 2>/dev/null; wait $MON_PID 2>/dev/null"
        wait_for 30 mon_up_or_gone
        mon_up && return 0
        if ! kill -0 "$MON_PID" 2>/dev/null && [ "$_tries" -lt 5 ] &&
            grep -q '(status_listen): Address already in use' "$T/instanced.log"; then
            wait "$MON_PID" 2>/dev/null
            _tries=$((_tries + 1))
            mon_new_port
            echo "# status port $STATUS_PORT was taken meanwhile: trying $MON_PORT"
            STATUS_PORT=$MON_PORT
            BASE="http://127.0.0.1:$STATUS_PORT"
            sed -i "s/^status_listen .*/status_listen   = \"127.0.0.1:$STATUS_PORT\"/" "$INV"
            continue
        fi
        echo "# instanced did not come up:"; sed 's/^/#   /' "$T/instanced.log"
        return 1
    done
}

mon_stop() {
    kill "$MON_PID" 2>/dev/null
    wait "$MON_PID" 2>/dev/null
}

# mon_json PATH JQ_FILTER: GET PATH from the status endpoint, print the filter's value.
mon_json() { curl -sS "$BASE$1" | jq -r "$2"; }

# HTTP code of a GET (or of METHOD when given as $2).
mon_code() { curl -s -o /dev/null -w '%{http_code}' -X "${2:-GET}" "$BASE$1"; }

CTL() { "$INSTANCECTL" -s "$SOCK" "$@"; }

# inst_is NAME JQ_EXPR: the instance's object satisfies the boolean jq expression.
inst_is() { [ "$(mon_json "/api/v1/instances/$1" "$2")" = "true" ]; }

overall_is() { [ "$(mon_json /api/v1/health .status)" = "$1" ]; }

# Print the supervisor's log on failure, to make a red test readable.
mon_dump_log() {
    [ "$T_FAILS" -gt 0 ] && [ -f "$T/instanced.log" ] && tail -40 "$T/instanced.log" | sed 's/^/#   /'
    return 0
}

# VmRSS of a pid, in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# jqe FILTER FILE: FILE is not empty and the filter is true for it (quietly). (jq -e
# alone succeeds on empty input.)
jqe() { [ -s "$2" ] && jq -e "$1" "$2" >/dev/null; }

# jurl URL FILTER [JQ ARGS...]: GET URL succeeds with a body for which FILTER is true.
jurl() {
    _u=$1 _f=$2
    shift 2
    _b=$(curl -sS "$_u") && [ -n "$_b" ] && printf '%s' "$_b" | jq -e "$@" "$_f" >/dev/null
}

# mon_metric NAME: the value of the sample NAME (without labels) in GET /metrics.
mon_metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
healthy_is() { [ "$(mon_json /api/v1/health .summary.healthy)" = "$1" ]; }

# health_is FILTER: the combined health satisfies FILTER.
health_is() { jurl "$BASE/api/v1/health" "$1"; }
