/* ctl_logs.c - instancectl logs: the instances' captured output, history then (with
 * -f) new lines as they come, from a streamed answer of the control socket. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_private.h"
#include "xalloc.h"

/* ---- logs -------------------------------------------------------------------- */

#define LOGS_MAX_LINES 10000   /* the supervisor's cap too (LOGREAD_MAX_LINES) */
#define LOGS_LINE_MAX (64 * 1024)

static volatile sig_atomic_t logs_stop;

static void logs_on_signal(int sig)
{
    (void)sig;
    logs_stop = 1;
}

typedef struct {
    char *name;
    int colour;
} logs_inst_t;

typedef struct {
    int colour_on;           /* stdout is a terminal and NO_COLOR is not set */
    logs_inst_t *inst;
    size_t ninst;
    char **hist;             /* the history, printed sorted once complete */
    size_t nhist, caphist;
    int live;
} logs_state_t;

static int logs_colour(const logs_state_t *st, const char *name)
{
    for (size_t i = 0; i < st->ninst; i++)
        if (strcmp(st->inst[i].name, name) == 0)
            return st->inst[i].colour;
    return 0;
}

/* One line as `instanced --foreground` shows it: the name, padded, then " | ". */
static void logs_print(const logs_state_t *st, const char *name, const char *line)
{
    int colour = st->colour_on ? logs_colour(st, name) : 0;

    if (colour)
        printf("\033[3%dm%-16s |\033[0m %s\n", colour, name, line);
    else
        printf("%-16s | %s\n", name, line);
}

/* Print the history sorted by each line's timestamp (its first 24 bytes), each
 * instance's lines staying in their order (a stable merge sort), then forget it.
 * Entries are "<name>\0<line>". */
static void logs_flush_history(logs_state_t *st)
{
    size_t n = st->nhist;
    size_t *idx = xcalloc(n, sizeof *idx), *tmp = xcalloc(n, sizeof *tmp);

    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                const char *a = st->hist[idx[i]], *b = st->hist[idx[j]];
                const char *la = a + strlen(a) + 1, *lb = b + strlen(b) + 1;
                tmp[k++] = strncmp(lb, la, 24) < 0 ? idx[j++] : idx[i++];
            }
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    free(tmp);
    for (size_t i = 0; i < n; i++) {
        const char *e = st->hist[idx[i]];
        logs_print(st, e, e + strlen(e) + 1);
    }
    free(idx);
    for (size_t i = 0; i < n; i++)
        free(st->hist[i]);
    free(st->hist);
    st->hist = NULL;
    st->nhist = st->caphist = 0;
}

/* One JSON line of the stream. 1: go on, 0: the stream ended, -1: error (*rc set). */
static int logs_handle(logs_state_t *st, const char *text, int json, int *rc)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr), *v;
    int ret = 1;

    if (!o || !json_is_object(o)) {
        fprintf(stderr, "instancectl: the supervisor's answer is not JSON (%s)\n",
                o ? "not an object" : jerr.text);
        json_decref(o);
        *rc = EXIT_UNREACHABLE;
        return -1;
    }
    if (json) {
        puts(text);
    }
    if ((v = json_object_get(o, "ok"))) {
        json_t *arr = json_object_get(o, "instances"), *e;
        size_t i;

        if (!json_is_true(v)) {
            fprintf(stderr, "instancectl: %s\n", ctl_jstr(o, "error"));
            *rc = json_is_true(json_object_get(o, "not_found")) ? EXIT_NOT_FOUND
                                                                : EXIT_REFUSED;
            ret = -1;
        } else {
            st->inst = xcalloc(json_array_size(arr) + 1, sizeof *st->inst);
            json_array_foreach(arr, i, e) {
                st->inst[i].name = xstrdup(ctl_jstr(e, "name"));
                st->inst[i].colour = (int)json_integer_value(json_object_get(e, "colour"));
                st->ninst++;
            }
        }
    } else if (json_is_string(json_object_get(o, "line"))) {
        const char *name = ctl_jstr(o, "instance"), *line = ctl_jstr(o, "line");

        if (json) {
            /* printed as it came */
        } else if (st->live) {
            logs_print(st, name, line);
        } else {
            char *e = xmalloc(strlen(name) + strlen(line) + 2);

            if (st->nhist == st->caphist) {
                st->caphist = st->caphist ? st->caphist * 2 : 256;
                st->hist = xreallocarray(st->hist, st->caphist, sizeof *st->hist);
            }
            strcpy(e, name);
            strcpy(e + strlen(name) + 1, line);
            st->hist[st->nhist++] = e;
        }
    } else if (json_is_true(json_object_get(o, "live"))) {
        logs_flush_history(st);
        st->live = 1;
    } else if (json_is_true(json_object_get(o, "end"))) {
        logs_flush_history(st);
        if (*ctl_jstr(o, "error")) {
            fprintf(stderr, "instancectl: %s\n", ctl_jstr(o, "error"));
            *rc = EXIT_REFUSED;
        }
        ret = 0;
    }
    json_decref(o);
    return ret;
}

