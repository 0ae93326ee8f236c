/* wrt_redis.c - the worker's Redis connection: asynchronous, namespaced, reconnecting. */
#include "config.h"

#include "wrt_redis.h"

#include "log.h"
#include "wrt_conn.h"
#include "xalloc.h"

#include <errno.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A command waiting for its reply; replies come in order, so the list's head is
 * the oldest, whose age decides "not answering". */
typedef struct wrd_cmd {
    struct wrd_cmd *prev, *next;
    wrd_t *rd;
    wrd_reply_cb cb;
    void *arg;
    long long sent_ms;
} wrd_cmd_t;

struct wrd {
    wcn_t cn;
    const wcfg_t *cfg;
    wrd_ready_cb ready_cb;
    void *ready_arg;
    redisAsyncContext *ac;  /* connecting, in setup, or ready */
    int ready;
    wrd_cmd_t *head, *tail;
    struct event *watchdog;
    int probe_pending;
    char setup_error[256];  /* first failure of the setup commands */
};

int wrd_key(const char *ns, const char *key, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s:%s", ns, key);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The context is gone (hiredis freed it, or wrd_kill did): report and retry. */
static void gone(wrd_t *rd, const char *why)
{
    int was_ready = rd->ready;
    rd->ac = NULL;
    rd->ready = 0;
    rd->probe_pending = 0;
    if (was_ready)
        wcn_lost(&rd->cn, why);
    else
        wcn_failed(&rd->cn, why);
}

/* Abandon the context from outside hiredis's callbacks (a timer): every waiting
 * command gets a NULL reply. */
static void wrd_kill(wrd_t *rd, const char *why)
{
    redisAsyncContext *ac = rd->ac;
    if (!ac)
        return;
    int was_ready = rd->ready;
    ac->onDisconnect = NULL;   /* the state is reported here, once */
    rd->ac = NULL;
    /* Not ready while hiredis answers the waiting commands with NULL: a callback
     * that sends again (a cache read falling back, a purge) then gets -1. */
    rd->ready = 0;
    redisAsyncFree(ac);
    rd->ready = was_ready;
    gone(rd, why);
}

static void unlink_cmd(wrd_t *rd, wrd_cmd_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        rd->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        rd->tail = c->prev;
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    wrd_cmd_t *c = priv;
    wrd_t *rd = c->rd;
    (void)ac;
    unlink_cmd(rd, c);
    if (reply)
        wcn_answered(&rd->cn);
    if (c->cb)
        c->cb(rd, reply, c->arg);
    free(c);
}

static int send_argv(wrd_t *rd, int argc, const char **argv, const size_t *lens,
                     wrd_reply_cb cb, void *arg)
{
    wrd_cmd_t *c;
    if (!rd->ac)
        return -1;
    c = xcalloc(1, sizeof(*c));
    c->rd = rd;
    c->cb = cb;
    c->arg = arg;
    c->sent_ms = wcn_now_ms();
    c->prev = rd->tail;
    if (rd->tail)
        rd->tail->next = c;
    else
        rd->head = c;
    rd->tail = c;
    if (redisAsyncCommandArgv(rd->ac, reply_cb, c, argc, argv, lens) != REDIS_OK) {
        unlink_cmd(rd, c);
        free(c);
        return -1;
    }
    return 0;
}

int wrd_send(wrd_t *rd, int argc, const char **argv, const size_t *lens, wrd_reply_cb cb,
             void *arg)
{
    if (!rd->ready)
        return -1;
    return send_argv(rd, argc, argv, lens, cb, arg);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    wrd_t *rd = ac->data;
    char why[256];
    if (status == REDIS_ERR)
        snprintf(why, sizeof(why), "%s", ac->errstr[0] ? ac->errstr : "I/O error");
    else
        snprintf(why, sizeof(why), "%s",
                 rd->setup_error[0] ? rd->setup_error : "connection closed");
    gone(rd, why);
}

/* The setup commands' names, as callback arguments. */
static char s_auth[] = "AUTH", s_select[] = "SELECT", s_set[] = "SET", s_del[] = "DEL";

/* Setup replies (AUTH, SELECT, the namespace probe's SET and DEL) arrive in order;
 * the last one decides. */
static void setup_cb(wrd_t *rd, redisReply *r, void *arg)
{
    const char *cmd = arg;
    if (!rd->ac)
        return;
    if (!rd->setup_error[0] && (!r || r->type == REDIS_REPLY_ERROR))
        snprintf(rd->setup_error, sizeof(rd->setup_error), "%s: %s", cmd,
                 r ? r->str : "no reply");
    if (cmd != s_del || !r)
        return;
    if (rd->setup_error[0]) {
        log_error("Redis setup failed", "namespace", rd->cfg->namespace,
                  "instance", rd->cfg->instance, "error", rd->setup_error);
        redisAsyncDisconnect(rd->ac);   /* hiredis closes after this callback */
        return;
    }
    log_info("Redis namespace validated", "namespace", rd->cfg->namespace,
             "instance", rd->cfg->instance);
    rd->ready = 1;
    wcn_ready(&rd->cn);
    if (rd->ready_cb)
        rd->ready_cb(rd, rd->ready_arg);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    wrd_t *rd = ac->data;
    char key[NM_NAMESPACE_MAX + 64], sub[48], db[16];
    const char *set[] = { "SET", key, "1", "EX", "10" };
    const char *del[] = { "DEL", key };

    if (status != REDIS_OK) {   /* hiredis frees the context after this callback */
        char why[256];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        rd->ac = NULL;
        wcn_failed(&rd->cn, why);
        return;
    }
    rd->setup_error[0] = '\0';
    if (rd->cfg->redis.password[0]) {
        const char *auth_user[] = { "AUTH", rd->cfg->redis.user, rd->cfg->redis.password };
        const char *auth[] = { "AUTH", rd->cfg->redis.password };
        if (rd->cfg->redis.user[0])
            send_argv(rd, 3, auth_user, NULL, setup_cb, s_auth);
        else
            send_argv(rd, 2, auth, NULL, setup_cb, s_auth);
    }
    if (rd->cfg->redis.db) {
        const char *sel[] = { "SELECT", db };
        snprintf(db, sizeof(db), "%d", rd->cfg->redis.db);
        send_argv(rd, 2, sel, NULL, setup_cb, s_select);
    }
    /* The instance can write and delete under its namespace. */
    snprintf(sub, sizeof(sub), "__probe:%ld", (long)getpid());
    wrd_key(rd->cfg->namespace, sub, key, sizeof(key));
    send_argv(rd, 5, set, NULL, setup_cb, s_set);
    send_argv(rd, 2, del, NULL, setup_cb, s_del);
}

static void attempt(void *arg)
{
    wrd_t *rd = arg;
    redisAsyncContext *ac = redisAsyncConnect(rd->cfg->redis.host, rd->cfg->redis.port);

    if (!ac || ac->err) {
        char why[256];
        snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        wcn_failed(&rd->cn, why);
        return;
    }
    ac->data = rd;
    rd->ac = ac;
    if (redisLibeventAttach(ac, rd->cn.base) != REDIS_OK) {
        wrd_kill(rd, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    wcn_arm_deadline(&rd->cn, WRD_TIMEOUT_MS);
}

static void expire(void *arg)
{
    wrd_kill(arg, "timeout expired while connecting");
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    wrd_t *rd = arg;
    char why[64];
    (void)fd;
    (void)what;
    if (rd->ready && rd->head && wcn_now_ms() - rd->head->sent_ms >= WRD_TIMEOUT_MS) {
        snprintf(why, sizeof(why), "no answer within %d ms", WRD_TIMEOUT_MS);
        wrd_kill(rd, why);
    }
}

wrd_t *wrd_new(struct event_base *base, const wcfg_t *c, wrd_ready_cb cb, void *arg)
{
    wrd_t *rd = xcalloc(1, sizeof(*rd));
    struct timeval quarter = { 0, 250 * 1000 };

    rd->cfg = c;
    rd->ready_cb = cb;
    rd->ready_arg = arg;
    rd->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, rd);
    if (!rd->watchdog ||
        wcn_init(&rd->cn, base, "Redis", c->instance, attempt, expire, rd) < 0) {
        if (rd->watchdog)
            event_free(rd->watchdog);
        free(rd);
        return NULL;
    }
    event_add(rd->watchdog, &quarter);
    return rd;
}

void wrd_start(wrd_t *rd) { wcn_start(&rd->cn); }

void wrd_free(wrd_t *rd)
{
    if (!rd)
        return;
    rd->ready = 0;   /* the waiting commands' callbacks must not send again */
    if (rd->ac) {
        rd->ac->onDisconnect = NULL;
        redisAsyncFree(rd->ac);
        rd->ac = NULL;
    }
    event_free(rd->watchdog);
    wcn_fini(&rd->cn);
    free(rd);
}

int wrd_ok(const wrd_t *rd) { return rd->ready; }
const char *wrd_error(const wrd_t *rd) { return rd->cn.error; }
unsigned long wrd_reconnects(const wrd_t *rd) { return rd->cn.reconnects; }

/* A copy of r that outlives the callback, freed with freeReplyObject (which frees
 * with free(): allocated with malloc here). */
static redisReply *reply_dup(const redisReply *r)
{
    redisReply *d = xcalloc(1, sizeof(*d));
    d->type = r->type;
    d->integer = r->integer;
    if (r->str) {
        d->len = r->len;
        d->str = xmalloc(r->len + 1);
        memcpy(d->str, r->str, r->len);
        d->str[r->len] = '\0';
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        d->elements = r->elements;
        d->element = xcalloc(r->elements, sizeof(*d->element));
        for (size_t i = 0; i < r->elements; i++)
            d->element[i] = reply_dup(r->element[i]);
    }
    return d;
}

typedef struct {
    int done;
    redisReply *r;
} wrd_wait_t;

static void wait_cb(wrd_t *rd, redisReply *r, void *arg)
{
    wrd_wait_t *w = arg;
    (void)rd;
    w->done = 1;
    w->r = r ? reply_dup(r) : NULL;
}

redisReply *wrd_argv(wrd_t *rd, int argc, const char **argv, const size_t *lens)
{
    wrd_wait_t w = { 0, NULL };
    long long deadline = wcn_now_ms() + WRD_TIMEOUT_MS;
    char why[64];

    if (wrd_send(rd, argc, argv, lens, wait_cb, &w) < 0)
        return NULL;
    while (!w.done && rd->ac) {
        redisContext *c = &rd->ac->c;
        struct pollfd p = { c->fd, POLLIN, 0 };
        long long left = deadline - wcn_now_ms();
        int rc;

        if (left <= 0) {
            snprintf(why, sizeof(why), "no answer within %d ms", WRD_TIMEOUT_MS);
            wrd_kill(rd, why);   /* answers every waiting command, this one too */
            break;
        }
        if (sdslen(c->obuf) > 0)
            p.events |= POLLOUT;
        rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno != EINTR) {
            wrd_kill(rd, strerror(errno));
            break;
        }
        /* Either may free the context (disconnect_cb then clears rd->ac). */
        if (rc > 0 && (p.revents & POLLOUT))
            redisAsyncHandleWrite(rd->ac);
        if (rc > 0 && rd->ac && (p.revents & (POLLIN | POLLHUP | POLLERR)))
            redisAsyncHandleRead(rd->ac);
    }
    return w.r;
}

static void probe_cb(wrd_t *rd, redisReply *r, void *arg)
{
    (void)r;
    (void)arg;
    rd->probe_pending = 0;
}

void wrd_probe(wrd_t *rd)
{
    const char *ping[] = { "PING" };
    if (!rd->ready || rd->probe_pending)
        return;
    rd->probe_pending = 1;
    if (wrd_send(rd, 1, ping, NULL, probe_cb, NULL) < 0)
        rd->probe_pending = 0;
}

wh_check_t wrd_health(const wrd_t *rd, char *msg, size_t msglen)
{
    return wh_check_conn(&rd->cn, rd->ready, rd->ready && rd->head ? rd->head->sent_ms : -1,
                         msg, msglen);
}
