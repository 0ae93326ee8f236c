/* ctl.c - instancectl's control-socket commands: status, start, stop, restart, reload,
 * logs.
 *
 * A short-lived blocking client: one request line, one JSON answer (see control.h);
 * logs reads a stream of JSON lines instead.
 * Exit codes (usable in scripts and monitoring checks):
 *   0  healthy / done          1  degraded / the supervisor refused the command
 *   2  unhealthy               3  cannot reach the supervisor
 *   4  no such instance        5  no answer within the timeout (-t)
 *   64 usage error
 * Every request has a deadline of its own (connect, send and the whole answer): a
 * supervisor that is busy, or a peer that accepts and never answers, cannot hold a
 * script for ever. */
#include "config.h"

#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_private.h"
#include "inventory.h"
#include "xalloc.h"


static void usage(FILE *out)
{
    fprintf(out,
            "Usage: instancectl [-s SOCKET | -c FILE] [-t SECONDS] [--json] [--wait] COMMAND\n"
            "\n"
            "Commands:\n"
            "  status [NAME]     table of instances (or one); exit 0 healthy, 1 degraded,\n"
            "                    2 unhealthy, 3 supervisor unreachable, 4 no such instance,\n"
            "                    5 no answer within the timeout\n"
            "  start NAME        start an instance (also clears \"failed\")\n"
            "  stop NAME         stop an instance; it stays down until started\n"
            "  restart NAME      stop and start an instance\n"
            "  pause NAME        freeze an instance's processes (cgroup.freeze); no probes\n"
            "  resume NAME       thaw a paused instance\n"
            "  reload            reload the inventory; prints the summary or every error\n"
            "  logs [-f] [-n N] [NAME...]\n"
            "                    the last N (10) lines of the instances' logs, all when no\n"
            "                    NAME; -f follows new lines (and rotations) until Ctrl-C\n"
            "  provision [--dry-run] [--rotate] [--prune]\n"
            "                    create PostgreSQL schemas and Redis users for the inventory\n"
            "                    of -c FILE (before or after provision; instancectl(8)); -s\n"
            "                    names the socket --rotate asks in cluster mode\n"
            "  list              the instances' names, one a line (for completion)\n"
            "  cluster status | drain NODE | undrain NODE | move NAME NODE | rebalance\n"
            "                    cluster mode: the fleet view, or an order every node\n"
            "                    acts on (instancectl(8))\n"
            "\n"
            "Options:\n"
            "  -s, --socket PATH   control socket (default " DEFAULT_SOCKET ")\n"
            "  -c, --config FILE   take control_socket from this inventory (provision:\n"
            "                      the inventory to provision)\n"
            "  -t, --timeout SECONDS  give up when the whole exchange takes longer\n"
            "                      (default 10; exit 5)\n"
            "  -j, --json          print the supervisor's JSON answer as is\n"
            "  -w, --wait          start, stop, restart, pause, resume: return when the\n"
            "                      instance got there (stopped: its processes are all\n"
            "                      gone; started: running); exit 1 if it failed,\n"
            "                      5 at the timeout (-t)\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n");
}

double ctl_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline (monotonic seconds), 0 when it has passed. */
static int left_ms(double deadline)
{
    double left = deadline - ctl_mono_s();

    return left <= 0 ? 0 : (int)(left * 1000) + 1; /* rounded up: never 0 early */
}

/* Wait until fd is ready for `events` or the deadline passes: 1 ready, 0 timed out,
 * -1 error (errno). */
int ctl_wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        struct pollfd p = { fd, events, 0 };
        int ms = left_ms(deadline), n;

        if (ms == 0)
            return 0;
        n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n;
        return 1;
    }
}

/* Connect with a deadline. A unix socket's non-blocking connect fails with EAGAIN
 * while the listener's backlog is full (there is no EINPROGRESS to poll for): retry
 * until the deadline. 0, or -1 with errno (ETIMEDOUT at the deadline). */
