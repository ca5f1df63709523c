/*
 * linalg.c - BLAS and LAPACK behind la_* (docs/style.md H27), with naive twins.
 *
 * Row-major everywhere.  cblas takes CblasRowMajor directly.  For LAPACK the
 * row-major lower triangle of a symmetric matrix is, read column-major, the
 * upper triangle of the same matrix, so dpotrf/dpotri are called with
 * (LAPACK_COL_MAJOR, 'U') on the caller's buffer: no transposed copy and no
 * allocation.  The *_ref functions are the textbook loops (Golub & Van Loan,
 * "Matrix Computations", alg. 4.2.1 for Cholesky) and serve as test oracles.
 *
 * Legend: n = order of a square matrix, m x k and k x n = operand shapes,
 * ld* = leading dimension (row stride), L = lower Cholesky factor.
 */
#include "proto/common.h"
#include "optimizer/linalg.h"

#include <limits.h>
#include <math.h>

#include <cblas.h>
#include <lapacke.h>

// ---- helpers ----

/* cblas/LAPACK take int dimensions in Debian's OpenBLAS build. */
static bool fits_int(size_t a)
{
    return a <= (size_t)INT_MAX;
}

static bool dims_ok(size_t rows, size_t cols, size_t ld)
{
    UNUSED(rows);
    return fits_int(rows) && fits_int(cols) && fits_int(ld) && ld >= cols && ld >= 1;
}

static void scale_matrix(size_t m, size_t n, double beta, double *C, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
}

static void mirror_lower(double *C, size_t n, size_t ldc)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            C[i * ldc + j] = C[j * ldc + i];
}

/* A triangular factor usable for solves: diagonal finite and non-zero. */
static bool diag_ok(const double *L, size_t n, size_t ldl)
{
    for (size_t i = 0; i < n; i++) {
        double v = L[i * ldl + i];
        if (!isfinite(v) || v == 0.0)
            return false;
    }
    return true;
}

void la_single_thread(void)
{
    openblas_set_num_threads(1);
}

// ---- reference: naive loops, the oracle for the tests ----

int la_gemm_ref(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *A,
                size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
    if (!A || !B || !C || ldc < n || lda < (ta ? m : k) || ldb < (tb ? k : n))
        return CARBS_EINVAL;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++) {
                double a = ta ? A[p * lda + i] : A[i * lda + p];
                double b = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += a * b;
            }
            C[i * ldc + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * C[i * ldc + j]);
        }
    }
    return CARBS_OK;
}

int la_syrk_ref(bool trans, size_t n, size_t k, double alpha, const double *A, size_t lda,
                double beta, double *C, size_t ldc)
{
    if (!A || !C || ldc < n || lda < (trans ? n : k))
        return CARBS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j <= i; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++) {
                double a = trans ? A[p * lda + i] : A[i * lda + p];
                double b = trans ? A[p * lda + j] : A[j * lda + p];
                s += a * b;
            }
            C[i * ldc + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * C[i * ldc + j]);
        }
    }
    mirror_lower(C, n, ldc);
    return CARBS_OK;
}

int la_chol_ref(double *A, size_t n, size_t lda)
{
    if (!A || lda < n)
        return CARBS_EINVAL;
    for (size_t j = 0; j < n; j++) {
        double d = A[j * lda + j];
        for (size_t p = 0; p < j; p++)
            d -= A[j * lda + p] * A[j * lda + p];
        if (!(d > 0.0) || !isfinite(d))
            return CARBS_ENOTPD;
        d = sqrt(d);
        A[j * lda + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = A[i * lda + j];
            for (size_t p = 0; p < j; p++)
                s -= A[i * lda + p] * A[j * lda + p];
            A[i * lda + j] = s / d;
        }
        for (size_t i = 0; i < j; i++)
            A[i * lda + j] = 0.0;
    }
    return CARBS_OK;
}

int la_trsm_ref(bool trans, size_t n, size_t nrhs, const double *L, size_t ldl, double *B,
                size_t ldb)
{
    if (!L || !B || ldl < n || ldb < nrhs)
        return CARBS_EINVAL;
    if (!diag_ok(L, n, ldl))
        return CARBS_ENOTPD;
    for (size_t c = 0; c < nrhs; c++) {
        if (!trans) {
            for (size_t i = 0; i < n; i++) {
                double s = B[i * ldb + c];
                for (size_t p = 0; p < i; p++)
                    s -= L[i * ldl + p] * B[p * ldb + c];
                B[i * ldb + c] = s / L[i * ldl + i];
            }
        } else {
            for (size_t i = n; i-- > 0;) {
                double s = B[i * ldb + c];
                for (size_t p = i + 1; p < n; p++)
                    s -= L[p * ldl + i] * B[p * ldb + c];
                B[i * ldb + c] = s / L[i * ldl + i];
            }
        }
    }
    return CARBS_OK;
}

// ---- fast path: OpenBLAS and LAPACK ----

int la_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *A,
            size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
    if (!A || !B || !C || !dims_ok(m, n, ldc) || !fits_int(k))
        return CARBS_EINVAL;
    if (!dims_ok(ta ? k : m, ta ? m : k, lda) || !dims_ok(tb ? n : k, tb ? k : n, ldb))
        return CARBS_EINVAL;
    if (!m || !n)
        return CARBS_OK;
    if (!k) {
        scale_matrix(m, n, beta, C, ldc);
        return CARBS_OK;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
    return CARBS_OK;
}

