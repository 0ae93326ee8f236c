/* wrt_health.h - a worker's health: the status rule and the JSON shape (docs/design.md). */
#ifndef WRT_HEALTH_H
#define WRT_HEALTH_H

#include <jansson.h>

#include "wrt_config.h"

typedef enum { WH_HEALTHY = 0, WH_DEGRADED, WH_UNHEALTHY } wh_status_t;

/* A dependency that has a command outstanding for WH_STALL_MS is "not answering";
 * one that is not answering or not connected counts as degraded until WH_GRACE_MS
 * after its last answer, and as down after that. The health answer is computed from
 * this state alone: it never waits on a server. */
#define WH_STALL_MS 1000
#define WH_GRACE_MS 5000

/* One dependency's state as the last asynchronous checks left it. msg may be NULL.
 * ok: connected and answering; grace: not ok, but it answered less than WH_GRACE_MS
 * ago (the check reports "degraded" and does not count as down). */
typedef struct wh_check {
    int ok;
    const char *msg;
    int grace;
} wh_check_t;

/* The check of a dependency: up (connected and set up), stalled_ms (age of the
 * oldest command still without an answer, 0 when none) and since_answer_ms (time
 * since the server last answered, -1 when it never did). Pure. */
wh_check_t wh_judge(int up, long long stalled_ms, long long since_answer_ms, const char *msg);

/* The check of one connection from its state: ready, the send time (monotonic ms) of
 * its oldest command still waiting (-1: none), and its last answer and error (cn). msg
 * gets "no answer for N ms" when stalled, else the connection's last error. */
struct wcn;
wh_check_t wh_check_conn(const struct wcn *cn, int ready, long long oldest_sent_ms, char *msg,
                         size_t msglen);

/* healthy when both are ok; PostgreSQL down (beyond its grace) is unhealthy for a
 * worker that cannot work without it (pg_required), else degraded; Redis down alone
 * is degraded; both down is unhealthy; anything in its grace is degraded. Pure. */
wh_status_t wh_aggregate(const wh_check_t *pg, const wh_check_t *redis, int pg_required);
const char *wh_name(wh_status_t s);
int wh_http_code(wh_status_t s); /* 200, or 503 when unhealthy */

/* {"status","service","instance","version","environment","timestamp","checks":{...}}.
 * ts is an RFC 3339 time. Returns a new reference. Pure. */
json_t *wh_json(const wcfg_t *c, wh_status_t s, const char *ts, const wh_check_t *pg,
                const wh_check_t *redis);

/* RFC 3339 UTC time of t into buf (at least 32 bytes). */
void wh_rfc3339(long long t, char *buf, size_t len);

#endif
