/*
 * test_trainer.c - the training loop end to end on the synthetic corpus:
 * a tiny model reaches a stated loss in a stated number of steps, runs are
 * bit-identical with one thread, divergence and a too-large model are
 * clean hyperparameter failures, the schedule has its documented shape,
 * and multiple-choice scoring is right on hand-made items and shares the
 * context's forward pass without changing any score.
 */
#include "proto/common.h"
#include "trainer/trainer.h"

#include <math.h>

#include "tests/check.h"
#include "trainer/backend.h"
#include "trainer/mcq_eval.h"

/* The tiny model: vocabulary 64, d 32, one layer of 2 heads (1 kv head),
 * 8 sequences of 32 tokens per step. */
static void tiny(trainer_config_t *cfg, double tokens, double lr)
{
    trainer_config_defaults(cfg);
    cfg->vocab_size = 64;
    cfg->d_model = 32;
    cfg->n_layers = 1;
    cfg->head_dim = 16;
    cfg->seq_len = 32;
    cfg->batch_size = 8;
    cfg->tokens = tokens;
    cfg->learning_rate = lr;
    cfg->seed = 7;
}

static int synth(dataset_t *ds)
{
    return dataset_synthetic(64, 3, 200000, ds, NULL);
}

/* 640 steps (163,840 tokens) at learning rate 0.02 take the validation loss
 * from ln 64 = 4.16 nats to below 2.0 (measured 1.84), and MCQ accuracy on
 * the grammar's items from chance (0.25) to above 0.7 (measured 0.82). */
static void test_trainer_tiny_model_learns(void)
{
    trainer_config_t cfg;
    dataset_t ds;
    carbs_result_t res;
    carbs_err_t err = {0};
    int rc;

    trainer_options_t opt = {.mcq_test = true};

    tiny(&cfg, 163840, 0.02);
    CHECK_EQ(synth(&ds), 0);
    carbs_result_init(&res);
    rc = trainer_run(&cfg, &opt, &ds, &res, &err);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_EQ(rc, 0);
    CHECK(res.ok);
    CHECK(res.metric[CARBS_METRIC_VAL_LOSS] < 2.0);
    CHECK(res.metric[CARBS_METRIC_TRAIN_LOSS] < 2.0);
    CHECK(res.metric[CARBS_METRIC_MCQ_ACC] > 0.7);
    CHECK(res.metric[CARBS_METRIC_MCQ_PROB] > 0.5);
    CHECK(res.metric[CARBS_METRIC_MCQ_ACC_NORM] > 0.7);
    CHECK(res.metric[CARBS_METRIC_MCQ_PPL] > 1 && res.metric[CARBS_METRIC_MCQ_PPL] < 64);
    /* the held-out test items, asked for: learned as well as the dev ones */
    CHECK(carbs_result_get(&res, "test_mcq_acc") > 0.7);
    CHECK(carbs_result_get(&res, "test_mcq_prob") > 0.5);
    CHECK(carbs_result_get(&res, "test_mcq_ppl") > 1 && carbs_result_get(&res, "test_mcq_ppl") < 64);
    CHECK(carbs_result_get(&res, "test_mcq_items") > 0);
    CHECK(carbs_result_get(&res, "test_mcq_items") <=
          (double)(ds.mcq_test.n < TRAINER_MCQ_ITEMS ? ds.mcq_test.n : TRAINER_MCQ_ITEMS));
    /* bits per byte: every synthetic token is 3 bytes */
    CHECK_NEAR(res.metric[CARBS_METRIC_VAL_BPB],
               res.metric[CARBS_METRIC_VAL_LOSS] / 3.0 / log(2.0), 1e-9);
    CHECK_EQ(res.metric[CARBS_METRIC_TOKENS], 163840);
    CHECK_EQ(res.metric[CARBS_METRIC_N_PARAMS_TOTAL], 13664);
    CHECK_EQ(res.metric[CARBS_METRIC_N_PARAMS], 13664 - 64 * 32);
    CHECK(res.metric[CARBS_METRIC_FLOPS] > 6 * 11616.0 * 163840);
    CHECK(res.metric[CARBS_METRIC_WALL_SECONDS] > 0);
    CHECK(res.metric[CARBS_METRIC_CPU_SECONDS] > 0);
    CHECK(res.metric[CARBS_METRIC_PEAK_RSS_BYTES] > 1e6);
    CHECK(carbs_result_get(&res, "eval_flops") > 0);
    /* every 7th step (at most 100 points) and the last, losses falling */
    CHECK_EQ(res.curve.n, 640 / 7 + 1);
    CHECK_EQ(res.curve.v[0].step, 7);
    CHECK_EQ(res.curve.v[res.curve.n - 1].step, 640);
    CHECK(res.curve.v[res.curve.n - 1].loss < res.curve.v[0].loss - 1.5);
    carbs_result_release(&res);
    dataset_release(&ds);
}

