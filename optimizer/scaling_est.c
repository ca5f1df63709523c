/*
 * scaling_est.c - the all-trials estimators of the best-metric law
 * (docs/scaling-laws.md "Estimators").
 *
 * Every successful trial lies on or above the true front L(C) = E + A C^-alpha
 * (in loss orientation): below it only by noise, above it by how badly its
 * hyperparameters were set.  The observed front keeps only the luckiest
 * trial near each cost, and a search has fewer trials at the dear end, so
 * the front sits further above L there and a law fitted to it is too flat.
 * Two estimators use every trial instead:
 *
 *   envelope  an expectile fit: asymmetric least squares with weight tau on
 *             the points above the law and 1 - tau below, so the law hugs
 *             the lower edge of the cloud (Newey & Powell 1987).  For fixed
 *             alpha it is a convex problem solved by reweighting; alpha is
 *             scanned on a grid and refined by golden section.
 *   joint     y = E + A0 e^(-alpha x)
 *                   + sum_j e^(s_j + c x) (u_j - a_j - b_j x)^2:
 *             every trial explains its gap to the front by its distance
 *             from the optimum of each parameter, the optimum a line in
 *             ln C (the lines CARBS reads off the front, here fitted to
 *             all trials at once), the curvatures free to change with
 *             cost at one rate c (they shrink with the reducible loss for
 *             model size and tokens, and wherever penalties scale the
 *             loss rather than add to it), and trials far above the law
 *             weighted down (robust_weights).  Fitted by backfitting from the
 *             envelope: the penalties by nonlinear least squares
 *             (scaling_nls.c) with the law held, then the law as an
 *             expectile of the trials with their penalties taken off, a
 *             few rounds.  Fitting all coefficients at once is degenerate:
 *             penalty lines that tilt with x mimic the law, and on the
 *             bench the law came out flat while the penalties took the
 *             decrease (errors of 80 % at 100x).
 *
 * Legend: n = trials, d = parameters, x = ln C - x0, y = metric in loss
 * orientation, u = basic coordinates, w = expectile weights,
 * theta = (E, A0, alpha, a_1, b_1, s_1, c_1, ...) with every c_j = c,
 * k_j = e^(s_j + c x) the penalty curvature.  Inside the joint model's
 * solver A0 travels as ln A0 (the law must improve with cost); theta as
 * returned holds A0 itself.
 */
#include "proto/common.h"
#include "optimizer/scaling.h"

#include <math.h>

#include "optimizer/scaling_internal.h"

/* The envelope's exponent grid, and the golden-section steps after it
 * (each shrinks the bracket by 0.618: 24 steps leave 1e-5 of it). */
#define ENV_GRID_N 48
#define ENV_GOLDEN_STEPS 24
/* Reweighting rounds per exponent; the weights settle in 5-15. */
#define ENV_IRLS_MAX 40
/* The smallest penalty curvature of the joint start, relative to the
 * metric's spread: a parameter that does not matter starts nearly flat. */
#define JOINT_K_MIN_REL 1e-4
/* Convergence of the penalty fits inside backfitting (scaling_nls.c's
 * xtol and gtol). */
#define JOINT_XTOL 1e-7
/* Cap on s_j so that e^(s_j) stays finite during a wild LM step. */
#define JOINT_S_MAX 40.0

// ---- the envelope ----

/* Weighted (E, A0) at the alpha of Z's columns (1, e^(-alpha x)) with
 * E >= floor, into coef[2]; returns the weighted sum of squares or NaN. */
static double env_solve(const scaling__data_t *dt, const double *w, const double *Z,
                        double *coef)
{
    double r = scaling__lsq_small(Z, dt->y, w, dt->n, 2, coef);
    if (isfinite(r) && coef[0] < dt->floor) {
        double num = 0.0, den = 0.0;
        coef[0] = dt->floor;
        for (size_t i = 0; i < dt->n; i++) {
            num += w[i] * Z[2 * i + 1] * (dt->y[i] - dt->floor);
            den += w[i] * Z[2 * i + 1] * Z[2 * i + 1];
        }
        coef[1] = num / den;
        r = 0.0;
        for (size_t i = 0; i < dt->n; i++) {
            double e = dt->y[i] - dt->floor - coef[1] * Z[2 * i + 1];
            r += w[i] * e * e;
        }
    }
    return r;
}

