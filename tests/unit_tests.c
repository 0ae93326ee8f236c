/* unit_tests.c - CUnit tests of the core library: naming vectors, masking, logfmt,
 * values, and one fixture per inventory rejection rule. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inventory.h"
#include "workerenv.h"
#include "log.h"
#include "mask.h"
#include "naming.h"

static const char *srcdir(void)
{
    const char *d = getenv("srcdir");
    return d ? d : ".";
}

static char *path_in_srcdir(const char *rel)
{
    char *p;
    if (asprintf(&p, "%s/%s", srcdir(), rel) < 0)
        return NULL;
    return p;
}

/* Write text to a new temporary file; returns its path (caller unlinks and frees). */
static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/instanced-unit-XXXXXX");
    int fd = mkstemp(path);
    size_t len = strlen(text);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
    close(fd);
    return path;
}

/* Is there an error that starts with prefix and contains needle after it? */
static int errors_contain(const inv_errors_t *e, const char *prefix, const char *needle)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i].text, prefix, n) == 0 && strstr(e->v[i].text + n, needle))
            return 1;
    return 0;
}

static void dump_errors(const inv_errors_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(stderr, "    | %s\n", e->v[i].text);
}

/* ---- the conformance vectors ---------------------------------------------------- */

static char *field(char **line)
{
    char *f = *line, *tab = strchr(f, '\t');
    if (tab) {
        *tab = '\0';
        *line = tab + 1;
    } else {
        f[strcspn(f, "\n")] = '\0';
        *line = f + strlen(f);
    }
    return strcmp(f, "-") == 0 ? NULL : f;
}

static void test_derivation_vectors(void)
{
    char *path = path_in_srcdir("tests/derivation-vectors.tsv");
    FILE *f = fopen(path, "r");
    char line[1024];
    int rows = 0, header = 0;

    CU_ASSERT_FATAL(f != NULL);
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *S, *I, *ip, *np, *sch, *ns, *es, *en, *ek, *err;
        char text[2048];
        char *tmp;
        inv_errors_t errs;
        inventory_t *inv;
        nm_derived_t d;
        nm_input_t in;
        char why[256];
        int drc;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!header) {
            header = 1;
            continue;
        }
        S = field(&p), I = field(&p), ip = field(&p), np = field(&p), sch = field(&p);
        ns = field(&p), es = field(&p), en = field(&p), ek = field(&p), err = field(&p);
        rows++;

        /* The pure function... */
        in = (nm_input_t){ S, I, ip, np, sch, ns };
        drc = nm_derive(&in, &d, why, sizeof(why));
        /* ...and the loader, through a one-service, one-instance inventory. */
        snprintf(text, sizeof(text),
                 "service \"%s\" {\n  command = \"/bin/true\"\n%s%s%s%s%s%s}\n"
                 "instance \"%s\" {\n  service = \"%s\"\n%s%s%s%s%s%s}\n",
                 S, ip ? "  instance_prefix = \"" : "", ip ? ip : "", ip ? "\"\n" : "",
                 np ? "  namespace_prefix = \"" : "", np ? np : "", np ? "\"\n" : "",
                 I, S, sch ? "  schema = \"" : "", sch ? sch : "", sch ? "\"\n" : "",
                 ns ? "  namespace = \"" : "", ns ? ns : "", ns ? "\"\n" : "");
        tmp = write_temp(text);
        inv_errors_init(&errs);
        inv = inv_load(tmp, &errs);

        if (err) {
            if (drc == 0 || inv != NULL)
                fprintf(stderr, "\n  vector %d (%s / %s) was accepted\n", rows, S, I);
            CU_ASSERT(drc < 0);
            CU_ASSERT(inv == NULL);
            CU_ASSERT(errs.n >= 1);
            /* Every error names the file and a line inside it. */
            for (size_t i = 0; i < errs.n; i++) {
                char prefix[256];
                snprintf(prefix, sizeof(prefix), "%s:", tmp);
                CU_ASSERT(strncmp(errs.v[i].text, prefix, strlen(prefix)) == 0);
                CU_ASSERT(errs.v[i].line >= 1 && errs.v[i].line <= 8);
            }
        } else {
            if (drc != 0 || inv == NULL) {
                fprintf(stderr, "\n  vector %d (%s / %s) rejected: %s\n", rows, S, I, why);
                dump_errors(&errs);
            }
            CU_ASSERT_FATAL(drc == 0);
            CU_ASSERT_FATAL(inv != NULL);
            CU_ASSERT_STRING_EQUAL(d.schema, es);
            CU_ASSERT_STRING_EQUAL(d.namespace, en);
            CU_ASSERT_STRING_EQUAL(d.discovery_key, ek);
            CU_ASSERT_STRING_EQUAL(inv->instances[0].schema, es);
            CU_ASSERT_STRING_EQUAL(inv->instances[0].namespace, en);
            CU_ASSERT_STRING_EQUAL(inv->instances[0].discovery_key, ek);
            CU_ASSERT_STRING_EQUAL(inv->instances[0].service_type,
                                   strcmp(S, I) == 0 ? "singleton" : "multi-instance");
        }
        inv_free(inv);
        inv_errors_free(&errs);
        unlink(tmp);
        free(tmp);
    }
    fclose(f);
    free(path);
    CU_ASSERT(rows >= 27);
}

