/* cluster.h - cluster mode: membership, ownership and fencing of instances through etcd. */
#ifndef INSTANCED_CLUSTER_H
#define INSTANCED_CLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "supervisor.h"

typedef struct cluster cluster_t;

/* With a cluster section in sup's inventory: connect to etcd, join as this node (its
 * lease and <name>/nodes/<node>) and register the hooks that hold every contested
 * instance until this node owns it. Runs sup's loop for at most a few seconds while it
 * joins, before any instance starts. *out is NULL without a cluster section.
 * Returns -1 with err when this node cannot be part of the cluster at all: another
 * live process holds the node name, or the password file cannot be read. etcd being
 * unreachable is not an error: the node starts disconnected (pinned instances run,
 * contested ones wait) and keeps trying. */
int cluster_start(supervisor_t *sup, cluster_t **out, char *err, size_t errlen);

/* After the loop ended: give up the lease (so other nodes take over at once), waiting
 * at most a second for etcd, and free. NULL is fine. */
void cluster_free(cluster_t *cl);

/* The fleet view (GET /api/v1/cluster, instancectl cluster status): NULL when this
 * process is not in cluster mode. The caller owns the result. */
json_t *cluster_report_json(void);

/* instanced_cluster_* metrics in Prometheus' text format (nothing outside cluster
 * mode). */
void cluster_metrics(FILE *out);

/* instancectl cluster drain NODE | undrain NODE | move INSTANCE NODE | rebalance:
 * written under <name>/admin/ for every node to act on. 0, or -1 with err. */
int cluster_admin(const char *verb, const char *a, const char *b, char *err, size_t errlen);

/* 1 when in's worker belongs on this node as far as the cluster goes (always 1
 * outside cluster mode): http_sd lists only those. */
int cluster_runs_here(const supervisor_t *sup, const sup_instance_t *in);


/* 1 in cluster mode (a cluster section, cluster_start done). */
int cluster_mode(void);

/* Provisioning runs under the etcd lock <name>/locks/provision, never from two nodes
 * at once. Outside cluster mode: 0 (go ahead, cb is not called). Else 1: cb(arg) runs
 * from the loop once this node holds the lock (bound to its lease), maybe much later
 * (etcd unreachable, another node provisioning); cluster_unlock_provision() lets it
 * go, or gives up waiting. */
int cluster_lock_provision(void (*cb)(void *arg), void *arg);
void cluster_unlock_provision(void);

#endif
