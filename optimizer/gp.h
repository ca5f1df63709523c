/*
 * gp.h - Gaussian-process regression for the CARBS surrogates
 * (docs/algorithm.md, GP numerics).
 *
 * A gp_t holds n observations (X: n x d row-major, y: n) and, once fitted,
 * the hyperparameters theta and the Cholesky factor L of
 *
 *     K = k(X, X) + (s + diag_jitter) I,      alpha = K^-1 y.
 *
 * Kernels (mean function zero):
 *   GP_KERNEL_MAIN  k(u, v) = aL (u.v) + aM (1 + sqrt3 r) exp(-sqrt3 r),
 *                   r = sqrt(sum_i ((u_i - v_i) / l_i)^2 + 1e-12)
 *                   theta = (ln aL, ln aM, ln l_1 .. ln l_d, ln s): d + 3 values;
 *                   initial aL = aM = 1, l_i = lengthscale0 (the search radius).
 *   GP_KERNEL_RBF   k(g, h) = aR exp(-|g - h|^2 / (2 lR^2)) (the Pareto curve)
 *                   theta = (ln aR, ln lR, ln s): 3 values; initial aR = lR = 1.
 * s is the noise variance, with a LogNormal prior ln s ~ N(ln 0.01, 0.5^2);
 * its initial value is a draw from that prior (the reference's behaviour).
 *
 * Fitting minimises the MAP loss (docs/algorithm.md, Fitting) over theta
 * (up to constants):
 *     loss = y^T alpha / 2 + ln|K| / 2 + ln s + (ln s - mu)^2 / (2 sd^2)
 * with its analytic gradient.  Three modes: GP_FIT_REFERENCE is the
 * reference's fixed Adam run (lr 1e-4, 1000 steps: theta barely moves,
 * quirk 1); GP_FIT_MLE runs GSL's BFGS (vector_bfgs2) from theta0 (a warm
 * start when the caller passes the previous fit) for a bounded number of
 * iterations and keeps the best point it saw; GP_FIT_NONE adopts theta0 as
 * is, like the reference's "skip_training".
 *
 * Life cycle: gp_new -> (gp_refit | gp_set_data + gp_fit_set/_iterate/
 * _test/_finish | gp_set_data + gp_set_theta) -> gp_predict / gp_sample ...
 * Predictions are valid only after a successful fit; gp_set_data throws the
 * fit away.  The handle owns every buffer: they grow with n in gp_set_data,
 * and gp_predict never allocates.  Randomness comes from a caller's rng_t
 * (borrowed per call), so the caller's snapshot of its generator covers the
 * GP's draws too.  A gp_t is not thread-safe; distinct handles share nothing.
 *
 * Numeric code: nothing here logs.  gp_new() sets OpenBLAS to one thread and
 * turns GSL's abort-on-error handler off (both process-wide, idempotent):
 * a daemon must get GSL's status codes back, never an abort.
 */
#ifndef CARBS_OPTIMIZER_GP_H
#define CARBS_OPTIMIZER_GP_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/arena.h"
#include "optimizer/linalg.h"
#include "optimizer/rng.h"

typedef enum gp_kernel {
    GP_KERNEL_MAIN = 0, /* linear + Matern-3/2 with ARD lengthscales */
    GP_KERNEL_RBF = 1,  /* isotropic squared exponential */
} gp_kernel_t;

typedef enum gp_fit_mode {
    GP_FIT_REFERENCE = 0, /* the reference's Adam run, for parity */
    GP_FIT_MLE = 1,       /* BFGS to a local optimum of the same loss */
    GP_FIT_NONE = 2,      /* keep theta0 */
} gp_fit_mode_t;

/* Defaults (docs/algorithm.md, GP numerics: lengthscales under Kernels, the
 * jitter and the noise prior under Likelihood and noise prior, Adam under
 * Fitting).  A config field left 0 takes the matching default. */
