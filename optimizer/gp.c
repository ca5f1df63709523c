/*
 * gp.c - the GP handle: configuration, data, the MAP loss with its analytic
 * gradient, adopting hyperparameters, prediction and sequential posterior
 * sampling (docs/algorithm.md, GP numerics).
 *
 * Loss and gradient (docs/algorithm.md, Fitting), with K = k(X, X) + (s + diag_jitter) I = L L^T,
 * alpha = K^-1 y and A = K^-1 - alpha alpha^T:
 *     loss = y.alpha / 2 + sum ln L_ii + ln s + (ln s - mu)^2 / (2 sd^2)
 *     d loss / d theta_j = tr(A dK/dtheta_j) / 2 (+ the prior terms for ln s,
 *     1 + (ln s - mu) / sd^2; dK/d ln s = s I).
 * K^-1 comes from dpotri on the factor (n^3 flops, about what the traces
 * would cost with n solves); the traces are one O(n^2 d) pass (gp_kernel.c).
 *
 * Legend: n = observations, d = input dims, m = test points, q = pending
 * points, theta = log-hyperparameters (noise last), s = noise variance,
 * L = lower Cholesky factor, alpha = K^-1 y, B = GP_PREDICT_BLOCK.
 */
#include "proto/common.h"
#include "optimizer/gp.h"

#include <math.h>

#include "optimizer/gp_internal.h"

// ---- configuration ----

void gp_config_defaults(gp_config_t *cfg)
{
    if (cfg->lengthscale0 == 0)
        cfg->lengthscale0 = cfg->kernel == GP_KERNEL_RBF ? GP_RBF_LENGTHSCALE0 : GP_LENGTHSCALE0;
    if (cfg->diag_jitter == 0)
        cfg->diag_jitter = GP_DIAG_JITTER;
    if (cfg->noise_median == 0)
        cfg->noise_median = GP_NOISE_MEDIAN;
    if (cfg->noise_sd == 0)
        cfg->noise_sd = GP_NOISE_SD;
    if (cfg->adam_lr == 0)
        cfg->adam_lr = GP_ADAM_LR;
    if (cfg->adam_beta1 == 0)
        cfg->adam_beta1 = GP_ADAM_BETA1;
    if (cfg->adam_beta2 == 0)
        cfg->adam_beta2 = GP_ADAM_BETA2;
    if (cfg->adam_eps == 0)
        cfg->adam_eps = GP_ADAM_EPS;
    if (cfg->adam_steps == 0)
        cfg->adam_steps = GP_ADAM_STEPS;
    if (cfg->mle_max_iter == 0)
        cfg->mle_max_iter = GP_MLE_MAX_ITER;
    if (cfg->mle_grad_tol == 0)
        cfg->mle_grad_tol = GP_MLE_GRAD_TOL;
    if (cfg->mle_step == 0)
        cfg->mle_step = GP_MLE_STEP;
    if (cfg->mle_line_tol == 0)
        cfg->mle_line_tol = GP_MLE_LINE_TOL;
    if (cfg->mle_loss_tol == 0)
        cfg->mle_loss_tol = GP_MLE_LOSS_TOL;
    if (cfg->theta_bound == 0)
        cfg->theta_bound = GP_THETA_BOUND;
    if (cfg->jitter.initial == 0)
        cfg->jitter.initial = LA_JITTER_INITIAL;
    if (cfg->jitter.growth == 0)
        cfg->jitter.growth = LA_JITTER_GROWTH;
    if (cfg->jitter.max_tries == 0)
        cfg->jitter.max_tries = LA_JITTER_TRIES;
}

static bool positive(double x)
{
    return isfinite(x) && x > 0;
}

