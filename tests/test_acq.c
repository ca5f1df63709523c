/*
 * test_acq.c - expected improvement against direct quadrature, the prior
 * weight, the cost threshold and the first-argmax rule.
 */
#include "proto/common.h"
#include "optimizer/acq.h"

#include <math.h>

#include "tests/check.h"

/* E[max(Y - t, 0)] for Y ~ N(mu, s^2) by Simpson's rule over [t, mu + 40 s],
 * where the integrand is smooth. */
static double ei_quadrature(double mu, double s, double t)
{
    const int n = 200000;
    double lo = t, hi = mu + 40 * s, h = (hi - lo) / n, sum = 0;

    for (int i = 0; i <= n; i++) {
        double y = lo + h * i;
        double f = (y - t) * exp(-0.5 * (y - mu) * (y - mu) / (s * s));
        sum += f * (i == 0 || i == n ? 1 : (i % 2 ? 4 : 2));
    }
    return sum * h / 3 / (s * sqrt(2 * M_PI));
}

static void test_acq_ei_matches_quadrature(void)
{
    static const double cases[][4] = {
        /* mu, var, base, bias */
        {0.25, 1.5, -0.375, 1.0},
        {2.385, 0.09, 0.5, 1.0},
        {-1.25, 0.64, 0.75, 1.0},
        {0.0, 2.25, 0.0, 0.0},
        {-3.5, 0.25, 1.0, 1.0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        double mu = cases[i][0], var = cases[i][1], t = cases[i][2] + cases[i][3];
        double ref = ei_quadrature(mu, sqrt(var), t);
        CHECK_NEAR(acq_ei(mu, var, cases[i][2], cases[i][3]), ref, 1e-9 * (1 + ref) + 1e-15);
    }
}

static void test_acq_ei_tail_is_continuous_and_positive(void)
{
    /* across the switch to the series at z = -10 the two forms agree: z moves by 2e-9 and
     * d ln EI / dz is about |z| = 10 there, so the ratio may differ from 1 by 2e-8 */
    double below = acq_ei(-10.0 - 1e-9, 1, 0, 0), above = acq_ei(-10.0 + 1e-9, 1, 0, 0);
    double prev = INFINITY;

    CHECK(below > 0 && above > 0);
    CHECK_NEAR(below / above, 1, 3e-8);
    for (double z = -9; z > -36; z -= 0.5) {
        double v = acq_ei(z, 1, 0, 0);
        CHECK(v > 0 && v < prev);
        prev = v;
    }
    /* z = -20: phi(z)/z^2 (1 - 3/z^2 + 15/z^4 - ...) */
    CHECK_NEAR(acq_ei(-20, 1, 0, 0) /
                   (exp(-200) / sqrt(2 * M_PI) / 400 *
                    (1 - 3.0 / 400 + 15.0 / 160000 - 105.0 / 64e6 + 945.0 / 256e8 - 10395.0 / 1.024e13)),
               1, 1e-10);
}

static void test_acq_ei_zero_variance(void)
{
    CHECK_NEAR(acq_ei(2.5, 0, 1.0, 0.25), 1.25, 1e-15);
    CHECK_NEAR(acq_ei(0.5, 0, 1.0, 0.25), 0, 0);
    CHECK_NEAR(acq_ei(0.5, -1e-12, 0.0, 0.25), 0.25, 1e-15);
}

static void test_acq_prior_weight(void)
{
    static const double a[] = {0, 0, 1.5, -2.385};
    static const double x[] = {1.25, -2.0};
    double r = 0.3, t2 = 0.25 * 0.25 + 0.385 * 0.385;
    double expect = exp(-t2 / (2 * r * r)) / (r * sqrt(2 * M_PI));

    CHECK_NEAR(acq_prior_weight(x, 2, a, 2, r), expect, 1e-15);
    CHECK_NEAR(acq_prior_weight(a, 2, a, 2, r), 1 / (r * sqrt(2 * M_PI)), 1e-15);
}

static void test_acq_cost_threshold_and_argmax(void)
{
    static const double a[] = {0.5, NAN, 2.25, 2.25, -1};
    static const double nan_first[] = {NAN, 0.125, 0.5};

    CHECK_NEAR(acq_cost_threshold(log(10), log(1000), 0.5), 100, 1e-10);
    CHECK_NEAR(acq_cost_threshold(log(1000), log(10), 0.25), pow(10, 2.5), 1e-9);
    CHECK_NEAR(acq_cost_threshold(log(7.5), log(7.5), 0.9), 7.5, 1e-12);
    CHECK_EQ(acq_argmax(a, 5), 2);
    CHECK_EQ(acq_argmax(nan_first, 3), 2);
    CHECK_EQ(acq_argmax(a, 1), 0);
}

int main(void)
{
    RUN(test_acq_ei_matches_quadrature);
    RUN(test_acq_ei_tail_is_continuous_and_positive);
    RUN(test_acq_ei_zero_variance);
    RUN(test_acq_prior_weight);
    RUN(test_acq_cost_threshold_and_argmax);
    return check_summary();
}
