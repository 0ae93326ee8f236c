/* curlev.c - libcurl's multi interface on a libevent loop (curlev.h).
 *
 * The socket callback keeps one event per socket libcurl watches; the timer callback
 * one timer. Neither calls back into libcurl: a timeout of 0 runs from the loop. A
 * socket libcurl is done with may be the one whose event is running now, so its event
 * is freed later, by a zero-time reaper event. */
#include "config.h"

#include "curlev.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <stdlib.h>

#include "xalloc.h"

typedef struct sockctx {
    struct sockctx *next;    /* on the dead list, once libcurl is done with it */
    struct event *ev;
} sockctx_t;

struct curlev {
    struct event_base *base;
    CURLM *multi;
    struct event *timer, *reaper;
    sockctx_t *dead;
    void (*after)(void *arg);
    void *arg;
};

static void socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    curlev_t *cv = arg;
    int running, action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                          ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

    curl_multi_socket_action(cv->multi, fd, action, &running);
    cv->after(cv->arg);
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    curlev_t *cv = arg;
    int running;

    (void)fd, (void)what;
    curl_multi_socket_action(cv->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    cv->after(cv->arg);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    curlev_t *cv = arg;

    (void)fd, (void)what;
    while (cv->dead) {
        sockctx_t *sc = cv->dead;
        cv->dead = sc->next;
        event_free(sc->ev);
        free(sc);
    }
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    curlev_t *cv = userp;
    sockctx_t *sc = socketp;
    short kind;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            /* libcurl forgets socketp itself; the event may be the one running now. */
            event_del(sc->ev);
            sc->next = cv->dead;
            cv->dead = sc;
            event_active(cv->reaper, EV_TIMEOUT, 0);
        }
        return 0;
    }
    kind = (short)(EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                   ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
    if (!sc) {
        sc = xcalloc(1, sizeof *sc);
        if (!(sc->ev = event_new(cv->base, s, kind, socket_event_cb, cv))) {
            free(sc);
            return -1;
        }
        curl_multi_assign(cv->multi, s, sc);
    } else {
        /* New interest on a known socket: re-arm the same event (deleted first, so
         * event_assign is allowed, as in curl's multi-event.c). */
        event_del(sc->ev);
        event_assign(sc->ev, cv->base, s, kind, socket_event_cb, cv);
    }
    return event_add(sc->ev, NULL) == 0 ? 0 : -1;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    curlev_t *cv = userp;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(cv->timer);
        return 0;
    }
    /* 0 means "now", but socket_action must not be called from here: a 0 timer runs
     * it from the loop instead. */
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return evtimer_add(cv->timer, &tv) == 0 ? 0 : -1;
}

curlev_t *curlev_new(struct event_base *base, void (*after)(void *arg), void *arg)
{
    curlev_t *cv = xcalloc(1, sizeof *cv);

    cv->base = base;
    cv->after = after;
    cv->arg = arg;
    cv->multi = curl_multi_init();
    cv->timer = evtimer_new(base, timer_event_cb, cv);
    cv->reaper = evtimer_new(base, reaper_cb, cv);
    if (!cv->multi || !cv->timer || !cv->reaper) {
        curlev_free(cv);
        return NULL;
    }
    curl_multi_setopt(cv->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(cv->multi, CURLMOPT_SOCKETDATA, cv);
    curl_multi_setopt(cv->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(cv->multi, CURLMOPT_TIMERDATA, cv);
    return cv;
}

int curlev_done(curlev_t *cv, void **priv, CURLcode *rc)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(cv->multi, &left))) {
        char *p = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
        if (!p)
            continue;
        *rc = m->data.result;
        *priv = p;
        return 1;
    }
    return 0;
}

curl_socket_t curlev_open_cloexec(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)arg, (void)purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

CURLM *curlev_multi(curlev_t *cv)
{
    return cv->multi;
}

void curlev_free(curlev_t *cv)
{
    if (!cv)
        return;
    if (cv->multi)
        curl_multi_cleanup(cv->multi); /* after the easy handles: it may close sockets */
    reaper_cb(-1, 0, cv);
    if (cv->timer)
        event_free(cv->timer);
    if (cv->reaper)
        event_free(cv->reaper);
    free(cv);
}
