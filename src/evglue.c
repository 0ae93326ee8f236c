/* evglue.c - libevent's messages in the logfmt log; listeners that rest when out of
 * descriptors instead of spinning. */
#include "config.h"

#include "evglue.h"

#include <errno.h>
#include <string.h>

#include "log.h"

static void libevent_log_cb(int severity, const char *msg)
{
    log_level_t lvl = severity == EVENT_LOG_DEBUG ? LOG_LVL_DEBUG
                      : severity == EVENT_LOG_MSG ? LOG_LVL_INFO
                      : severity == EVENT_LOG_WARN ? LOG_LVL_WARN
                                                   : LOG_LVL_ERROR;
    log_kv(lvl, "libevent", "message", msg, NULL);
}

void evglue_log_to_logfmt(void)
{
    event_set_log_callback(libevent_log_cb);
}

/* The error callback of a listener gets the listener's user data, which evhttp owns
 * for its own listeners: so the guard is found by the listener's address. */
#define MAX_GUARDED 4

struct event_base *evglue_base_new(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

typedef struct {
    struct evconnlistener *l;
    struct event *resume;
    const char *what;
    unsigned long long paused; /* pauses so far */
    int resting;               /* in a pause after an accept error */
    int held;                  /* its owner asked it not to accept */
} guard_t;

static guard_t guards[MAX_GUARDED];

static guard_t *find(const struct evconnlistener *l)
{
    for (int i = 0; i < MAX_GUARDED; i++)
        if (guards[i].l == l)
            return &guards[i];
    return NULL;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    guard_t *g = arg;

    (void)fd, (void)what;
    g->resting = 0;
    if (!g->held)
        evconnlistener_enable(g->l);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    guard_t *g = find(l);
    struct timeval tv = { EVGLUE_ACCEPT_PAUSE_MS / 1000, (EVGLUE_ACCEPT_PAUSE_MS % 1000) * 1000 };

    (void)arg;
    if (!g)
        return;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        log_warn("accept failed", "listener", g->what, "error", strerror(err));
        return;
    }
    /* The pending connections wait in the kernel's backlog meanwhile. */
    evconnlistener_disable(l);
    g->resting = 1;
    evtimer_add(g->resume, &tv);
    /* At most one line per pause. */
    g->paused++;
    log_warn("out of descriptors: not accepting connections for a while", "listener",
             g->what, "error", strerror(err), "pause_ms", LOG_INT(EVGLUE_ACCEPT_PAUSE_MS),
             "pauses", LOG_INT(g->paused));
}

int evglue_guard_listener(struct evconnlistener *l, const char *what)
{
    guard_t *g = find(NULL);

    if (!l || !g)
        return -1;
    g->resume = evtimer_new(evconnlistener_get_base(l), resume_cb, g);
    if (!g->resume)
        return -1;
    g->l = l;
    g->what = what;
    g->paused = 0;
    g->resting = g->held = 0;
    evconnlistener_set_error_cb(l, accept_error_cb);
    return 0;
}

int evglue_hold_listener(struct evconnlistener *l, int hold)
{
    guard_t *g = l ? find(l) : NULL;

    if (!g)
        return -1;
    g->held = hold != 0;
    if (g->held)
        evconnlistener_disable(l);
    else if (!g->resting)
        evconnlistener_enable(l);
    return 0;
}

void evglue_unguard_listener(struct evconnlistener *l)
{
    guard_t *g = l ? find(l) : NULL;

    if (!g)
        return;
    evconnlistener_set_error_cb(l, NULL);
    event_free(g->resume);
    memset(g, 0, sizeof(*g));
}
