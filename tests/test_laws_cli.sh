#!/bin/sh
# test_laws_cli.sh - `carbs laws` and `carbs plot` end to end, against a
# store in a temp dir: records of the synthetic scaling surface imported
# from tests/data/laws/gen_records.awk, the JSON fields (the known
# compute-optimal exponent recovered), golden tables for the laws and for
# --at-cost inside and beyond the validated range (and its JSON), the one
# front shared with `carbs pareto`, the stored fit, the "cannot predict"
# answers of a near-empty sweep and of one spanning less than a decade of
# cost (goldens, no number given), a short `carbs run` of the
# synthetic scaling function, the plot files, and exit codes (2 misuse,
# 1 runtime, 0 --help).  Needs CARBS_BIN and CARBS_SOURCE_ROOT and python3
# (to read JSON); prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
tmp_start laws-cli
data=$root/tests/data/laws

# same GOLDEN: stdout equals the golden file, its numbers within 1 % (BLAS
# kernels differ between CPUs: tests/golden_cmp.py); with
# CARBS_UPDATE_GOLDEN=1 it rewrites the golden instead (then review the diff
# before committing)
same() {
    if [ "${CARBS_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$tmp/out" "$1"; return 0; fi
    python3 "$root/tests/golden_cmp.py" "$1" "$tmp/out" >"$tmp/cmp" ||
        { bad "output differs from $1: $(cat "$tmp/cmp")"; diff "$1" "$tmp/out" >&2; return 1; }
}
# pycheck 'EXPR': evaluate a python expression over j = the JSON in $tmp/out
pycheck() {
    python3 -c "import json, math, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" \
        "$tmp/out" || { bad "JSON check failed: $1: $(head -c 400 "$tmp/out")"; return 1; }
}

# ---- a sweep of known law ----

if run 0 c sweep create "$data/sweep.yaml" && awk -f "$data/gen_records.awk" >"$tmp/rec.jsonl" &&
    run 0 c import lm-laws "$tmp/rec.jsonl" && has out '"imported":36'; then ok; fi

# JSON: the whole fit.  The surface's compute-optimal exponent is
# beta / (alpha + beta) = 0.28 / 0.62 = 0.4516; the learning-rate jitter
# of the records biases the fit a little, so allow 0.03.
if run 0 c laws lm-laws --format json &&
    pycheck 'j["v"] == 2 and j["metric"] == "loss" and j["cost"] == "flops" and j["full"]' &&
    pycheck 'j["n_trials"] == 33 and j["n_front"] >= 20 and j["loss"]["status"] == "OK"' &&
    pycheck 'j["estimator"] == "joint" and j["loss"]["bound"] == 0 and j["loss"]["E"] >= 0' &&
    pycheck 'j["holdout"]["max_rel_err"] <= j["holdout"]["tol"] == 0.03' &&
    pycheck 'j["loss"]["alpha_lo"] < j["loss"]["alpha"] < j["loss"]["alpha_hi"]' &&
    pycheck 'len(j["loss"]["boot"]) > 150 and all(len(r) == 3 for r in j["loss"]["boot"])' &&
    pycheck '[l["name"] for l in j["lines"]] == ["n_params", "tokens", "learning_rate"]' &&
    pycheck 'abs(j["nd"]["a"] - 0.4516) < 0.03 and abs(j["nd"]["a"] + j["nd"]["b"] - 1) < 1e-12' &&
    pycheck 'j["nd"]["a_lo"] < j["nd"]["a"] < j["nd"]["a_hi"] and j["nd"]["source"] == "law"' &&
    pycheck 'abs(j["lines"][0]["exponent"] - j["nd"]["a"]) < 0.05' &&
    pycheck 'j["holdout"]["k"] == 2 and j["holdout"]["passed"] and len(j["holdout"]["points"]) == 2'
then ok; fi

# one front: `carbs pareto` lists the points the laws were fitted to
if run 0 c pareto lm-laws --format json && [ "$(wc -l <"$tmp/out")" -eq 32 ]; then ok; else
    bad "carbs pareto lists $(wc -l <"$tmp/out") points, the laws' front has 32"
fi

# goldens: the table, and --at-cost inside and beyond the validated range
if run 0 c laws lm-laws --format table && same "$data/table.txt"; then ok; fi
if run 0 c laws lm-laws --at-cost 3.3e17 --format table && same "$data/at_cost_3.3e17.txt"; then ok; fi
if run 0 c laws lm-laws --at-cost 1e21 --format table && same "$data/at_cost_1e21.txt" &&
    has out 'WARNING: beyond the holdout-validated range'; then ok; fi

# --at-cost as JSON: a golden, the flags and the predicted values
if run 0 c laws 1 --at-cost 1e21 && same "$data/at_cost_1e21.json" &&
    pycheck 'j["extrapolated"] and j["beyond_validated"] and j["valid_max_cost"] < 1e21' &&
    pycheck 'j["metric"]["predicted"]["lo"] < j["metric"]["predicted"]["value"] < j["metric"]["predicted"]["hi"]' &&
    pycheck 'set(j["params"]) == {"n_params", "tokens", "learning_rate"}' &&
    pycheck 'abs(6 * j["compute_optimal"]["n_params"] * j["compute_optimal"]["tokens"] / 1e21 - 1) < 1e-9'
then ok; fi
if run 0 c laws lm-laws --at-cost 3.3e17 &&
    pycheck 'not j["extrapolated"] and not j["beyond_validated"]'; then ok; fi
# a prediction past the searched range of a parameter says so
if run 0 c laws lm-laws --at-cost 1e21 &&
    pycheck 'not any(p["outside_range"] for p in j["params"].values())'; then ok; fi
if run 0 c laws lm-laws --at-cost 1e30 &&
    pycheck 'j["params"]["n_params"]["outside_range"]' &&
    run 0 c laws lm-laws --at-cost 1e30 --format table &&
    has out 'note: n_params = .* is outside the range searched \[1e+05, 1e+10\]: no trial tried it'
then ok; fi

# the same records with a cost that is not FLOPs: no compute-optimal N and D
# (C = 6 N D would read seconds as FLOPs), and the answer says why
sed 's/^name: lm-laws/name: lm-wall/; s/^cost: {name: flops}/cost: {name: wall_seconds}/' \
    "$data/sweep.yaml" >"$tmp/wall.yaml"
if run 0 c sweep create "$tmp/wall.yaml" && run 0 c import lm-wall "$tmp/rec.jsonl" &&
    run 0 c laws lm-wall --at-cost 1e21 &&
    pycheck 'j["compute_optimal"] is None and "not flops" in j["compute_optimal_why"]' &&
    run 0 c laws lm-wall --at-cost 1e21 --format table &&
    has out 'compute-optimal n_params and tokens: not given (the cost is wall_seconds, not flops'
then ok; fi

# --stored: nothing stored yet (the CLI refits on the spot and never writes)
if run 1 c laws lm-laws --stored && has err 'no stored fit'; then ok; fi

# ---- not enough data ----

sed 's/^name: lm-laws/name: nearly-empty/' "$data/sweep.yaml" >"$tmp/empty.yaml"
if run 0 c sweep create "$tmp/empty.yaml" && head -n 2 "$tmp/rec.jsonl" >"$tmp/two.jsonl" &&
    run 0 c import nearly-empty "$tmp/two.jsonl"; then ok; fi
if run 1 c laws nearly-empty &&
    has err "carbs: error: sweep 'nearly-empty': cannot predict: not enough data" &&
    has err '2 pareto points' && [ ! -s "$tmp/out" ]; then ok; fi
if run 1 c laws nearly-empty --at-cost 1e20 --format table && has err 'cannot predict: not enough data' &&
    [ ! -s "$tmp/out" ]; then ok; fi

# ---- a law that cannot predict ----

# Less than a decade of cost: the fit is printed, its status is not OK, and
# --at-cost beyond the data gives the reason and no number.
sed 's/^name: lm-laws/name: narrow/' "$data/sweep.yaml" >"$tmp/narrow.yaml"
awk -F'"cost":' '{ split($2, a, /[,}]/); c = a[1] + 0; if (c >= 1e17 && c <= 6e17) print }' \
    "$tmp/rec.jsonl" >"$tmp/narrow.jsonl"
if run 0 c sweep create "$tmp/narrow.yaml" && run 0 c import narrow "$tmp/narrow.jsonl" &&
    run 0 c laws narrow &&
    pycheck 'j["loss"]["status"] == "ESTATE" and j["loss"]["why"].startswith("cannot predict: the costs span")' &&
    run 0 c laws narrow --at-cost 1e19 && same "$data/narrow_at_1e19.json" &&
    pycheck 'j["status"] == "ESTATE" and j["metric"]["predicted"] is None and j["params"] == {}' &&
    pycheck 'j["compute_optimal"] is None' &&
    run 0 c laws narrow --at-cost 1e19 --format table && same "$data/narrow_at_1e19.txt" &&
    run 0 c laws narrow --format table && has out '^status: cannot predict: the costs span'
then ok; fi
# its plot draws the law over the data only
if run 0 c plot narrow --out "$tmp/pn" --no-gnuplot && has err 'drawn over the data only' &&
    [ "$(awk '!/^#/ && $1 > 5.2e17' "$tmp/pn/law.dat" | wc -l)" -eq 0 ]; then ok; fi
# the plot still draws the trials, without laws
if run 0 c plot nearly-empty --out "$tmp/p0" --no-gnuplot && has err 'no fitted laws' &&
    [ -s "$tmp/p0/trials.dat" ] && [ ! -e "$tmp/p0/law.dat" ]; then ok; else bad "plot without laws"; fi

# ---- plots ----

if run 0 c plot lm-laws --out "$tmp/plots" --no-gnuplot; then
    missing=
    # imported records have no learning curves: curves.dat is empty
    for f in plot.gp trials.dat front.dat law.dat history.dat param_n_params.dat \
        param_tokens_fit.dat param_learning_rate_fit.dat; do
        [ -s "$tmp/plots/$f" ] || missing="$missing $f"
    done
    [ -e "$tmp/plots/curves.dat" ] || missing="$missing curves.dat"
    if [ -z "$missing" ] && grep -q 'set output "pareto."' "$tmp/plots/plot.gp" &&
        grep -q 'set logscale x' "$tmp/plots/plot.gp" &&
        grep -q 'set xlabel "flops (FLOPs)"' "$tmp/plots/plot.gp" &&
        [ "$(grep -vc '^#' "$tmp/plots/trials.dat")" -eq 33 ]; then ok; else
        bad "plot files missing:$missing"
    fi
fi
if command -v gnuplot >/dev/null 2>&1; then
    if run 0 c plot lm-laws --out "$tmp/drawn" && [ -s "$tmp/drawn/pareto.svg" ] &&
        [ -s "$tmp/drawn/pareto.png" ] && [ -s "$tmp/drawn/param_learning_rate.svg" ] &&
        [ -s "$tmp/drawn/history.png" ]; then ok; else bad "gnuplot did not draw the figures"; fi
else
    if run 0 c plot lm-laws --out "$tmp/nognu" && has err 'gnuplot-nox'; then ok; fi
fi

# ---- a real run of the synthetic scaling function ----

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
budget: {trials: 24, parallel: 2}
EOF
# (with --sync normal: the same sweep, committed without waiting for the disk)
if run 0 "$carbs" --log-level warn --db "$tmp/r.db" run "$tmp/run.yaml" --quiet --workers 2 \
    --sync normal &&
    run 0 "$carbs" --db "$tmp/r.db" laws lm-run &&
    pycheck 'j["n_trials"] == 24 and j["nd"]["status"] == "OK" and j["nd"]["n"] == 24' &&
    pycheck '0.2 < j["nd"]["a"] < 0.7'; then ok; fi
# the service refit as results came in: the cheap fit after each, the full one every 10
if run 0 "$carbs" --db "$tmp/r.db" laws lm-run --stored --format json &&
    pycheck 'j["n_trials"] >= 20 and (j["full"] or j["n_trials"] > 20)'; then ok; fi

# ---- misuse and failures ----

if run 0 c laws --help && has out 'usage: carbs laws'; then ok; fi
if run 0 c plot --help && has out 'gnuplot-nox'; then ok; fi
if run 2 c laws && has err 'missing SWEEP'; then ok; fi
if run 2 c laws lm-laws --format csv && has err "unknown format 'csv'"; then ok; fi
if run 2 c laws lm-laws --at-cost -5 && has err 'not a positive number'; then ok; fi
if run 2 c laws lm-laws --bogus && has err 'unknown option'; then ok; fi
if run 2 "$carbs" --db "$tmp/r3.db" run "$tmp/run.yaml" --sync sometimes &&
    has err "--sync: 'sometimes' is neither full nor normal" && [ ! -e "$tmp/r3.db" ]
then ok; fi
if run 2 "$carbs" --db "$tmp/r3.db" serve --sync off && has err 'neither full nor normal'; then ok; fi
if run 2 c plot lm-laws --target-cost x; then ok; fi
if run 1 c laws no-such-sweep; then ok; fi
if run 1 "$carbs" --db "$tmp/none.db" laws lm-laws; then ok; fi

# ---- a demo sweep of the embedded trainer ----

# The 30 trials of a `./carbs.sh demo` run (examples/tiny-lm.yaml, 2026-12-08; their
# parameters, val_bpb, FLOPs, n_params_total and tokens).  At this scale a wider model loses on
# short runs, so the L(N, D) law puts E below 0 and is refused; N and D come from the joint
# model's optimum line of d_model, with a real band (its replicates once all stalled at the
# point estimate and gave [0.2872, 0.2872]), and the law-only holdout passes (with the
# penalties of each held-out trial's settings it once failed such runs at 4-10 %).
if run 0 c sweep create "$root/examples/tiny-lm.yaml" &&
    run 0 c import tiny-lm "$data/tiny-lm.jsonl" && has out '"imported":30' &&
    run 0 c laws tiny-lm --format json &&
    pycheck 'j["loss"]["status"] == "OK" and j["loss"]["E"] >= 0 and j["holdout"]["passed"]' &&
    pycheck 'j["nd"]["status"] == "OK" and j["nd"]["source"] == "line"' &&
    pycheck 'j["nd"]["line_param"] == "d_model" and j["nd"]["line_of"] == "model_size"' &&
    pycheck '"below the metric" in j["nd"]["law_why"] and j["nd"]["alpha"] is None' &&
    pycheck '0 < j["nd"]["a_lo"] < j["nd"]["a"] < j["nd"]["a_hi"] < 1' &&
    pycheck 'abs(j["nd"]["a"] + j["nd"]["b"] - 1) < 1e-12' &&
    pycheck 'j["lines"][0]["name"] == "d_model" and j["lines"][0]["status"] == "OK"' &&
    pycheck 'j["lines"][0]["slope_lo"] < j["lines"][0]["slope"] < j["lines"][0]["slope_hi"]' &&
    pycheck 'j["lines"][2]["slope_lo"] < j["lines"][2]["slope"] < j["lines"][2]["slope_hi"]'
then ok; fi
# --verify at 3x the dearest trial queues d_model rounded to its multiple of 16, and tokens
# that spend C = 6 N D with the N of that rounded d_model (the trials give N for each d_model)
if run 0 c laws tiny-lm --verify --at-cost 3.4e12 --format json && python3 - "$tmp/out" \
    "$data/tiny-lm.jsonl" <<'PY'; then ok; else bad "the verification run does not spend C = 6 N D"; fi
import json, sys
v = json.load(open(sys.argv[1]))
size = {}
for line in open(sys.argv[2]):
    t = json.loads(line)
    size[int(t["params"]["d_model"])] = t["metrics"]["n_params_total"]
d, D = v["params"]["d_model"], v["params"]["tokens"]
assert d % 16 == 0 and d in size, d
assert abs(6 * size[d] * D / 3.4e12 - 1) < 0.03, (d, D, 6 * size[d] * D)
PY

# --at-cost 10x the dearest trial: a number, its N and D spending C = 6 N D
if run 0 c laws tiny-lm --format json --at-cost 1.15e13 &&
    pycheck 'j["status"] == "OK" and j["metric"]["predicted"]["value"] > 0' &&
    pycheck 'abs(6 * j["compute_optimal"]["n_params"] * j["compute_optimal"]["tokens"] / 1.15e13 - 1) < 1e-9'
then ok; fi

finish
