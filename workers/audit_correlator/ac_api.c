/* ac_api.c - audit-correlator's HTTP API over the repository and the cache. */
#include "config.h"

#include "ac_api.h"

#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void reply_raw(struct evhttp_request *req, int code, const char *json)
{
    whttp_text(req, code, "application/json", json, strlen(json));
}

static void fail(ac_api_t *api, struct evhttp_request *req, int code, const char *msg,
                 const char *field)
{
    if (code == 503)
        api->unavailable++;
    else if (code >= 400 && code < 500)
        api->rejected++;
    whttp_error(req, code, msg, field);
}

/* The answer to a failure of repository r. */
static void fail_rc_of(ac_api_t *api, ac_repo_t *r, struct evhttp_request *req, ac_rc_t rc,
                       const char *field)
{
    switch (rc) {
    case AC_NOT_FOUND: fail(api, req, 404, "audit event not found", field); break;
    case AC_CONFLICT: fail(api, req, 409, "an audit event with this id exists", "id"); break;
    case AC_INVALID: fail(api, req, 400, ac_repo_error(r), field); break;
    case AC_RETRY:
        fail(api, req, 503, "postgres rolled the request back to resolve a conflict with a "
             "concurrent one: nothing was applied (retry)", NULL);
        break;
    case AC_UNAVAILABLE:
        fail(api, req, 503, "postgres unavailable: the request was not applied", NULL);
        break;
    case AC_UNKNOWN:
        fail(api, req, 503, "postgres did not answer in time: the request may still be "
             "applied when it continues (retry with the same id)", NULL);
        break;
    default: fail(api, req, 500, "internal error", NULL); break;
    }
}

static void fail_rc(ac_api_t *api, struct evhttp_request *req, ac_rc_t rc, const char *field)
{
    fail_rc_of(api, api->repo, req, rc, field);
}

static int pg_usable(ac_api_t *api, struct evhttp_request *req)
{
    if (*api->pg_ready)
        return 1;
    fail(api, req, 503, "postgres unavailable: the request was not applied", NULL);
    return 0;
}

/* A request waiting for PostgreSQL or Redis: evhttp keeps it open until the reply.
 * Everything the queued work points into lives here and is freed after the reply. */
typedef struct ac_pending {
    ac_api_t *api;
    struct evhttp_request *req;
    json_t *j;              /* the parsed body the events point into */
    ac_event_t *evs;
    long n;
    int is_array;
    int count_only;
    int do_archive;
    char id[40];
    char cutoff[64];
    char *own[8];           /* query parameters of list and count */
    int grouped;            /* a lone create holding a group slot */
    int slot;               /* which one */
} ac_pending_t;

static void free_events(ac_event_t *evs, long n);

static ac_pending_t *pending_new(ac_api_t *api, struct evhttp_request *req)
{
    ac_pending_t *p = xcalloc(1, sizeof(*p));
    p->api = api;
    p->req = req;
    return p;
}

static void pending_free(ac_pending_t *p)
{
    if (p->n > 0)
        free_events(p->evs, p->n);
    json_decref(p->j);
    for (int i = 0; i < 8; i++)
        free(p->own[i]);
    free(p);
}

