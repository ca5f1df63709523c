#!/bin/sh
# test_verify.sh - predict, then verify (docs/scaling-laws.md): `carbs laws
# --at-flops` on a sweep whose cost is seconds but whose records carry
# flops, n_params and tokens (N and D given, the same answer as the flops
# sweep of the same records); `carbs laws --verify` on a short `carbs run`
# of the synthetic scaling function, offline (queued in the store, run by
# the next `carbs run`) and against a running service (run by a `carbs
# worker`): the queued trial's parameters equal the at-cost prediction, it
# runs, and `carbs laws` shows predicted vs observed (table and JSON) and
# keeps it out of the fit; refusals where the law cannot predict, and
# misuse.  The worker-key refusal of `verify` is in test_trust.c (the CLI
# speaks only to the control endpoint, where its user is an admin).
# Needs CARBS_BIN, CARBS_SOURCE_ROOT and python3; prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
tmp_start verify
data=$root/tests/data/laws

# pycheck 'EXPR': a python expression over j = the JSON in $tmp/out (and
# k = the JSON in $tmp/keep, when it exists)
pycheck() {
    python3 -c "
import json, math, os, sys
j = json.load(open(sys.argv[1]))
k = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else None
sys.exit(0 if ($1) else 1)" "$tmp/out" "$tmp/keep" ||
        { bad "JSON check failed: $1: $(head -c 600 "$tmp/out")"; return 1; }
}
keep() { cp "$tmp/out" "$tmp/keep"; }

# ---- --at-flops: N and D whatever the cost ----

# The records of test_laws_cli with the cost in seconds (not proportional
# to the FLOPs: a per-trial speed that varies by up to 40 %) and the FLOPs
# as a reported metric.
awk -f "$data/gen_records.awk" >"$tmp/rec.jsonl"
python3 - "$tmp/rec.jsonl" "$tmp/wall.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for i, line in enumerate(f):
        r = json.loads(line)
        r.setdefault("metrics", {})["flops"] = r["cost"]
        r["cost"] = r["cost"] / 3.1e13 * (1.0 + 0.4 * ((i * 7) % 11) / 11.0)
        g.write(json.dumps(r) + "\n")
EOF
sed 's/^name: lm-laws/name: lm-secs/; s/^cost: {name: flops}/cost: {name: wall_seconds}/' \
    "$data/sweep.yaml" >"$tmp/secs.yaml"
if run 0 c sweep create "$data/sweep.yaml" && run 0 c import lm-laws "$tmp/rec.jsonl" &&
    run 0 c sweep create "$tmp/secs.yaml" && run 0 c import lm-secs "$tmp/wall.jsonl"; then ok; fi

# in seconds: a prediction, but no N and D, and the answer says how to get them
if run 0 c laws lm-secs --at-cost 5e7 &&
    pycheck 'j["cost_name"] == "wall_seconds" and j["compute_optimal"] is None' &&
    pycheck '"--at-flops" in j["compute_optimal_why"]'; then ok; fi
# in FLOPs: the laws refitted to the flops metric, with N and D at C = 6 N D,
# the same answer as the sweep whose cost is flops
if run 0 c laws lm-laws --at-cost 1e21 && keep && run 0 c laws lm-secs --at-flops 1e21 &&
    pycheck 'j["cost_name"] == "flops" and j["cost"] == 1e21 and j["status"] == "OK"' &&
    pycheck 'abs(6 * j["compute_optimal"]["n_params"] * j["compute_optimal"]["tokens"] / 1e21 - 1) < 1e-9' &&
    pycheck 'abs(j["compute_optimal"]["n_params"] / k["compute_optimal"]["n_params"] - 1) < 1e-9' &&
    pycheck 'abs(j["metric"]["predicted"]["value"] / k["metric"]["predicted"]["value"] - 1) < 1e-9' &&
    pycheck 'j["params"]["learning_rate"]["value"] == k["params"]["learning_rate"]["value"]'
then ok; fi
rm -f "$tmp/keep"
if run 0 c laws lm-secs --at-flops 1e21 --format table && has out '^at flops = 1e+21' &&
    has out '^compute-optimal n_params  *[0-9.e+]' && has out '^compute-optimal tokens'; then ok; fi
# the whole fit in seconds still carries the N, D law (it needs no cost)
if run 0 c laws lm-secs && pycheck 'j["cost"] == "wall_seconds" and j["nd"]["status"] == "OK"' &&
    pycheck 'j["verifications"] == []'; then ok; fi
# records without a flops metric cannot answer in FLOPs
sed 's/^name: lm-laws/name: lm-noflops/; s/^cost: {name: flops}/cost: {name: wall_seconds}/' \
    "$data/sweep.yaml" >"$tmp/noflops.yaml"
