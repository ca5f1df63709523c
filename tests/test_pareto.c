/*
 * test_pareto.c - grouping and the standard and conservative Pareto rules
 * (docs/algorithm.md, Pareto), including the worked example of its conservative rule and the
 * empty-bucket case that crashes the reference.
 */
#include "proto/common.h"
#include "optimizer/pareto.h"

#include <math.h>

#include "tests/check.h"

/* The conservative rule's example: A = {(0, 1), (1, 1)}, B = {(0.6, 2)},
 * C = {(0.55, 3), (0.75, 3)}, D = {(0.8, 4)}
 * with inputs chosen so each group shares one point (repeats differ by < rtol). */
static const double ex_u[] = {
    0.25, -1.5,            /* A */
    0.25, -1.5 + 1e-7,     /* A, a resample within tolerance */
    0.625, 0.125,          /* B */
    -0.375, 2.385,         /* C */
    -0.375, 2.385,         /* C */
    1.875, -0.0625,        /* D */
};
static const double ex_y[] = {0, 1, 0.6, 0.55, 0.75, 0.8};
static const double ex_c[] = {1, 1, 2, 3, 3, 4};

static size_t front_rep(const pareto_t *p, size_t k)
{
    return p->group[p->front[k]].rep;
}

static void test_pareto_spec_example_both_rules(void)
{
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = 1, .min_cost_fraction = 0.2, .conservative = false};

    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), 0);
    CHECK_EQ(p.n_groups, 4);
    CHECK_EQ(p.n_front, 4); /* A, B, C, D */
    CHECK_NEAR(p.group[p.front[0]].output, 0.5, 1e-15);
    CHECK_NEAR(p.group[p.front[1]].output, 0.6, 1e-15);
    CHECK_NEAR(p.group[p.front[2]].output, 0.65, 1e-15);
    CHECK_NEAR(p.group[p.front[3]].output, 0.8, 1e-15);
    /* area: (2-1)*0.5 + (3-2)*0.6 + (4-3)*0.65 */
    CHECK_NEAR(pareto_area(&p), 1.75, 1e-12);

    cfg.conservative = true;
    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), 0);
    CHECK_EQ(p.n_front, 3); /* A, C, D */
    CHECK_NEAR(p.group[p.front[0]].output, 0.5, 1e-15);
    CHECK_NEAR(p.group[p.front[1]].output, 0.65, 1e-15);
    CHECK_NEAR(p.group[p.front[2]].output, 0.8, 1e-15);
    CHECK_EQ(front_rep(&p, 2), 5);
    pareto_release(&p);
}

static void test_pareto_minimize_flips_sign(void)
{
    static const double u[] = {0.1, 0.2, 0.3, 0.4, 0.5};
    static const double y[] = {3.0, 2.5, 2.75, 1.25, 1.5};
    static const double c[] = {1, 2, 3, 4, 5};
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = -1, .min_cost_fraction = 0, .conservative = false};

    CHECK_EQ(pareto_compute(&p, &cfg, u, 5, 1, y, c), 0);
    /* losses: 3.0 @1, 2.5 @2, (2.75 @3 dominated), 1.25 @4, (1.5 @5 dominated) */
    CHECK_EQ(p.n_front, 3);
    CHECK_EQ(front_rep(&p, 0), 0);
    CHECK_EQ(front_rep(&p, 1), 1);
    CHECK_EQ(front_rep(&p, 2), 3);
    pareto_release(&p);
}

static void test_pareto_grouping_order_and_members(void)
{
    static const double u[] = {0.5, 0.5, -2.0, 0.5 + 4e-6, 0.5 + 1e-3};
    static const double y[] = {1, 2, 3, 4, 5};
    static const double c[] = {1, 1, 1, 1, 1};
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = 1, .min_cost_fraction = 0.2, .conservative = false};

    CHECK_EQ(pareto_compute(&p, &cfg, u, 5, 1, y, c), 0);
    /* descending lexicographic: {0.501}, {0.500004, 0.5, 0.5}, {-2} */
    CHECK_EQ(p.n_groups, 3);
    CHECK_EQ(p.group[0].rep, 4);
    CHECK_EQ(p.group[1].rep, 3);
    CHECK_EQ(p.group[1].n, 3);
    CHECK_NEAR(p.group[1].output, (4 + 1 + 2) / 3.0, 1e-15);
    CHECK_NEAR(p.group[1].best, 4, 0);
    CHECK_EQ(p.group[2].rep, 2);
    /* all costs equal: everything is in the bucket and one group, the best mean, remains */
    CHECK_EQ(p.n_front, 1);
    CHECK_EQ(front_rep(&p, 0), 4);
    pareto_release(&p);
}