#define GP_LENGTHSCALE0 0.3     /* main kernel: initial_search_radius */
#define GP_RBF_LENGTHSCALE0 1.0 /* RBF kernel */
#define GP_DIAG_JITTER 1e-4     /* fixed jitter added with the noise */
#define GP_NOISE_MEDIAN 0.01    /* LogNormal noise prior: exp(mu) */
#define GP_NOISE_SD 0.5         /* and the sd of ln s */
#define GP_ADAM_LR 1e-4         /* Adam as the reference runs it */
#define GP_ADAM_STEPS 1000
#define GP_ADAM_BETA1 0.9
#define GP_ADAM_BETA2 0.999
#define GP_ADAM_EPS 1e-8
/* BFGS: warm starts converge in a handful of iterations; 60 bounds a cold
 * start on a rough loss (each iteration costs one or two O(n^3) solves). */
#define GP_MLE_MAX_ITER 60
/* Stop when |grad loss| < this times n.  The loss and its curvature grow
 * like n, so this leaves theta about 1e-3 (log units) from the optimum,
 * far inside its statistical uncertainty (~1/sqrt n). */
#define GP_MLE_GRAD_TOL 1e-3
/* Also stop when the best loss fell by less than this over the last
 * GP_MLE_LOSS_WINDOW iterations: along the ridges of a GP likelihood (a
 * variance trading against a lengthscale) BFGS creeps for dozens of
 * iterations, each worth a few hundredths of a nat, and a likelihood
 * ratio of e^0.1 changes no prediction that matters. */
#define GP_MLE_LOSS_TOL 0.1
#define GP_MLE_LOSS_WINDOW 5
#define GP_MLE_STEP 0.1     /* first BFGS trial step, in log units */
#define GP_MLE_LINE_TOL 0.1 /* line-search accuracy; GSL's advice for bfgs2 */
/* The fitters keep every log-hyperparameter in [-bound, bound]: e^11.5 ~ 1e5
 * either way is far outside any sensible variance or lengthscale on basic
 * units, and keeps exp() and the Gram matrix finite. */
#define GP_THETA_BOUND 11.5
/* gp_predict works on blocks of this many test points. */
#define GP_PREDICT_BLOCK 64

typedef struct gp_config {
    gp_kernel_t kernel;
    gp_fit_mode_t fit;
    double lengthscale0;     /* initial lengthscale(s) */
    double diag_jitter;      /* added to the diagonal with s */
    double noise_median;     /* prior median of s */
    double noise_sd;         /* prior sd of ln s */
    double adam_lr, adam_beta1, adam_beta2, adam_eps;
    size_t adam_steps;
    size_t mle_max_iter;
    double mle_grad_tol, mle_step, mle_line_tol, mle_loss_tol;
    double theta_bound;
    la_jitter_t jitter; /* Cholesky retry policy (linalg.h) */
} gp_config_t;

/* Fill every 0 field of *cfg with its default. */
void gp_config_defaults(gp_config_t *cfg);

/* 0, or CARBS_EINVAL (naming the field in err) for an unknown kernel or fit
 * mode, or a negative, non-finite or out-of-range value (betas in [0, 1),
 * noise_sd > 0). */
int gp_config_check(const gp_config_t *cfg, carbs_err_t *err);

/* Number of hyperparameters for kernel in d input dims (d + 3 or 3). */
size_t gp_n_theta_for(gp_kernel_t kernel, size_t d);

/* The initial theta (docs/algorithm.md, Kernels) for cfg (NULL = defaults) in
 * d dims into theta[gp_n_theta_for()]: variances 1, lengthscales
 * lengthscale0, and ln s drawn from the noise prior with rng (the prior
 * median when rng is NULL). */
void gp_theta_default(const gp_config_t *cfg, size_t d, rng_t *rng, double *theta);

