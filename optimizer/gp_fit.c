/*
 * gp_fit.c - fitting the GP hyperparameters (docs/algorithm.md, Fitting) as
 * an iteration the caller drives (docs/style.md H29), and gp_refit, the
 * loop.
 *
 * GP_FIT_REFERENCE is the reference's optimizer exactly: Adam (Kingma & Ba
 * 2015, with PyTorch's bias correction) on the MAP loss, lr 1e-4, betas
 * (0.9, 0.999), eps 1e-8, 1000 full-batch steps from a fresh state.
 * GP_FIT_MLE minimises the same loss with GSL's vector_bfgs2 (Fletcher's
 * line search) and keeps the best point any evaluation saw, so a line
 * search that wanders into a non-factorable K costs nothing.  Both see the
 * loss through clamp(theta, +-theta_bound) with the gradient of clamped
 * coordinates zeroed: flat outside the box, so nothing runs off to
 * infinity.  GP_FIT_NONE adopts theta0.
 *
 * This file includes GSL and must never include cblas.h (docs/platform.md,
 * Build gotchas).
 *
 * Legend: theta = log-hyperparameters, th = the iterate, g = gradient,
 * m/v = Adam moments, t = step count.
 */
#include "proto/common.h"
#include "optimizer/gp.h"

#include <math.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>

#include "optimizer/gp_internal.h"

typedef struct fit_gsl {
    gsl_multimin_fdfminimizer *min;
    gsl_vector *x;
    gsl_multimin_function_fdf fdf;
} fit_gsl_t;

// ---- the loss as the optimizers see it ----

/* Loss and gradient at clamp(theta); records the best point.  Returns 0 or
 * the loss evaluation's error (loss then +inf, gradient 0). */
static int eval_clamped(gp_t *gp, const double *theta, double *loss, double *grad)
{
    double bound = gp->cfg.theta_bound, *tc = gp->tmp;
    size_t nt = gp->n_theta;
    int rc;

    for (size_t j = 0; j < nt; j++)
        tc[j] = fmin(fmax(theta[j], -bound), bound);
    /* GSL re-evaluates the point it was started at: reuse that evaluation */
    if (grad && gp->cache_valid && memcmp(tc, gp->cache_th, nt * sizeof(double)) == 0) {
        *loss = gp->cache_loss;
        memcpy(grad, gp->cache_g, nt * sizeof(double));
        goto clamp_grad;
    }
    rc = gp__loss_eval(gp, tc, loss, grad, NULL);
    if (rc < 0) {
        *loss = INFINITY;
        for (size_t j = 0; grad && j < nt; j++)
            grad[j] = 0.0;
        return rc;
    }
    if (grad) {
        gp->cache_valid = true;
        gp->cache_loss = *loss;
        memcpy(gp->cache_th, tc, nt * sizeof(double));
        memcpy(gp->cache_g, grad, nt * sizeof(double));
    }
clamp_grad:
    for (size_t j = 0; grad && j < nt; j++)
        if (tc[j] != theta[j])
            grad[j] = 0.0;
    if (*loss < gp->best_loss) {
        gp->best_loss = *loss;
        memcpy(gp->th_best, tc, nt * sizeof(double));
    }
    return CARBS_OK;
}

static void gsl_fdf(const gsl_vector *x, void *params, double *f, gsl_vector *df)
{
    gp_t *gp = params;
    size_t nt = gp->n_theta;

    for (size_t j = 0; j < nt; j++)
        gp->th[j] = gsl_vector_get(x, j);
    (void)eval_clamped(gp, gp->th, f, gp->grad);
    for (size_t j = 0; j < nt; j++)
        gsl_vector_set(df, j, gp->grad[j]);
}

static double gsl_f(const gsl_vector *x, void *params)
{
    gp_t *gp = params;
    double f;

    for (size_t j = 0; j < gp->n_theta; j++)
        gp->th[j] = gsl_vector_get(x, j);
    (void)eval_clamped(gp, gp->th, &f, NULL);
    return f;
}

static void gsl_df(const gsl_vector *x, void *params, gsl_vector *df)
{
    double f;
    gsl_fdf(x, params, &f, df);
}

// ---- allocation ----

