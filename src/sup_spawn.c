/* sup_spawn.c - the supervisor's real spawner: from an instance's config to its exec.
 *
 * The core (supervisor.c) decides when a worker starts and keeps the books; this
 * module does the start itself: the volume directories (once per config), the
 * worker's environment (the contract, then the hooks: provisioning's own URLs),
 * placeholders in command, args and env, the program looked up in the worker's PATH,
 * a warning when the port is already held, and the fork/exec with its exec report
 * pipe. Signals go to the worker's whole process group. */
#include "config.h"

#include "sup_spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "logcap.h"
#include "placeholder.h"
#include "policy.h"
#include "portcheck.h"
#include "spawn.h"

/* Can a socket of family af bind port on the wildcard address right now? 1: yes (no
 * listener can hold it), 0: no, or the test could not be made. SO_REUSEADDR makes a
 * TIME_WAIT or a reusable socket no obstacle; a listener always is. The answer is
 * only a filter: 0 sends the caller to procfs for the truth. */
static int port_bindable(int af, int port)
{
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } a;
    socklen_t alen;
    int one = 1, ok, fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return af == AF_INET6 && errno == EAFNOSUPPORT; /* no IPv6: nothing to hold */
    memset(&a, 0, sizeof(a));
    if (af == AF_INET) {
        a.v4.sin_family = AF_INET;
        a.v4.sin_port = htons((uint16_t)port);
        a.v4.sin_addr.s_addr = htonl(INADDR_ANY);
        alen = sizeof(a.v4);
    } else {
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_port = htons((uint16_t)port);
        a.v6.sin6_addr = in6addr_any;
        alen = sizeof(a.v6);
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ok = bind(fd, (struct sockaddr *)&a, alen) == 0;
    close(fd);
    return ok;
}

/* Before a start: is the instance's port already held by a listener, typically a
 * child of a worker of a previous supervisor that was killed without its workers? The
 * worker would then crash-loop on "Address already in use": say why, in the log (once
 * per holder) and, through port_note, in the exit message the status shows. Nothing
 * here blocks. Reading /proc/net/tcp costs a walk of every socket on the host (with
 * 5,000 workers listening, most of a start's time), so a bind() to the port on the
 * wildcard address comes first: when both families bind, no listener holds the port
 * and procfs is not read; otherwise procfs (portcheck.c) says whether a listener
 * really does and whose it is. */
static void check_port(sup_instance_t *in)
{
    char note[TEXT_MAX];
    int port = in->cfg->port;
    pid_t holder;

    if (port <= 0 || (port_bindable(AF_INET, port) && port_bindable(AF_INET6, port)) ||
        portcheck_listener("/proc", port, &holder) != 1) {
        text_clear(&in->port_note);
        return;
    }
    if (holder > 0)
        snprintf(note, sizeof(note),
                 "port %d is held by another process (pid %ld, left from a previous run?)",
                 port, (long)holder);
    else
        snprintf(note, sizeof(note),
                 "port %d is held by another process (left from a previous run?)", port);
    if (strcmp(note, text_get(&in->port_note)) != 0)
        log_warn("the worker's port is already in use: it will likely fail to listen",
                 "instance", in->name, "port", LOG_INT(port), "holder_pid",
                 holder > 0 ? LOG_INT(holder) : "unknown", "message", note);
    text_set(&in->port_note, "%s", note);
}

char **sup_spawn_env(supervisor_t *sup, sup_instance_t *in, char ***argv, char *err,
                     size_t errlen)
{
    char **env = inv_worker_env(sup->inv, in->cfg, NULL), **av = NULL;

    /* Placeholders (%i, %p, ...) in command, args and the inventory's env entries,
     * before the hooks' entries join env (a password may hold a '%'). */
    errno = 0;
    if (ph_spawn_prepare(in->cfg, &av, env, err, errlen) < 0 ||
        sup_worker_env(sup, in, env, err, errlen) < 0) {
        inv_strv_free(av);
        inv_strv_free(env);
        return NULL;
    }
    if (argv)
        *argv = av;
    else
        inv_strv_free(av);
    return env;
}

static int real_spawn(void *ctx, supervisor_t *sup, sup_instance_t *in, logcap_t *log,
                      pid_t *pidp, int *report_fd, char *err, size_t errlen, int *resource)
{
    const inv_instance_t *cfg = in->cfg;
    spawn_cred_t cred;
    spawn_req_t req;
    char path[4096], lerr[256];
    char **env = NULL, **argv = NULL;
    const char *path_env = NULL;
    pid_t pid;

    (void)ctx;
    *resource = 0;
    if (sup_instance_cred(in, &cred, err, errlen) < 0)
        return -1;
    if (!in->dirs_ready &&
        spawn_prepare_dirs(cfg->data_dir, cfg->logs_dir, &cred, err, errlen) < 0) {
        *resource = pol_errno_is_resource(errno);
        return -1;
    }
    in->dirs_ready = 1;
    if (logcap_configure(log, cfg->logs_dir, cfg->policy.log_max_bytes,
                         cfg->policy.log_backups, lerr, sizeof(lerr)) < 0)
        log_warn("worker output will be dropped", "instance", in->name, "error", lerr);
    if (!(env = sup_spawn_env(sup, in, &argv, err, errlen)))
        goto fail;
    for (char **e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path_env = *e + 5;
    if (spawn_resolve(argv[0], path_env, path, sizeof(path), err, errlen) < 0) {
        errno = 0; /* not found: the worker's configuration */
        goto fail;
    }
    check_port(in);
    {
        struct stat st;
        if (stat(path, &st) == 0) {
            in->exe_dev = st.st_dev;
            in->exe_ino = st.st_ino;
        } else {
            in->exe_dev = 0;
            in->exe_ino = 0;
        }
    }
    memset(&req, 0, sizeof(req));
    req.path = path;
    req.argv = argv;
    req.envp = env;
    req.cwd = cfg->data_dir;
    req.out_fd = logcap_child_fd(log);
    req.cred = &cred;
    pid = spawn_run_cg(&req, in->cgroup_fd, report_fd, err, errlen);
    /* The child has its copy of the output pipe's write end (CLONE_VFORK: it has
     * exec'd or failed by now); ours goes at once, not when the loop next runs: in a
     * burst of 5,000 starts within one pass of the loop, every start's write end
     * stayed open until the end of the burst (with the exec report pipe, which the
     * core reads on the loop, that was four descriptors per instance). */
    logcap_child_spawned(log);
    if (pid < 0)
        goto fail;
    inv_strv_free(argv);
    inv_strv_free(env);
    *pidp = pid;
    return 0;
fail:
    *resource = pol_errno_is_resource(errno);
    inv_strv_free(argv);
    inv_strv_free(env);
    return -1;
}

static void real_signal(void *ctx, supervisor_t *sup, sup_instance_t *in, int sig)
{
    (void)ctx, (void)sup;
    /* The worker leads its own process group (setsid): signal everything it forked. */
    if (in->pid > 0 && kill(-in->pid, sig) < 0 && errno == ESRCH)
        kill(in->pid, sig);
}

sup_spawner_t sup_spawn_real(void)
{
    sup_spawner_t s = { real_spawn, real_signal, NULL, NULL };
    return s;
}