/* One draw of s from the noise prior: exp(ln median + sd z).  The
 * reference's Thompson fantasies read a fresh draw (quirk 3 of
 * docs/algorithm.md). */
double gp_noise_prior_draw(const gp_config_t *cfg, rng_t *rng);

// ---- the handle ----

typedef struct gp gp_t;

/* A new, empty GP over d input dims (d >= 1; d == 1 is usual for the RBF
 * kernel but any d works).  cfg is copied (NULL = defaults).  Returns NULL
 * and fills err: CARBS_EINVAL for d = 0 or a bad config, CARBS_ENOMEM.
 * Release with gp_free(). */
gp_t *gp_new(const gp_config_t *cfg, size_t d, carbs_err_t *err);

/* Free gp and everything it owns.  gp may be NULL. */
void gp_free(gp_t *gp);

size_t gp_n_obs(const gp_t *gp);
size_t gp_n_theta(const gp_t *gp);
/* The config in use, defaults filled in.  Borrowed from gp. */
const gp_config_t *gp_config(const gp_t *gp);

/* Copy n observations (X n x d row-major, y n) into gp, growing its buffers,
 * and drop any fit.  Returns 0, CARBS_EINVAL (n = 0, a null pointer or a
 * non-finite value, naming the row) or CARBS_ENOMEM (gp keeps no data). */
int gp_set_data(gp_t *gp, const double *X, const double *y, size_t n, carbs_err_t *err);

/* Adopt theta (n_theta values, each finite) without fitting, factor K and
 * make gp ready to predict.  Returns 0, CARBS_ESTATE without data,
 * CARBS_EINVAL for a wrong n_theta or a non-finite value, CARBS_ENOTPD when
 * K cannot be factored even with the jitter policy. */
int gp_set_theta(gp_t *gp, const double *theta, size_t n_theta, carbs_err_t *err);

/* Fit: gp_set_data, then the iteration below with cfg->fit, then
 * gp_fit_finish.  theta0 (n_theta0 values) is the starting point, a warm
 * start; NULL starts from gp_theta_default(rng).  rng is borrowed and may be
 * NULL (only the noise draw uses it).  Returns 0 or the first error of those
 * calls; on error gp is not ready. */
int gp_refit(gp_t *gp, const double *X, const double *y, size_t n, const double *theta0,
             size_t n_theta0, rng_t *rng, carbs_err_t *err);

/* The fit as an iteration the caller drives (docs/style.md H29):
 *
 *   rc = gp_fit_set(gp, theta0, n0, rng, err);
 *   while (rc == 0 && (rc = gp_fit_iterate(gp, err)) == 0 &&
 *          (rc = gp_fit_test(gp)) == CARBS_CONTINUE)
 *       rc = 0;
 *   if (rc >= 0) rc = gp_fit_finish(gp, err);
 *
 * gp_fit_set needs data (else CARBS_ESTATE), checks theta0 like
 * gp_set_theta, evaluates the loss there (CARBS_ENOTPD if K cannot be
 * factored) and starts the optimizer of cfg->fit.  gp_fit_iterate takes one
 * Adam step or one BFGS iteration: 0, or CARBS_ENOTPD when an Adam step
 * lands where K cannot be factored (BFGS skips such points and keeps its
 * best).  gp_fit_test returns CARBS_CONTINUE while the mode wants more
 * iterations, 0 when done (Adam: all steps taken; BFGS: gradient norm below
 * mle_grad_tol * n, less than mle_loss_tol gained over GP_MLE_LOSS_WINDOW
 * iterations, the iteration cap, or no further progress).  gp_fit_finish
 * adopts the final theta (Adam) or the best seen (BFGS) and factors K. */
int gp_fit_set(gp_t *gp, const double *theta0, size_t n_theta0, rng_t *rng, carbs_err_t *err);
int gp_fit_iterate(gp_t *gp, carbs_err_t *err);
int gp_fit_test(const gp_t *gp);
int gp_fit_finish(gp_t *gp, carbs_err_t *err);