/* One thread: two runs give bit-identical losses at every step. */
static void test_trainer_deterministic(void)
{
    trainer_config_t cfg;
    dataset_t ds;
    float first[40];
    int rc = 0;

    tiny(&cfg, 40 * 256, 0.01);
    CHECK_EQ(synth(&ds), 0);
    for (int run = 0; run < 2; run++) {
        trainer_t *tr = trainer_open(&cfg, NULL, &ds, NULL);
        trainer_progress_t p;
        size_t i = 0;
        CHECK(tr != NULL);
        if (!tr)
            break;
        do {
            rc = trainer_step(tr, &p, NULL);
            if (run == 0)
                first[i] = p.loss;
            else
                CHECK_EQ(memcmp(&first[i], &p.loss, sizeof(float)), 0);
            i++;
        } while (rc == CARBS_CONTINUE && i < 40);
        CHECK_EQ(rc, 0);
        CHECK_EQ(i, 40);
        CHECK_EQ(trainer_step(tr, &p, NULL), 0); /* done stays done */
        trainer_close(tr);
    }
    dataset_release(&ds);
}

/* Scoring MCQ-test changes nothing else, and without the option no test
 * metric appears (a sweep never sees the test set). */
static void test_trainer_mcq_test_only_when_asked(void)
{
    trainer_config_t cfg;
    trainer_options_t with = {.mcq_items = 40, .mcq_test = true}, without = {.mcq_items = 40};
    dataset_t ds;
    carbs_result_t a, b;

    tiny(&cfg, 20 * 256, 0.01);
    CHECK_EQ(synth(&ds), 0);
    carbs_result_init(&a);
    carbs_result_init(&b);
    CHECK_EQ(trainer_run(&cfg, &without, &ds, &a, NULL), 0);
    CHECK_EQ(trainer_run(&cfg, &with, &ds, &b, NULL), 0);
    CHECK(isnan(carbs_result_get(&a, "test_mcq_acc")));
    CHECK(isnan(carbs_result_get(&a, "test_mcq_items")));
    for (int m = 0; m < CARBS_METRIC_COUNT; m++) {
        if (m == CARBS_METRIC_WALL_SECONDS || m == CARBS_METRIC_CPU_SECONDS ||
            m == CARBS_METRIC_DEVICE_SECONDS || m == CARBS_METRIC_PEAK_RSS_BYTES)
            continue;
        if (!isnan(a.metric[m]))
            CHECK_EQ(memcmp(&a.metric[m], &b.metric[m], sizeof(double)), 0);
    }
    CHECK_EQ(carbs_result_get(&b, "test_mcq_items"), 40);
    CHECK(carbs_result_get(&b, "test_mcq_acc") >= 0 && carbs_result_get(&b, "test_mcq_acc") <= 1);
    CHECK(carbs_result_get(&b, "test_mcq_prob") > 0 && carbs_result_get(&b, "test_mcq_prob") < 1);
    carbs_result_release(&a);
    carbs_result_release(&b);
    dataset_release(&ds);
}

/* The items scored when a set is larger than mcq_items: spread evenly, so a
 * prepared set (all cloze items, then all continuation ones) gives both
 * tasks in proportion; all of them, in order, when the set is small. */
