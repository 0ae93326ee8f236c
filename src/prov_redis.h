/* prov_redis.h - Redis side of provisioning: one ACL user per instance. */
#ifndef INSTANCED_PROV_REDIS_H
#define INSTANCED_PROV_REDIS_H

#include <stddef.h>

#include "prov_report.h"

typedef struct prov_redis prov_redis_t;

/* Connect with the admin redis:// URL (hiredis synchronous API, 10 s timeouts).
 * In a dry run nothing is changed but a short-lived disabled probe user (see
 * prd_instance). NULL with a reason in err. */
prov_redis_t *prd_connect(const char *url, int dry_run, char *err, size_t errlen);
void prd_close(prov_redis_t *rd);

/* redis://user:password@host:port/db of the admin URL. Newly allocated. */
char *prd_worker_url(prov_redis_t *rd, const char *user, const char *password);

typedef struct prd_spec {
    const char *user;
    const char *password;
    const char *namespace;
    const char *discovery_key;
} prd_spec_t;

/* The instance's ACL user, created with `reset` so that nothing older survives, when
 * it differs from what it should be (rules and password); then checked with ACL
 * DRYRUN. 0 or -1 with err. */
int prd_instance(prov_redis_t *rd, prov_report_t *rep, const prd_spec_t *spec, char *err,
                 size_t errlen);

/* Report ACL users named PROV_ROLE_PREFIX... that are not in keep (NULL-terminated);
 * with prune, delete them. Returns the number of failures, -1 when unreadable. */
int prd_removed(prov_redis_t *rd, prov_report_t *rep, const char *const *keep, int prune,
                char *err, size_t errlen);

/* After the run: persist the ACL with ACL SAVE when the server has an aclfile and
 * something changed; warn when the default user needs no password. 0 or -1. */
int prd_finish(prov_redis_t *rd, prov_report_t *rep, int changed, char *err, size_t errlen);

/* Disconnect every client authenticated as user (CLIENT KILL USER), after its
 * password changed. *killed: how many. 0 or -1 with err; nothing in a dry run. */
int prd_kill_user(prov_redis_t *rd, const char *user, long long *killed, char *err,
                  size_t errlen);

/* 1 when the ACL user exists, 0 when not, -1 with err. */
int prd_user_exists(prov_redis_t *rd, const char *user, char *err, size_t errlen);

#endif
