/* unit_cgroup.c - CUnit tests of containment's pure parts (src/cgroup.c): the limit
 * parsers, the cgroup2 mount and own-cgroup lookup, and the choice of the layout. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

static void test_limit_names(void)
{
    static const char *const names[] = { "memory_max", "memory_high", "cpu_weight", "cpu_max",
                                         "pids_max", "io_weight" };
    static const char *const files[] = { "memory.max", "memory.high", "cpu.weight", "cpu.max",
                                         "pids.max", "io.weight" };
    static const char *const ctrls[] = { "memory", "memory", "cpu", "cpu", "pids", "io" };

    for (int k = 0; k < CG_LIMIT_COUNT; k++) {
        CU_ASSERT_EQUAL(cg_limit_lookup(names[k]), k);
        CU_ASSERT_STRING_EQUAL(cg_limit_name((cg_limit_key_t)k), names[k]);
        CU_ASSERT_STRING_EQUAL(cg_limit_file((cg_limit_key_t)k), files[k]);
        CU_ASSERT_STRING_EQUAL(cg_limit_controller((cg_limit_key_t)k), ctrls[k]);
    }
    CU_ASSERT_EQUAL(cg_limit_lookup("memory.max"), -1);
    CU_ASSERT_EQUAL(cg_limit_lookup(NULL), -1);
    CU_ASSERT_PTR_NULL(cg_limit_name(CG_LIMIT_COUNT));
}

static void test_format_size(void)
{
    static const struct {
        long long in;
        const char *out;
    } rows[] = { { 512, "512B" }, { 1024, "1KiB" }, { 268435456, "256MiB" },
                 { 1610612736, "1.5GiB" }, { 0, "0B" } };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[32];
        cg_format_size(rows[i].in, out, sizeof(out));
        CU_ASSERT_STRING_EQUAL(out, rows[i].out);
    }
}

static void test_oom_cause(void)
{
    char out[128] = "";

    CU_ASSERT_EQUAL(cg_oom_cause(0, 1, "268435456", out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "killed by the OOM killer (memory_max 256MiB)");
    CU_ASSERT_EQUAL(cg_oom_cause(2, 3, "max", out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "killed by the OOM killer");
    CU_ASSERT_EQUAL(cg_oom_cause(-1, 1, NULL, out, sizeof(out)), 1);
    CU_ASSERT_EQUAL(cg_oom_cause(1, 1, "268435456", out, sizeof(out)), 0);
    CU_ASSERT_EQUAL(cg_oom_cause(-1, -1, "268435456", out, sizeof(out)), 0);
    CU_ASSERT_EQUAL(cg_oom_cause(0, 0, "268435456", out, sizeof(out)), 0);
}

/* A hybrid host (this project's CI machines) and a unified one (Debian 12). */
static const char hybrid_mi[] =
    "22 1 0:21 / / rw,relatime - overlay overlay rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char unified_mi[] =
    "25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
/* A container: the hierarchy is read-only at /sys/fs/cgroup, a writable bind of its own
 * subtree elsewhere (with a space in the path, octal-escaped). */
static const char container_mi[] =
    "100 90 0:26 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 ro\n"
    "101 90 0:26 /docker/abc /run/my\\040cg rw,nosuid master:3 - cgroup2 cgroup2 rw\n";

static void test_find_mount(void)
{
    char mnt[256], root[256];

    CU_ASSERT_EQUAL(cg_find_mount(hybrid_mi, mnt, sizeof(mnt), root, sizeof(root)), 0);
    CU_ASSERT_STRING_EQUAL(mnt, "/sys/fs/cgroup/unified");
    CU_ASSERT_STRING_EQUAL(root, "/");
    CU_ASSERT_EQUAL(cg_find_mount(unified_mi, mnt, sizeof(mnt), root, sizeof(root)), 0);
    CU_ASSERT_STRING_EQUAL(mnt, "/sys/fs/cgroup");
    CU_ASSERT_EQUAL(cg_find_mount(container_mi, mnt, sizeof(mnt), root, sizeof(root)), 0);
    CU_ASSERT_STRING_EQUAL(mnt, "/run/my cg");
    CU_ASSERT_STRING_EQUAL(root, "/docker/abc");
    CU_ASSERT_EQUAL(cg_find_mount("22 1 0:21 / / rw - overlay overlay rw\n", mnt, sizeof(mnt),
                                  root, sizeof(root)),
                    -1);
    CU_ASSERT_EQUAL(cg_find_mount(container_mi, mnt, sizeof(mnt), root, sizeof(root)), 0);
    CU_ASSERT_EQUAL(cg_find_mount("100 90 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup2 ro\n", mnt,
                                  sizeof(mnt), root, sizeof(root)),
                    -1);
    CU_ASSERT_EQUAL(cg_find_mount("", mnt, sizeof(mnt), root, sizeof(root)), -1);
}

