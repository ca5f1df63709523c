/*
 * test_stats.c - normal functions against reference values (Python's
 * statistics.NormalDist, which implements Wichura's AS241), numpy's quantile
 * and interp against values numpy printed.
 */
#include "proto/common.h"
#include "optimizer/stats.h"

#include <math.h>

#include "tests/check.h"

static void test_stats_norm_ppf_matches_reference(void)
{
    static const struct {
        double p, x;
    } ref[] = {
        {1.0 / 3.0, -0.43072729929545744},
        {0.975, 1.9599639845400536},
        {1e-10, -6.361340902404056},
        {0.999999999999, 7.0344869100478356},
        {0.5, 0.0},
        {1e-7 - 2.220446049250313e-16, -5.199337582605575},
        {0.02425, -1.9729610513118845},
        {0.3172, -0.4755429887014373},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ref); i++) {
        double x = stats_norm_ppf(ref[i].p);
        /* the 1 - 1e-12 case carries the rounding of p itself: 1e-9 relative */
        double tol = ref[i].p > 0.9999 ? 1e-9 * fabs(ref[i].x) : 1e-13 * (1 + fabs(ref[i].x));
        CHECK_NEAR(x, ref[i].x, tol);
    }
    CHECK(isinf(stats_norm_ppf(0)) && stats_norm_ppf(0) < 0);
    CHECK(isinf(stats_norm_ppf(1)) && stats_norm_ppf(1) > 0);
    CHECK(isnan(stats_norm_ppf(-0.1)));
    CHECK(isnan(stats_norm_ppf(NAN)));
}

static void test_stats_cdf_inverts_ppf(void)
{
    for (double p = 1e-12; p < 1; p = p * 3.7 < 0.5 ? p * 3.7 : p + (1 - p) * 0.61) {
        double x = stats_norm_ppf(p);
        CHECK_NEAR(stats_norm_cdf(x), p, 1e-14 + 1e-12 * p);
    }
    CHECK_NEAR(stats_norm_pdf(0), 0.3989422804014327, 1e-16);
    CHECK_NEAR(stats_norm_cdf(-38.5), 0.0, 1e-300);
}

static void test_stats_quantile_like_numpy(void)
{
    static const double x[] = {-1.25, 0.0625, 2.385, 3.125, 7.5};

    CHECK_NEAR(stats_quantile_sorted(x, 5, 0), -1.25, 0);
    CHECK_NEAR(stats_quantile_sorted(x, 5, 0.2), -0.19999999999999996, 1e-15);
    CHECK_NEAR(stats_quantile_sorted(x, 5, 0.37), 1.1772999999999998, 1e-15);
    CHECK_NEAR(stats_quantile_sorted(x, 5, 1), 7.5, 0);
    CHECK_NEAR(stats_quantile_sorted(x, 1, 0.63), -1.25, 0);
}

static void test_stats_interp_like_numpy(void)
{
    static const double xp[] = {0, 1, 1, 2.5}, fp[] = {10, 20, 30, 40};

    CHECK_NEAR(stats_interp(-1, xp, fp, 4), 10, 0);
    CHECK_NEAR(stats_interp(0.5, xp, fp, 4), 15, 1e-15);
    CHECK_NEAR(stats_interp(1, xp, fp, 4), 30, 0); /* a run of equal xp: the last */
    CHECK_NEAR(stats_interp(1.75, xp, fp, 4), 35, 1e-14);
    CHECK_NEAR(stats_interp(2.5, xp, fp, 4), 40, 0);
    CHECK_NEAR(stats_interp(3, xp, fp, 4), 40, 0);
}

int main(void)
{
    RUN(test_stats_norm_ppf_matches_reference);
    RUN(test_stats_cdf_inverts_ppf);
    RUN(test_stats_quantile_like_numpy);
    RUN(test_stats_interp_like_numpy);
    return check_summary();
}