int gp_config_check(const gp_config_t *cfg, carbs_err_t *err)
{
    gp_config_t c = *cfg;

    gp_config_defaults(&c);
    if (c.kernel != GP_KERNEL_MAIN && c.kernel != GP_KERNEL_RBF)
        return carbs_fail(err, CARBS_EINVAL, "gp: unknown kernel %d", (int)c.kernel);
    if (c.fit != GP_FIT_REFERENCE && c.fit != GP_FIT_MLE && c.fit != GP_FIT_NONE)
        return carbs_fail(err, CARBS_EINVAL, "gp: unknown fit mode %d", (int)c.fit);
    if (!positive(c.lengthscale0))
        return carbs_fail(err, CARBS_EINVAL, "gp: lengthscale0 must be positive");
    if (!(isfinite(c.diag_jitter) && c.diag_jitter >= 0))
        return carbs_fail(err, CARBS_EINVAL, "gp: diag_jitter must be finite and >= 0");
    if (!positive(c.noise_median) || !positive(c.noise_sd))
        return carbs_fail(err, CARBS_EINVAL, "gp: noise_median and noise_sd must be positive");
    if (!positive(c.adam_lr) || !positive(c.adam_eps))
        return carbs_fail(err, CARBS_EINVAL, "gp: adam_lr and adam_eps must be positive");
    if (!(c.adam_beta1 > 0 && c.adam_beta1 < 1) || !(c.adam_beta2 > 0 && c.adam_beta2 < 1))
        return carbs_fail(err, CARBS_EINVAL, "gp: adam betas must lie in (0, 1)");
    if (!positive(c.mle_grad_tol) || !positive(c.mle_step) || !positive(c.mle_line_tol) ||
        !positive(c.mle_loss_tol))
        return carbs_fail(err, CARBS_EINVAL, "gp: mle tolerances and step must be positive");
    if (!positive(c.theta_bound) || c.theta_bound > 700)
        return carbs_fail(err, CARBS_EINVAL, "gp: theta_bound must lie in (0, 700]");
    if (!positive(c.jitter.initial) || !(c.jitter.growth > 1) || !isfinite(c.jitter.growth) ||
        c.jitter.max_tries < 0)
        return carbs_fail(err, CARBS_EINVAL, "gp: bad jitter policy");
    return CARBS_OK;
}

size_t gp_n_theta_for(gp_kernel_t kernel, size_t d)
{
    return kernel == GP_KERNEL_RBF ? 3 : d + 3;
}

double gp_noise_prior_draw(const gp_config_t *cfg, rng_t *rng)
{
    gp_config_t c = cfg ? *cfg : (gp_config_t){0};

    gp_config_defaults(&c);
    return exp(log(c.noise_median) + c.noise_sd * (rng ? rng_normal(rng) : 0.0));
}

void gp_theta_default(const gp_config_t *cfg, size_t d, rng_t *rng, double *theta)
{
    gp_config_t c = cfg ? *cfg : (gp_config_t){0};
    size_t nt;

    gp_config_defaults(&c);
    nt = gp_n_theta_for(c.kernel, d);
    for (size_t j = 0; j + 1 < nt; j++)
        theta[j] = 0.0; /* variances 1 */
    for (size_t j = c.kernel == GP_KERNEL_MAIN ? 2 : 1; j + 1 < nt; j++)
        theta[j] = log(c.lengthscale0);
    theta[nt - 1] = log(gp_noise_prior_draw(&c, rng));
}

// ---- handle ----

static void free_buffers(gp_t *gp)
{
    free(gp->X);
    free(gp->y);
    free(gp->G);
    free(gp->F);
    free(gp->L);
    free(gp->alpha);
    free(gp->Xf);
    free(gp->sqf);
}

void gp_free(gp_t *gp)
{
    if (!gp)
        return;
    free_buffers(gp);
    free(gp->theta);
    arena_release(&gp->arena);
    gp__fit_free(gp);
    free(gp);
}

