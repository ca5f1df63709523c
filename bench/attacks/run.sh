#!/bin/sh
# bench/attacks/run.sh - re-run by hand the attacks of issue 15 against a
# built carbs: `carbs serve` on 127.0.0.1, with and without CurveZMQ, poked
# with the CLI and with wire_send (raw frames, bench/attacks/wire_send.c).
# Prints one markdown row per attack: | item | attack | what happens now |
# (the table of docs/security.md).  Takes about a minute and a half.
#
#     CARBS_BIN=build/tools/carbs WIRE_SEND=build/bench/wire_send \
#         sh bench/attacks/run.sh [ITEM...]
#
# ITEM picks attacks by their number (1-10); all by default.  Needs a Linux
# /proc for the memory figures.  Everything happens in a temp dir.
set -u
carbs=${CARBS_BIN:?set CARBS_BIN to the carbs binary}
send=${WIRE_SEND:?set WIRE_SEND to the wire_send binary}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/carbs-attacks.XXXXXX")
pids=
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
want=" ${*:-1 2 3 4 5 6 7 8 9 10} "

row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }
picked() { case "$want" in *" $1 "*) return 0 ;; esac; return 1; }
# first line of a file, with | escaped for the table
line() { head -n 1 "$1" | cut -c1-${2:-160} | sed 's/|/\\|/g'; }
# the message of the first error/reply frame in a file
msg() { grep -o '"message":"[^"]*"' "$1" | head -n 1 | sed 's/"message":"//; s/"$//' | cut -c1-150; }

port() { # a free-looking port: carbs serve picks with :*, we read it from the log
    sed -n 's/.* on \(tcp:\/\/127.0.0.1:[0-9]*\).*/\1/p' "$1" | head -n 1
}

