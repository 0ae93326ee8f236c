/* placeholder.h - per-instance placeholders (%i %s %p %d %l %S %N, %% for a percent
 * sign) in command, args, env values, health_path and health_command.
 *
 * Pure: no I/O, no global state. The loader checks every string with ph_check() (an
 * unknown placeholder is a load error with its line); the supervisor expands them when
 * it spawns a worker or an exec probe, from the instance's derived values. */
#ifndef INSTANCED_PLACEHOLDER_H
#define INSTANCED_PLACEHOLDER_H

#include <stddef.h>

#include "inventory.h"

/* The values one instance gives its placeholders. Borrowed strings; NULL expands to "". */
typedef struct ph_values {
    const char *instance;  /* %i */
    const char *service;   /* %s */
    int port;              /* %p; 0 expands to "" */
    const char *data_dir;  /* %d */
    const char *logs_dir;  /* %l */
    const char *schema;    /* %S */
    const char *namespace; /* %N */
} ph_values_t;

/* 0 when every '%' in s starts a known placeholder, else -1 with
 * "unknown placeholder %q (known: ...)" in err. */
int ph_check(const char *s, char *err, size_t errlen);

/* s with every placeholder replaced, newly allocated (the caller frees it). NULL with
 * a reason in err on an unknown placeholder. */
char *ph_expand(const char *s, const ph_values_t *v, char *err, size_t errlen);

/* The values of an instance (strings borrowed from it). */
void ph_values_of(const inv_instance_t *in, ph_values_t *v);

/* A NULL-terminated copy of list with every string expanded (free with
 * inv_strv_free()); first, when not NULL, becomes element 0. NULL with err on an unknown
 * placeholder. */
char **ph_expand_strv(const char *first, char *const *list, const ph_values_t *v, char *err,
                      size_t errlen);

/* What a worker's exec needs: its argv (command then args, expanded; free with
 * inv_strv_free()), and the env entries the inventory gave it (service's and
 * instance's `env`) expanded in place in env, an environment built by
 * inv_worker_env(). Other entries (PATH, contract variables, credentials) are left as
 * they are: they are not the user's text. 0, or -1 with err. */
int ph_spawn_prepare(const inv_instance_t *in, char ***argv, char **env, char *err,
                     size_t errlen);

#endif
