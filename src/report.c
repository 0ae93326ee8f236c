/* report.c - JSON views of the supervisor's state, for the status endpoint and the
 * control socket. */
#include "config.h"

#include "report.h"

#include <stdio.h>

#include "health.h"

void report_time(char *buf, size_t len, time_t t)
{
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "1970-01-01T00:00:00Z");
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The message shown for an instance: its probe's, or why its state says unhealthy. */
static const char *instance_message(const sup_instance_t *in, health_status_t eff)
{
    if (in->state == SUP_WAITING && in->waiting_for.s)
        return text_get(&in->waiting_for);
    if ((in->state == SUP_FAILED || in->state == SUP_BACKOFF ||
         (in->state == SUP_STOPPED && in->wanted)) && in->last_exit.s)
        return text_get(&in->last_exit);
    if (in->state == SUP_FAILED)
        return "failed";
    if (in->state == SUP_PAUSED)
        return "paused (instancectl resume NAME thaws it)";
    if (in->state == SUP_STOPPED)
        return in->wanted ? "not running" : "stopped";
    if (eff == HEALTH_HEALTHY && in->health.status == HEALTH_UNKNOWN)
        return ""; /* judged by process state alone */
    return text_get(&in->health.message);
}

/* The fields of an entry of the combined health (docs/design.md, "HTTP endpoints"). */
static json_t *health_entry(const sup_instance_t *in)
{
    const inv_instance_t *c = in->cfg;
    health_status_t eff = health_effective(in);
    char ts[32];
    json_t *o = json_object();

    json_object_set_new(o, "status", json_string(health_status_name(eff)));
    json_object_set_new(o, "state", json_string(sup_state_name(in->state)));
    json_object_set_new(o, "pid", in->pid > 0 ? json_integer(in->pid) : json_null());
    json_object_set_new(o, "restarts", json_integer((json_int_t)in->restarts));
    json_object_set_new(o, "service", str_or_null(c && c->service ? c->service->name : NULL));
    json_object_set_new(o, "service_type", str_or_null(c ? c->service_type : NULL));
    json_object_set_new(o, "entity_type",
                        str_or_null(c && c->service ? c->service->entity_type : NULL));
    json_object_set_new(o, "schema", str_or_null(c ? c->schema : NULL));
    json_object_set_new(o, "namespace", str_or_null(c ? c->namespace : NULL));
    if (in->health.last_check) {
        report_time(ts, sizeof ts, in->health.last_check);
        json_object_set_new(o, "last_check", json_string(ts));
    } else {
        json_object_set_new(o, "last_check", json_null());
    }
    json_object_set_new(o, "latency_seconds", json_real(in->health.latency_seconds));
    json_object_set_new(o, "message", json_string(instance_message(in, eff)));
    return o;
}

json_t *report_health(const supervisor_t *sup, const char *version, time_t now)
{
    json_t *o = json_object(), *summary = json_object(), *insts = json_object();
    size_t counts[4] = { 0, 0, 0, 0 };
    char ts[32];

    for (size_t i = 0; i < sup->ninst; i++) {
        health_status_t h = health_effective(sup->inst[i]);
        counts[h]++;
        json_object_set_new(insts, sup->inst[i]->name, health_entry(sup->inst[i]));
    }
    json_object_set_new(summary, "healthy", json_integer((json_int_t)counts[HEALTH_HEALTHY]));
    json_object_set_new(summary, "degraded", json_integer((json_int_t)counts[HEALTH_DEGRADED]));
    json_object_set_new(summary, "unhealthy",
                        json_integer((json_int_t)counts[HEALTH_UNHEALTHY]));
    json_object_set_new(summary, "unknown", json_integer((json_int_t)counts[HEALTH_UNKNOWN]));
    report_time(ts, sizeof ts, now);
    json_object_set_new(o, "status", json_string(health_status_name(health_overall(sup->inst,
                                                                             sup->ninst))));
    json_object_set_new(o, "service", json_string("instanced"));
    json_object_set_new(o, "version", json_string(version));
    json_object_set_new(o, "environment",
                        str_or_null(sup->inv ? sup->inv->environment : NULL));
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "summary", summary);
    json_object_set_new(o, "instances", insts);
    return o;
}

static json_t *num_or_null(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *real_or_null(double v)
{
    return v >= 0 ? json_real(v) : json_null();
}

json_t *report_usage(const sup_instance_t *in)
{
    const struct sup_usage *u = &in->usage;

    if (!u->have)
        return json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:{s:o, s:o, s:o}}",
                     "cpu_seconds", json_real(u->cpu_seconds),
                     "cpu_percent", json_real(u->cpu_percent),
                     "memory_bytes", num_or_null(u->memory_bytes),
                     "memory_peak_bytes", num_or_null(u->memory_peak),
                     "pids", num_or_null(u->pids),
                     "oom_kills", (json_int_t)u->oom_kills,
                     "pressure", "cpu", real_or_null(u->cpu_pressure),
                     "memory", real_or_null(u->memory_pressure),
                     "io", real_or_null(u->io_pressure));
}

