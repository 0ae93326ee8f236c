# The monitoring side of instanced (see monitor.h) and instancectl's control commands:
# health verdicts and the combined status (health.c, pure), the Prometheus text
# (metrics.c, pure), JSON views (report.c, pure), probes on the loop (probe.c), the
# status endpoint (status_http.c), the control socket (control.c), the hooks
# (monitor.c), and the client side of the control socket (ctl.c).
MONITOR_PURE = \
	src/health.c src/health.h \
	src/metrics.c src/metrics.h \
	src/report.c src/report.h
src_instanced_SOURCES += $(MONITOR_PURE) \
	src/probe.c src/probe.h \
	src/curlev.c src/curlev.h \
	src/status_http.c src/status_http.h \
	src/control.c src/control.h src/control_cmd.c \
	src/monitor.c
src_instancectl_SOURCES += src/ctl.c src/ctl_logs.c src/ctl_private.h

dist_man_MANS += man/instancectl.8
# Prometheus (scrape config, alert rules and their unit tests) and Grafana
# (two dashboards, datasource and dashboard provisioning).
EXTRA_DIST += etc/prometheus.yml etc/prometheus-rules.yml etc/prometheus-rules.test.yml \
	etc/grafana/dashboards/instanced-infrastructure.json \
	etc/grafana/dashboards/instanced-simulation-entity.json \
	etc/grafana/provisioning/datasources/instanced.yml \
	etc/grafana/provisioning/dashboards/instanced.yml

# instancectl logs: the history reader (logread.c) and the hook on captured lines
# (logtap.c) that log capture publishes to and the control socket follows; in the
# core library so that logcap.c and control.c are each still linked alone in tests.
src_libinstanced_a_SOURCES += src/logread.c src/logread.h src/logtap.c src/logtap.h

# The status page on GET / (status_page.c): src/status_page.html is its one source,
# turned into a C array in the build tree with od and sed (POSIX tools, no xxd), so a
# VPATH build or a read-only source tree works. Compressed once at start with zlib.
# configure.ac: PKG_CHECK_MODULES([ZLIB], [zlib])
src_instanced_SOURCES += src/status_page.c src/status_page.h src/sha256.c src/sha256.h
nodist_src_instanced_SOURCES = src/status_page_html.c
src_instanced_CFLAGS += $(ZLIB_CFLAGS)
src_instanced_LDADD += $(ZLIB_LIBS)
EXTRA_DIST += src/status_page.html docs/status-page.png
CLEANFILES += src/status_page_html.c
src/status_page_html.c: $(srcdir)/src/status_page.html
	$(AM_V_GEN)$(MKDIR_P) src && { \
	  echo '/* Generated from src/status_page.html by the build: do not edit. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char status_page_html[];'; \
	  echo 'extern const size_t status_page_html_len;'; \
	  echo 'const unsigned char status_page_html[] = {'; \
	  od -An -v -tx1 $(srcdir)/src/status_page.html | \
	    sed -e 's/[0-9a-f][0-9a-f]/0x&,/g' -e 's/^ *//'; \
	  echo '};'; \
	  echo 'const size_t status_page_html_len = sizeof status_page_html;'; \
	} >$@.tmp && mv $@.tmp $@
