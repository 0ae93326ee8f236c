/* xalloc.h - allocation that cannot fail: out of memory aborts with a message. */
#ifndef INSTANCED_XALLOC_H
#define INSTANCED_XALLOC_H

#include <stddef.h>

/* Each behaves as its libc namesake, except that it never returns NULL: when memory
 * runs out it writes "instanced: out of memory (N bytes)" to stderr and aborts, as
 * there is no sane way to go on half-built (the policy redis's zmalloc follows).
 * xcalloc and xrealloc also abort when n * size overflows. A zero size still returns
 * a unique pointer the caller frees. The caller owns and frees every result. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: xrealloc(p, n * size) with the multiplication checked. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