gp_t *gp_new(const gp_config_t *cfg, size_t d, carbs_err_t *err)
{
    gp_config_t c = cfg ? *cfg : (gp_config_t){0};
    gp_t *gp;
    size_t nt;

    if (gp_config_check(&c, err) < 0)
        return NULL;
    if (!d || d > (size_t)1 << 20) {
        carbs_fail(err, CARBS_EINVAL, "gp: input dimension %zu out of range", d);
        return NULL;
    }
    la_single_thread();
    gp_config_defaults(&c);
    nt = gp_n_theta_for(c.kernel, d);
    gp = carbs_malloc(sizeof(*gp));
    if (!gp)
        goto nomem;
    memset(gp, 0, sizeof(*gp));
    arena_init(&gp->arena);
    gp->cfg = c;
    gp->d = d;
    gp->n_theta = nt;
    /* theta, th, th_best, grad, adam_m, adam_v, tmp, cache_th, cache_g: one block */
    gp->theta = carbs_malloc(9 * nt * sizeof(double));
    if (!gp->theta)
        goto nomem;
    memset(gp->theta, 0, 9 * nt * sizeof(double));
    gp->th = gp->theta + nt;
    gp->th_best = gp->theta + 2 * nt;
    gp->grad = gp->theta + 3 * nt;
    gp->adam_m = gp->theta + 4 * nt;
    gp->adam_v = gp->theta + 5 * nt;
    gp->tmp = gp->theta + 6 * nt;
    gp->cache_th = gp->theta + 7 * nt;
    gp->cache_g = gp->theta + 8 * nt;
    if (gp__fit_alloc(gp) < 0)
        goto nomem;
    return gp;
nomem:
    gp_free(gp);
    carbs_fail(err, CARBS_ENOMEM, "gp: out of memory for a gp in %zu dims", d);
    return NULL;
}

size_t gp_n_obs(const gp_t *gp)
{
    return gp->n;
}

size_t gp_n_theta(const gp_t *gp)
{
    return gp->n_theta;
}

const gp_config_t *gp_config(const gp_t *gp)
{
    return &gp->cfg;
}

const double *gp_theta(const gp_t *gp)
{
    return gp->theta;
}

double gp_noise(const gp_t *gp)
{
    return exp(gp->theta[gp->n_theta - 1]);
}

void gp_stats(const gp_t *gp, gp_stats_t *out)
{
    out->loss = gp->last_loss;
    out->loss0 = gp->loss0;
    out->jitter = gp->jitter;
    out->iterations = gp->iter;
    out->evals = gp->evals;
    out->converged = gp->converged;
}

// ---- data ----

/* Scratch one loss evaluation or one predict block takes from the arena. */
static size_t scratch_bytes(size_t n, size_t d)
{
    size_t loss = arena_bytes(n * d * sizeof(double)) + 2 * arena_bytes(n * sizeof(double));
    size_t pred = arena_bytes((GP_PREDICT_BLOCK * d + GP_PREDICT_BLOCK) * sizeof(double)) +
                  2 * arena_bytes(n * GP_PREDICT_BLOCK * sizeof(double));
    return loss > pred ? loss : pred;
}

static int grow(gp_t *gp, size_t n)
{
    size_t d = gp->d, cap = gp->cap + gp->cap / 4;
    double *X, *y, *G, *F, *L, *alpha, *Xf, *sqf;

    if (n <= gp->cap)
        return CARBS_OK;
    cap = cap > n ? cap : n;
    /* every buffer below is at most cap^2 or cap d doubles */
    if (cap > ((size_t)1 << 26) || cap > SIZE_MAX / sizeof(double) / d)
        return CARBS_ENOMEM;
    X = carbs_malloc(cap * d * sizeof(double));
    y = carbs_malloc(cap * sizeof(double));
    G = carbs_malloc(cap * cap * sizeof(double));
    F = carbs_malloc(cap * cap * sizeof(double));
    L = carbs_malloc(cap * cap * sizeof(double));
    alpha = carbs_malloc(cap * sizeof(double));
    Xf = carbs_malloc(cap * d * sizeof(double));
    sqf = carbs_malloc(cap * sizeof(double));
    if (!X || !y || !G || !F || !L || !alpha || !Xf || !sqf || arena_reserve(&gp->arena,
                                                                           scratch_bytes(cap, d))) {
        free(X);
        free(y);
        free(G);
        free(F);
        free(L);
        free(alpha);
        free(Xf);
        free(sqf);
        return CARBS_ENOMEM;
    }
    free_buffers(gp);
    gp->X = X;
    gp->y = y;
    gp->G = G;
    gp->F = F;
    gp->L = L;
    gp->alpha = alpha;
    gp->Xf = Xf;
    gp->sqf = sqf;
    gp->cap = cap;
    return CARBS_OK;
}

