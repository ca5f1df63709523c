#!/bin/sh
# test_cli_service.sh - the verbs around the service end to end, against a
# store in a temp dir: a manual ask/tell loop, trials, pareto, export (JSON
# records and Optuna CSV), import of the export into a second sweep (and
# bad input refused whole), status, workers, slurm's dry run, exit codes
# (2 misuse, 1 unknown sweep, 0 --help), and the writer rule: with
# `carbs serve` holding the store, ask/tell/status go through the service.
# Needs CARBS_BIN and CARBS_SOURCE_ROOT; prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
tmp_start cli-service

# A synthetic sweep: the Branin function over x and y.
{
    branin_yaml branin-cli
    echo 'fixed: {note: cli-test}'
    echo 'carbs: {seed: 29, num_random_samples: 3, resample_frequency: 0}'
} >"$tmp/branin.yaml"
sed 's/^name: branin-cli/name: branin-copy/' "$tmp/branin.yaml" >"$tmp/copy.yaml"

if run 0 c sweep create "$tmp/branin.yaml" && has out "created sweep 1 'branin-cli'"; then ok; fi

# ---- a manual ask/tell loop ----
# Outputs and costs are made up but distinct; round 3 diverges.
asked=0
for i in 1 2 3 4 5 6; do
    if ! run 0 c ask branin-cli; then break; fi
    id=$(sed -n 's/^{"trial_id":\([0-9]*\),"params":{"x":[-0-9.e]*,"y":[-0-9.e]*}}$/\1/p' "$tmp/out")
    if [ -z "$id" ]; then
        bad "ask printed $(cat "$tmp/out")"
        break
    fi
    asked=$((asked + 1))
    if [ "$i" -eq 3 ]; then
        run 0 c tell branin-cli "$id" --failure diverged --message "loss went to nan at step 17" ||
            break
    else
        # multiples of 1/16 and 1/8: exact in binary, so they print back as given
        out=$(awk -v i="$i" 'BEGIN { printf "%.4f", (97 - 11 * i + 5 * (i % 2)) / 16 }')
        cost=$(awk -v i="$i" 'BEGIN { printf "%.3f", 1.625 * i * i }')
        run 0 c tell branin-cli "$id" --output "$out" --cost "$cost" \
            --metrics "{\"val_loss\": $out, \"tokens\": 12345.5}" || break
    fi
done
if [ "$asked" -eq 6 ]; then ok; else bad "only $asked asks went through"; fi
# telling a finished trial again changes nothing (idempotent by trial id)
if run 0 c tell branin-cli 1 --output 99.5 --cost 1; then ok; fi

# ---- trials ----
if run 0 c trials branin-cli && [ "$(lines out '"id":')" -eq 6 ] &&
   [ "$(lines out '"state":"done"')" -eq 5 ] && has out '"failure":"diverged"' &&
   has out '"message":"loss went to nan at step 17"' &&
   has out '^{"id":1,"state":"done","attempt":1,"worker":"(ask)","params":{"x":' &&
   has out '"output":5.6875,"cost":1.625,' && ! grep -q '"output":99.5' "$tmp/out"; then ok; fi
if run 0 c trials branin-cli --state failed,cancelled && [ "$(lines out)" -eq 1 ]; then ok; fi
if run 0 c trials 1 --format csv &&
   has out '^id,state,attempt,worker,params,output,cost,started,finished,failure,message$' &&
   [ "$(lines out '^[0-9]')" -eq 6 ] && has out '^1,done,1,(ask),"{""x"":'; then ok; fi
if run 0 c trials branin-cli --format table && has out '^ID  *STATE  *ATT  *WORKER' &&
   has out 'diverged'; then ok; fi

# ---- pareto: cheapest first, each point better than the last ----
if run 0 c pareto branin-cli && [ "$(lines out '"trial":')" -ge 1 ] &&
   awk -F'"output":|,"cost":|,"params"' '
        NR > 1 && !($2 < prev_out && $3 >= prev_cost) { bad = 1 }
        { prev_out = $2; prev_cost = $3 }
        END { exit bad }' "$tmp/out"; then ok; else bad "pareto front: $(cat "$tmp/out")"; fi
if run 0 c pareto branin-cli --format csv && has out '^trial,loss,cost,params$'; then ok; fi
if run 0 c pareto branin-cli --format table && has out 'Pareto front: .* of 5 successful'; then ok; fi

# ---- export ----
if run 0 c export branin-cli && [ "$(lines out)" -eq 6 ] &&
   has out '^{"id":1,"sweep":"branin-cli","state":"done","params":{"x":' &&
   has out '"metrics":{"val_loss":' && has out '"output":null,"cost":0,"is_failure":true' &&
   has out '"failure":"diverged","message":"loss went to nan at step 17"}$'; then
    cp "$tmp/out" "$tmp/export.jsonl"
    ok