/* The current hyperparameters (n_theta values, log scale).  Borrowed: valid
 * until the next call that fits or sets theta. */
const double *gp_theta(const gp_t *gp);

/* The noise variance s = exp(theta[last]). */
double gp_noise(const gp_t *gp);

/* What the last fit did. */
typedef struct gp_stats {
    double loss;       /* MAP loss at the adopted theta */
    double loss0;      /* and at theta0 */
    double jitter;     /* absolute jitter the last factorization needed; 0 = none */
    size_t iterations; /* Adam steps or BFGS iterations */
    size_t evals;      /* loss evaluations */
    bool converged;    /* BFGS met the gradient tolerance */
} gp_stats_t;

void gp_stats(const gp_t *gp, gp_stats_t *out);

/* The MAP loss at theta for the current data into *loss, and its gradient
 * into grad[n_theta] when grad is not NULL.  Does not change the fit.
 * Returns 0, CARBS_ESTATE without data, CARBS_EINVAL for a non-finite
 * theta, CARBS_ENOTPD when K cannot be factored.  Does not allocate. */
int gp_loss(gp_t *gp, const double *theta, double *loss, double *grad);

/* Posterior mean and variance at m points Z (m x d row-major) into mu[m]
 * and var[m] (either may be NULL): mu = k(X, z)^T alpha, var = max(0,
 * k(z, z) - |L^-1 k(X, z)|^2), noise not added (docs/algorithm.md,
 * Prediction).  Does not allocate.
 * Returns 0, CARBS_ESTATE before a successful fit, CARBS_EINVAL for a null
 * Z or a non-finite coordinate (outputs then unspecified). */
int gp_predict(gp_t *gp, const double *Z, size_t m, double *mu, double *var);

/* Sequential posterior sampling for Thompson fantasies (docs/algorithm.md,
 * Sequential sampling).  Starts from
 * K0 = k(X, X) + noise I (no jitter; noise is the caller's choice: the
 * reference uses gp_noise_prior_draw()) and for each pending point w_j of
 * W (q x d, in order) draws y_j ~ N(mean, var) from the current posterior
 * (var clamped at 0), then appends (w_j, y_j) with the corner
 * k(w_j, w_j) + diag_jitter only if the log-determinant of the grown matrix
 * stays above GP_SAMPLE_LOGDET_MIN; later draws condition on adopted points
 * only.  Writes y[q] and, when adopted is not NULL, adopted[q].  Uses the
 * fitted theta; rng is borrowed.  May grow gp's scratch (the only call
 * besides gp_set_data that allocates).  Returns 0, CARBS_ESTATE before a
 * fit, CARBS_EINVAL for bad arguments, CARBS_ENOTPD when K0 cannot be
 * factored, CARBS_ENOMEM. */
#define GP_SAMPLE_LOGDET_MIN (-15.0)
int gp_sample(gp_t *gp, const double *W, size_t q, double noise, rng_t *rng, double *y,
              bool *adopted, carbs_err_t *err);

// ---- kernels (for tests and callers that need a Gram matrix) ----

/* K (n x n, row-major, leading dimension n) = k(X, X) for kernel at theta
 * (the first n_theta - 1 values are read; noise is not added).  The fast
 * version takes its scratch (n d + n doubles) from *scratch, which must have
 * room: see gp_kernel_scratch_bytes().  Returns 0 or CARBS_EINVAL (n or d 0,
 * null pointers, scratch too small). */
int gp_kernel_matrix(gp_kernel_t kernel, const double *theta, const double *X, size_t n,
                     size_t d, double *K, arena_t *scratch);
int gp_kernel_matrix_ref(gp_kernel_t kernel, const double *theta, const double *X, size_t n,
                         size_t d, double *K);
size_t gp_kernel_scratch_bytes(size_t n, size_t d);

#endif