/* The request body parsed as JSON, or NULL after replying 400/413. */
static json_t *read_json(ac_api_t *api, struct evhttp_request *req)
{
    int too_large;
    size_t len;
    char *body = whttp_body(req, &len, &too_large);
    json_error_t jerr;
    json_t *j;
    char msg[300];

    if (!body) {
        if (too_large)
            fail(api, req, 413, "request body too large", NULL);
        else
            fail(api, req, 500, "out of memory", NULL);
        return NULL;
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    free(body);
    if (!j) {
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        fail(api, req, 400, msg, "body");
    }
    return j;
}

/* Parse an array (or one object) of events. Returns the count, or -1 after replying. */
static long parse_events(ac_api_t *api, struct evhttp_request *req, json_t *j, int flags,
                         ac_event_t **out)
{
    size_t n = json_is_array(j) ? json_array_size(j) : 1;
    ac_event_t *evs;

    if (json_is_array(j) && (n == 0 || n > AC_BATCH_MAX)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "between 1 and %d events per request", AC_BATCH_MAX);
        fail(api, req, n ? 413 : 400, msg, "body");
        return -1;
    }
    evs = calloc(n, sizeof(*evs));
    if (!evs) {
        fail(api, req, 500, "out of memory", NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_is_array(j) ? json_array_get(j, i) : j;
        const char *field;
        char err[200], msg[260], fname[96];
        if (ac_event_from_json(o, flags, &evs[i], &field, err, sizeof(err)) < 0) {
            if (json_is_array(j)) {
                snprintf(msg, sizeof(msg), "event %zu: %s", i, err);
                snprintf(fname, sizeof(fname), "[%zu].%.64s", i, field);
            } else {
                snprintf(msg, sizeof(msg), "%s", err);
                snprintf(fname, sizeof(fname), "%.64s", field);
            }
            fail(api, req, 400, msg, fname);
            for (size_t k = 0; k < i; k++)
                ac_event_clear(&evs[k]);
            free(evs);
            return -1;
        }
    }
    *out = evs;
    return (long)n;
}

static void free_events(ac_event_t *evs, long n)
{
    for (long i = 0; i < n; i++)
        ac_event_clear(&evs[i]);
    free(evs);
}

static void batch_fail(ac_api_t *api, struct evhttp_request *req, ac_rc_t rc, size_t bad,
                       int is_array)
{
    char field[32];
    snprintf(field, sizeof(field), "[%zu]", bad);
    if (rc == AC_UNAVAILABLE || rc == AC_UNKNOWN || rc == AC_ERROR || rc == AC_RETRY ||
        !is_array)
        fail_rc(api, req, rc, is_array ? field : NULL);
    else if (rc == AC_NOT_FOUND)
        fail(api, req, 404, "audit event not found; no event of the batch was applied", field);
    else if (rc == AC_CONFLICT)
        fail(api, req, 409, "duplicate id; no event of the batch was stored", field);
    else
        fail(api, req, 400, "rejected by the database; no event of the batch was stored",
             field);
}

static void group_next(ac_api_t *api);

static ac_repo_t *slot_repo(ac_api_t *api, int slot)
{
    return slot == 0 ? api->repo : api->repo2;
}

static void created(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    ac_api_t *api = p->api;
    int lone = p->grouped && !p->is_array, slot = p->slot;
    if (res->rc != AC_OK) {
        if (lone)
            fail_rc_of(api, slot_repo(api, slot), p->req, res->rc, NULL);
        else
            batch_fail(p->api, p->req, res->rc, res->bad, p->is_array);
    } else {
        /* 201 only now: the row (or the whole batch) is committed. */
        p->api->created += (unsigned long)p->n;
        reply_raw(p->req, 201, res->out);
    }
    pending_free(p);
    if (lone) {   /* it held a group slot (group_next with one waiting) */
        api->group_busy[slot] = 0;
        group_next(api);
    }
}

/* Group commit. With fsync on, one commit per event bounds ingest by the disk's
 * flush time; so single-event creates that arrive while the group slots are busy
 * are gathered and committed together in the next group (each request still gets
 * its 201 only after that COMMIT). There are two slots, one per connection: while
 * one group waits for its commit, the next one runs on the other connection, and
 * PostgreSQL uses a second core. Two groups are independent transactions: a
 * duplicate id across them makes the later one fail (or, with rows in crossed
 * order, one of them deadlock) and its events are retried alone. When a row of a group fails (a duplicate id, a
 * value PostgreSQL refuses), nothing of the group is stored and each of its events
 * is retried alone, so one bad event answers for itself only. */
typedef struct ac_group {
    ac_api_t *api;
    int slot;
    ac_pending_t **p;
    ac_event_t *evs;    /* shallow copies: the strings live in each p->j */
    size_t n;
} ac_group_t;

static void group_done(const ac_res_t *res, void *arg)
{
    ac_group_t *g = arg;
    ac_api_t *api = g->api;

    for (size_t i = 0; i < g->n; i++) {
        ac_pending_t *p = g->p[i];
        if (res->rc == AC_OK) {
            api->created++;
            reply_raw(p->req, 201, res->rows[i]);
            pending_free(p);
        } else if (res->rc == AC_UNAVAILABLE || res->rc == AC_UNKNOWN || res->rc == AC_ERROR) {
            fail_rc(api, p->req, res->rc, NULL);
            pending_free(p);
        } else {   /* a row refused, or a conflict with the other slot's group */
            ac_repo_create(api->repo, &p->evs[0], created, p);
        }
    }
    if (res->rc == AC_OK)
        api->groups++;
    api->group_busy[g->slot] = 0;
    free(g->p);
    free(g->evs);
    free(g);
    group_next(api);
}

/* A free slot whose connection can take a transaction now, or -1. */
static int free_slot(const ac_api_t *api)
{
    if (!api->group_busy[0])
        return 0;
    if (api->repo2 && *api->repo2_ready && ac_repo_ready(api->repo2) && !api->group_busy[1])
        return 1;
    return -1;
}

static void group_next(ac_api_t *api)
{
    ac_group_t *g;
    size_t n = api->nwaiting < AC_BATCH_MAX ? api->nwaiting : AC_BATCH_MAX;
    int slot = free_slot(api);

    if (slot < 0 || n == 0)
        return;
    if (n == 1) {   /* alone: no transaction around it */
        ac_pending_t *p = api->waiting[0];
        api->nwaiting = 0;
        api->group_busy[slot] = 1;
        p->grouped = 1;
        p->slot = slot;
        ac_repo_create(slot_repo(api, slot), &p->evs[0], created, p);
        return;
    }
    g = xcalloc(1, sizeof(*g));
    g->api = api;
    g->slot = slot;
    g->n = n;
    g->p = xcalloc(n, sizeof(*g->p));
    g->evs = xcalloc(n, sizeof(*g->evs));
    for (size_t i = 0; i < n; i++) {
        g->p[i] = api->waiting[i];
        g->evs[i] = api->waiting[i]->evs[0];
    }
    memmove(api->waiting, api->waiting + n, (api->nwaiting - n) * sizeof(*api->waiting));
    api->nwaiting -= n;
    api->group_busy[slot] = 1;
    ac_repo_create_batch(slot_repo(api, slot), g->evs, n, group_done, g);
}

static void create_cb(ac_api_t *api, struct evhttp_request *req)
{
    json_t *j = read_json(api, req);
    ac_pending_t *p;

    if (!j)
        return;
    p = pending_new(api, req);
    p->j = j;
    p->is_array = json_is_array(j);
    p->n = parse_events(api, req, j, AC_EV_CREATE, &p->evs);
    if (p->n < 0 || !pg_usable(api, req)) {
        pending_free(p);
        return;
    }
    if (!p->is_array) {
        if (api->nwaiting == api->capwaiting) {
            api->capwaiting = api->capwaiting ? api->capwaiting * 2 : 64;
            api->waiting = xrealloc(api->waiting, api->capwaiting * sizeof(*api->waiting));
        }
        api->waiting[api->nwaiting++] = p;
        group_next(api);
    } else
        ac_repo_create_batch(api->repo, p->evs, (size_t)p->n, created, p);
}

static void updated_batch(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    if (res->rc != AC_OK) {
        batch_fail(p->api, p->req, res->rc, res->bad, 1);
    } else {
        for (long i = 0; i < p->n; i++)
            ac_cache_invalidate(p->api->cache, p->evs[i].p[AC_P_ID]);
        reply_raw(p->req, 200, res->out);
    }
    pending_free(p);
}

static void update_batch_cb(ac_api_t *api, struct evhttp_request *req)
{
    json_t *j = read_json(api, req);
    ac_pending_t *p;

    if (!j)
        return;
    p = pending_new(api, req);
    p->j = j;
    if (!json_is_array(j)) {
        fail(api, req, 400, "expected an array of events with ids", "body");
        pending_free(p);
        return;
    }
    p->n = parse_events(api, req, j, AC_EV_PARTIAL | AC_EV_REQUIRE_ID, &p->evs);
    if (p->n < 0 || !pg_usable(api, req)) {
        pending_free(p);
        return;
    }
    ac_repo_update_batch(api->repo, p->evs, (size_t)p->n, updated_batch, p);
}

/* Query parameters of list and count; replies 400 and returns -1 on a bad one. */
static int read_filter(ac_api_t *api, struct evhttp_request *req, ac_filter_t *f, char **own)
{
    static const char *const names[] = { "service", "event_type", "since", "until",
                                         "trace_id", "correlation_id", "limit", "offset" };
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 8; i++)
        own[i] = whttp_query(req, names[i]);
    f->service = own[0];
    f->event_type = own[1];
    f->since = own[2];
    f->until = own[3];
    f->trace_id = own[4];
    f->correlation_id = own[5];
    f->limit = own[6];
    f->offset = own[7];
    for (int i = 2; i <= 3; i++) {
        if (own[i] && !ac_valid_time(own[i])) {
            fail(api, req, 400, "must be an RFC 3339 time", names[i]);
            return -1;
        }
    }
    for (int i = 6; i <= 7; i++) {
        char *end;
        long long v;
        if (!own[i])
            continue;
        v = strtoll(own[i], &end, 10);
        if (!*own[i] || *end || v < 0 || (i == 6 && (v < 1 || v > AC_LIST_MAX)) ||
            v > 1000000000LL) {
            char msg[64];
            if (i == 6)
                snprintf(msg, sizeof(msg), "must be an integer from 1 to %d", AC_LIST_MAX);
            else
                snprintf(msg, sizeof(msg), "must be a non-negative integer");
            fail(api, req, 400, msg, names[i]);
            return -1;
        }
    }
    return 0;
}

