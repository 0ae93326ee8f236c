/* naming.h - the derivation rules: schema, Redis namespace, discovery key, volume dirs. */
#ifndef INSTANCED_NAMING_H
#define INSTANCED_NAMING_H

#include <stddef.h>

/* PostgreSQL truncates identifiers longer than this silently (NAMEDATALEN - 1). */
#define NM_SCHEMA_MAX     63
#define NM_NAME_MAX       128
#define NM_NAMESPACE_MAX  200
#define NM_KEY_MAX        (sizeof("services::") + 2 * NM_NAME_MAX)

/* Inputs to the derivation; NULL means "not set". */
typedef struct nm_input {
    const char *service;          /* S */
    const char *instance;         /* I; NULL means I == S */
    const char *instance_prefix;  /* service setting */
    const char *namespace_prefix; /* service setting */
    const char *schema;           /* instance override */
    const char *namespace;        /* instance override */
} nm_input_t;

typedef struct nm_derived {
    char schema[NM_SCHEMA_MAX + 1];
    char namespace[NM_NAMESPACE_MAX + 1];
    char discovery_key[NM_KEY_MAX];
    const char *service_type;     /* "singleton" or "multi-instance", static */
    int singleton;
} nm_derived_t;

/* Each check returns 1 when valid. The nm_check_* variants return 0 on success
 * and -1 with a reason written to err (always NUL-terminated). */
int nm_valid_service_name(const char *s);
int nm_valid_instance_name(const char *s);
int nm_check_schema(const char *schema, char *err, size_t errlen);
int nm_check_namespace(const char *ns, char *err, size_t errlen);

/* Apply the naming rules (docs/design.md). Returns 0, or -1 with the first reason the
 * inputs are invalid in err. */
int nm_derive(const nm_input_t *in, nm_derived_t *out, char *err, size_t errlen);

/* "<root>/<instance>/<leaf>" in a newly allocated string the caller frees. */
char *nm_volume_dir(const char *root, const char *instance, const char *leaf);

/* 1 when namespace a equals b or one is a prefix of the other at a ':' boundary,
 * i.e. when a Redis pattern "a:*" would match keys of b (or the reverse). */
int nm_namespaces_overlap(const char *a, const char *b);

#endif