int gp__fit_alloc(gp_t *gp)
{
    fit_gsl_t *fg;

    /* GSL's default handler aborts; a daemon needs the status codes back. */
    gsl_set_error_handler_off();
    fg = carbs_malloc(sizeof(*fg));
    if (!fg)
        return CARBS_ENOMEM;
    memset(fg, 0, sizeof(*fg));
    gp->gsl = fg;
    fg->min = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2,
                                              gp->n_theta);
    fg->x = gsl_vector_alloc(gp->n_theta);
    if (!fg->min || !fg->x)
        return CARBS_ENOMEM;
    fg->fdf.n = gp->n_theta;
    fg->fdf.f = gsl_f;
    fg->fdf.df = gsl_df;
    fg->fdf.fdf = gsl_fdf;
    fg->fdf.params = gp;
    return CARBS_OK;
}

void gp__fit_free(gp_t *gp)
{
    fit_gsl_t *fg = gp->gsl;

    if (!fg)
        return;
    if (fg->min)
        gsl_multimin_fdfminimizer_free(fg->min);
    if (fg->x)
        gsl_vector_free(fg->x);
    free(fg);
    gp->gsl = NULL;
}

// ---- the iteration ----

/* The loss grows like n, and so does its curvature: a gradient of tol * n
 * leaves theta about tol from the optimum whatever n is. */
static double grad_tol(const gp_t *gp)
{
    return gp->cfg.mle_grad_tol * (double)gp->n;
}

static double grad_norm(const double *g, size_t k)
{
    double s = 0.0;
    for (size_t j = 0; j < k; j++)
        s += g[j] * g[j];
    return sqrt(s);
}

int gp_fit_set(gp_t *gp, const double *theta0, size_t n_theta0, rng_t *rng, carbs_err_t *err)
{
    const gp_config_t *c = &gp->cfg;
    fit_gsl_t *fg = gp->gsl;
    size_t nt = gp->n_theta;
    double loss;
    int rc;

    gp->fitting = false;
    gp->ready = false;
    if (!gp->n)
        return carbs_fail(err, CARBS_ESTATE, "gp: no data to fit");
    if (theta0) {
        if (n_theta0 != nt)
            return carbs_fail(err, CARBS_EINVAL, "gp: expected %zu hyperparameters, got %zu",
                              nt, n_theta0);
        for (size_t j = 0; j < nt; j++)
            if (!isfinite(theta0[j]))
                return carbs_fail(err, CARBS_EINVAL, "gp: hyperparameter %zu is not finite", j);
        memcpy(gp->th, theta0, nt * sizeof(double));
    } else {
        gp_theta_default(c, gp->d, rng, gp->th);
    }
    gp->iter = gp->evals = 0;
    gp->converged = gp->stopped = false;
    gp->best_loss = INFINITY;
    gp->cache_valid = false;
    rc = eval_clamped(gp, gp->th, &loss, gp->grad);
    if (rc < 0)
        return carbs_fail(err, rc, "gp: kernel matrix of %zu points is not positive definite "
                          "at the starting hyperparameters", gp->n);
    gp->loss0 = loss;
    gp->window_loss = loss;
    for (size_t j = 0; j < nt; j++)
        gp->th[j] = fmin(fmax(gp->th[j], -c->theta_bound), c->theta_bound);
    if (c->fit == GP_FIT_REFERENCE) {
        memset(gp->adam_m, 0, nt * sizeof(double));
        memset(gp->adam_v, 0, nt * sizeof(double));
    } else if (c->fit == GP_FIT_MLE) {
        /* a warm start that is already optimal costs one evaluation */
        if (grad_norm(gp->grad, nt) < grad_tol(gp)) {
            gp->converged = true;
        } else {
            for (size_t j = 0; j < nt; j++)
                gsl_vector_set(fg->x, j, gp->th[j]);
            if (gsl_multimin_fdfminimizer_set(fg->min, &fg->fdf, fg->x, c->mle_step,
                                              c->mle_line_tol) != GSL_SUCCESS)
                gp->stopped = true; /* keep theta0, the best so far */
        }
    }
    gp->fitting = true;
    return CARBS_OK;
}

