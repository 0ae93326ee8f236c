/* health.c - health verdicts: probe answers, flapping control and the combined status. */
#include "config.h"

#include "health.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_conf.h"
#include "xalloc.h"

health_status_t health_judge(long http_code, const char *body, size_t len, char *msg,
                             size_t msglen)
{
    json_error_t jerr;
    json_t *root, *st;
    const char *s;
    health_status_t res = HEALTH_UNHEALTHY;

    msg[0] = '\0';
    root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        /* The code says more than an unparsable body: "HTTP 500" beats "invalid JSON". */
        if (http_code < 200 || http_code > 299)
            snprintf(msg, msglen, "HTTP %ld", http_code);
        else
            snprintf(msg, msglen, "invalid JSON in health answer%s%s",
                     root ? "" : ": ", root ? " (not an object)" : jerr.text);
        json_decref(root);
        return HEALTH_UNHEALTHY;
    }
    st = json_object_get(root, "status");
    s = json_string_value(st);
    if (!s) {
        snprintf(msg, msglen, "HTTP %ld, no \"status\" string in health answer", http_code);
    } else if (strcmp(s, "unhealthy") == 0) {
        snprintf(msg, msglen, "worker reports unhealthy (HTTP %ld)", http_code);
    } else if (http_code < 200 || http_code > 299) {
        snprintf(msg, msglen, "HTTP %ld, status \"%.64s\"", http_code, s);
    } else if (strcmp(s, "healthy") == 0) {
        res = HEALTH_HEALTHY;
    } else if (strcmp(s, "degraded") == 0) {
        res = HEALTH_DEGRADED;
        snprintf(msg, msglen, "worker reports degraded");
    } else {
        snprintf(msg, msglen, "unknown status \"%.64s\"", s);
    }
    json_decref(root);
    return res;
}

char *health_probe_url(int port, const char *path)
{
    char head[32];
    size_t hlen, plen;
    char *url, *w;
    int n;

    if (port < 1 || port > 65535 || !path)
        return NULL;
    /* Sized for the path: a fixed buffer cut long paths silently and probed another
     * path. The head is short and bounded (port <= 65535). */
    n = snprintf(head, sizeof head, "http://127.0.0.1:%d%s", port, path[0] == '/' ? "" : "/");
    if (n < 0 || (size_t)n >= sizeof head)
        return NULL;
    hlen = (size_t)n;
    plen = strlen(path);
    url = xmalloc(hlen + plen + 1);
    w = url;
    memcpy(w, head, hlen);
    w += hlen;
    memcpy(w, path, plen);
    w[plen] = '\0';
    return url;
}

int health_apply(sup_health_t *h, health_status_t observed, const char *msg,
                 long failures_before, long successes_before, long restart_on_unhealthy)
{
    int good = observed == HEALTH_HEALTHY || observed == HEALTH_DEGRADED;
    int was_good = h->status == HEALTH_HEALTHY || h->status == HEALTH_DEGRADED;

    if (failures_before < 1)
        failures_before = 1;
    if (successes_before < 1)
        successes_before = 1;
    h->probes_total++;
    if (good) {
        h->consecutive_ok++;
        h->consecutive_fail = 0;
        if (was_good || h->consecutive_ok >= (unsigned long)successes_before)
            h->status = observed;
        text_set(&h->message, "%s", msg ? msg : "");
        return 0;
    }
    h->probe_failures_total++;
    h->consecutive_fail++;
    h->consecutive_ok = 0;
    if (h->consecutive_fail >= (unsigned long)failures_before) {
        h->status = HEALTH_UNHEALTHY;
        text_set(&h->message, "%s", msg ? msg : "");
    } else {
        /* Still within the tolerance: keep the verdict, but say what happened. */
        text_set(&h->message, "%s (%u of %ld failures)", msg ? msg : "", h->consecutive_fail,
                 failures_before);
    }
    return restart_on_unhealthy > 0 &&
           h->consecutive_fail >= (unsigned long)restart_on_unhealthy;
}

health_status_t health_effective(const sup_instance_t *in)
{
    switch (in->state) {
    case SUP_FAILED:
    case SUP_BACKOFF:
        return HEALTH_UNHEALTHY;
    case SUP_STOPPED:
        return in->wanted ? HEALTH_UNHEALTHY : HEALTH_UNKNOWN;
    case SUP_WAITING:
    case SUP_PAUSED: /* paused on purpose, not probed: does not count */
        return HEALTH_UNKNOWN;
    case SUP_STARTING:
    case SUP_RUNNING:
    case SUP_STOPPING:
        break;
    }
    if (!in->cfg || !pc_probed(in->cfg))
        return in->state == SUP_RUNNING ? HEALTH_HEALTHY : HEALTH_UNKNOWN;
    return in->health.status;
}

health_status_t health_overall(sup_instance_t *const *inst, size_t n)
{
    int degraded = 0;

    for (size_t i = 0; i < n; i++) {
        health_status_t h = health_effective(inst[i]);
        int critical = inst[i]->cfg ? inst[i]->cfg->policy.critical : 1;

        if (h == HEALTH_UNHEALTHY && critical)
            return HEALTH_UNHEALTHY;
        if (h == HEALTH_UNHEALTHY || h == HEALTH_DEGRADED)
            degraded = 1;
    }
    return degraded ? HEALTH_DEGRADED : HEALTH_HEALTHY;
}

int health_exit_code(health_status_t h)
{
    switch (h) {
    case HEALTH_DEGRADED: return 1;
    case HEALTH_UNHEALTHY: return 2;
    case HEALTH_HEALTHY:
    case HEALTH_UNKNOWN: break;
    }
    return 0;
}
