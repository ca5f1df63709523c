/*
 * test_linalg.c - every la_* routine against its naive twin (or against the
 * defining identity) at random sizes, leading dimensions and transposes;
 * ENOTPD from a singular matrix; the jitter policy recovering and reporting
 * the jitter it used; and the argument checks.
 */
#include "proto/common.h"
#include "optimizer/linalg.h"

#include <math.h>

#include "optimizer/rng.h"
#include "tests/check.h"

#define TOL 1e-11 /* relative to the magnitudes involved; BLAS reorders sums */
#define N_SHAPES 24

static double *randmat(rng_t *r, size_t rows, size_t ld)
{
    double *A = xmalloc((rows * ld + 1) * sizeof(double));
    for (size_t i = 0; i < rows * ld + 1; i++)
        A[i] = rng_normal(r) * 1.7 + 0.31;
    return A;
}

static size_t randsize(rng_t *r, size_t lo, size_t hi)
{
    return lo + (size_t)rng_below(r, hi - lo + 1);
}

/* S = A A^T + shift I with A n x (n + 3): well-conditioned SPD. */
static double *randspd(rng_t *r, size_t n, size_t ld, double shift)
{
    size_t k = n + 3;
    double *A = randmat(r, n, k), *S = randmat(r, n, ld);
    la_syrk_ref(false, n, k, 1.0, A, k, 0.0, S, ld);
    for (size_t i = 0; i < n; i++)
        S[i * ld + i] += shift;
    free(A);
    return S;
}

static double maxdiff(const double *A, const double *B, size_t rows, size_t cols, size_t ld)
{
    double m = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            m = fmax(m, fabs(A[i * ld + j] - B[i * ld + j]));
    return m;
}

static void test_linalg_gemm_matches_ref(void)
{
    rng_t r;
    rng_seed(&r, 101);
    for (int t = 0; t < N_SHAPES; t++) {
        bool ta = t & 1, tb = (t >> 1) & 1;
        size_t m = randsize(&r, 1, 37), n = randsize(&r, 1, 41), k = randsize(&r, 1, 29);
        size_t lda = (ta ? m : k) + randsize(&r, 0, 3), ldb = (tb ? k : n) + randsize(&r, 0, 3);
        size_t ldc = n + randsize(&r, 0, 3);
        double *A = randmat(&r, ta ? k : m, lda), *B = randmat(&r, tb ? n : k, ldb);
        double *C1 = randmat(&r, m, ldc), *C2 = xmalloc((m * ldc + 1) * sizeof(double));
        double alpha = 1.37 - 0.2 * t, beta = t % 3 == 0 ? 0.0 : -0.73;
        memcpy(C2, C1, (m * ldc + 1) * sizeof(double));
        CHECK_EQ(la_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C1, ldc), CARBS_OK);
        CHECK_EQ(la_gemm_ref(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C2, ldc), CARBS_OK);
        CHECK(maxdiff(C1, C2, m, n, ldc) < TOL * (double)k * 10);
        /* padding between rows is never written */
        for (size_t i = 0; i < m; i++)
            for (size_t j = n; j < ldc; j++)
                CHECK(C1[i * ldc + j] == C2[i * ldc + j]);
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
}

static void test_linalg_gemm_k0_scales_c(void)
{
    double A[1] = {0}, B[1] = {0}, C[6] = {1.5, -2.25, 3.125, 4, 5, 6};
    CHECK_EQ(la_gemm(false, false, 2, 3, 0, 9.0, A, 1, B, 3, 0.5, C, 3), CARBS_OK);
    CHECK(C[0] == 0.75 && C[1] == -1.125 && C[5] == 3.0);
    CHECK_EQ(la_gemm(false, false, 2, 3, 0, 9.0, A, 1, B, 3, 0.0, C, 3), CARBS_OK);
    CHECK(C[0] == 0.0 && C[5] == 0.0);
}

