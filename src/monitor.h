/* monitor.h - the monitoring side: health probes, status endpoint, metrics, control.
 *
 * The supervisor calls these hooks; the monitoring side keeps its state in
 * sup->monitor and writes only sup_instance_t.health. See supervisor.h. */
#ifndef INSTANCED_MONITOR_H
#define INSTANCED_MONITOR_H

#include "supervisor.h"

/* After the inventory is loaded and the instance table built, before any instance
 * starts: bind status_listen and control_socket, arm the probe timer. A bind failure
 * is fatal before the loop: return -1 with a reason in err. */
int monitor_init(supervisor_t *sup, char *err, size_t errlen);

/* After a successful reload: the table may have new and removed entries (removed
 * ones are already gone from sup->inst; instance pointers of unchanged ones are the
 * same), and status_listen/control_socket may have changed. */
void monitor_reloaded(supervisor_t *sup);

/* An instance's process was exec'd (state SUP_STARTING), or it exited. */
void monitor_instance_started(supervisor_t *sup, sup_instance_t *in);
void monitor_instance_exited(supervisor_t *sup, sup_instance_t *in);

/* An entry is about to be freed (removed by a reload): drop every reference to it,
 * cancel its probe. */
void monitor_instance_removed(supervisor_t *sup, sup_instance_t *in);

/* Overall status: unhealthy if any critical instance is unhealthy,
 * failed or stopped while wanted; degraded if any is degraded or a non-critical one
 * is unhealthy; else healthy. */
health_status_t monitor_overall(const supervisor_t *sup);

/* Shutdown: stop probing, close listeners, free sup->monitor. */
void monitor_shutdown(supervisor_t *sup);

#endif
