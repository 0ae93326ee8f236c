/* control.c - the control socket: instancectl's commands on a unix socket.
 *
 * The only place where start, stop, restart and reload are accepted: the TCP status
 * endpoint is read-only. Access is the file mode (0660) of the socket. */
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
#include "report.h"

#define CONN_TIMEOUT_S 30
/* Clients served at once. Each holds a descriptor for up to CONN_TIMEOUT_S, and the
 * supervisor's descriptors are its workers' first. */
#define MAX_CONNS 64
/* Past MAX_CONNS, up to MAX_BUSY more are read for their request line and told
 * "too many control connections" (closing a unix socket with the request unread would
 * reset it under the client), within BUSY_TIMEOUT_S; beyond that they are closed. */
#define MAX_BUSY 16
#define BUSY_TIMEOUT_S 2

static int nconns, nbusy; /* clients open now, across listeners (one supervisor per process) */

#ifndef SUP_WHY_MANUAL
#define SUP_WHY_MANUAL "manual"
#endif

struct control {
    supervisor_t *sup;
    struct evconnlistener *listener;
    char *path;
    dev_t dev;
    ino_t ino;
};

/* One client. It needs only the supervisor, so that it outlives a listener that a
 * reload replaced while the reload request itself was being served. */
typedef struct conn {
    supervisor_t *sup;
    struct bufferevent *bev;
    int answered;
    int busy; /* over MAX_CONNS: its request gets "too many control connections" */
} conn_t;

/* ---- commands ---------------------------------------------------------------- */

static json_t *answer_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *answer_error(const char *fmt, ...)
{
    json_t *o = json_object();
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(buf));
    return o;
}

static json_t *answer_ok(const char *message)
{
    json_t *o = json_object();

    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "message", json_string(message));
    return o;
}

static json_t *cmd_status(supervisor_t *sup, const char *name)
{
    time_t now = time(NULL);
    json_t *o, *arr = json_array();
    health_status_t st;

    if (name) {
        sup_instance_t *in = sup_find(sup, name);
        if (!in) {
            json_decref(arr);
            o = answer_error("no such instance: %s", name);
            json_object_set_new(o, "not_found", json_true());
            return o;
        }
        st = health_effective(in);
        json_array_append_new(arr, report_instance(sup, in, now));
    } else {
        st = health_overall(sup->inst, sup->ninst);
        for (size_t i = 0; i < sup->ninst; i++)
            json_array_append_new(arr, report_instance(sup, sup->inst[i], now));
    }
    o = json_object();
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "status", json_string(health_name(st)));
    json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
    json_object_set_new(o, "instances", arr);
    if (!name) {
        json_t *prov = report_provisioning(sup);
        if (prov)
            json_object_set_new(o, "provisioning", prov);
    }
    return o;
}

static json_t *cmd_reload(supervisor_t *sup)
{
    inv_errors_t errs;
    char summary[512] = "";
    json_t *o;

    inv_errors_init(&errs);
    if (sup_reload(sup, &errs, summary, sizeof summary) == 0) {
        o = answer_ok(summary[0] ? summary : "reloaded");
    } else {
        json_t *arr = json_array();
        char msg[128];

        for (size_t i = 0; i < errs.n; i++)
            json_array_append_new(arr, json_string(errs.v[i].text));
        if (errs.n)
            snprintf(msg, sizeof msg, "reload rejected (%zu error%s); the running inventory "
                     "is unchanged", errs.n, errs.n == 1 ? "" : "s");
        else
            snprintf(msg, sizeof msg, "reload failed: %s",
                     summary[0] ? summary : "see the supervisor's log");
        o = answer_error("%s", msg);
        json_object_set_new(o, "errors", arr);
    }
    inv_errors_free(&errs);
    return o;
}

typedef int (*mutate_fn)(supervisor_t *, sup_instance_t *, char *, size_t);

static int do_restart(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    return sup_restart(sup, in, SUP_WHY_MANUAL, err, len);
}

