/* control.c - the control socket: instancectl's commands on a unix socket.
 *
 * The only place where start, stop, restart and reload are accepted: the TCP status
 * endpoint is read-only. Access is the file mode (0660) of the socket; it is also
 * what guards `logs`, which hands out the workers' captured output as it is (the
 * supervisor masks its own log lines, not what workers print). */
#include "config.h"

#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "evglue.h"
#include "health.h"
#include "log.h"
#include "logread.h"
#include "logtap.h"
#include "mask.h"
#include "report.h"
#include "xalloc.h"

#define CONN_TIMEOUT_S 30
/* Clients served at once. Each holds a descriptor for up to CONN_TIMEOUT_S, and the
 * supervisor's descriptors are its workers' first. */
#define MAX_CONNS 64
/* Past MAX_CONNS, up to MAX_BUSY more are read for their request line and told
 * "too many control connections" (closing a unix socket with the request unread would
 * reset it under the client), within BUSY_TIMEOUT_S; beyond that they are closed. */
#define MAX_BUSY 16
#define BUSY_TIMEOUT_S 2

typedef struct conn conn_t;

struct control {
    supervisor_t *sup;
    struct evconnlistener *listener;
    char *path;
    dev_t dev;
    ino_t ino;
    conn_t *conns;     /* every open client (a doubly linked list); owned */
    int nconns, nbusy; /* of them: served, and only told "too many" */
};

/* One client, owned by its control_t's list until it is closed. */
struct conn {
    control_t *ctl;     /* NULL once detached: see control_free() */
    supervisor_t *sup;
    struct bufferevent *bev;
    conn_t *prev, *next;
    int answered;
    int busy;      /* over MAX_CONNS: its request gets "too many control connections" */
    int executing; /* inside control_execute(): control_free() must not free it */
    /* A logs request streaming its answer (see control.h). */
    int streaming;
    int follow, live;       /* -f; the history is out and new lines go straight out */
    int dropped;            /* did not read fast enough: told so, no more lines */
    int all;                /* no names given: every instance, new ones too */
    char *names;            /* nnames NUL-terminated names; owned */
    size_t nnames, cur;     /* and the one whose history is being read */
    long lines;
    logread_t *rd;          /* the history being read; owned */
    struct event *job;      /* reads the next chunk of history; owned */
    struct evbuffer *pending; /* new lines met while the history is still read; owned */
};

/* ---- connections ------------------------------------------------------------- */

/* Unlink c from its control_t (if it still has one) and close it. Called from the
 * connection's own callbacks, and by control_free() for connections that are not
 * inside a callback: bufferevent_free is safe in both, since a bufferevent is
 * reference-counted and finalized after a running callback returns. */
static void conn_free(conn_t *c)
{
    control_t *ctl = c->ctl;

    if (ctl) {
        if (c->busy)
            ctl->nbusy--;
        else
            ctl->nconns--;
        if (c->prev)
            c->prev->next = c->next;
        else
            ctl->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    bufferevent_free(c->bev);
    if (c->job)
        event_free(c->job);
    logread_free(c->rd);
    if (c->pending)
        evbuffer_free(c->pending);
    free(c->names);
    free(c);
}

static void conn_send(conn_t *c, json_t *answer)
{
    char *s = json_dumps(answer, JSON_COMPACT | JSON_REAL_PRECISION(6));
    struct evbuffer *out = bufferevent_get_output(c->bev);

    json_decref(answer);
    if (s)
        evbuffer_add(out, s, strlen(s));
    else
        evbuffer_add_printf(out, "{\"ok\":false,\"error\":\"out of memory\"}");
    evbuffer_add(out, "\n", 1);
    free(s);
    c->answered = 1;
    bufferevent_disable(c->bev, EV_READ);
}

/* ---- logs: a streamed answer --------------------------------------------------- */

/* History is read while less than this is waiting to go out to the client. */
#define STREAM_HIGH (256 * 1024)

static void put_json(struct evbuffer *out, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    if (s) {
        evbuffer_add(out, s, strlen(s));
        evbuffer_add(out, "\n", 1);
        free(s);
    }
}

/* {"instance":name,"line":line} onto out. A line that is not UTF-8 (workers print
 * anything) goes with its other bytes as '?': JSON strings are text. */
static void put_line(struct evbuffer *out, const char *name, const char *line, size_t len)
{
    json_t *o = json_object(), *v = json_stringn(line, len);

    if (!v) {
        char *t = xmalloc(len);

        for (size_t i = 0; i < len; i++)
            t[i] = (unsigned char)line[i] < 0x80 && line[i] ? line[i] : '?';
        v = json_stringn(t, len);
        free(t);
    }
    json_object_set_new(o, "instance", json_string(name));
    json_object_set_new(o, "line", v ? v : json_string(""));
    put_json(out, o);
}

static size_t stream_queued(const conn_t *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev)) +
           (c->pending ? evbuffer_get_length(c->pending) : 0);
}

