/*
 * scaling_internal.h - the nonlinear least-squares engine behind
 * optimizer/scaling.c, private to the scaling module (docs/style.md H5).
 *
 * A model is f(theta; x_i) with a gradient in theta, x_i a row of n_cov
 * covariates.  The engine minimises sum_i (f(theta; x_i) - y_i)^2 with GSL's
 * trust-region Levenberg-Marquardt, split the GSL way (H29): _set starts a
 * fit, _iterate takes one step, _test says whether it has converged
 * (0), should go on (CARBS_CONTINUE) or has failed.  The loop is the
 * caller's.  This is the one file pair that includes GSL's multifit header.
 */
#ifndef CARBS_OPTIMIZER_SCALING_INTERNAL_H
#define CARBS_OPTIMIZER_SCALING_INTERNAL_H

#include "proto/common.h"
#include "optimizer/scaling.h"

/* The model value at theta for covariates x, and d f / d theta into grad[p].
 * ctx is the model's own constants (scaling__model_t.ctx, borrowed). */
typedef void (*scaling__model_fn)(const double *theta, const double *x, const void *ctx,
                                  double *f, double *grad);

typedef struct scaling__model {
    size_t p;     /* parameters */
    size_t n_cov; /* covariates per point */
    scaling__model_fn eval;
    const void *ctx; /* passed to eval; borrowed for the solver's life */
} scaling__model_t;

typedef struct scaling__nls scaling__nls_t;

/* A solver for n points and the model's p parameters (n >= p).  NULL when
 * out of memory.  Release with scaling__nls_free (NULL is a no-op). */
scaling__nls_t *scaling__nls_new(const scaling__model_t *m, size_t n);
void scaling__nls_free(scaling__nls_t *s);

/* Start a fit of y[n] on covariates X[n * n_cov] (both borrowed until the
 * fit is done) from theta0[p].  Returns 0, or CARBS_EINVAL when the model is
 * not finite at theta0. */
int scaling__nls_set(scaling__nls_t *s, const double *X, const double *y, const double *theta0);

/* Weight the points' squared residuals by w[n] (borrowed; NULL = all 1)
 * from the next _set on. */
void scaling__nls_weights(scaling__nls_t *s, const double *w);

/* One trust-region step.  Returns 0, or CARBS_ENOCONV when no step can make
 * progress (the caller then tests for convergence once more). */
int scaling__nls_iterate(scaling__nls_t *s);

/* 0 when the step or the gradient is below xtol / gtol, CARBS_CONTINUE
 * otherwise. */
int scaling__nls_test(scaling__nls_t *s, double xtol, double gtol);

/* The current theta[p] and (weighted) sum of squared residuals. */
void scaling__nls_position(const scaling__nls_t *s, double *theta, double *ssr);

// ---- shared by scaling.c, scaling_fit.c and scaling_est.c ----

/* The exponent range of every law here.  Published scaling exponents lie in
 * 0.05-1; an optimum outside [0.01, 2] means the data do not follow the
 * law, not that the exponent is extreme. */
#define SCALING__EXP_MIN 0.01
#define SCALING__EXP_MAX 2.0

/* cfg with every zero field replaced by its default. */
scaling_config_t scaling__config_resolve(const scaling_config_t *cfg);

/* The i-th of n exponents log-spaced over [SCALING__EXP_MIN, SCALING__EXP_MAX]. */
double scaling__grid_exponent(size_t i, size_t n);

/* Weighted least squares of y[n] on the k <= 3 columns Z[n * k] (row-major),
 * weights w[n] (NULL = 1).  Writes coef[k] and returns the weighted sum of
 * squared residuals, or NaN when singular. */
double scaling__lsq_small(const double *Z, const double *y, const double *w, size_t n, size_t k,
                          double *coef);

/* Percentile interval at level of v[n] (sorted in place). */
void scaling__percentiles(double *v, size_t n, double level, double *lo, double *hi);

/* The percentile intervals of E, A and alpha at level from p's n_boot
 * replicates (none: left as they are); col[n_boot] is scratch. */
void scaling__power_intervals(laws_power_t *p, double level, double *col);