# serve DB LOG [ARGS...]: carbs serve on 127.0.0.1:* in the background; sets
# $ep (its endpoint) and $spid.
serve() {
    db_=$1 log_=$2
    shift 2
    "$carbs" --log-level info serve --db "$db_" --bind 'tcp://127.0.0.1:*' "$@" 2>"$log_" &
    spid=$!
    pids="$pids $spid"
    ep=
    for _ in $(seq 1 100); do
        ep=$(port "$log_")
        [ -n "$ep" ] && break
        sleep 0.1
    done
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds or SECONDS pass (a loaded
# machine gets the whole bound; a fixed sleep was either too short there or wasted time here)
wait_for() {
    n_=$(($1 * 10))
    shift
    while [ "$n_" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n_=$((n_ - 1))
    done
    return 1
}
# a4_paused DB: every a4 sweep is paused (each stops itself after its failures)
a4_paused() {
    [ "$("$carbs" --db "$1" status 2>/dev/null | grep -o '"name":"a4[a-z]*","state":"paused"' |
        wc -l)" -eq 3 ]
}

branin() { # NAME [budget line]
    cat <<YAML
name: $1
metric: {name: loss, goal: minimize}
cost: {name: cost}
trainer: synthetic
synthetic: {function: branin}
parameters:
  x: {space: linear, min: -5, max: 10, center: 2.5, scale: 5}
  y: {space: linear, min: 0, max: 15, center: 7.5, scale: 5}
${2:-budget: {trials: 40, parallel: 4}}
YAML
}

HELLO='{"v":1,"type":"hello","worker_id":"%s","host":"h","pid":1,"slots":1,"devices":["cpu"],"capabilities":{"synthetic":true}}'
hello() { printf "$HELLO" "$1"; }
READY='{"v":1,"type":"ready","slot":0}'

# keys: service, worker keys good and other, admin key boss
keys=$tmp/keys
"$carbs" keygen --dir "$keys" --name service >/dev/null 2>&1
"$carbs" keygen --dir "$keys/allow" --name good >/dev/null 2>&1
"$carbs" keygen --dir "$keys/allow" --name other >/dev/null 2>&1
"$carbs" keygen --dir "$keys/allow/admin" --name boss >/dev/null 2>&1
curve() { echo "--key $keys/allow/$1.key --server-key $keys/service.pub"; }

# ---- 1. admin requests with a worker key ----
if picked 1; then
    db=$tmp/a1.db
    branin a1 >"$tmp/a1.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a1.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a1.log" --keys "$keys"
    spec=$(printf '%s' '{"name":"evil","trainer":"command","command":["/bin/sh","-c","touch /tmp/pwned"],"metric":{"name":"loss"},"cost":{"name":"wall_seconds"},"parameters":{"x":{"space":"linear","min":0,"max":1}}}' | sed 's/"/\\"/g')
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve good) \
        "{\"v\":1,\"type\":\"sweep_create\",\"spec_json\":\"$spec\"}" \
        '{"v":1,"type":"pause","sweep":"a1"}' '{"v":1,"type":"resume","sweep":"a1"}' \
        '{"v":1,"type":"stop","sweep":"a1"}' >"$tmp/a1.out" 2>"$tmp/a1.err"
    n_denied=$(grep -c '"code":"EDENIED"' "$tmp/a1.out")
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(echo "--key $keys/allow/admin/boss.key --server-key $keys/service.pub") \
        '{"v":1,"type":"pause","sweep":"a1"}' >"$tmp/a1b.out" 2>&1
    stop "$spid"
    state=$("$carbs" --db "$db" sweep list 2>/dev/null | grep -o '"state":"[a-z]*"' | head -n 1)
    sweeps=$("$carbs" --db "$db" sweep list 2>/dev/null | wc -l)
    row 1 "worker key (CURVE) sends sweep_create (command /bin/sh), pause, resume, stop" \
        "$n_denied of 4 refused EDENIED (\"$(msg "$tmp/a1.out")\"); sweeps in store: $sweeps, a1 $state after the admin key's pause (admin: $(grep -c '"ok":true' "$tmp/a1b.out") ok)"
    "$carbs" serve --db "$tmp/a1i.db" --bind 'tcp://127.0.0.1:*' --insecure 2>"$tmp/a1i.log" &
    p=$!
    wait_for 10 grep -q 'anyone who can reach' "$tmp/a1i.log"
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    row 1 "\`serve --insecure\` on TCP" "says at start: \"$(grep -o 'anyone who can reach.*' "$tmp/a1i.log" | head -n 1 | cut -c1-110)\""
fi

# ---- 2. tell for a trial a worker runs ----
if picked 2; then
    db=$tmp/a2.db
    branin a2 >"$tmp/a2.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a2.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a2.log"
    "$send" --endpoint "$ep" --id w2 --hold 4000 "$(hello w2)" "$READY" >"$tmp/a2w.out" 2>&1 &
    wp=$!
    wait_for 10 grep -q '"trial_id"' "$tmp/a2w.out"
    tid=$(grep -o '"trial_id":[0-9]*' "$tmp/a2w.out" | head -n 1 | cut -d: -f2)
    "$send" --endpoint "$ep" \
        "{\"v\":1,\"type\":\"tell\",\"sweep\":\"a2\",\"trial_id\":${tid:-0},\"output\":-12345,\"cost\":-1e9,\"is_failure\":false}" \
        "{\"v\":1,\"type\":\"tell\",\"sweep\":\"a2\",\"trial_id\":${tid:-0},\"output\":-12345,\"cost\":1,\"is_failure\":false}" \
        >"$tmp/a2.out" 2>&1
    "$carbs" --db "$db" tell a2 "${tid:-0}" --output -12345 --cost 1 >/dev/null 2>"$tmp/a2c.err"
    ask=$("$carbs" --db "$db" ask a2 2>/dev/null | grep -o '"trial_id":[0-9]*' | cut -d: -f2)
    "$send" --endpoint "$ep" \
        "{\"v\":1,\"type\":\"tell\",\"sweep\":\"a2\",\"trial_id\":${ask:-0},\"output\":1,\"cost\":-5,\"is_failure\":false}" \
        >"$tmp/a2n.out" 2>&1
    wait "$wp"
    stop "$spid"
    st=$("$carbs" --db "$db" trials a2 2>/dev/null | grep "\"id\":${tid:-0}," | grep -o '"state":"[a-z]*"')
    row 2 "a peer sends \`tell\` with output -12345, cost -1e9 (and cost 1) for trial $tid, which worker w2 runs" \
        "both refused (ok false: \"$(msg "$tmp/a2.out")\"); \`carbs tell\` alike (\"$(line "$tmp/a2c.err" 100)\"); trial $tid still $st; a tell with cost -5 for ask trial $ask: \"$(msg "$tmp/a2n.out")\""
fi

# ---- 3. hello with another worker's id ----
if picked 3; then
    db=$tmp/a3.db
    branin a3 >"$tmp/a3.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a3.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a3.log" --keys "$keys"
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve good) --id good --hold 3000 "$(hello good)" "$READY" >"$tmp/a3g.out" 2>&1 &
    gp=$!
    wait_for 10 test -s "$tmp/a3g.out" # good's hello answered: it is the live worker
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve other) "$(hello good)" >"$tmp/a3o.out" 2>&1
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve other) --id good "$(hello good)" >"$tmp/a3r.out" 2>&1
    wait "$gp"
    stop "$spid"
    serve "$db" "$tmp/a3b.log" --keys "$keys"
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve other) --id good "$(hello good)" >"$tmp/a3x.out" 2>&1
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve good) --id good "$(hello good)" >"$tmp/a3y.out" 2>&1
    stop "$spid"
    row 3 "CURVE: key other says hello as worker good (own routing id; good's routing id)" \
        "$(grep -c EDENIED "$tmp/a3o.out") + $(grep -c EDENIED "$tmp/a3r.out") of 2 refused EDENIED: \"$(msg "$tmp/a3o.out")\""
    row 3 "CURVE: after a service restart, key other says hello as good before good is back" \
        "refused ($(grep -o '"code":"[A-Z]*"' "$tmp/a3x.out")); good then gets $(grep -o '"type":"welcome"' "$tmp/a3y.out" | cut -d'"' -f4)"
    db=$tmp/a3p.db
    branin a3p >"$tmp/a3p.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a3p.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a3p.log"
    "$send" --endpoint "$ep" --id w1 --hold 3000 "$(hello w1)" "$READY" >"$tmp/a3pw.out" 2>&1 &
    gp=$!
    wait_for 10 test -s "$tmp/a3pw.out" # w1's hello answered: it is the live worker
    "$send" --endpoint "$ep" "$(hello w1)" >"$tmp/a3pr.out" 2>&1
    wait "$gp"
    stop "$spid"
    row 3 "no keys: a second connection says hello as live worker w1" \
        "refused $(grep -o '"code":"[A-Z]*"' "$tmp/a3pr.out"): \"$(msg "$tmp/a3pr.out")\""
