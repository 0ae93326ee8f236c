/* logcap.h - capture a worker's stdout and stderr into its rotated log file. */
#ifndef INSTANCED_LOGCAP_H
#define INSTANCED_LOGCAP_H

#include <stddef.h>

struct event_base;
typedef struct logcap logcap_t;

/* Bytes per second one instance may log before its output is dropped (and counted),
 * unless logcap_new() is given another rate. */
#define LOGCAP_RATE_BYTES (4LL << 20)

/* A capture for instance `name` (copied). Output of every start, and of whatever a
 * worker leaves running with its output (a grandchild), lands in the same file: each
 * start gets a pipe (logcap_child_fd) whose read end is kept until no process holds
 * its write end. In steady state a capture holds two descriptors: the running
 * worker's read end and the log file. Reads run at event priority `prio`; more than
 * rate_bytes per second is dropped. mirror_fd >= 0 also copies each line there
 * prefixed with the name (colour: ANSI colour index 1-6, 0 for none). *dropped is
 * incremented by every byte dropped; it must outlive the capture. NULL with err on
 * failure. */
logcap_t *logcap_new(struct event_base *base, int prio, const char *name, long long rate_bytes,
                     int mirror_fd, int colour, unsigned long *dropped, char *err,
                     size_t errlen);

/* Where to write and how to rotate: <logs_dir>/<name>.log, rotated at max_bytes into
 * <name>.log.<N>, N one higher at every rotation (the highest is the newest), keeping
 * the newest `backups` of them: a rotation costs one rename and one unlink, whatever
 * `backups` is. Called before the first start and on a reload; when logs_dir changed
 * it reopens and scans the directory once for the backups already there (the newest
 * `backups` are kept, numbering goes on after the highest). A lower `backups` removes
 * the oldest extra ones at once. The directory is opened (O_NOFOLLOW: a symbolic link
 * in its place is refused) only to open, rotate or scan, every file is reached
 * through it, and it is closed again. 0, or -1 with err (output is then dropped). */
int logcap_configure(logcap_t *lc, const char *logs_dir, long long max_bytes, long backups,
                     char *err, size_t errlen);

/* A new pipe for the start about to be spawned: its write end, for the child's stdout
 * and stderr (close-on-exec in the supervisor). The supervisor's copy is closed when
 * the event loop next runs, so spawn the child before returning to the loop. The
 * read end stays until end of file. -1 with errno when no pipe can be made (EMFILE:
 * the spawn would fail the same way). */
int logcap_child_fd(logcap_t *lc);

/* The child was spawned with logcap_child_fd's descriptor (or the spawn failed):
 * close the supervisor's copy now rather than when the loop next runs, so that a
 * burst of starts holds no write end. Optional. */
void logcap_child_spawned(logcap_t *lc);

/* Write a note of the supervisor's into the file, as a line of output would be. */
void logcap_note(logcap_t *lc, const char *text);

/* Drain what is readable now, flush a partial line, close everything, free. */
void logcap_free(logcap_t *lc);

#endif
