/* wrt_registry.h - service registration at services:<service>:<instance> with a TTL. */
#ifndef WRT_REGISTRY_H
#define WRT_REGISTRY_H

#include "wrt_config.h"
#include "wrt_redis.h"

#define WREG_TTL_SECONDS       30
#define WREG_HEARTBEAT_SECONDS 10

/* The registration's JSON metadata in a new string the caller frees. Pure. */
char *wreg_json(const wcfg_t *c, const char *host, long pid, const char *started_at);

/* SET the discovery key with WREG_TTL_SECONDS, asynchronously; done (may be NULL) is called
 * with 0 once Redis stored it, -1 when it did not. Returns -1 when Redis is not
 * ready (done is then not called). */
int wreg_register(wrd_t *rd, const wcfg_t *c, const char *json,
                  void (*done)(int ok, void *arg), void *arg);
/* DEL the discovery key, waiting for the reply (at the shutdown); 0 or -1. */
int wreg_deregister(wrd_t *rd, const wcfg_t *c);

#endif
