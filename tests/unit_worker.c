/* unit_worker.c - CUnit tests of the worker runtime's and audit-correlator's pure parts. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdlib.h>
#include <string.h>

#include "ac_cache.h"
#include "ac_event.h"
#include "wrt_backoff.h"
#include "wrt_config.h"
#include "wrt_health.h"
#include "wrt_metrics.h"
#include "wrt_redis.h"
#include "wrt_registry.h"

/* An environment as a NULL-terminated list of "NAME=value". */
static const char *table_env(const char *name, void *arg)
{
    const char *const *e = arg;
    size_t n = strlen(name);
    for (; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static void test_config_derivation(void)
{
    static const struct {
        const char *env[6];
        int rc;
        const char *instance, *schema, *ns, *type, *key;
    } cases[] = {
        { { "SERVICE_NAME=audit-correlator", NULL }, 0, "audit-correlator", "audit", "audit",
          "singleton", "services:audit-correlator:audit-correlator" },
        { { "SERVICE_NAME=exchange-simulator", "SERVICE_INSTANCE_NAME=exchange-OKX", NULL }, 0,
          "exchange-OKX", "exchange_okx", "exchange:OKX", "multi-instance",
          "services:exchange-simulator:exchange-OKX" },
        { { "SERVICE_NAME=test-coordinator", "SCHEMA_NAME=test_coordination",
            "REDIS_NAMESPACE=test", NULL }, 0, "test-coordinator", "test_coordination", "test",
          "singleton", "services:test-coordinator:test-coordinator" },
        { { "SERVICE_NAME=market-data-simulator",
            "SERVICE_INSTANCE_NAME=market-data-Coinmetrics", NULL }, 0,
          "market-data-Coinmetrics", "market_data_coinmetrics", "market:data-Coinmetrics",
          "multi-instance", NULL },
        { { NULL }, -1, NULL, NULL, NULL, NULL, NULL },
        { { "SERVICE_NAME=Bad Name", NULL }, -1, NULL, NULL, NULL, NULL, NULL },
        { { "SERVICE_NAME=audit-correlator", "SCHEMA_NAME=public", NULL }, -1, NULL, NULL,
          NULL, NULL, NULL },
        { { "SERVICE_NAME=audit-correlator", "REDIS_NAMESPACE=a*", NULL }, -1, NULL, NULL, NULL,
          NULL, NULL },
        { { "SERVICE_NAME=audit-correlator", "HTTP_PORT=70000", NULL }, -1, NULL, NULL, NULL,
          NULL, NULL },
        { { "SERVICE_NAME=audit-correlator", "REDIS_URL=localhost:6379", NULL }, -1, NULL, NULL,
          NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wcfg_t c;
        char err[256];
        int rc = wcfg_load(&c, table_env, (void *)cases[i].env, err, sizeof(err));
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != 0) {
            CU_ASSERT(err[0] != '\0');
            continue;
        }
        CU_ASSERT_STRING_EQUAL(c.instance, cases[i].instance);
        CU_ASSERT_STRING_EQUAL(c.schema, cases[i].schema);
        CU_ASSERT_STRING_EQUAL(c.namespace, cases[i].ns);
        CU_ASSERT_STRING_EQUAL(c.service_type, cases[i].type);
        if (cases[i].key)
            CU_ASSERT_STRING_EQUAL(c.discovery_key, cases[i].key);
        CU_ASSERT_EQUAL(c.http_port, 8080);
        CU_ASSERT_STRING_EQUAL(c.version, "1.0.0");
        wcfg_free(&c);
    }
}

static void test_redis_url(void)
{
    static const struct {
        const char *url;
        int rc;
        const char *host;
        int port, db;
        const char *user, *pass;
    } cases[] = {
        { "redis://127.0.0.1:6379/0", 0, "127.0.0.1", 6379, 0, "", "" },
        { "redis://:s3cret@redis:6380/2", 0, "redis", 6380, 2, "", "s3cret" },
        { "redis://audit:pw@h", 0, "h", 6379, 0, "audit", "pw" },
        { "redis://", 0, "127.0.0.1", 6379, 0, "", "" },
        { "redis://u%2Fx:p%40ss%3A@h:1/3", 0, "h", 1, 3, "u/x", "p@ss:" },
        { "redis://:bad%zz@h", -1, NULL, 0, 0, NULL, NULL },
        { "http://x", -1, NULL, 0, 0, NULL, NULL },
        { "redis://h:0", -1, NULL, 0, 0, NULL, NULL },
        { "redis://h:6379/x", -1, NULL, 0, 0, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wcfg_redis_url_t u;
        char err[128];
        int rc = wcfg_parse_redis_url(cases[i].url, &u, err, sizeof(err));
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != 0)
            continue;
        CU_ASSERT_STRING_EQUAL(u.host, cases[i].host);
        CU_ASSERT_EQUAL(u.port, cases[i].port);
        CU_ASSERT_EQUAL(u.db, cases[i].db);
        CU_ASSERT_STRING_EQUAL(u.user, cases[i].user);
        CU_ASSERT_STRING_EQUAL(u.password, cases[i].pass);
    }
}

static void test_backoff(void)
{
    CU_ASSERT_EQUAL(wbo_delay_ms(0), WBO_BASE_MS);
    CU_ASSERT_EQUAL(wbo_delay_ms(1), 2 * WBO_BASE_MS);
    CU_ASSERT_EQUAL(wbo_delay_ms(2), 4 * WBO_BASE_MS);
    CU_ASSERT_EQUAL(wbo_delay_ms(10), WBO_MAX_MS);
    CU_ASSERT_EQUAL(wbo_delay_ms(4000000000u), WBO_MAX_MS);
}

static void test_health(void)
{
    static const struct {
        int pg, rd, required;
        wh_status_t want;
        int code;
        int pg_grace, rd_grace;
    } cases[] = {
        { 1, 1, 1, WH_HEALTHY, 200, 0, 0 },   { 1, 0, 1, WH_DEGRADED, 200, 0, 0 },
        { 0, 1, 1, WH_UNHEALTHY, 503, 0, 0 }, { 0, 0, 1, WH_UNHEALTHY, 503, 0, 0 },
        { 0, 1, 0, WH_DEGRADED, 200, 0, 0 },  { 0, 0, 0, WH_UNHEALTHY, 503, 0, 0 },
        { 1, 0, 0, WH_DEGRADED, 200, 0, 0 },  { 1, 1, 0, WH_HEALTHY, 200, 0, 0 },
        /* Not answering, but within the grace after the last answer: degraded. */
        { 0, 1, 1, WH_DEGRADED, 200, 1, 0 },  { 0, 0, 1, WH_DEGRADED, 200, 1, 0 },
        { 0, 0, 1, WH_UNHEALTHY, 503, 0, 1 }, { 0, 0, 0, WH_DEGRADED, 200, 0, 1 },
        { 1, 0, 1, WH_DEGRADED, 200, 0, 1 },
    };
    /* The check of one dependency from its connection state. */
    static const struct {
        int up;
        long long stalled, since;
        int ok, grace;
    } judge[] = {
        { 1, 0, 10, 1, 0 },                        /* answering */
        { 1, WH_STALL_MS - 1, 500, 1, 0 },         /* a command out, not yet stalled */
        { 1, WH_STALL_MS, WH_STALL_MS, 0, 1 },     /* stalled: degraded */
        { 1, WH_GRACE_MS, WH_GRACE_MS, 0, 0 },     /* stalled past the grace: down */
        { 0, 0, 100, 0, 1 },                       /* just lost: degraded */
        { 0, 0, WH_GRACE_MS - 1, 0, 1 },
        { 0, 0, WH_GRACE_MS, 0, 0 },               /* lost for the grace: down */
        { 0, 0, -1, 0, 0 },                        /* never answered: down */
    };
    wcfg_t c;
    const char *env[] = { "SERVICE_NAME=audit-correlator", "ENVIRONMENT=docker", NULL };
    char err[128];
    json_t *j;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wh_check_t pg = { cases[i].pg, NULL, cases[i].pg_grace },
                   rd = { cases[i].rd, NULL, cases[i].rd_grace };
        wh_status_t s = wh_aggregate(&pg, &rd, cases[i].required);
        CU_ASSERT_EQUAL(s, cases[i].want);
        CU_ASSERT_EQUAL(wh_http_code(s), cases[i].code);
    }
    for (size_t i = 0; i < sizeof(judge) / sizeof(judge[0]); i++) {
        static const char why[] = "why";
        wh_check_t k = wh_judge(judge[i].up, judge[i].stalled, judge[i].since, why);
        CU_ASSERT_EQUAL(k.ok, judge[i].ok);
        CU_ASSERT_EQUAL(k.grace, judge[i].grace);
        CU_ASSERT_PTR_EQUAL(k.msg, judge[i].ok ? NULL : why);
    }
    CU_ASSERT_FATAL(wcfg_load(&c, table_env, (void *)env, err, sizeof(err)) == 0);
    {
        wh_check_t pg = { 1, NULL, 0 }, rd = { 0, "connection refused", 1 };
        j = wh_json(&c, WH_DEGRADED, "2025-10-07T12:34:56Z", &pg, &rd);
    }
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "status")), "degraded");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "service")), "audit-correlator");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "instance")), "audit-correlator");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "environment")), "docker");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "timestamp")),
                           "2025-10-07T12:34:56Z");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                               json_object_get(json_object_get(j, "checks"), "redis"), "message")),
                           "connection refused");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                               json_object_get(json_object_get(j, "checks"), "redis"), "status")),
                           "degraded");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                               json_object_get(json_object_get(j, "checks"), "postgres"), "status")),
                           "healthy");
    json_decref(j);
    {
        char *reg = wreg_json(&c, "host1", 42, "2025-10-07T12:00:00Z");
        json_t *r = json_loads(reg, 0, NULL);
        CU_ASSERT_FATAL(r != NULL);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "service_type")),
                               "singleton");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "instance_name")),
                               "audit-correlator");
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "pid")), 42);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "port")), 8080);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "log_level")), "info");
        json_decref(r);
        free(reg);
    }
    wcfg_free(&c);
}

