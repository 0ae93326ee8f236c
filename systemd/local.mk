# The systemd unit, with the configured paths, installed to the directory systemd's
# pkg-config names (configure --with-systemdsystemunitdir overrides it).
systemdsystemunit_DATA = systemd/instanced.service
EXTRA_DIST += systemd/instanced.service.in
CLEANFILES += systemd/instanced.service

systemd/instanced.service: $(srcdir)/systemd/instanced.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/instanced.service.in >$@.tmp && mv $@.tmp $@
