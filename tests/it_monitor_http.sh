#!/bin/sh
# The status endpoint at the byte level, as a pipelining client sees it: answers to
# HEAD carry headers only, a CONNECT is answered 405 and its connection closed, and an
# instance name is looked up whole (a %00 in it is no instance, not a shorter name).
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init monitor-http
at_exit mon_dump_log

mon_inventory 60s 500ms
mon_service tw "$TW" ""
mon_instance tw-A tw
mon_start || { fail "instanced starts"; t_done; }

# raw REQUEST_BYTES: send them on one connection, then print every byte the server
# sends until it closes the connection (at most 5 s: less than the idle timeout):
# "CLOSED" or "OPEN" on the first line, then the bytes as they came.
raw() {
    python3 - "$STATUS_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
got = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            print("CLOSED")
            break
        got += b
except socket.timeout:
    print("OPEN")
sys.stdout.buffer.write(got)
PY
}

# answers FILE: split the bytes after the first line of FILE into HTTP answers, using
# Content-Length (or none) and the request methods in $METHODS; print one line per
# answer: "STATUS BODY_LENGTH", then what is left over, if anything.
answers() {
    python3 - "$1" "$METHODS" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
first, _, data = data.partition(b"\n")
print(first.decode())
for m in sys.argv[2].split():
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 "):
        break
    lines = head.split(b"\r\n")
    h = {k.strip().lower(): v.strip() for k, _, v in (l.partition(b":") for l in lines[1:])}
    n = int(h.get(b"content-length", b"0"))
    body_len = 0 if m == "HEAD" else n
    print("%s %s len=%d %s" % (m, lines[0].split()[1].decode(), n,
                               "body=%d" % body_len))
    data = rest[body_len:]
print("rest=%d" % len(data))
PY
}

ok "tw-A is running" wait_for 10 inst_is tw-A '.state == "running"'
# The targets do not change while nothing happens: a HEAD and a GET of them agree.
REQ="HEAD /api/v1/prometheus/targets HTTP/1.1\r\nHost: x\r\n\r\n"
REQ="${REQ}HEAD /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
REQ="${REQ}GET /api/v1/prometheus/targets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
raw "$REQ" >"$T/pipe.out"
METHODS="HEAD HEAD GET" answers "$T/pipe.out" >"$T/pipe.txt"
glen=$(curl -s "$BASE/api/v1/prometheus/targets" | wc -c)
hlen=$(curl -s "$BASE/api/v1/health" | wc -c)
is "$(tr '\n' '|' <"$T/pipe.txt")" \
    "CLOSED|HEAD 200 len=$glen body=0|HEAD 200 len=$hlen body=0|GET 200 len=$glen body=$glen|rest=0|" \
    "two HEADs and a GET pipelined: three answers, no body bytes after a HEAD"
ok "the GET's body is the targets" grep -q '"instance_name":"tw-A"' "$T/pipe.out"
is "$(curl -s -I "$BASE/api/v1/health" -o /dev/null -w '%{http_code} %{size_download}')" \
    "200 0" "curl -I: 200 and no body"

raw "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n" >"$T/connect.out"
is "$(head -n 1 "$T/connect.out")" CLOSED "the server closes the connection after a CONNECT"
ok "the CONNECT is answered 405" grep -q '^HTTP/1.1 405 Method Not Allowed' "$T/connect.out"
ok "with Connection: close" grep -qi '^Connection: close' "$T/connect.out"
METHODS=CONNECT answers "$T/connect.out" >"$T/connect.txt"
ok "and a Content-Length that matches its body" grep -q '^rest=0$' "$T/connect.txt"
raw "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n" >"$T/connect2.out"
is "$(grep -c '^HTTP/1.1 ' "$T/connect2.out")" 1 "nothing is served after a CONNECT on its connection"

is "$(mon_code /api/v1/instances/tw-A%00x)" 404 "tw-A%00x is no instance (404)"
is "$(mon_code /api/v1/instances/tw-A%00)" 404 "tw-A%00 is no instance (404)"
is "$(mon_code /api/v1/instances/tw-%41)" 200 "a percent-encoded valid name is still found"
is "$(mon_code '/api/v1/instances/tw-A%0d%0a')" 404 "a name with CR LF is no instance"
is "$(mon_code '/api/v1/instances/tw-A%2f..')" 404 "a name with a slash is no instance"
is "$(mon_code /api/v1/instances/tw-A)" 200 "tw-A itself is found"

# The JSON views are kept between requests and compressed when the client asks: the
# gzip answer is the same document, and a state change shows at once (the kept copy is
# dropped by the change, not by a timer).
curl -s -D "$T/gz.h" -H 'Accept-Encoding: gzip' "$BASE/api/v1/health" -o "$T/gz.body"
ok "gzip asked: Content-Encoding gzip" grep -qi '^Content-Encoding: gzip' "$T/gz.h"
ok "and Vary: Accept-Encoding" grep -qi '^Vary: Accept-Encoding' "$T/gz.h"
ok "the gzip body decompresses to the health document" \
    sh -c "gzip -dc '$T/gz.body' | jq -e '.instances[\"tw-A\"].state == \"running\"' >/dev/null"
curl -s -D "$T/id.h" "$BASE/api/v1/health" -o /dev/null
ok "not asked: no Content-Encoding" sh -c "! grep -qi '^Content-Encoding' '$T/id.h'"
is "$(curl -s -H 'Accept-Encoding: gzip;q=0' -D - -o /dev/null "$BASE/api/v1/health" |
      grep -ci '^Content-Encoding')" 0 "gzip;q=0 is a refusal"
is "$(curl -s -I -H 'Accept-Encoding: gzip' "$BASE/api/v1/health" -o /dev/null \
      -w '%{http_code} %{size_download}')" "200 0" "HEAD with gzip: headers only"
CTL stop tw-A >/dev/null
# instancectl stop answers while tw-A is still stopping. Wait on the control socket until
# it is stopped, reading the HTTP views meanwhile so that their kept copies are of the
# stopping instance; then the next answer of each must show the stop (the change drops
# the kept copy, not a timer).
ctl_state() { CTL --json status tw-A | jq -r '.instances[0].state'; }
stopped_seen() {
    curl -s "$BASE/api/v1/instances/tw-A" >/dev/null
    curl -s --compressed "$BASE/api/v1/health" >/dev/null
    curl -s --compressed "$BASE/api/v1/instances" >/dev/null
    [ "$(ctl_state)" = stopped ]
}
if wait_for 10 stopped_seen; then pass "tw-A stops (control socket)"
else fail "tw-A stops (control socket): got '$(ctl_state)'"; fi
is "$(curl -s "$BASE/api/v1/instances/tw-A" | jq -r .state)" stopped \
    "a stop shows in the very next answer"
is "$(curl -s --compressed "$BASE/api/v1/health" | jq -r '.instances["tw-A"].state')" stopped \
    "in the compressed one too"
is "$(curl -s --compressed "$BASE/api/v1/instances" | jq -r '.instances[0].state')" \
    stopped "and in the instance list"
t_done
