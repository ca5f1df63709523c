#!/bin/sh
# test_sweep_admin.sh - keep going when asked, one number for one thing
# (docs/cli.md; docs/service.md, Budget and states), end to end:
#   - cost_spent: the progress line of `carbs run`, `carbs status` from the
#     store (JSON and table) and from a running service agree, and count
#     failed trials' cost;
#   - `carbs sweep extend` offline and through a running service: a done
#     sweep hands out trials again; refusals name their cause;
#   - imported trials use up neither budget.trials nor budget.cost;
#   - a failed trial that did not report the cost metric has an unknown
#     cost, never wall_seconds in a flops total;
#   - `carbs sweep delete` and `rename`, `carbs best`;
#   - `carbs run` prints a W&B file's assumptions, and the live status
#     carries paused_because.
set -u
. "$(dirname "$0")/lib.sh"
tmp_start sweep-admin
need timeout awk

ep="ipc://$tmp/svc.sock"

# json_num FILE KEY: the first number of "KEY":N in $tmp/FILE
json_num() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$tmp/$1" | head -n 1; }
# g6 X: X as %.6g, the precision of the progress line and the table
g6() { awk -v x="$1" 'BEGIN { printf "%.6g\n", x }'; }
# cost_sum SWEEP [STATE_RE] [WORKER_RE]: the sum of the known costs in
# `carbs trials SWEEP` over trials whose state and worker match, as %.6g
cost_sum() {
    c trials "$1" | sed 's/.*"state":"\([^"]*\)".*"worker":"\([^"]*\)".*"cost":\([^,]*\),.*/\1 \2 \3/' |
        awk -v s="${2:-.}" -v w="${3:-.}" '$1 ~ s && $2 ~ w && $3 != "null" { t += $3 }
            END { printf "%.6g\n", t }'
}

{ branin_yaml ext | sed 's/^synthetic: .*/synthetic: {function: branin, fail_rate: 0.3}/'
    cat <<YAML; } >"$tmp/ext.yaml"
carbs: {seed: 3, num_random_samples: 4}
budget: {trials: 6, parallel: 2}
YAML

# ---- one cost_spent: the progress line, the store's JSON and table ----
if run 0 timeout 120 "$carbs" --log-level warn --db "$db" run "$tmp/ext.yaml" --workers 2; then
    line=$(grep '| cost ' "$tmp/err" | tail -n 1 | sed 's/.*| cost \([^ ]*\) .*/\1/')
    run 0 c status ext && spent=$(json_num out cost_spent) && nfail=$(json_num out failed)
    run 0 c status --format table &&
        table=$(awk '$2 == "ext" { print $12 }' "$tmp/out")
    all=$(cost_sum ext 'done|failed')
    done_only=$(cost_sum ext done)
    if [ "$nfail" -ge 1 ] && [ "$line" = "$(g6 "$spent")" ] && [ "$table" = "$line" ] &&
        [ "$all" = "$line" ] && [ "$done_only" != "$line" ]; then ok; else
        bad "cost_spent differs: progress $line, status $spent, table $table, trials $all (done only $done_only; $nfail failed)"
    fi
fi

# ---- carbs best: the status's best, or the best at or under a cost ----
if run 0 c best ext && has out '"sweep":"ext","trial":' &&
    [ "$(json_num out trial)" = "$(c status ext | sed -n 's/.*"best_trial":\([0-9]*\).*/\1/p')" ]; then ok; fi
c pareto ext --format csv >"$tmp/front.csv"
cheap=$(awk -F, 'NR == 2 { print $3 }' "$tmp/front.csv")
if run 0 c best ext --at-cost "$cheap" --format table && has out "^at cost  *<= " &&
    has out "^trial  *$(awk -F, 'NR == 2 { print $1 }' "$tmp/front.csv")\$"; then ok; fi
if run 1 c best ext --at-cost 1e-6 && has err "no successful trial that cost 1e-06 or less"; then ok; fi
if run 2 c best ext --at-cost -3 && has err "is not a cost > 0"; then ok; fi

# ---- extend, offline: the done sweep runs on ----
if run 1 c sweep extend ext --cost 5 && has err "budget.cost is unlimited"; then ok; fi
if run 2 c sweep extend ext && has err "give --trials N, --cost C or both"; then ok; fi
if run 1 c sweep extend nosuch --trials 2 && has err "no sweep 'nosuch'"; then ok; fi
if run 0 c sweep extend ext --trials 2 && has out "extended sweep 'ext' (sweep id 1): budget trials 8" &&
    has out "; active$" && run 0 c sweep show ext && has out '"state":"active"' &&
    has out '"budget":{"trials":8,'; then ok; fi
