/* report.h - JSON views of the supervisor's state, for the status endpoint and the
 * control socket (pure: builds jansson values from memory, no I/O). */
#ifndef INSTANCED_REPORT_H
#define INSTANCED_REPORT_H

#include <jansson.h>
#include <time.h>

#include "supervisor.h"

/* "2025-10-07T12:34:56Z" into buf (at least 21 bytes). */
void report_time(char *buf, size_t len, time_t t);

/* The combined health (GET /api/v1/health): status, service, version, environment,
 * timestamp, summary and instances, as docs/design.md describes them. New reference. */
json_t *report_health(const supervisor_t *sup, const char *version, time_t now);

/* One instance in full (GET /api/v1/instances/NAME, instancectl status): the fields of
 * the combined health plus name, port, critical, wanted, started_at, uptime_seconds,
 * waiting_for, last_exit, health_path. New reference. */
/* Resource use of everything the instance runs (containment's accounting): cpu_seconds,
 * cpu_percent, memory_bytes, memory_peak_bytes, pids, oom_kills, pressure {cpu,
 * memory, io} (PSI some avg10, percent; null where unknown); null without it. */
json_t *report_usage(const sup_instance_t *in);
json_t *report_instance(const supervisor_t *sup, const sup_instance_t *in, time_t now);

/* {"status": overall, "instances": [report_instance...]} (GET /api/v1/instances), and
 * with provision = true "provisioning": report_provisioning(). */
json_t *report_instances(const supervisor_t *sup, time_t now);

/* With provision = true, the provisioning runs: {running, runs, failures,
 * last_success, last_failure (times or null), last_error ("" when the last run
 * succeeded; secrets masked)}; NULL otherwise. New reference. */
json_t *report_provisioning(const supervisor_t *sup);

/* Prometheus http_sd: one group per instance with a port, target 127.0.0.1:PORT,
 * labels service, instance_name, service_type, entity_type (when set). */
json_t *report_targets(const supervisor_t *sup);

#endif
