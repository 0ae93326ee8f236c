#!/usr/bin/python3
"""bench.py - the same workload under instanced, supervisord, runit and s6, side by side.

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
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import xmlrpc.client

CLK_TCK = os.sysconf("SC_CLK_TCK")
CHILD_COMM = "bench-child"
# runsv and s6-supervise exec ./run, a symlink to bench-child: its comm is "run".
CHILD_COMMS = (CHILD_COMM, "run")


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
    """n distinct free ports below the kernel's ephemeral range (held open while
    picking, so no duplicates). Below it, because ports from that range are what the
    supervisor's own outgoing connections (the probes) get: a worker whose port one of
    them holds at that moment cannot listen, exits and is restarted."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    socks, ports = [], []
    port = max(1024, lo - 2 * n - 1000)
    while len(ports) < n and port < 65536:
        if port == lo:
            port = 61000   # past the usual range's end, should the range below be short
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
        else:
            socks.append(s)
            ports.append(port)
        port += 1
    for s in socks:
        s.close()
    if len(ports) < n:
        raise NA("only %d free ports for %d instances" % (len(ports), n))
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

    settle = 0.4        # restart bench: seconds a child lives before the next kill
    stop_signal = signal.SIGTERM

    def stop_begin(self):
        self.proc.send_signal(self.stop_signal)

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
            if st[0] in CHILD_COMMS:
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
            sup, kids = self.tree()
            t0 = time.monotonic()
            self.stop_begin()
            try:
                self.proc.wait(timeout)
                # runsvdir exits at once and leaves its runsv to take their services
                # down: stopped means every supervising process and child is gone.
                end = t0 + timeout
                while any((read_stat(p) or ("", "Z"))[1] != "Z" for p in sup + kids):
                    if time.monotonic() > end:
                        raise subprocess.TimeoutExpired("stop", timeout)
                    time.sleep(0.002)
                took = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                log("%s did not stop in %d s: SIGKILL" % (self.name, timeout))
                for p in sup + kids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait()
        self.errlog.close()
        # Whatever child survived (orphans) was stamped by us: end those by pid.
        self.stamps.poll()
        for pid in self.stamps.pids:
            st = read_stat(pid)
            if st and st[0] in CHILD_COMMS:
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
    settle = 1.3  # past startsecs=1: a child dying sooner goes to BACKOFF

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


class ScanDir(Supervisor):
    """runit and s6: a scan directory sv/ with one service directory per instance, its
    run file a symlink to bench-child (which then takes its name from the directory
    and stamps into ../../stamps, this supervisor's stamp file)."""
    settle = 1.3  # runsv waits until a service has run 1 s before it restarts it

    def write_config(self, n, probes=False, interval="5s", probefile=None, policy=None):
        if probes:
            raise NA("%s has no health probes" % self.name)
        self.n = n
        self.names = ["bench-%d" % i for i in range(1, n + 1)]
        self.svdir = os.path.join(self.dir, "sv")
        os.makedirs(self.svdir)
        self.svcs = []
        for name in self.names:
            d = os.path.join(self.svdir, name)
            os.mkdir(d)
            os.symlink(self.args.child, os.path.join(d, "run"))
            self.service_files(d)
            self.svcs.append(d)
        # runsvdir skips a scan directory whose mtime is the current second (it could
        # still be changing) until its next scan, 5 s later: put the mtime in the past,
        # as an init script that prepared the directory earlier would find it.
        past = time.time() - 10
        os.utime(self.svdir, (past, past))

    def service_files(self, d):
        pass

    def run_status(self, cmd):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        return r.stdout.decode(errors="replace").splitlines()

    def status_url(self):
        return None

    def metrics_url(self):
        return None


class Runit(ScanDir):
    name = "runit"
    stop_signal = signal.SIGHUP  # runsvdir: TERM to every runsv (down, then exit)

    def cmdline(self):
        return [self.args.runsvdir, "-P", self.svdir]

    def reported_running(self):
        # sv needs absolute paths (a bare name is looked up in /etc/service).
        lines = self.run_status([self.args.sv, "status"] + self.svcs)
        return sum(1 for x in lines if x.startswith("run: ")), len(self.svcs)