json_t *report_instance(const supervisor_t *sup, const sup_instance_t *in, time_t now)
{
    const inv_instance_t *c = in->cfg;
    json_t *o = health_entry(in);
    char ts[32];

    (void)sup;
    json_object_set_new(o, "name", json_string(in->name));
    json_object_set_new(o, "health", json_string(health_status_name(in->health.status)));
    json_object_set_new(o, "port", c && c->port ? json_integer(c->port) : json_null());
    json_object_set_new(o, "health_path", str_or_null(c ? c->policy.health_path : NULL));
    json_object_set_new(o, "critical", json_boolean(c ? c->policy.critical : 1));
    json_object_set_new(o, "wanted", json_boolean(in->wanted));
    json_object_set_new(o, "ready", json_boolean(in->ready));
    json_object_set_new(o, "discovery_key", str_or_null(c ? c->discovery_key : NULL));
    if (in->pid > 0 && in->started_at) {
        report_time(ts, sizeof ts, in->started_at);
        json_object_set_new(o, "started_at", json_string(ts));
        json_object_set_new(o, "uptime_seconds",
                            json_integer(now > in->started_at ? now - in->started_at : 0));
    } else {
        json_object_set_new(o, "started_at", json_null());
        json_object_set_new(o, "uptime_seconds", json_null());
    }
    json_object_set_new(o, "starts", json_integer((json_int_t)in->starts));
    json_object_set_new(o, "waiting_for", json_string(text_get(&in->waiting_for)));
    json_object_set_new(o, "last_exit", json_string(text_get(&in->last_exit)));
    json_object_set_new(o, "consecutive_failures", json_integer(in->health.consecutive_fail));
    json_object_set_new(o, "probes", json_integer((json_int_t)in->health.probes_total));
    json_object_set_new(o, "probe_failures",
                        json_integer((json_int_t)in->health.probe_failures_total));
    json_object_set_new(o, "usage", report_usage(in));
    return o;
}

json_t *report_provisioning(const supervisor_t *sup)
{
    char ok[32], failed[32];

    if (!sup->inv || !sup->inv->provision)
        return NULL;
    report_time(ok, sizeof ok, sup->prov.last_success);
    report_time(failed, sizeof failed, sup->prov.last_failure);
    return json_pack("{s:b, s:I, s:I, s:o, s:o, s:s}", "running", sup->prov.running,
                     "runs", (json_int_t)sup->prov.runs, "failures",
                     (json_int_t)sup->prov.failures, "last_success",
                     sup->prov.last_success ? json_string(ok) : json_null(), "last_failure",
                     sup->prov.last_failure ? json_string(failed) : json_null(),
                     "last_error", sup->prov.last_error);
}

json_t *report_instances(const supervisor_t *sup, time_t now)
{
    json_t *o = json_object(), *arr = json_array(), *prov;

    for (size_t i = 0; i < sup->ninst; i++)
        json_array_append_new(arr, report_instance(sup, sup->inst[i], now));
    json_object_set_new(o, "status",
                        json_string(health_status_name(health_overall(sup->inst, sup->ninst))));
    json_object_set_new(o, "instances", arr);
    if ((prov = report_provisioning(sup)))
        json_object_set_new(o, "provisioning", prov);
    return o;
}

/* Cluster mode (cluster.c, in instanced only): a node lists only the workers it runs,
 * so one Prometheus config naming every node finds each worker once. */
int cluster_runs_here(const supervisor_t *sup, const sup_instance_t *in) __attribute__((weak));

json_t *report_targets(const supervisor_t *sup)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < sup->ninst; i++) {
        const sup_instance_t *in = sup->inst[i];
        const inv_instance_t *c = in->cfg;
        json_t *g, *labels, *targets;
        char hp[64];

        if (!c || c->port <= 0)
            continue;
        if (cluster_runs_here && !cluster_runs_here(sup, in))
            continue;
        snprintf(hp, sizeof hp, "127.0.0.1:%d", c->port);
        targets = json_array();
        json_array_append_new(targets, json_string(hp));
        labels = json_object();
        json_object_set_new(labels, "service", json_string(c->service ? c->service->name : ""));
        json_object_set_new(labels, "instance_name", json_string(in->name));
        json_object_set_new(labels, "service_type", json_string(c->service_type));
        if (c->service && c->service->entity_type)
            json_object_set_new(labels, "entity_type", json_string(c->service->entity_type));
        g = json_object();
        json_object_set_new(g, "targets", targets);
        json_object_set_new(g, "labels", labels);
        json_array_append_new(arr, g);
    }
    return arr;
}