static void listed(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    if (res->rc != AC_OK)
        fail_rc(p->api, p->req, res->rc, NULL);
    else if (p->count_only)
        whttp_json(p->req, 200, json_pack("{s:I}", "count", (json_int_t)res->n));
    else
        reply_raw(p->req, 200, res->out);
    pending_free(p);
}

static void list_cb(ac_api_t *api, struct evhttp_request *req, int count_only)
{
    ac_pending_t *p = pending_new(api, req);
    ac_filter_t f;

    p->count_only = count_only;
    if (read_filter(api, req, &f, p->own) < 0 || !pg_usable(api, req)) {
        pending_free(p);
        return;
    }
    if (count_only)
        ac_repo_count(api->repo, &f, listed, p);
    else
        ac_repo_query(api->repo, &f, listed, p);
}

static void events_cb(struct evhttp_request *req, const char *path, const char *rest,
                      void *arg)
{
    ac_api_t *api = arg;
    (void)path;
    (void)rest;
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_POST: create_cb(api, req); break;
    case EVHTTP_REQ_PUT: update_batch_cb(api, req); break;
    default: list_cb(api, req, 0); break;
    }
}

static void got_from_db(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    if (res->rc != AC_OK) {
        fail_rc(p->api, p->req, res->rc, "id");
    } else {
        ac_cache_put(p->api->cache, p->id, res->out);
        evhttp_add_header(evhttp_request_get_output_headers(p->req), "X-Cache", "miss");
        reply_raw(p->req, 200, res->out);
    }
    pending_free(p);
}

