# Tests of the control socket (control.c), instancectl's client side (ctl.c) and log
# capture (logcap.c); see tests/local.mk for the environment.
CONTROL_IT = \
	tests/it_control_timeout.sh \
	tests/it_control_reload_log.sh \
	tests/it_control_shutdown.sh \
	tests/it_control_move.sh \
	tests/it_control_logs.sh \
	tests/it_control_cli.sh
TESTS += $(CONTROL_IT)
EXTRA_DIST += $(CONTROL_IT) tests/silent_socket.py

# Log rotation (logcap.c), linked alone: files, contents, renames per rotation.
check_PROGRAMS += tests/unit_logcap
tests_unit_logcap_SOURCES = tests/unit_logcap.c src/logcap.c src/logcap.h
tests_unit_logcap_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_logcap_LDADD = $(CORE_LIBS) $(LIBEVENT_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_logcap

# The control protocol's request parser (control_parse), the supervision side stubbed.
check_PROGRAMS += tests/unit_control
tests_unit_control_SOURCES = tests/unit_control.c $(MONITOR_PURE) src/control.c src/control_cmd.c src/control.h
tests_unit_control_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_control_LDADD = $(CORE_LIBS) $(JANSSON_LIBS) $(LIBEVENT_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_control
