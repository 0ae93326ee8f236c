/* probe_tcp.c - tcp health probes: a non-blocking connect on the loop.
 *
 * A connection completes as soon as the kernel queues it, whether or not the program
 * calls accept(): a program stuck with its listener open passes until its listen
 * backlog is full. Only an exec probe (or http/json) sees it answer. */
#include "config.h"

#include "probe_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xalloc.h"

struct ptcp {
    int fd;
    int err;                /* connect()'s own errno when it failed at once */
    long timeout_ms;
    struct event *ev;
    ptcp_done_fn done;
    void *arg;
};

static void ptcp_free(ptcp_t *t)
{
    if (t->ev)
        event_free(t->ev);
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
    ptcp_t *t = arg;
    int soerr = t->err;
    socklen_t sl = sizeof soerr;
    char msg[160];
    health_status_t h = HEALTH_UNHEALTHY;

    (void)fd;
    if (!soerr && (what & EV_WRITE) && getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        soerr = errno;
    if (!soerr && !(what & EV_WRITE) && t->fd >= 0) {
        snprintf(msg, sizeof msg, "no connection within %ld ms", t->timeout_ms);
    } else if (soerr == ECONNREFUSED) {
        snprintf(msg, sizeof msg, "connection refused");
    } else if (soerr) {
        snprintf(msg, sizeof msg, "cannot connect: %s", strerror(soerr));
    } else {
        msg[0] = '\0';
        h = HEALTH_HEALTHY;
    }
    t->done(t->arg, h, msg);
    ptcp_free(t);
}

ptcp_t *ptcp_start(struct event_base *base, int port, long timeout_ms, ptcp_done_fn done,
                   void *arg, char *err, size_t errlen)
{
    ptcp_t *t = xcalloc(1, sizeof *t);
    struct sockaddr_in sa;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    short what = EV_WRITE;

    t->timeout_ms = timeout_ms;
    t->done = done;
    t->arg = arg;
    /* Close-on-exec: workers inherit no descriptor but 0, 1 and 2. */
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        free(t);
        return NULL;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(t->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        /* Refused at once (loopback often is): still reported from the loop. */
        t->err = errno;
        what = 0;
        tv.tv_sec = tv.tv_usec = 0;
    }
    t->ev = event_new(base, what ? t->fd : -1, what, conn_cb, t);
    if (!t->ev || event_add(t->ev, &tv) < 0) {
        snprintf(err, errlen, "cannot watch the probe socket");
        ptcp_free(t);
        return NULL;
    }
    return t;
}

void ptcp_cancel(ptcp_t *t)
{
    if (t)
        ptcp_free(t);
}
