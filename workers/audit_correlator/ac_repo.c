/* ac_repo.c - the audit event repository: the audit service's functions as parameterized SQL. */
#include "config.h"

#include "ac_repo.h"

#include "ac_schema.h"
#include "log.h"
#include "xalloc.h"

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
int ac_repo_ready(const ac_repo_t *r) { return wpg_ok(r->pg); }

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
    if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0))
        return AC_RETRY;
    if (state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
        return AC_INVALID;
    log_error("audit repository query failed", "instance", r->instance, "error", r->error,
              "sqlstate", state);
    return AC_ERROR;
}

/* One call in progress: what to do with each result and whom to tell. */
typedef enum { OP_TEXT, OP_COUNT, OP_DELETE, OP_REMOVED, OP_CORRELATED, OP_BATCH,
               OP_MULTI } op_kind_t;

/* The rows of a batch as one JSON array text, built from each row's JSON. */
typedef struct jarr {
    char *buf;
    size_t len, cap;
} jarr_t;

typedef struct ac_op {
    ac_repo_t *r;
    op_kind_t kind;
    ac_repo_cb cb;
    void *arg;
    ac_each_id_cb each;
    void *each_arg;
    char id[40];             /* correlated: the event asked about */
    /* batches */
    int update;
    const ac_event_t *evs;
    size_t n, next;          /* rows; the row whose result comes next */
    jarr_t a;
    char **rows;             /* each row's JSON, for ac_res_t.rows */
    ac_res_t fail;           /* the first failure, sent after the ROLLBACK */
} ac_op_t;

static ac_op_t *op_new(ac_repo_t *r, op_kind_t kind, ac_repo_cb cb, void *arg)
{
    ac_op_t *op = xcalloc(1, sizeof(*op));
    op->r = r;
    op->kind = kind;
    op->cb = cb;
    op->arg = arg;
    return op;
}

/* Tell the caller and free the call. */
static void finish(ac_op_t *op, ac_rc_t rc, const char *out, long long n, size_t bad)
{
    ac_res_t res = { rc, out, n, bad, (const char *const *)op->rows };
    op->cb(&res, op->arg);
    free(op->a.buf);
    for (size_t i = 0; op->rows && i < op->n; i++)
        free(op->rows[i]);
    free(op->rows);
    free(op);
}

static void result_cb(PGresult *res, void *arg);

/* Queue a statement of op (first: the next one of a transaction). When the
 * connection is not ready, the call finishes at once as unavailable. */
static void send_op(ac_op_t *op, int first, int which_or_neg, const char *sql, int n,
                    const char *const *vals)
{
    ac_repo_t *r = op->r;
    const char *text = which_or_neg >= 0 ? r->sql[which_or_neg] : sql;
    int rc = !text ? -1
             : first ? wpg_query_next(r->pg, text, n, vals, WPG_QUERY_TIMEOUT_MS, result_cb, op)
                     : wpg_query(r->pg, text, n, vals, WPG_QUERY_TIMEOUT_MS, result_cb, op);
    if (rc < 0) {
        snprintf(r->error, sizeof(r->error), "postgres unavailable");
        if (op->kind == OP_BATCH && op->fail.rc != AC_OK)
            finish(op, op->fail.rc, NULL, 0, op->fail.bad);
        else
            finish(op, AC_UNAVAILABLE, NULL, 0, op->next);
    }
}

static void batch_row(ac_op_t *op)
{
    const ac_event_t *ev = &op->evs[op->next];
    const char *vals[AC_P_COUNT];
    memcpy(vals, ev->p, sizeof(vals));
    send_op(op, 1, op->update ? SQL_UPDATE : SQL_INSERT, NULL, AC_P_COUNT, vals);
}