static void test_name_rules(void)
{
    static const struct { const char *name; int service_ok, instance_ok; } cases[] = {
        { "audit-correlator", 1, 1 }, { "exchange-OKX", 0, 1 }, { "a", 1, 1 },
        { "a1-b2", 1, 1 }, { "1abc", 0, 0 }, { "-abc", 0, 0 }, { "abc-", 0, 0 },
        { "a--b", 0, 0 }, { "a_b", 0, 0 }, { "a.b", 0, 0 }, { "a b", 0, 0 },
        { "a*", 0, 0 }, { "", 0, 0 }, { "caf\xc3\xa9", 0, 0 }, { "a'b", 0, 0 },
        { "A", 0, 1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CU_ASSERT_EQUAL(nm_valid_service_name(cases[i].name), cases[i].service_ok);
        CU_ASSERT_EQUAL(nm_valid_instance_name(cases[i].name), cases[i].instance_ok);
    }
    CU_ASSERT(nm_namespaces_overlap("audit", "audit:X"));
    CU_ASSERT(nm_namespaces_overlap("audit:X", "audit"));
    CU_ASSERT(nm_namespaces_overlap("audit", "audit"));
    CU_ASSERT(!nm_namespaces_overlap("audit", "auditx"));
    CU_ASSERT(!nm_namespaces_overlap("exchange:OKX", "exchange:OKX2"));
    CU_ASSERT(nm_namespaces_overlap("exchange", "exchange:OKX"));
}

/* ---- masking and logfmt -------------------------------------------------------- */

static void test_masking(void)
{
    static const struct { const char *in, *out; } cases[] = {
        /* the forms the ecosystem uses */
        { "postgresql://audit_adapter:secret@localhost:5432/trading_ecosystem",
          "postgresql://audit_adapter:***@localhost:5432/trading_ecosystem" },
        { "redis://:secret@localhost:6379/0", "redis://:***@localhost:6379/0" },
        { "redis://default:p%40ss@redis:6379", "redis://default:***@redis:6379" },
        { "postgresql://localhost/db", "postgresql://localhost/db" },
        { "postgres://user@host/db", "postgres://user@host/db" },
        /* libpq keyword form */
        { "host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d" },
        { "password='sec ret' host=h", "password=*** host=h" },
        { "PASSWORD = secret", "PASSWORD = ***" },
        /* query strings, environment entries */
        { "postgresql://h/db?sslmode=disable&password=secret", "postgresql://h/db?sslmode=disable&password=***" },
        { "REDIS_PASSWORD=hunter2", "REDIS_PASSWORD=***" },
        { "api_token=abc123 next", "api_token=*** next" },
        { "db_pass=x", "db_pass=***" },
        /* not secrets */
        { "bypass=1", "bypass=1" },
        { "level=info msg=\"started\"", "level=info msg=\"started\"" },
        /* a password with @ in it still does not leak */
        { "postgresql://u:p@ss@h/db", "postgresql://u:***@h/db" },
        { "two redis://:a@h and postgresql://u:b@h", "two redis://:***@h and postgresql://u:***@h" },
    };
    char out[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mask_secrets(cases[i].in, out, sizeof(out));
        if (strcmp(out, cases[i].out) != 0)
            fprintf(stderr, "\n  mask(%s) = %s\n", cases[i].in, out);
        CU_ASSERT_STRING_EQUAL(out, cases[i].out);
    }
    /* truncation keeps the buffer terminated */
    mask_secrets("postgresql://u:secret@h/db", out, 8);
    CU_ASSERT_EQUAL(strlen(out), 7);
}

static size_t fmt(char *buf, size_t len, const char *ts, log_level_t lvl, const char *msg, ...)
{
    va_list ap;
    size_t n;
    va_start(ap, msg);
    n = log_format(buf, len, ts, lvl, msg, ap);
    va_end(ap);
    return n;
}

static void test_logfmt(void)
{
    char line[512];

    fmt(line, sizeof(line), NULL, LOG_LVL_INFO, "Data adapter configuration loaded",
        "service_name", "audit-correlator", "schema", "audit", NULL);
    CU_ASSERT_STRING_EQUAL(line, "level=info msg=\"Data adapter configuration loaded\" "
                                 "service_name=audit-correlator schema=audit\n");
    fmt(line, sizeof(line), "2025-10-07T12:34:56Z", LOG_LVL_WARN, "x", "url",
        "postgresql://u:secret@h/db", "empty", "", "quote", "a\"b\nc", NULL);
    CU_ASSERT_STRING_EQUAL(line, "time=2025-10-07T12:34:56Z level=warn msg=x "
                                 "url=postgresql://u:***@h/db empty=\"\" quote=\"a\\\"b\\nc\"\n");
    CU_ASSERT(strstr(line, "secret") == NULL);
    fmt(line, sizeof(line), NULL, LOG_LVL_ERROR, "dsn password=hunter2 seen", NULL);
    CU_ASSERT(strstr(line, "hunter2") == NULL);
    /* a short buffer still ends in a newline */
    CU_ASSERT_EQUAL(fmt(line, 16, NULL, LOG_LVL_INFO, "a long message here", NULL), 15);
    CU_ASSERT_EQUAL(line[14], '\n');

    log_level_t l;
    CU_ASSERT(log_parse_level("debug", &l) == 0 && l == LOG_LVL_DEBUG);
    CU_ASSERT(log_parse_level("WARN", &l) == 0 && l == LOG_LVL_WARN);
    CU_ASSERT(log_parse_level("loud", &l) < 0);
}

static void test_values(void)
{
    long ms;
    long long b;

    CU_ASSERT(inv_parse_duration("100ms", &ms) == 0 && ms == 100);
    CU_ASSERT(inv_parse_duration("5", &ms) == 0 && ms == 5000);
    CU_ASSERT(inv_parse_duration("0.5s", &ms) == 0 && ms == 500);
    CU_ASSERT(inv_parse_duration("2m", &ms) == 0 && ms == 120000);
    CU_ASSERT(inv_parse_duration("1h", &ms) == 0 && ms == 3600000);
    CU_ASSERT(inv_parse_duration("soon", &ms) < 0);
    CU_ASSERT(inv_parse_duration("-1s", &ms) < 0);
    CU_ASSERT(inv_parse_duration("5 parsecs", &ms) < 0);
    CU_ASSERT(inv_parse_size("10MiB", &b) == 0 && b == 10485760);
    CU_ASSERT(inv_parse_size("4096", &b) == 0 && b == 4096);
    CU_ASSERT(inv_parse_size("1G", &b) == 0 && b == 1073741824);
    CU_ASSERT(inv_parse_size("ten", &b) < 0);
    CU_ASSERT(inv_parse_size("5 lightyears", &b) < 0);
}

/* ---- the example inventory and the worker environment -------------------------- */

static void test_example_inventory(void)
{
    static const struct { const char *name, *schema, *ns; int port; } want[] = {
        { "audit-correlator", "audit", "audit", 8083 },
        { "test-coordinator", "test_coordination", "test", 8082 },
        { "exchange-OKX", "exchange_okx", "exchange:OKX", 8081 },
        { "custodian-Komainu", "custodian_komainu", "custodian:Komainu", 0 },
        { "market-data-Coinmetrics", "market_data_coinmetrics", "market_data:Coinmetrics", 0 },
        { "trading-system-LH", "trading_system_lh", "trading:LH", 0 },
        { "risk-monitor-LH", "risk_monitor_lh", "risk:LH", 0 },
    };
    char *path = path_in_srcdir("etc/instanced.conf");
    inv_errors_t errs;
    inventory_t *inv;

    inv_errors_init(&errs);
    inv = inv_load(path, &errs);
    dump_errors(&errs);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_EQUAL(inv->ninstances, 7);
    for (size_t i = 0; i < 7; i++) {
        const inv_instance_t *in = inv_find_instance(inv, want[i].name);
        CU_ASSERT_FATAL(in != NULL);
        CU_ASSERT_STRING_EQUAL(in->schema, want[i].schema);
        CU_ASSERT_STRING_EQUAL(in->namespace, want[i].ns);
        if (want[i].port)
            CU_ASSERT_EQUAL(in->port, want[i].port);
    }
    CU_ASSERT_EQUAL(inv->health_interval_ms, 5000);
    CU_ASSERT_EQUAL(inv_find_instance(inv, "risk-monitor-LH")->policy.critical, 0);
    CU_ASSERT_EQUAL(inv_find_instance(inv, "exchange-OKX")->policy.critical, 1);
    CU_ASSERT_EQUAL(inv_find_instance(inv, "exchange-OKX")->policy.restart_delay_ms, 100);

    /* The worker environment contract. */
    {
        const inv_instance_t *in = inv_find_instance(inv, "exchange-OKX");
        char **env = inv_worker_env(inv, in, "/usr/bin:/bin");
        static const char *expect[] = {
            "SERVICE_NAME=exchange-simulator", "SERVICE_INSTANCE_NAME=exchange-OKX",
            "SERVICE_VERSION=1.0.0", "SERVICE_TYPE=multi-instance", "ENTITY_TYPE=exchange",
            "ENVIRONMENT=production", "LOG_LEVEL=debug", "HTTP_PORT=8081",
            "SCHEMA_NAME=exchange_okx", "REDIS_NAMESPACE=exchange:OKX",
            "DATA_DIR=/var/lib/instanced/volumes/exchange-OKX/data",
            "LOGS_DIR=/var/lib/instanced/volumes/exchange-OKX/logs",
            "POSTGRES_URL=postgresql://instanced@localhost/trading_ecosystem",
            "REDIS_URL=redis://127.0.0.1:6379/0", "PATH=/usr/bin:/bin",
        };
        CU_ASSERT_FATAL(env != NULL);
        for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
            int found = 0;
            for (char **e = env; *e; e++)
                found |= strcmp(*e, expect[i]) == 0;
            if (!found)
                fprintf(stderr, "\n  missing %s\n", expect[i]);
            CU_ASSERT(found);
        }
        for (char **e = env; *e; e++)
            CU_ASSERT(strncmp(*e, "NOTIFY_SOCKET=", 14) != 0);
        inv_strv_free(env);
    }
    inv_free(inv);
    inv_errors_free(&errs);
    free(path);
}

