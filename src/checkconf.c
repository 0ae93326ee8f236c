/* checkconf.c - print the derived table of a valid inventory (instanced --check-config). */
#include "config.h"

#include "checkconf.h"

#include "cgroup.h"
#include "inv_cluster.h"
#include "probe_conf.h"

#include <jansson.h>
#include <string.h>

static const char *const columns[] = {
    "instance", "service", "service_type", "schema", "namespace", "discovery_key", "port",
    "data_dir", "logs_dir", "health_check",
};
#define NCOLS (sizeof(columns) / sizeof(columns[0]))

static void row_values(const inv_instance_t *in, const char *v[NCOLS], char port[16])
{
    snprintf(port, 16, "%d", in->port);
    v[0] = in->name;
    v[1] = in->service->name;
    v[2] = in->service_type;
    v[3] = in->schema;
    v[4] = in->namespace;
    v[5] = in->discovery_key;
    v[6] = in->port ? port : "-";
    v[7] = in->data_dir;
    v[8] = in->logs_dir;
    v[9] = pc_kind_name(pc_kind(in));
}

static int print_json(FILE *out, const inventory_t *inv)
{
    json_t *arr = json_array();
    int rc = 0;

    for (size_t i = 0; i < inv->ninstances; i++) {
        const inv_instance_t *in = &inv->instances[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
                              "instance", in->name, "service", in->service->name,
                              "service_type", in->service_type, "schema", in->schema,
                              "namespace", in->namespace, "discovery_key", in->discovery_key,
                              "port", in->port ? json_integer(in->port) : json_null(),
                              "data_dir", in->data_dir, "logs_dir", in->logs_dir,
                              "health_check", pc_kind_name(pc_kind(in)));
        if (!o || json_array_append_new(arr, o) < 0)
            rc = -1;
    }
    if (rc == 0 && json_dumpf(arr, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
        rc = -1;
    fputc('\n', out);
    json_decref(arr);
    return rc;
}

int checkconf_print(FILE *out, const inventory_t *inv, int json)
{
    size_t width[NCOLS];
    const char *v[NCOLS];
    char port[16];

    if (json)
        return print_json(out, inv);
    for (size_t c = 0; c < NCOLS; c++)
        width[c] = strlen(columns[c]);
    for (size_t i = 0; i < inv->ninstances; i++) {
        row_values(&inv->instances[i], v, port);
        for (size_t c = 0; c < NCOLS; c++)
            if (strlen(v[c]) > width[c])
                width[c] = strlen(v[c]);
    }
    for (size_t c = 0; c < NCOLS; c++)
        fprintf(out, "%-*s%s", c + 1 < NCOLS ? (int)width[c] : 0, columns[c],
                c + 1 < NCOLS ? "  " : "\n");
    for (size_t i = 0; i < inv->ninstances; i++) {
        row_values(&inv->instances[i], v, port);
        for (size_t c = 0; c < NCOLS; c++)
            fprintf(out, "%-*s%s", c + 1 < NCOLS ? (int)width[c] : 0, v[c],
                    c + 1 < NCOLS ? "  " : "\n");
    }
    invc_print(out, inv); /* the cluster section, when there is one */
    return ferror(out) ? -1 : 0;
}

void checkconf_print_errors(FILE *out, const inv_errors_t *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(out, "%s\n", errs->v[i].text);
}

/* Whether any instance sets key, and the first that does. */
static const char *who_sets(const inventory_t *inv, cg_limit_key_t key)
{
    for (size_t i = 0; i < inv->ninstances; i++) {
        const inv_policy_t *p = &inv->instances[i].policy;
        int set = key == CG_MEMORY_MAX ? p->memory_max != 0
                  : key == CG_MEMORY_HIGH ? p->memory_high != 0
                  : key == CG_PIDS_MAX ? p->pids_max != 0
                  : key == CG_CPU_WEIGHT ? p->cpu_weight != 0
                  : key == CG_IO_WEIGHT ? p->io_weight != 0
                  : key == CG_CPU_MAX ? p->cpu_max.quota_us != 0 : 0;
        if (set)
            return inv->instances[i].name;
    }
    return NULL;
}

int checkconf_containment(FILE *out, const inventory_t *inv)
{
    cg_plan_t plan;
    char tag[128], err[512];
    int bad = 0;

    if (!inv->cgroups) {
        fprintf(out, "containment: off (cgroups = false): the subreaper fallback\n");
        return 0;
    }
    cg_tag_from_path(inv->control_socket && *inv->control_socket ? inv->control_socket
                                                                 : inv->path,
                     tag, sizeof(tag));
    if (cg_plan_probe(inv->cgroup_root, tag, &plan, err, sizeof(err)) < 0) {
        fprintf(out, "containment: off here (%s): the subreaper fallback\n", err);
        return 0;
    }
    fprintf(out, "containment: a cgroup per instance under %s (%s)\n", plan.base,
            plan.mode == CG_MODE_SYSTEMD ? "systemd delegation"
            : plan.mode == CG_MODE_CONFIG ? "cgroup_root" : "below the supervisor's cgroup");
    for (int k = 0; k < CG_LIMIT_COUNT; k++) {
        const char *who = who_sets(inv, (cg_limit_key_t)k);
        char why[512];

        if (!who || cg_limit_check(&plan, (cg_limit_key_t)k, why, sizeof(why)) == 1)
            continue;
        fprintf(out, "containment: %s (set for %s%s)\n", why, who,
                inv->ninstances > 1 ? " and maybe others" : "");
        bad++;
    }
    cg_plan_free(&plan);
    return bad;
}
