/* metrics.c - the supervisor's Prometheus text exposition (pure: writes to a FILE).
 *
 * Every per-instance series carries the labels the dashboards query: service, instance_name,
 * service_type and entity_type (empty, i.e. absent, when the service has none). */
#include "config.h"

#include "metrics.h"

#include <string.h>

#include "health.h"

void metrics_label_value(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', out), fputc(*s, out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels of in[,extra_key="extra_val"]} */
static void series(FILE *out, const char *name, const sup_instance_t *in,
                   const char *extra_key, const char *extra_val)
{
    const inv_instance_t *c = in->cfg;

    fprintf(out, "%s{service=\"", name);
    metrics_label_value(out, c && c->service ? c->service->name : "");
    fputs("\",instance_name=\"", out);
    metrics_label_value(out, in->name);
    fputs("\",service_type=\"", out);
    metrics_label_value(out, c ? c->service_type : "");
    fputs("\",entity_type=\"", out);
    metrics_label_value(out, c && c->service ? c->service->entity_type : "");
    fputc('"', out);
    if (extra_key) {
        fprintf(out, ",%s=\"", extra_key);
        metrics_label_value(out, extra_val);
        fputc('"', out);
    }
    fputs("} ", out);
}

static const sup_state_t all_states[] = {
    SUP_STOPPED, SUP_WAITING, SUP_STARTING, SUP_RUNNING, SUP_STOPPING, SUP_BACKOFF,
    SUP_FAILED,
};
static const health_status_t all_health[] = {
    HEALTH_HEALTHY, HEALTH_DEGRADED, HEALTH_UNHEALTHY, HEALTH_UNKNOWN,
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* cluster.c is linked into instanced only: weak, so metrics.c links alone in tests. */
void cluster_metrics(FILE *out) __attribute__((weak));

int metrics_render(FILE *out, const supervisor_t *sup, const metrics_stats_t *st,
                   const char *version)
{
    health_status_t overall = health_overall(sup->inst, sup->ninst);
    size_t i, k;

    header(out, "instanced_build_info", "gauge",
           "Always 1; the version of the running instanced as a label.");
    fputs("instanced_build_info{version=\"", out);
    metrics_label_value(out, version);
    fputs("\"} 1\n", out);

    header(out, "instanced_start_time_seconds", "gauge",
           "Start time of the supervisor since the Unix epoch in seconds.");
    fprintf(out, "instanced_start_time_seconds %lld\n", (long long)sup->started_at);

    header(out, "instanced_instances", "gauge", "Instances in the current inventory.");
    fprintf(out, "instanced_instances %zu\n", sup->ninst);

    header(out, "instanced_health_status", "gauge",
           "Combined health of all instances: 1 for the current status, else 0.");
    for (k = 0; k + 1 < NELEM(all_health); k++)
        fprintf(out, "instanced_health_status{status=\"%s\"} %d\n",
                health_status_name(all_health[k]), all_health[k] == overall);

    header(out, "instanced_reloads_total", "counter", "Successful inventory reloads.");
    fprintf(out, "instanced_reloads_total %lu\n", sup->reloads);
    header(out, "instanced_reload_failures_total", "counter",
           "Reloads rejected because the new inventory was invalid.");
    fprintf(out, "instanced_reload_failures_total %lu\n", sup->reload_failures);

    if (sup->inv && sup->inv->provision) {
        header(out, "instanced_provisioning_runs_total", "counter",
               "Provisioning runs that ended (provision = true).");
        fprintf(out, "instanced_provisioning_runs_total %lu\n", sup->prov.runs);
        header(out, "instanced_provisioning_failures_total", "counter",
               "Provisioning runs that failed: a server unreachable or an instance rolled back.");
        fprintf(out, "instanced_provisioning_failures_total %lu\n", sup->prov.failures);
        header(out, "instanced_provisioning_last_success_time_seconds", "gauge",
               "End of the last successful provisioning run since the Unix epoch; 0: none yet.");
        fprintf(out, "instanced_provisioning_last_success_time_seconds %lld\n",
                (long long)sup->prov.last_success);
        header(out, "instanced_provisioning_in_progress", "gauge",
               "1 while a provisioning run is in progress (starts wait for it).");
        fprintf(out, "instanced_provisioning_in_progress %d\n", sup->prov.running);
    }

    if (st) {
        header(out, "instanced_probe_interval_seconds", "gauge",
               "The health_interval between two probe cycles.");
        fprintf(out, "instanced_probe_interval_seconds %.3f\n", st->interval_seconds);
        header(out, "instanced_probe_cycle_duration_seconds", "gauge",
               "Time from the start of the last completed probe cycle to its last answer.");
        fprintf(out, "instanced_probe_cycle_duration_seconds %.6f\n", st->cycle_seconds);
        header(out, "instanced_probe_cycle_max_duration_seconds", "gauge",
               "Longest completed probe cycle since the supervisor started.");
        fprintf(out, "instanced_probe_cycle_max_duration_seconds %.6f\n",
                st->cycle_max_seconds);
        header(out, "instanced_probe_cycles_total", "counter", "Completed probe cycles.");
        fprintf(out, "instanced_probe_cycles_total %lu\n", st->cycles_total);
        header(out, "instanced_probe_cycle_overruns_total", "counter",
               "Probe cycles still running when the next one was due.");
        fprintf(out, "instanced_probe_cycle_overruns_total %lu\n", st->cycle_overruns_total);
        header(out, "instanced_probes_in_flight", "gauge", "Health probes running now.");
        fprintf(out, "instanced_probes_in_flight %lu\n", st->in_flight);
    }

    if (sup->ninst == 0)
        return ferror(out) ? -1 : 0;

    header(out, "instanced_instance_up", "gauge",
           "1 when the instance's process is ready and its health is not unhealthy.");
    for (i = 0; i < sup->ninst; i++) {
        const sup_instance_t *in = sup->inst[i];
        int up = in->state == SUP_RUNNING && health_effective(in) != HEALTH_UNHEALTHY;
        series(out, "instanced_instance_up", in, NULL, NULL);
        fprintf(out, "%d\n", up);
    }

    header(out, "instanced_instance_state", "gauge",
           "Process state of the instance: 1 for the current state, else 0.");
    for (i = 0; i < sup->ninst; i++)
        for (k = 0; k < NELEM(all_states); k++) {
            series(out, "instanced_instance_state", sup->inst[i], "state",
                   sup_state_name(all_states[k]));
            fprintf(out, "%d\n", sup->inst[i]->state == all_states[k]);
        }

    header(out, "instanced_instance_health_status", "gauge",
           "Health of the instance: 1 for the current status, else 0.");
    for (i = 0; i < sup->ninst; i++) {
        health_status_t h = health_effective(sup->inst[i]);
        for (k = 0; k < NELEM(all_health); k++) {
            series(out, "instanced_instance_health_status", sup->inst[i], "status",
                   health_status_name(all_health[k]));
            fprintf(out, "%d\n", h == all_health[k]);
        }
    }

    header(out, "instanced_instance_critical", "gauge",
           "1 when the instance counts as critical for the combined health.");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_critical", sup->inst[i], NULL, NULL);
        fprintf(out, "%d\n", sup->inst[i]->cfg ? sup->inst[i]->cfg->policy.critical : 1);
    }

    header(out, "instanced_instance_restarts_total", "counter",
           "Restarts of the instance since the supervisor started.");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_restarts_total", sup->inst[i], NULL, NULL);
        fprintf(out, "%lu\n", sup->inst[i]->restarts);
    }

    header(out, "instanced_instance_start_time_seconds", "gauge",
           "Start time of the instance's current process since the Unix epoch in seconds "
           "(0: not running).");
    for (i = 0; i < sup->ninst; i++) {
        const sup_instance_t *in = sup->inst[i];
        series(out, "instanced_instance_start_time_seconds", in, NULL, NULL);
        fprintf(out, "%lld\n", in->pid > 0 ? (long long)in->started_at : 0LL);
    }

    header(out, "instanced_instance_probe_duration_seconds", "gauge",
           "Duration of the last health probe of the instance.");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_probe_duration_seconds", sup->inst[i], NULL, NULL);
        fprintf(out, "%.6f\n", sup->inst[i]->health.latency_seconds);
    }

    header(out, "instanced_instance_last_probe_time_seconds", "gauge",
           "End of the last health probe since the Unix epoch in seconds (0: never).");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_last_probe_time_seconds", sup->inst[i], NULL, NULL);
        fprintf(out, "%lld\n", (long long)sup->inst[i]->health.last_check);
    }

    header(out, "instanced_instance_probes_total", "counter", "Health probes of the instance.");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_probes_total", sup->inst[i], NULL, NULL);
        fprintf(out, "%lu\n", sup->inst[i]->health.probes_total);
    }

    header(out, "instanced_instance_probe_failures_total", "counter",
           "Health probes of the instance that failed or reported unhealthy.");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_probe_failures_total", sup->inst[i], NULL, NULL);
        fprintf(out, "%lu\n", sup->inst[i]->health.probe_failures_total);
    }

    header(out, "instanced_instance_log_dropped_bytes_total", "counter",
           "Bytes of worker output dropped by the log capture.");
    for (i = 0; i < sup->ninst; i++) {
        series(out, "instanced_instance_log_dropped_bytes_total", sup->inst[i], NULL, NULL);
        fprintf(out, "%lu\n", sup->inst[i]->log_dropped_bytes);
    }
    if (cluster_metrics) /* instanced_cluster_* in cluster mode (cluster.c) */
        cluster_metrics(out);
    return ferror(out) ? -1 : 0;
}
