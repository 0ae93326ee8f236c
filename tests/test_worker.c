/* test_worker.c - a worker for the tests whose behaviour is chosen by its environment.
 *
 * Every variable is optional; with none set it prints one line and runs until
 * SIGTERM (then exits 0).
 *
 *   TW_REPORT=PATH        first thing at start, write a report to PATH (atomically, via
 *                         PATH.tmp + rename): "fds=0,1,2", "SigBlk=...", "SigIgn=...",
 *                         "cwd=...", "umask=0027", "pid=", "ppid=", "pgid=", "sid=",
 *                         "uid=", "gid=", "groups=", then "env NAME=value" per variable
 *   TW_PRINT=TEXT         print TEXT as a line on stdout at start
 *   TW_STDERR=TEXT        print TEXT as a line on stderr at start
 *   TW_TICK_MS=N          print "tick N" on stdout every N ms
 *   TW_FLOOD_BYTES=N      write N bytes (lines of 99 'x' and '\n') to stdout as fast as
 *                         possible at start; "forever" never stops (no HTTP then)
 *   TW_EXIT_AFTER_MS=N    exit after N ms (0: at once, before anything else but the
 *                         report) with TW_EXIT_CODE (default 0), or by raising
 *                         TW_EXIT_SIGNAL when set (e.g. 6 for SIGABRT)
 *   TW_IGNORE_TERM=1      ignore SIGTERM (to test the SIGKILL after stop_timeout)
 *   TW_FORK_CHILD=1       fork a child that ignores SIGTERM and sleeps forever in the
 *                         same process group; print "test-worker: child PID" on stdout
 *   TW_TERM_DELAY_MS=N    on SIGTERM, exit 0 only after N ms
 *   HTTP_PORT=N           serve HTTP on 127.0.0.1:N:
 *                           GET /api/v1/health  the worker health shape (docs/design.md); status from
 *                             TW_HEALTH_FILE (its first word, read on every request) or
 *                             TW_HEALTH: healthy (200, the default), degraded (200),
 *                             unhealthy (503); TW_HEALTH_DELAY_MS delays the answer
 *                           GET /metrics        Prometheus text (tw_requests_total, ...)
 *                           anything else       404
 *   SERVICE_NAME, SERVICE_INSTANCE_NAME, SERVICE_VERSION, ENVIRONMENT: echoed in health.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* environ: declared by <unistd.h> with _GNU_SOURCE (config.h). */

static struct event_base *base;
static unsigned long requests_total, health_requests_total;
static long tick_n;

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

static void say(int fd, const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    if (!buf)
        return;
    memcpy(buf, text, n);
    buf[n] = '\n';
    if (write(fd, buf, n + 1) < 0) {
        /* nothing to do */
    }
    free(buf);
}

static void status_line(FILE *out, const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t klen = strlen(key);

    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *v = line + klen + 1;
            v += strspn(v, " \t");
            fprintf(out, "%s=%s", key, v); /* v ends in '\n' */
        }
    fclose(f);
}

static void write_report(const char *path)
{
    char tmp[4096], cwd[4096];
    FILE *out;
    DIR *d;
    struct dirent *de;
    mode_t um;
    gid_t groups[256];
    int ng, first = 1;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* List the descriptors before opening anything of our own. */
    int fds[1024], nfds = 0, dfd;
    d = opendir("/proc/self/fd");
    dfd = d ? dirfd(d) : -1;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        if (fd != dfd && nfds < 1024)
            fds[nfds++] = fd;
    }
    if (d)
        closedir(d);
    out = fopen(tmp, "w");
    if (!out)
        return;
    fprintf(out, "fds=");
    for (int i = 0; i < nfds; i++) {
        fprintf(out, "%s%d", first ? "" : ",", fds[i]);
        first = 0;
    }
    fprintf(out, "\n");
    status_line(out, "SigBlk");
    status_line(out, "SigIgn");
    fprintf(out, "cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
    um = umask(0);
    umask(um);
    fprintf(out, "umask=%04o\n", (unsigned)um);
    fprintf(out, "pid=%d\nppid=%d\npgid=%d\nsid=%d\n", (int)getpid(), (int)getppid(),
            (int)getpgrp(), (int)getsid(0));
    fprintf(out, "uid=%d\ngid=%d\ngroups=", (int)getuid(), (int)getgid());
    ng = getgroups(256, groups);
    for (int i = 0; i < ng; i++)
        fprintf(out, "%s%d", i ? "," : "", (int)groups[i]);
    fprintf(out, "\n");
    for (char **e = environ; *e; e++)
        fprintf(out, "env %s\n", *e);
    fclose(out);
    rename(tmp, path);
}

