/*
 * test_carbs.c - the CARBS handle (optimizer/carbs.h): config, dispatch
 * between random, resample and BO suggestions, observations and their bad
 * inputs, pending suggestions, the cost cap, the Pareto set, snapshots and
 * seeded determinism (the reference's tests and the handle's part of the
 * demo problem; docs/algorithm.md, Tests), and the behavioural smoke test on
 * the demo problem.
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>

#include "optimizer/carbs_internal.h"
#include "optimizer/rng.h"
#include "tests/check.h"
#include "tests/fixture.h"

// ---- fixtures ----

/* The reference's test fixture (docs/algorithm.md, Tests): p1 log centre
 * 1e-2, p2 linear scale 2 centre 0, p3 logit scale 0.5 centre 0.5. */
static void space3(carbs_space_t *sp)
{
    carbs_param_t p1 = fx_num_param("p1", CARBS_SPACE_LOG, 0, INFINITY, 1e-2, 1, false);
    carbs_param_t p2 = fx_num_param("p2", CARBS_SPACE_LINEAR, -INFINITY, INFINITY, 0, 2, false);
    carbs_param_t p3 = fx_num_param("p3", CARBS_SPACE_LOGIT, 0, 1, 0.5, 0.5, false);

    memset(sp, 0, sizeof(*sp));
    CHECK_EQ(carbs_space_add(sp, &p1), 0);
    CHECK_EQ(carbs_space_add(sp, &p2), 0);
    CHECK_EQ(carbs_space_add(sp, &p3), 0);
}

static carbs_t *new3(const carbs_config_t *cfg)
{
    carbs_space_t sp;
    carbs_err_t err = {0};
    carbs_t *c;

    space3(&sp);
    c = carbs_new(&sp, cfg, &err);
    CHECK(c != NULL);
    carbs_space_release(&sp);
    return c;
}

static void set3(carbs_params_t *ps, double p1, double p2, double p3)
{
    CHECK_EQ(carbs_params_set_num(ps, "p1", p1), 0);
    CHECK_EQ(carbs_params_set_num(ps, "p2", p2), 0);
    CHECK_EQ(carbs_params_set_num(ps, "p3", p3), 0);
}

/* Observe a success at (p1, p2, p3). */
static int tell3(carbs_t *c, int64_t id, double p1, double p2, double p3, double y, double cost)
{
    carbs_obs_t o = {.id = id, .output = y, .cost = cost};
    carbs_err_t err = {0};
    int rc;

    set3(&o.params, p1, p2, p3);
    rc = carbs_observe(c, &o, &err);
    carbs_params_release(&o.params);
    return rc;
}

/* Suggest, register as pending under id, and return the kind (or -1). */
static int ask(carbs_t *c, int64_t id, carbs_suggestion_t *s)
{
    carbs_err_t err = {0};

    memset(s, 0, sizeof(*s));
    if (carbs_suggest(c, s, &err) < 0)
        return -1;
    if (carbs_pending_add(c, id, &s->params, s->u, &err) < 0)
        return -1;
    return (int)s->kind;
}

/* Tell the outcome of suggestion s (id) with output y and cost. */
static int tell(carbs_t *c, int64_t id, const carbs_suggestion_t *s, double y, double cost,
                bool failure)
{
    carbs_obs_t o = {.id = id, .params = s->params, .output = y, .cost = cost,
                     .is_failure = failure};
    carbs_err_t err = {0};

    return carbs_observe(c, &o, &err);
}

static double param(const carbs_suggestion_t *s, const char *name)
{
    const carbs_value_t *v = carbs_params_find(&s->params, name);
    return v ? v->num : NAN;
}

// ---- config ----

static void test_carbs_config(void)
{
    carbs_config_t cfg, bad;
    carbs_err_t err = {0};

    carbs_config_defaults(&cfg);
    CHECK_EQ(cfg.better_direction_sign, -1);
    CHECK_EQ(cfg.num_random_samples, 4);
    CHECK_NEAR(cfg.initial_search_radius, 0.3, 0);
    CHECK_NEAR(cfg.exploration_bias, 1.0, 0);
    CHECK_EQ(cfg.num_candidates_for_suggestion_per_dim, 100);
    CHECK_EQ(cfg.resample_frequency, 5);
    CHECK(isinf(cfg.max_suggestion_cost));
    CHECK_NEAR(cfg.min_pareto_cost_fraction, 0.2, 0);
    CHECK(cfg.is_pareto_group_selection_conservative);
    CHECK(cfg.is_expected_improvement_pareto_value_clamped);
    CHECK(!cfg.is_expected_improvement_value_always_max);
    CHECK_EQ(cfg.outstanding_suggestion_estimator, CARBS_ESTIMATOR_THOMPSON);
    CHECK_EQ(carbs_config_check(&cfg, &err), 0);

    bad = cfg, bad.better_direction_sign = 0;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "better_direction_sign") != NULL);
    bad = cfg, bad.num_random_samples = 0;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.initial_search_radius = -0.3;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.initial_search_radius = NAN;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.exploration_bias = INFINITY;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.num_candidates_for_suggestion_per_dim = 0;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.max_suggestion_cost = 0;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.max_suggestion_cost = NAN;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.min_pareto_cost_fraction = 1.25;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.outstanding_suggestion_estimator = CARBS_ESTIMATOR_COUNT;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);
    bad = cfg, bad.gp_fit = CARBS_GP_FIT_COUNT;
    CHECK_EQ(carbs_config_check(&bad, &err), CARBS_EINVAL);

    CHECK_STR(carbs_estimator_name(CARBS_ESTIMATOR_MEAN), "mean");
    CHECK_EQ(carbs_estimator_parse("thompson"), CARBS_ESTIMATOR_THOMPSON);
    CHECK_EQ(carbs_estimator_parse("constant"), -1);
    CHECK_STR(carbs_gp_fit_name(CARBS_GP_FIT_REFERENCE), "reference");
    CHECK_EQ(carbs_gp_fit_parse("mle"), CARBS_GP_FIT_MLE);
    CHECK_EQ(carbs_gp_fit_parse(NULL), -1);
    CHECK_STR(carbs_suggest_kind_name(CARBS_SUGGEST_FALLBACK), "fallback");
}

/* The options table behind carbs_config_t: the setters check type and
 * range and say why, in the words a sweep file and ask-tell report. */
