# Tests of the monitor side (see tests/local.mk for the environment).