if run 0 c sweep create "$tmp/noflops.yaml" && run 0 c import lm-noflops "$tmp/rec.jsonl" &&
    run 1 c laws lm-noflops --at-flops 1e21 &&
    has err "sweep 'lm-noflops': cannot predict: no successful trial reports flops" &&
    [ ! -s "$tmp/out" ]; then ok; fi

# ---- verify offline: queued in the store, run by the next `carbs run` ----

cat >"$tmp/run.yaml" <<'EOF'
name: lm-run
metric: {name: loss, goal: minimize}
cost: {name: flops}
trainer: synthetic
synthetic: {function: scaling}
scaling: {model_size: n_params, tokens: tokens}
parameters:
  n_params: {space: log, min: 1e5, max: 1e9, center: 1e7}
  tokens: {space: log, min: 1e6, max: 1e11, center: 1e9}
carbs: {seed: 5, num_random_samples: 6}
budget: {trials: 24, parallel: 1}
EOF
if run 0 c run "$tmp/run.yaml" --quiet --workers 1 && run 0 c laws lm-run &&
    pycheck 'j["n_trials"] == 24 and j["loss"]["status"] == "OK"'; then ok; fi
C=$(python3 -c "import json; print('%.6g' % (0.9 * json.load(open('$tmp/out'))['holdout']['valid_max_cost']))")

# the prediction, then the verification run of the same cost: its params are
# the at-cost answer (the compute-optimal N and D: they spend exactly C)
if run 0 c laws lm-run --at-cost "$C" && keep &&
    run 0 c laws lm-run --verify --at-cost "$C" && has err 'verification trial [0-9]* queued' &&
    pycheck 'j["trial_id"] > 24 and j["sweep"] == "lm-run" and j["cost_name"] == "flops"' &&
    pycheck 'j["estimator"] == "joint" and j["level"] == 0.9' &&
    pycheck 'j["predicted"] == k["metric"]["predicted"]' &&
    pycheck 'sorted(j["params"]) == ["n_params", "tokens"]' &&
    pycheck 'abs(j["params"]["n_params"] / k["compute_optimal"]["n_params"] - 1) < 1e-9' &&
    pycheck 'abs(j["params"]["tokens"] / k["compute_optimal"]["tokens"] - 1) < 1e-9'
then ok; fi
cp "$tmp/out" "$tmp/queued"
rm -f "$tmp/keep"
t1=$(python3 -c "import json; print(json.load(open('$tmp/queued'))['trial_id'])")
# pending: shown, not observed, not in the fit; the done sweep is active again
if run 0 c laws lm-run && pycheck 'j["n_trials"] == 24 and len(j["verifications"]) == 1' &&
    pycheck 'j["verifications"][0]["state"] == "pending" and j["verifications"][0]["observed"] is None' &&
    pycheck "j['verifications'][0]['inside'] is None and j['verifications'][0]['trial'] == $t1" &&
    run 0 c status lm-run && pycheck 'j["sweeps"][0]["state"] == "active"' &&
    pycheck 'j["sweeps"][0]["trials"]["pending"] == 1'; then ok; fi
if run 0 c laws lm-run --format table && has out '^verification runs:' &&
    has out "^  $t1  *flops .* joint .* pending"; then ok; fi

# the next run hands it out; the sweep is done again, and the laws show
# predicted vs observed, the run still out of the fit
if run 0 c run "$tmp/run.yaml" --quiet --workers 1 && run 0 c laws lm-run &&
    pycheck 'j["n_trials"] == 24 and j["verifications"][0]["state"] == "done"' &&
    pycheck 'math.isfinite(j["verifications"][0]["observed"])' &&
    pycheck 'abs(j["verifications"][0]["observed_cost"] / j["verifications"][0]["cost"] - 1) < 1e-6' &&
    pycheck 'j["verifications"][0]["inside"] == (j["verifications"][0]["lo"] <= j["verifications"][0]["observed"] <= j["verifications"][0]["hi"])'
then ok; fi
# (its relative error: the synthetic surface is smooth, the law close)
if pycheck 'abs(j["verifications"][0]["observed"] / j["verifications"][0]["predicted"] - 1) < 0.05'
then ok; fi
if run 0 c laws lm-run --format table &&
    has out "^  $t1  *flops .* joint .*(90%)  *[0-9.]* ([-+][0-9.]*%)  *[0-9.e+]*  *\\(yes\\|NO\\)\$"
then ok; fi
if run 0 c status lm-run && pycheck 'j["sweeps"][0]["state"] == "done"' &&
    pycheck 'j["sweeps"][0]["trials"]["done"] == 25'; then ok; fi
