# The supervision side of instanced (see supervisor.h).
src_instanced_SOURCES += src/supervisor.c
