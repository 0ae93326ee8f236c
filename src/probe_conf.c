/* probe_conf.c - the probe keys of an instance and the placeholders in its strings. */
#include "config.h"

#include "probe_conf.h"

#include <stdio.h>
#include <string.h>

#include "placeholder.h"

static const char *const kind_names[] = {
    [INV_HEALTH_AUTO] = "auto", [INV_HEALTH_NONE] = "none", [INV_HEALTH_JSON] = "json", [INV_HEALTH_HTTP] = "http",
    [INV_HEALTH_TCP] = "tcp",   [INV_HEALTH_EXEC] = "exec",
};

const char *pc_kind_name(inv_health_kind_t k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "none";
}

static void check_ph(const char *key, const char *s, pc_report_fn report, void *ctx)
{
    char err[160], msg[256];

    if (s && ph_check(s, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "%s: %s", key, err);
        report(ctx, key, msg);
    }
}

static void check_ph_list(const char *key, char *const *v, pc_report_fn report, void *ctx)
{
    for (; v && *v; v++)
        check_ph(key, *v, report, ctx);
}

void pc_check_service(const inv_service_t *s, pc_report_fn report, void *ctx)
{
    check_ph("command", s->command, report, ctx);
    check_ph_list("args", s->args, report, ctx);
    check_ph_list("env", s->env, report, ctx);
}

int pc_probe_port(const inv_instance_t *in)
{
    return in->policy.health_port > 0 ? in->policy.health_port : in->port;
}

inv_health_kind_t pc_kind(const inv_instance_t *in)
{
    if (in->policy.health_kind == INV_HEALTH_AUTO)
        return in->policy.health_path ? INV_HEALTH_JSON : INV_HEALTH_NONE;
    return in->policy.health_kind;
}

int pc_probed(const inv_instance_t *in)
{
    switch (pc_kind(in)) {
    case INV_HEALTH_AUTO:
    case INV_HEALTH_NONE: return 0;
    case INV_HEALTH_EXEC: return 1;
    default: return pc_probe_port(in) > 0;
    }
}

void pc_check_instance(inv_instance_t *in, char *const *own_env, pc_report_fn report,
                       void *ctx)
{
    inv_policy_t *p = &in->policy;
    int has_cmd = p->health_command && p->health_command[0];
    const char *kkey = p->health_check ? "health_check" : NULL;
    char msg[256];

    p->health_kind = INV_HEALTH_NONE;
    if (p->health_check) {
        size_t k;
        for (k = INV_HEALTH_NONE; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
            if (strcmp(p->health_check, kind_names[k]) == 0)
                break;
        if (k == sizeof(kind_names) / sizeof(kind_names[0])) {
            snprintf(msg, sizeof msg, "health_check \"%.40s\" is not json, http, tcp, exec "
                     "or none", p->health_check);
            report(ctx, "health_check", msg);
            return;
        }
        p->health_kind = (inv_health_kind_t)k;
    } else if (has_cmd && p->health_path) {
        report(ctx, "health_command", "health_command and health_path are both set: say "
               "which one probes with health_check = \"exec\" or \"json\"/\"http\"");
        return;
    } else if (has_cmd) {
        p->health_kind = INV_HEALTH_EXEC;
    } else if (p->health_path) {
        p->health_kind = INV_HEALTH_JSON;
    }

    switch (p->health_kind) {
    case INV_HEALTH_JSON:
        if (!p->health_path)
            report(ctx, "health_check", "health_check \"json\" needs a health_path");
        /* fall through */
    case INV_HEALTH_HTTP:
    case INV_HEALTH_TCP:
        /* An inferred json kind without a port keeps its old meaning (no probe runs);
         * a kind the user wrote must be able to connect somewhere. */
        if (kkey && pc_probe_port(in) == 0) {
            snprintf(msg, sizeof msg, "health_check \"%s\" needs a port (port or health_port)",
                     p->health_check);
            report(ctx, "health_check", msg);
        }
        if (has_cmd)
            report(ctx, "health_command", "health_command is only used with "
                   "health_check = \"exec\"");
        break;
    case INV_HEALTH_EXEC:
        if (!has_cmd)
            report(ctx, "health_check", "health_check \"exec\" needs a health_command "
                   "(the program and its arguments)");
        break;
    case INV_HEALTH_AUTO:
    case INV_HEALTH_NONE:
        break;
    }
    if (p->health_kind != INV_HEALTH_HTTP) {
        if (p->health_expect_status)
            report(ctx, "health_expect_status", "health_expect_status is only used with "
                   "health_check = \"http\"");
        if (p->health_expect_body)
            report(ctx, "health_expect_body", "health_expect_body is only used with "
                   "health_check = \"http\"");
    } else if (p->health_expect_status && (p->health_expect_status < 100 ||
                                           p->health_expect_status > 599)) {
        report(ctx, "health_expect_status", "health_expect_status must be an HTTP status "
               "code (100-599)");
    }
    if (p->health_port && (p->health_kind == INV_HEALTH_EXEC ||
                           p->health_kind == INV_HEALTH_NONE))
        report(ctx, "health_port", "health_port is only used with health_check = \"json\", "
               "\"http\" or \"tcp\"");
    check_ph("health_path", p->health_path, report, ctx);
    check_ph_list("health_command", p->health_command, report, ctx);
    check_ph_list("env", own_env, report, ctx);
}
