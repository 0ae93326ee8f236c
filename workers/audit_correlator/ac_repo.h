/* ac_repo.h - the audit event repository: the audit service's functions as parameterized SQL. */
#ifndef AC_REPO_H
#define AC_REPO_H

#include "ac_event.h"
#include "wrt_pg.h"

typedef enum {
    AC_OK = 0,
    AC_NOT_FOUND,     /* no such id */
    AC_CONFLICT,      /* the id exists already */
    AC_INVALID,       /* PostgreSQL rejected a value (class 22/23) */
    AC_UNAVAILABLE,   /* PostgreSQL is down: nothing was stored */
    AC_UNKNOWN,       /* PostgreSQL stopped answering after the statement was sent:
                       * it may still be applied when the server continues */
    AC_RETRY,         /* the server rolled the statement back to resolve a conflict
                       * with a concurrent transaction (deadlock, serialization):
                       * nothing was stored, and the same request may succeed */
    AC_ERROR,         /* anything else (logged) */
} ac_rc_t;

typedef struct ac_repo ac_repo_t;

/* Filters of the list and count queries; NULL means "any". Times are RFC 3339. */
typedef struct ac_filter {
    const char *service, *event_type, *since, *until, *trace_id, *correlation_id;
    const char *limit, *offset;  /* decimal strings; used by the list query only */
} ac_filter_t;

ac_repo_t *ac_repo_new(wpg_t *pg, const char *instance);
void ac_repo_free(ac_repo_t *r);
/* Build the schema-qualified statements; call after every (re)connect. */
int ac_repo_prepare(ac_repo_t *r);
/* 1 when the repository's connection can take a statement now. */
int ac_repo_ready(const ac_repo_t *r);

/* Every call is asynchronous: it queues its statements on the worker's PostgreSQL
 * connection and returns; cb gets the outcome on the loop (or at once, inside the
 * call, when PostgreSQL is unavailable). AC_OK means committed. */
typedef struct ac_res {
    ac_rc_t rc;
    const char *out;   /* JSON text (create/get/update/query/correlated/batches); owned
                        * by the repository, valid during the callback only */
    long long n;       /* count; rows removed by the retention calls */
    size_t bad;        /* batches: index of the failing row */
    const char *const *rows; /* batches: each row's JSON text (n of them), same lifetime */
} ac_res_t;
typedef void (*ac_repo_cb)(const ac_res_t *res, void *arg);
/* each (may be NULL) is called with the id of every removed event, after commit. */
typedef void (*ac_each_id_cb)(const char *id, void *arg);

/* Values (events, ids, filters) are copied when queued, except the batches' evs,
 * which must stay valid until cb. */
void ac_repo_create(ac_repo_t *r, const ac_event_t *ev, ac_repo_cb cb, void *arg);
void ac_repo_get(ac_repo_t *r, const char *id, ac_repo_cb cb, void *arg);
void ac_repo_update(ac_repo_t *r, const char *id, const ac_event_t *ev, ac_repo_cb cb,
                    void *arg);
void ac_repo_delete(ac_repo_t *r, const char *id, ac_repo_cb cb, void *arg);
void ac_repo_count(ac_repo_t *r, const ac_filter_t *f, ac_repo_cb cb, void *arg);
void ac_repo_query(ac_repo_t *r, const ac_filter_t *f, ac_repo_cb cb, void *arg);
/* AC_NOT_FOUND when id does not exist. */
void ac_repo_correlated(ac_repo_t *r, const char *id, ac_repo_cb cb, void *arg);
/* One transaction: all rows or none; res->bad is the index of the failing row. */
void ac_repo_create_batch(ac_repo_t *r, const ac_event_t *evs, size_t n, ac_repo_cb cb,
                          void *arg);
void ac_repo_update_batch(ac_repo_t *r, const ac_event_t *evs, size_t n, ac_repo_cb cb,
                          void *arg);
/* each gets each_arg; res->n is the number of rows removed (moved). */
void ac_repo_delete_older(ac_repo_t *r, const char *cutoff, ac_each_id_cb each,
                          void *each_arg, ac_repo_cb cb, void *arg);
void ac_repo_archive_older(ac_repo_t *r, const char *cutoff, ac_each_id_cb each,
                           void *each_arg, ac_repo_cb cb, void *arg);

/* The last PostgreSQL error message of a failed call ("" when none). */
const char *ac_repo_error(const ac_repo_t *r);

#endif
