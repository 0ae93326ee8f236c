/* monitor.c - the monitoring side (monitor.h): owns the prober, the status endpoint
 * and the control socket, and follows the supervisor through its hooks. */
#include "config.h"

#include "monitor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "log.h"
#include "probe.h"
#include "probe_exec.h"
#include "status_http.h"
#include "xalloc.h"

typedef struct monitor {
    prober_t *prober;
    status_http_t *http;
    control_t *control;
} monitor_t;

/* The cap on concurrent status connections: the inventory's status_max_connections, else the environment's
 * INSTANCED_STATUS_MAX_CONNECTIONS, else 0 (automatic: status_http.c). */
static int status_max_conns(const supervisor_t *sup)
{
    const char *s = getenv("INSTANCED_STATUS_MAX_CONNECTIONS");
    char *end;
    long n;

    if (sup->inv->status_max_connections > 0)
        return (int)sup->inv->status_max_connections;
    if (!s || !*s)
        return 0;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno || *end || n < 1 || n > 65536) {
        log_warn("INSTANCED_STATUS_MAX_CONNECTIONS ignored: not a number from 1 to 65536",
                 "value", s);
        return 0;
    }
    return (int)n;
}

static void reloaded(void *ctx, supervisor_t *sup);
static void started(void *ctx, supervisor_t *sup, sup_instance_t *in);
static void exited(void *ctx, supervisor_t *sup, sup_instance_t *in);
static void removed(void *ctx, supervisor_t *sup, sup_instance_t *in);
static int reaped(void *ctx, supervisor_t *sup, pid_t pid, int status);

int monitor_init(supervisor_t *sup, char *err, size_t errlen)
{
    static const sup_hooks_t hooks = {
        .started = started, .exited = exited, .removed = removed, .reloaded = reloaded,
        .reaped = reaped,
    };
    monitor_t *m = xcalloc(1, sizeof *m);

    sup->monitor = m;
    if (!(m->prober = probe_new(sup, err, errlen)))
        goto fail;
    if (sup->inv->status_listen && *sup->inv->status_listen &&
        !(m->http = status_http_new(sup, sup->inv->status_listen, m->prober,
                                       status_max_conns(sup), err, errlen)))
        goto fail;
    if (sup->inv->control_socket && *sup->inv->control_socket &&
        !(m->control = control_new(sup, sup->inv->control_socket, err, errlen)))
        goto fail;
    if (sup_add_hooks(sup, &hooks, m) < 0) {
        snprintf(err, errlen, "too many hooks");
        goto fail;
    }
    return 0;
fail:
    monitor_shutdown(sup);
    return -1;
}

static int same(const char *a, const char *b)
{
    return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

static void reloaded(void *ctx, supervisor_t *sup)
{
    monitor_t *m = ctx;
    const char *listen = sup->inv->status_listen, *path = sup->inv->control_socket;
    char err[512];

    if (!m)
        return;
    probe_reconfigure(m->prober);
    /* A listener that cannot move keeps serving at its old address: a reload never
     * leaves the supervisor deaf. */
    if (!same(m->http ? status_http_listen(m->http) : NULL, listen)) {
        status_http_t *h = NULL;
        if (listen && *listen &&
            !(h = status_http_new(sup, listen, m->prober, status_max_conns(sup), err,
                                  sizeof err)))
            log_error("status endpoint not moved", "error", err);
        else {
            status_http_free(m->http);
            m->http = h;
        }
    } else if (m->http && status_http_set_max_conns(m->http, status_max_conns(sup)) < 0) {
        log_error("status endpoint connection cap not changed", "error", "out of memory");
    }
    if (!same(m->control ? control_path(m->control) : NULL, path)) {
        control_t *c = NULL;
        if (path && *path && !(c = control_new(sup, path, err, sizeof err)))
            log_error("control socket not moved", "error", err);
        else {
            control_free(m->control);
            m->control = c;
        }
    }
}

static void started(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup;
    probe_instance_started(((monitor_t *)ctx)->prober, in);
}

static void exited(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup;
    probe_instance_exited(((monitor_t *)ctx)->prober, in);
}

static void removed(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup;
    probe_instance_removed(((monitor_t *)ctx)->prober, in);
}

/* Exec probes (health_check = exec) are children of the supervisor too. */
static int reaped(void *ctx, supervisor_t *sup, pid_t pid, int status)
{
    (void)ctx, (void)sup;
    return pexec_reaped(pid, status);
}

void monitor_shutdown(supervisor_t *sup)
{
    monitor_t *m = sup->monitor;

    if (!m)
        return;
    sup_remove_hooks(sup, m);
    control_free(m->control);
    status_http_free(m->http);
    probe_free(m->prober);
    free(m);
    sup->monitor = NULL;
}
