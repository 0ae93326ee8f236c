/* entity_worker.c - the simulated worker of the ecosystem's other services (exchange, ...). */
#include "config.h"

#include "log.h"
#include "wrt_health.h"
#include "wrt_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATE_INTERVAL_SECONDS 5
#define STATE_TTL              "60"

typedef struct entity {
    wrt_t *rt;
    char *table;            /* "schema"."entity_state", owned */
    unsigned long beats;    /* successful state writes */
    time_t last_beat;
} entity_t;

static int pg_ready(wrt_t *rt, void *arg)
{
    entity_t *e = arg;
    wpg_t *pg = wrt_pg(rt);
    char sql[512];
    PGresult *res;
    int ok;

    free(e->table);
    e->table = wpg_qualify(pg, "entity_state");
    if (!e->table)
        return -1;
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s ("
             " instance_name TEXT PRIMARY KEY,"
             " entity_type TEXT NOT NULL DEFAULT '',"
             " state TEXT NOT NULL DEFAULT 'running',"
             " heartbeats BIGINT NOT NULL DEFAULT 0,"
             " started_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
             " updated_at TIMESTAMPTZ NOT NULL DEFAULT now())", e->table);
    res = wpg_exec(pg, sql, 0, NULL);
    ok = res && wpg_res_ok(res);
    if (res && !ok)
        log_error("entity_state setup failed", "instance", wrt_cfg(rt)->instance,
                  "error", PQresultErrorMessage(res));
    PQclear(res);
    e->last_beat = 0;
    return ok ? 0 : -1;
}

static void beat_done(PGresult *res, void *arg)
{
    entity_t *e = arg;
    if (res && wpg_res_ok(res))
        e->beats++;
    else if (res)
        log_warn("entity state write failed", "instance", wrt_cfg(e->rt)->instance,
                 "error", PQresultErrorMessage(res));
    PQclear(res);
}

/* One heartbeat: the state row in the instance's schema and the state key in its
 * namespace, so that the demo fleet leaves real traces in both stores. */
static void beat(wrt_t *rt, entity_t *e)
{
    const wcfg_t *c = wrt_cfg(rt);
    char sql[512], key[NM_NAMESPACE_MAX + 16], started[40], *json;
    const char *vals[2] = { c->instance, c->entity_type };
    json_t *o;

    if (wpg_ok(wrt_pg(rt)) && e->table) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s AS s (instance_name, entity_type, heartbeats) VALUES ($1, $2, 1)"
                 " ON CONFLICT (instance_name) DO UPDATE SET heartbeats = s.heartbeats + 1,"
                 " entity_type = EXCLUDED.entity_type, state = 'running', updated_at = now()",
                 e->table);
        /* Queued, not waited for: the loop keeps serving meanwhile. */
        wpg_query(wrt_pg(rt), sql, 2, vals, WPG_QUERY_TIMEOUT_MS, beat_done, e);
    }
    if (wrd_ok(wrt_redis(rt))) {
        wh_rfc3339(time(NULL), started, sizeof(started));
        o = json_pack("{s:s, s:s, s:s, s:I}", "instance_name", c->instance, "entity_type",
                      c->entity_type, "updated_at", started, "heartbeats",
                      (json_int_t)e->beats);
        json = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        wrd_key(c->namespace, "state", key, sizeof(key));
        if (json) {
            const char *argv[] = { "SET", key, json, "EX", STATE_TTL };
            wrd_send(wrt_redis(rt), 5, argv, NULL, NULL, NULL);   /* copied by hiredis */
            free(json);
        }
    }
    e->last_beat = time(NULL);
}

static void tick(wrt_t *rt, void *arg)
{
    entity_t *e = arg;
    if (time(NULL) - e->last_beat >= STATE_INTERVAL_SECONDS)
        beat(rt, e);
}

static void state_done(PGresult *res, void *arg)
{
    struct evhttp_request *req = arg;
    if (!res) {
        whttp_error(req, 503, "postgres unavailable", NULL);
        return;
    }
    if (!wpg_res_ok(res) || PQntuples(res) != 1)
        whttp_error(req, 404, "no state recorded yet", NULL);
    else
        whttp_json(req, 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL));
    PQclear(res);
}

static void state_cb(struct evhttp_request *req, const char *path, const char *rest, void *arg)
{
    entity_t *e = arg;
    wrt_t *rt = e->rt;
    const wcfg_t *c = wrt_cfg(rt);
    char sql[512];
    const char *vals[1] = { c->instance };
    (void)path;
    (void)rest;

    snprintf(sql, sizeof(sql), "SELECT to_jsonb(s)::text FROM %s s WHERE instance_name = $1",
             e->table ? e->table : "");
    /* evhttp keeps the request open until state_done replies. */
    if (!e->table || wpg_query(wrt_pg(rt), sql, 1, vals, WPG_QUERY_TIMEOUT_MS, state_done,
                               req) < 0)
        whttp_error(req, 503, "postgres unavailable", NULL);
}

static int setup(wrt_t *rt, void *arg)
{
    entity_t *e = arg;
    e->rt = rt;
    return whttp_route(wrt_http(rt), "/api/v1/state", WHTTP_GET, state_cb, e);
}

static void metrics(wrt_t *rt, wmet_t *m, void *arg)
{
    entity_t *e = arg;
    (void)rt;
    wmet_family(m, "entity_state_writes_total", "counter",
                "Heartbeat writes of the entity state row.");
    wmet_sample(m, "entity_state_writes_total", (double)e->beats, NULL);
}

static void teardown(wrt_t *rt, void *arg)
{
    entity_t *e = arg;
    const wcfg_t *c = wrt_cfg(rt);
    if (wpg_ok(wrt_pg(rt)) && e->table) {
        char sql[256];
        const char *vals[1] = { c->instance };
        PGresult *res;
        /* At the shutdown the loop serves nothing more: a bounded wait is fine. */
        snprintf(sql, sizeof(sql),
                 "UPDATE %s SET state = 'stopped', updated_at = now() WHERE instance_name = $1",
                 e->table);
        res = wpg_exec(wrt_pg(rt), sql, 1, vals);
        PQclear(res);
    }
    free(e->table);
    e->table = NULL;
}

int main(void)
{
    static entity_t e;
    wrt_hooks_t hooks = { .pg_required = 0, .pg_ready = pg_ready, .setup = setup,
                          .tick = tick, .metrics = metrics, .teardown = teardown, .arg = &e };
    return wrt_main(&hooks);
}
