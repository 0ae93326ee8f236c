/* inv_private.h - what the inventory loader's files share: the key table, the error
 * list, the hash tables, the scanner's map of the text; not for use outside src/inv*.c. */
#ifndef INSTANCED_INV_PRIVATE_H
#define INSTANCED_INV_PRIVATE_H

#include "inventory.h"

#include <confuse.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the key table (inventory.c) ------------------------------------------------- */

enum { SC_GLOBAL = 1, SC_SERVICE = 2, SC_INSTANCE = 4 };

typedef enum {
    T_STR,      /* char * */
    T_PATH,     /* char *, relative to the inventory's directory */
    T_INT,      /* long, >= 0 */
    T_PORT,     /* int, 1..65535 */
    T_DURATION, /* long milliseconds */
    T_SIZE,     /* long long bytes */
    T_BOOL,     /* int */
    T_RESTART,  /* inv_restart_t */
    T_LIMIT,    /* long long bytes > 0, or "max" (INV_LIMIT_MAX) */
    T_COUNT,    /* long long > 0, or "max" (INV_LIMIT_MAX) */
    T_WEIGHT,   /* long, 1..10000 */
    T_CPU_MAX,  /* inv_cpu_max_t: "max", "N%" or "QUOTA PERIOD" in microseconds */
    T_ABSPATH,  /* char *, an absolute path */
    T_LIST,     /* handled by the section code */
} key_type_t;

typedef enum { TG_GLOBAL, TG_POLICY, TG_SERVICE, TG_INSTANCE, TG_SPECIAL } key_target_t;

typedef struct inv_key {
    const char *name;
    unsigned scope;
    key_type_t type;
    key_target_t target;
    size_t offset;
    const char *def; /* default as text; NULL: no default */
} inv_key_t;

/* Number of rows of inv_keys[] (inventory.c checks it at compile time). Each key of
 * a policy is one bit of inv_service_t.policy_set, so there are at most 64. */
#define INV_NKEYS 56

extern const inv_key_t inv_keys[INV_NKEYS];

/* Index of a key in inv_keys[], or NONE. */
size_t inv_key_index(const char *name);
/* The key called name if it may appear in one of the scopes, else NULL. */
const inv_key_t *inv_find_key(const char *name, unsigned scope);

/* ---- hash tables (inv_hmap.c) ---------------------------------------------------- */

/* Open addressing, keyed by (tag, the first alen bytes of a): enough for every lookup
 * here (section titles by kind, names, schemas, namespace prefixes, error texts).
 * Keys point into storage that outlives the table. Entries are kept small, as a
 * 100,000-instance inventory fills several tables of that size. */
typedef struct hent {
    const char *a;     /* NULL: a free slot */
    uint32_t alen;
    uint32_t val;
    int32_t tag;
    uint32_t h;
} hent_t;

typedef struct hmap {
    hent_t *v;
    size_t cap, n;
    int nocase; /* compare a case-insensitively (instance names) */
} hmap_t;

#define NONE ((size_t)-1)

void inv_hm_reserve(hmap_t *m, size_t n);
size_t inv_hm_get(const hmap_t *m, long tag, const char *a, size_t alen);
size_t inv_hm_put_first(hmap_t *m, long tag, const char *a, size_t alen, size_t val);
void inv_hm_free(hmap_t *m);

/* ---- one load and its errors (inventory.c) --------------------------------------- */

typedef struct loader {
    const char *path;
    inv_errors_t *errs;
    int nerr;
    size_t first;      /* errs->n when this load began */
    size_t dropped;    /* errors past INV_MAX_ERRORS, counted only */
    hmap_t seen;       /* texts of this load's errors, to say each once */
    int line_offset;   /* during a libconfuse parse: line of its chunk's start, less 1 */
    hmap_t accounts;   /* user (tag 0) or group (tag 1) name -> exists */
    hmap_t services;   /* service name -> index */
} loader_t;

/* Append "FILE:LINE: message" (line 0: "FILE: message") to this load's errors,
 * once per text, at most INV_MAX_ERRORS of them. */
