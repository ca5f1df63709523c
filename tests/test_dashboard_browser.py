# test_dashboard_browser.py - the dashboard's page in a real headless browser: Debian's
# chromium driven through chromium-driver's WebDriver protocol (plain HTTP and JSON, so
# nothing beyond python3 is needed).  On a store made by a short synthetic sweep it loads the
# page and checks that no console error appears, that the front chart plots every successful
# trial and the front, that the trials table pages through every trial (one page at a time,
# from the server), filters by state and sorts, that a clicked trial's details (metrics and
# all) appear, that the at-cost box answers exactly like `carbs laws SWEEP --at-cost C --format json`, and that a
# hostile sweep name and error message render as text.  Exits 77 where chromium or
# chromedriver is not installed.  CARBS_DASHBOARD_SHOT=FILE saves a screenshot of the page.
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_dashboard_lib import (HOSTILE_MESSAGE, HOSTILE_NAME, ROOT, Env, check,  # noqa: E402
                                finish)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not CHROMIUM or not DRIVER:
    print("skipped: chromium and chromium-driver are not installed")
    sys.exit(77)
HAVE_UPLOT = os.path.exists(os.path.join(ROOT, "data-cache", "web", "uplot", "uPlot.iife.min.js"))


class Driver:
    """One chromedriver and one headless chromium session over WebDriver."""

    def __init__(self, tmp):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(tmp, "chromedriver.log"), "w")
        self.proc = subprocess.Popen([DRIVER, f"--port={self.port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                if self.call("GET", "/status")["value"]["ready"]:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        caps = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1900", "--user-data-dir=" + os.path.join(tmp, "profile")]}}
        self.sid = self.call("POST", "/session",
                             {"capabilities": {"alwaysMatch": caps}})["value"]["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)["value"]

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.2)
        check(False, f"timed out waiting for {what}")
        return None

    def click(self, css):
        # The page redraws its tables at every poll: an element found just before a redraw
        # is stale by the click (WebDriver's 404), so find it again.
        deadline = time.time() + 20
        while True:
            try:
                eid = self.s("POST", "/element", {"using": "css selector", "value": css})
                eid = next(iter(eid.values()))
                self.s("POST", f"/element/{eid}/click", {})
                return
            except urllib.error.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def console_errors(self):
        logs = self.s("POST", "/se/log", {"type": "browser"})
        return [e for e in logs if e.get("level") == "SEVERE"]

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.sid}")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def cli_json_lines(env, *args):
    return [json.loads(line) for line in env.carbs(*args).stdout.splitlines() if line.strip()]


