/* wrt_pg.c - the worker's PostgreSQL connection: schema-bound, validated, reconnecting. */
#include "config.h"

#include "wrt_pg.h"

#include "log.h"
#include "wrt_backoff.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wpg {
    struct event_base *base;
    const wcfg_t *cfg;
    wpg_ready_cb ready_cb;
    void *ready_arg;
    PGconn *conn;          /* non-NULL only when ready */
    struct event *retry;
    unsigned attempt;
    unsigned long reconnects;
    int was_ready;
    char error[256];
};

static void set_error(wpg_t *pg, const char *msg)
{
    size_t n;
    snprintf(pg->error, sizeof(pg->error), "%s", msg ? msg : "");
    n = strlen(pg->error);
    while (n && (pg->error[n - 1] == '\n' || pg->error[n - 1] == ' '))
        pg->error[--n] = '\0';
}

static void schedule(wpg_t *pg)
{
    long ms = wbo_delay_ms(pg->attempt++);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(pg->retry, &tv);
}

static void drop(wpg_t *pg, const char *why)
{
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
        log_warn("PostgreSQL connection lost", "instance", pg->cfg->instance, "error", why);
    }
    set_error(pg, why);
    if (!evtimer_pending(pg->retry, NULL))
        schedule(pg);
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

/* Send one statement and wait for its result at most timeout_ms. libpq's blocking
 * calls wait forever on a server that stopped answering (statement_timeout is
 * enforced by that very server), so the wait is a poll() with a deadline; on expiry
 * the connection is abandoned, which also ends the server-side transaction. */
static PGresult *exec_bounded(PGconn *conn, const char *sql, int n, const char *const *vals,
                              int timeout_ms, int *timed_out)
{
    struct timespec start, now;
    PGresult *res = NULL, *r;

    *timed_out = 0;
    if (!PQsendQueryParams(conn, sql, n, NULL, vals, NULL, NULL, 0))
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        while (PQisBusy(conn)) {
            struct pollfd p = { PQsocket(conn), POLLIN, 0 };
            long left;
            int rc;

            clock_gettime(CLOCK_MONOTONIC, &now);
            left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
                                 (now.tv_nsec - start.tv_nsec) / 1000000);
            if (left <= 0) {
                *timed_out = 1;
                PQclear(res);
                return NULL;
            }
            rc = poll(&p, 1, (int)left);
            if (rc < 0 && errno != EINTR)
                goto broken;
            if (rc > 0 && !PQconsumeInput(conn))
                goto broken;
        }
        r = PQgetResult(conn);
        if (!r)
            return res;
        /* One statement gives one result; keep the last (an error if any). */
        PQclear(res);
        res = r;
    }
broken:
    PQclear(res);
    return NULL;
}

/* The schema must exist; a worker started by hand against a database that was not
 * provisioned creates it (which needs CREATE on the database). */
