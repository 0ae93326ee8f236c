/* wrt_runtime.c - what every worker shares: config, loop, signals, PG, Redis, HTTP, health. */
#include "config.h"

#include "wrt_runtime.h"

#include "evglue.h"
#include "log.h"
#include "wrt_health.h"
#include "wrt_registry.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

struct wrt {
    wcfg_t cfg;
    const wrt_hooks_t *hooks;
    struct event_base *base;
    wpg_t *pg;
    wrd_t *rd;
    whttp_t *http;
    struct event *sigterm, *sigint, *ticker;
    char *reg_json;
    time_t started;
    time_t last_register;
    int registered;
    int register_pending;
    int stopping;
    unsigned long heartbeats;
};

const wcfg_t *wrt_cfg(const wrt_t *rt) { return &rt->cfg; }
wpg_t *wrt_pg(wrt_t *rt) { return rt->pg; }
wrd_t *wrt_redis(wrt_t *rt) { return rt->rd; }
whttp_t *wrt_http(wrt_t *rt) { return rt->http; }
struct event_base *wrt_base(wrt_t *rt) { return rt->base; }
const char *wrt_registration(const wrt_t *rt) { return rt->reg_json; }

static void register_done(int ok, void *arg)
{
    wrt_t *rt = arg;
    rt->register_pending = 0;
    if (ok < 0)
        return;
    if (!rt->registered)
        log_info("service registered", "instance", rt->cfg.instance,
                 "key", rt->cfg.discovery_key, "ttl", LOG_INT(WREG_TTL_SECONDS));
    rt->registered = 1;
    rt->heartbeats++;
}

/* Asynchronous: the SET's reply comes through register_done. */
static void do_register(wrt_t *rt)
{
    if (rt->stopping || !rt->reg_json || rt->register_pending)
        return;
    rt->last_register = time(NULL);
    rt->register_pending = 1;
    if (wreg_register(rt->rd, &rt->cfg, rt->reg_json, register_done, rt) < 0)
        rt->register_pending = 0;
}

static void redis_ready(wrd_t *rd, void *arg)
{
    (void)rd;
    do_register(arg);
}

static int pg_ready(wpg_t *pg, void *arg)
{
    wrt_t *rt = arg;
    (void)pg;
    return rt->hooks->pg_ready ? rt->hooks->pg_ready(rt, rt->hooks->arg) : 0;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    wrt_t *rt = arg;
    (void)fd;
    (void)what;
    if (rt->stopping)
        return;
    /* The checks are queued, never waited for: their answers (or their silence)
     * become the state the health answer reads. */
    wpg_probe(rt->pg);
    wrd_probe(rt->rd);
    if (wrd_ok(rt->rd) && time(NULL) - rt->last_register >= WREG_HEARTBEAT_SECONDS)
        do_register(rt);
    if (rt->hooks->tick)
        rt->hooks->tick(rt, rt->hooks->arg);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    wrt_t *rt = arg;
    struct timeval drain = { 0, 300 * 1000 };
    (void)what;
    if (rt->stopping)
        return;
    rt->stopping = 1;
    log_info("shutting down", "instance", rt->cfg.instance, "signal", LOG_INT(sig));
    if (wrd_ok(rt->rd))
        wreg_deregister(rt->rd, &rt->cfg);
    /* Requests are served to completion inside their callbacks; what remains is
     * replies still in socket buffers, which a short drain lets go out. */
    whttp_stop_accepting(rt->http);
    event_base_loopexit(rt->base, &drain);
}

static void health_cb(struct evhttp_request *req, const char *path, const char *rest, void *arg)
{
    wrt_t *rt = arg;
    char pgmsg[300], rdmsg[300], ts[40];
    /* From the state the asynchronous checks keep: this handler never waits. */
    wh_check_t pg = wpg_health(rt->pg, pgmsg, sizeof(pgmsg));
    wh_check_t rd = wrd_health(rt->rd, rdmsg, sizeof(rdmsg));
    wh_status_t s;
    (void)path;
    (void)rest;

    s = wh_aggregate(&pg, &rd, rt->hooks->pg_required);
    wh_rfc3339(time(NULL), ts, sizeof(ts));
    whttp_json(req, wh_http_code(s), wh_json(&rt->cfg, s, ts, &pg, &rd));
}