static void test_carbs_config_table(void)
{
    carbs_config_t cfg, before;
    const carbs_config_opt_t *o;
    char why[160];

    carbs_config_defaults(&cfg);
    before = cfg;
    CHECK(carbs_config_find("wandb_params") == NULL);
    CHECK(carbs_config_find(NULL) == NULL);
    o = carbs_config_find("num_random_samples");
    CHECK(o != NULL);
    if (!o)
        return;
    CHECK_EQ(carbs_config_set_num(&cfg, o, 0, why, sizeof(why)), CARBS_EINVAL);
    CHECK_STR(why, "must be in [1, 1000000]");
    CHECK_EQ(carbs_config_set_num(&cfg, o, 2.5, why, sizeof(why)), CARBS_EINVAL);
    CHECK_STR(why, "must be an integer");
    CHECK_EQ(carbs_config_set_bool(&cfg, o, true, why, sizeof(why)), CARBS_EINVAL);
    CHECK_STR(why, "expected a number");
    CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0); /* unchanged on error */
    CHECK_EQ(carbs_config_set_num(&cfg, o, 7, why, sizeof(why)), 0);
    CHECK_EQ(cfg.num_random_samples, 7);

    o = carbs_config_find("gp_fit");
    CHECK_EQ(carbs_config_set_name(&cfg, o, "reference", why, sizeof(why)), 0);
    CHECK_EQ(cfg.gp_fit, CARBS_GP_FIT_REFERENCE);
    CHECK_EQ(carbs_config_set_name(&cfg, o, "adam", why, sizeof(why)), CARBS_EINVAL);
    CHECK_STR(why, "must be reference or mle");
    CHECK_EQ(carbs_config_set_num(&cfg, o, 1, why, sizeof(why)), CARBS_EINVAL);

    o = carbs_config_find("max_suggestion_cost");
    CHECK(isinf(carbs_config_get(&cfg, o)));
    CHECK_EQ(carbs_config_set_num(&cfg, o, 0, why, sizeof(why)), CARBS_EINVAL);
    CHECK_STR(why, "must be > 0");
    CHECK_EQ(carbs_config_set_num(&cfg, o, 250, why, sizeof(why)), 0);
    CHECK_NEAR(cfg.max_suggestion_cost, 250, 0);

    o = carbs_config_find("is_expected_improvement_value_always_max");
    CHECK_EQ(carbs_config_set_num(&cfg, o, 1, why, sizeof(why)), CARBS_EINVAL);
    CHECK_STR(why, "expected true or false");
    CHECK_EQ(carbs_config_set_bool(&cfg, o, true, why, sizeof(why)), 0);
    CHECK(cfg.is_expected_improvement_value_always_max);

    o = carbs_config_find("max_fit_observations");
    CHECK_EQ(carbs_config_set_num(&cfg, o, 0, why, sizeof(why)), 0);
    CHECK_EQ(cfg.max_fit_observations, 0);
    CHECK_EQ(carbs_config_check(&cfg, NULL), 0);

    /* the table's range also binds a struct filled by hand */
    cfg.resample_frequency = -1;
    CHECK_EQ(carbs_config_check(&cfg, NULL), CARBS_EINVAL);
}