if run 0 timeout 120 "$carbs" --log-level warn --db "$db" run "$tmp/ext.yaml" --workers 2 --quiet &&
    run 0 c status ext && has out '"state":"done"' &&
    [ $(($(json_num out done) + $(json_num out failed))) -eq 8 ]; then ok; fi

# ---- through a running service: extend, the service's cost_spent, delete, rename ----
{ branin_yaml keep; echo "budget: {trials: 3}"; } >"$tmp/keep.yaml"
run 0 c sweep create "$tmp/keep.yaml"
if serve_start "$ep"; then
    c status ext >"$tmp/store.json"
    if run 0 c sweep extend ext --trials 3 && has out "budget trials 11" &&
        run 0 c status ext && has out '"source":"service"' && has out '"state":"active"' &&
        [ "$(g6 "$(json_num out cost_spent)")" = "$(g6 "$(json_num store.json cost_spent)")" ]; then ok; fi
    # the worker runs the 3 new trials (and keep's 3)
    "$carbs" --log-level warn worker --connect "$ep" --id w1 2>"$tmp/worker.log" &
    worker=$!
    bg_add "$worker"
    ext_done() { c status ext | grep -q '"state":"done"' && c status keep | grep -q '"state":"done"'; }
    if wait_for 60 ext_done; then
        c status ext >"$tmp/out"
        if [ $(($(json_num out done) + $(json_num out failed))) -eq 11 ] &&
            [ "$(g6 "$(json_num out cost_spent)")" = "$(cost_sum ext 'done|failed')" ]; then ok; else
            bad "after the extension: $(cat "$tmp/out")"
        fi
        # done in this service's hands: extended again, it runs on at once
        if run 0 c sweep extend ext --trials 1 && has out "budget trials 12" &&
            wait_for 60 ext_done && run 0 c status ext && has out '"source":"service"' &&
            [ $(($(json_num out done) + $(json_num out failed))) -eq 12 ]; then ok; fi
    else
        bad "the extended sweep did not finish: $(c status ext)"
    fi
    bg_stop "$worker" 2>/dev/null
    # an active sweep is not deleted; a done one is, with --yes, and only it
    { branin_yaml live; echo "budget: {trials: 3}"; } >"$tmp/live.yaml"
    run 0 c sweep create "$tmp/live.yaml"
    if run 1 c sweep delete live --yes && has err "sweep 'live' is active: stop it first"; then ok; fi
    if run 2 c sweep delete ext && has err "add --yes to confirm" &&
        run 0 c sweep show ext; then ok; fi
    keep_before=$(c trials keep | wc -l)
    if run 0 c sweep delete ext --yes && has out "deleted sweep 'ext' (sweep id 1)" &&
        run 1 c sweep show ext && run 0 c sweep list && [ "$(lines out '"id":')" -eq 2 ] &&
        [ "$(c trials keep | wc -l)" -eq "$keep_before" ] && [ "$keep_before" -eq 3 ] &&
        run 0 c workers && has out '"id":"w1"'; then ok; fi
    # rename: the store, the stored spec and the service all take the new name
    if run 0 c sweep rename keep kept && has out "renamed sweep 'keep' to 'kept'" &&
        run 0 c sweep show kept && has out '"spec":{"name":"kept"' &&
        run 0 c status kept && has out '"source":"service"' && has out '"name":"kept"'; then ok; fi
    if run 1 c sweep rename kept live && has err "a sweep named 'live' already exists"; then ok; fi
    if run 2 c sweep rename kept 123 && has err "all digits"; then ok; fi
    run 0 c sweep stop live
    if run 1 c sweep extend live --trials 1 && has err "stopped, which is final"; then ok; fi
    serve_stop
else
    bad "carbs serve did not answer: $(cat "$tmp/serve.log")"
fi

# ---- imports use up no budget ----
{ branin_yaml src; echo "budget: {trials: 5}"; } >"$tmp/src.yaml"
{ branin_yaml imp; echo "carbs: {num_random_samples: 2}"; echo "budget: {trials: 3}"; } >"$tmp/imp.yaml"
run 0 timeout 120 "$carbs" --log-level warn --db "$db" run "$tmp/src.yaml" --workers 2 --quiet
c export src >"$tmp/src.jsonl"
run 0 c sweep create "$tmp/imp.yaml"
if run 0 "$carbs" --db "$db" import imp "$tmp/src.jsonl" && has out '"imported":5' &&
    has err "use up none of the sweep's budget.trials or budget.cost"; then ok; fi