static void got_from_cache(const char *json, size_t len, void *arg)
{
    ac_pending_t *p = arg;
    if (json) {
        evhttp_add_header(evhttp_request_get_output_headers(p->req), "X-Cache", "hit");
        whttp_text(p->req, 200, "application/json", json, len);
        pending_free(p);
        return;
    }
    if (!pg_usable(p->api, p->req)) {
        pending_free(p);
        return;
    }
    ac_repo_get(p->api->repo, p->id, got_from_db, p);
}

static void get_one(ac_api_t *api, struct evhttp_request *req, const char *id)
{
    ac_pending_t *p = pending_new(api, req);
    snprintf(p->id, sizeof(p->id), "%s", id);
    ac_cache_get(api->cache, p->id, got_from_cache, p);
}

static void put_done(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    if (res->rc == AC_OK) {
        ac_cache_invalidate(p->api->cache, p->id);
        reply_raw(p->req, 200, res->out);
    } else {
        fail_rc(p->api, p->req, res->rc, res->rc == AC_NOT_FOUND ? "id" : NULL);
    }
    pending_free(p);
}

static void put_one(ac_api_t *api, struct evhttp_request *req, const char *id)
{
    json_t *j = read_json(api, req);
    ac_pending_t *p;
    const char *field;
    char err[200];

    if (!j)
        return;
    p = pending_new(api, req);
    p->j = j;
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->evs = xcalloc(1, sizeof(*p->evs));
    if (ac_event_from_json(j, AC_EV_PARTIAL, &p->evs[0], &field, err, sizeof(err)) < 0) {
        fail(api, req, 400, err, field);
        free(p->evs);
        p->evs = NULL;
        pending_free(p);
        return;
    }
    p->n = 1;
    if (p->evs[0].p[AC_P_ID] && strcasecmp(p->evs[0].p[AC_P_ID], id) != 0) {
        fail(api, req, 400, "id in the body differs from the id in the path", "id");
        pending_free(p);
        return;
    }
    if (!pg_usable(api, req)) {
        pending_free(p);
        return;
    }
    ac_repo_update(api->repo, p->id, &p->evs[0], put_done, p);
}

