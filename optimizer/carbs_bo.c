/*
 * carbs_bo.c - the BO suggestion of CARBS (docs/algorithm.md: Surrogates,
 * Pareto, Acquisition): warp outputs and scale costs, fit the output, cost,
 * success and Pareto-front GPs, fold the pending suggestions in as fantasies,
 * draw candidates around the Pareto representatives, and return the candidate
 * with the largest EI x prior weight x success probability x cost mask.
 *
 * Fixed relative to the reference (docs/algorithm.md "Deviations"): success
 * probability Phi(-mu / sqrt v) (deviation 1), Thompson fantasies drawn with
 * the fitted noise (deviation 2), candidates filtered before they are
 * weighted (deviation 7), every GP input centred on the mean fitted input so
 * the linear kernel term models a trend, not the distance from the
 * basic-space origin (deviation 18), MLE lengthscales adopted within a box
 * around r (the likelihood of a few warped outputs collapses them onto the
 * data), and past cfg.max_fit_observations successes the GPs are fitted on
 * the observations nearest the Pareto set.
 *
 * A section name at the start of a comment below ("Surrogates, step 4",
 * "Baseline and cost threshold") is a section of docs/algorithm.md.
 *
 * Legend: n = successes fitted, d = basic dims, q = pending points, m =
 * Pareto origins, M = candidates wanted, u = basic point, yo = sign * Q(y)
 * (warped output, larger is better), g = scaled log cost, P = success
 * probability, r = search radius, ubar = the mean fitted input (every GP
 * sees u - ubar).
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>

#include "optimizer/acq.h"
#include "optimizer/carbs_internal.h"
#include "optimizer/gp.h"
#include "optimizer/stats.h"
#include "optimizer/warp.h"

/* One BO call's working set, all in the handle's arena. */
typedef struct bo {
    size_t n, nf, q, m, M, d;
    size_t *fit;      /* n indices into S (all of S, or the local subset) */
    size_t *fit_f;    /* nf indices into F */
    double *X, *yo, *yc; /* (n + q) x d inputs, n + q warped outputs, n scaled costs */
    double *Xs, *ys;  /* (n + nf) x d inputs and -1/+1 labels of the success GP */
    double *gm, *ym;  /* Pareto members: scaled cost and warped output */
    double *origins;  /* m x d */
    double *cand;     /* M x d */
    double *cz;       /* M x d: the candidates minus ubar, as the GPs see them */
    double *ubar;     /* d */
    double *th;       /* d + 3: hyperparameter scratch of fit_slot */
    double *wgt, *mu, *var, *gh, *base, *ps, *acq, *dist;
    size_t kept;         /* valid candidates drawn, <= M */
    costscale_t cs;      /* the cost transform of this call */
    double g_lo, g_hi;   /* the scaled-cost range of the front members */
    gp_t *gpo, *gpc;     /* output (with fantasies once added) and cost GPs */
    gp_t *gps, *gpf;     /* success GP (NULL without failures) and front GP */
} bo_t;

// ---- helpers ----

static gp_fit_mode_t fit_mode(const carbs_t *c)
{
    return c->cfg.gp_fit == CARBS_GP_FIT_REFERENCE ? GP_FIT_REFERENCE : GP_FIT_MLE;
}

/* The GP in slot k, created on first use. */
static gp_t *gp_slot(carbs_t *c, size_t k, gp_kernel_t kernel, size_t d, carbs_err_t *err)
{
    gp_config_t gc;

    if (c->gp[k])
        return c->gp[k];
    memset(&gc, 0, sizeof(gc));
    gc.kernel = kernel;
    gc.fit = fit_mode(c);
    gc.lengthscale0 = kernel == GP_KERNEL_MAIN ? c->cfg.initial_search_radius : 0;
    gp_config_defaults(&gc);
    c->gp[k] = gp_new(&gc, d, err);
    return c->gp[k];
}

/* Clamp the lengthscales of th (n_theta values, log scale) into the box of
 * docs/algorithm.md "Deviations" (MLE mode only).  Returns whether any
 * moved. */