static void test_linalg_syrk_and_gemv_match_ref(void)
{
    rng_t r;
    rng_seed(&r, 202);
    for (int t = 0; t < N_SHAPES; t++) {
        bool trans = t & 1;
        size_t n = randsize(&r, 1, 45), k = randsize(&r, 1, 33);
        size_t lda = (trans ? n : k) + randsize(&r, 0, 2), ldc = n + randsize(&r, 0, 2);
        double *A = randmat(&r, trans ? k : n, lda);
        double *C1 = randmat(&r, n, ldc), *C2 = xmalloc((n * ldc + 1) * sizeof(double));
        /* the ref mirrors too, so start both from the same symmetric C */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                C1[j * ldc + i] = C1[i * ldc + j];
        memcpy(C2, C1, (n * ldc + 1) * sizeof(double));
        CHECK_EQ(la_syrk(trans, n, k, 0.83, A, lda, 0.4, C1, ldc), CARBS_OK);
        CHECK_EQ(la_syrk_ref(trans, n, k, 0.83, A, lda, 0.4, C2, ldc), CARBS_OK);
        CHECK(maxdiff(C1, C2, n, n, ldc) < TOL * (double)k * 10);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                CHECK(C1[i * ldc + j] == C1[j * ldc + i]);

        /* gemv is gemm with one column */
        size_t m = randsize(&r, 1, 30), p = randsize(&r, 1, 30), ld = (trans ? m : p) + 1;
        double *M = randmat(&r, trans ? p : m, ld), *x = randmat(&r, 1, p);
        double *y1 = randmat(&r, 1, m), *y2 = xmalloc((m + 1) * sizeof(double));
        memcpy(y2, y1, (m + 1) * sizeof(double));
        CHECK_EQ(la_gemv(trans, m, p, -1.25, M, ld, x, 0.6, y1), CARBS_OK);
        CHECK_EQ(la_gemm_ref(trans, false, m, 1, p, -1.25, M, ld, x, 1, 0.6, y2, 1), CARBS_OK);
        CHECK(maxdiff(y1, y2, 1, m, m) < TOL * (double)p * 10);
        free(A);
        free(C1);
        free(C2);
        free(M);
        free(x);
        free(y1);
        free(y2);
    }
}

static void test_linalg_chol_matches_ref_and_reconstructs(void)
{
    rng_t r;
    rng_seed(&r, 303);
    for (int t = 0; t < N_SHAPES; t++) {
        size_t n = randsize(&r, 1, 60), ld = n + randsize(&r, 0, 3);
        double *S = randspd(&r, n, ld, 0.05);
        double *L1 = xmalloc(n * ld * sizeof(double)), *L2 = xmalloc(n * ld * sizeof(double));
        double *R = xmalloc(n * n * sizeof(double));
        memcpy(L1, S, n * ld * sizeof(double));
        memcpy(L2, S, n * ld * sizeof(double));
        CHECK_EQ(la_chol(L1, n, ld), CARBS_OK);
        CHECK_EQ(la_chol_ref(L2, n, ld), CARBS_OK);
        double scale = 1;
        for (size_t i = 0; i < n; i++)
            scale = fmax(scale, S[i * ld + i]);
        CHECK(maxdiff(L1, L2, n, n, ld) < TOL * scale);
        /* strict upper triangle zero; L L^T = S */
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                CHECK(L1[i * ld + j] == 0.0);
        CHECK_EQ(la_gemm_ref(false, true, n, n, n, 1.0, L1, ld, L1, ld, 0.0, R, n), CARBS_OK);
        double err = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                err = fmax(err, fabs(R[i * n + j] - S[i * ld + j]));
        CHECK(err < TOL * scale);
        /* log det from the factor equals the ref factor's */
        double ld1 = la_logdet_chol(L1, n, ld), ld2 = 0;
        for (size_t i = 0; i < n; i++)
            ld2 += 2 * log(L2[i * ld + i]);
        CHECK_NEAR(ld1, ld2, 1e-10 * (1 + fabs(ld2)));
        free(S);
        free(L1);
        free(L2);
        free(R);
    }
}