void inv_add_error(loader_t *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the scanner: where things are (inv_scan.c) ---------------------------------- */

/* A known key set in a section: its index in inv_keys[] and the line of its first
 * setting. */
typedef struct scan_kline {
    unsigned char key;
    int line;
} scan_kline_t;

typedef struct scan_sec {
    char *kind;        /* "service", "instance" */
    char *title;
    int line;
    int skip;          /* a duplicate title or an unknown kind: not loaded */
    size_t body_start, body_end; /* the text between its braces */
    int body_line;     /* line of body_start */
    scan_kline_t *kl;  /* the known keys it sets (at most INV_NKEYS) */
    size_t nkl;
} scan_sec_t;

/* One top-level statement: a key (sec -1) or a section, as bytes [start, end). */
typedef struct scan_item {
    int sec;
    size_t start, end;
    int line;
} scan_item_t;

typedef struct scan {
    scan_sec_t *secs;
    size_t nsecs, capsecs;
    scan_item_t *items;
    size_t nitems, capitems;
    hmap_t sec_map;    /* (kind's scope, title) -> first section of a known kind */
    int top_line[INV_NKEYS]; /* line where each key is first set at the top level, or 0 */
} scan_t;

/* Refuse NUL, control bytes and over-long lines, each reported: 0 when clean. */
int inv_prescan(loader_t *ld, const char *buf, size_t len);
/* Map text into sc (sections, top-level statements, key lines); report unknown and
 * duplicate keys and titles, unset ${VAR}s and the first syntax error. */
void inv_scan_text(loader_t *ld, const char *text, scan_t *sc, int *syntax_failed);
void inv_scan_free(scan_t *sc);
/* SC_SERVICE, SC_INSTANCE, or 0 for an unknown section kind. */
unsigned inv_kind_scope(const char *kind);
/* Line of key `name` in section sec (-1: the top level), or of the section, or 0. */
int inv_sec_line(const scan_t *sc, long sec, const char *name);
/* Line of key `name` in section (kind, title) (kind NULL: the top level), or of the
 * section, or 0. */
int inv_line_of(const scan_t *sc, const char *kind, const char *title, const char *name);

/* ---- values (inv_value.c) -------------------------------------------------------- */

/* Report each ${VAR} without a default whose VAR is unset. */
void inv_check_vars(loader_t *ld, const char *s, int line);
/* Convert text for key k into the field at base + k->offset: 0, or -1 with err set. */
int inv_set_value(const inv_key_t *k, const char *text, const char *dir, void *base,
                  char *err, size_t errlen);
size_t inv_field_size(key_type_t t);
int inv_is_string(key_type_t t);
void inv_policy_free(inv_policy_t *p);
void inv_policy_copy_key(const inv_key_t *k, inv_policy_t *dst, const inv_policy_t *src);
void inv_default_policy(inv_policy_t *p);
/* The directory of path, anchored to the current directory when relative; NULL when
 * the current directory cannot be found. */
char *inv_dir_of(const char *path);

/* ---- the libconfuse loader (inv_parse.c) ----------------------------------------- */

/* A libconfuse cfg_t with its options found once per key (cfg_getopt would compare
 * names for every lookup). */
typedef struct kcfg {
    cfg_t *cfg;
    cfg_opt_t *opt[INV_NKEYS];
} kcfg_t;

cfg_opt_t *inv_make_opts(unsigned scope);
int inv_kcfg_init(kcfg_t *k, cfg_opt_t *opts);
cfg_opt_t *inv_kopt(const kcfg_t *k, const char *name);
int inv_has_list(const kcfg_t *sec, const char *name);
char **inv_copy_list(const kcfg_t *k, const char *name, size_t *n);
const char *inv_opt_str(const kcfg_t *k, const char *name);
void inv_load_scalars(loader_t *ld, const scan_t *sc, const kcfg_t *sec, unsigned scope,
                      const char *kind, const char *title, const char *dir, void *target,
                      inv_policy_t *policy, unsigned long long *set);
int inv_parse_globals(loader_t *ld, const scan_t *sc, char *text, kcfg_t *root);
int inv_load_services(loader_t *ld, const scan_t *sc, char *text, kcfg_t *sec,
                      inventory_t *inv);
int inv_load_instances(loader_t *ld, const scan_t *sc, char *text, kcfg_t *sec,
                       inventory_t *inv);

/* ---- checks (inv_check.c) -------------------------------------------------------- */

typedef struct probe_ctx {
    loader_t *ld;
    const scan_t *sc;
    const char *inst, *svc; /* inst NULL: a service's own keys */
} probe_ctx_t;

/* Name lookups of a loaded inventory (inv_find_instance). */
struct inv_index {
    hmap_t by_name; /* instance name -> index; keys are the instances' own names */
};

/* probe_conf.h's report callback; arg is a probe_ctx_t. */
void inv_probe_report(void *arg, const char *key, const char *msg);
void inv_check_list(loader_t *ld, char **v, size_t n, const char *name, const scan_t *sc,
                    long sec);
void inv_check_env_list(loader_t *ld, char **env, const scan_t *sc, long sec);
void inv_check_policy(loader_t *ld, const scan_t *sc, const char *inst, const char *svc,
                      const inv_policy_t *p);
void inv_check_probe(loader_t *ld, const scan_t *sc, const kcfg_t *sec, long si,
                     inv_instance_t *in, char **own_env);
/* Checks across the whole inventory: globals, singletons, collisions of names,
 * schemas, namespaces and ports, dependencies and their cycles. */
void inv_check_across(loader_t *ld, const scan_t *sc, inventory_t *inv);

/* ---- the lexer of the inventory's syntax (inv_scan.c) ---- */
typedef enum { INV_TK_EOF, INV_TK_WORD, INV_TK_STRING, INV_TK_PUNCT } inv_tok_kind_t;

typedef struct inv_tok {
    inv_tok_kind_t kind;
    char *text;        /* malloc'd for WORD and STRING */
    char punct;        /* for PUNCT: { } = ( ) , and '+' for "+=" */
    int line;
    int dquoted;       /* STRING in double quotes (libconfuse expands ${} there) */
    size_t off, end;   /* where the token starts and ends in the text */
} inv_tok_t;

typedef struct inv_lexer {
    const char *base;
    const char *p;
    int line;
} inv_lexer_t;

/* The next token at lx->p into *t (zeroed first; the caller frees t->text): comments
 * (#, //, slash-star) and blanks skipped, lines counted. */
void inv_lex_next(inv_lexer_t *lx, inv_tok_t *t);

#endif
