/* cgroup.c - containment: one cgroup v2 per instance, and the parsers of the limit keys.
 *
 * Every worker starts inside <base>/<instance> (spawn_run_cg), so whatever it forks,
 * setsid() or not, stays countable and killable there; cgroup.events says when the
 * last one is gone; a supervisor that died leaves its instances' cgroups behind, and
 * the next one finds what still runs in them (cg_leftovers). Paths are kept as
 * malloc'd strings: a cgroup path has no useful fixed bound.
 *
 * Longer than most files here on purpose: it is the one place that knows the cgroup v2
 * file interface (layout choice, creation, kill, freeze, limits, accounting,
 * leftovers), so that no other module reads or writes /sys/fs/cgroup. */
#include "config.h"

#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "xalloc.h"

/* ---- limit keys ---------------------------------------------------------------- */

static const struct {
    const char *name, *file, *controller;
} limits[CG_LIMIT_COUNT] = {
    [CG_MEMORY_MAX] = { "memory_max", "memory.max", "memory" },
    [CG_MEMORY_HIGH] = { "memory_high", "memory.high", "memory" },
    [CG_CPU_WEIGHT] = { "cpu_weight", "cpu.weight", "cpu" },
    [CG_CPU_MAX] = { "cpu_max", "cpu.max", "cpu" },
    [CG_PIDS_MAX] = { "pids_max", "pids.max", "pids" },
    [CG_IO_WEIGHT] = { "io_weight", "io.weight", "io" },
};

const char *cg_limit_name(cg_limit_key_t key)
{
    return (unsigned)key < CG_LIMIT_COUNT ? limits[key].name : NULL;
}

const char *cg_limit_file(cg_limit_key_t key)
{
    return (unsigned)key < CG_LIMIT_COUNT ? limits[key].file : NULL;
}

const char *cg_limit_controller(cg_limit_key_t key)
{
    return (unsigned)key < CG_LIMIT_COUNT ? limits[key].controller : NULL;
}

int cg_limit_lookup(const char *name)
{
    for (int k = 0; k < CG_LIMIT_COUNT; k++)
        if (name && strcmp(name, limits[k].name) == 0)
            return k;
    return -1;
}

/* A non-negative decimal integer filling all of s, at most max. */
static int parse_count(const char *s, long long max, long long *out)
{
    long long v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        if (v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

void cg_format_size(long long bytes, char *out, size_t outlen)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, outlen, "%lldB", bytes);
    else if (v == (double)(long long)v)
        snprintf(out, outlen, "%.0f%s", v, units[u]);
    else
        snprintf(out, outlen, "%.1f%s", v, units[u]);
}

/* ---- where the subtree goes ---------------------------------------------------- */

/* Copy a mountinfo field (up to a space), decoding \040-style octal escapes. */
static int copy_field(const char *s, const char **next, char *out, size_t outlen)
{
    size_t o = 0;

    while (*s && *s != ' ' && *s != '\n') {
        char c = *s++;
        if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' &&
            s[2] >= '0' && s[2] <= '7') {
            c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
            s += 3;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    while (*s == ' ')
        s++;
    *next = s;
    return 0;
}

int cg_find_mount(const char *mountinfo, char *mnt, size_t mntlen, char *root, size_t rootlen)
{
    const char *line = mountinfo;

    while (line && *line) {
        const char *eol = strchr(line, '\n'), *p = line, *sep;
        char field[PATH_MAX], opts[256], fstype[64];
        int ok = 1;

        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
        for (int i = 0; i < 3 && ok; i++)
            ok = copy_field(p, &p, field, sizeof(field)) == 0;
        if (ok && copy_field(p, &p, root, rootlen) == 0 &&
            copy_field(p, &p, mnt, mntlen) == 0 && copy_field(p, &p, opts, sizeof(opts)) == 0) {
            /* optional fields up to the lone "-" */
            while ((sep = p) < (eol ? eol : p + strlen(p)) &&
                   copy_field(p, &p, field, sizeof(field)) == 0 && strcmp(field, "-") != 0)
                ;
            if (sep < (eol ? eol : sep + strlen(sep)) && strcmp(field, "-") == 0 &&
                copy_field(p, &p, fstype, sizeof(fstype)) == 0 && strcmp(fstype, "cgroup2") == 0 &&
                (strncmp(opts, "rw", 2) == 0 && (opts[2] == ',' || opts[2] == '\0')))
                return 0;
        }
        line = eol ? eol + 1 : NULL;
    }
    if (mntlen)
        mnt[0] = '\0';
    if (rootlen)
        root[0] = '\0';
    return -1;
}

int cg_find_own(const char *proc_cgroup, char *out, size_t outlen)
{
    const char *line = proc_cgroup;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);

        if (n >= 3 && strncmp(line, "0::", 3) == 0) {
            if (n - 3 >= outlen || line[3] != '/')
                return -1;
            memcpy(out, line + 3, n - 3);
            out[n - 3] = '\0';
            return 0;
        }
        line = eol ? eol + 1 : NULL;
    }
    return -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The last component of path, and the one before it (into prev, "" when none). */