/* The contract's table: each variable an env entry may not set is refused, with its
 * name; the others load. And the built environment, entry by entry and in order. */
static void test_worker_env_contract(void)
{
#define CONTRACT_INV \
    "service \"svc\" { command = \"/bin/true\" }\n" \
    "instance \"svc-a\" { service = \"svc\"\n port = 8100\n env = { \"%s=x\", \"K=v\" } }\n"
    static const char *expect[] = {
        "PATH=/usr/bin", "SERVICE_NAME=svc", "SERVICE_INSTANCE_NAME=svc-a",
        "SERVICE_VERSION=1.0.0", "SERVICE_TYPE=multi-instance", "ENVIRONMENT=production",
        "LOG_LEVEL=x", "HTTP_PORT=8100", "SCHEMA_NAME=svc_a", "REDIS_NAMESPACE=svc:a",
        "DATA_DIR=/var/lib/instanced/volumes/svc-a/data",
        "LOGS_DIR=/var/lib/instanced/volumes/svc-a/logs", "K=v", NULL,
    };
    size_t nreserved = 0;

    CU_ASSERT(wenv_nvars > 15);
    for (size_t i = 0; i < wenv_nvars; i++) {
        const wenv_var_t *v = &wenv_vars[i];
        int reserved = v->origin == WENV_BUILT || v->origin == WENV_SYSTEMD;
        char text[512], want[128];
        inv_errors_t errs;
        inventory_t *inv;

        snprintf(text, sizeof(text), CONTRACT_INV, v->name);
        snprintf(want, sizeof(want), "env may not set %s:", v->name);
        inv_errors_init(&errs);
        inv = inv_load_buf("t.conf", text, strlen(text), &errs);
        CU_ASSERT_EQUAL(inv == NULL, reserved);
        CU_ASSERT_EQUAL(errors_contain(&errs, "t.conf:4:", want), reserved);
        CU_ASSERT_EQUAL(wenv_reserved(v->name, strlen(v->name)) == v, reserved);
        CU_ASSERT(v->meaning && *v->meaning);
        nreserved += reserved;
        if (inv && strcmp(v->name, WENV_LOG_LEVEL) == 0) {
            char **env = wenv_build(inv, &inv->instances[0], "/usr/bin");
            size_t k = 0;
            for (; env[k] && expect[k]; k++)
                CU_ASSERT_STRING_EQUAL(env[k], expect[k]);
            CU_ASSERT(env[k] == NULL && expect[k] == NULL);
            inv_strv_free(env);
        }
        inv_free(inv);
        inv_errors_free(&errs);
    }
    CU_ASSERT_EQUAL(nreserved, 19);
}

