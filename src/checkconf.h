/* checkconf.h - print the derived table of a valid inventory (instanced --check-config). */
#ifndef INSTANCED_CHECKCONF_H
#define INSTANCED_CHECKCONF_H

#include <stdio.h>

#include "inventory.h"

/* Print one row per instance: a padded table, or with json a JSON array of objects
 * with exactly the keys instance, service, service_type, schema, namespace,
 * discovery_key, port, data_dir, logs_dir. Returns 0, or -1 on a write error. */
int checkconf_print(FILE *out, const inventory_t *inv, int json);

/* What containment would do with this inventory here, without creating anything:
 * "containment: a cgroup per instance under PATH (mode)" or "containment: off (...)",
 * then one line per limit key an instance sets that cannot apply on this host, with
 * the reason (the controller is not delegated, ...). Returns how many keys cannot
 * apply. */
int checkconf_containment(FILE *out, const inventory_t *inv);

/* Print every error of a failed load, one per line. */
void checkconf_print_errors(FILE *out, const inv_errors_t *errs);

#endif
