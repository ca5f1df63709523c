/*
 * bench_train.c - training throughput of the CPU backend on the scale
 * ladder r0-r4 of docs/data.md (vocabulary 2048, seq 256, batch 16), with one
 * and two threads, next to OpenBLAS sgemm at each rung's largest matrix
 * multiply (the LM head: 4096 x 2048 x d_model), and peak memory against
 * the trainer's own pre-allocation estimate.
 *
 *   bench_train [--steps N] [--rungs r0,r1,...] [--threads 1,2]
 *
 * Each (rung, threads) runs in a forked child so peak RSS (VmHWM) is its
 * own; the parent never touches OpenBLAS or OpenMP before forking.  Timing
 * covers training steps only (one warm-up step excluded); GFLOP/s uses the
 * FLOPs of docs/trainer.md, Model (model_flops_step) divided by seconds and
 * threads.
 * Prints a markdown table for docs/performance.md.
 */
#include "proto/common.h"

#include <getopt.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trainer/blas.h"
#include "trainer/cpu_kernels.h"
#include "trainer/model.h"
#include "trainer/trainer.h"

static const struct rung {
    const char *name;
    int64_t d, layers, head_dim;
    double kv_ratio;
} rungs[] = {
    {"r0", 64, 2, 16, 0.5},  {"r1", 96, 3, 24, 0.5},     {"r2", 128, 4, 32, 0.5},
    {"r3", 192, 4, 32, 0.34}, {"r4", 256, 6, 32, 0.25},
};

typedef struct figures {
    double tok_s, gflops_core, sgemm_gflops, peak_rss, base_rss, estimate, n_params;
    int ok;
} figures_t;

/* A field of /proc/self/status in bytes ("VmRSS", "VmHWM"). */
static double proc_status_bytes(const char *field)
{
    char line[256];
    double v = 0;
    size_t n = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtod(line + n + 1, NULL) * 1024.0;
            break;
        }
    }
    fclose(f);
    return v;
}

/* Single-thread sgemm GFLOP/s for C (M, N) = A (M, K) B^T, best of 3. */
static double sgemm_gflops(size_t M, size_t N, size_t K)
{
    float *A = xcalloc(M * K, sizeof(float)), *B = xcalloc(N * K, sizeof(float));
    float *C = xcalloc(M * N, sizeof(float));
    double best = 0;

    for (size_t i = 0; i < M * K; i++)
        A[i] = (float)((i * 2654435761u) % 1000) * 1e-3f;
    for (size_t i = 0; i < N * K; i++)
        B[i] = (float)((i * 40503u) % 1000) * 1e-3f;
    ck_blas_single_thread();
    ck_gemm(false, true, M, N, K, 1, A, K, B, K, 0, C, N);
    for (int r = 0; r < 3; r++) {
        double t0 = now_monotonic(), dt;
        ck_gemm(false, true, M, N, K, 1, A, K, B, K, 0, C, N);
        dt = now_monotonic() - t0;
        best = fmax(best, 2.0 * (double)M * (double)N * (double)K / dt / 1e9);
    }
    free(A), free(B), free(C);
    return best;
}

