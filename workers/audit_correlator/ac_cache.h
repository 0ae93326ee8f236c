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
    int purging; /* the purge is under way: the cache is not used meanwhile */
} ac_cache_t;

/* Every call is asynchronous (Redis commands queued on the worker's loop). */

/* json is the cached JSON of an event (len bytes, valid during the callback only),
 * or NULL on a miss or when Redis is unavailable (the database then answers). */
typedef void (*ac_cache_get_cb)(const char *json, size_t len, void *arg);
/* Counts hits and misses. cb may run inside the call (Redis not usable). */
void ac_cache_get(ac_cache_t *c, const char *id, ac_cache_get_cb cb, void *arg);
void ac_cache_put(ac_cache_t *c, const char *id, const char *json);
/* When Redis cannot be reached the cache is marked dirty, and every cached event is
 * dropped once Redis is back (the cache is not used until that purge is done): a
 * stale copy must not outlive an update or delete made while Redis was away. Redis
 * runs one connection's commands in order, so a read queued after this call never
 * sees the old copy. */
void ac_cache_invalidate(ac_cache_t *c, const char *id);

/* result is a new reference the callback owns, or NULL when Redis is unavailable. */
typedef void (*ac_cache_json_cb)(json_t *result, void *arg);

/* Keys of the namespace matching pattern (relative to the namespace), returned
 * without the "<namespace>:" prefix, at most max, as a JSON array. SCAN when the
 * Redis user may, else the cache's own index of its keys. */
void ac_cache_keys(ac_cache_t *c, const char *pattern, size_t max, ac_cache_json_cb cb,
                   void *arg);

/* {"namespace","hits","misses","keys","memory_bytes","source"}. source is "scan" or
 * "index" (see ac_cache_keys). */
void ac_cache_stats(ac_cache_t *c, ac_cache_json_cb cb, void *arg);

/* "<ns>:" stripped from key when present; else NULL. Pure. */
const char *ac_cache_strip(const char *ns, const char *key);

#endif
