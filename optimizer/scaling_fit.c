/*
 * scaling_fit.c - the whole fit of a sweep's laws (scaling_fit_all,
 * scaling_fit_cheap): pick the rows, resolve the metric's bound, run the
 * configured estimator for the best-metric law and the parameter lines,
 * bootstrap it, fit L(N, D), hold the dearest front points out, and decide
 * whether the law may predict (docs/scaling-laws.md).
 *
 * The rule for the status: a law predicts past its data only when it
 * converged inside its exponent range, its costs span min_decades, it
 * improves by more than its own noise over them, and it predicted the
 * held-out dearest front points within holdout_tol on the metric's own
 * scale.  Anything else is "cannot predict: <the first reason>".
 *
 * Legend: n = valid trials, nf = front points, d = basic dimensions,
 * x = ln C - x0 over the valid trials, y = sign * output (loss orientation),
 * theta as in scaling_internal.h, k = held-out points.
 */
#include "proto/common.h"
#include "optimizer/scaling.h"

#include <math.h>

#include "optimizer/rng.h"
#include "optimizer/scaling_internal.h"
#include "optimizer/stats.h"

/* The fewest trials a case bootstrap resamples. */
#define SCALING_MIN_BOOT_TRIALS 10

/* The shortest extrapolation the holdout's error is spread over when it
 * sets the interval's widening per e-fold.  An error seen at less than one
 * e-fold (a factor 2.7 in cost) past the refit's data is mostly the
 * held-out points' own noise: divided by the short distance it made the
 * 100x interval [0, 5.9] around a prediction of 2.45 (0.4 % off) in
 * tests/test_scaling_coverage.c, a front point 2 % dearer than the
 * refit's dearest trial. */
#define DRIFT_MIN_EFOLDS 1.0

/* A parameter whose basic coordinate correlates this strongly with ln N
 * (ln D) over the trials sets the model size (the tokens): d_model,
 * tokens; nd_from_line() reads N_opt off its optimum line.  A learning
 * rate that the search moves along its optimum line correlates with ln C,
 * hence with ln N and ln D, but loosely. */
#define ND_SIZE_CORR 0.9

/* An N, D law whose N_opt exponent has a bootstrap band wider than this
 * (of the (0, 1) it can take) leaves the split of compute open, and a
 * parameter's line with a narrower band replaces it.  On the benchmark
 * (docs/scaling-laws.md) a law with a band of any width gave way to a
 * narrower line, and the exponent's error went from 0.019 to 0.021 on
 * average and from 0.059 to 0.171 on the check surface, whose lines are
 * narrow and wrong; the demo's laws have bands like [0.04, 0.97]. */
#define ND_LAW_BAND_MAX 0.5

/* The least R^2 of the front settings about a joint optimum line. */
#define SCALING_LINE_R2_MIN (-1.0)

#define WHY(part, code, ...) scaling__why(&(part)->status, (part)->why, (code), __VA_ARGS__)

/* The valid rows of the input in loss orientation, and their front. */
typedef struct rows {
    scaling__data_t dt;
    double *x, *y, *u, *cost; /* owned, n (u: n * d) */
    double *wt;               /* owned case weights of a thinned set, or NULL */
    size_t *src;              /* n: row index in the input */
    size_t *front, nf;        /* indices into the rows, cheapest first */
    double sign;
} rows_t;

static void rows_release(rows_t *r)
{
    free(r->x);
    free(r->y);
    free(r->u);
    free(r->cost);
    free(r->wt);
    free(r->src);
    free(r->front);
    memset(r, 0, sizeof(*r));
}

/* Copy rows i of src with keep(i) into *r (loss orientation, x centred at
 * x0).  keep_max_cost < INFINITY keeps only costs below it. */
static int rows_pick(const scaling_input_t *in, double sign, double floor, double keep_below,
                     double x0, rows_t *r)
{
    size_t n = in->n, d = in->d, m = 0;

    memset(r, 0, sizeof(*r));
    r->sign = sign;
    r->x = carbs_malloc((n ? n : 1) * sizeof(double));
    r->y = carbs_malloc((n ? n : 1) * sizeof(double));
    r->cost = carbs_malloc((n ? n : 1) * sizeof(double));
    r->u = carbs_malloc((n ? n : 1) * (d ? d : 1) * sizeof(double));
    r->src = carbs_malloc((n ? n : 1) * sizeof(size_t));
    r->front = carbs_malloc((n ? n : 1) * sizeof(size_t));
    if (!r->x || !r->y || !r->cost || !r->u || !r->src || !r->front) {
        rows_release(r);
        return CARBS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        double C = in->cost[i], y = in->output[i];
        if (!(isfinite(C) && C > 0.0 && isfinite(y) && C < keep_below))
            continue;
        r->src[m] = i;
        r->cost[m] = C;
        r->y[m] = sign * y;
        r->x[m] = log(C);
        for (size_t j = 0; j < d; j++)
            r->u[m * d + j] = in->u[i * d + j];
        m++;
    }
    if (isnan(x0)) {
        x0 = 0.0;
        for (size_t i = 0; i < m; i++)
            x0 += r->x[i] / (double)(m ? m : 1);
    }
    for (size_t i = 0; i < m; i++)
        r->x[i] -= x0;
    if (scaling_front(r->cost, r->y, m, false, r->front, &r->nf)) {
        rows_release(r);
        return CARBS_ENOMEM;
    }
    r->dt = (scaling__data_t){.n = m, .d = d, .x = r->x, .y = r->y, .u = r->u, .x0 = x0,
                              .floor = floor};
    return 0;
}

// ---- thinning a large sweep ----

/* ln-cost bins of the thinning's stratified sample: enough that each
 * holds a narrow slice of the law, few enough that each keeps dozens of
 * trials at the cap. */
#define THIN_BINS 20

/* Bootstrap replicates of a thinned sweep's all-trials and N, D fits, at
 * most.  The replicates are nearly all of a full fit's time; 100 halve it
 * (2.2 s of CPU to 1.2 s at 10,000 trials, docs/performance.md), and
 * the benchmark's coverage figures were measured with 100
 * (docs/scaling-laws.md "Measured accuracy"). */
