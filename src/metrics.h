/* metrics.h - the supervisor's Prometheus text exposition (pure: writes to a FILE). */
#ifndef INSTANCED_METRICS_H
#define INSTANCED_METRICS_H

#include <stdio.h>
#include <time.h>

#include "supervisor.h"

/* Figures of the probe loop that are not in sup_instance_t. */
typedef struct metrics_stats {
    double cycle_seconds;            /* duration of the last completed probe cycle */
    double cycle_max_seconds;        /* longest completed cycle since start */
    unsigned long cycles_total;      /* completed cycles */
    unsigned long cycle_overruns_total; /* cycles still running when the next was due */
    unsigned long in_flight;         /* probes running now */
    double interval_seconds;         /* health_interval */
} metrics_stats_t;

/* Write the whole exposition (text format 0.0.4) to out. version is the supervisor's
 * version for instanced_build_info. Returns 0, or -1 when out reports an error. */
int metrics_render(FILE *out, const supervisor_t *sup, const metrics_stats_t *st,
                   const char *version);

/* Write s as a label value (escaping \\, \" and \n) to out. */
void metrics_label_value(FILE *out, const char *s);

#endif
