/* reload.c - reload the inventory: load, plan (pure), then let the supervisor apply it.
 *
 * SIGHUP and `instancectl reload` both come here. An inventory that does not load
 * changes nothing; one that loads is compared with the running one instance by
 * instance (reload_plan_make), and only then is anything touched (sup_apply_reload in
 * supervisor.c, which owns the entries). */
#include "config.h"

#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "xalloc.h"

static int str_same(const char *a, const char *b)
{
    return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

static int strv_same(char *const *a, char *const *b)
{
    size_t i = 0;

    if (!a || !b)
        return (!a || !*a) && (!b || !*b);
    for (; a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return !a[i] && !b[i];
}

const char *reload_instance_diff(const inventory_t *a, const inv_instance_t *x,
                                 const inventory_t *b, const inv_instance_t *y)
{
    const inv_service_t *s = x->service, *t = y->service;

    /* What reaches the worker through its environment or its exec; provision and
     * state_dir decide which credentials it gets (its own, or the admin URLs). */
    if (!str_same(a->environment, b->environment))
        return "environment";
    if (!str_same(a->version, b->version))
        return "version";
    if (!str_same(a->postgres_url, b->postgres_url))
        return "postgres_url";
    if (!str_same(a->redis_url, b->redis_url))
        return "redis_url";
    if (!str_same(a->volumes_root, b->volumes_root))
        return "volumes_root";
    if (!str_same(a->log_level, b->log_level))
        return "log_level";
    if (a->provision != b->provision)
        return "provision";
    if (!str_same(a->state_dir, b->state_dir))
        return "state_dir";
    if (!str_same(s->name, t->name))
        return "service";
    if (!str_same(s->command, t->command))
        return "command";
    if (!strv_same(s->args, t->args))
        return "args";
    if (!str_same(s->entity_type, t->entity_type))
        return "entity_type";
    if (x->port != y->port)
        return "port";
    if (x->singleton != y->singleton)
        return "singleton";
    if (!str_same(x->schema, y->schema))
        return "schema";
    if (!str_same(x->namespace, y->namespace))
        return "namespace";
    if (!strv_same(x->env, y->env))
        return "env";
    if (!strv_same(x->depends_on, y->depends_on))
        return "depends_on";
    return inv_policy_diff(&x->policy, &y->policy);
}

const char *reload_action_name(rp_action_t a)
{
    static const char *const names[] = { "add", "remove", "restart", "start", "update",
                                         "keep" };
    return (unsigned)a <= RP_KEEP ? names[a] : "unknown";
}

static void note_listener(reload_plan_t *plan, const char *key, const char *o, const char *n)
{
    size_t used = strlen(plan->needs_restart);

    size_t klen = strlen(key);

    if (str_same(o, n) || used + 2 + klen >= sizeof(plan->needs_restart))
        return;
    if (used) {
        memcpy(plan->needs_restart + used, ", ", 2);
        used += 2;
    }
    memcpy(plan->needs_restart + used, key, klen + 1);
}

static const rp_running_t *find_run(const rp_running_t *run, size_t nrun, const char *name)
{
    for (size_t i = 0; i < nrun; i++)
        if (strcmp(run[i].name, name) == 0)
            return &run[i];
    return NULL;
}

void reload_plan_make(const inventory_t *oinv, const inventory_t *ninv,
                      const rp_running_t *run, size_t nrun, reload_plan_t *plan)
{
    memset(plan, 0, sizeof(*plan));
    /* xcalloc returns a unique pointer for an empty plan too. */
    plan->v = xcalloc(ninv->ninstances + oinv->ninstances, sizeof(*plan->v));
    note_listener(plan, "control_socket", oinv->control_socket, ninv->control_socket);
    note_listener(plan, "status_listen", oinv->status_listen, ninv->status_listen);
    for (size_t i = 0; i < ninv->ninstances; i++) {
        const inv_instance_t *ncfg = &ninv->instances[i];
        const inv_instance_t *ocfg = inv_find_instance(oinv, ncfg->name);
        const rp_running_t *r = ocfg ? find_run(run, nrun, ncfg->name) : NULL;
        rp_item_t *it = &plan->v[plan->n++];

        it->name = ncfg->name;
        it->new_index = i;
        if (!r) {
            it->action = RP_ADD;
            plan->added++;
            continue;
        }
        it->reason = reload_instance_diff(oinv, ocfg, ninv, ncfg);
        if (!it->reason) {
            it->action = RP_KEEP;
            plan->same++;
            continue;
        }
        plan->changed++;
        /* A changed instance gets a fresh start, a failed one too (its new config may
         * be the fix); one stopped on purpose stays stopped. */
        if (r->running)
            it->action = r->wanted ? RP_RESTART : RP_UPDATE;
        else if (r->wanted || r->state == SUP_FAILED)
            it->action = RP_START;
        else
            it->action = RP_UPDATE;
    }
    for (size_t i = 0; i < nrun; i++) {
        if (inv_find_instance(ninv, run[i].name))
            continue;
        plan->v[plan->n].action = RP_REMOVE;
        plan->v[plan->n].name = run[i].name;
        plan->v[plan->n].new_index = (size_t)-1;
        plan->n++;
        plan->removed++;
    }
}

void reload_plan_free(reload_plan_t *plan)
{
    free(plan->v);
    plan->v = NULL;
    plan->n = 0;
}

/* A reload never moves the control socket or the status endpoint: the client that
 * asked for the reload, and every script and scraper, talk to the running ones, and
 * a move that half fails would leave the supervisor deaf. The running value is put
 * back into the new inventory (nfield is owned by it: freed and replaced). */
static void keep_listener(char **nfield, const char *ofield, const char *key)
{
    if (str_same(*nfield, ofield))
        return;
    log_warn("reload does not move this listener: restart instanced to apply the change",
             "key", key, "running", ofield ? ofield : "", "configured",
             *nfield ? *nfield : "");
    free(*nfield);
    *nfield = ofield ? xstrdup(ofield) : NULL;
}

int sup_reload(supervisor_t *sup, inv_errors_t *errs, char *summary, size_t len)
{
    inventory_t *ninv, *oinv = sup->inv;
    rp_running_t *run;
    reload_plan_t plan;
    int rc;

    if (sup->shutting_down) {
        snprintf(summary, len, "shutting down");
        return -1;
    }
    notify_reloading();
    ninv = inv_load(oinv->path, errs);
    if (!ninv) {
        sup->reload_failures++;
        snprintf(summary, len, "%zu error%s in %s", errs->n, errs->n == 1 ? "" : "s",
                 oinv->path);
        notify_ready();
        return -1;
    }
    run = xcalloc(sup->ninst, sizeof(*run));
    for (size_t i = 0; i < sup->ninst; i++) {
        run[i].name = sup->inst[i]->name;
        run[i].state = sup->inst[i]->state;
        run[i].wanted = sup->inst[i]->wanted;
        run[i].running = sup->inst[i]->pid > 0;
    }
    reload_plan_make(oinv, ninv, run, sup->ninst, &plan);
    free(run);
    keep_listener(&ninv->control_socket, oinv->control_socket, "control_socket");
    keep_listener(&ninv->status_listen, oinv->status_listen, "status_listen");
    rc = sup_apply_reload(sup, ninv, &plan, summary, len);
    if (rc == 0) {
        snprintf(summary, len, "%zu added, %zu removed, %zu changed, %zu unchanged%s%s%s",
                 plan.added, plan.removed, plan.changed, plan.same,
                 plan.needs_restart[0] ? "; needs a restart to change: " : "",
                 plan.needs_restart, plan.needs_restart[0] ? " (still the running one)" : "");
        log_info("reloaded", "summary", summary);
    } else {
        sup->reload_failures++;
    }
    reload_plan_free(&plan);
    notify_ready();
    return rc;
}
