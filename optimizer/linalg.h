/*
 * linalg.h - the one seam to BLAS and LAPACK (docs/style.md H27).
 *
 * Every matrix is double, flat and row-major: element (i, j) of a matrix with
 * leading dimension ld lives at A[i * ld + j], and ld >= the column count.
 * Only optimizer/linalg.c includes cblas.h and lapacke.h; callers see plain
 * pointers.  No function here allocates: LAPACK is reached through the
 * column-major *_work entry points on the transposed view, so LAPACKE never
 * copies a row-major matrix.
 *
 * Each BLAS-backed routine has a naive twin named *_ref with the same
 * contract; the tests hold one against the other.
 *
 * Return codes: 0, CARBS_EINVAL for a null pointer or a leading dimension
 * smaller than the column count, CARBS_ENOTPD when a Cholesky factorization
 * meets a non-positive pivot (LAPACK info > 0) or a triangular factor has a
 * zero or non-finite diagonal.
 */
#ifndef CARBS_OPTIMIZER_LINALG_H
#define CARBS_OPTIMIZER_LINALG_H

#include <stdbool.h>
#include <stddef.h>

/* Make OpenBLAS run every call on the calling thread.  The optimizer's
 * matrices are small (n <= a few thousand) and the service runs one sweep per
 * core at most, so a thread pool only adds wake-up latency and contention
 * with the trainer.  Process-wide (OpenBLAS keeps the count globally);
 * idempotent and cheap; gp_new() calls it. */
void la_single_thread(void);

// ---- level 3 ----

/* C (m x n) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T when ta/tb.
 * op(A) is m x k, op(B) is k x n.  With k = 0, C = beta * C. */
int la_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *A,
            size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);
int la_gemm_ref(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *A,
                size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);

/* C (n x n) = alpha * A * A^T + beta * C with A n x k (trans = false), or
 * alpha * A^T * A + beta * C with A k x n (trans = true).  Both triangles of C
 * are written (the lower one is computed, then mirrored). */
int la_syrk(bool trans, size_t n, size_t k, double alpha, const double *A, size_t lda, double beta,
            double *C, size_t ldc);
int la_syrk_ref(bool trans, size_t n, size_t k, double alpha, const double *A, size_t lda,
                double beta, double *C, size_t ldc);

/* y (m) = alpha * op(A) * x + beta * y with A m x n (ta false) or n x m (ta true). */
int la_gemv(bool ta, size_t m, size_t n, double alpha, const double *A, size_t lda,
            const double *x, double beta, double *y);

// ---- Cholesky and triangular solves ----

/* Factor the symmetric positive-definite A (n x n, lower triangle read) in
 * place as A = L L^T; the strict upper triangle is set to zero so A holds
 * exactly L.  CARBS_ENOTPD when a leading minor is not positive (A is then
 * partly overwritten). */
int la_chol(double *A, size_t n, size_t lda);
int la_chol_ref(double *A, size_t n, size_t lda);

/* Jitter-retry policy for a Cholesky that is not positive definite, written
 * once here (docs/style.md H28).  Attempt 0 factors A as given; attempt t >= 1
 * factors A + j_t I with j_t = initial * growth^(t-1) * mean(diag A) (relative
 * to the diagonal so the policy does not depend on the scale of A).  All-zero
 * selects the defaults. */
typedef struct la_jitter {
    double initial; /* first relative jitter; 0 = LA_JITTER_INITIAL */
    double growth;  /* factor between attempts; 0 = LA_JITTER_GROWTH */
    int max_tries;  /* attempts after the plain one; 0 = LA_JITTER_TRIES */
} la_jitter_t;

/* 1e-10 of the mean diagonal is below the float noise of any kernel entry, so
 * a first retry changes no prediction visibly; x10 per step for 6 steps ends at
 * 1e-5, past which the matrix is too ill-conditioned to be worth rescuing. */
#define LA_JITTER_INITIAL 1e-10
#define LA_JITTER_GROWTH 10.0
#define LA_JITTER_TRIES 6

/* Copy S (n x n symmetric, both triangles, leading dimension lds) into L
 * (leading dimension ldl) and factor it with the policy of cfg (NULL =
 * defaults).  On success L holds the factor and *jitter (may be NULL) the
 * absolute jitter added to the diagonal, 0 when none was needed.  S is not
 * modified and must not alias L.  CARBS_ENOTPD when every attempt failed or
 * the diagonal is not positive and finite. */
int la_chol_jitter(const double *S, size_t lds, double *L, size_t ldl, size_t n,
                   const la_jitter_t *cfg, double *jitter);

/* Solve op(L) X = B in place for X, L lower triangular n x n, B n x nrhs;
 * op(L) = L^T when trans. */
int la_trsm(bool trans, size_t n, size_t nrhs, const double *L, size_t ldl, double *B, size_t ldb);
int la_trsm_ref(bool trans, size_t n, size_t nrhs, const double *L, size_t ldl, double *B,
                size_t ldb);

/* The vector case of la_trsm: solve op(L) x = b in place (x has stride 1). */
int la_trsv(bool trans, size_t n, const double *L, size_t ldl, double *x);

/* Solve (L L^T) X = B in place, B n x nrhs, with L from la_chol. */
int la_potrs(size_t n, size_t nrhs, const double *L, size_t ldl, double *B, size_t ldb);

/* Overwrite L (from la_chol) with (L L^T)^-1, both triangles filled. */
int la_potri(double *L, size_t n, size_t ldl);

/* ln det(L L^T) = 2 sum ln L_ii.  -inf if a diagonal entry is 0, NaN if one is
 * negative or NaN: callers compare the result, they do not get an error. */
double la_logdet_chol(const double *L, size_t n, size_t ldl);

#endif
