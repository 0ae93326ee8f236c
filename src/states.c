/* states.c - the names of process states and health statuses (supervisor.h). */
#include "config.h"

#include "supervisor.h"

const char *sup_state_name(sup_state_t s)
{
    switch (s) {
    case SUP_STOPPED: return "stopped";
    case SUP_WAITING: return "waiting";
    case SUP_STARTING: return "starting";
    case SUP_RUNNING: return "running";
    case SUP_STOPPING: return "stopping";
    case SUP_BACKOFF: return "backoff";
    case SUP_FAILED: return "failed";
    }
    return "unknown";
}

const char *health_status_name(health_status_t h)
{
    switch (h) {
    case HEALTH_HEALTHY: return "healthy";
    case HEALTH_DEGRADED: return "degraded";
    case HEALTH_UNHEALTHY: return "unhealthy";
    case HEALTH_UNKNOWN: break;
    }
    return "unknown";
}
