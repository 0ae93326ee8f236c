# Tests of the provision side (see tests/local.mk for the environment).
