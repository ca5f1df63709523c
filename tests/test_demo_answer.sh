#!/bin/sh
# test_demo_answer.sh - tools/demo-answer.py, the block that closes `./carbs.sh demo`, on the
# records of tests/data/laws (a synthetic scaling surface of known law, as test_laws_cli.sh
# imports them): a law that may predict gives every line of the answer (law, holdout with its
# errors, the expected metric with its interval, the configuration as a `carbs train` command,
# the compute-optimal N and D) and its numbers are those of `carbs laws --at-cost`; a parameter
# whose line was refused gets the best trial's value, said as such; a sweep spanning less than
# a decade gives the reason and no number.  Needs CARBS_BIN,
# CARBS_SOURCE_ROOT and python3; prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
need python3
tmp_start demo-answer
data=$root/tests/data/laws

# answer SWEEP COST: the four JSON documents the demo reads, then the block, into $tmp/out
answer() {
    c laws "$1" --format json >"$tmp/laws.json" &&
        c laws "$1" --format json --at-cost "$2" >"$tmp/at.json" &&
        c sweep show "$1" >"$tmp/sweep.json" && c export "$1" >"$tmp/trials.jsonl" &&
        run 0 python3 "$root/tools/demo-answer.py" "$tmp/laws.json" "$tmp/at.json" \
            "$tmp/sweep.json" "$tmp/trials.jsonl"
}

if run 0 c sweep create "$data/sweep.yaml" && awk -f "$data/gen_records.awk" >"$tmp/rec.jsonl" &&
    run 0 c import lm-laws "$tmp/rec.jsonl"; then ok; fi

# A law that may predict: one line of each kind, in order, and the numbers of --at-cost.
if answer lm-laws 1e21 && [ "$(lines out)" -eq 5 ] &&
    has out '^law:      loss = E + A \* flops^-alpha, E = .* (joint fit of 33 trials, flops' &&
    has out '^holdout:  refit on the trials up to .* the 2 dearest front points with errors [-+][0-9.]* % at .*: passed; predictions are validated up to' &&
    has out '^expected: loss [0-9.]*, 90 % interval \[[0-9.]*, [0-9.]*\] at flops = 1e+21 (beyond the holdout-validated range' &&
    has out '^run:      n_params [0-9.e+]*, tokens [0-9.e+]*, learning_rate [0-9.e-]*$' &&
    has out '^N, D:     compute-optimal n_params [0-9.e+]*, tokens [0-9.e+]* (L(N, D) law, N_opt ~ C^0[.][0-9]* \[0[.][0-9]*, 0[.][0-9]*\]; C = 6ND)$'
then ok; fi
# An embedded-trainer sweep also gets the configuration as a `carbs train` command, its
# searched values first, then the fixed ones.
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["spec"]["trainer"] = "embedded"
d["spec"]["fixed"] = {"n_layers": 2, "mcq_items": 50}; json.dump(d, open(sys.argv[1], "w"))' \
    "$tmp/sweep.json"
if run 0 python3 "$root/tools/demo-answer.py" "$tmp/laws.json" "$tmp/at.json" "$tmp/sweep.json" \
    "$tmp/trials.jsonl" && [ "$(lines out)" -eq 6 ] &&
    has out '^          carbs train --set n_params=[0-9.e+]* --set tokens=[0-9.e+]* --set learning_rate=[0-9.e-]* --set n_layers=2 --set mcq_items=50$'
then ok; fi
if python3 - "$tmp/at.json" "$tmp/out" <<'PY'; then ok; else bad "the block's numbers are not --at-cost's"; fi
import json, re, sys
at = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
pred = at["metric"]["predicted"]
m = re.search(r"^expected: loss (\S+), 90 % interval \[(\S+), (\S+)\]", out, re.M)
got = [float(x) for x in m.groups()]
want = [pred["value"], pred["lo"], pred["hi"]]
assert all(abs(g / w - 1) < 1e-3 for g, w in zip(got, want)), (got, want)
m = re.search(r"compute-optimal n_params (\S+), tokens (\S+) ", out)
co = at["compute_optimal"]
assert abs(float(m.group(1)) / co["n_params"] - 1) < 1e-3 and abs(float(m.group(2)) / co["tokens"] - 1) < 1e-3
m = re.search(r"--set learning_rate=(\S+)", out)
assert abs(float(m.group(1)) / at["params"]["learning_rate"]["value"] - 1) < 5e-3
# the model size and tokens to run are the compute-optimal N and D, as --verify queues them
m = re.search(r"--set n_params=(\S+) --set tokens=(\S+)", out)
assert abs(float(m.group(1)) / co["n_params"] - 1) < 5e-3 and abs(float(m.group(2)) / co["tokens"] - 1) < 5e-3
PY

# N and D from the size parameter's line, and a verification run, said as such; a
# verification run is not a trial of the sweep (its cost does not set the span).
python3 -c 'import json, sys
laws = json.load(open(sys.argv[1]))
laws["nd"].update(source="line", line_param="n_params", line_of="model_size", law_why="no optimum")
laws["verifications"] = [
    {"trial": 900, "state": "done", "cost": 2e21, "cost_name": "flops", "estimator": "joint",
     "predicted": 2.25, "lo": 2.2, "hi": 2.3, "level": 0.9, "observed": 2.268,
     "observed_cost": 2e21, "inside": True, "message": None},
    {"trial": 901, "state": "pending", "cost": 3e21, "cost_name": "flops", "estimator": "joint",
     "predicted": 2.2, "lo": 2.1, "hi": 2.3, "level": 0.9, "observed": None,
     "observed_cost": None, "inside": None, "message": None}]