json_t *control_execute(supervisor_t *sup, const char *line)
{
    static const struct {
        const char *name;
        mutate_fn fn;
        const char *done;
    } mutations[] = {
        { "start", sup_start, "starting" },
        { "stop", sup_stop, "stopping" },
        { "restart", do_restart, "restarting" },
    };
    char buf[CONTROL_LINE_MAX + 1], *argv[4], *save = NULL, *tok;
    int argc = 0;

    snprintf(buf, sizeof buf, "%s", line);
    for (tok = strtok_r(buf, " \t\r", &save); tok && argc < 4;
         tok = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = tok;
    if (argc == 0)
        return answer_error("%s", "empty request");
    if (strcmp(argv[0], "status") == 0 && argc <= 2)
        return cmd_status(sup, argc == 2 ? argv[1] : NULL);
    if (strcmp(argv[0], "reload") == 0 && argc == 1)
        return cmd_reload(sup);
    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        sup_instance_t *in;
        char err[256] = "", msg[320];
        json_t *o;

        if (strcmp(argv[0], mutations[i].name) != 0)
            continue;
        if (argc != 2)
            return answer_error("usage: %s NAME", mutations[i].name);
        if (!(in = sup_find(sup, argv[1]))) {
            o = answer_error("no such instance: %s", argv[1]);
            json_object_set_new(o, "not_found", json_true());
            return o;
        }
        if (mutations[i].fn(sup, in, err, sizeof err) < 0)
            return answer_error("%s", err[0] ? err : "refused");
        snprintf(msg, sizeof msg, "%s %s", mutations[i].done, in->name);
        return answer_ok(msg);
    }
    return answer_error("unknown command \"%.64s\" (status [NAME], start NAME, stop NAME, "
                        "restart NAME, reload)", argv[0]);
}

/* ---- connections ------------------------------------------------------------- */

/* Called from the connection's own callbacks: bufferevent_free is safe there, since a
 * bufferevent is reference-counted and finalized after its callback returns. */
static void conn_free(conn_t *c)
{
    if (c->busy)
        nbusy--;
    else
        nconns--;
    bufferevent_free(c->bev);
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

static void log_request(const conn_t *c, const char *line)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    int fd = (int)bufferevent_getfd(c->bev);

    if (strncmp(line, "status", 6) == 0)
        return;
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

    if (c->answered)
        return;
    line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
            conn_send(c, answer_error("%s", "request line too long"));
        return;
    }
    if (c->busy) {
        conn_send(c, answer_error("%s", "too many control connections"));
    } else if (n > CONTROL_LINE_MAX) {
        conn_send(c, answer_error("%s", "request line too long"));
    } else {
        log_request(c, line);
        conn_send(c, control_execute(c->sup, line));
    }
    free(line);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;

    (void)bev;
    if (c->answered)
        conn_free(c); /* the answer is out: close */
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
    conn_t *c = calloc(1, sizeof *c);
    struct timeval tv = { CONN_TIMEOUT_S, 0 };

    (void)l, (void)sa, (void)salen;
    if (c && nconns >= MAX_CONNS) {
        c->busy = 1;
        tv.tv_sec = BUSY_TIMEOUT_S;
    }
    if (!c || (c->busy && nbusy >= MAX_BUSY) ||
        !(c->bev = bufferevent_socket_new(ctl->sup->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    if (c->busy)
        nbusy++;
    else
        nconns++;
    c->sup = ctl->sup;
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
    if (!(c = calloc(1, sizeof *c)) || !(c->path = strdup(path))) {
        free(c);
        close(fd);
        unlink(path);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
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

    if (!c)
        return;
    if (c->listener) {
        evglue_unguard_listener(c->listener);
        evconnlistener_free(c->listener);
    }
    /* Remove the file only if it is still ours (not a new supervisor's). */
    if (c->path && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
        unlink(c->path);
    free(c->path);
    free(c);
}