static bool box_theta(const carbs_t *c, gp_kernel_t kernel, double *th, size_t nt)
{
    const double r = c->cfg.initial_search_radius;
    size_t n_var = kernel == GP_KERNEL_MAIN ? 2 : 1;
    double lo, hi;
    bool moved = false;

    if (kernel == GP_KERNEL_MAIN) {
        lo = log(CARBS_LENGTHSCALE_MIN_R * r);
        hi = log(CARBS_LENGTHSCALE_MAX_R * r);
    } else {
        lo = log(CARBS_PARETO_LENGTHSCALE_MIN);
        hi = log(CARBS_PARETO_LENGTHSCALE_MAX);
    }
    for (size_t j = n_var; j + 1 < nt; j++) {
        double v = fmin(fmax(th[j], lo), hi);

        moved |= v != th[j];
        th[j] = v;
    }
    return moved;
}

/* Free the coordinates of a warm start that sit on the theta bound, where the
 * fitter's gradient is zero: they restart from the initial value of
 * docs/algorithm.md, Kernels (variance 1, lengthscale r).  Anything else is
 * kept, so a warm start near the last optimum converges in a few iterations. */
static void unstick(const gp_t *gp, gp_kernel_t kernel, double *th, size_t nt)
{
    const gp_config_t *gc = gp_config(gp);
    size_t n_var = kernel == GP_KERNEL_MAIN ? 2 : 1;

    for (size_t j = 0; j + 1 < nt; j++)
        if (fabs(th[j]) >= gc->theta_bound * (1 - CARBS_THETA_EDGE))
            th[j] = j < n_var ? 0.0 : log(gc->lengthscale0);
}

/* Fit GP slot k on (X, y).  MLE mode starts from the slot's last optimum
 * (a warm start, unstuck) and adopts the optimum with its lengthscales
 * boxed, but keeps the unboxed optimum as the next warm start: started
 * from the box edge, BFGS would walk back to the same optimum outside it
 * at every suggestion, which costs its whole iteration budget.  The
 * reference starts every fit afresh, with a random noise draw, and is not
 * boxed.  th is scratch of gp_n_theta_for(kernel, d) doubles.  Returns 0,
 * 1 when the kernel matrix cannot be factored (the caller falls back), or
 * CARBS_ENOMEM. */