int la_syrk(bool trans, size_t n, size_t k, double alpha, const double *A, size_t lda, double beta,
            double *C, size_t ldc)
{
    if (!A || !C || !dims_ok(n, n, ldc) || !fits_int(k))
        return CARBS_EINVAL;
    if (!dims_ok(trans ? k : n, trans ? n : k, lda))
        return CARBS_EINVAL;
    if (!n)
        return CARBS_OK;
    if (!k) {
        scale_matrix(n, n, beta, C, ldc);
        return CARBS_OK;
    }
    cblas_dsyrk(CblasRowMajor, CblasLower, trans ? CblasTrans : CblasNoTrans, (int)n, (int)k,
                alpha, A, (int)lda, beta, C, (int)ldc);
    mirror_lower(C, n, ldc);
    return CARBS_OK;
}

int la_gemv(bool ta, size_t m, size_t n, double alpha, const double *A, size_t lda,
            const double *x, double beta, double *y)
{
    if (!A || !x || !y || !dims_ok(ta ? n : m, ta ? m : n, lda))
        return CARBS_EINVAL;
    if (!m)
        return CARBS_OK;
    if (!n) {
        scale_matrix(1, m, beta, y, m);
        return CARBS_OK;
    }
    /* cblas_dgemv takes the stored shape (rows x cols) and the transpose flag. */
    cblas_dgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, (int)(ta ? n : m),
                (int)(ta ? m : n), alpha, A, (int)lda, x, 1, beta, y, 1);
    return CARBS_OK;
}

int la_chol(double *A, size_t n, size_t lda)
{
    lapack_int info;

    if (!A || !dims_ok(n, n, lda))
        return CARBS_EINVAL;
    if (!n)
        return CARBS_OK;
    /* Row-major lower == column-major upper of the same symmetric matrix. */
    info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)lda);
    if (info > 0)
        return CARBS_ENOTPD;
    if (info < 0)
        return CARBS_EINVAL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            A[i * lda + j] = 0.0;
    /* dpotrf does not screen its input for NaN; a factor whose diagonal is
     * not finite is reported as not positive definite. */
    if (!diag_ok(A, n, lda))
        return CARBS_ENOTPD;
    return CARBS_OK;
}

int la_chol_jitter(const double *S, size_t lds, double *L, size_t ldl, size_t n,
                   const la_jitter_t *cfg, double *jitter)
{
    double initial = cfg && cfg->initial > 0 ? cfg->initial : LA_JITTER_INITIAL;
    double growth = cfg && cfg->growth > 1 ? cfg->growth : LA_JITTER_GROWTH;
    int tries = cfg && cfg->max_tries > 0 ? cfg->max_tries : LA_JITTER_TRIES;
    double mean_diag = 0.0, j = 0.0;
    int rc = CARBS_ENOTPD;

    if (!S || !L || S == L || lds < n || ldl < n || !fits_int(n))
        return CARBS_EINVAL;
    if (jitter)
        *jitter = 0.0;
    for (size_t i = 0; i < n; i++)
        mean_diag += S[i * lds + i];
    mean_diag = n ? mean_diag / (double)n : 0.0;
    if (n && !(mean_diag > 0.0 && isfinite(mean_diag)))
        return CARBS_ENOTPD;
    for (int t = 0; t <= tries; t++) {
        j = t == 0 ? 0.0 : initial * pow(growth, t - 1) * mean_diag;
        for (size_t i = 0; i < n; i++) {
            memcpy(L + i * ldl, S + i * lds, n * sizeof(double));
            L[i * ldl + i] += j;
        }
        rc = la_chol(L, n, ldl);
        if (rc != CARBS_ENOTPD)
            break;
    }
    if (rc == CARBS_OK && jitter)
        *jitter = j;
    return rc;
}

int la_trsm(bool trans, size_t n, size_t nrhs, const double *L, size_t ldl, double *B, size_t ldb)
{
    if (!L || !B || !dims_ok(n, n, ldl) || !dims_ok(n, nrhs, ldb))
        return CARBS_EINVAL;
    if (!diag_ok(L, n, ldl))
        return CARBS_ENOTPD;
    if (!n || !nrhs)
        return CARBS_OK;
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, trans ? CblasTrans : CblasNoTrans,
                CblasNonUnit, (int)n, (int)nrhs, 1.0, L, (int)ldl, B, (int)ldb);
    return CARBS_OK;
}

int la_trsv(bool trans, size_t n, const double *L, size_t ldl, double *x)
{
    if (!L || !x || !dims_ok(n, n, ldl))
        return CARBS_EINVAL;
    if (!diag_ok(L, n, ldl))
        return CARBS_ENOTPD;
    if (!n)
        return CARBS_OK;
    cblas_dtrsv(CblasRowMajor, CblasLower, trans ? CblasTrans : CblasNoTrans, CblasNonUnit, (int)n,
                L, (int)ldl, x, 1);
    return CARBS_OK;
}

int la_potrs(size_t n, size_t nrhs, const double *L, size_t ldl, double *B, size_t ldb)
{
    int rc = la_trsm(false, n, nrhs, L, ldl, B, ldb);
    if (rc < 0)
        return rc;
    return la_trsm(true, n, nrhs, L, ldl, B, ldb);
}

int la_potri(double *L, size_t n, size_t ldl)
{
    lapack_int info;

    if (!L || !dims_ok(n, n, ldl))
        return CARBS_EINVAL;
    if (!diag_ok(L, n, ldl))
        return CARBS_ENOTPD;
    if (!n)
        return CARBS_OK;
    info = LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, L, (lapack_int)ldl);
    if (info > 0)
        return CARBS_ENOTPD;
    if (info < 0)
        return CARBS_EINVAL;
    mirror_lower(L, n, ldl);
    return CARBS_OK;
}

double la_logdet_chol(const double *L, size_t n, size_t ldl)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += log(L[i * ldl + i]);
    return 2.0 * s;
}
