/* fuzz_control.c - libFuzzer target for the control protocol: control_parse() on any
 * bytes, then the parsed request run by control_run() against a fake supervision
 * side (three instances; start, stop, restart and reload answered by fakes below).
 *
 * Checked for every input:
 *   - control_parse() succeeds only on a known command with the right number of
 *     words, never on a line with a NUL or another control byte or longer than
 *     CONTROL_LINE_MAX; on failure err is a non-empty string;
 *   - a parsed NAME is one word of the line: non-empty, no blank or control byte;
 *   - parsing the canonical form ("VERB NAME") again gives the same request;
 *   - every answer (control_run, and control_execute on the line as a C string) is a
 *     JSON object with a boolean "ok" that serializes;
 *   - a rejected reload's answer never carries the fake inventory's secret (unless
 *     the input itself does: an unknown command is quoted back). */
#include "config.h"

#include "control.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SECRET "hunter2pw"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_control: %s (input of %zu bytes: \"%.*s\")\n", what, size,
            (int)(size > 200 ? 200 : size), (const char *)data);
    abort();
}

/* ---- the fake supervision side ---------------------------------------------------- */

static inv_service_t svc = { .name = "exchange-simulator", .entity_type = "exchange" };
static inventory_t inv = { .environment = "fuzz" };
static inv_instance_t cfg[3];
static sup_instance_t inst[3], *ptrs[3];
static supervisor_t sup;
static int fake_fail; /* 1: mutations and reloads are refused */

static void fake_init(void)
{
    static const char *const names[3] = { "exchange-I0", "exchange-I1", "exchange-I2" };
    static const sup_state_t states[3] = { SUP_RUNNING, SUP_FAILED, SUP_STOPPED };
    static const health_status_t health[3] = { HEALTH_HEALTHY, HEALTH_UNHEALTHY,
                                               HEALTH_UNKNOWN };

    for (int k = 0; k < 3; k++) {
        cfg[k].name = (char *)names[k];
        cfg[k].service = &svc;
        cfg[k].service_type = "multi-instance";
        cfg[k].schema = "exchange_x";
        cfg[k].namespace = "exchange:X";
        cfg[k].port = k == 0 ? 9000 : 0;
        cfg[k].policy.critical = 1;
        cfg[k].policy.health_path = k == 0 ? "/api/v1/health" : NULL;
        inst[k].name = cfg[k].name;
        inst[k].cfg = &cfg[k];
        inst[k].state = states[k];
        inst[k].wanted = k != 2;
        inst[k].pid = k == 0 ? 4242 : 0;
        inst[k].health.status = health[k];
        ptrs[k] = &inst[k];
    }
    sup.inst = ptrs;
    sup.ninst = 3;
    sup.inv = &inv;
    sup.started_at = 1690000000;
}

sup_instance_t *sup_find(supervisor_t *s, const char *name)
{
    for (size_t i = 0; i < s->ninst; i++)
        if (strcmp(s->inst[i]->name, name) == 0)
            return s->inst[i];
    return NULL;
}

static int fake_mutation(sup_instance_t *in, char *err, size_t len)
{
    if (fake_fail) {
        snprintf(err, len, "%s is already running", in->name);
        return -1;
    }
    return 0;
}

int sup_start(supervisor_t *s, sup_instance_t *in, char *err, size_t len)
{
    (void)s;
    return fake_mutation(in, err, len);
}

int sup_stop(supervisor_t *s, sup_instance_t *in, char *err, size_t len)
{
    (void)s;
    return fake_mutation(in, err, len);
}

int sup_restart(supervisor_t *s, sup_instance_t *in, const char *why, char *err, size_t len)
{
    (void)s, (void)why;
    return fake_mutation(in, err, len);
}

int sup_pause(supervisor_t *s, sup_instance_t *in, char *err, size_t len)
{
    (void)s;
    return fake_mutation(in, err, len);
}

int sup_resume(supervisor_t *s, sup_instance_t *in, char *err, size_t len)
{
    (void)s;
    return fake_mutation(in, err, len);
}

int sup_reload(supervisor_t *s, inv_errors_t *errs, char *summary, size_t len)
{
    static const char *const e[] = { "inv.conf:3: unknown key \"x\"",
                                     "inv.conf:9: env entry \"DB_PASSWORD=" SECRET "\" x" };
    (void)s;
    if (!fake_fail) {
        snprintf(summary, len, "0 added, 0 removed, 0 changed, 3 unchanged");
        return 0;
    }
    if (!(errs->v = calloc(2, sizeof *errs->v)))
        abort();
    for (int i = 0; i < 2; i++) {
        errs->v[i].line = 3 + 6 * i;
        if (!(errs->v[i].text = strdup(e[i])))
            abort();
    }
    errs->n = errs->cap = 2;
    snprintf(summary, len, "2 errors in inv.conf");
    return -1;
}

/* ---- the checks ------------------------------------------------------------------- */

