/* instanced.c - command line of the supervisor: check the inventory, or run it. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkconf.h"
#include "inventory.h"
#include "log.h"
#include "supervisor.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: instanced -c FILE [--foreground]\n"
            "       instanced --check-config -c FILE [--json]\n"
            "\n"
            "Supervise one worker per named instance of the inventory FILE.\n"
            "\n"
            "  -c, --config FILE    the instance inventory\n"
            "  -f, --foreground     mirror worker output to the terminal\n"
            "  -t, --check-config   validate FILE, print the derived table, exit 0 or 1\n"
            "  -j, --json           with --check-config: print JSON\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "check-config", no_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    int check = 0, json = 0, foreground = 0, c;

    while ((c = getopt_long(argc, argv, "c:ftjhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'f': foreground = 1; break;
        case 't': check = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("instanced %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !config) {
        fprintf(stderr, "instanced: %s\n", config ? "unexpected argument" : "-c FILE is required");
        usage(stderr);
        return 2;
    }
    if (json && !check) {
        fprintf(stderr, "instanced: --json goes with --check-config\n");
        return 2;
    }

    if (check) {
        inv_errors_t errs;
        inventory_t *inv;
        int rc;

        inv_errors_init(&errs);
        inv = inv_load(config, &errs);
        if (!inv) {
            checkconf_print_errors(stderr, &errs);
            fprintf(stderr, "instanced: %s: %zu error%s, inventory rejected\n", config, errs.n,
                    errs.n == 1 ? "" : "s");
            inv_errors_free(&errs);
            return 1;
        }
        rc = checkconf_print(stdout, inv, json);
        if (!json)
            fprintf(stderr, "instanced: %s: ok, %zu instance%s\n", config, inv->ninstances,
                    inv->ninstances == 1 ? "" : "s");
        inv_free(inv);
        inv_errors_free(&errs);
        return rc == 0 ? 0 : 1;
    }
    return sup_main(config, foreground);
}