static void flood(const char *spec)
{
    char line[100];
    long long left = strcmp(spec, "forever") == 0 ? -1 : atoll(spec);

    memset(line, 'x', 99);
    line[99] = '\n';
    while (left != 0) {
        size_t n = left < 0 || left >= 100 ? 100 : (size_t)left;
        ssize_t w = write(1, line + 100 - n, n);
        if (w < 0 && errno != EINTR)
            break;
        if (w > 0 && left > 0)
            left -= w;
    }
}

/* ---- HTTP ------------------------------------------------------------------------- */

static const char *health_now(void)
{
    static char word[32];
    const char *file = getenv("TW_HEALTH_FILE");
    const char *h = getenv("TW_HEALTH");

    if (file) {
        FILE *f = fopen(file, "r");
        if (f) {
            if (fscanf(f, "%31s", word) == 1)
                h = word;
            fclose(f);
        }
    }
    if (!h || (strcmp(h, "degraded") != 0 && strcmp(h, "unhealthy") != 0))
        h = "healthy";
    return h;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v ? v : def;
}

static void send_health(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    const char *h = health_now();
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;

    if (!b) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    evbuffer_add_printf(b,
                        "{\"status\":\"%s\",\"service\":\"%s\",\"instance\":\"%s\","
                        "\"version\":\"%s\",\"environment\":\"%s\",\"timestamp\":\"%s\","
                        "\"checks\":{\"self\":{\"status\":\"%s\"}}}\n",
                        h, env_or("SERVICE_NAME", "test-worker"),
                        env_or("SERVICE_INSTANCE_NAME", env_or("SERVICE_NAME", "test-worker")),
                        env_or("SERVICE_VERSION", "0.0.0"), env_or("ENVIRONMENT", "test"), ts,
                        h);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, strcmp(h, "unhealthy") == 0 ? 503 : 200,
                      strcmp(h, "unhealthy") == 0 ? "Service Unavailable" : "OK", b);
    evbuffer_free(b);
}

static void delayed_health_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    send_health(arg);
}

static void http_cb(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *b;

    (void)arg;
    requests_total++;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    if (strcmp(uri, "/api/v1/health") == 0) {
        long delay = env_long("TW_HEALTH_DELAY_MS", 0);
        health_requests_total++;
        if (delay > 0) {
            struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
            event_base_once(base, -1, EV_TIMEOUT, delayed_health_cb, req, &tv);
        } else {
            send_health(req);
        }
        return;
    }
    if (strcmp(uri, "/metrics") == 0) {
        b = evbuffer_new();
        if (!b) {
            evhttp_send_error(req, 500, "out of memory");
            return;
        }
        evbuffer_add_printf(b,
                            "# HELP tw_requests_total HTTP requests served.\n"
                            "# TYPE tw_requests_total counter\n"
                            "tw_requests_total %lu\n"
                            "# HELP tw_health_requests_total Health requests served.\n"
                            "# TYPE tw_health_requests_total counter\n"
                            "tw_health_requests_total %lu\n"
                            "# HELP tw_up Whether the test worker runs.\n"
                            "# TYPE tw_up gauge\n"
                            "tw_up 1\n",
                            requests_total, health_requests_total);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    evhttp_send_error(req, 404, "Not Found");
}

/* ---- timers and signals ----------------------------------------------------------- */

static void exit_cb(evutil_socket_t fd, short what, void *arg)
{
    long sig = env_long("TW_EXIT_SIGNAL", 0);
    (void)fd, (void)what, (void)arg;
    if (sig > 0) {
        signal((int)sig, SIG_DFL);
        raise((int)sig);
    }
    exit((int)env_long("TW_EXIT_CODE", 0));
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    char line[32];
    (void)fd, (void)what, (void)arg;
    snprintf(line, sizeof(line), "tick %ld", ++tick_n);
    say(1, line);
}

static void term_exit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    say(1, "test-worker: stopping");
    event_base_loopbreak(base);
}

