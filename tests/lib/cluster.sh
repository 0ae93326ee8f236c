# cluster.sh - three instanced nodes on this machine against tests/lib/etcd.sh's etcd
# (sourced after common.sh and etcd.sh, with t_init and etcd_start done).
#
#   cl_inventory FILE [ENDPOINTS]   # 12 contested instances (w-1..w-9, s-1..s-3 of the
#                                   # spread service s), w-p2 pinned to n2, w-p9 pinned
#                                   # to a node that never runs; every worker is
#                                   # /bin/sleep marked with CT_MARK=$CL_MARK
#   cl_head NAME SETTLE ENDPOINTS [LINE...]  # the globals and the cluster section
#   cl_service NAME [LINE...]       # a service of marked /bin/sleep workers
#   cl_node_start N [FILE]          # instanced --node nN, its own volumes, state,
#                                   # status port and control socket under $T/nN
#   cl_node_kill N [SIG]
#   cl_copies                       # "instance supervisor-pid" per live marked worker
#   cl_exactly_once                 # each of the 12 contested runs once, none twice
#   cl_no_duplicate                 # no instance runs twice (at this moment)
#   cl_checker_start                # sample every 100 ms until cl_checker_stop,
#   cl_checker_stop                 # which prints how many moments had two copies
#
# One inventory file serves every node: the per-node parts come from the environment
# (ND, SPORT), so each node's inventory hash is the same.

INSTANCED=$top_builddir/src/instanced
INSTANCECTL=$top_builddir/src/instancectl
CL_MARK="ct-$(basename "$T")"
CL_CONTESTED="w-1 w-2 w-3 w-4 w-5 w-6 w-7 w-8 w-9 s-1 s-2 s-3"
CL_TTL=4

# The head of an inventory every node can share: the per-node globals (ND and SPORT come
# from each node's environment), any further global LINEs, then the cluster section.
#   cl_head NAME SETTLE ENDPOINTS [LINE...]
cl_head() {
    _name=$1
    _settle=$2
    _eps=$(echo "$3" | sed 's/\([^,]*\)/"\1"/g; s/,/, /g')
    shift 3
    cat <<EOF
volumes_root    = "\${ND}/vol"
state_dir       = "\${ND}/state"
status_listen   = "127.0.0.1:\${SPORT}"
control_socket  = "\${ND}/ctl.sock"
health_interval = 60s
EOF
    for _l in "$@"; do echo "$_l"; done
    cat <<EOF
cluster {
    etcd_endpoints = { $_eps }
    name = "$_name"
    lease_ttl = ${CL_TTL}s
    settle = $_settle
}
EOF
}

# A service of marked /bin/sleep workers (stop_timeout 1s) with its further LINEs.
#   cl_service NAME [LINE...]
cl_service() {
    printf 'service "%s" {\n    command = "/bin/sleep"\n    args = { "100000" }\n' "$1"
    printf '    env = { "CT_MARK=%s" }\n    stop_timeout = 1s\n' "$CL_MARK"
    shift
    for _l in "$@"; do echo "    $_l"; done
    echo "}"
}

cl_inventory() {
    {
        cl_head itc 10s "${2:-$ETCD_ENDPOINTS}"
        cl_service w "restart_delay = 100ms" "ready_after = 100ms"
        cl_service s "ready_after = 100ms" "spread = true"
        for _i in 1 2 3 4 5 6 7 8 9; do echo "instance \"w-$_i\" { service = \"w\" }"; done
        for _i in 1 2 3; do echo "instance \"s-$_i\" { service = \"s\" }"; done
        echo 'instance "w-p2" { service = "w"  node = "n2" }'
        echo 'instance "w-p9" { service = "w"  node = "n9" }'
    } >"$1"
}

cl_node_start() {
    _n=$1
    mkdir -p "$T/n$_n"
    eval "_sport=\${CL_SPORT_$_n:-}"
    if [ -z "$_sport" ]; then
        _sport=$(free_port)
        eval "CL_SPORT_$_n=$_sport"
    fi
    ND="$T/n$_n" SPORT=$_sport "$INSTANCED" -c "${2:-$T/inv.conf}" --node "n$_n" \
        >>"$T/n$_n/out" 2>>"$T/n$_n/log" &
    eval "CL_PID_$_n=$!"
    at_exit "cl_node_kill $_n KILL"
}

cl_node_kill() {
    eval "_pid=\${CL_PID_$1:-}"
    [ -n "$_pid" ] || return 0
    kill "-${2:-KILL}" "$_pid" 2>/dev/null
    wait "$_pid" 2>/dev/null
    eval "CL_PID_$1="
    return 0
}

# Every live (not zombie) process carrying our mark: "instance parent-pid".
cl_copies() {
    python3 - "$CL_MARK" <<'PY'
import os, sys
mark = ("CT_MARK=" + sys.argv[1]).encode()
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        stat = open("/proc/%s/stat" % pid).read()
    except OSError:
        continue
    if mark not in env:
        continue
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        continue
    name = [e for e in env if e.startswith(b"SERVICE_INSTANCE_NAME=")]
    if name:
        print(name[0].split(b"=", 1)[1].decode(), fields[1])
PY
}

# The node (1..3) whose supervisor is PID, or "?".
cl_node_of() {
    for _k in 1 2 3 4; do
        eval "_p=\${CL_PID_$_k:-}"
        [ -n "$_p" ] && [ "$_p" = "$1" ] && { echo "n$_k"; return; }
    done
    echo "?"
}

# contested instances node N runs now, space-separated
cl_on_node() {
    eval "_p=\$CL_PID_$1"
    cl_copies | awk -v p="$_p" '$2 == p && $1 !~ /^w-p/ {print $1}' | tr '\n' ' '
}

# how many contested instances each of nodes 1..3 runs: "4 4 4 "
cl_counts() {
    _c=$(cl_copies)
    for _k in 1 2 3; do
        eval "_p=\$CL_PID_$_k"
        echo "$_c" | awk -v p="$_p" '$2 == p && $1 !~ /^w-p/' | wc -l
    done | tr '\n' ' '
}

cl_no_duplicate() {
    [ -z "$(cl_copies | awk '{print $1}' | sort | uniq -d)" ]
}

cl_exactly_once() {
    _c=$(cl_copies)
    for _i in $CL_CONTESTED; do
        [ "$(echo "$_c" | awk -v i="$_i" '$1 == i' | wc -l)" -eq 1 ] || return 1
    done
}

cl_api() {
    eval "_sport=\$CL_SPORT_$1"
    curl -sS --max-time 5 "http://127.0.0.1:$_sport$2"
}

cl_checker_start() {
    python3 - "$CL_MARK" "$T/dups" <<'PY' &
import os, sys, time
mark = ("CT_MARK=" + sys.argv[1]).encode()
out = open(sys.argv[2], "w")
while True:
    seen = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
            st = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark in env and st != "Z":
            n = [e for e in env if e.startswith(b"SERVICE_INSTANCE_NAME=")]
            if n:
                seen.setdefault(n[0], []).append(pid)
    for k, v in seen.items():
        if len(v) > 1:
            out.write("%.1f %s %s\n" % (time.time(), k.decode(), " ".join(v)))
            out.flush()
    time.sleep(0.1)
PY
    CL_CHECKER=$!
    at_exit "kill $CL_CHECKER"
}

cl_checker_stop() {
    kill "$CL_CHECKER" 2>/dev/null
    wait "$CL_CHECKER" 2>/dev/null
    wc -l <"$T/dups"
}
