/* control_cmd.c - the control protocol's commands: one request line parsed
 * (control_parse) and run against the supervisor (control_run), the answer a JSON
 * object. No socket here: control.c carries lines and answers, and the unit and fuzz
 * tests drive these functions directly. */
#include "config.h"

#include "control.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "logread.h"
#include "mask.h"
#include "report.h"
#include "xalloc.h"

/* ---- commands ---------------------------------------------------------------- */

json_t *control_answer_error(const char *fmt, ...)
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

    if (sup->refresh_usage)
        sup->refresh_usage(sup);
    if (name) {
        sup_instance_t *in = sup_find(sup, name);
        if (!in) {
            json_decref(arr);
            o = control_answer_error("no such instance: %s", name);
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
    json_object_set_new(o, "status", json_string(health_status_name(st)));
    json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
    json_object_set_new(o, "instances", arr);
    if (!name) {
        json_t *prov = report_provisioning(sup);
        if (prov)
            json_object_set_new(o, "provisioning", prov);
    }
    return o;
}

/* A copy of text with its secrets masked, for the answer and the log; owned by the
 * caller. A masked value may be longer than the secret. */
static char *masked(const char *text)
{
    size_t len = strlen(text) * 2 + sizeof MASK_TEXT + 16;

    return mask_secrets(text, xmalloc(len), len);
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

        /* The same lines as a reload by SIGHUP: every error in the supervisor's log
         * (log_kv masks them), then the verdict. */
        for (size_t i = 0; i < errs.n; i++) {
            char *m = masked(errs.v[i].text);
            log_error("reload rejected", "error", errs.v[i].text);
            json_array_append_new(arr, json_string(m));
            free(m);
        }
        log_error("reload failed: still running the previous inventory",
                  "errors", LOG_INT(errs.n), "reason", summary);
        if (errs.n) {
            snprintf(msg, sizeof msg, "reload rejected (%zu error%s); the running inventory "
                     "is unchanged", errs.n, errs.n == 1 ? "" : "s");
        } else {
            char *m = masked(summary[0] ? summary : "see the supervisor's log");
            snprintf(msg, sizeof msg, "reload failed: %.100s", m);
            free(m);
        }
        o = control_answer_error("%s", msg);
        json_object_set_new(o, "errors", arr);
    }
    inv_errors_free(&errs);
    return o;
}

static const struct {
    const char *name;
    control_verb_t verb;
} verbs[] = {
    { "status", CONTROL_STATUS },   { "reload", CONTROL_RELOAD },
    { "start", CONTROL_START },     { "stop", CONTROL_STOP },
    { "restart", CONTROL_RESTART }, { "pause", CONTROL_PAUSE },
    { "resume", CONTROL_RESUME },
};

/* The words after "logs" (control bytes already refused): -f, -n N, names. */
static int parse_logs(const char *p, size_t len, control_cmd_t *out, char *err,
                      size_t errlen)
{
    const char *end = p + len;
    size_t used = 0;
    int want_n = 0;

    out->verb = CONTROL_LOGS;
    for (;;) {
        const char *w;
        size_t wl;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == end)
            break;
        w = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        wl = (size_t)(p - w);
        if (want_n) {
            long v = 0;
            for (size_t i = 0; i < wl; i++) {
                if (w[i] < '0' || w[i] > '9' || v > LOGREAD_MAX_LINES) {
                    v = -1;
                    break;
                }
                v = v * 10 + (w[i] - '0');
            }
            if (v < 0 || v > LOGREAD_MAX_LINES) {
                snprintf(err, errlen, "logs -n: a number of lines from 0 to %d",
                         LOGREAD_MAX_LINES);
                return -1;
            }
            out->lines = v;
            want_n = 0;
        } else if (wl == 2 && memcmp(w, "-f", 2) == 0) {
            out->follow = 1;
        } else if (wl == 2 && memcmp(w, "-n", 2) == 0) {
            want_n = 1;
        } else if (w[0] == '-') {
            snprintf(err, errlen, "usage: logs [-f] [-n N] [NAME...]");
            return -1;
        } else {
            /* len <= CONTROL_LINE_MAX: every word and its NUL fit out->name */
            memcpy(out->name + used, w, wl);
            out->name[used + wl] = '\0';
            used += wl + 1;
            out->nnames++;
        }
    }
    if (want_n) {
        snprintf(err, errlen, "logs -n: a number of lines is missing");
        return -1;
    }
    out->has_name = out->nnames > 0;
    return 0;
}

