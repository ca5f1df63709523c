#!/bin/sh
# test_asktell.sh - drive `carbs ask-tell` through a 200-trial loop from a
# python3 driver: init, suggest/observe with failures and NaN outputs,
# forget, bad lines, unknown ids, the Pareto reply and quit.  Prints
# "N passed, N failed" (cases) and exits non-zero on any failure.
# Needs CARBS_BIN (set by meson); exits 77 when python3 is missing.
set -u
. "$(dirname "$0")/lib.sh"
need python3

exec python3 - "$carbs" <<'PY'
import json, math, random, subprocess, sys

carbs = sys.argv[1]
proc = subprocess.Popen([carbs, "ask-tell"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, bufsize=1)
passed = failed = 0
current = None
errors = []


def case(name):
    global current
    current = name


def check(cond, what):
    if not cond:
        errors.append("%s: %s" % (current, what))
    return cond


def close_case():
    global passed, failed, errors
    if errors:
        failed += 1
        for e in errors:
            print("FAIL", e, file=sys.stderr)
    else:
        passed += 1
    errors = []


def send(obj_or_line):
    line = obj_or_line if isinstance(obj_or_line, str) else json.dumps(obj_or_line)
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    reply = proc.stdout.readline()
    if not reply:
        raise SystemExit("carbs ask-tell closed its output")
    return json.loads(reply)


SPACE = [
    {"name": "params_m", "kind": "log", "min": 1, "max": 1000, "center": 10, "is_integer": True},
    {"name": "tokens_b", "kind": "log", "min": 0.1, "max": 1000, "center": 2},
    {"name": "lr", "kind": "log", "min": 1e-5, "max": 1e-1, "center": 3e-3},
    {"name": "warmup", "kind": "logit", "min": 0.001, "max": 0.5, "center": 0.05, "scale": 0.5},
]


def loss(p):
    """A Chinchilla-like surface: known optimum lr 2e-3 at every size."""
    n, d, lr = p["params_m"], p["tokens_b"], p["lr"]
    base = 1.7 + 4.0 / n ** 0.34 + 4.1 / d ** 0.28
    return base + 0.3 * (math.log10(lr / 2e-3)) ** 2 + 0.05 * abs(math.log10(p["warmup"] / 0.03))


def cost(p):
    return 6 * p["params_m"] * p["tokens_b"]


# ---- before init ----
case("suggest before init is refused")
r = send({"cmd": "suggest"})
check(r.get("ok") is False and "init" in r.get("error", ""), r)
close_case()

case("bad lines get an error and the loop goes on")
for bad in ["not json", "[1,2]", '{"cmd":"fly"}', '{"nocmd":1}', '{"cmd":"init","space":[]}',
            '{"cmd":"init","space":[{"name":"x","kind":"cubic","center":1}]}']:
    r = send(bad)
    check(r.get("ok") is False and r.get("error"), (bad, r))
close_case()

# ---- init ----
case("init with unknown keys ignored")
r = send({"cmd": "init", "seed": 7, "better_direction_sign": -1, "space": SPACE,
          "extra": [1, 2],
          "config": {"num_random_samples": 4, "max_suggestion_cost": 2e5,
                     "wandb_params": {"project": "x"}, "is_saved_on_every_observation": False}})
check(r.get("ok") is True, r)
check("wandb_params" in r.get("warning", ""), r)
# long keys are cut to 64 bytes and the list to its room, between characters
keys = {"a" * 63 + "\u00e9": 1}
keys.update({"\u00e9" * 40 + str(i): 1 for i in range(9)})
r = send({"cmd": "init", "space": SPACE, "config": keys})
check(r.get("ok") is True and "'" + "a" * 63 + "'" in r.get("warning", ""), r)
close_case()

case("config errors are reported")
r = send({"cmd": "init", "space": SPACE, "config": {"num_random_samples": 0}})
check(r.get("ok") is False and "num_random_samples" in r.get("error", ""), r)
r = send({"cmd": "init", "space": SPACE, "config": {"outstanding_suggestion_estimator": "x"}})
check(r.get("ok") is False, r)
close_case()

# the failed inits above left the first optimizer in place
rng = random.Random(11)
ids = set()
kinds = {}
best = math.inf
best_at = {}
spent = 0.0
n_fail = 0
case("200-trial loop")
for t in range(200):
    s = send({"cmd": "suggest"})
    if not check("id" in s and "params" in s, s):
        break
    check(s["id"] not in ids, "duplicate id %s" % s["id"])
    ids.add(s["id"])
    kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    p = s["params"]
    check(set(p) == {x["name"] for x in SPACE}, p)
    check(1 <= p["params_m"] <= 1000 and p["params_m"] == int(p["params_m"]), p)
    check(1e-5 <= p["lr"] <= 1e-1 and 0.001 <= p["warmup"] <= 0.5, p)
    if t % 37 == 36:  # an infrastructure failure: forget and move on
        r = send({"cmd": "forget", "id": s["id"]})
        check(r.get("ok") is True, r)
        continue
    y, c = loss(p), cost(p)
    failure = p["lr"] > 0.03  # diverges
    obs = {"cmd": "observe", "id": s["id"], "params": p, "cost": c, "is_failure": failure,
           "output": None if failure else y, "unused": "ignored"}
    if t % 23 == 5:
        obs["output"] = None  # a NaN loss: a failure, not an error
        obs["is_failure"] = False
        failure = True
    r = send(obs)
    check(r.get("ok") is True, r)
    n_fail += failure
    if not failure:
        spent += c
        best = min(best, y)
    best_at[t] = best
close_case()

case("kinds: warm-up, BO and resamples all happened")
check(kinds.get("random", 0) >= 4, kinds)
check(kinds.get("bo", 0) + kinds.get("fallback", 0) > 100, kinds)
check(kinds.get("resample", 0) >= 10, kinds)
close_case()

case("search improves on the warm-up")
check(best_at[199] < best_at[9], (best_at[9], best_at[199]))
check(best_at[199] < best_at[9], (best_at[9], best_at[199]))
close_case()

case("unknown ids")
r = send({"cmd": "forget", "id": "999999"})
check(r.get("ok") is False and "999999" in r.get("error", ""), r)
r = send({"cmd": "forget"})
check(r.get("ok") is False, r)
p0 = {"params_m": 12, "tokens_b": 3.5, "lr": 2.5e-3, "warmup": 0.04}
r = send({"cmd": "observe", "id": "nope-17", "params": p0, "output": 4.25, "cost": 252})
check(r.get("ok") is True and "nope-17" in r.get("warning", ""), r)
close_case()

case("a second observe of one suggestion is refused")
front0 = send({"cmd": "pareto"}).get("pareto", [])
r = send({"cmd": "observe", "id": "1", "params": p0, "output": -1e9, "cost": 1e-6})
check(r.get("ok") is False and "observed already" in r.get("error", ""), r)
check(send({"cmd": "pareto"}).get("pareto", []) == front0, "the front changed")
close_case()

case("blank lines are skipped without a reply")
proc.stdin.write("\n\r\n")
r = send({"cmd": "pareto"})
check("pareto" in r, r)
close_case()

case("bad observations are rejected")
r = send({"cmd": "observe", "params": p0, "output": 4.0, "cost": 0})
check(r.get("ok") is False and "cost" in r.get("error", ""), r)
r = send({"cmd": "observe", "params": p0, "output": 4.0, "cost": -3})
check(r.get("ok") is False, r)
bad = dict(p0, lr=0.5)
r = send({"cmd": "observe", "params": bad, "output": 4.0, "cost": 3})
check(r.get("ok") is False and "lr" in r.get("error", ""), r)
r = send({"cmd": "observe", "params": {"lr": 1e-3}, "output": 4.0, "cost": 3})
check(r.get("ok") is False, r)
r = send({"cmd": "observe", "params": p0, "output": "high", "cost": 3})
check(r.get("ok") is False, r)
close_case()

case("pareto front: ascending cost, strictly better output")
r = send({"cmd": "pareto"})
front = r.get("pareto", [])
check(len(front) >= 3, r)
for a, b in zip(front, front[1:]):
    check(a["cost"] < b["cost"] and a["output"] > b["output"], (a, b))
check(all(x["n"] >= 1 and set(x["params"]) == {s["name"] for s in SPACE} for x in front), front)
check(abs(front[-1]["output"] - best) < 1e-9 or front[-1]["output"] <= best + 1e-9,
      (front[-1], best))
close_case()

case("examples/asktell.py, the example of docs/cli.md, runs as written")
import os
env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(carbs)) + os.pathsep +
           os.environ.get("PATH", ""))
root = os.environ["CARBS_SOURCE_ROOT"]
ex = subprocess.run([sys.executable, os.path.join(root, "examples", "asktell.py")], env=env,
                    capture_output=True, text=True, timeout=300)
check(ex.returncode == 0, ex.stderr[-400:])
rows = [l for l in ex.stdout.splitlines() if l.strip()]
check(len(rows) >= 3, "front rows: %r" % ex.stdout[-400:])
check(all(len(l.split()) >= 3 for l in rows), ex.stdout[-400:])
close_case()

case("quit ends the loop with status 0")
r = send({"cmd": "quit"})
check(r.get("ok") is True, r)
proc.stdin.close()
rc = proc.wait(timeout=60)
check(rc == 0, rc)
check(proc.stdout.read() == "", "output after quit")
close_case()

print("%d passed, %d failed" % (passed, failed))
print("trials=%d failures=%d spent=%.4g best=%.4f kinds=%s" % (len(ids), n_fail, spent, best,
      kinds), file=sys.stderr)
sys.exit(1 if failed else 0)
PY
