#!/bin/sh
# test_cli_sweep.sh - `carbs sweep` end to end against a store in a temp dir:
# create, list, show, duplicate names, invalid files (every error at once),
# a W&B sweep file, options, state changes and the writer rule.  Needs CARBS_BIN (the built carbs) and
# CARBS_SOURCE_ROOT; prints "N passed, N failed" like every test program.
set -u
. "$(dirname "$0")/lib.sh"
tmp_start cli-sweep

count_sweeps() { "$carbs" --db "$db" sweep list 2>/dev/null | grep -c '"id":'; }

# ---- create ----
if run 0 "$carbs" --db "$db" sweep create "$root/examples/tiny-lm.yaml" &&
   has out "created sweep 1 'tiny-lm'" && has out "carbs serve --db $db --bind 'tcp://\*:5555'" &&
   has out "carbs worker --connect tcp://.*:5555"; then ok; fi

# a per-verb --db and --name override
if run 0 "$carbs" sweep create "$root/examples/synthetic.yaml" --db "$db" --name toy-2 &&
   has out "created sweep 2 'toy-2'"; then ok; fi

# ---- list ----
if run 0 "$carbs" --db "$db" sweep list && [ "$(grep -c '"id":' "$tmp/out")" -eq 2 ] &&
   has out '{"id":1,"name":"tiny-lm","state":"active","trainer":"embedded","metric":"val_bpb","goal":"minimize","done":0,"running":0,"failed":0,"created":"20'; then ok; fi
if run 0 "$carbs" --db "$db" sweep list --format csv &&
   has out '^id,name,state,trainer,metric,goal,done,running,failed,created$' &&
   has out '^2,toy-2,active,synthetic,loss,minimize,0,0,0,20'; then ok; fi
if run 0 "$carbs" --db "$db" sweep list --format table && has out '^ID  *NAME' &&
   has out 'toy-2  *active  *synthetic'; then ok; fi

# ---- show ----
if run 0 "$carbs" --db "$db" sweep show tiny-lm && has out '"id":1,"name":"tiny-lm","state":"active"' &&
   has out '"trials":{"pending":0,"running":0,"done":0,"failed":0,"lost":0,"cancelled":0}' &&
   has out '"spec":{"name":"tiny-lm","metric":{"name":"val_bpb","goal":"minimize"}'; then ok; fi
if run 0 "$carbs" --db "$db" sweep show 2 --format table && has out '^sweep  *2 toy-2' &&
   has out '^trainer  *synthetic branin' && has out '  x  *linear  *\[-5, 10\]'; then ok; fi
if run 1 "$carbs" --db "$db" sweep show no-such-sweep && has err "no sweep 'no-such-sweep'"; then ok; fi

# ---- duplicate name ----
if run 1 "$carbs" --db "$db" sweep create "$root/examples/tiny-lm.yaml" &&
   has err "carbs: error: a sweep named 'tiny-lm' already exists" && [ "$(count_sweeps)" -eq 2 ]; then ok; fi

# ---- invalid file: exit 2, nothing stored ----
if run 2 "$carbs" --db "$db" sweep create "$root/tests/data/sweep/bad/log-min-nonpositive.yaml" &&
   has err "log-min-nonpositive.yaml:15: parameters.learning_rate.min: must be > 0 for a log space (got -1)" &&
   [ "$(count_sweeps)" -eq 2 ]; then ok; fi
# ... and it does not create a store that did not exist
if run 2 "$carbs" --db "$tmp/new.db" sweep create "$root/tests/data/sweep/bad/unknown-nested-key.yaml" &&
   has err "did you mean 'space'" && [ ! -e "$tmp/new.db" ]; then ok; fi
if run 2 "$carbs" --db "$db" sweep create "$tmp/missing.yaml" && has err "cannot open"; then ok; fi
if run 2 "$carbs" --db "$db" sweep create "$root/examples/tiny-lm.yaml" --name 'bad name' &&
   has err "is not a valid name"; then ok; fi

# ---- every error of a file at once ----
if run 2 "$carbs" --db "$db" sweep create "$root/tests/data/sweep/bad/many-errors.yaml" &&
   [ "$(grep -c '^carbs: error: .*many-errors.yaml:[0-9]*: ' "$tmp/err")" -eq 13 ] &&
   has err "many-errors.yaml:2: name: must not be all digits" &&
   has err "many-errors.yaml:13: budget.parallel: must be in \[1, 1000000\] (got 0)" &&
   has err "many-errors.yaml: 13 errors; nothing stored" && [ "$(count_sweeps)" -eq 2 ]; then ok; fi

