/* prov_report.h - what a provisioning run says: changes per instance, notes, warnings. */
#ifndef INSTANCED_PROV_REPORT_H
#define INSTANCED_PROV_REPORT_H

#include <stdio.h>

/* One report per run. Lines go to out, or through log_kv() when out is NULL (the
 * supervisor). Every line passes through mask_secrets(); callers still write "***"
 * for passwords themselves, so that nothing depends on the masker recognising them. */
typedef struct prov_report {
    FILE *out;
    int dry_run;
    char scope[160];     /* "exchange-OKX", "database", ... */
    unsigned scope_changes;
    unsigned changes;    /* whole run */
    unsigned warnings;
    unsigned errors;
} prov_report_t;

void rep_init(prov_report_t *r, FILE *out, int dry_run);
/* Start a scope; its changes are counted until rep_end(). */
void rep_begin(prov_report_t *r, const char *scope);
/* One change (a statement, an ACL command, a file written), already masked. */
void rep_change(prov_report_t *r, const char *kind, const char *what);
void rep_note(prov_report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep_warn(prov_report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep_error(prov_report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the scope's changes (its transaction was rolled back). */
void rep_discard(prov_report_t *r);
/* Close the scope with "unchanged" or "N changes". */
void rep_end(prov_report_t *r);
/* The last line of the run. */
void rep_summary(prov_report_t *r);

#endif
