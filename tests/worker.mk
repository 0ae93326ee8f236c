# Tests of the worker side (see tests/local.mk for the environment).
