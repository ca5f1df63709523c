/*
 * test_space.c - param <-> basic transforms for every kind, integer and
 * basic-space rounding (half to even), bounds, the strict validity test, the
 * bounded-dimension count, the categorical one-hot encoding, and every error
 * return of space_new / space_to_basic / space_from_basic.
 */
#include "proto/common.h"
#include "optimizer/space.h"

#include <math.h>

#include "optimizer/rng.h"
#include "tests/check.h"

static carbs_param_t numeric(const char *name, carbs_space_kind_t kind, double min, double max,
                             double center, double scale)
{
    carbs_param_t p;
    memset(&p, 0, sizeof(p));
    str_copy(p.name, sizeof(p.name), name);
    p.space = kind;
    p.min = min;
    p.max = max;
    p.center = center;
    p.scale = scale;
    return p;
}

static carbs_param_t categorical(const char *name, const char *const *values, size_t k,
                                 size_t center)
{
    carbs_param_t p;
    memset(&p, 0, sizeof(p));
    str_copy(p.name, sizeof(p.name), name);
    p.space = CARBS_SPACE_CATEGORICAL;
    p.n_values = k;
    for (size_t i = 0; i < k; i++)
        str_copy(p.values[i], sizeof(p.values[i]), values[i]);
    p.center = (double)center;
    return p;
}

/* The example sweep of docs/sweep-file.md, roughly: every kind, integers with
 * and without a rounding factor, a scale, a categorical in the middle. */
static void build_sweep(carbs_space_t *sp)
{
    static const char *const decay[] = {"cosine", "linear", "wsd"};
    carbs_param_t p = numeric("d_model", CARBS_SPACE_LOG, 32, 1024, 64, 0);
    p.is_integer = true;
    p.round = 16;
    carbs_space_add(sp, &p);
    p = numeric("n_layers", CARBS_SPACE_LOG, 1, 24, 2, 2);
    p.is_integer = true;
    carbs_space_add(sp, &p);
    p = numeric("learning_rate", CARBS_SPACE_LOG, 1e-5, 1e-1, 3e-3, 0);
    carbs_space_add(sp, &p);
    p = categorical("decay", decay, 3, 1);
    carbs_space_add(sp, &p);
    p = numeric("warmup_frac", CARBS_SPACE_LOGIT, 0.001, 0.5, 0.05, 0);
    carbs_space_add(sp, &p);
    p = numeric("beta2", CARBS_SPACE_LOGIT, 0, 1, 0.95, 0.73);
    carbs_space_add(sp, &p);
    p = numeric("offset", CARBS_SPACE_LINEAR, -INFINITY, INFINITY, -3.21, 2.37);
    carbs_space_add(sp, &p);
    p = numeric("batch", CARBS_SPACE_LINEAR, -7, 41, 12, 4.5);
    p.is_integer = true;
    p.round = 3;
    carbs_space_add(sp, &p);
}

/* build_sweep into *sp and its space_t; NULL (a failed check, *sp
 * released) when space_new refuses it. */
static space_t *sweep_space(carbs_space_t *sp)
{
    carbs_err_t err = {0};
    space_t *s;

    build_sweep(sp);
    s = space_new(sp, &err);
    CHECK(s != NULL);
    if (!s) carbs_space_release(sp);
    return s;
}

static void test_space_transform_values(void)
{
    carbs_param_t lin = numeric("a", CARBS_SPACE_LINEAR, -10, 10, 0, 2.37);
    carbs_param_t lg = numeric("b", CARBS_SPACE_LOG, 0, INFINITY, 1, 0.83);
    carbs_param_t lt = numeric("c", CARBS_SPACE_LOGIT, 0, 1, 0.5, 1.7);
    carbs_param_t cat = categorical("d", (const char *const[]){"x"}, 1, 0);

    CHECK_NEAR(space_param_to_basic(&lin, 3.317), 3.317 / 2.37, 1e-15);
    CHECK_NEAR(space_param_to_basic(&lg, 0.00437), log10(0.00437) / 0.83, 1e-15);
    CHECK_NEAR(space_param_to_basic(&lt, 0.137), log10(0.137 / 0.863) / 1.7, 1e-15);
    CHECK(space_param_to_basic(&lg, 0) == -INFINITY);
    CHECK(space_param_to_basic(&lt, 0) == -INFINITY);
    CHECK(space_param_to_basic(&lt, 1) == INFINITY);
    CHECK(isnan(space_param_to_basic(&lg, -2.5)));
    CHECK(isnan(space_param_to_basic(&cat, 0)));
    CHECK(isnan(space_param_from_basic(&cat, 0.25, true)));
    /* scale 0 reads as 1 */
    lin.scale = 0;
    CHECK(space_param_to_basic(&lin, 4.75) == 4.75);
    CHECK(space_param_from_basic(&lin, -1.625, true) == -1.625);
}

