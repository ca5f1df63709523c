#!/usr/bin/env python3
"""demo-answer.py - the block that closes `./carbs.sh demo`: what the scaling laws say at one cost.

    tools/demo-answer.py LAWS.json AT.json SWEEP.json TRIALS.jsonl

LAWS.json is `carbs laws SWEEP --format json`, AT.json `carbs laws SWEEP --format json
--at-cost C`, SWEEP.json `carbs sweep show SWEEP`, TRIALS.jsonl `carbs export SWEEP`.  Prints,
one labelled line each: the law and the trials it was fitted to; the holdout's errors and the
range they validate; then the expected metric at C with its 90 % interval, the configuration
to run there (the parameter lines, rounded as the sweep rounds them; a searched model size or
tokens the compute-optimal N or D, as `carbs laws --verify` queues them; the best trial's value
for a parameter whose line was refused; and the fixed values, as a `carbs train` command), the
compute-optimal N and D and where they come from, and each verification run, predicted against
observed; or, where the laws may not predict, their reason and no number.  Verification runs
are never part of the fit, nor of the span shown.  Reads only the JSON documented in
docs/scaling-laws.md; exits 0.
"""
import json, math, sys

laws = json.load(open(sys.argv[1]))
at = json.load(open(sys.argv[2]))
spec = json.load(open(sys.argv[3]))["spec"]
trials = [json.loads(l) for l in open(sys.argv[4]) if l.strip()]

def g(x):
    return "-" if x is None else f"{x:.4g}"

cost, metric, unit = at["cost"], at["metric"]["name"], laws["cost"]
loss, hold, nd = laws["loss"], laws["holdout"], laws["nd"]
verifs = laws.get("verifications") or []
vids = {v["trial"] for v in verifs}
# verification runs are never part of the fit: leave them out here too
ok = [t for t in trials if t.get("state") == "done" and t.get("cost") and t["id"] not in vids]
costs = [t["cost"] for t in ok]
decades = "-"
if costs and min(costs) > 0:
    decades = f"{math.log10(max(costs) / min(costs)):.2f}"
print(f"law:      {metric} = E + A * {unit}^-alpha, E = {g(loss['E'])}, A = {g(loss['A'])}, "
      f"alpha = {g(loss['alpha'])} ({laws['estimator']} fit of {laws['n_trials']} trials, "
      f"{unit} {g(loss['c_min'])} to {g(loss['c_max'])}: {decades} decades)")
pts = hold.get("points") or []
if hold.get("status") == "OK" and pts:
    errs = ", ".join(f"{100 * (p - o) / o:+.2f} % at {p_c:.3g}" for p_c, o, p in pts)
    verdict = "passed" if hold.get("passed") else "FAILED"
    print(f"holdout:  refit on the trials up to {g(hold['train_max_cost'])} {unit}, it predicted "
          f"the {len(pts)} dearest front points with errors {errs} (allowed "
          f"{100 * hold['tol']:.0f} %): {verdict}; predictions are validated up to "
          f"{g(hold['valid_max_cost'])} {unit}")
else:
    print(f"holdout:  {hold.get('why') or 'not run'}")
pred = at["metric"].get("predicted")
if at["status"] != "OK" or not pred:
    print(f"at {unit} = {cost:.4g}: {at['why']}")
    print("          (no expected value, configuration or N, D beyond the trials: "
          "see the table above)")
    sys.exit(0)
where = "inside the trials' range" if not at["extrapolated"] else (
    "beyond the holdout-validated range: read the interval as a lower bound on the uncertainty"
    if at["beyond_validated"] else "within the holdout-validated range")
print(f"expected: {metric} {pred['value']:.4g}, 90 % interval [{g(pred['lo'])}, {g(pred['hi'])}] "
      f"at {unit} = {cost:.4g} ({where})")
params = spec.get("parameters", {})
co = at.get("compute_optimal")
# as `carbs laws --verify` queues it: a searched model size or tokens parameter takes the
# compute-optimal N or D, which spend exactly C = 6 N D
co_of = {nd.get("model_size"): "n_params", nd.get("tokens"): "tokens"} if co else {}
run = []
for name, v in at.get("params", {}).items():
    x, p = v["value"], params.get(name, {})
    if name in co_of:
        x = co[co_of[name]]
    if p.get("integer"):
        r = p.get("round", 1)
        x = int(r * round(x / r))
        run.append((name, str(x)))
    else:
        run.append((name, f"{x:.3g}"))
    if v.get("outside_range"):
        run[-1] = (run[-1][0], run[-1][1] + " (outside the searched range)")