static const char *last_component(const char *path, char *prev, size_t prevlen)
{
    const char *slash = strrchr(path, '/'), *p;

    if (prevlen)
        prev[0] = '\0';
    if (!slash)
        return path;
    for (p = slash; p > path && p[-1] != '/'; p--)
        ;
    if (p < slash && (size_t)(slash - p) < prevlen) {
        memcpy(prev, p, (size_t)(slash - p));
        prev[slash - p] = '\0';
    }
    return slash + 1;
}

static int unit_name(const char *name, const char *invocation_id)
{
    return ends_with(name, ".service") ||
           (invocation_id && *invocation_id && ends_with(name, ".scope"));
}

int cg_is_unit_cgroup(const char *own, const char *invocation_id)
{
    char prev[256];
    const char *last = last_component(own, prev, sizeof(prev));

    if (unit_name(last, invocation_id))
        return 1;
    return strcmp(last, "supervisor") == 0 && unit_name(prev, invocation_id);
}

void cg_plan_free(cg_plan_t *p)
{
    free(p->mnt);
    free(p->own);
    free(p->base);
    free(p->self_leaf);
    free(p->subtree);
    memset(p, 0, sizeof(*p));
}

/* mnt joined with the hierarchy path cg (relative to the mount's root mroot). */
static char *fs_path(const char *mnt, const char *mroot, const char *cg)
{
    size_t rl = strlen(mroot);

    if (strcmp(mroot, "/") != 0 && strncmp(cg, mroot, rl) == 0 && (cg[rl] == '/' || !cg[rl]))
        cg += rl;
    while (*cg == '/')
        cg++;
    return *cg ? xasprintf("%s/%s", mnt, cg) : xstrdup(mnt);
}

int cg_plan_make(const char *mnt, const char *mnt_root, const char *own, const char *cgroup_root,
                 const char *invocation_id, const char *tag, cg_plan_t *out, char *err,
                 size_t errlen)
{
    size_t ml = strlen(mnt);

    memset(out, 0, sizeof(*out));
    if (!own || own[0] != '/')
        return errbuf_set(err, errlen, "no cgroup v2 path in /proc/self/cgroup");
    out->mnt = xstrdup(mnt);
    out->own = fs_path(mnt, mnt_root, own);
    if (cgroup_root && *cgroup_root) {
        if (cgroup_root[0] != '/' || strstr(cgroup_root, "/../") || ends_with(cgroup_root, "/.."))
            return cg_plan_free(out),
                   errbuf_set(err, errlen, "cgroup_root \"%s\" is not an absolute path without ..",
                              cgroup_root);
        out->mode = CG_MODE_CONFIG;
        if (strncmp(cgroup_root, mnt, ml) == 0 && cgroup_root[ml] == '/')
            out->base = xstrdup(cgroup_root);
        else
            out->base = fs_path(mnt, "/", cgroup_root);
        while (ends_with(out->base, "/") && strlen(out->base) > 1)
            out->base[strlen(out->base) - 1] = '\0';
        if (strncmp(out->base, mnt, ml) != 0 || out->base[ml] != '/')
            return cg_plan_free(out),
                   errbuf_set(err, errlen, "cgroup_root \"%s\" is the hierarchy's root: name a "
                              "cgroup below it", cgroup_root);
        /* Perhaps made and delegated by the administrator: shutdown empties it only. */
        out->subtree = NULL;
        return 0;
    }
    if (cg_is_unit_cgroup(own, invocation_id)) {
        char *unit = xstrdup(out->own);
        if (ends_with(unit, "/supervisor"))
            unit[strlen(unit) - strlen("/supervisor")] = '\0';
        out->mode = CG_MODE_SYSTEMD;
        /* The unit's cgroup is the one delegated to us, even when we are already in
         * its leaf (re-executed). */
        free(out->own);
        out->own = xstrdup(unit);
        out->self_leaf = xasprintf("%s/supervisor", unit);
        out->base = xasprintf("%s/instances", unit);
        out->subtree = xstrdup(out->base);
        free(unit);
        return 0;
    }
    if (!tag || !*tag || strchr(tag, '/') || strcmp(tag, ".") == 0 || strcmp(tag, "..") == 0)
        return cg_plan_free(out), errbuf_set(err, errlen, "cgroup tag \"%s\" is not a name",
                                             tag ? tag : "");
    out->mode = CG_MODE_PLAIN;
    out->base = xasprintf("%s/instanced-%s", out->own, tag);
    out->subtree = xstrdup(out->base);
    return 0;
}