static void test_space_round_trips_every_kind(void)
{
    rng_t r;
    carbs_param_t ps[3] = {
        numeric("lin", CARBS_SPACE_LINEAR, -INFINITY, INFINITY, 0, 2.37),
        numeric("log", CARBS_SPACE_LOG, 0, INFINITY, 1, 0.83),
        numeric("logit", CARBS_SPACE_LOGIT, 0, 1, 0.5, 1.7),
    };
    rng_seed(&r, 0xa11ce);
    for (int t = 0; t < 2000; t++) {
        double u = 3.1 * rng_normal(&r);
        for (int k = 0; k < 2; k++) {
            double p = space_param_from_basic(&ps[k], u, true);
            CHECK_NEAR(space_param_to_basic(&ps[k], p), u, 1e-13 * (1 + fabs(u)));
        }
        /* logit near 1 keeps only the digits of 1 - p: the basic error grows
         * like eps 10^(u s); up to u s = 6 it stays below 1e-9 */
        if (fabs(u) * 1.7 <= 6) {
            double p = space_param_from_basic(&ps[2], u, true);
            CHECK_NEAR(space_param_to_basic(&ps[2], p), u, 1e-9);
        }
        /* and param -> basic -> param from a param value */
        double x = exp(4 * rng_normal(&r));
        CHECK_NEAR(space_param_from_basic(&ps[1], space_param_to_basic(&ps[1], x), true), x,
                   1e-13 * x);
        double q = rng_uniform(&r) * 0.98 + 0.01;
        CHECK_NEAR(space_param_from_basic(&ps[2], space_param_to_basic(&ps[2], q), true), q,
                   1e-14);
    }
}

static void test_space_integer_rounding_half_to_even(void)
{
    carbs_param_t p = numeric("i", CARBS_SPACE_LINEAR, -100, 100, 0, 1);
    p.is_integer = true;
    /* p = u * s exactly for these dyadic values; ties go to the even integer */
    CHECK(space_param_from_basic(&p, 2.5, true) == 2.0);
    CHECK(space_param_from_basic(&p, 3.5, true) == 4.0);
    CHECK(space_param_from_basic(&p, -2.5, true) == -2.0);
    CHECK(space_param_from_basic(&p, 0.5, true) == 0.0);
    CHECK(space_param_from_basic(&p, 2.5000001, true) == 3.0);
    CHECK(space_param_from_basic(&p, 2.5, false) == 2.5); /* unrounded inverse */
    /* rounding factor: multiples of rho, ties to the even multiple */
    p.round = 16;
    CHECK(space_param_from_basic(&p, 24, true) == 32.0); /* 1.5 -> 2 */
    CHECK(space_param_from_basic(&p, 40, true) == 32.0); /* 2.5 -> 2 */
    CHECK(space_param_from_basic(&p, 41.7, true) == 48.0);
    /* with a scale: p = u s = 2.5 * 3 = 7.5 -> rho 3: 2.5 -> 2 -> 6 */
    p.scale = 3;
    p.round = 3;
    CHECK(space_param_from_basic(&p, 2.5, true) == 6.0);
    /* log integer: 10^(u s) rounded, rho 1 */
    carbs_param_t q = numeric("n", CARBS_SPACE_LOG, 1, 1000, 10, 1);
    q.is_integer = true;
    CHECK(space_param_from_basic(&q, log10(37.4), true) == 37.0);
    CHECK(space_param_from_basic(&q, log10(37.6), true) == 38.0);
    /* logit ignores is_integer in the inverse (docs/algorithm.md, Transforms) */
    carbs_param_t lt = numeric("f", CARBS_SPACE_LOGIT, 0, 1, 0.5, 1);
    lt.is_integer = true;
    CHECK_NEAR(space_param_from_basic(&lt, 0.3, true), 1 / (1 + pow(10, -0.3)), 1e-15);
}

