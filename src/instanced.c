/* instanced.c - the supervisor's process: its command line, its signals, and the
 * assembly of the core with the modules that hook into it. */
#include "config.h"

#include <event2/event.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkconf.h"
#include "contain.h"
#include "cluster.h"
#include "detach.h"
#include "evglue.h"
#include "inv_cluster.h"
#include "inventory.h"
#include "log.h"
#include "logcap.h"
#include "monitor.h"
#include "notify.h"
#include "provisioner.h"
#include "spawn.h"
#include "sup_spawn.h"
#include "supervisor.h"
#include "xalloc.h"

/* Event priority of signals and the log queue: before log capture (supervisor.c uses
 * the same two levels). */
#define PRIO_CONTROL 0

/* The process around one supervisor. */
typedef struct daemon {
    struct event_base *base;
    supervisor_t *sup;
    struct event *sigs[4];
    struct event *log_ev;       /* stderr writable: flush the log queue (log.h) */
    struct event *trim_ev;      /* every TRIM_EVERY_S: free heap pages back */
} daemon_t;

/* Bursts (thousands of starts, probe cycles, the status documents they change) leave
 * free blocks scattered through the heap, which glibc gives back only from its top.
 * Every TRIM_EVERY_S, when more than TRIM_MIN_FREE bytes of it are free, they are
 * given back (malloc_trim: madvise of the free pages; well under a millisecond). */
#define TRIM_EVERY_S  5
#define TRIM_MIN_FREE (4 * 1024 * 1024)

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    if (mallinfo2().fordblks > TRIM_MIN_FREE)
        malloc_trim(0);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    daemon_t *d = arg;
    supervisor_t *sup = d->sup;
    (void)what;

    switch (sig) {
    case SIGCHLD:
        sup_reap_children(sup);
        break;
    case SIGTERM:
    case SIGINT:
        sup_begin_shutdown(sup, sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    case SIGHUP: {
        inv_errors_t errs;
        char summary[512];

        if (sup->shutting_down) {
            log_warn("SIGHUP ignored: shutting down");
            break;
        }
        log_info("reloading", "path", sup->inv->path);
        inv_errors_init(&errs);
        if (sup_reload(sup, &errs, summary, sizeof(summary)) < 0) {
            for (size_t i = 0; i < errs.n; i++)
                log_error("reload rejected", "error", errs.v[i].text);
            log_error("reload failed: still running the previous inventory",
                      "errors", LOG_INT(errs.n), "reason", summary);
        }
        inv_errors_free(&errs);
        break;
    }
    }
}

/* The supervisor's own log never blocks the loop (log_async_begin): lines that stderr
 * does not take at once wait in log.c's queue, written when it becomes writable. */
static void log_wake(void *arg)
{
    daemon_t *d = arg;

    if (d->log_ev && !event_pending(d->log_ev, EV_WRITE, NULL))
        event_add(d->log_ev, NULL);
}

static void log_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    if (log_flush())
        log_wake(arg);
}

static void log_async_setup(daemon_t *d)
{
    int fd = log_async_begin(log_wake, d);

    if (fd < 0)
        return;
    d->log_ev = event_new(d->base, fd, EV_WRITE, log_write_cb, d);
    if (!d->log_ev) {
        log_async_end();
        return;
    }
    event_priority_set(d->log_ev, PRIO_CONTROL);
    if (log_flush())
        log_wake(d);
}

static void daemon_free(daemon_t *d)
{
    if (d->trim_ev)
        event_free(d->trim_ev);
    if (d->log_ev) {
        log_async_end();
        event_free(d->log_ev);
    }
    for (size_t i = 0; i < 4; i++)
        if (d->sigs[i])
            event_free(d->sigs[i]);
    if (d->sup) {
        sup_free(d->sup);
        notify_shutdown();
    }
    if (d->base)
        event_base_free(d->base);
}

/* Load config, start every instance and run until SIGTERM/SIGINT. Returns the
 * process exit code. */
