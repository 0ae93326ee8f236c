/* wrt_pg.c - the worker's PostgreSQL connection: asynchronous, schema-bound, reconnecting. */
#include "config.h"

#include "wrt_pg.h"

#include "log.h"
#include "wrt_conn.h"
#include "xalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One queued statement. sql and the parameter texts live in the same allocation
 * (copied at wpg_query: the caller's buffers are request-local). */
typedef struct wpg_job {
    struct wpg_job *next;
    wpg_result_cb cb;
    void *arg;
    int timeout_ms;
    long long sent_ms;
    int n;
    const char *sql;
    const char **vals;
} wpg_job_t;

struct wpg {
    wcn_t cn;
    const wcfg_t *cfg;
    wpg_ready_cb ready_cb;
    void *ready_arg;
    PGconn *conn;          /* connecting, in setup, or ready */
    int ready;             /* set up: shared with wpg_query callers */
    struct event *io;      /* the socket, for PQconnectPoll and for results */
    evutil_socket_t io_fd;
    short io_what;
    wpg_job_t *head, *tail; /* head is in flight when inflight */
    int inflight;
    PGresult *acc;         /* the in-flight statement's result so far */
    struct event *qtimer;  /* deadline of the in-flight statement */
    int probe_pending;
    int failing_sent;      /* see wpg_sent */
};

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Watch the connection's socket for what; libpq may change the socket while
 * connecting, so it is re-read every time. */
static void watch(wpg_t *pg, short what)
{
    evutil_socket_t fd = PQsocket(pg->conn);
    if (pg->io && fd == pg->io_fd && what == pg->io_what)
        return;
    if (pg->io)
        event_free(pg->io);
    pg->io = event_new(pg->cn.base, fd, what | EV_PERSIST, io_cb, pg);
    if (!pg->io) {
        fprintf(stderr, "%s:%d: out of memory\n", __FILE__, __LINE__);
        abort();
    }
    pg->io_fd = fd;
    pg->io_what = what;
    event_add(pg->io, NULL);
}

static void close_conn(wpg_t *pg)
{
    if (pg->io)
        event_free(pg->io);
    pg->io = NULL;
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->ready = 0;
    pg->inflight = 0;
    evtimer_del(pg->qtimer);
    PQclear(pg->acc);
    pg->acc = NULL;
}

/* Every queued statement gets "unavailable"; the state is consistent before the
 * first callback runs (a callback may queue again: it then gets -1). sent: the
 * first one was in flight. */
static void fail_all(wpg_t *pg, int sent)
{
    wpg_job_t *j = pg->head;
    pg->head = pg->tail = NULL;
    pg->inflight = 0;
    while (j) {
        wpg_job_t *next = j->next;
        pg->failing_sent = sent;
        j->cb(NULL, j->arg);
        pg->failing_sent = 0;
        sent = 0;
        free(j);
        j = next;
    }
}

int wpg_sent(const wpg_t *pg) { return pg->failing_sent; }

/* The connection broke or stopped answering: close it, tell every waiting
 * statement, reconnect with backoff. */
static void drop(wpg_t *pg, const char *why_in)
{
    int was_ready = pg->ready, sent = pg->inflight;
    char why[300];
    /* why may point into the connection (PQerrorMessage), which close_conn frees. */
    snprintf(why, sizeof(why), "%s", why_in && *why_in ? why_in : "connection broken");
    close_conn(pg);
    if (was_ready)
        wcn_lost(&pg->cn, why);
    else
        wcn_failed(&pg->cn, why);
    fail_all(pg, sent);
}

static void notice_cb(void *arg, const char *msg)
{
    wpg_t *pg = arg;
    char buf[512];
    size_t n;
    snprintf(buf, sizeof(buf), "%s", msg);
    n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    log_debug("PostgreSQL notice", "instance", pg->cfg->instance, "notice", buf);
}

/* The schema setup's statements run before the connection is shared, in blocking
 * mode, each waiting at most timeout_ms in poll(): libpq alone would wait forever on
 * a server that stopped answering. */
static PGresult *exec_bounded(PGconn *conn, const char *sql, int n, const char *const *vals,
                              int timeout_ms, int *timed_out)
{
    long long deadline = wcn_now_ms() + timeout_ms;
    PGresult *res = NULL, *r;

    *timed_out = 0;
    if (!PQsendQueryParams(conn, sql, n, NULL, vals, NULL, NULL, 0))
        return NULL;
    for (;;) {
        while (PQisBusy(conn)) {
            struct pollfd p = { PQsocket(conn), POLLIN, 0 };
            long long left = deadline - wcn_now_ms();
            int rc;

            if (left <= 0) {
                *timed_out = 1;
                PQclear(res);
                return NULL;
            }
            rc = poll(&p, 1, (int)left);
            if ((rc < 0 && errno != EINTR) || (rc > 0 && !PQconsumeInput(conn))) {
                PQclear(res);
                return NULL;
            }
        }
        r = PQgetResult(conn);
        if (!r)
            return res;
        PQclear(res);   /* one statement, one result: keep the last */
        res = r;
    }
}

/* The schema must exist; a worker started by hand against a database that was not
 * provisioned creates it (which needs CREATE on the database). */
static int validate_schema(wpg_t *pg)
{
    const char *vals[1] = { pg->cfg->schema };
    PGresult *res = wpg_exec_timeout(pg, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1,
                                     vals, WPG_SETUP_TIMEOUT_MS);
    int found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok && res)
        wcn_set_error(&pg->cn, PQresultErrorMessage(res));
    PQclear(res);
    if (!ok)
        return -1;
    if (!found) {
        char *id = PQescapeIdentifier(pg->conn, pg->cfg->schema, strlen(pg->cfg->schema));
        char sql[256];
        if (!id)
            return -1;
        snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", id);
        PQfreemem(id);
        res = wpg_exec_timeout(pg, sql, 0, NULL, WPG_SETUP_TIMEOUT_MS);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            if (res)
                wcn_set_error(&pg->cn, PQresultErrorMessage(res));
            log_error("PostgreSQL schema does not exist and cannot be created",
                      "instance", pg->cfg->instance, "schema", pg->cfg->schema,
                      "error", pg->cn.error);
        } else {
            log_info("PostgreSQL schema created", "instance", pg->cfg->instance,
                     "schema", pg->cfg->schema);
        }
        PQclear(res);
        if (!ok)
            return -1;
    }
    log_info("PostgreSQL schema validated", "schema", pg->cfg->schema,
             "instance", pg->cfg->instance);
    return 0;
}

