/* ac_cache.h - the Redis cache of audit events under <namespace>:audit_event:<id>. */
#ifndef AC_CACHE_H
#define AC_CACHE_H

#include <jansson.h>

#include "wrt_redis.h"

#define AC_CACHE_TTL   "300"
#define AC_CACHE_INDEX "__keys"  /* <ns>:__keys, see ac_cache.c */

typedef struct ac_cache {
    wrd_t *rd;
    const char *ns;
    unsigned long hits, misses, errors;
    int dirty;   /* an invalidation could not reach Redis: purge before the next use */
} ac_cache_t;

/* The cached JSON of an event (caller frees), or NULL on a miss or when Redis is
 * unavailable (the database then answers). Counts hits and misses. */
char *ac_cache_get(ac_cache_t *c, const char *id);
void ac_cache_put(ac_cache_t *c, const char *id, const char *json);
/* When Redis cannot be reached the cache is marked dirty, and every cached event is
 * dropped at the next use once Redis is back: a stale copy must not outlive an
 * update or delete made while Redis was away. */
void ac_cache_invalidate(ac_cache_t *c, const char *id);

/* Keys of the namespace matching pattern (relative to the namespace), returned
 * without the "<namespace>:" prefix, at most max. NULL when Redis is unavailable.
 * SCAN when the Redis user may, else the cache's own index of its keys. */
json_t *ac_cache_keys(ac_cache_t *c, const char *pattern, size_t max);

/* {"namespace","hits","misses","keys","memory_bytes","source"}; NULL when Redis is
 * unavailable. source is "scan" or "index" (see ac_cache_keys). */
json_t *ac_cache_stats(ac_cache_t *c);

/* "<ns>:" stripped from key when present; else NULL. Pure. */
const char *ac_cache_strip(const char *ns, const char *key);

#endif
