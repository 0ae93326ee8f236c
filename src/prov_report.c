/* prov_report.c - what a provisioning run says: changes per instance, notes, warnings. */
#include "config.h"

#include "prov_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mask.h"

void rep_init(prov_report_t *r, FILE *out, int dry_run)
{
    memset(r, 0, sizeof(*r));
    r->out = out;
    r->dry_run = dry_run;
    snprintf(r->scope, sizeof(r->scope), "provision");
}

static void emit(prov_report_t *r, log_level_t lvl, const char *kind, const char *text)
{
    char masked[8192];

    mask_secrets(text, masked, sizeof(masked));
    if (r->out) {
        FILE *f = lvl >= LOG_LVL_WARN ? stderr : r->out;
        fprintf(f, "[%s] %s%s%s\n", r->scope, kind ? kind : "", kind ? ": " : "", masked);
        fflush(f);
    } else if (kind) {
        log_kv(lvl, "provision change", "scope", r->scope, "kind", kind, "what", masked, NULL);
    } else {
        log_kv(lvl, masked, "scope", r->scope, NULL);
    }
}

void rep_begin(prov_report_t *r, const char *scope)
{
    snprintf(r->scope, sizeof(r->scope), "%s", scope);
    r->scope_changes = 0;
}

void rep_change(prov_report_t *r, const char *kind, const char *what)
{
    r->scope_changes++;
    r->changes++;
    emit(r, r->out ? LOG_LVL_INFO : LOG_LVL_DEBUG, kind, what);
}

static void vemit(prov_report_t *r, log_level_t lvl, const char *prefix, const char *fmt,
                  va_list ap) __attribute__((format(printf, 4, 0)));
static void vemit(prov_report_t *r, log_level_t lvl, const char *prefix, const char *fmt,
                  va_list ap)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s", prefix);

    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    emit(r, lvl, NULL, buf);
}

void rep_note(prov_report_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(r, LOG_LVL_INFO, "", fmt, ap);
    va_end(ap);
}

void rep_warn(prov_report_t *r, const char *fmt, ...)
{
    va_list ap;
    r->warnings++;
    va_start(ap, fmt);
    vemit(r, LOG_LVL_WARN, r->out ? "warning: " : "", fmt, ap);
    va_end(ap);
}

void rep_error(prov_report_t *r, const char *fmt, ...)
{
    va_list ap;
    r->errors++;
    va_start(ap, fmt);
    vemit(r, LOG_LVL_ERROR, r->out ? "error: " : "", fmt, ap);
    va_end(ap);
}

void rep_discard(prov_report_t *r)
{
    r->changes -= r->scope_changes;
    r->scope_changes = 0;
}

void rep_end(prov_report_t *r)
{
    if (r->scope_changes == 0)
        rep_note(r, "unchanged");
    else
        rep_note(r, "%u change%s%s", r->scope_changes, r->scope_changes == 1 ? "" : "s",
                 r->dry_run ? " would be made" : "");
    r->scope_changes = 0;
}

void rep_summary(prov_report_t *r)
{
    rep_begin(r, "provision");
    if (r->errors)
        rep_note(r, "failed: %u error%s, %u change%s %s", r->errors, r->errors == 1 ? "" : "s",
                 r->changes, r->changes == 1 ? "" : "s", r->dry_run ? "would be made" : "made");
    else if (r->changes == 0)
        rep_note(r, "nothing changed%s", r->dry_run ? " (dry run)" : "");
    else if (r->dry_run)
        rep_note(r, "dry run: %u change%s would be made; nothing was changed", r->changes,
                 r->changes == 1 ? "" : "s");
    else
        rep_note(r, "%u change%s made", r->changes, r->changes == 1 ? "" : "s");
}