static void test_space_basic_rounding(void)
{
    carbs_param_t lin = numeric("i", CARBS_SPACE_LINEAR, -50, 50, 0, 2.5);
    lin.is_integer = true;
    lin.round = 2;
    /* u s / rho = 3.37 * 2.5 / 2 = 4.2125 -> 4 -> u = 8 / 2.5 */
    CHECK_NEAR(space_param_round_basic(&lin, 3.37), 3.2, 1e-15);
    /* tie: u s / rho = 2.5 -> 2 */
    CHECK_NEAR(space_param_round_basic(&lin, 2.0), 1.6, 1e-15);
    carbs_param_t lg = numeric("n", CARBS_SPACE_LOG, 1, 4096, 64, 0.5);
    lg.is_integer = true;
    lg.round = 16;
    /* 10^(u s) = 10^(3.4 * 0.5) = 50.12 -> 48 */
    CHECK_NEAR(space_param_round_basic(&lg, 3.4), log10(48.0) / 0.5, 1e-14);
    /* a grid point of 0 gives -inf */
    CHECK(space_param_round_basic(&lg, -1.0) == -INFINITY);
    /* idempotent, and non-integers unchanged */
    double once = space_param_round_basic(&lg, 2.917);
    CHECK_NEAR(space_param_round_basic(&lg, once), once, 1e-14);
    carbs_param_t real = numeric("x", CARBS_SPACE_LOG, 0, 10, 1, 1);
    CHECK(space_param_round_basic(&real, 0.12345) == 0.12345);
}

static void test_space_bounds_and_validity(void)
{
    carbs_space_t sp = {0};
    space_t *s = sweep_space(&sp);
    if (!s) return;
    CHECK_EQ(space_n_params(s), 8);
    CHECK_EQ(space_dim(s), 10); /* decay takes 3 */
    CHECK_EQ(space_offset(s, 3), 3);
    CHECK_EQ(space_width(s, 3), 3);
    CHECK_EQ(space_offset(s, 4), 6);
    /* log(32 - 0.1) and log(1024.1), scale 1 */
    const double *lo = space_lo(s), *hi = space_hi(s);
    CHECK_NEAR(lo[0], log10(31.9), 1e-15);
    CHECK_NEAR(hi[0], log10(1024.1), 1e-15);
    CHECK_NEAR(lo[1], log10(0.9) / 2, 1e-15);
    CHECK_NEAR(lo[2], -5, 1e-15);
    CHECK(isinf(lo[3]) && isinf(hi[5]));
    CHECK_NEAR(lo[6], log10(0.001 / 0.999), 1e-15);
    CHECK(lo[7] == -INFINITY && hi[7] == INFINITY); /* logit 0..1 */
    CHECK(lo[8] == -INFINITY && hi[8] == INFINITY); /* linear unbounded */
    CHECK_NEAR(lo[9], -7.1 / 4.5, 1e-15);
    CHECK_NEAR(hi[9], 41.1 / 4.5, 1e-15);
    /* bounded: all but decay and offset (the default logit counts: docs/algorithm.md, Bounds) */
    CHECK_EQ(space_n_bounded(s), 6);
    /* scale and round filled in */
    CHECK(space_param(s, 2)->scale == 1.0 && space_param(s, 1)->round == 1.0);

    double u[10];
    space_center(s, u);
    CHECK(space_valid(s, u));
    CHECK_NEAR(u[0], log10(64), 1e-15);
    CHECK(u[3] == 0 && u[4] == SPACE_CATEGORY_HOT && u[5] == 0);
    CHECK_NEAR(u[9], 12 / 4.5, 1e-15);
    /* strict: a point on a bound is invalid, as are NaN and points beyond */
    double v[10];
    memcpy(v, u, sizeof(u));
    v[2] = -5.0;
    CHECK(!space_valid(s, v));
    v[2] = -4.9999999;
    CHECK(space_valid(s, v));
    v[9] = hi[9];
    CHECK(!space_valid(s, v));
    v[9] = u[9];
    v[7] = NAN;
    CHECK(!space_valid(s, v));
    v[7] = 1e300;
    CHECK(space_valid(s, v));
    v[4] = NAN; /* categorical coordinates must not be NaN either */
    CHECK(!space_valid(s, v));
    space_free(s);
    carbs_space_release(&sp);
}

