/*
 * test_trainer_config.c - trainer parameters by name, defaults, and the
 * derived model shape (head counts, FFN width, parameter counts) against
 * the scale ladder of docs/data.md; the evaluation options by name.
 */
#include "proto/common.h"
#include "trainer/config.h"

#include <math.h>

#include "tests/check.h"
#include "trainer/trainer.h"

static void test_trainer_config_ladder_shapes(void)
{
    /* docs/data.md, The scale ladder: r0 d 64 x 2 layers 4/2 heads 0.23M; r2 d 128 x 4 4/2
     * 1.0M; r4 d 256 x 6 8/2 4.8M, all with vocabulary 2048, tied embeddings, F about 8/3 d */
    static const struct {
        int64_t d, layers, head_dim;
        double kv;
        size_t heads, kv_heads;
        double total_m;
    } rung[] = {
        {64, 2, 16, 0.5, 4, 2, 0.23},
        {128, 4, 32, 0.5, 4, 2, 1.0},
        {256, 6, 32, 0.25, 8, 2, 4.8},
    };
    for (size_t i = 0; i < ARRAY_SIZE(rung); i++) {
        trainer_config_t cfg;
        trainer_shape_t s;
        carbs_err_t err = {0};

        trainer_config_defaults(&cfg);
        cfg.d_model = rung[i].d;
        cfg.n_layers = rung[i].layers;
        cfg.head_dim = rung[i].head_dim;
        cfg.kv_ratio = rung[i].kv;
        CHECK_EQ(trainer_shape(&cfg, &s, &err), 0);
        CHECK_EQ(s.n_heads, rung[i].heads);
        CHECK_EQ(s.n_kv_heads, rung[i].kv_heads);
        CHECK_EQ(s.head_dim * s.n_heads, s.d);
        CHECK_NEAR(s.n_params_total / 1e6, rung[i].total_m, 0.06 * rung[i].total_m);
        CHECK(s.n_params < s.n_params_total);
    }
}

static void test_trainer_config_exact_counts(void)
{
    trainer_config_t cfg;
    trainer_shape_t s;

    trainer_config_defaults(&cfg);
    cfg.d_model = 96;
    cfg.n_layers = 3;
    cfg.head_dim = 32;
    cfg.tie_embeddings = false;
    cfg.tokens = 1e6;
    cfg.batch_size = 8;
    cfg.seq_len = 128;
    CHECK_EQ(trainer_shape(&cfg, &s, NULL), 0);
    CHECK_EQ(s.n_heads, 3);
    CHECK_EQ(s.n_kv_heads, 1); /* 3 * 0.5 = 1.5 lies nearer the divisor 1 than 3 */
    CHECK_EQ(s.ffn, 256);      /* 8/3 * 96 = 256 */
    /* per layer: 2*96^2 + 2*96*32 + 3*96*256 + 2*96 */
    CHECK_NEAR(s.n_params, 3.0 * (18432 + 6144 + 73728 + 192) + 96, 0);
    CHECK_NEAR(s.n_params_total, s.n_params + 2.0 * 2048 * 96, 0);
    CHECK_EQ(s.steps, 977); /* ceil(1e6 / 1024) */
}

static void test_trainer_config_heads_follow_any_even_width(void)
{
    for (int64_t d = 2; d <= 1024; d += 2) {
        trainer_config_t cfg;
        trainer_shape_t s;

        trainer_config_defaults(&cfg);
        cfg.d_model = d;
        cfg.head_dim = 32;
        CHECK_EQ(trainer_shape(&cfg, &s, NULL), 0);
        CHECK_EQ(s.d % s.n_heads, 0);
        CHECK_EQ(s.head_dim % 2, 0);
        CHECK_EQ(s.n_heads % s.n_kv_heads, 0);
    }
}