static void test_metrics_text(void)
{
    wmet_t m;
    wmet_init(&m);
    wmet_family(&m, "x_total", "counter", "Things.");
    wmet_sample(&m, "x_total", 3, "a", "q\"\\\nz", "b", "", NULL);
    wmet_sample(&m, "x_total", 0.5, NULL);
    CU_ASSERT_FATAL(m.buf != NULL);
    CU_ASSERT_STRING_EQUAL(m.buf, "# HELP x_total Things.\n# TYPE x_total counter\n"
                                  "x_total{a=\"q\\\"\\\\\\nz\",b=\"\"} 3\nx_total 0.5\n");
    wmet_free(&m);
}

static void test_keys(void)
{
    char k[32];
    CU_ASSERT_EQUAL(wrd_key("exchange:OKX", "state", k, sizeof(k)), 0);
    CU_ASSERT_STRING_EQUAL(k, "exchange:OKX:state");
    CU_ASSERT_EQUAL(wrd_key("exchange:OKX", "a-very-long-key-name-here", k, sizeof(k)), -1);
    CU_ASSERT_STRING_EQUAL(ac_cache_strip("audit", "audit:audit_event:1"), "audit_event:1");
    CU_ASSERT_PTR_NULL(ac_cache_strip("audit", "auditx:1"));
    CU_ASSERT_PTR_NULL(ac_cache_strip("audit:A", "audit:B:1"));
}

