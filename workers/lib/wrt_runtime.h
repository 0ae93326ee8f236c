/* wrt_runtime.h - what every worker shares: config, loop, signals, PG, Redis, HTTP, health. */
#ifndef WRT_RUNTIME_H
#define WRT_RUNTIME_H

#include "wrt_config.h"
#include "wrt_http.h"
#include "wrt_metrics.h"
#include "wrt_pg.h"
#include "wrt_redis.h"

typedef struct wrt wrt_t;

/* A worker program is a set of hooks; every one may be NULL. */
typedef struct wrt_hooks {
    int pg_required;     /* PostgreSQL down makes the worker unhealthy, not degraded */
    /* After each PostgreSQL (re)connect: create tables etc.; -1 retries later. */
    int (*pg_ready)(wrt_t *rt, void *arg);
    /* Once, before the loop: register routes with whttp_route(wrt_http(rt), ...). */
    int (*setup)(wrt_t *rt, void *arg);
    /* Every second, in the loop. */
    void (*tick)(wrt_t *rt, void *arg);
    /* Append the worker's own families to /metrics. */
    void (*metrics)(wrt_t *rt, wmet_t *m, void *arg);
    /* Once, after the loop, before the connections close. */
    void (*teardown)(wrt_t *rt, void *arg);
    void *arg;
} wrt_hooks_t;

/* Load the environment, connect, serve until SIGTERM/SIGINT. Returns the exit
 * status: 0 after a graceful stop; 78 (EX_CONFIG, the supervisor's "do not
 * respawn") for a bad environment; 1 when startup failed otherwise (port in use). */
int wrt_main(const wrt_hooks_t *hooks);

const wcfg_t *wrt_cfg(const wrt_t *rt);
wpg_t *wrt_pg(wrt_t *rt);
wrd_t *wrt_redis(wrt_t *rt);
whttp_t *wrt_http(wrt_t *rt);
struct event_base *wrt_base(wrt_t *rt);
/* The registration's JSON metadata (owned by the runtime). */
const char *wrt_registration(const wrt_t *rt);

#endif
