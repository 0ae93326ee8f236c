/* wrt_conn.h - one reconnect skeleton for the worker's PostgreSQL and Redis connections. */
#ifndef WRT_CONN_H
#define WRT_CONN_H

#include <event2/event.h>

/* A connection to one server goes DOWN -> CONNECTING -> UP -> DOWN ...; the module
 * that speaks the protocol (wrt_pg, wrt_redis) starts attempts and reports their
 * outcome here, and this skeleton does the rest the same way for both: the backoff
 * timer between attempts, the deadline of one attempt (libpq's and hiredis's
 * non-blocking connects have none of their own), the "connected", "unavailable" and
 * "connection lost" logs, the reconnect counter, and the time of the last answer the
 * health state is computed from. Everything runs on the worker's event loop. */
typedef struct wcn wcn_t;

/* Start one connect attempt (non-blocking); report with wcn_ready/wcn_failed. */
typedef void (*wcn_attempt_fn)(void *arg);
/* The attempt's deadline passed: abandon it (free the half-open connection) and
 * call wcn_failed. */
typedef void (*wcn_expire_fn)(void *arg);

struct wcn {
    struct event_base *base;
    const char *what;        /* "PostgreSQL", "Redis": the log messages' subject */
    const char *instance;    /* borrowed from the configuration */
    wcn_attempt_fn attempt_fn;
    wcn_expire_fn expire_fn;
    void *arg;
    struct event *retry;     /* backoff before the next attempt */
    struct event *deadline;  /* of the attempt in progress */
    unsigned attempt;        /* failed attempts since the last success */
    unsigned long reconnects;
    int connecting, up, was_up;
    long long last_answer_ms; /* monotonic ms of the last answer from the server; -1 never */
    char error[256];          /* last failure, "" when up */
};

/* 0, or -1 when out of memory. what and instance must outlive c. */
int wcn_init(wcn_t *c, struct event_base *base, const char *what, const char *instance,
             wcn_attempt_fn attempt, wcn_expire_fn expire, void *arg);
void wcn_fini(wcn_t *c);

/* The first attempt, now. */
void wcn_start(wcn_t *c);
/* The attempt in progress gets at most ms before expire_fn is called. */
void wcn_arm_deadline(wcn_t *c, long ms);
/* The attempt failed (why is logged on the first and every tenth failure): retry
 * after the backoff delay. */
void wcn_failed(wcn_t *c, const char *why);
/* The attempt succeeded: the connection is usable. */
void wcn_ready(wcn_t *c);
/* The usable connection broke (the caller has closed it): log, retry with backoff. */
void wcn_lost(wcn_t *c, const char *why);
/* The server answered something just now (a reply, a result, an error). */
void wcn_answered(wcn_t *c);
/* The error text without trailing newlines or blanks (libpq ends messages in "\n"). */
void wcn_set_error(wcn_t *c, const char *msg);

/* CLOCK_MONOTONIC in milliseconds. */
long long wcn_now_ms(void);

#endif
