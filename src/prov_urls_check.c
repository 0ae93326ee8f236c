/* prov_urls_check.c - test helper: what prov_worker_urls() gives the supervisor.
 *
 * `prov-urls-check FILE INSTANCE` prints POSTGRES_URL= and REDIS_URL= lines as the
 * supervisor would put them in the worker's environment, or "error: ..." and exits 1.
 * `prov-urls-check --apply FILE` calls prov_apply() as the supervisor does, its log on
 * stderr. Built for `make check` only: it prints secrets, the point of the test. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "log.h"
#include "provision.h"

static int apply(const char *path)
{
    inv_errors_t errs;
    inventory_t *inv;
    char err[1024];
    int rc;

    inv_errors_init(&errs);
    inv = inv_load(path, &errs);
    inv_errors_free(&errs);
    if (!inv)
        return 1;
    log_setup(LOG_LVL_DEBUG, 2);
    rc = prov_apply(inv, 0, err, sizeof(err));
    printf("prov_apply=%d err=%s\n", rc, err);
    inv_free(inv);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    inv_errors_t errs;
    inventory_t *inv;
    const inv_instance_t *in;
    char *pg = NULL, *rd = NULL;
    int rc = 1;

    if (argc == 3 && strcmp(argv[1], "--apply") == 0)
        return apply(argv[2]);
    if (argc != 3) {
        fprintf(stderr, "usage: prov-urls-check FILE INSTANCE\n");
        return 2;
    }
    inv_errors_init(&errs);
    inv = inv_load(argv[1], &errs);
    inv_errors_free(&errs);
    if (!inv) {
        printf("error: inventory\n");
        return 1;
    }
    in = inv_find_instance(inv, argv[2]);
    if (!in)
        printf("error: no instance %s\n", argv[2]);
    else if (prov_worker_urls(inv, in, &pg, &rd) < 0)
        printf("error: %s\n", strerror(errno));
    else {
        printf("POSTGRES_URL=%s\nREDIS_URL=%s\n", pg ? pg : "", rd ? rd : "");
        rc = 0;
    }
    free(pg);
    free(rd);
    inv_free(inv);
    return rc;
}
