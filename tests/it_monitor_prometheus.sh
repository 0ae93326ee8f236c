#!/bin/sh
# The shipped Prometheus and Grafana files: promtool accepts the config and the rules
# (and the rules' unit tests); the dashboards use the provisioned datasource uid, no
# __inputs; and a real Prometheus with etc/prometheus.yml discovers the workers through
# the http_sd endpoint with the documented labels, scrapes instanced, and answers every
# dashboard query.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init monitor-prometheus
at_exit mon_dump_log

ETC="$srcdir/etc"
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    echo "# prometheus/promtool not installed: skipped"
    exit 77
fi

ok "promtool check config etc/prometheus.yml" sh -c "promtool check config '$ETC/prometheus.yml' >/dev/null"
ok "promtool check rules etc/prometheus-rules.yml" sh -c "promtool check rules '$ETC/prometheus-rules.yml' >/dev/null"
ok "promtool test rules etc/prometheus-rules.test.yml" \
    sh -c "cd '$ETC' && promtool test rules prometheus-rules.test.yml >/dev/null"

for d in "$ETC"/grafana/dashboards/*.json; do
    b=$(basename "$d")
    ok "$b is JSON with a uid and panels" jqe '.uid and (.panels | length > 0)' "$d"
    ok "$b has no __inputs / \${DS_PROMETHEUS}" sh -c "! grep -q '__inputs\|DS_PROMETHEUS' '$d'"
    ok "$b uses only the provisioned datasource" \
        jqe '[.. | objects | select(has("datasource")) | .datasource.uid] | unique == ["instanced-prometheus"]' "$d"
done
ok "the datasource provisioning has that uid" grep -q 'uid: instanced-prometheus' "$ETC/grafana/provisioning/datasources/instanced.yml"
ok "two dashboards: infrastructure and simulation entity" \
    test -f "$ETC/grafana/dashboards/instanced-infrastructure.json" -a -f "$ETC/grafana/dashboards/instanced-simulation-entity.json"

# A real Prometheus against a real supervisor.
mon_inventory 500ms 300ms
mon_service exchange-simulator "$TW" /api/v1/health 'instance_prefix = "exchange"' 'entity_type = "exchange"'
mon_service audit-correlator "$TW" /api/v1/health 'singleton = true'
mon_instance exchange-OKX exchange-simulator
echo healthy >"$T/health-Binance"
mon_instance exchange-Binance exchange-simulator "env = {\"TW_HEALTH_FILE=$T/health-Binance\"}"
mon_instance audit-correlator audit-correlator
mon_start || { fail "instanced starts"; t_done; }
ok "workers healthy" wait_for 10 overall_is healthy

mon_new_port
PROM_PORT=$MON_PORT
PROM="http://127.0.0.1:$PROM_PORT"
mkdir -p "$T/prom"
sed -e "s/127\.0\.0\.1:7070/127.0.0.1:$STATUS_PORT/g" \
    -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/scrape_timeout: 5s/scrape_timeout: 1s/' -e 's/refresh_interval: 30s/refresh_interval: 1s/' \
    -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
    "$ETC/prometheus.yml" >"$T/prom/prometheus.yml"
cp "$ETC/prometheus-rules.yml" "$T/prom/"
prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$T/prom/log" 2>&1 &
PROM_PID=$!
at_exit "kill $PROM_PID 2>/dev/null; wait $PROM_PID 2>/dev/null"

pq() { curl -sS --get "$PROM/api/v1/query" --data-urlencode "query=$1"; }
# pjq QUERY FILTER: Prometheus answers QUERY and FILTER is true for the answer.
pjq() { _b=$(curl -sSf --get "$PROM/api/v1/query" --data-urlencode "query=$1") && printf '%s' "$_b" | jq -e "$2" >/dev/null; }
ok "Prometheus scrapes instanced" \
    wait_for 30 pjq 'up{job="instanced"} == 1' '.data.result | length == 1'
ok "Prometheus discovers and scrapes the 3 workers through http_sd" \
    wait_for 30 pjq 'up{instance_name!=""} == 1' '.data.result | length == 3'
is "$(pq 'up{instance_name="exchange-OKX"}' | jq -r '.data.result[0].metric | [.job, .service, .service_type, .entity_type, .instance] | join(" ")')" \
    "exchange-simulator exchange-simulator multi-instance exchange exchange-OKX" \
    "the documented query up{instance_name=\"exchange-OKX\"} with its labels"
is "$(pq 'count(up{entity_type="exchange"})' | jq -r '.data.result[0].value[1]')" 2 "the documented query up{entity_type=\"exchange\"}"
is "$(pq 'up{job="audit-correlator"}' | jq -r '.data.result[0].metric.service_type')" singleton "a singleton's service_type"
ok "instanced's per-instance series are in Prometheus" \
    wait_for 10 pjq 'instanced_instance_up{instance_name="exchange-Binance",entity_type="exchange"}' '.data.result[0].value[1] == "1"'

# Every dashboard query is accepted by Prometheus (variables as match-all).
jq -r '[.. | objects | select(has("expr")) | .expr] | .[]' "$ETC"/grafana/dashboards/*.json |
    sed -e 's/\$__rate_interval/1m/g; s/\$__range/1h/g; s/\$[a-z_]*/.*/g' >"$T/exprs"
bad=0
while IFS= read -r e; do
    st=$(pq "$e" | jq -r .status)
    [ "$st" = success ] || { bad=$((bad + 1)); echo "# rejected: $e"; }
done <"$T/exprs"
is "$bad" 0 "Prometheus accepts all $(wc -l <"$T/exprs") dashboard queries"
# The health code the dashboards compute from instanced_instance_health_status is 0 for
# every instance once all are healthy. Waited for rather than read once: under a sanitizer
# build on a loaded machine a 300 ms probe can time out twice in a row, and an instance is
# then rightly unhealthy for a scrape or two.
HEALTH_CODE='max by (instance_name) (instanced_instance_health_status{status="degraded"} * 1 or instanced_instance_health_status{status="unhealthy"} * 2 or instanced_instance_health_status{status="unknown"} * 3)'
health_codes() { pq "$HEALTH_CODE" | jq -r '[.data.result[].value[1]] | unique | join(",")'; }
codes_are() { [ "$(health_codes)" = "$1" ]; }
if wait_for 20 codes_are 0; then
    pass "the dashboards' health code is 0 (healthy) for every instance"
else
    fail "the dashboards' health code is 0 (healthy) for every instance: got '$(health_codes)'"
    curl -sS "$BASE/api/v1/health" | jq -c '.instances[]? | {name, health, message}' | sed 's/^/# /'
fi
# ... and an instance that turns unhealthy gets code 2 while the others stay 0.
echo unhealthy >"$T/health-Binance"
codes_by_name() { pq "$HEALTH_CODE" | jq -r '[.data.result[] | "\(.metric.instance_name)=\(.value[1])"] | sort | join(" ")'; }
codes_by_name_are() { [ "$(codes_by_name)" = "$1" ]; }
want="audit-correlator=0 exchange-Binance=2 exchange-OKX=0"
if wait_for 20 codes_by_name_are "$want"; then
    pass "an unhealthy instance's health code is 2, the others' 0"
else
    fail "an unhealthy instance's health code is 2, the others' 0: got '$(codes_by_name)', want '$want'"
fi
ok "the alert rules are loaded" \
    jurl "$PROM/api/v1/rules" '[.data.groups[].rules[]] | length >= 10'
t_done
