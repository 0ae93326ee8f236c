# The systemd unit, installed to the directory systemd's pkg-config names
# (configure --with-systemdsystemunitdir overrides it).
systemdsystemunit_DATA = systemd/instanced.service
EXTRA_DIST += systemd/instanced.service