/* The containment keys: parsed values, defaults, instance over service over nothing. */
static void test_containment_keys(void)
{
    static const struct {
        const char *text;
        int ok;
        long long quota, period;
    } cpu[] = {
        { "max", 1, INV_LIMIT_MAX, 100000 },
        { "max 50000", 1, INV_LIMIT_MAX, 50000 },
        { "50%", 1, 50000, 100000 },
        { "200%", 1, 200000, 100000 },
        { "12.5%", 1, 12500, 100000 },
        { "1%", 1, 1000, 100000 },
        { "50000 100000", 1, 50000, 100000 },
        { "2000  1000000", 1, 2000, 1000000 },
        { "0.5%", 0, 0, 0 },
        { "0%", 0, 0, 0 },
        { "-50%", 0, 0, 0 },
        { "50", 0, 0, 0 },
        { "50000", 0, 0, 0 },
        { "999 100000", 0, 0, 0 },
        { "50000 999", 0, 0, 0 },
        { "50000 1000001", 0, 0, 0 },
        { "50000 100000 7", 0, 0, 0 },
        { "maximum", 0, 0, 0 },
        { "50 %", 0, 0, 0 },
        { "", 0, 0, 0 },
    };
    static const char *text =
        "cgroups = false\n"
        "cgroup_root = \"/sys/fs/cgroup/unified/inst\"\n"
        "service \"svc\" {\n command = \"/bin/sleep\"\n memory_max = 512MiB\n"
        " memory_high = max\n pids_max = 64\n cpu_weight = 200\n cpu_max = \"50%\"\n}\n"
        "instance \"svc-a\" {\n service = \"svc\"\n memory_max = max\n pids_max = max\n"
        " io_weight = 10000\n cpu_max = \"20000 50000\"\n}\n"
        "instance \"svc-b\" {\n service = \"svc\"\n}\n"
        "service \"bare\" {\n command = \"/bin/sleep\"\n}\n"
        "instance \"bare-a\" {\n service = \"bare\"\n}\n";
    inv_errors_t errs;
    inventory_t *inv;
    const inv_instance_t *a, *b, *c;

    for (size_t i = 0; i < sizeof(cpu) / sizeof(cpu[0]); i++) {
        inv_cpu_max_t v = { 0, 0 };
        int rc = inv_parse_cpu_max(cpu[i].text, &v);
        if ((rc == 0) != cpu[i].ok)
            fprintf(stderr, "\n  cpu_max \"%s\": %d\n", cpu[i].text, rc);
        CU_ASSERT_EQUAL(rc == 0, cpu[i].ok);
        if (cpu[i].ok) {
            CU_ASSERT_EQUAL(v.quota_us, cpu[i].quota);
            CU_ASSERT_EQUAL(v.period_us, cpu[i].period);
        }
    }

    inv_errors_init(&errs);
    inv = inv_load_buf("c.conf", text, strlen(text), &errs);
    dump_errors(&errs);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_EQUAL(inv->cgroups, 0);
    CU_ASSERT_STRING_EQUAL(inv->cgroup_root, "/sys/fs/cgroup/unified/inst");
    a = inv_find_instance(inv, "svc-a");
    b = inv_find_instance(inv, "svc-b");
    c = inv_find_instance(inv, "bare-a");
    CU_ASSERT_FATAL(a && b && c);
    /* The instance's own values. */
    CU_ASSERT_EQUAL(a->policy.memory_max, INV_LIMIT_MAX);
    CU_ASSERT_EQUAL(a->policy.pids_max, INV_LIMIT_MAX);
    CU_ASSERT_EQUAL(a->policy.io_weight, 10000);
    CU_ASSERT_EQUAL(a->policy.cpu_max.quota_us, 20000);
    CU_ASSERT_EQUAL(a->policy.cpu_max.period_us, 50000);
    /* The service's, where the instance sets none. */
    CU_ASSERT_EQUAL(a->policy.memory_high, INV_LIMIT_MAX);
    CU_ASSERT_EQUAL(a->policy.cpu_weight, 200);
    CU_ASSERT_EQUAL(b->policy.memory_max, 512LL << 20);
    CU_ASSERT_EQUAL(b->policy.pids_max, 64);
    CU_ASSERT_EQUAL(b->policy.cpu_max.quota_us, 50000);
    CU_ASSERT_EQUAL(b->policy.cpu_max.period_us, 100000);
    CU_ASSERT_EQUAL(b->policy.io_weight, 0);
    /* Nothing set: no limit at all. */
    CU_ASSERT_EQUAL(c->policy.memory_max, 0);
    CU_ASSERT_EQUAL(c->policy.memory_high, 0);
    CU_ASSERT_EQUAL(c->policy.pids_max, 0);
    CU_ASSERT_EQUAL(c->policy.cpu_weight, 0);
    CU_ASSERT_EQUAL(c->policy.io_weight, 0);
    CU_ASSERT_EQUAL(c->policy.cpu_max.quota_us, 0);
    inv_free(inv);
    inv_errors_free(&errs);

    /* The defaults: containment on, the root found automatically. */
    inv_errors_init(&errs);
    inv = inv_load_buf("d.conf", "service \"svc\" { command = \"/bin/sleep\" }\ninstance \"svc-a\" { service = \"svc\" }\n", strlen("service \"svc\" { command = \"/bin/sleep\" }\ninstance \"svc-a\" { service = \"svc\" }\n"),
                       &errs);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_EQUAL(inv->cgroups, 1);
    CU_ASSERT(inv->cgroup_root == NULL);
    inv_free(inv);
    inv_errors_free(&errs);
}

