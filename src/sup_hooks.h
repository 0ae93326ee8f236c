/* sup_hooks.h - the supervision core's registered hook tables, and the calls that walk
 * them in registration order (supervisor.h, sup_hooks_t). Private to the core. */
#ifndef INSTANCED_SUP_HOOKS_H
#define INSTANCED_SUP_HOOKS_H

#include "supervisor.h"

typedef struct sup_hookset {
    struct { sup_hooks_t h; void *ctx; } v[SUP_MAX_HOOKS];
    size_t n;
} sup_hookset_t;

int hookset_add(sup_hookset_t *hs, const sup_hooks_t *h, void *ctx);
void hookset_remove(sup_hookset_t *hs, void *ctx);

void hookset_started(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in);
void hookset_exited(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in);
void hookset_removed(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in);
void hookset_freed(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in);
void hookset_reloaded(sup_hookset_t *hs, supervisor_t *sup);
void hookset_stopping(sup_hookset_t *hs, supervisor_t *sup, int sig);
/* The first hook's reason to hold in's start, or NULL. */
const char *hookset_may_start(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in);
/* Every worker_env hook in turn; 0, or -1 with err at the first that refuses. */
int hookset_worker_env(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in,
                       char **env, char *err, size_t errlen);
/* 1 when a hook owned the reaped pid. */
int hookset_reaped(sup_hookset_t *hs, supervisor_t *sup, pid_t pid, int status);
/* 1 when an exit_hold hook holds in's exit (sup_exit_released() follows). */
int hookset_exit_hold(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in);
/* The first dep_ready hook's verdict on dep other than -1, or -1 (it runs here). */
int hookset_dep_ready(sup_hookset_t *hs, supervisor_t *sup, const sup_instance_t *dep);
/* The sum of the busy hooks' counts. */
int hookset_busy(sup_hookset_t *hs, supervisor_t *sup);

#endif