static int fit_slot(carbs_t *c, size_t k, gp_kernel_t kernel, const double *X, const double *y,
                    size_t n, size_t d, double *th, gp_t **out, carbs_err_t *err)
{
    gp_t *gp = gp_slot(c, k, kernel, d, err);
    const double *theta0 = NULL;
    size_t nt;
    bool mle = fit_mode(c) == GP_FIT_MLE;
    int rc;

    *out = NULL;
    if (!gp)
        return err && err->code == CARBS_ENOMEM ? CARBS_ENOMEM : 1;
    nt = gp_n_theta(gp);
    if (mle && c->hyper[k] && c->hyper_n[k] == nt) {
        memcpy(th, c->hyper[k], nt * sizeof(double));
        unstick(gp, kernel, th, nt);
        theta0 = th;
    }
    rc = gp_refit(gp, X, y, n, theta0, theta0 ? nt : 0, &c->rng, err);
    if (rc == CARBS_ENOMEM)
        return rc;
    if (rc < 0)
        return 1;
    if (carbs__hyper_set(c, k, gp_theta(gp), gp_n_theta(gp)) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
    if (mle) {
        memcpy(th, gp_theta(gp), nt * sizeof(double));
        if (box_theta(c, kernel, th, nt)) {
            rc = gp_set_theta(gp, th, nt, err);
            if (rc == CARBS_ENOMEM)
                return rc;
            if (rc < 0)
                return 1;
        }
    }
    *out = gp;
    return 0;
}

static double sq_dist(const double *a, const double *b, size_t d)
{
    double s = 0;

    for (size_t i = 0; i < d; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

typedef struct by_dist {
    const double *dist;
} by_dist_t;

static int cmp_by_dist(const void *a, const void *b, void *arg)
{
    const double *dist = ((const by_dist_t *)arg)->dist;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;

    if (dist[i] != dist[j])
        return dist[i] < dist[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static int cmp_size(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return (i > j) - (i < j);
}

/* Choose up to cap of the n points P (rows of d) nearest to the origins into
 * idx (in ascending index order); all of them when cap is 0 or >= n.
 * Returns how many were chosen.  dist is scratch of n doubles. */
static size_t local_subset(const double *P, size_t n, size_t d, const double *origins, size_t m,
                           size_t cap, size_t *idx, double *dist)
{
    by_dist_t ctx = {dist};

    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    if (!cap || cap >= n)
        return n;
    for (size_t i = 0; i < n; i++) {
        dist[i] = INFINITY;
        for (size_t j = 0; j < m; j++) {
            double s = sq_dist(P + i * d, origins + j * d, d);
            if (s < dist[i])
                dist[i] = s;
        }
    }
    qsort_r(idx, n, sizeof(*idx), cmp_by_dist, &ctx);
    qsort(idx, cap, sizeof(*idx), cmp_size);
    return cap;
}

// ---- the working set ----

static size_t bo_bytes(size_t n_s, size_t n_f, size_t q, size_t M, size_t d)
{
    size_t nn = n_s > n_f ? n_s : n_f, b = 0;

    b += 2 * arena_bytes(nn * sizeof(size_t));
    b += arena_bytes((n_s + q) * d * sizeof(double)) + 2 * arena_bytes((n_s + q) * sizeof(double));
    b += arena_bytes((n_s + n_f) * d * sizeof(double)) + arena_bytes((n_s + n_f) * sizeof(double));
    b += 2 * arena_bytes(n_s * sizeof(double));
    b += arena_bytes(n_s * d * sizeof(double));
    b += 2 * arena_bytes(M * d * sizeof(double)) + arena_bytes(d * sizeof(double));
    b += arena_bytes((d + 3) * sizeof(double));
    b += 8 * arena_bytes(M * sizeof(double));
    b += arena_bytes((nn + 1) * sizeof(double));
    return b;
}

static int bo_alloc(carbs_t *c, bo_t *b, carbs_err_t *err)
{
    size_t n_s = carbs__n_s(c), n_f = carbs_n_failure(c), q = carbs_n_pending(c), d = c->d;
    size_t M = (size_t)c->cfg.num_candidates_for_suggestion_per_dim * d;
    size_t nn = n_s > n_f ? n_s : n_f;
    arena_t *a = &c->arena;

    memset(b, 0, sizeof(*b));
    b->d = d;
    b->q = q;
    b->M = M;
    arena_reset(a);
    if (arena_reserve(a, bo_bytes(n_s, n_f, q, M, d)) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory for %zu candidates", M);
    b->fit = arena_push(a, (nn ? nn : 1) * sizeof(size_t));
    b->fit_f = arena_push(a, (nn ? nn : 1) * sizeof(size_t));
    b->X = arena_push_doubles(a, (n_s + q) * d);
    b->yo = arena_push_doubles(a, n_s + q);
    b->yc = arena_push_doubles(a, n_s + q);
    b->Xs = arena_push_doubles(a, (n_s + n_f) * d);
    b->ys = arena_push_doubles(a, n_s + n_f);
    b->gm = arena_push_doubles(a, n_s);
    b->ym = arena_push_doubles(a, n_s);
    b->origins = arena_push_doubles(a, n_s * d);
    b->cand = arena_push_doubles(a, M * d);
    b->cz = arena_push_doubles(a, M * d);
    b->ubar = arena_push_doubles(a, d);
    b->th = arena_push_doubles(a, d + 3);
    b->wgt = arena_push_doubles(a, M);
    b->mu = arena_push_doubles(a, M);
    b->var = arena_push_doubles(a, M);
    b->gh = arena_push_doubles(a, M);
    b->base = arena_push_doubles(a, M);
    b->ps = arena_push_doubles(a, M);
    b->acq = arena_push_doubles(a, M);
    b->dist = arena_push_doubles(a, nn + 1);
    /* every piece has room by construction (bo_bytes), a NULL is a bug */
    if (!b->fit || !b->fit_f || !b->X || !b->yo || !b->yc || !b->Xs || !b->ys || !b->gm ||
        !b->ym || !b->origins || !b->cand || !b->cz || !b->ubar || !b->th || !b->wgt || !b->mu || !b->var || !b->gh ||
        !b->base || !b->ps || !b->acq || !b->dist)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: scratch arena too small");
    return 0;
}

/* ubar = the mean of the n rows of X (n x d); then X -= ubar.  The Matern
 * term is translation invariant, the homogeneous linear term is not: on
 * centred inputs it is a linear trend through the data instead of a ray from
 * the basic-space origin, whose prior variance grows with |u|^2
 * (deviation 18). */
static void center_inputs(double *X, size_t n, size_t d, double *ubar)
{
    for (size_t i = 0; i < d; i++) {
        double sum = 0;

        for (size_t a = 0; a < n; a++)
            sum += X[a * d + i];
        ubar[i] = sum / (double)n;
        for (size_t a = 0; a < n; a++)
            X[a * d + i] -= ubar[i];
    }
}

/* Z (m x d) = P - ubar. */
static void shift_rows(const double *P, size_t m, size_t d, const double *ubar, double *Z)
{
    for (size_t a = 0; a < m; a++)
        for (size_t i = 0; i < d; i++)
            Z[a * d + i] = P[a * d + i] - ubar[i];
}

// ---- candidates (docs/algorithm.md, Candidates) ----

/* Draw up to M valid candidates around the origins, weights taken on the
 * raw draw before rounding.  Returns how many were kept. */
static size_t draw_candidates(carbs_t *c, bo_t *b)
{
    const double r = c->cfg.initial_search_radius;
    uint64_t draws = (uint64_t)b->M * c->oversample;
    size_t kept = 0, d = b->d;

    if (draws > b->M + CARBS_DRAW_BUDGET / (d ? d : 1)) /* CARBS_DRAW_BUDGET */
        draws = b->M + CARBS_DRAW_BUDGET / (d ? d : 1);

    for (uint64_t k = 0; k < draws && kept < b->M; k++) {
        const double *a = b->origins + rng_below(&c->rng, b->m) * d;
        double *x = b->cand + kept * d;

        for (size_t i = 0; i < d; i++)
            x[i] = a[i] + r * rng_normal(&c->rng);
        b->wgt[kept] = acq_prior_weight(x, d, b->origins, b->m, r);
        space_round(c->space, x);
        if (space_valid(c->space, x))
            kept++;
    }
    if (kept < b->M && c->oversample < carbs__oversample_max(c))
        c->oversample *= 2;
    return kept;
}

// ---- the suggestion ----

/* Success probability from the success GP's posterior (docs/algorithm.md,
 * Surrogates, step 5, with the standard deviation where the reference
 * divides by the variance). */
static double p_success(double mu, double var)
{
    if (var > 0)
        return stats_norm_cdf(-mu / sqrt(var));
    return mu < 0 ? 1.0 : mu > 0 ? 0.0 : 0.5;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The output and cost transforms fitted on every success (docs/algorithm.md,
 * Output warping and cost scaling), the Pareto groups and their
 * representatives as origins (Pareto), the observations the GPs see
 * (docs/algorithm.md "Large n") and their centred inputs with warped outputs
 * and scaled costs. */
static int prepare(carbs_t *c, bo_t *b, carbs_err_t *err)
{
    const double sign = c->cfg.better_direction_sign;
    const size_t d = c->d, n_s = carbs__n_s(c), n_f = carbs_n_failure(c);

    if (warp_fit(&c->warp, c->s_y.v, n_s) < 0 || costscale_fit(&b->cs, c->s_c.v, n_s) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory warping outputs");
    if (carbs__pareto(c, c->cfg.is_pareto_group_selection_conservative,
                      c->cfg.min_pareto_cost_fraction) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory computing the pareto set");
    b->m = c->pareto.n_front;
    for (size_t k = 0; k < b->m; k++)
        memcpy(b->origins + k * d, c->s_u.v + c->pareto.group[c->pareto.front[k]].rep * d,
               d * sizeof(double));

    b->n = local_subset(c->s_u.v, n_s, d, b->origins, b->m, c->cfg.max_fit_observations, b->fit,
                        b->dist);
    b->nf = local_subset(c->f_u.v, n_f, d, b->origins, b->m, c->cfg.max_fit_observations,
                         b->fit_f, b->dist);
    for (size_t i = 0; i < b->n; i++) {
        size_t o = b->fit[i];

        memcpy(b->X + i * d, c->s_u.v + o * d, d * sizeof(double));
        b->yo[i] = sign * warp_forward(&c->warp, c->s_y.v[o]);
        b->yc[i] = costscale_forward(&b->cs, c->s_c.v[o]);
    }
    center_inputs(b->X, b->n, d, b->ubar);
    return 0;
}

/* Surrogates, step 4: the pending points fantasized from the output GP, then
 * a second output GP conditioned on fit and fantasies with the fitted
 * hyperparameters; b->gpo becomes that GP. */
static int add_fantasies(carbs_t *c, bo_t *b, carbs_err_t *err)
{
    const size_t d = b->d;
    double *wx = b->X + b->n * d, *wy = b->yo + b->n;
    int rc;

    shift_rows(c->w_u.v, b->q, d, b->ubar, wx);
    if (c->cfg.outstanding_suggestion_estimator == CARBS_ESTIMATOR_THOMPSON)
        rc = gp_sample(b->gpo, wx, b->q, gp_noise(b->gpo), &c->rng, wy, NULL, err);
    else
        rc = gp_predict(b->gpo, wx, b->q, wy, NULL);
    if (rc == CARBS_ENOMEM)
        return rc;
    if (rc < 0)
        return 1;
    if (!gp_slot(c, CARBS_N_SURROGATES, GP_KERNEL_MAIN, d, err))
        return err && err->code == CARBS_ENOMEM ? CARBS_ENOMEM : 1;
    b->gpo = c->gp[CARBS_N_SURROGATES];
    rc = gp_set_data(b->gpo, b->X, b->yo, b->n + b->q, err);
    if (rc == 0)
        rc = gp_set_theta(b->gpo, gp_theta(c->gp[CARBS_GP_OUTPUT]),
                          gp_n_theta(c->gp[CARBS_GP_OUTPUT]), err);
    if (rc == CARBS_ENOMEM)
        return rc;
    return rc < 0 ? 1 : 0;
}

/* Surrogates, step 5: the success GP on the fitted successes then failures,
 * -1 success / +1 failure; b->gps stays NULL without failures. */
static int fit_success(carbs_t *c, bo_t *b, carbs_err_t *err)
{
    const size_t d = b->d;

    if (!b->nf)
        return 0;
    for (size_t i = 0; i < b->n; i++) {
        memcpy(b->Xs + i * d, b->X + i * d, d * sizeof(double));
        b->ys[i] = -1;
    }
    for (size_t i = 0; i < b->nf; i++) {
        shift_rows(c->f_u.v + b->fit_f[i] * d, 1, d, b->ubar, b->Xs + (b->n + i) * d);
        b->ys[b->n + i] = 1;
    }
    return fit_slot(c, CARBS_GP_SUCCESS, GP_KERNEL_MAIN, b->Xs, b->ys, b->n + b->nf, d, b->th,
                    &b->gps, err);
}

/* Surrogates, step 6: the Pareto-front GP (scaled cost -> warped output) on
 * every member of the front groups; [g_lo, g_hi] is the cost range it saw. */
static int fit_front(carbs_t *c, bo_t *b, carbs_err_t *err)
{
    const double sign = c->cfg.better_direction_sign;
    size_t n_m = 0;

    b->g_lo = INFINITY;
    b->g_hi = -INFINITY;
    for (size_t k = 0; k < b->m; k++) {
        const pareto_group_t *g = &c->pareto.group[c->pareto.front[k]];

        for (size_t j = g->first; j < g->first + g->n; j++) {
            size_t o = c->pareto.member[j];

            b->gm[n_m] = costscale_forward(&b->cs, c->s_c.v[o]);
            b->ym[n_m] = sign * warp_forward(&c->warp, c->s_y.v[o]);
            b->g_lo = fmin(b->g_lo, b->gm[n_m]);
            b->g_hi = fmax(b->g_hi, b->gm[n_m]);
            n_m++;
        }
    }
    return fit_slot(c, CARBS_GP_PARETO, GP_KERNEL_RBF, b->gm, b->ym, n_m, 1, b->th, &b->gpf,
                    err);
}

/* Surrogates, steps 2-6: every surrogate, in the order that draws from the
 * generator. */
static int fit_models(carbs_t *c, bo_t *b, carbs_err_t *err)
{
    int rc;

    rc = fit_slot(c, CARBS_GP_OUTPUT, GP_KERNEL_MAIN, b->X, b->yo, b->n, b->d, b->th, &b->gpo,
                  err);
    if (rc == 0)
        rc = fit_slot(c, CARBS_GP_COST, GP_KERNEL_MAIN, b->X, b->yc, b->n, b->d, b->th, &b->gpc,
                      err);
    if (rc == 0 && b->q)
        rc = add_fantasies(c, b, err);
    if (rc == 0)
        rc = fit_success(c, b, err);
    if (rc == 0)
        rc = fit_front(c, b, err);
    return rc;
}

/* Baseline and cost threshold: the surrogates at the kept candidates: output
 * mean and variance (mu, var), raw cost prediction (gh), the front's value at
 * the clamped cost (base) and the success probability (ps).  Returns 0, or 1
 * when a prediction fails (the caller falls back). */
static int predict(bo_t *b)
{
    const size_t kept = b->kept;

    shift_rows(b->cand, kept, b->d, b->ubar, b->cz);
    if (gp_predict(b->gpo, b->cz, kept, b->mu, b->var) < 0 ||
        gp_predict(b->gpc, b->cz, kept, b->gh, NULL) < 0)
        return 1;
    for (size_t i = 0; i < kept; i++)
        b->gh[i] = clampd(b->gh[i], b->g_lo, b->g_hi);
    if (gp_predict(b->gpf, b->gh, kept, b->base, NULL) < 0)
        return 1;
    /* gh was clamped for the front lookup; the cost estimate needs the raw
     * prediction again */
    if (gp_predict(b->gpc, b->cz, kept, b->gh, NULL) < 0)
        return 1;
    /* P(success): mean into ps, variance into acq, then combined */
    if (b->gps) {
        if (gp_predict(b->gps, b->cz, kept, b->ps, b->acq) < 0)
            return 1;
        for (size_t i = 0; i < kept; i++)
            b->ps[i] = p_success(b->ps[i], b->acq[i]);
    } else {
        for (size_t i = 0; i < kept; i++)
            b->ps[i] = 1;
    }
    return 0;
}

/* Baseline and cost threshold: the baseline each candidate must improve on,
 * raised by the random cost threshold (clamped mode) or set to the best
 * output (always-max mode).  Returns 0, or 1 when the front GP cannot
 * predict. */
static int raise_baseline(carbs_t *c, bo_t *b)
{
    const pareto_group_t *first = &c->pareto.group[c->pareto.front[0]];
    const pareto_group_t *last = &c->pareto.group[c->pareto.front[b->m - 1]];
    const double cap = c->cfg.max_suggestion_cost;

    if (c->cfg.is_expected_improvement_pareto_value_clamped) {
        double l_lo = log(first->cost), l_hi = log(last->cost), cstar, gstar, fstar;

        if (isfinite(cap))
            l_hi = fmin(l_hi, log(cap));
        cstar = acq_cost_threshold(l_lo, l_hi, rng_uniform(&c->rng));
        gstar = clampd(costscale_forward(&b->cs, cstar), b->g_lo, b->g_hi);
        if (gp_predict(b->gpf, &gstar, 1, &fstar, NULL) < 0)
            return 1;
        for (size_t i = 0; i < b->kept; i++)
            b->base[i] = fmax(b->base[i], fstar);
    }
    if (c->cfg.is_expected_improvement_value_always_max) {
        double top = c->cfg.better_direction_sign * warp_forward(&c->warp, last->output);
        for (size_t i = 0; i < b->kept; i++)
            b->base[i] = top;
    }
    return 0;
}

/* Expected improvement and Winner: EI x prior weight x P x cost mask into
 * acq.  Returns how many candidates pass the cost cap. */
static size_t score(const carbs_t *c, bo_t *b)
{
    const double cap = c->cfg.max_suggestion_cost;
    size_t n_pass = 0;

    for (size_t i = 0; i < b->kept; i++) {
        double cost = costscale_inverse(&b->cs, b->gh[i]);
        bool pass = !isfinite(cap) || cost < cap;

        n_pass += pass;
        /* a masked candidate scores -1 so that it loses even to an EI of 0 */
        b->acq[i] = pass ? acq_ei(b->mu[i], b->var[i], b->base[i], c->cfg.exploration_bias) *
                               b->wgt[i] * b->ps[i]
                         : -1;
    }
    return n_pass;
}

int carbs__bo(carbs_t *c, double *u, carbs_suggestion_t *out, carbs_err_t *err)
{
    const double sign = c->cfg.better_direction_sign;
    size_t win;
    bo_t b;
    int rc;

    if (!carbs__n_s(c))
        return 0;
    rc = bo_alloc(c, &b, err);
    if (rc == 0)
        rc = prepare(c, &b, err);
    if (rc == 0)
        rc = fit_models(c, &b, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    b.kept = draw_candidates(c, &b);
    if (!b.kept || predict(&b) || raise_baseline(c, &b))
        return 0;
    if (!score(c, &b))
        return 0; /* nothing predicted under the cap: random fallback (docs/algorithm.md, Winner) */
    /* the first maximum wins */
    win = acq_argmax(b.acq, b.kept);
    memcpy(u, b.cand + win * b.d, b.d * sizeof(double));
    out->pred_output = warp_inverse(&c->warp, b.mu[win], sign);
    out->pred_cost = costscale_inverse(&b.cs, b.gh[win]);
    out->p_success = b.ps[win];
    return 1;
}
