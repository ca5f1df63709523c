/*
 * scaling.c - the laws' parts: the Pareto front, y = E + A C^-alpha on a
 * set of points, lines in basic space and L(N, D) (approach 3 of Hoffmann
 * et al. 2022, "Training compute-optimal large language models"), and their
 * predictions (docs/scaling-laws.md).  The whole fit with its estimators
 * and checks is scaling_fit.c; the all-trials estimators scaling_est.c.
 *
 * Idea: every law here is linear in its coefficients once its exponents are
 * fixed.  So a fit first scans a grid of exponents, solving the coefficients
 * by linear least squares at each (variable projection), and then polishes
 * the best grid point with Levenberg-Marquardt over all parameters
 * (scaling_nls.c).  The grid start makes the fits robust to the flat
 * valleys these laws have; LM gives the exact optimum.  Costs, model sizes
 * and tokens enter as logs centred on their mean, so the coefficients stay
 * O(1) whatever the units; they are mapped back to raw units at the end.
 *
 * Legend: n = points, C = cost, x = ln C - x0 (x0 = mean ln C), y = metric,
 * u = basic-space coordinate, theta = (E, A0, alpha) with A0 = A e^(-alpha x0)
 * for the loss law, theta = (E, A0, B0, alpha, beta) for L(N, D), p = number
 * of parameters, B = bootstrap replicates.  The loss law is fitted in loss
 * orientation (y' = sign y, sign = -1 for a metric to maximize) against a
 * floor on E, and mapped back.
 */
#include "proto/common.h"
#include "optimizer/scaling.h"

#include <math.h>
#include <stdarg.h>

#include <gsl/gsl_cdf.h>

#include "optimizer/rng.h"
#include "optimizer/scaling_internal.h"
#include "optimizer/stats.h"

/* Grid sizes of the variable-projection starts. */
#define GRID_POWER_N 60 /* one dimension: cheap, so fine */
#define GRID_ND_N 18    /* per exponent of the N, D law (18^2 solves) */
#define ND_IRLS_MAX 8   /* reweighting rounds of the N, D expectile */
/* A pivot below this fraction of the diagonal makes the small normal
 * equations singular (collinear columns). */
#define LSQ_PIVOT_REL 1e-12
/* Costs closer than this relative difference count as equal. */
#define SAME_COST_REL 1e-12

// ---- config ----

scaling_config_t scaling__config_resolve(const scaling_config_t *cfg)
{
    scaling_config_t c = cfg ? *cfg : (scaling_config_t){0};

    if (!c.n_boot)
        c.n_boot = SCALING_DEFAULT_N_BOOT;
    if (c.level == 0.0)
        c.level = SCALING_DEFAULT_LEVEL;
    if (!c.holdout_k)
        c.holdout_k = SCALING_DEFAULT_HOLDOUT_K;
    if (c.holdout_tol == 0.0)
        c.holdout_tol = SCALING_DEFAULT_HOLDOUT_TOL;
    if (!c.min_nd)
        c.min_nd = SCALING_DEFAULT_MIN_ND;
    if (!c.max_iter)
        c.max_iter = SCALING_DEFAULT_MAX_ITER;
    if (!c.max_trials)
        c.max_trials = SCALING_DEFAULT_MAX_TRIALS;
    if (c.xtol == 0.0)
        c.xtol = SCALING_DEFAULT_XTOL;
    if (c.gtol == 0.0)
        c.gtol = SCALING_DEFAULT_GTOL;
    if (c.estimator == SCALING_EST_DEFAULT)
        c.estimator = SCALING_EST_JOINT;
    if (c.tau == 0.0)
        c.tau = SCALING_DEFAULT_TAU;
    if (c.nd_tau == 0.0)
        c.nd_tau = SCALING_DEFAULT_ND_TAU;
    if (c.joint_tau == 0.0)
        c.joint_tau = SCALING_DEFAULT_JOINT_TAU;
    if (c.drift == 0.0)
        c.drift = SCALING_DEFAULT_DRIFT;
    if (c.drift < 0.0)
        c.drift = 0.0;
    if (c.min_decades == 0.0)
        c.min_decades = SCALING_DEFAULT_MIN_DECADES;
    return c;
}

static const char *const estimator_names[] = {
    [SCALING_EST_FRONT] = "front",
    [SCALING_EST_ENVELOPE] = "envelope",
    [SCALING_EST_JOINT] = "joint",
};

const char *scaling_estimator_name(int estimator)
{
    if (estimator == SCALING_EST_DEFAULT)
        estimator = scaling__config_resolve(NULL).estimator;
    if (estimator < SCALING_EST_FRONT || estimator > SCALING_EST_JOINT)
        return "?";
    return estimator_names[estimator];
}