/* The expectile fit at fixed alpha: reweight until the weights settle,
 * starting from the weights w holds (those of a nearby alpha settle in a
 * round or two).  Returns the asymmetric loss, NaN when singular. */
static double env_at(const scaling__data_t *dt, double tau, double alpha, double *w, double *Z,
                     double *coef)
{
    double r = NAN;

    for (size_t i = 0; i < dt->n; i++) {
        Z[2 * i] = 1.0;
        Z[2 * i + 1] = exp(-alpha * dt->x[i]);
    }
    for (size_t it = 0; it < ENV_IRLS_MAX; it++) {
        size_t changed = 0;
        r = env_solve(dt, w, Z, coef);
        if (!isfinite(r))
            return NAN;
        for (size_t i = 0; i < dt->n; i++) {
            double f = coef[0] + coef[1] * Z[2 * i + 1];
            double wn = (dt->y[i] > f ? tau : 1.0 - tau) * scaling__wt(dt, i);
            changed += wn != w[i];
            w[i] = wn;
        }
        if (!changed)
            break;
    }
    return r;
}

/* Golden section on ln alpha over [lo, hi] from the loss at the ends'
 * interior points; returns the best alpha. */
static double env_golden(const scaling__data_t *dt, double tau, double lo, double hi, double *w,
                         double *Z, double *coef)
{
    const double gr = 0.5 * (sqrt(5.0) - 1.0);
    double a = hi - gr * (hi - lo), b = lo + gr * (hi - lo);
    double fa = env_at(dt, tau, exp(a), w, Z, coef), fb = env_at(dt, tau, exp(b), w, Z, coef);

    for (size_t it = 0; it < ENV_GOLDEN_STEPS && hi > lo; it++) {
        if (fa < fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - gr * (hi - lo);
            fa = env_at(dt, tau, exp(a), w, Z, coef);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + gr * (hi - lo);
            fb = env_at(dt, tau, exp(b), w, Z, coef);
        }
    }
    return exp(0.5 * (lo + hi));
}

int scaling__envelope(const scaling__data_t *dt, double tau, double hint, double *theta,
                      bool *edge)
{
    double *w = carbs_malloc((dt->n ? dt->n : 1) * 3 * sizeof(double));
    double best = INFINITY, coef[2], alpha = NAN;
    size_t g_best = 0;

    *edge = false;
    if (!w)
        return CARBS_ENOMEM;
    double *Z = w + dt->n;
    for (size_t i = 0; i < dt->n; i++)
        w[i] = 0.5 * scaling__wt(dt, i);
    /* near a known exponent (a bootstrap replicate, a later backfitting
     * round): a local search, unless it ends at its own edge */
    if (hint >= SCALING__EXP_MIN && hint <= SCALING__EXP_MAX) {
        double lo = log(fmax(hint / 1.5, SCALING__EXP_MIN));
        double hi = log(fmin(hint * 1.5, SCALING__EXP_MAX));
        alpha = env_golden(dt, tau, lo, hi, w, Z, coef);
        if (log(alpha) - lo < 0.01 * (hi - lo) || hi - log(alpha) < 0.01 * (hi - lo))
            alpha = NAN;
    }
    if (isnan(alpha)) {
        for (size_t g = 0; g < ENV_GRID_N; g++) {
            double r = env_at(dt, tau, scaling__grid_exponent(g, ENV_GRID_N), w, Z, coef);
            if (r < best) {
                best = r;
                g_best = g;
            }
        }
        if (!isfinite(best)) {
            free(w);
            return CARBS_EINVAL;
        }
        /* golden section on ln alpha between the grid neighbours */
        double lo = log(scaling__grid_exponent(g_best ? g_best - 1 : 0, ENV_GRID_N));
        double hi = log(scaling__grid_exponent(g_best + 1 < ENV_GRID_N ? g_best + 1 : g_best,
                                               ENV_GRID_N));
        alpha = env_golden(dt, tau, lo, hi, w, Z, coef);
        if (!(env_at(dt, tau, alpha, w, Z, coef) <= best))
            alpha = scaling__grid_exponent(g_best, ENV_GRID_N);
        *edge = g_best == 0 || g_best == ENV_GRID_N - 1;
    }
    if (!isfinite(env_at(dt, tau, alpha, w, Z, coef))) {
        free(w);
        return CARBS_EINVAL;
    }
    theta[0] = coef[0];
    theta[1] = coef[1];
    theta[2] = alpha;
    free(w);
    return 0;
}