static int stream_wants(const conn_t *c, const char *name)
{
    const char *n = c->names;

    if (c->all)
        return 1;
    for (size_t i = 0; i < c->nnames; i++, n += strlen(n) + 1)
        if (strcmp(n, name) == 0)
            return 1;
    return 0;
}

static const char *stream_name(const conn_t *c, size_t k)
{
    const char *n = c->names;

    while (k--)
        n += strlen(n) + 1;
    return n;
}

/* Told once, then closed when that is out (or at the write timeout if it never
 * reads): what is held for it stays under CONTROL_FOLLOW_MAX plus this line. */
static void stream_drop(conn_t *c)
{
    json_t *o = json_object();

    c->dropped = 1;
    c->answered = 1;
    if (c->job)
        event_del(c->job);
    if (c->pending) {
        evbuffer_free(c->pending);
        c->pending = NULL;
    }
    json_object_set_new(o, "end", json_true());
    json_object_set_new(o, "error", json_string("dropped: the client did not read the log "
                                                "lines as fast as they came"));
    put_json(bufferevent_get_output(c->bev), o);
    log_warn("log follower dropped", "reason", "not reading", "queued",
             LOG_INT(CONTROL_FOLLOW_MAX));
}

/* logtap's hook: a line log capture just wrote, for every follower of name. */
static void stream_tap(void *arg, const char *name, const char *line, size_t len)
{
    control_t *ctl = arg;

    for (conn_t *c = ctl->conns; c; c = c->next) {
        if (!c->streaming || !c->follow || c->answered || !stream_wants(c, name))
            continue;
        if (stream_queued(c) + len + 64 + strlen(name) > CONTROL_FOLLOW_MAX)
            stream_drop(c);
        else
            put_line(c->live ? bufferevent_get_output(c->bev) : c->pending, name, line, len);
    }
}

static void stream_history_line(void *arg, const char *line, size_t len)
{
    conn_t *c = arg;

    put_line(bufferevent_get_output(c->bev), stream_name(c, c->cur), line, len);
}

/* One chunk of history per call, and only while the client keeps up: the write
 * callback calls again once what is queued is out. */
static void stream_job(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);

    (void)fd, (void)what;
    if (c->answered || c->live || evbuffer_get_length(out) > STREAM_HIGH)
        return;
    while (!c->rd && c->cur < c->nnames) {
        sup_instance_t *in = c->ctl ? sup_find(c->sup, stream_name(c, c->cur)) : NULL;

        if (in && in->cfg && in->cfg->logs_dir) {
            c->rd = logread_open(in->cfg->logs_dir, in->name, c->lines);
        } else {
            c->cur++; /* gone with a reload meanwhile: nothing to show */
        }
    }
    if (c->rd) {
        if (logread_step(c->rd, stream_history_line, c) == 0) {
            logread_free(c->rd);
            c->rd = NULL;
            c->cur++;
        }
        event_active(c->job, EV_TIMEOUT, 1);
        return;
    }
    if (c->follow) {
        json_t *o = json_object();
        json_object_set_new(o, "live", json_true());
        evbuffer_add_buffer(out, c->pending);
        put_json(out, o);
        evbuffer_free(c->pending);
        c->pending = NULL;
        c->live = 1;
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "end", json_true());
        put_json(out, o);
        c->answered = 1; /* closed by the write callback once out */
    }
}