void cg_tag_from_path(const char *socket_path, char *out, size_t outlen)
{
    const char *base = strrchr(socket_path, '/');
    unsigned h = 2166136261u; /* FNV-1a: stable across runs and builds */
    char name[64];
    size_t n;

    for (const char *s = socket_path; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    base = base ? base + 1 : socket_path;
    n = strcspn(base, ".");
    if (n == 0)
        n = strlen(base);
    if (n > 40)
        n = 40;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)base[i];
        name[i] = (char)(isalnum(c) || c == '_' || c == '-' ? c : '_');
    }
    name[n] = '\0';
    snprintf(out, outlen, "%s%s%08x", name, n ? "-" : "", h);
}

/* The parent directory of path, malloc'd. */
static char *parent_of(const char *path)
{
    char *p = xstrdup(path), *slash = strrchr(p, '/');
    if (slash && slash != p)
        *slash = '\0';
    return p;
}

/* ---- small file helpers --------------------------------------------------------- */

/* Read dir/name (at most cap - 1 bytes) into buf. Returns the length or -1. */
static ssize_t read_at(int dirfd, const char *path, char *buf, size_t cap)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    ssize_t n, total = 0;

    if (fd < 0)
        return -1;
    while ((size_t)total + 1 < cap &&
           ((n = read(fd, buf + total, cap - 1 - (size_t)total)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            total += n;
    close(fd);
    buf[total] = '\0';
    return total;
}

/* A whole file, malloc'd (the caller frees), or NULL. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t cap = 4096, len = 0;
    char *buf;
    ssize_t n;

    if (fd < 0)
        return NULL;
    buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = xrealloc(buf, cap *= 2);
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
}

static int write_at(int dirfd, const char *path, const char *text)
{
    int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC), saved;
    ssize_t n;

    if (fd < 0)
        return -1;
    do
        n = write(fd, text, strlen(text));
    while (n < 0 && errno == EINTR);
    saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 0;
}

static int write_path(const char *dir, const char *file, const char *text)
{
    char *p = xasprintf("%s/%s", dir, file);
    int r = write_at(AT_FDCWD, p, text), saved = errno;
    free(p);
    errno = saved;
    return r;
}

/* The value after "key " in a "key value" file text; -1 when absent. */
static long long kv_value(const char *text, const char *key)
{
    size_t kl = strlen(key);

    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, kl) == 0 && l[kl] == ' ')
            return strtoll(l + kl + 1, NULL, 10);
    return -1;
}

/* Does the space-separated list text name word? */
static int has_word(const char *text, const char *word)
{
    size_t wl = strlen(word);

    for (const char *p = text; (p = strstr(p, word)); p += wl)
        if ((p == text || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || !p[wl]))
            return 1;
    return 0;
}

static int file_has_word(const char *dir, const char *file, const char *word)
{
    char *p = xasprintf("%s/%s", dir, file), buf[1024];
    ssize_t n = read_at(AT_FDCWD, p, buf, sizeof(buf));
    free(p);
    return n >= 0 && has_word(buf, word);
}

/* ---- the subtree ---------------------------------------------------------------- */

static int make_dir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return errbuf_set(err, errlen, "mkdir %s: %s", path, strerror(errno));
    return 0;
}

