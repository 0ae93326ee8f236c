/* unit_health.c - CUnit tests of the monitoring side, table-driven: the pure modules
 * (health verdicts of probe answers, flapping control, the combined status, the
 * Prometheus text, the JSON views) and the control protocol against a fake
 * supervision side. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "health.h"
#include "metrics.h"
#include "monitor.h"
#include "report.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- health_judge ----------------------------------------------------------- */

static void test_judge(void)
{
    static const struct {
        long code;
        const char *body;
        health_status_t want;
        const char *msg_has; /* substring of the message, "" for an empty message */
    } cases[] = {
        { 200, "{\"status\":\"healthy\",\"service\":\"x\"}", HEALTH_HEALTHY, "" },
        { 200, "{\"status\":\"degraded\"}", HEALTH_DEGRADED, "degraded" },
        { 503, "{\"status\":\"unhealthy\"}", HEALTH_UNHEALTHY, "reports unhealthy (HTTP 503)" },
        { 200, "{\"status\":\"unhealthy\"}", HEALTH_UNHEALTHY, "reports unhealthy" },
        { 503, "{\"status\":\"healthy\"}", HEALTH_UNHEALTHY, "HTTP 503" },
        { 500, "Internal error", HEALTH_UNHEALTHY, "HTTP 500" },
        { 500, "", HEALTH_UNHEALTHY, "HTTP 500" },
        { 200, "{\"status\":", HEALTH_UNHEALTHY, "invalid JSON" },
        { 200, "", HEALTH_UNHEALTHY, "invalid JSON" },
        { 200, "[\"healthy\"]", HEALTH_UNHEALTHY, "not an object" },
        { 200, "{\"status\":1}", HEALTH_UNHEALTHY, "no \"status\"" },
        { 200, "{\"state\":\"healthy\"}", HEALTH_UNHEALTHY, "no \"status\"" },
        { 200, "{\"status\":\"ok\"}", HEALTH_UNHEALTHY, "unknown status \"ok\"" },
        { 204, "{\"status\":\"healthy\"}", HEALTH_HEALTHY, "" },
        { 302, "{\"status\":\"healthy\"}", HEALTH_UNHEALTHY, "HTTP 302" },
        { 200, "{\"status\":\"healthy\",\"status\":\"unhealthy\"}", HEALTH_UNHEALTHY,
          "invalid JSON" },
    };
    char msg[256];

    for (size_t i = 0; i < NELEM(cases); i++) {
        health_status_t got = health_judge(cases[i].code, cases[i].body,
                                           strlen(cases[i].body), msg, sizeof msg);
        int ok = got == cases[i].want &&
                 (cases[i].msg_has[0] ? strstr(msg, cases[i].msg_has) != NULL : msg[0] == 0);
        if (!ok)
            fprintf(stderr, "\n  case %zu: code %ld body %s -> %s \"%s\"", i, cases[i].code,
                    cases[i].body, health_status_name(got), msg);
        CU_ASSERT(ok);
    }
    /* A body is not NUL-terminated: only len bytes count. */
    CU_ASSERT(health_judge(200, "{\"status\":\"healthy\"}garbage", 20, msg, sizeof msg) ==
              HEALTH_HEALTHY);
    CU_ASSERT(health_judge(200, NULL, 0, msg, sizeof msg) == HEALTH_UNHEALTHY);
}

/* ---- health_apply: flapping control and restart_on_unhealthy ---------------- */

static health_status_t letter(char c)
{
    return c == 'h' ? HEALTH_HEALTHY : c == 'd' ? HEALTH_DEGRADED
         : c == 'u' ? HEALTH_UNHEALTHY : HEALTH_UNKNOWN;
}

