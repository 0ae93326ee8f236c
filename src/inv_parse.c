/* inv_parse.c - the inventory's libconfuse loader: each statement and section body the
 * scanner delimited is parsed on its own, and services and instances are built from
 * them. */
#include "config.h"

#include "inv_private.h"
#include "naming.h"
#include "probe_conf.h"
#include "xalloc.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- libconfuse option tables, generated from inv_keys[] -------------------------------- */

/* Each section's body is parsed on its own (parse_section), so no table declares a
 * section: the root table holds the top-level keys only. */
cfg_opt_t *inv_make_opts(unsigned scope)
{
    size_t n = 0;
    cfg_opt_t *o = xcalloc(INV_NKEYS + 1, sizeof(*o));

    for (size_t i = 0; i < INV_NKEYS; i++) {
        if (!(inv_keys[i].scope & scope))
            continue;
        if (inv_keys[i].type == T_LIST) {
            cfg_opt_t l = CFG_STR_LIST((char *)inv_keys[i].name, NULL, CFGF_NODEFAULT);
            o[n++] = l;
        } else {
            cfg_opt_t s = CFG_STR((char *)inv_keys[i].name, NULL, CFGF_NODEFAULT);
            o[n++] = s;
        }
    }
    {
        cfg_opt_t end = CFG_END();
        o[n] = end;
    }
    return o;
}

static loader_t *cur_loader; /* for the libconfuse error callback, during cfg_parse only */

static void confuse_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void confuse_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (cur_loader)
        inv_add_error(cur_loader, cfg && cfg->line > 0 ? cfg->line + cur_loader->line_offset
                                                   : cur_loader->line_offset + 1, "%s", msg);
}

/* ---- building the inventory -------------------------------------------------------- */

int inv_kcfg_init(kcfg_t *k, cfg_opt_t *opts)
{
    memset(k, 0, sizeof(*k));
    k->cfg = cfg_init(opts, CFGF_IGNORE_UNKNOWN);
    if (!k->cfg)
        return -1;
    cfg_set_error_function(k->cfg, confuse_error_cb);
    for (cfg_opt_t *o = k->cfg->opts; o->name; o++)
        for (size_t i = 0; i < INV_NKEYS; i++)
            if (strcmp(inv_keys[i].name, o->name) == 0)
                k->opt[i] = o;
    return 0;
}

/* Forget every value, so that the next section starts from nothing. */
static void kcfg_reset(kcfg_t *k)
{
    for (cfg_opt_t *o = k->cfg->opts; o->name; o++)
        if (o->nvalues)
            cfg_free_value(o);
}

cfg_opt_t *inv_kopt(const kcfg_t *k, const char *name)
{
    size_t i = inv_key_index(name);
    return i == NONE ? NULL : k->opt[i];
}

char **inv_copy_list(const kcfg_t *k, const char *name, size_t *n)
{
    cfg_opt_t *o = inv_kopt(k, name);
    size_t cnt = o ? cfg_opt_size(o) : 0;
    char **v = xcalloc(cnt + 1, sizeof(char *));

    for (size_t i = 0; i < cnt; i++)
        v[i] = xstrdup(cfg_opt_getnstr(o, (unsigned)i));
    *n = cnt;
    return v;
}

static const char *opt_str_at(const kcfg_t *k, size_t i)
{
    return k->opt[i] && cfg_opt_size(k->opt[i]) ? cfg_opt_getnstr(k->opt[i], 0) : NULL;
}

const char *inv_opt_str(const kcfg_t *k, const char *name)
{
    size_t i = inv_key_index(name);
    return i == NONE ? NULL : opt_str_at(k, i);
}

/* Set every scalar key of `scope` present in sec (or its default when global) into
 * the structs; report bad values at their lines. *set collects policy bits. */
