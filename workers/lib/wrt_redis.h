/* wrt_redis.h - the worker's Redis connection: asynchronous, namespaced, reconnecting. */
#ifndef WRT_REDIS_H
#define WRT_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#include "wrt_config.h"
#include "wrt_health.h"

/* hiredis's asynchronous API on the worker's loop (its libevent adapter). hiredis
 * 0.14 has no timeouts there: connecting gets WRD_TIMEOUT_MS by a timer, and a
 * command without an answer after WRD_TIMEOUT_MS drops the connection. */
#define WRD_TIMEOUT_MS 2000

typedef struct wrd wrd_t;

/* Called after every (re)connect once the namespace is validated (registration). */
typedef void (*wrd_ready_cb)(wrd_t *rd, void *arg);
/* The answer to wrd_send: r is NULL when Redis is unavailable (the connection broke
 * or timed out); hiredis frees r after the callback returns. */
typedef void (*wrd_reply_cb)(wrd_t *rd, redisReply *r, void *arg);

wrd_t *wrd_new(struct event_base *base, const wcfg_t *c, wrd_ready_cb cb, void *arg);
void wrd_start(wrd_t *rd);
void wrd_free(wrd_t *rd);

int wrd_ok(const wrd_t *rd);
const char *wrd_error(const wrd_t *rd);
unsigned long wrd_reconnects(const wrd_t *rd);

/* "<namespace>:<key>" into out; -1 when it does not fit. Pure. */
int wrd_key(const char *ns, const char *key, char *out, size_t outlen);

/* Queue one command by argv (binary safe; copied) and return at once; cb (may be
 * NULL) gets the reply on the loop. -1 without calling cb when Redis is not ready. */
int wrd_send(wrd_t *rd, int argc, const char **argv, const size_t *lens, wrd_reply_cb cb,
             void *arg);

/* One command, waiting for its reply at most WRD_TIMEOUT_MS while the loop waits
 * too: for the shutdown and for callers not yet converted to wrd_send. Returns NULL
 * when Redis is unavailable, else a reply the caller frees with freeReplyObject (it
 * may be an error reply). Keys are passed as given: use wrd_key for the instance's
 * own keys. */
redisReply *wrd_argv(wrd_t *rd, int argc, const char **argv, const size_t *lens);

/* Queue a PING unless one is already waiting (the runtime's tick). */
void wrd_probe(wrd_t *rd);
/* The connection's health from the state the last answers left; never waits. */
wh_check_t wrd_health(const wrd_t *rd, char *msg, size_t msglen);

#endif