fi

# ---- 4. a command trial reports a cost that is negative, NaN or infinite ----
if picked 4; then
    db=$tmp/a4.db
    for kind in neg nan inf; do
        case $kind in
        neg) out='{"loss": 1.5, "wall_seconds": -5}' ;;
        nan) out='{"loss": 1.5, "wall_seconds": NaN}' ;;
        inf) out='{"loss": 1.5, "wall_seconds": Infinity}' ;;
        esac
        printf "echo '%s'\n" "$out" >"$tmp/a4$kind.sh"
        cat >"$tmp/a4$kind.yaml" <<YAML
name: a4$kind
metric: {name: loss, goal: minimize}
cost: {name: wall_seconds}
trainer: command
command: [/bin/sh, "$tmp/a4$kind.sh"]
parameters:
  x: {space: linear, min: 0, max: 1}
budget: {cost: 3, trials: 30, parallel: 1}
YAML
        "$carbs" --db "$db" sweep create "$tmp/a4$kind.yaml" >/dev/null 2>&1
    done
    serve "$db" "$tmp/a4.log"
    "$carbs" --log-level warn worker --connect "$ep" --id w4 --slots 3 --tmp-dir "$tmp" 2>"$tmp/a4w.log" &
    wp=$!
    pids="$pids $wp"
    wait_for 60 a4_paused "$db"
    stop "$wp"
    "$carbs" --db "$db" status >"$tmp/a4.status" 2>&1
    stop "$spid"
    for kind in neg nan inf; do
        "$carbs" --db "$db" trials "a4$kind" >"$tmp/a4$kind.trials" 2>/dev/null
        spent=$("$carbs" --db "$db" status >/dev/null 2>&1; "$carbs" --db "$db" status 2>/dev/null |
            grep -o "\"name\":\"a4$kind\"[^}]*}[^}]*\"cost_spent\":[-0-9.e]*" | grep -o '"cost_spent":[-0-9.e]*' | cut -d: -f2)
        state=$("$carbs" --db "$db" status 2>/dev/null | grep -o "\"name\":\"a4$kind\",\"state\":\"[a-z]*\"" | cut -d'"' -f8)
        row 4 "command trials print \`$(case $kind in neg) echo 'wall_seconds: -5' ;; nan) echo 'wall_seconds: NaN' ;; inf) echo 'wall_seconds: Infinity' ;; esac)\` (budget cost 3)" \
            "$(grep -c '"state":"done"' "$tmp/a4$kind.trials") done, $(grep -c '"state":"failed"' "$tmp/a4$kind.trials") failed (\"$(grep -o '"message":"[^"]*"' "$tmp/a4$kind.trials" | head -n 1 | cut -d'"' -f4)\"); cost_spent ${spent:-?}; sweep $state"
    done
fi

# ---- 5. a symlink and a hard link to the store ----
if picked 5; then
    db=$tmp/a5.db
    branin a5 >"$tmp/a5.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a5.yaml" >/dev/null 2>&1
    ln -s "$db" "$tmp/a5sym.db"
    mkdir -p "$tmp/elsewhere" && ln "$db" "$tmp/elsewhere/a5hard.db"
    serve "$db" "$tmp/a5.log"
    "$carbs" serve --db "$tmp/a5sym.db" --bind 'tcp://127.0.0.1:*' >/dev/null 2>"$tmp/a5s.err"
    rs=$?
    "$carbs" serve --db "$tmp/elsewhere/a5hard.db" --bind 'tcp://127.0.0.1:*' >/dev/null 2>"$tmp/a5h.err"
    rh=$?
    row 5 "a second \`carbs serve\` through a symlink / a hard link to a served store" \
        "exit $rs / $rh: \"$(line "$tmp/a5h.err" 140)\""
    okn=0
    for i in 1 2 3 4 5; do
        for name in "$tmp/elsewhere/a5hard.db" "$tmp/a5sym.db"; do
            id=$("$carbs" --db "$name" ask a5 2>"$tmp/a5a.err" | grep -o '"trial_id":[0-9]*' | cut -d: -f2)
            [ -n "$id" ] && "$carbs" --db "$name" tell a5 "$id" --output "1.$i" --cost 2 2>>"$tmp/a5a.err" >/dev/null &&
                okn=$((okn + 1))
        done
    done
    done_svc=$("$carbs" --db "$db" status 2>/dev/null | grep -o '"done":[0-9]*' | head -n 1 | cut -d: -f2)
    stop "$spid"
    done_file=$("$carbs" --db "$db" trials a5 --state done 2>/dev/null | wc -l)
    row 5 "10 ask+tell pairs through the hard link and the symlink while the service runs" \
        "$okn of 10 answered by the running service; it counts $done_svc done; after it stops the file holds $done_file done; integrity: $("$carbs" store check --db "$db" 2>&1 | tail -n 1 | cut -c1-60)"
fi

# ---- 6. a garbled page ----
if picked 6; then
    db=$tmp/a6.db
    "$carbs" --db "$db" sweep create "$root/examples/synthetic.yaml" --name a6 >/dev/null 2>&1
    for i in $(seq 1 40); do
        id=$("$carbs" --db "$db" ask a6 2>/dev/null | grep -o '"trial_id":[0-9]*' | cut -d: -f2)
        "$carbs" --db "$db" tell a6 "$id" --output "1.$i" --cost 2 >/dev/null 2>&1
    done
    dd if=/dev/zero of="$db" bs=4096 seek=15 count=1 conv=notrunc 2>/dev/null
    "$carbs" serve --db "$db" --bind 'tcp://127.0.0.1:*' >/dev/null 2>"$tmp/a6s.err"
    rs=$?
    "$carbs" --db "$db" ask a6 >/dev/null 2>"$tmp/a6a.err"
    ra=$?
    "$carbs" store check --db "$db" >/dev/null 2>"$tmp/a6c.err"
    rc=$?
    "$carbs" store recover --db "$db" --out "$tmp/a6new.db" >/dev/null 2>&1
    rr=$?
    "$carbs" --db "$tmp/a6new.db" trials a6 >"$tmp/a6t.out" 2>/dev/null
    valid=$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]; print("valid JSON")' "$tmp/a6t.out" 2>&1 | tail -n 1)
    row 6 "page 16 of a 40-trial store zeroed; then serve, ask, store check, store recover" \
        "serve exit $rs (\"$(line "$tmp/a6s.err" 150)\"); ask exit $ra; check exit $rc; recover exit $rr, $(wc -l <"$tmp/a6t.out") trials kept, \`trials\` output: $valid"