static void test_instance_same(void)
{
    static const char base[] =
        "service \"exchange-simulator\" {\n command = \"/bin/sleep\"\n args = {\"60\"}\n}\n"
        "instance \"exchange-A\" {\n service = \"exchange-simulator\"\n port = 9001\n}\n"
        "instance \"exchange-B\" {\n service = \"exchange-simulator\"\n port = %d\n}\n";
    char text[1024];
    char *p1, *p2;
    inv_errors_t e;
    inventory_t *a, *b;

    snprintf(text, sizeof(text), base, 9002);
    p1 = write_temp(text);
    snprintf(text, sizeof(text), base, 9003);
    p2 = write_temp(text);
    inv_errors_init(&e);
    a = inv_load(p1, &e);
    b = inv_load(p2, &e);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT(inv_instance_diff(a, inv_find_instance(a, "exchange-A"), b,
                                inv_find_instance(b, "exchange-A")) == NULL);
    {
        const char *why = inv_instance_diff(a, inv_find_instance(a, "exchange-B"), b,
                                            inv_find_instance(b, "exchange-B"));
        CU_ASSERT(why != NULL && strcmp(why, "port") == 0);
    }
    inv_free(b);
    unlink(p2);
    free(p2);

    /* Turning provisioning on, or moving its state, changes every instance's
     * credentials: a worker still holding the admin URLs must be restarted. */
    for (int k = 0; k < 2; k++) {
        {
            char filled[768];
            CU_ASSERT_FATAL(snprintf(filled, sizeof(filled), base, 9002) < (int)sizeof(filled));
            snprintf(text, sizeof(text), "%s%s", k == 0 ? "provision = true\n"
                                                        : "state_dir = \"/tmp/elsewhere\"\n",
                     filled);
        }
        p2 = write_temp(text);
        b = inv_load(p2, &e);
        CU_ASSERT_FATAL(b != NULL);
        {
            const char *why = inv_instance_diff(a, inv_find_instance(a, "exchange-A"), b,
                                                inv_find_instance(b, "exchange-A"));
            CU_ASSERT(why != NULL && strcmp(why, k == 0 ? "provision" : "state_dir") == 0);
        }
        inv_free(b);
        unlink(p2);
        free(p2);
    }
    inv_free(a);
    inv_errors_free(&e);
    unlink(p1);
    free(p1);
}

static void test_relative_paths(void)
{
    char *p = write_temp("volumes_root = \"vol\"\nprovision = ${INSTANCED_TEST_NOPE:-true}\n"
                         "service \"svc\" {\n command = \"bin/w\"\n}\n"
                         "service \"other\" {\n command = \"sleep\"\n}\n"
                         "instance \"svc\" {\n service = \"svc\"\n}\n");
    inv_errors_t e;
    inventory_t *inv;

    inv_errors_init(&e);
    inv = inv_load(p, &e);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_STRING_EQUAL(inv->volumes_root, "/tmp/vol");
    CU_ASSERT_EQUAL(inv->provision, 1); /* an unquoted ${VAR:-default} */
    CU_ASSERT_STRING_EQUAL(inv->services[0].command, "/tmp/bin/w");
    CU_ASSERT_STRING_EQUAL(inv->services[1].command, "sleep");
    CU_ASSERT_STRING_EQUAL(inv->instances[0].data_dir, "/tmp/vol/svc/data");
    inv_free(inv);
    inv_errors_free(&e);
    unlink(p);
    free(p);
}

/* ---- one fixture per rejection rule ----------------------------------------------
 * Each file in tests/fixtures/reject holds "# expect: LINE: text" comments; the load
 * must fail and, for each, report "FILE:LINE: ...text...". */