int cg_tree_open_from(cg_tree_t *t, const char *mountinfo, const char *proc_cgroup,
                      const char *cgroup_root, const char *invocation_id, const char *tag,
                      char *err, size_t errlen)
{
    char mnt[PATH_MAX], mroot[PATH_MAX], own[PATH_MAX], why[512];
    char *kill_path;

    memset(t, 0, sizeof(*t));
    t->watch_fd = -1;
    if (cg_find_mount(mountinfo, mnt, sizeof(mnt), mroot, sizeof(mroot)) < 0)
        return errbuf_set(err, errlen, "no writable cgroup2: no read-write cgroup2 mount in "
                          "/proc/self/mountinfo");
    if (cg_find_own(proc_cgroup, own, sizeof(own)) < 0)
        return errbuf_set(err, errlen, "no writable cgroup2: no \"0::\" line in /proc/self/cgroup");
    if (cg_plan_make(mnt, mroot, own, cgroup_root, invocation_id, tag, &t->plan, why,
                     sizeof(why)) < 0)
        return errbuf_set(err, errlen, "no writable cgroup2: %s", why);
    if (t->plan.mode == CG_MODE_SYSTEMD) {
        /* No process may stay in the unit's cgroup once controllers are enabled for
         * its children: the supervisor moves into a leaf of its own. */
        if (make_dir(t->plan.self_leaf, why, sizeof(why)) < 0 ||
            (write_path(t->plan.self_leaf, "cgroup.procs", "0") < 0 &&
             errbuf_set(why, sizeof(why), "moving the supervisor into %s: %s",
                        t->plan.self_leaf, strerror(errno))))
            goto fail;
    } else if (t->plan.mode == CG_MODE_CONFIG) {
        /* Parents of a configured root are created too. */
        for (char *s = t->plan.base + strlen(mnt) + 1; (s = strchr(s, '/')); s++) {
            *s = '\0';
            int r = make_dir(t->plan.base, why, sizeof(why));
            *s = '/';
            if (r < 0)
                goto fail;
        }
    }
    if (make_dir(t->plan.base, why, sizeof(why)) < 0)
        goto fail;
    kill_path = xasprintf("%s/cgroup.kill", t->plan.base);
    t->has_kill = access(kill_path, W_OK) == 0;
    free(kill_path);
    return 0;
fail:
    cg_plan_free(&t->plan);
    return errbuf_set(err, errlen, "no writable cgroup2: %s", why);
}

int cg_tree_open(cg_tree_t *t, const char *cgroup_root, const char *tag, char *err,
                 size_t errlen)
{
    char *mi = slurp("/proc/self/mountinfo"), *pc = slurp("/proc/self/cgroup");
    int r;

    if (!mi || !pc) {
        free(mi);
        free(pc);
        memset(t, 0, sizeof(*t));
        t->watch_fd = -1;
        return errbuf_set(err, errlen, "no writable cgroup2: cannot read /proc/self: %s",
                          strerror(errno));
    }
    r = cg_tree_open_from(t, mi, pc, cgroup_root, getenv("INVOCATION_ID"), tag, err, errlen);
    free(mi);
    free(pc);
    return r;
}

int cg_plan_probe(const char *cgroup_root, const char *tag, cg_plan_t *out, char *err,
                  size_t errlen)
{
    char *mi = slurp("/proc/self/mountinfo"), *pc = slurp("/proc/self/cgroup");
    char mnt[PATH_MAX], mroot[PATH_MAX], own[PATH_MAX], why[512];
    char *dir;
    int r = -1;

    memset(out, 0, sizeof(*out));
    if (!mi || !pc)
        errbuf_set(err, errlen, "no writable cgroup2: cannot read /proc/self: %s",
                   strerror(errno));
    else if (cg_find_mount(mi, mnt, sizeof(mnt), mroot, sizeof(mroot)) < 0)
        errbuf_set(err, errlen, "no writable cgroup2: no read-write cgroup2 mount in "
                   "/proc/self/mountinfo");
    else if (cg_find_own(pc, own, sizeof(own)) < 0)
        errbuf_set(err, errlen, "no writable cgroup2: no \"0::\" line in /proc/self/cgroup");
    else if (cg_plan_make(mnt, mroot, own, cgroup_root, getenv("INVOCATION_ID"), tag, out, why,
                          sizeof(why)) < 0)
        errbuf_set(err, errlen, "no writable cgroup2: %s", why);
    else {
        /* The nearest directory that exists must let us make the rest. */
        dir = xstrdup(out->base);
        while (access(dir, F_OK) < 0 && strlen(dir) > strlen(mnt)) {
            char *up = parent_of(dir);
            free(dir);
            dir = up;
        }
        if (access(dir, W_OK) < 0) {
            errbuf_set(err, errlen, "no writable cgroup2: %s: %s", dir, strerror(errno));
            cg_plan_free(out);
        } else
            r = 0;
        free(dir);
    }
    free(mi);
    free(pc);
    return r;
}

/* rmdir path's child cgroups, deepest first, then path itself. */
static int rmdir_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int r;

    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char *sub = xasprintf("%s/%s", path, e->d_name);
            rmdir_tree(sub);
            free(sub);
        }
    closedir(d);
    r = rmdir(path);
    return r < 0 && errno == ENOENT ? 0 : r;
}

