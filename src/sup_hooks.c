/* sup_hooks.c - the core's hook tables, walked in registration order. */
#include "config.h"

#include "sup_hooks.h"

int hookset_add(sup_hookset_t *hs, const sup_hooks_t *h, void *ctx)
{
    if (hs->n == SUP_MAX_HOOKS)
        return -1;
    hs->v[hs->n].h = *h;
    hs->v[hs->n].ctx = ctx;
    hs->n++;
    return 0;
}

void hookset_remove(sup_hookset_t *hs, void *ctx)
{
    size_t k = 0;

    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].ctx != ctx)
            hs->v[k++] = hs->v[i];
    hs->n = k;
}

/* The four notifications about one instance share their walk. */
#define EACH_INSTANCE_HOOK(member)                                                      \
    void hookset_##member(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in)     \
    {                                                                                   \
        for (size_t i = 0; i < hs->n; i++)                                              \
            if (hs->v[i].h.member)                                                      \
                hs->v[i].h.member(hs->v[i].ctx, sup, in);                               \
    }
EACH_INSTANCE_HOOK(started)
EACH_INSTANCE_HOOK(exited)
EACH_INSTANCE_HOOK(removed)
EACH_INSTANCE_HOOK(freed)

void hookset_reloaded(sup_hookset_t *hs, supervisor_t *sup)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].h.reloaded)
            hs->v[i].h.reloaded(hs->v[i].ctx, sup);
}

void hookset_stopping(sup_hookset_t *hs, supervisor_t *sup, int sig)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].h.stopping)
            hs->v[i].h.stopping(hs->v[i].ctx, sup, sig);
}

const char *hookset_may_start(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in)
{
    for (size_t i = 0; i < hs->n; i++) {
        const char *why;
        if (hs->v[i].h.may_start && (why = hs->v[i].h.may_start(hs->v[i].ctx, sup, in)))
            return why;
    }
    return NULL;
}

int hookset_worker_env(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in,
                       char **env, char *err, size_t errlen)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].h.worker_env &&
            hs->v[i].h.worker_env(hs->v[i].ctx, sup, in, env, err, errlen) < 0)
            return -1;
    return 0;
}

int hookset_reaped(sup_hookset_t *hs, supervisor_t *sup, pid_t pid, int status)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].h.reaped && hs->v[i].h.reaped(hs->v[i].ctx, sup, pid, status))
            return 1;
    return 0;
}

int hookset_exit_hold(sup_hookset_t *hs, supervisor_t *sup, sup_instance_t *in)
{
    int held = 0;

    /* Every hook hears of the exit; one hold is enough. */
    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].h.exit_hold && hs->v[i].h.exit_hold(hs->v[i].ctx, sup, in))
            held = 1;
    return held;
}

int hookset_dep_ready(sup_hookset_t *hs, supervisor_t *sup, const sup_instance_t *dep)
{
    for (size_t i = 0; i < hs->n; i++) {
        int r;
        if (hs->v[i].h.dep_ready && (r = hs->v[i].h.dep_ready(hs->v[i].ctx, sup, dep)) >= 0)
            return r;
    }
    return -1;
}

int hookset_busy(sup_hookset_t *hs, supervisor_t *sup)
{
    int n = 0;

    for (size_t i = 0; i < hs->n; i++)
        if (hs->v[i].h.busy)
            n += hs->v[i].h.busy(hs->v[i].ctx, sup);
    return n;
}