static void deleted(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    if (res->rc != AC_OK) {
        fail_rc(p->api, p->req, res->rc, "id");
    } else {
        ac_cache_invalidate(p->api->cache, p->id);
        whttp_no_content(p->req);
    }
    pending_free(p);
}

/* A request about one event by id, waiting for the database: NULL when it cannot be
 * sent now (already answered). */
static ac_pending_t *pending_for_id(ac_api_t *api, struct evhttp_request *req, const char *id)
{
    ac_pending_t *p;

    if (!pg_usable(api, req))
        return NULL;
    p = pending_new(api, req);
    snprintf(p->id, sizeof(p->id), "%s", id);
    return p;
}

static void delete_one(ac_api_t *api, struct evhttp_request *req, const char *id)
{
    ac_pending_t *p = pending_for_id(api, req, id);

    if (p)
        ac_repo_delete(api->repo, p->id, deleted, p);
}

static void correlated_done(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    if (res->rc == AC_OK)
        reply_raw(p->req, 200, res->out);
    else
        fail_rc(p->api, p->req, res->rc, "id");
    pending_free(p);
}

static void correlated(ac_api_t *api, struct evhttp_request *req, const char *id)
{
    ac_pending_t *p = pending_for_id(api, req, id);

    if (p)
        ac_repo_correlated(api->repo, p->id, correlated_done, p);
}

/* /api/v1/audit/events/{count | ID | ID/correlated} */
static void event_cb(struct evhttp_request *req, const char *path, const char *rest, void *arg)
{
    ac_api_t *api = arg;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    char id[37];
    const char *tail;
    (void)path;

    if (strcmp(rest, "count") == 0) {
        if (m != EVHTTP_REQ_GET) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            fail(api, req, 405, "method not allowed", NULL);
            return;
        }
        list_cb(api, req, 1);
        return;
    }
    if (strlen(rest) < 36) {
        fail(api, req, *rest ? 400 : 404, *rest ? "must be a UUID" : "not found",
             *rest ? "id" : NULL);
        return;
    }
    memcpy(id, rest, 36);
    id[36] = '\0';
    tail = rest + 36;
    if (!ac_valid_uuid(id) || (*tail && strcmp(tail, "/correlated") != 0)) {
        if (!ac_valid_uuid(id))
            fail(api, req, 400, "must be a UUID", "id");
        else
            fail(api, req, 404, "not found", NULL);
        return;
    }
    for (char *p = id; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (*tail) {
        if (m != EVHTTP_REQ_GET) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            fail(api, req, 405, "method not allowed", NULL);
            return;
        }
        correlated(api, req, id);
        return;
    }
    switch (m) {
    case EVHTTP_REQ_GET: get_one(api, req, id); break;
    case EVHTTP_REQ_PUT: put_one(api, req, id); break;
    default: delete_one(api, req, id); break;
    }
}

static void uncache(const char *id, void *arg)
{
    ac_cache_invalidate(arg, id);
}

static void retained(const ac_res_t *res, void *arg)
{
    ac_pending_t *p = arg;
    const char *what = p->do_archive ? "archived" : "deleted";
    if (res->rc != AC_OK) {
        fail_rc(p->api, p->req, res->rc, "older_than");
    } else {
        log_info("audit retention applied", "action", p->do_archive ? "archive" : "delete",
                 "older_than", p->cutoff, "rows", LOG_INT(res->n));
        whttp_json(p->req, 200, json_pack("{s:s, s:s, s:I}", "action", what, "older_than",
                                          p->cutoff, what, (json_int_t)res->n));
    }
    pending_free(p);
}

