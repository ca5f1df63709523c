/*
 * test_kernels.c - every CPU kernel of trainer/cpu_kernels.c against its
 * naive double twin (_ref) on high-entropy inputs, with float tolerances
 * relative to the output scale (docs/style.md H30).
 */
#include "proto/common.h"
#include "trainer/cpu_kernels.h"

#include <math.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "trainer/model.h"

/* Relative tolerance for float kernels against double: a few ulps of float
 * accumulated over sums of up to ~300 terms. */
#define TOL_F 2e-5

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static double unif(void)
{
    return fx_splitmix_signed(&rng_state); /* [-1, 1) */
}

/* Fill float and double twins with the same values (exactly representable). */
static void fill(float *f, double *d, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)(unif() * scale);
        d[i] = f[i];
    }
}

static double max_abs(const double *d, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(d[i]) > m ? fabs(d[i]) : m;
    return m;
}

/* Largest |f - d| over the largest |d|. */
static double rel_err(const float *f, const double *d, size_t n)
{
    double e = 0, m = max_abs(d, n);
    for (size_t i = 0; i < n; i++)
        e = fabs((double)f[i] - d[i]) > e ? fabs((double)f[i] - d[i]) : e;
    return m > 0 ? e / m : e;
}

static void test_kernels_gemm_all_transposes(void)
{
    size_t M = 37, N = 29, K = 53, ld = 61;
    float *A = xmalloc(ld * ld * sizeof(float)), *B = xmalloc(ld * ld * sizeof(float));
    float *C = xmalloc(ld * ld * sizeof(float));
    double *Ad = xmalloc(ld * ld * sizeof(double)), *Bd = xmalloc(ld * ld * sizeof(double));
    double *Cd = xmalloc(ld * ld * sizeof(double));

    ck_blas_single_thread();
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            fill(A, Ad, ld * ld, 1.3);
            fill(B, Bd, ld * ld, 0.7);
            fill(C, Cd, ld * ld, 2.1);
            ck_gemm(ta, tb, M, N, K, 0.75f, A, ld, B, ld, 0.5f, C, ld);
            ck_gemm_ref(ta, tb, M, N, K, 0.75, Ad, ld, Bd, ld, 0.5, Cd, ld);
            CHECK(rel_err(C, Cd, ld * ld) < TOL_F);
            /* beta 0 ignores C even when it holds NaN */
            for (size_t i = 0; i < ld * ld; i++)
                C[i] = NAN;
            ck_gemm(ta, tb, M, N, K, 1.0f, A, ld, B, ld, 0.0f, C, ld);
            ck_gemm_ref(ta, tb, M, N, K, 1.0, Ad, ld, Bd, ld, 0.0, Cd, ld);
            for (size_t i = 0; i < M; i++)
                CHECK(rel_err(C + i * ld, Cd + i * ld, N) < 1e-4);
        }
    }
    free(A), free(B), free(C), free(Ad), free(Bd), free(Cd);
}

static void test_kernels_rmsnorm(void)
{
    size_t n = 13, C = 48;
    float x[13 * 48], g[48], y[13 * 48], r[13], dy[13 * 48], dx[13 * 48], dg[48];
    double xd[13 * 48], gd[48], yd[13 * 48], rd[13], dyd[13 * 48], dxd[13 * 48], dgd[48];

    fill(x, xd, n * C, 3.3);
    fill(g, gd, C, 1.7);
    fill(dy, dyd, n * C, 0.9);
    fill(dx, dxd, n * C, 0.4); /* accumulates */
    memset(dg, 0, sizeof(dg));
    memset(dgd, 0, sizeof(dgd));
    ck_rmsnorm_fwd(x, g, n, C, y, r);
    ck_rmsnorm_fwd_ref(xd, gd, n, C, yd, rd);
    CHECK(rel_err(y, yd, n * C) < TOL_F);
    CHECK(rel_err(r, rd, n) < TOL_F);
    ck_rmsnorm_bwd(dy, x, g, r, n, C, dx);
    ck_rmsnorm_dg(dy, x, r, n, C, 0, 20, dg);
    ck_rmsnorm_dg(dy, x, r, n, C, 20, C, dg);
    ck_rmsnorm_bwd_ref(dyd, xd, gd, rd, n, C, dxd, dgd);
    CHECK(rel_err(dx, dxd, n * C) < TOL_F);
    CHECK(rel_err(dg, dgd, C) < TOL_F);
}