# A searched parameter whose line was refused gets the best trial's value, said as such.
goal = spec.get("metric", {}).get("goal", "minimize")
scored = [t for t in ok if t.get("output") is not None]
best = (max if goal == "maximize" else min)(scored, key=lambda t: t["output"]) if scored else None
for ln in laws.get("lines", []):
    name = ln["name"]
    if name in at.get("params", {}) or name not in params:
        continue
    if name in co_of:
        # no line of its own, but the compute-optimal split gives it
        run.append((name, f"{co[co_of[name]]:.3g} (compute-optimal)"))
        continue
    if not best or name not in best["params"]:
        continue
    x = best["params"][name]
    why = (ln.get("why") or "not fitted").replace("cannot predict: ", "")
    run.append((name, f"{x:.3g} (the best trial's; no line: {why})"))
# N, D from the model-size line and that parameter rounded (d_model to its multiple): D is
# C / 6N of the rounded size, so that the run spends C, as `carbs laws --verify` queues it.
lp = params.get(nd.get("line_param"), {})
if co and nd.get("source") == "line" and nd.get("line_of") == "model_size" and \
        lp.get("space") == "log" and nd.get("tokens") in co_of and "ln_v0" in nd:
    vals = dict(run)
    if nd["line_param"] in vals:
        u = math.log10(float(vals[nd["line_param"]].split()[0])) / (lp.get("scale") or 1)
        D = cost / (6 * math.exp(nd["ln_v0"] + nd["ln_v_slope"] * u))
        run = [(n, f"{D:.3g} (C / 6N of this {nd['line_param']})" if n == nd["tokens"] else x)
               for n, x in run]
shown = ", ".join(f"{n} {x}" for n, x in run)
print(f"run:      {shown or '(no parameter line could be fitted)'}")
fixed = spec.get("fixed", {})
if spec.get("trainer") == "embedded":
    sets = [f"--set {n}={x.split()[0]}" for n, x in run]
    sets += [f"--set {n}={v}" for n, v in fixed.items()]
    print(f"          carbs train {' '.join(sets)}")
elif fixed:
    print("          with " + ", ".join(f"{n} {v}" for n, v in fixed.items()) + " (fixed)")
size_name = nd.get("model_size") or "n_params"
if co:
    sizes = {}
    for t in ok:
        m, prm = t.get("metrics", {}), t.get("params", {})
        if "d_model" in prm and m.get(size_name):
            sizes[int(prm["d_model"])] = m[size_name]
    near = min(sizes, key=lambda d: abs(math.log(sizes[d] / co["n_params"]))) if sizes else None
    hint = (f"; the sweep's nearest model: d_model {near}, {size_name} {sizes[near]:.4g}"
            if near else "")
    if nd.get("source") == "line":
        first, other = ("D", "N") if nd.get("line_of") == "tokens" else ("N", "D")
        how = (f"{first} from the joint model's optimum line of {nd.get('line_param')}, N_opt ~ "
               f"C^{g(nd['a'])} [{g(nd.get('a_lo'))}, {g(nd.get('a_hi'))}]; "
               f"{other} = C / 6{first}")
    else:
        how = (f"L(N, D) law, N_opt ~ C^{g(nd['a'])} [{g(nd.get('a_lo'))}, {g(nd.get('a_hi'))}]; "
               "C = 6ND")
    print(f"N, D:     compute-optimal {size_name} {co['n_params']:.4g}, tokens {co['tokens']:.4g} "
          f"({how}{hint})")
else:
    print(f"N, D:     {at.get('compute_optimal_why') or nd.get('why')}")
for v in verifs:
    if v.get("observed") is None:
        print(f"verified: trial {v['trial']} at {v['cost_name']} {v['cost']:.4g} has not run "
              f"({v['state']})")
        continue
    err = 100 * (v["observed"] - v["predicted"]) / v["predicted"]
    print(f"verified: trial {v['trial']} at {v['cost_name']} {v['cost']:.4g}: predicted "
          f"{v['predicted']:.4g} [{g(v['lo'])}, {g(v['hi'])}], observed {v['observed']:.4g} "
          f"({err:+.2f} %), {'inside' if v.get('inside') else 'OUTSIDE'} the interval")
