/* sup_spawn.h - the supervisor's real spawner: a worker's directories, environment,
 * placeholders and program, then fork/exec (spawn.c). */
#ifndef INSTANCED_SUP_SPAWN_H
#define INSTANCED_SUP_SPAWN_H

#include "supervisor.h"

/* The spawner sup_new() is given in production (supervisor.h, sup_spawner_t). */
sup_spawner_t sup_spawn_real(void);

/* The environment a process of in's gets (malloc'd, NULL-terminated): the worker
 * contract, placeholders expanded in the inventory's entries, then the worker_env
 * hooks (provisioning's own URLs). With argv, the command's argv too (malloc'd).
 * NULL with err (and errno when the cause is a shortage) on failure. Worker starts
 * and exec health probes share it. */
char **sup_spawn_env(supervisor_t *sup, sup_instance_t *in, char ***argv, char *err,
                     size_t errlen);

#endif
