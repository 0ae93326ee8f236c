/* supervisor.c - the master process: one worker per instance on one event loop. */
#include "config.h"

#include "supervisor.h"

#include <stdio.h>

int sup_main(const char *config, int foreground)
{
    (void)foreground;
    fprintf(stderr, "instanced: %s: supervision is not built yet\n", config);
    return 1;
}
