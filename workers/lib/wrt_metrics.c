/* wrt_metrics.c - Prometheus text exposition (format 0.0.4) into a growing buffer. */
#include "config.h"

#include "wrt_metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wmet_init(wmet_t *m)
{
    memset(m, 0, sizeof(*m));
}

void wmet_free(wmet_t *m)
{
    free(m->buf);
    wmet_init(m);
}

static void put(wmet_t *m, const char *s, size_t n)
{
    if (m->oom)
        return;
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 1024;
        char *nb;
        while (cap < m->len + n + 1)
            cap *= 2;
        nb = realloc(m->buf, cap);
        if (!nb) {
            m->oom = 1;
            return;
        }
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void puts_(wmet_t *m, const char *s) { put(m, s, strlen(s)); }

void wmet_family(wmet_t *m, const char *name, const char *type, const char *help)
{
    puts_(m, "# HELP ");
    puts_(m, name);
    puts_(m, " ");
    puts_(m, help);
    puts_(m, "\n# TYPE ");
    puts_(m, name);
    puts_(m, " ");
    puts_(m, type);
    puts_(m, "\n");
}

void wmet_sample(wmet_t *m, const char *name, double value, ...)
{
    va_list ap;
    const char *k;
    char num[64];
    int first = 1;

    puts_(m, name);
    va_start(ap, value);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        puts_(m, first ? "{" : ",");
        first = 0;
        puts_(m, k);
        puts_(m, "=\"");
        for (; v && *v; v++) {
            if (*v == '\\')
                puts_(m, "\\\\");
            else if (*v == '"')
                puts_(m, "\\\"");
            else if (*v == '\n')
                puts_(m, "\\n");
            else
                put(m, v, 1);
        }
        puts_(m, "\"");
    }
    va_end(ap);
    if (!first)
        puts_(m, "}");
    if (isnan(value))
        snprintf(num, sizeof(num), " NaN\n");
    else if (value == floor(value) && fabs(value) < 1e15)
        snprintf(num, sizeof(num), " %lld\n", (long long)value); /* integral, < 1e15 */
    else
        snprintf(num, sizeof(num), " %.17g\n", value);
    puts_(m, num);
}
