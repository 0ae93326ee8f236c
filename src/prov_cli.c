/* prov_cli.c - `instancectl provision`: the command line around prov_run().
 *
 * In cluster mode the passwords of an instance are known only to the node that runs
 * it (each claim sets new ones). So the command, run on one host, acts as that node
 * would: a role or ACL user it has no credential file for keeps its password
 * (PROV_CLUSTER), and --rotate changes the passwords of the instances this node runs,
 * as its supervisor reports them over the control socket, and of no other. */
#include "config.h"

#include "provision.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_private.h"
#include "inv_cluster.h"
#include "xalloc.h"

#define ERR_MAX 1024

static void usage(FILE *f)
{
    fputs("usage: instancectl provision -c FILE [-s PATH] [--dry-run] [--rotate] [--prune]\n"
          "  -c, --config FILE  the inventory\n"
          "  -s, --socket PATH  the supervisor's control socket (cluster mode, --rotate: it\n"
          "                     says which instances this node runs; default: the\n"
          "                     inventory's control_socket)\n"
          "  -n, --dry-run      print the SQL and ACL commands that would run (secrets\n"
          "                     masked); change nothing\n"
          "      --rotate       new passwords for every instance and the monitor role\n"
          "                     (cluster mode: for the instances this node runs)\n"
          "      --prune        drop the roles, schemas (with their data), ACL users and\n"
          "                     credential files of instances no longer in the inventory\n",
          f);
}

/* The instances the local supervisor runs in cluster mode (owned, or pinned to this
 * node), NULL-terminated, from its fleet view; NULL (with the reason on stderr) when
 * it cannot be asked. */
static char **instances_here(const inventory_t *inv, const char *sock)
{
    if (!sock)
        sock = inv->control_socket ? inv->control_socket : DEFAULT_SOCKET;
    json_t *answer, *cl, *list, *in;
    const char *node;
    char **names = NULL;
    char *reply;
    size_t i, n = 0;
    int rc;

    if (!(reply = ctl_request(sock, "cluster status", DEFAULT_TIMEOUT_S, &rc)))
        goto refuse;
    answer = json_loads(reply, 0, NULL);
    free(reply);
    cl = json_object_get(answer, "cluster");
    if (!json_is_true(json_object_get(answer, "ok")) || !json_is_object(cl)) {
        fprintf(stderr, "instancectl: %s: %s\n", sock,
                answer && *ctl_jstr(answer, "error") ? ctl_jstr(answer, "error")
                                                     : "no fleet view in the answer");
        json_decref(answer);
        goto refuse;
    }
    node = ctl_jstr(cl, "node");
    list = json_object_get(cl, "instances");
    names = xcalloc(json_array_size(list) + 1, sizeof *names);
    json_array_foreach(list, i, in)
        if (*node && strcmp(ctl_jstr(in, "node"), node) == 0)
            names[n++] = xstrdup(ctl_jstr(in, "name"));
    json_decref(answer);
    return names;
refuse:
    fprintf(stderr, "instancectl provision: cluster mode: --rotate sets new passwords only "
                    "for the instances this node runs, and its supervisor (%s) cannot say "
                    "which; nothing was changed\n",
            sock);
    return NULL;
}

int prov_main(int argc, char **argv)
{
    const char *config = NULL, *sock = NULL;
    unsigned flags = 0;
    inv_errors_t errs;
    inventory_t *inv;
    char err[ERR_MAX];
    char **only = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            config = argv[++i];
        else if (strncmp(a, "--config=", 9) == 0)
            config = a + 9;
        else if ((strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) && i + 1 < argc)
            sock = argv[++i];
        else if (strncmp(a, "--socket=", 9) == 0)
            sock = a + 9;
        else if (strcmp(a, "-n") == 0 || strcmp(a, "--dry-run") == 0)
            flags |= PROV_DRY_RUN;
        else if (strcmp(a, "--rotate") == 0)
            flags |= PROV_ROTATE;
        else if (strcmp(a, "--prune") == 0)
            flags |= PROV_PRUNE;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "instancectl provision: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "instancectl provision: -c FILE is required\n");
        usage(stderr);
        return 2;
    }
    inv_errors_init(&errs);
    inv = inv_load(config, &errs);
    if (!inv) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i].text);
        inv_errors_free(&errs);
        return 1;
    }
    inv_errors_free(&errs);
    if (inv->cluster && inv->cluster->enabled) {
        flags |= PROV_CLUSTER;
        if ((flags & PROV_ROTATE) && !(only = instances_here(inv, sock))) {
            inv_free(inv);
            return 1;
        }
        if (only && !only[0])
            printf("no instance runs on this node: no password to rotate\n");
    }
    rc = only && !only[0] ? 0 : prov_run(inv, flags, (const char *const *)only, stdout, err,
                                          sizeof(err));
    for (size_t i = 0; only && only[i]; i++)
        free(only[i]);
    free(only);
    inv_free(inv);
    return rc < 0 ? 1 : 0;
}
