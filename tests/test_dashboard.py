# test_dashboard.py - `carbs dashboard`'s JSON API without a browser: every endpoint on a
# store made by a short synthetic sweep (the trials table's pages, sorted and filtered by the
# server, and one trial in full), the 4xx answers, the token rules, the Host check, a sweep
# read live while a service writes (and followed by `carbs status --watch`), the kept at-cost
# fit refitted once the live sweep has new results, a hostile name that comes back as a JSON
# string, and a store whose bytes no request changes.  Prints "N passed, N failed".
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_dashboard_lib import (CARBS, HOSTILE_MESSAGE, HOSTILE_NAME, Env, check, finish,  # noqa: E402
                                get_json, request, sweep_yaml)


def test_endpoints(env, base):
    st, hdrs, ov = get_json(base, "/api/sweeps")
    check(st == 200 and hdrs.get("content-type") == "application/json", f"/api/sweeps: {st}")
    check(hdrs.get("cache-control") == "no-store" and "default-src 'none'" in
          hdrs.get("content-security-policy", ""), f"security headers: {hdrs}")
    names = [s["name"] for s in ov["sweeps"]]
    check(names == [HOSTILE_NAME, "live"], f"sweep names: {names}")
    s1 = ov["sweeps"][0]
    check(s1["counts"]["done"] + s1["counts"]["failed"] == 12 and s1["budget"]["trials"] == 12,
          f"counts: {s1['counts']}")
    check(s1["eta_seconds"] is None and s1["state"] == "done", f"eta of a done sweep: {s1}")
    check(len(ov["workers"]) >= 2 and all(not w["connected"] for w in ov["workers"]),
          f"workers after the service stopped: {ov['workers']}")

    # The hostile name is a JSON string with the quote and backslash escaped.
    _, _, raw = request(base, "/api/sweeps/1")
    check(b'"name":"<script>alert(1)</script>\\"\\\\"' in raw, "hostile name JSON-escaped")
    st, _, sw = get_json(base, "/api/sweeps/1")
    check(st == 200 and sw["name"] == HOSTILE_NAME, "sweep 1 by id")
    trials = [json.loads(line) for line in env.carbs("trials", "1").stdout.splitlines()]
    check("trials" not in sw and "metrics" not in raw.decode(), "the sweep sends no trial rows")
    ok = [t for t in trials if t["state"] == "done"]
    pts = sw["points"]
    check(pts["id"] == [t["id"] for t in ok], f"points: {pts['id']} vs {[t['id'] for t in ok]}")
    check(pts["cost"] == [t["cost"] for t in ok] and pts["output"] == [t["output"] for t in ok],
          "points' cost and output")
    check(pts["params"] == [t["params"] for t in ok], "points' params")
    check(sw["running"] == [], f"nothing runs: {sw['running']}")
    test_trials(env, base, trials)
    pareto = [json.loads(line)["trial"] for line in env.carbs("pareto", "1").stdout.splitlines()]
    check(sw["front"] == pareto, f"front {sw['front']} vs carbs pareto {pareto}")
    check(sw["front_size"] == len(pareto) and sw["best_trial"] == pareto[-1], "best and front size")
    check([p["name"] for p in sw["params"]] == ["x", "y"], f"params: {sw['params']}")
    check(sw["law"] is None or sw["law"]["metric"] == "loss", "stored law")
    check(sw["law"] is None or len(sw["law_band"]) == 64, "the law's band")

    st, _, cv = get_json(base, "/api/sweeps/1/curves")
    check(st == 200 and len(cv["curves"]) == len(ok),
          f"curves: {st} {len(cv['curves']) if cv else None}")
    check(all(len(p) == 3 for c in cv["curves"].values() for p in c), "curve points")
    st, _, cv3 = get_json(base, "/api/sweeps/1/curves?latest=3")
    newest = sorted(cv["curves"], key=int)[-3:]
    check(st == 200 and cv3["curves"] == {k: cv["curves"][k] for k in newest},
          f"curves?latest=3: {st} {list(cv3['curves']) if cv3 else None}, newest {newest}")
    for bad in ("0", "2.5", "x"):
        st, _, _ = get_json(base, "/api/sweeps/1/curves?latest=" + bad)
        check(st == 400, f"curves?latest={bad}: {st}")

    # The first question is fitted off the server's thread: 202 until the fit is back, while
    # the server goes on answering; then the kept fit answers at once, at any cost.
    st, _, doc = get_json(base, "/api/sweeps/1/at-cost?cost=7.5", wait_fit=False)
    check(st == 202 and doc["fitting"] is True and "ask again" in doc["why"],
          f"the first at-cost question: {st} {doc}")
    check(get_json(base, "/api/sweeps")[0] == 200, "the overview while the laws are fitted")
    for cost in ("7.5", "3", "7.5"):  # the second and third read the kept fit
        cli = json.loads(env.carbs("laws", "1", "--at-cost", cost, "--format", "json").stdout)
        st, _, at = get_json(base, "/api/sweeps/1/at-cost?cost=" + cost)
        check(st == 200 and at == cli, f"at-cost {cost} equals the CLI: {at} vs {cli}")
    st, _, _ = get_json(base, "/api/sweeps/1/at-cost?cost=2", wait_fit=False)
    check(st == 200, f"a kept fit answers at once: {st}")

    st, hdrs, body = request(base, "/")
    check(st == 200 and hdrs["content-type"].startswith("text/html") and b"dashboard.js" in body,
          "index page")
    check(request(base, "/dashboard.js")[0] == 200 and request(base, "/dashboard.css")[0] == 200,
          "page files")
    check(request(base, "/", method="HEAD")[0] == 200, "HEAD")


