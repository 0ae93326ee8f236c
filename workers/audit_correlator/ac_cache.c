/* ac_cache.c - the Redis cache of audit events under <namespace>:audit_event:<id>. */
#include "config.h"

#include "ac_cache.h"

#include "naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_COUNT "500"
#define STATS_MAX_KEYS 100000  /* bound the work of one stats request */

static int event_key(ac_cache_t *c, const char *id, char *out, size_t len)
{
    char sub[64];
    snprintf(sub, sizeof(sub), "audit_event:%s", id);
    return wrd_key(c->ns, sub, out, len);
}

char *ac_cache_get(ac_cache_t *c, const char *id)
{
    char key[NM_NAMESPACE_MAX + 64];
    const char *argv[] = { "GET", key };
    redisReply *r;
    char *out = NULL;

    if (!wrd_ok(c->rd) || event_key(c, id, key, sizeof(key)) < 0)
        return NULL;
    r = wrd_argv(c->rd, 2, argv, NULL);
    if (!r) {
        c->errors++;
        return NULL;
    }
    if (r->type == REDIS_REPLY_STRING) {
        out = strndup(r->str, r->len);
        c->hits++;
    } else {
        c->misses++;
    }
    freeReplyObject(r);
    return out;
}

void ac_cache_put(ac_cache_t *c, const char *id, const char *json)
{
    char key[NM_NAMESPACE_MAX + 64];
    const char *argv[] = { "SET", key, json, "EX", AC_CACHE_TTL };
    redisReply *r;

    if (!wrd_ok(c->rd) || event_key(c, id, key, sizeof(key)) < 0)
        return;
    r = wrd_argv(c->rd, 5, argv, NULL);
    if (r)
        freeReplyObject(r);
}

void ac_cache_invalidate(ac_cache_t *c, const char *id)
{
    char key[NM_NAMESPACE_MAX + 64];
    const char *argv[] = { "DEL", key };
    redisReply *r;

    if (!wrd_ok(c->rd) || event_key(c, id, key, sizeof(key)) < 0)
        return;
    r = wrd_argv(c->rd, 2, argv, NULL);
    if (r)
        freeReplyObject(r);
}

const char *ac_cache_strip(const char *ns, const char *key)
{
    size_t n = strlen(ns);
    if (strncmp(key, ns, n) == 0 && key[n] == ':')
        return key + n + 1;
    return NULL;
}

/* SCAN the namespace with MATCH "<ns>:<pattern>"; calls fn for every key until it
 * returns nonzero or max keys were seen. Returns -1 when Redis failed. The pattern
 * cannot reach outside the namespace: it is appended after a literal prefix, and
 * namespaces contain no glob characters (nm_check_namespace). */
static int scan(ac_cache_t *c, const char *pattern, size_t max,
                int (*fn)(ac_cache_t *c, const char *key, size_t len, void *arg), void *arg)
{
    char match[NM_NAMESPACE_MAX + 512], cursor[32] = "0";
    size_t seen = 0;

    if (snprintf(match, sizeof(match), "%s:%s", c->ns, pattern) >= (int)sizeof(match))
        return -1;
    do {
        const char *argv[] = { "SCAN", cursor, "MATCH", match, "COUNT", SCAN_COUNT };
        redisReply *r = wrd_argv(c->rd, 6, argv, NULL);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements && seen < max; i++) {
            redisReply *k = r->element[1]->element[i];
            if (k->type != REDIS_REPLY_STRING)
                continue;
            seen++;
            if (fn(c, k->str, k->len, arg)) {
                freeReplyObject(r);
                return 0;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0 && seen < max);
    return 0;
}

static int add_key(ac_cache_t *c, const char *key, size_t len, void *arg)
{
    const char *rel = ac_cache_strip(c->ns, key);
    (void)len;
    if (rel)
        json_array_append_new(arg, json_string(rel));
    return 0;
}

json_t *ac_cache_keys(ac_cache_t *c, const char *pattern, size_t max)
{
    json_t *a;
    if (!wrd_ok(c->rd))
        return NULL;
    a = json_array();
    if (a && scan(c, pattern, max, add_key, a) < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

typedef struct stats_acc {
    long long keys, bytes;
} stats_acc_t;

static int add_stat(ac_cache_t *c, const char *key, size_t len, void *arg)
{
    stats_acc_t *s = arg;
    const char *argv[] = { "MEMORY", "USAGE", key };
    size_t lens[] = { 6, 5, len };
    redisReply *r;

    s->keys++;
    r = wrd_argv(c->rd, 3, argv, lens);
    if (!r)
        return 1;
    if (r->type == REDIS_REPLY_INTEGER)
        s->bytes += r->integer;
    freeReplyObject(r);
    return 0;
}

json_t *ac_cache_stats(ac_cache_t *c)
{
    stats_acc_t s = { 0, 0 };
    if (!wrd_ok(c->rd) || scan(c, "*", STATS_MAX_KEYS, add_stat, &s) < 0 || !wrd_ok(c->rd))
        return NULL;
    return json_pack("{s:s, s:I, s:I, s:I, s:I}", "namespace", c->ns, "hits",
                     (json_int_t)c->hits, "misses", (json_int_t)c->misses, "keys",
                     (json_int_t)s.keys, "memory_bytes", (json_int_t)s.bytes);
}
