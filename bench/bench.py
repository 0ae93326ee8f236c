#!/usr/bin/python3
"""bench.py - the same workload under instanced and supervisord, side by side.

Run by `make bench` through bench/run.sh; see BENCHMARKS.md for what each figure
means. Every figure that cannot be taken is reported as "n/a: reason", never left
out. Only the standard library is used (python3 comes with Debian's supervisor).

Timing: the child program (bench-child) appends "PID CLOCK_MONOTONIC_NS NAME" to a
stamp file first thing after exec; this harness reads CLOCK_MONOTONIC right before it
sends kill -9 or launches a supervisor, so latencies need no polling precision.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import xmlrpc.client

CLK_TCK = os.sysconf("SC_CLK_TCK")
CHILD_COMM = "bench-child"


def mono_ns():
    return time.monotonic_ns()  # CLOCK_MONOTONIC, the clock bench-child stamps with


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class NA(Exception):
    """A figure that cannot be taken; the message is the reason."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_ports(n):
    """n distinct free ports (all held open while picking, so no duplicates)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# ---- /proc ------------------------------------------------------------------------

def read_stat(pid):
    """(comm, state, ppid, utime+stime ticks) of a process, or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    lp, rp = data.index("("), data.rindex(")")
    comm = data[lp + 1:rp]
    rest = data[rp + 2:].split()
    return comm, rest[0], int(rest[1]), int(rest[11]) + int(rest[12])


