/* probe_conf.h - the probe keys of an instance: which kind of health check it gets
 * (json, http, tcp, exec, none) and whether its keys fit together; and the
 * placeholders in a service's and an instance's strings.
 *
 * Pure: the loader (inventory.c) calls these and turns each report into an error at
 * the line of the key named. */
#ifndef INSTANCED_PROBE_CONF_H
#define INSTANCED_PROBE_CONF_H

#include "inventory.h"

/* key: the inventory key the problem is about ("health_check", "args", ...). */
typedef void (*pc_report_fn)(void *ctx, const char *key, const char *msg);

/* "json", "http", "tcp", "exec", "none". */
const char *pc_kind_name(inv_health_kind_t k);

/* Set in->policy.health_kind from health_check (or, when unset: exec with a
 * health_command, json with a health_path, else none) and report keys that do not fit
 * the kind, and unknown placeholders in health_path, health_command and own_env (the
 * instance's own env entries; the service's are checked by pc_check_service). */
void pc_check_instance(inv_instance_t *in, char *const *own_env, pc_report_fn report,
                       void *ctx);

/* Unknown placeholders in a service's command, args and env. */
void pc_check_service(const inv_service_t *s, pc_report_fn report, void *ctx);

/* The effective kind (a policy not set by the loader: json with a health_path). */
inv_health_kind_t pc_kind(const inv_instance_t *in);

/* The port a probe connects to: health_port, else port; 0 for none. */
int pc_probe_port(const inv_instance_t *in);

/* 1 when the prober checks the instance: exec, or json/http/tcp with a port. Else
 * its health follows its process state. */
int pc_probed(const inv_instance_t *in);

#endif