static void term_cb(evutil_socket_t fd, short what, void *arg)
{
    long delay = env_long("TW_TERM_DELAY_MS", 0);
    struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
    (void)fd, (void)what, (void)arg;
    event_base_once(base, -1, EV_TIMEOUT, term_exit_cb, NULL, &tv);
}

int main(void)
{
    struct evhttp *http = NULL;
    struct event *term_ev = NULL, *tick_ev = NULL, *idle_ev;
    struct timeval hour = { 3600, 0 };
    long exit_after = env_long("TW_EXIT_AFTER_MS", -1);
    long tick = env_long("TW_TICK_MS", 0);
    long port = env_long("HTTP_PORT", 0);
    const char *s;

    if ((s = getenv("TW_REPORT")) != NULL)
        write_report(s);
    if (getenv("TW_IGNORE_TERM") && strcmp(getenv("TW_IGNORE_TERM"), "1") == 0)
        signal(SIGTERM, SIG_IGN);
    if ((s = getenv("TW_PRINT")) != NULL)
        say(1, s);
    if ((s = getenv("TW_STDERR")) != NULL)
        say(2, s);
    if (exit_after == 0)
        exit_cb(-1, 0, NULL);
    if (getenv("TW_FORK_CHILD") && strcmp(getenv("TW_FORK_CHILD"), "1") == 0) {
        char line[64];
        pid_t kid = fork();
        if (kid == 0) {
            signal(SIGTERM, SIG_IGN);
            for (;;)
                pause();
        }
        snprintf(line, sizeof(line), "test-worker: child %d", (int)kid);
        say(1, line);
    }
    if ((s = getenv("TW_FLOOD_BYTES")) != NULL)
        flood(s);
    say(1, "test-worker: running");

    base = event_base_new();
    if (!base)
        return 1;
    if (!getenv("TW_IGNORE_TERM") || strcmp(getenv("TW_IGNORE_TERM"), "1") != 0) {
        term_ev = evsignal_new(base, SIGTERM, term_cb, NULL);
        if (!term_ev || event_add(term_ev, NULL) < 0)
            return 1;
    }
    /* Keeps the loop alive when nothing else would (TW_IGNORE_TERM without HTTP). */
    idle_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    if (!idle_ev || event_add(idle_ev, &hour) < 0)
        return 1;
    if (exit_after > 0) {
        struct timeval tv = { exit_after / 1000, (exit_after % 1000) * 1000 };
        event_base_once(base, -1, EV_TIMEOUT, exit_cb, NULL, &tv);
    }
    if (tick > 0) {
        struct timeval tv = { tick / 1000, (tick % 1000) * 1000 };
        tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
        if (!tick_ev || event_add(tick_ev, &tv) < 0)
            return 1;
    }
    if (port > 0) {
        http = evhttp_new(base);
        if (!http || evhttp_bind_socket(http, "127.0.0.1", (unsigned short)port) < 0) {
            fprintf(stderr, "test-worker: cannot listen on 127.0.0.1:%ld\n", port);
            return 1;
        }
        evhttp_set_max_body_size(http, 4096);
        evhttp_set_max_headers_size(http, 8192);
        evhttp_set_timeout(http, 10);
        evhttp_set_gencb(http, http_cb, NULL);
    }
    event_base_dispatch(base);
    if (http)
        evhttp_free(http);
    if (term_ev)
        event_free(term_ev);
    if (tick_ev)
        event_free(tick_ev);
    event_free(idle_ev);
    event_base_free(base);
    return 0;
}
