/*
 * gp_kernel.c - the two covariance functions (docs/algorithm.md, Kernels),
 * their Gram and cross matrices (naive and BLAS), and the traces that make
 * the analytic gradient (docs/algorithm.md, Fitting).
 *
 * Main kernel: k(u, v) = aL u.v + aM (1 + sqrt3 r) exp(-sqrt3 r) with
 * r^2 = |(u - v) / l|^2 + 1e-12.  RBF: k = aR exp(-|u - v|^2 / (2 lR^2)).
 * The fast Gram uses |a - b|^2 = |a|^2 + |b|^2 - 2 a.b on the inputs scaled
 * by the lengthscales: one syrk for the distances, an elementwise map, and
 * (main kernel) a second syrk adding the linear part.  Cancellation in the
 * expansion costs about eps |x/l|^2 in r^2, and k is smooth in r^2 at 0, so
 * the two paths agree to ~1e-14 for inputs of basic-space size.
 *
 * Derivatives with respect to the log-parameters (each an elementwise
 * matrix, never stored):  dK/d ln aL = aL u.v;  dK/d ln aM = Matern part;
 * dK/d ln l_i = 3 aM ((u_i - v_i)/l_i)^2 exp(-sqrt3 r);  RBF: dK/d ln aR =
 * k, dK/d ln lR = k |u - v|^2 / lR^2.
 *
 * Legend: n = rows of X, m = rows of Z, d = input dims, Xs = X / l
 * (row-wise), sq = squared norms of the rows of Xs, K = (n, n) Gram matrix,
 * Kx = (n, m) cross matrix, A = K^-1 - alpha alpha^T.
 */
#include "proto/common.h"
#include "optimizer/gp.h"

#include <math.h>

#include "optimizer/gp_internal.h"

#define GP_SQRT3 1.7320508075688772

// ---- helpers ----

static double matern32(double aM, double r2)
{
    double r = sqrt(r2);
    return aM * (1.0 + GP_SQRT3 * r) * exp(-GP_SQRT3 * r);
}

static bool kernel_known(gp_kernel_t kernel)
{
    return kernel == GP_KERNEL_MAIN || kernel == GP_KERNEL_RBF;
}

static double lengthscale(gp_kernel_t kernel, const double *theta, size_t i)
{
    return exp(kernel == GP_KERNEL_MAIN ? theta[2 + i] : theta[1]);
}

static void mirror_lower(double *K, size_t n)
{
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            K[a * n + b] = K[b * n + a];
}

double gp__k(gp_kernel_t kernel, const double *theta, const double *u, const double *v, size_t d)
{
    double dot = 0.0, r2 = 0.0;

    for (size_t i = 0; i < d; i++) {
        double t = (u[i] - v[i]) / lengthscale(kernel, theta, i);
        dot += u[i] * v[i];
        r2 += t * t;
    }
    if (kernel == GP_KERNEL_RBF)
        return exp(theta[0]) * exp(-0.5 * r2);
    return exp(theta[0]) * dot + matern32(exp(theta[1]), r2 + GP_DIST_GUARD);
}

double gp__kdiag(gp_kernel_t kernel, const double *theta, const double *z, size_t d)
{
    double zz = 0.0;

    if (kernel == GP_KERNEL_RBF)
        return exp(theta[0]);
    for (size_t i = 0; i < d; i++)
        zz += z[i] * z[i];
    return exp(theta[0]) * zz + exp(theta[1]);
}

void gp__scale_inputs(gp_kernel_t kernel, const double *theta, const double *X, size_t n,
                      size_t d, double *Xs, double *sq)
{
    for (size_t a = 0; a < n; a++)
        sq[a] = 0.0;
    for (size_t i = 0; i < d; i++) {
        double inv = 1.0 / lengthscale(kernel, theta, i);
        for (size_t a = 0; a < n; a++) {
            double t = X[a * d + i] * inv;
            Xs[a * d + i] = t;
            sq[a] += t * t;
        }
    }
}

// ---- reference: the definition pair by pair, O(n^2 d) ----

int gp_kernel_matrix_ref(gp_kernel_t kernel, const double *theta, const double *X, size_t n,
                         size_t d, double *K)
{
    if (!kernel_known(kernel) || !theta || !X || !K || !n || !d)
        return CARBS_EINVAL;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            K[a * n + b] = gp__k(kernel, theta, X + a * d, X + b * d, d);
    return CARBS_OK;
}

// ---- fast path: distances by syrk/gemm, then an elementwise map ----

