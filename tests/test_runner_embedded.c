/*
 * test_runner_embedded.c - embedded trials through the runner child: a
 * tiny model on the synthetic corpus (every metric and a curve), the
 * sweep's evaluation options, the data named by the sweep, divergence,
 * configs the trainer rejects (error) and missing prepared data (infra).
 * A separate, slow program: training is too slow under valgrind for the
 * fast suite.
 */
#include "proto/common.h"
#include "worker/runner.h"

#include <math.h>

#include "tests/check.h"
#include "tests/fixture.h"

static void embedded_trial(proto_msg_t *m, int64_t id)
{
    fx_trial_init(m, id, PROTO_TRAINER_EMBEDDED);
    snprintf(m->trial.cost, sizeof(m->trial.cost), "flops");
    CHECK_EQ(carbs_params_set_num(&m->trial.params, "d_model", 32), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.params, "learning_rate", 2.5e-3), 0);
    CHECK_EQ(carbs_params_set_str(&m->trial.params, "decay", "linear"), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "n_layers", 1), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "head_dim", 16), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "seq_len", 32), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "vocab_size", 256), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "batch_size", 4), 0);
    CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "tokens", 4096), 0);
}

static void test_runner_embedded(void)
{
    proto_msg_t m;
    runner_config_t cfg = {.synthetic_data = true};
    carbs_result_t r;
    fx_progress_t pl = {0};
    double eval_flops;

    /* A tiny model on the synthetic corpus: every metric, a curve. */
    embedded_trial(&m, 110);
    fx_run_trial(&cfg, &m.trial, &r, &pl);
    if (!r.ok) fprintf(stderr, "embedded: %s\n", r.message);
    CHECK(r.ok);
    CHECK(isfinite(r.metric[CARBS_METRIC_VAL_LOSS]) && r.metric[CARBS_METRIC_VAL_LOSS] > 0);
    CHECK(r.metric[CARBS_METRIC_VAL_LOSS] < log(256.0) + 1.0);
    CHECK(isfinite(r.metric[CARBS_METRIC_VAL_BPB]));
    CHECK_NEAR(r.metric[CARBS_METRIC_TOKENS], 4096.0, 0.0);
    CHECK(r.metric[CARBS_METRIC_FLOPS] > 0);
    CHECK(r.metric[CARBS_METRIC_N_PARAMS] > 0);
    CHECK(r.curve.n >= 2);
    CHECK(pl.n >= 1);
    DA_FREE(&pl);
    eval_flops = carbs_result_get(&r, "eval_flops");
    CHECK(eval_flops > 0);
    carbs_result_release(&r);

    /* The sweep's fixed evaluation options reach the trainer: fewer validation windows and
     * MCQ items cost less evaluation and leave the training (and its FLOPs) alone; a bad
     * value is the config's fault and names the option. */
    CHECK_EQ(carbs_params_set_num(&m.trial.fixed, "eval_tokens", 128), 0);
    CHECK_EQ(carbs_params_set_num(&m.trial.fixed, "mcq_items", 3), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(r.ok);
    CHECK(carbs_result_get(&r, "eval_flops") > 0);
    CHECK(carbs_result_get(&r, "eval_flops") < 0.5 * eval_flops);
    CHECK_NEAR(r.metric[CARBS_METRIC_TOKENS], 4096.0, 0.0);
    CHECK(isfinite(r.metric[CARBS_METRIC_VAL_BPB]));
    carbs_result_release(&r);
    CHECK_EQ(carbs_params_set_num(&m.trial.fixed, "mcq_items", 0), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK(strstr(r.message, "mcq_items") != NULL);
    carbs_result_release(&r);
    proto_msg_release(&m);
    embedded_trial(&m, 110);

    /* The data may also be named by the sweep: `data: synthetic`. */
    CHECK_EQ(carbs_params_set_str(&m.trial.fixed, "data", "synthetic"), 0);
    cfg.synthetic_data = false;
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(r.ok);
    carbs_result_release(&r);

    /* A learning rate that blows up: diverged, with what is known. */
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "learning_rate", 5.0), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_DIVERGED);
    CHECK(r.metric[CARBS_METRIC_N_PARAMS] > 0);
    carbs_result_release(&r);

    /* A config the trainer rejects is the config's fault ... */
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "learning_rate", 2.5e-3), 0);
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "d_model", 33), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    carbs_result_release(&r);
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "d_model", 32), 0);
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "dropout", 0.1), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK(strstr(r.message, "dropout") != NULL);
    carbs_result_release(&r);
    proto_msg_release(&m);

    /* ... missing data is the node's: infra. */
    embedded_trial(&m, 111);
    CHECK_EQ(carbs_params_set_str(&m.trial.fixed, "data", "/nonexistent/carbs-data"), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_INFRA);
    CHECK(strstr(r.message, "carbs data prepare") != NULL);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

/* A worker on cuda:1 without a usable GPU (or without the CUDA backend):
 * its trial fails as the node's fault (infra) with the probe's one line,
 * not a crash.  Where a GPU answers the trial may simply run. */
static void test_runner_embedded_cuda_without_gpu(void)
{
    proto_msg_t m;
    runner_config_t cfg = {.synthetic_data = true, .device = "cuda:1"};
    carbs_result_t r;

    embedded_trial(&m, 112);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    if (r.ok) {
        fprintf(stderr, "  a GPU answers here: the no-GPU path is not exercised\n");
    } else {
        CHECK_EQ(r.failure, CARBS_FAILURE_INFRA);
        CHECK(strstr(r.message, "no usable GPU") != NULL ||
              strstr(r.message, "no backend 'cuda'") != NULL);
        CHECK(strchr(r.message, '\n') == NULL);
    }
    carbs_result_release(&r);
    proto_msg_release(&m);
}

int main(void)
{
    FX_USE_CHECK();
    RUN(test_runner_embedded);
    RUN(test_runner_embedded_cuda_without_gpu);
    return check_summary();
}