static void test_trainer_mcq_items_spread(void)
{
    const size_t n_set = 4208, n_cloze = 2956, n = 500; /* the real MCQ-dev set */
    size_t cloze = 0, prev = 0;

    CHECK_EQ(mcq_eval_index(10, 3, 0), 0);
    CHECK_EQ(mcq_eval_index(10, 3, 1), 3);
    CHECK_EQ(mcq_eval_index(10, 3, 2), 6);
    for (size_t i = 0; i < 7; i++)
        CHECK_EQ(mcq_eval_index(7, 7, i), i);
    for (size_t i = 0; i < n; i++) {
        size_t k = mcq_eval_index(n_set, n, i);
        CHECK(k < n_set);
        if (i)
            CHECK(k > prev);
        cloze += k < n_cloze;
        prev = k;
    }
    CHECK(prev + (n_set + n - 1) / n >= n_set); /* the last gap is at most one step */
    /* 500 * 2956 / 4208 = 351.2 cloze items, the rest continuation */
    CHECK(cloze >= 351 && cloze <= 352);
}

/* Two threads compute the same losses to float rounding. */
static void test_trainer_threads_agree(void)
{
    trainer_config_t cfg;
    dataset_t ds;
    trainer_options_t o1 = {.threads = 1}, o2 = {.threads = 2};
    trainer_t *a, *b;
    trainer_progress_t pa, pb;

    tiny(&cfg, 10 * 256, 0.01);
    CHECK_EQ(synth(&ds), 0);
    a = trainer_open(&cfg, &o1, &ds, NULL);
    b = trainer_open(&cfg, &o2, &ds, NULL);
    CHECK(a && b);
    for (int i = 0; a && b && i < 10; i++) {
        trainer_step(a, &pa, NULL);
        trainer_step(b, &pb, NULL);
        CHECK_NEAR(pa.loss, pb.loss, 1e-4 * pa.loss);
    }
    trainer_close(a);
    trainer_close(b);
    dataset_release(&ds);
}

/* Learning rate 10 blows up within a few steps: a diverged failure. */
static void test_trainer_divergence_is_a_failure(void)
{
    trainer_config_t cfg;
    dataset_t ds;
    carbs_result_t res;
    carbs_err_t err = {0};

    tiny(&cfg, 100 * 256, 10.0);
    cfg.grad_clip = 0;
    CHECK_EQ(synth(&ds), 0);
    carbs_result_init(&res);
    CHECK_EQ(trainer_run(&cfg, NULL, &ds, &res, &err), CARBS_EDIVERGED);
    CHECK(!res.ok);
    CHECK_EQ(res.failure, CARBS_FAILURE_DIVERGED);
    CHECK(carbs_failure_is_hyper(res.failure));
    CHECK(strstr(res.message, "diverged") != NULL);
    CHECK(res.metric[CARBS_METRIC_TOKENS] < 100 * 256); /* stopped early */
    carbs_result_release(&res);
    dataset_release(&ds);
}

/* A model over the memory limit fails before allocating; the estimate
 * grows with the model. */
