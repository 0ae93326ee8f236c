/* workerenv.h - the worker environment contract: the variables the supervisor passes a
 * worker, what each means, and the builder; shared by the supervisor, the inventory's
 * env checks and the worker runtime's configuration reader (wrt_config.c). */
#ifndef INSTANCED_WORKERENV_H
#define INSTANCED_WORKERENV_H

#include <stddef.h>

struct inventory;
struct inv_instance;

/* The names, once: the table in workerenv.c and every reader use these. */
#define WENV_PATH "PATH"
#define WENV_SERVICE_NAME "SERVICE_NAME"
#define WENV_SERVICE_INSTANCE_NAME "SERVICE_INSTANCE_NAME"
#define WENV_SERVICE_VERSION "SERVICE_VERSION"
#define WENV_SERVICE_TYPE "SERVICE_TYPE"
#define WENV_ENTITY_TYPE "ENTITY_TYPE"
#define WENV_ENVIRONMENT "ENVIRONMENT"
#define WENV_LOG_LEVEL "LOG_LEVEL"
#define WENV_HTTP_PORT "HTTP_PORT"
#define WENV_SCHEMA_NAME "SCHEMA_NAME"
#define WENV_REDIS_NAMESPACE "REDIS_NAMESPACE"
#define WENV_DATA_DIR "DATA_DIR"
#define WENV_LOGS_DIR "LOGS_DIR"
#define WENV_POSTGRES_URL "POSTGRES_URL"
#define WENV_REDIS_URL "REDIS_URL"
#define WENV_HTTP_BIND "HTTP_BIND"

/* How a variable of the contract reaches the worker. */
typedef enum {
    WENV_BUILT,    /* set by wenv_build from the inventory; env may not set it */
    WENV_BUILT_ENV, /* set by wenv_build; an env entry may replace it (PATH, LOG_LEVEL) */
    WENV_SYSTEMD,  /* systemd's readiness, watchdog and socket variables: they address
                      the supervisor, never a worker; env may not set them */
    WENV_ENV_ONLY, /* read by the worker runtime, never set by the supervisor: an env
                      entry may */
} wenv_origin_t;

typedef struct wenv_var {
    const char *name;
    wenv_origin_t origin;
    const char *meaning;
} wenv_var_t;

/* Every variable of the contract, in the order wenv_build writes the built ones. */
extern const wenv_var_t wenv_vars[];
extern const size_t wenv_nvars;

/* The contract variable an env entry may not set whose name is the len bytes at
 * name, or NULL when an env entry may set it. */
const wenv_var_t *wenv_reserved(const char *name, size_t len);

/* The worker's environment, NULL-terminated, newly allocated: the built variables of
 * wenv_vars (those with a value), then the instance's env entries (a later entry
 * replaces an earlier one of the same name; LOG_LEVEL= sets LOG_LEVEL's value).
 * path_env is the PATH to pass (NULL: a safe default). Free with inv_strv_free().
 * Allocation failure aborts (xalloc.h). */
char **wenv_build(const struct inventory *inv, const struct inv_instance *in,
                  const char *path_env);

#endif