static void test_find_own(void)
{
    char own[256];

    CU_ASSERT_EQUAL(cg_find_own("9:name=systemd:/\n4:memory:/x/y\n0::/\n", own, sizeof(own)), 0);
    CU_ASSERT_STRING_EQUAL(own, "/");
    CU_ASSERT_EQUAL(cg_find_own("0::/system.slice/instanced.service\n", own, sizeof(own)), 0);
    CU_ASSERT_STRING_EQUAL(own, "/system.slice/instanced.service");
    CU_ASSERT_EQUAL(cg_find_own("0::/a/b", own, sizeof(own)), 0); /* no final newline */
    CU_ASSERT_STRING_EQUAL(own, "/a/b");
    CU_ASSERT_EQUAL(cg_find_own("1:name=systemd:/\n", own, sizeof(own)), -1); /* v1 only */
    CU_ASSERT_EQUAL(cg_find_own("0::/very/long/path\n", own, 8), -1);
}

static void test_unit_cgroup(void)
{
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/system.slice/instanced.service", NULL), 1);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/system.slice/instanced@a.service", ""), 1);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/system.slice/instanced.service/supervisor", NULL), 1);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/user.slice/user-0.slice/session-3.scope", NULL), 0);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/user.slice/user-0.slice/session-3.scope", "abc"), 1);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/", NULL), 0);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/", "abc"), 0);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/supervisor", NULL), 0);
    CU_ASSERT_EQUAL(cg_is_unit_cgroup("/x/supervisor", NULL), 0);
}

