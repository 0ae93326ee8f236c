# Tests of the monitor side (see tests/local.mk for the environment).

# Health verdicts, the combined status, metrics text and JSON views, linked alone; and
# the control protocol (control.c) against a fake supervision side.
check_PROGRAMS += tests/unit_health
tests_unit_health_SOURCES = tests/unit_health.c $(MONITOR_PURE) src/control.c src/control_cmd.c src/control.h
# Fixtures fill the inventory's (char *) fields with string literals, which the
# project-wide -Wwrite-strings would make const: allowed in these fixtures alone.
tests_unit_health_CFLAGS = $(AM_CFLAGS) -Wno-write-strings $(CUNIT_CFLAGS) $(JANSSON_CFLAGS) \
	$(LIBEVENT_CFLAGS)
tests_unit_health_LDADD = $(CORE_LIBS) $(JANSSON_LIBS) $(LIBEVENT_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_health

# Against the real supervisor and the test worker (tests/test-worker).
MONITOR_IT = \
	tests/it_monitor_health.sh \
	tests/it_monitor_hostile.sh \
	tests/it_monitor_deps.sh \
	tests/it_monitor_liveness.sh \
	tests/it_monitor_scale.sh \
	tests/it_monitor_prometheus.sh \
	tests/it_monitor_fds.sh \
	tests/it_monitor_http.sh \
	tests/it_monitor_slowloris.sh
TESTS += $(MONITOR_IT)
EXTRA_DIST += $(MONITOR_IT) tests/it_monitor_lib.sh tests/hostile_health.py

# The status page's pure parts (hashes for its CSP, Accept-Encoding, If-None-Match).
check_PROGRAMS += tests/unit_status_page
tests_unit_status_page_SOURCES = tests/unit_status_page.c src/status_page.c src/status_page.h \
	src/sha256.c src/sha256.h
nodist_tests_unit_status_page_SOURCES = src/status_page_html.c
tests_unit_status_page_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBEVENT_CFLAGS) $(ZLIB_CFLAGS)
tests_unit_status_page_LDADD = src/libinstanced.a $(LIBEVENT_LIBS) $(ZLIB_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_status_page

# The status page (GET /) in headless Chromium, driven over the DevTools pipe.
TESTS += tests/it_status_page.sh
EXTRA_DIST += tests/it_status_page.sh tests/status_page_browser.py tests/status_page_worker.py
