/* supervisor.h - the master process: one worker per instance on one event loop. */
#ifndef INSTANCED_SUPERVISOR_H
#define INSTANCED_SUPERVISOR_H

/* Load config, start every instance and run until SIGTERM/SIGINT. Returns the
 * process exit code. */
int sup_main(const char *config, int foreground);

#endif
