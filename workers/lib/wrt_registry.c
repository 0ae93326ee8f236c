/* wrt_registry.c - service registration at services:<service>:<instance> with a TTL. */
#include "config.h"

#include "wrt_registry.h"

#include "log.h"

#include <jansson.h>
#include <stdio.h>

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

int wreg_register(wrd_t *rd, const wcfg_t *c, const char *json)
{
    char ttl[16];
    const char *argv[] = { "SET", c->discovery_key, json, "EX", ttl };
    redisReply *r;
    int ok;

    snprintf(ttl, sizeof(ttl), "%d", WREG_TTL_SECONDS);
    r = wrd_argv(rd, 5, argv, NULL);
    if (!r)
        return -1;
    ok = r->type != REDIS_REPLY_ERROR;
    if (!ok)
        log_warn("service registration failed", "instance", c->instance,
                 "key", c->discovery_key, "error", r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
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