/* instancectl logs [-f] [-n N] [NAME...]: the request, then the streamed answer
 * (control.h) printed as it comes. Without -f the timeout is the longest silence
 * allowed; with -f it holds until the history is out, then the stream is followed
 * until the supervisor ends it, a signal (SIGINT, SIGTERM: exit 0) or the reader of
 * our output going away (a closed pipe: exit 0, quietly). */
int ctl_logs(const char *sock, double timeout, int json, int argc, char **argv)
{
    char line[1100], names[1000] = "", *buf = NULL;
    size_t used = 0, cap = 0;
    long lines = 10;
    int follow = 0, rc = EXIT_OK, fd, opts = 1, n = 0;
    logs_state_t st;
    struct sigaction sa;
    const char *nc = getenv("NO_COLOR");

    memset(&st, 0, sizeof st);
    st.colour_on = isatty(1) && !(nc && *nc);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *num = NULL;

        if (opts && strcmp(a, "--") == 0) {
            opts = 0;
            continue;
        }
        if (opts && (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)) {
            follow = 1;
            continue;
        }
        if (opts && (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0)) {
            if (++i >= argc) {
                fprintf(stderr, "instancectl: logs %s: a number of lines is required\n", a);
                return EXIT_USAGE;
            }
            num = argv[i];
        } else if (opts && strncmp(a, "-n", 2) == 0 && a[2]) {
            num = a + 2;
        } else if (opts && strncmp(a, "--lines=", 8) == 0) {
            num = a + 8;
        } else if (opts && a[0] == '-') {
            fprintf(stderr, "instancectl: logs: unknown option \"%s\"\n", a);
            return EXIT_USAGE;
        }
        if (num) {
            char *end;
            errno = 0;
            lines = strtol(num, &end, 10);
            if (errno || end == num || *end || lines < 0 || lines > LOGS_MAX_LINES) {
                fprintf(stderr, "instancectl: logs -n: a number of lines from 0 to %d: "
                        "\"%s\"\n", LOGS_MAX_LINES, num);
                return EXIT_USAGE;
            }
            continue;
        }
        if (strlen(a) > 200 || strpbrk(a, " \t\r\n") || !a[0]) {
            fprintf(stderr, "instancectl: not an instance name: \"%s\"\n", a);
            return EXIT_USAGE;
        }
        if ((size_t)n + strlen(a) + 2 > sizeof names) {
            fprintf(stderr, "instancectl: logs: too many names for one request\n");
            return EXIT_USAGE;
        }
        names[n++] = ' ';
        memcpy(names + n, a, strlen(a) + 1);
        n += (int)strlen(a);
    }
    /* Options go first on the wire, the names after them. */
    snprintf(line, sizeof line, "logs%s -n %ld%s", follow ? " -f" : "", lines, names);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = logs_on_signal; /* no SA_RESTART: poll returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);       /* a closed stdout is seen as EPIPE below */

    if ((fd = ctl_send_request(sock, line, timeout, ctl_mono_s() + timeout, &rc)) < 0)
        return rc;
    rc = EXIT_OK;
    for (;;) {
        struct pollfd p[2] = { { fd, POLLIN, 0 }, { 1, 0, 0 } };
        int ms = st.live ? -1 : (int)(timeout * 1000), r;
        ssize_t got;
        char *nl;

        if (fflush(stdout) == EOF || ferror(stdout))
            break; /* EPIPE: whoever read our output is gone */
        if (logs_stop)
            break;
        r = poll(p, 2, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "instancectl: poll: %s\n", strerror(errno));
            rc = EXIT_UNREACHABLE;
            break;
        }
        if (r == 0) {
            ctl_no_answer(sock, timeout);
            rc = EXIT_TIMEOUT;
            break;
        }
        if (p[1].revents & (POLLERR | POLLHUP))
            break; /* the reader of our output went away while we waited */
        if (cap - used < 4096) {
            if (cap >= LOGS_LINE_MAX * 4) {
                fprintf(stderr, "instancectl: a line of the answer is too long\n");
                rc = EXIT_UNREACHABLE;
                break;
            }
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap);
        }
        got = read(fd, buf + used, cap - used - 1);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0) {
            if (got < 0)
                fprintf(stderr, "instancectl: %s: %s\n", sock, strerror(errno));
            else
                fprintf(stderr, "instancectl: %s: the supervisor closed the stream\n", sock);
            rc = EXIT_UNREACHABLE;
            logs_flush_history(&st);
            break;
        }
        used += (size_t)got;
        buf[used] = '\0';
        r = 1;
        while (r > 0 && (nl = memchr(buf, '\n', used))) {
            *nl = '\0';
            r = logs_handle(&st, buf, json, &rc);
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used);
        }
        if (r <= 0)
            break;
    }
    fflush(stdout);
    close(fd);
    free(buf);
    logs_flush_history(&st); /* nothing left unless we stopped early: freed */
    for (size_t i = 0; i < st.ninst; i++)
        free(st.inst[i].name);
    free(st.inst);
    return rc;
}