static void test_apply(void)
{
    /* seen: one probe result per letter; want: the status after each (? = unknown);
     * restart: 'R' where health_apply asks for a restart. */
    static const struct {
        long fails, succs, restart_n;
        const char *seen, *want, *restart;
    } cases[] = {
        { 1, 1, 0, "hhuh", "hhuh", "...." },
        { 2, 1, 0, "huhuuh", "hhhhuh", "......" },
        { 2, 1, 0, "uuu", "?uu", "..." },
        { 3, 1, 0, "huuuh", "hhhuh", "....." },
        { 1, 2, 0, "uhhh", "uuhh", "...." },
        { 1, 3, 0, "uhhuhhh", "uuuuuuh", "......." },
        { 2, 2, 0, "hhdhd", "?hdhd", "....." },   /* healthy <-> degraded at once */
        { 1, 2, 0, "ud", "uu", ".." },
        { 2, 1, 3, "uuuuuu", "?uuuuu", "..RRRR" },
        { 1, 1, 2, "uhuuhu", "uhuuhu", "...R.." },
        { 2, 1, 0, "d", "d", "." },
    };

    for (size_t i = 0; i < NELEM(cases); i++) {
        sup_health_t h;
        size_t n = strlen(cases[i].seen);
        memset(&h, 0, sizeof h);
        for (size_t k = 0; k < n; k++) {
            int r = health_apply(&h, letter(cases[i].seen[k]), "why", cases[i].fails,
                                 cases[i].succs, cases[i].restart_n);
            int ok = h.status == letter(cases[i].want[k]) &&
                     r == (cases[i].restart[k] == 'R');
            if (!ok)
                fprintf(stderr, "\n  case %zu step %zu: status %s restart %d", i, k,
                        health_status_name(h.status), r);
            CU_ASSERT(ok);
        }
        CU_ASSERT(h.probes_total == n);
        text_clear(&h.message);
    }
}

static void test_apply_counters_and_message(void)
{
    sup_health_t h;

    memset(&h, 0, sizeof h);
    health_apply(&h, HEALTH_HEALTHY, "", 2, 1, 0);
    health_apply(&h, HEALTH_UNHEALTHY, "connection refused", 2, 1, 0);
    CU_ASSERT(h.status == HEALTH_HEALTHY);
    CU_ASSERT_PTR_NOT_NULL(strstr(text_get(&h.message), "connection refused (1 of 2"));
    health_apply(&h, HEALTH_UNHEALTHY, "connection refused", 2, 1, 0);
    CU_ASSERT(h.status == HEALTH_UNHEALTHY);
    CU_ASSERT_STRING_EQUAL(text_get(&h.message), "connection refused");
    CU_ASSERT(h.consecutive_fail == 2 && h.consecutive_ok == 0);
    CU_ASSERT(h.probes_total == 3 && h.probe_failures_total == 2);
    health_apply(&h, HEALTH_HEALTHY, "", 2, 1, 0);
    CU_ASSERT(h.consecutive_fail == 0 && h.consecutive_ok == 1);
    CU_ASSERT_STRING_EQUAL(text_get(&h.message), "");
}

/* ---- combined status -------------------------------------------------------- */

static inv_service_t svc = { .name = "exchange-simulator", .entity_type = "exchange" };
static inv_service_t svc2 = { .name = "audit-correlator" };

/* A fake instance: letter = effective health wanted, state as given. */
typedef struct {
    sup_state_t state;
    int wanted, critical, probed;
    health_status_t health;
} fake_t;

static void make(sup_instance_t *in, inv_instance_t *cfg, const fake_t *f, int k)
{
    static char names[64][32];

    memset(in, 0, sizeof *in);
    memset(cfg, 0, sizeof *cfg);
    snprintf(names[k % 64], sizeof names[0], "exchange-I%d", k);
    cfg->name = names[k % 64];
    cfg->service = &svc;
    cfg->service_type = "multi-instance";
    cfg->schema = "exchange_x";
    cfg->namespace = "exchange:X";
    cfg->port = f->probed ? 9000 + k : 0;
    cfg->policy.critical = f->critical;
    cfg->policy.health_path = f->probed ? "/api/v1/health" : NULL;
    in->name = cfg->name;
    in->cfg = cfg;
    in->state = f->state;
    in->wanted = f->wanted;
    in->pid = (f->state == SUP_RUNNING || f->state == SUP_STARTING ||
               f->state == SUP_STOPPING) ? 100 + k : 0;
    in->health.status = f->health;
}

