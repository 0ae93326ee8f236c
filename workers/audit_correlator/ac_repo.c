/* ac_repo.c - the audit event repository: the audit service's functions as parameterized SQL. */
#include "config.h"

#include "ac_repo.h"

#include "ac_schema.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SQL_INSERT, SQL_GET, SQL_UPDATE, SQL_DELETE, SQL_COUNT, SQL_CORRELATED, SQL_QUERY,
       SQL_DELETE_OLDER, SQL_ARCHIVE_OLDER, SQL_N };

struct ac_repo {
    wpg_t *pg;
    const char *instance;
    char *sql[SQL_N];
    char error[256];
};

#define FILTER_WHERE \
    " WHERE ($1::text IS NULL OR service_name = $1)" \
    " AND ($2::text IS NULL OR event_type = $2)" \
    " AND ($3::timestamptz IS NULL OR \"timestamp\" >= $3::timestamptz)" \
    " AND ($4::timestamptz IS NULL OR \"timestamp\" < $4::timestamptz)" \
    " AND ($5::text IS NULL OR trace_id = $5)" \
    " AND ($6::text IS NULL OR correlation_id = $6)"

/* Templates: %1$s is the events table, %2$s the archive, %3$s the correlations, all
 * schema-qualified quoted identifiers. Client values only ever travel as $n. */
static const char *const templates[SQL_N] = {
    [SQL_INSERT] =
        "INSERT INTO %1$s AS t (id, trace_id, span_id, correlation_id, service_name,"
        " event_type, \"timestamp\", duration_ms, status, metadata, tags)"
        " VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6,"
        " COALESCE($7::timestamptz, now()), $8::bigint, COALESCE($9, 'ok'),"
        " COALESCE($10::jsonb, '{}'::jsonb),"
        " ARRAY(SELECT jsonb_array_elements_text(COALESCE($11::jsonb, '[]'::jsonb))))"
        " RETURNING to_jsonb(t)::text",
    [SQL_GET] = "SELECT to_jsonb(t)::text FROM %1$s t WHERE id = $1::uuid",
    [SQL_UPDATE] =
        "UPDATE %1$s AS t SET trace_id = COALESCE($2, trace_id),"
        " span_id = COALESCE($3, span_id), correlation_id = COALESCE($4, correlation_id),"
        " service_name = COALESCE($5, service_name), event_type = COALESCE($6, event_type),"
        " \"timestamp\" = COALESCE($7::timestamptz, \"timestamp\"),"
        " duration_ms = COALESCE($8::bigint, duration_ms), status = COALESCE($9, status),"
        " metadata = COALESCE($10::jsonb, metadata),"
        " tags = CASE WHEN $11::jsonb IS NULL THEN tags"
        " ELSE ARRAY(SELECT jsonb_array_elements_text($11::jsonb)) END"
        " WHERE id = $1::uuid RETURNING to_jsonb(t)::text",
    [SQL_DELETE] = "DELETE FROM %1$s WHERE id = $1::uuid",
    [SQL_COUNT] = "SELECT count(*) FROM %1$s" FILTER_WHERE,
    [SQL_CORRELATED] =
        "SELECT COALESCE(jsonb_agg(to_jsonb(e) ORDER BY e.\"timestamp\", e.id), '[]'::jsonb)::text"
        " FROM %1$s src JOIN %1$s e ON e.id <> src.id AND ("
        " (src.correlation_id IS NOT NULL AND e.correlation_id = src.correlation_id)"
        " OR (src.trace_id IS NOT NULL AND e.trace_id = src.trace_id)"
        " OR EXISTS (SELECT 1 FROM %3$s c WHERE"
        " (c.source_event_id = src.id AND c.target_event_id = e.id)"
        " OR (c.target_event_id = src.id AND c.source_event_id = e.id)))"
        " WHERE src.id = $1::uuid",
    [SQL_QUERY] =
        "SELECT COALESCE(jsonb_agg(to_jsonb(t) ORDER BY t.\"timestamp\" DESC, t.id),"
        " '[]'::jsonb)::text FROM (SELECT * FROM %1$s" FILTER_WHERE
        " ORDER BY \"timestamp\" DESC, id LIMIT $7::bigint OFFSET $8::bigint) t",
    [SQL_DELETE_OLDER] =
        "DELETE FROM %1$s WHERE \"timestamp\" < $1::timestamptz RETURNING id::text",
    [SQL_ARCHIVE_OLDER] =
        "WITH moved AS (DELETE FROM %1$s WHERE \"timestamp\" < $1::timestamptz RETURNING *)"
        " INSERT INTO %2$s (" AC_EVENT_COLUMNS ") SELECT " AC_EVENT_COLUMNS " FROM moved"
        " RETURNING id::text",
};

