# Example inventories, Prometheus and Grafana files.
EXTRA_DIST += etc/instanced.conf etc/demo.conf
EXTRA_DIST += scripts/deps.sh scripts/build.sh scripts/test.sh scripts/demo.sh
dist_man_MANS += man/instanced.conf.5
