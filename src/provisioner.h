/* provisioner.h - provisioning from inside the supervisor: at start, on reload,
 * retried with backoff, and each worker's own credentials in its environment. */
#ifndef INSTANCED_PROVISIONER_H
#define INSTANCED_PROVISIONER_H

#include "supervisor.h"

/* Run provisioning now if sup->inv->provision is set (blocking, bounded by the
 * provisioning timeouts); on failure log it and retry later with backoff, from 1 s
 * doubling to 60 s. Instances already provisioned start meanwhile. Called at start
 * and after each successful reload. */
void provisioner_run(supervisor_t *sup);

/* 1 when in may start as far as provisioning goes: provisioning is off, or its
 * credential file is there and names its current role. */
int provisioner_instance_ready(supervisor_t *sup, const sup_instance_t *in);

/* With provisioning on, replace POSTGRES_URL and REDIS_URL in env (a NULL-terminated
 * array of malloc'd "K=V" strings, as inv_worker_env() returns) by the instance's
 * own. 0, or -1 with a reason in err (the worker must then not start: falling back
 * to the admin URLs would break the walls). */
int provisioner_worker_env(supervisor_t *sup, const inv_instance_t *in, char **env,
                           char *err, size_t errlen);

/* Cancel the retry timer (shutdown). */
void provisioner_free(supervisor_t *sup);

#endif
