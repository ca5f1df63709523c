/*
 * test_synthetic.c - the built-in test functions: known optima and values,
 * the scaling surface's closed-form compute-optimal point against a
 * numerical search, and the failure controls (fail_above, fail_rate,
 * fail_kind) with every error return.
 */
#include "proto/common.h"
#include "worker/synthetic.h"

#include <math.h>

#include "tests/check.h"

static void set(carbs_params_t *ps, const char *name, double v)
{
    CHECK_EQ(carbs_params_set_num(ps, name, v), 0);
}

static void test_synthetic_names(void)
{
    CHECK_EQ(synthetic_function_parse("branin"), SYNTHETIC_BRANIN);
    CHECK_EQ(synthetic_function_parse("scaling"), SYNTHETIC_SCALING);
    CHECK_EQ(synthetic_function_parse("Branin"), -1);
    CHECK_EQ(synthetic_function_parse(NULL), -1);
    CHECK_STR(synthetic_function_name(SYNTHETIC_HARTMANN6), "hartmann6");
    CHECK_STR(synthetic_function_name(SYNTHETIC_COUNT), "unknown");
}

static void test_synthetic_known_values(void)
{
    const double xs[3][2] = {{-M_PI, 12.275}, {M_PI, 2.275}, {9.42478, 2.475}};
    const double hopt[6] = {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573};
    const double ones[5] = {1, 1, 1, 1, 1};
    const double v[3] = {2.385, -0.75, 1.125};

    for (size_t i = 0; i < 3; i++)
        CHECK_NEAR(synthetic_branin(xs[i][0], xs[i][1]), 0.397887, 1e-5);
    /* branin(0, 0) = 36 + 10 (1 - 1/(8 pi)) + 10 */
    CHECK_NEAR(synthetic_branin(0.0, 0.0), 56.0 - 10.0 / (8.0 * M_PI), 1e-12);
    CHECK_NEAR(synthetic_hartmann6(hopt), -3.32237, 1e-5);
    CHECK_NEAR(synthetic_rosenbrock(ones, 5), 0.0, 0.0);
    /* (0, 0): 100 * 0 + 1; (2.385, -0.75): 100 (-0.75 - 5.688225)^2 + (1 - 2.385)^2 */
    CHECK_NEAR(synthetic_rosenbrock((const double[]){0.0, 0.0}, 2), 1.0, 1e-15);
    CHECK_NEAR(synthetic_rosenbrock(v, 2),
               100.0 * pow(-0.75 - 2.385 * 2.385, 2) + pow(1 - 2.385, 2), 1e-9);
    CHECK_NEAR(synthetic_sphere(v, 3), 2.385 * 2.385 + 0.5625 + 1.265625, 1e-12);
}

static void test_synthetic_scaling_optimum(void)
{
    const double budgets[3] = {1.3e15, 3.7e17, 2.2e19};

    for (size_t b = 0; b < 3; b++) {
        double C = budgets[b], N, D, lr, L, best = INFINITY, best_k = 0;

        synthetic_scaling_optimum(C, &N, &D, &lr, &L);
        CHECK_NEAR(6.0 * N * D / C, 1.0, 1e-12);
        CHECK_NEAR(synthetic_scaling_loss(N, D, lr), L, 1e-12);
        CHECK_NEAR(lr, synthetic_scaling_best_lr(N), 0.0);
        /* Walk the iso-flop curve numerically: the best k must be 1. */
        for (double lk = -1.5; lk <= 1.5; lk += 0.001) {
            double k = exp(lk);
            double l = synthetic_scaling_loss(N * k, C / (6.0 * N * k), lr / pow(k, 0.3));
            if (l < best) {
                best = l;
                best_k = k;
            }
        }
        CHECK_NEAR(best_k, 1.0, 2e-3);
        CHECK(best >= L - 1e-12);
        /* A wrong learning rate costs gamma ln^2 exactly. */
        CHECK_NEAR(synthetic_scaling_loss(N, D, lr * 2.75) - L, 0.1 * pow(log(2.75), 2), 1e-12);
    }
    /* More compute, lower loss. */
    double l1, l2;
    synthetic_scaling_optimum(1e18, NULL, NULL, NULL, &l1);
    synthetic_scaling_optimum(1e20, NULL, NULL, NULL, &l2);
    CHECK(l2 < l1);
    CHECK(l2 > 1.69);
}

