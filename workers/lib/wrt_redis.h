/* wrt_redis.h - the worker's Redis connection: namespaced keys, validated, reconnecting. */
#ifndef WRT_REDIS_H
#define WRT_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#include "wrt_config.h"

typedef struct wrd wrd_t;

/* Called after every (re)connect once the namespace is validated (registration). */
typedef void (*wrd_ready_cb)(wrd_t *rd, void *arg);

/* The blocking hiredis API with a 1 s connect and command timeout: every call the
 * worker makes is one short command, so the loop stalls at most that long when
 * Redis hangs (hiredis 0.14's async API has no timeouts at all). */
wrd_t *wrd_new(struct event_base *base, const wcfg_t *c, wrd_ready_cb cb, void *arg);
void wrd_start(wrd_t *rd);
void wrd_free(wrd_t *rd);

int wrd_ok(const wrd_t *rd);
const char *wrd_error(const wrd_t *rd);
unsigned long wrd_reconnects(const wrd_t *rd);

/* "<namespace>:<key>" into out; -1 when it does not fit. Pure. */
int wrd_key(const char *ns, const char *key, char *out, size_t outlen);

/* One command by argv (binary safe). Returns NULL when Redis is unavailable (the
 * connection is then dropped and a reconnect scheduled), else a reply the caller
 * frees with freeReplyObject (it may be an error reply). Keys are passed as given:
 * use wrd_key for the instance's own keys. */
redisReply *wrd_argv(wrd_t *rd, int argc, const char **argv, const size_t *lens);
redisReply *wrd_cmd(wrd_t *rd, const char *fmt, ...);

int wrd_check(wrd_t *rd); /* PING now; returns wrd_ok() afterwards */

#endif