static int run(const char *config, int foreground)
{
    static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
    sup_spawner_t spawner = sup_spawn_real();
    daemon_t d = { 0 };
    provisioner_t *pv = NULL;
    contain_t *cn = NULL;
    cluster_t *cl = NULL;
    inv_errors_t errs;
    inventory_t *inv;
    log_level_t lvl;
    long long log_rate = LOGCAP_RATE_BYTES;
    char err[512];
    int rc;

    inv_errors_init(&errs);
    inv = inv_load(config, &errs);
    if (!inv) {
        checkconf_print_errors(stderr, &errs);
        fprintf(stderr, "instanced: %s: %zu error%s, not starting\n", config, errs.n,
                errs.n == 1 ? "" : "s");
        inv_errors_free(&errs);
        return 1;
    }
    inv_errors_free(&errs);
    if (inv->log_level && log_parse_level(inv->log_level, &lvl) == 0)
        log_setup(lvl, 2);
    /* Writes to a closed pipe or socket must fail with EPIPE, not kill the supervisor
     * (evhttp writes without MSG_NOSIGNAL, libcurl runs with NOSIGNAL); children get
     * SIG_DFL back in spawn.c. */
    signal(SIGPIPE, SIG_IGN);
    /* A tuning knob, not an inventory key: how much output per second and instance is
     * written before the rest is dropped ("4MiB", "512k", ...). */
    if (getenv("INSTANCED_LOG_RATE") && inv_parse_size(getenv("INSTANCED_LOG_RATE"), &log_rate) < 0) {
        fprintf(stderr, "instanced: INSTANCED_LOG_RATE=%s is not a size\n",
                getenv("INSTANCED_LOG_RATE"));
        inv_free(inv);
        return 1;
    }
    evglue_log_to_logfmt();
    d.base = evglue_base_new();
    if (!d.base || event_base_priority_init(d.base, 2) < 0) {
        fprintf(stderr, "instanced: cannot set up the event loop\n");
        inv_free(inv);
        daemon_free(&d);
        return 1;
    }
    log_async_setup(&d);
    /* Before the table is built: its check of the open-file budget sees the raised
     * limit. */
    spawn_raise_nofile();
    d.sup = sup_new(d.base, inv, foreground, log_rate, &spawner, err, sizeof(err));
    if (!d.sup) {
        log_error("cannot set up the supervisor", "error", err);
        daemon_free(&d);
        return 1;
    }
    for (size_t i = 0; i < 4; i++) {
        d.sigs[i] = evsignal_new(d.base, sigs[i], signal_cb, &d);
        if (!d.sigs[i] || event_priority_set(d.sigs[i], PRIO_CONTROL) < 0 ||
            event_add(d.sigs[i], NULL) < 0) {
            fprintf(stderr, "instanced: cannot watch signals\n");
            daemon_free(&d);
            return 1;
        }
    }
    spawn_signals_changed(); /* the handlers just installed: workers must not keep them */
    {
        struct timeval every = { TRIM_EVERY_S, 0 };
        d.trim_ev = event_new(d.base, -1, EV_PERSIST, trim_cb, NULL);
        if (d.trim_ev)
            event_add(d.trim_ev, &every);
    }
    /* Hooks are called in this order: the monitoring side, provisioning, containment,
     * the cluster. */
    if (monitor_init(d.sup, err, sizeof(err)) < 0) {
        log_error("cannot start monitoring", "error", err);
        fprintf(stderr, "instanced: %s\n", err);
        daemon_free(&d);
        return 1;
    }
    pv = provisioner_new(d.sup);
    if (!pv) {
        fprintf(stderr, "instanced: cannot set up provisioning\n");
        monitor_shutdown(d.sup);
        daemon_free(&d);
        return 1;
    }
    /* Containment: it wraps the spawner and kills leftovers of a previous run before
     * anything starts. */
    cn = contain_new(d.sup);
    if (!cn) {
        fprintf(stderr, "instanced: cannot set up containment\n");
        sup_remove_hooks(d.sup, pv);
        provisioner_free(pv);
        monitor_shutdown(d.sup);
        daemon_free(&d);
        return 1;
    }
    /* Cluster mode: join before anything starts (its hook holds contested instances). */
    if (cluster_start(d.sup, &cl, err, sizeof(err)) < 0) {
        log_error("cannot join the cluster", "error", err);
        fprintf(stderr, "instanced: %s\n", err);
        monitor_shutdown(d.sup);
        sup_remove_hooks(d.sup, pv);
        provisioner_free(pv);
        sup_remove_hooks(d.sup, cn);
        contain_free(cn);
        daemon_free(&d);
        return 1;
    }
    notify_init(d.base);
    provisioner_run(pv);
    log_info("instanced started", "version", PACKAGE_VERSION, "config", config,
             "instances", LOG_INT(d.sup->ninst), "pid", LOG_INT(getpid()));
    sup_start_all(d.sup);
    notify_ready();

    rc = event_base_dispatch(d.base);
    if (rc < 0)
        log_error("event loop failed");
    monitor_shutdown(d.sup);
    sup_remove_hooks(d.sup, pv);
    provisioner_free(pv);
    if (cl) {
        sup_remove_hooks(d.sup, cl);
        cluster_free(cl);
    }
    sup_remove_hooks(d.sup, cn);
    contain_free(cn);
    log_info("instanced stopped");
    daemon_free(&d);
    return rc < 0 ? 1 : 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: instanced -c FILE [--foreground] [--node NAME]\n"
            "       instanced --check-config -c FILE [--json]\n"
            "\n"
            "Supervise one worker per named instance of the inventory FILE.\n"
            "\n"
            "  -c, --config FILE    the instance inventory\n"
            "  -f, --foreground     mirror worker output to the terminal\n"
            "  -t, --check-config   validate FILE, print the derived table, exit 0 or 1\n"
            "  -j, --json           with --check-config: print JSON\n"
            "  -N, --node NAME      cluster mode: this node's name (default: node = in\n"
            "                       the cluster section, else the host name)\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "check-config", no_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "node", required_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    int check = 0, json = 0, foreground = 0, c;

    /* Large buffers (the status documents of thousands of instances, a megabyte or
     * more each, rendered again after changes) are mapped and unmapped, not carved
     * from the heap: glibc's threshold would otherwise rise to their size after the
     * first is freed, and the heap, fragmented by them, would keep its peak size. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);

    while ((c = getopt_long(argc, argv, "c:ftjhVN:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'f': foreground = 1; break;
        case 't': check = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'N': setenv("INSTANCED_NODE", optarg, 1); break;
        case 'V': printf("instanced %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !config) {
        fprintf(stderr, "instanced: %s\n", config ? "unexpected argument" : "-c FILE is required");
        usage(stderr);
        return 2;
    }
    if (json && !check) {
        fprintf(stderr, "instanced: --json goes with --check-config\n");
        return 2;
    }

    if (check) {
        inv_errors_t errs;
        inventory_t *inv;
        int rc;

        inv_errors_init(&errs);
        inv = inv_load(config, &errs);
        if (!inv) {
            checkconf_print_errors(stderr, &errs);
            fprintf(stderr, "instanced: %s: %zu error%s, inventory rejected\n", config, errs.n,
                    errs.n == 1 ? "" : "s");
            inv_errors_free(&errs);
            return 1;
        }
        rc = checkconf_print(stdout, inv, json);
        checkconf_containment(stderr, inv);
        if (!json)
            fprintf(stderr, "instanced: %s: ok, %zu instance%s\n", config, inv->ninstances,
                    inv->ninstances == 1 ? "" : "s");
        inv_free(inv);
        inv_errors_free(&errs);
        return rc == 0 ? 0 : 1;
    }
    return run(config, foreground);
}
