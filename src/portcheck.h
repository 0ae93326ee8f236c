/* portcheck.h - is a worker's TCP port already held by a listener (a process left
 * over from a previous run of the supervisor), and by which process. */
#ifndef INSTANCED_PORTCHECK_H
#define INSTANCED_PORTCHECK_H

#include <sys/types.h>

/* Look for a socket listening on TCP port (any local address, IPv4 or IPv6) in the
 * tables the kernel publishes under proc_root ("/proc"; tests pass another root).
 * Returns 1 when one is found, with the pid of a process holding it in *holder (0 when
 * it cannot be told: another user's process, a namespace), 0 when none, -1 when the
 * tables cannot be read. Reads procfs only: nothing that can block on the network. */
int portcheck_listener(const char *proc_root, int port, pid_t *holder);

#endif
