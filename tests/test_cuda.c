/*
 * test_cuda.c - the CUDA backend against the CPU backend on one GPU (and
 * NCCL data parallelism on two when present).  Exits 77 (skipped) in a
 * build without the cuda backend or on a machine where no GPU answers,
 * which is every CI machine (docs/style.md H33).
 *
 * Cross-check: the same tiny model (2 layers, GQA, T = 80 > one attention
 * block, untied and tied), the same parameters and batch on both backends:
 * the loss within CROSS_LOSS relative and every tensor's gradient, layer by
 * layer, within CROSS_GRAD of that tensor's largest CPU gradient.  Why those
 * tolerances: bf16 keeps 8 significant bits (relative rounding 2^-8 = 0.4 %
 * per input of a matrix multiply, fp32 accumulation), through ~10 chained
 * multiplies forward and back.  Each measured error is printed on stdout
 * ("cross <tensor> <layer> <error>") for bench/gpu_check.sh to keep.
 */
#include "proto/common.h"
#include "trainer/backend.h"

#include <math.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "trainer/trainer.h"

#define CROSS_LOSS 1e-2
#define CROSS_GRAD 5e-2
/* NCCL over two GPUs against one GPU with the same global batch: the same
 * rows in bf16, only the fp32 summation order of the weight gradients
 * differs. */
#define NCCL_GRAD 1e-3

static uint64_t rng_state = 0xa4093822299f31d0ULL;

static double unif(void)
{
    return fx_splitmix_signed(&rng_state); /* [-1, 1) */
}

static void tiny_config(trainer_config_t *cfg, bool tied, size_t B)
{
    trainer_config_defaults(cfg);
    cfg->d_model = 64;
    cfg->n_layers = 2;
    cfg->head_dim = 16;  /* 4 heads */
    cfg->kv_ratio = 0.5; /* 2 kv heads */
    cfg->ffn_mult = 2.5;
    cfg->seq_len = 80;
    cfg->vocab_size = 97;
    cfg->tie_embeddings = tied;
    cfg->rope_base = 500;
    cfg->batch_size = (int64_t)B;
}

static void tiny_batch(size_t n, size_t V, int32_t *tok, int32_t *tgt)
{
    for (size_t i = 0; i < n; i++) {
        tok[i] = (int32_t)((unif() + 1) * 0.5 * (double)V) % (int32_t)V;
        tgt[i] = (int32_t)((unif() + 1) * 0.5 * (double)V) % (int32_t)V;
    }
}

/* Loss and gradients of one forward_backward on backend ops with devices bo. */
static int run_fb(const backend_ops_t *ops, const model_layout_t *lay,
                  const trainer_config_t *cfg, backend_opts_t *bo, const float *params,
                  const int32_t *tok, const int32_t *tgt, float *loss, float *grads)
{
    void *st = NULL;
    carbs_err_t err = {0};
    int rc = ops->open(&st, lay, cfg, bo, &err);

    if (rc) {
        fprintf(stderr, "  %s: %s\n", ops->name, err.msg);
        return rc;
    }
    rc = ops->set_params(st, params);
    if (!rc)
        rc = ops->load_batch(st, tok, tgt);
    if (!rc)
        rc = ops->forward_backward(st, loss);
    if (!rc)
        rc = ops->get_grads(st, grads);
    if (rc)
        fprintf(stderr, "  %s: %s\n", ops->name, ops->error(st));
    ops->close(st);
    return rc;
}

/* Largest |a - b| over the largest |b| of each tensor and layer; printed. */
static double worst_tensor(const model_layout_t *lay, const float *a, const float *b,
                           const char *tag, bool print)
{
    double worst = 0;
    for (int t = 0; t < MODEL_TENSOR_COUNT; t++) {
        size_t rows, cols, nl = t == MODEL_WTE || t == MODEL_LM_HEAD || t == MODEL_LNF
                                    ? 1
                                    : lay->shape.n_layers;
        if (!model_has_tensor(lay, (model_tensor_t)t))
            continue;
        model_tensor_dims(lay, (model_tensor_t)t, &rows, &cols);
        for (size_t l = 0; l < nl; l++) {
            size_t off = model_offset(lay, (model_tensor_t)t, l);
            double mx = 0, e = 0;
            for (size_t i = off; i < off + rows * cols; i++) {
                mx = fmax(mx, fabs((double)b[i]));
                e = fmax(e, fabs((double)a[i] - (double)b[i]));
            }
            e = mx > 0 ? e / mx : e;
            if (print)
                printf("%s %s %zu %.3g\n", tag, model_tensor_name((model_tensor_t)t), l, e);
            worst = fmax(worst, e);
        }
    }
    return worst;
}