static void jarr_add(jarr_t *a, const char *s)
{
    size_t n = strlen(s);
    if (a->len + n + 3 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4096;
        while (cap < a->len + n + 3)
            cap *= 2;
        a->buf = xrealloc(a->buf, cap);
        a->cap = cap;
    }
    a->buf[a->len] = a->len == 0 ? '[' : ',';
    a->len++;
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

/* The batch's transaction: BEGIN, one statement per row, COMMIT; on the first
 * failing row ROLLBACK, then the failure. Each next statement is queued first
 * (wpg_query_next), so no other request's statement runs inside it. */
static void batch_step(ac_op_t *op, PGresult *res)
{
    ac_repo_t *r = op->r;
    int ok = res && wpg_res_ok(res);

    if (!res) {   /* the connection is gone: so is the transaction, unless the
                   * COMMIT itself was sent and not answered */
        if (op->fail.rc != AC_OK)
            finish(op, op->fail.rc, NULL, 0, op->fail.bad);
        else if (op->next == op->n && wpg_sent(r->pg))
            finish(op, AC_UNKNOWN, NULL, 0, 0);
        else
            finish(op, AC_UNAVAILABLE, NULL, 0, op->next);
        return;
    }
    if (op->fail.rc != AC_OK) {   /* the ROLLBACK's answer */
        finish(op, op->fail.rc, NULL, 0, op->fail.bad);
        return;
    }
    if (op->next == (size_t)-1) {   /* BEGIN */
        if (!ok) {
            finish(op, classify(r, res), NULL, 0, 0);
            return;
        }
        op->next = 0;
        batch_row(op);
        return;
    }
    if (op->next < op->n) {
        ac_rc_t rc = !ok ? classify(r, res) : PQntuples(res) == 0 ? AC_NOT_FOUND : AC_OK;
        if (rc == AC_OK) {
            jarr_add(&op->a, PQgetvalue(res, 0, 0));
            op->rows[op->next] = xstrdup(PQgetvalue(res, 0, 0));
        }
        if (rc != AC_OK) {
            op->fail.rc = rc;
            op->fail.bad = op->next;
            send_op(op, 1, -1, "ROLLBACK", 0, NULL);
            return;
        }
        if (++op->next < op->n)
            batch_row(op);
        else
            send_op(op, 1, -1, "COMMIT", 0, NULL);
        return;
    }
    /* COMMIT */
    if (!ok) {
        finish(op, classify(r, res), NULL, 0, 0);
        return;
    }
    jarr_add(&op->a, "");   /* room for the closing bracket (a batch has rows) */
    op->a.buf[op->a.len - 1] = ']';
    finish(op, AC_OK, op->a.buf, (long long)op->n, 0);
}

static void multi_result(ac_op_t *op, PGresult *res);

static void result_cb(PGresult *res, void *arg)
{
    ac_op_t *op = arg;
    ac_repo_t *r = op->r;
    int ok = res && wpg_res_ok(res);

    if (op->kind == OP_BATCH) {
        batch_step(op, res);
        PQclear(res);
        return;
    }
    if (op->kind == OP_MULTI) {
        multi_result(op, res);
        PQclear(res);
        return;
    }
    if (!ok) {
        finish(op, !res && wpg_sent(r->pg) ? AC_UNKNOWN : classify(r, res), NULL, 0, 0);
        PQclear(res);
        return;
    }
    switch (op->kind) {
    case OP_TEXT:
    case OP_COUNT:
        if (PQntuples(res) == 0)
            finish(op, AC_NOT_FOUND, NULL, 0, 0);
        else
            finish(op, AC_OK, PQgetvalue(res, 0, 0), strtoll(PQgetvalue(res, 0, 0), NULL, 10), 0);
        break;
    case OP_DELETE: {
        long long n = strtoll(PQcmdTuples(res), NULL, 10);
        finish(op, n == 0 ? AC_NOT_FOUND : AC_OK, NULL, n, 0);
        break;
    }
    case OP_REMOVED:
        for (int i = 0; op->each && i < PQntuples(res); i++)
            op->each(PQgetvalue(res, i, 0), op->each_arg);
        finish(op, AC_OK, NULL, PQntuples(res), 0);
        break;
    case OP_CORRELATED: {   /* the event exists: now its correlated events */
        const char *vals[1] = { op->id };
        if (PQntuples(res) == 0) {
            finish(op, AC_NOT_FOUND, NULL, 0, 0);
            break;
        }
        op->kind = OP_TEXT;
        send_op(op, 1, SQL_CORRELATED, NULL, 1, vals);
        break;
    }
    default:
        break;
    }
    PQclear(res);
}

void ac_repo_create(ac_repo_t *r, const ac_event_t *ev, ac_repo_cb cb, void *arg)
{
    send_op(op_new(r, OP_TEXT, cb, arg), 0, SQL_INSERT, NULL, AC_P_COUNT, ev->p);
}

void ac_repo_get(ac_repo_t *r, const char *id, ac_repo_cb cb, void *arg)
{
    const char *vals[1] = { id };
    send_op(op_new(r, OP_TEXT, cb, arg), 0, SQL_GET, NULL, 1, vals);
}

void ac_repo_update(ac_repo_t *r, const char *id, const ac_event_t *ev, ac_repo_cb cb,
                    void *arg)
{
    const char *vals[AC_P_COUNT];
    memcpy(vals, ev->p, sizeof(vals));
    vals[AC_P_ID] = id;
    send_op(op_new(r, OP_TEXT, cb, arg), 0, SQL_UPDATE, NULL, AC_P_COUNT, vals);
}

void ac_repo_delete(ac_repo_t *r, const char *id, ac_repo_cb cb, void *arg)
{
    const char *vals[1] = { id };
    send_op(op_new(r, OP_DELETE, cb, arg), 0, SQL_DELETE, NULL, 1, vals);
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

void ac_repo_count(ac_repo_t *r, const ac_filter_t *f, ac_repo_cb cb, void *arg)
{
    const char *vals[8];
    filter_vals(f, vals);
    send_op(op_new(r, OP_COUNT, cb, arg), 0, SQL_COUNT, NULL, 6, vals);
}

void ac_repo_query(ac_repo_t *r, const ac_filter_t *f, ac_repo_cb cb, void *arg)
{
    const char *vals[8];
    filter_vals(f, vals);
    send_op(op_new(r, OP_TEXT, cb, arg), 0, SQL_QUERY, NULL, 8, vals);
}

void ac_repo_correlated(ac_repo_t *r, const char *id, ac_repo_cb cb, void *arg)
{
    ac_op_t *op = op_new(r, OP_CORRELATED, cb, arg);
    const char *vals[1] = { op->id };
    snprintf(op->id, sizeof(op->id), "%s", id);
    send_op(op, 0, SQL_GET, NULL, 1, vals);
}

static void removed(ac_repo_t *r, int which, const char *cutoff, ac_each_id_cb each,
                    void *each_arg, ac_repo_cb cb, void *arg)
{
    ac_op_t *op = op_new(r, OP_REMOVED, cb, arg);
    const char *vals[1] = { cutoff };
    op->each = each;
    op->each_arg = each_arg;
    send_op(op, 0, which, NULL, 1, vals);
}

void ac_repo_delete_older(ac_repo_t *r, const char *cutoff, ac_each_id_cb each,
                          void *each_arg, ac_repo_cb cb, void *arg)
{
    removed(r, SQL_DELETE_OLDER, cutoff, each, each_arg, cb, arg);
}

void ac_repo_archive_older(ac_repo_t *r, const char *cutoff, ac_each_id_cb each,
                           void *each_arg, ac_repo_cb cb, void *arg)
{
    /* One statement (DELETE ... RETURNING feeding the INSERT) is one transaction:
     * a row is either still live or in the archive, never both or neither. */
    removed(r, SQL_ARCHIVE_OLDER, cutoff, each, each_arg, cb, arg);
}

static void batch(ac_repo_t *r, int update, const ac_event_t *evs, size_t n, ac_repo_cb cb,
                  void *arg)
{
    ac_op_t *op = op_new(r, OP_BATCH, cb, arg);
    op->update = update;
    op->evs = evs;
    op->n = n;
    op->next = (size_t)-1;   /* BEGIN's answer comes first */
    op->rows = xcalloc(n, sizeof(*op->rows));
    send_op(op, 0, -1, "BEGIN", 0, NULL);
}

/* ---- a create batch as one multi-row INSERT ---------------------------------------- */

/* One row of the multi-row INSERT: SQL_INSERT's VALUES with the parameters of row i
 * ($(11i+1) .. $(11i+11)); the text columns are cast, since a multi-row VALUES list
 * does not take unknown parameters' types from the target columns. */
#define MULTI_ROW \
    "(COALESCE($%zu::uuid, gen_random_uuid()), $%zu::text, $%zu::text, $%zu::text," \
    " $%zu::text, $%zu::text, COALESCE($%zu::timestamptz, now()), $%zu::bigint," \
    " COALESCE($%zu::text, 'ok'), COALESCE($%zu::jsonb, '{}'::jsonb)," \
    " ARRAY(SELECT jsonb_array_elements_text(COALESCE($%zu::jsonb, '[]'::jsonb))))"

/* The statement for n rows; malloc'd, NULL on failure. */
static char *multi_sql(ac_repo_t *r, size_t n)
{
    char *ev = wpg_qualify(r->pg, "audit_events"), *s = NULL;
    size_t cap, len;

    if (!ev)
        return NULL;
    cap = strlen(ev) + 256 + n * (sizeof(MULTI_ROW) + 11 * 8 + 2);
    s = xmalloc(cap);
    len = (size_t)snprintf(s, cap,
                           "INSERT INTO %s AS t (id, trace_id, span_id, correlation_id,"
                           " service_name, event_type, \"timestamp\", duration_ms, status,"
                           " metadata, tags) VALUES ", ev);
    for (size_t i = 0; i < n; i++) {
        size_t b = i * AC_P_COUNT;
        if (i > 0)
            s[len++] = ',';
        len += (size_t)snprintf(s + len, cap - len, MULTI_ROW, b + 1, b + 2, b + 3, b + 4,
                                b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11);
    }
    snprintf(s + len, cap - len, " RETURNING to_jsonb(t)::text");
    free(ev);
    return s;
}

/* The multi-row INSERT's answer. Its RETURNING rows come in the VALUES' order (as
 * PostgreSQL processes a plain INSERT's VALUES list). A statement is atomic: on a row
 * PostgreSQL refuses, nothing is stored, and the batch runs again the slow way (BEGIN,
 * a statement per row, COMMIT) only to learn which row it was. */
static void multi_result(ac_op_t *op, PGresult *res)
{
    ac_repo_t *r = op->r;

    if (!res) {
        finish(op, wpg_sent(r->pg) ? AC_UNKNOWN : AC_UNAVAILABLE, NULL, 0, 0);
        return;
    }
    if (!wpg_res_ok(res) || PQntuples(res) != (int)op->n) {
        ac_rc_t rc = !wpg_res_ok(res) ? classify(r, res) : AC_ERROR;
        if (rc == AC_CONFLICT || rc == AC_INVALID) {
            op->kind = OP_BATCH;
            op->next = (size_t)-1;
            send_op(op, 0, -1, "BEGIN", 0, NULL);
        } else {
            finish(op, rc, NULL, 0, 0);
        }
        return;
    }
    for (size_t i = 0; i < op->n; i++) {
        jarr_add(&op->a, PQgetvalue(res, (int)i, 0));
        op->rows[i] = xstrdup(PQgetvalue(res, (int)i, 0));
    }
    jarr_add(&op->a, "");
    op->a.buf[op->a.len - 1] = ']';
    finish(op, AC_OK, op->a.buf, (long long)op->n, 0);
}

/* Creates go as one statement: one round trip and one commit for the whole batch
 * instead of BEGIN, a round trip per row and COMMIT. */
void ac_repo_create_batch(ac_repo_t *r, const ac_event_t *evs, size_t n, ac_repo_cb cb,
                          void *arg)
{
    ac_op_t *op;
    const char **vals;
    char *sql;

    if (n == 0 || n > 65535 / AC_P_COUNT || !(sql = multi_sql(r, n))) {
        batch(r, 0, evs, n, cb, arg);
        return;
    }
    op = op_new(r, OP_MULTI, cb, arg);
    op->evs = evs;
    op->n = n;
    op->rows = xcalloc(n, sizeof(*op->rows));
    vals = xcalloc(n * AC_P_COUNT, sizeof(*vals));
    for (size_t i = 0; i < n; i++)
        memcpy(vals + i * AC_P_COUNT, evs[i].p, sizeof(evs[i].p));
    send_op(op, 0, -1, sql, (int)(n * AC_P_COUNT), vals);
    free(vals);
    free(sql);
}

void ac_repo_update_batch(ac_repo_t *r, const ac_event_t *evs, size_t n, ac_repo_cb cb,
                          void *arg)
{
    batch(r, 1, evs, n, cb, arg);
}
