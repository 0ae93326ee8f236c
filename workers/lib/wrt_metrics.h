/* wrt_metrics.h - Prometheus text exposition (format 0.0.4) into a growing buffer. */
#ifndef WRT_METRICS_H
#define WRT_METRICS_H

#include <stddef.h>

typedef struct wmet {
    char *buf;   /* owned; NUL-terminated */
    size_t len, cap;
    int oom;     /* set when an allocation failed; the text is then incomplete */
} wmet_t;

void wmet_init(wmet_t *m);
void wmet_free(wmet_t *m);

/* "# HELP name help\n# TYPE name type\n". */
void wmet_family(wmet_t *m, const char *name, const char *type, const char *help);

/* name{k="v",...} value — labels as NULL-terminated key, value pairs (values escaped
 * as the format requires: backslash, double quote, newline). */
void wmet_sample(wmet_t *m, const char *name, double value, ...) __attribute__((sentinel));

#endif