static void test_synthetic_eval_branin(void)
{
    carbs_params_t params = {0}, fixed = {0};
    synthetic_input_t in = {
        .function = "branin", .params = &params, .fixed = &fixed, .trial_id = 17, .attempt = 1};
    synthetic_outcome_t out;
    carbs_err_t err = {0};

    set(&params, "x", 2.385);
    set(&fixed, "y", 7.125);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, synthetic_branin(2.385, 7.125), 0.0);
    CHECK_NEAR(out.cost, exp((2.385 + 5.0) / 15.0 + 7.125 / 15.0), 1e-12);
    CHECK_EQ(out.failure, CARBS_FAILURE_NONE);
    CHECK_EQ(out.action, SYNTHETIC_FINISH);
    CHECK(isnan(out.flops));
    CHECK_STR(out.message, "");

    /* A searched value wins over a fixed one of the same name. */
    set(&fixed, "x", 9.0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, synthetic_branin(2.385, 7.125), 0.0);

    carbs_params_release(&params);
    carbs_params_release(&fixed);
}

static void test_synthetic_eval_vectors(void)
{
    carbs_params_t params = {0};
    synthetic_input_t in = {.function = "hartmann6", .params = &params, .trial_id = 3};
    synthetic_outcome_t out;
    carbs_err_t err = {0};
    double x[6] = {0.125, 0.875, 0.3125, 0.5, 0.0625, 0.71875};

    for (size_t j = 0; j < 6; j++) {
        char name[8];
        snprintf(name, sizeof(name), "x%zu", j + 1);
        set(&params, name, x[j]);
    }
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, synthetic_hartmann6(x), 0.0);
    CHECK_NEAR(out.cost, exp(2.0 * (0.125 + 0.875 + 0.3125 + 0.5 + 0.0625 + 0.71875) / 6.0), 1e-12);

    in.function = "rosenbrock";
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, synthetic_rosenbrock(x, 6), 0.0);
    in.function = "sphere";
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, synthetic_sphere(x, 6), 0.0);

    /* A gap ends the vector: x1 only is too short for rosenbrock. */
    carbs_params_release(&params);
    set(&params, "x1", 0.5);
    set(&params, "x3", 0.5);
    in.function = "rosenbrock";
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "x1..xd") != NULL);
    in.function = "sphere";
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, 0.25, 0.0);
    carbs_params_release(&params);
}

static void test_synthetic_eval_scaling(void)
{
    carbs_params_t params = {0};
    synthetic_input_t in = {.function = "scaling", .params = &params, .trial_id = 9};
    synthetic_outcome_t out;
    carbs_err_t err = {0};

    set(&params, "d_model", 192);
    set(&params, "n_layers", 3);
    set(&params, "tokens", 2.5e7);
    set(&params, "learning_rate", 4.25e-3);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.n_params, 12.0 * 3 * 192 * 192, 0.0);
    CHECK_NEAR(out.tokens, 2.5e7, 0.0);
    CHECK_NEAR(out.flops, 6.0 * out.n_params * 2.5e7, 1.0);
    CHECK_NEAR(out.cost, out.flops, 0.0);
    CHECK_NEAR(out.output, synthetic_scaling_loss(out.n_params, 2.5e7, 4.25e-3), 0.0);
    CHECK_EQ(out.failure, CARBS_FAILURE_NONE);

    /* n_params wins over d_model/n_layers; no learning rate = the best one. */
    carbs_params_release(&params);
    set(&params, "n_params", 3.3e6);
    set(&params, "tokens", 1.75e8);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_NEAR(out.output, synthetic_scaling_loss(3.3e6, 1.75e8, synthetic_scaling_best_lr(3.3e6)),
               0.0);

    /* Far too large a learning rate diverges. */
    set(&params, "learning_rate", 20.0 * synthetic_scaling_best_lr(3.3e6));
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_DIVERGED);
    CHECK(strstr(out.message, "diverges") != NULL);

    set(&params, "learning_rate", -1e-3);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    set(&params, "tokens", 0.0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    carbs_params_release(&params);
    set(&params, "tokens", 1e6);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "d_model") != NULL);
    carbs_params_release(&params);
}