void inv_load_scalars(loader_t *ld, const scan_t *sc, const kcfg_t *sec, unsigned scope,
                      const char *kind, const char *title, const char *dir, void *target,
                      inv_policy_t *policy, unsigned long long *set)
{
    char err[512];

    for (size_t i = 0; i < INV_NKEYS; i++) {
        const inv_key_t *k = &inv_keys[i];
        const char *text;
        void *base;

        if (!(k->scope & scope) || k->type == T_LIST || k->target == TG_SPECIAL)
            continue;
        text = opt_str_at(sec, i);
        if (!text && (scope != SC_GLOBAL || !k->def))
            continue;
        if (!text)
            text = k->def;
        base = k->target == TG_POLICY ? (void *)policy : target;
        if (inv_set_value(k, text, dir, base, err, sizeof(err)) < 0)
            inv_add_error(ld, inv_line_of(sc, kind, title, k->name), "%s", err);
        else if (k->target == TG_POLICY && set)
            *set |= 1ULL << i;
    }
}

int inv_has_list(const kcfg_t *sec, const char *name)
{
    cfg_opt_t *o = inv_kopt(sec, name);
    return o && cfg_opt_size(o) > 0;
}

/* libconfuse parses one section's body, the very bytes the scanner saw between its
 * braces, into k, emptied first: one cfg_t serves every section of a kind, so no
 * title is ever looked up among the others. 0, or -1 when libconfuse failed. */
static int parse_section(loader_t *ld, const scan_sec_t *sec, char *text, kcfg_t *k)
{
    char save = text[sec->body_end];
    int rc;

    kcfg_reset(k);
    text[sec->body_end] = '\0';
    ld->line_offset = sec->body_line - 1;
    cur_loader = ld;
    rc = cfg_parse_buf(k->cfg, text + sec->body_start);
    cur_loader = NULL;
    text[sec->body_end] = save;
    if (rc != CFG_SUCCESS && ld->nerr == 0)
        inv_add_error(ld, sec->line, "syntax error");
    return rc == CFG_SUCCESS ? 0 : -1;
}

/* How many sections of this kind are to be loaded. */
static size_t count_sections(const scan_t *sc, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < sc->nsecs; i++)
        n += !sc->secs[i].skip && strcmp(sc->secs[i].kind, kind) == 0;
    return n;
}

/* Services: scalars, lists, required keys. 0, or -1 when libconfuse failed. */
int inv_load_services(loader_t *ld, const scan_t *sc, char *text, kcfg_t *sec,
                      inventory_t *inv)
{
    size_t n = count_sections(sc, "service"), i = 0;

    inv->services = xcalloc(n ? n : 1, sizeof(inv_service_t));
    for (size_t si = 0; si < sc->nsecs; si++) {
        inv_service_t *s = &inv->services[i];
        const char *title = sc->secs[si].title;

        if (sc->secs[si].skip || strcmp(sc->secs[si].kind, "service") != 0)
            continue;
        if (parse_section(ld, &sc->secs[si], text, sec) < 0)
            return -1;
        inv->nservices = ++i;

        s->name = xstrdup(title);
        inv_hm_put_first(&ld->services, 0, s->name, strlen(s->name), i - 1);
        s->line = sc->secs[si].line;
        inv_load_scalars(ld, sc, sec, SC_SERVICE, "service", title, inv->dir, s, &s->policy,
                         &s->policy_set);
        /* A bare command name is looked up in PATH, like a shell would. */
        if (s->command && inv_opt_str(sec, "command") &&
            !strchr(inv_opt_str(sec, "command"), '/')) {
            free(s->command);
            s->command = xstrdup(inv_opt_str(sec, "command"));
        }
        s->args = inv_copy_list(sec, "args", &s->nargs);
        inv_check_list(ld, s->args, s->nargs, "args", sc, (long)si);
        s->env = inv_copy_list(sec, "env", &s->nenv);
        inv_check_list(ld, s->env, s->nenv, "env", sc, (long)si);
        inv_check_env_list(ld, s->env, sc, (long)si);
        if (inv_has_list(sec, "health_command")) {
            size_t nc;
            s->policy.health_command = inv_copy_list(sec, "health_command", &nc);
            inv_check_list(ld, s->policy.health_command, nc, "health_command", sc, (long)si);
        }
        pc_check_service(s, inv_probe_report, &(probe_ctx_t){ ld, sc, NULL, title });
        if (!nm_valid_service_name(title))
            inv_add_error(ld, s->line, "invalid service name \"%s\": must match "
                          "[a-z][a-z0-9]*(-[a-z0-9]+)*", title);
        if (!s->command)
            inv_add_error(ld, s->line, "service \"%s\" has no command", title);
        if (s->instance_prefix && !nm_valid_instance_name(s->instance_prefix))
            inv_add_error(ld, inv_sec_line(sc, (long)si, "instance_prefix"),
                          "instance_prefix \"%s\" is not a valid name", s->instance_prefix);
        if (s->namespace_prefix) {
            char err[256];
            if (nm_check_namespace(s->namespace_prefix, err, sizeof(err)) < 0)
                inv_add_error(ld, inv_sec_line(sc, (long)si, "namespace_prefix"),
                              "namespace_prefix: %s", err);
        }
        if (s->entity_type && !nm_valid_service_name(s->entity_type))
            inv_add_error(ld, inv_sec_line(sc, (long)si, "entity_type"),
                          "entity_type \"%s\" must match [a-z][a-z0-9]*(-[a-z0-9]+)*",
                          s->entity_type);
    }
    return 0;
}