class S6(ScanDir):
    name = "s6"
    settle = 1.3  # s6-supervise holds a restart until 1 s after the last start

    def service_files(self, d):
        # Readiness notification on fd 3: bench-child writes a newline there.
        with open(os.path.join(d, "notification-fd"), "w") as f:
            f.write("3\n")

    def cmdline(self):
        # -c: s6-svscan supervises at most 1000 services unless told more.
        return [self.args.s6_svscan, "-c", str(max(1000, self.n + 10)), self.svdir]

    def reported_running(self):
        # s6-svstat takes one service directory: one shell runs it for each.
        lines = self.run_status(["/bin/sh", "-c", 'for d in "$@"; do "$0" -o up,ready "$d"; done',
                                 self.args.s6_svstat] + self.svcs)
        return sum(1 for x in lines if x.split() == ["true", "true"]), len(self.svcs)


SUPS = [Supervisord, Runit, S6, Instanced]
PEERS = [c.name for c in SUPS if c is not Instanced]


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


def kill_and_time(stamps, name, samples, settle, alive=None):
    """samples times: once name's child has lived settle seconds, kill -9 it and
    take the time from the kill to the next child's exec stamp; ms, one per sample.
    alive() (may be None) raises when the supervisor died meanwhile."""
    lat = []
    for _ in range(samples):
        pid, born = stamps.latest[name]
        wait = born / 1e9 + settle - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        t = mono_ns()
        os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 15
        while True:
            stamps.poll()
            npid, nborn = stamps.latest[name]
            if npid != pid:
                break
            if alive:
                alive()
            if time.monotonic() > end:
                raise NA("no restart within 15 s of kill -9 (after %d samples)" % len(lat))
            time.sleep(0.001)
        lat.append((nborn - t) / 1e6)
    return lat


def bench_bare_restart(args):
    """The floor of a restart: `bench-child -R`, a reaper that blocks in waitpid() and
    spawns the next child as soon as it returns; kill -9 of its child -> the next exec."""
    d = tempfile.mkdtemp(prefix="reaper-", dir=args.workdir)
    st = Stamps(os.path.join(d, "stamps"))
    reaper = subprocess.Popen([args.child, "-R", "-s", st.path])
    lat = []
    try:
        end = time.monotonic() + 10
        while "reaped" not in st.latest:
            st.poll()
            if time.monotonic() > end:
                raise NA("the reaper's child did not start")
            time.sleep(0.001)
        # the same spacing as instanced's
        lat = kill_and_time(st, "reaped", args.restarts, Instanced.settle)
    finally:
        reaper.kill()
        reaper.wait()
        st.poll()
        last = st.latest.get("reaped")
        if last:
            try:
                os.kill(last[0], signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(d, ignore_errors=True)
    return summarize_ms(lat)


def summarize_ms(v):
    v = sorted(v)
    p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
    p99 = v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))]
    return {"median_ms": round(statistics.median(v), 3), "p95_ms": round(p95, 3),
            "p99_ms": round(p99, 3),
            "min_ms": round(v[0], 3), "max_ms": round(v[-1], 3), "samples": len(v)}


# ---- 1. restart latency ---------------------------------------------------------------

def bench_restart(args, cls, policy=None, samples=None, tag="restart"):
    # The peers wait 1.3 s between kills (their 1 s hold-back): fewer samples for them.
    samples = samples or (args.restarts if cls is Instanced else args.restarts_peers)
    n = 10
    # Spacing: a kill only once the child has been up longer than the supervisor's
    # "it started fine" window (supervisord startsecs=1; instanced stable_after), so
    # that no backoff applies.
    settle = cls.settle
    if policy and "stable_after" in policy:
        settle = max(settle, float(policy["stable_after"].strip('"').rstrip("ms")) / 1000 + 0.3)

    def run(sup):
        sup.write_config(n, policy=policy)
        sup.launch()
        sup.wait_exec(n, 60)
        sup.wait_running(n, 60)
        return summarize_ms(kill_and_time(sup.stamps, "bench-1", samples, settle,
                                          sup.check_alive))
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


# ---- 8. cost as N grows ----------------------------------------------------------------

def probe_rounds(probefile, t_from, n, interval):
    """Span first -> last probe request of each full round seen after t_from (s)."""
    arrivals = []
    try:
        with open(probefile) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[0].isdigit() and int(p[0]) >= t_from:
                    arrivals.append((int(p[0]), p[1]))
    except OSError:
        return []
    arrivals.sort()
    rounds, cur = [], []
    for a in arrivals:
        if cur and a[0] - cur[-1][0] > interval * 1e9 / 4:
            rounds.append(cur)
            cur = []
        cur.append(a)
    if cur:
        rounds.append(cur)
    return [(rd[-1][0] - rd[0][0]) / 1e9 for rd in rounds if len({x[1] for x in rd}) >= n]