// ---- the joint model ----

/* The penalty model's constants: d, and a cache of e^(s_j) for the s_j
 * last seen (the solver evaluates every row at one theta, so each is
 * computed once per theta, not once per row). */
typedef struct pen_ctx {
    size_t d;
    bool shared;        /* theta[3 d] is the curvatures' slope c; else c = 0 */
    double *s_seen, *k; /* d each, owned by the caller */
} pen_ctx_t;

static void pen_curvatures(const double *th, const pen_ctx_t *c)
{
    for (size_t j = 0; j < c->d; j++) {
        double s = th[3 * j + 2];
        if (s != c->s_seen[j]) {
            c->s_seen[j] = s;
            c->k[j] = exp(fmin(s, JOINT_S_MAX));
        }
    }
}

/* c_j held in its range: the value, and whether it is inside (its
 * gradient is 0 outside). */
static double curv_slope(double c, bool *inside)
{
    *inside = fabs(c) < SCALING__CURV_SLOPE_MAX;
    return fmin(fmax(c, -SCALING__CURV_SLOPE_MAX), SCALING__CURV_SLOPE_MAX);
}

/* The penalties alone, the law held: theta = (a_j, b_j, s_j) per
 * dimension, then the shared slope c when ctx->shared; covariates (x, u),
 * target the gap y - law.  ctx: a pen_ctx_t. */
static void pen_model(const double *th, const double *xr, const void *ctxp, double *f,
                      double *g)
{
    const pen_ctx_t *c = ctxp;
    double x = xr[0];

    pen_curvatures(th, c);
    *f = 0.0;
    if (c->shared)
        g[3 * c->d] = 0.0;
    for (size_t j = 0; j < c->d; j++) {
        const double *t = th + 3 * j;
        double *gj = g + 3 * j, u = xr[1 + j];
        bool in_c = false;
        if (isnan(u)) {
            gj[0] = gj[1] = gj[2] = 0.0;
            continue;
        }
        double cs = c->shared ? curv_slope(th[3 * c->d], &in_c) : 0.0;
        double k = c->k[j] * (cs != 0.0 ? exp(cs * x) : 1.0), r = u - t[0] - t[1] * x;
        *f += k * r * r;
        gj[0] = -2.0 * k * r;
        gj[1] = -2.0 * k * r * x;
        gj[2] = t[2] < JOINT_S_MAX ? k * r * r : 0.0;
        if (c->shared)
            g[3 * c->d] += in_c ? k * r * r * x : 0.0;
    }
}

double scaling__joint_eval(const double *theta, size_t d, const double *xrow)
{
    double x = xrow[0], f = theta[0] + theta[1] * exp(-theta[2] * x);

    for (size_t j = 0; j < d; j++) {
        const double *t = theta + 3 + SCALING__PEN * j;
        double u = xrow[1 + j], r = u - t[0] - t[1] * x;
        bool in_c;
        if (!isnan(u))
            f += exp(fmin(t[2], JOINT_S_MAX) + curv_slope(t[3], &in_c) * x) * r * r;
    }
    return f;
}

void scaling__joint_covariates(const scaling__data_t *dt, double *X)
{
    size_t m = 1 + dt->d;

    for (size_t i = 0; i < dt->n; i++) {
        X[i * m] = dt->x[i];
        for (size_t j = 0; j < dt->d; j++)
            X[i * m + 1 + j] = dt->u[i * dt->d + j];
    }
}