/* PQconnectPoll said OK: validate, let the worker set up its tables, then share. */
static void connected(wpg_t *pg)
{
    if (pg->io)
        event_free(pg->io);
    pg->io = NULL;
    evtimer_del(pg->cn.deadline);
    PQsetNoticeProcessor(pg->conn, notice_cb, pg);
    if (validate_schema(pg) < 0) {
        char why[300];
        snprintf(why, sizeof(why), "%s", pg->cn.error[0] ? pg->cn.error : "schema check failed");
        drop(pg, why);
        return;
    }
    if (pg->ready_cb && pg->ready_cb(pg, pg->ready_arg) < 0) {
        drop(pg, "connected, but the worker's schema setup failed (see the log)");
        return;
    }
    if (PQsetnonblocking(pg->conn, 1) != 0) {
        drop(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->ready = 1;
    wcn_ready(&pg->cn);
    watch(pg, EV_READ);
}

static void connect_step(wpg_t *pg)
{
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_OK:
        connected(pg);
        break;
    case PGRES_POLLING_READING:
        watch(pg, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        watch(pg, EV_WRITE);
        break;
    default: {
        char why[300];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(pg->conn));
        drop(pg, why);
        break;
    }
    }
}

static void attempt(void *arg)
{
    wpg_t *pg = arg;
    char options[NM_SCHEMA_MAX + 128];
    const char *keys[] = { "dbname", "application_name", "options", NULL };
    const char *vals[4];

    /* The schema matches [a-z_][a-z0-9_]* (nm_check_schema), so it needs no quoting
     * inside the options string. */
    snprintf(options, sizeof(options), "-c search_path=%s -c TimeZone=UTC "
             "-c statement_timeout=%d", pg->cfg->schema, WPG_STATEMENT_TIMEOUT_MS);
    vals[0] = pg->cfg->postgres_url;
    vals[1] = pg->cfg->instance;
    vals[2] = options;
    vals[3] = NULL;
    pg->conn = PQconnectStartParams(keys, vals, 1);
    if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
        char why[300];
        snprintf(why, sizeof(why), "%s", pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        drop(pg, why);
        return;
    }
    /* PQconnectPoll has no deadline of its own (connect_timeout is ignored). */
    wcn_arm_deadline(&pg->cn, WPG_CONNECT_TIMEOUT_MS);
    watch(pg, EV_WRITE);
}

static void expire(void *arg)
{
    drop(arg, "timeout expired while connecting");
}

/* Flush what libpq holds; watch for writability while it cannot. 0, or -1 (dropped). */
static int flush(wpg_t *pg)
{
    int r = PQflush(pg->conn);
    if (r < 0) {
        drop(pg, PQerrorMessage(pg->conn));
        return -1;
    }
    watch(pg, r == 1 ? EV_READ | EV_WRITE : EV_READ);
    return 0;
}

static int send_head(wpg_t *pg)
{
    wpg_job_t *j = pg->head;
    struct timeval tv = { j->timeout_ms / 1000, (j->timeout_ms % 1000) * 1000 };

    if (!PQsendQueryParams(pg->conn, j->sql, j->n, NULL, j->vals, NULL, NULL, 0)) {
        char why[300];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(pg->conn));
        drop(pg, why);
        return -1;
    }
    pg->inflight = 1;
    j->sent_ms = wcn_now_ms();
    evtimer_add(pg->qtimer, &tv);
    return flush(pg);
}

