/* bench-child.c - the trivial child program both supervisors run in `make bench`.
 *
 *   bench-child [-s STAMPFILE] [-p PROBEFILE]
 *   bench-child -R -s STAMPFILE   (the minimal reaper, below)
 *   bench-child -F N -s STAMPFILE (the start-up floor, below)
 *   run            (a symlink named "run" in a runit or s6 service directory)
 *
 * First thing after exec it appends "PID MONO_NS NAME\n" to STAMPFILE (one write()
 * on an O_APPEND descriptor, so lines from many children never interleave), where
 * MONO_NS is CLOCK_MONOTONIC in nanoseconds, the clock the harness reads just before
 * it sends kill -9: the difference is the restart latency, with no polling in it.
 * NAME is SERVICE_INSTANCE_NAME (instanced sets it; the supervisord config sets it).
 *
 * Then, when HTTP_PORT is set, it answers every HTTP request on 127.0.0.1:HTTP_PORT
 * with 200 and a healthy JSON body in the worker contract's shape (health probes),
 * appending "MONO_NS NAME\n" to PROBEFILE for each request when -p is given.
 * Otherwise it sleeps until a signal ends it.
 *
 * runsv and s6-supervise exec ./run in the service directory with no arguments and
 * no environment of ours. Named "run", the child takes NAME from the directory's name
 * and appends to ../../stamps (the bench keeps the scan directory beside the stamp
 * file), so that those peers exec the child directly as the others do, with no shell
 * in between. When the directory has a notification-fd file (s6's readiness
 * protocol), it writes a newline on that descriptor and closes it: s6-supervise then
 * reports the service ready, and does not hold back its next restart by a second.
 *
 * With -R it is the smallest supervisor there can be, the floor of a restart on the
 * machine: it vfork()s and execs itself as a child (named "reaped"; posix_spawn does
 * the same, but the name spawn.h is taken in this tree), blocks in waitpid(),
 * and spawns the next one as soon as that returns, for ever. kill -9 of the child
 * measures what the kernel alone costs from the kill to the next exec: the exit, the
 * wake-up of the parent, the spawn.
 *
 * With -F N it starts N children (named floor-1 ... floor-N) one after the other as
 * fast as vfork and exec go, then waits for a signal: the floor of starting N
 * processes on the machine, with no supervisor work (no pipe, log, cgroup or
 * directory) between them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/wait.h>

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void append_line(const char *path, const char *line, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, len);
    (void)w;
    close(fd);
}

static void serve(int port, const char *name, const char *probefile)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        _exit(1);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A restarted child may find its port still held by the previous one for an
     * instant: retry the bind for up to 2 s. */
    for (int i = 0; bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0; i++) {
        if (i >= 200)
            _exit(1);
        usleep(10000);
    }
    if (listen(ls, 64) < 0)
        _exit(1);

    char body[512];
    int blen = snprintf(body, sizeof body,
                        "{\"status\":\"healthy\",\"service\":\"bench\",\"instance\":\"%s\","
                        "\"version\":\"1.0.0\",\"environment\":\"bench\",\"checks\":{}}\n",
                        name);
    /* The probe log is opened once, with O_APPEND: a line per probe is one write(2),
     * not an open, a write and a close, so that the harness weighs as little as it can
     * on the probe round it measures. */
    int pfd = probefile ? open(probefile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    char resp[1024];
    int rlen = snprintf(resp, sizeof resp,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                        blen, body);

    for (;;) {
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(1);
        }
        struct timeval tv = { 2, 0 };
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[4096];
        size_t got = 0;
        /* Read the request head; the body (none for GET) is ignored. */
        while (got < sizeof buf - 1) {
            ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = 0;
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        if (got > 0) {
            if (pfd >= 0) {
                char line[160];
                int l = snprintf(line, sizeof line, "%lld %s\n", mono_ns(), name);
                ssize_t pw = write(pfd, line, (size_t)l);
                (void)pw;
            }
            ssize_t w = write(c, resp, (size_t)rlen);
            (void)w;
        }
        close(c);
    }
}

static pid_t spawn_one(const char *self, char **argv, char **envp)
{
    pid_t pid = vfork();   /* what posix_spawn does: clone(CLONE_VM|CLONE_VFORK) */
    if (pid == 0) {
        execve(self, argv, envp);
        _exit(127);
    }
    return pid;
}

static int reap(const char *self, const char *stampfile)
{
    static char comm[] = "bench-child", opt[] = "-s", env[] = "SERVICE_INSTANCE_NAME=reaped";
    char *argv[] = { comm, opt, (char *)stampfile, NULL };
    char *envp[] = { env, NULL };
    for (;;) {
        int st;
        pid_t pid = spawn_one(self, argv, envp);
        if (pid < 0)
            return 1;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
}

static int floor_starts(const char *self, const char *stampfile, long n)
{
    static char comm[] = "bench-child", opt[] = "-s";
    char *argv[] = { comm, opt, (char *)stampfile, NULL };
    char env[64];
    char *envp[] = { env, NULL };
    for (long i = 1; i <= n; i++) {
        snprintf(env, sizeof env, "SERVICE_INSTANCE_NAME=floor-%ld", i);
        if (spawn_one(self, argv, envp) < 0)
            return 1;
    }
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    long long t0 = mono_ns();
    const char *stampfile = NULL, *probefile = NULL;
    int opt, reaper = 0;
    long floor_n = 0;
    while ((opt = getopt(argc, argv, "s:p:RF:")) != -1) {
        switch (opt) {
        case 's': stampfile = optarg; break;
        case 'p': probefile = optarg; break;
        case 'R': reaper = 1; break;
        case 'F': floor_n = atol(optarg); break;
        default:
            fprintf(stderr, "usage: bench-child [-s STAMPFILE] [-p PROBEFILE] | -R -s STAMPFILE"
                    " | -F N -s STAMPFILE\n");
            return 2;
        }
    }
    if (reaper || floor_n > 0) {
        char self[4096];
        ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
        if (l <= 0 || !stampfile)
            return 2;
        self[l] = '\0';
        return reaper ? reap(self, stampfile) : floor_starts(self, stampfile, floor_n);
    }
    const char *name = getenv("SERVICE_INSTANCE_NAME");
    if (!name || !*name)
        name = "-";
    char cwd[4096];
    char *base = strrchr(argv[0], '/');
    if (strcmp(base ? base + 1 : argv[0], "run") == 0 && getcwd(cwd, sizeof cwd)) {
        name = basename(cwd);
        stampfile = "../../stamps";
    }
    if (stampfile) {
        char line[160];
        int l = snprintf(line, sizeof line, "%ld %lld %s\n", (long)getpid(), t0, name);
        append_line(stampfile, line, (size_t)l);
    }
    int nfd = open("notification-fd", O_RDONLY | O_CLOEXEC);
    if (nfd >= 0) {
        char num[16] = "";
        ssize_t got = read(nfd, num, sizeof num - 1);
        close(nfd);
        int fd = got > 0 ? atoi(num) : -1;
        if (fd > 2) {
            ssize_t w = write(fd, "\n", 1);
            (void)w;
            close(fd);
        }
    }
    const char *port = getenv("HTTP_PORT");
    if (port && atoi(port) > 0)
        serve(atoi(port), name, probefile);
    for (;;)
        pause();
}
