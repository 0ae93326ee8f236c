# The supervision side of instanced (see supervisor.h): the core's table and state
# machine (supervisor.c), reload as plan then apply (reload.c), the real spawner
# (sup_spawn.c) and child hygiene (spawn.c), the restart policy as data (policy.c,
# pure), log capture and rotation (logcap.c), systemd notification (notify.c), a
# worker's port already held by a leftover process (portcheck.c).
src_instanced_SOURCES += src/supervisor.c \
	src/reload.c src/reload.h \
	src/sup_hooks.c src/sup_hooks.h \
	src/sup_spawn.c src/sup_spawn.h \
	src/spawn.c src/spawn.h \
	src/policy.c src/policy.h \
	src/logcap.c src/logcap.h \
	src/notify.c src/notify.h \
	src/provisioner.c src/provisioner.h \
	src/portcheck.c src/portcheck.h

dist_man_MANS += man/instanced.8
