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
    SUP_FAILED, SUP_PAUSED,
};
static const health_status_t all_health[] = {
    HEALTH_HEALTHY, HEALTH_DEGRADED, HEALTH_UNHEALTHY, HEALTH_UNKNOWN,
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The per-instance series that are one number each: a row each, in output order.
 * usage rows come only from containment (cgroups) and are left out for an instance
 * it knows nothing of; a negative value is left out too (not known here). */
typedef struct inst_metric {
    const char *name, *type, *help;
    double (*value)(const sup_instance_t *in);
    int decimals;
    int usage;
} inst_metric_t;

static double v_critical(const sup_instance_t *in)
{
    return in->cfg ? in->cfg->policy.critical : 1;
}
static double v_restarts(const sup_instance_t *in) { return (double)in->restarts; }
static double v_start_time(const sup_instance_t *in)
{
    return in->pid > 0 ? (double)in->started_at : 0;
}
static double v_probe_duration(const sup_instance_t *in) { return in->health.latency_seconds; }
static double v_last_probe(const sup_instance_t *in) { return (double)in->health.last_check; }
static double v_probes(const sup_instance_t *in) { return (double)in->health.probes_total; }
static double v_probe_failures(const sup_instance_t *in)
{
    return (double)in->health.probe_failures_total;
}
static double v_log_dropped(const sup_instance_t *in) { return (double)in->log_dropped_bytes; }
static double v_cpu(const sup_instance_t *in) { return in->usage.cpu_seconds; }
static double v_mem(const sup_instance_t *in) { return (double)in->usage.memory_bytes; }
static double v_mem_peak(const sup_instance_t *in) { return (double)in->usage.memory_peak; }
static double v_pids(const sup_instance_t *in) { return (double)in->usage.pids; }
static double v_oom(const sup_instance_t *in) { return (double)in->usage.oom_kills; }
/* PSI is kept in percent (as the kernel writes it); the metrics say ratios. */
static double ratio(double percent) { return percent < 0 ? -1 : percent / 100; }
static double v_cpu_psi(const sup_instance_t *in) { return ratio(in->usage.cpu_pressure); }
static double v_mem_psi(const sup_instance_t *in) { return ratio(in->usage.memory_pressure); }
static double v_io_psi(const sup_instance_t *in) { return ratio(in->usage.io_pressure); }

static const inst_metric_t per_instance[] = {
    { "instanced_instance_critical", "gauge",
      "1 when the instance counts as critical for the combined health.", v_critical, 0, 0 },
    { "instanced_instance_restarts_total", "counter",
      "Restarts of the instance since the supervisor started.", v_restarts, 0, 0 },
    { "instanced_instance_start_time_seconds", "gauge",
      "Start time of the instance's current process since the Unix epoch in seconds "
      "(0: not running).", v_start_time, 0, 0 },
    { "instanced_instance_probe_duration_seconds", "gauge",
      "Duration of the last health probe of the instance.", v_probe_duration, 1, 0 },
    { "instanced_instance_last_probe_time_seconds", "gauge",
      "End of the last health probe since the Unix epoch in seconds (0: never).",
      v_last_probe, 0, 0 },
    { "instanced_instance_probes_total", "counter", "Health probes of the instance.",
      v_probes, 0, 0 },
    { "instanced_instance_probe_failures_total", "counter",
      "Health probes of the instance that failed or reported unhealthy.", v_probe_failures,
      0, 0 },
    { "instanced_instance_log_dropped_bytes_total", "counter",
      "Bytes of worker output dropped by the log capture.", v_log_dropped, 0, 0 },
    { "instanced_instance_cpu_seconds_total", "counter",
      "CPU time of every process of the instance (its cgroup's cpu.stat).", v_cpu, 1, 1 },
    { "instanced_instance_memory_bytes", "gauge",
      "Memory of the instance's cgroup (memory.current).", v_mem, 0, 1 },
    { "instanced_instance_memory_peak_bytes", "gauge",
      "Highest memory of the instance's cgroup (memory.peak).", v_mem_peak, 0, 1 },
    { "instanced_instance_pids", "gauge", "Processes and threads in the instance's cgroup.",
      v_pids, 0, 1 },
    { "instanced_instance_oom_kills_total", "counter",
      "Processes of the instance killed by the OOM killer (memory.events).", v_oom, 0, 1 },
    { "instanced_instance_cpu_pressure_ratio", "gauge",
      "Share of the last 10 s some task of the instance waited for CPU (PSI avg10).",
      v_cpu_psi, 1, 1 },
    { "instanced_instance_memory_pressure_ratio", "gauge",
      "Share of the last 10 s some task of the instance waited for memory (PSI avg10).",
      v_mem_psi, 1, 1 },
    { "instanced_instance_io_pressure_ratio", "gauge",
      "Share of the last 10 s some task of the instance waited for I/O (PSI avg10).",
      v_io_psi, 1, 1 },
};
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

    for (k = 0; k < NELEM(per_instance); k++) {
        const inst_metric_t *m = &per_instance[k];
        int any = 0;

        for (i = 0; i < sup->ninst; i++) {
            const sup_instance_t *in = sup->inst[i];
            double v;

            if (m->usage && !in->usage.have)
                continue;
            v = m->value(in);
            if (v < 0) /* not known for this instance (no memory controller, ...) */
                continue;
            if (!any++)
                header(out, m->name, m->type, m->help);
            series(out, m->name, in, NULL, NULL);
            if (m->decimals)
                fprintf(out, "%.6f\n", v);
            else
                fprintf(out, "%.0f\n", v);
        }
    }
    if (cluster_metrics) /* instanced_cluster_* in cluster mode (cluster.c) */
        cluster_metrics(out);
    return ferror(out) ? -1 : 0;
}