int scaling_estimator_parse(const char *name, int *out)
{
    for (int e = SCALING_EST_FRONT; e <= SCALING_EST_JOINT; e++)
        if (strcmp(name, estimator_names[e]) == 0) {
            *out = e;
            return 0;
        }
    return CARBS_EINVAL;
}

// ---- small helpers ----

double scaling__grid_exponent(size_t i, size_t n)
{
    return SCALING__EXP_MIN *
           pow(SCALING__EXP_MAX / SCALING__EXP_MIN, (double)i / (double)(n - 1));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Number of distinct values in v[n] (relative tolerance SAME_COST_REL);
 * sorts a copy in tmp[n]. */
static size_t n_distinct(const double *v, size_t n, double *tmp)
{
    size_t k = 0;

    memcpy(tmp, v, n * sizeof(double));
    qsort(tmp, n, sizeof(double), cmp_double);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || tmp[i] - tmp[i - 1] > SAME_COST_REL * fabs(tmp[i]))
            k++;
    return k;
}

/* By the normal equations and Gaussian elimination with partial pivoting. */
double scaling__lsq_small(const double *Z, const double *y, const double *w, size_t n, size_t k,
                          double *coef)
{
    double M[3][4] = {{0}};
    double ssr = 0.0;

    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        for (size_t a = 0; a < k; a++) {
            for (size_t b = 0; b < k; b++)
                M[a][b] += wi * Z[i * k + a] * Z[i * k + b];
            M[a][k] += wi * Z[i * k + a] * y[i];
        }
    }
    double diag = 0.0;
    for (size_t a = 0; a < k; a++)
        diag = fmax(diag, M[a][a]);
    for (size_t col = 0; col < k; col++) {
        size_t piv = col;
        for (size_t r = col + 1; r < k; r++)
            if (fabs(M[r][col]) > fabs(M[piv][col]))
                piv = r;
        if (!(fabs(M[piv][col]) > LSQ_PIVOT_REL * diag))
            return NAN;
        for (size_t c = 0; c <= k; c++) {
            double t = M[col][c];
            M[col][c] = M[piv][c];
            M[piv][c] = t;
        }
        for (size_t r = 0; r < k; r++) {
            if (r == col)
                continue;
            double f = M[r][col] / M[col][col];
            for (size_t c = col; c <= k; c++)
                M[r][c] -= f * M[col][c];
        }
    }
    for (size_t a = 0; a < k; a++)
        coef[a] = M[a][k] / M[a][a];
    for (size_t i = 0; i < n; i++) {
        double f = 0.0;
        for (size_t a = 0; a < k; a++)
            f += Z[i * k + a] * coef[a];
        ssr += (w ? w[i] : 1.0) * (y[i] - f) * (y[i] - f);
    }
    return ssr;
}

void scaling__percentiles(double *v, size_t n, double level, double *lo, double *hi)
{
    qsort(v, n, sizeof(double), cmp_double);
    *lo = stats_quantile_sorted(v, n, 0.5 * (1.0 - level));
    *hi = stats_quantile_sorted(v, n, 0.5 * (1.0 + level));
}

void scaling__power_intervals(laws_power_t *p, double level, double *col)
{
    double *lo[3] = {&p->E_lo, &p->A_lo, &p->alpha_lo};
    double *hi[3] = {&p->E_hi, &p->A_hi, &p->alpha_hi};

    for (size_t j = 0; p->n_boot && j < 3; j++) {
        for (size_t b = 0; b < p->n_boot; b++)
            col[b] = p->boot[3 * b + j];
        scaling__percentiles(col, p->n_boot, level, lo[j], hi[j]);
    }
}

/* A step that cannot make progress ends the fit where it is (an exact fit
 * has nowhere to go). */
int scaling__nls_run(scaling__nls_t *s, const double *X, const double *y, size_t p,
                     const scaling_config_t *c, double *theta, double *ssr)
{
    int rc = scaling__nls_set(s, X, y, theta);

    if (rc)
        return rc;
    rc = CARBS_CONTINUE;
    for (size_t it = 0; it < c->max_iter && rc == CARBS_CONTINUE; it++) {
        if (scaling__nls_iterate(s)) {
            rc = 0;
            break;
        }
        rc = scaling__nls_test(s, c->xtol, c->gtol);
    }
    scaling__nls_position(s, theta, ssr);
    for (size_t j = 0; j < p; j++)
        if (!isfinite(theta[j]))
            return CARBS_EINVAL;
    if (!isfinite(*ssr))
        return CARBS_EINVAL;
    return rc == CARBS_CONTINUE ? CARBS_ENOCONV : 0;
}