fi
if run 0 c export branin-cli --curves && [ "$(lines out ',"curve":\[\]}$')" -eq 6 ]; then ok; fi
if run 0 c export branin-cli --format csv &&
   has out '^number,value,datetime_start,datetime_complete,duration,params_x,params_y,user_attrs_val_loss,user_attrs_tokens,user_attrs_loss,user_attrs_cost,system_attrs_trial_id,' &&
   [ "$(lines out ',COMPLETE$')" -eq 5 ] && [ "$(lines out ',FAIL$')" -eq 1 ] &&
   has out '^0,5.6875,20[0-9-]* [0-9:.]*,20[0-9-]* [0-9:.]*,0 days 00:00:'; then ok; fi
if run 0 c export branin-cli --format csv --curves && has out '^trial,step,tokens,loss$'; then ok; fi

# ---- import into a second sweep ----
if run 0 c sweep create "$tmp/copy.yaml" && run 0 c import branin-copy "$tmp/export.jsonl" &&
   has out '{"sweep":"branin-copy","imported":6,"requests":1}'; then ok; fi
# the same outputs, costs and failures, trial by trial
strip() { sed 's/"id":[0-9]*,"sweep":"[^"]*",//; s/,"attempt".*,"finished":[0-9.e]*//' "$1"; }
if run 0 c export branin-copy && strip "$tmp/out" >"$tmp/b" && strip "$tmp/export.jsonl" >"$tmp/a" &&
   cmp -s "$tmp/a" "$tmp/b"; then ok; else bad "import changed records: $(diff "$tmp/a" "$tmp/b")"; fi
# a JSON array in small chunks: several requests
{
    echo '['
    sed '$!s/$/,/' "$tmp/export.jsonl"
    echo ']'
} >"$tmp/array.json"
if run 0 c import branin-copy "$tmp/array.json" --chunk-bytes 600 &&
   has out '"imported":6,"requests":[3-6]}' && run 0 c trials branin-copy &&
   [ "$(lines out)" -eq 12 ]; then ok; fi
# from stdin
if head -n 2 "$tmp/export.jsonl" | c import branin-copy - >"$tmp/out" 2>"$tmp/err" &&
   has out '"imported":2'; then ok; else bad "import from stdin: $(cat "$tmp/err")"; fi
# one bad record anywhere: exit 2, its line and field named, nothing stored
{
    sed -n 1,3p "$tmp/export.jsonl"
    echo
    echo '{"params":{"x":1.25,"y":20.5},"output":3.5,"cost":2,"is_failure":false}'
    sed -n 4p "$tmp/export.jsonl"
} >"$tmp/bad.jsonl"
if run 2 c import branin-copy "$tmp/bad.jsonl" && has err "bad.jsonl:5: record: field 'params'" &&
   has err "'y'"; then ok; fi
printf '%s\n' '{"params":{"x":1.25,"y":2.5},"output":"low","cost":2,"is_failure":false}' >"$tmp/bad2.jsonl"
if run 2 c import branin-copy "$tmp/bad2.jsonl" && has err "bad2.jsonl:1: record: field 'output'"; then ok; fi
printf '%s\n' '{"params":{"x":1.25,"y":2.5,"z":1},"output":1,"cost":2,"is_failure":false}' >"$tmp/bad3.jsonl"
if run 2 c import branin-copy "$tmp/bad3.jsonl" && has err "field 'params.z' is not a parameter"; then ok; fi
printf '[{"params":{"x":1.25,"y":2.5},"output":1,"cost":2,"is_failure":false},\n\n{"params":{"x":1}}]\n' >"$tmp/bad4.json"
if run 2 c import branin-copy "$tmp/bad4.json" && has err "bad4.json:3: record:"; then ok; fi
printf '[{"params":{"x":1.25,"y":2.5},"output":1,"cost":2,"is_failure":false}\n' >"$tmp/bad5.json"
if run 2 c import branin-copy "$tmp/bad5.json" && has err "not closed"; then ok; fi
if run 0 c trials branin-copy && [ "$(lines out)" -eq 14 ]; then ok; fi

# ---- status and workers ----
if run 0 c status && has out '^{"source":"store","sweeps":\[{"id":1,"name":"branin-cli","state":"active","trials":{"pending":0,"running":0,"done":5,"failed":1,' &&
   has out '"metric":"loss","goal":"minimize","best":' && has out '"name":"branin-copy"' &&
   has out '"workers":\[\],"running":\[\]}$'; then ok; fi
if run 0 c status branin-copy && ! grep -q branin-cli "$tmp/out" && has out '"front":'; then ok; fi
if run 0 c status --format table && has out 'no service running' &&
   has out '^1  *branin-cli  *active  *5  *0  *0  *1 '; then ok; fi
if run 0 c workers && [ ! -s "$tmp/out" ]; then ok; fi
if run 0 c workers --format csv && has out '^id,host,devices,first_seen,last_seen,losses,quarantined$'; then ok; fi

