/* provisioner.h - provisioning from inside the supervisor: at start, on reload,
 * retried with backoff, and each worker's own credentials in its environment. */
#ifndef INSTANCED_PROVISIONER_H
#define INSTANCED_PROVISIONER_H

#include "supervisor.h"

typedef struct provisioner provisioner_t;

/* The provisioner of sup, registered as its hooks (supervisor.h): it holds back the
 * starts of instances without credentials (may_start), gives each worker its own
 * POSTGRES_URL and REDIS_URL (worker_env), reaps its child, runs again after a reload
 * and stops its child at shutdown. Each instance's credential file is read once and
 * kept in in->prov_cache until the file changes (its inode, size or mtime: a run
 * rewrote it), a run ends or a reload comes; no start reads it. NULL when sup has no
 * room for more hooks. */
provisioner_t *provisioner_new(supervisor_t *sup);

/* Start a provisioning run if sup->inv->provision is set: a child process runs
 * prov_apply() off the loop. On failure it is logged and retried later with backoff,
 * from 1 s doubling to 60 s; instances already provisioned start meanwhile. Called at
 * start and after each successful reload; a call while a run is going makes one more
 * run, with the inventory of that moment, once it ends. */
void provisioner_run(provisioner_t *pv);

/* Cancel the retry timer, kill a provisioning child still running, free. */
void provisioner_free(provisioner_t *pv);

#endif