#define R(h, c) { SUP_RUNNING, 1, c, 1, h }
#define H HEALTH_HEALTHY
#define D HEALTH_DEGRADED
#define U HEALTH_UNHEALTHY
#define K HEALTH_UNKNOWN

static void test_overall(void)
{
    static const struct {
        const char *what;
        fake_t f[4];
        size_t n;
        health_status_t want;
    } cases[] = {
        { "no instances", { { 0 } }, 0, H },
        { "all healthy", { R(H, 1), R(H, 1), R(H, 0) }, 3, H },
        { "one degraded", { R(H, 1), R(D, 1) }, 2, D },
        { "critical unhealthy", { R(H, 1), R(U, 1), R(D, 1) }, 3, U },
        { "non-critical unhealthy", { R(H, 1), R(U, 0) }, 2, D },
        { "non-critical degraded", { R(H, 1), R(D, 0) }, 2, D },
        { "unknown (first probe pending)", { R(K, 1), R(H, 1) }, 2, H },
        { "critical failed", { R(H, 1), { SUP_FAILED, 1, 1, 1, K } }, 2, U },
        { "non-critical failed", { R(H, 1), { SUP_FAILED, 1, 0, 1, K } }, 2, D },
        { "critical stopped while wanted", { R(H, 1), { SUP_STOPPED, 1, 1, 1, K } }, 2, U },
        { "critical stopped on purpose", { R(H, 1), { SUP_STOPPED, 0, 1, 1, K } }, 2, H },
        { "critical in backoff", { R(H, 1), { SUP_BACKOFF, 1, 1, 1, U } }, 2, U },
        { "waiting for a dependency", { R(H, 1), { SUP_WAITING, 1, 1, 1, K } }, 2, H },
        { "starting, health unknown", { { SUP_STARTING, 1, 1, 1, K } }, 1, H },
        { "starting, failing probes", { { SUP_STARTING, 1, 1, 1, U } }, 1, U },
        { "no health_path, running", { { SUP_RUNNING, 1, 1, 0, K } }, 1, H },
        { "no health_path, starting", { { SUP_STARTING, 1, 1, 0, K } }, 1, H },
        { "no health_path, failed", { { SUP_FAILED, 1, 1, 0, K } }, 1, U },
        { "mixed", { R(D, 1), R(U, 0), { SUP_STOPPED, 0, 1, 1, K }, R(H, 1) }, 4, D },
    };
    sup_instance_t in[4], *ptrs[4];
    inv_instance_t cfg[4];

    for (size_t i = 0; i < NELEM(cases); i++) {
        health_status_t got;

        for (size_t k = 0; k < cases[i].n; k++) {
            make(&in[k], &cfg[k], &cases[i].f[k], (int)k);
            ptrs[k] = &in[k];
        }
        got = health_overall(ptrs, cases[i].n);
        if (got != cases[i].want)
            fprintf(stderr, "\n  %s: %s, want %s", cases[i].what, health_status_name(got),
                    health_status_name(cases[i].want));
        CU_ASSERT(got == cases[i].want);
    }
}

static void test_exit_codes(void)
{
    CU_ASSERT(health_exit_code(HEALTH_HEALTHY) == 0);
    CU_ASSERT(health_exit_code(HEALTH_DEGRADED) == 1);
    CU_ASSERT(health_exit_code(HEALTH_UNHEALTHY) == 2);
}

/* ---- metrics text ----------------------------------------------------------- */

static char *render(supervisor_t *sup, const metrics_stats_t *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(metrics_render(f, sup, st, "1.2.3") == 0);
    fclose(f);
    return buf;
}

static void fleet(supervisor_t *sup, sup_instance_t *in, inv_instance_t *cfg,
                  sup_instance_t **ptrs)
{
    static const fake_t f[3] = { R(H, 1), R(U, 0), { SUP_FAILED, 1, 1, 1, U } };
    static inventory_t inv = { .environment = "test" };

    for (int k = 0; k < 3; k++) {
        make(&in[k], &cfg[k], &f[k], k);
        ptrs[k] = &in[k];
    }
    cfg[2].service = &svc2; /* no entity_type */
    cfg[2].service_type = "singleton";
    in[0].restarts = 3;
    in[0].started_at = 1700000000;
    in[0].health.latency_seconds = 0.25;
    in[0].health.last_check = 1700000100;
    memset(sup, 0, sizeof *sup);
    sup->inst = ptrs;
    sup->ninst = 3;
    sup->inv = &inv;
    sup->started_at = 1690000000;
}

