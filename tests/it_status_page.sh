#!/bin/sh
# The status page on GET /, in a real headless Chromium: a fleet named like the example
# inventory with a healthy, a degraded, a failed and a waiting instance; the RENDERED
# page (after its script ran) must show each row as the API does, the banner, the
# counts, the filters, a phone-sized layout; a worker's message with markup stays text;
# a killed worker shows up within two refreshes without a reload; with instanced gone
# the banner says the endpoint is unreachable. Over HTTP: gzip when accepted, ETag and
# 304, the security headers, HEAD. Saves a screenshot (set STATUS_PAGE_SHOT=PATH to
# keep one, e.g. docs/status-page.png).
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init status-page
at_exit mon_dump_log

# The browser is part of the test, not an option: deps.sh installs it.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    fail "chromium is installed (scripts/deps.sh installs Debian's chromium)"
    t_done
fi

PY=$(command -v python3)
WORKER="$srcdir/tests/status_page_worker.py"
echo unhealthy >"$T/trading-status"
echo degraded >"$T/md-health"

mon_inventory 500ms 400ms
mon_service audit-correlator "$TW" /api/v1/health 'singleton = true'
mon_service test-coordinator "$TW" /api/v1/health 'singleton = true' \
    'entity_type = "test-coordinator"'
mon_service exchange-simulator "$TW" /api/v1/health 'instance_prefix = "exchange"' \
    'namespace_prefix = "exchange"' 'entity_type = "exchange"' 'restart = "always"'
mon_service custodian-simulator "$TW" /api/v1/health 'entity_type = "custodian"' \
    'restart = "never"'
mon_service market-data-simulator "$TW" /api/v1/health 'instance_prefix = "market-data"' \
    'namespace_prefix = "market_data"' 'entity_type = "market-data"'
mon_service trading-system-engine "$PY" /api/v1/health "args = {\"$WORKER\"}" \
    'instance_prefix = "trading-system"' 'namespace_prefix = "trading"' \
    'entity_type = "trading-system"' 'restart_on_unhealthy = 0'
mon_service risk-monitor "$TW" /api/v1/health 'instance_prefix = "risk-monitor"' \
    'namespace_prefix = "risk"' 'entity_type = "risk-monitor"'
mon_instance audit-correlator audit-correlator
mon_instance test-coordinator test-coordinator 'schema = "test_coordination"'
mon_instance exchange-OKX exchange-simulator
mon_instance exchange-Binance exchange-simulator
mon_instance custodian-Komainu custodian-simulator \
    'env = {"TW_EXIT_AFTER_MS=300", "TW_EXIT_CODE=3"}'
mon_instance market-data-Coinmetrics market-data-simulator "env = {\"TW_HEALTH_FILE=$T/md-health\"}"
mon_instance trading-system-LH trading-system-engine "env = {\"STATUS_FILE=$T/trading-status\"}"
mon_instance risk-monitor-LH risk-monitor 'depends_on = {"trading-system-LH"}'
mon_start || { fail "instanced starts"; t_done; }

# The fleet settles first, so the page is checked against a known state.
ok "exchange-OKX, exchange-Binance, audit-correlator, test-coordinator are healthy" \
    wait_for 20 jurl "$BASE/api/v1/instances" \
    '[.instances[] | select(.name | test("^(exchange-|audit|test-)")) | .status == "healthy" and .state == "running"] | all and length == 4'
ok "market-data-Coinmetrics is degraded" \
    wait_for 20 inst_is market-data-Coinmetrics '.status == "degraded" and .state == "running"'
ok "custodian-Komainu has failed" \
    wait_for 20 inst_is custodian-Komainu '.state == "failed"'
ok "trading-system-LH runs unhealthy" \
    wait_for 20 inst_is trading-system-LH '.state == "starting" and .status == "unhealthy" and .pid != null'
ok "risk-monitor-LH waits for it" inst_is risk-monitor-LH '.state == "waiting"'
overall=$(mon_json /api/v1/instances .status)

# ---- over HTTP ------------------------------------------------------------------
curl -sS -D "$T/h1" -o "$T/page.html" "$BASE/"
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | head -1; }
is "$(head -1 "$T/h1" | tr -d '\r')" "HTTP/1.1 200 OK" "GET / answers 200"
is "$(hdr "$T/h1" Content-Type)" "text/html; charset=utf-8" "as HTML"
ok "the body is the page" cmp -s "$T/page.html" "$srcdir/src/status_page.html"
is "$(hdr "$T/h1" Content-Encoding)" "" "not compressed without Accept-Encoding"
is "$(hdr "$T/h1" Cache-Control)" "no-cache" "Cache-Control: no-cache (revalidate)"
is "$(hdr "$T/h1" Vary)" "Accept-Encoding" "Vary: Accept-Encoding"
is "$(hdr "$T/h1" X-Content-Type-Options)" "nosniff" "X-Content-Type-Options: nosniff"
is "$(hdr "$T/h1" X-Frame-Options)" "DENY" "X-Frame-Options: DENY"
csp=$(hdr "$T/h1" Content-Security-Policy)
ok "a CSP with default-src 'none', hashed script and style, no unsafe-inline ($csp)" \
    sh -c "echo \"\$1\" | grep -q \"^default-src 'none'; script-src 'sha256-[^ ]*='; style-src 'sha256-\" &&
           ! echo \"\$1\" | grep -q unsafe-inline && echo \"\$1\" | grep -q \"frame-ancestors 'none'\"" - "$csp"
