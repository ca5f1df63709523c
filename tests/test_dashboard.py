# test_dashboard.py - `carbs dashboard`'s JSON API without a browser: every endpoint on a
# store made by a short synthetic sweep, the 4xx answers, the token rules, the Host check, a
# sweep read live while a service writes (and followed by `carbs status --watch`), a hostile
# name that comes back as a JSON string, and a store whose bytes no request changes.  Prints
# "N passed, N failed".
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
    trials = env.carbs("trials", "1").stdout.splitlines()
    check(len(sw["trials"]) == len(trials) == 12, f"trials: {len(sw['trials'])} vs {len(trials)}")
    check(any(t.get("message") == HOSTILE_MESSAGE for t in sw["trials"]), "hostile message")
    pareto = [json.loads(line)["trial"] for line in env.carbs("pareto", "1").stdout.splitlines()]
    check(sw["front"] == pareto, f"front {sw['front']} vs carbs pareto {pareto}")
    check(sw["front_size"] == len(pareto) and sw["best_trial"] == pareto[-1], "best and front size")
    check([p["name"] for p in sw["params"]] == ["x", "y"], f"params: {sw['params']}")
    check(sw["law"] is None or sw["law"]["metric"] == "loss", "stored law")
    check(sw["law"] is None or len(sw["law_band"]) == 64, "the law's band")

    st, _, cv = get_json(base, "/api/sweeps/1/curves")
    check(st == 200 and len(cv["curves"]) == sum(1 for t in sw["trials"] if t["state"] == "done"),
          f"curves: {st} {len(cv['curves']) if cv else None}")
    check(all(len(p) == 3 for c in cv["curves"].values() for p in c), "curve points")
    st, _, cv3 = get_json(base, "/api/sweeps/1/curves?latest=3")
    newest = sorted(cv["curves"], key=int)[-3:]
    check(st == 200 and cv3["curves"] == {k: cv["curves"][k] for k in newest},
          f"curves?latest=3: {st} {list(cv3['curves']) if cv3 else None}, newest {newest}")
    for bad in ("0", "2.5", "x"):
        st, _, _ = get_json(base, "/api/sweeps/1/curves?latest=" + bad)
        check(st == 400, f"curves?latest={bad}: {st}")

    cli = json.loads(env.carbs("laws", "1", "--at-cost", "7.5", "--format", "json").stdout)
    st, _, at = get_json(base, "/api/sweeps/1/at-cost?cost=7.5")
    check(st == 200 and at == cli, f"at-cost equals the CLI: {at} vs {cli}")

    st, hdrs, body = request(base, "/")
    check(st == 200 and hdrs["content-type"].startswith("text/html") and b"dashboard.js" in body,
          "index page")
    check(request(base, "/dashboard.js")[0] == 200 and request(base, "/dashboard.css")[0] == 200,
          "page files")
    check(request(base, "/", method="HEAD")[0] == 200, "HEAD")


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
        time.sleep(0.3)
    check(run.wait(timeout=60) == 0, "the live sweep finished")
    check(seen_served and seen_running, f"saw the service ({seen_served}) and running trials "
          f"({seen_running})")
    check(len(done) >= 2 and done == sorted(done), f"done counts grew: {done}")
    check(seen_held, "a connected worker with its current trial")
    check(pages and all(st == 200 for st in pages), f"the live sweep's page: {pages}")
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
    check(st == 200 and sw["law"] is None and sw["law_band"] is None and sw["trials"] == []
          and sw["eta_seconds"] is None and sw["best_trial"] is None, f"empty sweep: {st} {sw}")
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
