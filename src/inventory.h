/* inventory.h - load and validate the instance inventory (libconfuse syntax). */
#ifndef INSTANCED_INVENTORY_H
#define INSTANCED_INVENTORY_H

#include <limits.h>
#include <stddef.h>

/* Limits the loader enforces, so that no later fixed buffer truncates silently and
 * no input costs more than linear time. All in bytes unless said otherwise. */
#define INV_MAX_FILE (64u * 1024 * 1024) /* the inventory file */
#define INV_MAX_LINE 8192                /* one line, and one quoted string */
#define INV_MAX_ERRORS 1000              /* errors kept per load; the rest are counted */
#define INV_MAX_VALUE 4096               /* any string value, list item or env entry */
#define INV_MAX_LIST 1024                /* items in args, env, depends_on, legacy_schemas */
#define INV_MAX_HEALTH_PATH 256          /* health_path */
#define INV_MAX_URL 1024                 /* postgres_url, redis_url */
#define INV_MAX_LOG_BACKUPS 100          /* log_backups */

typedef enum {
    INV_RESTART_ALWAYS = 0,
    INV_RESTART_ON_FAILURE,
    INV_RESTART_NEVER,
} inv_restart_t;

/* How an instance's health is checked (the health_check key; see probe_conf.h). */
typedef enum {
    INV_HEALTH_AUTO = 0, /* not resolved: json with a health_path, else none */
    INV_HEALTH_NONE,     /* process state only */
    INV_HEALTH_JSON,     /* HTTP GET health_path, the JSON status contract */
    INV_HEALTH_HTTP,     /* HTTP GET health_path, any 2xx or 3xx (or as narrowed) */
    INV_HEALTH_TCP,      /* a connection accepted */
    INV_HEALTH_EXEC,     /* health_command: exit 0 healthy, 1 degraded, else unhealthy */
} inv_health_kind_t;

/* A resource limit of the cgroup keys (memory_max, memory_high, pids_max): 0 when the
 * key is not set (no limit is written), INV_LIMIT_MAX for "max", else the value. */
#define INV_LIMIT_MAX LLONG_MAX

/* cpu_max: quota_us of CPU time per period_us. quota_us 0: not set; INV_LIMIT_MAX:
 * "max" (no quota). "50%" is 50000 per 100000, "200%" 200000 per 100000. */
typedef struct inv_cpu_max {
    long long quota_us;
    long long period_us;
} inv_cpu_max_t;

/* Settings a service gives its instances and an instance may override.
 * Durations are in milliseconds. Strings are owned by the struct. */
typedef struct inv_policy {
    inv_restart_t restart;
    long stop_timeout_ms;
    long restart_delay_ms;
    long restart_delay_max_ms;
    long stable_after_ms;
    long start_limit_burst;
    long start_limit_interval_ms;
    long ready_after_ms;
    long failures_before_unhealthy;
    long successes_before_healthy;
    long restart_on_unhealthy;
    long long log_max_bytes;
    long log_backups;
    int critical;
    char *health_path; /* NULL: judged by process state alone */
    char *health_check;          /* as written; NULL: inferred (health_kind) */
    int health_port;             /* 0: probe `port` */
    long health_expect_status;   /* http: 0 any 2xx or 3xx, else this code only */
    char *health_expect_body;    /* http: NULL, or a substring the body must hold */
    char **health_command;       /* exec: program and arguments, NULL-terminated */
    inv_health_kind_t health_kind; /* effective kind, set by the loader */
    char *user;        /* NULL: run as the supervisor's user */
    char *group;
    /* Containment limits, written to the instance's cgroup (0: not set, see
     * INV_LIMIT_MAX). Sizes in bytes; weights 1..10000. */
    long long memory_max;
    long long memory_high;
    long long pids_max;
    long cpu_weight;
    long io_weight;
    inv_cpu_max_t cpu_max;
} inv_policy_t;

typedef struct inv_service {
    char *name;
    char *command;        /* absolute, or a bare name looked up in PATH */
    char **args;          /* NULL-terminated */
    size_t nargs;
    char *instance_prefix;
    char *namespace_prefix;
    char *entity_type;
    int singleton;
    char **env;           /* NULL-terminated "NAME=value" */
    size_t nenv;
    inv_policy_t policy;  /* only the fields in policy_set are meaningful */
    unsigned long long policy_set;
    int line;
} inv_service_t;

typedef struct inv_instance {
    char *name;
    const inv_service_t *service; /* points into the same inventory */
    int port;                     /* 0: none */
    char *schema;
    char *namespace;
    char *discovery_key;
    char *data_dir;
    char *logs_dir;
    const char *service_type;     /* "singleton" or "multi-instance", static */
    int singleton;
    char **env;                   /* effective: service's entries, then the instance's */
    size_t nenv;
    char **depends_on;            /* NULL-terminated instance names */
    size_t ndeps;
    inv_policy_t policy;          /* effective: defaults < service < instance */
    int line;
} inv_instance_t;

