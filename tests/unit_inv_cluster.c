/* unit_inv_cluster.c - CUnit tests of the inventory's cluster keys (src/inv_cluster.c)
 * through the real loader: what is accepted, and each error with its line. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_cluster.h"
#include "inventory.h"

#define HEAD "volumes_root = \"/tmp/v\"\nstate_dir = \"/tmp/s\"\n"
#define SVC "service \"w\" {\n  command = \"/bin/sleep\"\n  stop_timeout = 1s\n"

/* One inventory text and what its load must give: NULL want = accepted, else an
 * error containing want. */
typedef struct {
    const char *text;
    const char *want;
} case_t;

static const case_t cases[] = {
    /* accepted: the section, lists, comments inside, a pin, allowed nodes, spread */
    { HEAD "cluster {\n  etcd_endpoints = { \"http://127.0.0.1:2379\" } # c\n"
           "  lease_ttl = 4s\n  node = \"h1\"\n}\n" SVC "  spread = true\n}\n"
           "instance \"w-a\" { service = \"w\"\n nodes = { \"h1\", \"h2\" } }\n"
           "instance \"w-b\" { service = \"w\"\n node = \"h2\" }\n", NULL },
    /* without a cluster section the placement keys are accepted and unused */
    { HEAD SVC "}\ninstance \"w-a\" { service = \"w\" node = \"x\" }\n", NULL },
    { HEAD "cluster {\n  etcd_endpoints = { \"ftp://x\" }\n lease_ttl = 4s }\n" SVC "}\n"
           "instance \"w-a\" { service = \"w\" }\n", ":4: etcd endpoint \"ftp://x\"" },
    { HEAD "cluster {\n  lease_ttl = 4s\n}\n" SVC "}\ninstance \"w-a\" { service = \"w\" }\n",
      ":3: the cluster section needs etcd_endpoints" },
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n  lease_ttl = 1500ms\n}\n" SVC
           "}\ninstance \"w-a\" { service = \"w\" }\n", ":5: lease_ttl must be whole seconds" },
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n  bogus = 1\n}\n" SVC
           "}\ninstance \"w-a\" { service = \"w\" }\n", ":5: unknown key \"bogus\" in the cluster" },
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n  etcd_user = \"u\"\n}\n" SVC
           "}\ninstance \"w-a\" { service = \"w\" }\n", "etcd_user needs etcd_password_file" },
    /* the margin: default lease_ttl 10s, stop_timeout 10s (the default) is too long */
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n}\n"
           "service \"w\" { command = \"/bin/sleep\" }\ninstance \"w-a\" { service = \"w\" }\n",
      ":7: instance \"w-a\": stop_timeout 10000ms is too long" },
    /* ... unless the instance is pinned (not fenced by the lease) */
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n}\n"
           "service \"w\" { command = \"/bin/sleep\" }\n"
           "instance \"w-a\" { service = \"w\" node = \"h1\" }\n", NULL },
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n lease_ttl = 4s }\n" SVC "}\n"
           "instance \"w-a\" { service = \"w\"\n spread = true }\n", ":11: spread is a service key" },
    { HEAD SVC "}\ninstance \"w-a\" { service = \"w\"\n nodes = { \"h 1\" } }\n",
      ":8: node name \"h 1\"" },
    { HEAD SVC "}\ninstance \"w-a\" { service = \"w\"\n node = \"h1\"\n nodes = { \"h2\" } }\n",
      ":7: instance \"w-a\" is pinned to node \"h1\", which its nodes list does not allow" },
    { HEAD SVC "}\ninstance \"w-a\" { service = \"w\"\n node = \"h1\"\n node = \"h2\" }\n",
      ":9: duplicate key \"node\"" },
    /* the other errors keep their lines after the section is taken out */
    { HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\" }\n lease_ttl = 4s\n}\n" SVC "}\n"
           "instance \"w-a\" { service = \"w\"\n  bogus = 2 }\n", ":12: unknown key \"bogus\"" },
};

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        inv_errors_t errs;
        inventory_t *inv;
        int found = 0;

        inv_errors_init(&errs);
        inv = inv_load_buf("t.conf", cases[i].text, strlen(cases[i].text), &errs);
        for (size_t k = 0; k < errs.n; k++)
            if (cases[i].want && strstr(errs.v[k].text, cases[i].want))
                found = 1;
        if (cases[i].want ? !found : !inv) {
            fprintf(stderr, "case %zu: want %s, got:\n", i, cases[i].want ? cases[i].want : "ok");
            for (size_t k = 0; k < errs.n; k++)
                fprintf(stderr, "  %s\n", errs.v[k].text);
        }
        CU_ASSERT(cases[i].want ? found && !inv : inv != NULL);
        inv_free(inv);
        inv_errors_free(&errs);
    }
}

static void test_places(void)
{
    static const char text[] =
        HEAD "cluster {\n  etcd_endpoints = { \"http://h:1\", \"https://h:2\" }\n"
        "  name = \"fleet\"\n  lease_ttl = 6s\n  node = \"n1\"\n}\n" SVC "  spread = true\n"
        "  nodes = { \"a\", \"b\" }\n}\n"
        "instance \"w-a\" { service = \"w\" }\n"
        "instance \"w-b\" { service = \"w\"\n nodes = { \"c\" } }\n"
        "instance \"w-c\" { service = \"w\"\n node = \"a\" }\n";
    inv_errors_t errs;
    inventory_t *inv;
    const inv_place_t *p;

    inv_errors_init(&errs);
    inv = inv_load_buf("t.conf", text, sizeof(text) - 1, &errs);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_FATAL(inv->cluster && inv->cluster->enabled);
    CU_ASSERT_STRING_EQUAL(inv->cluster->name, "fleet");
    CU_ASSERT_STRING_EQUAL(inv->cluster->node, "n1");
    CU_ASSERT_EQUAL(inv->cluster->lease_ttl_ms, 6000);
    CU_ASSERT_EQUAL(inv->cluster->nendpoints, 2);
    p = invc_place(inv, &inv->instances[0]);
    CU_ASSERT(p->nnodes == 2 && p->spread && !p->pin);
    p = invc_place(inv, &inv->instances[1]);
    CU_ASSERT(p->nnodes == 1 && strcmp(p->nodes[0], "c") == 0);
    p = invc_place(inv, &inv->instances[2]);
    CU_ASSERT(p->pin && strcmp(p->pin, "a") == 0);
    CU_ASSERT(invc_contested(inv, &inv->instances[0]));
    CU_ASSERT(!invc_contested(inv, &inv->instances[2]));
    inv_free(inv);
    /* --node wins */
    setenv("INSTANCED_NODE", "n9", 1); /* instanced --node n9 */
    inv = inv_load_buf("t.conf", text, sizeof(text) - 1, &errs);
    CU_ASSERT_FATAL(inv != NULL);
    CU_ASSERT_STRING_EQUAL(inv->cluster->node, "n9");
    unsetenv("INSTANCED_NODE");
    inv_free(inv);
    inv_errors_free(&errs);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("inv_cluster", NULL, NULL);
    CU_add_test(s, "accepted and rejected inventories", test_cases);
    CU_add_test(s, "effective places", test_places);
    return cu_run_all();
}