#define THIN_BOOT 100

typedef struct thin_key {
    size_t bin, i;
    double y;
} thin_key_t;

static int thin_cmp(const void *a, const void *b)
{
    const thin_key_t *p = a, *q = b;

    if (p->bin != q->bin)
        return p->bin < q->bin ? -1 : 1;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

/* Thin r (n > cap) to about cap rows (more when the front alone is over a
 * quarter of cap) in *t (see scaling.h
 * SCALING_DEFAULT_MAX_TRIALS): the front, the lowest quarter of the cap
 * spread over the ln-cost bins in proportion to their trials, and a
 * random sample of each bin's rest at one rate, weighted by rest / taken
 * so that the weights of a bin sum to its trials.  Returns 0 or
 * CARBS_ENOMEM. */
static int rows_thin(const rows_t *r, size_t cap, uint64_t seed, rows_t *t)
{
    size_t n = r->dt.n, d = r->dt.d, m = 0;
    thin_key_t *key = carbs_malloc(n * sizeof(*key));
    unsigned char *take = carbs_malloc(n);
    double xmin = INFINITY, xmax = -INFINITY;
    size_t n_low = cap / 4, pool = cap - cap / 4 - (r->nf < cap / 4 ? r->nf : cap / 4);
    rng_t rng;
    int rc = CARBS_ENOMEM;

    memset(t, 0, sizeof(*t));
    if (!key || !take)
        goto out;
    t->x = carbs_malloc(n * sizeof(double));
    t->y = carbs_malloc(n * sizeof(double));
    t->cost = carbs_malloc(n * sizeof(double));
    t->wt = carbs_malloc(n * sizeof(double));
    t->u = carbs_malloc(n * (d ? d : 1) * sizeof(double));
    t->src = carbs_malloc(n * sizeof(size_t));
    t->front = carbs_malloc(n * sizeof(size_t));
    if (!t->x || !t->y || !t->cost || !t->wt || !t->u || !t->src || !t->front)
        goto out;
    for (size_t i = 0; i < n; i++) {
        xmin = fmin(xmin, r->x[i]);
        xmax = fmax(xmax, r->x[i]);
    }
    for (size_t i = 0; i < n; i++) {
        double f = xmax > xmin ? (r->x[i] - xmin) / (xmax - xmin) : 0.0;
        size_t b = (size_t)(f * THIN_BINS);
        key[i] = (thin_key_t){.bin = b < THIN_BINS ? b : THIN_BINS - 1, .i = i, .y = r->y[i]};
    }
    qsort(key, n, sizeof(*key), thin_cmp);
    memset(take, 0, n);
    for (size_t q = 0; q < r->nf; q++)
        take[r->front[q]] = 1;
    /* a stream of its own, apart from the bootstrap's (the constant is
     * PCG's multiplier; any odd 64-bit constant would do) */
    rng_seed(&rng, seed ^ 0x5851f42d4c957f2dull);
    /* the rate of the rest: pool slots over the trials that are neither
     * front nor low */
    double rate = (double)pool / (double)(n > n_low + r->nf ? n - n_low - r->nf : 1);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo, nb, low, rest = 0, want;
        while (hi < n && key[hi].bin == key[lo].bin)
            hi++;
        nb = hi - lo;
        low = (nb * n_low + n - 1) / n; /* this bin's share of the low trials */
        for (size_t q = lo; q < hi; q++) {
            if (q - lo < low)
                take[key[q].i] = 1;
            else if (!take[key[q].i])
                key[rest++ + lo].i = key[q].i; /* compact the rest to the front */
        }
        want = (size_t)(rate * (double)rest + 0.5);
        if (want > rest)
            want = rest;
        if (rest && !want)
            want = 1;
        /* a partial Fisher-Yates draw of want of the rest */
        for (size_t q = 0; q < want; q++) {
            size_t j = q + rng_below(&rng, rest - q);
            size_t tmp = key[lo + q].i;
            key[lo + q].i = key[lo + j].i;
            key[lo + j].i = tmp;
        }
        double w_rest = want ? (double)rest / (double)want : 1.0;
        for (size_t q = 0; q < want; q++) {
            t->wt[m] = w_rest;
            t->src[m++] = key[lo + q].i;
        }
        lo = hi;
    }
    /* the front and low trials, weight 1 */
    for (size_t i = 0; i < n; i++)
        if (take[i] == 1) {
            t->wt[m] = 1.0;
            t->src[m] = i;
            m++;
        }
    for (size_t q = 0; q < m; q++) {
        size_t i = t->src[q];
        t->x[q] = r->x[i];
        t->y[q] = r->y[i];
        t->cost[q] = r->cost[i];
        memcpy(t->u + q * d, r->u + i * d, d * sizeof(double));
        t->src[q] = r->src[i];
    }
    if (scaling_front(t->cost, t->y, m, false, t->front, &t->nf))
        goto out;
    t->sign = r->sign;
    t->dt = r->dt;
    t->dt.n = m;
    t->dt.x = t->x;
    t->dt.y = t->y;
    t->dt.u = t->u;
    t->dt.wt = t->wt;
    rc = 0;
out:
    free(key);
    free(take);
    if (rc)
        rows_release(t);
    return rc;
}

/* (E, A0, alpha) in loss orientation and centred x to raw (E, A, alpha). */
static void theta_raw(const double *th, double x0, double sign, double *E, double *A,
                      double *alpha)
{
    *E = sign * th[0];
    *A = sign * th[1] * exp(th[2] * x0);
    *alpha = th[2];
}

/* One all-trials estimate into theta[SCALING__THETA(d)]: the envelope, or
 * the joint model from start (NULL: its own start from the envelope). */