fi

rss() { awk '/^VmRSS/ {print int($2 / 1024) " MB"}' "/proc/$1/status" 2>/dev/null; }

# ---- 6b. invalid UTF-8 in a row, a bad row in one sweep ----
if picked 6; then
    db=$tmp/a6b.db
    branin a6b >"$tmp/a6b.yaml"
    branin a6c >"$tmp/a6c.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a6b.yaml" >/dev/null 2>&1
    "$carbs" --db "$db" sweep create "$tmp/a6c.yaml" >/dev/null 2>&1
    for s in a6b a6c; do
        id=$("$carbs" --db "$db" ask $s 2>/dev/null | grep -o '"trial_id":[0-9]*' | cut -d: -f2)
        "$carbs" --db "$db" tell $s "$id" --output 1.5 --cost 2 >/dev/null 2>&1
    done
    # a byte that is no UTF-8 in a1's result message and in a6c's params
    python3 - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE results SET message = CAST(X'6f6b20ff20fe' AS TEXT) WHERE trial = 1")
c.execute("UPDATE trials SET params = CAST(X'7b2278223aff7d' AS TEXT) WHERE sweep = 2")
c.commit()
PY
    "$carbs" --db "$db" trials a6b >"$tmp/a6b.out" 2>/dev/null
    valid=$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]; print("valid UTF-8 JSON")' "$tmp/a6b.out" 2>&1 | tail -n 1)
    serve "$db" "$tmp/a6b.log"
    "$carbs" --db "$db" status >"$tmp/a6b.status" 2>&1
    stop "$spid"
    row 6 "invalid UTF-8 written into a result message, and a params row of sweep a6c made unreadable; then \`carbs trials\`, \`carbs serve\`" \
        "\`trials\`: $valid; serve started ($(grep -o 'serving [0-9]* sweep[s]*' "$tmp/a6b.log" | head -n 1)), $(grep -o '"name":"a6[bc]","state":"[a-z]*"' "$tmp/a6b.status" | tr '\n' ' '); log: \"$(grep -i 'a6c' "$tmp/a6b.log" | head -n 1 | cut -c22-150)\""