static void test_synthetic_fail_above(void)
{
    carbs_params_t params = {0}, above = {0};
    synthetic_input_t in = {.function = "branin", .params = &params, .fail_above = &above};
    synthetic_outcome_t out;
    carbs_err_t err = {0};

    set(&params, "x", 4.625);
    set(&params, "y", 1.5);
    set(&above, "x", 4.5);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_DIVERGED);
    CHECK(strstr(out.message, "'x' = 4.625 is above fail_above 4.5") != NULL);
    CHECK(isfinite(out.output));

    set(&params, "x", 4.375);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_NONE);

    /* "output" and "cost" name the results. */
    carbs_params_release(&above);
    set(&above, "output", synthetic_branin(4.375, 1.5) - 0.01);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_DIVERGED);
    carbs_params_release(&above);
    set(&above, "cost", 1e9);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_NONE);

    carbs_params_release(&above);
    set(&above, "z", 1.0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "'z'") != NULL);
    carbs_params_release(&above);
    CHECK_EQ(carbs_params_set_str(&above, "x", "big"), 0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    carbs_params_release(&above);
    carbs_params_release(&params);
}

static void test_synthetic_fail_rate(void)
{
    carbs_params_t params = {0}, fixed = {0};
    synthetic_input_t in = {.function = "sphere", .params = &params, .fixed = &fixed};
    synthetic_outcome_t out, again;
    carbs_err_t err = {0};
    size_t failed = 0, n = 4000, changed = 0;

    set(&params, "x1", 0.3);
    set(&fixed, "fail_rate", 0.3);
    for (size_t i = 1; i <= n; i++) {
        in.trial_id = (int64_t)(i * 7919 + 13);
        in.attempt = 1;
        CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
        failed += out.failure != CARBS_FAILURE_NONE;
        if (out.failure != CARBS_FAILURE_NONE) {
            CHECK_EQ(out.failure, CARBS_FAILURE_DIVERGED);
            CHECK_EQ(out.action, SYNTHETIC_FINISH);
        }
        /* Hyperparameter failures follow the trial, whatever the attempt. */
        in.attempt = 2;
        CHECK_EQ(synthetic_eval(&in, &again, &err), 0);
        CHECK_EQ(again.failure, out.failure);
    }
    /* 4000 Bernoulli(0.3) draws: sd 0.0072, so +-0.03 is over 4 sd. */
    CHECK_NEAR((double)failed / (double)n, 0.3, 0.03);

    /* Crashes are drawn again per attempt. */
    CHECK_EQ(carbs_params_set_str(&fixed, "fail_kind", "crash"), 0);
    for (size_t i = 1; i <= 200; i++) {
        in.trial_id = (int64_t)i;
        in.attempt = 1;
        CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
        in.attempt = 2;
        CHECK_EQ(synthetic_eval(&in, &again, &err), 0);
        changed += out.action != again.action;
        if (out.action == SYNTHETIC_CRASH) CHECK_EQ(out.failure, CARBS_FAILURE_INFRA);
    }
    CHECK(changed > 20);

    set(&fixed, "fail_rate", 1.0);
    CHECK_EQ(carbs_params_set_str(&fixed, "fail_kind", "hang"), 0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.action, SYNTHETIC_HANG);
    CHECK_EQ(carbs_params_set_str(&fixed, "fail_kind", "oom"), 0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_OOM);
    CHECK(strstr(out.message, "synthetic oom") != NULL);

    CHECK_EQ(carbs_params_set_str(&fixed, "fail_kind", "meltdown"), 0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK_EQ(carbs_params_set_str(&fixed, "fail_kind", "preempted"), 0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK_EQ(carbs_params_set_str(&fixed, "fail_kind", "error"), 0);
    set(&fixed, "fail_rate", 1.5);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    set(&fixed, "fail_rate", 0.0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), 0);
    CHECK_EQ(out.failure, CARBS_FAILURE_NONE);
    carbs_params_release(&params);
    carbs_params_release(&fixed);
}

static void test_synthetic_errors(void)
{
    carbs_params_t params = {0};
    synthetic_input_t in = {.function = "ackley", .params = &params};
    synthetic_outcome_t out;
    carbs_err_t err = {0};

    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "no function 'ackley'") != NULL);
    in.function = NULL;
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    in.function = "branin";
    set(&params, "x", 1.0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "needs parameter 'y'") != NULL);
    CHECK_EQ(carbs_params_set_str(&params, "y", "tall"), 0);
    CHECK_EQ(synthetic_eval(&in, &out, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "must be a number") != NULL);
    carbs_params_release(&params);
}

int main(void)
{
    RUN(test_synthetic_names);
    RUN(test_synthetic_known_values);
    RUN(test_synthetic_scaling_optimum);
    RUN(test_synthetic_eval_branin);
    RUN(test_synthetic_eval_vectors);
    RUN(test_synthetic_eval_scaling);
    RUN(test_synthetic_fail_above);
    RUN(test_synthetic_fail_rate);
    RUN(test_synthetic_errors);
    return check_summary();
}
