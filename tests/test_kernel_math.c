/*
 * test_kernel_math.c - the per-element math both backends share
 * (trainer/kernel_math.h), run on the CPU: each piece assembled into a
 * row exactly as a GPU thread block would (sum, then the elementwise
 * formula) and compared with the CPU backend's kernel (tolerance 1e-6 of
 * the output scale: the same formulas, only the summation order and
 * FMA contraction differ) and with its double twin (_ref, TOL_F); bf16
 * rounding on exact cases.  CI never has a GPU, so this is where the
 * CUDA kernels' arithmetic is checked.
 */
#include "proto/common.h"
#include "trainer/kernel_math.h"

#include "tests/check.h"
#include "tests/fixture.h"
#include "trainer/cpu_kernels.h"
#include "trainer/model.h"

/* float against double: a few ulps over sums of up to ~300 terms */
#define TOL_F 2e-5
/* shared math against the CPU kernel: same formulas, other order */
#define TOL_SAME 1e-6

static uint64_t rng_state = 0x452821e638d01377ULL;

static double unif(void)
{
    return fx_splitmix_signed(&rng_state); /* [-1, 1) */
}

static void fill(float *f, double *d, size_t n, double scale, double shift)
{
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)(shift + unif() * scale);
        if (d)
            d[i] = f[i];
    }
}

/* Largest |a - b| over the largest |b|. */
static double rel_err_ff(const float *a, const float *b, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - (double)b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return m > 0 ? e / m : e;
}

static double rel_err_fd(const float *a, const double *b, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return m > 0 ? e / m : e;
}

static void test_kernel_math_exp(void)
{
    double worst = 0;
    for (int i = 0; i <= 20000; i++) {
        float x = -87.0f + 175.0f * (float)i / 20000.0f;
        double want = exp((double)x), got = km_exp(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    CHECK(worst < 2.5e-7); /* about 2 ulps of float */
    CHECK(km_exp(-200.0f) > 0 && km_exp(-200.0f) < 1e-37f);
    CHECK(km_exp(200.0f) > 1e38f);
    CHECK(isnan(km_exp(NAN)));
    CHECK_NEAR(km_sigmoid(0.0f), 0.5, 1e-7);
    CHECK_NEAR(km_sigmoid(2.385f), 1.0 / (1.0 + exp(-2.385)), 1e-7);
}

/* A row as a GPU block computes it: the sum of squares, rstd, then y. */
static void test_kernel_math_rmsnorm(void)
{
    enum { n = 7, C = 96 };
    float x[n * C], g[C], dy[n * C], y[n * C], yk[n * C], r[n], rk[n];
    float dx[n * C], dxk[n * C], dg[C], dgk[C];
    double xd[n * C], gd[C], dyd[n * C], yd[n * C], rd[n], dxd[n * C], dgd[C];

    fill(x, xd, n * C, 1.7, 0.2);
    fill(g, gd, C, 0.4, 1.0);
    fill(dy, dyd, n * C, 0.9, 0);
    memset(dx, 0, sizeof(dx));
    memset(dxk, 0, sizeof(dxk));
    memset(dg, 0, sizeof(dg));
    memset(dgk, 0, sizeof(dgk));
    memset(dxd, 0, sizeof(dxd));
    memset(dgd, 0, sizeof(dgd));
    for (size_t i = 0; i < n; i++) {
        float ss = 0, dot = 0, k;
        for (size_t c = 0; c < C; c++)
            ss += x[i * C + c] * x[i * C + c];
        r[i] = km_rmsnorm_rstd(ss, (float)C);
        for (size_t c = 0; c < C; c++) {
            y[i * C + c] = km_rmsnorm_y(x[i * C + c], r[i], g[c]);
            dot += dy[i * C + c] * g[c] * x[i * C + c];
        }
        k = km_rmsnorm_k(dot, r[i], (float)C);
        for (size_t c = 0; c < C; c++) {
            dx[i * C + c] = km_rmsnorm_dx(dy[i * C + c], x[i * C + c], g[c], r[i], k);
            dg[c] += km_rmsnorm_dg(dy[i * C + c], x[i * C + c], r[i]);
        }
    }
    ck_rmsnorm_fwd(x, g, n, C, yk, rk);
    ck_rmsnorm_bwd(dy, x, g, rk, n, C, dxk);
    ck_rmsnorm_dg(dy, x, rk, n, C, 0, C, dgk);
    ck_rmsnorm_fwd_ref(xd, gd, n, C, yd, rd);
    ck_rmsnorm_bwd_ref(dyd, xd, gd, rd, n, C, dxd, dgd);
    CHECK(rel_err_ff(y, yk, n * C) < TOL_SAME);
    CHECK(rel_err_ff(r, rk, n) < TOL_SAME);
    CHECK(rel_err_ff(dx, dxk, n * C) < TOL_SAME);
    CHECK(rel_err_ff(dg, dgk, C) < TOL_SAME);
    CHECK(rel_err_fd(y, yd, n * C) < TOL_F);
    CHECK(rel_err_fd(r, rd, n) < TOL_F);
    CHECK(rel_err_fd(dx, dxd, n * C) < TOL_F);
    CHECK(rel_err_fd(dg, dgd, C) < TOL_F);
}

/* Rows at positions p0.. of 3 heads, rotated pair by pair from the cos /
 * sin tables (as the GPU reads them), then back. */
static void test_kernel_math_rope(void)
{
    enum { n = 5, H = 3, hd = 16, T = 64, W = H * hd };
    size_t p0 = 41, half = hd / 2;
    float x[n * W], keep[n * W], xk[n * W], ct[T * hd / 2], st[T * hd / 2];
    double xd[n * W];

    fill(x, xd, n * W, 1.3, 0);
    memcpy(keep, x, sizeof(x));
    memcpy(xk, x, sizeof(x));
    ck_rope_table(T, hd, 10000.0, ct, st);
    for (size_t r = 0; r < n; r++)
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < half; i++)
                km_rope_pair(&x[r * W + h * hd + 2 * i], &x[r * W + h * hd + 2 * i + 1],
                             ct[(p0 + r) * half + i], st[(p0 + r) * half + i]);
    ck_rope(xk, W, n, p0, H, hd, ct, st, false);
    ck_rope_ref(xd, W, n, p0, H, hd, 10000.0, false);
    CHECK(rel_err_ff(x, xk, n * W) < TOL_SAME);
    CHECK(rel_err_fd(x, xd, n * W) < TOL_F);
    for (size_t r = 0; r < n; r++)
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < half; i++)
                km_rope_pair(&x[r * W + h * hd + 2 * i], &x[r * W + h * hd + 2 * i + 1],
                             ct[(p0 + r) * half + i], -st[(p0 + r) * half + i]);
    CHECK(rel_err_ff(x, keep, n * W) < 1e-6);
}

