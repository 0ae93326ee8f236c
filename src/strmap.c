/* strmap.c - open addressing with linear probing; a removal shifts the following
 * entries of its run back, so there are no tombstones and lookups stay short. */
#include "config.h"

#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct strmap_slot {
    char *key; /* NULL: empty */
    void *value;
    size_t hash;
};

static size_t hash(const char *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

static strmap_slot_t *find(const strmap_t *m, const char *key, size_t h)
{
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        strmap_slot_t *s = &m->slot[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
            return s;
    }
}

static void grow(strmap_t *m)
{
    strmap_t g = { xcalloc(m->cap ? m->cap * 2 : 16, sizeof(strmap_slot_t)),
                   m->cap ? m->cap * 2 : 16, m->n };

    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].key)
            *find(&g, m->slot[i].key, m->slot[i].hash) = m->slot[i];
    free(m->slot);
    *m = g;
}

void *strmap_get(const strmap_t *m, const char *key)
{
    const strmap_slot_t *s = m->cap ? find(m, key, hash(key)) : NULL;
    return s && s->key ? s->value : NULL;
}

void strmap_set(strmap_t *m, const char *key, void *value)
{
    size_t h = hash(key);
    strmap_slot_t *s;

    if ((m->n + 1) * 4 > m->cap * 3)
        grow(m);
    s = find(m, key, h);
    if (!s->key) {
        s->key = xstrdup(key);
        s->hash = h;
        m->n++;
    }
    s->value = value;
}

void strmap_del(strmap_t *m, const char *key)
{
    size_t mask = m->cap - 1, i, j;
    strmap_slot_t *s;

    if (!m->cap || !(s = find(m, key, hash(key)))->key)
        return;
    free(s->key);
    s->key = NULL;
    m->n--;
    /* Move back each later entry of the run that the hole now separates from its home
     * slot. */
    i = (size_t)(s - m->slot);
    for (j = (i + 1) & mask; m->slot[j].key; j = (j + 1) & mask) {
        size_t home = m->slot[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slot[i] = m->slot[j];
            m->slot[j].key = NULL;
            i = j;
        }
    }
}

void strmap_free(strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slot[i].key);
    free(m->slot);
    *m = (strmap_t)STRMAP_INIT;
}