# ---- a W&B sweep file as it is: created, with what it assumed on stderr ----
wandb=$root/tests/data/sweep/wandb/bayes-hyperband.yaml
if run 0 "$carbs" --db "$db" sweep create "$wandb" &&
   has out "created sweep 3 'bayes-hyperband'" &&
   has err '^assumed: cost = wall_seconds (W&B files name no cost)$' &&
   has err '^assumed: budget.trials = 100 (the file gives no run_cap)$' &&
   has err '^assumed: parameters.learning_rate.center = 0.0031622776601683794 ' &&
   has err '^warning: early_terminate hyperband is not supported yet' &&
   [ "$(grep -c '^assumed: ' "$tmp/err")" -eq 6 ] && ! grep -q error "$tmp/err"; then ok; fi
# stored as carbs' own canonical JSON, the notes with it
if run 0 "$carbs" --db "$db" sweep show bayes-hyperband &&
   has out '"trainer":"command","command":\["/usr/bin/env","python3","train.py"\]' &&
   has out '"optimizer":{"values":\["adam","sgd"\],"center":"adam"}' &&
   has out '"fixed":{"epochs":5}' && has out '"notes":\["assumed: name = bayes-hyperband'; then ok; fi
# the W&B refusals exit 2 like any invalid file
if run 2 "$carbs" --db "$db" sweep create "$root/tests/data/sweep/bad/wandb-grid.yaml" &&
   has err "wandb-grid.yaml:2: method: grid is not supported: CARBS is a cost-aware Bayesian search, not a grid search" &&
   [ "$(count_sweeps)" -eq 3 ]; then ok; fi

# ---- help and misuse ----
if run 0 "$carbs" sweep --help && has out 'usage: carbs sweep' && has out 'learning_rate'; then ok; fi
if run 0 "$carbs" sweep create --help && has out 'usage: carbs sweep create FILE'; then ok; fi
if run 0 "$carbs" sweep list -h && has out 'usage: carbs sweep list'; then ok; fi
if run 2 "$carbs" sweep list --bogus && has err "unknown option '--bogus'" && has err 'usage:'; then ok; fi
if run 2 "$carbs" sweep create && has err 'missing the sweep file'; then ok; fi
if run 2 "$carbs" sweep show --format yaml tiny-lm && has err "unknown format 'yaml'"; then ok; fi
if run 2 "$carbs" sweep frobnicate && has err "unknown sweep verb 'frobnicate'"; then ok; fi
if run 2 "$carbs" sweep && has err 'usage:'; then ok; fi

# ---- state changes ----
if run 0 "$carbs" --db "$db" sweep pause tiny-lm && has out "sweep 1 'tiny-lm': active -> paused"; then ok; fi
if run 0 "$carbs" --db "$db" sweep pause 1 && has out "already paused"; then ok; fi
if run 0 "$carbs" --db "$db" sweep show tiny-lm && has out '"state":"paused"'; then ok; fi
if run 0 "$carbs" --db "$db" sweep resume tiny-lm && has out "paused -> active"; then ok; fi
if run 0 "$carbs" --db "$db" sweep stop tiny-lm && has out "active -> stopped"; then ok; fi
if run 1 "$carbs" --db "$db" sweep resume tiny-lm && has err "cannot resume sweep 'tiny-lm': it is stopped (stop is final)"; then ok; fi
if run 1 "$carbs" --db "$db" sweep pause tiny-lm && has err "cannot pause"; then ok; fi
if run 0 "$carbs" --db "$db" sweep stop tiny-lm && has out "already stopped"; then ok; fi
if run 0 "$carbs" --db "$db" sweep list && has out '"name":"tiny-lm","state":"stopped"' &&
   has out '"name":"toy-2","state":"active"'; then ok; fi
if run 1 "$carbs" --db "$tmp/none.db" sweep list && has err "no store at"; then ok; fi

# ---- the writer rule: a held store is not written ----
if command -v flock >/dev/null 2>&1; then
    # a stand-in service: holds the lock file as store_writer_lock() does,
    # then becomes sleep (same pid, same descriptor) until killed
    sh -c 'exec 9>"$1.lock"; flock 9; echo $$ >&9; exec sleep 300' sh "$db" &
    holder=$!
    bg_add "$holder"
    wait_for 30 sh -c '! flock -n "$1.lock" true' sh "$db"
    if run 1 "$carbs" --db "$db" sweep pause toy-2 && has err "is held by a running service" &&
       run 0 "$carbs" --db "$db" sweep show toy-2 && has out '"state":"active"'; then ok; fi
    if run 1 "$carbs" --db "$db" sweep create "$root/examples/command.yaml" &&
       has err "is held by a running service" && [ "$(count_sweeps)" -eq 3 ]; then ok; fi
    bg_stop "$holder" 2>/dev/null
fi

finish