static int estimate(const rows_t *r, const scaling_config_t *c, const double *start,
                    double *X, double *theta, double *ssr, bool *edge)
{
    int rc;

    if (c->estimator == SCALING_EST_ENVELOPE) {
        rc = scaling__envelope(&r->dt, c->tau, start ? start[2] : 0.0, theta, edge);
        *ssr = NAN;
        return rc;
    }
    if (start)
        memcpy(theta, start, SCALING__THETA(r->dt.d) * sizeof(double));
    else if ((rc = scaling__joint_start(&r->dt, r->front, r->nf, c->tau, theta)))
        return rc;
    scaling__joint_covariates(&r->dt, X);
    return scaling__joint(&r->dt, c, X, theta, ssr, edge);
}

/* Root mean square of the front points about the law theta[3]. */
static double front_rmse(const rows_t *r, const double *theta)
{
    double acc = 0.0;

    for (size_t q = 0; q < r->nf; q++) {
        size_t i = r->front[q];
        double e = r->y[i] - (theta[0] + theta[1] * exp(-theta[2] * r->x[i]));
        acc += e * e;
    }
    return sqrt(acc / (double)(r->nf ? r->nf : 1));
}

// ---- lines ----

/* The joint model's optimum line of dimension j, its band from the
 * replicates (boot rows of SCALING__THETA(d), NULL without), and R^2 of
 * the front points about it. */
static void joint_line(const rows_t *r, const double *theta, const double *boot, size_t n_boot,
                       size_t j, double level, laws_line_t *l)
{
    size_t d = r->dt.d, p = SCALING__THETA(d), m = 0;
    double a = theta[3 + SCALING__PEN * j], b = theta[4 + SCALING__PEN * j], x0 = r->dt.x0;

    memset(l, 0, sizeof(*l));
    l->intercept = l->slope = l->intercept_lo = l->intercept_hi = NAN;
    l->slope_lo = l->slope_hi = l->r2 = l->x_mean = l->sxx = l->sigma = NAN;
    l->t = l->exponent = NAN;
    for (size_t i = 0; i < r->dt.n; i++)
        m += isfinite(r->u[i * d + j]);
    l->n = m;
    if (m < SCALING_MIN_FRONT) {
        WHY(l, CARBS_ESTATE, "not enough data: %zu trials set it, need %d", m,
            SCALING_MIN_FRONT);
        return;
    }
    l->intercept = a - b * x0;
    l->slope = b;
    /* R^2 of the front's settings about the line (two passes: the
     * settings of a rounded parameter are often all equal, and one pass
     * left a variance of rounding noise that made R^2 -1e14) */
    double su = 0.0, var = 0.0, sres = 0.0;
    size_t mf = 0;
    for (size_t q = 0; q < r->nf; q++) {
        double u = r->u[r->front[q] * d + j];
        if (isfinite(u)) {
            su += u;
            mf++;
        }
    }
    su /= (double)(mf ? mf : 1);
    for (size_t q = 0; q < r->nf; q++) {
        size_t i = r->front[q];
        double u = r->u[i * d + j];
        if (!isfinite(u))
            continue;
        var += (u - su) * (u - su);
        sres += (u - a - b * r->x[i]) * (u - a - b * r->x[i]);
    }
    /* Every front point at one setting (a bound of the range, or the one
     * value a rounded parameter took): R^2 is undefined, and the line,
     * fitted to every trial, is kept. */
    l->r2 = var > 1e-12 * (double)mf * (1.0 + su * su) ? 1.0 - sres / var : NAN;
    /* The line is fitted to every trial, so the front's own settings may
     * scatter about it more than about their mean (R^2 a little below 0 on
     * sound data: -0.2 in tests/test_laws_data.c).  Residuals more than
     * twice their spread (R^2 < -1) mean the penalty did not find an
     * optimum the data show: no prediction from it. */
    if (l->r2 < SCALING_LINE_R2_MIN)
        WHY(l, CARBS_ESTATE,
            "cannot predict: the joint model's optimum line misses the front's settings (R^2 "
            "%.3g, below %g)",
            l->r2, SCALING_LINE_R2_MIN);
    if (!boot || n_boot < 10)
        return;
    /* band: the replicates' covariance of (intercept, slope), written in the
     * OLS form t sigma sqrt(1/n + (ln C - x_mean)^2 / sxx) */
    double *v = carbs_malloc(2 * n_boot * sizeof(double));
    if (!v)
        return;
    double mi = 0.0, ms = 0.0, vi = 0.0, vs = 0.0, cis = 0.0;
    for (size_t k = 0; k < n_boot; k++) {
        double bb = boot[k * p + 4 + SCALING__PEN * j];
        v[k] = boot[k * p + 3 + SCALING__PEN * j] - bb * x0;
        v[n_boot + k] = bb;
        mi += v[k] / (double)n_boot;
        ms += bb / (double)n_boot;
    }
    for (size_t k = 0; k < n_boot; k++) {
        vi += (v[k] - mi) * (v[k] - mi) / (double)(n_boot - 1);
        vs += (v[n_boot + k] - ms) * (v[n_boot + k] - ms) / (double)(n_boot - 1);
        cis += (v[k] - mi) * (v[n_boot + k] - ms) / (double)(n_boot - 1);
    }
    if (vs > 0.0 && vi - cis * cis / vs >= 0.0) {
        double s2 = (double)m * (vi - cis * cis / vs);
        l->x_mean = -cis / vs;
        l->sigma = sqrt(s2);
        l->sxx = s2 / vs;
        l->t = stats_norm_ppf(0.5 * (1.0 + level));
        if (!(l->sxx > 0.0))
            l->sigma = l->t = NAN;
    }
    scaling__percentiles(v, n_boot, level, &l->intercept_lo, &l->intercept_hi);
    scaling__percentiles(v + n_boot, n_boot, level, &l->slope_lo, &l->slope_hi);
    free(v);
}

// ---- the holdout ----

static int holdout_alloc(laws_holdout_t *h, size_t k)
{
    h->cost = carbs_malloc(k * sizeof(double));
    h->actual = carbs_malloc(k * sizeof(double));
    h->predicted = carbs_malloc(k * sizeof(double));
    if (!h->cost || !h->actual || !h->predicted)
        return WHY(h, CARBS_ENOMEM, "out of memory");
    h->k = k;
    return 0;
}

