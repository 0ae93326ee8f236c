/* placeholder.c - per-instance placeholders in the strings a worker is started with. */
#include "config.h"

#include "placeholder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define PH_KNOWN "%i %s %p %d %l %S %N %%"

/* The value of placeholder c, or NULL when c is not one. *num holds %p's text. */
static const char *value_of(char c, const ph_values_t *v, char num[16])
{
    const char *s;

    switch (c) {
    case '%': return "%";
    case 'i': s = v->instance; break;
    case 's': s = v->service; break;
    case 'd': s = v->data_dir; break;
    case 'l': s = v->logs_dir; break;
    case 'S': s = v->schema; break;
    case 'N': s = v->namespace; break;
    case 'p':
        num[0] = '\0';
        if (v->port > 0)
            snprintf(num, 16, "%d", v->port);
        return num;
    default: return NULL;
    }
    return s ? s : "";
}

static void unknown(const char *at, char *err, size_t errlen)
{
    if (at[1] == '\0')
        snprintf(err, errlen, "a lone %% at the end (write %%%% for a percent sign; "
                 "known: %s)", PH_KNOWN);
    else
        snprintf(err, errlen, "unknown placeholder %%%c (known: %s)", at[1], PH_KNOWN);
}

int ph_check(const char *s, char *err, size_t errlen)
{
    static const ph_values_t none;
    char num[16];

    for (const char *c = s; c && (c = strchr(c, '%')); c += 2)
        if (c[1] == '\0' || !value_of(c[1], &none, num)) {
            unknown(c, err, errlen);
            return -1;
        }
    return 0;
}

char *ph_expand(const char *s, const ph_values_t *v, char *err, size_t errlen)
{
    size_t len = 0, n = 0;
    char num[16], *out;
    const char *c;

    /* Two passes: measure, then copy; no length limit beyond memory. */
    for (c = s; *c; c++) {
        const char *x;
        if (*c != '%') {
            len++;
            continue;
        }
        if (c[1] == '\0' || !(x = value_of(c[1], v, num))) {
            unknown(c, err, errlen);
            return NULL;
        }
        len += strlen(x);
        c++;
    }
    out = xmalloc(len + 1);
    for (c = s; *c; c++) {
        if (*c != '%') {
            out[n++] = *c;
            continue;
        }
        const char *x = value_of(c[1], v, num);
        size_t k = strlen(x);
        memcpy(out + n, x, k);
        n += k;
        c++;
    }
    out[n] = '\0';
    return out;
}

void ph_values_of(const inv_instance_t *in, ph_values_t *v)
{
    v->instance = in->name;
    v->service = in->service ? in->service->name : NULL;
    v->port = in->port;
    v->data_dir = in->data_dir;
    v->logs_dir = in->logs_dir;
    v->schema = in->schema;
    v->namespace = in->namespace;
}

char **ph_expand_strv(const char *first, char *const *list, const ph_values_t *v, char *err,
                      size_t errlen)
{
    size_t n = 0, k = 0;
    char **out;

    while (list && list[n])
        n++;
    out = xcalloc(n + 2, sizeof(char *));
    if (first && !(out[k++] = ph_expand(first, v, err, errlen)))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!(out[k++] = ph_expand(list[i], v, err, errlen)))
            goto fail;
    return out;
fail:
    inv_strv_free(out);
    return NULL;
}

/* 1 when entry e ("NAME=value") is one of the inventory's env entries for in. */
static int from_inventory(const inv_instance_t *in, const char *e)
{
    for (size_t i = 0; i < in->nenv; i++)
        if (strcmp(in->env[i], e) == 0)
            return 1;
    return 0;
}

int ph_spawn_prepare(const inv_instance_t *in, char ***argv, char **env, char *err,
                     size_t errlen)
{
    ph_values_t v;

    ph_values_of(in, &v);
    *argv = ph_expand_strv(in->service->command, in->service->args, &v, err, errlen);
    if (!*argv)
        return -1;
    for (char **e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char *val, *full;

        if (!eq || !strchr(eq, '%') || !from_inventory(in, *e))
            continue;
        if (!(val = ph_expand(eq + 1, &v, err, errlen)))
            goto fail;
        full = xmalloc((size_t)(eq - *e) + 1 + strlen(val) + 1);
        memcpy(full, *e, (size_t)(eq - *e) + 1);
        strcpy(full + (eq - *e) + 1, val);
        free(val);
        free(*e);
        *e = full;
    }
    return 0;
fail:
    inv_strv_free(*argv);
    *argv = NULL;
    return -1;
}
