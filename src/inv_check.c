/* inv_check.c - inventory checks: lists, env entries, policies, probes, and the cross-
 * checks across instances (names, schemas, namespaces, ports, dependencies). */
#include "config.h"

#include "inv_private.h"
#include "mask.h"
#include "naming.h"
#include "probe_conf.h"
#include "workerenv.h"
#include "xalloc.h"

#include <ctype.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* A list's length and each item's, without echoing an item (it may be a secret). */
void inv_check_list(loader_t *ld, char **v, size_t n, const char *name,
                    const scan_t *sc, long sec)
{
    if (n > INV_MAX_LIST)
        inv_add_error(ld, inv_sec_line(sc, sec, name), "%s has %zu items, more than the %d allowed",
                      name, n, INV_MAX_LIST);
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) > INV_MAX_VALUE) {
            inv_add_error(ld, inv_sec_line(sc, sec, name), "%s: item %zu is longer than %d bytes",
                          name, i + 1, INV_MAX_VALUE);
            break;
        }
}

void inv_check_env_list(loader_t *ld, char **env, const scan_t *sc, long sec)
{
    for (char **e = env; e && *e; e++) {
        const wenv_var_t *var;
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : 0;
        int ok = n > 0 && (isalpha((unsigned char)**e) || **e == '_');
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)(*e)[i]) || (*e)[i] == '_';
        if (!ok) {
            /* The entry is most likely NAME and a secret with the '=' missing
             * ("DB_TOKEN TOPSECRET"): show what stands before the first space or
             * '=', if anything does and it looks like a name, never the rest. */
            size_t nl = strcspn(*e, " \t=");
            int name_like = nl > 0 && nl <= 64 && (*e)[nl] != '\0';
            for (size_t i = 0; name_like && i < nl; i++)
                name_like = isalnum((unsigned char)(*e)[i]) || (*e)[i] == '_';
            if (name_like)
                inv_add_error(ld, inv_sec_line(sc, sec, "env"),
                              "env entry %zu (\"%.*s ...\") must be NAME=value; its value is "
                              "not shown", (size_t)(e - env) + 1, (int)nl, *e);
            else
                inv_add_error(ld, inv_sec_line(sc, sec, "env"),
                              "env entry %zu must be NAME=value; it is not shown, as it may "
                              "hold a secret", (size_t)(e - env) + 1);
            continue;
        }
        /* A worker told a different SCHEMA_NAME would step outside its walls: the
         * contract's variables are the supervisor's to set (LOG_LEVEL and PATH
         * excepted, see workerenv.c). */
        if ((var = wenv_reserved(*e, n)) != NULL)
            inv_add_error(ld, inv_sec_line(sc, sec, "env"),
                          "env may not set %s: instanced sets it for the worker", var->name);
    }
}