/* Judge h's points (cost, actual, predicted filled) on the metric's scale. */
static void holdout_judge(laws_holdout_t *h, double tol, double c_max)
{
    h->max_abs_err = h->max_rel_err = 0.0;
    for (size_t i = 0; i < h->k; i++) {
        double e = fabs(h->predicted[i] - h->actual[i]);
        double rel = e / fmax(fabs(h->actual[i]), 1e-300);
        if (!isfinite(h->predicted[i]))
            e = rel = INFINITY;
        h->max_abs_err = fmax(h->max_abs_err, e);
        h->max_rel_err = fmax(h->max_rel_err, rel);
    }
    h->tol = tol;
    h->passed = h->max_rel_err <= tol;
    /* A passed holdout validates extrapolating as far beyond the data as
     * the refit extrapolated beyond its own. */
    h->valid_max_cost = c_max;
    if (h->passed)
        h->valid_max_cost *= h->cost[h->k - 1] / h->train_max_cost;
}

static void holdout_init(laws_holdout_t *h)
{
    memset(h, 0, sizeof(*h));
    h->train_max_cost = h->max_abs_err = h->max_rel_err = h->tol = h->valid_max_cost = NAN;
}

/* How many front points to hold out, or 0 (with h's why set). */
static size_t holdout_k(laws_holdout_t *h, size_t nf, const scaling_config_t *c)
{
    size_t k = c->holdout_k;

    if (nf < SCALING_MIN_FRONT + 1) {
        WHY(h, CARBS_ESTATE, "not enough data: %zu front points, need %d to hold one out", nf,
            SCALING_MIN_FRONT + 1);
        return 0;
    }
    if (nf - k < SCALING_MIN_FRONT)
        k = nf - SCALING_MIN_FRONT;
    return k;
}

/* The front estimator's holdout: the law refit on the front without its k
 * dearest points. */
static void holdout_front(const double *Cf, const double *yf, size_t nf, bool maximize,
                          const scaling_config_t *c, double c_max, laws_holdout_t *h)
{
    laws_power_t p;
    size_t k;

    holdout_init(h);
    if (!(k = holdout_k(h, nf, c)))
        return;
    if (scaling_power_fit(Cf, yf, nf - k, maximize, c, 0, &p)) {
        WHY(h, p.status, "refit without the %zu dearest points failed: %.100s", k, p.why);
        return;
    }
    if (holdout_alloc(h, k))
        return;
    h->train_max_cost = Cf[nf - k - 1];
    for (size_t i = 0; i < k; i++) {
        double lo, hi;
        h->cost[i] = Cf[nf - k + i];
        h->actual[i] = yf[nf - k + i];
        scaling_power_predict(&p, 0.0, h->cost[i], &h->predicted[i], &lo, &hi);
    }
    holdout_judge(h, c->holdout_tol, c_max);
}

/* The all-trials estimators' holdout: refit on every trial cheaper than the
 * first held-out front point, and predict each held-out front point by the
 * law alone, the number a prediction at a new cost gives.  The joint model
 * once added the penalties of the held-out trial's own settings: a new
 * model size far from the cheap trials' optimum line got a penalty the
 * refit could not know, and a sweep's best trial was predicted 9.7 % too
 * high (docs/scaling-laws.md, "The demo sweep"). */
