-- worker_events.lua - wrk script: POST realistic audit events to the audit-correlator.
--
--   wrk -t1 -c16 -d15s --latency -s bench/worker_events.lua http://127.0.0.1:PORT/api/v1/audit/events
--
-- Every request is one event as the ecosystem's services send them: a service and
-- instance name, an event type, trace/span/correlation ids, a duration, a small
-- metadata object and tags. Bodies differ per request (ids, amounts), so PostgreSQL
-- indexes see real variety; about 1 in 20 requests posts a batch of 5 events.

local services = { "exchange-OKX", "exchange-Binance", "custodian-Komainu", "market-data-Coinmetrics",
                   "trading-system-LH", "risk-monitor-LH", "audit-correlator" }
local types = { "order.created", "order.filled", "order.cancelled", "trade.settled",
                "position.updated", "risk.alert", "price.tick", "custody.transfer" }
local statuses = { "ok", "ok", "ok", "ok", "failed", "pending" }
local counter = 0

local function hex(n)
    local t = {}
    for i = 1, n do t[i] = string.format("%x", math.random(0, 15)) end
    return table.concat(t)
end

local function event()
    counter = counter + 1
    local svc = services[math.random(#services)]
    local typ = types[math.random(#types)]
    return string.format(
        '{"service_name":"%s","event_type":"%s","trace_id":"%s","span_id":"%s",' ..
        '"correlation_id":"corr-%d","status":"%s","duration_ms":%d,' ..
        '"metadata":{"order_id":"ord-%s","symbol":"BTC-USD","quantity":%d,"price":%.2f,"venue":"%s"},' ..
        '"tags":["bench","%s"]}',
        svc, typ, hex(32), hex(16), math.random(1, 5000), statuses[math.random(#statuses)],
        math.random(0, 2500), hex(12), math.random(1, 100), 20000 + math.random() * 50000,
        svc, typ)
end

function setup(thread)
    thread:set("seed", math.random(1, 1000000))
end

function init(args)
    math.randomseed(seed or os.time())
end

function request()
    local body
    if math.random(20) == 1 then
        body = "[" .. event() .. "," .. event() .. "," .. event() .. "," .. event() .. "," .. event() .. "]"
    else
        body = event()
    end
    return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

local statuses_seen = {}
function response(status, headers, body)
    statuses_seen[status] = (statuses_seen[status] or 0) + 1
end

function done(summary, latency, requests)
    io.write(string.format("worker_events: requests=%d errors_status=%d p50_ms=%.2f p99_ms=%.2f\n",
        summary.requests, summary.errors.status, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000))
end