static void complete(wpg_t *pg)
{
    wpg_job_t *j = pg->head;
    PGresult *res = pg->acc;

    pg->head = j->next;
    if (!pg->head)
        pg->tail = NULL;
    pg->inflight = 0;
    pg->acc = NULL;
    evtimer_del(pg->qtimer);
    wcn_answered(&pg->cn);
    j->cb(res, j->arg);
    free(j);
}

/* Move the queue on as far as the socket allows: read what arrived, hand finished
 * results to their callbacks, send the next statement. Never waits. */
static void pump(wpg_t *pg)
{
    while (pg->ready) {
        if (!pg->inflight) {
            if (!pg->head || send_head(pg) < 0)
                return;
        }
        if (!PQconsumeInput(pg->conn)) {
            drop(pg, PQerrorMessage(pg->conn));
            return;
        }
        while (pg->ready && pg->inflight && !PQisBusy(pg->conn)) {
            PGresult *r = PQgetResult(pg->conn);
            if (!r) {
                complete(pg);
                break;
            }
            PQclear(pg->acc);
            pg->acc = r;
        }
        if (pg->ready && pg->inflight)
            return;   /* busy: the rest comes with the next readable event */
    }
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    wpg_t *pg = arg;
    (void)fd;
    if (!pg->ready) {
        connect_step(pg);
        return;
    }
    if ((what & EV_WRITE) && flush(pg) < 0)
        return;
    if (what & EV_READ) {
        /* Also when idle: a server that goes away closes the socket. */
        if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) == CONNECTION_BAD) {
            drop(pg, PQerrorMessage(pg->conn));
            return;
        }
    }
    pump(pg);
}

static void qtimer_cb(evutil_socket_t fd, short what, void *arg)
{
    wpg_t *pg = arg;
    char why[64];
    (void)fd;
    (void)what;
    snprintf(why, sizeof(why), "no answer within %d ms", pg->head ? pg->head->timeout_ms : 0);
    drop(pg, why);
}

wpg_t *wpg_new(struct event_base *base, const wcfg_t *c, wpg_ready_cb cb, void *arg)
{
    wpg_t *pg = xcalloc(1, sizeof(*pg));
    pg->cfg = c;
    pg->ready_cb = cb;
    pg->ready_arg = arg;
    pg->io_fd = -1;
    pg->qtimer = evtimer_new(base, qtimer_cb, pg);
    if (!pg->qtimer ||
        wcn_init(&pg->cn, base, "PostgreSQL", c->instance, attempt, expire, pg) < 0) {
        if (pg->qtimer)
            event_free(pg->qtimer);
        free(pg);
        return NULL;
    }
    return pg;
}

void wpg_start(wpg_t *pg) { wcn_start(&pg->cn); }

void wpg_free(wpg_t *pg)
{
    if (!pg)
        return;
    {
        int sent = pg->inflight;
        close_conn(pg);
        fail_all(pg, sent);
    }
    event_free(pg->qtimer);
    wcn_fini(&pg->cn);
    free(pg);
}

int wpg_ok(const wpg_t *pg) { return pg->ready; }
const char *wpg_error(const wpg_t *pg) { return pg->cn.error; }
unsigned long wpg_reconnects(const wpg_t *pg) { return pg->cn.reconnects; }
PGconn *wpg_conn(wpg_t *pg) { return pg->conn; }

char *wpg_qualify(wpg_t *pg, const char *name)
{
    char *s, *n, *out;

    if (!pg->conn)
        return NULL;
    s = PQescapeIdentifier(pg->conn, pg->cfg->schema, strlen(pg->cfg->schema));
    n = PQescapeIdentifier(pg->conn, name, strlen(name));
    out = NULL;
    if (s && n) {
        size_t ls = strlen(s), ln = strlen(n);
        out = xmalloc(ls + ln + 2);   /* "schema.name", sized exactly */
        memcpy(out, s, ls);
        out[ls] = '.';
        memcpy(out + ls + 1, n, ln + 1);
    }
    PQfreemem(s);
    PQfreemem(n);
    return out;
}