static void metrics_cb(struct evhttp_request *req, const char *path, const char *rest,
                       void *arg)
{
    wrt_t *rt = arg;
    const wcfg_t *c = &rt->cfg;
    wmet_t m;
    char pgmsg[300], rdmsg[300], code[8];
    wh_check_t pg = wpg_health(rt->pg, pgmsg, sizeof(pgmsg));
    wh_check_t rd = wrd_health(rt->rd, rdmsg, sizeof(rdmsg));
    (void)path;
    (void)rest;

    wmet_init(&m);
    wmet_family(&m, "worker_info", "gauge", "Worker identity (always 1).");
    wmet_sample(&m, "worker_info", 1, "service", c->service, "instance_name", c->instance,
                "service_type", c->service_type, "entity_type", c->entity_type,
                "version", c->version, "schema", c->schema, "namespace", c->namespace, NULL);
    wmet_family(&m, "worker_start_time_seconds", "gauge",
                "Start time of the worker since the Unix epoch in seconds.");
    wmet_sample(&m, "worker_start_time_seconds", (double)rt->started, NULL);
    wmet_family(&m, "worker_health_status", "gauge",
                "Worker health: 0 healthy, 1 degraded, 2 unhealthy.");
    wmet_sample(&m, "worker_health_status", wh_aggregate(&pg, &rd, rt->hooks->pg_required),
                NULL);
    wmet_family(&m, "worker_dependency_up", "gauge",
                "1 when the dependency is connected and validated.");
    wmet_sample(&m, "worker_dependency_up", wpg_ok(rt->pg), "dependency", "postgres", NULL);
    wmet_sample(&m, "worker_dependency_up", wrd_ok(rt->rd), "dependency", "redis", NULL);
    wmet_family(&m, "worker_reconnects_total", "counter",
                "Successful reconnects after a lost connection.");
    wmet_sample(&m, "worker_reconnects_total", (double)wpg_reconnects(rt->pg),
                "dependency", "postgres", NULL);
    wmet_sample(&m, "worker_reconnects_total", (double)wrd_reconnects(rt->rd),
                "dependency", "redis", NULL);
    wmet_family(&m, "worker_registration_heartbeats_total", "counter",
                "Successful writes of the service registration key.");
    wmet_sample(&m, "worker_registration_heartbeats_total", (double)rt->heartbeats, NULL);
    wmet_family(&m, "worker_http_requests_total", "counter", "HTTP requests received.");
    wmet_sample(&m, "worker_http_requests_total", (double)whttp_requests(), NULL);
    wmet_family(&m, "worker_http_responses_total", "counter",
                "HTTP responses sent, by status class.");
    for (int k = 1; k <= 5; k++) {
        snprintf(code, sizeof(code), "%dxx", k);
        wmet_sample(&m, "worker_http_responses_total", (double)whttp_replies(k),
                    "code", code, NULL);
    }
    if (rt->hooks->metrics)
        rt->hooks->metrics(rt, &m, rt->hooks->arg);
    if (m.oom)
        whttp_error(req, 500, "out of memory", NULL);
    else
        whttp_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", m.buf, m.len);
    wmet_free(&m);
}