int scaling__joint_start(const scaling__data_t *dt, const size_t *front, size_t nf, double tau,
                         double *theta)
{
    bool edge;
    int rc = scaling__envelope(dt, tau, 0.0, theta, &edge);
    double ymin = INFINITY, ymax = -INFINITY;

    if (rc)
        return rc;
    for (size_t i = 0; i < dt->n; i++) {
        ymin = fmin(ymin, dt->y[i]);
        ymax = fmax(ymax, dt->y[i]);
    }
    for (size_t j = 0; j < dt->d; j++) {
        double *t = theta + 3 + SCALING__PEN * j;
        double sx = 0.0, su = 0.0, sxx = 0.0, sxu = 0.0, num = 0.0, den = 0.0;
        size_t m = 0;
        /* the front's line, or the mean of all trials when it has none */
        for (size_t q = 0; q < nf; q++) {
            double x = dt->x[front[q]], u = dt->u[front[q] * dt->d + j];
            if (isfinite(u)) {
                sx += x;
                su += u;
                m++;
            }
        }
        t[0] = t[1] = 0.0;
        if (m >= 3) {
            double xm = sx / (double)m, um = su / (double)m;
            for (size_t q = 0; q < nf; q++) {
                double x = dt->x[front[q]], u = dt->u[front[q] * dt->d + j];
                if (isfinite(u)) {
                    sxx += (x - xm) * (x - xm);
                    sxu += (x - xm) * (u - um);
                }
            }
            t[1] = sxx > 0.0 ? sxu / sxx : 0.0;
            t[0] = um - t[1] * xm;
        } else {
            for (size_t i = 0; i < dt->n; i++)
                if (isfinite(dt->u[i * dt->d + j])) {
                    su += dt->u[i * dt->d + j];
                    m++;
                }
            t[0] = m ? su / (double)m : 0.0;
        }
        /* curvature: residuals above the law against squared distance */
        for (size_t i = 0; i < dt->n; i++) {
            double u = dt->u[i * dt->d + j];
            if (!isfinite(u))
                continue;
            double r = dt->y[i] - (theta[0] + theta[1] * exp(-theta[2] * dt->x[i]));
            double q2 = (u - t[0] - t[1] * dt->x[i]) * (u - t[0] - t[1] * dt->x[i]);
            num += scaling__wt(dt, i) * r * q2;
            den += scaling__wt(dt, i) * q2 * q2;
        }
        double kmin = JOINT_K_MIN_REL * fmax(ymax - ymin, 1e-12);
        double k = den > 0.0 ? num / den / (double)(dt->d ? dt->d : 1) : kmin;
        t[2] = log(fmax(k, kmin));
        t[3] = 0.0;
    }
    return 0;
}

/* Most rounds of backfitting; from the envelope the law settles (moves by
 * less than 1e-3 of alpha) in three or four, from a replicate's point
 * estimate in one or two. */
#define JOINT_ROUNDS 6
/* The curvatures' slope c is one for all parameters (c_j = c), fitted
 * only with at least this many trials per coefficient of the joint model;
 * below, it is held at 0.  A slope is a second-order effect, and on few
 * trials it trades off against the lines: on the 33 noiseless trials of
 * tests/test_laws_cli.sh slopes free per parameter moved the model-size
 * line's exponent from 0.45 to 0.63.  On bench/laws_bench.c (20 sweeps
 * per surface) one shared slope beat one per parameter: error at 100x
 * 1.5 % either way, optimal lr 24 % against 29 %, and 4.5 % against 7.2 %
 * on the check surface `sat`. */
#define JOINT_CURV_MIN_PER_COEF 4

/* Trials far above the law: how far a quadratic penalty describes a
 * trial's gap is least sure for the worst (a learning rate near
 * divergence, a penalty that saturates), and a few of them can tilt the
 * law.  Each trial's weight is divided by 1 + (gap / (k m))^2, m the
 * median |gap| (a Cauchy weight, Holland & Welsch 1977); k = 0 turns it
 * off.  k = 3 is the one value tried: on bench/laws_bench.c (20 sweeps per
 * surface, 10 replicates, slopes per parameter) it moved the mean error at
 * 100x from 1.67 % to 1.49 % and the lr error from 31 % to 29 %. */
#define JOINT_ROBUST_SCALE 3.0

static int cmp_double(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;

    return (p > q) - (p < q);
}

/* rw[n] = case weight / (1 + (gap / (k median |gap|))^2); tmp[n] scratch. */
static void robust_weights(const scaling__data_t *dt, const double *gap, double k, double *rw,
                           double *tmp)
{
    size_t n = dt->n;

    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(gap[i]);
    qsort(tmp, n, sizeof(double), cmp_double);
    double m = n ? tmp[n / 2] : 0.0;
    for (size_t i = 0; i < n; i++) {
        double z = m > 0.0 ? gap[i] / (k * m) : 0.0;
        rw[i] = scaling__wt(dt, i) / (1.0 + z * z);
    }
}

