/* wrt_health.h - a worker's health: the status rule and the JSON shape (docs/design.md). */
#ifndef WRT_HEALTH_H
#define WRT_HEALTH_H

#include <jansson.h>

#include "wrt_config.h"

typedef enum { WH_HEALTHY = 0, WH_DEGRADED, WH_UNHEALTHY } wh_status_t;

/* One dependency's state as the health check saw it. msg may be NULL. */
typedef struct wh_check {
    int ok;
    const char *msg;
} wh_check_t;

/* healthy when both are up; PostgreSQL down is unhealthy for a worker that cannot
 * work without it (pg_required), else degraded; Redis down alone is degraded; both
 * down is unhealthy. Pure. */
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
