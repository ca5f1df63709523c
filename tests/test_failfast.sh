# test_failfast.sh - sweeps that stop when something is broken, end to end
# through `carbs run` (docs/service.md, Budget and states; Quarantine):
#   - a command that cannot run pauses the sweep after
#     budget.max_consecutive_failures failures, and `carbs run` exits
#     non-zero naming the cause instead of running forever;
#   - trials whose process crashes (the worker reports it) are re-queued
#     without quarantining the workers, and the sweep pauses the same way;
#   - a clean finish does not log a worker as preempted;
#   - `carbs sweep create` warns about a command it cannot find;
#   - `carbs workers release` names a worker the store does not know.
set -u
. "$(dirname "$0")/lib.sh"
tmp_start failfast
need timeout

sweep() { # NAME COMMAND: a command sweep file in $tmp/NAME.yaml
    cat >"$tmp/$1.yaml" <<EOT
name: $1
metric: {name: loss, goal: minimize}
cost: {name: wall_seconds}
trainer: command
command: $2
parameters:
  x: {space: linear, min: 0, max: 1, center: 0.5, scale: 0.3}
budget: {trials: 40, max_retries: 2, max_consecutive_failures: 4}
EOT
}

# A typo in the command: the run ends, non-zero, with the cause.
sweep typo '[no-such-program-h16]'
if run 1 timeout 120 "$carbs" --log-level warn --db "$db" run "$tmp/typo.yaml" --workers 2 --quiet &&
    has err "paused: 4 trials in a row failed" && has err "no-such-program-h16"; then ok; fi
if run 0 c status typo && has out '"state":"paused"' &&
    has out '"paused_because":"4 trials in a row failed with .*no-such-program-h16'; then ok; fi
if run 0 c status --format table && has out "sweep typo paused itself: 4 trials in a row failed"; then ok; fi

# A crashing training script: its losses are the trial's, not the hosts'.
sweep crash "[sh, -c, 'kill -KILL \$\$']"
if run 1 timeout 120 "$carbs" --log-level info --db "$db" run "$tmp/crash.yaml" --workers 2 --quiet &&
    has err "paused: 4 trials in a row failed with infra"; then
    if grep -q "quarantined" "$tmp/err"; then bad "a crashing script quarantined a worker"; else ok; fi
fi

# A clean finish is no preemption.
{ branin_yaml clean; echo "budget: {trials: 4, parallel: 2}"; } >"$tmp/clean.yaml"
if run 0 timeout 120 "$carbs" --log-level info --db "$db" run "$tmp/clean.yaml" --workers 2 --quiet; then
    if grep -q "preempted" "$tmp/err"; then bad "a clean finish logged a preemption: $(grep preempted "$tmp/err")"; else ok; fi
fi

# sweep create: a warning, not an error, for a command not found here.
sweep typo2 '[no-such-program-h16, --flag]'
if run 0 c sweep create "$tmp/typo2.yaml" && has err "no-such-program-h16" && has err "not found"; then ok; fi
sweep found '[sh, -c, "exit 0"]'
if run 0 c sweep create "$tmp/found.yaml"; then
    if grep -q "not found" "$tmp/err"; then bad "a warning for sh"; else ok; fi
fi

# `carbs workers release`: an unknown worker is an error naming it.
if run 1 c workers release w-nobody && has err "w-nobody"; then ok; fi
if run 2 c workers release; then ok; fi

finish
