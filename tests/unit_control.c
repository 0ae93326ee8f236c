/* unit_control.c - CUnit tests of the control protocol's request parser
 * (control_parse), table-driven: what it accepts, the request it makes of a line, and
 * the error a client gets for what it refuses. The supervision side is stubbed: the
 * parser never calls it. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdio.h>
#include <string.h>

#include "control.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Stubs: control.c links against them; a call would be a parser bug. */
sup_instance_t *sup_find(supervisor_t *sup, const char *name)
{
    (void)sup, (void)name;
    CU_FAIL("sup_find called");
    return NULL;
}

int sup_start(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup, (void)in, (void)err, (void)len;
    CU_FAIL("sup_start called");
    return -1;
}

int sup_stop(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup, (void)in, (void)err, (void)len;
    CU_FAIL("sup_stop called");
    return -1;
}

int sup_restart(supervisor_t *sup, sup_instance_t *in, const char *why, char *err, size_t len)
{
    (void)sup, (void)in, (void)why, (void)err, (void)len;
    CU_FAIL("sup_restart called");
    return -1;
}

int sup_reload(supervisor_t *sup, inv_errors_t *errs, char *summary, size_t len)
{
    (void)sup, (void)errs, (void)summary, (void)len;
    CU_FAIL("sup_reload called");
    return -1;
}

int sup_pause(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup, (void)in, (void)err, (void)len;
    CU_FAIL("sup_pause called");
    return -1;
}

int sup_resume(supervisor_t *sup, sup_instance_t *in, char *err, size_t len)
{
    (void)sup, (void)in, (void)err, (void)len;
    CU_FAIL("sup_resume called");
    return -1;
}

/* logs [-f] [-n N] [NAME...]: names come back NUL-separated in cmd.name. */
static void test_parse_logs(void)
{
    static const struct {
        const char *line;
        int rc;
        int follow;
        long lines;
        size_t nnames;
        const char *names; /* joined with '|' */
        const char *err;
    } cases[] = {
        { "logs", 0, 0, CONTROL_LOGS_DEFAULT, 0, "", NULL },
        { "logs -f", 0, 1, CONTROL_LOGS_DEFAULT, 0, "", NULL },
        { "logs -n 0 a", 0, 0, 0, 1, "a", NULL },
        { "logs -f -n 10000 a b\tc\r", 0, 1, 10000, 3, "a|b|c", NULL },
        { "logs a -n 5 b", 0, 0, 5, 2, "a|b", NULL },
        { "logs -n 10001 a", -1, 0, 0, 0, NULL, "logs -n: a number of lines from 0 to 10000" },
        { "logs -n -1", -1, 0, 0, 0, NULL, "logs -n: a number" },
        { "logs -n x", -1, 0, 0, 0, NULL, "logs -n: a number" },
        { "logs -n 99999999999999999999", -1, 0, 0, 0, NULL, "logs -n: a number" },
        { "logs -n", -1, 0, 0, 0, NULL, "a number of lines is missing" },
        { "logs -x a", -1, 0, 0, 0, NULL, "usage: logs [-f] [-n N] [NAME...]" },
        { "logsx", -1, 0, 0, 0, NULL, "unknown command \"logsx\"" },
        { "logs a\x1b", -1, 0, 0, 0, NULL, "control character 0x1b" },
    };
    control_cmd_t cmd;
    char err[256], joined[256];

    for (size_t i = 0; i < NELEM(cases); i++) {
        int rc = control_parse(cases[i].line, strlen(cases[i].line), &cmd, err, sizeof err);

        if (rc != cases[i].rc)
            fprintf(stderr, "\n  logs case %zu \"%s\": rc %d (%s)", i, cases[i].line, rc,
                    rc ? err : "");
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc == 0 && cases[i].rc == 0) {
            const char *n = cmd.name;
            size_t len = 0;

            CU_ASSERT_EQUAL(cmd.verb, CONTROL_LOGS);
            CU_ASSERT_EQUAL(cmd.follow, cases[i].follow);
            CU_ASSERT_EQUAL(cmd.lines, cases[i].lines);
            CU_ASSERT_EQUAL(cmd.nnames, cases[i].nnames);
            joined[0] = '\0';
            for (size_t k = 0; k < cmd.nnames; k++, n += strlen(n) + 1)
                len += (size_t)snprintf(joined + len, sizeof joined - len, "%s%s",
                                        k ? "|" : "", n);
            CU_ASSERT_STRING_EQUAL(joined, cases[i].names);
        } else if (rc < 0 && cases[i].err) {
            if (!strstr(err, cases[i].err))
                fprintf(stderr, "\n  logs case %zu: error \"%s\"", i, err);
            CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].err));
        }
    }
}

