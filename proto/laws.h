/*
 * laws.h - a sweep's fitted scaling laws as plain data, and their JSON codec
 * (docs/scaling-laws.md).  optimizer/scaling.c fills a laws_t,
 * the store keeps its JSON in the `laws` table, `carbs laws` and `carbs plot`
 * read it back.
 *
 * The parts:
 *   loss     best metric vs cost, y = E + A C^-alpha (A < 0 for a metric
 *            to maximize), by the estimator named in `estimator`; its
 *            status is 0 only when the law may be used for predictions
 *            ("cannot predict: ..." in why otherwise); bootstrap intervals and
 *            the bootstrap replicates themselves, so an interval can be
 *            computed at any cost later;
 *   lines    per numeric parameter, its optimal basic coordinate vs
 *            natural-log cost, u = intercept + slope ln C, with intervals
 *            and R^2 (for a log parameter a power law p ~ C^exponent): the
 *            joint estimator's penalty optima (bootstrap band), or least
 *            squares on the front (t intervals);
 *   nd       L(N, D) = E + A N^-alpha + B D^-beta over all successful trials
 *            and the compute-optimal exponents N_opt ~ C^a, D_opt ~ C^b at
 *            C = 6 N D;
 *   holdout  the loss law refit on the trials cheaper than the k most
 *            expensive front points, its relative error on them, and the
 *            cost up to which it is validated.
 *
 * Invariants: every part has a status, 0 when fitted or a negative CARBS_E*
 * code with the reason in why (CARBS_ESTATE: "not enough data ...").  A
 * number that was not computed is NaN (JSON null).  All-zero is an empty
 * value; laws_release() frees what a laws_t owns (the replicates, the lines
 * and the holdout points).
 */
#ifndef CARBS_PROTO_LAWS_H
#define CARBS_PROTO_LAWS_H

#include "proto/types.h"

/* The version written into every fit ("v"); a reader refuses a newer one.
 * Version 2 added estimator, loss.bound and holdout.max_rel_err (a
 * version-1 fit reads back as estimator "front" with those NaN) and made
 * holdout.tol relative. */
#define LAWS_VERSION 2
/* Room for a part's reason, with NUL. */
#define LAWS_WHY_MAX 160

/* y = E + A C^-alpha, fitted to the n Pareto points with costs in
 * [c_min, c_max]. */
typedef struct laws_power {
    int status;
    char why[LAWS_WHY_MAX];
    size_t n;
    double E, A, alpha;
    double rmse;         /* root mean squared residual */
    double c_min, c_max; /* range of the fitted costs */
    double bound;        /* E never passes it (floor or ceiling); NaN for none */
    /* Relative error per e-fold of cost beyond c_max that the interval adds
     * to the bootstrap's (the model error the holdout measured); NaN: none. */
    double drift;
    /* Percentile intervals at laws_t.level; NaN without a bootstrap. */
    double E_lo, E_hi, A_lo, A_hi, alpha_lo, alpha_hi;
    size_t n_boot;
    double *boot; /* owned: n_boot rows of (E, A, alpha); NULL when n_boot = 0 */
} laws_power_t;

/* u = intercept + slope ln C for one parameter's basic coordinate. */
typedef struct laws_line {
    char name[CARBS_NAME_MAX]; /* the parameter */
    int status;
    char why[LAWS_WHY_MAX];
    size_t n;
    double intercept, slope;
    double intercept_lo, intercept_hi, slope_lo, slope_hi; /* t intervals at level */
    double r2;
    /* The band at ln C is t sigma sqrt(1/n + (ln C - x_mean)^2 / sxx).  For
     * a least-squares line: x_mean the mean ln C of the points, sxx the sum
     * of (ln C - x_mean)^2, sigma the residual standard deviation (n - 2
     * degrees of freedom), t the t quantile.  For a joint-model line the
     * same form carries the bootstrap covariance of (intercept, slope), t
     * a normal quantile. */
    double x_mean;
    double sxx;
    double sigma;
    double t;
    double exponent; /* log parameters: p ~ C^exponent; NaN for other spaces */
} laws_line_t;

/* L(N, D) = E + A N^-alpha + B D^-beta and N_opt = G (C/6)^a, D_opt = C/(6 N_opt). */
typedef struct laws_nd {
    int status;
    char why[LAWS_WHY_MAX];
    char model_size[CARBS_NAME_MAX]; /* the metric names used for N and D */
    char tokens[CARBS_NAME_MAX];
    size_t n;
    double E, A, B, alpha, beta, rmse;
    double a, b, G; /* NaN when the fitted law has no compute optimum */
    double alpha_lo, alpha_hi, beta_lo, beta_hi, a_lo, a_hi, b_lo, b_hi; /* NaN without bootstrap */
    /* Where a, b and G come from: the L(N, D) law above (from_line false),
     * or, when that law gives no optimum, the joint model's optimum line of
     * the parameter that sets the model size (line_tokens false) or the
     * tokens (true): line_dim, lines[line_dim], named line_param, with
     * ln N (ln D) = ln_v0 + ln_v_slope u fitted over the trials.  Then E,
     * A, B, alpha, beta and rmse are NaN and law_why says why the law was
     * not used. */
    bool from_line;
    bool line_tokens;
    size_t line_dim;
    double ln_v0, ln_v_slope;
    char line_param[CARBS_NAME_MAX];
    char law_why[LAWS_WHY_MAX];
} laws_nd_t;

/* The loss law refit on the front without its k most expensive points. */
typedef struct laws_holdout {
    int status;
    char why[LAWS_WHY_MAX];
    size_t k;
    double train_max_cost; /* the dearest point the refit saw */
    double *cost, *actual, *predicted; /* owned: k each */
    double max_abs_err;    /* largest |predicted - actual| */
    double max_rel_err;    /* largest |predicted - actual| / |actual| */
    double tol;            /* the relative error allowed */
    bool passed;           /* max_rel_err <= tol */
    double valid_max_cost; /* costs up to this are holdout-validated */
} laws_holdout_t;

typedef struct laws {
    int version;
    char metric[CARBS_NAME_MAX];
    char cost[CARBS_NAME_MAX];
    bool maximize;
    bool full;    /* bootstrap intervals and the N, D fit were computed */
    char estimator[16]; /* how loss and lines were fitted: front, envelope, joint */
    double level; /* interval level, e.g. 0.9 */
    size_t n_trials, n_front;
    laws_power_t loss;
    laws_line_t *lines; /* owned: n_lines */
    size_t n_lines;
    laws_nd_t nd;
    laws_holdout_t holdout;
} laws_t;

/* Free what l owns and zero it.  l may be NULL. */
void laws_release(laws_t *l);

/* Encode l as one compact JSON object into a new string *out (caller
 * frees).  NaN numbers are written as null.  Returns 0, CARBS_EINVAL (a name
 * that is not UTF-8, an infinite number) or CARBS_ENOMEM; *out is NULL on
 * failure. */
int laws_to_json(const laws_t *l, char **out, carbs_err_t *err);

/* Decode text (as laws_to_json() writes it) into *l, which this function
 * zeroes first; null reads back as NaN.  Returns 0, CARBS_EPROTO (bad JSON,
 * a missing or mistyped field, replicate rows that are not triples),
 * CARBS_EVERSION (a newer "v"), CARBS_ETOOBIG or CARBS_ENOMEM; on failure
 * *l is released. */
int laws_from_json(const char *text, laws_t *l, carbs_err_t *err);

#endif
