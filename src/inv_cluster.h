/* inv_cluster.h - the inventory's cluster keys: the cluster section and the placement
 * keys of services and instances (nodes, node, spread). */
#ifndef INSTANCED_INV_CLUSTER_H
#define INSTANCED_INV_CLUSTER_H

#include <stddef.h>
#include <stdio.h>

#include "inventory.h"

/* Where one instance may run (effective: the instance's keys over its service's). */
typedef struct inv_place {
    char **nodes;   /* NULL-terminated allowed nodes; nnodes 0: any node */
    size_t nnodes;
    char *pin;      /* node = "h1": runs there only, outside etcd's arbitration */
    int spread;     /* its service's instances on distinct nodes */
} inv_place_t;

/* The cluster keys of one inventory (inventory_t.cluster, owned by it). */
typedef struct inv_cluster {
    int enabled;           /* a cluster section is present: cluster mode is on */
    int line;              /* of the section */
    char **endpoints;      /* etcd_endpoints, NULL-terminated */
    size_t nendpoints;
    char *name;            /* key prefix in etcd, "instanced" */
    char *node;            /* this node: --node, else node =, else the host name */
    long lease_ttl_ms;     /* whole seconds, >= 2 s */
    long settle_ms;        /* a starting node waits this long before claiming */
    char *etcd_ca, *etcd_cert, *etcd_key; /* paths, relative to the inventory */
    char *etcd_user;
    char *etcd_password_file;
    char hash[17];         /* of the inventory text: nodes compare theirs */
    inv_place_t *place;    /* per instance, by index in inventory_t.instances */
    size_t nplace;
    struct invc_rec *recs; /* private: keys found in sections until invc_attach */
    size_t nrecs;
} inv_cluster_t;

/* Margin between stop_timeout and lease_ttl (docs/cluster.md, "Margins"): a node that
 * cannot renew its lease starts stopping its contested instances lease_ttl / 2 after
 * the last renewal it sent that succeeded; each must then be gone (SIGKILL after
 * stop_timeout, plus this slack for the kill and the reaping) before lease_ttl. */
#define INVC_STOP_SLACK_MS 1000

/* Errors go through report(ctx, line, message). */
typedef void (*invc_report_fn)(void *ctx, int line, const char *msg);

/* Find the cluster section and the nodes/node/spread keys of services and instances
 * in text (len bytes, NUL-terminated), parse them, and blank them out in place
 * (spaces; newlines kept, so every line number stays right) so the rest of the loader
 * never sees them. Returns the cluster keys (never NULL). dir anchors relative paths. */
inv_cluster_t *invc_extract(char *text, size_t len, const char *dir, invc_report_fn report,
                            void *ctx);
/* After the services and instances are loaded: the effective place of every
 * instance, and the checks that need them (margins, spread only on services). */
void invc_attach(inv_cluster_t *cl, const inventory_t *inv, invc_report_fn report, void *ctx);
void invc_free(inv_cluster_t *cl);


/* The place of an instance of inv (a zeroed one when inv has no cluster keys). */
const inv_place_t *invc_place(const inventory_t *inv, const inv_instance_t *in);
/* 1 when in is arbitrated through etcd: cluster mode on and in not pinned. */
int invc_contested(const inventory_t *inv, const inv_instance_t *in);

/* --check-config: the cluster section and each instance's place, as text. */
void invc_print(FILE *out, const inventory_t *inv);

#endif