ac_repo_t *ac_repo_new(wpg_t *pg, const char *instance)
{
    ac_repo_t *r = calloc(1, sizeof(*r));
    if (r) {
        r->pg = pg;
        r->instance = instance;
    }
    return r;
}

static void clear_sql(ac_repo_t *r)
{
    for (int i = 0; i < SQL_N; i++) {
        free(r->sql[i]);
        r->sql[i] = NULL;
    }
}

void ac_repo_free(ac_repo_t *r)
{
    if (!r)
        return;
    clear_sql(r);
    free(r);
}

const char *ac_repo_error(const ac_repo_t *r) { return r->error; }

/* The template with %1$s, %2$s and %3$s replaced by sub[0..2], written to out when it
 * is not NULL; returns the length. Done by hand, not by printf: a template may use
 * %1$s and %3$s without %2$s, a gap printf leaves undefined (glibc's _FORTIFY_SOURCE
 * aborts on it: "invalid %N$ use detected"). */
static size_t subst(const char *tmpl, const char *const sub[3], char *out)
{
    size_t len = 0;

    for (const char *t = tmpl; *t;) {
        if (t[0] == '%' && t[1] >= '1' && t[1] <= '3' && t[2] == '$' && t[3] == 's') {
            size_t vl = strlen(sub[t[1] - '1']);
            if (out)
                memcpy(out + len, sub[t[1] - '1'], vl);
            len += vl;
            t += 4;
        } else {
            if (out)
                out[len] = *t;
            len++;
            t++;
        }
    }
    if (out)
        out[len] = '\0';
    return len;
}

/* The statement for tmpl with the qualified table names; malloc'd, NULL on failure. */
static char *build(const char *tmpl, const char *ev, const char *arch, const char *corr)
{
    const char *const sub[3] = { ev, arch, corr };
    char *s = malloc(subst(tmpl, sub, NULL) + 1);   /* measure, then fill */

    if (s)
        subst(tmpl, sub, s);
    return s;
}

int ac_repo_prepare(ac_repo_t *r)
{
    char *ev = wpg_qualify(r->pg, "audit_events");
    char *arch = wpg_qualify(r->pg, "audit_events_archive");
    char *corr = wpg_qualify(r->pg, "audit_correlations");
    int rc = 0;

    clear_sql(r);
    if (!ev || !arch || !corr)
        rc = -1;
    for (int i = 0; rc == 0 && i < SQL_N; i++)
        if (!(r->sql[i] = build(templates[i], ev, arch, corr)))
            rc = -1;
    free(ev);
    free(arch);
    free(corr);
    return rc;
}

/* Map a failed result to a code; NULL (connection gone) is AC_UNAVAILABLE. */
static ac_rc_t classify(ac_repo_t *r, PGresult *res)
{
    const char *state;

    if (!res) {
        snprintf(r->error, sizeof(r->error), "postgres unavailable");
        return AC_UNAVAILABLE;
    }
    snprintf(r->error, sizeof(r->error), "%s", PQresultErrorMessage(res));
    r->error[strcspn(r->error, "\n")] = '\0';
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "23505") == 0)
        return AC_CONFLICT;
    if (state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
        return AC_INVALID;
    log_error("audit repository query failed", "instance", r->instance, "error", r->error,
              "sqlstate", state);
    return AC_ERROR;
}