static void test_linalg_solves_match_ref(void)
{
    rng_t r;
    rng_seed(&r, 404);
    for (int t = 0; t < N_SHAPES; t++) {
        bool trans = t & 1;
        size_t n = randsize(&r, 1, 50), nrhs = randsize(&r, 1, 9);
        size_t ldl = n + randsize(&r, 0, 2), ldb = nrhs + randsize(&r, 0, 2);
        double *L = randspd(&r, n, ldl, 0.5);
        CHECK_EQ(la_chol(L, n, ldl), CARBS_OK);
        double *B0 = randmat(&r, n, ldb);
        double *B1 = xmalloc((n * ldb + 1) * sizeof(double)), *B2 = xmalloc((n * ldb + 1) * sizeof(double));
        memcpy(B1, B0, (n * ldb + 1) * sizeof(double));
        memcpy(B2, B0, (n * ldb + 1) * sizeof(double));
        CHECK_EQ(la_trsm(trans, n, nrhs, L, ldl, B1, ldb), CARBS_OK);
        CHECK_EQ(la_trsm_ref(trans, n, nrhs, L, ldl, B2, ldb), CARBS_OK);
        double big = 1;
        for (size_t i = 0; i < n * ldb; i++)
            big = fmax(big, fabs(B2[i]));
        CHECK(maxdiff(B1, B2, n, nrhs, ldb) < TOL * big);

        /* trsv on the first column */
        double *x = xmalloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            x[i] = B0[i * ldb];
        CHECK_EQ(la_trsv(trans, n, L, ldl, x), CARBS_OK);
        for (size_t i = 0; i < n; i++)
            CHECK_NEAR(x[i], B2[i * ldb], TOL * big);

        /* potrs: (L L^T) X = B0 */
        memcpy(B1, B0, (n * ldb + 1) * sizeof(double));
        CHECK_EQ(la_potrs(n, nrhs, L, ldl, B1, ldb), CARBS_OK);
        double *LX = xmalloc(n * nrhs * sizeof(double)), *R = xmalloc(n * nrhs * sizeof(double));
        la_gemm_ref(true, false, n, nrhs, n, 1.0, L, ldl, B1, ldb, 0.0, LX, nrhs);
        la_gemm_ref(false, false, n, nrhs, n, 1.0, L, ldl, LX, nrhs, 0.0, R, nrhs);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < nrhs; j++)
                CHECK_NEAR(R[i * nrhs + j], B0[i * ldb + j], 1e-9 * (1 + fabs(B0[i * ldb + j])));

        /* potri: inverse times S is the identity */
        double *S = xmalloc(n * n * sizeof(double)), *Inv = xmalloc(n * ldl * sizeof(double));
        double *P = xmalloc(n * n * sizeof(double));
        la_gemm_ref(false, true, n, n, n, 1.0, L, ldl, L, ldl, 0.0, S, n);
        memcpy(Inv, L, n * ldl * sizeof(double));
        CHECK_EQ(la_potri(Inv, n, ldl), CARBS_OK);
        la_gemm_ref(false, false, n, n, n, 1.0, Inv, ldl, S, n, 0.0, P, n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                CHECK_NEAR(P[i * n + j], i == j ? 1.0 : 0.0, 1e-9);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                CHECK(Inv[i * ldl + j] == Inv[j * ldl + i]);
        free(L);
        free(B0);
        free(B1);
        free(B2);
        free(x);
        free(LX);
        free(R);
        free(S);
        free(Inv);
        free(P);
    }
}

/* Rank-one S = v v^T with dyadic v: every step of the factorization is exact,
 * so the second pivot is exactly 0 and no rounding can rescue it. */