static int valid_user_or_group(const char *s)
{
    if (!s || !*s || strlen(s) > 32 || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

/* Line of a policy key for an instance: where the instance sets it, else where its
 * service does, else the instance's own line. */
static int policy_line(const scan_t *sc, const char *inst, const char *svc, const char *key)
{
    int l = inv_line_of(sc, "instance", inst, NULL), k = inv_line_of(sc, "instance", inst, key);
    if (k != l)
        return k;
    k = inv_line_of(sc, "service", svc, key);
    return k && k != inv_line_of(sc, "service", svc, NULL) ? k : l;
}

/* getpwnam/getgrnam once per distinct name and load, not once per instance. */
static int account_exists(loader_t *ld, const char *name, int group)
{
    size_t v = inv_hm_get(&ld->accounts, group, name, strlen(name));

    if (v == NONE) {
        v = group ? getgrnam(name) != NULL : getpwnam(name) != NULL;
        inv_hm_put_first(&ld->accounts, group, name, strlen(name), v);
    }
    return (int)v;
}

void inv_check_policy(loader_t *ld, const scan_t *sc, const char *inst, const char *svc,
                      const inv_policy_t *p)
{
    if (p->health_path && strlen(p->health_path) > INV_MAX_HEALTH_PATH)
        inv_add_error(ld, policy_line(sc, inst, svc, "health_path"),
                      "health_path is %zu bytes long, more than the %d allowed",
                      strlen(p->health_path), INV_MAX_HEALTH_PATH);
    else if (p->health_path && p->health_path[0] != '/') {
        char shown[INV_MAX_HEALTH_PATH + 16];
        inv_add_error(ld, policy_line(sc, inst, svc, "health_path"),
                      "health_path \"%s\" must start with /",
                      mask_secrets(p->health_path, shown, sizeof(shown)));
    }
    if (p->health_path)
        for (const char *c = p->health_path; *c; c++)
            if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                inv_add_error(ld, policy_line(sc, inst, svc, "health_path"),
                              "health_path may not contain spaces or control characters");
                break;
            }
    if (p->user && !valid_user_or_group(p->user))
        inv_add_error(ld, policy_line(sc, inst, svc, "user"), "user \"%s\" is not a valid name",
                      p->user);
    else if (p->user && !account_exists(ld, p->user, 0))
        inv_add_error(ld, policy_line(sc, inst, svc, "user"), "user \"%s\" does not exist",
                      p->user);
    if (p->group && !valid_user_or_group(p->group))
        inv_add_error(ld, policy_line(sc, inst, svc, "group"), "group \"%s\" is not a valid name",
                      p->group);
    else if (p->group && !account_exists(ld, p->group, 1))
        inv_add_error(ld, policy_line(sc, inst, svc, "group"), "group \"%s\" does not exist",
                      p->group);
    if (p->restart_delay_max_ms < p->restart_delay_ms)
        inv_add_error(ld, policy_line(sc, inst, svc, "restart_delay_max"),
                      "restart_delay_max is shorter than restart_delay");
    if (p->start_limit_burst < 1)
        inv_add_error(ld, policy_line(sc, inst, svc, "start_limit_burst"),
                      "start_limit_burst must be at least 1");
    if (p->successes_before_healthy < 1 || p->failures_before_unhealthy < 1)
        inv_add_error(ld, policy_line(sc, inst, svc, p->successes_before_healthy < 1
                              ? "successes_before_healthy" : "failures_before_unhealthy"),
                      "successes_before_healthy and failures_before_unhealthy must be at least 1");
    if (p->log_max_bytes < 4096)
        inv_add_error(ld, policy_line(sc, inst, svc, "log_max_bytes"),
                      "log_max_bytes must be at least 4KiB");
    /* memory.high above memory.max would never throttle: the OOM killer comes first. */
    if (p->memory_high && p->memory_max && p->memory_high != INV_LIMIT_MAX &&
        p->memory_high > p->memory_max)
        inv_add_error(ld, policy_line(sc, inst, svc, "memory_high"),
                      "memory_high is above memory_max: it would never apply");
    /* Each backup is one more file to rotate and list on every rotation. */
    if (p->log_backups > INV_MAX_LOG_BACKUPS)
        inv_add_error(ld, policy_line(sc, inst, svc, "log_backups"),
                      "log_backups must be at most %d", INV_MAX_LOG_BACKUPS);
}

static int check_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (!colon || colon == s)
        return -1;
    port = strtol(colon + 1, &end, 10);
    return (*end || port < 1 || port > 65535) ? -1 : (int)port;
}

/* ---- probe keys and placeholders (the rules are in probe_conf.c) --------------------- */

void inv_probe_report(void *arg, const char *key, const char *msg)
{
    probe_ctx_t *c = arg;

    inv_add_error(c->ld, c->inst ? policy_line(c->sc, c->inst, c->svc, key)
                             : inv_line_of(c->sc, "service", c->svc, key), "%s", msg);
}