static PGresult *exec(ac_repo_t *r, int which, int n, const char *const *vals)
{
    if (!r->sql[which])
        return NULL;
    return wpg_exec(r->pg, r->sql[which], n, vals);
}

/* A statement returning one text value: *out gets a copy, or AC_NOT_FOUND. */
static ac_rc_t one_text(ac_repo_t *r, int which, int n, const char *const *vals, char **out)
{
    PGresult *res = exec(r, which, n, vals);
    ac_rc_t rc;

    if (!res || !wpg_res_ok(res)) {
        rc = classify(r, res);
    } else if (PQntuples(res) == 0) {
        rc = AC_NOT_FOUND;
    } else {
        *out = strdup(PQgetvalue(res, 0, 0));
        rc = *out ? AC_OK : AC_ERROR;
    }
    PQclear(res);
    return rc;
}

static ac_rc_t affected(ac_repo_t *r, int which, int n, const char *const *vals,
                        long long *count)
{
    PGresult *res = exec(r, which, n, vals);
    ac_rc_t rc = AC_OK;

    if (!res || !wpg_res_ok(res))
        rc = classify(r, res);
    else
        *count = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

ac_rc_t ac_repo_create(ac_repo_t *r, const ac_event_t *ev, char **out)
{
    return one_text(r, SQL_INSERT, AC_P_COUNT, ev->p, out);
}

ac_rc_t ac_repo_get(ac_repo_t *r, const char *id, char **out)
{
    const char *vals[1] = { id };
    return one_text(r, SQL_GET, 1, vals, out);
}

ac_rc_t ac_repo_update(ac_repo_t *r, const char *id, const ac_event_t *ev, char **out)
{
    const char *vals[AC_P_COUNT];
    memcpy(vals, ev->p, sizeof(vals));
    vals[AC_P_ID] = id;
    return one_text(r, SQL_UPDATE, AC_P_COUNT, vals, out);
}

ac_rc_t ac_repo_delete(ac_repo_t *r, const char *id)
{
    const char *vals[1] = { id };
    long long n = 0;
    ac_rc_t rc = affected(r, SQL_DELETE, 1, vals, &n);
    return rc == AC_OK && n == 0 ? AC_NOT_FOUND : rc;
}

static void filter_vals(const ac_filter_t *f, const char *vals[8])
{
    vals[0] = f->service;
    vals[1] = f->event_type;
    vals[2] = f->since;
    vals[3] = f->until;
    vals[4] = f->trace_id;
    vals[5] = f->correlation_id;
    vals[6] = f->limit ? f->limit : "100";
    vals[7] = f->offset ? f->offset : "0";
}

ac_rc_t ac_repo_count(ac_repo_t *r, const ac_filter_t *f, long long *n)
{
    const char *vals[8];
    char *s = NULL;
    ac_rc_t rc;

    filter_vals(f, vals);
    rc = one_text(r, SQL_COUNT, 6, vals, &s);
    if (rc == AC_OK)
        *n = strtoll(s, NULL, 10);
    free(s);
    return rc;
}

ac_rc_t ac_repo_query(ac_repo_t *r, const ac_filter_t *f, char **out)
{
    const char *vals[8];
    filter_vals(f, vals);
    return one_text(r, SQL_QUERY, 8, vals, out);
}

ac_rc_t ac_repo_correlated(ac_repo_t *r, const char *id, char **out)
{
    char *self = NULL;
    const char *vals[1] = { id };
    ac_rc_t rc = ac_repo_get(r, id, &self);

    free(self);
    if (rc != AC_OK)
        return rc;
    return one_text(r, SQL_CORRELATED, 1, vals, out);
}

/* A statement returning one id per removed row. */
static ac_rc_t removed(ac_repo_t *r, int which, const char *cutoff, long long *n,
                       ac_each_id_cb each, void *arg)
{
    const char *vals[1] = { cutoff };
    PGresult *res = exec(r, which, 1, vals);
    ac_rc_t rc = AC_OK;

    if (!res || !wpg_res_ok(res)) {
        rc = classify(r, res);
    } else {
        *n = PQntuples(res);
        for (int i = 0; each && i < PQntuples(res); i++)
            each(PQgetvalue(res, i, 0), arg);
    }
    PQclear(res);
    return rc;
}

ac_rc_t ac_repo_delete_older(ac_repo_t *r, const char *cutoff, long long *n, ac_each_id_cb each,
                             void *arg)
{
    return removed(r, SQL_DELETE_OLDER, cutoff, n, each, arg);
}

ac_rc_t ac_repo_archive_older(ac_repo_t *r, const char *cutoff, long long *n,
                              ac_each_id_cb each, void *arg)
{
    /* One statement (DELETE ... RETURNING feeding the INSERT) is one transaction:
     * a row is either still live or in the archive, never both or neither. */
    return removed(r, SQL_ARCHIVE_OLDER, cutoff, n, each, arg);
}

static ac_rc_t simple(ac_repo_t *r, const char *sql)
{
    PGresult *res = wpg_exec(r->pg, sql, 0, NULL);
    ac_rc_t rc = res && wpg_res_ok(res) ? AC_OK : classify(r, res);
    PQclear(res);
    return rc;
}

/* The rows of a batch as one JSON array text, built from each row's JSON. */
typedef struct jarr {
    char *buf;
    size_t len, cap;
} jarr_t;

static int jarr_add(jarr_t *a, const char *s)
{
    size_t n = strlen(s);
    if (a->len + n + 3 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4096;
        char *nb;
        while (cap < a->len + n + 3)
            cap *= 2;
        nb = realloc(a->buf, cap);
        if (!nb)
            return -1;
        a->buf = nb;
        a->cap = cap;
    }
    a->buf[a->len] = a->len == 0 ? '[' : ',';
    a->len++;
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return 0;
}

static ac_rc_t batch(ac_repo_t *r, int update, const ac_event_t *evs, size_t n, char **out,
                     size_t *bad)
{
    jarr_t a = { 0 };
    ac_rc_t rc;

    *bad = 0;
    if ((rc = simple(r, "BEGIN")) != AC_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char *row = NULL;
        rc = update ? ac_repo_update(r, evs[i].p[AC_P_ID], &evs[i], &row)
                    : ac_repo_create(r, &evs[i], &row);
        if (rc == AC_OK && jarr_add(&a, row) < 0)
            rc = AC_ERROR;
        free(row);
        if (rc != AC_OK) {
            *bad = i;
            goto rollback;
        }
    }
    if ((rc = simple(r, "COMMIT")) != AC_OK) {
        free(a.buf);
        return rc;
    }
    if (!a.buf) {
        *out = strdup("[]");
        return *out ? AC_OK : AC_ERROR;
    }
    a.buf[a.len] = '\0';
    if (jarr_add(&a, "") < 0) { /* room for the closing bracket */
        free(a.buf);
        return AC_ERROR;
    }
    a.buf[a.len - 1] = ']';
    *out = a.buf;
    return AC_OK;
rollback:
    free(a.buf);
    if (rc != AC_UNAVAILABLE)
        simple(r, "ROLLBACK");
    return rc;
}

ac_rc_t ac_repo_create_batch(ac_repo_t *r, const ac_event_t *evs, size_t n, char **out,
                             size_t *bad)
{
    return batch(r, 0, evs, n, out, bad);
}

ac_rc_t ac_repo_update_batch(ac_repo_t *r, const ac_event_t *evs, size_t n, char **out,
                             size_t *bad)
{
    return batch(r, 1, evs, n, out, bad);
}