static void test_carbs_new_errors(void)
{
    carbs_space_t empty = {0}, sp;
    carbs_config_t cfg;
    carbs_err_t err = {0};

    carbs_config_defaults(&cfg);
    CHECK(carbs_new(&empty, &cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    space3(&sp);
    cfg.num_random_samples = -2;
    CHECK(carbs_new(&sp, &cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "num_random_samples") != NULL);
    sp.v[0].center = -3.7; /* a log center below its minimum */
    carbs_config_defaults(&cfg);
    CHECK(carbs_new(&sp, &cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    carbs_space_release(&sp);
    carbs_free(NULL);
}

// ---- suggestions, pending, observations ----

static void test_carbs_suggest_once(void)
{
    carbs_config_t cfg;
    carbs_suggestion_t s;
    carbs_err_t err = {0};
    carbs_t *c;

    carbs_config_defaults(&cfg);
    cfg.seed = 9137;
    c = new3(&cfg);
    CHECK_EQ(carbs_dim(c), 3);
    CHECK_EQ(ask(c, 41, &s), CARBS_SUGGEST_RANDOM);
    CHECK_EQ(carbs_n_pending(c), 1);
    CHECK(s.params.n == 3);
    CHECK(param(&s, "p1") > 0);
    CHECK(param(&s, "p3") > 0 && param(&s, "p3") < 1);
    CHECK(isnan(s.pred_output) && isnan(s.pred_cost) && isnan(s.p_success));
    /* quirk 14 of docs/algorithm.md: a draw around the center, not the center itself */
    CHECK(param(&s, "p1") != 1e-2);
    /* pending bookkeeping */
    CHECK_EQ(carbs_pending_add(c, 41, &s.params, NULL, &err), CARBS_EEXIST);
    CHECK_EQ(carbs_pending_add(c, 0, &s.params, NULL, &err), CARBS_EINVAL);
    CHECK_EQ(carbs_pending_add(c, 42, &s.params, NULL, &err), 0);
    CHECK_EQ(carbs_n_pending(c), 2);
    CHECK_EQ(carbs_forget(c, 41, &err), 0);
    CHECK_EQ(carbs_forget(c, 41, &err), CARBS_ENOTFOUND);
    CHECK_EQ(carbs_forget(c, 7777, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "7777") != NULL);
    CHECK_EQ(carbs_forget(c, 42, &err), 0);
    CHECK_EQ(carbs_n_pending(c), 0);
    {
        double far[3] = {1.5, 0.25, 1e300};
        double nan3[3] = {NAN, 0, 0};
        /* p3's basic bounds are infinite: a huge coordinate is inside, NaN is not */
        CHECK_EQ(carbs_pending_add(c, 5, NULL, far, &err), 0);
        CHECK_EQ(carbs_pending_add(c, 6, NULL, nan3, &err), CARBS_EINVAL);
        CHECK_EQ(carbs_pending_add(c, 7, NULL, NULL, &err), CARBS_EINVAL);
        CHECK_EQ(carbs_forget(c, 5, &err), 0);
    }
    carbs_suggestion_release(&s);
    carbs_suggestion_release(&s); /* idempotent */
    carbs_free(c);
}

static void test_carbs_observe_bad_inputs(void)
{
    carbs_config_t cfg;
    carbs_obs_t o = {0};
    carbs_err_t err = {0};
    carbs_t *c;

    carbs_config_defaults(&cfg);
    c = new3(&cfg);
    CHECK_EQ(tell3(c, 0, 1e-2, 0, 0.5, 2.718, 1.5), 0);
    CHECK_EQ(carbs_n_success(c), 1);
    /* NaN and +-inf outputs are failures, not errors; their cost is ignored */
    CHECK_EQ(tell3(c, 0, 2e-2, 0.1, 0.4, NAN, 1), 0);
    CHECK_EQ(tell3(c, 0, 3e-2, 0.2, 0.3, INFINITY, -4), 0);
    CHECK_EQ(tell3(c, 0, 4e-2, 0.3, 0.2, -INFINITY, NAN), 0);
    CHECK_EQ(carbs_n_failure(c), 3);
    CHECK_EQ(carbs_n_success(c), 1);
    /* a reported failure with a finite output is a failure too */
    set3(&o.params, 5e-2, 0.4, 0.1);
    o.output = 1.25;
    o.cost = 2;
    o.is_failure = true;
    CHECK_EQ(carbs_observe(c, &o, &err), 0);
    CHECK_EQ(carbs_n_failure(c), 4);
    /* cost <= 0 or not finite for a success: rejected, nothing recorded */
    CHECK_EQ(tell3(c, 0, 1e-2, 0, 0.5, 1.0, 0), CARBS_EINVAL);
    CHECK_EQ(tell3(c, 0, 1e-2, 0, 0.5, 1.0, -2.5), CARBS_EINVAL);
    CHECK_EQ(tell3(c, 0, 1e-2, 0, 0.5, 1.0, INFINITY), CARBS_EINVAL);
    CHECK_EQ(tell3(c, 0, 1e-2, 0, 0.5, 1.0, NAN), CARBS_EINVAL);
    /* out of bounds: logit 1.5, log -1, non-finite input */
    CHECK_EQ(tell3(c, 0, 1e-2, 0, 1.5, 1.0, 1), CARBS_EINVAL);
    CHECK_EQ(tell3(c, 0, -1, 0, 0.5, 1.0, 1), CARBS_EINVAL);
    CHECK_EQ(tell3(c, 0, 1e-2, NAN, 0.5, 1.0, 1), CARBS_EINVAL);
    CHECK_EQ(tell3(c, 0, 0, 0, 0.5, 1.0, 1), CARBS_EINVAL); /* log 0 -> -inf */
    /* a missing parameter */
    carbs_params_release(&o.params);
    CHECK_EQ(carbs_params_set_num(&o.params, "p1", 0.5), 0);
    o.is_failure = false;
    CHECK_EQ(carbs_observe(c, &o, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "p2") != NULL);
    CHECK_EQ(carbs_n_success(c), 1);
    CHECK_EQ(carbs_n_failure(c), 4);
    /* an unknown id: recorded, and reported */
    CHECK_EQ(tell3(c, 9001, 1e-2, 0.7, 0.5, 3.5, 2), CARBS_ENOTFOUND);
    CHECK_EQ(carbs_n_success(c), 2);
    CHECK_NEAR(carbs_cost_spent(c), 3.5, 1e-12);
    carbs_params_release(&o.params);
    carbs_free(c);
}

// ---- dispatch ----

static void test_carbs_reference_loop(void)
{
    /* The reference's second test (docs/algorithm.md, Tests): output i, cost
     * i + 1, sign +1: random for i = 0..3, BO for 4 and 5, a resample at 6
     * (6 > 5), BO again for 7..9. */
    const int want[10] = {CARBS_SUGGEST_RANDOM, CARBS_SUGGEST_RANDOM, CARBS_SUGGEST_RANDOM,
                          CARBS_SUGGEST_RANDOM, CARBS_SUGGEST_BO,     CARBS_SUGGEST_BO,
                          CARBS_SUGGEST_RESAMPLE, CARBS_SUGGEST_BO,   CARBS_SUGGEST_BO,
                          CARBS_SUGGEST_BO};
    carbs_config_t cfg;
    carbs_t *c;

    carbs_config_defaults(&cfg);
    cfg.better_direction_sign = 1;
    cfg.seed = 2718;
    c = new3(&cfg);
    for (int i = 0; i < 10; i++) {
        carbs_suggestion_t s;
        int kind = ask(c, 100 + i, &s);

        CHECK_EQ(kind, want[i]);
        if (kind == CARBS_SUGGEST_BO) {
            CHECK(isfinite(s.pred_output) && isfinite(s.pred_cost) && s.pred_cost > 0);
            CHECK(s.p_success == 1.0);
        }
        CHECK_EQ(tell(c, 100 + i, &s, i, i + 1, false), 0);
        CHECK_EQ(carbs_n_pending(c), 0);
        carbs_suggestion_release(&s);
    }
    CHECK_EQ(carbs_n_success(c), 10);
    carbs_free(c);
}

static void test_carbs_warmup_counts_successes(void)
{
    carbs_config_t cfg;
    carbs_suggestion_t s;
    carbs_t *c;

    carbs_config_defaults(&cfg);
    cfg.seed = 4242;
    c = new3(&cfg);
    /* one success and two failures: 3 observations but 1 success -> random */
    CHECK_EQ(tell3(c, 0, 1e-2, 0.3, 0.5, 1.75, 1), 0);
    CHECK_EQ(tell3(c, 0, 2e-2, 0.1, 0.6, NAN, 1), 0);
    CHECK_EQ(tell3(c, 0, 3e-2, -0.4, 0.7, NAN, 1), 0);
    CHECK_EQ(ask(c, 1, &s), CARBS_SUGGEST_RANDOM);
    carbs_suggestion_release(&s);
    /* four successes end warm-up whatever the failures */
    CHECK_EQ(tell3(c, 0, 4e-2, 0.2, 0.4, 1.5, 2), 0);
    CHECK_EQ(tell3(c, 0, 5e-2, 0.6, 0.45, 1.25, 3), 0);
    CHECK_EQ(ask(c, 2, &s), CARBS_SUGGEST_RANDOM);
    carbs_suggestion_release(&s);
    CHECK_EQ(tell3(c, 0, 6e-2, -0.2, 0.55, 0.5, 4), 0);
    CHECK(ask(c, 3, &s) != CARBS_SUGGEST_RANDOM);
    carbs_suggestion_release(&s);
    carbs_free(c);

    /* deviation 6 of docs/algorithm.md: 1 success and 7 failures
     * (2 x num_random_samples observations) end warm-up too; with no success
     * it never ends */
    c = new3(&cfg);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(tell3(c, 0, 1e-2 * (i + 1), 0.1 * i, 0.5, NAN, 1), 0);
        CHECK_EQ(ask(c, 10 + i, &s), CARBS_SUGGEST_RANDOM);
        carbs_suggestion_release(&s);
    }
    CHECK_EQ(tell3(c, 0, 2e-2, -0.3, 0.35, 0.875, 1.5), 0);
    CHECK(ask(c, 20, &s) != CARBS_SUGGEST_RANDOM);
    carbs_suggestion_release(&s);
    carbs_free(c);
}

static bool same_u(const double *a, const double *b, size_t d)
{
    for (size_t i = 0; i < d; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static void test_carbs_resample_schedule(void)
{
    /* successes with cost i + 1 and output i (maximize): every run above
     * the cheap bucket is on the standard front */
    carbs_config_t cfg;
    carbs_suggestion_t s;
    carbs_err_t err = {0};
    carbs_params_t ps = {0};
    double u4[3];
    carbs_t *c, *d;

    carbs_config_defaults(&cfg);
    cfg.better_direction_sign = 1;
    cfg.num_random_samples = 1;
    c = new3(&cfg);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(tell3(c, 0, 1e-2 * (1 + 0.37 * i), 0.11 * i, 0.5, i, i + 1), 0);
    /* 6 > 5: resample the bucket winner (the quantile is 2: the cost-2 run) */
    CHECK_EQ(ask(c, 1, &s), CARBS_SUGGEST_RESAMPLE);
    CHECK_NEAR(param(&s, "p1"), 1e-2 * 1.37, 1e-15);
    CHECK_NEAR(param(&s, "p2"), 0.11, 1e-15);
    carbs_suggestion_release(&s);
    /* 6 > 2 x 5 is false: BO */
    CHECK(ask(c, 2, &s) != CARBS_SUGGEST_RESAMPLE);
    CHECK_EQ(carbs_forget(c, 2, &err), 0);
    carbs_suggestion_release(&s);
    /* 11 > 10: the second resample.  The quantile of 1..11 at 0.2 is 3, so
     * the front starts at the cost-3 run; making it pending counts it twice
     * and the cost-4 run is the cheapest least-sampled group */
    for (int i = 6; i < 11; i++)
        CHECK_EQ(tell3(c, 0, 1e-2 * (1 + 0.37 * i), 0.11 * i, 0.5, i, i + 1), 0);
    set3(&ps, 1e-2 * 1.74, 0.22, 0.5);
    CHECK_EQ(carbs_pending_add(c, 3, &ps, NULL, &err), 0);
    CHECK_EQ(ask(c, 4, &s), CARBS_SUGGEST_RESAMPLE);
    CHECK_NEAR(param(&s, "p1"), 1e-2 * 2.11, 1e-15);
    CHECK_NEAR(param(&s, "p2"), 0.33, 1e-15);
    memcpy(u4, s.u, sizeof(u4));
    carbs_suggestion_release(&s);
    CHECK(ask(c, 5, &s) != CARBS_SUGGEST_RESAMPLE);
    carbs_suggestion_release(&s);

    /* a bulk of 11 successes with resample_count 0: the rule fires on
     * consecutive calls until the count catches up (11 > 5, 11 > 10) */
    d = new3(&cfg);
    for (int i = 0; i < 11; i++)
        CHECK_EQ(tell3(d, 0, 1e-2 * (1 + 0.37 * i), 0.11 * i, 0.5, i, i + 1), 0);
    CHECK_EQ(ask(d, 1, &s), CARBS_SUGGEST_RESAMPLE);
    CHECK_NEAR(param(&s, "p1"), 1e-2 * 1.74, 1e-15);
    carbs_suggestion_release(&s);
    CHECK_EQ(ask(d, 2, &s), CARBS_SUGGEST_RESAMPLE);
    CHECK(same_u(s.u, u4, 3)); /* the cost-3 point is pending now */
    carbs_suggestion_release(&s);
    CHECK(ask(d, 3, &s) != CARBS_SUGGEST_RESAMPLE);
    carbs_suggestion_release(&s);
    carbs_params_release(&ps);
    carbs_free(d);
    carbs_free(c);
}

static void test_carbs_resample_disabled(void)
{
    carbs_config_t cfg;
    carbs_suggestion_t s;
    carbs_t *c;

    carbs_config_defaults(&cfg);
    cfg.resample_frequency = 0;
    cfg.num_random_samples = 2;
    c = new3(&cfg);
    for (int i = 0; i < 12; i++)
        CHECK_EQ(tell3(c, 0, 1e-2 * (1 + 0.29 * i), -0.13 * i, 0.5 + 0.03 * i, 3.0 - 0.2 * i,
                       1.0 + 0.7 * i),
                 0);
    for (int i = 0; i < 3; i++) {
        int k = ask(c, 1 + i, &s);
        CHECK(k == CARBS_SUGGEST_BO || k == CARBS_SUGGEST_FALLBACK);
        carbs_suggestion_release(&s);
    }
    carbs_free(c);
}

// ---- the cost cap ----

static void test_carbs_cost_cap(void)
{
    carbs_config_t cfg;
    carbs_suggestion_t s;
    carbs_t *c;

    /* every run cost about 100: with a cap of 10 no candidate's predicted
     * cost is below it, so BO has nothing and falls back to random */
    carbs_config_defaults(&cfg);
    cfg.resample_frequency = 0;
    cfg.max_suggestion_cost = 10;
    cfg.seed = 77;
    c = new3(&cfg);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(tell3(c, 0, 1e-2 * (1 + 0.21 * i), 0.05 * i, 0.5 - 0.02 * i, 1.0 + 0.31 * i,
                       100.0 + 3.3 * i),
                 0);
    CHECK_EQ(ask(c, 1, &s), CARBS_SUGGEST_FALLBACK);
    CHECK(isnan(s.pred_cost));
    carbs_suggestion_release(&s);
    carbs_free(c);

    /* cost grows with p1; a cap in the middle keeps every BO suggestion's
     * predicted cost strictly below it */
    cfg.max_suggestion_cost = 30;
    c = new3(&cfg);
    for (int i = 0; i < 8; i++) {
        double p1 = 1e-2 * pow(2.0, i * 0.5);
        CHECK_EQ(tell3(c, 0, p1, 0.05 * i, 0.5, 2.0 - 0.1 * i, 3000 * p1), 0);
    }
    for (int i = 0; i < 4; i++) {
        int k = ask(c, 10 + i, &s);
        CHECK(k == CARBS_SUGGEST_BO || k == CARBS_SUGGEST_FALLBACK);
        if (k == CARBS_SUGGEST_BO)
            CHECK(s.pred_cost < 30);
        carbs_suggestion_release(&s);
    }
    carbs_free(c);
}

// ---- the Pareto set ----

static void test_carbs_pareto(void)
{
    carbs_config_t cfg;
    carbs_pareto_point_t *pts = NULL;
    carbs_err_t err = {0};
    size_t n = 99;
    carbs_t *c;

    carbs_config_defaults(&cfg); /* minimize */
    c = new3(&cfg);
    CHECK_EQ(carbs_pareto(c, &pts, &n, &err), 0);
    CHECK_EQ(n, 0);
    CHECK(pts == NULL);
    /* A (cost 1, twice: 3.5 and 2.5), B cost 2 output 2.75 (worse than A's
     * mean 3.0? no: better), C cost 4 output 3.25 (dominated), D cost 8
     * output 1.125 */
    CHECK_EQ(tell3(c, 11, 1e-2, 0.5, 0.5, 3.5, 1), CARBS_ENOTFOUND);
    CHECK_EQ(tell3(c, 12, 1e-2, 0.5, 0.5, 2.5, 1), CARBS_ENOTFOUND);
    CHECK_EQ(tell3(c, 13, 2e-2, 0.5, 0.5, 2.75, 2), CARBS_ENOTFOUND);
    CHECK_EQ(tell3(c, 14, 4e-2, 0.5, 0.5, 3.25, 4), CARBS_ENOTFOUND);
    CHECK_EQ(tell3(c, 15, 8e-2, 0.5, 0.5, 1.125, 8), CARBS_ENOTFOUND);
    CHECK_EQ(tell3(c, 0, 9e-2, 0.5, 0.5, NAN, 0.5), 0);
    CHECK_EQ(carbs_pareto(c, &pts, &n, &err), 0);
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_EQ(pts[0].n, 2);
        CHECK_NEAR(pts[0].output, 3.0, 1e-12);
        CHECK_NEAR(pts[0].cost, 1.0, 1e-12);
        CHECK(pts[0].id == 11 || pts[0].id == 12);
        CHECK_EQ(pts[1].id, 13);
        CHECK_NEAR(pts[1].output, 2.75, 0);
        CHECK_NEAR(carbs_params_find(&pts[1].params, "p1")->num, 2e-2, 0);
        CHECK_EQ(pts[2].id, 15);
        CHECK_NEAR(pts[2].cost, 8, 0);
    }
    carbs_pareto_free(pts, n);
    carbs_free(c);
}

// ---- snapshot, restore, determinism ----

/* Run a fixed history on c: k suggestions, each observed with a synthetic
 * cost-aware objective; the last `pending` ones stay pending. */
static void history(carbs_t *c, int k, int pending, carbs_obs_t *log, int *n_log)
{
    for (int i = 0; i < k; i++) {
        carbs_suggestion_t s;
        double p1, p2, y, cost;

        CHECK(ask(c, i + 1, &s) >= 0);
        p1 = param(&s, "p1");
        p2 = param(&s, "p2");
        cost = 1 + 50 * p1;
        y = pow(log10(p1) + 2.2, 2) + 0.3 * p2 * p2 + 1 / cost;
        if (i >= k - pending) {
            carbs_suggestion_release(&s);
            continue;
        }
        if (log) {
            log[*n_log].id = i + 1;
            memset(&log[*n_log].params, 0, sizeof(log[*n_log].params));
            CHECK_EQ(carbs_params_copy(&log[*n_log].params, &s.params), 0);
            log[*n_log].output = i % 7 == 5 ? NAN : y;
            log[*n_log].cost = cost;
            log[*n_log].is_failure = false;
            (*n_log)++;
        }
        CHECK_EQ(tell(c, i + 1, &s, i % 7 == 5 ? NAN : y, cost, false), 0);
        carbs_suggestion_release(&s);
    }
}

static void test_carbs_snapshot_roundtrip(void)
{
    carbs_config_t cfg;
    carbs_obs_t log[16];
    int n_log = 0;
    carbs_err_t err = {0};
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    carbs_t *a, *b;

    carbs_config_defaults(&cfg);
    cfg.seed = 31337;
    a = new3(&cfg);
    history(a, 12, 2, log, &n_log);
    CHECK_EQ(n_log, 10);
    CHECK_EQ(carbs_n_pending(a), 2);
    CHECK_EQ(carbs_snapshot(a, &buf, &len, &err), 0);
    CHECK(len > 64);

    /* rebuild from the told observations: same S, F and cost, and the
     * snapshot written after the restore is byte-identical */
    b = new3(&cfg);
    for (int i = 0; i < n_log; i++) {
        CHECK_EQ(carbs_pending_add(b, log[i].id, &log[i].params, NULL, &err), 0);
        CHECK_EQ(carbs_observe(b, &log[i], &err), 0);
    }
    CHECK_EQ(carbs_n_pending(b), 0);
    CHECK_EQ(carbs_restore(b, buf, len, &err), 0);
    CHECK_EQ(carbs_n_success(a), carbs_n_success(b));
    CHECK_EQ(carbs_n_failure(a), carbs_n_failure(b));
    CHECK_EQ(carbs_n_failure(b), 1);
    CHECK_NEAR(carbs_cost_spent(a), carbs_cost_spent(b), 0);
    CHECK_EQ(carbs_snapshot(b, &buf2, &len2, &err), 0);
    CHECK_EQ(len, len2);
    CHECK(len == len2 && memcmp(buf, buf2, len) == 0);
    carbs_free(b);
    for (int i = 0; i < n_log; i++)
        carbs_params_release(&log[i].params);
    free(buf);
    free(buf2);
    carbs_free(a);
}

/* A reloaded handle's next suggestions equal the uninterrupted one's. */
static void test_carbs_reload_continues(void)
{
    carbs_config_t cfg;
    carbs_err_t err = {0};
    carbs_t *a, *b;
    carbs_suggestion_t sa, sb, pend[2];
    uint8_t *buf = NULL;
    size_t len = 0;
    DA_TYPE(carbs_obs_t) told = {0};

    carbs_config_defaults(&cfg);
    cfg.seed = 8675309;
    a = new3(&cfg);
    b = new3(&cfg);
    for (int i = 0; i < 9; i++) {
        carbs_suggestion_t s;
        carbs_obs_t o = {0};
        double p1, p2;

        CHECK(ask(a, i + 1, &s) >= 0);
        p1 = param(&s, "p1");
        p2 = param(&s, "p2");
        o.id = i + 1;
        CHECK_EQ(carbs_params_copy(&o.params, &s.params), 0);
        o.output = i == 3 ? NAN : pow(log10(p1) + 1.7, 2) + p2 * p2 / 7;
        o.cost = 0.5 + 20 * p1;
        CHECK_EQ(carbs_observe(a, &o, &err), 0);
        CHECK_EQ(DA_PUSH(&told, o), 0);
        carbs_suggestion_release(&s);
    }
    CHECK(ask(a, 100, &pend[0]) >= 0);
    CHECK(ask(a, 101, &pend[1]) >= 0);
    CHECK_EQ(carbs_snapshot(a, &buf, &len, &err), 0);

    /* replay into b: pending first, then the observation that answers it */
    for (size_t i = 0; i < told.n; i++) {
        CHECK_EQ(carbs_pending_add(b, told.v[i].id, &told.v[i].params, NULL, &err), 0);
        CHECK_EQ(carbs_observe(b, &told.v[i], &err), 0);
    }
    CHECK_EQ(carbs_pending_add(b, 100, &pend[0].params, pend[0].u, &err), 0);
    CHECK_EQ(carbs_pending_add(b, 101, &pend[1].params, pend[1].u, &err), 0);
    CHECK_EQ(carbs_restore(b, buf, len, &err), 0);
    for (int k = 0; k < 3; k++) {
        CHECK(ask(a, 200 + k, &sa) >= 0);
        CHECK(ask(b, 200 + k, &sb) >= 0);
        CHECK_EQ(sa.kind, sb.kind);
        CHECK(same_u(sa.u, sb.u, 3));
        carbs_suggestion_release(&sa);
        carbs_suggestion_release(&sb);
    }
    /* without the restore the stream would differ (fresh seed stream) */
    {
        carbs_t *c2 = new3(&cfg);
        carbs_suggestion_t s2, s3;
        for (size_t i = 0; i < told.n; i++)
            CHECK_EQ(carbs_observe(c2, &told.v[i], &err), CARBS_ENOTFOUND);
        CHECK(ask(c2, 1, &s2) >= 0);
        CHECK_EQ(carbs_restore(c2, buf, len, &err), 0);
        CHECK(ask(c2, 2, &s3) >= 0);
        CHECK(!same_u(s2.u, s3.u, 3));
        carbs_suggestion_release(&s2);
        carbs_suggestion_release(&s3);
        carbs_free(c2);
    }
    for (size_t i = 0; i < told.n; i++)
        carbs_params_release(&told.v[i].params);
    DA_FREE(&told);
    carbs_suggestion_release(&pend[0]);
    carbs_suggestion_release(&pend[1]);
    free(buf);
    carbs_free(a);
    carbs_free(b);
}

static void test_carbs_restore_errors(void)
{
    carbs_config_t cfg;
    carbs_err_t err = {0};
    uint8_t *buf = NULL, *bad;
    size_t len = 0;
    carbs_space_t sp;
    carbs_param_t p4 = fx_num_param("p4", CARBS_SPACE_LINEAR, -5, 5, 1.5, 1, false);
    carbs_t *c, *c4;
    carbs_suggestion_t s1, s2;

    carbs_config_defaults(&cfg);
    cfg.seed = 5;
    c = new3(&cfg);
    CHECK_EQ(carbs_snapshot(c, &buf, &len, &err), 0);
    bad = xmalloc(len + 1);
    memcpy(bad, buf, len);
    CHECK_EQ(carbs_restore(c, buf, len - 1, &err), CARBS_EINVAL);
    CHECK_EQ(carbs_restore(c, NULL, 0, &err), CARBS_EINVAL);
    bad[len] = 0;
    CHECK_EQ(carbs_restore(c, bad, len + 1, &err), CARBS_EINVAL);
    bad[0] = 'X';
    CHECK_EQ(carbs_restore(c, bad, len, &err), CARBS_EINVAL);
    memcpy(bad, buf, len);
    bad[8] = 2; /* version 2 */
    CHECK_EQ(carbs_restore(c, bad, len, &err), CARBS_EVERSION);
    memcpy(bad, buf, len);
    memset(bad + 16, 0, 32); /* all-zero generator state */
    CHECK_EQ(carbs_restore(c, bad, len, &err), CARBS_EINVAL);
    memcpy(bad, buf, len);
    bad[16 + 48 + 8] = 3; /* oversample 3: not a power of two */
    CHECK_EQ(carbs_restore(c, bad, len, &err), CARBS_EINVAL);
    /* a different dimension */
    space3(&sp);
    CHECK_EQ(carbs_space_add(&sp, &p4), 0);
    c4 = carbs_new(&sp, &cfg, &err);
    CHECK(c4 != NULL);
    CHECK_EQ(carbs_restore(c4, buf, len, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "dimensions") != NULL);
    /* c unchanged after all those failures: same stream as a fresh handle */
    {
        carbs_t *fresh = new3(&cfg);
        CHECK(ask(c, 1, &s1) >= 0);
        CHECK(ask(fresh, 1, &s2) >= 0);
        CHECK(same_u(s1.u, s2.u, 3));
        carbs_suggestion_release(&s1);
        carbs_suggestion_release(&s2);
        carbs_free(fresh);
    }
    carbs_space_release(&sp);
    carbs_free(c4);
    free(bad);
    free(buf);
    carbs_free(c);
}

static void test_carbs_seeded_determinism(void)
{
    carbs_config_t cfg;
    carbs_t *a, *b, *other;
    int differ = 0;

    carbs_config_defaults(&cfg);
    cfg.seed = 424242;
    a = new3(&cfg);
    b = new3(&cfg);
    cfg.seed = 424243;
    other = new3(&cfg);
    history(a, 10, 1, NULL, NULL);
    history(b, 10, 1, NULL, NULL);
    history(other, 10, 1, NULL, NULL);
    for (int k = 0; k < 2; k++) {
        carbs_suggestion_t sa, sb, so;
        CHECK(ask(a, 50 + k, &sa) >= 0);
        CHECK(ask(b, 50 + k, &sb) >= 0);
        CHECK(ask(other, 50 + k, &so) >= 0);
        CHECK(same_u(sa.u, sb.u, 3));
        differ += !same_u(sa.u, so.u, 3);
        carbs_suggestion_release(&sa);
        carbs_suggestion_release(&sb);
        carbs_suggestion_release(&so);
    }
    CHECK(differ > 0);
    carbs_free(a);
    carbs_free(b);
    carbs_free(other);
}

// ---- bulk load ----

static void test_carbs_load_center(void)
{
    carbs_config_t cfg;
    carbs_obs_t obs[3];
    carbs_err_t err = {0};
    carbs_t *c;
    uint8_t *buf = NULL;
    size_t len = 0;
    double center[3];

    carbs_config_defaults(&cfg);
    cfg.better_direction_sign = 1;
    c = new3(&cfg);
    memset(obs, 0, sizeof(obs));
    set3(&obs[0].params, 0.125, 1.5, 0.25);
    obs[0].output = 2.5;
    obs[0].cost = 1;
    set3(&obs[1].params, 0.5, -2.5, 0.75);
    obs[1].output = INFINITY; /* a failure: must not become the center (deviation 4) */
    obs[1].cost = 1;
    set3(&obs[2].params, 0.0625, 0.5, 0.5);
    obs[2].output = 1.5;
    obs[2].cost = 2;
    CHECK_EQ(carbs_load(c, obs, 3, &err), 0);
    CHECK_EQ(carbs_n_success(c), 2);
    CHECK_EQ(carbs_n_failure(c), 1);
    CHECK_EQ(carbs_snapshot(c, &buf, &len, &err), 0);
    /* the center sits after magic, version, dim, rng, two counters */
    for (int i = 0; i < 3; i++)
        memcpy(&center[i], buf + 8 + 8 + RNG_STATE_BYTES + 16 + 8 * i, 8);
    CHECK_NEAR(center[0], log10(0.125), 1e-15);
    CHECK_NEAR(center[1], 1.5 / 2, 1e-15);
    CHECK_NEAR(center[2], log10(0.25 / 0.75) / 0.5, 1e-15);
    /* a bad one stops the load with its index named */
    obs[2].cost = -1;
    CHECK_EQ(carbs_load(c, obs, 3, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "observation 2") != NULL);
    for (int i = 0; i < 3; i++)
        carbs_params_release(&obs[i].params);
    free(buf);
    carbs_free(c);
}

// ---- numerical robustness ----

static void test_carbs_duplicates_never_crash(void)
{
    /* thirty identical successes and a few identical failures make every
     * kernel matrix singular but for the noise: suggest still answers */
    carbs_config_t cfg;
    carbs_suggestion_t s;
    carbs_t *c;

    carbs_config_defaults(&cfg);
    cfg.resample_frequency = 0;
    c = new3(&cfg);
    for (int i = 0; i < 30; i++)
        CHECK_EQ(tell3(c, 0, 0.03125, 0.75, 0.625, 1.0 + 1e-9 * i, 3.0), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(tell3(c, 0, 0.03125, 0.75, 0.625, NAN, 3.0), 0);
    for (int k = 0; k < 3; k++) {
        int kind = ask(c, k + 1, &s);
        CHECK(kind == CARBS_SUGGEST_BO || kind == CARBS_SUGGEST_FALLBACK);
        CHECK(s.u && isfinite(s.u[0]) && isfinite(s.u[1]) && isfinite(s.u[2]));
        carbs_suggestion_release(&s);
    }
    carbs_free(c);
}

static void test_carbs_out_of_memory(void)
{
    /* fail the k-th allocation of a whole session for every k: each call
     * fails cleanly with ENOMEM or succeeds, and nothing leaks */
    int failures = 0;

    for (size_t k = 1; k < 400; k += 3) {
        carbs_config_t cfg;
        carbs_space_t sp;
        carbs_err_t err = {0};
        carbs_suggestion_t s = {0};
        carbs_t *c;
        int rc = 0;

        carbs_config_defaults(&cfg);
        cfg.num_random_samples = 2;
        cfg.num_candidates_for_suggestion_per_dim = 10;
        space3(&sp);
        carbs_fault_fail_at(k);
        c = carbs_new(&sp, &cfg, &err);
        for (int i = 0; c && i < 4 && rc == 0; i++) {
            rc = carbs_suggest(c, &s, &err);
            if (rc == 0)
                rc = carbs_pending_add(c, i + 1, &s.params, s.u, &err);
            if (rc == 0)
                rc = tell(c, i + 1, &s, 1.0 / (i + 1.5), 1.0 + i, false);
            carbs_suggestion_release(&s);
        }
        carbs_fault_fail_at(0);
        if (!c || rc < 0) {
            failures++;
            CHECK(c ? rc == CARBS_ENOMEM : err.code == CARBS_ENOMEM);
        }
        carbs_free(c);
        carbs_space_release(&sp);
    }
    CHECK(failures > 0);
}

// ---- surrogate quality ----

/* A handle over a linear x (centre x0) and a log y; its BO suggestions are
 * told f = (x - x0 - 0.8163)^2 + (log10 y + 2.371)^2 and cost 1 + y. */
static void shifted_run(double x0, int n_obs, double *xs, double *ys)
{
    carbs_param_t px =
        fx_num_param("x", CARBS_SPACE_LINEAR, -INFINITY, INFINITY, x0 + 0.2917, 1, false);
    carbs_param_t py = fx_num_param("y", CARBS_SPACE_LOG, 0, INFINITY, 3.3e-3, 1, false);
    carbs_space_t sp = {0};
    carbs_config_t cfg;
    carbs_err_t err = {0};
    carbs_t *c;

    CHECK_EQ(carbs_space_add(&sp, &px), 0);
    CHECK_EQ(carbs_space_add(&sp, &py), 0);
    carbs_config_defaults(&cfg);
    cfg.seed = 91823;
    cfg.gp_fit = CARBS_GP_FIT_REFERENCE; /* MLE would shrink the linear term to nothing */
    c = carbs_new(&sp, &cfg, &err);
    CHECK(c != NULL);
    for (int i = 0; c && i < n_obs; i++) {
        carbs_suggestion_t s;
        double x, y;

        CHECK(ask(c, i + 1, &s) >= 0);
        x = param(&s, "x");
        y = param(&s, "y");
        xs[i] = x - x0;
        ys[i] = y;
        CHECK_EQ(tell(c, i + 1, &s, pow(x - x0 - 0.8163, 2) + pow(log10(y) + 2.371, 2),
                      1 + y, false), 0);
        carbs_suggestion_release(&s);
    }
    carbs_free(c);
    carbs_space_release(&sp);
}

/* Moving a linear parameter's whole range by a constant moves its basic
 * coordinates by that constant and must change nothing else: the search
 * is local, the Matern term translation invariant.  The reference's
 * homogeneous linear kernel makes the prior depend on the distance from the
 * basic origin (quirk 10 of docs/algorithm.md), so there the shifted search
 * differs. */
static void test_carbs_translation_invariant(void)
{
    double xa[12], ya[12], xb[12], yb[12];

    shifted_run(0, 12, xa, ya);
    shifted_run(37.25, 12, xb, yb);
    for (int i = 0; i < 12; i++) {
        CHECK_NEAR(xa[i], xb[i], 1e-6);
        CHECK_NEAR(log10(ya[i]), log10(yb[i]), 1e-6);
    }
}

static void demo_space(carbs_space_t *sp);

/* The adopted lengthscales of the MLE mode stay in the box of
 * docs/algorithm.md: [3 r, 10 r] for the main kernel, [0.3, 3] for the
 * Pareto GP (read from the handle's GPs: a white-box check).  Unboxed, the
 * likelihood of the demo's first observations collapses them to about
 * 0.01.  The warm start kept for the next fit is the unboxed optimum. */
static void test_carbs_lengthscales_boxed(void)
{
    carbs_space_t sp;
    carbs_config_t cfg;
    carbs_err_t err = {0};
    rng_t noise;
    carbs_t *c;
    int n_bo = 0, n_outside = 0;

    demo_space(&sp);
    carbs_config_defaults(&cfg);
    cfg.resample_frequency = 0;
    cfg.seed = 1013;
    c = carbs_new(&sp, &cfg, &err);
    CHECK(c != NULL);
    rng_seed(&noise, 1013 ^ 0x5eed);
    for (int i = 0; c && i < 10; i++) {
        carbs_suggestion_t s;
        double e;
        int kind = ask(c, i + 1, &s);

        CHECK(kind >= 0);
        e = param(&s, "epochs");
        CHECK_EQ(tell(c, i + 1, &s, pow(log10(param(&s, "lr")) + 3, 2) * 512 / e +
                                        0.1 * rng_uniform(&noise), e, false), 0);
        carbs_suggestion_release(&s);
        if (kind != CARBS_SUGGEST_BO)
            continue;
        n_bo++;
        for (size_t k = 0; k < CARBS_N_SURROGATES; k++) {
            bool rbf = k == CARBS_GP_PARETO;
            double lo = rbf ? 0.3 : 3 * 0.3, hi = rbf ? 3 : 10 * 0.3;
            const double *th;
            size_t nt;

            if (!c->gp[k] || !gp_n_obs(c->gp[k]))
                continue;
            th = gp_theta(c->gp[k]);
            nt = gp_n_theta(c->gp[k]);
            for (size_t j = rbf ? 1 : 2; j + 1 < nt; j++) {
                CHECK(exp(th[j]) >= lo * (1 - 1e-9) && exp(th[j]) <= hi * (1 + 1e-9));
                CHECK_EQ(c->hyper_n[k], nt);
                n_outside += c->hyper[k][j] < log(lo) || c->hyper[k][j] > log(hi);
            }
        }
    }
    CHECK(n_bo >= 5);
    CHECK(n_outside > 0); /* the data do want lengthscales outside the box */
    carbs_free(c);
    carbs_space_release(&sp);
}

// ---- behaviour (a smoke test on the demo problem of docs/algorithm.md, Tests) ----

/* The CARBS demo: minimize (log10 lr + 3)^2 * 512 / epochs + U(0, 0.1) with
 * cost = epochs; best[k] is the best output after k + 1 observations. */
static void demo_space(carbs_space_t *sp)
{
    carbs_param_t lr = fx_num_param("lr", CARBS_SPACE_LOG, 0, INFINITY, 1e-4, 0.5, false);
    carbs_param_t mom = fx_num_param("momentum", CARBS_SPACE_LOGIT, 0, 1, 0.9, 1, false);
    carbs_param_t ep = fx_num_param("epochs", CARBS_SPACE_LOG, 2, 512, 10, 1, false);

    ep.is_integer = true;
    memset(sp, 0, sizeof(*sp));
    CHECK_EQ(carbs_space_add(sp, &lr), 0);
    CHECK_EQ(carbs_space_add(sp, &mom), 0);
    CHECK_EQ(carbs_space_add(sp, &ep), 0);
}

static void demo_run(uint64_t seed, int n_obs, double *best)
{
    carbs_space_t sp;
    carbs_config_t cfg;
    carbs_err_t err = {0};
    rng_t noise;
    double b = INFINITY;
    carbs_t *c;

    demo_space(&sp);
    carbs_config_defaults(&cfg);
    cfg.resample_frequency = 0;
    cfg.seed = seed;
    c = carbs_new(&sp, &cfg, &err);
    CHECK(c != NULL);
    rng_seed(&noise, seed ^ 0x5eed);
    for (int i = 0; c && i < n_obs; i++) {
        carbs_suggestion_t s;
        double l, e, y;

        CHECK(ask(c, i + 1, &s) >= 0);
        l = param(&s, "lr");
        e = param(&s, "epochs");
        CHECK(e >= 2 && e <= 512 && e == rint(e));
        y = pow(log10(l) + 3, 2) * 512 / e + 0.1 * rng_uniform(&noise);
        b = y < b ? y : b;
        best[i] = b;
        CHECK_EQ(tell(c, i + 1, &s, y, e, false), 0);
        carbs_suggestion_release(&s);
    }
    carbs_free(c);
    carbs_space_release(&sp);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_carbs_demo_smoke(void)
{
    /* The demo problem (docs/algorithm.md, Tests): the stored notebook run
     * reached 0.137 after 10 observations; expect best < ~2 after 10 on most
     * seeds and steady improvement.  Measured on these five seeds: 2.80, 0.72,
     * 0.99, 1.88, 1.96 after 10 and 0.04 - 0.48 after 20 (bench/diag_carbs
     * prints the runs). */
    double best[5][20], b20[5];
    int below2 = 0;

    for (int k = 0; k < 5; k++) {
        demo_run(1013 * (uint64_t)(k + 1), 20, best[k]);
        CHECK(best[k][9] < best[k][3]);  /* BO improved on the warm-up */
        CHECK(best[k][19] < best[k][9]); /* and kept improving */
        below2 += best[k][9] < 2;
        b20[k] = best[k][19];
    }
    CHECK(below2 >= 3);
    qsort(b20, 5, sizeof(*b20), cmp_double);
    CHECK(b20[2] < 0.5);
}

int main(void)
{
    RUN(test_carbs_config);
    RUN(test_carbs_config_table);
    RUN(test_carbs_new_errors);
    RUN(test_carbs_suggest_once);
    RUN(test_carbs_observe_bad_inputs);
    RUN(test_carbs_reference_loop);
    RUN(test_carbs_warmup_counts_successes);
    RUN(test_carbs_resample_schedule);
    RUN(test_carbs_resample_disabled);
    RUN(test_carbs_cost_cap);
    RUN(test_carbs_pareto);
    RUN(test_carbs_snapshot_roundtrip);
    RUN(test_carbs_reload_continues);
    RUN(test_carbs_restore_errors);
    RUN(test_carbs_seeded_determinism);
    RUN(test_carbs_load_center);
    RUN(test_carbs_duplicates_never_crash);
    RUN(test_carbs_out_of_memory);
    RUN(test_carbs_translation_invariant);
    RUN(test_carbs_lengthscales_boxed);
    RUN(test_carbs_demo_smoke);
    return check_summary();
}