static void singular_gram(double *S, size_t n)
{
    static const double v[4] = {1.5, 0.75, -2.5, 1.25};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            S[i * n + j] = v[i] * v[j];
}

static void test_linalg_chol_not_pd(void)
{
    double S[16], A[16], L[16], jitter = -1;
    singular_gram(S, 4);
    memcpy(A, S, sizeof(S));
    CHECK_EQ(la_chol(A, 4, 4), CARBS_ENOTPD);
    memcpy(A, S, sizeof(S));
    CHECK_EQ(la_chol_ref(A, 4, 4), CARBS_ENOTPD);
    /* indefinite: negative diagonal */
    double neg[4] = {2.5, 0.1, 0.1, -0.3};
    CHECK_EQ(la_chol(neg, 2, 2), CARBS_ENOTPD);
    /* NaN entries are reported as not PD, not silently factored */
    double nan_m[4] = {1.5, NAN, NAN, 2.0};
    CHECK_EQ(la_chol(nan_m, 2, 2), CARBS_ENOTPD);
    /* the jitter policy with only a negligible retry still fails */
    neg[0] = 2.5;
    neg[1] = neg[2] = 0.1;
    neg[3] = -0.3;
    la_jitter_t none = {.initial = 1e-300, .growth = 1.5, .max_tries = 1};
    CHECK_EQ(la_chol_jitter(neg, 2, L, 2, 2, &none, &jitter), CARBS_ENOTPD);
    CHECK(jitter == 0.0);
    /* a factor with a zero diagonal cannot be used for solves */
    double Z[4] = {0.0, 0.0, 1.0, 2.0}, b[2] = {1, 2};
    CHECK_EQ(la_trsv(false, 2, Z, 2, b), CARBS_ENOTPD);
    CHECK_EQ(la_trsm(false, 2, 1, Z, 2, b, 1), CARBS_ENOTPD);
    CHECK_EQ(la_potri(Z, 2, 2), CARBS_ENOTPD);
    CHECK(isinf(la_logdet_chol(Z, 2, 2)));
}

static void test_linalg_jitter_recovers_and_reports(void)
{
    double S[16], S0[16], L[16], jitter = -1, mean_diag = 0;
    singular_gram(S, 4);
    memcpy(S0, S, sizeof(S));
    for (int i = 0; i < 4; i++)
        mean_diag += S[i * 4 + i] / 4;
    CHECK_EQ(la_chol_jitter(S, 4, L, 4, 4, NULL, &jitter), CARBS_OK);
    CHECK(memcmp(S, S0, sizeof(S)) == 0); /* input untouched */
    /* some retry succeeded: the jitter is one of the policy's steps */
    CHECK(jitter > 0);
    int step = -1;
    for (int t = 1; t <= LA_JITTER_TRIES; t++) {
        double j = LA_JITTER_INITIAL * pow(LA_JITTER_GROWTH, t - 1) * mean_diag;
        if (fabs(jitter - j) <= 1e-12 * j)
            step = t;
    }
    CHECK(step >= 1);
    /* L L^T = S + jitter I */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int p = 0; p < 4; p++)
                s += L[i * 4 + p] * L[j * 4 + p];
            CHECK_NEAR(s, S[i * 4 + j] + (i == j ? jitter : 0), 1e-9);
        }
    /* a custom policy with a large first step reports exactly that step */
    la_jitter_t cfg = {.initial = 0.03125, .growth = 4, .max_tries = 2};
    CHECK_EQ(la_chol_jitter(S, 4, L, 4, 4, &cfg, &jitter), CARBS_OK);
    CHECK_NEAR(jitter, 0.03125 * mean_diag, 1e-15);
    /* a PD matrix needs no jitter */
    double P[4] = {2.75, 0.5, 0.5, 1.125};
    CHECK_EQ(la_chol_jitter(P, 2, L, 2, 2, NULL, &jitter), CARBS_OK);
    CHECK(jitter == 0.0);
    CHECK_NEAR(L[0], sqrt(2.75), 1e-15);
}

