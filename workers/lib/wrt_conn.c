/* wrt_conn.c - one reconnect skeleton for the worker's PostgreSQL and Redis connections. */
#include "config.h"

#include "wrt_conn.h"

#include "log.h"
#include "wrt_backoff.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

long long wcn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wcn_set_error(wcn_t *c, const char *msg)
{
    size_t n;
    snprintf(c->error, sizeof(c->error), "%s", msg ? msg : "");
    n = strlen(c->error);
    while (n && (c->error[n - 1] == '\n' || c->error[n - 1] == ' '))
        c->error[--n] = '\0';
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    wcn_t *c = arg;
    (void)fd;
    (void)what;
    c->connecting = 1;
    c->attempt_fn(c->arg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    wcn_t *c = arg;
    (void)fd;
    (void)what;
    c->expire_fn(c->arg);
}

int wcn_init(wcn_t *c, struct event_base *base, const char *what, const char *instance,
             wcn_attempt_fn attempt, wcn_expire_fn expire, void *arg)
{
    memset(c, 0, sizeof(*c));
    c->base = base;
    c->what = what;
    c->instance = instance;
    c->attempt_fn = attempt;
    c->expire_fn = expire;
    c->arg = arg;
    c->last_answer_ms = -1;
    c->retry = evtimer_new(base, retry_cb, c);
    c->deadline = evtimer_new(base, deadline_cb, c);
    if (!c->retry || !c->deadline) {
        wcn_fini(c);
        return -1;
    }
    wcn_set_error(c, "not connected yet");
    return 0;
}

void wcn_fini(wcn_t *c)
{
    if (c->retry)
        event_free(c->retry);
    if (c->deadline)
        event_free(c->deadline);
    c->retry = c->deadline = NULL;
}

void wcn_start(wcn_t *c)
{
    c->connecting = 1;
    c->attempt_fn(c->arg);
}

void wcn_arm_deadline(wcn_t *c, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(c->deadline, &tv);
}

static void schedule(wcn_t *c)
{
    long ms = wbo_delay_ms(c->attempt++);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    if (!evtimer_pending(c->retry, NULL))
        evtimer_add(c->retry, &tv);
}

void wcn_failed(wcn_t *c, const char *why)
{
    char msg[64];
    evtimer_del(c->deadline);
    c->connecting = 0;
    c->up = 0;
    wcn_set_error(c, why);
    if (c->attempt == 0 || c->attempt % 10 == 0) {
        snprintf(msg, sizeof(msg), "%s unavailable, retrying", c->what);
        log_warn(msg, "instance", c->instance, "error", c->error);
    }
    schedule(c);
}

void wcn_ready(wcn_t *c)
{
    char msg[64];
    evtimer_del(c->deadline);
    c->connecting = 0;
    c->up = 1;
    if (c->was_up)
        c->reconnects++;
    c->was_up = 1;
    c->attempt = 0;
    c->error[0] = '\0';
    wcn_answered(c);
    snprintf(msg, sizeof(msg), "%s connected", c->what);
    log_info(msg, "instance", c->instance);
}

void wcn_lost(wcn_t *c, const char *why)
{
    char msg[64];
    wcn_set_error(c, why);
    if (c->up) {
        snprintf(msg, sizeof(msg), "%s connection lost", c->what);
        log_warn(msg, "instance", c->instance, "error", c->error);
    }
    c->up = 0;
    c->connecting = 0;
    schedule(c);
}

void wcn_answered(wcn_t *c) { c->last_answer_ms = wcn_now_ms(); }