static void test_parse(void)
{
    static char overlong[CONTROL_LINE_MAX + 8], atmax[CONTROL_LINE_MAX + 1];
    static const struct {
        const char *line;
        size_t len;        /* 0: strlen(line) */
        int rc;
        control_verb_t verb;
        const char *name;  /* NULL: none */
        const char *err;   /* substring of the error (rc -1) */
    } cases[] = {
        { "status", 0, 0, CONTROL_STATUS, NULL, NULL },
        { "status exchange-I0", 0, 0, CONTROL_STATUS, "exchange-I0", NULL },
        { "start a", 0, 0, CONTROL_START, "a", NULL },
        { " \tstop\t b \r", 0, 0, CONTROL_STOP, "b", NULL },
        { "restart x-1\r", 0, 0, CONTROL_RESTART, "x-1", NULL },
        { "reload", 0, 0, CONTROL_RELOAD, NULL, NULL },
        { "reload\r", 0, 0, CONTROL_RELOAD, NULL, NULL },
        { "", 0, -1, 0, NULL, "empty request" },
        { " \t\r", 0, -1, 0, NULL, "empty request" },
        { "start", 0, -1, 0, NULL, "usage: start NAME" },
        { "stop a b", 0, -1, 0, NULL, "usage: stop NAME" },
        { "restart a b c d e f", 0, -1, 0, NULL, "usage: restart NAME" },
        { "status a b", 0, -1, 0, NULL, "unknown command \"status\"" },
        { "reload now", 0, -1, 0, NULL, "unknown command \"reload\"" },
        { "STATUS", 0, -1, 0, NULL, "unknown command \"STATUS\"" },
        { "statusx", 0, -1, 0, NULL, "unknown command \"statusx\"" },
        /* A NUL would cut the line short for the C string functions: "status" here
         * must not be taken for a request for every instance. */
        { "status\0junk", 11, -1, 0, NULL, "control character 0x00" },
        { "start exchange-I0\0x", 19, -1, 0, NULL, "control character 0x00" },
        { "start exchange-I0\nstop b", 0, -1, 0, NULL, "control character 0x0a" },
        { "start a\x1b[31m", 0, -1, 0, NULL, "control character 0x1b" },
        { "start a\x7f", 0, -1, 0, NULL, "control character 0x7f" },
    };
    control_cmd_t cmd;
    char err[256];

    for (size_t i = 0; i < NELEM(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
        int rc;

        err[0] = '\0';
        rc = control_parse(cases[i].line, len, &cmd, err, sizeof err);
        if (rc != cases[i].rc)
            fprintf(stderr, "\n  case %zu \"%s\": rc %d (%s)", i, cases[i].line, rc, err);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc == 0 && cases[i].rc == 0) {
            CU_ASSERT_EQUAL(cmd.verb, cases[i].verb);
            CU_ASSERT_EQUAL(cmd.has_name, cases[i].name != NULL);
            if (cases[i].name)
                CU_ASSERT_STRING_EQUAL(cmd.name, cases[i].name);
        } else if (rc < 0 && cases[i].err) {
            if (!strstr(err, cases[i].err))
                fprintf(stderr, "\n  case %zu: error \"%s\"", i, err);
            CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].err));
        }
    }

    test_parse_logs();

    /* Longest accepted line; one byte more is refused, not cut. */
    memset(atmax, 'n', sizeof atmax);
    memcpy(atmax, "stop ", 5);
    CU_ASSERT_EQUAL(control_parse(atmax, CONTROL_LINE_MAX, &cmd, err, sizeof err), 0);
    CU_ASSERT_EQUAL(strlen(cmd.name), CONTROL_LINE_MAX - 5);
    memset(overlong, 'n', sizeof overlong);
    memcpy(overlong, "stop ", 5);
    CU_ASSERT_EQUAL(control_parse(overlong, CONTROL_LINE_MAX + 1, &cmd, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "request line too long");

    /* An unknown word is quoted back cut at 64 bytes. */
    memset(overlong, 'w', 100);
    CU_ASSERT_EQUAL(control_parse(overlong, 100, &cmd, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww\""));
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("control", NULL, NULL);
    CU_add_test(s, "request parser (control_parse)", test_parse);
    return cu_run_all();
}
