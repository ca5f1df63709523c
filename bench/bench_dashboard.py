# bench_dashboard.py - how fast `carbs dashboard` serves a large sweep (figures in
# docs/performance.md).  It builds a store with one synthetic sweep of N finished trials
# (default 10,000: Branin outputs, log-uniform costs, one in twenty a failure) by `carbs import`
# of generated records, adds a 20-point learning curve to every trial straight into the store
# (import keeps no curves), starts `carbs dashboard --bind 127.0.0.1:0`, and times each JSON
# request the page makes at each poll (median and p90 over R requests, each on a fresh
# connection) and those it makes when the user pages, sorts, filters or clicks a trial; the
# poll's requests again while the store changes before each one (a curve point: the
# aggregates are read again) and while a new result arrives before each one (the front and
# the charts' columns are derived again, what the first poll after a result pays); then
# the page itself in headless Chromium: from navigation start to the end of its first full
# render (the page's `data-loaded-ms` on <body>), over a few fresh loads; last the at-cost
# box: how long its first question waits for the laws (fitted by a thread of the server,
# which answers the overview meanwhile), and R more, which read the kept fit.
#
#   python3 bench/bench_dashboard.py BUILD/tools/carbs [--trials N] [--requests R] [--loads L]
#                            [--no-fit]
#   ninja -C build bench_dashboard        # the same with the defaults
#
# python3's standard library only; the browser part is skipped where chromium or
# chromedriver is missing.
import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# The sweep as one YAML flow mapping; its budget leaves it active, as a sweep being watched is.
SWEEP = ("{name: big, trainer: synthetic, synthetic: {function: branin},"
         " metric: {name: loss, goal: minimize}, cost: {name: flops}, budget: {trials: 20000},"
         " parameters: {x: {space: linear, min: -5, max: 10, center: 2.5, scale: 5},"
         " y: {space: linear, min: 0, max: 15, center: 7.5, scale: 5}}}\n")


def branin(x, y):
    a, b, c = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


def records(n, rng):
    for i in range(n):
        x, y = rng.uniform(-5, 10), rng.uniform(0, 15)
        cost = 10 ** rng.uniform(9, 13)
        if i % 20 == 19:
            yield {"params": {"x": x, "y": y}, "output": None, "cost": cost, "is_failure": True,
                   "failure": "diverged", "message": f"loss was NaN at step {rng.randrange(500)}"}
        else:
            loss = branin(x, y) + 50 / math.log10(cost)
            yield {"params": {"x": x, "y": y}, "output": loss, "cost": cost, "is_failure": False,
                   "metrics": {"loss": loss, "flops": cost, "tokens": cost / 6e6}}


def carbs(binary, db, *args):
    r = subprocess.run([binary, "--log-level", "warn", "--db", db, *args], capture_output=True,
                       text=True, timeout=1800)
    if r.returncode:
        sys.exit(f"carbs {' '.join(args)} exited {r.returncode}: {r.stderr[:600]}")
    return r.stdout


def build_store(binary, tmp, n):
    db = os.path.join(tmp, "big.db")
    with open(os.path.join(tmp, "big.yaml"), "w") as fh:
        fh.write(SWEEP)
    carbs(binary, db, "sweep", "create", os.path.join(tmp, "big.yaml"))
    rng = random.Random(7)
    path = os.path.join(tmp, "records.jsonl")
    with open(path, "w") as fh:
        for rec in records(n, rng):
            fh.write(json.dumps(rec) + "\n")
    t0 = time.perf_counter()
    carbs(binary, db, "import", "big", path)
    took = time.perf_counter() - t0
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM trials")]
    con.executemany("INSERT INTO curves (trial, step, tokens, loss) VALUES (?, ?, ?, ?)",
                    ((t, s * 50, s * 50 * 4096.0, 8 / (1 + s) + 2) for t in ids
                     for s in range(1, 21)))
    con.commit()
    con.close()
    return db, took