static const inv_service_t *find_service(const loader_t *ld, const inventory_t *inv,
                                         const char *name)
{
    size_t i = inv_hm_get(&ld->services, 0, name, strlen(name));
    return i == NONE ? NULL : &inv->services[i];
}

static char **concat_env(char **a, size_t na, char **b, size_t nb, size_t *n)
{
    char **v = xcalloc(na + nb + 1, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        v[i] = xstrdup(a[i]);
    for (size_t i = 0; i < nb; i++)
        v[na + i] = xstrdup(b[i]);
    *n = na + nb;
    return v;
}

/* Instances: their own keys over their service's, derived names, policy checks.
 * 0, or -1 when libconfuse failed. */
int inv_load_instances(loader_t *ld, const scan_t *sc, char *text, kcfg_t *sec,
                       inventory_t *inv)
{
    size_t n = count_sections(sc, "instance"), i = 0;

    inv->instances = xcalloc(n ? n : 1, sizeof(inv_instance_t));
    inv->index = xcalloc(1, sizeof(*inv->index));
    inv_hm_reserve(&inv->index->by_name, n);
    for (size_t si = 0; si < sc->nsecs; si++) {
        inv_instance_t *in = &inv->instances[i];
        const char *title = sc->secs[si].title, *svc;
        inv_policy_t own = { 0 };
        unsigned long long own_set = 0;
        char **env;
        size_t nenv;
        char err[512];

        if (sc->secs[si].skip || strcmp(sc->secs[si].kind, "instance") != 0)
            continue;
        if (parse_section(ld, &sc->secs[si], text, sec) < 0)
            return -1;
        inv->ninstances = ++i;
        svc = inv_opt_str(sec, "service");
        in->name = xstrdup(title);
        inv_hm_put_first(&inv->index->by_name, 0, in->name, strlen(in->name), i - 1);
        in->line = sc->secs[si].line;
        inv_default_policy(&in->policy);
        inv_load_scalars(ld, sc, sec, SC_INSTANCE, "instance", title, inv->dir, in, &own, &own_set);
        env = inv_copy_list(sec, "env", &nenv);
        inv_check_list(ld, env, nenv, "env", sc, (long)si);
        inv_check_env_list(ld, env, sc, (long)si);
        in->depends_on = inv_copy_list(sec, "depends_on", &in->ndeps);
        inv_check_list(ld, in->depends_on, in->ndeps, "depends_on", sc, (long)si);

        if (!nm_valid_instance_name(title)) {
            inv_add_error(ld, in->line, "invalid instance name \"%s\": must match "
                          "[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*", title);
        }
        if (!svc) {
            inv_add_error(ld, in->line, "instance \"%s\" has no service", title);
        } else if ((in->service = find_service(ld, inv, svc)) == NULL) {
            inv_add_error(ld, inv_sec_line(sc, (long)si, "service"),
                          "instance \"%s\" names undefined service \"%.100s\"", title, svc);
        }
        if (in->service) {
            const inv_service_t *s = in->service;
            nm_input_t nin = {
                .service = s->name, .instance = title,
                .instance_prefix = s->instance_prefix, .namespace_prefix = s->namespace_prefix,
                .schema = inv_opt_str(sec, "schema"), .namespace = inv_opt_str(sec, "namespace"),
            };
            nm_derived_t d;

            for (size_t k = 0; k < INV_NKEYS; k++) {
                if (inv_keys[k].target != TG_POLICY)
                    continue;
                if (s->policy_set & (1ULL << k))
                    inv_policy_copy_key(&inv_keys[k], &in->policy, &s->policy);
                if (own_set & (1ULL << k))
                    inv_policy_copy_key(&inv_keys[k], &in->policy, &own);
            }
            in->env = concat_env(s->env, s->nenv, env, nenv, &in->nenv);
            if (nm_valid_service_name(s->name) && nm_valid_instance_name(title)) {
                if (nm_derive(&nin, &d, err, sizeof(err)) < 0) {
                    const char *key = nin.namespace && strstr(err, "namespace") ? "namespace"
                                      : nin.schema && strstr(err, "schema") ? "schema" : NULL;
                    inv_add_error(ld, inv_sec_line(sc, (long)si, key), "%s", err);
                } else {
                    in->schema = xstrdup(d.schema);
                    in->namespace = xstrdup(d.namespace);
                    in->discovery_key = xstrdup(d.discovery_key);
                    in->service_type = d.service_type;
                    in->singleton = d.singleton;
                }
            }
            inv_check_policy(ld, sc, title, s->name, &in->policy);
            inv_check_probe(ld, sc, sec, (long)si, in, env);
        }
        inv_policy_free(&own);
        inv_strv_free(env);
        in->data_dir = xasprintf("%s/%s/data", inv->volumes_root ? inv->volumes_root : "",
                                 title);
        in->logs_dir = xasprintf("%s/%s/logs", inv->volumes_root ? inv->volumes_root : "",
                                 title);
        if (strlen(in->data_dir) >= PATH_MAX)
            inv_add_error(ld, in->line, "the data directory of \"%.100s\" would be longer than "
                          "%d bytes (PATH_MAX): shorten volumes_root", title, PATH_MAX - 1);
    }
    return 0;
}

/* libconfuse parses the top-level key statements into root, in file order, as if
 * the file were parsed at once: consecutive ones (with at most CHUNK_GAP bytes of
 * comments and blank lines between them) in one call, up to CHUNK_ITEMS at a time.
 * Sections are parsed one by one later (parse_section). 0, or -1 when libconfuse
 * failed. */
#define CHUNK_ITEMS 64
#define CHUNK_GAP 4096

int inv_parse_globals(loader_t *ld, const scan_t *sc, char *text, kcfg_t *root)
{
    size_t i = 0;

    while (i < sc->nitems) {
        const scan_item_t *it = &sc->items[i];
        size_t j = i + 1, end;
        char save;
        int rc;

        if (it->sec >= 0) {
            i++;
            continue;
        }
        while (j < sc->nitems && j - i < CHUNK_ITEMS && sc->items[j].sec < 0 &&
               sc->items[j].start - sc->items[j - 1].end <= CHUNK_GAP)
            j++;
        /* The same bytes, cut at the chunk's end for the moment of the call. */
        end = sc->items[j - 1].end;
        save = text[end];
        text[end] = '\0';
        ld->line_offset = it->line - 1;
        cur_loader = ld;
        rc = cfg_parse_buf(root->cfg, text + it->start);
        cur_loader = NULL;
        text[end] = save;
        if (rc != CFG_SUCCESS) {
            if (ld->nerr == 0)
                inv_add_error(ld, it->line, "syntax error");
            return -1;
        }
        i = j;
    }
    return 0;
}