static void test_kernels_rope_and_inverse(void)
{
    size_t T = 40, hd = 12, heads = 3, ld = 41, half = hd / 2;
    float cs[40 * 6], sn[40 * 6], x[17 * 41], x0[17 * 41];
    double xd[17 * 41];

    ck_rope_table(T, hd, 10000.0, cs, sn);
    fill(x, xd, 17 * ld, 2.2);
    memcpy(x0, x, sizeof(x));
    ck_rope(x, ld, 17, 21, heads, hd, cs, sn, false); /* positions 21..37 */
    ck_rope_ref(xd, ld, 17, 21, heads, hd, 10000.0, false);
    CHECK(rel_err(x, xd, 17 * ld) < TOL_F);
    /* the column past the heads is untouched; the inverse restores x */
    CHECK_EQ(x[ld - 1] == x0[ld - 1], 1);
    ck_rope(x, ld, 17, 21, heads, hd, cs, sn, true);
    for (size_t i = 0; i < 17 * ld; i++)
        CHECK_NEAR(x[i], x0[i], 1e-5);
    CHECK_NEAR(cs[3 * half + 0], cos(3.0), 1e-6);
    CHECK_NEAR(sn[7 * half + 2], sin(7.0 * pow(10000.0, -4.0 / 12.0)), 1e-6);
}

/* One (sequence, head) of attention with a key/value stride unlike q's and
 * a length that is not a multiple of MODEL_ATT_BLOCK. */
static void test_kernels_attention(void)
{
    size_t T = 150, hd = 16, ldq = 40, ldkv = 24, n = T;
    size_t qn = T * ldq, kn = T * ldkv;
    float *q = xmalloc(qn * 4), *k = xmalloc(kn * 4), *v = xmalloc(kn * 4), *att = xmalloc(T * T * 4);
    float *y = xcalloc(T * ldq, 4), *dy = xmalloc(T * ldq * 4), *dq = xcalloc(qn, 4);
    float *dk = xmalloc(kn * 4), *dv = xmalloc(kn * 4), *dp = xmalloc(MODEL_ATT_BLOCK * T * 4);
    double *qd = xmalloc(qn * 8), *kd = xmalloc(kn * 8), *vd = xmalloc(kn * 8);
    double *attd = xmalloc(T * T * 8), *yd = xcalloc(T * ldq, 8), *dyd = xmalloc(T * ldq * 8);
    double *dqd = xcalloc(qn, 8), *dkd = xmalloc(kn * 8), *dvd = xmalloc(kn * 8);
    float *y2 = xcalloc(T * ldq, 4), *att2 = xmalloc(T * T * 4);

    fill(q, qd, qn, 2.5);
    fill(k, kd, kn, 2.5);
    fill(v, vd, kn, 1.1);
    fill(dy, dyd, T * ldq, 0.8);
    fill(dk, dkd, kn, 0.3); /* dk, dv accumulate */
    fill(dv, dvd, kn, 0.3);
    ck_attn_fwd(q, k, v, ldq, ldkv, 0, n, hd, T, att, y, ldq);
    ck_attn_fwd_ref(qd, kd, vd, ldq, ldkv, n, hd, T, attd, yd, ldq);
    for (size_t i = 0; i < n; i++) {
        CHECK(rel_err(y + i * ldq, yd + i * ldq, hd) < 1e-4);
        CHECK(rel_err(att + i * T, attd + i * T, i + 1) < 1e-4);
    }
    ck_attn_bwd(q, k, v, ldq, ldkv, att, dy, ldq, n, hd, T, dp, dq, dk, dv);
    ck_attn_bwd_ref(qd, kd, vd, ldq, ldkv, attd, dyd, ldq, n, hd, T, dqd, dkd, dvd);
    for (size_t i = 0; i < n; i++) {
        CHECK(rel_err(dq + i * ldq, dqd + i * ldq, hd) < 1e-3);
        CHECK(rel_err(dk + i * ldkv, dkd + i * ldkv, hd) < 1e-3);
        CHECK(rel_err(dv + i * ldkv, dvd + i * ldkv, hd) < 1e-3);
    }
    /* a cached prefix: rows [0, 70) then [70, 150) give the same rows */
    ck_attn_fwd(q, k, v, ldq, ldkv, 0, 70, hd, T, att2, y2, ldq);
    ck_attn_fwd(q, k, v, ldq, ldkv, 70, n, hd, T, att2, y2, ldq);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < hd; c++)
            CHECK_NEAR(y2[i * ldq + c], y[i * ldq + c], 1e-5);
    free(q), free(k), free(v), free(att), free(y), free(dy), free(dq), free(dk), free(dv);
    free(dp), free(qd), free(kd), free(vd), free(attd), free(yd), free(dyd), free(dqd);
    free(dkd), free(dvd), free(y2), free(att2);
}

static void test_kernels_swiglu(void)
{
    size_t n = 9, F = 23;
    float h[9 * 46], a[9 * 23], da[9 * 23], dh[9 * 46], dh2[9 * 46];
    double hd[9 * 46], ad[9 * 23], dad[9 * 23], dhd[9 * 46];

    fill(h, hd, n * 2 * F, 4.0);
    fill(da, dad, n * F, 1.3);
    ck_swiglu_fwd(h, n, F, a);
    ck_swiglu_fwd_ref(hd, n, F, ad);
    CHECK(rel_err(a, ad, n * F) < TOL_F);
    ck_swiglu_bwd(h, da, F, n, F, dh);
    ck_swiglu_bwd_ref(hd, dad, n, F, dhd);
    CHECK(rel_err(dh, dhd, n * 2 * F) < TOL_F);
    /* in place: da stored in dh's up half */
    for (size_t i = 0; i < n; i++)
        memcpy(dh2 + i * 2 * F + F, da + i * F, F * sizeof(float));
    ck_swiglu_bwd(h, dh2 + F, 2 * F, n, F, dh2);
    for (size_t i = 0; i < n * 2 * F; i++)
        CHECK_EQ(dh2[i] == dh[i], 1);
}