def test_trials(env, base, trials):
    """The trials table's pages: server-side sort, filter, offset and limit; one trial."""
    ids = [t["id"] for t in trials]
    st, _, pg = get_json(base, "/api/sweeps/1/trials")
    check(st == 200 and pg["total"] == 12 and pg["offset"] == 0 and pg["limit"] == 100,
          f"first page: {st} {pg and {k: pg[k] for k in ('total', 'offset', 'limit')}}")
    check([t["id"] for t in pg["trials"]] == ids, "every trial, in id order")
    check(all("metrics" not in t for t in pg["trials"]), "rows without metrics")
    check(any(t.get("message") == HOSTILE_MESSAGE for t in pg["trials"]), "hostile message")
    by_id = {t["id"]: t for t in pg["trials"]}
    check(all(by_id[t["id"]]["output"] == t["output"] and by_id[t["id"]]["state"] == t["state"]
              for t in trials), "rows agree with carbs trials")
    got = []
    for off in (0, 5, 10):
        st, _, p = get_json(base, f"/api/sweeps/1/trials?offset={off}&limit=5")
        check(st == 200 and p["total"] == 12 and len(p["trials"]) == (5 if off < 10 else 2),
              f"page at {off}: {st} {p and len(p['trials'])}")
        got += [t["id"] for t in p["trials"]]
    check(got == ids, f"three pages of 5 make the table: {got}")
    st, _, p = get_json(base, "/api/sweeps/1/trials?offset=50")
    check(st == 200 and p["trials"] == [] and p["total"] == 12, "a page past the end is empty")

    def page(query):
        st, _, p = get_json(base, "/api/sweeps/1/trials?limit=1000&" + query)
        check(st == 200, f"trials?{query}: {st} {p}")
        return p["trials"] if st == 200 else []

    done = [t for t in trials if t["state"] == "done"]
    failed = [t for t in trials if t["state"] == "failed"]
    for state in ("done", "failed", "pending"):
        rows = page("state=" + state)
        want = [t["id"] for t in trials if t["state"] == state]
        check([t["id"] for t in rows] == want, f"state={state}: {[t['id'] for t in rows]}")
    rows = page("state=done&sort=output&dir=desc")
    want = sorted(done, key=lambda t: (-t["output"], t["id"]))
    check([t["id"] for t in rows] == [t["id"] for t in want], "done by output, descending")
    rows = page("sort=output")
    outs = [t["output"] for t in rows]
    n_null = sum(1 for o in outs if o is None)
    check(n_null == len(failed) and all(o is None for o in outs[len(outs) - n_null:]) and
          outs[:len(outs) - n_null] == sorted(o for o in outs if o is not None),
          f"by output: ascending, trials without one last: {outs}")
    rows = page("sort=p:x&dir=desc")
    xs = [t["params"]["x"] for t in rows]
    check(xs == sorted(xs, reverse=True) and len(xs) == 12, f"by parameter x, descending: {xs}")
    rows = page("sort=cost&dir=asc")
    check([t["id"] for t in rows[:len(done)]] ==
          [t["id"] for t in sorted(done, key=lambda t: (t["cost"], t["id"]))], "by cost")

    t0 = done[0]
    st, _, one = get_json(base, f"/api/sweeps/1/trials/{t0['id']}")
    check(st == 200 and one["id"] == t0["id"] and one["output"] == t0["output"] and
          one["params"] == t0["params"] and isinstance(one.get("metrics"), dict),
          f"one trial in full: {st} {one}")
    st, _, one = get_json(base, f"/api/sweeps/1/trials/{ids[0]}")
    check(st == 200 and one["message"] == HOSTILE_MESSAGE, "the hostile message in full")