static void test_metrics(void)
{
    supervisor_t sup;
    sup_instance_t in[3], *ptrs[3];
    inv_instance_t cfg[3];
    metrics_stats_t st = { .cycle_seconds = 0.5, .cycles_total = 7, .interval_seconds = 5 };
    char *text;
    static const char *const want[] = {
        "instanced_build_info{version=\"1.2.3\"} 1\n",
        "# TYPE instanced_instance_restarts_total counter\n",
        "instanced_instance_restarts_total{service=\"exchange-simulator\",instance_name="
        "\"exchange-I0\",service_type=\"multi-instance\",entity_type=\"exchange\"} 3\n",
        "instanced_instance_up{service=\"exchange-simulator\",instance_name=\"exchange-I1\","
        "service_type=\"multi-instance\",entity_type=\"exchange\"} 0\n",
        "instanced_instance_state{service=\"audit-correlator\",instance_name=\"exchange-I2\","
        "service_type=\"singleton\",entity_type=\"\",state=\"failed\"} 1\n",
        "instanced_instance_health_status{service=\"exchange-simulator\",instance_name="
        "\"exchange-I0\",service_type=\"multi-instance\",entity_type=\"exchange\","
        "status=\"healthy\"} 1\n",
        "instanced_instance_probe_duration_seconds{service=\"exchange-simulator\","
        "instance_name=\"exchange-I0\",service_type=\"multi-instance\",entity_type="
        "\"exchange\"} 0.250000\n",
        "instanced_instance_start_time_seconds{service=\"exchange-simulator\",instance_name="
        "\"exchange-I0\",service_type=\"multi-instance\",entity_type=\"exchange\"} "
        "1700000000\n",
        "instanced_health_status{status=\"unhealthy\"} 1\n",
        "instanced_probe_cycle_duration_seconds 0.500000\n",
        "instanced_probe_cycles_total 7\n",
    };

    fleet(&sup, in, cfg, ptrs);
    text = render(&sup, &st);
    for (size_t i = 0; i < NELEM(want); i++) {
        if (!strstr(text, want[i]))
            fprintf(stderr, "\n  missing: %s", want[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, want[i]));
    }
    /* Every metric has HELP and TYPE, and the text ends in a newline. */
    for (const char *p = text; (p = strstr(p, "# TYPE ")); p++) {
        char name[128];
        char help[160];
        CU_ASSERT(sscanf(p, "# TYPE %127s", name) == 1);
        snprintf(help, sizeof help, "# HELP %s ", name);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, help));
    }
    CU_ASSERT(text[strlen(text) - 1] == '\n');
    free(text);

    /* No instances, no stats: still valid. */
    sup.ninst = 0;
    text = render(&sup, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "instanced_instances 0\n"));
    CU_ASSERT_PTR_NULL(strstr(text, "instanced_instance_up"));
    free(text);
}

static void test_metrics_provisioning(void)
{
    supervisor_t sup;
    sup_instance_t in[3], *ptrs[3];
    inv_instance_t cfg[3];
    inventory_t inv = { .environment = "test" };
    char *text;
    static const char *const want[] = {
        "# TYPE instanced_provisioning_runs_total counter\n",
        "instanced_provisioning_runs_total 4\n",
        "# TYPE instanced_provisioning_failures_total counter\n",
        "instanced_provisioning_failures_total 3\n",
        "instanced_provisioning_last_success_time_seconds 1700000200\n",
        "instanced_provisioning_in_progress 1\n",
    };

    fleet(&sup, in, cfg, ptrs);
    /* Without provision = true there is nothing to say. */
    text = render(&sup, NULL);
    CU_ASSERT_PTR_NULL(strstr(text, "instanced_provisioning"));
    free(text);

    inv.provision = 1;
    sup.inv = &inv;
    sup.prov.runs = 4;
    sup.prov.failures = 3;
    sup.prov.last_success = 1700000200;
    sup.prov.running = 1;
    text = render(&sup, NULL);
    for (size_t i = 0; i < NELEM(want); i++) {
        if (!strstr(text, want[i]))
            fprintf(stderr, "\n  missing: %s", want[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, want[i]));
    }
    free(text);
}