json.dump(laws, open(sys.argv[1], "w"))' "$tmp/laws.json"
python3 -c 'import json, sys
t = json.loads(open(sys.argv[1]).readline()); t.update(id=900, cost=2e21)
open(sys.argv[1], "a").write(json.dumps(t) + "\n")' "$tmp/trials.jsonl"
if run 0 python3 "$root/tools/demo-answer.py" "$tmp/laws.json" "$tmp/at.json" "$tmp/sweep.json" \
    "$tmp/trials.jsonl" &&
    has out '^law:      .* flops 1e+15 to 1e+20: 5.00 decades)$' &&
    has out '^N, D:     compute-optimal n_params [0-9.e+]*, tokens [0-9.e+]* (N from the joint model.s optimum line of n_params, N_opt ~ C^0[.][0-9]* \[0[.][0-9]*, 0[.][0-9]*\]; D = C / 6N)$' &&
    has out '^verified: trial 900 at flops 2e+21: predicted 2.25 \[2.2, 2.3\], observed 2.268 (+0.80 %), inside the interval$' &&
    has out '^verified: trial 901 at flops 3e+21 has not run (pending)$'
then ok; fi

# A parameter whose line was refused: the best trial's value, said as such, and in the command.
python3 -c 'import json, sys
laws = json.load(open(sys.argv[1])); at = json.load(open(sys.argv[2]))
for l in laws["lines"]:
    if l["name"] == "learning_rate": l["status"], l["why"] = "ESTATE", "cannot predict: no optimum"
del at["params"]["learning_rate"]
json.dump(laws, open(sys.argv[1], "w")); json.dump(at, open(sys.argv[2], "w"))' \
    "$tmp/laws.json" "$tmp/at.json"
best=$(python3 -c 'import json, sys
t = [json.loads(l) for l in open(sys.argv[1])]
print("%.3g" % min((r for r in t if r.get("output") is not None), key=lambda r: r["output"])["params"]["learning_rate"])' \
    "$tmp/trials.jsonl")
if run 0 python3 "$root/tools/demo-answer.py" "$tmp/laws.json" "$tmp/at.json" "$tmp/sweep.json" \
    "$tmp/trials.jsonl" &&
    has out "^run:      .*, learning_rate $best (the best trial's; no line: no optimum)\$" &&
    has out "carbs train .* --set learning_rate=$best --set n_layers=2"
then ok; fi

# The demo's own trials (tests/data/laws/tiny-lm.jsonl): N and D from the d_model line, and the
# run's tokens are C / 6N of the rounded d_model, as `carbs laws --verify` would queue them.
if run 0 c sweep create "$root/examples/tiny-lm.yaml" &&
    run 0 c import tiny-lm "$data/tiny-lm.jsonl" && answer tiny-lm 1.15e13 &&
    has out '^N, D:     compute-optimal n_params_total [0-9.e+]*, tokens [0-9.e+]* (N from the joint model.s optimum line of d_model, ' &&
    python3 - "$tmp/out" "$data/tiny-lm.jsonl" <<'PY'
import json, re, sys
out = open(sys.argv[1]).read()
# n_params_total of the demo's model at each d_model (the trainer's reports; 64 is in no trial)
size = {16: 38736, 32: 88736, 48: 147696, 64: 220480}
for l in open(sys.argv[2]):
    t = json.loads(l)
    assert size[int(t["params"]["d_model"])] == t["metrics"]["n_params_total"]
m = re.search(r"^run: +d_model (\d+), .*tokens (\S+) \(C / 6N of this d_model\)", out, re.M)
d, D = int(m.group(1)), float(m.group(2))
# N of the rounded d_model comes from ln N = m + k u fitted over the trials: at d_model 64,
# which no trial tried, it is 6 % below the trainer's n_params_total (N is convex in ln d)
assert d % 16 == 0 and abs(6 * size[d] * D / 1.15e13 - 1) < 0.08, (d, D)
PY
then ok; else bad "the demo's run does not spend C = 6 N D"; fi

# Less than a decade of cost: the reason, the holdout line, and no number at all.
sed 's/^name: lm-laws/name: narrow/' "$data/sweep.yaml" >"$tmp/narrow.yaml"
awk -F'"cost":' '{ split($2, a, /[,}]/); c = a[1] + 0; if (c >= 1e17 && c <= 6e17) print }' \
    "$tmp/rec.jsonl" >"$tmp/narrow.jsonl"
if run 0 c sweep create "$tmp/narrow.yaml" && run 0 c import narrow "$tmp/narrow.jsonl" &&
    answer narrow 1e19 && has out '^at flops = 1e+19: cannot predict: the costs span' &&
    has out '^holdout:  ' && [ "$(lines out '^expected:\|^run:\|^N, D:\|carbs train')" -eq 0 ]
then ok; fi

finish
