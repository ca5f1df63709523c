/*
 * test_types.c - the name tables and the value-type helpers.
 */
#include "proto/common.h"
#include "proto/types.h"

#include <math.h>

#include "tests/check.h"

static void test_types_name_tables_round_trip(void)
{
    for (int i = 0; i < CARBS_METRIC_COUNT; i++)
        CHECK_EQ(carbs_metric_parse(carbs_metric_name((carbs_metric_t)i)), i);
    for (int i = 0; i < CARBS_TRIAL_STATE_COUNT; i++)
        CHECK_EQ(carbs_trial_state_parse(carbs_trial_state_name((carbs_trial_state_t)i)), i);
    for (int i = 0; i < CARBS_TP_COUNT; i++)
        CHECK_EQ(carbs_trainer_param_parse(carbs_trainer_param_name((carbs_trainer_param_t)i)), i);
    CHECK_STR(carbs_metric_name(CARBS_METRIC_VAL_BPB), "val_bpb");
    CHECK_STR(carbs_space_name(CARBS_SPACE_LOGIT), "logit");
    CHECK_STR(carbs_sweep_state_name(CARBS_SWEEP_PAUSED), "paused");
    CHECK_EQ(carbs_metric_parse("val_loss "), -1);
    CHECK_EQ(carbs_trainer_param_parse("dmodel"), -1);
    CHECK_EQ(carbs_space_parse(NULL), -1);
    CHECK_STR(carbs_metric_name((carbs_metric_t)999), "unknown");
}

static void test_types_failure_kinds(void)
{
    CHECK(carbs_failure_is_hyper(CARBS_FAILURE_DIVERGED));
    CHECK(carbs_failure_is_hyper(CARBS_FAILURE_OOM));
    CHECK(!carbs_failure_is_hyper(CARBS_FAILURE_INFRA));
    CHECK(!carbs_failure_is_hyper(CARBS_FAILURE_PREEMPTED));
    CHECK(!carbs_failure_is_hyper(CARBS_FAILURE_NONE));
}

static void test_types_params_set_replace_find(void)
{
    carbs_params_t ps = {0}, copy = {0};
    const carbs_value_t *v;
    char long_name[CARBS_NAME_MAX + 5];

    CHECK_EQ(carbs_params_set_num(&ps, "learning_rate", 3e-3), 0);
    CHECK_EQ(carbs_params_set_str(&ps, "decay", "cosine"), 0);
    CHECK_EQ(carbs_params_set_num(&ps, "learning_rate", 2.385e-3), 0);
    CHECK_EQ(ps.n, 2);
    v = carbs_params_find(&ps, "learning_rate");
    CHECK(v && !v->is_str);
    CHECK_NEAR(v->num, 2.385e-3, 0);
    v = carbs_params_find(&ps, "decay");
    CHECK(v && v->is_str);
    CHECK_STR(v->str, "cosine");
    CHECK(carbs_params_find(&ps, "beta2") == NULL);
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK_EQ(carbs_params_set_num(&ps, long_name, 1), CARBS_ETOOBIG);
    CHECK_EQ(carbs_params_copy(&copy, &ps), 0);
    CHECK_EQ(copy.n, 2);
    CHECK_STR(copy.v[1].str, "cosine");
    carbs_params_release(&ps);
    carbs_params_release(&copy);
}

static void test_types_space_rejects_duplicates(void)
{
    carbs_space_t sp = {0};
    carbs_param_t p = {.space = CARBS_SPACE_LOG, .min = 1e-5, .max = 0.1, .center = 3e-3};

    str_copy(p.name, sizeof(p.name), "learning_rate");
    CHECK_EQ(carbs_space_add(&sp, &p), 0);
    CHECK_EQ(carbs_space_add(&sp, &p), CARBS_EEXIST);
    CHECK_EQ(sp.n, 1);
    CHECK(carbs_space_find(&sp, "learning_rate") == &sp.v[0]);
    carbs_space_release(&sp);
}

static void test_types_result_metrics(void)
{
    carbs_result_t r, c;
    carbs_curve_point_t pt = {.step = 10, .tokens = 2560, .loss = 4.25};

    carbs_result_init(&r);
    carbs_result_init(&c);
    CHECK(isnan(carbs_result_get(&r, "val_loss")));
    CHECK_EQ(carbs_result_set(&r, "val_loss", 3.75), 0);
    CHECK_EQ(carbs_result_set(&r, "my_metric", -0.5), 0);
    CHECK_EQ(carbs_result_set(&r, "my_metric", -0.25), 0);
    CHECK_EQ(r.extra.n, 1);
    CHECK_EQ(DA_PUSH(&r.curve, pt), 0);
    CHECK_NEAR(carbs_result_get(&r, "val_loss"), 3.75, 0);
    CHECK_NEAR(carbs_result_get(&r, "my_metric"), -0.25, 0);
    CHECK_EQ(carbs_result_copy(&c, &r), 0);
    carbs_result_release(&r);
    CHECK_NEAR(carbs_result_get(&c, "my_metric"), -0.25, 0);
    CHECK_EQ(c.curve.n, 1);
    CHECK_NEAR(c.curve.v[0].loss, 4.25, 0);
    carbs_result_release(&c);
}

int main(void)
{
    RUN(test_types_name_tables_round_trip);
    RUN(test_types_failure_kinds);
    RUN(test_types_params_set_replace_find);
    RUN(test_types_space_rejects_duplicates);
    RUN(test_types_result_metrics);
    return check_summary();
}