static void test_label_escape(void)
{
    static const struct { const char *in, *out; } cases[] = {
        { "plain", "plain" },
        { "a\"b", "a\\\"b" },
        { "back\\slash", "back\\\\slash" },
        { "two\nlines", "two\\nlines" },
        { "", "" },
    };

    for (size_t i = 0; i < NELEM(cases); i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        metrics_label_value(f, cases[i].in);
        fclose(f);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].out);
        free(buf);
    }
}

/* ---- JSON views ------------------------------------------------------------- */

static void test_report_health(void)
{
    static const char *const fields[] = {
        "status", "state", "pid", "restarts", "service", "service_type", "entity_type",
        "schema", "namespace", "last_check", "latency_seconds", "message",
    };
    static const char *const top[] = {
        "status", "service", "version", "environment", "timestamp", "summary", "instances",
    };
    supervisor_t sup;
    sup_instance_t in[3], *ptrs[3];
    inv_instance_t cfg[3];
    json_t *o, *e;

    fleet(&sup, in, cfg, ptrs);
    o = report_health(&sup, "1.2.3", 1700000200);
    CU_ASSERT(json_object_size(o) == NELEM(top));
    for (size_t i = 0; i < NELEM(top); i++)
        CU_ASSERT_PTR_NOT_NULL(json_object_get(o, top[i]));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "status")), "unhealthy");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "service")), "instanced");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "timestamp")),
                           "2023-11-14T22:16:40Z");
    CU_ASSERT(json_integer_value(json_object_get(json_object_get(o, "summary"), "unhealthy"))
              == 2);
    e = json_object_get(json_object_get(o, "instances"), "exchange-I0");
    CU_ASSERT_FATAL(e != NULL);
    CU_ASSERT(json_object_size(e) == NELEM(fields));
    for (size_t i = 0; i < NELEM(fields); i++)
        CU_ASSERT_PTR_NOT_NULL(json_object_get(e, fields[i]));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "last_check")),
                           "2023-11-14T22:15:00Z");
    CU_ASSERT(json_integer_value(json_object_get(e, "restarts")) == 3);
    e = json_object_get(json_object_get(o, "instances"), "exchange-I2");
    CU_ASSERT(json_is_null(json_object_get(e, "entity_type")));
    CU_ASSERT(json_is_null(json_object_get(e, "pid")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "state")), "failed");
    json_decref(o);
}

static void test_report_targets(void)
{
    supervisor_t sup;
    sup_instance_t in[3], *ptrs[3];
    inv_instance_t cfg[3];
    json_t *arr, *g;
    char *s;

    fleet(&sup, in, cfg, ptrs);
    cfg[1].port = 0; /* no port: no target */
    arr = report_targets(&sup);
    CU_ASSERT(json_array_size(arr) == 2);
    g = json_array_get(arr, 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(g, "targets"), 0)),
                           "127.0.0.1:9000");
    s = json_dumps(json_object_get(g, "labels"), JSON_SORT_KEYS | JSON_COMPACT);
    CU_ASSERT_STRING_EQUAL(s, "{\"entity_type\":\"exchange\",\"instance_name\":\"exchange-I0\","
                              "\"service\":\"exchange-simulator\",\"service_type\":"
                              "\"multi-instance\"}");
    free(s);
    /* Without entity_type the label is left out, not empty. */
    g = json_array_get(arr, 1);
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(g, "labels"), "entity_type"));
    json_decref(arr);

    sup.ninst = 0;
    arr = report_targets(&sup);
    s = json_dumps(arr, JSON_COMPACT);
    CU_ASSERT_STRING_EQUAL(s, "[]");
    free(s);
    json_decref(arr);
}

/* ---- the control protocol (control_execute), with a fake supervision side ------ */

static char calls[256]; /* what the fake sup_* functions were asked, in order */

