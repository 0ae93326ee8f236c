/* portcheck.c - find a listener already holding a worker's TCP port, from procfs. */
#include "config.h"

#include "portcheck.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_LISTEN 0x0A /* the state column of /proc/net/tcp */

/* The inode of a socket listening on port in one table (tcp or tcp6), or 0. Lines look
 * like "  0: 0100007F:1F91 00000000:0000 0A ... uid timeout inode ...". */
static unsigned long listener_inode(const char *path, int port, int *readable)
{
    char line[512];
    unsigned long found = 0;
    FILE *f = fopen(path, "re");

    if (!f)
        return 0;
    *readable = 1;
    if (!fgets(line, sizeof(line), f)) { /* the header */
        fclose(f);
        return 0;
    }
    while (!found && fgets(line, sizeof(line), f)) {
        char local[64], remote[64];
        unsigned st, lport;
        unsigned long inode;
        char *colon;

        if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu", local, remote, &st,
                   &inode) != 4 || st != TCP_LISTEN)
            continue;
        colon = strrchr(local, ':');
        if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
            continue;
        if ((int)lport == port)
            found = inode ? inode : 1;
    }
    fclose(f);
    return found;
}

/* A process with a descriptor on socket inode, or 0. Walks proc_root/PID/fd; only
 * called once a listener is known to exist, so its cost is paid in the rare case. */
static pid_t socket_holder(const char *proc_root, unsigned long inode)
{
    char want[64], path[512], target[64];
    DIR *d = opendir(proc_root);
    struct dirent *e;
    pid_t holder = 0, self = getpid();

    if (!d)
        return 0;
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    while (!holder && (e = readdir(d)) != NULL) {
        DIR *fds;
        struct dirent *fe;
        pid_t pid;

        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid = (pid_t)strtol(e->d_name, NULL, 10);
        if (pid <= 0 || pid == self)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%.20s/fd", proc_root, e->d_name) >=
            sizeof(path))
            continue;
        fds = opendir(path);
        if (!fds)
            continue; /* gone, or not ours to look at */
        while ((fe = readdir(fds)) != NULL) {
            ssize_t n;
            if (fe->d_name[0] == '.')
                continue;
            if ((size_t)snprintf(path, sizeof(path), "%s/%.20s/fd/%.20s", proc_root, e->d_name,
                                 fe->d_name) >= sizeof(path))
                continue;
            n = readlink(path, target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (strcmp(target, want) == 0) {
                holder = pid;
                break;
            }
        }
        closedir(fds);
    }
    closedir(d);
    return holder;
}

int portcheck_listener(const char *proc_root, int port, pid_t *holder)
{
    static const char *const tables[] = { "net/tcp", "net/tcp6" };
    char path[512];
    unsigned long inode = 0;
    int readable = 0;

    *holder = 0;
    if (port <= 0 || port > 65535)
        return 0;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && !inode; i++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", proc_root, tables[i]) >=
            sizeof(path))
            return -1;
        inode = listener_inode(path, port, &readable);
    }
    if (!readable)
        return -1;
    if (!inode)
        return 0;
    if (inode > 1)
        *holder = socket_holder(proc_root, inode);
    return 1;
}
