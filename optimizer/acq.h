/*
 * acq.h - the acquisition pieces of a CARBS suggestion (docs/algorithm.md,
 * Acquisition): expected improvement, the search-prior weight of a
 * candidate, the random cost threshold and the winner.  Pure functions; no
 * allocation.
 */
#ifndef CARBS_OPTIMIZER_ACQ_H
#define CARBS_OPTIMIZER_ACQ_H

#include <stddef.h>

/* Below this z, EI uses its asymptotic series instead of phi(z) + z Phi(z),
 * whose two terms cancel to fewer than 14 digits further out (docs/algorithm.md,
 * Numerical recipes). */
#define ACQ_EI_SERIES_Z (-10.0)

/* Expected improvement of a Gaussian N(mu, var) over base + bias
 * (docs/algorithm.md, Expected improvement): s (phi(z) + z Phi(z)) with
 * s = sqrt(var), z = (mu - base - bias) / s.
 * var <= 0 gives the sure improvement max(mu - base - bias, 0), where the
 * reference divides by zero (a deviation listed in docs/algorithm.md).
 * Always >= 0 and finite for finite arguments. */
double acq_ei(double mu, double var, double base, double bias);

/* Search-prior weight of the basic point x[d] (docs/algorithm.md,
 * Candidates): the largest one-dimensional normal density phi_r(|x - a_j|)
 * over the origins a[j*d .. j*d+d), j < n_origins, with radius r > 0. */
double acq_prior_weight(const double *x, size_t d, const double *a, size_t n_origins, double r);

/* The random cost threshold (docs/algorithm.md, Baseline and cost
 * threshold): exp(lo + (hi - lo) u) for u in [0, 1), where lo and hi are
 * natural logs of costs (hi < lo works too). */
double acq_cost_threshold(double log_lo, double log_hi, double u);

/* Index of the first maximum of a[0..n), n > 0; NaN entries never win (the
 * first index when all are NaN). */
size_t acq_argmax(const double *a, size_t n);

#endif
