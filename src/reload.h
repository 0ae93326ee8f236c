/* reload.h - a reload as plan, then apply: what changes between two inventories for
 * the instances running now, decided by a pure function (reload_plan) before the
 * supervisor changes anything (sup_apply_reload, supervisor.c). */
#ifndef INSTANCED_RELOAD_H
#define INSTANCED_RELOAD_H

#include <stddef.h>

#include "supervisor.h"

typedef enum {
    RP_ADD,     /* new in the inventory: a new entry, started like any other */
    RP_REMOVE,  /* gone from the inventory: stopped (if running) and forgotten */
    RP_RESTART, /* changed while its process runs: stopped, then started anew */
    RP_START,   /* changed while not running but wanted (or failed): started anew */
    RP_UPDATE,  /* changed while stopped on purpose: takes the new config, stays down */
    RP_KEEP,    /* unchanged: nothing happens to it */
} rp_action_t;

/* What the planner knows of an instance's entry now. */
typedef struct rp_running {
    const char *name;
    sup_state_t state;
    int wanted;
    int running;    /* has a process */
} rp_running_t;

typedef struct rp_item {
    rp_action_t action;
    const char *name;      /* borrowed from one of the inventories */
    size_t new_index;      /* into ninv->instances; RP_REMOVE: (size_t)-1 */
    const char *reason;    /* changed: the first setting that differs ("command",
                            * "port", "restart", ...); else NULL. Static. */
} rp_item_t;

typedef struct reload_plan {
    rp_item_t *v;          /* owned: new instances in inventory order, then removals */
    size_t n;
    size_t added, removed, changed, same;
    /* Listeners a reload never moves (the running ones stay): the keys that changed,
     * comma-separated, "" when none. */
    char needs_restart[64];
} reload_plan_t;

/* The plan for going from oinv (whose instances have entries described by run[0..nrun),
 * in any order) to ninv. Pure: reads its arguments, writes *plan only. An instance is
 * changed when anything that reaches its worker differs (its command, arguments,
 * environment, derived names and paths, port, credentials' source, dependencies, any
 * policy key); the first difference is its reason. Free with reload_plan_free. */
void reload_plan_make(const inventory_t *oinv, const inventory_t *ninv,
                      const rp_running_t *run, size_t nrun, reload_plan_t *plan);
void reload_plan_free(reload_plan_t *plan);

/* The first setting that differs between instance x of a and instance y of b, NULL
 * when none does (the instance runs as it would with either inventory). */
const char *reload_instance_diff(const inventory_t *a, const inv_instance_t *x,
                                 const inventory_t *b, const inv_instance_t *y);

const char *reload_action_name(rp_action_t a);

/* supervisor.c: put ninv in place as plan says (plan made from the running table and
 * ninv). On success ninv is the supervisor's and the old inventory is freed: 0. On
 * failure (an entry could not be made) nothing changed, ninv is freed, summary says
 * why: -1. */
int sup_apply_reload(supervisor_t *sup, inventory_t *ninv, const reload_plan_t *plan,
                     char *summary, size_t len);

#endif
