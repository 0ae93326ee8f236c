# Probe kinds besides the JSON contract (see probe.c): http and exec verdicts (pure),
# exec probes spawned and reaped like workers, tcp connects on the loop; and the
# detection of workers that detach into the background.
src_instanced_SOURCES += \
	src/probe_verdict.c src/probe_verdict.h \
	src/probe_exec.c src/probe_exec.h \
	src/probe_tcp.c src/probe_tcp.h \
	src/detach.c src/detach.h