static void test_space_params_round_trip(void)
{
    carbs_space_t sp = {0};
    carbs_err_t err = {0};
    rng_t r;
    space_t *s = sweep_space(&sp);
    if (!s) return;
    rng_seed(&r, 8675309);
    for (int t = 0; t < 300; t++) {
        double u[10], w[10], back[10];
        carbs_params_t ps = {0}, again = {0};
        space_center(s, u);
        for (int i = 0; i < 10; i++)
            u[i] += 0.3 * rng_normal(&r);
        if (!space_valid(s, u))
            continue;
        /* rounded points decode and re-encode onto themselves */
        memcpy(w, u, sizeof(u));
        space_round(s, w);
        if (!space_valid(s, w))
            continue;
        CHECK_EQ(space_from_basic(s, w, true, &ps, &err), CARBS_OK);
        CHECK_EQ(space_check_names(s, &ps, &err), CARBS_OK);
        CHECK_EQ(space_to_basic(s, &ps, back, &err), CARBS_OK);
        for (int i = 0; i < 10; i++)
            CHECK_NEAR(back[i], w[i], 1e-12 * (1 + fabs(w[i])));
        /* integers are integral multiples of their rounding factor */
        double dm = carbs_params_find(&ps, "d_model")->num;
        CHECK(dm == 16 * rint(dm / 16));
        CHECK(fmod(carbs_params_find(&ps, "batch")->num, 3) == 0);
        /* the categorical decodes by argmax of the unrounded point too */
        size_t best = 3;
        for (int i = 4; i < 6; i++)
            if (u[i] > u[best])
                best = (size_t)i;
        CHECK_EQ(space_from_basic(s, u, false, &again, &err), CARBS_OK);
        CHECK_STR(carbs_params_find(&again, "decay")->str, space_param(s, 3)->values[best - 3]);
        /* unrounded decode of a real param is the exact inverse */
        CHECK_NEAR(space_param_to_basic(space_param(s, 2),
                                        carbs_params_find(&again, "learning_rate")->num),
                   u[2], 1e-12);
        carbs_params_release(&ps);
        carbs_params_release(&again);
    }
    space_free(s);
    carbs_space_release(&sp);
}

static void test_space_categorical_encoding(void)
{
    static const char *const sizes[] = {"16", "32", "64", "huge"};
    carbs_space_t sp = {0};
    carbs_params_t ps = {0};
    carbs_err_t err = {0};
    carbs_param_t p = categorical("width", sizes, 4, 2);
    carbs_space_add(&sp, &p);
    space_t *s = space_new(&sp, &err);
    CHECK(s != NULL);
    if (!s) {
        carbs_space_release(&sp);
        return;
    }
    double u[4];
    CHECK_EQ(space_dim(s), 4);
    CHECK_EQ(space_n_bounded(s), 0);
    carbs_params_set_str(&ps, "width", "huge");
    CHECK_EQ(space_to_basic(s, &ps, u, &err), CARBS_OK);
    CHECK(u[0] == 0 && u[1] == 0 && u[2] == 0 && u[3] == SPACE_CATEGORY_HOT);
    /* a number matching a category's text selects it */
    carbs_params_set_num(&ps, "width", 32);
    CHECK_EQ(space_to_basic(s, &ps, u, &err), CARBS_OK);
    CHECK(u[1] == SPACE_CATEGORY_HOT && u[0] == 0);
    carbs_params_set_num(&ps, "width", 48);
    CHECK_EQ(space_to_basic(s, &ps, u, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "width") != NULL);
    carbs_params_set_str(&ps, "width", "tiny");
    CHECK_EQ(space_to_basic(s, &ps, u, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "'tiny'") != NULL);
    /* argmax decode, first on ties; round snaps to the vertex */
    double w[4] = {0.21, 0.83, -0.4, 0.83};
    carbs_params_release(&ps);
    CHECK_EQ(space_from_basic(s, w, true, &ps, &err), CARBS_OK);
    CHECK_STR(carbs_params_find(&ps, "width")->str, "32");
    space_round(s, w);
    CHECK(w[0] == 0 && w[1] == SPACE_CATEGORY_HOT && w[2] == 0 && w[3] == 0);
    double nan_u[4] = {0.1, NAN, 0.3, 0.2};
    CHECK_EQ(space_from_basic(s, nan_u, true, &ps, &err), CARBS_EINVAL);
    space_round(s, nan_u); /* NaN left alone, for space_valid to reject */
    CHECK(!space_valid(s, nan_u));
    space_center(s, w);
    CHECK(w[2] == SPACE_CATEGORY_HOT && w[0] == 0);
    carbs_params_release(&ps);
    space_free(s);
    carbs_space_release(&sp);
}