int scaling__joint(const scaling__data_t *dt, const scaling_config_t *c, const double *X,
                   double *theta, double *ssr, bool *edge)
{
    size_t d = dt->d, n = dt->n, m = 1 + d;
    scaling__nls_t *s = NULL;
    bool shared = n >= JOINT_CURV_MIN_PER_COEF * SCALING__THETA(d);
    size_t pp = 3 * d + shared;
    double *gap = carbs_malloc(((n ? n : 1) * 2 + 2 * pp + 2 * d) * sizeof(double));
    pen_ctx_t pc = {.d = d, .shared = shared};
    scaling__model_t pm = {pp, m, pen_model, &pc};
    scaling__data_t dc = *dt;
    int rc = 0;

    *edge = false;
    if (!gap)
        return CARBS_ENOMEM;
    double *yc = gap + n, *gr = yc + n;
    double *tp = gr + pp; /* the penalties' numbers as the solver sees them */
    pc.s_seen = tp + pp;
    pc.k = pc.s_seen + d;
    for (size_t j = 0; j < d; j++)
        pc.s_seen[j] = NAN; /* never equal: the first row computes k */
    /* too few trials for the penalties: the law is the envelope, the
     * lines the start's (the front's) */
    if (n < SCALING__PEN * d + 1)
        d = 0;
    if (d && !(s = scaling__nls_new(&pm, n))) {
        free(gap);
        return CARBS_ENOMEM;
    }
    double *rw = NULL;
    if (d && JOINT_ROBUST_SCALE > 0.0) {
        if (!(rw = carbs_malloc(n * sizeof(double)))) {
            scaling__nls_free(s);
            free(gap);
            return CARBS_ENOMEM;
        }
        dc.wt = rw;
    }
    if (s)
        scaling__nls_weights(s, rw ? rw : dt->wt);
    dc.y = yc;
    /* the penalties need not be exact between rounds: the law's next
     * refit moves them again */
    scaling_config_t loose = *c;
    loose.xtol = fmax(c->xtol, JOINT_XTOL);
    loose.gtol = fmax(c->gtol, JOINT_XTOL);
    for (size_t round = 0; round < JOINT_ROUNDS && d; round++) {
        double pssr;
        for (size_t i = 0; i < n; i++)
            gap[i] = dt->y[i] - (theta[0] + theta[1] * exp(-theta[2] * dt->x[i]));
        if (rw)
            robust_weights(dt, gap, JOINT_ROBUST_SCALE, rw, yc);
        for (size_t j = 0; j < d; j++)
            memcpy(tp + 3 * j, theta + 3 + SCALING__PEN * j, 3 * sizeof(double));
        if (shared)
            tp[3 * d] = theta[3 + 3]; /* every c_j holds the shared slope */
        rc = scaling__nls_run(s, X, gap, pp, &loose, tp, &pssr);
        if (rc && rc != CARBS_ENOCONV)
            break;
        rc = 0;
        for (size_t j = 0; j < d; j++) {
            memcpy(theta + 3 + SCALING__PEN * j, tp + 3 * j, 3 * sizeof(double));
            theta[3 + SCALING__PEN * j + 3] = shared ? tp[3 * d] : 0.0;
        }
        for (size_t i = 0; i < n; i++) {
            double f;
            pen_model(tp, X + i * m, &pc, &f, gr);
            yc[i] = dt->y[i] - f;
        }
        double E_old = theta[0], alpha_old = theta[2];
        if ((rc = scaling__envelope(&dc, c->joint_tau, theta[2], theta, edge)))
            break;
        /* settled: the law moved by less than its own digits matter */
        if (fabs(theta[2] - alpha_old) < 1e-3 * alpha_old &&
            fabs(theta[0] - E_old) < 1e-4 * (fabs(E_old) + 1e-12))
            break;
    }
    *ssr = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = dt->y[i] - scaling__joint_eval(theta, dt->d, X + i * m);
        *ssr += scaling__wt(dt, i) * e * e;
    }
    scaling__nls_free(s);
    free(rw);
    free(gap);
    return rc;
}
