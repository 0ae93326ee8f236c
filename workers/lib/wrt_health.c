/* wrt_health.c - a worker's health: the status rule and the JSON shape (docs/design.md). */
#include "config.h"

#include "wrt_health.h"

#include "wrt_conn.h"

#include <stdio.h>
#include <time.h>

wh_check_t wh_judge(int up, long long stalled_ms, long long since_answer_ms, const char *msg)
{
    wh_check_t c = { 0, msg, 0 };
    c.ok = up && stalled_ms < WH_STALL_MS;
    if (c.ok)
        c.msg = NULL;
    else
        c.grace = since_answer_ms >= 0 && since_answer_ms < WH_GRACE_MS;
    return c;
}

static int down(const wh_check_t *c) { return !c->ok && !c->grace; }

wh_status_t wh_aggregate(const wh_check_t *pg, const wh_check_t *redis, int pg_required)
{
    if (down(pg) && (pg_required || down(redis)))
        return WH_UNHEALTHY;
    if (!pg->ok || !redis->ok)
        return WH_DEGRADED;
    return WH_HEALTHY;
}

const char *wh_name(wh_status_t s)
{
    switch (s) {
    case WH_HEALTHY: return "healthy";
    case WH_DEGRADED: return "degraded";
    default: return "unhealthy";
    }
}

int wh_http_code(wh_status_t s) { return s == WH_UNHEALTHY ? 503 : 200; }

static json_t *check_json(const wh_check_t *c)
{
    json_t *o = json_pack("{s:s}", "status",
                          c->ok ? "healthy" : c->grace ? "degraded" : "unhealthy");
    if (o && c->msg && *c->msg)
        json_object_set_new(o, "message", json_string(c->msg));
    return o;
}

json_t *wh_json(const wcfg_t *c, wh_status_t s, const char *ts, const wh_check_t *pg,
                const wh_check_t *redis)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:o, s:o}}", "status", wh_name(s),
                     "service", c->service, "instance", c->instance, "version", c->version,
                     "environment", c->environment, "service_type", c->service_type,
                     "timestamp", ts, "checks", "postgres", check_json(pg), "redis",
                     check_json(redis));
}

void wh_rfc3339(long long t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

wh_check_t wh_check_conn(const struct wcn *cn, int ready, long long oldest_sent_ms, char *msg,
                         size_t msglen)
{
    long long now = wcn_now_ms();
    long long stalled = ready && oldest_sent_ms >= 0 ? now - oldest_sent_ms : 0;
    long long since = cn->last_answer_ms < 0 ? -1 : now - cn->last_answer_ms;

    if (ready && stalled >= WH_STALL_MS)
        snprintf(msg, msglen, "no answer for %lld ms", stalled);
    else
        snprintf(msg, msglen, "%s", cn->error);
    return wh_judge(ready, stalled, since, msg);
}
