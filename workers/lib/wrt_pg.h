/* wrt_pg.h - the worker's PostgreSQL connection: schema-bound, validated, reconnecting. */
#ifndef WRT_PG_H
#define WRT_PG_H

#include <event2/event.h>
#include <libpq-fe.h>

#include "wrt_config.h"

/* The server cancels a statement after WPG_STATEMENT_TIMEOUT_MS; the client gives
 * up on a server that does not answer at all after WPG_QUERY_TIMEOUT_MS. */
#define WPG_STATEMENT_TIMEOUT_MS 10000
#define WPG_QUERY_TIMEOUT_MS     12000
#define WPG_PROBE_TIMEOUT_MS     2000

typedef struct wpg wpg_t;

/* Called after every (re)connect once the schema is validated; the worker creates
 * its tables here. Return 0, or -1 to drop the connection and retry with backoff. */
typedef int (*wpg_ready_cb)(wpg_t *pg, void *arg);

/* c must outlive the handle. The connection is made by wpg_start and on its own
 * timer afterwards; nothing blocks longer than connect_timeout (3 s). */
wpg_t *wpg_new(struct event_base *base, const wcfg_t *c, wpg_ready_cb cb, void *arg);
void wpg_start(wpg_t *pg);
void wpg_free(wpg_t *pg);

int wpg_ok(const wpg_t *pg);              /* 1 when connected and ready */
const char *wpg_error(const wpg_t *pg);   /* last failure, "" when none */
unsigned long wpg_reconnects(const wpg_t *pg);
PGconn *wpg_conn(wpg_t *pg);             /* NULL when not ready */

/* "schema"."name" (both quoted with PQescapeIdentifier) in a new string the caller
 * frees with free(). NULL when not connected or out of memory. */
char *wpg_qualify(wpg_t *pg, const char *name);

/* PQexecParams on the connection. Returns NULL when PostgreSQL is unavailable (not
 * connected, or the connection broke during the call: it is then dropped and a
 * reconnect scheduled); else a result the caller PQclear()s, which may be an error.
 * The wait is bounded by WPG_QUERY_TIMEOUT_MS (wpg_exec_timeout: timeout_ms). May be
 * called from the wpg_ready_cb. */
PGresult *wpg_exec(wpg_t *pg, const char *sql, int n, const char *const *vals);
PGresult *wpg_exec_timeout(wpg_t *pg, const char *sql, int n, const char *const *vals,
                           int timeout_ms);

/* Run a probe query now; returns wpg_ok() afterwards. */
int wpg_check(wpg_t *pg);

/* 1 when res is a command/tuples success. */
int wpg_res_ok(const PGresult *res);

#endif
