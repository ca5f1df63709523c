/*
 * scaling_internal.h - the nonlinear least-squares engine behind
 * optimizer/scaling.c, private to the scaling module (STYLE.md H5).
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

/* The model value at theta for covariates x, and d f / d theta into grad[p]. */
typedef void (*scaling__model_fn)(const double *theta, const double *x, double *f, double *grad);

typedef struct scaling__model {
    size_t p;     /* parameters */
    size_t n_cov; /* covariates per point */
    scaling__model_fn eval;
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

/* One trust-region step.  Returns 0, or CARBS_ENOCONV when no step can make
 * progress (the caller then tests for convergence once more). */
int scaling__nls_iterate(scaling__nls_t *s);

/* 0 when the step or the gradient is below xtol / gtol, CARBS_CONTINUE
 * otherwise. */
int scaling__nls_test(scaling__nls_t *s, double xtol, double gtol);

/* The current theta[p] and sum of squared residuals. */
void scaling__nls_position(const scaling__nls_t *s, double *theta, double *ssr);

#endif
