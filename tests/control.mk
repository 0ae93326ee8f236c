# Tests of the control socket (control.c), instancectl's client side (ctl.c) and log
# capture (logcap.c); see tests/local.mk for the environment.
CONTROL_IT = \
	tests/it_control_timeout.sh \
	tests/it_control_reload_log.sh \
	tests/it_control_shutdown.sh \
	tests/it_control_move.sh
TESTS += $(CONTROL_IT)
EXTRA_DIST += $(CONTROL_IT) tests/silent_socket.py
