# The core library (naming rules, inventory, logging) and the two programs. The
# supervision side, the monitoring side and provisioning add their sources in their
# own fragments: supervisor.mk, monitor.mk, provision.mk.
noinst_LIBRARIES += src/libinstanced.a
src_libinstanced_a_SOURCES = \
	src/naming.c src/naming.h \
	src/states.c \
	src/errbuf.c src/errbuf.h \
	src/xalloc.c src/xalloc.h src/strmap.c src/strmap.h src/text.c src/text.h \
	src/mask.c src/mask.h \
	src/log.c src/log.h \
	src/inventory.c src/inventory.h src/inv_private.h \
	src/inv_hmap.c src/inv_scan.c src/inv_value.c src/inv_parse.c src/inv_check.c \
	src/workerenv.c src/workerenv.h \
	src/checkconf.c src/checkconf.h \
	src/placeholder.c src/placeholder.h \
	src/probe_conf.c src/probe_conf.h \
	src/evglue.c src/evglue.h
src_libinstanced_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(JANSSON_CFLAGS) $(LIBEVENT_CFLAGS)

CORE_LIBS = src/libinstanced.a $(CONFUSE_LIBS) $(JANSSON_LIBS)

sbin_PROGRAMS += src/instanced
src_instanced_SOURCES = src/instanced.c src/supervisor.h src/monitor.h
src_instanced_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBCURL_CFLAGS) $(JANSSON_CFLAGS) \
	$(SYSTEMD_CFLAGS)
src_instanced_LDADD = $(CORE_LIBS) $(LIBEVENT_LIBS) $(LIBCURL_LIBS) $(SYSTEMD_LIBS)

bin_PROGRAMS += src/instancectl
src_instancectl_SOURCES = src/instancectl.c src/ctl.h src/provision.h
src_instancectl_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(LIBPQ_CFLAGS) \
	$(HIREDIS_CFLAGS)
src_instancectl_LDADD = $(CORE_LIBS) $(LIBEVENT_LIBS) $(LIBPQ_LIBS) $(HIREDIS_LIBS)

include $(srcdir)/src/supervisor.mk
include $(srcdir)/src/monitor.mk
include $(srcdir)/src/provision.mk
include $(srcdir)/src/probe.mk
include $(srcdir)/src/cgroup.mk
include $(srcdir)/src/cluster.mk
