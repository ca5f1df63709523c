/*
 * test_warp.c - output warping and cost scaling (docs/algorithm.md, Output
 * warping and cost scaling).
 */
#include "proto/common.h"
#include "optimizer/warp.h"

#include <math.h>

#include "tests/check.h"

#define CLIP 5.199337582605575

static void test_warp_spec_example(void)
{
    /* docs/algorithm.md's example: n = 4, outputs 1, 2, 3, 4 -> -5.199, -0.4307, +0.4307, +5.199 */
    static const double y[] = {3, 1, 4, 2};
    warp_t w = {0};

    CHECK_EQ(warp_fit(&w, y, 4), 0);
    CHECK_EQ(w.m, 2);
    CHECK_NEAR(w.clip, CLIP, 1e-12);
    CHECK_NEAR(warp_forward(&w, 1), -CLIP, 1e-12);
    CHECK_NEAR(warp_forward(&w, 2), -0.43072729929545744, 1e-12);
    CHECK_NEAR(warp_forward(&w, 3), 0.43072729929545744, 1e-12);
    CHECK_NEAR(warp_forward(&w, 4), CLIP, 1e-12);
    /* outside the landmarks: the ends */
    CHECK_NEAR(warp_forward(&w, -17.5), -CLIP, 1e-12);
    CHECK_NEAR(warp_forward(&w, 1e9), CLIP, 1e-12);
    warp_release(&w);
}

static void test_warp_monotone_and_inverse(void)
{
    double y[50];
    warp_t w = {0};
    double prev = -INFINITY;

    for (size_t i = 0; i < ARRAY_SIZE(y); i++)
        y[i] = sin(2.385 * (double)i) * exp(0.05 * (double)i);
    CHECK_EQ(warp_fit(&w, y, ARRAY_SIZE(y)), 0);
    CHECK_EQ(w.m, 7);
    for (double v = -3; v <= 12; v += 0.0137) {
        double z = warp_forward(&w, v);
        CHECK(z >= prev);
        CHECK(fabs(z) <= CLIP + 1e-12);
        prev = z;
    }
    /* strictly inside the landmark range the inverse undoes the forward map */
    for (size_t j = 1; j + 1 < w.m; j++) {
        double mid = 0.5 * (w.q[j] + w.q[j + 1]);
        if (w.q[j + 1] > w.q[j])
            CHECK_NEAR(warp_inverse(&w, warp_forward(&w, mid), 1), mid, 1e-9);
        CHECK_NEAR(warp_inverse(&w, -warp_forward(&w, mid), -1), mid, 1e-9);
    }
    warp_release(&w);
}

static void test_warp_ties_and_degenerate(void)
{
    static const double same[] = {0.75, 0.75, 0.75, 0.75, 0.75};
    static const double ties[] = {1, 1, 1, 1, 2, 3, 3, 3, 3};
    static const double bad[] = {1, NAN};
    warp_t w = {0};

    CHECK_EQ(warp_fit(&w, same, 5), 0);
    for (size_t i = 0; i < 5; i++)
        CHECK_NEAR(warp_forward(&w, same[i]), -CLIP, 1e-12);
    CHECK_EQ(warp_fit(&w, same, 1), 0);
    CHECK_EQ(w.m, 1);
    CHECK_NEAR(warp_forward(&w, 0.75), -CLIP, 1e-12);
    /* landmarks 1, 2, 3 at levels 0, 0.5, 1: the middle maps to 0 */
    CHECK_EQ(warp_fit(&w, ties, ARRAY_SIZE(ties)), 0);
    CHECK_EQ(w.m, 3);
    CHECK_NEAR(warp_forward(&w, 2), 0, 1e-12);
    CHECK_NEAR(warp_forward(&w, 1.5), -0.6744897501960817, 1e-9);
    CHECK_EQ(warp_fit(&w, bad, 2), CARBS_EINVAL);
    CHECK_EQ(warp_fit(&w, same, 0), CARBS_EINVAL);
    warp_release(&w);
}

static void test_warp_fault_injection(void)
{
    static const double y[] = {2.385, 1.5, -0.25, 9.75};
    int rc = 0;

    for (size_t k = 1; k <= 3; k++) {
        warp_t w = {0};
        carbs_fault_fail_at(k);
        rc = warp_fit(&w, y, 4);
        CHECK(rc == 0 || rc == CARBS_ENOMEM);
        warp_release(&w);
    }
    carbs_fault_fail_at(0);
}

static void test_costscale(void)
{
    static const double c[] = {12.5, 100, 3.75, 48};
    static const double eq[] = {2.385, 2.385};
    static const double bad[] = {1, 0};
    costscale_t cs;

    CHECK_EQ(costscale_fit(&cs, c, 4), 0);
    CHECK_NEAR(costscale_forward(&cs, 3.75), -1, 1e-15);
    CHECK_NEAR(costscale_forward(&cs, 100), 1, 1e-15);
    CHECK_NEAR(costscale_inverse(&cs, costscale_forward(&cs, 48)), 48, 1e-12);
    CHECK_NEAR(costscale_forward(&cs, sqrt(3.75 * 100)), 0, 1e-12);
    CHECK_EQ(costscale_fit(&cs, eq, 2), 0);
    CHECK_NEAR(cs.w, 1, 0);
    CHECK_NEAR(costscale_forward(&cs, 2.385), -1, 1e-15);
    CHECK_EQ(costscale_fit(&cs, bad, 2), CARBS_EINVAL);
    CHECK_EQ(costscale_fit(&cs, c, 0), CARBS_EINVAL);
}

int main(void)
{
    RUN(test_warp_spec_example);
    RUN(test_warp_monotone_and_inverse);
    RUN(test_warp_ties_and_degenerate);
    RUN(test_warp_fault_injection);
    RUN(test_costscale);
    return check_summary();
}
