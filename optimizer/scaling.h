/*
 * scaling.h - scaling laws from a sweep's observations (DESIGN.md §8,
 * carbs-algorithm.md §14, docs/scaling-laws.md).  Pure computation: arrays
 * in, a laws_t (proto/laws.h) out; no I/O, no logging.
 *
 * What is fitted, from the successful trials (cost C > 0, output y finite):
 *   - the Pareto front: cheapest first, each point strictly better than
 *     every cheaper one, and only the best of equal costs;
 *   - on the front, y = E + A C^-alpha by nonlinear least squares (a grid
 *     over alpha in [0.01, 3] with E and A solved exactly, then
 *     Levenberg-Marquardt; when that leaves the range, the best grid point,
 *     with a note in why), with residual-bootstrap percentile intervals;
 *   - on the front, each basic coordinate u_i = intercept + slope ln C by
 *     ordinary least squares (carbs-algorithm.md §14 step 3), with t
 *     intervals and R^2;
 *   - over all trials with a model size N and tokens D, L = E + A N^-alpha +
 *     B D^-beta (Hoffmann et al. 2022, approach 3) and the compute-optimal
 *     exponents a = beta / (alpha + beta), b = alpha / (alpha + beta) at
 *     C = 6 N D, with case-bootstrap intervals;
 *   - a holdout check: the front law refit without its k most expensive
 *     points, and its error on them.
 *
 * "Not enough data" is not an error of the whole fit: a part that cannot be
 * fitted gets status CARBS_ESTATE and a reason in why, and the other parts
 * are still fitted.  Only the loss law is required: without it the entry
 * points return CARBS_ESTATE ("not enough data: ...").
 *
 * Thread safety: no shared state besides GSL's error handler, which the
 * first fit turns off for the process (its default aborts).  Bootstrap draws
 * come from a generator seeded by cfg->seed, so a fit is reproducible.
 */
#ifndef CARBS_OPTIMIZER_SCALING_H
#define CARBS_OPTIMIZER_SCALING_H

#include "proto/laws.h"

/* Defaults for the zero fields of scaling_config_t. */
/* 200 replicates put the 5 % and 95 % percentiles within about 1.5
 * replicate spacings of their limits, and cost ~10 ms on a 30-point front. */
#define SCALING_DEFAULT_N_BOOT 200
/* A 90 % interval: the usual level for extrapolated scaling laws. */
#define SCALING_DEFAULT_LEVEL 0.9
/* Hold out the two dearest front points: one point says little, and a
 * front rarely has more than a dozen points to spare. */
#define SCALING_DEFAULT_HOLDOUT_K 2
/* The holdout passes when every prediction is within this fraction of the
 * front's output spread (best minus worst front output). */
#define SCALING_DEFAULT_HOLDOUT_TOL 0.1
/* The N, D law has 5 parameters; 3 more points give its residual some
 * degrees of freedom. */
#define SCALING_DEFAULT_MIN_ND 8
/* Levenberg-Marquardt step cap; fits from the grid start take 5-30 steps. */
#define SCALING_DEFAULT_MAX_ITER 200
/* Convergence: relative step and scaled gradient (GSL's xtol, gtol). */
#define SCALING_DEFAULT_XTOL 1e-10
#define SCALING_DEFAULT_GTOL 1e-12

/* The fewest front points (distinct costs) the loss law needs: it has 3
 * parameters.  Lines need 3 too (2 parameters and one residual). */
#define SCALING_MIN_FRONT 3

/* How to fit.  All-zero is the default (each zero field reads as its
 * SCALING_DEFAULT_*). */
typedef struct scaling_config {
    size_t n_boot;      /* bootstrap replicates */
    double level;       /* interval level in (0, 1) */
    size_t holdout_k;   /* front points held out */
    double holdout_tol; /* allowed holdout error, fraction of the front's spread */
    size_t min_nd;      /* fewest trials with N and D for the N, D law */
    size_t max_iter;    /* Levenberg-Marquardt steps per fit */
    double xtol, gtol;  /* convergence tolerances */
    uint64_t seed;      /* bootstrap stream */
} scaling_config_t;

