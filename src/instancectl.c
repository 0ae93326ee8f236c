/* instancectl.c - the control CLI: talks to the supervisor's control socket, and
 * provisions PostgreSQL and Redis for an inventory. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "xalloc.h"
#include "provision.h"

/* The options before the command are ctl_main's; provision gets the inventory of a
 * global -c FILE and the socket of a global -s PATH as its own -c and -s (ones given
 * after "provision" win), so that `instancectl -c FILE -s PATH COMMAND` works for
 * every command the usage lists. */
int main(int argc, char **argv)
{
    const char *config = NULL, *sock = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "provision") == 0) {
            static char dash_c[] = "-c", dash_s[] = "-s";
            char **v;
            int n = 0;

            if (!config && !sock)
                return prov_main(argc - i, argv + i);
            v = xcalloc((size_t)(argc - i) + 5, sizeof *v);
            v[n++] = argv[i];
            if (config) {
                v[n++] = dash_c;
                v[n++] = (char *)config;
            }
            if (sock) {
                v[n++] = dash_s;
                v[n++] = (char *)sock;
            }
            for (int k = i + 1; k < argc; k++)
                v[n++] = argv[k];
            n = prov_main(n, v);
            free(v);
            return n;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 < argc)
                config = argv[++i];
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            config = a + 9;
            continue;
        }
        if (strncmp(a, "-c", 2) == 0) {
            config = a + 2;
            continue;
        }
        if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
            if (i + 1 < argc)
                sock = argv[++i];
            continue;
        }
        if (strncmp(a, "--socket=", 9) == 0 || (strncmp(a, "-s", 2) == 0 && a[2])) {
            sock = a + (a[1] == '-' ? 9 : 2);
            continue;
        }
        if (strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) {
            i++;
            continue;
        }
        if (strcmp(a, "--") == 0 || a[0] != '-')
            break;
    }
    return ctl_main(argc, argv);
}
