#!/bin/sh
# instancectl's command line: -c FILE works before every command (provision too); a
# start asked for after a stop is not counted as a restart (restarts counts automatic
# restarts and instancectl restart); bash completion of commands, options and the
# supervisor's instance names.
. "$srcdir/tests/lib/common.sh"
t_init ctl-cli
. "$srcdir/tests/it_supervisor_lib.sh"

CTL=$top_builddir/src/instancectl
cat >"$T/inv.conf" <<EOF
$(sup_globals)
$(sup_service cl 'restart_delay = 100ms')
instance "cl-one" { service = "cl" }
instance "cl-two" { service = "cl" }
EOF
sup_start "$T/inv.conf" || fail "instanced starts"

# -c FILE before the command: the socket for status, the inventory for provision.
is "$("$CTL" -c "$T/inv.conf" list | tr '\n' ' ')" "cl-one cl-two " "instancectl -c FILE list (the socket from the inventory)"
"$CTL" -c "$T/inv.conf" provision --dry-run >"$T/prov.out" 2>&1; rc=$?
ok "-c FILE provision reaches provision (not: unknown command)" grep -q 'nothing to provision' "$T/prov.out"
ok "... and not a usage error ($rc)" test "$rc" -ne 64
"$CTL" --config="$T/inv.conf" provision --dry-run >"$T/prov2.out" 2>&1
ok "--config=FILE provision too" grep -q 'nothing to provision' "$T/prov2.out"
"$CTL" provision --dry-run >"$T/prov3.out" 2>&1
ok "provision without an inventory is refused" grep -q -- '-c FILE is required' "$T/prov3.out"
"$CTL" -c "$T/no-such.conf" provision >"$T/prov4.out" 2>&1; rc=$?
is "$rc" 1 "provision of a missing inventory fails"
ok "... naming the file" grep -q "no-such.conf" "$T/prov4.out"

# restarts: what counts.
field() {
    "$CTL" -s "$T/ctl.sock" --json status "$1" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0][sys.argv[1]])' "$2"
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }
ok "cl-one runs" wait_for 30 state_is cl-one running
is "$(field cl-one restarts)" 0 "no restart at first"
"$CTL" -s "$T/ctl.sock" stop cl-one >/dev/null
ok "stopped" wait_for 30 state_is cl-one stopped
"$CTL" -s "$T/ctl.sock" start cl-one >/dev/null
ok "started again" wait_for 30 state_is cl-one running
is "$(field cl-one restarts)" 0 "a start after a stop is not a restart"
is "$(field cl-one starts)" 2 "... it is a start"
p1=$(field cl-one pid)
"$CTL" -s "$T/ctl.sock" restart cl-one >/dev/null
newpid() { state_is cl-one running && [ "$(field cl-one pid)" != "$p1" ]; }
ok "restarted" wait_for 30 newpid
is "$(field cl-one restarts)" 1 "instancectl restart counts"
p2=$(field cl-one pid)
kill -9 "$p2"
newpid2() { state_is cl-one running && [ "$(field cl-one pid)" != "$p2" ]; }
ok "restarted after a crash" wait_for 30 newpid2
is "$(field cl-one restarts)" 2 "an automatic restart counts"
# instancectl restart of a stopped instance is still a restart.
"$CTL" -s "$T/ctl.sock" stop cl-two >/dev/null
ok "cl-two stopped" wait_for 30 state_is cl-two stopped
"$CTL" -s "$T/ctl.sock" restart cl-two >/dev/null
ok "cl-two runs" wait_for 30 state_is cl-two running
is "$(field cl-two restarts)" 1 "restart of a stopped instance counts"

# list: the names, for completion.
is "$("$CTL" -s "$T/ctl.sock" list | tr '\n' ' ')" "cl-one cl-two " "list prints the names"

# Bash completion, with the function called as bash would.
if command -v bash >/dev/null; then
    # complete WORDS...: COMPREPLY for the last word (sorted, one line).
    complete_words() {
        PATH="$top_builddir/src:$PATH" bash -c '
            . "$1/contrib/bash-completion/instancectl"
            shift
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
            _instancectl
            [ ${#COMPREPLY[@]} -eq 0 ] ||
                printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$srcdir" "$@"
    }
    is "$(complete_words instancectl st)" "start status stop " "commands"
    is "$(complete_words instancectl -s "$T/ctl.sock" restart cl-)" "cl-one cl-two " "instance names from the socket (-s)"
    is "$(complete_words instancectl -c "$T/inv.conf" stop cl-t)" "cl-two " "instance names through the inventory (-c)"
    is "$(complete_words instancectl -s "$T/ctl.sock" logs -f cl-one cl)" "cl-one cl-two " "logs: several names"
    is "$(complete_words instancectl -s "$T/ctl.sock" logs --f)" "--follow " "logs options"
    is "$(complete_words instancectl -s "$T/ctl.sock" start cl-one cl)" "" "start takes one name"
    is "$(complete_words instancectl -s "$T/no.sock" start cl)" "" "no supervisor: no names, no error"
    is "$(complete_words instancectl --js)" "--json " "options"
    is "$(complete_words instancectl provision --d)" "--dry-run " "provision options"
    touch "$T/x-inventory.conf"
    is "$(complete_words instancectl -c "$T/x-inv")" "$T/x-inventory.conf " "-c completes files"
    is "$(PATH="$top_builddir/src:$PATH" bash -c '. "$1/contrib/bash-completion/instanced"
        COMP_WORDS=(instanced --fore); COMP_CWORD=1; _instanced; echo "${COMPREPLY[*]}"' _ "$srcdir")" \
        "--foreground" "instanced options"
else
    fail "bash is needed to test the completion"
fi

sup_stop
t_done
