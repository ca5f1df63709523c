/*
 * scaling.h - scaling laws from a sweep's observations (docs/scaling-laws.md).
 * Pure computation: arrays in, a laws_t (proto/laws.h) out; no I/O, no
 * logging.
 *
 * What is fitted, from the successful trials (cost C > 0, output y finite):
 *   - the Pareto front (scaling_front: the one front rule of the project,
 *     also behind `carbs pareto`): cheapest first, each point strictly
 *     better than every cheaper one, and only the best of equal costs;
 *   - the best metric y = E + A C^-alpha, alpha in [0.01, 2], E never past
 *     the metric's bound, by one of three estimators (scaling_estimator_t):
 *     least squares on the front, a low expectile of every trial, or a joint
 *     model of every trial with a penalty per parameter; bootstrap
 *     percentile intervals;
 *   - each basic coordinate's optimum u_i = intercept + slope ln C: by
 *     ordinary least squares on the front (front and envelope estimators,
 *     t intervals), or the joint model's optimum lines (bootstrap band);
 *   - over all trials with a model size N and tokens D, L = E + A N^-alpha +
 *     B D^-beta (Hoffmann et al. 2022, approach 3) and the compute-optimal
 *     exponents a = beta / (alpha + beta), b = alpha / (alpha + beta) at
 *     C = 6 N D, with case-bootstrap intervals;
 *   - a holdout check: the law refit on the trials cheaper than the k most
 *     expensive front points, and its relative error on them.
 *
 * "Not enough data" is not an error of the whole fit: a part that cannot be
 * fitted gets status CARBS_ESTATE and a reason in why, and the other parts
 * are still fitted.  Only a front of SCALING_MIN_FRONT points is required:
 * without it the entry points return CARBS_ESTATE.
 *
 * Thread safety: no shared state besides GSL's error handler, which the
 * first fit turns off for the process (its default aborts).  Bootstrap draws
 * come from a generator seeded by cfg->seed, so a fit is reproducible.
 */
#ifndef CARBS_OPTIMIZER_SCALING_H
#define CARBS_OPTIMIZER_SCALING_H

#include "proto/laws.h"

/* How the best-metric law is estimated (docs/scaling-laws.md "Estimators").
 * Every successful trial lies on or above the true front: the observed
 * front carries the search's regret, most at the dear end where there are
 * fewest trials, so a law fitted to it alone comes out too flat. */
typedef enum scaling_estimator {
    SCALING_EST_DEFAULT = 0, /* the measured best (bench/laws_bench.c): joint */
    SCALING_EST_FRONT,       /* least squares on the observed front (the baseline) */
    SCALING_EST_ENVELOPE,    /* a low expectile of every trial: the lower envelope */
    SCALING_EST_JOINT,       /* every trial: the law plus a quadratic penalty per
                              * parameter around an optimum that moves with ln C */
} scaling_estimator_t;

/* "front", "envelope" or "joint" (the default resolved); "?" otherwise. */
const char *scaling_estimator_name(int estimator);

/* The estimator called name into *out; CARBS_EINVAL for an unknown name. */
int scaling_estimator_parse(const char *name, int *out);

/* Defaults for the zero fields of scaling_config_t. */
/* 200 replicates put the 5 % and 95 % percentiles within about 1.5
 * replicate spacings of their limits, and cost ~10 ms on a 30-point front. */
#define SCALING_DEFAULT_N_BOOT 200
/* A 90 % interval: the usual level for extrapolated scaling laws. */
#define SCALING_DEFAULT_LEVEL 0.9
/* Hold out the two dearest front points: one point says little, and a
 * front rarely has more than a dozen points to spare. */
#define SCALING_DEFAULT_HOLDOUT_K 2
/* The holdout passes when every held-out point is predicted within this
 * relative error, |predicted - observed| / |observed|, on the metric's own
 * scale.  A refit extrapolates there by a factor of about 1.5-3 in cost;
 * a law that misses by more cannot be trusted 10-100x out. */