void gp__gram(gp_kernel_t kernel, const double *theta, const double *X, const double *Xs,
              const double *sq, size_t n, size_t d, double *K)
{
    double amp = exp(kernel == GP_KERNEL_MAIN ? theta[1] : theta[0]);

    la_syrk(false, n, d, -2.0, Xs, d, 0.0, K, n);
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < a; b++) {
            double r2 = fmax(sq[a] + sq[b] + K[a * n + b], 0.0);
            K[a * n + b] = kernel == GP_KERNEL_MAIN ? matern32(amp, r2 + GP_DIST_GUARD)
                                                    : amp * exp(-0.5 * r2);
        }
        /* the distance of a point to itself is exactly 0 */
        K[a * n + a] = kernel == GP_KERNEL_MAIN ? matern32(amp, GP_DIST_GUARD) : amp;
    }
    mirror_lower(K, n);
    if (kernel == GP_KERNEL_MAIN)
        la_syrk(false, n, d, exp(theta[0]), X, d, 1.0, K, n);
}

void gp__cross(gp_kernel_t kernel, const double *theta, const double *X, const double *Xs,
               const double *sq, size_t n, const double *Z, size_t m, size_t d, double *Kx,
               double *D, double *Zs)
{
    double *sqz = Zs + m * d;
    double amp = exp(kernel == GP_KERNEL_MAIN ? theta[1] : theta[0]);

    gp__scale_inputs(kernel, theta, Z, m, d, Zs, sqz);
    la_gemm(false, true, n, m, d, -2.0, Xs, d, Zs, d, 0.0, D, m);
    if (kernel == GP_KERNEL_MAIN) {
        la_gemm(false, true, n, m, d, exp(theta[0]), X, d, Z, d, 0.0, Kx, m);
        for (size_t a = 0; a < n; a++)
            for (size_t j = 0; j < m; j++) {
                double r2 = fmax(sq[a] + sqz[j] + D[a * m + j], 0.0) + GP_DIST_GUARD;
                Kx[a * m + j] += matern32(amp, r2);
            }
        return;
    }
    for (size_t a = 0; a < n; a++)
        for (size_t j = 0; j < m; j++)
            Kx[a * m + j] = amp * exp(-0.5 * fmax(sq[a] + sqz[j] + D[a * m + j], 0.0));
}

int gp_kernel_matrix(gp_kernel_t kernel, const double *theta, const double *X, size_t n,
                     size_t d, double *K, arena_t *scratch)
{
    double *Xs, *sq;

    if (!kernel_known(kernel) || !theta || !X || !K || !scratch || !n || !d)
        return CARBS_EINVAL;
    Xs = arena_push_doubles(scratch, n * d);
    sq = arena_push_doubles(scratch, n);
    if (!Xs || !sq)
        return CARBS_EINVAL;
    gp__scale_inputs(kernel, theta, X, n, d, Xs, sq);
    gp__gram(kernel, theta, X, Xs, sq, n, d, K);
    return CARBS_OK;
}

size_t gp_kernel_scratch_bytes(size_t n, size_t d)
{
    return arena_bytes(n * d * sizeof(double)) + arena_bytes(n * sizeof(double));
}

// ---- gradient traces ----

void gp__grad_trace(gp_kernel_t kernel, const double *theta, const double *X, const double *Xs,
                    size_t n, size_t d, const double *A, double *g)
{
    size_t n_kern = kernel == GP_KERNEL_MAIN ? d + 2 : 2;
    double a0 = exp(theta[0]), a1 = exp(theta[1]);

    for (size_t j = 0; j < n_kern; j++)
        g[j] = 0.0;
    for (size_t a = 0; a < n; a++) {
        const double *xa = X + a * d, *sa = Xs + a * d;
        for (size_t b = 0; b <= a; b++) {
            const double *xb = X + b * d, *sb = Xs + b * d;
            double w = (a == b ? 1.0 : 2.0) * A[a * n + b];
            double dot = 0.0, r2 = 0.0;

            for (size_t i = 0; i < d; i++) {
                double t = sa[i] - sb[i];
                dot += xa[i] * xb[i];
                r2 += t * t;
            }
            if (kernel == GP_KERNEL_RBF) {
                double k = a0 * exp(-0.5 * r2);
                g[0] += w * k;
                g[1] += w * k * r2;
                continue;
            }
            double r = sqrt(r2 + GP_DIST_GUARD), e = exp(-GP_SQRT3 * r);
            g[0] += w * a0 * dot;
            g[1] += w * a1 * (1.0 + GP_SQRT3 * r) * e;
            for (size_t i = 0; i < d; i++) {
                double t = sa[i] - sb[i];
                g[2 + i] += w * 3.0 * a1 * t * t * e;
            }
        }
    }
    for (size_t j = 0; j < n_kern; j++)
        g[j] *= 0.5;
}
