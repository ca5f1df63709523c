/*
 * stats.c - normal distribution functions, quantile and interp.
 *
 * The quantile uses Acklam's rational approximation (relative error 1.15e-9)
 * refined by one Halley step on f(x) = Phi(x) - p, with Phi from erfc so the
 * tails keep full relative precision.  Quantile and interp reproduce numpy's
 * defaults exactly (docs/algorithm.md, Numerical recipes), which is what the
 * output warping is specified against.
 */
#include "proto/common.h"
#include "optimizer/stats.h"

#include <math.h>

#define SQRT1_2 0.70710678118654752440
#define SQRT_2PI 2.50662827463100050242

double stats_norm_cdf(double x)
{
    return 0.5 * erfc(-x * SQRT1_2);
}

double stats_norm_pdf(double x)
{
    return exp(-0.5 * x * x) / SQRT_2PI;
}

// ---- quantile: Acklam's coefficients (public-domain algorithm, published constants) ----

static const double acklam_a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                   -2.759285104469687e+02, 1.383577518672690e+02,
                                   -3.066479806614716e+01, 2.506628277459239e+00};
static const double acklam_b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                   -1.556989798598866e+02, 6.680131188771972e+01,
                                   -1.328068155288572e+01};
static const double acklam_c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                   -2.400758277161838e+00, -2.549732539343734e+00,
                                   4.374664141464968e+00,  2.938163982698783e+00};
static const double acklam_d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                   2.445134137142996e+00, 3.754408661907416e+00};
#define ACKLAM_P_LOW 0.02425

static double ppf_start(double p)
{
    double q, r;

    if (p < ACKLAM_P_LOW) {
        q = sqrt(-2 * log(p));
        return (((((acklam_c[0] * q + acklam_c[1]) * q + acklam_c[2]) * q + acklam_c[3]) * q +
                 acklam_c[4]) * q + acklam_c[5]) /
               ((((acklam_d[0] * q + acklam_d[1]) * q + acklam_d[2]) * q + acklam_d[3]) * q + 1);
    }
    if (p > 1 - ACKLAM_P_LOW) {
        q = sqrt(-2 * log1p(-p));
        return -(((((acklam_c[0] * q + acklam_c[1]) * q + acklam_c[2]) * q + acklam_c[3]) * q +
                  acklam_c[4]) * q + acklam_c[5]) /
               ((((acklam_d[0] * q + acklam_d[1]) * q + acklam_d[2]) * q + acklam_d[3]) * q + 1);
    }
    q = p - 0.5;
    r = q * q;
    return (((((acklam_a[0] * r + acklam_a[1]) * r + acklam_a[2]) * r + acklam_a[3]) * r +
             acklam_a[4]) * r + acklam_a[5]) * q /
           (((((acklam_b[0] * r + acklam_b[1]) * r + acklam_b[2]) * r + acklam_b[3]) * r +
             acklam_b[4]) * r + 1);
}

double stats_norm_ppf(double p)
{
    double x, e, u;

    if (isnan(p) || p < 0 || p > 1)
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    x = ppf_start(p);
    /* One Halley step; in the upper tail work with the complement for precision. */
    if (p > 0.5)
        e = -(0.5 * erfc(x * SQRT1_2) - (1 - p));
    else
        e = 0.5 * erfc(-x * SQRT1_2) - p;
    u = e * SQRT_2PI * exp(0.5 * x * x);
    return x - u / (1 + 0.5 * x * u);
}

// ---- numpy quantile and interp ----

double stats_quantile_sorted(const double *x, size_t n, double f)
{
    double h = f * (double)(n - 1);
    size_t lo = (size_t)floor(h);

    if (lo >= n - 1)
        return x[n - 1];
    return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

double stats_interp(double x, const double *xp, const double *fp, size_t n)
{
    size_t lo = 0, hi = n - 1;

    if (x < xp[0])
        return fp[0];
    if (x >= xp[n - 1])
        return fp[n - 1];
    /* largest j with xp[j] <= x, by bisection: invariant xp[lo] <= x < xp[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (xp[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    if (x == xp[lo])
        return fp[lo];
    return fp[lo] + (x - xp[lo]) * (fp[lo + 1] - fp[lo]) / (xp[lo + 1] - xp[lo]);
}