def test_errors(base):
    cases = [
        ("/api/sweeps/999", 404), ("/api/sweeps/abc", 404), ("/api/sweeps/0", 404),
        ("/api/sweeps/1x", 404), ("/api/sweeps/99999999999999999999", 404),
        ("/api/sweeps/1/nothing", 404), ("/api/nothing", 404), ("/nothing", 404),
        ("/../etc/passwd", 404), ("/embed.py", 404),
        ("/api/sweeps/1/at-cost", 400), ("/api/sweeps/1/at-cost?cost=abc", 400),
        ("/api/sweeps/1/at-cost?cost=-3", 400), ("/api/sweeps/1/at-cost?cost=0", 400),
        ("/api/sweeps/1/at-cost?cost=1e400", 400), ("/api/sweeps/1/at-cost?cost=%ff", 400),
        ("/api/sweeps/999/at-cost?cost=1", 404),
        ("/api/sweeps/999/trials", 404), ("/api/sweeps/1/trials?state=bogus", 400),
        ("/api/sweeps/1/trials?sort=bogus", 400), ("/api/sweeps/1/trials?sort=p:nope", 400),
        ("/api/sweeps/1/trials?sort=p:", 400), ("/api/sweeps/1/trials?dir=up", 400),
        ("/api/sweeps/1/trials?limit=0", 400), ("/api/sweeps/1/trials?limit=1001", 400),
        ("/api/sweeps/1/trials?offset=-1", 400), ("/api/sweeps/1/trials?offset=x", 400),
        ("/api/sweeps/1/trials/999999", 404), ("/api/sweeps/1/trials/abc", 404),
        ("/api/sweeps/1/trials/1/x", 404), ("/api/sweeps/999/trials/1", 404),
        ("/api/sweeps/2/trials/1", 404),
    ]
    for path, want in cases:
        st, hdrs, doc = get_json(base, path)
        check(st == want and isinstance(doc, dict) and doc.get("error"),
              f"{path}: {st} {doc}, expected {want} with an error")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        st, hdrs, body = request(base, "/api/sweeps", method=method)
        check(st == 405 and hdrs.get("allow") == "GET, HEAD" and b"read-only" in body,
              f"{method}: {st} {hdrs.get('allow')}")
    st, _, doc = get_json(base, "/api/sweeps", headers={"Host": "evil.example:80"})
    check(st == 403 and "Host" in doc["error"], f"foreign Host: {st}")
    st, _, _ = get_json(base, "/api/sweeps", headers={"Host": "localhost:" + base.split(":")[2][:-1]})
    check(st == 200, f"localhost Host: {st}")