static void test_rejections(void)
{
    char *dir = path_in_srcdir("tests/fixtures/reject");
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;

    CU_ASSERT_FATAL(d != NULL);
    setenv("INSTANCED_TEST_UNSET_WITH_DEFAULT", "", 0);
    unsetenv("INSTANCED_TEST_UNSET_WITH_DEFAULT");
    while ((de = readdir(d)) != NULL) {
        char *path, line[512];
        FILE *f;
        inv_errors_t errs;
        inventory_t *inv;
        int expects = 0;

        if (!strstr(de->d_name, ".conf"))
            continue;
        files++;
        if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
            continue;
        inv_errors_init(&errs);
        inv = inv_load(path, &errs);
        CU_ASSERT(inv == NULL);
        if (inv)
            fprintf(stderr, "\n  %s was accepted\n", de->d_name);
        f = fopen(path, "r");
        CU_ASSERT_FATAL(f != NULL);
        while (fgets(line, sizeof(line), f)) {
            char want[1024], *text;
            int lno;
            if (sscanf(line, "# expect: %d:", &lno) != 1)
                continue;
            expects++;
            text = strchr(strchr(line, ':') + 1, ':') + 1;
            text[strcspn(text, "\n")] = '\0';
            snprintf(want, sizeof(want), "%s:%d: ", path, lno);
            while (*text == ' ')
                text++;
            if (!errors_contain(&errs, want, text)) {
                fprintf(stderr, "\n  %s: missing \"%d:%s\"; got:\n", de->d_name, lno, text);
                dump_errors(&errs);
            }
            CU_ASSERT(errors_contain(&errs, want, text));
        }
        fclose(f);
        CU_ASSERT(expects > 0);
        /* Nothing beyond the expected errors (a rule must not fire by accident). */
        if (errs.n != (size_t)expects && strcmp(de->d_name, "syntax-error.conf") != 0) {
            fprintf(stderr, "\n  %s: %zu errors, %d expected:\n", de->d_name, errs.n, expects);
            dump_errors(&errs);
        }
        if (strcmp(de->d_name, "syntax-error.conf") != 0)
            CU_ASSERT_EQUAL(errs.n, (size_t)expects);
        inv_free(inv);
        inv_errors_free(&errs);
        free(path);
    }
    closedir(d);
    free(dir);
    CU_ASSERT(files >= 20);
}


/* ---- hostile inventories ----------------------------------------------------------
 * Each buffer goes through inv_load_buf and, written to a file, through inv_load: both
 * must reject it with "NAME:LINE: ...want..." (or "NAME: ...want..." for line 0, a
 * problem with the whole file), never print a ":0:" line, and never echo `secret`. */

#define OK_SERVICE "service \"svc\" {\n command = \"/bin/sleep\"\n}\n"
#define OK_INSTANCE "instance \"svc-a\" {\n service = \"svc\"\n}\n"

/* text with every '^' replaced by a NUL byte and every '~' by the byte 0x01, then
 * repeat times the string fill (for the deep and long cases), then tail. */
static char *hostile_text(const char *text, const char *fill, size_t repeat, const char *tail,
                          size_t *len)
{
    size_t n = strlen(text), f = strlen(fill), t = strlen(tail);
    char *buf = malloc(n + repeat * f + t + 1);

    CU_ASSERT_FATAL(buf != NULL);
    for (size_t i = 0; i < n; i++)
        buf[i] = text[i] == '^' ? '\0' : text[i] == '~' ? '\x01' : text[i];
    for (size_t i = 0; i < repeat; i++)
        memcpy(buf + n + i * f, fill, f);
    memcpy(buf + n + repeat * f, tail, t + 1);
    *len = n + repeat * f + t;
    return buf;
}

static void check_rejected(const char *what, const char *name, inventory_t *inv,
                           const inv_errors_t *errs, int line, const char *want,
                           const char *secret)
{
    char prefix[512];
    int found;

    if (line > 0)
        snprintf(prefix, sizeof(prefix), "%s:%d: ", name, line);
    else
        snprintf(prefix, sizeof(prefix), "%s: ", name);
    found = errors_contain(errs, prefix, want);
    if (inv || !found) {
        fprintf(stderr, "\n  %s: want \"%s%s\"%s; got:\n", what, prefix, want,
                inv ? " (it was accepted)" : "");
        dump_errors(errs);
    }
    CU_ASSERT(inv == NULL);
    CU_ASSERT(found);
    for (size_t i = 0; i < errs->n; i++) {
        CU_ASSERT(strstr(errs->v[i].text, ":0:") == NULL);
        if (secret)
            CU_ASSERT(strstr(errs->v[i].text, secret) == NULL);
    }
}

