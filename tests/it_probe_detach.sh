#!/bin/sh
# A program that daemonizes itself (redis-server --daemonize yes, nginx) exits 0 at once while
# its copy runs on: the instance fails with "the program detached into the background;
# run it in the foreground" in the log and its status, is not restarted, and the copy
# is killed. A worker that simply exits 0 is not taken for one.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init probe-detach
at_exit mon_dump_log

command -v redis-server >/dev/null ||
    { echo "# redis-server is needed (scripts/deps.sh installs it)"; exit 1; }

mon_inventory 300ms 200ms
mon_service redis redis-server "" \
    'args = {"--port", "%p", "--dir", "%d", "--bind", "127.0.0.1", "--save", "", "--daemonize", "yes", "--pidfile", "%d/redis.pid"}' \
    'restart_delay = 100ms'
mon_instance redis-D redis
# A forking nginx (no "daemon off;"): its master goes to the background.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "# nginx is needed (scripts/deps.sh installs it)"; exit 1; }
mon_new_port
NGX_PORT=$MON_PORT
cat >"$T/nginx.conf" <<EOF2
worker_processes 2;
pid $T/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/tmp-body;
    proxy_temp_path $T/tmp-proxy;
    fastcgi_temp_path $T/tmp-fastcgi;
    uwsgi_temp_path $T/tmp-uwsgi;
    scgi_temp_path $T/tmp-scgi;
    server { listen 127.0.0.1:$NGX_PORT; location / { return 200 "ok"; } }
}
EOF2
mon_service nginx "$NGINX" "" "args = {\"-c\", \"$T/nginx.conf\"}" 'restart_delay = 100ms'
mon_instance nginx-D nginx
# A clean exit with nothing left behind: restarted as before (restart = always).
mon_service once sh "" 'args = {"-c", "exit 0"}' 'restart_delay = 100ms' 'start_limit_burst = 1000'
mon_instance once-A once
mon_start || { fail "instanced starts"; t_done; exit 1; }

ok "redis-D fails" wait_for 20 inst_is redis-D '.state == "failed"'
ok "its status message says it detached" \
    inst_is redis-D '.message | test("detached into the background; run it in the foreground")'
ok "the log says so" grep -q 'instance=redis-D .*detached into the background' "$T/instanced.log"
is "$(mon_json /api/v1/instances/redis-D .starts)" 1 "it was started once: no restart loop"
noredis() { ! redis-cli -p "$PORT_redis_D" ping >/dev/null 2>&1; }
ok "the detached copy was killed" wait_for 10 noredis
ok "once-A (exit 0, nothing left) is restarted as usual" \
    wait_for 10 inst_is once-A '.starts >= 3'
ok "once-A is not taken for a detached program" \
    sh -c "! grep -q 'instance=once-A .*detached' '$T/instanced.log'"

ok "a forking nginx fails the same way" \
    wait_for 20 inst_is nginx-D '.state == "failed" and (.message | test("detached into the background"))'
is "$(mon_json /api/v1/instances/nginx-D .starts)" 1 "nginx was started once"
nonginx() { ! curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/"; }
ok "nginx's master and workers were killed" wait_for 10 nonginx

# A manual start tries again (and fails the same way).
CTL start redis-D >/dev/null
ok "a manual start runs it again and it fails again with the message" \
    wait_for 20 inst_is redis-D '.starts == 2 and .state == "failed"'
t_done