static int validate_schema(wpg_t *pg, PGconn *conn)
{
    const char *vals[1] = { pg->cfg->schema };
    int timed_out;
    PGresult *res = exec_bounded(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1,
                                 vals, WPG_QUERY_TIMEOUT_MS, &timed_out);
    int found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        set_error(pg, res ? PQresultErrorMessage(res) : "no answer to the schema check");
    PQclear(res);
    if (!ok)
        return -1;
    if (!found) {
        char *id = PQescapeIdentifier(conn, pg->cfg->schema, strlen(pg->cfg->schema));
        char sql[256];
        if (!id)
            return -1;
        snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", id);
        PQfreemem(id);
        res = exec_bounded(conn, sql, 0, NULL, WPG_QUERY_TIMEOUT_MS, &timed_out);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            set_error(pg, res ? PQresultErrorMessage(res) : "no answer to CREATE SCHEMA");
            log_error("PostgreSQL schema does not exist and cannot be created",
                      "instance", pg->cfg->instance, "schema", pg->cfg->schema,
                      "error", pg->error);
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

static void try_connect(wpg_t *pg)
{
    char options[NM_SCHEMA_MAX + 128];
    const char *keys[] = { "dbname", "application_name", "options", "connect_timeout", NULL };
    const char *vals[5];
    PGconn *conn;

    /* The schema matches [a-z_][a-z0-9_]* (nm_check_schema), so it needs no quoting
     * inside the options string. */
    snprintf(options, sizeof(options), "-c search_path=%s -c TimeZone=UTC "
             "-c statement_timeout=%d", pg->cfg->schema, WPG_STATEMENT_TIMEOUT_MS);
    vals[0] = pg->cfg->postgres_url;
    vals[1] = pg->cfg->instance;
    vals[2] = options;
    vals[3] = "3";
    vals[4] = NULL;
    conn = PQconnectdbParams(keys, vals, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        set_error(pg, conn ? PQerrorMessage(conn) : "out of memory");
        if (pg->attempt == 0 || pg->attempt % 10 == 0)
            log_warn("PostgreSQL unavailable, retrying", "instance", pg->cfg->instance,
                     "error", pg->error);
        PQfinish(conn);
        schedule(pg);
        return;
    }
    PQsetNoticeProcessor(conn, notice_cb, pg);
    if (validate_schema(pg, conn) < 0) {
        PQfinish(conn);
        schedule(pg);
        return;
    }
    pg->conn = conn;
    if (pg->ready_cb && pg->ready_cb(pg, pg->ready_arg) < 0) {
        if (pg->conn) {
            set_error(pg, "connected, but the worker's schema setup failed (see the log)");
            PQfinish(pg->conn);
            pg->conn = NULL;
        }
        if (!evtimer_pending(pg->retry, NULL))
            schedule(pg);
        return;
    }
    if (pg->was_ready)
        pg->reconnects++;
    pg->was_ready = 1;
    pg->attempt = 0;
    pg->error[0] = '\0';
    log_info("PostgreSQL connected", "instance", pg->cfg->instance, "schema", pg->cfg->schema);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    try_connect(arg);
}

wpg_t *wpg_new(struct event_base *base, const wcfg_t *c, wpg_ready_cb cb, void *arg)
{
    wpg_t *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return NULL;
    pg->base = base;
    pg->cfg = c;
    pg->ready_cb = cb;
    pg->ready_arg = arg;
    pg->retry = evtimer_new(base, retry_cb, pg);
    if (!pg->retry) {
        free(pg);
        return NULL;
    }
    set_error(pg, "not connected yet");
    return pg;
}

void wpg_start(wpg_t *pg) { try_connect(pg); }

void wpg_free(wpg_t *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    event_free(pg->retry);
    free(pg);
}

int wpg_ok(const wpg_t *pg) { return pg->conn != NULL; }
const char *wpg_error(const wpg_t *pg) { return pg->error; }
unsigned long wpg_reconnects(const wpg_t *pg) { return pg->reconnects; }
PGconn *wpg_conn(wpg_t *pg) { return pg->conn; }

char *wpg_qualify(wpg_t *pg, const char *name)
{
    char *s, *n, *out;
    size_t len;

    if (!pg->conn)
        return NULL;
    s = PQescapeIdentifier(pg->conn, pg->cfg->schema, strlen(pg->cfg->schema));
    n = PQescapeIdentifier(pg->conn, name, strlen(name));
    out = NULL;
    if (s && n) {
        size_t ls = strlen(s), ln = strlen(n);
        len = ls + ln + 2;
        out = malloc(len);
        if (out) {    /* "schema.name", sized exactly: nothing to truncate */
            memcpy(out, s, ls);
            out[ls] = '.';
            memcpy(out + ls + 1, n, ln + 1);
        }
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

PGresult *wpg_exec_timeout(wpg_t *pg, const char *sql, int n, const char *const *vals,
                           int timeout_ms)
{
    PGresult *res;
    int timed_out;

    if (!pg->conn)
        return NULL;
    res = exec_bounded(pg->conn, sql, n, vals, timeout_ms, &timed_out);
    if (timed_out || PQstatus(pg->conn) != CONNECTION_OK || !res) {
        char why[256];
        if (timed_out)
            snprintf(why, sizeof(why), "no answer within %d ms", timeout_ms);
        else
            snprintf(why, sizeof(why), "%s", PQerrorMessage(pg->conn));
        PQclear(res);
        drop(pg, why[0] ? why : "connection broken");
        return NULL;
    }
    return res;
}

PGresult *wpg_exec(wpg_t *pg, const char *sql, int n, const char *const *vals)
{
    return wpg_exec_timeout(pg, sql, n, vals, WPG_QUERY_TIMEOUT_MS);
}

int wpg_check(wpg_t *pg)
{
    PGresult *res = wpg_exec_timeout(pg, "SELECT 1", 0, NULL, WPG_PROBE_TIMEOUT_MS);
    if (res && !wpg_res_ok(res))
        log_warn("PostgreSQL probe failed", "instance", pg->cfg->instance,
                 "error", PQresultErrorMessage(res));
    PQclear(res);
    return wpg_ok(pg);
}
