/* provisioner.h - provisioning from inside the supervisor: at start, on reload,
 * retried with backoff, and each worker's own credentials in its environment. */
#ifndef INSTANCED_PROVISIONER_H
#define INSTANCED_PROVISIONER_H

#include "supervisor.h"

/* Start a provisioning run if sup->inv->provision is set: a child process runs
 * prov_apply() off the loop. On failure it is logged and retried later with backoff,
 * from 1 s doubling to 60 s; instances already provisioned start meanwhile. Called at
 * start and after each successful reload; a call while a run is going makes one more
 * run, with the inventory of that moment, once it ends. */
void provisioner_run(supervisor_t *sup);

/* The supervisor's reaper hands every pid here first: 1 when it was the provisioning
 * child (its result is then acted on: waiting instances woken, or a retry armed). */
int provisioner_reaped(supervisor_t *sup, pid_t pid, int status);

/* Send sig to the provisioning child, if any (shutdown: its transaction rolls back). */
void provisioner_stop(int sig);

/* 1 when in may start as far as provisioning goes: provisioning is off, or no run is
 * in progress and its credential file is there and names its current role. */
int provisioner_instance_ready(supervisor_t *sup, sup_instance_t *in);

/* With provisioning on, replace POSTGRES_URL and REDIS_URL in env (a NULL-terminated
 * array of malloc'd "K=V" strings, as inv_worker_env() returns) by the instance's
 * own. 0, or -1 with a reason in err (the worker must then not start: falling back
 * to the admin URLs would break the walls). */
int provisioner_worker_env(supervisor_t *sup, sup_instance_t *in, char **env,
                           char *err, size_t errlen);

/* Both read the instance's credential file once and keep it in memory (in
 * in->prov_cache), read again only when the file changes (its inode, size or mtime:
 * a run rewrote it) or a run ended or a reload came since. No start reads it. This
 * frees the copy; entries call it before they go. */
void provisioner_forget(sup_instance_t *in);

/* Cancel the retry timer and kill a provisioning child still running (shutdown). */
void provisioner_free(supervisor_t *sup);

#endif