/* Append to calls; a test that asks more than fits is a broken test. */
static void add_call(const char *s)
{
    size_t n = strlen(calls), k = strlen(s);

    CU_ASSERT_FATAL(n + k < sizeof calls);
    memcpy(calls + n, s, k + 1);
}
static int fake_fail;    /* 1: the next mutation is refused */
static sup_instance_t *fake_inst[3];
static size_t fake_n;

sup_instance_t *sup_find(supervisor_t *sup, const char *name)
{
    (void)sup;
    for (size_t i = 0; i < fake_n; i++)
        if (strcmp(fake_inst[i]->name, name) == 0)
            return fake_inst[i];
    return NULL;
}

static int fake_mutation(const char *what, sup_instance_t *in, char *err, size_t len)
{
    add_call(what);
    add_call(" ");
    add_call(in->name);
    add_call(";");
    if (fake_fail) {
        snprintf(err, len, "%s is already running", in->name);
        return -1;
    }
    return 0;
}

int sup_start(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup;
    return fake_mutation("start", in, err, len);
}

int sup_stop(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup;
    return fake_mutation("stop", in, err, len);
}

int sup_restart(supervisor_t *sup, sup_instance_t *in, const char *why, char *err, size_t len)
{
    (void)sup;
    CU_ASSERT_STRING_EQUAL(why, "manual"); /* not counted against the start limit */
    return fake_mutation("restart", in, err, len);
}

int sup_pause(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup;
    return fake_mutation("pause", in, err, len);
}

int sup_resume(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup;
    return fake_mutation("resume", in, err, len);
}

int sup_reload(supervisor_t *sup, inv_errors_t *errs, char *summary, size_t len)
{
    (void)sup;
    add_call("reload;");
    if (fake_fail) {
        /* Two errors, as inv_load would append them. */
        static const char *const e[] = { "inv.conf:3: unknown key \"x\"",
                                         "inv.conf:9: port 80 is used twice" };
        errs->v = calloc(2, sizeof *errs->v);
        for (int i = 0; i < 2; i++) {
            errs->v[i].line = i;
            errs->v[i].text = strdup(e[i]);
        }
        errs->n = errs->cap = 2;
        snprintf(summary, len, "2 errors in inv.conf");
        return -1;
    }
    snprintf(summary, len, "1 added, 0 removed, 0 changed, 2 unchanged");
    return 0;
}

static void test_control(void)
{
    static const struct {
        const char *line;
        int fail;
        const char *want;  /* substring of the compact JSON answer */
        const char *calls; /* what reached the supervision side */
    } cases[] = {
        { "status", 0, "\"ok\":true", "" },
        { "status", 0, "\"status\":\"unhealthy\"", "" },
        { "status exchange-I0", 0, "\"status\":\"healthy\"", "" },
        { "status nope", 0, "\"not_found\":true", "" },
        { "start exchange-I1", 0, "\"message\":\"starting exchange-I1\"", "start exchange-I1;" },
        { "stop exchange-I1", 0, "\"message\":\"stopping exchange-I1\"", "stop exchange-I1;" },
        { "restart exchange-I0\r", 0, "restarting exchange-I0", "restart exchange-I0;" },
        { "  start   exchange-I2  ", 0, "\"ok\":true", "start exchange-I2;" },
        { "pause exchange-I0", 0, "\"message\":\"paused exchange-I0\"", "pause exchange-I0;" },
        { "resume exchange-I0", 0, "\"message\":\"resumed exchange-I0\"",
          "resume exchange-I0;" },
        { "pause", 0, "usage: pause NAME", "" },
        { "start exchange-I0", 1, "\"error\":\"exchange-I0 is already running\"",
          "start exchange-I0;" },
        { "start nope", 0, "no such instance: nope", "" },
        { "start", 0, "usage: start NAME", "" },
        { "stop a b", 0, "usage: stop NAME", "" },
        { "reload", 0, "\"message\":\"1 added, 0 removed, 0 changed, 2 unchanged\"",
          "reload;" },
        { "reload", 1, "\"errors\":[\"inv.conf:3: unknown key \\\"x\\\"\",\"inv.conf:9:",
          "reload;" },
        { "reload now", 0, "unknown command", "" },
        { "", 0, "empty request", "" },
        { "shutdown", 0, "unknown command \\\"shutdown\\\"", "" },
        { "STATUS", 0, "unknown command", "" },
    };
    supervisor_t sup;
    sup_instance_t in[3], *ptrs[3];
    inv_instance_t cfg[3];

    fleet(&sup, in, cfg, ptrs);
    for (int k = 0; k < 3; k++)
        fake_inst[k] = ptrs[k];
    fake_n = 3;
    for (size_t i = 0; i < NELEM(cases); i++) {
        json_t *a;
        char *s;
        calls[0] = '\0';
        fake_fail = cases[i].fail;
        a = control_execute(&sup, cases[i].line);
        s = json_dumps(a, JSON_COMPACT);
        if (!strstr(s, cases[i].want) || strcmp(calls, cases[i].calls) != 0)
            fprintf(stderr, "\n  \"%s\": %s (calls \"%s\")", cases[i].line, s, calls);
        CU_ASSERT_PTR_NOT_NULL(strstr(s, cases[i].want));
        CU_ASSERT_STRING_EQUAL(calls, cases[i].calls);
        CU_ASSERT(json_is_boolean(json_object_get(a, "ok")));
        free(s);
        json_decref(a);
    }
    fake_n = 0;
}