int gp_set_data(gp_t *gp, const double *X, const double *y, size_t n, carbs_err_t *err)
{
    size_t d = gp->d;

    gp->ready = false;
    gp->fitting = false;
    gp->cache_valid = false;
    gp->n = 0;
    if (!X || !y)
        return carbs_fail(err, CARBS_EINVAL, "gp: no data given");
    if (!n)
        return carbs_fail(err, CARBS_EINVAL, "gp: no observations");
    for (size_t a = 0; a < n; a++) {
        if (!isfinite(y[a]))
            return carbs_fail(err, CARBS_EINVAL, "gp: output %zu is not finite", a);
        for (size_t i = 0; i < d; i++)
            if (!isfinite(X[a * d + i]))
                return carbs_fail(err, CARBS_EINVAL, "gp: input %zu, dim %zu is not finite", a,
                                  i);
    }
    if (grow(gp, n) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "gp: out of memory for %zu observations", n);
    memcpy(gp->X, X, n * d * sizeof(double));
    memcpy(gp->y, y, n * sizeof(double));
    gp->n = n;
    return CARBS_OK;
}

// ---- loss and gradient ----

static int check_theta(const gp_t *gp, const double *theta, size_t n_theta, carbs_err_t *err)
{
    if (!theta || n_theta != gp->n_theta)
        return carbs_fail(err, CARBS_EINVAL, "gp: expected %zu hyperparameters, got %zu",
                          gp->n_theta, theta ? n_theta : 0);
    for (size_t j = 0; j < n_theta; j++)
        if (!isfinite(theta[j]))
            return carbs_fail(err, CARBS_EINVAL, "gp: hyperparameter %zu is not finite", j);
    return CARBS_OK;
}

static double prior_terms(const gp_config_t *c, double ln_s, double *dprior)
{
    double mu = log(c->noise_median), v = c->noise_sd * c->noise_sd;

    if (dprior)
        *dprior = 1.0 + (ln_s - mu) / v;
    return ln_s + (ln_s - mu) * (ln_s - mu) / (2.0 * v);
}

/* alpha = (L L^T)^-1 y, and y.alpha / 2 + sum ln L_ii. */
static double solve_and_fit_term(const double *L, size_t n, const double *y, double *alpha)
{
    double quad = 0.0;

    memcpy(alpha, y, n * sizeof(double));
    la_trsv(false, n, L, n, alpha);
    la_trsv(true, n, L, n, alpha);
    for (size_t a = 0; a < n; a++)
        quad += y[a] * alpha[a];
    return 0.5 * quad + 0.5 * la_logdet_chol(L, n, n);
}

int gp__loss_eval(gp_t *gp, const double *theta, double *loss, double *grad, double *jitter)
{
    const gp_config_t *c = &gp->cfg;
    size_t n = gp->n, d = gp->d, ns = gp->n_theta - 1;
    double s = exp(theta[ns]), jit = 0.0, dprior, *Xs, *sq, *alpha, *A = gp->F;
    int rc;

    arena_reset(&gp->arena);
    Xs = arena_push_doubles(&gp->arena, n * d);
    sq = arena_push_doubles(&gp->arena, n);
    alpha = arena_push_doubles(&gp->arena, n);
    if (!Xs || !sq || !alpha)
        return CARBS_ENOMEM;
    gp->evals++;
    gp__scale_inputs(c->kernel, theta, gp->X, n, d, Xs, sq);
    gp__gram(c->kernel, theta, gp->X, Xs, sq, n, d, gp->G);
    for (size_t a = 0; a < n; a++)
        gp->G[a * n + a] += s + c->diag_jitter;
    rc = la_chol_jitter(gp->G, n, gp->F, n, n, &c->jitter, &jit);
    if (rc < 0)
        return rc;
    if (jitter)
        *jitter = jit;
    *loss = solve_and_fit_term(gp->F, n, gp->y, alpha) + prior_terms(c, theta[ns], &dprior);
    if (!isfinite(*loss))
        return CARBS_ENOTPD;
    if (!grad)
        return CARBS_OK;
    rc = la_potri(A, n, n);
    if (rc < 0)
        return rc;
    double tr = 0.0;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++)
            A[a * n + b] -= alpha[a] * alpha[b];
        tr += A[a * n + a];
    }
    gp__grad_trace(c->kernel, theta, gp->X, Xs, n, d, A, grad);
    grad[ns] = 0.5 * s * tr + dprior;
    return CARBS_OK;
}

