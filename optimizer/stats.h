/*
 * stats.h - the scalar statistics CARBS needs (docs/algorithm.md, Numerical
 * recipes): the standard normal CDF, PDF and quantile, numpy's
 * linear-interpolation quantile and numpy's interp.  Pure functions of their
 * arguments.
 */
#ifndef CARBS_OPTIMIZER_STATS_H
#define CARBS_OPTIMIZER_STATS_H

#include <stddef.h>

/* Standard normal CDF Phi(x) = 0.5 erfc(-x / sqrt 2), accurate in both tails. */
double stats_norm_cdf(double x);

/* Standard normal density phi(x). */
double stats_norm_pdf(double x);

/* Standard normal quantile Phi^-1(p) for p in [0, 1]: -inf at 0, +inf at 1,
 * NaN outside.  Relative error about 1e-15 (Acklam's rational start, then one
 * Halley step against erfc). */
double stats_norm_ppf(double p);

/* numpy.quantile(x, f) with the default linear method, for x[0..n) sorted
 * ascending and f in [0, 1].  n must be > 0. */
double stats_quantile_sorted(const double *x, size_t n, double f);

/* numpy.interp(x, xp, fp) for xp[0..n) non-decreasing, n > 0: fp[0] below
 * xp[0], fp[n-1] above xp[n-1], else linear from the largest j with
 * xp[j] <= x (so on a run of equal xp it returns the value of the last). */
double stats_interp(double x, const double *xp, const double *fp, size_t n);

#endif
