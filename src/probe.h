/* probe.h - concurrent HTTP health probes with the libcurl multi interface on the
 * supervisor's event loop (no thread, no blocking call). */
#ifndef INSTANCED_PROBE_H
#define INSTANCED_PROBE_H

#include <stddef.h>

#include "metrics.h"
#include "supervisor.h"

typedef struct prober prober_t;

/* Create the prober on sup->base and arm the cycle timer (health_interval of
 * sup->inv). NULL with a reason in err on failure. */
prober_t *probe_new(supervisor_t *sup, char *err, size_t errlen);

/* Stop every probe and free everything. Must not be called from a libcurl callback. */
void probe_free(prober_t *p);

/* The inventory was replaced: re-read health_interval and health_timeout. */
void probe_reconfigure(prober_t *p);

/* An instance was exec'd: forget its old health, and probe it often until it is ready. */
void probe_instance_started(prober_t *p, sup_instance_t *in);
/* Its process exited: cancel the probe in flight, health follows the process state. */
void probe_instance_exited(prober_t *p, sup_instance_t *in);
/* The entry is about to be freed: drop every reference to it. */
void probe_instance_removed(prober_t *p, sup_instance_t *in);

/* Figures for /metrics. */
void probe_stats(const prober_t *p, metrics_stats_t *st);

#endif
