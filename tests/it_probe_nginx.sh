#!/bin/sh
# nginx and a Python web app as workers with health_check = "http": an HTML page with
# 200 is healthy (the JSON contract would call it invalid), a dependent instance starts
# once nginx is ready, a 404 turns it unhealthy and the page back makes it healthy;
# health_expect_body narrows it, health_port probes another port than `port`, a
# redirect counts as healthy without being followed.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init probe-nginx
at_exit mon_dump_log

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "# nginx is needed (scripts/deps.sh installs it)"; exit 1; }

mon_inventory 300ms 250ms
mon_new_port
NGX_PORT=$MON_PORT
mon_new_port
NGX_ADMIN=$MON_PORT
mkdir -p "$T/www"
echo '<html><body>ok: served</body></html>' >"$T/www/health.html"
cat >"$T/nginx.conf" <<EOF2
daemon off;
worker_processes 1;
error_log stderr;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/tmp-body;
    proxy_temp_path $T/tmp-proxy;
    fastcgi_temp_path $T/tmp-fastcgi;
    uwsgi_temp_path $T/tmp-uwsgi;
    scgi_temp_path $T/tmp-scgi;
    server {
        listen 127.0.0.1:$NGX_PORT;
        root $T/www;
        location = /moved { return 302 /elsewhere; }
    }
    server {
        listen 127.0.0.1:$NGX_ADMIN;
        location = /ping { return 200 "pong"; }
    }
}
EOF2
mon_service nginx "$NGINX" /health.html \
    "args = {\"-c\", \"$T/nginx.conf\", \"-g\", \"pid %d/nginx.pid;\"}" \
    'health_check = "http"' 'failures_before_unhealthy = 1'
cat >>"$INV" <<EOF2
instance "nginx-A" {
    service = "nginx"
    port = $NGX_PORT
    health_expect_body = "ok: served"
}
instance "nginx-R" {
    service = "nginx-redirect"
    health_port = $NGX_PORT
    depends_on = {"nginx-A"}
}
instance "nginx-P" {
    service = "nginx-redirect"
    health_port = $NGX_ADMIN
    health_path = "/ping"
    health_expect_body = "pong"
    depends_on = {"nginx-A"}
}
EOF2
# Not a second nginx: a worker that only waits, probed against nginx-A's server (a
# redirect) and its admin port. Shows the probe target is what the keys say.
mon_service nginx-redirect sleep /moved 'args = {"100000"}' 'health_check = "http"'
mon_service web python3 / 'args = {"-m", "http.server", "--bind", "127.0.0.1", "%p"}' \
    'health_check = "http"'
mon_instance web-A web 'depends_on = {"nginx-A"}'
mon_start || { fail "instanced starts"; t_done; exit 1; }

ok "nginx-A is running and healthy (an HTML answer with 200)" \
    wait_for 20 inst_is nginx-A '.state == "running" and .status == "healthy"'
ok "web-A (depends on nginx-A) starts and is healthy: python3 -m http.server on %p" \
    wait_for 20 inst_is web-A '.state == "running" and .status == "healthy"'
ok "nginx-R: a 302 is healthy, not followed" \
    wait_for 20 inst_is nginx-R '.state == "running" and .status == "healthy"'
ok "nginx-P: health_port probes the other port" \
    wait_for 20 inst_is nginx-P '.state == "running" and .status == "healthy"'

echo '<html><body>maintenance</body></html>' >"$T/www/health.html"
ok "a body without health_expect_body makes nginx-A unhealthy" \
    wait_for 10 inst_is nginx-A '.status == "unhealthy" and (.message | test("does not contain"))'
rm "$T/www/health.html"
ok "a 404 keeps nginx-A unhealthy, and says so" \
    wait_for 10 inst_is nginx-A '.status == "unhealthy" and (.message | test("HTTP 404"))'
is "$(mon_json /api/v1/health .status)" unhealthy "the combined health follows"
echo '<html><body>ok: served</body></html>' >"$T/www/health.html"
ok "the page back: nginx-A healthy again" wait_for 10 inst_is nginx-A '.status == "healthy"'
t_done
