/* instancectl.c - the control CLI: talks to the supervisor's control socket, and
 * provisions PostgreSQL and Redis for an inventory. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "provision.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "provision") == 0)
            return prov_main(argc - i, argv + i);
        if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0 ||
            strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--timeout") == 0) {
            i++;
            continue;
        }
        if (argv[i][0] != '-')
            break;
    }
    return ctl_main(argc, argv);
}