static void test_hostile(void)
{
    static const struct {
        const char *what, *text, *fill;
        size_t repeat;
        const char *tail;
        int line;
        const char *want, *secret;
    } cases[] = {
        /* A NUL once made the scanner stop while libconfuse read on: the unknown key,
         * the duplicate and the unset variable after it went unnoticed. */
        { "NUL after a comment", "# header^\nbogus = 1\n" OK_SERVICE OK_SERVICE
          "x = ${INSTANCED_TEST_SURELY_UNSET}\n" OK_INSTANCE, "", 0, "", 1, "NUL byte", NULL },
        { "control byte", OK_SERVICE "# a~b\n" OK_INSTANCE, "", 0, "", 4,
          "control character 0x01", NULL },
        { "escape byte", "environment = \"prod\x1b[2J\"\n" OK_SERVICE OK_INSTANCE, "", 0, "", 1,
          "control character 0x1b", NULL },
        /* 80,000 '{' overflowed libconfuse's stack (exit 139). */
        { "deep braces after NUL", "#^\nx", "{", 80000, "", 1, "NUL byte", NULL },
        { "deep braces on one line", "x", "{", 80000, "", 1, "more than the 8192 allowed",
          NULL },
        { "deep braces in a value", OK_SERVICE "instance \"svc-a\" {\n service = ", "{\n",
          80000, "", 6, "syntax error: expected a list item", NULL },
        { "deep braces as sections", "x ", "{\n", 80000, "", 1, "needs a name", NULL },
        /* An 8 MB comment line took libconfuse 28 s. */
        { "long line", OK_SERVICE "# ", "x", 3 * INV_MAX_LINE, "\n" OK_INSTANCE, 4,
          "more than the 8192 allowed", NULL },
        { "long quoted string", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " health_path = \"/", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
          INV_MAX_LINE / 64 + 1, "\"\n}\n", 6, "a value longer than", NULL },
        { "empty file", "", "", 0, "", 0, "no instance is defined", NULL },
        { "comments only", "# nothing here\n", "", 0, "", 0, "no instance is defined", NULL },
        { "services only", OK_SERVICE, "", 0, "", 0, "no instance is defined", NULL },
        /* The value of an env entry whose '=' is missing was echoed. */
        { "env without =", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " env = {\"DB_TOKEN TOPSECRET\"}\n}\n", "", 0, "", 6,
          "env entry 1 (\"DB_TOKEN ...\") must be NAME=value", "TOPSECRET" },
        { "env of one word", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " env = {\"A=1\", \"hunter2hunter2\"}\n}\n", "", 0, "", 6,
          "env entry 2 must be NAME=value", "hunter2" },
        { "secret in a syntax error", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " env = {\"A=1\" \"TOKEN=hunter2\"}\n}\n", "", 0, "", 6, "found a quoted string",
          "hunter2" },
        { "bare secret", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " DB_TOKEN TOPSECRET\n}\n", "", 0, "", 6,
          "expected '=' after a key, found an unquoted value", "TOPSECRET" },
        { "bare secret at the top", OK_SERVICE "DB_TOKEN TOPSECRET\n" OK_INSTANCE, "", 0, "",
          5, "syntax error: expected '{' after the section name", "TOPSECRET" },
        { "secret URL too long", "postgres_url = \"postgresql://u:hunter2@h/", "d", 1100,
          "\"\n" OK_SERVICE OK_INSTANCE, 1, "postgres_url is longer than 1024", "hunter2" },
        /* A 401-byte health_path passed and was truncated into the probe's URL. */
        { "health_path too long", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " health_path = \"/", "h", INV_MAX_HEALTH_PATH, "\"\n}\n", 6,
          "health_path is 257 bytes long, more than the 256 allowed", NULL },
        { "health_path relative", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " health_path = \"health\"\n}\n", "", 0, "", 6, "must start with /", NULL },
        { "log_backups", OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
          " log_backups = 100000\n}\n", "", 0, "", 6, "log_backups must be at most 100", NULL },
        { "socket path", "control_socket = \"/", "s", 120, "\"\n" OK_SERVICE OK_INSTANCE, 1,
          "control_socket is longer than", NULL },
        { "include", "include(\"/etc/passwd\")\n" OK_SERVICE OK_INSTANCE, "", 0, "", 1,
          "syntax error", NULL },
    };

    unsetenv("INSTANCED_TEST_SURELY_UNSET");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *buf = hostile_text(cases[i].text, cases[i].fill, cases[i].repeat, cases[i].tail,
                                 &len);
        char *path = strdup("/tmp/instanced-unit-XXXXXX");
        int fd = mkstemp(path);
        inv_errors_t errs;
        inventory_t *inv;

        inv_errors_init(&errs);
        inv = inv_load_buf("mem.conf", buf, len, &errs);
        check_rejected(cases[i].what, "mem.conf", inv, &errs, cases[i].line, cases[i].want,
                       cases[i].secret);
        inv_free(inv);
        inv_errors_free(&errs);

        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(write(fd, buf, len) == (ssize_t)len);
        close(fd);
        inv_errors_init(&errs);
        inv = inv_load(path, &errs);
        check_rejected(cases[i].what, path, inv, &errs, cases[i].line, cases[i].want,
                       cases[i].secret);
        inv_free(inv);
        inv_errors_free(&errs);
        unlink(path);
        free(path);
        free(buf);
    }
}

/* A file of 3000 mistakes yields INV_MAX_ERRORS errors in line order and one last
 * line with the count of the others, not 3000 lines (nor quadratic work). */
static void test_error_cap(void)
{
    size_t cap = 3000 * 16 + 256, len = 0;
    char *buf = malloc(cap);
    inv_errors_t errs;

    CU_ASSERT_FATAL(buf != NULL);
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(buf + len, cap - len, "bogus%d = 1\n", i);
    len += (size_t)snprintf(buf + len, cap - len, OK_SERVICE OK_INSTANCE);
    inv_errors_init(&errs);
    CU_ASSERT(inv_load_buf("many.conf", buf, len, &errs) == NULL);
    CU_ASSERT_EQUAL_FATAL(errs.n, INV_MAX_ERRORS + 1);
    CU_ASSERT(strcmp(errs.v[errs.n - 1].text, "many.conf: 2000 more errors not shown "
                     "(at most 1000 are)") == 0);
    for (size_t i = 1; i + 1 < errs.n; i++)
        CU_ASSERT(errs.v[i].line == errs.v[i - 1].line + 1);
    inv_errors_free(&errs);
    free(buf);
}