static void test_trainer_config_set_by_name(void)
{
    trainer_config_t cfg;
    carbs_params_t ps = {0};
    carbs_err_t err = {0};

    trainer_config_defaults(&cfg);
    carbs_params_set_num(&ps, "learning_rate", 2.385e-3);
    carbs_params_set_num(&ps, "d_model", 96);
    carbs_params_set_str(&ps, "decay", "linear");
    carbs_params_set_str(&ps, "tie_embeddings", "false");
    carbs_params_set_num(&ps, "seed", 17);
    CHECK_EQ(trainer_config_apply(&cfg, &ps, &err), 0);
    CHECK_NEAR(cfg.learning_rate, 2.385e-3, 0);
    CHECK_EQ(cfg.d_model, 96);
    CHECK_EQ(cfg.decay, TRAINER_DECAY_LINEAR);
    CHECK(!cfg.tie_embeddings);
    CHECK_EQ(cfg.seed, 17);
    carbs_params_release(&ps);

    carbs_params_set_num(&ps, "d_modle", 96);
    CHECK_EQ(trainer_config_apply(&cfg, &ps, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "'d_modle'") != NULL);
    carbs_params_release(&ps);
    carbs_params_set_num(&ps, "n_layers", 2.5);
    CHECK_EQ(trainer_config_apply(&cfg, &ps, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "n_layers") != NULL);
    carbs_params_release(&ps);
    carbs_params_set_str(&ps, "decay", "step");
    CHECK_EQ(trainer_config_apply(&cfg, &ps, &err), CARBS_EINVAL);
    carbs_params_release(&ps);
    carbs_params_set_str(&ps, "learning_rate", "fast");
    CHECK_EQ(trainer_config_apply(&cfg, &ps, &err), CARBS_EINVAL);
    carbs_params_release(&ps);
}

/* The evaluation options by name (a sweep's fixed values): whole numbers >= 1 land in
 * trainer_options_t; a model setting is not an option (ENOTFOUND, so the caller tries
 * trainer_config_set); a string, a fraction, 0 and a huge value are refused by name. */
static void test_trainer_config_options_by_name(void)
{
    trainer_options_t opt = {0};
    carbs_params_t ps = {0};
    carbs_err_t err = {0};

    carbs_params_set_num(&ps, "eval_tokens", 32768);
    carbs_params_set_num(&ps, "mcq_items", 37);
    carbs_params_set_num(&ps, "d_model", 96);
    carbs_params_set_str(&ps, "mcq_items", "many"); /* replaces 37 in place */
    CHECK_EQ(trainer_options_set(&opt, &ps.v[0], &err), 0);
    CHECK_EQ(opt.eval_tokens, 32768);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[2], &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "'d_model'") != NULL);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[1], &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "mcq_items") != NULL && strstr(err.msg, "'many'") != NULL);
    CHECK_EQ(opt.mcq_items, 0);
    carbs_params_set_num(&ps, "mcq_items", 37);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[1], &err), 0);
    CHECK_EQ(opt.mcq_items, 37);
    carbs_params_set_num(&ps, "mcq_items", 2.5);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[1], &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "2.5") != NULL);
    carbs_params_set_num(&ps, "mcq_items", 0);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[1], &err), CARBS_EINVAL);
    carbs_params_set_num(&ps, "eval_tokens", 1e12);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[0], &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "eval_tokens") != NULL);
    carbs_params_set_num(&ps, "eval_tokens", NAN);
    CHECK_EQ(trainer_options_set(&opt, &ps.v[0], &err), CARBS_EINVAL);
    CHECK_EQ(opt.eval_tokens, 32768);
    CHECK_EQ(opt.mcq_items, 37);
    /* the names are the one list's, and no option is also a model parameter */
    for (int i = 0; i < CARBS_TO_COUNT; i++)
        CHECK_EQ(carbs_trainer_param_parse(carbs_trainer_option_name((carbs_trainer_option_t)i)),
                 -1);
    carbs_params_release(&ps);
}

static void test_trainer_config_rejects_bad_shapes(void)
{
    trainer_config_t cfg;
    trainer_shape_t s;
    carbs_err_t err = {0};

    trainer_config_defaults(&cfg);
    cfg.d_model = 63;
    CHECK_EQ(trainer_shape(&cfg, &s, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "d_model") != NULL);
    trainer_config_defaults(&cfg);
    cfg.beta2 = 1.0;
    CHECK_EQ(trainer_shape(&cfg, &s, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "beta2") != NULL);
    trainer_config_defaults(&cfg);
    cfg.learning_rate = NAN;
    CHECK_EQ(trainer_shape(&cfg, &s, &err), CARBS_EINVAL);
    trainer_config_defaults(&cfg);
    cfg.n_layers = 0;
    CHECK_EQ(trainer_shape(&cfg, &s, &err), CARBS_EINVAL);
}

int main(void)
{
    RUN(test_trainer_config_ladder_shapes);
    RUN(test_trainer_config_exact_counts);
    RUN(test_trainer_config_heads_follow_any_even_width);
    RUN(test_trainer_config_set_by_name);
    RUN(test_trainer_config_options_by_name);
    RUN(test_trainer_config_rejects_bad_shapes);
    return check_summary();
}