static void holdout_all(const scaling_input_t *in, const rows_t *all, const scaling_config_t *c,
                        double c_max, laws_holdout_t *h)
{
    rows_t r, thin = {0}, *fr = &r;
    size_t k, p = SCALING__THETA(all->dt.d);
    double *theta = NULL, *X = NULL, ssr;
    bool edge;
    int rc;

    holdout_init(h);
    if (!(k = holdout_k(h, all->nf, c)))
        return;
    double cut = all->cost[all->front[all->nf - k]];
    if (rows_pick(in, all->sign, all->dt.floor, cut, all->dt.x0, &r)) {
        WHY(h, CARBS_ENOMEM, "out of memory");
        return;
    }
    if (r.dt.n > c->max_trials) {
        if (rows_thin(&r, c->max_trials, c->seed, &thin)) {
            WHY(h, CARBS_ENOMEM, "out of memory");
            goto out;
        }
        fr = &thin;
    }
    theta = carbs_malloc(p * sizeof(double));
    X = carbs_malloc((fr->dt.n ? fr->dt.n : 1) * (1 + fr->dt.d) * sizeof(double));
    if (!theta || !X) {
        WHY(h, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    if (r.nf < SCALING_MIN_FRONT) {
        WHY(h, CARBS_ESTATE, "not enough data: %zu front points below the held-out costs", r.nf);
        goto out;
    }
    rc = estimate(fr, c, NULL, X, theta, &ssr, &edge);
    if (rc || edge) {
        WHY(h, rc == CARBS_ENOMEM ? CARBS_ENOMEM : CARBS_ESTATE,
            "refit without the %zu dearest front points %s", k,
            rc ? "failed" : "leaves the exponent range");
        goto out;
    }
    if (holdout_alloc(h, k))
        goto out;
    for (size_t q = 0; q < r.dt.n; q++)
        h->train_max_cost = q ? fmax(h->train_max_cost, r.cost[q]) : r.cost[q];
    for (size_t q = 0; q < k; q++) {
        size_t i = all->front[all->nf - k + q];
        double f = theta[0] + theta[1] * exp(-theta[2] * all->x[i]);
        h->cost[q] = all->cost[i];
        h->actual[q] = all->sign * all->y[i];
        h->predicted[q] = all->sign * f;
    }
    holdout_judge(h, c->holdout_tol, c_max);
out:
    free(theta);
    free(X);
    rows_release(&thin);
    rows_release(&r);
}

// ---- the loss law by the all-trials estimators ----

/* Whether the joint model's penalty lines and curvatures (a_j, b_j, s_j)
 * of a and b are equal, bit for bit; false without dimensions. */
static bool penalties_equal(const double *a, const double *b, size_t d)
{
    for (size_t j = 0; j < d; j++)
        for (size_t q = 0; q < 3; q++)
            if (a[3 + SCALING__PEN * j + q] != b[3 + SCALING__PEN * j + q])
                return false;
    return d > 0;
}

/* Fit the law (and, for the joint model, the lines) from every valid
 * trial, with n_boot case-bootstrap replicates.  *edge: the point fit left
 * the exponent range. */
static int fit_all_trials(const rows_t *r, const scaling_config_t *c, size_t n_boot,
                          laws_t *out, bool *edge)
{
    size_t d = r->dt.d, p = SCALING__THETA(d), n = r->dt.n, n_ok = 0;
    double *theta = carbs_malloc(p * sizeof(double));
    double *X = carbs_malloc((n ? n : 1) * (1 + d) * sizeof(double));
    double *tb = carbs_malloc(p * sizeof(double));
    double *boot = NULL, *col = NULL, ssr;
    laws_power_t *lp = &out->loss;
    rows_t rb = {0};
    rng_t rng;
    int rc;

    if (!theta || !X || !tb) {
        rc = CARBS_ENOMEM;
        goto out;
    }
    rc = estimate(r, c, NULL, X, theta, &ssr, edge);
    if (rc == CARBS_ESTATE) {
        rc = WHY(lp, CARBS_ESTATE,
                 "cannot predict: not enough data: %zu trials for the joint law's %zu "
                 "coefficients",
                 n, p);
        goto out;
    }
    if (rc) {
        if (rc != CARBS_ENOMEM)
            rc = WHY(lp, CARBS_ENOCONV, "cannot predict: the law did not converge (%s)",
                     carbs_strerror(rc));
        goto out;
    }
    theta_raw(theta, r->dt.x0, r->sign, &lp->E, &lp->A, &lp->alpha);
    double sw = 0.0;
    for (size_t i = 0; i < n; i++)
        sw += scaling__wt(&r->dt, i);
    lp->rmse = c->estimator == SCALING_EST_JOINT ? sqrt(ssr / sw) : front_rmse(r, theta);
    /* below this many trials resampling repeats the same few points */
    if (n < SCALING_MIN_BOOT_TRIALS)
        n_boot = 0;
    if (n_boot) {
        /* case bootstrap: resample trials, refit from the point estimate */
        rb.x = carbs_malloc(n * sizeof(double));
        rb.y = carbs_malloc(n * sizeof(double));
        rb.cost = carbs_malloc(n * sizeof(double));
        rb.u = carbs_malloc(n * (d ? d : 1) * sizeof(double));
        rb.front = carbs_malloc(n * sizeof(size_t));
        rb.wt = r->wt ? carbs_malloc(n * sizeof(double)) : NULL;
        boot = carbs_malloc(n_boot * p * sizeof(double));
        lp->boot = carbs_malloc(n_boot * 3 * sizeof(double));
        col = carbs_malloc(n_boot * sizeof(double));
        if (!rb.x || !rb.y || !rb.cost || !rb.u || !rb.front || !boot || !lp->boot || !col ||
            (r->wt && !rb.wt)) {
            rc = CARBS_ENOMEM;
            goto out;
        }
        rb.sign = r->sign;
        rb.dt = (scaling__data_t){.n = n, .d = d, .x = rb.x, .y = rb.y, .u = rb.u, .wt = rb.wt,
                                  .x0 = r->dt.x0, .floor = r->dt.floor};
        rng_seed(&rng, c->seed);
        for (size_t b = 0; b < n_boot; b++) {
            bool e_b;
            double ssr_b;
            for (size_t i = 0; i < n; i++) {
                size_t s = rng_below(&rng, n);
                rb.x[i] = r->x[s];
                rb.y[i] = r->y[s];
                rb.cost[i] = r->cost[s];
                if (rb.wt)
                    rb.wt[i] = r->wt[s];
                memcpy(rb.u + i * d, r->u + s * d, d * sizeof(double));
            }
            if (scaling_front(rb.cost, rb.y, n, false, rb.front, &rb.nf))
                continue;
            rc = estimate(&rb, c, theta, X, tb, &ssr_b, &e_b);
            /* penalties that did not move at all from the point estimate:
             * the solver was stuck there (one near-flat penalty can stall
             * the step of all of them), and the lines' bands came out as
             * single points; refit that replicate from its own start */
            if (!rc && c->estimator == SCALING_EST_JOINT && penalties_equal(tb, theta, d))
                rc = estimate(&rb, c, NULL, X, tb, &ssr_b, &e_b);
            if (rc == CARBS_ENOMEM)
                goto out;
            if (rc || e_b)
                continue;
            memcpy(boot + n_ok * p, tb, p * sizeof(double));
            theta_raw(tb, r->dt.x0, r->sign, &lp->boot[3 * n_ok], &lp->boot[3 * n_ok + 1],
                      &lp->boot[3 * n_ok + 2]);
            n_ok++;
        }
        rc = 0;
        lp->n_boot = n_ok;
        scaling__power_intervals(lp, c->level, col);
    }
    /* too few trials for the penalties: the front's lines instead */
    if (c->estimator == SCALING_EST_JOINT && d && n >= SCALING__PEN * d + 1) {
        out->lines = carbs_malloc(d * sizeof(*out->lines));
        if (!out->lines) {
            rc = CARBS_ENOMEM;
            goto out;
        }
        out->n_lines = d;
        for (size_t j = 0; j < d; j++)
            joint_line(r, theta, boot, n_ok, j, c->level, &out->lines[j]);
    }
out:
    free(theta);
    free(X);
    free(tb);
    free(boot);
    free(col);
    free(rb.x);
    free(rb.y);
    free(rb.cost);
    free(rb.u);
    free(rb.front);
    free(rb.wt);
    return rc;
}

// ---- the whole fit ----

/* The bound on E in loss orientation: the caller's, or 0 for a
 * non-negative metric to minimize, 1 for a metric to maximize in [0, 1]. */
static void bound_resolve(const scaling_input_t *in, scaling_config_t *c)
{
    bool nonneg = true, unit = true;

    if (c->has_bound)
        return;
    for (size_t i = 0; i < in->n; i++) {
        double y = in->output[i];
        if (!(isfinite(in->cost[i]) && in->cost[i] > 0.0 && isfinite(y)))
            continue;
        nonneg = nonneg && y >= 0.0;
        unit = unit && y >= 0.0 && y <= 1.0;
    }
    if (!in->maximize && nonneg) {
        c->has_bound = true;
        c->bound = 0.0;
    } else if (in->maximize && unit) {
        c->has_bound = true;
        c->bound = 1.0;
    }
}

/* The checks of the file comment, in order; the first that fails sets the
 * loss law's status. */
static void judge(laws_t *out, const scaling_config_t *c, bool edge)
{
    laws_power_t *p = &out->loss;
    const laws_holdout_t *h = &out->holdout;
    double decades = log10(p->c_max / p->c_min);
    double drop = fabs(p->A) * (pow(p->c_min, -p->alpha) - pow(p->c_max, -p->alpha));

    if (p->status)
        return;
    if (edge)
        WHY(p, CARBS_ESTATE,
            "cannot predict: the best metric does not follow a power law in cost yet "
            "(alpha would leave [%g, %g])",
            SCALING__EXP_MIN, SCALING__EXP_MAX);
    else if (!(decades >= c->min_decades))
        WHY(p, CARBS_ESTATE,
            "cannot predict: the costs span %.2g decades (%.4g to %.4g), need %g", decades,
            p->c_min, p->c_max, c->min_decades);
    else if (!(drop > 2.0 * p->rmse))
        WHY(p, CARBS_ESTATE,
            "cannot predict: the front is flat: the law improves by %.3g over the data, "
            "within twice its noise %.3g",
            drop, p->rmse);
    else if (h->status)
        WHY(p, CARBS_ESTATE, "cannot predict: no holdout check (%.100s)", h->why);
    else if (!h->passed)
        WHY(p, CARBS_ESTATE,
            "cannot predict: the holdout failed: error %.3g%% on the dearest front points, "
            "allowed %.3g%%",
            100.0 * h->max_rel_err, 100.0 * h->tol);
    else if (isfinite(p->bound) && p->E == p->bound)
        snprintf(p->why, sizeof(p->why), "E is held at the metric's bound %g", p->bound);
}

/* One candidate of nd_from_line(): the line of dimension j, whose
 * coordinate follows v (ln N or ln D) as v = v0 + k u over the trials. */
typedef struct nd_line {
    size_t j;
    bool tokens; /* v is ln D */
    double v0, k;
    double a, a_lo, a_hi, G; /* N_opt = G (C/6)^a; a_lo, a_hi NaN without a band */
} nd_line_t;

/* The dimension whose coordinate follows v[n] most closely (|r| >=
 * ND_SIZE_CORR, not skip), or SIZE_MAX; *c gets v = v0 + k u over the
 * rows where both are finite. */
static size_t nd_pick(const scaling_input_t *in, const laws_t *l, const double *v, size_t skip,
                      double *uj, nd_line_t *c)
{
    size_t best = SIZE_MAX;
    double r2_best = 0.0;

    /* v = v0 + k u by least squares (scaling_line_fit reads u as its cost
     * axis); its R^2 is the squared correlation */
    for (size_t j = 0; j < l->n_lines && j < in->d; j++) {
        laws_line_t f;
        if (j == skip)
            continue;
        for (size_t i = 0; i < in->n; i++)
            uj[i] = in->u[i * in->d + j];
        if (scaling_line_fit(uj, v, in->n, 0.9, &f) || !(f.r2 >= ND_SIZE_CORR * ND_SIZE_CORR) ||
            !(f.r2 > r2_best))
            continue;
        r2_best = f.r2;
        best = j;
        c->j = j;
        c->k = f.slope;
        c->v0 = f.intercept;
    }
    return best;
}

/* The exponent a of N_opt from candidate c's line ln: for model size
 * ln N_opt = v0 + k (a0 + b0 ln C); for tokens ln D_opt likewise and
 * N_opt = C / (6 D_opt). */
static void nd_line_exponent(const laws_line_t *ln, nd_line_t *c)
{
    double s = c->k * ln->slope, lo = c->k * ln->slope_lo, hi = c->k * ln->slope_hi;
    double e0 = c->v0 + c->k * ln->intercept, t;

    if (lo > hi) {
        t = lo;
        lo = hi;
        hi = t;
    }
    if (!c->tokens) {
        c->a = s;
        c->a_lo = lo;
        c->a_hi = hi;
        c->G = exp(e0) * pow(6.0, s);
    } else {
        /* N_opt = (C/6) e^-e0 C^-s = e^-e0 6^-s (C/6)^(1 - s) */
        c->a = 1.0 - s;
        c->a_lo = 1.0 - hi;
        c->a_hi = 1.0 - lo;
        c->G = exp(-e0) * pow(6.0, -s);
    }
}

/* When the L(N, D) law gives no compute optimum, or one whose exponent's
 * bootstrap band is wider than a line's, take it from the joint
 * model's optimum line of the parameter that sets the model size or the
 * tokens (Hoffmann et al.'s approach 2, the minimum of each cost's
 * profile, as the joint model fits it): u_opt = a0 + b0 ln C and ln N =
 * m + k u over the trials give N_opt = e^(m + k a0) C^(k b0); a tokens
 * line gives D_opt alike, and the other is C / 6 of it.  Such a parameter
 * is the one whose coordinate follows ln N (ln D) most closely, |r| >=
 * ND_SIZE_CORR.  Of two, the one whose exponent has the narrower band (the
 * size line without bands); the exponent must lie in (0, 1).  Leaves nd
 * as it is when there is no such line. */
static void nd_from_line(const scaling_input_t *in, const laws_t *l, laws_nd_t *nd)
{
    size_t n = in->n, nc = 0;
    nd_line_t cand[2];
    double *lnN, *lnD, *uj;

    bool law_ok = nd->status == 0 && !nd->why[0] && isfinite(nd->a);
    double law_w = nd->a_hi - nd->a_lo;

    /* a law without a band (the cheap fit) stands */
    if (law_ok && !isfinite(law_w))
        return;
    if (!l->lines || !in->n_params || !in->tokens || !in->d)
        return;
    if (!(lnN = carbs_malloc((n ? n : 1) * 3 * sizeof(double))))
        return;
    lnD = lnN + n;
    uj = lnD + n;
    for (size_t i = 0; i < n; i++) {
        bool ok = isfinite(in->output[i]) && isfinite(in->cost[i]) && in->cost[i] > 0.0 &&
                  isfinite(in->n_params[i]) && in->n_params[i] > 0.0 &&
                  isfinite(in->tokens[i]) && in->tokens[i] > 0.0;
        lnN[i] = ok ? log(in->n_params[i]) : NAN;
        lnD[i] = ok ? log(in->tokens[i]) : NAN;
    }
    size_t jn = nd_pick(in, l, lnN, SIZE_MAX, uj, &cand[0]);
    if (jn != SIZE_MAX) {
        cand[0].tokens = false;
        nc = 1;
    }
    if (nd_pick(in, l, lnD, jn, uj, &cand[nc]) != SIZE_MAX) {
        cand[nc].tokens = true;
        nc++;
    }
    free(lnN);
    const nd_line_t *pick = NULL;
    const char *refused = NULL;
    for (size_t q = 0; q < nc; q++) {
        const laws_line_t *ln = &l->lines[cand[q].j];
        if (ln->status)
            continue;
        nd_line_exponent(ln, &cand[q]);
        if (!(cand[q].a > 0.0 && cand[q].a < 1.0)) {
            refused = cand[q].tokens ? "tokens" : "model-size";
            continue;
        }
        double w = cand[q].a_hi - cand[q].a_lo;
        if (!pick || (isfinite(w) && !(w >= pick->a_hi - pick->a_lo)))
            pick = &cand[q];
    }
    char law_why[LAWS_WHY_MAX];
    if (law_ok) {
        /* the law stands unless it leaves the split open and a line pins
         * the exponent down better */
        if (!pick || !(law_w > ND_LAW_BAND_MAX) || !(pick->a_hi - pick->a_lo < law_w))
            return;
        snprintf(law_why, sizeof(law_why),
                 "its N_opt exponent's band [%.3g, %.3g] is wider than %g and than the %s "
                 "line's",
                 nd->a_lo, nd->a_hi, ND_LAW_BAND_MAX, pick->tokens ? "tokens" : "model-size");
    } else {
        snprintf(law_why, sizeof(law_why), "%s",
                 nd->why[0] ? nd->why : "the fitted law has no compute optimum");
    }
    if (!pick) {
        if (refused) {
            if (!nd->status)
                nd->status = CARBS_ESTATE;
            str_copy(nd->law_why, sizeof(nd->law_why), law_why);
            snprintf(nd->why, sizeof(nd->why),
                     "cannot predict: the L(N, D) law gives no optimum, and the %s "
                     "parameter's optimum line puts the N_opt exponent outside (0, 1)",
                     refused);
        }
        return;
    }
    str_copy(nd->law_why, sizeof(nd->law_why), law_why);
    nd->status = 0;
    nd->why[0] = '\0';
    nd->from_line = true;
    nd->line_tokens = pick->tokens;
    nd->line_dim = pick->j;
    nd->ln_v0 = pick->v0;
    nd->ln_v_slope = pick->k;
    nd->E = nd->A = nd->B = nd->alpha = nd->beta = nd->rmse = NAN;
    nd->alpha_lo = nd->alpha_hi = nd->beta_lo = nd->beta_hi = NAN;
    nd->a = pick->a;
    nd->b = 1.0 - pick->a;
    nd->G = pick->G;
    nd->a_lo = pick->a_lo;
    nd->a_hi = pick->a_hi;
    nd->b_lo = 1.0 - pick->a_hi;
    nd->b_hi = 1.0 - pick->a_lo;
}

static int fit(const scaling_input_t *in, const scaling_config_t *cfg, bool boot, laws_t *out,
               carbs_err_t *err)
{
    scaling_config_t c = scaling__config_resolve(cfg);
    double sign = in->maximize ? -1.0 : 1.0;
    rows_t r = {0};
    double *Cf = NULL, *yf = NULL, *xf = NULL, *uf = NULL;
    size_t nf;
    bool edge = false;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->version = LAWS_VERSION;
    out->maximize = in->maximize;
    out->full = boot;
    out->level = c.level;
    if (!(c.level > 0.0 && c.level < 1.0))
        return carbs_fail(err, CARBS_EINVAL, "scaling: interval level %g is outside (0, 1)",
                          c.level);
    if (c.estimator < SCALING_EST_FRONT || c.estimator > SCALING_EST_JOINT)
        return carbs_fail(err, CARBS_EINVAL, "scaling: unknown estimator %d", c.estimator);
    if (in->d && in->n && !in->u)
        return carbs_fail(err, CARBS_EINVAL, "scaling: %zu dimensions but no coordinates",
                          in->d);
    str_copy(out->estimator, sizeof(out->estimator), scaling_estimator_name(c.estimator));
    bound_resolve(in, &c);
    if (rows_pick(in, sign, c.has_bound ? sign * c.bound : -INFINITY, INFINITY, NAN, &r)) {
        rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory for %zu trials", in->n);
        goto out;
    }
    out->n_trials = r.dt.n;
    out->n_front = nf = r.nf;
    /* a thinned sweep: fewer replicates (see THIN_BOOT) */
    size_t n_boot = boot ? c.n_boot : 0;
    if (r.dt.n > c.max_trials && n_boot > THIN_BOOT)
        n_boot = THIN_BOOT;
    if (nf < SCALING_MIN_FRONT) {
        rc = carbs_fail(err, CARBS_ESTATE,
                        "cannot predict: not enough data: %zu pareto point%s (of %zu successful "
                        "trials with a finite output and a cost > 0), need at least %d at "
                        "distinct costs",
                        nf, nf == 1 ? "" : "s", out->n_trials, SCALING_MIN_FRONT);
        goto out;
    }
    Cf = carbs_malloc(nf * 4 * sizeof(double));
    if (!Cf) {
        rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory for %zu trials", in->n);
        goto out;
    }
    yf = Cf + nf;
    xf = yf + nf;
    uf = xf + nf;
    for (size_t q = 0; q < nf; q++) {
        Cf[q] = r.cost[r.front[q]];
        yf[q] = sign * r.y[r.front[q]];
        xf[q] = log(Cf[q]);
    }
    if (c.estimator == SCALING_EST_FRONT) {
        rc = scaling_power_fit(Cf, yf, nf, in->maximize, &c, boot ? c.n_boot : 0, &out->loss);
        if (rc == CARBS_ENOMEM) {
            rc = carbs_fail(err, rc, "scaling: out of memory");
            goto out;
        }
        rc = 0;
    } else {
        laws_power_t *p = &out->loss;
        p->E = p->A = p->alpha = p->rmse = NAN;
        p->E_lo = p->E_hi = p->A_lo = p->A_hi = p->alpha_lo = p->alpha_hi = NAN;
        p->n = r.dt.n;
        p->bound = c.has_bound ? c.bound : NAN;
        p->drift = NAN;
        rows_t thin = {0};
        if (r.dt.n > c.max_trials && rows_thin(&r, c.max_trials, c.seed, &thin)) {
            rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory");
            goto out;
        }
        rc = fit_all_trials(thin.x ? &thin : &r, &c, n_boot, out, &edge);
        rows_release(&thin);
        if (rc == CARBS_ENOMEM) {
            rc = carbs_fail(err, rc, "scaling: out of memory");
            goto out;
        }
        rc = 0;
        p->c_min = INFINITY;
        p->c_max = 0.0;
        for (size_t i = 0; i < r.dt.n; i++) {
            p->c_min = fmin(p->c_min, r.cost[i]);
            p->c_max = fmax(p->c_max, r.cost[i]);
        }
    }
    if (in->d && !out->lines) {
        out->lines = carbs_malloc(in->d * sizeof(*out->lines));
        if (!out->lines) {
            rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory");
            goto out;
        }
        memset(out->lines, 0, in->d * sizeof(*out->lines));
        out->n_lines = in->d;
        for (size_t j = 0; j < in->d; j++) {
            for (size_t q = 0; q < nf; q++)
                uf[q] = r.u[r.front[q] * in->d + j];
            scaling_line_fit(xf, uf, nf, c.level, &out->lines[j]);
        }
    }
    if (in->n_params && in->tokens) {
        /* all successful trials, not just the front */
        double *y_ok = carbs_malloc((in->n ? in->n : 1) * sizeof(double));
        if (!y_ok) {
            rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory");
            goto out;
        }
        for (size_t i = 0; i < in->n; i++)
            y_ok[i] = isfinite(in->cost[i]) && in->cost[i] > 0.0 ? in->output[i] : NAN;
        scaling_nd_fit(in->n_params, in->tokens, y_ok, in->n, &c, n_boot, &out->nd);
        free(y_ok);
        if (out->nd.status == CARBS_ENOMEM) {
            rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory");
            goto out;
        }
        /* The N, D law's E is a floor too: one below the metric's bound
         * says the trials do not pin the law down, not that the loss can
         * go negative, so it may not split compute. */
        if (out->nd.status == 0 && !in->maximize && c.has_bound && out->nd.E < c.bound) {
            out->nd.status = CARBS_ESTATE;
            snprintf(out->nd.why, sizeof(out->nd.why),
                     "cannot predict: the model-size and tokens law puts E at %.4g, below the "
                     "metric's floor %g (more trials at large N and D pin it down)",
                     out->nd.E, c.bound);
        }
        if (c.estimator == SCALING_EST_JOINT)
            nd_from_line(in, out, &out->nd);
    } else {
        laws_nd_t *nd = &out->nd;
        nd->E = nd->A = nd->B = nd->alpha = nd->beta = nd->rmse = nd->a = nd->b = nd->G = NAN;
        nd->alpha_lo = nd->alpha_hi = nd->beta_lo = nd->beta_hi = NAN;
        nd->a_lo = nd->a_hi = nd->b_lo = nd->b_hi = NAN;
        WHY(nd, CARBS_ESTATE, "not enough data: the sweep names no model size and tokens");
    }
    if (c.estimator == SCALING_EST_FRONT)
        holdout_front(Cf, yf, nf, in->maximize, &c, out->loss.c_max, &out->holdout);
    else
        holdout_all(in, &r, &c, out->loss.c_max, &out->holdout);
    if (out->holdout.status == CARBS_ENOMEM) {
        rc = carbs_fail(err, CARBS_ENOMEM, "scaling: out of memory");
        goto out;
    }
    judge(out, &c, edge);
    /* The holdout's error per e-fold of extrapolation, times drift: one
     * draw of the model error, not its bound. */
    if (out->holdout.status == 0 && out->holdout.k) {
        const laws_holdout_t *h = &out->holdout;
        double efolds = fmax(log(h->cost[h->k - 1] / h->train_max_cost), DRIFT_MIN_EFOLDS);
        if (efolds > 0.0)
            out->loss.drift = c.drift * h->max_rel_err / efolds;
    }
out:
    free(Cf);
    rows_release(&r);
    if (rc)
        laws_release(out);
    return rc;
}

int scaling_fit_all(const scaling_input_t *in, const scaling_config_t *cfg, laws_t *out,
                    carbs_err_t *err)
{
    return fit(in, cfg, true, out, err);
}

int scaling_fit_cheap(const scaling_input_t *in, const scaling_config_t *cfg, laws_t *out,
                      carbs_err_t *err)
{
    return fit(in, cfg, false, out, err);
}