static void test_plan(void)
{
    static const struct {
        const char *mnt, *mroot, *own, *root, *inv, *tag;
        cg_mode_t mode;
        const char *base, *leaf, *own_path;
    } rows[] = {
        /* hybrid host, a shell in the root cgroup */
        { "/sys/fs/cgroup/unified", "/", "/", NULL, NULL, "ctl-1a2b3c4d", CG_MODE_PLAIN,
          "/sys/fs/cgroup/unified/instanced-ctl-1a2b3c4d", NULL, "/sys/fs/cgroup/unified" },
        /* unified host, under systemd with delegation */
        { "/sys/fs/cgroup", "/", "/system.slice/instanced.service", NULL, "0123", "t",
          CG_MODE_SYSTEMD, "/sys/fs/cgroup/system.slice/instanced.service/instances",
          "/sys/fs/cgroup/system.slice/instanced.service/supervisor",
          "/sys/fs/cgroup/system.slice/instanced.service" },
        /* restarted inside its leaf */
        { "/sys/fs/cgroup", "/", "/system.slice/instanced.service/supervisor", NULL, NULL, "t",
          CG_MODE_SYSTEMD, "/sys/fs/cgroup/system.slice/instanced.service/instances",
          "/sys/fs/cgroup/system.slice/instanced.service/supervisor",
          "/sys/fs/cgroup/system.slice/instanced.service" },
        /* a login session without systemd's invocation: not a unit of ours */
        { "/sys/fs/cgroup", "/", "/user.slice/user-0.slice/session-2.scope", NULL, NULL, "t",
          CG_MODE_PLAIN, "/sys/fs/cgroup/user.slice/user-0.slice/session-2.scope/instanced-t",
          NULL, "/sys/fs/cgroup/user.slice/user-0.slice/session-2.scope" },
        /* systemd-run --scope sets INVOCATION_ID */
        { "/sys/fs/cgroup", "/", "/system.slice/run-u5.scope", NULL, "abc", "t",
          CG_MODE_SYSTEMD, "/sys/fs/cgroup/system.slice/run-u5.scope/instances",
          "/sys/fs/cgroup/system.slice/run-u5.scope/supervisor",
          "/sys/fs/cgroup/system.slice/run-u5.scope" },
        /* cgroup_root wins, inside the hierarchy or as a file system path */
        { "/sys/fs/cgroup", "/", "/system.slice/instanced.service", "/instanced", NULL, "t",
          CG_MODE_CONFIG, "/sys/fs/cgroup/instanced", NULL,
          "/sys/fs/cgroup/system.slice/instanced.service" },
        { "/sys/fs/cgroup/unified", "/", "/", "/sys/fs/cgroup/unified/ci/x/", NULL, "t",
          CG_MODE_CONFIG, "/sys/fs/cgroup/unified/ci/x", NULL, "/sys/fs/cgroup/unified" },
        /* a container's bind of its own subtree */
        { "/run/cg", "/docker/abc", "/docker/abc/app", NULL, NULL, "t", CG_MODE_PLAIN,
          "/run/cg/app/instanced-t", NULL, "/run/cg/app" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cg_plan_t p;
        char err[256] = "";
        int r = cg_plan_make(rows[i].mnt, rows[i].mroot, rows[i].own, rows[i].root, rows[i].inv,
                             rows[i].tag, &p, err, sizeof(err));
        CU_ASSERT_EQUAL_FATAL(r, 0);
        if (strcmp(p.base, rows[i].base) != 0 || strcmp(p.own, rows[i].own_path) != 0)
            fprintf(stderr, "row %zu: base %s own %s\n", i, p.base, p.own);
        CU_ASSERT_EQUAL(p.mode, rows[i].mode);
        CU_ASSERT_STRING_EQUAL(p.base, rows[i].base);
        if (rows[i].mode == CG_MODE_CONFIG) {
            CU_ASSERT_PTR_NULL(p.subtree);
        } else {
            CU_ASSERT_STRING_EQUAL(p.subtree ? p.subtree : "(null)", rows[i].base);
        }
        CU_ASSERT_STRING_EQUAL(p.own, rows[i].own_path);
        if (rows[i].leaf) {
            CU_ASSERT_STRING_EQUAL(p.self_leaf ? p.self_leaf : "(null)", rows[i].leaf);
        } else {
            CU_ASSERT_PTR_NULL(p.self_leaf);
        }
        cg_plan_free(&p);
    }
}

static void test_plan_refusals(void)
{
    static const struct {
        const char *own, *root, *tag, *errpart;
    } rows[] = {
        { "/", "relative/path", "t", "is not an absolute path" },
        { "/", "/a/../b", "t", "without .." },
        { "/", "/", "t", "is the hierarchy's root" },
        { "/", "/sys/fs/cgroup/", "t", "is the hierarchy's root" },
        { "/", NULL, "a/b", "cgroup tag \"a/b\" is not a name" },
        { "/", NULL, "", "is not a name" },
        { "/", NULL, "..", "is not a name" },
        { "", NULL, "t", "no cgroup v2 path" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cg_plan_t p;
        char err[256] = "";
        CU_ASSERT_EQUAL(cg_plan_make("/sys/fs/cgroup", "/", rows[i].own, rows[i].root, NULL,
                                     rows[i].tag, &p, err, sizeof(err)),
                        -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, rows[i].errpart));
        CU_ASSERT_PTR_NULL(p.base);
    }
}

static void test_tag(void)
{
    char a[64], b[64], c[64];

    cg_tag_from_path("/run/instanced/control.sock", a, sizeof(a));
    cg_tag_from_path("/run/instanced/control.sock", b, sizeof(b));
    cg_tag_from_path("/tmp/x/control.sock", c, sizeof(c));
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_NOT_EQUAL(a, c);
    CU_ASSERT_EQUAL(strncmp(a, "control-", 8), 0);
    CU_ASSERT_EQUAL(strlen(a), 8 + 8);
    cg_tag_from_path("/tmp/we ird:name", a, sizeof(a));
    CU_ASSERT_EQUAL(strncmp(a, "we_ird_name-", 12), 0);
    CU_ASSERT_PTR_NULL(strchr(a, '/'));
}

/* The whole open path from texts, against a plain directory standing for the mount:
 * the subtree is made 0755; an unwritable mount is "no writable cgroup2". */
static void test_tree_open_from(void)
{
    char dir[] = "/tmp/unit_cgroup.XXXXXX", mi[512], err[512] = "";
    cg_tree_t t;
    struct stat st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(mi, sizeof(mi), "40 30 0:37 / %s rw,relatime - cgroup2 cgroup2 rw\n", dir);
    CU_ASSERT_EQUAL(cg_tree_open_from(&t, mi, "0::/\n", NULL, NULL, "t1", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(t.plan.mode, CG_MODE_PLAIN);
    CU_ASSERT_EQUAL(stat(t.plan.base, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);
    CU_ASSERT_EQUAL(t.has_kill, 0); /* not a cgroup: no cgroup.kill */
    CU_ASSERT_EQUAL(cg_tree_close(&t, 1, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rmdir(dir), 0); /* the subtree went */

    CU_ASSERT_EQUAL(cg_tree_open_from(&t, mi, "0::/\n", NULL, NULL, "t1", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(strncmp(err, "no writable cgroup2: mkdir ", 27), 0);
    CU_ASSERT_EQUAL(cg_tree_open_from(&t, hybrid_mi, "1:cpu:/\n", NULL, NULL, "t", err,
                                      sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no writable cgroup2: no \"0::\" line"));
    CU_ASSERT_EQUAL(cg_tree_open_from(&t, "", "0::/\n", NULL, NULL, "t", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no writable cgroup2: no read-write cgroup2 mount"));
}

/* A file with text, its directories made first. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[1024], *s;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* The controller verdicts, on a made-up hierarchy of plain files: what is offered where,
 * what the supervisor may enable itself, and the explanation when it may not. */
static void test_limit_check(void)
{
    static const struct {
        const char *own, *root;
        const char *unit_ctrl; /* the cgroup.controllers of own's cgroup */
        const char *procs;     /* its cgroup.procs */
        const char *want;      /* NULL: applies; else a part of the explanation */
    } rows[] = {
        /* systemd with Delegate=yes: the unit is offered memory, the supervisor leaves */
        { "/system.slice/x.service", NULL, "cpu io memory pids\n", "42\n", NULL },
        /* systemd without the controller delegated */
        { "/system.slice/x.service", NULL, "cpu io pids\n", "42\n",
          "memory_max cannot apply: the memory controller is not delegated to MNT/"
          "system.slice/x.service: enable it with Delegate=yes (systemd) or +memory in "
          "MNT/system.slice/cgroup.subtree_control" },
        /* a plain cgroup that holds the supervisor: no controllers below it */
        { "/user.slice/s.scope", NULL, "cpu io memory pids\n", "42\n",
          "memory_max cannot apply: the memory controller cannot be enabled below MNT/"
          "user.slice/s.scope: that cgroup holds processes" },
        /* the root cgroup may have processes and controllers for its children */
        { "/", NULL, "cpu io memory pids\n", "42\n", NULL },
        /* a hybrid host: the hierarchy has no memory controller at all */
        { "/", NULL, "hugetlb\n", "42\n",
          "memory_max cannot apply: the memory controller is not available in the cgroup2 "
          "hierarchy at MNT (on a hybrid host" },
        /* cgroup_root prepared and delegated by the administrator, empty */
        { "/user.slice/s.scope", "/delegated", "memory\n", "", NULL },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char mnt[] = "/tmp/unit_cgroup_check.XXXXXX", rel[512], why[1024] = "", err[256];
        char want[1024] = "", cmd[600];
        cg_plan_t p;
        int r;

        CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(mnt));
        /* Everything up to own offers what own is offered; own's parent enables it. */
        put(mnt, "cgroup.controllers", rows[i].unit_ctrl);
        put(mnt, "cgroup.procs", strcmp(rows[i].own, "/") == 0 ? rows[i].procs : "1\n");
        put(mnt, "cgroup.subtree_control", strcmp(rows[i].own, "/") == 0 ? "" :
                 rows[i].unit_ctrl);
        if (strcmp(rows[i].own, "/") != 0) {
            char parent[256];
            snprintf(parent, sizeof(parent), "%s", rows[i].own + 1);
            *strrchr(parent, '/') = '\0';
            snprintf(rel, sizeof(rel), "%s/cgroup.controllers", parent);
            put(mnt, rel, rows[i].unit_ctrl);
            snprintf(rel, sizeof(rel), "%s/cgroup.subtree_control", parent);
            put(mnt, rel, rows[i].unit_ctrl);
            snprintf(rel, sizeof(rel), "%s/cgroup.controllers", rows[i].own + 1);
            put(mnt, rel, rows[i].unit_ctrl);
            snprintf(rel, sizeof(rel), "%s/cgroup.subtree_control", rows[i].own + 1);
            put(mnt, rel, "");
            snprintf(rel, sizeof(rel), "%s/cgroup.procs", rows[i].own + 1);
            put(mnt, rel, rows[i].procs);
        }
        if (rows[i].root) {
            snprintf(rel, sizeof(rel), "%s/cgroup.controllers", rows[i].root + 1);
            put(mnt, rel, rows[i].unit_ctrl);
            snprintf(rel, sizeof(rel), "%s/cgroup.subtree_control", rows[i].root + 1);
            put(mnt, rel, "");
            snprintf(rel, sizeof(rel), "%s/cgroup.procs", rows[i].root + 1);
            put(mnt, rel, "");
        }
        CU_ASSERT_EQUAL_FATAL(cg_plan_make(mnt, "/", rows[i].own, rows[i].root, NULL, "t", &p, err,
                                           sizeof(err)),
                              0);
        r = cg_limit_check(&p, CG_MEMORY_MAX, why, sizeof(why));
        if (rows[i].want) {
            /* MNT stands for the made-up mount */
            const char *w = rows[i].want, *m;
            while ((m = strstr(w, "MNT"))) {
                strncat(want, w, (size_t)(m - w));
                strncat(want, mnt, sizeof(want) - strlen(want) - 1);
                w = m + 3;
            }
            strncat(want, w, sizeof(want) - strlen(want) - 1);
            if (r != 0 || !strstr(why, want))
                fprintf(stderr, "row %zu: r=%d why=%s\nwant=%s\n", i, r, why, want);
            CU_ASSERT_EQUAL(r, 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(why, want));
        } else {
            if (r != 1)
                fprintf(stderr, "row %zu: r=%d why=%s\n", i, r, why);
            CU_ASSERT_EQUAL(r, 1);
        }
        /* nothing made by the check (cgroup_root existed before) */
        if (!rows[i].root)
            CU_ASSERT_NOT_EQUAL(access(p.base, F_OK), 0);
        cg_plan_free(&p);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mnt);
        CU_ASSERT_EQUAL(system(cmd), 0);
    }
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("cgroup", NULL, NULL);
    if (!s || !CU_add_test(s, "limit keys, files, controllers", test_limit_names) ||
        !CU_add_test(s, "sizes for people", test_format_size) ||
        !CU_add_test(s, "OOM kill as the exit cause", test_oom_cause) ||
        !CU_add_test(s, "cgroup2 mount from mountinfo", test_find_mount) ||
        !CU_add_test(s, "own cgroup from /proc/self/cgroup", test_find_own) ||
        !CU_add_test(s, "systemd unit cgroups", test_unit_cgroup) ||
        !CU_add_test(s, "layout chosen", test_plan) ||
        !CU_add_test(s, "layout refusals", test_plan_refusals) ||
        !CU_add_test(s, "tag from the control socket", test_tag) ||
        !CU_add_test(s, "subtree opened from texts", test_tree_open_from) ||
        !CU_add_test(s, "controllers: offered, enabled, explained", test_limit_check)) {
        CU_cleanup_registry();
        return 2;
    }
    return cu_run_all();
}
