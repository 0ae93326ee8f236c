# Example inventories, Prometheus and Grafana files.
EXTRA_DIST += etc/instanced.conf
EXTRA_DIST += scripts/deps.sh scripts/build.sh scripts/test.sh scripts/demo.sh
