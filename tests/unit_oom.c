/* unit_oom.c - modules that run out of memory end the process with a message.
 *
 * Each case calls a function on a 64 MiB input (or one that needs a 128 MiB table) in
 * a child whose address space is capped (RLIMIT_AS) just above what it already uses,
 * so the allocation cannot be made. The child must die of SIGABRT with "instanced: out
 * of memory (N bytes)" on stderr: a function that handed back NULL, or an error,
 * instead lets the child return and fails the case. */
#include "config.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit_run.h"

#include "credentials.h"
#include "health.h"
#include "logcap.h"
#include "naming.h"
#include "placeholder.h"

#if defined(__SANITIZE_ADDRESS__)
#define OOM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_ASAN 1
#endif
#endif

#ifdef OOM_ASAN
/* AddressSanitizer ends the process itself when an allocation fails, before the
 * function under test sees NULL; this makes its malloc return NULL as libc's does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

#define BIG_LEN ((size_t)64 << 20)

static char *big; /* BIG_LEN 'a's: no '%', no character that needs encoding */

/* Each returns only when the function survived the failed allocation. */
static void call_health_url(void)
{
    free(health_probe_url(8080, big));
}

static void call_ph_expand(void)
{
    static const ph_values_t v = { .instance = "i" };
    char err[128];
    free(ph_expand(big, &v, err, sizeof err));
}

static void call_ph_expand_strv(void)
{
    static const ph_values_t v = { .instance = "i" };
    char *list[] = { big, NULL }, err[128];
    inv_strv_free(ph_expand_strv("cmd", list, &v, err, sizeof err));
}

static void call_nm_volume_dir(void)
{
    free(nm_volume_dir(big, "inst", "data"));
}

static void call_cred_format(void)
{
    free(cred_format("inst", big, NULL));
}

static void call_cred_redis_url(void)
{
    free(cred_redis_url(big, 6379, 0, "u", "p"));
}

static void call_cred_pg_url(void)
{
    free(cred_pg_url("db.example", "5432", big, "u", "p", NULL));
}

static void call_cred_query_add(void)
{
    char *q = NULL;
    cred_query_add(&q, "sslmode", big);
    free(q);
}

/* A capture of instance "w" for the cases below; the child exits right after. */
static logcap_t *new_capture(void)
{
    static unsigned long dropped;
    char err[128];
    struct event_base *base = event_base_new();

    return base ? logcap_new(base, 0, "w", 0, -1, 0, &dropped, err, sizeof err) : NULL;
}

static void call_logcap_new(void)
{
    static unsigned long dropped;
    char err[128];
    struct event_base *base = event_base_new();

    if (base)
        logcap_free(logcap_new(base, 0, big, 0, -1, 0, &dropped, err, sizeof err));
}

/* The directory cannot be opened either way: only the copy of its name can abort. */
static void call_logcap_configure_dir(void)
{
    char err[128];
    logcap_t *lc = new_capture();

    if (lc)
        logcap_configure(lc, big, 100, 1, err, sizeof err);
}

/* A ring of 2^24 backups' numbers (128 MiB). */
static void call_logcap_configure_ring(void)
{
    char err[128];
    logcap_t *lc = new_capture();

    if (lc)
        logcap_configure(lc, "/nonexistent", 100, 1L << 24, err, sizeof err);
}

/* The process's address space in bytes (first field of /proc/self/statm). */
static size_t vm_size(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "re");

    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static const struct {
    const char *name;
    void (*call)(void);
} cases[] = {
    { "health_probe_url", call_health_url },
    { "ph_expand", call_ph_expand },
    { "ph_expand_strv", call_ph_expand_strv },
    { "nm_volume_dir", call_nm_volume_dir },
    { "cred_format", call_cred_format },
    { "cred_redis_url", call_cred_redis_url },
    { "cred_pg_url", call_cred_pg_url },
    { "cred_query_add", call_cred_query_add },
    { "logcap_new", call_logcap_new },
    { "logcap_configure logs_dir", call_logcap_configure_dir },
    { "logcap_configure backups", call_logcap_configure_ring },
};

static void test_oom_aborts(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[512];
        size_t len = 0;
        ssize_t n;
        int fds[2], status = 0;
        pid_t pid;

        CU_ASSERT_FATAL(pipe(fds) == 0);
        fflush(NULL);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            struct rlimit core = { 0, 0 }, as;
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
            setrlimit(RLIMIT_CORE, &core);
            as.rlim_cur = as.rlim_max = vm_size() + ((rlim_t)16 << 20);
            if (setrlimit(RLIMIT_AS, &as) < 0)
                _exit(3);
            cases[i].call();
            _exit(0);
        }
        close(fds[1]);
        while (len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
            len += (size_t)n;
        out[len] = '\0';
        close(fds[0]);
        CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) ||
            !strstr(out, "instanced: out of memory ("))
            fprintf(stderr, "\n%s: status 0x%x, stderr \"%s\"\n", cases[i].name,
                    (unsigned)status, out);
        CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        CU_ASSERT(strstr(out, "instanced: out of memory (") != NULL);
    }
}

int main(void)
{
    CU_pSuite s;
    int rc;

    big = malloc(BIG_LEN + 1);
    if (!big)
        return 1;
    memset(big, 'a', BIG_LEN);
    big[BIG_LEN] = '\0';
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("oom", NULL, NULL);
    if (!s || !CU_add_test(s, "allocation failure aborts with a message", test_oom_aborts)) {
        CU_cleanup_registry();
        return 1;
    }
    rc = cu_run_all();
    free(big);
    return rc;
}
