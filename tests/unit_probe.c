/* unit_probe.c - CUnit tests of placeholders (placeholder.c), the probe keys
 * (probe_conf.c) and the http/exec verdicts (probe_verdict.c), all pure. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"
#include "probe_conf.h"
#include "probe_verdict.h"

#define EXITED(c) (((c) & 0xff) << 8)
#define SIGNALED(s) ((s) & 0x7f)

static const ph_values_t vals = { "redis-A", "redis", 6380, "/v/redis-A/data",
                                  "/v/redis-A/logs", "redis_a", "redis:a" };

static void test_expand(void)
{
    static const struct { const char *in, *want; } rows[] = {
        { "", "" },
        { "plain", "plain" },
        { "%i", "redis-A" },
        { "--port %p --dir %d", "--port 6380 --dir /v/redis-A/data" },
        { "%s/%i %l", "redis/redis-A /v/redis-A/logs" },
        { "schema=%S ns=%N", "schema=redis_a ns=redis:a" },
        { "100%%", "100%" },
        { "%%i", "%i" },
        { "%%%p", "%6380" },
        { "a%ib%sc", "aredis-Abredisc" },
    };
    char err[200];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *got = ph_expand(rows[i].in, &vals, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_STRING_EQUAL(got, rows[i].want);
        CU_ASSERT_EQUAL(ph_check(rows[i].in, err, sizeof err), 0);
        free(got);
    }
}

static void test_unknown(void)
{
    static const struct { const char *in, *needle; } rows[] = {
        { "%q", "unknown placeholder %q" },
        { "--port %P", "unknown placeholder %P" },
        { "ok %i then %x", "unknown placeholder %x" },
        { "50%", "lone %" },
        { "${HOME}%", "lone %" },
    };
    char err[200];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(ph_check(rows[i].in, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, rows[i].needle));
        err[0] = '\0';
        CU_ASSERT_PTR_NULL(ph_expand(rows[i].in, &vals, err, sizeof err));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, rows[i].needle));
    }
}

static void test_no_port(void)
{
    ph_values_t v = vals;
    char err[100], *got;

    v.port = 0;
    v.schema = NULL;
    got = ph_expand("[%p][%S]", &v, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, "[][]");
    free(got);
}

static void test_spawn_prepare(void)
{
    char *args[] = { "--port", "%p", "--dir", "%d", NULL };
    char *ienv[] = { "GREETING=hi %i", "PCT=100%%", NULL };
    inv_service_t s = { .name = "redis", .command = "redis-server", .args = args, .nargs = 4 };
    inv_instance_t in = { .name = "redis-A", .service = &s, .port = 6380,
                          .data_dir = "/v/redis-A/data", .env = ienv, .nenv = 2 };
    char **env = calloc(5, sizeof(char *)), **argv = NULL, err[100];

    env[0] = strdup("PATH=/bin:%weird");      /* not the user's env text: untouched */
    env[1] = strdup("GREETING=hi %i");
    env[2] = strdup("PCT=100%%");
    env[3] = strdup("POSTGRES_URL=postgres://u:p%25@h/db");
    CU_ASSERT_EQUAL_FATAL(ph_spawn_prepare(&in, &argv, env, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(argv[0], "redis-server");
    CU_ASSERT_STRING_EQUAL(argv[2], "6380");
    CU_ASSERT_STRING_EQUAL(argv[4], "/v/redis-A/data");
    CU_ASSERT_PTR_NULL(argv[5]);
    CU_ASSERT_STRING_EQUAL(env[0], "PATH=/bin:%weird");
    CU_ASSERT_STRING_EQUAL(env[1], "GREETING=hi redis-A");
    CU_ASSERT_STRING_EQUAL(env[2], "PCT=100%");
    CU_ASSERT_STRING_EQUAL(env[3], "POSTGRES_URL=postgres://u:p%25@h/db");
    inv_strv_free(argv);
    inv_strv_free(env);
}

static void test_http(void)
{
    static const struct {
        long code;
        const char *body;
        long expect_status;
        const char *expect_body;
        health_status_t want;
        const char *msg;
    } rows[] = {
        { 200, "<html>hi</html>", 0, NULL, HEALTH_HEALTHY, "" },
        { 204, "", 0, NULL, HEALTH_HEALTHY, "" },
        { 301, "", 0, NULL, HEALTH_HEALTHY, "" },
        { 399, "", 0, NULL, HEALTH_HEALTHY, "" },
        { 404, "", 0, NULL, HEALTH_UNHEALTHY, "HTTP 404" },
        { 500, "ok", 0, NULL, HEALTH_UNHEALTHY, "HTTP 500" },
        { 199, "", 0, NULL, HEALTH_UNHEALTHY, "HTTP 199" },
        { 200, "", 204, NULL, HEALTH_UNHEALTHY, "HTTP 200, expected 204" },
        { 401, "", 401, NULL, HEALTH_HEALTHY, "" },
        { 200, "status: OK", 0, "OK", HEALTH_HEALTHY, "" },
        { 200, "status: bad", 0, "OK", HEALTH_UNHEALTHY, "does not contain \"OK\"" },
        { 500, "OK", 0, "OK", HEALTH_UNHEALTHY, "HTTP 500" },
    };
    char msg[256];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        health_status_t h = pv_judge_http(rows[i].code, rows[i].body, strlen(rows[i].body),
                                          rows[i].expect_status, rows[i].expect_body, msg,
                                          sizeof msg);
        CU_ASSERT_EQUAL(h, rows[i].want);
        if (rows[i].msg[0]) {
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, rows[i].msg));
        } else {
            CU_ASSERT_STRING_EQUAL(msg, "");
        }
    }
}