static void test_trainer_too_large_is_oom(void)
{
    trainer_config_t cfg;
    dataset_t ds;
    carbs_result_t res;
    carbs_err_t err = {0};
    trainer_options_t opt = {.memory_limit = 4u << 20};
    size_t small = 0, big = 0;

    tiny(&cfg, 256, 0.01);
    CHECK_EQ(synth(&ds), 0);
    CHECK_EQ(trainer_memory_bytes(&cfg, NULL, &small, NULL, NULL), 0);
    cfg.d_model = 512;
    cfg.n_layers = 8;
    CHECK_EQ(trainer_memory_bytes(&cfg, NULL, &big, NULL, NULL), 0);
    CHECK(big > 8 * small);
    carbs_result_init(&res);
    CHECK_EQ(trainer_run(&cfg, &opt, &ds, &res, &err), CARBS_ENOMEM);
    CHECK_EQ(res.failure, CARBS_FAILURE_OOM);
    CHECK(strstr(err.msg, "MiB") != NULL);
    carbs_result_release(&res);
    /* a vocabulary the dataset does not have, and an unknown backend */
    cfg.d_model = 32;
    cfg.n_layers = 1;
    cfg.vocab_size = 128;
    CHECK(trainer_open(&cfg, NULL, &ds, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    cfg.vocab_size = 64;
    opt.backend = "tpu";
    opt.memory_limit = 0;
    CHECK(trainer_open(&cfg, &opt, &ds, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    dataset_release(&ds);
}

static void test_trainer_schedule(void)
{
    trainer_config_t cfg;
    size_t S = 1000;

    trainer_config_defaults(&cfg);
    cfg.learning_rate = 0.0037;
    cfg.warmup_frac = 0.05; /* 50 warmup steps */
    cfg.min_lr_frac = 0.1;
    CHECK_NEAR(trainer_lr(&cfg, 0, S), 0.0037 / 50, 1e-12);
    CHECK_NEAR(trainer_lr(&cfg, 49, S), 0.0037, 1e-12);
    CHECK_NEAR(trainer_lr(&cfg, 50, S), 0.0037, 1e-12);
    CHECK_NEAR(trainer_lr(&cfg, 999, S), 0.00037, 1e-12);
    /* cosine: half-way through the decay the multiplier is (1 + 0.1) / 2 */
    CHECK_NEAR(trainer_lr(&cfg, 50 + 949 / 2, S), 0.0037 * 0.55, 0.0037 * 0.002);
    cfg.decay = TRAINER_DECAY_LINEAR;
    CHECK_NEAR(trainer_lr(&cfg, 50 + 949 / 2, S), 0.0037 * 0.55, 0.0037 * 0.002);
    CHECK_NEAR(trainer_lr(&cfg, 50 + 949 / 4, S), 0.0037 * (0.1 + 0.9 * 0.75), 0.0037 * 0.002);
    CHECK(trainer_lr(&cfg, 700, S) > trainer_lr(&cfg, 701, S));
}

/* Hand-made log-likelihoods with known answers. */
static void test_trainer_mcq_metrics_by_hand(void)
{
    mcq_eval_t acc = {0};
    double a, an, ppl, prob;
    /* item 1: answer 2 has the best sum and the best per byte */
    double ll1[4] = {-9.0, -7.5, -3.25, -12.0};
    size_t t1[4] = {3, 3, 2, 4}, b1[4] = {9, 9, 5, 12};
    /* item 2: answer 0 is best per byte (-6/20 = -0.3) but not in sum (-6 < -4) */
    double ll2[4] = {-6.0, -4.0, -8.0, -9.0};
    size_t t2[4] = {4, 1, 2, 2}, b2[4] = {20, 4, 8, 8};
    /* item 3: a tie with the answer counts as wrong */
    double ll3[4] = {-2.0, -2.0, -5.0, -5.0};
    size_t t3[4] = {1, 1, 1, 1};

    mcq_eval_metrics(&acc, &a, &an, &ppl, &prob);
    CHECK(isnan(a) && isnan(prob));
    mcq_eval_add(&acc, ll1, t1, b1, 2);
    mcq_eval_add(&acc, ll2, t2, b2, 0);
    mcq_eval_add(&acc, ll3, t3, NULL, 1);
    mcq_eval_metrics(&acc, &a, &an, &ppl, &prob);
    CHECK_NEAR(a, 1.0 / 3, 1e-12);
    CHECK_NEAR(an, 2.0 / 3, 1e-12);
    CHECK_NEAR(ppl, exp((3.25 + 6.0 + 2.0) / (2 + 4 + 1)), 1e-9);
    {
        double p1 = exp(-3.25) / (exp(-9.0) + exp(-7.5) + exp(-3.25) + exp(-12.0));
        double p2 = exp(-6.0) / (exp(-6.0) + exp(-4.0) + exp(-8.0) + exp(-9.0));
        double p3 = exp(-2.0) / (2 * exp(-2.0) + 2 * exp(-5.0));
        CHECK_NEAR(prob, (p1 + p2 + p3) / 3, 1e-12);
    }
}

/* Scoring an item with the shared context gives each choice the same
 * log-likelihood as scoring context + choice from scratch; a context longer
 * than the sequence is cut from the left. */
static void test_trainer_mcq_shared_context(void)
{
    const backend_ops_t *ops = backend_find("cpu");
    trainer_config_t cfg;
    model_layout_t lay;
    backend_opts_t bo = {.batch = 1, .threads = 2};
    mcq_set_t set = {0};
    void *st = NULL;
    int32_t ctx[40], ch[4][5], seq[32];
    const int32_t *chp[4] = {ch[0], ch[1], ch[2], ch[3]};
    size_t nch[4] = {5, 2, 4, 3}, bytes[4] = {11, 4, 9, 7};
    float nll[32];
    double ll[4], flops = 0;

    tiny(&cfg, 256, 0.01);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    CHECK_EQ(ops->open(&st, &lay, &cfg, &bo, NULL), 0);
    CHECK_EQ(ops->init_params(st, 0.5, 99), 0);
    for (size_t i = 0; i < 40; i++)
        ctx[i] = (int32_t)((i * 37 + 11) % 64);
    for (size_t k = 0; k < 4; k++)
        for (size_t j = 0; j < 5; j++)
            ch[k][j] = (int32_t)((k * 13 + j * 29 + 5) % 64);
    CHECK_EQ(mcq_set_add(&set, MCQ_TASK_CLOZE, ctx, 40, chp, nch, bytes, 2), 0);
    CHECK_EQ(mcq_eval_item(ops, st, &lay, &set, &set.v[0], seq, nll, ll, &flops), 0);
    CHECK(flops > 0);
    for (size_t k = 0; k < 4; k++) {
        size_t nc = 32 - 5; /* longest choice 5: the last 27 context tokens */
        double s = 0;
        memcpy(seq, ctx + 40 - nc, nc * sizeof(int32_t));
        memcpy(seq + nc, ch[k], nch[k] * sizeof(int32_t));
        CHECK_EQ(ops->score(st, seq, 0, nc + nch[k], nll), 0);
        for (size_t p = nc; p < nc + nch[k]; p++)
            s += nll[p];
        CHECK_NEAR(ll[k], -s, 1e-4 * s);
        CHECK(ll[k] < 0);
    }
    /* no context, and a choice as long as the sequence: not scored */
    {
        int32_t longc[32] = {0};
        const int32_t *lp[4] = {longc, longc, longc, longc};
        size_t nl[4] = {32, 1, 1, 1};
        CHECK_EQ(mcq_set_add(&set, MCQ_TASK_CLOZE, ctx, 3, lp, nl, NULL, 0), 0);
        CHECK_EQ(mcq_set_add(&set, MCQ_TASK_CLOZE, NULL, 0, chp, nch, NULL, 0), 0);
        CHECK_EQ(mcq_eval_item(ops, st, &lay, &set, &set.v[1], seq, nll, ll, NULL),
                 CARBS_CONTINUE);
        CHECK_EQ(mcq_eval_item(ops, st, &lay, &set, &set.v[2], seq, nll, ll, NULL),
                 CARBS_CONTINUE);
    }
    CHECK_EQ(ops->score(st, seq, 0, 33, nll), CARBS_EINVAL);
    ops->close(st);
    mcq_set_release(&set);
}

int main(void)
{
    RUN(test_trainer_tiny_model_learns);
    RUN(test_trainer_deterministic);
    RUN(test_trainer_mcq_test_only_when_asked);
    RUN(test_trainer_mcq_items_spread);
    RUN(test_trainer_threads_agree);
    RUN(test_trainer_divergence_is_a_failure);
    RUN(test_trainer_too_large_is_oom);
    RUN(test_trainer_schedule);
    RUN(test_trainer_mcq_metrics_by_hand);
    RUN(test_trainer_mcq_shared_context);
    return check_summary();
}