def get_latency_ms(url, count=20, headers=None):
    """Median and max of count sequential GETs on one keep-alive connection."""
    import http.client
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    lat, size = [], 0
    for _ in range(count):
        t = time.monotonic()
        c.request("GET", u.path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        lat.append((time.monotonic() - t) * 1000)
        size = len(body)
        enc = r.getheader("Content-Encoding") or "identity"
    c.close()
    return {"median_ms": round(statistics.median(lat), 3), "max_ms": round(max(lat), 3),
            "bytes": size, "encoding": enc}


def emfile_count(sup):
    """How many 'Too many open files' lines the supervisor's output and logs hold."""
    hits = 0
    for dirpath, _, files in os.walk(sup.dir):
        for fn in files:
            if fn.endswith((".log", ".err")) or fn in ("stderr.log", "current"):
                try:
                    with open(os.path.join(dirpath, fn), "rb") as f:
                        hits += f.read().count(b"Too many open files")
                except OSError:
                    pass
        if hits > 100000:
            break
    return hits


def bench_scale(args, cls, n):
    interval = 5.0
    probes = cls is Instanced

    def run(sup):
        probefile = os.path.join(sup.dir, "probes") if probes else None
        sup.write_config(n, probes=probes, interval="5s", probefile=probefile)
        sup.launch()
        try:
            r = {"all_execd_s": round(sup.wait_exec(n, args.scale_step_limit), 3)}
        except NA as e:
            sup.stamps.poll()
            reason = str(e)
            emf = emfile_count(sup)
            if emf:
                reason += "; %d 'Too many open files' in its logs (ulimit -n %d)" % (
                    emf, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            raise NA(reason)
        try:
            r["all_running_s"] = round(sup.wait_running(n, args.scale_step_limit,
                                                       interval=0.1), 3)
        except NA as e:
            r["all_running_s"] = {"na": str(e)}
        time.sleep(2)
        rss, pss, nproc = sup.memory()
        r["rss_kb"], r["pss_kb"], r["processes"] = rss, pss, nproc
        if probes:
            try:
                r["status_latency"] = get_latency_ms(sup.status_url())
            except Exception as e:
                r["status_latency"] = {"na": "GET /api/v1/health: %r" % (e,)}
            t_from = mono_ns()
            time.sleep(2 * interval + 1)
            sup.check_alive()
            spans = probe_rounds(probefile, t_from, n, interval)
            r["probe_round_s"] = round(statistics.median(spans), 4) if spans else \
                {"na": "no complete probe round in two intervals"}
            try:
                with urllib.request.urlopen(sup.metrics_url(), timeout=10) as resp:
                    m = PROBE_METRIC.findall(resp.read().decode())
                for x in m:
                    if x[0].endswith("probe_cycle_duration_seconds"):
                        r["probe_cycle_metric_s"] = float(x[4])
            except Exception as e:
                r["probe_cycle_metric_s"] = {"na": "GET /metrics: %r" % (e,)}
        took = sup.stop()
        r["stop_all_s"] = round(took, 3) if took is not None else None
        return r
    return with_sup(cls, args, "scale%d" % n, run)


def bench_start_floor(args, n):
    """`bench-child -F N`: N children started back to back by vfork + exec with nothing
    in between, until the N-th has exec'd: the floor of any supervisor's start-up."""
    d = tempfile.mkdtemp(prefix="floor-", dir=args.workdir)
    st = Stamps(os.path.join(d, "stamps"))
    t0 = time.monotonic()
    starter = subprocess.Popen([args.child, "-F", str(n), "-s", st.path])
    try:
        while st.count < n:
            st.poll()
            if time.monotonic() - t0 > args.scale_step_limit:
                raise NA("only %d of %d exec'd after %d s" % (st.count, n,
                                                              args.scale_step_limit))
            time.sleep(0.02)
        return {"all_execd_s": round(time.monotonic() - t0, 3)}
    finally:
        starter.kill()
        starter.wait()
        st.poll()
        for pid in st.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(d, ignore_errors=True)


def run_scale(args, sups, results):
    """Every N for instanced; a peer stops at the first step that fails or takes
    longer than a minute (the remaining sizes say so). First, for each N, the floor:
    N bare starts with no supervisor."""
    res = results.setdefault("scale", {})
    for n in args.scale_sizes:
        figure(res, "%s" % n, "floor", lambda: bench_start_floor(args, n))
    for cls in sups:
        stopped = None
        for n in args.scale_sizes:
            key = "%s" % n
            if stopped:
                res.setdefault(key, {})[cls.name] = {"na": "not run: %s" % stopped}
                continue
            v = figure(res, key, cls.name, lambda: bench_scale(args, cls, n))
            if cls is not Instanced:
                t = num(v, "all_execd_s")
                tr = num(v, "all_running_s")
                if t is None:
                    stopped = "N=%d failed" % n
                elif max(t, tr or 0) > 60:
                    stopped = "N=%d took longer than a minute" % n


# ---- 9. the status endpoint against nginx ---------------------------------------------

NGINX_CONF = """daemon off;
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
        location = /api/v1/health {{ default_type application/json; gzip_static on; }}
    }}
}}
"""


def run_wrk(args, url, seconds, headers=()):
    cmd = [args.wrk, "-t1", "-c8", "-d%ds" % seconds, "--latency", "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=seconds + 60)
    return parse_wrk(r.stdout.decode(errors="replace"))


def kill_storm(sup, rate, seconds):
    """kill -9 of a random current child rate times a second for seconds."""
    t0 = time.monotonic()
    k = kills = 0
    killed = set()
    while time.monotonic() - t0 < seconds:
        sup.stamps.poll()
        cand = [v[0] for v in sup.stamps.latest.values() if v[0] not in killed]
        if cand:
            pid = random.choice(cand)
            try:
                os.kill(pid, signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
            killed.add(pid)
        k += 1
        delay = t0 + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return kills


def bench_status(args, n):
    """wrk -t1 -c8 on GET /api/v1/health with n instances (probes on, so the document
    carries every instance's health), plain and with Accept-Encoding: gzip, and during
    a kill storm; the same wrk against nginx serving a static copy of the same bytes."""
    import gzip
    import threading
    dur = args.status_seconds
    gz = ("Accept-Encoding: gzip",)

    def run(sup):
        sup.write_config(n, probes=True, interval="5s")
        sup.launch()
        sup.wait_exec(n, 120)
        sup.wait_running(n, 120, interval=0.5)
        time.sleep(6)  # a first probe round is in the document
        url = sup.status_url()
        r = {"n": n}
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read()
        r["bytes"] = len(body)
        r["instanced"] = run_wrk(args, url, dur)
        r["instanced_gzip"] = run_wrk(args, url, dur, gz)
        try:
            r["instanced_gzip"]["answer"] = get_latency_ms(url, 3, {"Accept-Encoding": "gzip"})
        except Exception as e:
            r["instanced_gzip"]["answer"] = {"na": repr(e)}
        # During a kill storm (storm_rate kills a second) for the same duration.
        box = {}
        th = threading.Thread(target=lambda: box.update(w=run_wrk(args, url, dur)))
        th.start()
        box["kills"] = kill_storm(sup, args.storm_rate, dur)
        th.join()
        r["instanced_storm"] = dict(box["w"], kills=box["kills"])
        sup.check_alive()
        # nginx: the same bytes from a file (and gzip_static with the same body gzipped).
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        d = os.path.join(sup.dir, "nginx")
        os.makedirs(os.path.join(d, "www/api/v1"))
        os.makedirs(os.path.join(d, "tmp"))
        with open(os.path.join(d, "www/api/v1/health"), "wb") as f:
            f.write(body)
        with open(os.path.join(d, "www/api/v1/health.gz"), "wb") as f:
            f.write(gzip.compress(body, 6))
        port = free_port()
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            # As root, nginx's worker would run as nobody, who cannot enter the temp dir.
            f.write(NGINX_CONF.format(d=d, port=port,
                                      user="user root;" if os.geteuid() == 0 else ""))
        ng = subprocess.Popen([nginx, "-c", os.path.join(d, "nginx.conf"), "-p", d],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            nurl = "http://127.0.0.1:%d/api/v1/health" % port
            end = time.monotonic() + 10
            while True:
                try:
                    urllib.request.urlopen(nurl, timeout=1).read()
                    break
                except Exception:
                    if time.monotonic() > end or ng.poll() is not None:
                        raise NA("nginx did not answer: see %s/error.log" % d)
                    time.sleep(0.05)
            r["nginx"] = run_wrk(args, nurl, dur)
            r["nginx_gzip"] = run_wrk(args, nurl, dur, gz)
            r["nginx_version"] = cmd_out([nginx, "-v"])
        finally:
            ng.terminate()
            ng.wait(10)
        return r
    return with_sup(Instanced, args, "status%d" % n, run)


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
    f["nofile_limit"] = resource.getrlimit(resource.RLIMIT_NOFILE)
    f["supervisord"] = cmd_out([args.supervisord, "--version"])
    f["packages"] = cmd_out(["dpkg-query", "-W", "-f", "${Package} ${Version}, ",
                             "supervisor", "runit", "s6", "nginx", "wrk", "gnuplot-nox"])
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
    # label, results key, value key, unit, lower_is_better (None: no ratio)
    ("restart kill -9 -> exec, median", "restart", "median_ms", "ms", True),
    ("restart kill -9 -> exec, p99", "restart", "p99_ms", "ms", True),
    ("restart kill -9 -> exec, p95", "restart", "p95_ms", "ms", True),
    ("  instanced with restart_delay=100ms (the default): median", "restart_default",
     "median_ms", "ms", True),
    ("start-up N={small}: all exec'd (median of runs)", "startup100", "all_execd_s", "s", True),
    ("start-up N={small}: all reported running", "startup100", "all_running_s", "s", True),
    ("start-up N={big}: all exec'd (median of runs)", "startup500", "all_execd_s", "s", True),
    ("start-up N={big}: all reported running", "startup500", "all_running_s", "s", True),
    ("stop N={big}: all stopped", "startup500", "stop_all_s", "s", True),
    ("memory N={big}: RSS of supervising processes", "startup500", "rss_kb", "kB", True),
    ("memory N={big}: PSS of supervising processes", "startup500", "pss_kb", "kB", True),
    ("memory N={big}: supervising processes", "startup500", "processes", "", None),
    ("idle CPU N={small}, {idle} s, no probes (utime+stime)", "idle100", "cpu_ms_stat", "ms", True),
    ("idle CPU N={small}, {idle} s, no probes (schedstat)", "idle100", "cpu_ms_schedstat", "ms",
     True),
    ("idle CPU N={small}, {idle} s, probes every 5 s (schedstat)", "idle100probes",
     "cpu_ms_schedstat", "ms", True),
    ("probe round over N={probe}: first->last probe", "probe500", "round_span_s", "s", True),
    ("probe-cycle metric from /metrics", "probe500", "metric", "", True),
    ("storm N={storm}: kills sent", "storm", "kills", "", None),
    ("storm N={storm}: restarts seen", "storm", "restarts", "", None),
    ("storm N={storm}: zombies (max of 4 Hz samples)", "storm", "zombies_max", "", True),
    ("storm N={storm}: all alive again after storm", "storm", "all_alive_again_s", "s", True),
    ("storm N={storm}: all reported running again", "storm", "all_running_again_s", "s", True),
]
HTTP_ROWS = [
    ("storm: status endpoint req/s (supervisord: XML-RPC getAllProcessInfo)", "http_status",
     "req_per_s", "", False),
    ("storm: status endpoint p99", "http_status", "p99_ms", "ms", True),
    ("storm: /metrics req/s", "http_metrics", "req_per_s", "", False),
]


def notes_out(out):
    """Long "n/a: reason" cells become footnotes, each reason once."""
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


def ratio_vs_best(vals, lower):
    """(ratio, best peer name): best peer / instanced for lower-is-better figures,
    instanced / best peer for throughput; > 1 means instanced is better."""
    b = vals.get("instanced")
    # A peer's 0 for a rate means nothing answered (wrk timed out): no ratio from it.
    peers = [(v, k) for k, v in vals.items() if k != "instanced" and v is not None
             and (lower or v > 0)]
    if lower is None or b is None or not peers:
        return "", ""
    v, k = min(peers) if lower else max(peers)
    if lower:
        if b == 0:
            return ("∞" if v > 0 else "="), k
        return "%.1f×" % (v / b), k
    return ("%.1f×" % (b / v) if v > 0 else "∞"), k


def table(results, sizes, sups):
    names = [c.name for c in sups]
    out = ["| figure | %s | instanced vs best peer (>1: instanced better) |" % " | ".join(names),
           "|---|%s---|" % ("---|" * len(names))]
    ref = results.get("bare_spawn", {}).get("reference")
    if ref:
        out.append("| reference: bare posix_spawn -> exec (from Python), median / p99 | %s / %s ms "
                   "|%s |" % (fmt(ref, "median_ms"), fmt(ref, "p99_ms"), " |" * len(names)))
    rref = results.get("bare_restart", {}).get("reference")
    if rref:
        out.append("| reference: minimal reaper (waitpid + vfork/exec in C), kill -9 -> exec, "
                   "median / p99 | %s / %s ms |%s |" % (fmt(rref, "median_ms"),
                                                       fmt(rref, "p99_ms"), " |" * len(names)))

    def add(label, res_key, vkey, unit, lower, sub=None):
        d = results.get(res_key, {})
        cells, vals = [], {}
        for nm in names:
            a = d.get(nm)
            if sub:
                a = a.get(sub) if isinstance(a, dict) and "na" not in a else a
            if a is None and res_key in ("probe500", "idle100probes") and nm != "instanced":
                cells.append("n/a: no health probes")
                continue
            sa = fmt(a, vkey)
            if vkey == "metric" and isinstance(a, dict) and isinstance(a.get("metric"), dict):
                m = a["metric"]
                sa = "n/a: " + m["na"] if "na" in m else ", ".join(
                    "%s %.4g" % (k.replace("instanced_", ""), x) for k, x in m.items())
            x = num(a, vkey)
            if x is not None:
                vals[nm] = x
                sa += (" " + unit) if unit else ""
            cells.append(sa)
        ratio, best = ratio_vs_best(vals, lower)
        out.append("| %s | %s | %s |" % (label.format(**sizes), " | ".join(cells),
                                        ("%s (%s)" % (ratio, best)) if ratio else ""))
    for row in ROWS:
        add(*row)
    for label, sub, vkey, unit, lower in HTTP_ROWS:
        add(label, "storm", vkey, unit, lower, sub=sub)
    return notes_out(out)


def scale_table(results, sups):
    sc = results.get("scale", {})
    if not sc:
        return ""
    out = ["| N | supervisor | all exec'd | all reported running | RSS | PSS | "
           "PSS per instance (marginal) | probe round (first->last) | probe-cycle metric | "
           "GET /api/v1/health (median of 20) |", "|---" * 10 + "|"]
    for n in sorted(int(k) for k in sc):
        v = sc[str(n)].get("floor")
        if v is not None:
            out.append("| %d | floor: bare vfork+exec, no supervisor | %s | | | | | | | |" % (
                n, (fmt(v, "all_execd_s") + " s") if num(v, "all_execd_s") is not None
                else fmt(v, "all_execd_s")))
    for cls in sups:
        prev = None
        for n in sorted(int(k) for k in sc):
            v = sc[str(n)].get(cls.name)
            if v is None:
                continue
            if "na" in v:
                out.append("| %d | %s | n/a: %s | | | | | | | |" % (n, cls.name, v["na"]))
                continue
            marg = ""
            if prev and num(v, "pss_kb") is not None:
                marg = "%.1f kB" % ((v["pss_kb"] - prev[1]) / (n - prev[0]))
            prev = (n, v["pss_kb"])
            lat = v.get("status_latency")
            out.append("| %d | %s | %s s | %s | %.1f MB | %.1f MB | %s | %s | %s | %s |" % (
                n, cls.name, fmt(v, "all_execd_s"),
                fmt(v, "all_running_s") + (" s" if num(v, "all_running_s") is not None else ""),
                v["rss_kb"] / 1024, v["pss_kb"] / 1024, marg,
                (fmt(v, "probe_round_s") + " s") if num(v, "probe_round_s") is not None else
                (fmt(v, "probe_round_s") if "probe_round_s" in v else "-"),
                (fmt(v, "probe_cycle_metric_s") + " s") if num(v, "probe_cycle_metric_s")
                is not None else "-",
                ("%s ms (%d bytes)" % (fmt(lat, "median_ms"), lat["bytes"]))
                if isinstance(lat, dict) and "na" not in lat else fmt(lat, None)))
    return notes_out(out)


def status_table(results):
    st = results.get("status", {}).get("instanced")
    if not st:
        return ""
    if "na" in st:
        return "status endpoint: n/a: " + st["na"]
    out = ["| GET /api/v1/health, N=%d (%d bytes), wrk -t1 -c8 | req/s | p50 | p99 |"
           % (st["n"], st["bytes"]), "|---|---|---|---|"]
    for key, label in (("instanced", "instanced"),
                       ("instanced_gzip", "instanced, Accept-Encoding: gzip"),
                       ("instanced_storm", "instanced during a kill storm"),
                       ("nginx", "nginx, static copy"),
                       ("nginx_gzip", "nginx, static copy, gzip_static")):
        v = st.get(key, {})
        extra = ""
        if key == "instanced_gzip" and isinstance(v.get("answer"), dict):
            a = v["answer"]
            extra = " (answered %s, %s bytes)" % (a.get("encoding", "?"), a.get("bytes", "?"))
        if key == "instanced_storm" and "kills" in v:
            extra = " (%d kills)" % v["kills"]
        out.append("| %s%s | %s | %s ms | %s ms |" % (label, extra, fmt(v, "req_per_s"),
                                                     fmt(v, "p50_ms"), fmt(v, "p99_ms")))
    return notes_out(out)


def verdicts(results):
    """Each target of this round, met or not, with the figure."""
    rows = []

    def add(target, ok, figure):
        rows.append("| %s | %s | %s |" % (target, figure,
                                          "n/a" if ok is None else ("met" if ok else "**not met**")))
    sc = results.get("scale", {})
    i5 = sc.get("5000", {}).get("instanced")
    t = num(i5, "all_execd_s")
    fl = num(sc.get("5000", {}).get("floor"), "all_execd_s")
    add("5,000 instances all exec'd in < 3 s", None if i5 is None else (t is not None and t < 3),
        (("%.3f s" % t) if t is not None else fmt(i5, "all_execd_s")) +
        ("; floor (5,000 bare starts, no supervisor) %.3f s" % fl if fl is not None else ""))
    pr = num(i5, "probe_cycle_metric_s")
    pe = num(i5, "probe_round_s")
    add("probe round over 5,000 < 25 % of 5 s", None if i5 is None else
        (pr is not None and pr < 1.25),
        ("metric %.3f s (%.1f %%), first->last request %s s" % (pr, pr * 20, fmt(i5, "probe_round_s")))
        if pr is not None else fmt(i5, "probe_cycle_metric_s"))
    rss = num(i5, "rss_kb")
    add("supervisor RSS at 5,000 < 40 MB", None if i5 is None else (rss is not None and rss < 40960),
        ("%.1f MB" % (rss / 1024)) if rss is not None else fmt(i5, "rss_kb"))
    st = results.get("status", {}).get("instanced") or {}
    a, g, ng, s = (num(st.get(k), "req_per_s") for k in ("instanced", "instanced_gzip", "nginx",
                                                          "instanced_storm"))
    p99 = num(st.get("instanced"), "p99_ms")
    if a is not None:
        add("status endpoint ≥ 10k req/s with 500", a >= 10000, "%.0f req/s (gzip: %s)" %
            (a, fmt(st.get("instanced_gzip"), "req_per_s")))
        if ng:
            add("status endpoint ≥ half of nginx's rate on the same bytes", a >= ng / 2,
                "%.0f vs nginx %.0f req/s (%.2f)" % (a, ng, a / ng))
        add("status endpoint p99 < 5 ms", p99 is not None and p99 < 5, "%s ms" % fmt(p99, None))
        if s is not None:
            add("status endpoint ≥ 5k req/s during the kill storm", s >= 5000, "%.0f req/s" % s)
    ref = num(results.get("bare_spawn", {}).get("reference"), "median_ms")
    rm = num(results.get("restart", {}).get("instanced"), "median_ms")
    if ref and rm:
        add("restart median ≤ 2× bare posix_spawn", rm <= 2 * ref,
            "%.3f ms vs %.3f ms (%.2f×)" % (rm, ref, rm / ref))
    rr = num(results.get("bare_restart", {}).get("reference"), "median_ms")
    if rr and rm:
        add("restart median ≤ 2× the minimal reaper's kill -> exec", rm <= 2 * rr,
            "%.3f ms vs %.3f ms (%.2f×)" % (rm, rr, rm / rr))
    if not rows:
        return ""
    return "\n".join(["| target | measured | verdict |", "|---|---|---|"] + rows)


def plots(results, sups, outdir, gnuplot):
    """One PNG per scale figure, made with gnuplot from the scale results."""
    sc = results.get("scale", {})
    if not sc or not gnuplot:
        return []
    os.makedirs(outdir, exist_ok=True)
    figs = [("scale-startup", "start-up: all exec'd", "seconds", lambda v: num(v, "all_execd_s"),
             None),
            ("scale-rss", "RSS of the supervising processes", "MB",
             lambda v: num(v, "rss_kb") and v["rss_kb"] / 1024, None),
            ("scale-pss", "PSS of the supervising processes", "MB",
             lambda v: num(v, "pss_kb") and v["pss_kb"] / 1024, None),
            ("scale-probe", "probe round (instanced_probe_cycle_duration_seconds)", "seconds",
             lambda v: num(v, "probe_cycle_metric_s"), "instanced"),
            ("scale-status", "GET /api/v1/health latency, median of 20", "ms",
             lambda v: num(v.get("status_latency"), "median_ms") if isinstance(v, dict) else None,
             "instanced")]
    made = []
    for fname, title, ylabel, get, only in figs:
        series = []
        names = [c.name for c in sups] + (["floor"] if fname == "scale-startup" else [])
        for name in names:
            if only and name != only:
                continue
            pts = []
            for n in sorted(int(k) for k in sc):
                v = sc[str(n)].get(name)
                y = get(v) if isinstance(v, dict) and "na" not in v else None
                if y is not None:
                    pts.append((n, y))
            if pts:
                dat = os.path.join(outdir, "%s-%s.dat" % (fname, name))
                with open(dat, "w") as f:
                    f.write("".join("%d %g\n" % p for p in pts))
                series.append((name if name != "floor" else "floor (no supervisor)", dat))
        if not series:
            continue
        png = os.path.join(outdir, fname + ".png")
        script = ["set terminal pngcairo size 800,500", "set output '%s'" % png,
                  "set title \"%s (%s)\"" % (title, results["machine"]["date_utc"]),
                  "set xlabel 'instances (N)'", "set ylabel '%s'" % ylabel,
                  "set logscale x", "set key left top", "set grid",
                  "plot " + ", ".join("'%s' using 1:2 with linespoints title '%s'" % (d, nm)
                                      for nm, d in series)]
        r = subprocess.run([gnuplot], input="\n".join(script).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode == 0:
            made.append(png)
        else:
            log("gnuplot %s: %s" % (fname, r.stdout.decode(errors="replace")[:300]))
    return made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instanced", required=True)
    ap.add_argument("--child", required=True)
    ap.add_argument("--supervisord", default=shutil.which("supervisord") or "supervisord")
    ap.add_argument("--runsvdir", default=shutil.which("runsvdir") or "runsvdir")
    ap.add_argument("--sv", default=shutil.which("sv") or "sv")
    ap.add_argument("--s6-svscan", dest="s6_svscan", default=shutil.which("s6-svscan") or "s6-svscan")
    ap.add_argument("--s6-svstat", dest="s6_svstat", default=shutil.which("s6-svstat") or "s6-svstat")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--gnuplot", default=shutil.which("gnuplot"))
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--plots", default=None, help="directory for the PNG plots")
    ap.add_argument("--only", default=None, help="comma-separated figure keys")
    ap.add_argument("--sups", default="supervisord,runit,s6,instanced")
    ap.add_argument("--startup-repeats", dest="startup_repeats_arg", type=int, default=None,
                    help="start-up runs per supervisor (default 3, quick 1)")
    ap.add_argument("--scale-sizes", dest="scale_sizes_arg", default=None,
                    help="comma-separated N for the scale step (default 10,...,5000)")
    args = ap.parse_args()
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="instanced-bench-")
    args.scale_step_limit = 90
    if args.quick:
        args.restarts, args.restarts_peers, args.sizes, args.idle_seconds = 10, 10, (50, 100), 5
        args.startup_repeats = 1
        args.storm_rate, args.storm_seconds, args.storm_n, args.probe_n = 20, 6, 50, 100
        args.scale_sizes, args.status_n, args.status_seconds = (10, 100, 500), 100, 3
    else:
        args.restarts, args.restarts_peers, args.sizes, args.idle_seconds = 100, 50, (100, 500), 30
        args.startup_repeats = 3
        args.storm_rate, args.storm_seconds, args.storm_n, args.probe_n = 20, 20, 100, 500
        args.scale_sizes, args.status_n, args.status_seconds = \
            (10, 100, 500, 1000, 2000, 5000), 500, 10
    if args.startup_repeats_arg:
        args.startup_repeats = args.startup_repeats_arg
    if args.scale_sizes_arg:
        args.scale_sizes = tuple(int(x) for x in args.scale_sizes_arg.split(","))
    only = set(args.only.split(",")) if args.only else None
    sups = [c for c in SUPS if c.name in args.sups.split(",")]

    def want(k):
        return only is None or k in only

    t_start = time.monotonic()
    results = {"machine": machine_facts(args), "quick": args.quick}
    log("workdir %s%s" % (args.workdir, " (quick)" if args.quick else ""))
    if want("bare_spawn"):
        figure(results, "bare_spawn", "reference", lambda: bench_bare_spawn(args))
    if want("bare_restart"):
        figure(results, "bare_restart", "reference", lambda: bench_bare_restart(args))
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
        # several times, the supervisors taking turns, and report the median.
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
    if want("status") and Instanced in sups:
        figure(results, "status", "instanced", lambda: bench_status(args, args.status_n))
    if want("scale"):
        run_scale(args, sups, results)
    results["elapsed_s"] = round(time.monotonic() - t_start, 1)

    try:
        sizes = dict(small=small, big=big, idle=args.idle_seconds, storm=args.storm_n,
                     probe=args.probe_n)
        parts = [table(results, sizes, sups), scale_table(results, sups),
                 status_table(results), verdicts(results)]
        made = plots(results, sups, args.plots or os.path.join(os.getcwd(), "bench-plots"),
                     args.gnuplot)
        if made:
            parts.append("plots: " + " ".join(made))
        md = "\n\n".join(p for p in parts if p)
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