/* health_command (the instance's list, else its service's) and the probe checks. */
void inv_check_probe(loader_t *ld, const scan_t *sc, const kcfg_t *sec, long si,
                     inv_instance_t *in, char **own_env)
{
    probe_ctx_t c = { ld, sc, in->name, in->service->name };
    const char *const *svc_cmd = (const char *const *)in->service->policy.health_command;
    size_t n;

    inv_strv_free(in->policy.health_command);
    in->policy.health_command = NULL;
    if (inv_has_list(sec, "health_command")) {
        in->policy.health_command = inv_copy_list(sec, "health_command", &n);
        inv_check_list(ld, in->policy.health_command, n, "health_command", sc,
                       si);
    } else if (svc_cmd) {
        for (n = 0; svc_cmd[n]; n++)
            ;
        in->policy.health_command = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            in->policy.health_command[i] = xstrdup(svc_cmd[i]);
    }
    pc_check_instance(in, own_env, inv_probe_report, &c);
}

/* Where each depends_on entry points: dep[first[i] .. first[i + 1]) are instance i's
 * dependencies as indexes, NONE for an undefined one. */
typedef struct deps {
    size_t *first, *dep;
} deps_t;

/* Report the first depends_on cycle found. Iterative depth-first search: a chain of
 * 100,000 dependencies must not overflow the stack. */
static void check_cycles(loader_t *ld, const scan_t *sc, const inventory_t *inv,
                         const deps_t *g)
{
    size_t n = inv->ninstances;
    unsigned char *color = xcalloc(n ? n : 1, 1);
    size_t *node = xcalloc(n ? n : 1, sizeof(size_t)), *next = xcalloc(n ? n : 1, sizeof(size_t));

    for (size_t r = 0; r < n; r++) {
        size_t sp = 1;
        if (color[r])
            continue;
        node[0] = r;
        next[0] = g->first[r];
        color[r] = 1;
        while (sp > 0) {
            size_t u = node[sp - 1], v, start = 0, len = 0;
            char cycle[1024];
            if (next[sp - 1] == g->first[u + 1]) {
                color[u] = 2;
                sp--;
                continue;
            }
            v = g->dep[next[sp - 1]++];
            if (v == NONE || color[v] == 2)
                continue;
            if (color[v] == 0) {
                color[v] = 1;
                node[sp] = v;
                next[sp++] = g->first[v];
                continue;
            }
            while (node[start] != v)
                start++;
            for (size_t k = start; k <= sp; k++) {
                /* "a -> b -> a", cut with " ..." when it does not fit. */
                const char *name = inv->instances[k < sp ? node[k] : v].name;
                size_t nl = strlen(name), room = sizeof(cycle) - 8 - len;
                if (nl + 4 > room) {
                    memcpy(cycle + len, " ...", 4);
                    len += 4;
                    break;
                }
                memcpy(cycle + len, name, nl);
                len += nl;
                if (k < sp) {
                    memcpy(cycle + len, " -> ", 4);
                    len += 4;
                }
            }
            cycle[len] = '\0';
            inv_add_error(ld, inv_line_of(sc, "instance", inv->instances[v].name, "depends_on"),
                          "depends_on forms a cycle: %s", cycle);
            goto done;
        }
    }
done:
    free(color);
    free(node);
    free(next);
}

/* Line of key a, else of key b, at the top level. */
static int global_line(const scan_t *sc, const char *a, const char *b)
{
    int l = inv_line_of(sc, NULL, NULL, a);
    return l ? l : inv_line_of(sc, NULL, NULL, b);
}