static int connect_by(int fd, const struct sockaddr_un *sa, double deadline)
{
    for (int pause_ms = 5;; pause_ms = pause_ms < 100 ? pause_ms * 2 : 100) {
        int ms;

        if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
            return 0;
        if (errno == EINPROGRESS) {
            int err = 0;
            socklen_t len = sizeof err;
            if (ctl_wait_fd(fd, POLLOUT, deadline) <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -1;
            errno = err;
            return err ? -1 : 0;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if ((ms = left_ms(deadline)) == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        poll(NULL, 0, ms < pause_ms ? ms : pause_ms);
    }
}

/* Send everything by the deadline: 0, or -1 with errno (ETIMEDOUT at the deadline). */
static int send_by(int fd, const char *buf, size_t len, double deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int r = ctl_wait_fd(fd, POLLOUT, deadline);
            if (r == 0)
                errno = ETIMEDOUT;
            if (r <= 0)
                return -1;
            continue;
        }
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

void ctl_no_answer(const char *path, double timeout)
{
    fprintf(stderr, "instancectl: no answer from %s within %g s\n", path, timeout);
}

/* Connect to path and send line (a newline added) by the deadline: the descriptor
 * (non-blocking), or -1 with a message on stderr and *rc set to the exit code. */
int ctl_send_request(const char *path, const char *line, double timeout,
                        double deadline, int *rc)
{
    struct sockaddr_un sa;
    char *req;
    int fd;

    *rc = EXIT_UNREACHABLE;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "instancectl: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        connect_by(fd, &sa, deadline) < 0) {
        if (errno == ETIMEDOUT) {
            ctl_no_answer(path, timeout);
            *rc = EXIT_TIMEOUT;
        } else {
            fprintf(stderr, "instancectl: cannot reach the supervisor at %s: %s\n", path,
                    strerror(errno));
        }
        if (fd >= 0)
            close(fd);
        return -1;
    }
    req = xasprintf("%s\n", line);
    if (send_by(fd, req, strlen(req), deadline) < 0) {
        if (errno == ETIMEDOUT) {
            ctl_no_answer(path, timeout);
            *rc = EXIT_TIMEOUT;
        } else {
            fprintf(stderr, "instancectl: %s: %s\n", path, strerror(errno));
        }
        free(req);
        close(fd);
        return -1;
    }
    free(req);
    return fd;
}

char *ctl_request(const char *path, const char *line, double timeout, int *rc)
{
    double deadline = ctl_mono_s() + timeout;
    size_t len = 0, cap = 4096;
    char *buf;
    int fd;

    if ((fd = ctl_send_request(path, line, timeout, deadline, rc)) < 0)
        return NULL;
    buf = xmalloc(cap);
    for (;;) {
        ssize_t n;
        if (len + 1 >= cap) {
            if (cap >= ANSWER_MAX)
                break; /* the rest is not read: the answer does not parse */
            buf = xrealloc(buf, cap *= 2);
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int r = ctl_wait_fd(fd, POLLIN, deadline);
            if (r == 0) {
                ctl_no_answer(path, timeout);
                *rc = EXIT_TIMEOUT;
                goto fail;
            }
            if (r < 0) {
                fprintf(stderr, "instancectl: %s: no answer: %s\n", path, strerror(errno));
                goto fail;
            }
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "instancectl: %s: no answer: %s\n", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

const char *ctl_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* instancectl -w CMD NAME: poll NAME's state until CMD's end is reached: stopped (or
 * failed) after stop, paused after pause, running after start, restart and resume
 * (failed: exit 1 with its last exit). The core reports `stopped` only once every
 * process of the instance is gone (its cgroup is empty), so a stop that returns has
 * left nothing behind. The whole exchange keeps to the -t timeout (exit 5). */
static int wait_for_state(const char *sock, const char *cmd, const char *name, double timeout,
                          double t0)
{
    char line[300];
    int want_stop = strcmp(cmd, "stop") == 0, want_pause = strcmp(cmd, "pause") == 0;

    snprintf(line, sizeof line, "status %s", name);
    for (;;) {
        double left = timeout - (ctl_mono_s() - t0);
        json_t *answer, *in;
        const char *st;
        char *reply;
        int rc;

        if (left <= 0) {
            fprintf(stderr, "instancectl: %s: not %s within %g s\n", name,
                    want_stop ? "stopped" : want_pause ? "paused" : "running", timeout);
            return EXIT_TIMEOUT;
        }
        if (!(reply = ctl_request(sock, line, left, &rc)))
            return rc;
        answer = json_loads(reply, 0, NULL);
        free(reply);
        in = json_array_get(json_object_get(answer, "instances"), 0);
        st = ctl_jstr(in, "state");
        if (!in) {
            json_decref(answer);
            fprintf(stderr, "instancectl: %s: gone while waiting\n", name);
            return EXIT_NOT_FOUND;
        }
        if (strcmp(st, "failed") == 0 && !want_stop) {
            fprintf(stderr, "instancectl: %s failed: %s\n", name, ctl_jstr(in, "last_exit"));
            json_decref(answer);
            return EXIT_REFUSED;
        }
        if ((want_stop && (strcmp(st, "stopped") == 0 || strcmp(st, "failed") == 0)) ||
            (want_pause && strcmp(st, "paused") == 0) ||
            (!want_stop && !want_pause && strcmp(st, "running") == 0)) {
            json_decref(answer);
            return EXIT_OK;
        }
        json_decref(answer);
        {
            struct timespec ts = { 0, 50 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
}

/* "-t SECONDS": a positive number of seconds, fractions allowed. */
static int parse_timeout(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > MAX_TIMEOUT_S)
        return -1;
    *out = v;
    return 0;
}


static void fmt_uptime(char *buf, size_t len, json_t *v)
{
    long long s;

    if (!json_is_integer(v)) {
        snprintf(buf, len, "-");
        return;
    }
    s = json_integer_value(v);
    if (s < 60)
        snprintf(buf, len, "%llds", s);
    else if (s < 3600)
        snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, len, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
}

#define NCOLS 10

/* "1.5G", "312M", "48K": the RSS column. */
static void fmt_bytes(char *buf, size_t len, json_t *v)
{
    static const char units[] = "BKMGT";
    double b;
    int u = 0;

    if (!json_is_integer(v)) {
        snprintf(buf, len, "-");
        return;
    }
    b = (double)json_integer_value(v);
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, u && b < 10 ? "%.1f%c" : "%.0f%c", b, units[u]);
}

static void print_table(json_t *answer)
{
    static const char *head[NCOLS] = { "INSTANCE", "STATE", "HEALTH", "PID", "UPTIME",
                                       "RESTARTS", "SCHEMA", "NAMESPACE", "CPU%", "RSS" };
    json_t *arr = json_object_get(answer, "instances"), *in;
    size_t n = json_array_size(arr), i, k, w[NCOLS], ncols = NCOLS - 2;
    char (*cells)[NCOLS][128] = xcalloc(n, sizeof *cells);

    /* CPU% and RSS come from containment's accounting: shown when there is some. */
    json_array_foreach(arr, i, in)
        if (json_is_object(json_object_get(in, "usage")))
            ncols = NCOLS;
    for (k = 0; k < NCOLS; k++)
        w[k] = strlen(head[k]);
    json_array_foreach(arr, i, in) {
        json_t *pid = json_object_get(in, "pid");
        snprintf(cells[i][0], 128, "%s", ctl_jstr(in, "name"));
        snprintf(cells[i][1], 128, "%s", ctl_jstr(in, "state"));
        snprintf(cells[i][2], 128, "%s", ctl_jstr(in, "status"));
        if (json_is_integer(pid))
            snprintf(cells[i][3], 128, "%lld", (long long)json_integer_value(pid));
        else
            snprintf(cells[i][3], 128, "-");
        fmt_uptime(cells[i][4], 128, json_object_get(in, "uptime_seconds"));
        snprintf(cells[i][5], 128, "%lld",
                 (long long)json_integer_value(json_object_get(in, "restarts")));
        snprintf(cells[i][6], 128, "%s", ctl_jstr(in, "schema"));
        snprintf(cells[i][7], 128, "%s", ctl_jstr(in, "namespace"));
        {
            json_t *u = json_object_get(in, "usage");
            json_t *cpu = json_object_get(u, "cpu_percent");
            double v = json_number_value(cpu);
            if (json_is_number(cpu) && json_is_integer(json_object_get(in, "pid")) &&
                v >= 0 && v < 1e9) {
                long long tenths = (long long)(v * 10 + 0.5);
                snprintf(cells[i][8], 128, "%lld.%lld", tenths / 10, tenths % 10);
            } else
                snprintf(cells[i][8], 128, "-");
            fmt_bytes(cells[i][9], 128, json_object_get(u, "memory_bytes"));
        }
        for (k = 0; k < ncols; k++)
            if (strlen(cells[i][k]) > w[k])
                w[k] = strlen(cells[i][k]);
    }
    for (k = 0; k < ncols; k++)
        printf("%-*s%s", k + 1 < ncols ? (int)w[k] : 0, head[k], k + 1 < ncols ? "  " : "\n");
    for (i = 0; i < n; i++)
        for (k = 0; k < ncols; k++)
            printf("%-*s%s", k + 1 < ncols ? (int)w[k] : 0, cells[i][k],
                   k + 1 < ncols ? "  " : "\n");
    free(cells);

    /* Why anything is not fine, below the table. */
    json_array_foreach(arr, i, in) {
        const char *msg = ctl_jstr(in, "message"), *st = ctl_jstr(in, "status");
        const char *wait = ctl_jstr(in, "waiting_for");
        if (*wait && strcmp(ctl_jstr(in, "state"), "waiting") == 0)
            printf("  %s: waiting for %s\n", ctl_jstr(in, "name"), wait);
        else if (*msg && strcmp(st, "healthy") != 0)
            printf("  %s: %s\n", ctl_jstr(in, "name"), msg);
    }
}

/* One line on provisioning (provision = true), below the table. */
static void print_provisioning(json_t *p)
{
    if (!json_is_object(p))
        return;
    /* The last failure stays shown while its retry runs: why it is retrying. */
    if (*ctl_jstr(p, "last_error"))
        printf("provisioning: failed at %s, retrying: %s\n", ctl_jstr(p, "last_failure"),
               ctl_jstr(p, "last_error"));
    if (json_is_true(json_object_get(p, "running")))
        printf("provisioning: in progress (starts wait for it)\n");
    else if (!*ctl_jstr(p, "last_error") && json_is_string(json_object_get(p, "last_success")))
        printf("provisioning: done at %s\n", ctl_jstr(p, "last_success"));
}

static int status_exit(json_t *answer, int one)
{
    const char *st = ctl_jstr(answer, "status");

    if (one) {
        /* One instance: healthy only when it runs and says so; not running is 2. */
        json_t *in = json_array_get(json_object_get(answer, "instances"), 0);
        const char *state = ctl_jstr(in, "state");
        if (strcmp(state, "stopped") == 0 || strcmp(state, "failed") == 0 ||
            strcmp(state, "backoff") == 0)
            return EXIT_UNHEALTHY;
        if (strcmp(st, "unknown") == 0)
            return EXIT_DEGRADED;
    }
    if (strcmp(st, "healthy") == 0)
        return EXIT_OK;
    if (strcmp(st, "degraded") == 0)
        return EXIT_DEGRADED;
    return EXIT_UNHEALTHY;
}

/* Socket path from an inventory's control_socket. */
static char *socket_from_inventory(const char *file)
{
    inv_errors_t errs;
    inventory_t *inv;
    char *path = NULL;

    inv_errors_init(&errs);
    if (!(inv = inv_load(file, &errs))) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i].text);
        fprintf(stderr, "instancectl: %s: invalid inventory, cannot tell the control socket\n",
                file);
    } else {
        path = xstrdup(inv->control_socket ? inv->control_socket : DEFAULT_SOCKET);
        inv_free(inv);
    }
    inv_errors_free(&errs);
    return path;
}

/* The socket to talk to: -s, else the control_socket of the inventory given with -c,
 * else $INSTANCED_CONTROL_SOCKET, else the default. NULL when the inventory cannot be
 * read (its errors are printed); a path read from it is returned in *owned. */
static const char *pick_socket(const char *sock, const char *config, char **owned)
{
    const char *env = getenv("INSTANCED_CONTROL_SOCKET");

    if (sock)
        return sock;
    if (config)
        return *owned = socket_from_inventory(config);
    return env ? env : DEFAULT_SOCKET;
}

/* instancectl cluster ...: the fleet view, or an administrative order every node acts
 * on (cluster.c). */
static int ctl_cluster(const char *sock, double timeout, int json, int nargs, char **args)
{
    char line[600];
    char *reply;
    json_t *answer, *cl, *e;
    size_t i, used = 0;
    int rc;

    if (nargs < 1 || nargs > 3) {
        fprintf(stderr, "instancectl: cluster status | drain NODE | undrain NODE | "
                        "move NAME NODE | rebalance\n");
        return EXIT_USAGE;
    }
    used = (size_t)snprintf(line, sizeof line, "cluster");
    for (int k = 0; k < nargs; k++) {
        if (strlen(args[k]) > 120 || strpbrk(args[k], " \t\r\n") || !args[k][0]) {
            fprintf(stderr, "instancectl: not a name: \"%s\"\n", args[k]);
            return EXIT_USAGE;
        }
        used += (size_t)snprintf(line + used, sizeof line - used, " %s", args[k]);
    }
    reply = ctl_request(sock, line, timeout, &rc);
    if (!reply)
        return rc;
    answer = json_loads(reply, 0, NULL);
    if (json)
        fputs(reply, stdout);
    free(reply);
    if (!answer) {
        fprintf(stderr, "instancectl: %s: the supervisor's answer is not JSON\n", sock);
        return EXIT_UNREACHABLE;
    }
    if (!json_is_true(json_object_get(answer, "ok"))) {
        fprintf(stderr, "instancectl: %s\n", ctl_jstr(answer, "error"));
        json_decref(answer);
        return EXIT_REFUSED;
    }
    cl = json_object_get(answer, "cluster");
    if (!json && cl) {
        printf("cluster %s, this node %s: %s\n", ctl_jstr(cl, "cluster"), ctl_jstr(cl, "node"),
               ctl_jstr(cl, "connection"));
        printf("%-16s %-6s %-8s %s\n", "NODE", "ALIVE", "DRAINED", "INVENTORY");
        json_array_foreach(json_object_get(cl, "nodes"), i, e)
            printf("%-16s %-6s %-8s %s\n", ctl_jstr(e, "name"),
                   json_is_true(json_object_get(e, "alive")) ? "yes" : "no",
                   json_is_true(json_object_get(e, "drained")) ? "yes" : "no",
                   !json_is_true(json_object_get(e, "alive")) ? "-"
                   : json_is_true(json_object_get(e, "inventory_matches")) ? "same" : "DIFFERS");
        printf("%-24s %-16s %-10s %s\n", "INSTANCE", "NODE", "STATE", "HEALTH");
        json_array_foreach(json_object_get(cl, "instances"), i, e)
            printf("%-24s %-16s %-10s %s\n", ctl_jstr(e, "name"),
                   json_string_value(json_object_get(e, "node")) ? ctl_jstr(e, "node") : "-",
                   ctl_jstr(e, "state"), ctl_jstr(e, "health"));
        printf("overall: %s\n", ctl_jstr(cl, "status"));
    } else if (!json) {
        printf("%s\n", ctl_jstr(answer, "message"));
    }
    json_decref(answer);
    return EXIT_OK;
}

int ctl_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "config", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { "wait", no_argument, NULL, 'w' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *sock = NULL, *config = NULL, *cmd;
    char *owned = NULL, *reply, line[1100];
    json_t *answer;
    json_error_t jerr;
    double timeout = DEFAULT_TIMEOUT_S;
    int json = 0, wait = 0, c, rc, nargs;
    double t0 = ctl_mono_s();

    optind = 1;
    while ((c = getopt_long(argc, argv, "+s:c:t:jwhV", opts, NULL)) != -1) {
        switch (c) {
        case 's': sock = optarg; break;
        case 'c': config = optarg; break;
        case 't':
            if (parse_timeout(optarg, &timeout) < 0) {
                fprintf(stderr, "instancectl: -t: not a number of seconds in (0, %g]: \"%s\"\n",
                        MAX_TIMEOUT_S, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j': json = 1; break;
        case 'w': wait = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': printf("instancectl %s\n", PACKAGE_VERSION); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "instancectl: a command is required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    nargs = argc - optind - 1;
    if (strcmp(cmd, "cluster") == 0) {
        if (!(sock = pick_socket(sock, config, &owned)))
            return EXIT_UNREACHABLE;
        rc = ctl_cluster(sock, timeout, json, nargs, argv + optind + 1);
        free(owned);
        return rc;
    }
    if (strcmp(cmd, "logs") == 0) {
        if (!(sock = pick_socket(sock, config, &owned)))
            return EXIT_UNREACHABLE;
        rc = ctl_logs(sock, timeout, json, nargs, argv + optind + 1);
        free(owned);
        return rc;
    }
    if (!((strcmp(cmd, "status") == 0 && nargs <= 1) ||
          ((strcmp(cmd, "reload") == 0 || strcmp(cmd, "list") == 0) && nargs == 0) ||
          ((strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
            strcmp(cmd, "restart") == 0 || strcmp(cmd, "pause") == 0 ||
            strcmp(cmd, "resume") == 0) && nargs == 1))) {
        static const char *const known[] = { "status", "start", "stop", "restart", "reload",
                                             "list", "pause", "resume" };
        int k = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            k |= strcmp(cmd, known[i]) == 0;
        if (k)
            fprintf(stderr, "instancectl: %s: wrong number of arguments\n", cmd);
        else
            fprintf(stderr, "instancectl: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    /* Names go on one line separated by spaces: refuse what cannot be a name. */
    if (nargs == 1 && (strlen(argv[optind + 1]) > 200 ||
                       strpbrk(argv[optind + 1], " \t\r\n") || !argv[optind + 1][0])) {
        fprintf(stderr, "instancectl: not an instance name: \"%s\"\n", argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (!(sock = pick_socket(sock, config, &owned)))
        return EXIT_UNREACHABLE;
    /* list is status, printed as names only. */
    snprintf(line, sizeof line, "%s%s%s", strcmp(cmd, "list") == 0 ? "status" : cmd,
             nargs ? " " : "", nargs ? argv[optind + 1] : "");
    reply = ctl_request(sock, line, timeout, &rc);
    if (!reply) {
        free(owned);
        return rc;
    }
    answer = json_loads(reply, 0, &jerr);
    if (!answer || !json_is_object(answer)) {
        fprintf(stderr, "instancectl: %s: the supervisor's answer is not JSON (%s)\n", sock,
                answer ? "not an object" : jerr.text);
        json_decref(answer);
        free(reply);
        free(owned);
        return EXIT_UNREACHABLE;
    }
    if (json)
        fputs(reply, stdout);
    free(reply);
    if (wait && nargs == 1 && json_is_true(json_object_get(answer, "ok")) &&
        strcmp(cmd, "status") != 0) {
        if (!json)
            printf("%s\n", ctl_jstr(answer, "message"));
        json_decref(answer);
        rc = wait_for_state(sock, cmd, argv[optind + 1], timeout, t0);
        free(owned);
        return rc;
    }
    free(owned);

    if (!json_is_true(json_object_get(answer, "ok"))) {
        json_t *errs = json_object_get(answer, "errors"), *e;
        size_t i;
        fprintf(stderr, "instancectl: %s\n", ctl_jstr(answer, "error"));
        json_array_foreach(errs, i, e)
            fprintf(stderr, "%s\n", json_string_value(e) ? json_string_value(e) : "?");
        rc = json_is_true(json_object_get(answer, "not_found")) ? EXIT_NOT_FOUND
                                                                : EXIT_REFUSED;
    } else if (strcmp(cmd, "list") == 0) {
        json_t *in;
        size_t i;
        if (!json)
            json_array_foreach(json_object_get(answer, "instances"), i, in)
                printf("%s\n", ctl_jstr(in, "name"));
        rc = EXIT_OK;
    } else if (strcmp(cmd, "status") == 0) {
        if (!json) {
            print_table(answer);
            if (nargs == 0) {
                print_provisioning(json_object_get(answer, "provisioning"));
                printf("overall: %s\n", ctl_jstr(answer, "status"));
            }
        }
        rc = status_exit(answer, nargs == 1);
    } else {
        if (!json)
            printf("%s\n", ctl_jstr(answer, "message"));
        rc = EXIT_OK;
    }
    json_decref(answer);
    return rc;
}
