/* wrt_registry.c - service registration at services:<service>:<instance> with a TTL. */
#include "config.h"

#include "wrt_registry.h"

#include "log.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

char *wreg_json(const wcfg_t *c, const char *host, long pid, const char *started_at)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s}",
                          "service", c->service, "instance_name", c->instance,
                          "environment", c->environment, "log_level", c->log_level,
                          "service_type", c->service_type, "entity_type", c->entity_type,
                          "version", c->version, "host", host, "port", c->http_port,
                          "pid", (json_int_t)pid, "started_at", started_at);
    char *s;
    if (!o)
        return NULL;
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

typedef struct {
    const wcfg_t *c;
    void (*done)(int ok, void *arg);
    void *arg;
} wreg_pending_t;

static void registered(wrd_t *rd, redisReply *r, void *arg)
{
    wreg_pending_t *p = arg;
    int ok = r && r->type != REDIS_REPLY_ERROR;
    (void)rd;
    if (r && !ok)
        log_warn("service registration failed", "instance", p->c->instance,
                 "key", p->c->discovery_key, "error", r->str);
    if (p->done)
        p->done(ok ? 0 : -1, p->arg);
    free(p);
}

int wreg_register(wrd_t *rd, const wcfg_t *c, const char *json,
                  void (*done)(int ok, void *arg), void *arg)
{
    char ttl[16];
    const char *argv[] = { "SET", c->discovery_key, json, "EX", ttl };
    wreg_pending_t *p = xmalloc(sizeof(*p));

    p->c = c;
    p->done = done;
    p->arg = arg;
    snprintf(ttl, sizeof(ttl), "%d", WREG_TTL_SECONDS);
    if (wrd_send(rd, 5, argv, NULL, registered, p) < 0) {
        free(p);
        return -1;
    }
    return 0;
}

int wreg_deregister(wrd_t *rd, const wcfg_t *c)
{
    const char *argv[] = { "DEL", c->discovery_key };
    redisReply *r = wrd_argv(rd, 2, argv, NULL);
    if (!r)
        return -1;
    freeReplyObject(r);
    log_info("service deregistered", "instance", c->instance, "key", c->discovery_key);
    return 0;
}