int scaling__why(int *status, char *why, int code, const char *fmt, ...)
{
    va_list ap;

    *status = code;
    va_start(ap, fmt);
    vsnprintf(why, LAWS_WHY_MAX, fmt, ap);
    va_end(ap);
    return code;
}

#define WHY(part, code, ...) scaling__why(&(part)->status, (part)->why, (code), __VA_ARGS__)

// ---- the Pareto front ----

typedef struct row_ref {
    double cost, output;
    size_t idx;
} row_ref_t;

static int row_cmp_min(const void *a, const void *b)
{
    const row_ref_t *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->output != y->output)
        return x->output < y->output ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

int scaling_front(const double *cost, const double *output, size_t n, bool maximize, size_t *idx,
                  size_t *n_front)
{
    row_ref_t *rows = carbs_malloc((n ? n : 1) * sizeof(*rows));
    size_t m = 0, k = 0;
    double sign = maximize ? -1.0 : 1.0, best = INFINITY, last_cost = NAN;

    *n_front = 0;
    if (!rows)
        return CARBS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (isfinite(cost[i]) && cost[i] > 0.0 && isfinite(output[i]))
            rows[m++] = (row_ref_t){cost[i], sign * output[i], i};
    qsort(rows, m, sizeof(*rows), row_cmp_min);
    for (size_t i = 0; i < m; i++) {
        /* the first of equal costs is the best of them */
        if (rows[i].cost == last_cost)
            continue;
        last_cost = rows[i].cost;
        if (rows[i].output < best) {
            best = rows[i].output;
            idx[k++] = rows[i].idx;
        }
    }
    free(rows);
    *n_front = k;
    return 0;
}

// ---- y = E + A C^-alpha ----

/* theta = (E, A0, alpha), x[0] = ln C - x0. */
static void power_eval(const double *th, const double *x, const void *ctx, double *f, double *g)
{
    double e = exp(-th[2] * x[0]);

    (void)ctx;
    *f = th[0] + th[1] * e;
    g[0] = 1.0;
    g[1] = e;
    g[2] = -th[1] * x[0] * e;
}

/* E held at *(const double *)ctx: theta = (A0, alpha). */
static void power_fixed_eval(const double *th, const double *x, const void *ctx, double *f,
                             double *g)
{
    double e = exp(-th[1] * x[0]);

    *f = *(const double *)ctx + th[0] * e;
    g[0] = e;
    g[1] = -th[0] * x[0] * e;
}

/* The grid start: the alpha whose exact (E, A0) leave the least residual,
 * into theta[3] and *ssr; E below floor is held at the floor. */
static int power_start(const double *x, const double *y, size_t n, double floor, double *Z,
                       double *theta, double *ssr)
{
    double best = INFINITY;

    for (size_t g = 0; g < GRID_POWER_N; g++) {
        double alpha = scaling__grid_exponent(g, GRID_POWER_N), coef[2];
        for (size_t i = 0; i < n; i++) {
            Z[2 * i] = 1.0;
            Z[2 * i + 1] = exp(-alpha * x[i]);
        }
        double r = scaling__lsq_small(Z, y, NULL, n, 2, coef);
        if (isfinite(r) && coef[0] < floor) {
            /* y - floor = A0 e^(-alpha x): one column */
            double num = 0.0, den = 0.0;
            coef[0] = floor;
            for (size_t i = 0; i < n; i++) {
                num += Z[2 * i + 1] * (y[i] - floor);
                den += Z[2 * i + 1] * Z[2 * i + 1];
            }
            coef[1] = num / den;
            r = 0.0;
            for (size_t i = 0; i < n; i++)
                r += (y[i] - floor - coef[1] * Z[2 * i + 1]) * (y[i] - floor - coef[1] * Z[2 * i + 1]);
        }
        if (r < best) {
            best = r;
            theta[0] = coef[0];
            theta[1] = coef[1];
            theta[2] = alpha;
        }
    }
    *ssr = best;
    return isfinite(best) ? 0 : CARBS_EINVAL;
}

static bool exp_in_range(double a)
{
    return a >= SCALING__EXP_MIN && a <= SCALING__EXP_MAX;
}

/* Polish theta[3] with Levenberg-Marquardt, E >= floor: a free fit that
 * crosses the floor is redone with E held there.  When the optimum leaves
 * the exponent range (a front that is concave in log cost drives alpha below
 * 0 or to infinity) or does not settle, the best grid point is the answer,
 * and *on_grid says so. */