static void test_formats(void)
{
    static const struct { const char *s; int ok; } times[] = {
        { "2025-10-07T12:34:56Z", 1 }, { "2025-10-07T12:34:56.123456Z", 1 },
        { "2025-10-07T12:34:56+02:00", 1 }, { "2025-10-07 12:34:56Z", 1 },
        { "2025-13-07T12:34:56Z", 0 }, { "2025-10-07T25:34:56Z", 0 },
        { "2025-10-07T12:34:56", 0 }, { "2025-10-07", 0 }, { "yesterday", 0 },
        { "2025-10-07T12:34:56Z; DROP TABLE x", 0 }, { "2025-02-30T00:00:00Z", 0 },
    };
    char out[40];

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        CU_ASSERT_EQUAL(ac_valid_time(times[i].s), times[i].ok);
    CU_ASSERT(ac_valid_uuid("3b2366a5-30dd-4711-b275-49b786398d90"));
    CU_ASSERT(ac_valid_uuid("3B2366A5-30DD-4711-B275-49B786398D90"));
    CU_ASSERT(!ac_valid_uuid("3b2366a5-30dd-4711-b275-49b786398d9"));
    CU_ASSERT(!ac_valid_uuid("3b2366a5x30dd-4711-b275-49b786398d90"));
    CU_ASSERT(!ac_valid_uuid(""));
    CU_ASSERT(ac_parse_cutoff("1d", 86400 * 2, out, sizeof(out)));
    CU_ASSERT_STRING_EQUAL(out, "1970-01-02T00:00:00Z");
    CU_ASSERT(ac_parse_cutoff("90m", 86400, out, sizeof(out)));
    CU_ASSERT_STRING_EQUAL(out, "1970-01-01T22:30:00Z");
    CU_ASSERT(ac_parse_cutoff("2025-10-07T12:34:56Z", 0, out, sizeof(out)));
    CU_ASSERT_STRING_EQUAL(out, "2025-10-07T12:34:56Z");
    CU_ASSERT(!ac_parse_cutoff("1w", 0, out, sizeof(out)));
    CU_ASSERT(!ac_parse_cutoff("-1d", 0, out, sizeof(out)));
    CU_ASSERT(!ac_parse_cutoff("", 0, out, sizeof(out)));
    /* Durations reaching before year 1000 would format a year of another width. */
    CU_ASSERT(!ac_parse_cutoff("100000000d", 1760000000LL, out, sizeof(out)));
    CU_ASSERT(!ac_parse_cutoff("700000d", 1760000000LL, out, sizeof(out)));
    CU_ASSERT(ac_parse_cutoff("300000d", 1760000000LL, out, sizeof(out)));
    CU_ASSERT(ac_valid_time(out));
}