static void test_linalg_rejects_bad_arguments(void)
{
    double A[16] = {1, 0, 0, 1}, B[16] = {0}, C[16] = {0}, x[4] = {0};
    CHECK_EQ(la_gemm(false, false, 2, 2, 2, 1, NULL, 2, B, 2, 0, C, 2), CARBS_EINVAL);
    CHECK_EQ(la_gemm(false, false, 2, 3, 2, 1, A, 2, B, 3, 0, C, 2), CARBS_EINVAL); /* ldc < n */
    CHECK_EQ(la_gemm(false, false, 2, 2, 3, 1, A, 2, B, 2, 0, C, 2), CARBS_EINVAL); /* lda < k */
    CHECK_EQ(la_gemm(true, false, 3, 2, 2, 1, A, 2, B, 2, 0, C, 2), CARBS_EINVAL);  /* lda < m */
    CHECK_EQ(la_gemm(false, true, 2, 3, 2, 1, A, 2, B, 1, 0, C, 3), CARBS_EINVAL);  /* ldb < k */
    CHECK_EQ(la_gemm_ref(false, false, 2, 3, 2, 1, A, 2, B, 3, 0, C, 2), CARBS_EINVAL);
    CHECK_EQ(la_syrk(false, 3, 2, 1, A, 1, 0, C, 3), CARBS_EINVAL);
    CHECK_EQ(la_syrk(false, 2, 2, 1, A, 2, 0, NULL, 2), CARBS_EINVAL);
    CHECK_EQ(la_syrk_ref(true, 3, 2, 1, A, 2, 0, C, 3), CARBS_EINVAL);
    CHECK_EQ(la_gemv(false, 2, 3, 1, A, 2, x, 0, C), CARBS_EINVAL);
    CHECK_EQ(la_chol(NULL, 2, 2), CARBS_EINVAL);
    CHECK_EQ(la_chol(A, 3, 2), CARBS_EINVAL);
    CHECK_EQ(la_chol_ref(A, 3, 2), CARBS_EINVAL);
    CHECK_EQ(la_chol_jitter(A, 2, A, 2, 2, NULL, NULL), CARBS_EINVAL); /* aliasing */
    CHECK_EQ(la_chol_jitter(A, 1, C, 2, 2, NULL, NULL), CARBS_EINVAL);
    CHECK_EQ(la_trsm(false, 2, 2, A, 2, B, 1), CARBS_EINVAL);
    CHECK_EQ(la_trsm_ref(false, 2, 2, A, 1, B, 2), CARBS_EINVAL);
    CHECK_EQ(la_trsv(false, 2, A, 1, x), CARBS_EINVAL);
    CHECK_EQ(la_potrs(2, 1, NULL, 2, B, 1), CARBS_EINVAL);
    CHECK_EQ(la_potri(A, 2, 1), CARBS_EINVAL);
    /* empty problems are fine */
    CHECK_EQ(la_chol(A, 0, 1), CARBS_OK);
    CHECK_EQ(la_gemm(false, false, 0, 2, 2, 1, A, 2, B, 2, 0, C, 2), CARBS_OK);
    CHECK(la_logdet_chol(A, 0, 1) == 0.0);
}

int main(void)
{
    la_single_thread();
    RUN(test_linalg_gemm_matches_ref);
    RUN(test_linalg_gemm_k0_scales_c);
    RUN(test_linalg_syrk_and_gemv_match_ref);
    RUN(test_linalg_chol_matches_ref_and_reconstructs);
    RUN(test_linalg_solves_match_ref);
    RUN(test_linalg_chol_not_pd);
    RUN(test_linalg_jitter_recovers_and_reports);
    RUN(test_linalg_rejects_bad_arguments);
    return check_summary();
}
