# Tests of the supervisor side (see tests/local.mk for the environment).
