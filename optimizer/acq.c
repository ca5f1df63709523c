/*
 * acq.c - expected improvement, prior weights, the cost threshold, argmax.
 *
 * Legend: mu, var = posterior mean and variance of the warped output at a
 * candidate, base = the Pareto front's warped value at its predicted cost,
 * bias = exploration_bias (beta), z = (mu - base - bias) / sqrt(var),
 * r = initial_search_radius.  References: docs/algorithm.md, Acquisition
 * (Candidates, Baseline and cost threshold, Expected improvement) and
 * Numerical recipes (EI for very negative z by its asymptotic series
 * phi(z)/z^2 (1 - 3/z^2 + 15/z^4 - 105/z^6 + ...)).
 */
#include "proto/common.h"
#include "optimizer/acq.h"

#include <math.h>

#include "optimizer/stats.h"

/* Terms of the asymptotic series 1 - 3/z^2 + 15/z^4 - ... ((2k+1)!!/z^2k): the
 * error is below the first omitted term, 25!!/z^24, about 8e-12 relative at
 * z = -10 and smaller beyond. */
#define ACQ_SERIES_TERMS 12

static double ei_unit(double z)
{
    double inv2, term, sum;

    if (z >= ACQ_EI_SERIES_Z)
        return stats_norm_pdf(z) + z * stats_norm_cdf(z);
    inv2 = 1 / (z * z);
    term = 1;
    sum = 1;
    for (int k = 1; k < ACQ_SERIES_TERMS; k++) {
        term *= -(double)(2 * k + 1) * inv2;
        sum += term;
    }
    return stats_norm_pdf(z) * inv2 * sum;
}

double acq_ei(double mu, double var, double base, double bias)
{
    double gain = mu - base - bias, s, v;

    if (!(var > 0))
        return gain > 0 ? gain : 0;
    s = sqrt(var);
    v = s * ei_unit(gain / s);
    return v > 0 ? v : 0;
}

double acq_prior_weight(const double *x, size_t d, const double *a, size_t n_origins, double r)
{
    double best = INFINITY;

    for (size_t j = 0; j < n_origins; j++) {
        double t2 = 0;
        for (size_t i = 0; i < d; i++) {
            double diff = x[i] - a[j * d + i];
            t2 += diff * diff;
        }
        best = t2 < best ? t2 : best;
    }
    return stats_norm_pdf(sqrt(best) / r) / r;
}

double acq_cost_threshold(double log_lo, double log_hi, double u)
{
    return exp(log_lo + (log_hi - log_lo) * u);
}

size_t acq_argmax(const double *a, size_t n)
{
    size_t best = 0;

    for (size_t i = 1; i < n; i++)
        if (a[i] > a[best] || (isnan(a[best]) && !isnan(a[i])))
            best = i;
    return best;
}
