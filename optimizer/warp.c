/*
 * warp.c - the rank-based output warping and the log-cost scaling of
 * docs/algorithm.md, Output warping and cost scaling.
 *
 * Legend: n = successful observations, m = landmarks = max(1, floor(sqrt n)),
 * q = landmarks (numpy linear quantiles at levels lv_j = j/(m-1), made
 * non-decreasing), Fr / Fl = right / left interpolation of (q -> lv) which on
 * a run of equal landmarks return the level of its last / first member,
 * t = (Fr + Fl) / 2, Q(y) = clip(Phi^-1(t)).
 */
#include "proto/common.h"
#include "optimizer/warp.h"

#include <math.h>

#include "optimizer/stats.h"

/* The clip is Phi^-1(1e-7 - 2.22e-16), as the reference's quantile
 * transformer bounds its normal quantiles (docs/algorithm.md, Output warping
 * and cost scaling, step 3). */
#define WARP_CLIP_P (1e-7 - 2.220446049250313e-16)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int warp_reserve(warp_t *w, size_t m)
{
    double *p;

    if (m <= w->cap)
        return 0;
    p = carbs_realloc(w->q, 4 * m * sizeof(double));
    if (!p)
        return CARBS_ENOMEM;
    w->q = p;
    w->lv = p + m;
    w->nq = p + 2 * m;
    w->nlv = p + 3 * m;
    w->cap = m;
    return 0;
}

int warp_fit(warp_t *w, const double *y, size_t n)
{
    double *sorted;
    size_t m;

    if (!n)
        return CARBS_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return CARBS_EINVAL;
    m = (size_t)floor(sqrt((double)n));
    if (m < 1)
        m = 1;
    sorted = carbs_malloc(n * sizeof(double));
    if (!sorted || warp_reserve(w, m)) {
        free(sorted);
        return CARBS_ENOMEM;
    }
    /* warp_reserve may have moved the blocks: recompute the views each fit */
    w->lv = w->q + w->cap;
    w->nq = w->q + 2 * w->cap;
    w->nlv = w->q + 3 * w->cap;
    memcpy(sorted, y, n * sizeof(double));
    qsort(sorted, n, sizeof(double), cmp_double);
    for (size_t j = 0; j < m; j++) {
        w->lv[j] = m > 1 ? (double)j / (double)(m - 1) : 0.0;
        w->q[j] = stats_quantile_sorted(sorted, n, w->lv[j]);
        if (j && w->q[j] < w->q[j - 1])
            w->q[j] = w->q[j - 1];
    }
    for (size_t j = 0; j < m; j++) {
        w->nq[j] = -w->q[m - 1 - j];
        w->nlv[j] = -w->lv[m - 1 - j];
    }
    w->m = m;
    w->clip = -stats_norm_ppf(WARP_CLIP_P);
    free(sorted);
    return 0;
}

double warp_forward(const warp_t *w, double y)
{
    double fr = stats_interp(y, w->q, w->lv, w->m);
    double fl = -stats_interp(-y, w->nq, w->nlv, w->m);
    double t = 0.5 * (fr + fl), z;

    if (y + WARP_EDGE_TOL > w->q[w->m - 1])
        t = 1;
    if (y - WARP_EDGE_TOL < w->q[0])
        t = 0;
    z = stats_norm_ppf(t);
    if (z > w->clip)
        z = w->clip;
    if (z < -w->clip)
        z = -w->clip;
    return z;
}

double warp_inverse(const warp_t *w, double z, double sign)
{
    double t = stats_norm_cdf(sign * z);
    double y = stats_interp(t, w->lv, w->q, w->m);

    if (t + WARP_EDGE_TOL > 1)
        y = w->q[w->m - 1];
    if (t - WARP_EDGE_TOL < 0)
        y = w->q[0];
    return y;
}

void warp_release(warp_t *w)
{
    free(w->q);
    memset(w, 0, sizeof(*w));
}

// ---- cost scaling ----

int costscale_fit(costscale_t *cs, const double *c, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;

    if (!n)
        return CARBS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        double l;
        if (!isfinite(c[i]) || c[i] <= 0)
            return CARBS_EINVAL;
        l = log(c[i]);
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
    }
    cs->a = lo;
    cs->w = hi - lo > 0 ? hi - lo : 1.0;
    return 0;
}

double costscale_forward(const costscale_t *cs, double c)
{
    return 2 * (log(c) - cs->a) / cs->w - 1;
}

double costscale_inverse(const costscale_t *cs, double g)
{
    return exp(cs->a + cs->w * (g + 1) / 2);
}
