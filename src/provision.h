/* provision.h - PostgreSQL schemas and roles, Redis ACL users, one set per instance. */
#ifndef INSTANCED_PROVISION_H
#define INSTANCED_PROVISION_H

/* `instancectl provision -c FILE [--dry-run] ...`: argv[0] is "provision".
 * Returns the exit code. */
int prov_main(int argc, char **argv);

#endif