static int setup(wrt_t *rt, char *err, size_t errlen)
{
    const wcfg_t *c = &rt->cfg;
    char host[256], started[40];

    evglue_log_to_logfmt();
    rt->base = evglue_base_new();
    if (!rt->base)
        return snprintf(err, errlen, "cannot set up the event loop"), -1;
    rt->http = whttp_new(rt->base, c->http_bind, c->http_port, err, errlen);
    if (!rt->http)
        return -1;
    if (whttp_route(rt->http, "/api/v1/health", WHTTP_GET, health_cb, rt) < 0 ||
        whttp_route(rt->http, "/health", WHTTP_GET, health_cb, rt) < 0 ||
        whttp_route(rt->http, "/metrics", WHTTP_GET, metrics_cb, rt) < 0)
        return snprintf(err, errlen, "route table full"), -1;
    if (gethostname(host, sizeof(host)) < 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    wh_rfc3339(rt->started, started, sizeof(started));
    rt->reg_json = wreg_json(c, host, (long)getpid(), started);
    if (!rt->reg_json)
        return snprintf(err, errlen, "out of memory"), -1;

    rt->pg = wpg_new(rt->base, c, pg_ready, rt);
    rt->rd = wrd_new(rt->base, c, redis_ready, rt);
    rt->sigterm = evsignal_new(rt->base, SIGTERM, stop_cb, rt);
    rt->sigint = evsignal_new(rt->base, SIGINT, stop_cb, rt);
    rt->ticker = event_new(rt->base, -1, EV_PERSIST, tick_cb, rt);
    if (!rt->pg || !rt->rd || !rt->sigterm || !rt->sigint || !rt->ticker)
        return snprintf(err, errlen, "out of memory"), -1;
    if (rt->hooks->setup && rt->hooks->setup(rt, rt->hooks->arg) < 0)
        return snprintf(err, errlen, "worker setup failed"), -1;
    {
        struct timeval one = { 1, 0 };
        evsignal_add(rt->sigterm, NULL);
        evsignal_add(rt->sigint, NULL);
        event_add(rt->ticker, &one);
    }
    return 0;
}

static void teardown(wrt_t *rt)
{
    if (rt->ticker)
        event_free(rt->ticker);
    if (rt->sigterm)
        event_free(rt->sigterm);
    if (rt->sigint)
        event_free(rt->sigint);
    /* The connections first: statements still queued answer their requests (503)
     * while those requests still exist. */
    wpg_free(rt->pg);
    wrd_free(rt->rd);
    whttp_free(rt->http);
    if (rt->base)
        event_base_free(rt->base);
    free(rt->reg_json);
    wcfg_free(&rt->cfg);
}

int wrt_main(const wrt_hooks_t *hooks)
{
    static wrt_t rt_store;
    wrt_t *rt = &rt_store;
    char err[512];
    log_level_t lvl;
    const wcfg_t *c = &rt->cfg;

    signal(SIGPIPE, SIG_IGN);
    rt->hooks = hooks;
    rt->started = time(NULL);
    if (wcfg_load(&rt->cfg, wcfg_environ, NULL, err, sizeof(err)) < 0) {
        log_error("invalid worker configuration", "error", err);
        return EX_CONFIG;
    }
    if (log_parse_level(c->log_level, &lvl) == 0)
        log_setup(lvl, 2);
    {
        char msg[NM_NAME_MAX + 32];
        snprintf(msg, sizeof(msg), "Starting %s service", c->service);
        log_info(msg, "service_name", c->service, "instance_name", c->instance,
                 "environment", c->environment, "version", c->version,
                 "pid", LOG_INT(getpid()));
    }
    wcfg_log(c);
    if (setup(rt, err, sizeof(err)) < 0) {
        log_error("worker startup failed", "instance", c->instance, "error", err);
        teardown(rt);
        return 1;
    }
    log_info("HTTP server listening", "instance", c->instance, "bind", c->http_bind,
             "port", LOG_INT(c->http_port));
    wpg_start(rt->pg);
    wrd_start(rt->rd);
    event_base_dispatch(rt->base);
    if (hooks->teardown)
        hooks->teardown(rt, hooks->arg);
    log_info("worker stopped", "instance", c->instance);
    teardown(rt);
    return 0;
}
