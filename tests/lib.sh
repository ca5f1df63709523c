# tests/lib.sh - the prelude the shell tests share.  Source it first:
#
#     set -u
#     . "$(dirname "$0")/lib.sh"
#     need python3            # optional: exit 77 (skipped) without it
#     tmp_start cli-service   # $tmp, $db, and cleanup on exit
#     ...cases: if run 0 c status && has out '"source"'; then ok; fi
#     finish                  # "N passed, N failed"; the script's exit status
#
# Sets carbs (CARBS_BIN, required), root (CARBS_SOURCE_ROOT, or the tree
# this file is in), passed and failed.  Every case ends in exactly one ok or
# bad, so the counts are cases, as in the C tests (tests/check.h).

carbs=${CARBS_BIN:?CARBS_BIN is not set}
root=${CARBS_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
passed=0
failed=0
tmp=
db=
server=
bg=
at_exit=

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# finish: print "N passed, N failed"; true when nothing failed (call it last).
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# skip WHY: exit 77, the code meson counts as skipped.
skip() {
    echo "skipped: $*"
    exit 77
}

# need PROG...: skip unless every PROG is on PATH.
need() {
    for prog in "$@"; do
        command -v "$prog" >/dev/null 2>&1 || skip "$prog is not installed"
    done
}

# tmp_start NAME: a fresh temp dir in $tmp (db=$tmp/s.db), removed on exit
# after the background processes are stopped and $at_exit (a command, when
# set) has run.
tmp_start() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/carbs-$1.XXXXXX")
    db=$tmp/s.db
    trap cleanup EXIT
}

cleanup() {
    if [ -n "$at_exit" ]; then
        $at_exit
    fi
    for pid in $bg; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$tmp"
}

# bg_add PID: stop PID on exit.  bg_stop PID: stop it now (SIGTERM, then
# wait for it: its exit status is bg_stop's).
bg_add() { bg="$bg $1"; }
bg_stop() {
    bg=$(echo " $bg " | sed "s/ $1 / /")
    kill "$1" 2>/dev/null
    wait "$1"
}

# run EXPECTED_RC CMD...: run, keep stdout/stderr in $tmp/out and $tmp/err
run() {
    want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        bad "'$*' exited $got, expected $want: $(head -c 600 "$tmp/err")"
        return 1
    fi
    return 0
}
# has FILE PATTERN: $tmp/FILE has a line matching PATTERN (grep)
has() { grep -q -- "$2" "$tmp/$1" || { bad "$1 lacks '$2': $(head -c 600 "$tmp/$1")"; return 1; }; }
# lines FILE [PATTERN]: how many lines of $tmp/FILE match
lines() { grep -c "${2:-.}" "$tmp/$1"; }
# c ARGS...: carbs on $db, warnings only
c() { "$carbs" --log-level warn --db "$db" "$@"; }

# wait_for SECONDS CMD...: retry CMD (quietly) every 0.1 s until it succeeds
wait_for() {
    limit=$(($1 * 10))
    shift
    for _ in $(seq 1 "$limit"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# served: `carbs status` on $db, into $tmp/out, comes from a running service
served() { c status >"$tmp/out" 2>/dev/null && grep -q '"source":"service"' "$tmp/out"; }

# serve_start ENDPOINT: `carbs serve` on $db in the background (pid in
# $server, stderr in $tmp/serve.log); true once it answers `status`, within
# 30 s.  serve_stop: SIGTERM, and its exit status.
serve_start() {
    "$carbs" --log-level warn serve --db "$db" --bind "$1" 2>"$tmp/serve.log" &
    server=$!
    bg_add "$server"
    wait_for 30 served
}
serve_stop() {
    bg_stop "$server"
    rc=$?
    server=
    return $rc
}

# branin_yaml NAME: the head of a synthetic sweep file named NAME, Branin
# over x and y; the caller appends its carbs:, budget: and other lines.
branin_yaml() {
    cat <<YAML
name: $1
metric: {name: loss, goal: minimize}
cost: {name: cost}
trainer: synthetic
synthetic: {function: branin}
parameters:
  x: {space: linear, min: -5, max: 10, center: 2.5, scale: 5}
  y: {space: linear, min: 0, max: 15, center: 7.5, scale: 5}
YAML
}