/* The limits themselves are allowed, and a buffer loads as its file would. */
static void test_limits_accepted(void)
{
    char text[1024], *path;
    inv_errors_t errs;
    inventory_t *inv;
    char hp[INV_MAX_HEALTH_PATH + 1];

    memset(hp, 'h', sizeof(hp) - 1);
    hp[0] = '/';
    hp[sizeof(hp) - 1] = '\0';
    snprintf(text, sizeof(text), OK_SERVICE "instance \"svc-a\" {\n service = \"svc\"\n"
             " log_backups = %d\n health_path = \"%s\"\n env = {\"DB_TOKEN=x\"}\n}\n"
             "volumes_root = \"vol\"\n", INV_MAX_LOG_BACKUPS, hp);
    inv_errors_init(&errs);
    inv = inv_load_buf("sub/mem.conf", text, strlen(text), &errs);
    dump_errors(&errs);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_EQUAL(inv->instances[0].policy.log_backups, INV_MAX_LOG_BACKUPS);
    CU_ASSERT_EQUAL(strlen(inv->instances[0].policy.health_path), INV_MAX_HEALTH_PATH);
    /* Relative paths hang off the directory of the name, taken from the cwd. */
    {
        char cwd[4096], want[4200];
        CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
        snprintf(want, sizeof(want), "%s/sub/vol", cwd);
        CU_ASSERT_STRING_EQUAL(inv->volumes_root, want);
    }
    inv_free(inv);
    path = write_temp(text);
    inv = inv_load(path, &errs);
    CU_ASSERT(inv != NULL && inv->ninstances == 1);
    inv_free(inv);
    unlink(path);
    free(path);
    inv_errors_free(&errs);
}

/* inv_load on path in a child that the alarm kills after 10 s (the old loader blocked
 * on a FIFO for ever and read /dev/zero until memory ran out, so the test must not
 * depend on the loader returning). The child exits 0 when the load failed at once
 * with an error containing want. */
static int load_in_child(const char *path, const char *want)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        struct rlimit as = { 1UL << 30, 1UL << 30 };
        inv_errors_t errs;
        inventory_t *inv;
        /* Not under AddressSanitizer: its shadow memory alone is far over the limit,
         * so every mapping it makes after this would fail (the alarm still bounds
         * the child). */
#ifndef __has_feature
#define __has_feature(x) 0 /* gcc says __SANITIZE_ADDRESS__ instead */
#endif
#if !defined(__SANITIZE_ADDRESS__) && !__has_feature(address_sanitizer)
        setrlimit(RLIMIT_AS, &as);
#else
        (void)as;
#endif
        alarm(10);
        inv_errors_init(&errs);
        inv = inv_load(path, &errs);
        if (!inv && errs.n == 1 && strstr(errs.v[0].text, want) &&
            strncmp(errs.v[0].text, path, strlen(path)) == 0 &&
            errs.v[0].text[strlen(path)] == ':' && errs.v[0].text[strlen(path) + 1] == ' ')
            _exit(0);
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "    | %s\n", errs.v[i].text);
        _exit(1);
    }
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
        fprintf(stderr, "\n  loading %s: killed by signal %d\n", path, WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_not_a_file(void)
{
    char dir[] = "/tmp/instanced-unit-XXXXXX", fifo[64];

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(fifo, sizeof(fifo), "%s/inv.conf", dir);
    CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
    CU_ASSERT_EQUAL(load_in_child(fifo, "not a regular file (a FIFO)"), 0);
    CU_ASSERT_EQUAL(load_in_child("/dev/zero", "not a regular file (a device)"), 0);
    CU_ASSERT_EQUAL(load_in_child(dir, "not a regular file (a directory)"), 0);
    unlink(fifo);
    rmdir(dir);
}

static void test_missing_file(void)
{
    inv_errors_t e;
    inv_errors_init(&e);
    CU_ASSERT(inv_load("/nonexistent/instanced.conf", &e) == NULL);
    /* A problem with the whole file names no line (never ":0:"). */
    CU_ASSERT(e.n == 1 && strstr(e.v[0].text, "/nonexistent/instanced.conf: cannot open"));
    inv_errors_free(&e);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("naming", NULL, NULL);
    CU_add_test(s, "derivation vectors", test_derivation_vectors);
    CU_add_test(s, "name rules", test_name_rules);
    s = CU_add_suite("logging", NULL, NULL);
    CU_add_test(s, "masking", test_masking);
    CU_add_test(s, "logfmt", test_logfmt);
    s = CU_add_suite("inventory", NULL, NULL);
    CU_add_test(s, "values", test_values);
    CU_add_test(s, "example inventory", test_example_inventory);
    CU_add_test(s, "worker env contract", test_worker_env_contract);
    CU_add_test(s, "containment keys", test_containment_keys);
    CU_add_test(s, "instance same", test_instance_same);
    CU_add_test(s, "relative paths", test_relative_paths);
    CU_add_test(s, "rejections", test_rejections);
    CU_add_test(s, "missing file", test_missing_file);
    CU_add_test(s, "hostile inventories", test_hostile);
    CU_add_test(s, "limits accepted", test_limits_accepted);
    CU_add_test(s, "error cap", test_error_cap);
    CU_add_test(s, "FIFO, device, directory", test_not_a_file);

    return cu_run_all();
}
