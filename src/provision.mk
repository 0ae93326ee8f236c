# Provisioning (instancectl provision; instanced with provision = true): a library
# both programs link, so the supervisor can call prov_apply() and prov_worker_urls().
noinst_LIBRARIES += src/libprovision.a
src_libprovision_a_SOURCES = \
	src/provision.c src/provision.h \
	src/prov_pg.c src/prov_pg.h \
	src/prov_redis.c src/prov_redis.h \
	src/prov_report.c src/prov_report.h \
	src/credentials.c src/credentials.h
src_libprovision_a_CFLAGS = $(AM_CFLAGS) $(LIBPQ_CFLAGS) $(HIREDIS_CFLAGS) $(CONFUSE_CFLAGS) \
	$(JANSSON_CFLAGS)

# The core library again after libprovision.a: static libraries resolve left to right.
PROVISION_LIBS = src/libprovision.a $(CORE_LIBS) $(LIBPQ_LIBS) $(HIREDIS_LIBS)

src_instancectl_SOURCES += src/prov_cli.c
src_instancectl_LDADD += $(PROVISION_LIBS)
src_instanced_LDADD += $(PROVISION_LIBS)
