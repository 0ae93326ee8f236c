/* monitor_stub.c - placeholder monitoring side until health.c and friends exist. */
#include "config.h"

#include "monitor.h"

int monitor_init(supervisor_t *sup, char *err, size_t errlen)
{
    (void)sup, (void)err, (void)errlen;
    return 0;
}

void monitor_reloaded(supervisor_t *sup) { (void)sup; }

void monitor_instance_started(supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
}

void monitor_instance_exited(supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
}

void monitor_instance_removed(supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
}

health_status_t monitor_overall(const supervisor_t *sup)
{
    (void)sup;
    return HEALTH_UNKNOWN;
}

void monitor_shutdown(supervisor_t *sup) { (void)sup; }