int cg_tree_close(cg_tree_t *t, int remove, char *err, size_t errlen)
{
    int r = 0;

    if (t->watch_fd >= 0)
        close(t->watch_fd);
    t->watch_fd = -1;
    if (remove && t->plan.subtree && rmdir_tree(t->plan.subtree) < 0)
        r = errbuf_set(err, errlen, "rmdir %s: %s", t->plan.subtree,
                       errno == EBUSY ? "an instance's cgroup still holds processes"
                                      : strerror(errno));
    if (remove && !t->plan.subtree && t->plan.base) {
        /* cgroup_root itself stays: only the instances' cgroups go. */
        DIR *d = opendir(t->plan.base);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_type == DT_DIR && e->d_name[0] != '.') {
                char *sub = xasprintf("%s/%s", t->plan.base, e->d_name);
                if (rmdir_tree(sub) < 0 && r == 0)
                    r = errbuf_set(err, errlen, "rmdir %s: %s", sub,
                                   errno == EBUSY ? "it still holds processes" : strerror(errno));
                free(sub);
            }
        if (d)
            closedir(d);
    }
    cg_plan_free(&t->plan);
    return r;
}

/* ---- one instance --------------------------------------------------------------- */

int cg_inst_open(cg_tree_t *t, const char *name, cg_inst_t *ci, char *err, size_t errlen)
{
    memset(ci, 0, sizeof(*ci));
    ci->dir_fd = -1;
    ci->wd = -1;
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return errbuf_set(err, errlen, "\"%s\" cannot name a cgroup", name ? name : "");
    ci->path = xasprintf("%s/%s", t->plan.base, name);
    if (make_dir(ci->path, err, errlen) < 0)
        goto fail;
    /* Not world-writable whatever the umask: moving a process in is the supervisor's. */
    if (chmod(ci->path, 0755) < 0) {
        errbuf_set(err, errlen, "chmod %s: %s", ci->path, strerror(errno));
        goto fail;
    }
    ci->dir_fd = open(ci->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ci->dir_fd < 0) {
        errbuf_set(err, errlen, "open %s: %s", ci->path, strerror(errno));
        goto fail;
    }
    ci->name = xstrdup(name);
    return 0;
fail:
    free(ci->path);
    ci->path = NULL;
    return -1;
}

void cg_inst_close(cg_tree_t *t, cg_inst_t *ci)
{
    if (ci->wd >= 0 && t && t->watch_fd >= 0)
        inotify_rm_watch(t->watch_fd, ci->wd);
    ci->wd = -1;
    if (ci->dir_fd >= 0)
        close(ci->dir_fd);
    ci->dir_fd = -1;
    free(ci->path);
    free(ci->name);
    ci->path = ci->name = NULL;
}

int cg_inst_pids(const cg_inst_t *ci, pid_t **pids)
{
    char *p = xasprintf("%s/cgroup.procs", ci->path), *text = slurp(p);
    size_t n = 0, cap = 16;

    free(p);
    *pids = NULL;
    if (!text)
        return -1;
    *pids = xmalloc(cap * sizeof(**pids));
    for (char *s = text; *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        if (n == cap)
            *pids = xreallocarray(*pids, cap *= 2, sizeof(**pids));
        (*pids)[n++] = (pid_t)v;
        s = end;
        while (*s == '\n')
            s++;
    }
    free(text);
    return (int)n;
}

static int events_value(const cg_inst_t *ci, const char *key)
{
    char buf[512];

    if (read_at(ci->dir_fd, "cgroup.events", buf, sizeof(buf)) < 0)
        return -1;
    return (int)kv_value(buf, key);
}

int cg_inst_populated(const cg_inst_t *ci)
{
    return events_value(ci, "populated");
}

int cg_inst_frozen(const cg_inst_t *ci)
{
    return events_value(ci, "frozen");
}

int cg_inst_freeze(cg_inst_t *ci, int freeze, char *err, size_t errlen)
{
    if (write_at(ci->dir_fd, "cgroup.freeze", freeze ? "1" : "0") < 0)
        return errbuf_set(err, errlen, "%s/cgroup.freeze: %s", ci->path, strerror(errno));
    return 0;
}

/* Is pid in list (n entries)? */
static int listed(const pid_t *list, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (list[i] == pid)
            return 1;
    return 0;
}

/* The fallback for kernels without cgroup.kill (before 5.14): signal every process
 * of path and of its child cgroups, round after round while a pid shows up that was
 * not signalled yet (one forked between the listing and the kill). Frozen first, so
 * that round after round is not a race with fork. */
