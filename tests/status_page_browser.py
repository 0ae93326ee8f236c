#!/usr/bin/env python3
"""status_page_browser.py - drive headless Chromium against instanced's status page.

Used by tests/it_status_page.sh. Chromium is driven over the DevTools protocol on a
pair of pipes (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), so
nothing but Debian's chromium and python3's standard library is needed, and no port
is opened. Every check reads the RENDERED page (the DOM after the page's own script
ran), compared with what the JSON API answers at the same time.

Usage: status_page_browser.py BASE_URL WORKDIR [options]
  --screenshot PATH     a 1200x800 PNG of the page once it shows the fleet
  --phone-shot PATH     a 390x844 PNG of the page as a phone shows it
  --kill-cmd CMD        a shell command that kills a worker (run once, mid-test)
  --kill-name NAME      the instance CMD kills: its row must show the new PID and
                        restart count within two refresh periods, without a reload
  --hostile-cmd CMD     a shell command that makes an instance's message hostile markup
  --hostile-name NAME   that instance: its message must appear as text, no element
  --stop-cmd CMD        a shell command that stops instanced (run last): the banner
                        must say the endpoint is unreachable, the rows stay
  --prov STATE          the provisioning line must say STATE (off, ok, failing, ...)
  --no-fleet-checks     stop after the rows, banner, counts and provisioning line
  --expect NAME=STATE/STATUS ...   rows that must show that state and health
  --banner STATUS       the banner the page must show first

Prints one line per check, "PASS what" or "FAIL what: why"; exits 1 when one failed.
"""
import argparse
import base64
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.request

RESULTS = []


def check(cond, what, why=""):
    RESULTS.append(bool(cond))
    print(("PASS %s" % what) if cond else ("FAIL %s: %s" % (what, why)), flush=True)
    return cond


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