int control_parse(const char *line, size_t len, control_cmd_t *out, char *err,
                  size_t errlen)
{
    const char *argv[4], *p = line, *end = line + len;
    size_t arglen[4];
    int argc = 0;

    memset(out, 0, sizeof *out);
    out->lines = CONTROL_LOGS_DEFAULT;
    if (len > CONTROL_LINE_MAX) {
        snprintf(err, errlen, "request line too long");
        return -1;
    }
    /* Bytes that cannot be in a word: a NUL would end the line early for the C
     * string functions behind us, other control bytes are no part of any name. */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f) {
            snprintf(err, errlen, "control character 0x%02x in the request", ch);
            return -1;
        }
    }
    if (len >= 4 && memcmp(line, "logs", 4) == 0 &&
        (len == 4 || line[4] == ' ' || line[4] == '\t' || line[4] == '\r'))
        return parse_logs(line + 4, len - 4, out, err, errlen);
    while (p < end && argc < 4) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == end)
            break;
        argv[argc] = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        arglen[argc] = (size_t)(p - argv[argc]);
        argc++;
    }
    if (argc == 0) {
        snprintf(err, errlen, "empty request");
        return -1;
    }
    if (arglen[0] == 7 && memcmp(argv[0], "cluster", 7) == 0 && argc >= 2 && p == end) {
        /* cluster.c checks the words: they go on as NUL-separated names, as for logs */
        size_t used = 0;
        out->verb = CONTROL_CLUSTER;
        for (int i = 1; i < argc; i++) {
            memcpy(out->name + used, argv[i], arglen[i]);
            out->name[used + arglen[i]] = '\0';
            used += arglen[i] + 1;
            out->nnames++;
        }
        out->has_name = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        int mutation = verbs[i].verb != CONTROL_STATUS && verbs[i].verb != CONTROL_RELOAD;

        if (strlen(verbs[i].name) != arglen[0] || memcmp(verbs[i].name, argv[0], arglen[0]))
            continue;
        if ((verbs[i].verb == CONTROL_STATUS && argc > 2) ||
            (verbs[i].verb == CONTROL_RELOAD && argc != 1))
            break; /* "unknown command", as before the split */
        if (mutation && argc != 2) {
            snprintf(err, errlen, "usage: %s NAME", verbs[i].name);
            return -1;
        }
        out->verb = verbs[i].verb;
        if (argc == 2) {
            /* len <= CONTROL_LINE_MAX, so the word fits out->name */
            memcpy(out->name, argv[1], arglen[1]);
            out->name[arglen[1]] = '\0';
            out->has_name = 1;
        }
        return 0;
    }
    {
        char word[65]; /* argv[0] ends at a blank, not at a NUL: copy up to 64 bytes */
        size_t keep = arglen[0] < sizeof word - 1 ? arglen[0] : sizeof word - 1;

        memcpy(word, argv[0], keep);
        word[keep] = '\0';
        snprintf(err, errlen, "unknown command \"%s\" (status [NAME], start NAME, stop NAME, "
                 "restart NAME, pause NAME, resume NAME, reload, logs [-f] [-n N] [NAME...])",
                 word);
    }
    return -1;
}

/* Cluster mode's commands (cluster.c, linked into instanced only: weak here so that
 * control.c still links alone in its tests). */
json_t *cluster_report_json(void) __attribute__((weak));
int cluster_admin(const char *verb, const char *a, const char *b, char *err, size_t errlen)
    __attribute__((weak));