static void check_answer(json_t *a, const uint8_t *data, size_t size)
{
    char *s;

    if (!json_is_object(a) || !json_is_boolean(json_object_get(a, "ok")))
        fail("answer is not an object with a boolean ok", data, size);
    if (!(s = json_dumps(a, JSON_COMPACT)))
        fail("answer does not serialize", data, size);
    if (strstr(s, SECRET) && !memmem(data, size, SECRET, strlen(SECRET)))
        fail("the secret is in the answer", data, size);
    free(s);
    json_decref(a);
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    /* In control_verb_t's order. */
    static const char *const verbs[] = { "status", "start", "stop", "restart", "reload",
                                         "logs", "pause", "resume", "cluster" };
    control_cmd_t cmd, again;
    char err[256], line[2 * CONTROL_LINE_MAX + 1];
    const char *p = (const char *)data;
    int has_ctl = 0;

    if (!ready) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        log_setup(LOG_LVL_DEBUG, null >= 0 ? null : 2); /* every log path runs, quietly */
        fake_init();
        ready = 1;
    }
    /* The last byte, when there is one, also chooses refusals by the fakes. */
    fake_fail = size > 0 && (data[size - 1] & 1);
    for (size_t i = 0; i < size; i++)
        has_ctl |= (data[i] < 0x20 && !blank((char)data[i])) || data[i] == 0x7f;

    memset(err, 'E', sizeof err);
    if (control_parse(p, size, &cmd, err, sizeof err) == 0) {
        size_t nl;
        if (size > CONTROL_LINE_MAX || has_ctl)
            fail("parsed a line it must refuse", data, size);
        if ((unsigned)cmd.verb > CONTROL_CLUSTER)
            fail("verb out of range", data, size);
        if (cmd.verb == CONTROL_CLUSTER) {
            /* "cluster" and 1 to 3 words, each one word of the line; the canonical
             * form parses the same. */
            const char *n = cmd.name;
            size_t len = (size_t)snprintf(line, sizeof line, "cluster");
            if (cmd.nnames < 1 || cmd.nnames > 3)
                fail("cluster with a wrong number of words", data, size);
            for (size_t k = 0; k < cmd.nnames; k++, n += strlen(n) + 1) {
                if (!*n || strpbrk(n, " \t\r") || !memmem(data, size, n, strlen(n)))
                    fail("a cluster word is not one word of the line", data, size);
                len += (size_t)snprintf(line + len, sizeof line - len, " %s", n);
            }
            if (control_parse(line, len, &again, err, sizeof err) != 0 ||
                again.verb != CONTROL_CLUSTER || again.nnames != cmd.nnames ||
                memcmp(again.name, cmd.name, (size_t)(n - cmd.name)) != 0)
                fail("the canonical cluster form parses differently", data, size);
            check_answer(control_run(&sup, &cmd), data, size);
            goto execute;
        }
        if (cmd.verb == CONTROL_LOGS) {
            /* Every name one word of the line; the canonical form parses the same. */
            const char *n = cmd.name;
            size_t len = (size_t)snprintf(line, sizeof line, "logs%s -n %ld",
                                          cmd.follow ? " -f" : "", cmd.lines);
            if (cmd.lines < 0 || cmd.lines > 10000)
                fail("logs -n out of range", data, size);
            for (size_t k = 0; k < cmd.nnames; k++, n += strlen(n) + 1) {
                if (!*n || strpbrk(n, " \t\r") || !memmem(data, size, n, strlen(n)))
                    fail("a logs name is not one word of the line", data, size);
                len += (size_t)snprintf(line + len, sizeof line - len, " %s", n);
            }
            /* The canonical form spells "-n N" out, so it may be longer than a line
             * may be (then the parser rightly refuses it): compared only when it fits. */
            if (len <= CONTROL_LINE_MAX &&
                (control_parse(line, strlen(line), &again, err, sizeof err) != 0 ||
                 again.verb != CONTROL_LOGS || again.follow != cmd.follow ||
                again.lines != cmd.lines || again.nnames != cmd.nnames ||
                 memcmp(again.name, cmd.name, (size_t)(n - cmd.name)) != 0))
                fail("the canonical logs form parses differently", data, size);
            check_answer(control_run(&sup, &cmd), data, size);
            goto execute;
        }
        if (cmd.verb != CONTROL_STATUS && cmd.verb != CONTROL_RELOAD && !cmd.has_name)
            fail("a mutation without a name", data, size);
        if (cmd.verb == CONTROL_RELOAD && cmd.has_name)
            fail("reload with a name", data, size);
        if (cmd.has_name) {
            nl = strlen(cmd.name);
            if (nl == 0 || nl > size || strpbrk(cmd.name, " \t\r") ||
                !memmem(data, size, cmd.name, nl))
                fail("name is not one word of the line", data, size);
        }
        snprintf(line, sizeof line, "%s%s%s", verbs[cmd.verb], cmd.has_name ? " " : "",
                 cmd.has_name ? cmd.name : "");
        if (control_parse(line, strlen(line), &again, err, sizeof err) != 0 ||
            again.verb != cmd.verb || again.has_name != cmd.has_name ||
            strcmp(again.name, cmd.name) != 0)
            fail("the canonical form parses differently", data, size);
        check_answer(control_run(&sup, &cmd), data, size);
    } else {
        if (!memchr(err, '\0', sizeof err) || err[0] == '\0')
            fail("no error message", data, size);
    }

execute:
    /* control_execute sees the line as a C string: up to the first NUL. */
    {
        size_t n = size < sizeof line - 1 ? size : sizeof line - 1;
        memcpy(line, data, n);
        line[n] = '\0';
        check_answer(control_execute(&sup, line), data, size);
    }
    return 0;
}
