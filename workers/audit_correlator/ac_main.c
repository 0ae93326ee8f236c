/* ac_main.c - audit-correlator: the ecosystem's audit service on the shared worker runtime. */
#include "config.h"

#include "ac_api.h"
#include "ac_schema.h"
#include "log.h"
#include "wrt_runtime.h"

#include <stdlib.h>
#include <time.h>

#define REGISTRATION_ROW_SECONDS 10

typedef struct ac {
    wrt_t *rt;
    time_t last_row;          /* last service_registrations heartbeat */
    ac_repo_t *repo;
    ac_cache_t cache;
    ac_api_t api;
    int pg_ready;
    /* The second connection, for group commits (see ac_api.c). It is an accelerator
     * only: while it is down, groups go to the worker's connection, and the worker's
     * health is that connection's. */
    wpg_t *pg2;
    ac_repo_t *repo2;
    int pg2_ready;
} ac_t;

static int pg_ready(wrt_t *rt, void *arg)
{
    ac_t *ac = arg;
    const wcfg_t *c = wrt_cfg(rt);

    ac->pg_ready = 0;
    if (ac_schema_setup(wrt_pg(rt), c->schema, c->instance) < 0)
        return -1;
    if (ac_repo_prepare(ac->repo) < 0)
        return -1;
    ac->pg_ready = 1;
    ac->last_row = 0;
    return 0;
}

/* The second connection's tables are the worker's: its pg_ready created them before
 * any request could use this one (requests wait for ac->pg_ready). */
static int pg2_ready(wpg_t *pg, void *arg)
{
    ac_t *ac = arg;
    (void)pg;
    ac->pg2_ready = 0;
    if (ac_repo_prepare(ac->repo2) < 0)
        return -1;
    ac->pg2_ready = 1;
    return 0;
}

static void tick(wrt_t *rt, void *arg)
{
    ac_t *ac = arg;
    const wcfg_t *c = wrt_cfg(rt);

    /* The second connection is checked as the first is (a server that stopped
     * answering it is given up after the probe's deadline and replaced). */
    if (ac->pg2)
        wpg_probe(ac->pg2);
    if (!ac->pg_ready || !wpg_ok(wrt_pg(rt)) ||
        time(NULL) - ac->last_row < REGISTRATION_ROW_SECONDS)
        return;
    if (ac_schema_heartbeat(wrt_pg(rt), c->discovery_key, c->service, c->instance,
                            c->http_port, wrt_registration(rt)) == 0)
        ac->last_row = time(NULL);
}

static int setup(wrt_t *rt, void *arg)
{
    ac_t *ac = arg;
    ac->rt = rt;
    ac->repo = ac_repo_new(wrt_pg(rt), wrt_cfg(rt)->instance);
    if (!ac->repo)
        return -1;
    ac->cache.rd = wrt_redis(rt);
    ac->cache.ns = wrt_cfg(rt)->namespace;
    ac->api.repo = ac->repo;
    ac->api.cache = &ac->cache;
    ac->api.pg_ready = &ac->pg_ready;
    ac->pg2 = wpg_new(wrt_base(rt), wrt_cfg(rt), pg2_ready, ac);
    if (!ac->pg2)
        return -1;
    ac->repo2 = ac_repo_new(ac->pg2, wrt_cfg(rt)->instance);
    if (!ac->repo2)
        return -1;
    ac->api.repo2 = ac->repo2;
    ac->api.repo2_ready = &ac->pg2_ready;
    wpg_start(ac->pg2);
    return ac_api_routes(&ac->api, wrt_http(rt));
}

/* Before the worker's connection closes: the second one, whose queued statements
 * answer their requests (503) while the requests still exist. */
static void teardown(wrt_t *rt, void *arg)
{
    ac_t *ac = arg;
    (void)rt;
    ac->pg2_ready = 0;
    wpg_free(ac->pg2);
    ac->pg2 = NULL;
}

static void metrics(wrt_t *rt, wmet_t *m, void *arg)
{
    ac_t *ac = arg;
    wmet_family(m, "audit_events_created_total", "counter",
                "Audit events acknowledged with 201 (committed to PostgreSQL).");
    wmet_sample(m, "audit_events_created_total", (double)ac->api.created, NULL);
    wmet_family(m, "audit_commit_groups_total", "counter",
                "Transactions that committed several single-event creates together.");
    wmet_sample(m, "audit_commit_groups_total", (double)ac->api.groups, NULL);
    wmet_family(m, "audit_commit_connections", "gauge",
                "PostgreSQL connections taking group commits now (2 when the second "
                "connection is up).");
    wmet_sample(m, "audit_commit_connections",
                (double)(wpg_ok(wrt_pg(rt)) + (ac->pg2_ready && ac->pg2 && wpg_ok(ac->pg2))),
                NULL);
    wmet_family(m, "audit_requests_rejected_total", "counter",
                "API requests answered with a 4xx status.");
    wmet_sample(m, "audit_requests_rejected_total", (double)ac->api.rejected, NULL);
    wmet_family(m, "audit_requests_unavailable_total", "counter",
                "API requests answered 503 because PostgreSQL was unavailable.");
    wmet_sample(m, "audit_requests_unavailable_total", (double)ac->api.unavailable, NULL);
    wmet_family(m, "audit_cache_hits_total", "counter", "Event reads served from Redis.");
    wmet_sample(m, "audit_cache_hits_total", (double)ac->cache.hits, NULL);
    wmet_family(m, "audit_cache_misses_total", "counter", "Event reads not found in Redis.");
    wmet_sample(m, "audit_cache_misses_total", (double)ac->cache.misses, NULL);
}

int main(void)
{
    static ac_t ac;
    wrt_hooks_t hooks = { .pg_required = 1, .pg_ready = pg_ready, .setup = setup,
                          .tick = tick, .metrics = metrics, .teardown = teardown,
                          .arg = &ac };
    int rc = wrt_main(&hooks);
    /* Only now: statements still queued when the loop ended are answered (503) while
     * wrt_main closes the connection, and their callbacks use the repository. */
    ac_repo_free(ac.repo);
    ac_repo_free(ac.repo2);
    free(ac.api.waiting);
    return rc;
}