def test_token(env):
    p, base, token = env.dashboard("--bind", "127.0.0.1:0", "--require-token")
    check(token is not None and len(token) == 32, f"token printed: {token}")
    st, _, doc = get_json(base, "/api/sweeps")
    check(st == 401 and "token" in doc["error"], f"no token: {st}")
    check(get_json(base, "/api/sweeps?token=" + "0" * 32)[0] == 401, "wrong token")
    check(get_json(base, "/api/sweeps?token=" + token[:-1])[0] == 401, "short token")
    check(get_json(base, "/?token=")[0] == 401, "empty token")
    check(get_json(base, "/api/sweeps?token=" + token)[0] == 200, "token as ?token=")
    check(get_json(base, "/api/sweeps/1", headers={"X-Carbs-Token": token})[0] == 200,
          "token as a header")
    st, _, body = request(base, "/?token=" + token)
    check(st == 200 and f"dashboard.js?token={token}".encode() in body, "the page carries it")
    check(env.stop(p) == 0, "stops on SIGTERM")

    # Any address but loopback needs the token whether asked or not (traffic stays on
    # 127.0.0.1: the wildcard address includes it).
    p, base, token = env.dashboard("--bind", "0.0.0.0:0")
    base = base.replace("0.0.0.0", "127.0.0.1")
    check(token is not None, "a token on 0.0.0.0")
    check(get_json(base, "/api/sweeps")[0] == 401, "0.0.0.0 without a token")
    check(get_json(base, "/api/sweeps?token=" + token)[0] == 200, "0.0.0.0 with the token")
    env.stop(p)


def test_usage(env):
    for args, want in ((["--bind", "nowhere"], 2), (["--bind", "127.0.0.1:99999"], 2),
                       (["--bind", "localhost:0"], 2), (["--what"], 2), (["extra"], 2),
                       (["--help"], 0)):
        r = env.carbs("dashboard", *args, check_rc=None)
        check(r.returncode == want, f"dashboard {args}: exit {r.returncode}, expected {want}")
    r = env.carbs("--db", env.db + ".missing", "dashboard", check_rc=None)
    check(r.returncode == 1 and "s.db.missing" in r.stderr, f"missing store: {r.returncode} {r.stderr}")