static void check_param_rejected(carbs_param_t p, const char *needle)
{
    carbs_err_t err = {0};
    carbs_space_t sp = {0};
    CHECK_EQ(space_param_check(&p, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, needle) != NULL);
    if (!strstr(err.msg, needle))
        fprintf(stderr, "  message was: %s\n", err.msg);
    DA_PUSH(&sp, p);
    CHECK(space_new(&sp, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    carbs_space_release(&sp);
}

static void test_space_rejects_bad_params(void)
{
    static const char *const dup[] = {"a", "b", "a"};
    static const char *const empty[] = {"a", ""};
    carbs_param_t p;

    p = numeric("", CARBS_SPACE_LINEAR, 0, 1, 0.5, 1);
    check_param_rejected(p, "without a name");
    p = numeric("x", CARBS_SPACE_LINEAR, 2, 1, 1.5, 1);
    check_param_rejected(p, "max: must be greater than min 2 (got 1)");
    p = numeric("x", CARBS_SPACE_LINEAR, NAN, 1, 0.5, 1);
    check_param_rejected(p, "min: must be a number");
    p = numeric("x", CARBS_SPACE_LINEAR, 0, 1, 0.5, -2);
    check_param_rejected(p, "scale");
    p = numeric("x", CARBS_SPACE_LINEAR, 0, 1, 0.5, INFINITY);
    check_param_rejected(p, "scale");
    p = numeric("x", CARBS_SPACE_LINEAR, 0, 1, 1.5, 1);
    check_param_rejected(p, "center: must lie strictly inside (0, 1) (got 1.5)");
    p = numeric("x", CARBS_SPACE_LINEAR, 0, 1, 0, 1); /* on a bound: not a valid basic point */
    check_param_rejected(p, "center: must lie strictly inside");
    p = numeric("x", CARBS_SPACE_LOG, -1, 1, 0.5, 1);
    check_param_rejected(p, "min: must be > 0 for a log space");
    p = numeric("x", CARBS_SPACE_LOG, 0, 10, 0, 1); /* center maps to -inf */
    check_param_rejected(p, "center: must lie strictly inside (0, 10) (got 0)");
    p = numeric("x", CARBS_SPACE_LOG, 0.1, 10, 1, 1);
    p.is_integer = true;
    check_param_rejected(p, "min: must be > 0.1 for an integer log space");
    p = numeric("x", CARBS_SPACE_LINEAR, 33, 40, 36, 1);
    p.is_integer = true;
    p.round = 16;
    check_param_rejected(p, "round: no multiple of 16 lies in [33, 40]");
    p = numeric("x", CARBS_SPACE_LOGIT, 0, 1.5, 0.5, 1);
    check_param_rejected(p, "max: must be in (0, 1) for a logit space");
    p = numeric("x", CARBS_SPACE_LOGIT, 0, 1, 0.5, 1);
    p.is_integer = true;
    check_param_rejected(p, "integer: only linear and log spaces can be integer");
    p = numeric("x", CARBS_SPACE_LINEAR, 0, 1, 0.5, 1);
    p.space = (carbs_space_kind_t)17;
    check_param_rejected(p, "unknown space kind");
    p = categorical("c", dup, 3, 0);
    check_param_rejected(p, "twice");
    p = categorical("c", empty, 2, 0);
    check_param_rejected(p, "empty");
    p = categorical("c", dup, 0, 0);
    check_param_rejected(p, "1 to 32 values");
    p = categorical("c", dup, 2, 2);
    check_param_rejected(p, "center");
    p = categorical("c", dup, 2, 0);
    p.center = 0.5;
    check_param_rejected(p, "center");

    /* space-level errors: empty, duplicate names (bypassing carbs_space_add) */
    carbs_err_t err = {0};
    carbs_space_t sp = {0};
    CHECK(space_new(&sp, &err) == NULL);
    CHECK(strstr(err.msg, "empty") != NULL);
    CHECK(space_new(NULL, &err) == NULL);
    p = numeric("x", CARBS_SPACE_LINEAR, 0, 1, 0.5, 1);
    DA_PUSH(&sp, p);
    DA_PUSH(&sp, p);
    CHECK(space_new(&sp, &err) == NULL);
    CHECK(strstr(err.msg, "declared twice") != NULL);
    carbs_space_release(&sp);
    CHECK_EQ(space_param_check(NULL, &err), CARBS_EINVAL);
}

static void test_space_value_errors(void)
{
    carbs_space_t sp = {0};
    carbs_params_t ps = {0};
    carbs_err_t err = {0};
    double u[10];
    space_t *s = sweep_space(&sp);
    if (!s) return;
    /* a valid assignment first */
    space_center(s, u);
    CHECK_EQ(space_from_basic(s, u, true, &ps, &err), CARBS_OK);
    CHECK_EQ(space_to_basic(s, &ps, u, &err), CARBS_OK);

    carbs_params_t bad = {0};
    carbs_params_copy(&bad, &ps);
    carbs_params_set_num(&bad, "seq_len", 256); /* a fixed setting: ignored by to_basic */
    CHECK_EQ(space_to_basic(s, &bad, u, &err), CARBS_OK);
    CHECK_EQ(space_check_names(s, &bad, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "'seq_len'") != NULL);
    carbs_params_release(&bad);

    carbs_params_copy(&bad, &ps);
    bad.n--; /* drop the last parameter ("batch") */
    CHECK_EQ(space_to_basic(s, &bad, u, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "'batch'") != NULL);
    carbs_params_release(&bad);

    static const struct {
        const char *name;
        double num;
        const char *str;
        const char *needle;
    } cases[] = {
        {"learning_rate", 0.5, NULL, "outside"},
        {"learning_rate", 9.99e-6, NULL, "outside"},
        {"learning_rate", NAN, NULL, "not finite"},
        {"learning_rate", INFINITY, NULL, "not finite"},
        {"batch", 41.2, NULL, "outside"},
        {"batch", -7.11, NULL, "outside"},
        {"d_model", 0, "big", "needs a number"},
        {"beta2", 1.0, NULL, "no finite basic"},
        {"beta2", 0.0, NULL, "no finite basic"},
        {"decay", 0, "step", "not a value"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        carbs_params_copy(&bad, &ps);
        if (cases[i].str)
            carbs_params_set_str(&bad, cases[i].name, cases[i].str);
        else
            carbs_params_set_num(&bad, cases[i].name, cases[i].num);
        CHECK_EQ(space_to_basic(s, &bad, u, &err), CARBS_EINVAL);
        CHECK(strstr(err.msg, cases[i].needle) && strstr(err.msg, cases[i].name));
        carbs_params_release(&bad);
    }
    /* widened integer bounds accept a value just outside */
    carbs_params_copy(&bad, &ps);
    carbs_params_set_num(&bad, "batch", 41.05);
    CHECK_EQ(space_to_basic(s, &bad, u, &err), CARBS_OK);
    carbs_params_release(&bad);

    /* from_basic: NaN and overflow */
    space_center(s, u);
    u[2] = NAN;
    CHECK_EQ(space_from_basic(s, u, true, &bad, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "learning_rate") != NULL);
    u[2] = 1e300;
    CHECK_EQ(space_from_basic(s, u, true, &bad, &err), CARBS_EINVAL);
    carbs_params_release(&bad);
    CHECK_EQ(space_to_basic(s, NULL, u, &err), CARBS_EINVAL);
    CHECK_EQ(space_from_basic(s, NULL, true, &bad, &err), CARBS_EINVAL);
    CHECK_EQ(space_check_names(NULL, &ps, &err), CARBS_EINVAL);
    carbs_params_release(&ps);
    space_free(s);
    carbs_space_release(&sp);
}

static void test_space_out_of_memory(void)
{
    carbs_space_t sp = {0};
    carbs_err_t err = {0};
    build_sweep(&sp);
    /* fail each of space_new's allocations in turn */
    for (size_t k = 1; k <= 6; k++) {
        carbs_fault_fail_at(k);
        space_t *s = space_new(&sp, &err);
        carbs_fault_fail_at(0);
        CHECK(s == NULL);
        CHECK_EQ(err.code, CARBS_ENOMEM);
        space_free(s);
    }
    carbs_fault_fail_at(7);
    space_t *s = space_new(&sp, &err);
    carbs_fault_fail_at(0);
    CHECK(s != NULL);
    space_free(s);
    space_free(NULL);
    carbs_space_release(&sp);
}

int main(void)
{
    RUN(test_space_transform_values);
    RUN(test_space_round_trips_every_kind);
    RUN(test_space_integer_rounding_half_to_even);
    RUN(test_space_basic_rounding);
    RUN(test_space_bounds_and_validity);
    RUN(test_space_params_round_trip);
    RUN(test_space_categorical_encoding);
    RUN(test_space_rejects_bad_params);
    RUN(test_space_value_errors);
    RUN(test_space_out_of_memory);
    return check_summary();
}
