/* wrt_pg.h - the worker's PostgreSQL connection: asynchronous, schema-bound, reconnecting. */
#ifndef WRT_PG_H
#define WRT_PG_H

#include <event2/event.h>
#include <libpq-fe.h>

#include "wrt_config.h"
#include "wrt_health.h"

/* The server cancels a statement after WPG_STATEMENT_TIMEOUT_MS; the client gives
 * up on a server that does not answer at all after WPG_QUERY_TIMEOUT_MS (the
 * connection is then dropped and replaced). Connecting gets WPG_CONNECT_TIMEOUT_MS,
 * the schema setup after a connect WPG_SETUP_TIMEOUT_MS per statement. */
#define WPG_STATEMENT_TIMEOUT_MS 10000
#define WPG_QUERY_TIMEOUT_MS     12000
#define WPG_PROBE_TIMEOUT_MS     2000
#define WPG_CONNECT_TIMEOUT_MS   3000
#define WPG_SETUP_TIMEOUT_MS     5000

typedef struct wpg wpg_t;

/* Called after every (re)connect once the schema is validated; the worker creates
 * its tables here with wpg_exec (the connection is not yet shared with requests).
 * Return 0, or -1 to drop the connection and retry with backoff. */
typedef int (*wpg_ready_cb)(wpg_t *pg, void *arg);

/* The answer to a wpg_query: res is NULL when PostgreSQL is unavailable (not
 * connected, or the connection broke or timed out while the query waited: nothing
 * was committed), else a result the callback owns and PQclear()s, which may be an
 * error. */
typedef void (*wpg_result_cb)(PGresult *res, void *arg);

/* c must outlive the handle. Connecting (PQconnectStart/PQconnectPoll) runs on the
 * loop, with a timer as its deadline and backoff between attempts. */
wpg_t *wpg_new(struct event_base *base, const wcfg_t *c, wpg_ready_cb cb, void *arg);
void wpg_start(wpg_t *pg);
void wpg_free(wpg_t *pg);

int wpg_ok(const wpg_t *pg);              /* 1 when connected and ready */
const char *wpg_error(const wpg_t *pg);   /* last failure, "" when none */
unsigned long wpg_reconnects(const wpg_t *pg);
PGconn *wpg_conn(wpg_t *pg);             /* NULL when not connected */

/* "schema"."name" (both quoted with PQescapeIdentifier) in a new string the caller
 * frees with free(). NULL when not connected or out of memory. */
char *wpg_qualify(wpg_t *pg, const char *name);

/* Queue one statement (sql and vals are copied) and return at once; cb gets the
 * result on the loop, in the order the statements were queued. Returns -1 without
 * calling cb when PostgreSQL is not ready. timeout_ms bounds the wait for the
 * answer once the statement is sent. */
int wpg_query(wpg_t *pg, const char *sql, int n, const char *const *vals, int timeout_ms,
              wpg_result_cb cb, void *arg);

/* In a result callback that got res == NULL: 1 when the statement had been sent
 * (the server may still run it when it continues: its outcome is unknown), 0 when
 * it never left the queue (it certainly did not run). */
int wpg_sent(const wpg_t *pg);

/* As wpg_query, but the statement goes first in the queue. Only from a result
 * callback: the next statement of a transaction is then sent before anything queued
 * meanwhile, so no other caller's statement runs inside the transaction. */
int wpg_query_next(wpg_t *pg, const char *sql, int n, const char *const *vals,
                   int timeout_ms, wpg_result_cb cb, void *arg);

/* The same statement, waiting for its result at most timeout_ms (wpg_exec:
 * WPG_QUERY_TIMEOUT_MS) while the loop waits too. Only for the schema setup in
 * wpg_ready_cb and for callers not yet converted to wpg_query. Returns NULL when
 * PostgreSQL is unavailable, else a result the caller PQclear()s. */
PGresult *wpg_exec(wpg_t *pg, const char *sql, int n, const char *const *vals);
PGresult *wpg_exec_timeout(wpg_t *pg, const char *sql, int n, const char *const *vals,
                           int timeout_ms);

/* Queue a SELECT 1 unless one is already waiting (the runtime's tick). */
void wpg_probe(wpg_t *pg);
/* The connection's health from the state the last answers left; never waits. */
wh_check_t wpg_health(const wpg_t *pg, char *msg, size_t msglen);

/* 1 when res is a command/tuples success. */
int wpg_res_ok(const PGresult *res);

#endif