/* After the first line (head, ok): stream the rest. The history of each instance is
 * read in turn; a follower is subscribed now, so what is written from here on is
 * queued for it, after that history. */
static void stream_start(conn_t *c, const control_cmd_t *cmd, json_t *head)
{
    json_t *arr = json_object_get(head, "instances"), *e;
    struct timeval tv = { CONN_TIMEOUT_S, 0 };
    size_t i, len = 0;

    json_array_foreach(arr, i, e)
        len += strlen(json_string_value(json_object_get(e, "name"))) + 1;
    c->streaming = 1;
    c->follow = cmd->follow;
    c->all = cmd->nnames == 0;
    c->lines = cmd->lines;
    c->names = xmalloc(len);
    c->job = event_new(c->sup->base, -1, 0, stream_job, c);
    c->pending = evbuffer_new();
    if (!c->job || !c->pending) {
        conn_send(c, control_answer_error("%s", "cannot set up the log stream"));
        json_decref(head);
        return;
    }
    len = 0;
    json_array_foreach(arr, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        memcpy(c->names + len, n, strlen(n) + 1);
        len += strlen(n) + 1;
        c->nnames++;
    }
    put_json(bufferevent_get_output(c->bev), head);
    /* A follower is quiet for as long as the workers are: no read timeout. Reading
     * stays on to see the client leave. */
    bufferevent_set_timeouts(c->bev, NULL, &tv);
    event_active(c->job, EV_TIMEOUT, 1);
}

