/* strmap.h - a hash table from strings to pointers, for lookups by name among
 * thousands of instances. Keys are copied; values are the caller's. */
#ifndef INSTANCED_STRMAP_H
#define INSTANCED_STRMAP_H

#include <stddef.h>

typedef struct strmap_slot strmap_slot_t;
typedef struct {
    strmap_slot_t *slot;
    size_t cap; /* 0 or a power of two */
    size_t n;
} strmap_t;

#define STRMAP_INIT { NULL, 0, 0 }

/* The value of key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);
/* Set key's value (value must not be NULL). */
void strmap_set(strmap_t *m, const char *key, void *value);
/* Remove key, if there. */
void strmap_del(strmap_t *m, const char *key);
/* Free the table (not the values). */
void strmap_free(strmap_t *m);

#endif