static void test_kernel_math_swiglu(void)
{
    enum { n = 4, F = 40 };
    float h[n * 2 * F], a[n * F], ak[n * F], da[n * F], dh[n * 2 * F], dhk[n * 2 * F];
    double hd[n * 2 * F], ad[n * F], dad[n * F], dhd[n * 2 * F];

    fill(h, hd, n * 2 * F, 3.1, 0.15);
    fill(da, dad, n * F, 0.8, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < F; j++) {
            float gt = h[i * 2 * F + j], up = h[i * 2 * F + F + j], sg = km_sigmoid(gt);
            a[i * F + j] = km_swiglu(gt, up, sg);
            dh[i * 2 * F + j] = km_swiglu_dgate(da[i * F + j], gt, up, sg);
            dh[i * 2 * F + F + j] = km_swiglu_dup(da[i * F + j], gt, sg);
        }
    ck_swiglu_fwd(h, n, F, ak);
    ck_swiglu_bwd(h, da, F, n, F, dhk);
    ck_swiglu_fwd_ref(hd, n, F, ad);
    ck_swiglu_bwd_ref(hd, dad, n, F, dhd);
    CHECK(rel_err_ff(a, ak, n * F) < TOL_SAME);
    CHECK(rel_err_ff(dh, dhk, n * 2 * F) < TOL_SAME);
    CHECK(rel_err_fd(a, ad, n * F) < TOL_F);
    CHECK(rel_err_fd(dh, dhd, n * 2 * F) < TOL_F);
}

/* Cross-entropy row by row: max, sum of e^(z - max), lse, gradient. */
static void test_kernel_math_xent(void)
{
    enum { n = 6, V = 300 };
    float z[n * V], zk[n * V], nll[n], nllk[n], scale = 1.0f / 6.0f;
    double zd[n * V], nlld[n];
    int32_t tgt[n] = {0, 299, 17, 150, 3, 42};

    fill(z, zd, n * V, 4.2, -0.3);
    memcpy(zk, z, sizeof(z));
    for (size_t i = 0; i < n; i++) {
        float *row = z + i * V, mx = row[0], sum = 0, k;
        for (size_t j = 1; j < V; j++)
            mx = fmaxf(mx, row[j]);
        for (size_t j = 0; j < V; j++) {
            row[j] = km_exp(row[j] - mx);
            sum += row[j];
        }
        nll[i] = km_lse(mx, sum) - (float)zd[i * V + tgt[i]];
        k = scale / sum;
        for (size_t j = 0; j < V; j++)
            row[j] = km_xent_grad(row[j], k, (size_t)tgt[i] == j, scale);
    }
    ck_xent(zk, tgt, n, V, scale, nllk, true);
    ck_xent_ref(zd, tgt, n, V, scale, nlld, true);
    CHECK(rel_err_ff(nll, nllk, n) < TOL_SAME);
    CHECK(rel_err_ff(z, zk, n * V) < TOL_SAME);
    CHECK(rel_err_fd(nll, nlld, n) < TOL_F);
    CHECK(rel_err_fd(z, zd, n * V) < TOL_F);
}