def test_live(env, base):
    """A second sweep runs while the dashboard reads: it shows up, served, and progresses."""
    run = env.run_sweep("live", trials=10, seconds_per_cost=0.15, background=True)
    seen_served = seen_running = seen_held = False
    done = []
    pages = []
    at_mid = None
    watch = None
    deadline = time.time() + 120
    while run.poll() is None and time.time() < deadline:
        st, _, ov = get_json(base, "/api/sweeps")
        if st == 200:
            live = [s for s in ov["sweeps"] if s["name"] == "live"]
            seen_served |= ov["served_by"] > 0
            seen_held |= any(w["connected"] and w["running"] for w in ov["workers"])
            if live and not watch:
                watch = subprocess.Popen([CARBS, "--db", env.db, "status", "live", "--watch",
                                          "--interval", "0.2"], stdout=subprocess.PIPE, text=True)
            if live:
                done.append(live[0]["counts"]["done"])
                seen_running |= live[0]["counts"]["running"] > 0
                sid = live[0]["id"]
                pages.append(get_json(base, f"/api/sweeps/{sid}")[0])
                pages.append(get_json(base, f"/api/sweeps/{sid}/trials?limit=3")[0])
                if live[0]["counts"]["done"] >= 4 and not at_mid:
                    at_mid = get_json(base, f"/api/sweeps/{sid}/at-cost?cost=5")
        time.sleep(0.3)
    check(run.wait(timeout=60) == 0, "the live sweep finished")
    check(seen_served and seen_running, f"saw the service ({seen_served}) and running trials "
          f"({seen_running})")
    check(len(done) >= 2 and done == sorted(done), f"done counts grew: {done}")
    check(seen_held, "a connected worker with its current trial")
    check(pages and all(st == 200 for st in pages), f"the live sweep's page: {pages}")
    # What the dashboard kept from the middle of the run gives way to every result.
    trials = [json.loads(line) for line in env.carbs("trials", "live").stdout.splitlines()]
    st, _, sw = get_json(base, f"/api/sweeps/{sid}")
    want = [t["id"] for t in trials if t["state"] == "done"]
    check(st == 200 and sw["points"]["id"] == want, f"the live sweep's points: {sw['points']}")
    pareto = [json.loads(line)["trial"] for line in env.carbs("pareto", "live").stdout.splitlines()]
    check(sw["front"] == pareto and sw["best_trial"] == pareto[-1], "the live sweep's front")
    check(sw["counts"]["done"] + sw["counts"]["failed"] == 10 and sw["counts"]["running"] == 0,
          f"the live sweep's counts: {sw['counts']}")
    st, _, pg = get_json(base, f"/api/sweeps/{sid}/trials")
    check(st == 200 and [t["id"] for t in pg["trials"]] == [t["id"] for t in trials],
          "the live sweep's table")
    # The fit kept from the middle of the run gives way to one on every result.
    cli = json.loads(env.carbs("laws", "live", "--at-cost", "5", "--format", "json").stdout)
    st, _, at = get_json(base, f"/api/sweeps/{sid}/at-cost?cost=5")
    check(st == 200 and at == cli, f"at-cost after the run equals the CLI: {at} vs {cli}")
    check(at_mid and at_mid[0] in (200, 409), f"at-cost in the middle of the run: {at_mid}")
    if at_mid and at_mid[0] == 200 and at_mid[2]["metric"]["predicted"] and \
            at["metric"]["predicted"]:
        check(at_mid[2] != at, "the answer moved with the new results")
    # `carbs status SWEEP --watch` off a terminal: a line per change, ending with the sweep.
    out, _ = watch.communicate(timeout=30) if watch else ("", None)
    lines = out.splitlines()
    check(watch and watch.returncode == 0 and len(lines) >= 2, f"status --watch: {lines}")
    m = re.match(r"^\S+Z live done: (\d+) done, 0 running, (\d+) failed, 0 lost, 0 pending "
                 r"of 10 \| best \S+ \(trial \d+\) \| cost \S+$", lines[-1] if lines else "")
    check(m and int(m.group(1)) + int(m.group(2)) == 10, f"status --watch's last line: {lines[-1:]}")
    check(all(re.match(r"^\S+Z live active: ", line) for line in lines[:-1]), "lines before")
    r = env.carbs("status", "live", "--watch", "--interval", "0", check_rc=None)
    check(r.returncode == 2, f"--interval 0: {r.returncode}")


def test_no_law_yet(env):
    """A sweep without trials: its page has no law and no ETA, at-cost says why (409)."""
    path = os.path.join(env.dir, "empty.yaml")
    with open(path, "w") as fh:
        fh.write(sweep_yaml("empty", 5, 0))
    env.carbs("sweep", "create", path)
    p, base, _ = env.dashboard("--bind", "127.0.0.1:0")
    st, _, sw = get_json(base, "/api/sweeps/3")
    check(st == 200 and sw["law"] is None and sw["law_band"] is None and sw["points"]["id"] == []
          and sw["running"] == [] and sw["eta_seconds"] is None and sw["best_trial"] is None,
          f"empty sweep: {st} {sw}")
    st, _, pg = get_json(base, "/api/sweeps/3/trials")
    check(st == 200 and pg["total"] == 0 and pg["trials"] == [], f"no trials: {st} {pg}")
    st, _, doc = get_json(base, "/api/sweeps/3/at-cost?cost=1")
    check(st == 409 and "not enough data" in doc["error"], f"at-cost without data: {st} {doc}")
    env.stop(p)


def main():
    env = Env("dashboard")
    try:
        env.run_sweep("first", trials=12)
        env.forge_hostile(1)
        p, base, token = env.dashboard("--bind", "127.0.0.1:0")
        check(token is None, "no token on loopback by default")
        test_live(env, base)
        before = env.store_digest()
        test_endpoints(env, base)
        test_errors(base)
        test_token(env)
        test_usage(env)
        check(env.stop(p) == 0, "dashboard exits 0 on SIGTERM")
        check(env.store_digest() == before, "the store's bytes are unchanged")
        test_no_law_yet(env)
    finally:
        env.close()
    finish()


main()
