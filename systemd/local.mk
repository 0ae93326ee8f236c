# The systemd unit.