int gp_loss(gp_t *gp, const double *theta, double *loss, double *grad)
{
    if (!gp || !loss)
        return CARBS_EINVAL;
    if (!gp->n)
        return CARBS_ESTATE;
    if (check_theta(gp, theta, gp->n_theta, NULL) < 0)
        return CARBS_EINVAL;
    return gp__loss_eval(gp, theta, loss, grad, NULL);
}

// ---- adopting hyperparameters ----

int gp__adopt(gp_t *gp, const double *theta, carbs_err_t *err)
{
    const gp_config_t *c = &gp->cfg;
    size_t n = gp->n, d = gp->d, ns = gp->n_theta - 1;
    double s = exp(theta[ns]), jit = 0.0;
    int rc;

    gp->ready = false;
    gp__scale_inputs(c->kernel, theta, gp->X, n, d, gp->Xf, gp->sqf);
    gp__gram(c->kernel, theta, gp->X, gp->Xf, gp->sqf, n, d, gp->G);
    for (size_t a = 0; a < n; a++)
        gp->G[a * n + a] += s + c->diag_jitter;
    rc = la_chol_jitter(gp->G, n, gp->L, n, n, &c->jitter, &jit);
    if (rc < 0)
        return carbs_fail(err, rc, "gp: kernel matrix of %zu points is not positive definite",
                          n);
    gp->last_loss = solve_and_fit_term(gp->L, n, gp->y, gp->alpha) + prior_terms(c, theta[ns], NULL);
    if (!isfinite(gp->last_loss))
        return carbs_fail(err, CARBS_ENOTPD, "gp: kernel matrix of %zu points overflows", n);
    memmove(gp->theta, theta, gp->n_theta * sizeof(double));
    gp->jitter = jit;
    gp->ready = true;
    return CARBS_OK;
}

int gp_set_theta(gp_t *gp, const double *theta, size_t n_theta, carbs_err_t *err)
{
    int rc;

    if (!gp->n)
        return carbs_fail(err, CARBS_ESTATE, "gp: no data to fit");
    rc = check_theta(gp, theta, n_theta, err);
    if (rc < 0)
        return rc;
    gp->fitting = false;
    gp->iter = gp->evals = 0;
    gp->converged = false;
    rc = gp__adopt(gp, theta, err);
    gp->loss0 = gp->last_loss;
    return rc;
}

// ---- prediction ----

int gp_predict(gp_t *gp, const double *Z, size_t m, double *mu, double *var)
{
    const gp_config_t *c = &gp->cfg;
    size_t n = gp->n, d = gp->d;

    if (!gp->ready)
        return CARBS_ESTATE;
    if (!Z)
        return CARBS_EINVAL;
    for (size_t k = 0; k < m * d; k++)
        if (!isfinite(Z[k]))
            return CARBS_EINVAL;
    for (size_t j0 = 0; j0 < m; j0 += GP_PREDICT_BLOCK) {
        size_t mb = m - j0 < GP_PREDICT_BLOCK ? m - j0 : GP_PREDICT_BLOCK;
        const double *Zb = Z + j0 * d;
        double *Zs, *Kx, *D;

        arena_reset(&gp->arena);
        Zs = arena_push_doubles(&gp->arena, mb * d + mb);
        Kx = arena_push_doubles(&gp->arena, n * mb);
        D = arena_push_doubles(&gp->arena, n * mb);
        if (!Zs || !Kx || !D)
            return CARBS_ENOMEM; /* cannot happen: reserved by gp_set_data */
        gp__cross(c->kernel, gp->theta, gp->X, gp->Xf, gp->sqf, n, Zb, mb, d, Kx, D, Zs);
        if (mu)
            la_gemv(true, mb, n, 1.0, Kx, mb, gp->alpha, 0.0, mu + j0);
        if (!var)
            continue;
        la_trsm(false, n, mb, gp->L, n, Kx, mb);
        for (size_t j = 0; j < mb; j++) {
            double v = gp__kdiag(c->kernel, gp->theta, Zb + j * d, d);
            for (size_t a = 0; a < n; a++)
                v -= Kx[a * mb + j] * Kx[a * mb + j];
            var[j0 + j] = v > 0.0 ? v : 0.0;
        }
    }
    return CARBS_OK;
}