fi

# ---- 7. 50,000 hellos with distinct ids ----
if picked 7; then
    db=$tmp/a7.db
    branin a7 >"$tmp/a7.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a7.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a7.log" --sync normal
    "$send" --endpoint "$ep" "$(hello warmup)" >/dev/null 2>&1
    before=$(rss "$spid")
    t0=$(date +%s.%N)
    "$send" --endpoint "$ep" --repeat 50000 --window 64 --quiet "$(hello 'flood-{i}')" "$READY" \
        >/dev/null 2>"$tmp/a7.err"
    t1=$(date +%s.%N)
    after=$(rss "$spid")
    "$carbs" --db "$db" status >"$tmp/a7.status" 2>"$tmp/a7s.err"
    rs=$?
    size=$(wc -c <"$tmp/a7.status")
    nw=$(grep -o '"id":"flood-[0-9]*"' "$tmp/a7.status" | wc -l)
    running=$(grep -o '"worker":"flood-[0-9]*"' "$tmp/a7.status" | wc -l)
    row 7 "one connection says hello (and ready) as 50,000 distinct ids" \
        "$(cut -c1-90 "$tmp/a7.err") in $(echo "$t1 - $t0" | bc | cut -c1-5) s; service RSS $before -> $after; \`carbs status\` exit $rs, $size bytes, $nw flood ids listed, $running trials held by flood ids"
    before=$(rss "$spid")
    "$send" --endpoint "$ep" --fresh --id 'conn-{i}' --repeat 11000 --quiet "$(hello 'conn-{i}')" \
        >/dev/null 2>"$tmp/a7f.err"
    after=$(rss "$spid")
    "$carbs" --db "$db" status >"$tmp/a7f.status" 2>&1
    row 7 "11,000 connections, each its own routing id and worker id (lease 60 s: none is gone yet)" \
        "$(cut -c1-100 "$tmp/a7f.err"); RSS $before -> $after; \`carbs status\` $(wc -c <"$tmp/a7f.status") bytes, workers_unlisted $(grep -o '"workers_unlisted":[0-9]*' "$tmp/a7f.status" | cut -d: -f2)"
    stop "$spid"
    serve "$db" "$tmp/a7k.log" --keys "$keys" --sync normal
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve other) --fresh --id 'key-{i}' --repeat 1100 --quiet \
        "$(hello 'key-{i}')" >/dev/null 2>"$tmp/a7k.err"
    # shellcheck disable=SC2046
    "$send" --endpoint "$ep" $(curve good) --id good "$(hello good)" >"$tmp/a7g.out" 2>&1
    stop "$spid"
    row 7 "CURVE: 1,100 connections with one worker key (other), each its own id; then key good says hello" \
        "$(cut -c1-100 "$tmp/a7k.err") (\"$(grep -o "key 'other' holds [^;]*" "$tmp/a7k.log" | head -n 1)\"); good gets $(grep -o '"type":"[a-z]*"' "$tmp/a7g.out" | head -n 1 | cut -d'"' -f4)"