/* ---- health_probe_url --------------------------------------------------------- */

static void test_probe_url(void)
{
    char longpath[1201];
    char want[1300];
    struct {
        int port;
        const char *path;
        const char *want; /* NULL: no URL */
    } cases[] = {
        { 8080, "/api/v1/health", "http://127.0.0.1:8080/api/v1/health" },
        { 8080, "health", "http://127.0.0.1:8080/health" },
        { 65535, "/", "http://127.0.0.1:65535/" },
        { 1, "", "http://127.0.0.1:1/" },
        { 0, "/h", NULL },
        { 65536, "/h", NULL },
        { -1, "/h", NULL },
        { 80, NULL, NULL },
    };
    char *url;

    for (size_t i = 0; i < NELEM(cases); i++) {
        url = health_probe_url(cases[i].port, cases[i].path);
        if (!cases[i].want) {
            CU_ASSERT_PTR_NULL(url);
        } else {
            CU_ASSERT_PTR_NOT_NULL_FATAL(url);
            CU_ASSERT_STRING_EQUAL(url, cases[i].want);
        }
        free(url);
    }
    /* A path far longer than any fixed buffer comes out whole, its end included: a
     * probe must never ask for a cut path. */
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    memcpy(longpath + sizeof longpath - 6, "/end?", 5);
    longpath[sizeof longpath - 1] = '\0';
    snprintf(want, sizeof want, "http://127.0.0.1:65535%s", longpath);
    url = health_probe_url(65535, longpath);
    CU_ASSERT_PTR_NOT_NULL_FATAL(url);
    CU_ASSERT_EQUAL(strlen(url), strlen("http://127.0.0.1:65535") + 1200);
    CU_ASSERT_STRING_EQUAL(url, want);
    free(url);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("health", NULL, NULL);
    CU_add_test(s, "probe answers (health_judge)", test_judge);
    CU_add_test(s, "flapping control (health_apply)", test_apply);
    CU_add_test(s, "counters and messages", test_apply_counters_and_message);
    CU_add_test(s, "combined status (health_overall)", test_overall);
    CU_add_test(s, "instancectl exit codes", test_exit_codes);
    CU_add_test(s, "probe URLs (health_probe_url)", test_probe_url);
    s = CU_add_suite("metrics", NULL, NULL);
    CU_add_test(s, "exposition", test_metrics);
    CU_add_test(s, "provisioning metrics", test_metrics_provisioning);
    CU_add_test(s, "label escaping", test_label_escape);
    s = CU_add_suite("report", NULL, NULL);
    CU_add_test(s, "combined health fields", test_report_health);
    CU_add_test(s, "http_sd targets", test_report_targets);
    s = CU_add_suite("control", NULL, NULL);
    CU_add_test(s, "request lines and answers", test_control);

    return cu_run_all();
}
