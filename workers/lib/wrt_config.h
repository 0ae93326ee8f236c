/* wrt_config.h - a worker's configuration, read from the environment contract (docs/design.md). */
#ifndef WRT_CONFIG_H
#define WRT_CONFIG_H

#include <stddef.h>

#include "naming.h"

/* A redis:// URL: redis://[[user]:password@]host[:port][/db]. Pure; 0 or -1. */
typedef struct wcfg_redis_url {
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
} wcfg_redis_url_t;
typedef struct wcfg {
    char service[NM_NAME_MAX + 1];
    char instance[NM_NAME_MAX + 1];
    char version[64];
    char service_type[16];        /* derived: "singleton" or "multi-instance" */
    char entity_type[64];         /* "" when not set */
    char environment[64];
    char log_level[16];
    char schema[NM_SCHEMA_MAX + 1];
    char namespace[NM_NAMESPACE_MAX + 1];
    char discovery_key[NM_KEY_MAX];
    char http_bind[64];
    int http_port;
    char *postgres_url;           /* owned, free with wcfg_free */
    char *redis_url;              /* owned */
    wcfg_redis_url_t redis;       /* redis_url parsed */
    char *data_dir;               /* owned, "" when not set */
    char *logs_dir;               /* owned, "" when not set */
} wcfg_t;

/* Where wcfg_load reads variables: getenv in the program, a table in the tests. */
typedef const char *(*wcfg_getenv_fn)(const char *name, void *arg);
const char *wcfg_environ(const char *name, void *arg);

/* Fill c from the environment. SERVICE_NAME is required; SERVICE_INSTANCE_NAME
 * defaults to it; schema and namespace come from SCHEMA_NAME / REDIS_NAMESPACE when
 * set, else from nm_derive (the supervisor's own rules). Returns 0, or -1 with a
 * reason in err. On success the caller owns c's strings (wcfg_free). */
int wcfg_load(wcfg_t *c, wcfg_getenv_fn get, void *arg, char *err, size_t errlen);
void wcfg_free(wcfg_t *c);

/* The "Data adapter configuration loaded" line the ecosystem's services log; URLs go through log_kv's mask. */
void wcfg_log(const wcfg_t *c);

int wcfg_parse_redis_url(const char *url, wcfg_redis_url_t *out, char *err, size_t errlen);

#endif