fi

# ---- 8. a sweep of many parameters over the wire ----
# spec N: a command sweep of N linear parameters, as escaped JSON text
spec() {
    awk -v n="$1" 'BEGIN {
        printf "{\\\"name\\\":\\\"p%d\\\",\\\"trainer\\\":\\\"command\\\",\\\"command\\\":[\\\"/bin/true\\\"],", n, n
        printf "\\\"metric\\\":{\\\"name\\\":\\\"loss\\\"},\\\"cost\\\":{\\\"name\\\":\\\"wall_seconds\\\"},\\\"parameters\\\":{"
        for (i = 0; i < n; i++)
            printf "%s\\\"x%d\\\":{\\\"space\\\":\\\"linear\\\",\\\"min\\\":0,\\\"max\\\":1}", i ? "," : "", i
        printf "}}"
    }'
}
if picked 8; then
    db=$tmp/a8.db
    branin a8 >"$tmp/a8.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a8.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a8.log"
    "$send" --endpoint "$ep" "{\"v\":1,\"type\":\"sweep_create\",\"spec_json\":\"$(spec 1000)\"}" >"$tmp/a8a.out" 2>&1
    row 8 "sweep_create of 1,000 parameters over the wire" "refused: \"$(msg "$tmp/a8a.out" | cut -c1-140)\""
    t0=$(date +%s.%N)
    "$send" --endpoint "$ep" --wait 120000 "{\"v\":1,\"type\":\"sweep_create\",\"spec_json\":\"$(spec 256)\"}" >"$tmp/a8b.out" 2>&1
    t1=$(date +%s.%N)
    # status probes, each timed, while 12 ask+tell pairs go to the 256-parameter sweep
    (
        while [ ! -e "$tmp/a8.done" ]; do
                s0=$(date +%s%N)
                "$carbs" --db "$db" status >/dev/null 2>&1 || echo fail
                echo $((($(date +%s%N) - s0) / 1000000))
                sleep 0.2
        done >"$tmp/a8.probes"
    ) &
    prober=$!
    worst_ask=0
    for i in $(seq 1 12); do
        s0=$(date +%s%N)
        id=$("$carbs" --db "$db" ask p256 2>/dev/null | grep -o '"trial_id":[0-9]*' | cut -d: -f2)
        ms=$((($(date +%s%N) - s0) / 1000000))
        [ "$ms" -gt "$worst_ask" ] && worst_ask=$ms
        "$carbs" --db "$db" tell p256 "${id:-0}" --output "0.$i" --cost 1.5 >/dev/null 2>&1
    done
    touch "$tmp/a8.done"
    wait "$prober"
    stop "$spid"
    probes=$(grep -c . "$tmp/a8.probes")
    worst=$(grep -v fail "$tmp/a8.probes" | sort -n | tail -n 1)
    row 8 "sweep_create of 256 parameters (the bound) over the wire, then 12 ask+tell pairs with \`carbs status\` probes every 0.2 s" \
        "created in $(echo "$t1 - $t0" | bc | cut -c1-5) s ($(grep -o '"ok":[a-z]*' "$tmp/a8b.out")); slowest ask ${worst_ask} ms; $probes status probes, $(grep -c fail "$tmp/a8.probes") failed, slowest ${worst} ms"
