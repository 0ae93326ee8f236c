/* provision.h - PostgreSQL schemas and roles, Redis ACL users, one set per instance. */
#ifndef INSTANCED_PROVISION_H
#define INSTANCED_PROVISION_H

#include <stddef.h>
#include <stdio.h>

#include "inventory.h"

/* Flags for prov_apply(). */
#define PROV_DRY_RUN 0x1u /* print what would change; change nothing */
#define PROV_ROTATE  0x2u /* new passwords for every instance and the monitor role */
#define PROV_PRUNE   0x4u /* drop roles, schemas, ACL users and files of removed instances */
#define PROV_END_SESSIONS 0x8u /* after an instance's new password: end its role's other
                                * PostgreSQL sessions and its Redis clients */
#define PROV_CLUSTER 0x10u /* cluster mode: a role or ACL user that exists while this node
                            * has no credential file for it keeps its password (another
                            * node holds it); the monitor role likewise */

/* Every provisioned role and ACL user is named PROV_ROLE_PREFIX + the instance's schema
 * ("inst_exchange_okx"); the read-only monitoring role is PROV_MONITOR_ROLE. */
#define PROV_ROLE_PREFIX  "inst_"
#define PROV_MONITOR_ROLE "monitor_user"

/* `instancectl provision -c FILE [--dry-run] [--rotate] [--prune]`: argv[0] is
 * "provision". Reports on stdout, errors on stderr. Returns the exit code: 0 when
 * everything is provisioned, 1 on any failure, 2 on a usage error. */
int prov_main(int argc, char **argv);

/* Provision every instance of inv with the admin postgres_url / redis_url (a side is
 * skipped when its URL is unset) and write the credential files under
 * <state_dir>/credentials. Blocking (libpq and hiredis synchronous APIs, 10 s
 * timeouts): the supervisor runs it in a child process (provisioner.c) at start and
 * on reload when inv->provision is set. Reports through log_kv(). Each instance is one
 * PostgreSQL transaction: a failure leaves that instance as it was. Returns 0, or -1
 * with the first error in err (always NUL-terminated, secrets masked) when a server
 * is unreachable or any instance failed; the other instances are still provisioned. */
int prov_apply(const inventory_t *inv, unsigned flags, char *err, size_t errlen);

/* prov_apply() restricted to the instances named in only (NULL-terminated; NULL:
 * every one). With a list, roles of instances left out are not looked at, nothing is
 * pruned, and the monitoring role is provisioned only without PROV_ROTATE (a rotation
 * of a few instances is theirs alone). Cluster mode uses it: the instances a node
 * runs, and at each claim the claimed ones with PROV_ROTATE | PROV_END_SESSIONS. */
int prov_apply_only(const inventory_t *inv, unsigned flags, const char *const *only,
                    char *err, size_t errlen);

/* prov_apply_only() reporting on out (one line per change, as instancectl provision
 * prints them; NULL: through log_kv()). */
int prov_run(const inventory_t *inv, unsigned flags, const char *const *only, FILE *out,
             char *err, size_t errlen);

/* The role and ACL user name of an instance into out. 0, or -1 when it would be
 * longer than PostgreSQL's 63-byte identifiers. Pure. */
int prov_role_name(const inv_instance_t *in, char *out, size_t outlen);

/* "<state_dir>/credentials/<instance>.env", newly allocated (caller frees), or NULL
 * when inv has no state_dir. */
char *prov_credentials_path(const inventory_t *inv, const char *instance);

/* The instance's own POSTGRES_URL and REDIS_URL, read from its credential file, for
 * the supervisor to put in the worker's environment instead of the admin URLs.
 * On success returns 0 and sets *pg_url and *redis_url to newly allocated strings the
 * caller frees (either is NULL when that side is not provisioned: postgres_url or
 * redis_url unset in the inventory). Returns -1 with errno set (ENOENT: the instance
 * is not provisioned yet) and both pointers NULL: the caller must then not fall back
 * to the admin URLs. Never logs the URLs. */
int prov_worker_urls(const inventory_t *inv, const inv_instance_t *in, char **pg_url,
                     char **redis_url);

#endif