static int power_solve(scaling__nls_t *s, scaling__nls_t *s_fixed, const double *x,
                       const double *y, size_t n, double floor, const scaling_config_t *c,
                       double *Z, double *theta, double *ssr, bool *on_grid)
{
    double th[3] = {theta[0], theta[1], theta[2]};
    int rc = scaling__nls_run(s, x, y, 3, c, th, ssr);

    *on_grid = false;
    if (rc == 0 && exp_in_range(th[2]) && th[0] >= floor) {
        memcpy(theta, th, sizeof(th));
        return 0;
    }
    if (rc == 0 && th[0] < floor && s_fixed) {
        double tf[2] = {theta[1], theta[2]};
        if (theta[0] > floor) {
            /* the start was free: restart from the floor's grid point */
            if (power_start(x, y, n, INFINITY, Z, theta, ssr))
                return CARBS_EINVAL;
            tf[0] = theta[1];
            tf[1] = theta[2];
        }
        if (scaling__nls_run(s_fixed, x, y, 2, c, tf, ssr) == 0 && exp_in_range(tf[1])) {
            theta[0] = floor;
            theta[1] = tf[0];
            theta[2] = tf[1];
            return 0;
        }
    }
    *on_grid = true;
    return power_start(x, y, n, floor, Z, theta, ssr);
}