fi

# ---- 9. a restart with running trials ----
if picked 9; then
    db=$tmp/a9.db
    branin a9 >"$tmp/a9.yaml"
    "$carbs" --db "$db" sweep create "$tmp/a9.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a9.log" --lease-ms 6000 --heartbeat-ms 1000
    "$send" --endpoint "$ep" --id w9 "$(hello w9)" "$READY" "$READY" "$READY" >/dev/null 2>&1
    t0=$(date +%s.%N)   # the worker is gone from here on: nobody renews the leases
    sleep 2
    kill -9 "$spid"
    wait "$spid" 2>/dev/null
    serve "$db" "$tmp/a9b.log" --lease-ms 6000 --heartbeat-ms 1000
    gone=
    for _ in $(seq 1 300); do
        n=$("$carbs" --db "$db" trials a9 --state running 2>/dev/null | grep -c '"worker":"w9"')
        if [ "$n" -eq 0 ]; then
            gone=$(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4)
            break
        fi
        sleep 0.1
    done
    stop "$spid"
    row 9 "a worker takes 3 trials and vanishes; 2 s later the service is killed (-9) and restarted; lease 6 s" \
        "its trials stop running ${gone:-never (30 s)} s after the worker's last frame (due: lease 6 s + at most a quarter lease, 7.5 s, plus the 0.25 s lease check and this script's 0.1 s polling)"
fi