// ---- sequential posterior sampling ----

int gp_sample(gp_t *gp, const double *W, size_t q, double noise, rng_t *rng, double *y,
              bool *adopted, carbs_err_t *err)
{
    const gp_config_t *c = &gp->cfg;
    const double *theta = gp->theta;
    size_t n = gp->n, d = gp->d, N, m, *idx;
    double *Lq, *beta, *kv, logdet, jit;
    int rc;

    if (!gp->ready)
        return carbs_fail(err, CARBS_ESTATE, "gp: sample before a successful fit");
    if (!W || !y || !rng || !(isfinite(noise) && noise >= 0))
        return carbs_fail(err, CARBS_EINVAL, "gp: bad sample arguments");
    for (size_t k = 0; k < q * d; k++)
        if (!isfinite(W[k]))
            return carbs_fail(err, CARBS_EINVAL, "gp: pending point %zu is not finite", k / d);
    N = n + q;
    if (N > ((size_t)1 << 26) ||
        arena_reserve(&gp->arena, arena_bytes(N * N * sizeof(double)) +
                                      2 * arena_bytes(N * sizeof(double)) +
                                      arena_bytes(q * sizeof(size_t))) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "gp: out of memory sampling %zu points", q);
    arena_reset(&gp->arena);
    Lq = arena_push_doubles(&gp->arena, N * N);
    beta = arena_push_doubles(&gp->arena, N);
    kv = arena_push_doubles(&gp->arena, N);
    idx = arena_push(&gp->arena, q * sizeof(size_t));
    if (!Lq || !beta || !kv || (q && !idx))
        return carbs_fail(err, CARBS_ENOMEM, "gp: out of memory sampling %zu points", q);

    /* K0 = k(X, X) + noise I, factored into the leading n x n block of Lq */
    gp__gram(c->kernel, theta, gp->X, gp->Xf, gp->sqf, n, d, gp->G);
    for (size_t a = 0; a < n; a++)
        gp->G[a * n + a] += noise;
    rc = la_chol_jitter(gp->G, n, Lq, N, n, &c->jitter, &jit);
    if (rc < 0)
        return carbs_fail(err, rc, "gp: fantasy kernel matrix of %zu points is not positive "
                          "definite", n);
    memcpy(beta, gp->y, n * sizeof(double));
    la_trsv(false, n, Lq, N, beta); /* beta = L^-1 y: mean = l.beta */
    logdet = la_logdet_chol(Lq, n, N);
    m = n;
    for (size_t j = 0; j < q; j++) {
        const double *w = W + j * d;
        double mean = 0.0, ll = 0.0, var, yj, c2;
        bool take;

        for (size_t p = 0; p < m; p++) {
            const double *xp = p < n ? gp->X + p * d : W + idx[p - n] * d;
            kv[p] = gp__k(c->kernel, theta, xp, w, d);
        }
        la_trsv(false, m, Lq, N, kv);
        for (size_t p = 0; p < m; p++) {
            mean += kv[p] * beta[p];
            ll += kv[p] * kv[p];
        }
        var = gp__kdiag(c->kernel, theta, w, d) - ll;
        var = var > 0.0 ? var : 0.0;
        yj = mean + sqrt(var) * rng_normal(rng);
        c2 = gp__k(c->kernel, theta, w, w, d) + c->diag_jitter - ll;
        take = c2 > 0.0 && isfinite(c2) && logdet + log(c2) > GP_SAMPLE_LOGDET_MIN;
        if (take) {
            double cj = sqrt(c2);
            memcpy(Lq + m * N, kv, m * sizeof(double));
            Lq[m * N + m] = cj;
            beta[m] = (yj - mean) / cj;
            logdet += log(c2);
            idx[m - n] = j;
            m++;
        }
        y[j] = yj;
        if (adopted)
            adopted[j] = take;
    }
    return CARBS_OK;
}
