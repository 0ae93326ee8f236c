/* text.c - short texts allocated only when not empty (text.h). */
#include "config.h"

#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

int text_set(text_t *t, const char *fmt, ...)
{
    char buf[TEXT_MAX + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (strcmp(buf, text_get(t)) == 0)
        return 0;
    free(t->s);
    t->s = buf[0] ? xstrdup(buf) : NULL;
    return 1;
}

void text_clear(text_t *t)
{
    free(t->s);
    t->s = NULL;
}
