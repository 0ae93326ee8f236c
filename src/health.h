/* health.h - health verdicts: probe answers, flapping control and the combined status.
 *
 * Pure logic (no I/O, no global state) so that unit_health links it alone. */
#ifndef INSTANCED_HEALTH_H
#define INSTANCED_HEALTH_H

#include <stddef.h>

#include "supervisor.h"

/* Largest health body read from a worker; more is an "oversized" failure. */
#define HEALTH_BODY_MAX (64 * 1024)

/* Judge one answer of a worker's health endpoint: HTTP code and body (len bytes, not
 * NUL-terminated). A JSON object with "status" healthy/degraded on a 2xx code is
 * healthy/degraded; anything else is unhealthy, with the reason written to msg. */
health_status_t health_judge(long http_code, const char *body, size_t len, char *msg,
                             size_t msglen);

/* The URL a probe of path on 127.0.0.1:port asks for ("/" added when path lacks one),
 * whole however long path is; malloc'd, the caller frees it. NULL when port is not 1
 * to 65535 or path is NULL. */
char *health_probe_url(int port, const char *path);

/* Fold one probe result into h (counters, status, message) with the flapping
 * thresholds of the instance's policy. The status moves to unhealthy only after
 * `failures_before` consecutive failures and to healthy/degraded only after
 * `successes_before` consecutive successes (healthy <-> degraded moves at once).
 * Returns 1 when the instance should be restarted (restart_on_unhealthy > 0 and that
 * many consecutive failures), else 0. */
int health_apply(sup_health_t *h, health_status_t observed, const char *msg,
                 long failures_before, long successes_before, long restart_on_unhealthy);

/* The status an instance counts with, from its process state and its health:
 * stopped and not wanted (or waiting for a dependency) -> unknown; failed, in backoff,
 * or stopped while wanted -> unhealthy; without health_path, running -> healthy;
 * otherwise its probed health. */
health_status_t health_effective(const sup_instance_t *in);

/* Combined status of n instances: unhealthy if a critical one
 * is unhealthy (effective status); degraded if any is degraded or a non-critical one
 * is unhealthy; else healthy. */
health_status_t health_overall(sup_instance_t *const *inst, size_t n);

/* instancectl's exit code for one status: 0 healthy, 1 degraded, 2 unhealthy. */
int health_exit_code(health_status_t h);

#endif
