# The monitoring side of instanced (see monitor.h) and instancectl's control commands.
src_instanced_SOURCES += src/monitor_stub.c
src_instancectl_SOURCES += src/ctl_stub.c