static int kill_by_signals(const char *path, pid_t **done, int *ndone)
{
    cg_inst_t tmp = { .path = (char *)path, .dir_fd = -1, .wd = -1 };
    int signalled = 0, fresh;

    for (int round = 0; round < 1000; round++) {
        pid_t *pids;
        int n = cg_inst_pids(&tmp, &pids);

        fresh = 0;
        for (int i = 0; i < n; i++) {
            if (listed(*done, *ndone, pids[i]))
                continue;
            if (kill(pids[i], SIGKILL) == 0 || errno == ESRCH) {
                *done = xreallocarray(*done, (size_t)*ndone + 1, sizeof(**done));
                (*done)[(*ndone)++] = pids[i];
                signalled++;
                fresh = 1;
            }
        }
        free(pids);
        if (!fresh)
            break;
    }
    {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_type == DT_DIR && e->d_name[0] != '.') {
                char *sub = xasprintf("%s/%s", path, e->d_name);
                signalled += kill_by_signals(sub, done, ndone);
                free(sub);
            }
        if (d)
            closedir(d);
    }
    return signalled;
}

int cg_inst_kill(cg_tree_t *t, cg_inst_t *ci, char *err, size_t errlen)
{
    pid_t *done = NULL;
    int ndone = 0, n, frozen;

    if (t->has_kill && !t->force_fallback) {
        if (write_at(ci->dir_fd, "cgroup.kill", "1") == 0)
            return 0;
        if (errno != ENOENT && errno != EINVAL)
            return errbuf_set(err, errlen, "%s/cgroup.kill: %s", ci->path, strerror(errno));
    }
    /* Frozen processes still die of SIGKILL in cgroup v2; frozen, they cannot fork. */
    frozen = write_at(ci->dir_fd, "cgroup.freeze", "1") == 0;
    if (frozen) {
        /* Freezing is asynchronous: wait (briefly, bounded) for "frozen 1". */
        for (int i = 0; i < 200 && cg_inst_frozen(ci) == 0 && cg_inst_populated(ci) == 1; i++) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    n = kill_by_signals(ci->path, &done, &ndone);
    free(done);
    if (frozen)
        write_at(ci->dir_fd, "cgroup.freeze", "0");
    return n;
}

int cg_inst_remove(cg_tree_t *t, cg_inst_t *ci, char *err, size_t errlen)
{
    int r = 0;

    if (ci->path && rmdir_tree(ci->path) < 0)
        r = errbuf_set(err, errlen, "rmdir %s: %s", ci->path,
                       errno == EBUSY ? "processes are still in it" : strerror(errno));
    cg_inst_close(t, ci);
    return r;
}

/* ---- notification --------------------------------------------------------------- */

int cg_watch_fd(cg_tree_t *t)
{
    if (t->watch_fd < 0)
        t->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return t->watch_fd;
}

int cg_inst_watch(cg_tree_t *t, cg_inst_t *ci, char *err, size_t errlen)
{
    char *p;

    if (ci->wd >= 0)
        return 0;
    if (cg_watch_fd(t) < 0)
        return errbuf_set(err, errlen, "inotify_init1: %s", strerror(errno));
    p = xasprintf("%s/cgroup.events", ci->path);
    ci->wd = inotify_add_watch(t->watch_fd, p, IN_MODIFY);
    if (ci->wd < 0)
        errbuf_set(err, errlen, "inotify_add_watch %s: %s", p, strerror(errno));
    free(p);
    return ci->wd < 0 ? -1 : 0;
}

int cg_watch_drain(cg_tree_t *t, void (*fn)(int wd, void *arg), void *arg)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int count = 0;
    ssize_t n;

    if (t->watch_fd < 0)
        return 0;
    while ((n = read(t->watch_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        for (char *p = buf; n > 0 && p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            count++;
            if (fn)
                fn(ev->wd, arg);
            p += sizeof(*ev) + ev->len;
        }
    }
    return count;
}

/* ---- limits --------------------------------------------------------------------- */

/* Does dir hold a process? */
static int has_procs(const char *dir)
{
    char *p = xasprintf("%s/cgroup.procs", dir), buf[16];
    ssize_t n = read_at(AT_FDCWD, p, buf, sizeof(buf));
    free(p);
    return n > 0;
}

/* Enable controller c for the children of dir: it must be offered in dir's
 * cgroup.controllers, which needs it enabled in the parent's subtree_control, which
 * the supervisor may do itself when the parent is at or below its own cgroup. dry:
 * change nothing, judge from the files as they are (a directory not made yet is
 * offered what its parent enables). */
static int enable_for_children(const cg_plan_t *pl, const char *dir, const char *c, int depth,
                               int dry, char *why, size_t whylen)
{
    struct stat st;
    int exists = stat(dir, &st) == 0, offered;
    char *plus, *parent = parent_of(dir);
    int r;

    if (exists && file_has_word(dir, "cgroup.subtree_control", c)) {
        free(parent);
        return 0;
    }
    offered = exists ? file_has_word(dir, "cgroup.controllers", c)
                     : file_has_word(parent, "cgroup.subtree_control", c);
    if (!offered) {
        size_t ol = strlen(pl->own);
        int ours = depth < 4 && strncmp(parent, pl->own, ol) == 0 &&
                   (parent[ol] == '/' || !parent[ol]);
        if (!ours || enable_for_children(pl, parent, c, depth + 1, dry, why, whylen) < 0) {
            if (strcmp(dir, pl->mnt) == 0 && !why[0])
                errbuf_set(why, whylen,
                           "the %s controller is not available in the cgroup2 hierarchy at "
                           "%s (on a hybrid host it is bound to the cgroup v1 hierarchy): "
                           "boot with systemd.unified_cgroup_hierarchy=1 or mount cgroup2 "
                           "with it",
                           c, dir);
            else if (!ours || !why[0])
                errbuf_set(why, whylen,
                           "the %s controller is not delegated to %s: enable it with "
                           "Delegate=yes (systemd) or +%s in %s/cgroup.subtree_control",
                           c, dir, c, parent);
            free(parent);
            return -1;
        }
    }
    free(parent);
    if (dry) {
        /* What the write would meet: processes in dir (the root cgroup may have them).
         * The supervisor will be in its own cgroup in the plain layout, and out of its
         * unit's in the systemd one. */
        int own = strcmp(dir, pl->own) == 0;
        int busy = strcmp(dir, pl->mnt) != 0 &&
                   ((own && pl->mode == CG_MODE_PLAIN) ||
                    (exists && !(own && pl->mode == CG_MODE_SYSTEMD) && has_procs(dir)));
        r = busy ? -1 : 0;
        errno = EBUSY;
    } else {
        plus = xasprintf("+%s", c);
        r = write_path(dir, "cgroup.subtree_control", plus);
        free(plus);
    }
    if (r < 0) {
        if (errno == EBUSY)
            errbuf_set(why, whylen,
                       "the %s controller cannot be enabled below %s: that cgroup holds "
                       "processes (cgroup v2 allows controllers only for the children of a "
                       "cgroup without processes): run instanced under systemd with "
                       "Delegate=yes or set cgroup_root to a cgroup of its own",
                       c, dir);
        else
            errbuf_set(why, whylen, "the %s controller cannot be enabled in %s/cgroup."
                       "subtree_control: %s", c, dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int limit_check(const cg_plan_t *pl, cg_limit_key_t key, int dry, char *why,
                       size_t whylen)
{
    char reason[1024] = "";

    if (!cg_limit_name(key))
        return errbuf_set(why, whylen, "unknown limit key %d", (int)key), 0;
    if (enable_for_children(pl, pl->base, limits[key].controller, 0, dry, reason,
                            sizeof(reason)) < 0) {
        errbuf_set(why, whylen, "%s cannot apply: %s", limits[key].name, reason);
        return 0;
    }
    return 1;
}

int cg_limit_available(cg_tree_t *t, cg_limit_key_t key, char *why, size_t whylen)
{
    return limit_check(&t->plan, key, 0, why, whylen);
}

int cg_limit_check(const cg_plan_t *p, cg_limit_key_t key, char *why, size_t whylen)
{
    return limit_check(p, key, 1, why, whylen);
}

int cg_inst_set_limit(cg_tree_t *t, cg_inst_t *ci, cg_limit_key_t key, const char *value,
                      char *why, size_t whylen)
{
    if (!cg_limit_available(t, key, why, whylen))
        return -1;
    if (write_at(ci->dir_fd, limits[key].file, value) < 0)
        return errbuf_set(why, whylen, "%s cannot apply: writing \"%s\" to %s/%s: %s",
                          limits[key].name, value, ci->path, limits[key].file,
                          strerror(errno));
    return 0;
}

/* ---- accounting ----------------------------------------------------------------- */

static double pressure_some10(int dirfd, const char *file)
{
    char buf[512];
    const char *p;

    if (read_at(dirfd, file, buf, sizeof(buf)) < 0 || strncmp(buf, "some ", 5) != 0 ||
        !(p = strstr(buf, "avg10=")))
        return -1.0;
    return strtod(p + 6, NULL);
}

static long long number_file(int dirfd, const char *file)
{
    char buf[64];

    if (read_at(dirfd, file, buf, sizeof(buf)) <= 0 || !isdigit((unsigned char)buf[0]))
        return -1;
    return strtoll(buf, NULL, 10);
}

int cg_inst_stats(const cg_inst_t *ci, cg_stats_t *st)
{
    char buf[2048];
    pid_t *pids;
    int n;

    memset(st, 0, sizeof(*st));
    st->cpu_usec = st->user_usec = st->system_usec = -1;
    st->mem_current = st->mem_peak = st->oom_kills = st->pids_current = st->nprocs = -1;
    st->cpu_some10 = st->mem_some10 = st->io_some10 = -1.0;
    if (read_at(ci->dir_fd, "cgroup.events", buf, sizeof(buf)) < 0)
        return -1;
    st->populated = (int)kv_value(buf, "populated");
    st->frozen = (int)kv_value(buf, "frozen");
    if (read_at(ci->dir_fd, "cpu.stat", buf, sizeof(buf)) >= 0) {
        st->cpu_usec = kv_value(buf, "usage_usec");
        st->user_usec = kv_value(buf, "user_usec");
        st->system_usec = kv_value(buf, "system_usec");
    }
    st->mem_current = number_file(ci->dir_fd, "memory.current");
    st->mem_peak = number_file(ci->dir_fd, "memory.peak");
    if (read_at(ci->dir_fd, "memory.events", buf, sizeof(buf)) >= 0)
        st->oom_kills = kv_value(buf, "oom_kill");
    st->pids_current = number_file(ci->dir_fd, "pids.current");
    if ((n = cg_inst_pids(ci, &pids)) >= 0)
        st->nprocs = n;
    free(pids);
    st->cpu_some10 = pressure_some10(ci->dir_fd, "cpu.pressure");
    st->mem_some10 = pressure_some10(ci->dir_fd, "memory.pressure");
    st->io_some10 = pressure_some10(ci->dir_fd, "io.pressure");
    return 0;
}

int cg_oom_cause(long long oom_before, long long oom_after, const char *memory_max, char *out,
                 size_t outlen)
{
    long long limit;
    char size[32];

    if (oom_after < 0 || oom_after <= (oom_before < 0 ? 0 : oom_before))
        return 0;
    if (memory_max && parse_count(memory_max, 1LL << 62, &limit) == 0) {
        cg_format_size(limit, size, sizeof(size));
        snprintf(out, outlen, "killed by the OOM killer (memory_max %s)", size);
    } else
        snprintf(out, outlen, "killed by the OOM killer");
    return 1;
}

/* ---- leftovers ------------------------------------------------------------------ */

static void collect(const char *instance, const char *path, cg_leftover_t **out, int *n,
                    int depth)
{
    cg_inst_t tmp = { .path = (char *)path, .dir_fd = -1, .wd = -1 };
    pid_t *pids;
    int np = cg_inst_pids(&tmp, &pids);
    DIR *d;
    struct dirent *e;

    for (int i = 0; i < np; i++) {
        cg_leftover_t *l;
        char proc[64];
        ssize_t len;

        *out = xreallocarray(*out, (size_t)*n + 1, sizeof(**out));
        l = &(*out)[(*n)++];
        memset(l, 0, sizeof(*l));
        snprintf(l->instance, sizeof(l->instance), "%s", instance);
        l->pid = pids[i];
        snprintf(proc, sizeof(proc), "/proc/%ld/comm", (long)pids[i]);
        len = read_at(AT_FDCWD, proc, l->comm, sizeof(l->comm));
        if (len <= 0)
            snprintf(l->comm, sizeof(l->comm), "?");
        else if (l->comm[len - 1] == '\n')
            l->comm[len - 1] = '\0';
    }
    free(pids);
    if (depth > 16 || !(d = opendir(path)))
        return;
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char *sub = xasprintf("%s/%s", path, e->d_name);
            collect(instance, sub, out, n, depth + 1);
            free(sub);
        }
    closedir(d);
}

int cg_leftovers(const cg_tree_t *t, cg_leftover_t **out, char *err, size_t errlen)
{
    DIR *d = opendir(t->plan.base);
    struct dirent *e;
    int n = 0;

    *out = xmalloc(sizeof(**out));
    if (!d) {
        if (errno == ENOENT)
            return 0;
        errbuf_set(err, errlen, "opendir %s: %s", t->plan.base, strerror(errno));
        free(*out);
        *out = NULL;
        return -1;
    }
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char *sub = xasprintf("%s/%s", t->plan.base, e->d_name);
            collect(e->d_name, sub, out, &n, 0);
            free(sub);
        }
    closedir(d);
    return n;
}