def test_page(env, d, base):
    d.s("POST", "/url", {"url": base})
    d.wait("return document.body.dataset.updated && "
           "+document.getElementById('trials').dataset.rows > 0", "the first poll")
    trials = cli_json_lines(env, "trials", "1")
    pareto = cli_json_lines(env, "pareto", "1")
    ok = [t for t in trials if t["state"] == "done" and t["cost"] and t["cost"] > 0]

    front = d.js("const n = document.getElementById('front-chart');"
                 "return [+n.dataset.points, +n.dataset.front, n.querySelectorAll('canvas').length,"
                 " n.textContent]")
    check(front[0] == len(ok), f"front chart points {front[0]}, successful trials {len(ok)}")
    check(front[1] == len(pareto), f"front chart front {front[1]}, carbs pareto {len(pareto)}")
    if HAVE_UPLOT:
        check(front[2] == 1, f"uPlot drew the front ({front[2]} canvases)")
        params = d.js("return document.querySelectorAll('#param-charts canvas').length")
        check(params == 2, f"a chart per parameter: {params}")
        curves = d.js("return +document.getElementById('curve-chart').dataset.curves")
        check(curves == len(ok), f"learning curves: {curves}")
    else:
        check("charts unavailable" in front[3], "says charts are unavailable without uPlot")

    ids = table_ids(d)
    check(sorted(ids) == sorted(t["id"] for t in trials) and len(ids) == 12,
          f"trials table {ids} vs {[t['id'] for t in trials]}")

    # Hostile strings are text: the name in the nav and the title, the message in its cell,
    # and no element or script they describe exists.
    texts = d.js("return [document.querySelector('#sweeps button').textContent,"
                 " document.getElementById('sweep-name').textContent,"
                 " document.querySelectorAll('script').length,"
                 " document.querySelectorAll('main img').length,"
                 " document.body.dataset.pwned || null,"
                 " document.getElementById('trials').textContent]")
    check(texts[0] == HOSTILE_NAME and texts[1] == HOSTILE_NAME, f"hostile name as text: {texts[:2]}")
    check(texts[2] == (2 if HAVE_UPLOT else 1) and texts[3] == 0 and texts[4] is None,
          f"nothing injected: {texts[2:5]}")
    check(HOSTILE_MESSAGE in texts[5], "hostile message shown as text")

    # Pages of 10: the first has 10 rows, the next the other 2, and back.
    set_select(d, "page-size", "10")
    d.wait("return document.querySelectorAll('#trials tbody tr').length === 10", "a page of 10")
    first_page = table_ids(d)
    d.click("#page-next")
    d.wait("return +document.getElementById('trials').dataset.offset === 10", "the second page")
    second_page = table_ids(d)
    check(first_page + second_page == sorted(ids), f"two pages: {first_page} {second_page}")
    count = d.js("return document.getElementById('trial-count').textContent")
    check(count.startswith("11-12 of 12"), f"the count says where the page is: {count}")
    d.click("#page-prev")
    d.wait("return +document.getElementById('trials').dataset.offset === 0", "back to page one")
    check(table_ids(d) == first_page, "the first page again")

    # Filter by state: only that state's trials, counted by the server.
    for state in ("done", "pending"):
        want = sorted(t["id"] for t in trials if t["state"] == state)
        set_select(d, "state-filter", state)
        d.wait(f"return +document.getElementById('trials').dataset.rows === {len(want)}",
               f"filter {state}")
        got = table_ids(d)
        check(got == want[:10], f"filter {state}: {got} vs {want[:10]}")
        cells = d.js("return [...document.querySelectorAll('#trials tbody td.state-" + state +
                     "')].length")
        check(cells == len(got), f"every row {state}: {cells}")
    set_select(d, "state-filter", "")
    set_select(d, "page-size", "100")
    d.wait("return document.querySelectorAll('#trials tbody tr').length === 12", "all rows again")

    # Sort by id, descending, on the server: the newest trial comes first.
    d.click("#trials thead th:first-child")
    d.wait(f"return +document.querySelector('#trials tbody tr').dataset.trial === {max(ids)}",
           "sorted by id descending")
    check(table_ids(d) == sorted(ids, reverse=True), "every row sorted by id, descending")

    # A click on a row fetches that trial in full: its metrics appear in the detail box.
    first = max(ids)
    d.click("#trials tbody tr:first-child")
    detail = d.wait("const p = document.getElementById('trial-detail');"
                    "return p.hidden ? null : p.textContent", "the trial's details")
    cli = next(t for t in trials if t["id"] == first)
    check(detail and detail.startswith(f"trial #{first}") and '"metrics"' in detail and
          '"metrics": null' not in detail, f"trial detail with metrics: {detail}")
    shown = json.loads(detail.split("\n", 1)[1]) if detail else {}
    check(shown.get("output") == cli["output"] and shown.get("params") == cli["params"],
          f"the detail agrees with carbs trials: {shown} vs {cli}")

    # The at-cost box answers like the CLI: inside the fitted range with numbers, and at twice
    # the dearest front point as the law says (numbers, or "cannot predict: ..." and none).
    top = max(p["cost"] for p in pareto)
    for cost in (top, 2.0 * top):
        at_cost_like_cli(env, d, cost, inside=cost == top)
    errors = d.console_errors()
    check(errors == [], f"console errors: {errors}")

    d.js("document.getElementById('at-cost-input').value = 'abc'")
    d.click("#at-cost-go")
    bad = d.wait("const r = document.getElementById('at-cost-result');"
                 "return r.dataset.state === 'error' ? r.textContent : null", "the at-cost error")
    check(bad and "not a positive number" in bad, f"a bad cost is refused: {bad}")

    shot = os.environ.get("CARBS_DASHBOARD_SHOT")
    if shot:
        d.js("window.scrollTo(0, 0); document.getElementById('trials').scrollIntoView(false);"
             "window.scrollTo(0, 0)")
        with open(shot, "wb") as fh:
            fh.write(base64.b64decode(d.s("GET", "/screenshot")))

    # The refused cost is the one error the console may show now: its 400.
    errors = [e for e in d.console_errors() if "at-cost?cost=abc" not in e["message"]]
    check(errors == [], f"console errors: {errors}")


def table_ids(d):
    return d.js("return [...document.querySelectorAll('#trials tbody tr')]"
                ".map((r) => +r.dataset.trial)")


def set_select(d, sid, value):
    d.js(f"const s = document.getElementById('{sid}'); s.value = '{value}';"
         "s.dispatchEvent(new Event('change'))")


def at_cost_like_cli(env, d, cost, inside):
    """Ask the page's at-cost box for cost and compare with `carbs laws --at-cost`."""
    cli = json.loads(env.carbs("laws", "1", "--at-cost", repr(cost), "--format", "json").stdout)
    predicted = cli["metric"]["predicted"]
    check(predicted is not None or not inside, f"a law predicts inside its range: {cli}")
    d.js(f"document.getElementById('at-cost-input').value = '{cost!r}'")
    d.click("#at-cost-go")
    state = d.wait("const s = document.getElementById('at-cost-result').dataset.state;"
                   "return s === 'ok' || s === 'error' ? s : null", "the at-cost answer")
    check(state == "ok", f"at-cost {cost} answered: {state}")
    got = d.js("const r = document.getElementById('at-cost-result');"
               "return [r.dataset.json, [...r.querySelectorAll('td[data-value]')]"
               ".map((c) => +c.dataset.value), r.textContent]")
    check(got[0] is not None and json.loads(got[0]) == cli, f"at-cost JSON {got[0]} vs {cli}")
    want = [predicted["value"]] + [v["value"] for v in cli["params"].values()] if predicted else []
    check(got[1] == want, f"at-cost cells {got[1]} vs {want}")
    check(predicted or cli["why"] in got[2], f"a refusal shows its reason: {got[2]}")
    drawn = d.js("return document.getElementById('front-chart').dataset.prediction")
    check(drawn == ("1" if predicted else "0"), f"the prediction drawn on the front: {drawn}")


def main():
    env = Env("dashboard-browser")
    d = None
    try:
        env.run_sweep("first", trials=12)
        env.forge_hostile(1)
        _, base, _ = env.dashboard("--bind", "127.0.0.1:0")
        d = Driver(env.dir)
        test_page(env, d, base)
    finally:
        if d:
            d.close()
        env.close()
    finish()


main()