def children_of(pid):
    """Direct children of pid (every thread's children file)."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def schedstat_ns(pid):
    """CPU time of every live thread of pid, in ns (precise, unlike stat's ticks)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
    except OSError:
        pass
    return total


def smaps_rollup(pid):
    """(Rss kB, Pss kB) from /proc/PID/smaps_rollup."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


# ---- stamps -----------------------------------------------------------------------

class Stamps:
    """Incremental reader of the stamp file bench-child appends to."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.partial = ""
        self.latest = {}  # name -> (pid, ns)
        self.count = 0
        self.pids = set()

    def poll(self):
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        for line in lines:
            parts = line.split()
            if len(parts) != 3:
                continue
            pid, ns, name = int(parts[0]), int(parts[1]), parts[2]
            self.latest[name] = (pid, ns)
            self.pids.add(pid)
            self.count += 1


# ---- the two supervisors ------------------------------------------------------------

class Supervisor:
    name = "?"

    def __init__(self, args, tag):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="%s-%s-" % (self.name, tag), dir=args.workdir)
        self.stampfile = os.path.join(self.dir, "stamps")
        self.stamps = Stamps(self.stampfile)
        self.proc = None
        self.n = 0
        self.names = []

    # subclasses: write_config(n, probes, interval, probefile), cmdline(),
    # reported_running() -> (running, total), status_url(), metrics_url()

    def launch(self):
        self.errlog = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.t_launch = mono_ns()
        self.proc = subprocess.Popen(self.cmdline(), stdout=self.errlog, stderr=self.errlog,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise NA("%s exited with status %s: %s" % (self.name, self.proc.returncode,
                                                        self.stderr_tail()))

    def stderr_tail(self):
        try:
            with open(os.path.join(self.dir, "stderr.log"), "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
            return " | ".join(lines[-3:])[:300]
        except OSError:
            return ""

    def tree(self):
        """(supervising pids, child pids): the supervisor and its descendants that are
        not bench-child processes, and the bench-child processes under them."""
        sup, kids = [], []
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            st = read_stat(pid)
            if st is None:
                continue
            if st[0] == CHILD_COMM:
                kids.append(pid)
                continue
            sup.append(pid)
            todo.extend(children_of(pid))
        return sup, kids

    def wait_exec(self, n, timeout):
        """Wait until n distinct instances have exec'd; returns seconds since launch."""
        end = time.monotonic() + timeout
        while True:
            self.stamps.poll()
            if len(self.stamps.latest) >= n:
                last = max(ns for _, ns in self.stamps.latest.values())
                return (last - self.t_launch) / 1e9
            self.check_alive()
            if time.monotonic() > end:
                raise NA("only %d of %d exec'd after %d s" % (len(self.stamps.latest), n,
                                                              timeout))
            time.sleep(0.005)

    def wait_running(self, n, timeout, interval=0.1):
        """Wait until the supervisor itself reports all n running; seconds since launch."""
        end = time.monotonic() + timeout
        last = None
        while True:
            self.check_alive()
            try:
                running, total = self.reported_running()
                last = (running, total)
                if running >= n:
                    return (mono_ns() - self.t_launch) / 1e9
            except NA:
                raise
            except Exception as e:  # endpoint not up yet
                last = repr(e)[:120]
            if time.monotonic() > end:
                raise NA("supervisor reports %s running after %d s" % (last, timeout))
            time.sleep(interval)

    def cpu(self):
        sup, _ = self.tree()
        ticks = sum((read_stat(p) or (0, 0, 0, 0))[3] for p in sup)
        ns = sum(schedstat_ns(p) for p in sup)
        return ticks, ns, len(sup)

    def memory(self):
        sup, _ = self.tree()
        rss = pss = 0
        for p in sup:
            r, s = smaps_rollup(p)
            rss += r
            pss += s
        return rss, pss, len(sup)

    def stop(self, timeout=90):
        """SIGTERM, wait; SIGKILL after timeout; then kill any bench-child left over.
        Returns seconds the supervisor took to stop everything, or None."""
        if self.proc is None:
            return None
        took = None
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                took = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                log("%s did not stop in %d s: SIGKILL" % (self.name, timeout))
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.errlog.close()
        # Whatever child survived (orphans) was stamped by us: end those by pid.
        self.stamps.poll()
        for pid in self.stamps.pids:
            st = read_stat(pid)
            if st and st[0] == CHILD_COMM:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.proc = None
        return took


class Instanced(Supervisor):
    name = "instanced"

    def write_config(self, n, probes=False, interval="5s", probefile=None, policy=None):
        self.n = n
        # All ports from one call, so that no child port can equal status_listen.
        ports = free_ports(n + 1) if probes else [free_port()]
        self.port, ports = ports[0], ports[1:] or [None] * n
        self.names = ["bench-%d" % i for i in range(1, n + 1)]
        args = ["-s", self.stampfile]
        if probefile:
            args += ["-p", probefile]
        pol = {"restart": '"always"', "restart_delay": '"0ms"', "stable_after": '"100ms"',
               "start_limit_burst": "1000", "start_limit_interval": '"1s"',
               "ready_after": '"1s"', "stop_timeout": '"10s"'}
        pol.update(policy or {})
        if probes:
            pol["health_path"] = '"/api/v1/health"'
        lines = [
            'environment = "bench"',
            'volumes_root = "%s/volumes"' % self.dir,
            'state_dir = "%s/state"' % self.dir,
            'status_listen = "127.0.0.1:%d"' % self.port,
            'control_socket = "%s/control.sock"' % self.dir,
            'health_interval = "%s"' % interval,
            'health_timeout = "2s"',
            'log_level = "warn"',
            'service "bench" {',
            '    command = "%s"' % self.args.child,
            '    args = {%s}' % ", ".join('"%s"' % a for a in args),
        ]
        lines += ["    %s = %s" % kv for kv in pol.items()]
        lines.append("}")
        for name, port in zip(self.names, ports):
            if port:
                lines.append('instance "%s" { service = "bench"  port = %d }' % (name, port))
            else:
                lines.append('instance "%s" { service = "bench" }' % name)
        self.conf = os.path.join(self.dir, "instanced.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([self.args.instanced, "--check-config", "-c", self.conf],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise NA("inventory rejected: " + r.stderr.decode(errors="replace")[:300])

    def cmdline(self):
        return [self.args.instanced, "-c", self.conf, "--foreground"]

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def instances(self):
        with urllib.request.urlopen(self.url("/api/v1/instances"), timeout=5) as r:
            doc = json.load(r)
        if isinstance(doc, dict):
            doc = doc.get("instances", doc)
        if isinstance(doc, dict):
            doc = [dict(v, name=k) if isinstance(v, dict) else v for k, v in doc.items()]
        return [d for d in doc if isinstance(d, dict)]

    def reported_running(self):
        docs = self.instances()
        return sum(1 for d in docs if d.get("state") == "running"), len(docs)

    def status_url(self):
        return self.url("/api/v1/health")

    def metrics_url(self):
        return self.url("/metrics")


class Supervisord(Supervisor):
    name = "supervisord"

    def write_config(self, n, probes=False, interval="5s", probefile=None, policy=None):
        if probes:
            raise NA("supervisord has no health probes")
        self.n = n
        self.port = free_port()
        self.names = ["bench-%d" % i for i in range(1, n + 1)]
        d = self.dir
        os.makedirs(os.path.join(d, "logs"), exist_ok=True)
        lines = [
            "[unix_http_server]", "file=%s/supervisor.sock" % d, "",
            "[inet_http_server]", "port=127.0.0.1:%d" % self.port, "",
            "[supervisord]", "logfile=%s/supervisord.log" % d,
            "pidfile=%s/supervisord.pid" % d, "childlogdir=%s/logs" % d,
            "nodaemon=true", "minfds=16384", "minprocs=4096", "loglevel=warn", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]", "serverurl=unix://%s/supervisor.sock" % d, "",
        ]
        for name in self.names:
            lines += [
                "[program:%s]" % name,
                "command=%s -s %s" % (self.args.child, self.stampfile),
                'environment=SERVICE_INSTANCE_NAME="%s"' % name,
                "autorestart=true", "startsecs=1", "startretries=1000",
                "stopsignal=TERM", "stopwaitsecs=10", "",
            ]
        self.conf = os.path.join(d, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))

    def cmdline(self):
        return [self.args.supervisord, "-n", "-c", self.conf]

    def rpc(self):
        return xmlrpc.client.ServerProxy("http://127.0.0.1:%d/RPC2" % self.port)

    def reported_running(self):
        infos = self.rpc().supervisor.getAllProcessInfo()
        return sum(1 for i in infos if i["statename"] == "RUNNING"), len(infos)

    def status_url(self):
        return "http://127.0.0.1:%d/RPC2" % self.port

    def metrics_url(self):
        return None


SUPS = [Supervisord, Instanced]


def with_sup(cls, args, tag, fn):
    """Run fn(sup) with a fresh supervisor of class cls; always stop it."""
    sup = cls(args, tag)
    try:
        return fn(sup)
    finally:
        try:
            sup.stop()
        except Exception as e:  # cleanup must not hide the figure
            log("%s stop: %r" % (cls.name, e))
        # The temp dirs stay until the whole run ends: deleting thousands of files
        # between figures would make the next supervisor's mkdir/creat pay for ext4's
        # recently-deleted-inode scan (seen in perf), an artifact of the harness.


def figure(results, key, cls_name, fn):
    """Store fn()'s value under results[key][cls_name], or its n/a reason."""
    load = open("/proc/loadavg").read().split()[0]
    try:
        v = fn()
    except NA as e:
        v = {"na": str(e)}
    except Exception as e:
        v = {"na": "harness error: %r" % (e,)}
    if isinstance(v, dict):
        v["loadavg1_before"] = float(load)
    results.setdefault(key, {})[cls_name] = v
    log("%s %s: %s" % (key, cls_name, json.dumps(v)))
    return v


# ---- 0. reference: bare spawn -------------------------------------------------------

def bench_bare_spawn(args):
    """posix_spawn from this (Python) process to the child's first instruction."""
    d = tempfile.mkdtemp(prefix="bare-", dir=args.workdir)
    st = Stamps(os.path.join(d, "stamps"))
    lat = []
    for _ in range(args.restarts):
        t = mono_ns()
        pid = os.posix_spawn(args.child, [CHILD_COMM, "-s", st.path],
                             {"SERVICE_INSTANCE_NAME": "bare"})
        while True:
            st.poll()
            if pid in st.pids:
                break
            time.sleep(0.0005)
        lat.append((st.latest["bare"][1] - t) / 1e6)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    shutil.rmtree(d, ignore_errors=True)
    return summarize_ms(lat)


def summarize_ms(v):
    v = sorted(v)
    p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
    return {"median_ms": round(statistics.median(v), 3), "p95_ms": round(p95, 3),
            "min_ms": round(v[0], 3), "max_ms": round(v[-1], 3), "samples": len(v)}


# ---- 1. restart latency ---------------------------------------------------------------

def bench_restart(args, cls, policy=None, samples=None, tag="restart"):
    samples = samples or args.restarts
    n = 10
    # Spacing: a kill only once the child has been up longer than the supervisor's
    # "it started fine" window (supervisord startsecs=1; instanced stable_after), so
    # that no backoff applies.
    settle = 1.3 if cls is Supervisord else 0.4
    if policy and "stable_after" in policy:
        settle = max(settle, float(policy["stable_after"].strip('"').rstrip("ms")) / 1000 + 0.3)

    def run(sup):
        sup.write_config(n, policy=policy)
        sup.launch()
        sup.wait_exec(n, 60)
        sup.wait_running(n, 60)
        lat = []
        target = "bench-1"
        for _ in range(samples):
            pid, born = sup.stamps.latest[target]
            wait = born / 1e9 + settle - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            t = mono_ns()
            os.kill(pid, signal.SIGKILL)
            end = time.monotonic() + 15
            while True:
                sup.stamps.poll()
                npid, nborn = sup.stamps.latest[target]
                if npid != pid:
                    break
                sup.check_alive()
                if time.monotonic() > end:
                    raise NA("no restart within 15 s of kill -9 (after %d samples)" % len(lat))
                time.sleep(0.001)
            lat.append((nborn - t) / 1e6)
        return summarize_ms(lat)
    return with_sup(cls, args, tag, run)


# ---- 2/3. start-up and memory ---------------------------------------------------------

def bench_startup(args, cls, n, memory=False):
    def run(sup):
        sup.write_config(n)
        sup.launch()
        r = {"all_execd_s": round(sup.wait_exec(n, 240), 3)}
        try:
            r["all_running_s"] = round(sup.wait_running(n, 120, interval=0.05), 3)
        except NA as e:
            r["all_running_s"] = {"na": str(e)}
        if memory:
            time.sleep(2)
            rss, pss, nproc = sup.memory()
            r["rss_kb"], r["pss_kb"], r["processes"] = rss, pss, nproc
        t0 = time.monotonic()
        took = sup.stop()
        r["stop_all_s"] = round(took, 3) if took is not None else None
        return r
    return with_sup(cls, args, "startup%d" % n, run)


# ---- 4. idle CPU --------------------------------------------------------------------------

def bench_idle(args, cls, n, probes=False):
    def run(sup):
        sup.write_config(n, probes=probes, interval="5s")
        sup.launch()
        sup.wait_exec(n, 120)
        sup.wait_running(n, 120)
        time.sleep(3)
        t0, ns0, _ = sup.cpu()
        w0 = time.monotonic()
        time.sleep(args.idle_seconds)
        t1, ns1, nproc = sup.cpu()
        sup.check_alive()
        wall = time.monotonic() - w0
        return {"cpu_ms_stat": round((t1 - t0) * 1000 / CLK_TCK, 1),
                "cpu_ms_schedstat": round((ns1 - ns0) / 1e6, 2),
                "window_s": round(wall, 1), "processes": nproc}
    return with_sup(cls, args, "idle%d%s" % (n, "p" if probes else ""), run)


# ---- 5. one probe cycle -------------------------------------------------------------------

PROBE_METRIC = re.compile(r"^(instanced_[a-z_]*(probe|health)[a-z_]*(cycle|round|sweep)[a-z_]*)"
                          r"(\{[^}]*\})?\s+([0-9.eE+-]+)", re.M)


def bench_probe_cycle(args, n):
    interval = 5.0

    def run(sup):
        probefile = os.path.join(sup.dir, "probes")
        sup.write_config(n, probes=True, interval="5s", probefile=probefile)
        sup.launch()
        sup.wait_exec(n, 240)
        sup.wait_running(n, 120, interval=0.5)
        # Two more full intervals of probes, then look at them.
        t_from = mono_ns()
        time.sleep(2 * interval + 1)
        sup.check_alive()
        r = {"interval_s": interval}
        arrivals = []
        with open(probefile) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and int(p[0]) >= t_from:
                    arrivals.append((int(p[0]), p[1]))
        arrivals.sort()
        # Rounds: cut the arrival stream where the gap exceeds a quarter interval.
        rounds, cur = [], []
        for a in arrivals:
            if cur and a[0] - cur[-1][0] > interval * 1e9 / 4:
                rounds.append(cur)
                cur = []
            cur.append(a)
        if cur:
            rounds.append(cur)
        full = [rd for rd in rounds if len({x[1] for x in rd}) >= n]
        r["probes_seen"] = len(arrivals)
        if full:
            spans = [(rd[-1][0] - rd[0][0]) / 1e9 for rd in full]
            span = statistics.median(spans)
            r["round_span_s"] = round(span, 4)
            r["fraction_of_interval"] = round(span / interval, 4)
        else:
            r["round_span_s"] = {"na": "probe arrivals are not grouped in rounds "
                                 "(%d groups of sizes %s): probes are spread over the interval"
                                 % (len(rounds), [len(x) for x in rounds][:6])}
        try:
            with urllib.request.urlopen(sup.metrics_url(), timeout=10) as resp:
                text = resp.read().decode()
            m = PROBE_METRIC.findall(text)
            r["metric"] = {x[0] + x[3]: float(x[4]) for x in m} if m else \
                {"na": "no probe-cycle metric in /metrics"}
        except Exception as e:
            r["metric"] = {"na": "GET /metrics: %r" % (e,)}
        return r
    return with_sup(Instanced, args, "probe%d" % n, run)


# ---- 6/7. kill storm with HTTP load ---------------------------------------------------

WRK_LAT = re.compile(r"^\s*(50|75|90|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.M)


def parse_wrk(text):
    r = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m:
        return {"na": "wrk: " + text.strip()[-200:]}
    r["req_per_s"] = round(float(m.group(1)), 1)
    for q, v, unit in WRK_LAT.findall(text):
        r["p%s_ms" % q] = round(float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit], 3)
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    r["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:(.*)", text)
    if m:
        r["socket_errors"] = m.group(1).strip()
    return r


def start_wrk(args, sup, url, seconds, xmlrpc_body):
    if not url:
        return None
    cmd = [args.wrk, "-t1", "-c8", "-d%ds" % seconds, "--latency", "--timeout", "5s"]
    if xmlrpc_body:
        cmd += ["-s", os.path.join(args.srcdir, "wrk-xmlrpc.lua")]
    cmd.append(url)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def bench_storm(args, cls, n):
    rate, dur = args.storm_rate, args.storm_seconds
    half = max(1, dur // 2)

    def run(sup):
        sup.write_config(n)
        sup.launch()
        sup.wait_exec(n, 120)
        sup.wait_running(n, 120)
        time.sleep(1)
        sup.stamps.poll()
        starts_before = sup.stamps.count
        killed = set()
        kills = skipped = 0
        zombies_max = zombies_samples = zombies_sum = 0
        xml = cls is Supervisord
        wrks = [("status", start_wrk(args, sup, sup.status_url(), half, xml))]
        t0 = time.monotonic()
        tick = 1.0 / rate
        k = 0
        second_started = False
        while True:
            now = time.monotonic()
            if now - t0 >= dur:
                break
            if not second_started and now - t0 >= half:
                wrks.append(("metrics", start_wrk(args, sup, sup.metrics_url(), dur - half,
                                                  xml)))
                second_started = True
            sup.stamps.poll()
            cand = [v[0] for v in sup.stamps.latest.values() if v[0] not in killed]
            if cand:
                pid = random.choice(cand)
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    skipped += 1
                killed.add(pid)
            else:
                skipped += 1
            if k % 5 == 0:  # zombies, 4 times a second
                _, kids = sup.tree()
                z = sum(1 for p in kids if (read_stat(p) or ("", ""))[1] == "Z")
                zombies_max = max(zombies_max, z)
                zombies_sum += z
                zombies_samples += 1
            k += 1
            nxt = t0 + k * tick
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        t_end = time.monotonic()
        sup.check_alive()
        r = {"kills": kills, "kill_skipped": skipped,
             "zombies_max": zombies_max,
             "zombies_mean": round(zombies_sum / max(1, zombies_samples), 2)}
        # Recovery: every instance has a live, unkilled child, none a zombie...
        end = t_end + 120
        alive_s = running_s = None
        while time.monotonic() < end:
            sup.stamps.poll()
            if all(v[0] not in killed for v in sup.stamps.latest.values()):
                _, kids = sup.tree()
                live = [p for p in kids if (read_stat(p) or ("", ""))[1] != "Z"]
                if len(live) >= n and len(kids) == len(live):
                    alive_s = time.monotonic() - t_end
                    break
            time.sleep(0.01)
        r["all_alive_again_s"] = round(alive_s, 3) if alive_s is not None else \
            {"na": "not all alive 120 s after the storm"}
        # ...and the supervisor says so.
        try:
            sup.wait_running(n, 120, interval=0.05)
            running_s = time.monotonic() - t_end
            r["all_running_again_s"] = round(running_s, 3)
        except NA as e:
            r["all_running_again_s"] = {"na": str(e)}
        sup.stamps.poll()
        r["restarts"] = sup.stamps.count - starts_before
        for label, w in wrks:
            if w is None:
                r["http_" + label] = {"na": "%s has no such endpoint" % cls.name}
                continue
            out, _ = w.communicate(timeout=dur + 30)
            r["http_" + label] = parse_wrk(out.decode(errors="replace"))
        return r
    return with_sup(cls, args, "storm%d" % n, run)


# ---- report ------------------------------------------------------------------------------

def cmd_out(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=10).stdout.decode(errors="replace").strip()
    except Exception as e:
        return "n/a (%r)" % (e,)


def machine_facts(args):
    f = {}
    f["date_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    f["nproc"] = os.cpu_count()
    with open("/proc/meminfo") as fh:
        f["memory"] = fh.readline().split(":")[1].strip()
    model = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    f["cpu"] = model
    f["kernel"] = os.uname().release
    try:
        with open("/etc/debian_version") as fh:
            f["debian"] = fh.read().strip()
    except OSError:
        pass
    f["loadavg_at_start"] = open("/proc/loadavg").read().split()[:3]
    f["supervisord"] = cmd_out([args.supervisord, "--version"])
    f["wrk"] = cmd_out([args.wrk, "--version"]).splitlines()[0]
    f["python"] = sys.version.split()[0]
    f["libevent"] = cmd_out(["pkg-config", "--modversion", "libevent"])
    commit = cmd_out(["git", "-C", args.srcdir, "rev-parse", "--short", "HEAD"])
    f["instanced_commit"] = commit if re.fullmatch(r"[0-9a-f]{4,40}", commit) else "(not a git tree)"
    f["instanced"] = cmd_out([args.instanced, "--version"]).splitlines()[0][:80]
    f["gcc"] = cmd_out(["gcc", "-dumpfullversion"])
    return f


def fmt(v, key):
    if v is None:
        return "-"
    if isinstance(v, dict):
        if "na" in v:
            return "n/a: " + v["na"]
        v = v.get(key) if key else None
        if isinstance(v, dict) and "na" in v:
            return "n/a: " + v["na"]
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%.3f" % v).rstrip("0").rstrip(".") if v < 100 else "%.0f" % v
    return str(v)


def num(v, key):
    if isinstance(v, dict) and "na" not in v:
        x = v.get(key)
        if isinstance(x, (int, float)):
            return x
    return None


ROWS = [
    # label, results key, value key, unit, lower_is_better, target (sup/inst ratio)
    ("restart latency kill -9 -> exec, median", "restart", "median_ms", "ms", True, 100),
    ("restart latency kill -9 -> exec, p95", "restart", "p95_ms", "ms", True, None),
    ("  same, instanced with restart_delay=100ms (the default): median", "restart_default", "median_ms",
     "ms", True, None),
    ("start-up N={small}: all exec'd (median of runs)", "startup100", "all_execd_s", "s", True, None),
    ("start-up N={small}: all reported running", "startup100", "all_running_s", "s", True, None),
    ("start-up N={big}: all exec'd (median of runs)", "startup500", "all_execd_s", "s", True, 20),
    ("start-up N={big}: all reported running", "startup500", "all_running_s", "s", True, None),
    ("stop N={big}: all stopped", "startup500", "stop_all_s", "s", True, None),
    ("memory N={big}: RSS of supervising processes", "startup500", "rss_kb", "kB", True, 4),
    ("memory N={big}: PSS of supervising processes", "startup500", "pss_kb", "kB", True, 4),
    ("idle CPU N={small}, {idle} s, no probes (utime+stime)", "idle100", "cpu_ms_stat", "ms", True, 1),
    ("idle CPU N={small}, {idle} s, no probes (schedstat)", "idle100", "cpu_ms_schedstat", "ms", True,
     1),
    ("idle CPU N={small}, {idle} s, probes every 5 s (utime+stime)", "idle100probes", "cpu_ms_stat",
     "ms", True, None),
    ("idle CPU N={small}, {idle} s, probes every 5 s (schedstat)", "idle100probes",
     "cpu_ms_schedstat", "ms", True, None),
    ("probe round over N={probe}: first->last probe", "probe500", "round_span_s", "s", True, None),
    ("probe round over N={probe}: fraction of 5 s interval", "probe500", "fraction_of_interval",
     "", True, None),
    ("probe-cycle metric from /metrics", "probe500", "metric", "", True, None),
    ("storm N={storm}: kills sent", "storm", "kills", "", None, None),
    ("storm N={storm}: restarts seen", "storm", "restarts", "", None, None),
    ("storm N={storm}: zombies (max of 4 Hz samples)", "storm", "zombies_max", "", True, None),
    ("storm N={storm}: zombies (mean)", "storm", "zombies_mean", "", True, None),
    ("storm N={storm}: all alive again after storm", "storm", "all_alive_again_s", "s", True, None),
    ("storm N={storm}: all reported running again", "storm", "all_running_again_s", "s", True,
     None),
]
HTTP_ROWS = [
    ("status endpoint under storm: req/s (supervisord: XML-RPC getAllProcessInfo)", "http_status", "req_per_s", "", False),
    ("status endpoint under storm: p99", "http_status", "p99_ms", "ms", True),
    ("status endpoint under storm: p50", "http_status", "p50_ms", "ms", True),
    ("/metrics under storm: req/s", "http_metrics", "req_per_s", "", False),
    ("/metrics under storm: p99", "http_metrics", "p99_ms", "ms", True),
]


def table(results, sizes):
    out = ["| figure | supervisord | instanced | ratio (better: >1) | target |",
           "|---|---|---|---|---|"]
    ref = results.get("bare_spawn", {}).get("reference")
    if ref:
        out.append("| reference: bare posix_spawn -> exec (from Python), median / p95 | %s / %s ms "
                   "| | | |" % (fmt(ref, "median_ms"), fmt(ref, "p95_ms")))

    def add(label, res_key, vkey, unit, lower, target, sub=None):
        d = results.get(res_key, {})
        a, b = d.get("supervisord"), d.get("instanced")
        if sub:
            a = a.get(sub) if isinstance(a, dict) and "na" not in a else a
            b = b.get(sub) if isinstance(b, dict) and "na" not in b else b
        sa, sb = fmt(a, vkey), fmt(b, vkey)
        if vkey == "metric" and isinstance(b, dict) and "metric" in b:
            m = b["metric"]
            if "na" in m:
                sb = "n/a: " + m["na"]
            else:
                parts = []
                for k, x in m.items():
                    if k.endswith("probe_cycle_duration_seconds"):
                        parts.append("%s %.4f s (%.1f%% of the interval)"
                                     % (k, x, 100 * x / b.get("interval_s", 5)))
                    elif "overrun" in k:
                        parts.append("%s %g" % (k, x))
                sb = ", ".join(parts) or ", ".join("%s=%g" % kv for kv in m.items())
        if a is None and res_key in ("probe500", "idle100probes", "restart_default"):
            sa = "n/a: no health probes" if res_key != "restart_default" else "-"
        ra, rb = num(a, vkey), num(b, vkey)
        ratio = ""
        if lower is not None and ra is not None and rb is not None:
            if lower and rb > 0:
                ratio = "%.1f×" % (ra / rb)
            elif lower and rb == 0:
                ratio = "∞" if ra > 0 else "="
            elif not lower and ra > 0:
                ratio = "%.1f×" % (rb / ra)
        tgt = ""
        if target:
            tgt = "≥ %g×" % target if target != 1 else "≥ 1× (≤ supervisord)"
            if ratio:
                r = ra / rb if rb else float("inf")
                tgt += " met" if r >= target else " **missed**"
        if res_key == "restart" and vkey == "median_ms" and rb is not None:
            tgt += "; < 2 ms " + ("met" if rb < 2 else "**missed**")
        u = (" " + unit) if unit else ""
        out.append("| %s | %s | %s | %s | %s |" % (label.format(**sizes), sa + (u if num(a, vkey) is not None else ""),
                                                  sb + (u if num(b, vkey) is not None else ""),
                                                  ratio, tgt))
    for row in ROWS:
        add(*row)
    for label, sub, vkey, unit, lower in HTTP_ROWS:
        add(label, "storm", vkey, unit, lower, None, sub=sub)
    # Long "n/a: reason" cells become footnotes, each reason once.
    notes = []

    def note(m):
        reason = re.sub(r"/tmp/[^ :]*/", "", m.group(1))
        if reason not in notes:
            notes.append(reason)
        return "n/a [%d]" % (notes.index(reason) + 1)
    text = "\n".join(re.sub(r"n/a: ([^|]{30,}?) \|", lambda m: note(m) + " |", line)
                     for line in out)
    if notes:
        text += "\n\n" + "\n".join("[%d] %s  " % (i + 1, r) for i, r in enumerate(notes))
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instanced", required=True)
    ap.add_argument("--child", required=True)
    ap.add_argument("--supervisord", default=shutil.which("supervisord") or "supervisord")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--only", default=None, help="comma-separated figure keys")
    ap.add_argument("--sups", default="supervisord,instanced")
    args = ap.parse_args()
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="instanced-bench-")
    if args.quick:
        args.restarts, args.sizes, args.idle_seconds = 10, (50, 100), 5
        args.startup_repeats = 1
        args.storm_rate, args.storm_seconds, args.storm_n, args.probe_n = 20, 6, 50, 100
    else:
        args.restarts, args.sizes, args.idle_seconds = 50, (100, 500), 30
        args.startup_repeats = 3
        args.storm_rate, args.storm_seconds, args.storm_n, args.probe_n = 20, 20, 100, 500
    only = set(args.only.split(",")) if args.only else None
    sups = [c for c in SUPS if c.name in args.sups.split(",")]

    def want(k):
        return only is None or k in only

    t_start = time.monotonic()
    results = {"machine": machine_facts(args), "quick": args.quick}
    log("workdir %s%s" % (args.workdir, " (quick)" if args.quick else ""))
    if want("bare_spawn"):
        figure(results, "bare_spawn", "reference", lambda: bench_bare_spawn(args))
    for cls in sups:
        if want("restart"):
            figure(results, "restart", cls.name, lambda: bench_restart(args, cls))
    if want("restart_default") and Instanced in sups:
        figure(results, "restart_default", "instanced",
               lambda: bench_restart(args, Instanced, samples=max(10, args.restarts // 2),
                                     tag="restartdef",
                                     policy={"restart_delay": '"100ms"',
                                             "stable_after": '"100ms"'}))
    small, big = args.sizes
    if want("startup"):
        # Start-up is the figure most sensitive to other load on the machine: run it
        # several times, the two supervisors taking turns, and report the median.
        runs = {}
        for rep in range(args.startup_repeats):
            for cls in sups:
                for key, n, mem in (("startup100", small, False), ("startup500", big, True)):
                    v = figure(runs, key, "%s#%d" % (cls.name, rep),
                               lambda: bench_startup(args, cls, n, memory=mem))
                    runs.setdefault((key, cls.name), []).append(v)
        for cls in sups:
            for key in ("startup100", "startup500"):
                vs = runs[(key, cls.name)]
                ok = [v for v in vs if "na" not in v]
                if not ok:
                    results.setdefault(key, {})[cls.name] = vs[0]
                    continue
                med = dict(ok[0])
                for k in ("all_execd_s", "all_running_s", "stop_all_s", "rss_kb", "pss_kb"):
                    xs = [v[k] for v in ok if isinstance(v.get(k), (int, float))]
                    if xs:
                        med[k] = statistics.median(xs)
                med["runs"] = vs
                results.setdefault(key, {})[cls.name] = med
    for cls in sups:
        if want("idle"):
            figure(results, "idle100", cls.name, lambda: bench_idle(args, cls, small))
    if want("idle") and Instanced in sups:
        figure(results, "idle100probes", "instanced",
               lambda: bench_idle(args, Instanced, small, probes=True))
    if want("probe") and Instanced in sups:
        figure(results, "probe500", "instanced", lambda: bench_probe_cycle(args, args.probe_n))
    for cls in sups:
        if want("storm"):
            figure(results, "storm", cls.name, lambda: bench_storm(args, cls, args.storm_n))
    results["elapsed_s"] = round(time.monotonic() - t_start, 1)

    try:
        md = table(results, dict(small=small, big=big, idle=args.idle_seconds,
                                 storm=args.storm_n, probe=args.probe_n))
        print()
        print(md)
        print()
        print("elapsed %.0f s; machine: %s" % (results["elapsed_s"], json.dumps(results["machine"])))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if args.md:
            with open(args.md, "w") as f:
                f.write(md + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