static void test_pareto_empty_bucket_does_not_fail(void)
{
    /* One group of two runs with costs 1 and 9 (mean 5) and one run at cost 6: the 0.2
     * quantile of the individual costs (1, 6, 9) is 3, below every group mean. */
    static const double u[] = {0.75, 0.75, -0.5};
    static const double y[] = {1.5, 2.5, 3.25};
    static const double c[] = {1, 9, 6};
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = 1, .min_cost_fraction = 0.2, .conservative = true};

    CHECK_EQ(pareto_compute(&p, &cfg, u, 3, 1, y, c), 0);
    CHECK_EQ(p.n_groups, 2);
    CHECK_EQ(p.n_front, 2); /* the cheapest group (mean 5) then the single run at 6 */
    CHECK_NEAR(p.group[p.front[0]].cost, 5, 1e-15);
    CHECK_NEAR(p.group[p.front[1]].cost, 6, 1e-15);
    pareto_release(&p);
}

static void test_pareto_conservative_bucket_prefers_repeats(void)
{
    static const double u[] = {0.1, 0.2, 0.2, 0.3};
    static const double y[] = {9.5, 1.0, 1.5, 2.0};
    static const double c[] = {1, 1, 1, 8};
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = 1, .min_cost_fraction = 0.5, .conservative = true};

    CHECK_EQ(pareto_compute(&p, &cfg, u, 4, 1, y, c), 0);
    /* the bucket holds {0.1} (single, 9.5) and {0.2} (repeat, mean 1.25): the repeat wins */
    CHECK_NEAR(p.group[p.front[0]].output, 1.25, 1e-15);
    /* then the single run at cost 8 must beat the repeat's best single run, 1.5: 2.0 does */
    CHECK_EQ(p.n_front, 2);
    cfg.conservative = false;
    CHECK_EQ(pareto_compute(&p, &cfg, u, 4, 1, y, c), 0);
    CHECK_NEAR(p.group[p.front[0]].output, 9.5, 1e-15);
    CHECK_EQ(p.n_front, 1);
    pareto_release(&p);
}

static void test_pareto_resample_pick(void)
{
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = 1, .min_cost_fraction = 0.2, .conservative = false};
    double pending[2 * 2];

    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), 0);
    /* front A(2 runs), B(1), C(2), D(1): the cheapest with the fewest runs is B */
    CHECK_EQ(p.group[pareto_resample_pick(&p, ex_u, 2, NULL, 0)].rep, 2);
    /* one pending run at B's point (within tolerance) makes D the first with one run */
    pending[0] = 0.625;
    pending[1] = 0.125 + 1e-9;
    CHECK_EQ(p.group[pareto_resample_pick(&p, ex_u, 2, pending, 1)].rep, 5);
    /* and one at D too: every group has two, so the cheapest, A, comes back */
    pending[2] = 1.875;
    pending[3] = -0.0625;
    CHECK_NEAR(p.group[pareto_resample_pick(&p, ex_u, 2, pending, 2)].cost, 1, 0);
    CHECK_EQ(pareto_compute(&p, &cfg, NULL, 0, 2, NULL, NULL), 0);
    CHECK_EQ(pareto_resample_pick(&p, ex_u, 2, pending, 2), SIZE_MAX);
    pareto_release(&p);
}

static void test_pareto_errors_and_empty(void)
{
    pareto_t p = {0};
    pareto_config_t cfg = {.sign = 1, .min_cost_fraction = 0.2, .conservative = true};

    CHECK_EQ(pareto_compute(&p, &cfg, NULL, 0, 3, NULL, NULL), 0);
    CHECK_EQ(p.n_front, 0);
    CHECK_NEAR(pareto_area(&p), 0, 0);
    cfg.sign = 0.5;
    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), CARBS_EINVAL);
    cfg.sign = 1;
    cfg.min_cost_fraction = 1.5;
    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), CARBS_EINVAL);
    cfg.min_cost_fraction = NAN;
    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), CARBS_EINVAL);
    cfg.min_cost_fraction = 0.2;
    pareto_release(&p);
    /* a fresh handle must allocate: the 2nd allocation fails, the next call recovers */
    carbs_fault_fail_at(2);
    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), CARBS_ENOMEM);
    carbs_fault_fail_at(0);
    CHECK_EQ(pareto_compute(&p, &cfg, ex_u, 6, 2, ex_y, ex_c), 0);
    CHECK_EQ(p.n_front, 3);
    pareto_release(&p);
}

int main(void)
{
    RUN(test_pareto_spec_example_both_rules);
    RUN(test_pareto_minimize_flips_sign);
    RUN(test_pareto_grouping_order_and_members);
    RUN(test_pareto_empty_bucket_does_not_fail);
    RUN(test_pareto_conservative_bucket_prefers_repeats);
    RUN(test_pareto_resample_pick);
    RUN(test_pareto_errors_and_empty);
    return check_summary();
}