# ---- slurm, without Slurm ----
if run 0 "$carbs" slurm script && cmp -s "$tmp/out" "$root/tools/slurm-workers.sbatch"; then ok; else
    bad "carbs slurm script differs from tools/slurm-workers.sbatch"; fi
if run 0 "$carbs" slurm submit --dry-run --connect tcp://head:5555 --workers 3 -- --time=5 --partition 'big gpu' &&
   has out "^CARBS_CONNECT=tcp://head:5555 CARBS_BIN=/.* CARBS_WORKER_ARGS='' sbatch --parsable --array=0-2 --time=5 --partition 'big gpu' SCRIPT$"; then ok; fi
if run 2 "$carbs" slurm submit --workers 3 && has err "needs --connect"; then ok; fi
if run 2 "$carbs" slurm submit --connect tcp://h:1 --workers 0; then ok; fi

# ---- exit codes ----
for verb in status trials pareto export import ask tell workers slurm; do
    if run 0 "$carbs" "$verb" --help && has out "^usage: carbs $verb"; then ok; fi
done
if run 2 c trials; then ok; fi
if run 2 c trials branin-cli --format xml && has err "unknown format 'xml'"; then ok; fi
if run 2 c trials branin-cli --state finished; then ok; fi
if run 2 c export branin-cli --format table; then ok; fi
if run 2 c pareto branin-cli extra; then ok; fi
if run 2 c status --bogus && has err "unknown option '--bogus'"; then ok; fi
if run 2 c tell branin-cli 1 --output 1.5 && has err "needs --output and --cost"; then ok; fi
if run 2 c tell branin-cli x1 --output 1.5 --cost 2; then ok; fi
if run 2 c tell branin-cli 1 --failure sleepy; then ok; fi
if run 2 c tell branin-cli 1 --output 1 --cost 1 --metrics '{"a": "b"}'; then ok; fi
if run 2 c import branin-copy; then ok; fi
if run 2 c ask; then ok; fi
if run 2 c serve --bind 'nonsense://x' && has err "^usage: carbs serve"; then ok; fi
if run 2 "$carbs" version --bogus && has err "unexpected argument '--bogus'"; then ok; fi
if run 0 "$carbs" version && has out "^carbs "; then ok; fi
for verb in trials pareto export ask status; do
    if run 1 c "$verb" no-such-sweep && has err "no-such-sweep"; then ok; fi
done
if run 1 c import no-such-sweep "$tmp/export.jsonl"; then ok; fi
if run 1 c tell no-such-sweep 1 --output 1 --cost 1; then ok; fi
if run 1 "$carbs" --db "$tmp/missing.db" trials branin-cli; then ok; fi

# ---- the writer rule: a running service answers ----
if serve_start "ipc://$tmp/svc" && has out "\"pid\":$server,"; then ok; else
    bad "the service never answered: $(cat "$tmp/serve.log")"
fi
if run 0 c ask branin-cli; then
    id=$(sed -n 's/^{"trial_id":\([0-9]*\),.*/\1/p' "$tmp/out")
    # the service holds the trial: its status lists it as running
    if run 0 c status branin-cli && has out "\"running\":\[{\"trial\":$id,\"sweep\":\"branin-cli\",\"worker\":\"(ask)\""; then ok; fi
    if run 0 c tell branin-cli "$id" --output 0.5625 --cost 3.75; then ok; fi
    # readers still read the store directly
    if run 0 c trials branin-cli --state done && has out "\"id\":$id,\"state\":\"done\"" &&
       has out '"output":0.5625'; then ok; fi
    if run 0 c status --format table && has out "served by pid $server"; then ok; fi
fi
serve_stop
if run 0 c status && has out '"source":"store"' && has out '"done":6,"failed":1'; then ok; fi

# ---- `carbs serve` logs each finished trial at its default level (info) ----
"$carbs" serve --db "$db" --bind "ipc://$tmp/svc" 2>"$tmp/serve.log" &
server=$!
bg_add "$server"
done_id=
failed_id=
if wait_for 30 served && run 0 c ask branin-cli; then
    done_id=$(sed -n 's/^{"trial_id":\([0-9]*\),.*/\1/p' "$tmp/out")
    run 0 c tell branin-cli "$done_id" --output 0.4375 --cost 2.5
    if run 0 c ask branin-cli; then
        failed_id=$(sed -n 's/^{"trial_id":\([0-9]*\),.*/\1/p' "$tmp/out")
        run 0 c tell branin-cli "$failed_id" --failure oom --message "out of memory at step 9"
    fi
fi
serve_stop
if has serve.log "trial $done_id done: loss 0.4375, cost 2.5$" &&
   has serve.log "trial $failed_id failed (oom): out of memory at step 9$"; then ok; fi

finish
