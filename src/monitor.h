/* monitor.h - the monitoring side: health probes, status endpoint, metrics, control.
 *
 * It follows the supervisor through the hooks it registers (supervisor.h: started,
 * exited, removed, reloaded), keeps its state in sup->monitor and writes only
 * sup_instance_t.health. */
#ifndef INSTANCED_MONITOR_H
#define INSTANCED_MONITOR_H

#include "supervisor.h"

/* After the inventory is loaded and the instance table built, before any instance
 * starts: bind status_listen and control_socket, arm the probe timer, register the
 * hooks. After a reload, a listener whose address changed moves (or keeps serving at
 * the old one if it cannot). A bind failure is fatal before the loop: return -1 with a
 * reason in err. */
int monitor_init(supervisor_t *sup, char *err, size_t errlen);

/* Shutdown: stop probing, close listeners, free sup->monitor. */
void monitor_shutdown(supervisor_t *sup);

#endif