static void run_child(const struct rung *r, int threads, int steps, figures_t *fg)
{
    trainer_config_t cfg;
    trainer_options_t opt = {.threads = threads};
    model_layout_t lay;
    dataset_t ds;
    carbs_err_t err = {0};
    trainer_t *tr;
    size_t est = 0;
    double t0, dt;
    trainer_progress_t p;

    memset(fg, 0, sizeof(*fg));
    trainer_config_defaults(&cfg);
    cfg.vocab_size = 2048;
    cfg.seq_len = 256;
    cfg.batch_size = 16;
    cfg.d_model = r->d;
    cfg.n_layers = r->layers;
    cfg.head_dim = r->head_dim;
    cfg.kv_ratio = r->kv_ratio;
    cfg.tokens = (double)(steps + 1) * 16 * 256;
    if (dataset_synthetic(2048, 1, 1u << 20, &ds, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return;
    }
    if (model_layout(&cfg, &lay, &err) || trainer_memory_bytes(&cfg, &opt, &est, NULL, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        dataset_release(&ds);
        return;
    }
    fg->sgemm_gflops = sgemm_gflops(16 * 256, lay.shape.vocab, lay.shape.d);
    fg->base_rss = proc_status_bytes("VmRSS");
    tr = trainer_open(&cfg, &opt, &ds, &err);
    if (!tr) {
        fprintf(stderr, "bench: %s\n", err.msg);
        dataset_release(&ds);
        return;
    }
    trainer_step(tr, &p, NULL); /* warm-up */
    t0 = now_monotonic();
    for (int s = 0; s < steps; s++)
        trainer_step(tr, &p, NULL);
    dt = now_monotonic() - t0;
    fg->tok_s = (double)steps * 16 * 256 / dt;
    fg->gflops_core = (double)steps * model_flops_step(&lay, 16) / dt / 1e9 / threads;
    fg->peak_rss = proc_status_bytes("VmHWM");
    fg->estimate = (double)est;
    fg->n_params = lay.shape.n_params_total;
    fg->ok = 1;
    trainer_close(tr);
    dataset_release(&ds);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"steps", required_argument, NULL, 's'},
        {"rungs", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *want = "r0,r1,r2,r3,r4", *tlist = "1,2";
    long steps = 3;
    int c;

    blas_core_fix(argv); /* the kernels carbs itself would run */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's' && parse_long(optarg, 1, 1000, &steps) == 0)
            continue;
        if (c == 'r') {
            want = optarg;
            continue;
        }
        if (c == 't') {
            tlist = optarg;
            continue;
        }
        fprintf(stderr, "usage: bench_train [--steps N] [--rungs r0,r1] [--threads 1,2]\n");
        return 2;
    }
    printf("OpenBLAS kernels: %s\n\n", blas_core());
    printf("| rung | params | threads | tokens/s | GFLOP/s per core | sgemm GFLOP/s (1 core) | "
           "%% of sgemm | peak RSS MiB | growth MiB | estimate MiB | growth/estimate |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < ARRAY_SIZE(rungs); i++) {
        if (!strstr(want, rungs[i].name))
            continue;
        for (int threads = 1; threads <= 2; threads++) {
            int fd[2], status = 0;
            figures_t fg;
            pid_t pid;
            char tch[2] = {(char)('0' + threads), 0};

            if (!strstr(tlist, tch))
                continue;
            memset(&fg, 0, sizeof(fg));
            if (pipe(fd))
                return 1;
            pid = fork();
            if (pid == 0) {
                close(fd[0]);
                run_child(&rungs[i], threads, (int)steps, &fg);
                if (write(fd[1], &fg, sizeof(fg)) != (ssize_t)sizeof(fg))
                    _exit(1);
                _exit(0);
            }
            close(fd[1]);
            if (read(fd[0], &fg, sizeof(fg)) != (ssize_t)sizeof(fg))
                fg.ok = 0;
            close(fd[0]);
            waitpid(pid, &status, 0);
            if (!fg.ok) {
                printf("| %s | - | %d | failed |\n", rungs[i].name, threads);
                continue;
            }
            printf("| %s | %.2fM | %d | %.0f | %.1f | %.1f | %.0f %% | %.1f | %.1f | %.1f | %.3f |\n",
                   rungs[i].name, fg.n_params / 1e6, threads, fg.tok_s, fg.gflops_core,
                   fg.sgemm_gflops, 100.0 * fg.gflops_core / fg.sgemm_gflops,
                   fg.peak_rss / 1048576.0, (fg.peak_rss - fg.base_rss) / 1048576.0,
                   fg.estimate / 1048576.0, (fg.peak_rss - fg.base_rss) / fg.estimate);
            fflush(stdout);
        }
    }
    return 0;
}
