/*
 * gp_internal.h - the inside of a gp_t, shared by gp.c (handle, data, loss,
 * prediction, sampling), gp_kernel.c (kernels and their derivatives) and
 * gp_fit.c (Adam and GSL's BFGS).  Not part of the public API.
 *
 * Invariants: X, y, alpha, Xf, sqf hold cap rows; G, F and L are cap x cap
 * but used as n x n with leading dimension n.  When ready is true, theta is
 * the adopted fit, L the factor of k(X, X) + (s + diag_jitter + jitter) I,
 * alpha = K^-1 y, and Xf/sqf the inputs scaled by theta's lengthscales with
 * their squared norms.  No GSL or BLAS type appears here: gp_fit.c keeps
 * its GSL objects behind void pointers (gsl and cblas headers do not mix:
 * docs/platform.md, Build gotchas).
 */
#ifndef CARBS_OPTIMIZER_GP_INTERNAL_H
#define CARBS_OPTIMIZER_GP_INTERNAL_H

#include "optimizer/gp.h"

/* Pyro's guard inside the Matern distance (docs/algorithm.md, Kernels);
 * keeps the derivative of sqrt finite at coincident points. */
#define GP_DIST_GUARD 1e-12

struct gp {
    gp_config_t cfg;
    size_t d, n, cap, n_theta;
    double *X, *y;   /* the data: n x d and n */
    double *G, *F;   /* loss scratch: Gram matrix, then its factor / inverse */
    double *L;       /* the adopted factor */
    double *alpha;   /* K^-1 y for the adopted fit */
    double *Xf, *sqf; /* inputs scaled by the adopted lengthscales, squared norms */
    double *theta;   /* n_theta: the adopted hyperparameters */
    bool ready;
    arena_t arena; /* per-call scratch: loss, predict, sample */

    /* fit state (gp_fit.c) */
    bool fitting, stopped, converged;
    double *th, *th_best, *grad, *adam_m, *adam_v, *tmp; /* n_theta each */
    double *cache_th, *cache_g; /* the last point evaluated with a gradient */
    bool cache_valid;
    double cache_loss;
    double loss0, best_loss, last_loss, jitter, window_loss;
    size_t iter, evals;
    void *gsl; /* gp_fit.c's minimizer, start vector and function record */
};

// ---- gp_kernel.c ----

/* k(u, v) for one pair, the definition itself (guard included). */
double gp__k(gp_kernel_t kernel, const double *theta, const double *u, const double *v, size_t d);

/* k(z, z) as the prediction variance uses it: aL |z|^2 + aM, or aR. */
double gp__kdiag(gp_kernel_t kernel, const double *theta, const double *z, size_t d);

/* Xs = X scaled by the lengthscales (n x d), sq[a] = |Xs_a|^2. */
void gp__scale_inputs(gp_kernel_t kernel, const double *theta, const double *X, size_t n,
                      size_t d, double *Xs, double *sq);

/* K (n x n, ld n) = k(X, X) from X and its scaled copy (fast path). */
void gp__gram(gp_kernel_t kernel, const double *theta, const double *X, const double *Xs,
              const double *sq, size_t n, size_t d, double *K);

/* Kx (n x m, ld m) = k(X_a, Z_j).  Scratch: D (n x m), Zs (m d + m doubles:
 * the scaled Z, then its squared norms). */
void gp__cross(gp_kernel_t kernel, const double *theta, const double *X, const double *Xs,
               const double *sq, size_t n, const double *Z, size_t m, size_t d, double *Kx,
               double *D, double *Zs);

/* g[j] = 1/2 sum_ab A_ab dK_ab/dtheta_j for the kernel's own parameters
 * (every theta but the noise), A symmetric n x n with ld n, Xs and X as
 * from gp__scale_inputs. */
void gp__grad_trace(gp_kernel_t kernel, const double *theta, const double *X, const double *Xs,
                    size_t n, size_t d, const double *A, double *g);

// ---- gp.c ----

/* The loss (and gradient when grad != NULL) at theta, for the current data,
 * using G, F and the arena.  *jitter (may be NULL) gets the Cholesky jitter. */
int gp__loss_eval(gp_t *gp, const double *theta, double *loss, double *grad, double *jitter);

/* Adopt theta: factor into L, solve alpha, scale inputs; sets ready. */
int gp__adopt(gp_t *gp, const double *theta, carbs_err_t *err);

// ---- gp_fit.c ----

/* Allocate / free the GSL minimizer for n_theta parameters and turn GSL's
 * abort-on-error handler off.  0 or CARBS_ENOMEM. */
int gp__fit_alloc(gp_t *gp);
void gp__fit_free(gp_t *gp);

#endif
