/* provision_stub.c - placeholder until provision.c exists. */
#include "config.h"

#include <stdio.h>

#include "provision.h"

int prov_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "instancectl: provision is not built yet\n");
    return 1;
}
