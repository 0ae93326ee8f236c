/* ctl.h - instancectl's control-socket commands (status, start, stop, restart, reload). */
#ifndef INSTANCED_CTL_H
#define INSTANCED_CTL_H

/* argv as given to instancectl. Returns the exit code. */
int ctl_main(int argc, char **argv);

#endif