/* The observations, all borrowed.  Row i is one finished trial: a row with a
 * cost that is not finite and > 0, or an output that is not finite, is
 * skipped.  u may be NULL when d = 0 or n = 0; a NaN coordinate leaves that row out
 * of that parameter's line only.  n_params and tokens may be NULL (no N, D
 * law); a row whose N or D is not finite and > 0 is left out of it. */
typedef struct scaling_input {
    size_t n;
    const double *cost;     /* [n] */
    const double *output;   /* [n] */
    size_t d;
    const double *u;        /* [n * d] row-major basic-space coordinates */
    const double *n_params; /* [n] or NULL */
    const double *tokens;   /* [n] or NULL */
    bool maximize;          /* the metric's goal */
} scaling_input_t;

// ---- entry points ----

/* Fit everything with bootstrap intervals into *out, which this function
 * zeroes first (it does not touch out->metric, out->cost or names: the
 * caller fills them afterwards; lines[i] is basic dimension i, unnamed).
 * Returns 0, CARBS_ESTATE with "not enough data: ..." in err when the front
 * has fewer than SCALING_MIN_FRONT distinct costs, CARBS_EINVAL for a bad
 * config (level outside (0, 1)), CARBS_ENOCONV when the loss law does not
 * converge, or CARBS_ENOMEM.  On failure *out is released. */
int scaling_fit_all(const scaling_input_t *in, const scaling_config_t *cfg, laws_t *out,
                    carbs_err_t *err);

/* The same without any bootstrap: cheap enough to run after every
 * observation (interval fields of the loss and N, D laws are NaN; the lines
 * keep their t intervals). */
int scaling_fit_cheap(const scaling_input_t *in, const scaling_config_t *cfg, laws_t *out,
                      carbs_err_t *err);

// ---- the parts (public for tests and reuse) ----

/* Indices of the Pareto front of the valid rows of (cost, output) into
 * idx[n] (caller's buffer), cheapest first, and their number into
 * *n_front.  Returns 0 or CARBS_ENOMEM (then *n_front = 0). */
int scaling_front(const double *cost, const double *output, size_t n, bool maximize, size_t *idx,
                  size_t *n_front);

/* Fit y = E + A C^-alpha to the n points (C[i] > 0 distinct enough, y
 * finite) into *out (zeroed first, replicates allocated when n_boot > 0 and
 * n > 3).  Returns 0 or the status it also stores in out->status
 * (CARBS_ESTATE not enough data, CARBS_ENOCONV, CARBS_ENOMEM). */
int scaling_power_fit(const double *C, const double *y, size_t n, const scaling_config_t *cfg,
                      size_t n_boot, laws_power_t *out);

/* Fit u = intercept + slope x by OLS over the rows where both are finite,
 * with t intervals at level.  Returns 0 or the status stored in out. */
int scaling_line_fit(const double *x, const double *u, size_t n, double level, laws_line_t *out);

/* Fit L = E + A N^-alpha + B D^-beta to the valid rows and the
 * compute-optimal exponents, with n_boot case-bootstrap replicates for the
 * intervals.  Returns 0 or the status stored in out. */
int scaling_nd_fit(const double *N, const double *D, const double *y, size_t n,
                   const scaling_config_t *cfg, size_t n_boot, laws_nd_t *out);

// ---- using a fit ----

/* The loss law at cost C: *mid from the point fit, *lo and *hi the
 * percentiles of the replicates at level (NaN without replicates). */
void scaling_power_predict(const laws_power_t *p, double level, double C, double *mid,
                           double *lo, double *hi);

/* A line at cost C (basic units): *mid and the confidence band of the line
 * (NaN when the line was not fitted). */
void scaling_line_predict(const laws_line_t *l, double C, double *mid, double *lo, double *hi);

/* The compute-optimal N and D at training compute C = 6 N D (NaN when the
 * fit has no optimum). */
void scaling_nd_optimum(const laws_nd_t *nd, double C, double *N, double *D);

#endif