int scaling_power_fit(const double *C, const double *y, size_t n, bool maximize,
                      const scaling_config_t *cfg, size_t n_boot, laws_power_t *out)
{
    scaling_config_t c = scaling__config_resolve(cfg);
    double *x = NULL, *Z = NULL, *fit = NULL, *res = NULL, *ys = NULL, *col = NULL, *yl = NULL;
    scaling__nls_t *s = NULL, *s_fixed = NULL;
    double theta[3], ssr = 0.0, x0 = 0.0, sign = maximize ? -1.0 : 1.0;
    double floor = c.has_bound ? sign * c.bound : -INFINITY;
    scaling__model_t power_model = {3, 1, power_eval, NULL};
    scaling__model_t fixed_model = {2, 1, power_fixed_eval, &floor};
    size_t n_ok = 0;
    bool on_grid = false;
    rng_t rng;
    int rc;

    memset(out, 0, sizeof(*out));
    out->E_lo = out->E_hi = out->A_lo = out->A_hi = out->alpha_lo = out->alpha_hi = NAN;
    out->E = out->A = out->alpha = out->rmse = out->c_min = out->c_max = NAN;
    out->bound = c.has_bound ? c.bound : NAN;
    out->drift = NAN;
    out->n = n;
    for (size_t i = 0; i < n; i++)
        if (!(isfinite(C[i]) && C[i] > 0.0 && isfinite(y[i])))
            return WHY(out, CARBS_ESTATE, "not enough data: point %zu has cost %g and output %g",
                       i, C[i], y[i]);
    x = carbs_malloc((n ? n : 1) * 5 * sizeof(double));
    Z = carbs_malloc((n ? n : 1) * 2 * sizeof(double));
    if (!x || !Z) {
        rc = WHY(out, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    fit = x + n;
    res = fit + n;
    ys = res + n;
    yl = ys + n;
    if (n_distinct(C, n, Z) < SCALING_MIN_FRONT) {
        rc = WHY(out, CARBS_ESTATE, "not enough data: %zu distinct costs on the front, need %d",
                 n ? n_distinct(C, n, Z) : 0, SCALING_MIN_FRONT);
        goto out;
    }
    out->c_min = INFINITY;
    out->c_max = 0.0;
    for (size_t i = 0; i < n; i++) {
        x0 += log(C[i]) / (double)n;
        out->c_min = fmin(out->c_min, C[i]);
        out->c_max = fmax(out->c_max, C[i]);
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = log(C[i]) - x0;
        yl[i] = sign * y[i];
    }
    s = scaling__nls_new(&power_model, n);
    s_fixed = isfinite(floor) ? scaling__nls_new(&fixed_model, n) : NULL;
    if (!s || (isfinite(floor) && !s_fixed)) {
        rc = WHY(out, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    rc = power_start(x, yl, n, floor, Z, theta, &ssr);
    if (!rc)
        rc = power_solve(s, s_fixed, x, yl, n, floor, &c, Z, theta, &ssr, &on_grid);
    if (rc) {
        rc = WHY(out, CARBS_ENOCONV, "cannot predict: the law did not converge (%s)",
                 carbs_strerror(rc));
        goto out;
    }
    out->E = sign * theta[0];
    out->A = sign * theta[1] * exp(theta[2] * x0);
    out->alpha = theta[2];
    out->rmse = sqrt(ssr / (double)n);

    /* Residual bootstrap: refit to fitted + resampled residuals, inflated by
     * sqrt(n / (n - p)) so their spread estimates the noise, not the smaller
     * spread left after fitting p parameters.  Needs n > p. */
    if (n_boot && n > 3) {
        double g[3], infl = sqrt((double)n / (double)(n - 3));
        out->boot = carbs_malloc(n_boot * 3 * sizeof(double));
        col = carbs_malloc(n_boot * sizeof(double));
        if (!out->boot || !col) {
            rc = WHY(out, CARBS_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            power_eval(theta, &x[i], NULL, &fit[i], g);
            res[i] = (yl[i] - fit[i]) * infl;
        }
        rng_seed(&rng, c.seed);
        for (size_t b = 0; b < n_boot; b++) {
            double th[3] = {theta[0], theta[1], theta[2]}, ssr_b;
            for (size_t i = 0; i < n; i++)
                ys[i] = fit[i] + res[rng_below(&rng, n)];
            bool b_grid;
            if (power_solve(s, s_fixed, x, ys, n, floor, &c, Z, th, &ssr_b, &b_grid))
                continue;
            out->boot[3 * n_ok] = sign * th[0];
            out->boot[3 * n_ok + 1] = sign * th[1] * exp(th[2] * x0);
            out->boot[3 * n_ok + 2] = th[2];
            n_ok++;
        }
        out->n_boot = n_ok;
        scaling__power_intervals(out, c.level, col);
    }
    rc = 0;
    if (on_grid)
        rc = WHY(out, CARBS_ESTATE,
                 "cannot predict: the best metric does not follow a power law in cost yet "
                 "(least squares leaves %g <= alpha <= %g)",
                 SCALING__EXP_MIN, SCALING__EXP_MAX);
out:
    if (rc && rc != CARBS_ESTATE) {
        free(out->boot);
        out->boot = NULL;
        out->n_boot = 0;
    }
    scaling__nls_free(s);
    scaling__nls_free(s_fixed);
    free(x);
    free(Z);
    free(col);
    return rc;
}

void scaling_power_predict(const laws_power_t *p, double level, double C, double *mid,
                           double *lo, double *hi)
{
    double *v;

    *mid = *lo = *hi = NAN;
    if (!(C > 0.0) || !isfinite(p->E) || !isfinite(p->A) || !isfinite(p->alpha))
        return;
    /* a law that failed its checks interpolates, never extrapolates */
    if (p->status && !(C <= p->c_max * (1.0 + 1e-9)))
        return;
    *mid = p->E + p->A * pow(C, -p->alpha);
    if (!p->n_boot || !(level > 0.0 && level < 1.0))
        return;
    v = carbs_malloc(p->n_boot * sizeof(double));
    if (!v)
        return;
    for (size_t b = 0; b < p->n_boot; b++)
        v[b] = p->boot[3 * b] + p->boot[3 * b + 1] * pow(C, -p->boot[3 * b + 2]);
    scaling__percentiles(v, p->n_boot, level, lo, hi);
    free(v);
    /* beyond the data, widen by the model error the holdout measured */
    if (isfinite(p->drift) && C > p->c_max) {
        double w = p->drift * log(C / p->c_max) * fabs(*mid);
        *lo -= w;
        *hi += w;
        if (isfinite(p->bound) && p->A > 0.0)
            *lo = fmax(*lo, p->bound);
        else if (isfinite(p->bound))
            *hi = fmin(*hi, p->bound);
    }
}

// ---- lines in basic space ----

int scaling_line_fit(const double *x, const double *u, size_t n, double level, laws_line_t *out)
{
    double sx = 0.0, su = 0.0, sxx = 0.0, sxu = 0.0, suu = 0.0, ssr;
    size_t m = 0;

    out->status = 0;
    out->why[0] = '\0';
    out->intercept = out->slope = out->intercept_lo = out->intercept_hi = NAN;
    out->slope_lo = out->slope_hi = out->r2 = out->x_mean = out->sxx = out->sigma = NAN;
    out->t = out->exponent = NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(u[i])) {
            sx += x[i];
            su += u[i];
            m++;
        }
    out->n = m;
    if (m < SCALING_MIN_FRONT)
        return WHY(out, CARBS_ESTATE, "not enough data: %zu front points, need %d", m,
                   SCALING_MIN_FRONT);
    if (!(level > 0.0 && level < 1.0))
        return WHY(out, CARBS_EINVAL, "interval level %g is outside (0, 1)", level);
    double xm = sx / (double)m, um = su / (double)m;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(u[i])) {
            sxx += (x[i] - xm) * (x[i] - xm);
            sxu += (x[i] - xm) * (u[i] - um);
            suu += (u[i] - um) * (u[i] - um);
        }
    if (!(sxx > 0.0))
        return WHY(out, CARBS_ESTATE, "not enough data: every front point has the same cost");
    out->slope = sxu / sxx;
    out->intercept = um - out->slope * xm;
    ssr = fmax(suu - out->slope * sxu, 0.0);
    out->r2 = suu > 0.0 ? 1.0 - ssr / suu : NAN;
    out->x_mean = xm;
    out->sxx = sxx;
    out->sigma = sqrt(ssr / (double)(m - 2));
    out->t = gsl_cdf_tdist_Pinv(0.5 * (1.0 + level), (double)(m - 2));
    double se_slope = out->sigma / sqrt(sxx);
    double se_icpt = out->sigma * sqrt(1.0 / (double)m + xm * xm / sxx);
    out->slope_lo = out->slope - out->t * se_slope;
    out->slope_hi = out->slope + out->t * se_slope;
    out->intercept_lo = out->intercept - out->t * se_icpt;
    out->intercept_hi = out->intercept + out->t * se_icpt;
    return 0;
}

void scaling_line_predict(const laws_line_t *l, double C, double *mid, double *lo, double *hi)
{
    double x = log(C);

    *mid = *lo = *hi = NAN;
    if (l->status || !(C > 0.0))
        return;
    *mid = l->intercept + l->slope * x;
    double half = l->t * l->sigma *
                  sqrt(1.0 / (double)l->n + (x - l->x_mean) * (x - l->x_mean) / l->sxx);
    *lo = *mid - half;
    *hi = *mid + half;
}

// ---- L(N, D) = E + A N^-alpha + B D^-beta ----

/* theta = (E, A0, B0, alpha, beta); x = (ln N - xn0, ln D - xd0). */
static void nd_eval(const double *th, const double *x, const void *ctx, double *f, double *g)
{
    double en = exp(-th[3] * x[0]), ed = exp(-th[4] * x[1]);

    (void)ctx;

    *f = th[0] + th[1] * en + th[2] * ed;
    g[0] = 1.0;
    g[1] = en;
    g[2] = ed;
    g[3] = -th[1] * x[0] * en;
    g[4] = -th[2] * x[1] * ed;
}

static const scaling__model_t nd_model = {5, 2, nd_eval, NULL};

static int nd_start(const double *X, const double *y, size_t n, double *Z, double *theta,
                    double *ssr)
{
    double best = INFINITY;

    for (size_t ga = 0; ga < GRID_ND_N; ga++)
        for (size_t gb = 0; gb < GRID_ND_N; gb++) {
            double al = scaling__grid_exponent(ga, GRID_ND_N), be = scaling__grid_exponent(gb, GRID_ND_N), coef[3];
            for (size_t i = 0; i < n; i++) {
                Z[3 * i] = 1.0;
                Z[3 * i + 1] = exp(-al * X[2 * i]);
                Z[3 * i + 2] = exp(-be * X[2 * i + 1]);
            }
            double r = scaling__lsq_small(Z, y, NULL, n, 3, coef);
            if (r < best) {
                best = r;
                theta[0] = coef[0];
                theta[1] = coef[1];
                theta[2] = coef[2];
                theta[3] = al;
                theta[4] = be;
            }
        }
    *ssr = best;
    return isfinite(best) ? 0 : CARBS_EINVAL;
}

/* Polish theta[5] like power_solve(): exponents outside the grid's range,
 * or a fit that does not settle, fall back to the best grid point. */
static int nd_solve(scaling__nls_t *s, const double *X, const double *y, size_t n,
                    const scaling_config_t *c, double *Z, double *theta, double *ssr,
                    bool *on_grid)
{
    double th[5];
    int rc;

    memcpy(th, theta, sizeof(th));
    rc = scaling__nls_run(s, X, y, 5, c, th, ssr);
    *on_grid = false;
    if (rc == 0 && exp_in_range(th[3]) && exp_in_range(th[4])) {
        memcpy(theta, th, sizeof(th));
        return 0;
    }
    *on_grid = true;
    return nd_start(X, y, n, Z, theta, ssr);
}

/* nd_solve() as an expectile at c->nd_tau (weight tau above the law,
 * 1 - tau below; 0.5 is plain least squares): reweighted from the plain
 * fit until the weights settle.  w[n] is scratch. */
static int nd_solve_tau(scaling__nls_t *s, const double *X, const double *y, size_t n,
                        const scaling_config_t *c, double *Z, double *w, double *theta,
                        double *ssr, bool *on_grid)
{
    int rc = nd_solve(s, X, y, n, c, Z, theta, ssr, on_grid);

    for (size_t i = 0; i < n; i++)
        w[i] = -1.0;
    for (size_t round = 0; !rc && c->nd_tau < 0.5 && round < ND_IRLS_MAX; round++) {
        size_t changed = 0;
        for (size_t i = 0; i < n; i++) {
            double f, g[5];
            nd_eval(theta, X + 2 * i, NULL, &f, g);
            double wn = y[i] > f ? c->nd_tau : 1.0 - c->nd_tau;
            changed += wn != w[i];
            w[i] = wn;
        }
        if (!changed)
            break;
        scaling__nls_weights(s, w);
        rc = nd_solve(s, X, y, n, c, Z, theta, ssr, on_grid);
        scaling__nls_weights(s, NULL);
    }
    return rc;
}

/* The compute optimum of a fit in raw units: a, b and G, or NaN when the
 * law has none (exponents must be positive and both terms pull the same way). */
static void nd_exponents(double A, double B, double al, double be, double *a, double *b,
                         double *G)
{
    *a = *b = *G = NAN;
    if (!(al > 0.0 && be > 0.0 && A * B > 0.0))
        return;
    *a = be / (al + be);
    *b = al / (al + be);
    *G = pow(al * fabs(A) / (be * fabs(B)), 1.0 / (al + be));
}

int scaling_nd_fit(const double *N, const double *D, const double *y, size_t n,
                   const scaling_config_t *cfg, size_t n_boot, laws_nd_t *out)
{
    scaling_config_t c = scaling__config_resolve(cfg);
    double *X = NULL, *yv = NULL, *Z = NULL, *Xb = NULL, *yb = NULL, *cols = NULL, *W = NULL;
    scaling__nls_t *s = NULL;
    double theta[5], ssr, xn0 = 0.0, xd0 = 0.0;
    size_t m = 0, n_ok = 0;
    bool on_grid = false;
    rng_t rng;
    int rc;

    out->status = 0;
    out->why[0] = '\0';
    out->E = out->A = out->B = out->alpha = out->beta = out->rmse = NAN;
    out->a = out->b = out->G = NAN;
    out->alpha_lo = out->alpha_hi = out->beta_lo = out->beta_hi = NAN;
    out->a_lo = out->a_hi = out->b_lo = out->b_hi = NAN;
    out->n = 0;
    X = carbs_malloc((n ? n : 1) * 2 * sizeof(double));
    Xb = carbs_malloc((n ? n : 1) * 2 * sizeof(double));
    yv = carbs_malloc((n ? n : 1) * 3 * sizeof(double));
    Z = carbs_malloc((n ? n : 1) * 3 * sizeof(double));
    if (!X || !Xb || !yv || !Z) {
        rc = WHY(out, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    yb = yv + n;
    W = yb + n;
    for (size_t i = 0; i < n; i++)
        if (isfinite(N[i]) && N[i] > 0.0 && isfinite(D[i]) && D[i] > 0.0 && isfinite(y[i])) {
            X[2 * m] = log(N[i]);
            X[2 * m + 1] = log(D[i]);
            yv[m++] = y[i];
        }
    out->n = m;
    /* a uniform sample of max_trials rows (partial Fisher-Yates, a stream
     * of its own: the constant is an arbitrary odd 64-bit number, set
     * apart from the bootstrap's seed): unbiased, and the case bootstrap then
     * measures the larger spread of the smaller sample */
    if (m > c.max_trials) {
        rng_seed(&rng, c.seed ^ 0xd1b54a32d192ed03ull);
        for (size_t i = 0; i < c.max_trials; i++) {
            size_t j = i + rng_below(&rng, m - i);
            double t0 = X[2 * i], t1 = X[2 * i + 1], ty = yv[i];
            X[2 * i] = X[2 * j];
            X[2 * i + 1] = X[2 * j + 1];
            yv[i] = yv[j];
            X[2 * j] = t0;
            X[2 * j + 1] = t1;
            yv[j] = ty;
        }
        m = c.max_trials;
    }
    if (m < c.min_nd) {
        rc = WHY(out, CARBS_ESTATE,
                 "not enough data: %zu trials report a model size and tokens, need %zu", m,
                 c.min_nd);
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        Xb[i] = X[2 * i];
        Xb[m + i] = X[2 * i + 1];
    }
    if (n_distinct(Xb, m, Z) < 3 || n_distinct(Xb + m, m, Z) < 3) {
        rc = WHY(out, CARBS_ESTATE,
                 "not enough data: model size and tokens need 3 distinct values each");
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        xn0 += X[2 * i] / (double)m;
        xd0 += X[2 * i + 1] / (double)m;
    }
    for (size_t i = 0; i < m; i++) {
        X[2 * i] -= xn0;
        X[2 * i + 1] -= xd0;
    }
    s = scaling__nls_new(&nd_model, m);
    if (!s) {
        rc = WHY(out, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    rc = nd_start(X, yv, m, Z, theta, &ssr);
    if (!rc)
        rc = nd_solve_tau(s, X, yv, m, &c, Z, W, theta, &ssr, &on_grid);
    if (rc) {
        rc = WHY(out, CARBS_ENOCONV, "the model-size and tokens law did not converge (%s)",
                 carbs_strerror(rc));
        goto out;
    }
    if (on_grid)
        snprintf(out->why, sizeof(out->why),
                 "least squares leaves %g <= alpha, beta <= %g; they are the best of a grid in "
                 "that range",
                 SCALING__EXP_MIN, SCALING__EXP_MAX);
    out->E = theta[0];
    out->A = theta[1] * exp(theta[3] * xn0);
    out->B = theta[2] * exp(theta[4] * xd0);
    out->alpha = theta[3];
    out->beta = theta[4];
    /* the plain rmse: ssr of an expectile fit is weighted */
    ssr = 0.0;
    for (size_t i = 0; i < m; i++) {
        double f, g[5];
        nd_eval(theta, X + 2 * i, NULL, &f, g);
        ssr += (yv[i] - f) * (yv[i] - f);
    }
    out->rmse = sqrt(ssr / (double)m);
    nd_exponents(out->A, out->B, out->alpha, out->beta, &out->a, &out->b, &out->G);

    /* Case bootstrap: resample trials, refit from the point estimate. */
    if (n_boot) {
        cols = carbs_malloc(n_boot * 4 * sizeof(double));
        if (!cols) {
            rc = WHY(out, CARBS_ENOMEM, "out of memory");
            goto out;
        }
        /* a stream of its own, so the loss law's replicates do not shift
         * when this fit is added or dropped (the constant is 2^64 / phi) */
        rng_seed(&rng, c.seed ^ 0x9e3779b97f4a7c15ull);
        for (size_t b = 0; b < n_boot; b++) {
            double th[5], ssr_b, A, B, ea, eb, eg;
            memcpy(th, theta, sizeof(th));
            for (size_t i = 0; i < m; i++) {
                size_t j = rng_below(&rng, m);
                Xb[2 * i] = X[2 * j];
                Xb[2 * i + 1] = X[2 * j + 1];
                yb[i] = yv[j];
            }
            bool b_grid;
            if (nd_solve_tau(s, Xb, yb, m, &c, Z, W, th, &ssr_b, &b_grid))
                continue;
            A = th[1] * exp(th[3] * xn0);
            B = th[2] * exp(th[4] * xd0);
            nd_exponents(A, B, th[3], th[4], &ea, &eb, &eg);
            cols[n_ok] = th[3];
            cols[n_boot + n_ok] = th[4];
            cols[2 * n_boot + n_ok] = ea;
            cols[3 * n_boot + n_ok] = eb;
            n_ok++;
        }
        /* Intervals only when most replicates converged with an optimum. */
        double *lo[4] = {&out->alpha_lo, &out->beta_lo, &out->a_lo, &out->b_lo};
        double *hi[4] = {&out->alpha_hi, &out->beta_hi, &out->a_hi, &out->b_hi};
        for (size_t j = 0; j < 4; j++) {
            double *v = cols + j * n_boot;
            size_t k = 0;
            for (size_t b = 0; b < n_ok; b++)
                if (isfinite(v[b]))
                    v[k++] = v[b];
            if (2 * k >= n_boot)
                scaling__percentiles(v, k, c.level, lo[j], hi[j]);
        }
    }
    rc = 0;
out:
    scaling__nls_free(s);
    free(X);
    free(Xb);
    free(yv);
    free(Z);
    free(cols);
    return rc;
}

void scaling_nd_optimum(const laws_nd_t *nd, double C, double *N, double *D)
{
    *N = *D = NAN;
    if (nd->status || !isfinite(nd->a) || !(C > 0.0))
        return;
    *N = nd->G * pow(C / 6.0, nd->a);
    *D = C / (6.0 * *N);
}