# `carbs plot` draws the front the laws were fitted to: the verification run, dearer and
# better than every trial, is not on it (it once was, as the sweep's best point)
if run 0 c plot lm-run --out "$tmp/plot" --no-gnuplot &&
    ! awk -v t="$t1" '$1 == t' "$tmp/plot/front.dat" | grep -q . &&
    [ "$(grep -vc '^#' "$tmp/plot/front.dat")" -ge 3 ]
then ok; else bad "the plotted front holds verification trial $t1"; fi
# the trial ran the queued configuration
if run 0 c export lm-run && grep "\"id\":$t1," "$tmp/out" >"$tmp/t25" &&
    python3 -c "
import json, sys
t = json.load(open(sys.argv[1])); q = json.load(open(sys.argv[2]))
sys.exit(0 if t['params'] == q['params'] else 1)" "$tmp/t25" "$tmp/queued"; then ok; else
    bad "trial $t1 did not run the queued params: $(head -c 400 "$tmp/t25")"
fi

# ---- verify against a running service, run by a worker ----

# (the imported sweeps are stopped first: the worker's one trial is the verification run)
ep="ipc://$tmp/svc"
if run 0 c sweep stop lm-laws && run 0 c sweep stop lm-noflops && run 0 c sweep stop lm-secs &&
    serve_start "$ep" && run 0 c laws lm-run --verify --at-cost 2e20 --format table &&
    has out "^verification trial [0-9]* queued in sweep 'lm-run': at flops 2e+20 the joint law predicts" &&
    has out '^  n_params = ' && run 0 c status lm-run && pycheck 'j["source"] == "service"' &&
    pycheck 'j["sweeps"][0]["state"] == "active" and j["sweeps"][0]["trials"]["pending"] == 1'
then ok; fi
"$carbs" --log-level warn worker --connect "$ep" --id w-verify --once >"$tmp/worker.log" 2>&1
if run 0 c laws lm-run && pycheck 'len(j["verifications"]) == 2' &&
    pycheck 'j["verifications"][1]["trial"] > j["verifications"][0]["trial"]' &&
    pycheck 'j["verifications"][1]["state"] == "done" and j["verifications"][1]["cost"] == 2e20' &&
    pycheck 'j["n_trials"] == 24'; then ok; else cat "$tmp/worker.log" >&2; fi
serve_stop

# beyond the validated range: queued (checking it is the point), with a note
if run 0 c laws lm-run --verify --at-cost 1e23 &&
    has err 'note: flops 1e+23 is beyond the holdout-validated range' &&
    pycheck 'j["cost"] == 1e23'; then ok; fi

# a categorical takes the value of the sweep's best trial
sed 's/^name: lm-run/name: lm-cat/; s/^  tokens: .*/&\n  decay: {values: [cosine, linear]}/' \
    "$tmp/run.yaml" >"$tmp/cat.yaml"
if run 0 c run "$tmp/cat.yaml" --quiet --workers 1 && run 0 c pareto lm-cat --format json &&
    best=$(python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(min(rows, key=lambda r: r['output'])['params']['decay'])" "$tmp/out") &&
    run 0 c laws lm-cat --verify --at-cost 5e20 &&
    pycheck "sorted(j['params']) == ['decay', 'n_params', 'tokens'] and j['params']['decay'] == '$best'"
then ok; fi

# ---- refusals ----

# a law that cannot predict: no trial is queued
sed 's/^name: lm-laws/name: narrow/' "$data/sweep.yaml" >"$tmp/narrow.yaml"
awk -F'"cost":' '{ split($2, a, /[,}]/); c = a[1] + 0; if (c >= 1e17 && c <= 6e17) print }' \
    "$tmp/rec.jsonl" >"$tmp/narrow.jsonl"
if run 0 c sweep create "$tmp/narrow.yaml" && run 0 c import narrow "$tmp/narrow.jsonl" &&
    run 1 c laws narrow --verify --at-cost 1e19 &&
    has err "carbs: error: sweep 'narrow': cannot predict: the costs span" && [ ! -s "$tmp/out" ] &&
    run 0 c laws narrow && pycheck 'j["verifications"] == []'; then ok; fi
# a stopped sweep takes no verification run
if run 1 c laws lm-secs --verify --at-flops 1e20 &&
    has err "sweep 'lm-secs' is stopped"; then ok; fi

# ---- misuse ----

if run 2 c laws lm-run --verify && has err '--verify needs --at-cost C or --at-flops F'; then ok; fi
if run 2 c laws lm-run --at-cost 1e20 --at-flops 1e20 && has err 'one of --at-cost and --at-flops'
then ok; fi
if run 2 c laws lm-run --stored --verify --at-cost 1e20 && has err 'cannot verify'; then ok; fi
if run 2 c laws lm-run --at-flops -3 && has err "'-3' is not a positive number"; then ok; fi
if run 0 c laws --help && has out '--verify' && has out '--at-flops'; then ok; fi

finish