static void test_exit(void)
{
    static const struct {
        int status, timed_out;
        const char *out;
        health_status_t want;
        const char *msg;
    } rows[] = {
        { EXITED(0), 0, "PONG\n", HEALTH_HEALTHY, "PONG" },
        { EXITED(0), 0, "", HEALTH_HEALTHY, "" },
        { EXITED(1), 0, "WARNING: disk 91%\nmore\n", HEALTH_DEGRADED, "WARNING: disk 91%" },
        { EXITED(2), 0, "CRITICAL\n", HEALTH_UNHEALTHY, "CRITICAL" },
        { EXITED(2), 0, "", HEALTH_UNHEALTHY, "health command exited with status 2" },
        { EXITED(127), 0, "", HEALTH_UNHEALTHY, "status 127" },
        { SIGNALED(9), 0, "", HEALTH_UNHEALTHY, "killed by signal 9" },
        { SIGNALED(9), 1, "", HEALTH_UNHEALTHY, "killed after 500 ms" },
        { EXITED(0), 0, "a\tb\r\n", HEALTH_HEALTHY, "a b" },
    };
    char msg[256];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        health_status_t h = pv_judge_exit(rows[i].status, rows[i].timed_out, 500, rows[i].out,
                                          strlen(rows[i].out), msg, sizeof msg);
        CU_ASSERT_EQUAL(h, rows[i].want);
        if (rows[i].msg[0]) {
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, rows[i].msg));
        } else {
            CU_ASSERT_STRING_EQUAL(msg, "");
        }
    }
}

static void test_exit_bounded(void)
{
    char big[4096], msg[1024];

    memset(big, 'x', sizeof big);
    pv_judge_exit(EXITED(2), 0, 500, big, sizeof big, msg, sizeof msg);
    CU_ASSERT_EQUAL(strlen(msg), PV_OUTPUT_MAX);
}

/* pc_check_instance: the kind chosen and the keys reported. */
static char reported[512];
static void report(void *ctx, const char *key, const char *msg)
{
    (void)ctx;
    strncat(reported, "[", sizeof reported - strlen(reported) - 1);
    strncat(reported, key, sizeof reported - strlen(reported) - 1);
    strncat(reported, "] ", sizeof reported - strlen(reported) - 1);
    strncat(reported, msg, sizeof reported - strlen(reported) - 1);
    strncat(reported, ";", sizeof reported - strlen(reported) - 1);
}