int wpg_res_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int enqueue(wpg_t *pg, int first, const char *sql, int n, const char *const *vals,
                   int timeout_ms, wpg_result_cb cb, void *arg)
{
    size_t need = sizeof(wpg_job_t) + (size_t)n * sizeof(char *) + strlen(sql) + 1;
    wpg_job_t *j;
    char *p;

    if (!pg->ready)
        return -1;
    for (int i = 0; i < n; i++)
        need += vals[i] ? strlen(vals[i]) + 1 : 0;
    j = xmalloc(need);
    memset(j, 0, sizeof(*j));
    j->cb = cb;
    j->arg = arg;
    j->timeout_ms = timeout_ms;
    j->n = n;
    j->vals = (const char **)(j + 1);
    p = (char *)(j->vals + n);
    for (int i = 0; i < n; i++) {
        if (!vals[i]) {
            j->vals[i] = NULL;
            continue;
        }
        j->vals[i] = p;
        p = stpcpy(p, vals[i]) + 1;
    }
    j->sql = p;
    strcpy(p, sql);
    if (first && !pg->inflight) {
        j->next = pg->head;
        pg->head = j;
        if (!pg->tail)
            pg->tail = j;
    } else if (first) {    /* behind the statement in flight */
        j->next = pg->head->next;
        pg->head->next = j;
        if (pg->tail == pg->head)
            pg->tail = j;
    } else {
        if (pg->tail)
            pg->tail->next = j;
        else
            pg->head = j;
        pg->tail = j;
    }
    pump(pg);
    return 0;
}

int wpg_query(wpg_t *pg, const char *sql, int n, const char *const *vals, int timeout_ms,
              wpg_result_cb cb, void *arg)
{
    return enqueue(pg, 0, sql, n, vals, timeout_ms, cb, arg);
}

int wpg_query_next(wpg_t *pg, const char *sql, int n, const char *const *vals,
                   int timeout_ms, wpg_result_cb cb, void *arg)
{
    return enqueue(pg, 1, sql, n, vals, timeout_ms, cb, arg);
}

typedef struct {
    int done;
    PGresult *res;
} wpg_wait_t;

static void wait_cb(PGresult *res, void *arg)
{
    wpg_wait_t *w = arg;
    w->done = 1;
    w->res = res;
}

PGresult *wpg_exec_timeout(wpg_t *pg, const char *sql, int n, const char *const *vals,
                           int timeout_ms)
{
    wpg_wait_t w = { 0, NULL };
    long long deadline = wcn_now_ms() + timeout_ms;
    char why[64];

    if (!pg->conn)
        return NULL;
    if (!pg->ready) {   /* the schema setup: the connection is not shared yet */
        int timed_out;
        PGresult *res = exec_bounded(pg->conn, sql, n, vals, timeout_ms, &timed_out);
        if (!res) {
            if (timed_out)
                snprintf(why, sizeof(why), "no answer within %d ms", timeout_ms);
            wcn_set_error(&pg->cn, timed_out ? why : PQerrorMessage(pg->conn));
        }
        return res;
    }
    if (wpg_query(pg, sql, n, vals, timeout_ms, wait_cb, &w) < 0)
        return NULL;
    while (!w.done) {
        struct pollfd p = { PQsocket(pg->conn), POLLIN, 0 };
        long long left = deadline - wcn_now_ms();
        int rc;

        if (left <= 0) {
            snprintf(why, sizeof(why), "no answer within %d ms", timeout_ms);
            drop(pg, why);   /* answers every waiting statement, this one too */
            break;
        }
        if (pg->io_what & EV_WRITE)
            p.events |= POLLOUT;
        rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno != EINTR) {
            drop(pg, strerror(errno));
            break;
        }
        if (rc > 0 && (p.revents & POLLOUT) && flush(pg) < 0)
            break;
        pump(pg);
    }
    return w.res;
}

PGresult *wpg_exec(wpg_t *pg, const char *sql, int n, const char *const *vals)
{
    return wpg_exec_timeout(pg, sql, n, vals, WPG_QUERY_TIMEOUT_MS);
}

static void probe_cb(PGresult *res, void *arg)
{
    wpg_t *pg = arg;
    pg->probe_pending = 0;
    if (res && !wpg_res_ok(res))
        log_warn("PostgreSQL probe failed", "instance", pg->cfg->instance,
                 "error", PQresultErrorMessage(res));
    PQclear(res);
}

void wpg_probe(wpg_t *pg)
{
    if (!pg->ready || pg->probe_pending)
        return;
    pg->probe_pending = 1;   /* before: the callback may run inside wpg_query */
    if (wpg_query(pg, "SELECT 1", 0, NULL, WPG_PROBE_TIMEOUT_MS, probe_cb, pg) < 0)
        pg->probe_pending = 0;
}

wh_check_t wpg_health(const wpg_t *pg, char *msg, size_t msglen)
{
    return wh_check_conn(&pg->cn, pg->ready,
                         pg->ready && pg->inflight ? pg->head->sent_ms : -1, msg, msglen);
}
