/* provisioner.c - provisioning from inside the supervisor: at start, on reload,
 * retried with backoff, and each worker's own credentials in its environment.
 *
 * prov_apply() is blocking (libpq and hiredis synchronous APIs with 10 s connect and
 * command timeouts). That is accepted here because it runs only at start, after a
 * reload, and on a retry at most once a minute once the backoff has grown; probes
 * and restarts wait for it. The per-instance gate is the credential file: an
 * instance provisioned by an earlier run starts even while the servers are down. */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provision.h"
#include "provisioner.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000

static struct event *retry_ev; /* one supervisor per process */
static long retry_ms = RETRY_MIN_MS;

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    provisioner_run(arg);
}

void provisioner_run(supervisor_t *sup)
{
    char err[512];
    struct timeval tv;

    if (!sup->inv->provision || sup->shutting_down)
        return;
    if (retry_ev)
        event_del(retry_ev);
    if (prov_apply(sup->inv, 0, err, sizeof(err)) == 0) {
        retry_ms = RETRY_MIN_MS;
        log_info("provisioning done", "instances", LOG_INT(sup->inv->ninstances));
        sup_wake_waiting(sup); /* instances waiting for their credentials */
        return;
    }
    log_error("provisioning failed, will retry", "error", err, "retry_in_ms",
              LOG_INT(retry_ms));
    if (!retry_ev)
        retry_ev = evtimer_new(sup->base, retry_cb, sup);
    tv.tv_sec = retry_ms / 1000;
    tv.tv_usec = (retry_ms % 1000) * 1000;
    if (retry_ev)
        evtimer_add(retry_ev, &tv);
    retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
    /* Instances already provisioned by an earlier run may start meanwhile. */
    sup_wake_waiting(sup);
}

int provisioner_instance_ready(supervisor_t *sup, const sup_instance_t *in)
{
    char *pg = NULL, *redis = NULL;
    int rc;

    if (!sup->inv->provision)
        return 1;
    rc = prov_worker_urls(sup->inv, in->cfg, &pg, &redis);
    free(pg);
    free(redis);
    return rc == 0;
}

static int replace(char **env, const char *name, const char *value)
{
    size_t n = strlen(name);
    for (char **e = env; *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            char *s;
            if (asprintf(&s, "%s=%s", name, value) < 0)
                return -1;
            /* The old value is the admin URL: do not leave it lying in freed memory. */
            explicit_bzero(*e, strlen(*e));
            free(*e);
            *e = s;
        }
    }
    return 0;
}

int provisioner_worker_env(supervisor_t *sup, const inv_instance_t *in, char **env,
                           char *err, size_t errlen)
{
    char *pg = NULL, *redis = NULL;
    int rc = 0;

    if (!sup->inv->provision)
        return 0;
    if (prov_worker_urls(sup->inv, in, &pg, &redis) < 0) {
        snprintf(err, errlen, "not provisioned yet (%s)",
                 errno == ESTALE ? "credentials are for another role" : strerror(errno));
        return -1;
    }
    if ((pg && replace(env, "POSTGRES_URL", pg) < 0) ||
        (redis && replace(env, "REDIS_URL", redis) < 0)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (pg)
        explicit_bzero(pg, strlen(pg));
    if (redis)
        explicit_bzero(redis, strlen(redis));
    free(pg);
    free(redis);
    return rc;
}

void provisioner_free(supervisor_t *sup)
{
    (void)sup;
    if (retry_ev)
        event_free(retry_ev);
    retry_ev = NULL;
}