#define SCALING_DEFAULT_HOLDOUT_TOL 0.03
/* The N, D law has 5 parameters; 3 more points give its residual some
 * degrees of freedom. */
#define SCALING_DEFAULT_MIN_ND 8
/* Levenberg-Marquardt step cap; fits from the grid start take 5-30 steps. */
#define SCALING_DEFAULT_MAX_ITER 200
/* Convergence: relative step and scaled gradient (GSL's xtol, gtol). */
#define SCALING_DEFAULT_XTOL 1e-10
#define SCALING_DEFAULT_GTOL 1e-12
/* The envelope's expectile: the law sits below all but about this
 * weighted fraction of the trials. */
#define SCALING_DEFAULT_TAU 0.02
/* The expectile of the joint model's law, fitted to the trials less their
 * penalties: 0.5 is least squares.  On bench/laws_bench.c 0.5 gave 2.6 %
 * error at 100x on its first surface, 0.2 gave 8 % and 0.05 12 %: once
 * the penalties are off, what is left is mostly noise, symmetric. */
#define SCALING_DEFAULT_JOINT_TAU 0.5
/* The expectile of the N, D law over every trial: 0.5 is least squares
 * (approach 3 as published); lower weighs the trials that other
 * hyperparameters spoiled less.  On bench/laws_bench.c (4 seeds per
 * surface) the N_opt exponent's error was 0.024 at 0.5, 0.017 at 0.2 and
 * 0.014 at 0.05. */
#define SCALING_DEFAULT_ND_TAU 0.05
/* A law fitted over less than this many decades of cost cannot tell its
 * exponent from its asymptote: it predicts nothing past its data. */
#define SCALING_DEFAULT_MIN_DECADES 1.0

/* The interval of a prediction beyond the data adds the holdout's relative
 * error per e-fold of extrapolation (over at least one e-fold), times
 * this, to the bootstrap's: the bootstrap sees only the noise, the holdout
 * one draw of the model's error.  On bench/laws_bench.c (4 surfaces, joint
 * estimator, 20 seeds each, 30 replicates) the 90 % interval at 100x
 * covered the true best in 85 % of the sweeps with 0.5 and 82.5 % with
 * 0.25; before the one-e-fold floor, 0.25 gave 89 % with intervals that
 * could be 100 % wide. */
#define SCALING_DEFAULT_DRIFT 0.5

/* The most trials the all-trials estimators fit at once.  A larger sweep
 * is fitted on a weighted subsample of this size: every front point, the
 * lowest trials of each ln-cost bin (those near the front, which pin the
 * law), and a stratified random sample of the rest, each sampled trial
 * weighted by the number it stands for.  The N, D law fits a uniform
 * random sample of this size.  Both then run at most 100 bootstrap
 * replicates.  Each fit costs time linear in the trials
 * per bootstrap replicate: 10,000 trials took 17 s of CPU before the cap;
 * with 400 (and 100 replicates), a full fit takes 0.8 s at 1,000 trials
 * and 1.2 s at 10,000 (`laws_bench --timing`, docs/performance.md), and
 * its prediction at 100x lies inside the uncapped fit's interval.  On the benchmark's sweeps
 * (200 trials) the cap changes nothing.  SIZE_MAX fits every trial. */
#define SCALING_DEFAULT_MAX_TRIALS 400

/* The fewest front points (distinct costs) the loss law needs: it has 3
 * parameters.  Lines need 3 too (2 parameters and one residual). */
#define SCALING_MIN_FRONT 3

/* How to fit.  All-zero is the default (each zero field reads as its
 * SCALING_DEFAULT_*).
 *
 * The bound on E: the law's asymptote can never pass it (a loss floor, an
 * accuracy ceiling).  When has_bound is false, a metric to minimize whose
 * outputs are all >= 0 gets the floor 0, and a metric to maximize whose
 * outputs all lie in [0, 1] gets the ceiling 1; any other metric is
 * unbounded.  The sweep file has no key for it yet. */
