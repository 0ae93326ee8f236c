/* workerenv.c - the worker environment contract: its variables and the builder of a
 * worker's environment from the inventory. */
#include "config.h"

#include "workerenv.h"
#include "inventory.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built ones come first, in the order of a worker's environment (tests compare
 * the environment entry by entry). */
const wenv_var_t wenv_vars[] = {
    { WENV_PATH, WENV_BUILT_ENV, "where a bare command is looked up; "
      "/usr/local/bin:/usr/bin:/bin unless env sets it" },
    { WENV_SERVICE_NAME, WENV_BUILT, "the service name" },
    { WENV_SERVICE_INSTANCE_NAME, WENV_BUILT, "the instance name" },
    { WENV_SERVICE_VERSION, WENV_BUILT, "the global version" },
    { WENV_SERVICE_TYPE, WENV_BUILT, "singleton or multi-instance" },
    { WENV_ENTITY_TYPE, WENV_BUILT, "the service's entity_type (unset when none)" },
    { WENV_ENVIRONMENT, WENV_BUILT, "the global environment" },
    { WENV_LOG_LEVEL, WENV_BUILT_ENV, "the global log_level, or the instance's "
      "LOG_LEVEL= env entry" },
    { WENV_HTTP_PORT, WENV_BUILT, "the instance's port (unset when none)" },
    { WENV_SCHEMA_NAME, WENV_BUILT, "the derived PostgreSQL schema" },
    { WENV_REDIS_NAMESPACE, WENV_BUILT, "the derived Redis key namespace" },
    { WENV_DATA_DIR, WENV_BUILT, "the instance's data directory" },
    { WENV_LOGS_DIR, WENV_BUILT, "the instance's logs directory" },
    { WENV_POSTGRES_URL, WENV_BUILT, "the admin URL, or the instance's own when "
      "provisioned" },
    { WENV_REDIS_URL, WENV_BUILT, "the admin URL, or the instance's own when "
      "provisioned" },
    { "NOTIFY_SOCKET", WENV_SYSTEMD, "systemd's readiness socket" },
    { "WATCHDOG_USEC", WENV_SYSTEMD, "systemd's watchdog interval" },
    { "WATCHDOG_PID", WENV_SYSTEMD, "systemd's watchdog process" },
    { "LISTEN_FDS", WENV_SYSTEMD, "systemd's passed sockets" },
    { "LISTEN_PID", WENV_SYSTEMD, "systemd's passed sockets" },
    { "LISTEN_FDNAMES", WENV_SYSTEMD, "systemd's passed sockets" },
    { WENV_HTTP_BIND, WENV_ENV_ONLY, "the address the worker runtime listens on "
      "(127.0.0.1)" },
};
const size_t wenv_nvars = sizeof(wenv_vars) / sizeof(wenv_vars[0]);

const wenv_var_t *wenv_reserved(const char *name, size_t len)
{
    for (size_t i = 0; i < wenv_nvars; i++) {
        const wenv_var_t *v = &wenv_vars[i];
        if ((v->origin == WENV_BUILT || v->origin == WENV_SYSTEMD) &&
            strlen(v->name) == len && strncmp(name, v->name, len) == 0)
            return v;
    }
    return NULL;
}

/* The value of a built variable for this instance, or NULL when it has none. port
 * is room for HTTP_PORT's text. */
static const char *built_value(const wenv_var_t *var, const inventory_t *inv,
                               const inv_instance_t *in, const char *path_env,
                               const char *log_level, char *port, size_t portlen)
{
    const char *n = var->name;

    if (strcmp(n, WENV_PATH) == 0)
        return path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    if (strcmp(n, WENV_SERVICE_NAME) == 0)
        return in->service->name;
    if (strcmp(n, WENV_SERVICE_INSTANCE_NAME) == 0)
        return in->name;
    if (strcmp(n, WENV_SERVICE_VERSION) == 0)
        return inv->version;
    if (strcmp(n, WENV_SERVICE_TYPE) == 0)
        return in->service_type;
    if (strcmp(n, WENV_ENTITY_TYPE) == 0)
        return in->service->entity_type;
    if (strcmp(n, WENV_ENVIRONMENT) == 0)
        return inv->environment;
    if (strcmp(n, WENV_LOG_LEVEL) == 0)
        return log_level;
    if (strcmp(n, WENV_HTTP_PORT) == 0) {
        snprintf(port, portlen, "%d", in->port);
        return in->port ? port : NULL;
    }
    if (strcmp(n, WENV_SCHEMA_NAME) == 0)
        return in->schema;
    if (strcmp(n, WENV_REDIS_NAMESPACE) == 0)
        return in->namespace;
    if (strcmp(n, WENV_DATA_DIR) == 0)
        return in->data_dir;
    if (strcmp(n, WENV_LOGS_DIR) == 0)
        return in->logs_dir;
    if (strcmp(n, WENV_POSTGRES_URL) == 0)
        return inv->postgres_url;
    if (strcmp(n, WENV_REDIS_URL) == 0)
        return inv->redis_url;
    return NULL;
}

char **wenv_build(const inventory_t *inv, const inv_instance_t *in, const char *path_env)
{
    size_t n = 0;
    char **v = xcalloc(in->nenv + wenv_nvars + 1, sizeof(char *));
    char port[16];
    const char *log_level = inv->log_level ? inv->log_level : "info";

    for (size_t i = 0; i < in->nenv; i++)
        if (strncmp(in->env[i], WENV_LOG_LEVEL "=", sizeof(WENV_LOG_LEVEL)) == 0)
            log_level = in->env[i] + sizeof(WENV_LOG_LEVEL);
    for (size_t i = 0; i < wenv_nvars; i++) {
        const wenv_var_t *var = &wenv_vars[i];
        const char *val;
        if (var->origin != WENV_BUILT && var->origin != WENV_BUILT_ENV)
            continue;
        val = built_value(var, inv, in, path_env, log_level, port, sizeof(port));
        if (val)
            v[n++] = xasprintf("%s=%s", var->name, val);
    }
    /* The instance's own entries come last; the loader has made sure none of them
     * names a reserved variable, and LOG_LEVEL was taken above. */
    for (size_t i = 0; i < in->nenv; i++) {
        size_t len, j;
        if (strncmp(in->env[i], WENV_LOG_LEVEL "=", sizeof(WENV_LOG_LEVEL)) == 0)
            continue;
        /* A later entry for the same name replaces an earlier one (instance over
         * service, or PATH over the default). */
        len = strcspn(in->env[i], "=") + 1;
        for (j = 0; j < n; j++)
            if (strncmp(v[j], in->env[i], len) == 0)
                break;
        if (j < n) {
            free(v[j]);
            v[j] = xstrdup(in->env[i]);
        } else {
            v[n++] = xstrdup(in->env[i]);
        }
    }
    return v;
}

char **inv_worker_env(const inventory_t *inv, const inv_instance_t *in, const char *path_env)
{
    return wenv_build(inv, in, path_env);
}