static void test_kinds(void)
{
    static char *cmd[] = { "redis-cli", "-p", "%p", "ping", NULL };
    static char *badcmd[] = { "check", "%q", NULL };
    static char *badenv[] = { "X=%z", NULL };
    static const struct {
        const char *check, *path;
        char **command;
        int port, hport;
        long expect_status;
        const char *expect_body;
        char **env;
        inv_health_kind_t want;
        const char *report; /* "" for none */
    } rows[] = {
        { NULL, NULL, NULL, 8080, 0, 0, NULL, NULL, INV_HEALTH_NONE, "" },
        { NULL, "/health", NULL, 8080, 0, 0, NULL, NULL, INV_HEALTH_JSON, "" },
        { NULL, "/health", NULL, 0, 0, 0, NULL, NULL, INV_HEALTH_JSON, "" },
        { NULL, NULL, cmd, 0, 0, 0, NULL, NULL, INV_HEALTH_EXEC, "" },
        { NULL, "/h", cmd, 80, 0, 0, NULL, NULL, INV_HEALTH_NONE, "[health_command] " },
        { "json", "/h", NULL, 80, 0, 0, NULL, NULL, INV_HEALTH_JSON, "" },
        { "json", NULL, NULL, 80, 0, 0, NULL, NULL, INV_HEALTH_JSON, "needs a health_path" },
        { "http", NULL, NULL, 80, 0, 0, NULL, NULL, INV_HEALTH_HTTP, "" },
        { "http", "/", NULL, 0, 8081, 302, "ok", NULL, INV_HEALTH_HTTP, "" },
        { "http", "/", NULL, 0, 0, 0, NULL, NULL, INV_HEALTH_HTTP, "needs a port" },
        { "http", "/", NULL, 80, 0, 999, NULL, NULL, INV_HEALTH_HTTP, "[health_expect_status]" },
        { "tcp", NULL, NULL, 6379, 0, 0, NULL, NULL, INV_HEALTH_TCP, "" },
        { "tcp", NULL, NULL, 6379, 0, 200, NULL, NULL, INV_HEALTH_TCP, "[health_expect_status]" },
        { "tcp", NULL, NULL, 6379, 0, 0, "x", NULL, INV_HEALTH_TCP, "[health_expect_body]" },
        { "tcp", NULL, cmd, 6379, 0, 0, NULL, NULL, INV_HEALTH_TCP, "[health_command]" },
        { "exec", NULL, cmd, 0, 0, 0, NULL, NULL, INV_HEALTH_EXEC, "" },
        { "exec", NULL, NULL, 0, 0, 0, NULL, NULL, INV_HEALTH_EXEC, "needs a health_command" },
        { "exec", NULL, cmd, 0, 99, 0, NULL, NULL, INV_HEALTH_EXEC, "[health_port]" },
        { "exec", NULL, badcmd, 0, 0, 0, NULL, NULL, INV_HEALTH_EXEC, "unknown placeholder %q" },
        { "none", "/h", NULL, 80, 0, 0, NULL, NULL, INV_HEALTH_NONE, "" },
        { "none", NULL, NULL, 0, 0, 0, NULL, badenv, INV_HEALTH_NONE, "[env] env: unknown placeholder %z" },
        { "nagios", NULL, NULL, 0, 0, 0, NULL, NULL, INV_HEALTH_NONE, "[health_check] health_check \"nagios\"" },
        { NULL, "/h/%q", NULL, 80, 0, 0, NULL, NULL, INV_HEALTH_JSON, "[health_path]" },
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        inv_instance_t in = { .name = "x", .port = rows[i].port };
        in.policy.health_check = (char *)rows[i].check;
        in.policy.health_path = (char *)rows[i].path;
        in.policy.health_command = rows[i].command;
        in.policy.health_port = rows[i].hport;
        in.policy.health_expect_status = rows[i].expect_status;
        in.policy.health_expect_body = (char *)rows[i].expect_body;
        reported[0] = '\0';
        pc_check_instance(&in, rows[i].env, report, NULL);
        if (in.policy.health_kind != rows[i].want || (rows[i].report[0] ?
            !strstr(reported, rows[i].report) : reported[0] != '\0'))
            fprintf(stderr, "row %zu: kind %s, reported '%s'\n", i,
                    pc_kind_name(in.policy.health_kind), reported);
        CU_ASSERT_EQUAL(in.policy.health_kind, rows[i].want);
        if (rows[i].report[0]) {
            CU_ASSERT_PTR_NOT_NULL(strstr(reported, rows[i].report));
        } else {
            CU_ASSERT_STRING_EQUAL(reported, "");
        }
    }
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("probe", NULL, NULL);
    if (!s || !CU_add_test(s, "placeholders expand", test_expand) ||
        !CU_add_test(s, "unknown placeholders are refused", test_unknown) ||
        !CU_add_test(s, "no port, no schema: empty", test_no_port) ||
        !CU_add_test(s, "spawn: argv and the user's env expanded", test_spawn_prepare) ||
        !CU_add_test(s, "http verdicts", test_http) ||
        !CU_add_test(s, "exec verdicts", test_exit) ||
        !CU_add_test(s, "exec output bounded", test_exit_bounded) ||
        !CU_add_test(s, "probe kinds and their keys", test_kinds)) {
        CU_cleanup_registry();
        return 1;
    }
    return cu_run_all();
}