ok "no reference to any other host in the page" sh -c \
    "! grep -Eiq '(src|href)=\"(https?:)?//|https?://|@import|url\\(' '$T/page.html'"
etag=$(hdr "$T/h1" ETag)
ok "a strong ETag ($etag)" sh -c "echo '$etag' | grep -Eq '^\"[0-9a-f]{16}\"\$'"

curl -sS -D "$T/h2" -o "$T/page.gz" -H 'Accept-Encoding: br, gzip;q=0.8' "$BASE/"
is "$(hdr "$T/h2" Content-Encoding)" "gzip" "gzip with Accept-Encoding: gzip"
ok "the gzip body is the page" sh -c "gzip -dc '$T/page.gz' | cmp -s - '$srcdir/src/status_page.html'"
is "$(hdr "$T/h2" Content-Length)" "$(wc -c <"$T/page.gz" | tr -d ' ')" "Content-Length of the gzip body"
ok "compressed is smaller" test "$(wc -c <"$T/page.gz")" -lt "$(wc -c <"$T/page.html")"
etag_gz=$(hdr "$T/h2" ETag)
ok "the gzip representation has its own ETag ($etag_gz)" test "$etag_gz" != "$etag" -a -n "$etag_gz"
curl -sS -D "$T/h3" -o /dev/null -H 'Accept-Encoding: gzip;q=0, identity' "$BASE/"
is "$(hdr "$T/h3" Content-Encoding)" "" "gzip;q=0 is refused: not compressed"

is "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/")" 304 \
    "If-None-Match with the ETag: 304"
curl -sS -D "$T/h4" -o "$T/body304" -H "If-None-Match: \"other\", W/$etag_gz" \
    -H 'Accept-Encoding: gzip' "$BASE/"
is "$(head -1 "$T/h4" | tr -d '\r')" "HTTP/1.1 304 Not Modified" "a weak match in a list: 304"
ok "304 without a body" test ! -s "$T/body304"
is "$(hdr "$T/h4" ETag)" "$etag_gz" "304 repeats the ETag"
is "$(hdr "$T/h4" Vary)" "Accept-Encoding" "304 repeats Vary"
is "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag_gz" "$BASE/")" 200 \
    "the gzip ETag does not validate the plain page: 200"
curl -sS -I -o "$T/h5" -H 'Accept-Encoding: gzip' "$BASE/"
is "$(hdr "$T/h5" Content-Length)" "$(wc -c <"$T/page.gz" | tr -d ' ')" \
    "HEAD: the Content-Length a GET would get"
is "$(mon_code / POST)" 405 "POST / is refused: read-only"

# ---- in the browser ---------------------------------------------------------------
# browser ARGS...: run the driver, one check here per check it made.
browser() {
    "$PY" "$srcdir/tests/status_page_browser.py" "$BASE" "$T" "$@" \
        >"$T/browser.out" 2>"$T/browser.err"
    _rc=$?
    while IFS= read -r _line; do
        case $_line in
        PASS\ *) pass "browser: ${_line#PASS }" ;;
        FAIL\ *) fail "browser: ${_line#FAIL }" ;;
        esac
    done <"$T/browser.out"
    ok "the browser run ended cleanly (exit $_rc)" test "$_rc" -eq 0
    [ "$_rc" -eq 0 ] || sed 's/^/#   /' "$T/browser.err" | tail -20
}

shot=$T/status-page.png
browser \
    --screenshot "$shot" --phone-shot "$T/status-page-phone.png" \
    --expect exchange-OKX=running/healthy audit-correlator=running/healthy \
    market-data-Coinmetrics=running/degraded custodian-Komainu=failed/unhealthy \
    trading-system-LH=starting/unhealthy risk-monitor-LH=waiting/unknown \
    --banner "$overall" \
    --hostile-name trading-system-LH \
    --hostile-cmd "printf '%s\n' '<img src=x onerror=window.__pwned=1><b>bold</b>' >'$T/trading-status'" \
    --kill-name exchange-Binance \
    --kill-cmd "kill -KILL \$(curl -s $BASE/api/v1/instances/exchange-Binance |
        $PY -c 'import json, sys; print(json.load(sys.stdin)[\"pid\"])')" \
    --prov off --stop-cmd "kill $MON_PID"
ok "a 1200x800 PNG screenshot" sh -c \
    "head -c 24 '$shot' | od -An -tx1 | tr -d ' \n' | grep -q '^89504e470d0a1a0a0000000d49484452000004b000000320'"
[ -n "${STATUS_PAGE_SHOT:-}" ] && [ -s "$shot" ] && cp "$shot" "$STATUS_PAGE_SHOT"

# ---- the provisioning line, with provisioning failing -----------------------------
# No server listens on the URLs' port: every run fails, the instance waits, and the
# page shows the runs, the failures and the last error as the API does.
mon_stop
mon_new_port
closed=$MON_PORT
mon_inventory 500ms 400ms
cat >>"$INV" <<EOF
provision       = true
postgres_url    = "postgresql://instanced@127.0.0.1:$closed/trading"
redis_url       = "redis://127.0.0.1:$closed/0"
EOF
mon_service exchange-simulator "$TW" /api/v1/health 'instance_prefix = "exchange"'
mon_instance exchange-OKX exchange-simulator
mon_start || { fail "instanced starts with provisioning on"; t_done; }
ok "provisioning has failed twice" \
    wait_for 20 jurl "$BASE/api/v1/instances" '.provisioning.failures >= 2 and (.provisioning.last_error | length) > 0'
browser --no-fleet-checks --prov failing
t_done