static void test_event_json(void)
{
    static const struct {
        const char *json;
        int flags, rc;
        const char *field;
    } cases[] = {
        { "{\"service_name\":\"s\",\"event_type\":\"e\"}", AC_EV_CREATE, 0, NULL },
        { "{\"service_name\":\"s\"}", AC_EV_CREATE, -1, "event_type" },
        { "{\"event_type\":\"e\"}", AC_EV_CREATE, -1, "service_name" },
        { "{\"status\":\"x\"}", AC_EV_PARTIAL, 0, NULL },
        { "{\"status\":\"x\"}", AC_EV_PARTIAL | AC_EV_REQUIRE_ID, -1, "id" },
        { "{\"id\":\"nope\",\"status\":\"x\"}", AC_EV_PARTIAL, -1, "id" },
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"x\":1}", AC_EV_CREATE, -1, "x" },
        { "{\"service_name\":1,\"event_type\":\"e\"}", AC_EV_CREATE, -1, "service_name" },
        { "{\"service_name\":\"\",\"event_type\":\"e\"}", AC_EV_CREATE, -1, "service_name" },
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"timestamp\":\"now\"}", AC_EV_CREATE, -1,
          "timestamp" },
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"duration_ms\":1.5}", AC_EV_CREATE, -1,
          "duration_ms" },
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"metadata\":[]}", AC_EV_CREATE, -1,
          "metadata" },
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"tags\":[1]}", AC_EV_CREATE, -1,
          "tags" },
        { "[]", AC_EV_CREATE, -1, "event" },
        /* Rejected after metadata was encoded: the event must not keep it. */
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"metadata\":{\"a\":1},\"tags\":\"t\"}",
          AC_EV_CREATE, -1, "tags" },
        { "{\"service_name\":\"s\",\"event_type\":\"e\",\"metadata\":{\"a\":1},\"tags\":[2]}",
          AC_EV_CREATE, -1, "tags" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        ac_event_t ev;
        const char *field;
        char err[200];
        int rc;
        CU_ASSERT_FATAL(j != NULL);
        rc = ac_event_from_json(j, cases[i].flags, &ev, &field, err, sizeof(err));
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc < 0 && cases[i].field)
            CU_ASSERT_STRING_EQUAL(field, cases[i].field);
        if (rc == 0)
            ac_event_clear(&ev);
        else
            CU_ASSERT(ev.metadata == NULL && ev.tags == NULL);  /* owns nothing */
        json_decref(j);
    }
    {
        static const char full[] =
            "{\"id\":\"3b2366a5-30dd-4711-b275-49b786398d90\",\"service_name\":\"s\","
            "\"event_type\":\"e\",\"duration_ms\":7,\"metadata\":{\"a\":1},"
            "\"tags\":[\"x\"],\"timestamp\":\"2025-10-07T12:34:56Z\"}";
        json_t *j = json_loads(full, 0, NULL);
        json_t *up = json_loads("{\"id\":\"3B2366A5-30DD-4711-B275-49B786398D90\"}", 0, NULL);
        ac_event_t ev2;
        ac_event_t ev;
        const char *field;
        char err[200];
        CU_ASSERT_FATAL(ac_event_from_json(j, AC_EV_CREATE, &ev, &field, err, sizeof(err)) == 0);
        CU_ASSERT_STRING_EQUAL(ev.p[AC_P_ID], "3b2366a5-30dd-4711-b275-49b786398d90");
        CU_ASSERT_STRING_EQUAL(ev.p[AC_P_DURATION], "7");
        CU_ASSERT_STRING_EQUAL(ev.p[AC_P_METADATA], "{\"a\":1}");
        CU_ASSERT_STRING_EQUAL(ev.p[AC_P_TAGS], "[\"x\"]");
        CU_ASSERT_PTR_NULL(ev.p[AC_P_TRACE]);
        CU_ASSERT_PTR_NULL(ev.p[AC_P_STATUS]);
        ac_event_clear(&ev);
        json_decref(j);
        CU_ASSERT_FATAL(ac_event_from_json(up, AC_EV_PARTIAL, &ev2, &field, err,
                                           sizeof(err)) == 0);
        CU_ASSERT_STRING_EQUAL(ev2.p[AC_P_ID], "3b2366a5-30dd-4711-b275-49b786398d90");
        ac_event_clear(&ev2);
        json_decref(up);
    }
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("worker runtime", NULL, NULL);
    CU_add_test(s, "config derivation", test_config_derivation);
    CU_add_test(s, "redis url", test_redis_url);
    CU_add_test(s, "backoff", test_backoff);
    CU_add_test(s, "health and registration", test_health);
    CU_add_test(s, "metrics text", test_metrics_text);
    CU_add_test(s, "keys", test_keys);
    s = CU_add_suite("audit-correlator", NULL, NULL);
    CU_add_test(s, "formats", test_formats);
    CU_add_test(s, "event json", test_event_json);

    return cu_run_all();
}