if run 0 timeout 120 "$carbs" --log-level warn --db "$db" run "$tmp/imp.yaml" --workers 2 --quiet &&
    [ "$(c trials imp | grep -c '"worker":"(import)"')" -eq 5 ] &&
    [ "$(c trials imp | grep -vc '"worker":"(import)"')" -eq 3 ] &&
    run 0 c status imp && has out '"state":"done"' &&
    [ "$(g6 "$(json_num out cost_spent)")" = "$(cost_sum imp 'done|failed' '^[^(]')" ] &&
    [ "$(cost_sum imp . import)" != "0" ] && has out '"imported":5'; then ok; fi
if run 0 c status imp --watch --interval 0.1 && has out 'imp done: 8 done, .* of 3 (+5 imported) |'; then ok; fi

# ---- a failure without the cost metric: unknown, never wall_seconds ----
cat >"$tmp/train.sh" <<'EOF'
#!/bin/sh
# flops for x above 0.5; otherwise fail without reporting any cost
if awk -v x="$CARBS_PARAM_X" 'BEGIN { exit !(x > 0.5) }'; then
    echo '{"loss": 1.25, "flops": 1000000000}'
else
    echo "out of memory" >&2
    exit 1
fi
EOF
chmod +x "$tmp/train.sh"
cat >"$tmp/flops.yaml" <<YAML
name: flops
metric: {name: loss, goal: minimize}
cost: {name: flops}
trainer: command
command: [sh, $tmp/train.sh]
parameters:
  x: {space: linear, min: 0, max: 1, center: 0.5, scale: 0.4}
carbs: {seed: 5, num_random_samples: 8}
budget: {trials: 8, parallel: 2}
YAML
if run 0 timeout 120 "$carbs" --log-level warn --db "$db" run "$tmp/flops.yaml" --workers 2 --quiet &&
    run 0 c status flops; then
    nd=$(json_num out done)
    nf=$(json_num out failed)
    spent=$(json_num out cost_spent)
    if [ "$nf" -ge 1 ] && [ "$nd" -ge 1 ] && [ "$(g6 "$spent")" = "$(g6 "$nd"e9)" ] &&
        [ "$(c trials flops --state failed | grep -c '"cost":null')" -eq "$nf" ] &&
        c trials flops --state failed | grep -q '"failure":"oom"'; then ok; else
        bad "flops: $nd done, $nf failed, cost_spent $spent: $(c trials flops --state failed | head -n 2)"
    fi
fi

# ---- carbs run and a W&B file: its assumptions; the live paused_because ----
mkdir -p "$tmp/wb"
if (cd "$tmp/wb" && run 1 timeout 120 "$carbs" --log-level warn --db "$db" run \
    "$root/tests/data/sweep/wandb/bayes-hyperband.yaml" --workers 1 --quiet) &&
    has err '^assumed: cost = wall_seconds (W&B files name no cost)$' &&
    has err 'paused: 5 trials in a row failed'; then ok; fi
# a service that loads the paused sweep says why it paused, as the store does
if serve_start "$ep"; then
    if run 0 c status bayes-hyperband && has out '"source":"service"' &&
        has out '"state":"paused","trials"' &&
        has out '"paused_because":"5 trials in a row failed with error: '; then ok; fi
    serve_stop
fi
# ... and so does one that paused it itself, live
cat >"$tmp/typo.yaml" <<'YAML'
name: typo
metric: {name: loss, goal: minimize}
trainer: command
command: [no-such-program-h16]
parameters:
  x: {space: linear, min: 0, max: 1, center: 0.5, scale: 0.3}
budget: {trials: 20, max_consecutive_failures: 3}
YAML
run 0 c sweep create "$tmp/typo.yaml"
if serve_start "$ep"; then
    "$carbs" --log-level warn worker --connect "$ep" --id w2 2>"$tmp/worker2.log" &
    worker=$!
    bg_add "$worker"
    typo_paused() { c status typo | grep -q '"paused_because":"3 trials in a row failed'; }
    if wait_for 60 typo_paused && run 0 c status typo && has out '"source":"service"' &&
        has out 'no-such-program-h16'; then ok; else bad "typo: $(c status typo)"; fi
    bg_stop "$worker" 2>/dev/null
    serve_stop
fi

finish