/* Softmax backward of one attention row against its double form. */
static void test_kernel_math_softmax_bwd(void)
{
    enum { n = 50 };
    float p[n], dp[n], ds[n], scale = 0.25f, dot = 0, sum = 0;
    double dsd[n], dotd = 0;

    fill(p, NULL, n, 0.5, 1.0);
    for (size_t j = 0; j < n; j++)
        sum += p[j];
    for (size_t j = 0; j < n; j++)
        p[j] /= sum;
    fill(dp, NULL, n, 2.2, 0.1);
    for (size_t j = 0; j < n; j++) {
        dot += p[j] * dp[j];
        dotd += (double)p[j] * dp[j];
    }
    for (size_t j = 0; j < n; j++) {
        ds[j] = km_softmax_bwd(p[j], dp[j], dot, scale);
        dsd[j] = (double)p[j] * ((double)dp[j] - dotd) * scale;
    }
    CHECK(rel_err_fd(ds, dsd, n) < TOL_F);
}

/* Ten AdamW steps with decay and clipping, element by element, against
 * the CPU kernel and the double twin. */
static void test_kernel_math_adamw(void)
{
    enum { n = 33 };
    float p[n], m[n] = {0}, v[n] = {0}, pk[n], mk[n] = {0}, vk[n] = {0}, g[n];
    double pd[n], md[n] = {0}, vd[n] = {0}, gd[n];
    ck_adamw_t hp = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .wd = 0.1f,
                     .gscale = 0.7f};

    fill(p, pd, n, 0.5, 0);
    memcpy(pk, p, sizeof(p));
    for (int t = 1; t <= 10; t++) {
        fill(g, gd, n, 0.03, 0.001);
        hp.bc1 = (float)(1.0 - pow(hp.beta1, t));
        hp.bc2 = (float)(1.0 - pow(hp.beta2, t));
        for (size_t i = 0; i < n; i++)
            km_adamw(&p[i], &m[i], &v[i], g[i], hp.lr, hp.beta1, hp.beta2, hp.eps, hp.wd,
                     1.0f / hp.bc1, 1.0f / sqrtf(hp.bc2), hp.gscale);
        ck_adamw(pk, g, mk, vk, n, &hp);
        ck_adamw_ref(pd, gd, md, vd, n, &hp);
    }
    CHECK(rel_err_ff(p, pk, n) < TOL_SAME);
    CHECK(rel_err_fd(p, pd, n) < TOL_F);
    CHECK(rel_err_fd(m, md, n) < TOL_F);
}

static void test_kernel_math_bf16(void)
{
    /* exact values keep their bits */
    CHECK_EQ(km_bf16(1.0f), 0x3f80);
    CHECK_EQ(km_bf16(-2.0f), 0xc000);
    CHECK_EQ(km_bf16(0.0f), 0x0000);
    CHECK_EQ(km_bf16(-0.0f), 0x8000);
    /* ties go to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 */
    CHECK_EQ(km_bf16(km_from_bits(0x3f808000u)), 0x3f80);
    CHECK_EQ(km_bf16(km_from_bits(0x3f818000u)), 0x3f82);
    /* just above and below the tie */
    CHECK_EQ(km_bf16(km_from_bits(0x3f808001u)), 0x3f81);
    CHECK_EQ(km_bf16(km_from_bits(0x3f807fffu)), 0x3f80);
    /* overflow rounds to infinity; infinities and NaN survive */
    CHECK_EQ(km_bf16(km_from_bits(0x7f7fffffu)), 0x7f80);
    CHECK_EQ(km_bf16(INFINITY), 0x7f80);
    CHECK_EQ(km_bf16(-INFINITY), 0xff80);
    CHECK(isnan(km_bf16_round(NAN)));
    CHECK(isnan(km_bf16_to_float(km_bf16(km_from_bits(0x7f800001u))))); /* signalling NaN */
    /* subnormals round like everything else */
    CHECK_EQ(km_bf16(km_from_bits(0x00008000u)), 0x0000);
    CHECK_EQ(km_bf16(km_from_bits(0x00018000u)), 0x0002);
    /* relative error at most 2^-8 (8 significant bits) over a sweep */
    {
        double worst = 0;
        for (int i = 0; i < 10000; i++) {
            float x = (float)(unif() * 1e3);
            if (x != 0)
                worst = fmax(worst, fabs((double)km_bf16_round(x) - x) / fabs((double)x));
        }
        CHECK(worst <= 1.0 / 256.0);
        CHECK(worst > 1.0 / 512.0);
    }
}

int main(void)
{
    RUN(test_kernel_math_exp);
    RUN(test_kernel_math_rmsnorm);
    RUN(test_kernel_math_rope);
    RUN(test_kernel_math_swiglu);
    RUN(test_kernel_math_xent);
    RUN(test_kernel_math_softmax_bwd);
    RUN(test_kernel_math_adamw);
    RUN(test_kernel_math_bf16);
    return check_summary();
}
