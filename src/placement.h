/* placement.h - which cluster node should run each instance (pure, deterministic). */
#ifndef INSTANCED_PLACEMENT_H
#define INSTANCED_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

/* One instance as placement sees it. Every pointer is borrowed for the call. */
typedef struct {
    const char *name;             /* instance name, unique */
    const char *service;          /* its service (groups instances for spread); may be NULL */
    const char *const *allowed;   /* nodes it may run on; n_allowed == 0: any node */
    size_t n_allowed;
    const char *pin;              /* node it is pinned to, or NULL (overrides allowed) */
    int spread;                   /* its service wants its instances on distinct nodes */
    const char *owner;            /* node holding it now, or NULL */
} plc_instance_t;

/* One live node (a node whose lease is alive). Drained nodes get nothing. */
typedef struct {
    const char *name;
    int drained;
} plc_node_t;

/* The rendezvous weight of an instance on a node: a 64-bit hash of both names, the
 * same on every host. The node of highest weight is an instance's first choice. */
uint64_t plc_weight(const char *instance, const char *node);

/* Desired owner of every instance: out[i] for inst[i] points at the name of one of
 * nodes[] (borrowed from the caller), or is NULL when no live node may run it (its
 * pinned node is gone or drained, or none of its allowed nodes is live and undrained).
 * Rules, in this order:
 *  1. pinned: the pinned node if live and undrained, else NULL;
 *  2. sticky: an instance whose owner is live, undrained and allowed stays there;
 *  3. the rest, spread services' instances first, then the others, each group in
 *     name order: among the allowed live undrained nodes - for a spread instance
 *     only those holding no instance of its service yet, as long as there is one -
 *     the node of highest plc_weight() that is below its share, else (every
 *     candidate full) the least loaded one, ties broken by weight.
 * The share: with N instances to run (every non-NULL result) and L usable nodes,
 * at most N mod L nodes may hold ceil(N/L), the others floor(N/L). Hence the bound:
 * when nothing is sticky and no allowed set or pin constrains them, node counts
 * differ by at most 1; sticky instances never move, so a node that joins gets only
 * instances that had no live owner (call again with every owner NULL to rebalance).
 * The result depends only on the sets given, not on their order; duplicate node
 * names count once. Returns the number of instances left without a node. */
size_t plc_place(const plc_instance_t *inst, size_t n, const plc_node_t *nodes, size_t n_nodes,
                 const char **out);

#endif
