/* contain.h - containment of each instance's processes: a cgroup per instance (or,
 * without a writable cgroup2, the weaker subreaper fallback), wired into the
 * supervisor through its spawner and hooks. docs/containment.md describes it. */
#ifndef INSTANCED_CONTAIN_H
#define INSTANCED_CONTAIN_H

#include "supervisor.h"

typedef struct contain contain_t;

/* Set up containment for sup, after the other modules' hooks and before the first
 * start: open the cgroup subtree (inventory keys cgroups and cgroup_root), wrap the
 * spawner, register the hooks, and kill the leftovers of a previous run (their
 * instances wait until their cgroup is empty). Without cgroups it logs why and keeps
 * the fallback. NULL only when sup has no room for more hooks. */
contain_t *contain_new(supervisor_t *sup);

/* 1 when instances run in cgroups (0: the fallback). */
int contain_active(const contain_t *c);

/* Remove the (empty) instance cgroups and the subtree. Call after
 * sup_remove_hooks(sup, c). */
void contain_free(contain_t *c);

#endif