def start_dashboard(binary, db, tmp):
    err = open(os.path.join(tmp, "dash.err"), "w+")
    p = subprocess.Popen([binary, "--log-level", "warn", "--db", db, "dashboard", "--bind",
                          "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 30
    while time.time() < deadline:
        err.seek(0)
        m = re.search(r"on http://127\.0\.0\.1:(\d+)/", err.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    err.seek(0)
    sys.exit("dashboard did not start: " + err.read()[:600])


def timed_get(port, path, want=(200,)):
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    if r.status not in want:
        sys.exit(f"GET {path}: {r.status} {body[:300]!r}")
    if len(want) > 1:
        return (time.perf_counter() - t0) * 1000, len(body), r.status
    return (time.perf_counter() - t0) * 1000, len(body)


def bench_at_cost(port, requests, pid):
    """The at-cost box: its first question is answered 202 while a thread fits the laws; ask
    again every 0.5 s, timing the overview meanwhile (the server must go on answering), until
    the answer comes; then requests more questions at another cost, which read the kept fit."""
    path = "/api/sweeps/1/at-cost?cost=1e13"
    t0, c0 = time.perf_counter(), cpu_ms(pid)
    first, _, status = timed_get(port, path, (200, 202))
    polls = []
    while status == 202:
        polls.append(timed_get(port, "/api/sweeps")[0])
        time.sleep(0.5)
        _, _, status = timed_get(port, path, (200, 202))
    took, cpu = time.perf_counter() - t0, (cpu_ms(pid) - c0) / 1000
    polls.sort()
    print(f"at-cost: first question answered 202 in {first:.1f} ms; the answer after "
          f"{took:.1f} s ({cpu:.1f} s of CPU, the fit's thread included)")
    if polls:
        print(f"at-cost: the overview meanwhile: median {statistics.median(polls):.1f} ms, "
              f"worst {polls[-1]:.1f} ms over {len(polls)} requests")
    bench_api(port, requests, ["/api/sweeps/1/at-cost?cost=3e13"], pid=pid)


class Writer:
    """Writes to the store between requests as a running service would, so that the
    dashboard cannot answer from what it kept: a curve point (the store changed, no result
    did) or a whole finished trial with its result (a new result)."""

    def __init__(self, db):
        self.con = sqlite3.connect(db, timeout=30)
        self.step = 10000
        self.rng = random.Random(11)

    def curve_point(self):
        self.step += 1
        self.con.execute("INSERT INTO curves (trial, step, tokens, loss) VALUES (1, ?, 0, 1)",
                         (self.step,))
        self.con.commit()

    def result(self):
        x, y = self.rng.uniform(-5, 10), self.rng.uniform(0, 15)
        cost = 10 ** self.rng.uniform(9, 13)
        now = time.time()
        cur = self.con.execute(
            "INSERT INTO trials (sweep, params, state, attempt, worker, created, started,"
            " finished) VALUES (1, ?, 'done', 1, 'bench', ?, ?, ?)",
            (json.dumps({"x": x, "y": y}), now, now, now))
        self.con.execute(
            "INSERT INTO results (trial, status, failure, message, output, cost, attempt,"
            " created) VALUES (?, 'ok', 'none', '', ?, ?, 1, ?)",
            (cur.lastrowid, branin(x, y) + 50 / math.log10(cost), cost, now))
        self.con.commit()


def cpu_ms(pid):
    """CPU time (user + system) process pid has used, in ms."""
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def bench_api(port, requests, paths, before=None, label="", pid=None):
    """Median and p90 wall time of requests GETs of each path, and the server's CPU time per
    request (mean; what the wall time would be on an idle core)."""
    print(f"{'request' + label:60} {'bytes':>10} {'median ms':>10} {'p90 ms':>8} {'cpu ms':>7}")
    for path in paths:
        ms, size, cpu = [], 0, 0.0
        for _ in range(requests):
            if before:
                before()
            c0 = cpu_ms(pid) if pid else 0.0
            t, size = timed_get(port, path)
            cpu += (cpu_ms(pid) - c0) if pid else 0.0
            ms.append(t)
        ms.sort()
        p90 = ms[min(len(ms) - 1, math.ceil(0.9 * len(ms)) - 1)]
        print(f"GET {path:56} {size:>10} {statistics.median(ms):>10.1f} {p90:>8.1f} "
              f"{cpu / requests if pid else float('nan'):>7.1f}")


def webdriver(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["value"]


def bench_page(port, tmp, loads):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        print("page: skipped (chromium and chromedriver are not installed)")
        return
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dport = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([driver, f"--port={dport}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if webdriver(dport, "GET", "/status")["ready"]:
                    break
            except OSError:
                time.sleep(0.1)
        opts = {"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                             "--disable-dev-shm-usage", "--window-size=1400,1900",
                                             "--user-data-dir=" + os.path.join(tmp, "profile")]}
        sid = webdriver(dport, "POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": opts}}})["sessionId"]
        got = []
        for _ in range(loads):
            webdriver(dport, "POST", f"/session/{sid}/url", {"url": "about:blank"})
            t0 = time.perf_counter()
            webdriver(dport, "POST", f"/session/{sid}/url", {"url": f"http://127.0.0.1:{port}/"})
            loaded = None
            while time.perf_counter() - t0 < 60 and not loaded:
                loaded = webdriver(dport, "POST", f"/session/{sid}/execute/sync", {
                    "script": "return document.body.dataset.loadedMs", "args": []})
                if not loaded:
                    time.sleep(0.02)
            if not loaded:
                sys.exit("page: no first render within 60 s")
            rows = webdriver(dport, "POST", f"/session/{sid}/execute/sync", {
                "script": "return [document.getElementById('trials').dataset.rows,"
                " document.querySelectorAll('#trials tbody tr').length,"
                " +document.getElementById('front-chart').dataset.points]", "args": []})
            got.append(int(loaded))
            print(f"page load: first render at {loaded} ms after navigation start "
                  f"({rows[0]} trials, {rows[1]} rows on the page, {rows[2]} points on the front "
                  f"chart; {1000 * (time.perf_counter() - t0):.0f} ms by the driver)")
        print(f"page load: median {statistics.median(got):.0f} ms, worst {max(got)} ms "
              f"over {loads} loads")
        webdriver(dport, "DELETE", f"/session/{sid}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser(description="time `carbs dashboard` on a large sweep")
    ap.add_argument("carbs")
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=20, choices=range(1, 100001), metavar="R")
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--no-fit", action="store_true", help="skip the at-cost box (a fit)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="carbs-bench-dashboard.")
    dash = None
    try:
        db, took = build_store(a.carbs, tmp, a.trials)
        print(f"store: {a.trials} trials imported in {took:.1f} s, "
              f"{os.path.getsize(db) / 1e6:.1f} MB")
        dash, port = start_dashboard(a.carbs, db, tmp)
        # what the page asks for at each poll, and its files
        page = "/api/sweeps/1/trials?sort=id&dir=asc&offset=0&limit=100"
        bench_api(port, a.requests, ["/api/sweeps", "/api/sweeps/1",
                                     "/api/sweeps/1/curves?latest=40", page, "/",
                                     "/dashboard.js"], pid=dash.pid)
        # what the user's clicks ask for: a sort by a value, a filter, a late page, a trial
        bench_api(port, a.requests, [
            "/api/sweeps/1/trials?sort=output&dir=desc&offset=0&limit=100",
            "/api/sweeps/1/trials?sort=p:x&dir=asc&offset=0&limit=100",
            "/api/sweeps/1/trials?state=failed&sort=id&dir=asc&offset=0&limit=100",
            f"/api/sweeps/1/trials?sort=id&dir=asc&offset={max(0, a.trials - 100)}&limit=100",
            f"/api/sweeps/1/trials/{max(1, a.trials // 2)}"], pid=dash.pid)
        # while a service writes: the store changes before every request (aggregates read
        # again), or a result arrives before every request (everything derived again)
        w = Writer(db)
        live = ["/api/sweeps", "/api/sweeps/1", page]
        bench_api(port, a.requests, live, w.curve_point, " (after a write)", dash.pid)
        bench_api(port, a.requests, live, w.result, " (after a new result)", dash.pid)
        w.con.close()
        bench_page(port, tmp, a.loads)
        # the at-cost box: the first question starts a fit, later ones read the kept fit
        if not a.no_fit:
            bench_at_cost(port, a.requests, dash.pid)
    finally:
        if dash and dash.poll() is None:
            dash.terminate()
            dash.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