static json_t *cmd_cluster(const control_cmd_t *cmd)
{
    const char *w[3] = { NULL, NULL, NULL }, *p = cmd->name;
    char err[256];
    json_t *o, *r;

    for (size_t i = 0; i < cmd->nnames && i < 3; i++, p += strlen(p) + 1)
        w[i] = p;
    r = cluster_report_json ? cluster_report_json() : NULL;
    if (!r)
        return control_answer_error("%s", "not in cluster mode (no cluster section)");
    if (cmd->nnames == 1 && strcmp(w[0], "status") == 0) {
        o = json_object();
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "cluster", r);
        return o;
    }
    json_decref(r);
    if (cmd->nnames > 3 || cluster_admin(w[0], w[1], w[2], err, sizeof err) < 0)
        return control_answer_error("%s", cmd->nnames > 3 ? "too many words" : err);
    o = json_object();
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "message", json_string("done: every node acts on it"));
    return o;
}

/* The colour `instanced --foreground` gives the instance at index i (ANSI 1-6). */
static int colour_of(size_t i)
{
    return (int)(i % 6) + 1;
}

static long index_of(supervisor_t *sup, const char *name)
{
    for (size_t i = 0; i < sup->ninst; i++)
        if (strcmp(sup->inst[i]->name, name) == 0)
            return (long)i;
    return -1;
}

/* The stream's first line: every name known (else the first unknown one), with the
 * colour of its prefix. */
static json_t *cmd_logs(supervisor_t *sup, const control_cmd_t *cmd)
{
    json_t *o, *arr = json_array();
    const char *n = cmd->name;

    if (cmd->nnames == 0) {
        for (size_t i = 0; i < sup->ninst; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "name", json_string(sup->inst[i]->name));
            json_object_set_new(e, "colour", json_integer(colour_of(i)));
            json_array_append_new(arr, e);
        }
    }
    for (size_t k = 0; k < cmd->nnames; k++, n += strlen(n) + 1) {
        long i = index_of(sup, n);
        json_t *e;

        if (i < 0) {
            json_decref(arr);
            o = control_answer_error("no such instance: %.200s", n);
            json_object_set_new(o, "not_found", json_true());
            return o;
        }
        e = json_object();
        json_object_set_new(e, "name", json_string(n));
        json_object_set_new(e, "colour", json_integer(colour_of((size_t)i)));
        json_array_append_new(arr, e);
    }
    o = json_object();
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "instances", arr);
    return o;
}

typedef int (*mutate_fn)(supervisor_t *, sup_instance_t *, char *, size_t);

static int do_restart(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    return sup_restart(sup, in, SUP_WHY_MANUAL, err, len);
}

json_t *control_run(supervisor_t *sup, const control_cmd_t *cmd)
{
    static const struct {
        control_verb_t verb;
        mutate_fn fn;
        const char *done;
    } mutations[] = {
        { CONTROL_START, sup_start, "starting" },
        { CONTROL_STOP, sup_stop, "stopping" },
        { CONTROL_RESTART, do_restart, "restarting" },
        { CONTROL_PAUSE, sup_pause, "paused" },
        { CONTROL_RESUME, sup_resume, "resumed" },
    };

    if (cmd->verb == CONTROL_STATUS)
        return cmd_status(sup, cmd->has_name ? cmd->name : NULL);
    if (cmd->verb == CONTROL_RELOAD)
        return cmd_reload(sup);
    if (cmd->verb == CONTROL_LOGS)
        return cmd_logs(sup, cmd);
    if (cmd->verb == CONTROL_CLUSTER)
        return cmd_cluster(cmd);
    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        sup_instance_t *in;
        char err[256] = "", msg[320];
        json_t *o;

        if (mutations[i].verb != cmd->verb)
            continue;
        if (!(in = sup_find(sup, cmd->name))) {
            o = control_answer_error("no such instance: %.200s", cmd->name);
            json_object_set_new(o, "not_found", json_true());
            return o;
        }
        if (mutations[i].fn(sup, in, err, sizeof err) < 0)
            return control_answer_error("%s", err[0] ? err : "refused");
        snprintf(msg, sizeof msg, "%s %.200s", mutations[i].done, in->name);
        return answer_ok(msg);
    }
    return control_answer_error("%s", "unknown command");
}

json_t *control_execute(supervisor_t *sup, const char *line)
{
    control_cmd_t cmd;
    char err[256];

    if (control_parse(line, strlen(line), &cmd, err, sizeof err) < 0)
        return control_answer_error("%s", err);
    return control_run(sup, &cmd);
}

