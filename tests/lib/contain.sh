# contain.sh - what the containment tests share (sourced after it_supervisor_lib.sh, with
# CT_MARKERS naming the marker programs the test uses):
#
#   $T/bin/MARKER         /bin/sleep under names unique to this run, so that pgrep -x
#                         finds exactly this test's processes (by comm, which is also
#                         what the supervisor logs)
#   live NAME             pids of live (not zombie) processes whose comm is NAME
#   nlive NAME, nlive_is NAME N
#   state NAME, state_is NAME STATE    the instance's state, from instancectl
#
# At exit the supervisor goes first (so it restarts nothing), then everything left in
# the cgroup subtrees this test's supervisors made (from their logs) is killed and the
# directories are removed: cgroups outlive a crashed test.

CTL=$top_builddir/src/instancectl
SOCK=$T/ctl.sock

mkdir "$T/bin"
for _m in $CT_MARKERS; do ln -s "$(command -v sleep)" "$T/bin/$_m"; done

live() {
    for _p in $(pgrep -x "$1"); do
        _s=$(sed 's/.*) //' "/proc/$_p/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$_s" ] && [ "$_s" != Z ] && printf '%s ' "$_p"
    done
    :
}
nlive() { set -- $(live "$1"); echo $#; }
nlive_is() { [ "$(nlive "$1")" -eq "$2" ]; }

state() { "$CTL" -s "$SOCK" --json status "$1" 2>/dev/null | jq -r '.instances[0].state'; }
state_is() { [ "$(state "$1")" = "$2" ]; }

subtrees() { sed -n 's/.*msg="containment: a cgroup per instance" cgroups=\([^ ]*\).*/\1/p' "$T"/sup*.log 2>/dev/null | sort -u; }
cg_cleanup() {
    [ -n "${SUP_PID:-}" ] && kill -9 "$SUP_PID" 2>/dev/null
    for _m in $CT_MARKERS; do pkill -9 -x "$_m"; done
    for _st in $(subtrees); do
        [ -d "$_st" ] || continue
        for _l in "$_st"/*/; do
            [ -f "$_l/cgroup.kill" ] && echo 1 >"$_l/cgroup.kill"
            for _p in $(cat "$_l/cgroup.procs" 2>/dev/null); do kill -9 "$_p"; done
        done
        wait_for 10 sh -c "! grep -q 'populated 1' '$_st/cgroup.events'"
        find "$_st" -mindepth 1 -depth -type d -exec rmdir {} \;
        rmdir "$_st"
    done
}
at_exit cg_cleanup
