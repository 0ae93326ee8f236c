# Provisioning (instancectl provision; instanced with provision = true).
src_instancectl_SOURCES += src/provision_stub.c