class Browser:
    """Chromium with its DevTools protocol on fds 3 (commands in) and 4 (answers out)."""

    def __init__(self, workdir):
        exe = None
        for name in ("chromium", "chromium-browser", "google-chrome"):
            for d in os.environ.get("PATH", "").split(":"):
                if d and os.access(os.path.join(d, name), os.X_OK):
                    exe = exe or os.path.join(d, name)
        if not exe:
            raise SystemExit("FAIL chromium is not installed (scripts/deps.sh installs it)")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Keep the ends the child gets away from 3 and 4, so dup2 cannot clobber them.
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)

        def child_fds():
            os.dup2(hi[0], 3)
            os.dup2(hi[1], 4)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows", "--hide-scrollbars",
                "--user-data-dir=" + os.path.join(workdir, "chromium-profile"),
                "--window-size=1200,800", "--remote-debugging-pipe", "about:blank"]
        self.log = open(os.path.join(workdir, "chromium.log"), "wb")
        # Its caches, crash reports and settings go to the test's directory, not $HOME.
        env = dict(os.environ, HOME=workdir, XDG_CONFIG_HOME=os.path.join(workdir, ".config"),
                   XDG_CACHE_HOME=os.path.join(workdir, ".cache"))
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, preexec_fn=child_fds, pass_fds=(3, 4),
                                     env=env)
        for fd in hi:
            os.close(fd)
        self.w = os.fdopen(to_chrome_w, "wb", buffering=0)
        self.r = from_chrome_r
        self.buf = b""
        self.next_id = 0
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.r, 65536)
            if not chunk:
                raise EOFError("chromium closed its DevTools pipe (see chromium.log)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        att = self.send("Target.attachToTarget",
                        {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = att["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        # Record any CSP violation from the first byte on (this hook is the browser's
        # own, not inline code of the page, so the page's policy does not apply to it).
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source":
                  "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                  " function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });"})
        self.viewport(1200, 800, False)
        self.send("Page.navigate", {"url": url})

    def viewport(self, w, h, mobile):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_until(pred, seconds, step=0.1):
    end = time.time() + seconds
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(step)


# The rendered rows, as the page shows them: what a person reads, not the JSON.
ROWS_JS = """(function () {
  var out = {};
  document.querySelectorAll('#groups tr[data-name]').forEach(function (tr) {
    var t = function (c) { var e = tr.querySelector('td.c-' + c); return e ? e.textContent : null; };
    var sec = tr.closest('tbody');
    out[tr.getAttribute('data-name')] = {
      state: t('state'), health: t('health'), message: t('message'), pid: t('pid'),
      uptime: t('uptime'), restarts: t('restarts'), port: t('port'), schema: t('schema'),
      namespace: t('namespace'), service: sec ? sec.getAttribute('data-service') : null,
      visible: tr.offsetParent !== null
    };
  });
  return out;
})()"""


def dash(v):
    return "\u2013" if v is None or v == "" else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("workdir")
    ap.add_argument("--screenshot")
    ap.add_argument("--phone-shot")
    ap.add_argument("--kill-cmd")
    ap.add_argument("--kill-name")
    ap.add_argument("--hostile-cmd")
    ap.add_argument("--hostile-name")
    ap.add_argument("--stop-cmd")
    ap.add_argument("--prov")
    ap.add_argument("--no-fleet-checks", dest="fleet_checks", action="store_false")
    ap.add_argument("--expect", nargs="*", default=[])
    ap.add_argument("--banner")
    a = ap.parse_args()
    base = a.base.rstrip("/")

    b = Browser(a.workdir)
    try:
        b.open(base + "/")
        updates = lambda: int(b.eval("+(document.body && document.body.getAttribute('data-updates')) || 0"))
        check(wait_until(lambda: updates() >= 1, 30), "the page's script runs and renders the API",
              "no refresh in 30 s; banner says %r" % b.eval("document.getElementById('banner') && document.getElementById('banner').textContent"))
        refresh_ms = b.eval("(function(){var m=/REFRESH_MS = (\\d+)/.exec(document.scripts[0].textContent);return m?+m[1]:0})()")
        check(refresh_ms == 2000, "the page refreshes every 2 s (REFRESH_MS)", "got %r" % refresh_ms)
        check(b.eval("window.__csp.length") == 0, "no Content-Security-Policy violation",
              repr(b.eval("window.__csp")))
        nav = b.eval("(function(){var n=performance.getEntriesByType('navigation')[0];"
                     "return n?[n.encodedBodySize,n.decodedBodySize]:null})()")
        check(nav and 0 < nav[0] < nav[1], "the browser received the page gzip-compressed",
              "encoded/decoded sizes %r" % nav)

        # Every row against the API: state, health, message, PID, restarts, port, schema,
        # namespace, grouped under its service. Polled: the API and the page are read
        # at two moments, so wait for a refresh where they agree.
        def rows_match():
            data = api(base, "/api/v1/instances")
            rows = b.eval(ROWS_JS)
            bad = []
            for i in data["instances"]:
                r = rows.get(i["name"])
                if not r:
                    bad.append("%s: no row" % i["name"])
                    continue
                msg = i["message"]
                if i["state"] == "waiting" and msg and msg == i["waiting_for"]:
                    msg = "waiting for " + msg
                want = {"state": i["state"], "health": i["status"], "message": msg,
                        "pid": dash(i["pid"]), "restarts": str(i["restarts"]),
                        "port": dash(i["port"]), "schema": dash(i["schema"]),
                        "namespace": dash(i["namespace"]), "service": i["service"]}
                for k, v in want.items():
                    if r[k] != v:
                        bad.append("%s.%s: page %r, API %r" % (i["name"], k, r[k], v))
            if len(rows) != len(data["instances"]):
                bad.append("%d rows for %d instances" % (len(rows), len(data["instances"])))
            return bad, data, rows

        state = {}
        expect = []
        for e in a.expect:
            name, sv = e.split("=", 1)
            st, hs = sv.split("/", 1)
            expect.append((name, st, hs))

        def shown_as_expected(rows, name, st, hs):
            r = rows.get(name) or {}
            return r.get("state") == st and r.get("health") == hs

        # The expected rows are part of the wait, too: on a loaded machine two slow probes
        # in a row make a healthy instance unhealthy for a moment, and page and API can
        # agree on that. So wait for a refresh where they agree and the fleet is in the
        # expected state, then judge that one snapshot.
        def agree():
            state["bad"], state["data"], state["rows"] = rows_match()
            return not state["bad"] and all(shown_as_expected(state["rows"], *x) for x in expect)

        wait_until(agree, 20, 0.25)
        check(not state["bad"], "every row shows what the API says (state, health, "
              "message, PID, restarts, port, schema, namespace, service group)",
              "; ".join(state.get("bad", [])[:6]))
        rows = state["rows"]
        for name, st, hs in expect:
            r = rows.get(name) or {}
            check(shown_as_expected(rows, name, st, hs),
                  "%s is shown %s/%s" % (name, st, hs),
                  "shown %r/%r" % (r.get("state"), r.get("health")))
        if a.banner:
            ban = b.eval("[document.getElementById('banner').getAttribute('data-status'),"
                         " document.getElementById('banner-title').textContent,"
                         " getComputedStyle(document.getElementById('banner')).backgroundColor]")
            check(ban[0] == a.banner and ban[1].lower() == a.banner,
                  "the banner shows the combined health %s" % a.banner, "shown %r" % ban)
            check(state["data"]["status"] == a.banner, "the API agrees on %s" % a.banner,
                  state["data"]["status"])
            check(ban[2] not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"),
                  "the banner is coloured", ban[2])
        # Counts per state at the top.
        counts = b.eval("(function(){var o={};document.querySelectorAll('#counts li[data-state]')"
                        ".forEach(function(li){o[li.getAttribute('data-state')]="
                        "+li.querySelector('b').textContent});return o})()")
        want = {}
        for i in state["data"]["instances"]:
            want[i["state"]] = want.get(i["state"], 0) + 1
        check(counts == want, "the counts per state match the instances", "page %r, API %r" % (counts, want))
        # The provisioning line: "off", or the numbers and the last error of the API's
        # provisioning object (polled: a retry may land between the two reads).
        def prov_agrees():
            p = api(base, "/api/v1/instances").get("provisioning")
            line = b.eval("[document.getElementById('prov').getAttribute('data-state'),"
                          " document.getElementById('prov').textContent]")
            state["prov"] = (line, p)
            if p is None:
                return line[0] == "off" and line[1] == "Provisioning: off"
            return ("%d runs" % p["runs"]) in line[1] and ("%d failures" % p["failures"]) in line[1] \
                and (not p["last_error"] or ("last error: " + p["last_error"]) in line[1])
        check(wait_until(prov_agrees, 20, 0.2), "the provisioning line shows what the API says",
              repr(state.get("prov")))
        if a.prov:
            check(state["prov"][0][0] == a.prov, "the provisioning line says %s" % a.prov,
                  repr(state["prov"][0]))
        # Read-only: no button, no form, nothing that posts.
        check(b.eval("document.querySelectorAll('button, form, [onclick]').length") == 0,
              "the page has no action buttons or forms", "found some")

        if a.screenshot:
            b.viewport(1200, 800, False)
            time.sleep(0.3)
            b.screenshot(a.screenshot)

        if not a.fleet_checks:
            return 0 if all(RESULTS) else 1

        # Filters: by text, then by state; the rows hidden are exactly the others.
        def visible():
            return sorted(n for n, r in b.eval(ROWS_JS).items() if r["visible"])
        all_names = sorted(rows)
        b.eval("(function(){var q=document.getElementById('q');q.value='exchange';"
               "q.dispatchEvent(new Event('input'))})()")
        want_names = sorted(n for n in all_names if "exchange" in (n + rows[n]["service"] + rows[n]["message"]).lower())
        got = visible()
        check(got == want_names and got, "the text filter keeps only matching rows", "%r vs %r" % (got, want_names))
        b.eval("(function(){var q=document.getElementById('q');q.value='';q.dispatchEvent(new Event('input'));"
               "var s=document.getElementById('state');s.value='failed';s.dispatchEvent(new Event('change'))})()")
        got = visible()
        want_names = sorted(n for n in all_names if rows[n]["state"] == "failed")
        check(got == want_names and got, "the state filter keeps only failed rows", "%r vs %r" % (got, want_names))
        b.eval("(function(){var s=document.getElementById('state');s.value='';s.dispatchEvent(new Event('change'))})()")
        check(visible() == all_names, "clearing the filters shows every row again", repr(visible()))

        # A phone-sized screen: nothing wider than the screen, rows become cards.
        b.viewport(390, 844, True)
        time.sleep(0.3)
        ph = b.eval("[document.documentElement.scrollWidth, window.innerWidth,"
                    " getComputedStyle(document.querySelector('#groups thead')).display]")
        check(ph[0] <= ph[1] and ph[2] == "none",
              "on a 390 px wide screen nothing scrolls sideways and rows are cards",
              "scrollWidth %r, innerWidth %r, thead display %r" % tuple(ph))
        if a.phone_shot:
            b.screenshot(a.phone_shot)
        b.viewport(1200, 800, False)

        if a.hostile_cmd and a.hostile_name:
            subprocess.run(a.hostile_cmd, shell=True, check=True)
            n = a.hostile_name
            wait_until(lambda: "<img" in api(base, "/api/v1/instances/" + n)["message"], 20, 0.2)
            got = wait_until(lambda: "<img" in (b.eval(ROWS_JS).get(n, {}).get("message") or ""), 20, 0.2)
            check(got, "a worker's message with markup is shown as text", repr(b.eval(ROWS_JS).get(n)))
            check(b.eval("document.querySelectorAll('img, #groups b, #groups script').length") == 0
                  and b.eval("typeof window.__pwned") == "undefined",
                  "the markup in it made no element and ran no code", "it did")

        if a.kill_cmd and a.kill_name:
            n = a.kill_name
            b.eval("window.__same_document = 'yes'")
            before = api(base, "/api/v1/instances/" + n)
            subprocess.run(a.kill_cmd, shell=True, check=True)
            # Once the API shows the restart, the page has two refreshes to show it:
            # the one in flight may have been answered before the change.
            changed = wait_until(lambda: (lambda d: d["restarts"] > before["restarts"] and
                                          d["pid"] not in (None, before["pid"]))(
                api(base, "/api/v1/instances/" + n)), 30, 0.05)
            check(changed, "the API shows %s restarted with a new PID" % n, "it did not")
            u0 = updates()
            after = api(base, "/api/v1/instances/" + n)
            seen = {}

            def shown():
                r = b.eval(ROWS_JS).get(n, {})
                seen["u"], seen["r"] = updates(), r
                return r.get("restarts") == str(after["restarts"]) and r.get("pid") != str(before["pid"]) \
                    and r.get("pid") not in (None, "\u2013")
            ok = wait_until(lambda: shown() or updates() > u0 + 2, 30, 0.05)
            ok = shown() if ok else False
            check(ok and seen["u"] <= u0 + 2,
                  "the page shows the restart within two refreshes (%d -> %d)" % (u0, seen.get("u", -1)),
                  "row %r after refresh %d (change seen at refresh %d)" % (seen.get("r"), seen.get("u", -1), u0))
            check(b.eval("window.__same_document") == "yes", "without reloading the page", "it reloaded")

        if a.stop_cmd:
            # The supervisor goes away: the banner says so, the last rows stay.
            n_rows = len(b.eval(ROWS_JS))
            subprocess.run(a.stop_cmd, shell=True, check=True)
            got = wait_until(lambda: b.eval("document.getElementById('banner')"
                                            ".getAttribute('data-status')") == "unreachable", 20, 0.1)
            check(got, "with the endpoint gone the banner says it is unreachable",
                  repr(b.eval("document.getElementById('banner').textContent")))
            check(len(b.eval(ROWS_JS)) == n_rows and n_rows > 0, "and the last rows stay on screen",
                  "%d rows, %d before" % (len(b.eval(ROWS_JS)), n_rows))
    finally:
        b.close()
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