static int adam_step(gp_t *gp, carbs_err_t *err)
{
    const gp_config_t *c = &gp->cfg;
    size_t nt = gp->n_theta;
    double loss, t, bc1, bc2;
    int rc;

    rc = eval_clamped(gp, gp->th, &loss, gp->grad);
    if (rc < 0)
        return carbs_fail(err, rc, "gp: kernel matrix not positive definite at Adam step %zu",
                          gp->iter + 1);
    gp->iter++;
    t = (double)gp->iter;
    bc1 = 1.0 - pow(c->adam_beta1, t);
    bc2 = 1.0 - pow(c->adam_beta2, t);
    for (size_t j = 0; j < nt; j++) {
        double g = gp->grad[j];
        gp->adam_m[j] = c->adam_beta1 * gp->adam_m[j] + (1.0 - c->adam_beta1) * g;
        gp->adam_v[j] = c->adam_beta2 * gp->adam_v[j] + (1.0 - c->adam_beta2) * g * g;
        gp->th[j] -= c->adam_lr / bc1 * gp->adam_m[j] / (sqrt(gp->adam_v[j] / bc2) + c->adam_eps);
    }
    return CARBS_OK;
}

int gp_fit_iterate(gp_t *gp, carbs_err_t *err)
{
    fit_gsl_t *fg = gp->gsl;

    if (!gp->fitting)
        return carbs_fail(err, CARBS_ESTATE, "gp: iterate without gp_fit_set");
    switch (gp->cfg.fit) {
    case GP_FIT_REFERENCE:
        return adam_step(gp, err);
    case GP_FIT_MLE:
        if (gp->stopped)
            return CARBS_OK;
        gp->iter++;
        /* GSL_ENOPROG and line-search failures end the run, not the fit */
        if (gsl_multimin_fdfminimizer_iterate(fg->min) != GSL_SUCCESS)
            gp->stopped = true;
        else if (gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(fg->min),
                                            grad_tol(gp)) == GSL_SUCCESS)
            gp->converged = true;
        if (gp->iter % GP_MLE_LOSS_WINDOW == 0) {
            if (gp->window_loss - gp->best_loss < gp->cfg.mle_loss_tol)
                gp->stopped = true;
            gp->window_loss = gp->best_loss;
        }
        return CARBS_OK;
    default:
        return CARBS_OK;
    }
}

int gp_fit_test(const gp_t *gp)
{
    if (!gp->fitting)
        return CARBS_ESTATE;
    switch (gp->cfg.fit) {
    case GP_FIT_REFERENCE:
        return gp->iter < gp->cfg.adam_steps ? CARBS_CONTINUE : CARBS_OK;
    case GP_FIT_MLE:
        if (gp->stopped || gp->converged || gp->iter >= gp->cfg.mle_max_iter)
            return CARBS_OK;
        return CARBS_CONTINUE;
    default:
        return CARBS_OK;
    }
}

int gp_fit_finish(gp_t *gp, carbs_err_t *err)
{
    const gp_config_t *c = &gp->cfg;
    size_t nt = gp->n_theta, iter = gp->iter, evals = gp->evals;
    double loss0 = gp->loss0;
    const double *theta = gp->th;
    int rc;

    if (!gp->fitting)
        return carbs_fail(err, CARBS_ESTATE, "gp: finish without gp_fit_set");
    gp->fitting = false;
    if (c->fit == GP_FIT_MLE) {
        theta = gp->th_best;
    } else {
        for (size_t j = 0; j < nt; j++)
            gp->th[j] = fmin(fmax(gp->th[j], -c->theta_bound), c->theta_bound);
    }
    rc = gp__adopt(gp, theta, err);
    gp->iter = iter;
    gp->evals = evals;
    gp->loss0 = loss0;
    return rc;
}

int gp_refit(gp_t *gp, const double *X, const double *y, size_t n, const double *theta0,
             size_t n_theta0, rng_t *rng, carbs_err_t *err)
{
    int rc = gp_set_data(gp, X, y, n, err);

    if (rc == 0)
        rc = gp_fit_set(gp, theta0, n_theta0, rng, err);
    while (rc == 0) {
        rc = gp_fit_test(gp);
        if (rc != CARBS_CONTINUE)
            break;
        rc = gp_fit_iterate(gp, err);
    }
    if (rc == 0)
        rc = gp_fit_finish(gp, err);
    return rc;
}
