/* wrt_redis.c - the worker's Redis connection: namespaced keys, validated, reconnecting. */
#include "config.h"

#include "wrt_redis.h"

#include "log.h"
#include "wrt_backoff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wrd {
    struct event_base *base;
    const wcfg_t *cfg;
    wrd_ready_cb ready_cb;
    void *ready_arg;
    redisContext *ctx;      /* non-NULL only when ready */
    struct event *retry;
    unsigned attempt;
    unsigned long reconnects;
    int was_ready;
    char error[256];
};

int wrd_key(const char *ns, const char *key, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s:%s", ns, key);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static void schedule(wrd_t *rd)
{
    long ms = wbo_delay_ms(rd->attempt++);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(rd->retry, &tv);
}

static void drop(wrd_t *rd, const char *why)
{
    if (rd->ctx) {
        redisFree(rd->ctx);
        rd->ctx = NULL;
        log_warn("Redis connection lost", "instance", rd->cfg->instance, "error", why);
    }
    snprintf(rd->error, sizeof(rd->error), "%s", why);
    if (!evtimer_pending(rd->retry, NULL))
        schedule(rd);
}

/* A command on a context that is not yet published in rd->ctx. */
static int setup_cmd(wrd_t *rd, redisContext *c, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!r)
        snprintf(rd->error, sizeof(rd->error), "%s", c->errstr);
    else if (!ok)
        snprintf(rd->error, sizeof(rd->error), "%s: %s", argv[0], r->str);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* ValidateNamespace: the instance can write and delete under its namespace. */
static int validate_namespace(wrd_t *rd, redisContext *c)
{
    char key[NM_NAMESPACE_MAX + 64], sub[48];
    const char *set[] = { "SET", key, "1", "EX", "10" };
    const char *del[] = { "DEL", key };

    snprintf(sub, sizeof(sub), "__probe:%ld", (long)getpid());
    wrd_key(rd->cfg->namespace, sub, key, sizeof(key));
    if (setup_cmd(rd, c, 5, set) < 0 || setup_cmd(rd, c, 2, del) < 0) {
        log_error("Redis namespace validation failed", "namespace", rd->cfg->namespace,
                  "instance", rd->cfg->instance, "error", rd->error);
        return -1;
    }
    log_info("Redis namespace validated", "namespace", rd->cfg->namespace,
             "instance", rd->cfg->instance);
    return 0;
}

static void try_connect(wrd_t *rd)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout(rd->cfg->redis.host, rd->cfg->redis.port, tv);
    char db[16];

    if (!c || c->err) {
        snprintf(rd->error, sizeof(rd->error), "%s", c ? c->errstr : "out of memory");
        if (rd->attempt == 0 || rd->attempt % 10 == 0)
            log_warn("Redis unavailable, retrying", "instance", rd->cfg->instance,
                     "error", rd->error);
        if (c)
            redisFree(c);
        schedule(rd);
        return;
    }
    redisSetTimeout(c, tv);
    if (rd->cfg->redis.password[0]) {
        const char *auth_user[] = { "AUTH", rd->cfg->redis.user, rd->cfg->redis.password };
        const char *auth[] = { "AUTH", rd->cfg->redis.password };
        int rc = rd->cfg->redis.user[0] ? setup_cmd(rd, c, 3, auth_user)
                                         : setup_cmd(rd, c, 2, auth);
        if (rc < 0)
            goto failed;
    }
    if (rd->cfg->redis.db) {
        const char *sel[] = { "SELECT", db };
        snprintf(db, sizeof(db), "%d", rd->cfg->redis.db);
        if (setup_cmd(rd, c, 2, sel) < 0)
            goto failed;
    }
    if (validate_namespace(rd, c) < 0)
        goto failed;
    rd->ctx = c;
    if (rd->was_ready)
        rd->reconnects++;
    rd->was_ready = 1;
    rd->attempt = 0;
    rd->error[0] = '\0';
    log_info("Redis connected", "instance", rd->cfg->instance, "namespace", rd->cfg->namespace);
    if (rd->ready_cb)
        rd->ready_cb(rd, rd->ready_arg);
    return;
failed:
    if (rd->attempt == 0 || rd->attempt % 10 == 0)
        log_warn("Redis setup failed, retrying", "instance", rd->cfg->instance,
                 "error", rd->error);
    redisFree(c);
    schedule(rd);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    try_connect(arg);
}

wrd_t *wrd_new(struct event_base *base, const wcfg_t *c, wrd_ready_cb cb, void *arg)
{
    wrd_t *rd = calloc(1, sizeof(*rd));
    if (!rd)
        return NULL;
    rd->base = base;
    rd->cfg = c;
    rd->ready_cb = cb;
    rd->ready_arg = arg;
    rd->retry = evtimer_new(base, retry_cb, rd);
    if (!rd->retry) {
        free(rd);
        return NULL;
    }
    snprintf(rd->error, sizeof(rd->error), "not connected yet");
    return rd;
}

void wrd_start(wrd_t *rd)
{
    try_connect(rd);
}

void wrd_free(wrd_t *rd)
{
    if (!rd)
        return;
    if (rd->ctx)
        redisFree(rd->ctx);
    event_free(rd->retry);
    free(rd);
}

int wrd_ok(const wrd_t *rd) { return rd->ctx != NULL; }
const char *wrd_error(const wrd_t *rd) { return rd->error; }
unsigned long wrd_reconnects(const wrd_t *rd) { return rd->reconnects; }

static redisReply *checked(wrd_t *rd, redisReply *r)
{
    if (!r) {
        char why[256];
        snprintf(why, sizeof(why), "%s", rd->ctx->errstr[0] ? rd->ctx->errstr : "I/O error");
        drop(rd, why);
    }
    return r;
}

redisReply *wrd_argv(wrd_t *rd, int argc, const char **argv, const size_t *lens)
{
    if (!rd->ctx)
        return NULL;
    return checked(rd, redisCommandArgv(rd->ctx, argc, argv, lens));
}

redisReply *wrd_cmd(wrd_t *rd, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    if (!rd->ctx)
        return NULL;
    va_start(ap, fmt);
    r = redisvCommand(rd->ctx, fmt, ap);
    va_end(ap);
    return checked(rd, r);
}

int wrd_check(wrd_t *rd)
{
    redisReply *r = wrd_cmd(rd, "PING");
    if (r)
        freeReplyObject(r);
    return wrd_ok(rd);
}
