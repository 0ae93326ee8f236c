# The Debian packaging (debian/) and its test: build both .debs from the distributed
# files, unpack them into a scratch root, check the file list, the inventory, the
# unit and lintian.
EXTRA_DIST += debian
PACKAGE_IT = tests/it_debian_package.sh
TESTS += $(PACKAGE_IT)
EXTRA_DIST += $(PACKAGE_IT)
# scripts/demo.sh: its failure paths and one full run of the demo fleet.
DEMO_IT = tests/it_demo.sh
TESTS += $(DEMO_IT)
EXTRA_DIST += $(DEMO_IT)
