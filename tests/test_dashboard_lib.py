# test_dashboard_lib.py - what the dashboard's two tests share (test_dashboard.py, the JSON
# API; test_dashboard_browser.py, the page in a headless browser): a store made by a short
# synthetic sweep, a hostile sweep name and error message forged into it, `carbs dashboard`
# started and stopped, HTTP requests, and the "N passed, N failed" counters (tests/check.h).
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

CARBS = os.environ["CARBS_BIN"]
ROOT = os.environ.get("CARBS_SOURCE_ROOT",
                      os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTILE_NAME = '<script>alert(1)</script>"\\'
HOSTILE_MESSAGE = '<img src=x onerror="document.body.dataset.pwned=1">'

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def sweep_yaml(name, trials, seconds_per_cost):
    return f"""name: {name}
metric: {{name: loss, goal: minimize}}
cost: {{name: cost}}
trainer: synthetic
synthetic: {{function: branin, seconds_per_cost: {seconds_per_cost}, fail_above: {{y: 14}}}}
parameters:
  x: {{space: linear, min: -5, max: 10, center: 2.5, scale: 5}}
  y: {{space: linear, min: 0, max: 15, center: 7.5, scale: 5}}
carbs: {{seed: 17, num_random_samples: 6, resample_frequency: 0}}
budget: {{trials: {trials}, parallel: 2}}
"""


class Env:
    """A temp dir with the store s.db; removed by close()."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=f"carbs-{name}.")
        self.db = os.path.join(self.dir, "s.db")
        self.procs = []

    def carbs(self, *args, check_rc=0):
        r = subprocess.run([CARBS, "--log-level", "warn", "--db", self.db, *args],
                           capture_output=True, text=True, timeout=300)
        if check_rc is not None and r.returncode != check_rc:
            raise RuntimeError(f"carbs {' '.join(args)} exited {r.returncode}: {r.stderr[:600]}")
        return r

    def run_sweep(self, name, trials=12, seconds_per_cost=0.0005, background=False):
        path = os.path.join(self.dir, name + ".yaml")
        with open(path, "w") as fh:
            fh.write(sweep_yaml(name, trials, seconds_per_cost))
        cmd = [CARBS, "--log-level", "warn", "--db", self.db, "run", path, "--workers", "2"]
        if background:
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            return p
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=300)
        return None

    def forge_hostile(self, sweep_id):
        """Give sweep_id a name no sweep file may have and one of its results a message
        that is markup: the page must show both as text."""
        con = sqlite3.connect(self.db)
        con.execute("UPDATE sweeps SET name = ? WHERE id = ?", (HOSTILE_NAME, sweep_id))
        con.execute("UPDATE results SET message = ? WHERE trial = (SELECT min(id) FROM "
                    "trials WHERE sweep = ?)", (HOSTILE_MESSAGE, sweep_id))
        con.commit()
        con.close()

    def store_digest(self):
        h = hashlib.sha256()
        for suffix in ("", "-wal"):
            p = self.db + suffix
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    h.update(suffix.encode() + fh.read())
        return h.hexdigest()

    def dashboard(self, *args):
        """Start `carbs dashboard` with args; returns (process, base URL, token or None)."""
        err = open(os.path.join(self.dir, f"dash{len(self.procs)}.err"), "w+")
        p = subprocess.Popen([CARBS, "--log-level", "warn", "--db", self.db, "dashboard", *args],
                             stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(p)
        deadline = time.time() + 20
        while time.time() < deadline:
            err.seek(0)
            m = re.search(r"on (http://\S+/)(\?token=([0-9a-f]+))?", err.read())
            if m:
                return p, m.group(1), m.group(3)
            if p.poll() is not None:
                break
            time.sleep(0.05)
        err.seek(0)
        raise RuntimeError("dashboard did not start: " + err.read()[:600])

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        return p.wait(timeout=20)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def request(base, path, method="GET", headers=None):
    """(status, headers dict with lower-case names, body bytes) of one request."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def get_json(base, path, headers=None, wait_fit=True):
    """(status, headers, document) of GET path; while the server answers 202 (it is fitting
    the laws for an at-cost answer) ask again, unless wait_fit is false."""
    deadline = time.time() + 120
    while True:
        status, hdrs, body = request(base, path, headers=headers)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if status != 202 or not wait_fit or time.time() > deadline:
            return status, hdrs, doc
        time.sleep(0.1)