void inv_check_across(loader_t *ld, const scan_t *sc, inventory_t *inv)
{
    int status_port = inv->status_listen ? check_listen(inv->status_listen) : -1;
    size_t n = inv->ninstances, ndeps = 0;
    size_t *count = xcalloc(inv->nservices ? inv->nservices : 1, sizeof(size_t));
    size_t *port_owner = xmalloc(65536 * sizeof(size_t));
    hmap_t lower = { .nocase = 1 }, schemas = { 0 }, spaces = { 0 };
    deps_t g;

    if (inv->status_max_connections > 65536)
        inv_add_error(ld, inv_line_of(sc, NULL, NULL, "status_max_connections"),
                      "status_max_connections must be at most 65536 (0: automatic)");
    if (inv->status_listen && status_port < 0)
        inv_add_error(ld, inv_line_of(sc, NULL, NULL, "status_listen"),
                      "status_listen \"%.100s\" must be HOST:PORT", inv->status_listen);
    if (inv->control_socket &&
        strlen(inv->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        inv_add_error(ld, inv_line_of(sc, NULL, NULL, "control_socket"),
                      "control_socket is longer than the %zu bytes a socket path may have",
                      sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    if (inv->postgres_url && strlen(inv->postgres_url) > INV_MAX_URL)
        inv_add_error(ld, inv_line_of(sc, NULL, NULL, "postgres_url"),
                      "postgres_url is longer than %d bytes", INV_MAX_URL);
    if (inv->redis_url && strlen(inv->redis_url) > INV_MAX_URL)
        inv_add_error(ld, inv_line_of(sc, NULL, NULL, "redis_url"),
                      "redis_url is longer than %d bytes", INV_MAX_URL);
    /* A health_timeout left to its default adapts to a shorter health_interval; one
     * the user wrote is checked, and reported at its own line. */
    if (inv->health_interval_ms >= 0 && inv->health_timeout_ms > inv->health_interval_ms &&
        inv_line_of(sc, NULL, NULL, "health_timeout") == 0)
        inv->health_timeout_ms = inv->health_interval_ms;
    if (inv->health_interval_ms >= 0 && inv->health_timeout_ms >= 0 &&
        (inv->health_timeout_ms == 0 || inv->health_timeout_ms > inv->health_interval_ms))
        inv_add_error(ld, global_line(sc, "health_timeout", "health_interval"),
                      "health_timeout must be above 0 and at most health_interval");
    if (inv->health_interval_ms >= 0 && inv->health_interval_ms < 100)
        inv_add_error(ld, inv_line_of(sc, NULL, NULL, "health_interval"),
                      "health_interval must be at least 100ms");
    for (size_t i = 0; i < inv->nlegacy; i++) {
        char err[256];
        if (nm_check_schema(inv->legacy_schemas[i], err, sizeof(err)) < 0)
            inv_add_error(ld, inv_line_of(sc, NULL, NULL, "legacy_schemas"),
                          "legacy_schemas: %s", err);
    }

    /* Singleton services: each instance of one must bear its name, and one must exist. */
    for (size_t j = 0; j < n; j++) {
        const inv_instance_t *in = &inv->instances[j];
        const inv_service_t *s = in->service;
        if (!s || !s->singleton)
            continue;
        count[s - inv->services]++;
        if (strcmp(in->name, s->name) != 0)
            inv_add_error(ld, in->line, "service \"%s\" is a singleton: its one instance must "
                          "be named \"%s\", not \"%s\"", s->name, s->name, in->name);
    }
    for (size_t i = 0; i < inv->nservices; i++)
        if (inv->services[i].singleton && count[i] == 0)
            inv_add_error(ld, inv->services[i].line, "singleton service \"%s\" has no instance "
                          "\"%s\"", inv->services[i].name, inv->services[i].name);

    /* Pairs that may not collide, each found through a table of the earlier ones. */
    inv_hm_reserve(&lower, n);
    inv_hm_reserve(&schemas, n);
    inv_hm_reserve(&spaces, 2 * n);
    for (size_t p = 0; p < 65536; p++)
        port_owner[p] = NONE;
    for (size_t i = 0; i < n; i++) {
        const inv_instance_t *a = &inv->instances[i];
        size_t j;
        ndeps += a->ndeps;
        if (a->port && a->port == status_port)
            inv_add_error(ld, inv_line_of(sc, "instance", a->name, "port"),
                          "port %d of \"%s\" is the status_listen port", a->port, a->name);
        if ((j = inv_hm_put_first(&lower, 0, a->name, strlen(a->name), i)) != NONE)
            inv_add_error(ld, a->line, "instance \"%s\" differs from \"%s\" (line %d) only in "
                          "case", a->name, inv->instances[j].name, inv->instances[j].line);
        if (a->schema &&
            (j = inv_hm_put_first(&schemas, 0, a->schema, strlen(a->schema), i)) != NONE)
            inv_add_error(ld, inv_line_of(sc, "instance", a->name, "schema"),
                          "instance \"%s\" has schema \"%s\", already used by \"%s\" (line %d)",
                          a->name, a->schema, inv->instances[j].name, inv->instances[j].line);
        if (a->namespace) {
            /* Two namespaces overlap when one is the other or a prefix of it ending at
             * a ':'. Table tag 0 holds every earlier namespace, tag 1 every proper
             * ':'-prefix of one: look up a's prefixes (and a itself) in the first, a
             * in the second. */
            const char *ns = a->namespace;
            size_t len = strlen(ns);
            for (size_t k = 1; k <= len; k++) {
                if (k < len && ns[k] != ':')
                    continue;
                if ((j = inv_hm_get(&spaces, 0, ns, k)) != NONE)
                    inv_add_error(ld, inv_line_of(sc, "instance", a->name, "namespace"),
                                  "namespace \"%s\" of \"%s\" overlaps namespace \"%s\" of \"%s\" "
                                  "(line %d)", ns, a->name, inv->instances[j].namespace,
                                  inv->instances[j].name, inv->instances[j].line);
            }
            if ((j = inv_hm_get(&spaces, 1, ns, len)) != NONE)
                inv_add_error(ld, inv_line_of(sc, "instance", a->name, "namespace"),
                              "namespace \"%s\" of \"%s\" overlaps namespace \"%s\" of \"%s\" "
                              "(line %d)", ns, a->name, inv->instances[j].namespace,
                              inv->instances[j].name, inv->instances[j].line);
            inv_hm_put_first(&spaces, 0, ns, len, i);
            for (size_t k = 1; k < len; k++)
                if (ns[k] == ':')
                    inv_hm_put_first(&spaces, 1, ns, k, i);
        }
        if (a->port) {
            if (port_owner[a->port] != NONE)
                inv_add_error(ld, inv_line_of(sc, "instance", a->name, "port"),
                              "port %d of \"%s\" is already used by \"%s\" (line %d)", a->port,
                              a->name, inv->instances[port_owner[a->port]].name,
                              inv->instances[port_owner[a->port]].line);
            else
                port_owner[a->port] = i;
        }
    }

    g.first = xcalloc(n + 1, sizeof(size_t));
    g.dep = xcalloc(ndeps ? ndeps : 1, sizeof(size_t));
    for (size_t i = 0, k = 0; i < n; i++) {
        const inv_instance_t *a = &inv->instances[i];
        g.first[i] = k;
        for (size_t d = 0; d < a->ndeps; d++) {
            const inv_instance_t *dep = inv_find_instance(inv, a->depends_on[d]);
            g.dep[k++] = dep ? (size_t)(dep - inv->instances) : NONE;
            if (!dep)
                inv_add_error(ld, inv_line_of(sc, "instance", a->name, "depends_on"),
                              "instance \"%s\" depends on undefined instance \"%.100s\"", a->name,
                              a->depends_on[d]);
        }
        g.first[i + 1] = k;
    }
    check_cycles(ld, sc, inv, &g);

    free(g.first);
    free(g.dep);
    free(count);
    free(port_owner);
    inv_hm_free(&lower);
    inv_hm_free(&schemas);
    inv_hm_free(&spaces);
}