typedef struct scaling_config {
    size_t n_boot;      /* bootstrap replicates */
    double level;       /* interval level in (0, 1) */
    size_t holdout_k;   /* front points held out */
    double holdout_tol; /* allowed relative holdout error */
    size_t min_nd;      /* fewest trials with N and D for the N, D law */
    size_t max_iter;    /* Levenberg-Marquardt steps per fit */
    double xtol, gtol;  /* convergence tolerances */
    uint64_t seed;      /* bootstrap stream */
    int estimator;      /* scaling_estimator_t */
    double tau;         /* the envelope's expectile, in (0, 0.5) */
    double joint_tau;   /* the joint model's expectile, in (0, 0.5] */
    double nd_tau;      /* the N, D law's expectile, in (0, 0.5] */
    double min_decades; /* fewest decades of cost a prediction needs */
    double drift;       /* times the holdout's error per e-fold the interval
                         * adds beyond the data; < 0: none */
    size_t max_trials;  /* most trials the envelope and joint fits use */
    bool has_bound;     /* bound below is given */
    double bound;       /* the floor (minimize) or ceiling (maximize) of E */
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
 * Returns 0, CARBS_ESTATE with "cannot predict: not enough data: ..." in err
 * when the front has fewer than SCALING_MIN_FRONT distinct costs (no
 * successful trial at all, or only NaN outputs, among them), CARBS_EINVAL
 * for a bad config (level outside (0, 1), an unknown estimator), or
 * CARBS_ENOMEM.  On failure *out is released.
 *
 * A returned fit may still refuse to predict: out->loss.status is 0 only
 * when the law converged inside its exponent range, the costs span at least
 * min_decades, the law improves by more than its noise over them, and the
 * holdout passed.  Otherwise it is CARBS_ESTATE (CARBS_ENOCONV when the fit
 * did not converge) with "cannot predict: <reason>" in out->loss.why, and
 * scaling_power_predict() gives nothing past the fitted costs. */
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
 * finite) by least squares into *out (zeroed first, replicates allocated
 * when n_boot > 0 and n > 3), alpha in [0.01, 2], E never past cfg's bound
 * when has_bound (below it for a metric to minimize, above for one to
 * maximize).  Returns 0 or the status it also stores in out->status
 * (CARBS_ESTATE not enough data, or "cannot predict: ..." when the best
 * alpha is at the edge of its range, with the edge's coefficients kept;
 * CARBS_ENOCONV, CARBS_ENOMEM). */
int scaling_power_fit(const double *C, const double *y, size_t n, bool maximize,
                      const scaling_config_t *cfg, size_t n_boot, laws_power_t *out);

/* Fit u = intercept + slope x by OLS over the rows where both are finite,
 * with t intervals at level.  Returns 0 or the status stored in out. */
int scaling_line_fit(const double *x, const double *u, size_t n, double level, laws_line_t *out);

/* Fit L = E + A N^-alpha + B D^-beta to the valid rows and the
 * compute-optimal exponents, with n_boot case-bootstrap replicates for the
 * intervals; with more than cfg->max_trials valid rows, to a uniform
 * random sample of that many (out->n still counts them all).  Returns 0 or
 * the status stored in out. */
int scaling_nd_fit(const double *N, const double *D, const double *y, size_t n,
                   const scaling_config_t *cfg, size_t n_boot, laws_nd_t *out);

// ---- using a fit ----

/* The loss law at cost C: *mid from the point fit, *lo and *hi the
 * percentiles of the replicates at level (NaN without replicates).  A law
 * whose status is not 0 predicts nothing (NaN) beyond its fitted costs
 * (c_max): it can interpolate, never extrapolate. */
void scaling_power_predict(const laws_power_t *p, double level, double C, double *mid,
                           double *lo, double *hi);

/* A line at cost C (basic units): *mid and the confidence band of the line
 * (NaN when the line was not fitted). */
void scaling_line_predict(const laws_line_t *l, double C, double *mid, double *lo, double *hi);

/* The compute-optimal N and D at training compute C = 6 N D (NaN when the
 * fit has no optimum). */
void scaling_nd_optimum(const laws_nd_t *nd, double C, double *N, double *D);

#endif