static void cross_check(bool tied)
{
    const backend_ops_t *cpu = backend_find("cpu"), *cu = backend_find("cuda");
    trainer_config_t cfg;
    model_layout_t lay;
    size_t B = 2, T = 80;
    backend_opts_t bo = {.batch = B, .threads = 1, .n_devices = 1};
    float *p, *gc, *gg, lc = NAN, lg = NAN;
    int32_t tok[2 * 80], tgt[2 * 80];

    tiny_config(&cfg, tied, B);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    p = xmalloc(lay.n_floats * sizeof(float));
    gc = xmalloc(lay.n_floats * sizeof(float));
    gg = xmalloc(lay.n_floats * sizeof(float));
    model_init(&lay, 0.1, 31, p);
    for (size_t i = lay.off_norms; i < lay.n_floats; i++)
        p[i] = (float)(1.0 + 0.3 * unif());
    tiny_batch(B * T, lay.shape.vocab, tok, tgt);
    CHECK_EQ(run_fb(cpu, &lay, &cfg, &bo, p, tok, tgt, &lc, gc), 0);
    CHECK_EQ(run_fb(cu, &lay, &cfg, &bo, p, tok, tgt, &lg, gg), 0);
    printf("cross%s loss cpu %.6f cuda %.6f rel %.3g\n", tied ? "_tied" : "", (double)lc,
           (double)lg, fabs((double)lg - lc) / lc);
    CHECK(fabs((double)lg - lc) <= CROSS_LOSS * lc);
    CHECK(worst_tensor(&lay, gg, gc, tied ? "cross_tied" : "cross", true) <= CROSS_GRAD);
    free(p), free(gc), free(gg);
}

static void test_cuda_cross_check_untied(void)
{
    cross_check(false);
}

static void test_cuda_cross_check_tied(void)
{
    cross_check(true);
}

/* score with a shared prefix equals score from scratch, and both match the
 * CPU backend's per-token NLL. */
static void test_cuda_score(void)
{
    const backend_ops_t *ops[2] = {backend_find("cpu"), backend_find("cuda")};
    trainer_config_t cfg;
    model_layout_t lay;
    backend_opts_t bo = {.batch = 2, .threads = 1, .n_devices = 1};
    float nll[2][3][80];
    int32_t seq[80], junk[2 * 80];
    float *p;

    tiny_config(&cfg, false, 2);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    p = xmalloc(lay.n_floats * sizeof(float));
    model_init(&lay, 0.1, 5, p);
    tiny_batch(80, lay.shape.vocab, seq, junk);
    for (int k = 0; k < 2; k++) {
        void *st = NULL;
        CHECK_EQ(ops[k]->open(&st, &lay, &cfg, &bo, NULL), 0);
        CHECK_EQ(ops[k]->set_params(st, p), 0);
        /* from scratch over 70 tokens; then 50 as a context and 20 more */
        CHECK_EQ(ops[k]->score(st, seq, 0, 70, nll[k][0]), 0);
        CHECK_EQ(ops[k]->score(st, seq, 0, 50, nll[k][1]), 0);
        CHECK_EQ(ops[k]->score(st, seq, 50, 70, nll[k][1]), 0);
        CHECK_EQ(ops[k]->score(st, seq, 0, 81, nll[k][2]), CARBS_EINVAL);
        ops[k]->close(st);
    }
    for (size_t i = 1; i < 70; i++) {
        CHECK_NEAR(nll[1][1][i], nll[1][0][i], 1e-4 * fabs(nll[1][0][i]) + 1e-5);
        CHECK_NEAR(nll[1][0][i], nll[0][0][i], CROSS_LOSS * nll[0][0][i]);
    }
    free(p);
}

/* A short run on the synthetic corpus: the loss falls, it stays close to the
 * CPU's, and the cost metrics are there (device_seconds, mfu). */
static void test_cuda_trains(void)
{
    trainer_config_t cfg;
    trainer_options_t oc = {.device = "cpu", .mcq_items = 20},
                      og = {.device = "cuda:0", .mcq_items = 20};
    dataset_t ds;
    carbs_result_t rc, rg;
    carbs_err_t err = {0};

    trainer_config_defaults(&cfg);
    cfg.vocab_size = 64;
    cfg.d_model = 32;
    cfg.n_layers = 1;
    cfg.head_dim = 16;
    cfg.seq_len = 32;
    cfg.batch_size = 8;
    cfg.tokens = 200 * 8 * 32;
    cfg.learning_rate = 0.02;
    cfg.seed = 7;
    CHECK_EQ(dataset_synthetic(64, 3, 200000, &ds, NULL), 0);
    carbs_result_init(&rc);
    carbs_result_init(&rg);
    CHECK_EQ(trainer_run(&cfg, &oc, &ds, &rc, NULL), 0);
    if (trainer_run(&cfg, &og, &ds, &rg, &err))
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(rg.ok);
    printf("train val_loss cpu %.4f cuda %.4f\n", rc.metric[CARBS_METRIC_VAL_LOSS],
           rg.metric[CARBS_METRIC_VAL_LOSS]);
    CHECK(rg.metric[CARBS_METRIC_VAL_LOSS] < log(64.0) - 1.0);
    CHECK_NEAR(rg.metric[CARBS_METRIC_VAL_LOSS], rc.metric[CARBS_METRIC_VAL_LOSS], 0.1);
    CHECK(rg.metric[CARBS_METRIC_DEVICE_SECONDS] > 0);
    CHECK(rg.metric[CARBS_METRIC_DEVICE_SECONDS] <= rg.metric[CARBS_METRIC_WALL_SECONDS]);
    CHECK(carbs_result_get(&rg, "peak_flops") > 1e12);
    CHECK(carbs_result_get(&rg, "mfu") > 0 && carbs_result_get(&rg, "mfu") < 1);
    carbs_result_release(&rc);
    carbs_result_release(&rg);
    dataset_release(&ds);
}

