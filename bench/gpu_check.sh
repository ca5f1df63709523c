#!/bin/sh
# bench/gpu_check.sh - everything the CUDA backend needs a GPU for, as one command
# (docs/performance.md, GPU).  Run from the source folder on a GPU machine:
#
#   bench/gpu_check.sh [OUTDIR]        # OUTDIR: default $OUT, else ./gpu-check-out
#
# 1. builds a release tree (build-gpu: -Dcuda=enabled, sm_90 SASS) of the targets it uses;
# 2. runs the shared-math, backend and gradient tests and tests/test_cuda (the CPU-vs-CUDA
#    cross-check with its per-layer errors, score, a short training run, oom, NCCL parity);
# 3. benchmarks `carbs train --device cuda:0` on the ~124M model (d_model 768, 12 layers,
#    12 heads, seq 1024, vocabulary 50304, batch 16) and the ladder's rungs r0-r4
#    (docs/data.md), then the 124M model on two GPUs when there are two;
# 4. with prepared data in ./data-cache (vocabulary 8192, see below) one 124M-shaped run on
#    the real corpus, else that run uses the synthetic corpus too.
#
# Every figure lands in OUTDIR: env.txt, tests.txt, bench.tsv (name, device, tokens, train
# seconds, tokens/s, MFU), one JSON result per run and summary.txt.  It needs no network:
# the machine may have none.  To carry real token shards, prepare them here first
# (tools/fetch-corpus.sh && build/tools/carbs data prepare --vocab 8192) and copy
# data-cache/ (ignored by git) along with the tree.  Budget: about 2 minutes to build with
# 16 cores, 1-2 to test, 2-3 to benchmark; each run has its own timeout so the whole stays
# under 8 minutes on one H100.
set -u

out=${1:-${OUT:-gpu-check-out}}
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
bdir=${GPU_CHECK_BUILD:-build-gpu} # an existing build there skips step 1 (for trying the script)
jobs=$(nproc 2>/dev/null || echo 8)

say() {
    printf '%s\n' "$*" | tee -a "$summary"
}

# field NAME FILE: the number after "NAME": in a one-line JSON result
field() {
    sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2" | head -n 1
}

# ---- environment ----
{
    date -u
    uname -a
    nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv 2>&1
    /usr/local/cuda/bin/nvcc --version 2>&1 | tail -n 2
    nproc
} >"$out/env.txt"
say "gpu_check: $(grep -m1 'GPU 0' "$out/env.txt" || echo 'no GPU listed')"

# ---- build ----
t0=$(date +%s)
if [ -n "${GPU_CHECK_BUILD:-}" ]; then
    say "build: using $bdir as it is"
elif [ -d "$bdir" ]; then
    setup_cmd="meson setup --reconfigure $bdir --buildtype=release -Dcuda=enabled"
else
    setup_cmd="meson setup $bdir --buildtype=release -Dcuda=enabled"
fi
if [ -z "${GPU_CHECK_BUILD:-}" ] && ! $setup_cmd >"$out/build.log" 2>&1; then
    say "build: meson setup failed (see build.log)"
    tail -n 30 "$out/build.log"
    exit 1
fi
if [ -z "${GPU_CHECK_BUILD:-}" ] && ! timeout 300 ninja -C "$bdir" -j "$jobs" tools/carbs tests/test_kernel_math tests/test_backend \
    tests/test_gradcheck tests/test_cuda >>"$out/build.log" 2>&1; then
    say "build: ninja failed (see build.log)"
    tail -n 30 "$out/build.log"
    exit 1
fi
say "build: $(($(date +%s) - t0)) s"
"$bdir/tools/carbs" version >>"$out/env.txt" 2>&1

# ---- tests ----
: >"$out/tests.txt"
for t in test_kernel_math test_backend test_gradcheck test_cuda; do
    timeout 180 "$bdir/tests/$t" >"$out/$t.txt" 2>&1
    rc=$?
    cat "$out/$t.txt" >>"$out/tests.txt"
    case $rc in
    0) verdict=ok ;;
    77) verdict=skipped ;;
    124) verdict="timed out" ;;
    *) verdict="FAILED ($rc)" ;;
    esac
    say "test $t: $verdict ($(grep -E '^[0-9]+ passed' "$out/$t.txt" | tail -n 1))"
done
grep -E '^(cross|nccl|train) ' "$out/tests.txt" >"$out/crosscheck.txt"
say "cross-check worst per-layer gradient error: $(awk '$1 ~ /^cross/ && $2 != "loss" {
    n++; if ($4 > m) m = $4 } END { print n ? m : "none measured" }' "$out/crosscheck.txt")"
grep -E '^(cross loss|cross_tied loss|nccl|train)' "$out/crosscheck.txt" | tee -a "$summary"

# ---- benchmark ----
printf 'name\tdevice\ttokens\ttrain_s\ttokens_per_s\tmfu\n' >"$out/bench.tsv"

# run NAME DEVICE LIMIT_S ARGS...: one `carbs train` run, its figures into bench.tsv
run() {
    name=$1 dev=$2 limit=$3
    shift 3
    timeout "$limit" "$bdir/tools/carbs" train --device "$dev" --mcq-items 1 "$@" \
        >"$out/$name.json" 2>"$out/$name.log"
    rc=$?
    if [ $rc -ne 0 ]; then
        say "bench $name on $dev: failed ($rc): $(tail -n 1 "$out/$name.log")"
        return
    fi
    tok=$(field tokens "$out/$name.json")
    sec=$(field train_seconds "$out/$name.json")
    mfu=$(field mfu "$out/$name.json")
    tps=$(awk -v t="$tok" -v s="$sec" 'BEGIN { if (s > 0) printf "%.0f", t / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$dev" "$tok" "$sec" "$tps" "${mfu:-nan}" \
        >>"$out/bench.tsv"
    say "bench $name on $dev: $tps tokens/s, MFU ${mfu:-unknown}, val_loss $(field val_loss "$out/$name.json")"
}

m124="--set d_model=768 --set n_layers=12 --set head_dim=64 --set kv_ratio=1 --set seq_len=1024
      --set batch_size=16"
# 60 steps of 16 x 1024 tokens (the first includes cuBLAS's warm-up)
# shellcheck disable=SC2086
run gpt124m cuda:0 150 --synthetic $m124 --set vocab_size=50304 --set tokens=983040
for r in "r0 64 2 16" "r1 96 3 24" "r2 128 4 32" "r3 192 4 32" "r4 256 6 32"; do
    # shellcheck disable=SC2086
    set -- $r
    # 200 steps of batch 64 x seq 256 (the CPU ladder uses batch 16; a GPU needs more rows)
    run "$1" cuda:0 60 --synthetic --set d_model="$2" --set n_layers="$3" --set head_dim="$4" \
        --set kv_ratio=0.5 --set seq_len=256 --set batch_size=64 --set vocab_size=2048 \
        --set tokens=3276800
done
if [ "$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')" -ge 2 ]; then
    # shellcheck disable=SC2086
    run gpt124m_2gpu cuda:0,1 150 --synthetic $m124 --set vocab_size=50304 --set tokens=983040
fi
if [ -d data-cache/vocab_8192 ]; then
    # shellcheck disable=SC2086
    run gpt124m_real cuda:0 150 --data data-cache $m124 --set vocab_size=8192 --set tokens=983040
else
    say "bench gpt124m_real: no data-cache/vocab_8192 carried; skipped"
fi
say "figures in $out: summary.txt bench.tsv crosscheck.txt tests.txt env.txt"