# ---- 10. the small items ----
if picked 10; then
    printf '%s\n' '{"cmd":"init","seed":1,"better_direction_sign":-1,"space":[{"name":"x","kind":"linear","min":0,"max":1,"center":0.5,"scale":0.2}]}' \
        '{"cmd":"suggest"}' >"$tmp/at.in"
    "$carbs" ask-tell <"$tmp/at.in" >"$tmp/at.out" 2>/dev/null
    sid=$(grep -o '"id":"[0-9]*"' "$tmp/at.out" | head -n 1 | cut -d'"' -f4)
    x=$(grep -o '"x":[-0-9.e]*' "$tmp/at.out" | head -n 1 | cut -d: -f2)
    obs="{\"cmd\":\"observe\",\"id\":\"$sid\",\"params\":{\"x\":$x},\"output\":1.5,\"cost\":2,\"is_failure\":false}"
    printf '%s\n' "$obs" "$obs" '' '{"cmd":"pareto"}' >>"$tmp/at.in"
    "$carbs" ask-tell <"$tmp/at.in" >"$tmp/at.out" 2>/dev/null
    row 10 "ask-tell: one \`observe\` sent twice, then an empty line" \
        "second observe: $(sed -n 4p "$tmp/at.out" | cut -c1-110); replies: $(wc -l <"$tmp/at.out") for 5 non-empty lines; pareto n = $(grep -o '"n":[0-9]*' "$tmp/at.out" | head -n 1 | cut -d: -f2)"
    "$carbs" serve --db "$tmp/a10.db" --bind 'udp://x:1' >/dev/null 2>"$tmp/a10b.err"
    rb=$?
    "$carbs" version --bogus >/dev/null 2>&1
    rv=$?
    "$carbs" ask toy --db "$tmp/none.db" >/dev/null 2>"$tmp/a10n.err"
    ra=$?
    "$carbs" tell toy 1 --output 1 --cost 1 --db "$tmp/none.db" >/dev/null 2>&1
    rt=$?
    row 10 "\`serve --bind udp://x:1\`; \`version --bogus\`; \`ask\`/\`tell\` on a missing --db" \
        "exit $rb (\"$(line "$tmp/a10b.err" 90)\"); exit $rv; exit $ra / $rt, $( [ -e "$tmp/none.db" ] && echo 'store created' || echo 'no file created')"
    # a result line of 2 MB
    cat >"$tmp/big.sh" <<'SH'
head -c 2000000 /dev/zero | tr '\0' 'a' | sed 's/^/{"note":"/; s/$/","loss":1.5}/'
SH
    cat >"$tmp/a10.yaml" <<YAML
name: a10big
metric: {name: loss, goal: minimize}
cost: {name: wall_seconds}
trainer: command
command: [/bin/sh, "$tmp/big.sh"]
parameters:
  x: {space: linear, min: 0, max: 1}
budget: {trials: 1, parallel: 1}
YAML
    db=$tmp/a10.db
    "$carbs" --db "$db" sweep create "$tmp/a10.yaml" >/dev/null 2>&1
    serve "$db" "$tmp/a10.log"
    "$carbs" --log-level warn worker --connect "$ep" --id w10 --once --tmp-dir "$tmp" 2>/dev/null
    stop "$spid"
    row 10 "a command trial prints a 2 MB result line" \
        "$("$carbs" --db "$db" trials a10big 2>/dev/null | grep -o '"state":"[a-z]*"\|"message":"[^"]*"' | tr '\n' ' ' | cut -c1-150)"
    # a full disk: a 512 KiB tmpfs in a private mount namespace (root only)
    mkdir -p "$tmp/mt"
    if unshare -m sh -c "mount -t tmpfs -o size=512k tmpfs '$tmp/mt'" 2>/dev/null; then
        unshare -m sh -c "
            mount -t tmpfs -o size=512k tmpfs '$tmp/mt' &&
            '$carbs' --db '$tmp/mt/s.db' sweep create '$root/examples/synthetic.yaml' --name full >/dev/null 2>&1 &&
            head -c 2000000 /dev/zero >'$tmp/mt/fill' 2>/dev/null
            for i in \$(seq 1 100); do
                '$carbs' --db '$tmp/mt/s.db' ask full >'$tmp/full.out' 2>'$tmp/full.err' || break
            done" 2>/dev/null
        row 10 "a full disk (the store on a 512 KiB tmpfs filled up)" "\"$(line "$tmp/full.err" 140)\""
    else
        row 10 "a full disk" "not run (needs root for a private tmpfs); tests/test_store.c provokes it through store_fault_io"
    fi
fi