static void test_kernels_xent(void)
{
    size_t n = 7, V = 301;
    float z[7 * 301], nll[7];
    double zd[7 * 301], nlld[7], s, sd;
    int32_t t[7] = {0, 300, 17, 150, 299, 1, 88};

    fill(z, zd, n * V, 6.0);
    z[2 * V + 17] = 80.0f; /* a dominant logit: the max-shift must keep it finite */
    zd[2 * V + 17] = 80.0;
    s = ck_xent(z, t, n, V, 0.25f, nll, false);
    sd = ck_xent_ref(zd, t, n, V, 0.25, nlld, false);
    CHECK_NEAR(s, sd, 1e-4 * sd);
    CHECK(rel_err(nll, nlld, n) < TOL_F);
    CHECK(nll[2] >= 0 && nll[2] < 1e-6);
    s = ck_xent(z, t, n, V, 0.25f, NULL, true);
    sd = ck_xent_ref(zd, t, n, V, 0.25, NULL, true);
    CHECK_NEAR(s, sd, 1e-4 * sd);
    CHECK(rel_err(z, zd, n * V) < TOL_F);
    for (size_t i = 0; i < n; i++) { /* softmax - onehot sums to 0 per row */
        double row = 0;
        for (size_t j = 0; j < V; j++)
            row += z[i * V + j];
        CHECK_NEAR(row, 0, 1e-6);
    }
}

static void test_kernels_adamw_and_helpers(void)
{
    size_t n = 101;
    float p[101], g[101], m[101], v[101], y[101];
    double pd[101], gd[101], md[101], vd[101];
    ck_adamw_t hp = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .wd = 0.1f,
                     .gscale = 0.37f};

    fill(p, pd, n, 1.0);
    fill(g, gd, n, 2.0);
    memset(m, 0, sizeof(m)), memset(v, 0, sizeof(v));
    memset(md, 0, sizeof(md)), memset(vd, 0, sizeof(vd));
    for (int t = 1; t <= 5; t++) {
        hp.bc1 = (float)(1 - pow(0.9, t));
        hp.bc2 = (float)(1 - pow(0.95, t));
        ck_adamw(p, g, m, v, n, &hp);
        ck_adamw_ref(pd, gd, md, vd, n, &hp);
    }
    CHECK(rel_err(p, pd, n) < TOL_F);
    CHECK(rel_err(m, md, n) < TOL_F);
    /* first step moves each parameter by about lr in the gradient's direction */
    {
        float p1 = 0.5f, g1 = -3.0f, m1 = 0, v1 = 0;
        ck_adamw_t h1 = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .wd = 0,
                         .bc1 = 0.1f, .bc2 = 0.01f, .gscale = 1};
        ck_adamw(&p1, &g1, &m1, &v1, 1, &h1);
        CHECK_NEAR(p1, 0.51, 1e-6);
    }
    {
        double ss = 0;
        for (size_t i = 0; i < n; i++)
            ss += (double)p[i] * (double)p[i];
        CHECK_NEAR(ck_sumsq(p, n), ss, 1e-9 * ss);
    }
    memcpy(y, g, sizeof(y));
    ck_add(y, p, n);
    CHECK_NEAR(y[50], g[50] + p[50], 1e-6);
}

static void test_kernels_embedding(void)
{
    size_t V = 11, C = 6, n = 5;
    float wte[66], x[30], dw[66];
    double wd[66];
    int32_t tok[5] = {3, 10, 3, 0, 7};

    fill(wte, wd, V * C, 1.5);
    ck_embed_fwd(wte, tok, n, C, x);
    CHECK_EQ(memcmp(x + C, wte + 10 * C, C * sizeof(float)), 0);
    memset(dw, 0, sizeof(dw));
    ck_embed_bwd(x, tok, n, C, 0, 4, dw);
    ck_embed_bwd(x, tok, n, C, 4, C, dw);
    CHECK_NEAR(dw[3 * C + 2], 2 * wte[3 * C + 2], 1e-6); /* token 3 appears twice */
    CHECK_NEAR(dw[1 * C + 2], 0, 0);
}

int main(void)
{
    RUN(test_kernels_gemm_all_transposes);
    RUN(test_kernels_rmsnorm);
    RUN(test_kernels_rope_and_inverse);
    RUN(test_kernels_attention);
    RUN(test_kernels_swiglu);
    RUN(test_kernels_xent);
    RUN(test_kernels_adamw_and_helpers);
    RUN(test_kernels_embedding);
    return check_summary();
}
