/*
 * scaling_nls.c - nonlinear least squares for the scaling-law fits: a thin
 * seam over GSL's gsl_multifit_nlinear (trust region, Levenberg-Marquardt
 * with geodesic-free default parameters) behind _set/_iterate/_test.
 *
 * Legend: n = points, p = parameters, X = (n, n_cov) covariates row-major,
 * y = targets, r = residual vector f(theta; X) - y, J = (n, p) Jacobian.
 * GSL code lives here and in no file that includes cblas.h: GSL ships a
 * cblas.h of its own that clashes with OpenBLAS's.
 */
#include "proto/common.h"
#include "optimizer/scaling_internal.h"

#include <math.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>

struct scaling__nls {
    scaling__model_t m;
    size_t n;
    const double *X, *y;
    const double *wt; /* n weights or NULL */
    double *grad; /* p scratch */
    gsl_multifit_nlinear_workspace *w;
    gsl_vector *x0;
    gsl_multifit_nlinear_fdf fdf;
};

// ---- GSL callbacks ----

static int nls_f(const gsl_vector *theta, void *params, gsl_vector *r)
{
    scaling__nls_t *s = params;

    for (size_t i = 0; i < s->n; i++) {
        double f;
        s->m.eval(theta->data, s->X + i * s->m.n_cov, s->m.ctx, &f, s->grad);
        gsl_vector_set(r, i, (s->wt ? sqrt(s->wt[i]) : 1.0) * (f - s->y[i]));
    }
    return GSL_SUCCESS;
}

static int nls_df(const gsl_vector *theta, void *params, gsl_matrix *J)
{
    scaling__nls_t *s = params;

    for (size_t i = 0; i < s->n; i++) {
        double f;
        double sw = s->wt ? sqrt(s->wt[i]) : 1.0;
        s->m.eval(theta->data, s->X + i * s->m.n_cov, s->m.ctx, &f, s->grad);
        for (size_t j = 0; j < s->m.p; j++)
            gsl_matrix_set(J, i, j, sw * s->grad[j]);
    }
    return GSL_SUCCESS;
}

// ---- life cycle ----

scaling__nls_t *scaling__nls_new(const scaling__model_t *m, size_t n)
{
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    scaling__nls_t *s;

    /* The normal equations by Cholesky, not GSL's default pivoted QR: the
     * steps cost n p^2 / 2 flops instead of 2 n p^2, and the trust
     * region's damping keeps them positive definite where J is nearly
     * rank deficient (the joint model's penalties on N and on D are
     * collinear at one cost). */
    params.solver = gsl_multifit_nlinear_solver_cholesky;

    if (n < m->p)
        return NULL;
    /* GSL's default handler aborts; the fits need its status codes back. */
    gsl_set_error_handler_off();
    s = carbs_malloc(sizeof(*s));
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->m = *m;
    s->n = n;
    s->grad = carbs_malloc(m->p * sizeof(double));
    s->w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, n, m->p);
    s->x0 = gsl_vector_alloc(m->p);
    if (!s->grad || !s->w || !s->x0) {
        scaling__nls_free(s);
        return NULL;
    }
    s->fdf.f = nls_f;
    s->fdf.df = nls_df;
    s->fdf.fvv = NULL;
    s->fdf.n = n;
    s->fdf.p = m->p;
    s->fdf.params = s;
    return s;
}

void scaling__nls_free(scaling__nls_t *s)
{
    if (!s)
        return;
    if (s->w)
        gsl_multifit_nlinear_free(s->w);
    if (s->x0)
        gsl_vector_free(s->x0);
    free(s->grad);
    free(s);
}

// ---- the iteration ----

void scaling__nls_weights(scaling__nls_t *s, const double *w)
{
    s->wt = w;
}

int scaling__nls_set(scaling__nls_t *s, const double *X, const double *y, const double *theta0)
{
    s->X = X;
    s->y = y;
    for (size_t j = 0; j < s->m.p; j++)
        gsl_vector_set(s->x0, j, theta0[j]);
    if (gsl_multifit_nlinear_init(s->x0, &s->fdf, s->w) != GSL_SUCCESS)
        return CARBS_EINVAL;
    gsl_vector *r = gsl_multifit_nlinear_residual(s->w);
    for (size_t i = 0; i < s->n; i++)
        if (!isfinite(gsl_vector_get(r, i)))
            return CARBS_EINVAL;
    return 0;
}

int scaling__nls_iterate(scaling__nls_t *s)
{
    return gsl_multifit_nlinear_iterate(s->w) == GSL_SUCCESS ? 0 : CARBS_ENOCONV;
}

int scaling__nls_test(scaling__nls_t *s, double xtol, double gtol)
{
    int info = 0;

    return gsl_multifit_nlinear_test(xtol, gtol, 0.0, &info, s->w) == GSL_SUCCESS
               ? 0
               : CARBS_CONTINUE;
}

void scaling__nls_position(const scaling__nls_t *s, double *theta, double *ssr)
{
    gsl_vector *x = gsl_multifit_nlinear_position(s->w);
    gsl_vector *r = gsl_multifit_nlinear_residual(s->w);
    double acc = 0.0;

    for (size_t j = 0; j < s->m.p; j++)
        theta[j] = gsl_vector_get(x, j);
    for (size_t i = 0; i < s->n; i++)
        acc += gsl_vector_get(r, i) * gsl_vector_get(r, i);
    *ssr = acc;
}