/* Levenberg-Marquardt from theta[p] (updated in place) to convergence.
 * Returns 0, CARBS_EINVAL (not finite) or CARBS_ENOCONV (step cap). */
int scaling__nls_run(scaling__nls_t *s, const double *X, const double *y, size_t p,
                     const scaling_config_t *c, double *theta, double *ssr);

/* Record a part's status and reason (why[LAWS_WHY_MAX]); returns code. */
int scaling__why(int *status, char *why, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The observations of the all-trials estimators, in loss orientation
 * (y = sign * output, so smaller is better; the floor is a lower bound on
 * E, -INFINITY for none).  x = ln C - x0; u is n x d row-major, NaN where a
 * trial lacks the parameter. */
typedef struct scaling__data {
    size_t n, d;
    const double *x, *y, *u;
    const double *wt; /* n case weights (a thinned sweep's, see scaling.h
                       * SCALING_DEFAULT_MAX_TRIALS), NULL = all 1 */
    double x0;
    double floor;
} scaling__data_t;

/* Row i's case weight. */
static inline double scaling__wt(const scaling__data_t *dt, size_t i)
{
    return dt->wt ? dt->wt[i] : 1.0;
}

/* The all-trials laws in loss orientation, theta = (E, A0, alpha) then, for
 * the joint model, (a_j, b_j, s_j, c_j) per dimension: the penalty
 * e^(s_j + c_j x) (u_j - a_j - b_j x)^2, c_j held in
 * [-SCALING__CURV_SLOPE_MAX, SCALING__CURV_SLOPE_MAX] (the fit keeps every
 * c_j equal: one slope for all, see scaling_est.c).  SCALING__THETA(d)
 * numbers in all. */
#define SCALING__PEN 4
#define SCALING__THETA(d) (3 + SCALING__PEN * (d))
/* How fast a penalty's curvature may change with cost, per e-fold.  The
 * curvature of the loss in ln N at the compute optimum is alpha^2 A N^-alpha
 * + beta^2 B D^-beta, which shrinks with the reducible loss, about
 * C^-0.15 for published exponents; a learning rate's curvature that
 * scales with the loss does the same.  0.5, a factor 10 over two decades
 * of cost, leaves room for those and bounds a wild step of the solver. */
#define SCALING__CURV_SLOPE_MAX 0.5

/* The lower-envelope law: an asymmetric least-squares (expectile) fit at
 * level tau of E + A0 e^(-alpha x) to all rows, E >= floor, into
 * theta[3].  hint > 0: search alpha near it first (within a factor 1.5).
 * *edge is set when the best alpha is at the edge of its range.  Returns
 * 0, CARBS_EINVAL (singular) or CARBS_ENOMEM. */
int scaling__envelope(const scaling__data_t *dt, double tau, double hint, double *theta,
                      bool *edge);

/* The joint law of every trial: E + A0 e^(-alpha x) + sum_j penalty_j, by
 * backfitting from theta (a full start, updated in place; A0 > 0): the
 * penalties by least squares with the law held, then the law as the
 * c->joint_tau expectile of the trials less their penalties (E >= floor),
 * a few rounds, each trial weighted down by its height above the law.
 * X from scaling__joint_covariates.  *edge as for the envelope; *ssr is
 * weighted by the case weights.  With fewer than SCALING__PEN d + 1
 * trials the penalties keep their start and the law is the envelope's.
 * Returns 0, CARBS_EINVAL or CARBS_ENOMEM. */
int scaling__joint(const scaling__data_t *dt, const scaling_config_t *c, const double *X,
                   double *theta, double *ssr, bool *edge);

/* The joint start: the envelope law, the lines of the given front rows
 * (front[nf] indices into dt) and penalty weights by least squares of the
 * residuals on the squared distances. */
int scaling__joint_start(const scaling__data_t *dt, const size_t *front, size_t nf, double tau,
                         double *theta);

/* The joint model's covariates: X[n * (1 + d)] = (x, u) rows. */
void scaling__joint_covariates(const scaling__data_t *dt, double *X);

/* The joint model at theta for one row of covariates (x, u[d]). */
double scaling__joint_eval(const double *theta, size_t d, const double *xrow);

#endif
