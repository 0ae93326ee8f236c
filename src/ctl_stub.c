/* ctl_stub.c - placeholder until ctl.c exists. */
#include "config.h"

#include <stdio.h>

#include "ctl.h"

int ctl_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "instancectl: the control commands are not built yet\n");
    return 3;
}