static void log_request(const conn_t *c, const char *line, size_t n)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    int fd = (int)bufferevent_getfd(c->bev);

    if (strncmp(line, "status", 6) == 0)
        return;
    if (memchr(line, '\0', n))
        line = "(a line with a NUL byte)"; /* logged as what it is, refused next */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        log_info("control request", "request", line, "uid", LOG_INT(cred.uid), "pid",
                 LOG_INT(cred.pid));
    else
        log_info("control request", "request", line);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    char *line;

    if (c->streaming) {
        evbuffer_drain(in, evbuffer_get_length(in)); /* nothing more is asked */
        return;
    }
    if (c->answered)
        return;
    line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
            conn_send(c, control_answer_error("%s", "request line too long"));
        return;
    }
    if (c->busy) {
        conn_send(c, control_answer_error("%s", "too many control connections"));
    } else if (n > CONTROL_LINE_MAX) {
        conn_send(c, control_answer_error("%s", "request line too long"));
    } else {
        control_cmd_t cmd;
        char err[256];

        log_request(c, line, n);
        if (control_parse(line, n, &cmd, err, sizeof err) < 0) {
            conn_send(c, control_answer_error("%s", err));
        } else {
            json_t *answer;
            /* A reload may free our control_t (the socket moved): see control_free(). */
            c->executing = 1;
            answer = control_run(c->sup, &cmd);
            c->executing = 0;
            if (cmd.verb == CONTROL_LOGS && json_is_true(json_object_get(answer, "ok")) &&
                c->ctl)
                stream_start(c, &cmd, answer);
            else
                conn_send(c, answer);
        }
    }
    free(line);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;

    (void)bev;
    if (c->answered)
        conn_free(c); /* the answer is out: close */
    else if (c->streaming && !c->live)
        event_active(c->job, EV_TIMEOUT, 1); /* room for more history */
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;

    (void)bev;
    /* EOF before the answer is out: the client went away. Errors and timeouts too. */
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    control_t *ctl = arg;
    conn_t *c = xcalloc(1, sizeof *c);
    struct timeval tv = { CONN_TIMEOUT_S, 0 };

    (void)l, (void)sa, (void)salen;
    if (ctl->nconns >= MAX_CONNS) {
        c->busy = 1;
        tv.tv_sec = BUSY_TIMEOUT_S;
    }
    if ((c->busy && ctl->nbusy >= MAX_BUSY) ||
        !(c->bev = bufferevent_socket_new(ctl->sup->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    if (c->busy)
        ctl->nbusy++;
    else
        ctl->nconns++;
    c->ctl = ctl;
    c->sup = ctl->sup;
    c->next = ctl->conns;
    if (ctl->conns)
        ctl->conns->prev = c;
    ctl->conns = c;
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, CONTROL_LINE_MAX * 2);
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- the socket -------------------------------------------------------------- */

/* mkdir -p the directory of path, new components with mode 0750. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *slash;

    snprintf(dir, sizeof dir, "%s", path);
    if (!(slash = strrchr(dir, '/')) || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s for control_socket: %s", dir,
                         strerror(errno));
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* A socket file left over from a previous run is removed; a live one is an error. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *err,
                       size_t errlen)
{
    struct stat st;
    int fd, live;

    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "control_socket %s exists and is not a socket", path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    live = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
    if (fd >= 0)
        close(fd);
    if (live) {
        snprintf(err, errlen, "control_socket %s is in use: is another instanced running?",
                 path);
        return -1;
    }
    unlink(path);
    return 0;
}

control_t *control_new(supervisor_t *sup, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    control_t *c;
    struct stat st;
    mode_t old;
    int fd, rc;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!path || !*path || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "control_socket \"%s\" is empty or too long (at most %zu bytes)",
                 path ? path : "", sizeof sa.sun_path - 1);
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path));
    if (make_parent(path, err, errlen) < 0 || clear_stale(path, &sa, err, errlen) < 0)
        return NULL;
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    /* The umask makes the file 0660 from the start: no window with wider access. */
    old = umask(0117);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || chmod(path, 0660) < 0 || listen(fd, 64) < 0 || stat(path, &st) < 0) {
        snprintf(err, errlen, "cannot listen on control_socket %s: %s", path, strerror(errno));
        close(fd);
        if (rc == 0)
            unlink(path);
        return NULL;
    }
    c = xcalloc(1, sizeof *c);
    c->path = xstrdup(path);
    c->sup = sup;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->listener = evconnlistener_new(sup->base, accept_cb, c,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!c->listener) {
        snprintf(err, errlen, "cannot watch control_socket %s", path);
        close(fd);
        control_free(c);
        return NULL;
    }
    evglue_guard_listener(c->listener, "control socket");
    logtap_set(stream_tap, c);
    log_info("control socket listening", "path", path);
    return c;
}

const char *control_path(const control_t *c)
{
    return c->path;
}

void control_free(control_t *c)
{
    struct stat st;
    int closed = 0;

    if (!c)
        return;
    if (logtap_arg() == c)
        logtap_set(NULL, NULL);
    if (c->listener) {
        evglue_unguard_listener(c->listener);
        evconnlistener_free(c->listener);
    }
    /* Every open client is closed, except one inside control_run(): a reload that
     * moved the socket frees us from its own request. That one is detached (no
     * control_t any more) and closes itself once its answer is out. */
    while (c->conns) {
        conn_t *k = c->conns;
        c->conns = k->next;
        k->ctl = NULL;
        closed++;
        if (!k->executing)
            conn_free(k);
    }
    if (c->path)
        log_info("control socket closed", "path", c->path, "clients", LOG_INT(closed));
    /* Remove the file only if it is still ours (not a new supervisor's). */
    if (c->path && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
        unlink(c->path);
    free(c->path);
    free(c);
}