static void retention_cb(struct evhttp_request *req, const char *path, const char *rest,
                         void *arg)
{
    ac_api_t *api = arg;
    json_t *j = read_json(api, req), *older, *archive;
    ac_pending_t *p;
    char cutoff[64];
    int do_archive = 0;
    const char *key;
    json_t *v;
    (void)path;
    (void)rest;

    if (!j)
        return;
    if (!json_is_object(j)) {
        fail(api, req, 400, "expected a JSON object", "body");
        goto done;
    }
    json_object_foreach(j, key, v) {
        if (strcmp(key, "older_than") != 0 && strcmp(key, "archive") != 0) {
            fail(api, req, 400, "unknown field", key);
            goto done;
        }
    }
    older = json_object_get(j, "older_than");
    archive = json_object_get(j, "archive");
    if (!json_is_string(older) ||
        !ac_parse_cutoff(json_string_value(older), (long long)time(NULL), cutoff,
                         sizeof(cutoff))) {
        fail(api, req, 400, "must be an RFC 3339 time or a duration like 30d, 12h, 90m, 60s",
             "older_than");
        goto done;
    }
    if (archive && !json_is_boolean(archive)) {
        fail(api, req, 400, "must be true or false", "archive");
        goto done;
    }
    do_archive = archive && json_is_true(archive);
    if (!pg_usable(api, req))
        goto done;
    p = pending_new(api, req);
    p->do_archive = do_archive;
    snprintf(p->cutoff, sizeof(p->cutoff), "%s", cutoff);
    if (do_archive)
        ac_repo_archive_older(api->repo, p->cutoff, uncache, api->cache, retained, p);
    else
        ac_repo_delete_older(api->repo, p->cutoff, uncache, api->cache, retained, p);
done:
    json_decref(j);
}

static void stats_done(json_t *stats, void *arg)
{
    ac_pending_t *p = arg;
    if (!stats)
        fail(p->api, p->req, 503, "redis unavailable", NULL);
    else
        whttp_json(p->req, 200, stats);
    pending_free(p);
}

static void cache_stats_cb(struct evhttp_request *req, const char *path, const char *rest,
                           void *arg)
{
    ac_api_t *api = arg;
    (void)path;
    (void)rest;
    ac_cache_stats(api->cache, stats_done, pending_new(api, req));
}

static void keys_done(json_t *keys, void *arg)
{
    ac_pending_t *p = arg;
    if (!keys)
        fail(p->api, p->req, 503, "redis unavailable", NULL);
    else
        whttp_json(p->req, 200,
                   json_pack("{s:s, s:o}", "namespace", p->api->cache->ns, "keys", keys));
    pending_free(p);
}

static void cache_keys_cb(struct evhttp_request *req, const char *path, const char *rest,
                          void *arg)
{
    ac_api_t *api = arg;
    char *pattern = whttp_query(req, "pattern");
    (void)path;
    (void)rest;
    if (pattern && (strlen(pattern) == 0 || strlen(pattern) > 256)) {
        fail(api, req, 400, "must be 1 to 256 characters", "pattern");
        free(pattern);
        return;
    }
    ac_cache_keys(api->cache, pattern ? pattern : "*", 10000, keys_done, pending_new(api, req));
    free(pattern);
}

int ac_api_routes(ac_api_t *api, whttp_t *http)
{
    if (whttp_route(http, "/api/v1/audit/events", WHTTP_GET | WHTTP_POST | WHTTP_PUT,
                    events_cb, api) < 0 ||
        whttp_route(http, "/api/v1/audit/events/", WHTTP_GET | WHTTP_PUT | WHTTP_DELETE,
                    event_cb, api) < 0 ||
        whttp_route(http, "/api/v1/audit/retention", WHTTP_POST, retention_cb, api) < 0 ||
        whttp_route(http, "/api/v1/audit/cache/stats", WHTTP_GET, cache_stats_cb, api) < 0 ||
        whttp_route(http, "/api/v1/audit/cache/keys", WHTTP_GET, cache_keys_cb, api) < 0)
        return -1;
    return 0;
}