/* A model larger than the GPU fails as oom before allocating. */
static void test_cuda_too_large_is_oom(void)
{
    trainer_config_t cfg;
    trainer_options_t opt = {.device = "cuda:0", .device_memory_limit = (size_t)64 << 20};
    dataset_t ds;
    carbs_result_t res;
    carbs_err_t err = {0};

    tiny_config(&cfg, false, 2);
    cfg.d_model = 1024;
    cfg.head_dim = 64;
    cfg.n_layers = 8;
    cfg.vocab_size = 64;
    CHECK_EQ(dataset_synthetic(64, 3, 20000, &ds, NULL), 0);
    carbs_result_init(&res);
    CHECK_EQ(trainer_run(&cfg, &opt, &ds, &res, &err), CARBS_ENOMEM);
    CHECK(strstr(err.msg, "cuda device") != NULL);
    CHECK_EQ(res.failure, CARBS_FAILURE_OOM);
    carbs_result_release(&res);
    dataset_release(&ds);
}

/* NCCL: cuda:0,1 against cuda:0 with the same global batch of 4 sequences.
 * With one GPU the one-rank communicator runs twice and must repeat
 * itself exactly. */
static void test_cuda_nccl_parity(void)
{
    const backend_ops_t *cu = backend_find("cuda");
    trainer_config_t cfg;
    model_layout_t lay;
    backend_opts_t one = {.batch = 4, .n_devices = 1, .devices = {0}};
    backend_opts_t two = {.batch = 4, .n_devices = 2, .devices = {0, 1}};
    size_t free_bytes;
    float *p, *g1, *g2, l1 = NAN, l2 = NAN;
    int32_t tok[4 * 80], tgt[4 * 80];
    bool have_two = cu->probe(&two, &free_bytes, NULL) == 0;

    tiny_config(&cfg, false, 4);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    p = xmalloc(lay.n_floats * sizeof(float));
    g1 = xmalloc(lay.n_floats * sizeof(float));
    g2 = xmalloc(lay.n_floats * sizeof(float));
    model_init(&lay, 0.1, 77, p);
    tiny_batch(4 * 80, lay.shape.vocab, tok, tgt);
    CHECK_EQ(run_fb(cu, &lay, &cfg, &one, p, tok, tgt, &l1, g1), 0);
    CHECK_EQ(run_fb(cu, &lay, &cfg, have_two ? &two : &one, p, tok, tgt, &l2, g2), 0);
    if (have_two) {
        double e = worst_tensor(&lay, g2, g1, "nccl", false);
        printf("nccl 2 GPUs vs 1: loss %.6f vs %.6f, worst gradient error %.3g\n", (double)l2,
               (double)l1, e);
        CHECK_NEAR(l2, l1, 1e-5 * l1);
        CHECK(e <= NCCL_GRAD);
    } else {
        printf("nccl one-rank communicator: loss %.6f twice, gradients %s\n", (double)l1,
               memcmp(g1, g2, lay.n_floats * sizeof(float)) ? "differ" : "identical");
        CHECK_EQ(memcmp(&l1, &l2, sizeof(float)), 0);
        CHECK(worst_tensor(&lay, g2, g1, "nccl", false) <= NCCL_GRAD);
    }
    free(p), free(g1), free(g2);
}

int main(void)
{
    const backend_ops_t *cu = backend_find("cuda");
    backend_opts_t bo = {.n_devices = 1};
    size_t free_bytes;
    carbs_err_t err = {0};

    if (!cu) {
        fprintf(stderr, "test_cuda: no cuda backend in this build: skipped\n");
        return 77;
    }
    if (cu->probe(&bo, &free_bytes, &err)) {
        fprintf(stderr, "test_cuda: %s: skipped\n", err.msg);
        return 77;
    }
    RUN(test_cuda_cross_check_untied);
    RUN(test_cuda_cross_check_tied);
    RUN(test_cuda_score);
    RUN(test_cuda_trains);
    RUN(test_cuda_too_large_is_oom);
    RUN(test_cuda_nccl_parity);
    return check_summary();
}