typedef struct inventory {
    char *path;            /* as given */
    char *dir;             /* directory of path, for relative paths */
    char *environment;
    char *version;
    char *volumes_root;
    char *state_dir;
    char *status_listen;
    char *control_socket;
    char *postgres_url;    /* NULL when unset */
    char *redis_url;
    char *log_level;
    long health_interval_ms;
    long health_timeout_ms;
    long status_max_connections; /* 0: automatic (from the open-file limit) */
    int provision;
    int cgroups;           /* 1: a cgroup per instance when a writable cgroup2 exists;
                              0: the subreaper fallback */
    char *cgroup_root;     /* absolute; NULL: found automatically */
    char **legacy_schemas; /* NULL-terminated */
    size_t nlegacy;
    inv_service_t *services;
    size_t nservices;
    inv_instance_t *instances;
    size_t ninstances;
    struct inv_cluster *cluster; /* the cluster keys (inv_cluster.h); NULL in an
                                    inventory built by hand */
    struct inv_index *index; /* private to inventory.c: name lookups; NULL in an
                                inventory built by hand (lookups then scan) */
} inventory_t;

/* Every problem found in one load, each "FILE:LINE: message", in line order; a
 * problem with the whole file (it cannot be read, it defines no instance) reads
 * "FILE: message" and has line 0. At most INV_MAX_ERRORS are kept per load, followed
 * by one ("FILE: N more errors not shown", line INT_MAX) saying how many more were
 * found. No error quotes an env entry's value or a URL. */
typedef struct inv_errors {
    struct inv_error { int line; char *text; } *v;
    size_t n, cap;
} inv_errors_t;

void inv_errors_init(inv_errors_t *e);
void inv_errors_free(inv_errors_t *e);

/* Load and validate the inventory at path. On success returns a new inventory the
 * caller frees with inv_free(). On failure returns NULL with every error appended to
 * errs (the caller owns errs and frees it with inv_errors_free()). Nothing is applied
 * anywhere: the function only reads the file and the environment. The file is opened
 * without blocking and must be a regular file of at most INV_MAX_FILE bytes: a FIFO,
 * a device or a directory is refused at once. Allocation failure aborts. */
inventory_t *inv_load(const char *path, inv_errors_t *errs);

/* The same from len bytes at buf (not necessarily NUL-terminated; buf is only read).
 * name stands for the file in every message and, when relative, is taken from the
 * current directory to anchor the inventory's relative paths (its directory). */
inventory_t *inv_load_buf(const char *name, const char *buf, size_t len, inv_errors_t *errs);
void inv_free(inventory_t *inv);

const inv_instance_t *inv_find_instance(const inventory_t *inv, const char *name);

/* The first setting that differs between instance x of a and instance y of b: what
 * reaches its worker (environment, version, URLs, volumes_root, log_level, provision,
 * state_dir, service, command, args, entity_type, port, singleton, schema, namespace,
 * env, depends_on) or any policy key (inv_policy_diff); NULL when none does: the
 * instance runs as it would with either inventory (a reload leaves it alone). */
const char *inv_instance_diff(const inventory_t *a, const inv_instance_t *x,
                              const inventory_t *b, const inv_instance_t *y);

/* The name of the first per-instance policy key (restart, stop_timeout, health_path,
 * user, ...) whose value differs between x and y; NULL when they all match. */
const char *inv_policy_diff(const inv_policy_t *x, const inv_policy_t *y);

/* The worker's environment per the worker contract, NULL-terminated, newly allocated;
 * free with inv_strv_free(). path_env is the PATH to pass (NULL: a safe default).
 * Allocation failure aborts (xalloc.h). */
char **inv_worker_env(const inventory_t *inv, const inv_instance_t *in, const char *path_env);
void inv_strv_free(char **v);

/* Parse "100ms", "5s", "2m", "1h" or a bare number of seconds ("0.5"). 0 or -1. */
int inv_parse_duration(const char *s, long *ms);
/* Parse "10MiB", "512k", "1G" or a number of bytes. 0 or -1. */
int inv_parse_size(const char *s, long long *bytes);
/* Parse cpu_max: "max", "N%" of one CPU (N >= 1, per 100 ms) or "QUOTA PERIOD" in
 * microseconds (period 1000..1000000, quota >= 1000); "max PERIOD" too. 0 or -1. */
int inv_parse_cpu_max(const char *s, inv_cpu_max_t *out);

const char *inv_restart_name(inv_restart_t r);

#endif
