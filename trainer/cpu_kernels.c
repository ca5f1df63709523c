/*
 * cpu_kernels.c - the CPU backend's kernels: matrix multiplies through
 * OpenBLAS sgemm (the only cblas caller in the project's trainer), and
 * the elementwise work around them (embedding, RMSNorm, RoPE, causal
 * softmax, SwiGLU, cross-entropy, AdamW).
 *
 * Each kernel has a naive double twin (_ref) written from the math alone;
 * tests/test_kernels.c compares the two and tests/test_gradcheck.c checks
 * the _ref backward passes against finite differences.  Attention is two
 * sgemms per block of MODEL_ATT_BLOCK query rows (scores, then probabilities
 * times values) and skips the key columns the causal mask zeroes
 * (Vaswani et al. 2017 §3.2.1; RoPE: Su et al. 2021 eq. 34, interleaved
 * pairs; SwiGLU: Shazeer 2020; RMSNorm: Zhang & Sennrich 2019).
 */
#include "proto/common.h"
#include "trainer/cpu_kernels.h"

#include <cblas.h>
#include <math.h>

#include "trainer/kernel_math.h"
#include "trainer/model.h"

void ck_blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

// ---- elementwise helpers ----

/* The hot elementwise kernels are built for three instruction sets and the
 * loader picks one (GCC function multiversioning): the default build targets
 * plain x86-64 (SSE2), which leaves AVX2 and AVX-512 machines half idle. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(CARBS_NO_CLONES)
#define CK_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define CK_CLONES
#endif

/* Largest of x[0..n), n >= 1, in eight lanes. */
static inline float ck_max(const float *x, size_t n)
{
    float m[8], mx;
    size_t j = 0;

    for (int k = 0; k < 8; k++)
        m[k] = x[0];
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++)
            m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    for (; j < n; j++)
        m[0] = x[j] > m[0] ? x[j] : m[0];
    mx = m[0];
    for (int k = 1; k < 8; k++)
        mx = m[k] > mx ? m[k] : mx;
    return mx;
}

/* x[j] = e^(x[j] - shift) for j < n; returns their sum, in eight lanes. */
static inline float ck_exp_shift_sum(float *x, size_t n, float shift)
{
    float s[8] = {0}, sum = 0;
    size_t j = 0;

    for (size_t i = 0; i < n; i++)
        x[i] = km_exp(x[i] - shift);
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++)
            s[k] += x[j + k];
    for (; j < n; j++)
        s[0] += x[j];
    for (int k = 0; k < 8; k++)
        sum += s[k];
    return sum;
}

// ---- matrix multiply ----

void ck_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (!M || !N) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
                C, (blasint)ldc);
}

void ck_gemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, double alpha, const double *A,
                 size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double acc = 0;
            for (size_t p = 0; p < K; p++) {
                double a = ta ? A[p * lda + i] : A[i * lda + p];
                double b = tb ? B[j * ldb + p] : B[p * ldb + j];
                acc += a * b;
            }
            C[i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[i * ldc + j]);
        }
    }
}

// ---- embedding ----

void ck_embed_fwd(const float *wte, const int32_t *tok, size_t n, size_t C, float *x)
{
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * C, wte + (size_t)tok[i] * C, C * sizeof(float));
}

void ck_embed_bwd(const float *dx, const int32_t *tok, size_t n, size_t C, size_t c0, size_t c1,
                  float *dwte)
{
    for (size_t i = 0; i < n; i++) {
        float *dst = dwte + (size_t)tok[i] * C;
        const float *src = dx + i * C;
        for (size_t c = c0; c < c1; c++)
            dst[c] += src[c];
    }
}

// ---- RMSNorm ----

CK_CLONES void ck_rmsnorm_fwd(const float *x, const float *g, size_t n, size_t C, float *y,
                              float *rstd)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * C;
        float *yi = y + i * C;
        float ss = 0, r;
        for (size_t c = 0; c < C; c++)
            ss += xi[c] * xi[c];
        r = km_rmsnorm_rstd(ss, (float)C);
        rstd[i] = r;
        for (size_t c = 0; c < C; c++)
            yi[c] = km_rmsnorm_y(xi[c], r, g[c]);
    }
}

/* With u = x r:  dx = r (dy g - u mean(dy g u)). */
CK_CLONES void ck_rmsnorm_bwd(const float *dy, const float *x, const float *g, const float *rstd,
                              size_t n, size_t C, float *dx)
{
    for (size_t i = 0; i < n; i++) {
        const float *dyi = dy + i * C, *xi = x + i * C;
        float *dxi = dx + i * C;
        float r = rstd[i], dot = 0, k;
        for (size_t c = 0; c < C; c++)
            dot += dyi[c] * g[c] * xi[c];
        k = km_rmsnorm_k(dot, r, (float)C);
        for (size_t c = 0; c < C; c++)
            dxi[c] += km_rmsnorm_dx(dyi[c], xi[c], g[c], r, k);
    }
}

void ck_rmsnorm_dg(const float *dy, const float *x, const float *rstd, size_t n, size_t C,
                   size_t c0, size_t c1, float *dg)
{
    for (size_t i = 0; i < n; i++) {
        const float *dyi = dy + i * C, *xi = x + i * C;
        float r = rstd[i];
        for (size_t c = c0; c < c1; c++)
            dg[c] += km_rmsnorm_dg(dyi[c], xi[c], r);
    }
}

void ck_rmsnorm_fwd_ref(const double *x, const double *g, size_t n, size_t C, double *y,
                        double *rstd)
{
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t c = 0; c < C; c++)
            ss += x[i * C + c] * x[i * C + c];
        rstd[i] = 1.0 / sqrt(ss / (double)C + MODEL_NORM_EPS);
        for (size_t c = 0; c < C; c++)
            y[i * C + c] = x[i * C + c] * rstd[i] * g[c];
    }
}

void ck_rmsnorm_bwd_ref(const double *dy, const double *x, const double *g, const double *rstd,
                        size_t n, size_t C, double *dx, double *dg)
{
    for (size_t i = 0; i < n; i++) {
        double r = rstd[i], dot = 0;
        for (size_t c = 0; c < C; c++) {
            dot += dy[i * C + c] * g[c] * x[i * C + c];
            dg[c] += dy[i * C + c] * x[i * C + c] * r;
        }
        for (size_t c = 0; c < C; c++)
            dx[i * C + c] += r * dy[i * C + c] * g[c] - x[i * C + c] * r * r * r * dot / (double)C;
    }
}

// ---- RoPE ----

void ck_rope_table(size_t T, size_t hd, double base, float *cos_t, float *sin_t)
{
    size_t half = hd / 2;
    for (size_t p = 0; p < T; p++) {
        for (size_t i = 0; i < half; i++) {
            double ang = (double)p * pow(base, -2.0 * (double)i / (double)hd);
            cos_t[p * half + i] = (float)cos(ang);
            sin_t[p * half + i] = (float)sin(ang);
        }
    }
}

void ck_rope(float *x, size_t ld, size_t n, size_t p0, size_t n_heads, size_t hd,
             const float *cos_t, const float *sin_t, bool inverse)
{
    size_t half = hd / 2;
    float sgn = inverse ? -1.0f : 1.0f;
    for (size_t r = 0; r < n; r++) {
        const float *cr = cos_t + (p0 + r) * half, *sr = sin_t + (p0 + r) * half;
        for (size_t h = 0; h < n_heads; h++) {
            float *xh = x + r * ld + h * hd;
            for (size_t i = 0; i < half; i++)
                km_rope_pair(&xh[2 * i], &xh[2 * i + 1], cr[i], sgn * sr[i]);
        }
    }
}

void ck_rope_ref(double *x, size_t ld, size_t n, size_t p0, size_t n_heads, size_t hd, double base,
                 bool inverse)
{
    for (size_t r = 0; r < n; r++) {
        for (size_t h = 0; h < n_heads; h++) {
            double *xh = x + r * ld + h * hd;
            for (size_t i = 0; i < hd / 2; i++) {
                double ang = (double)(p0 + r) * pow(base, -2.0 * (double)i / (double)hd);
                double c = cos(ang), s = inverse ? -sin(ang) : sin(ang);
                double a = xh[2 * i], b = xh[2 * i + 1];
                xh[2 * i] = a * c - b * s;
                xh[2 * i + 1] = a * s + b * c;
            }
        }
    }
}

// ---- attention ----

/* Softmax of row[0..p] in place, zeros in row(p, e). */
static inline void causal_softmax_row(float *row, size_t p, size_t e)
{
    float mx = ck_max(row, p + 1), inv;

    inv = 1.0f / ck_exp_shift_sum(row, p + 1, mx);
    for (size_t j = 0; j <= p; j++)
        row[j] *= inv;
    for (size_t j = p + 1; j < e; j++)
        row[j] = 0;
}

CK_CLONES void ck_attn_fwd(const float *q, const float *k, const float *v, size_t ldq, size_t ldkv,
                           size_t row0, size_t row1, size_t hd, size_t T, float *att, float *y,
                           size_t ldy)
{
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t s = row0; s < row1; s += MODEL_ATT_BLOCK) {
        size_t e = min_sz(s + MODEL_ATT_BLOCK, row1), m = e - s;
        float *S = att + s * T;
        ck_gemm(false, true, m, e, hd, scale, q + s * ldq, ldq, k, ldkv, 0, S, T);
        for (size_t i = 0; i < m; i++)
            causal_softmax_row(S + i * T, s + i, e);
        ck_gemm(false, false, m, hd, e, 1, S, T, v, ldkv, 0, y + s * ldy, ldy);
    }
}

CK_CLONES void ck_attn_bwd(const float *q, const float *k, const float *v, size_t ldq, size_t ldkv,
                           const float *att, const float *dy, size_t lddy, size_t n, size_t hd,
                           size_t T, float *dp, float *dq, float *dk, float *dv)
{
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t s = 0; s < n; s += MODEL_ATT_BLOCK) {
        size_t e = min_sz(s + MODEL_ATT_BLOCK, n), m = e - s;
        const float *P = att + s * T;
        /* dP = dY V^T, then dS = P (dP - rowsum(P dP)) scale in place */
        ck_gemm(false, true, m, e, hd, 1, dy + s * lddy, lddy, v, ldkv, 0, dp, T);
        for (size_t i = 0; i < m; i++) {
            const float *pr = P + i * T;
            float *dr = dp + i * T, dot = 0;
            size_t p = s + i;
            for (size_t j = 0; j <= p; j++)
                dot += pr[j] * dr[j];
            for (size_t j = 0; j <= p; j++)
                dr[j] = km_softmax_bwd(pr[j], dr[j], dot, scale);
            for (size_t j = p + 1; j < e; j++)
                dr[j] = 0;
        }
        ck_gemm(false, false, m, hd, e, 1, dp, T, k, ldkv, 0, dq + s * ldq, ldq);
        ck_gemm(true, false, e, hd, m, 1, dp, T, q + s * ldq, ldq, 1, dk, ldkv);
        ck_gemm(true, false, e, hd, m, 1, P, T, dy + s * lddy, lddy, 1, dv, ldkv);
    }
}

void ck_attn_fwd_ref(const double *q, const double *k, const double *v, size_t ldq, size_t ldkv,
                     size_t n, size_t hd, size_t T, double *att, double *y, size_t ldy)
{
    double scale = 1.0 / sqrt((double)hd);
    for (size_t i = 0; i < n; i++) {
        double *a = att + i * T, mx = -INFINITY, sum = 0;
        for (size_t j = 0; j <= i; j++) {
            double d = 0;
            for (size_t c = 0; c < hd; c++)
                d += q[i * ldq + c] * k[j * ldkv + c];
            a[j] = d * scale;
            mx = a[j] > mx ? a[j] : mx;
        }
        for (size_t j = 0; j <= i; j++) {
            a[j] = exp(a[j] - mx);
            sum += a[j];
        }
        for (size_t j = 0; j < T; j++)
            a[j] = j <= i ? a[j] / sum : 0;
        for (size_t c = 0; c < hd; c++) {
            double acc = 0;
            for (size_t j = 0; j <= i; j++)
                acc += a[j] * v[j * ldkv + c];
            y[i * ldy + c] = acc;
        }
    }
}

void ck_attn_bwd_ref(const double *q, const double *k, const double *v, size_t ldq, size_t ldkv,
                     const double *att, const double *dy, size_t lddy, size_t n, size_t hd,
                     size_t T, double *dq, double *dk, double *dv)
{
    double scale = 1.0 / sqrt((double)hd);
    for (size_t i = 0; i < n; i++) {
        const double *a = att + i * T;
        double dot = 0;
        for (size_t c = 0; c < hd; c++)
            dq[i * ldq + c] = 0;
        for (size_t j = 0; j <= i; j++) {
            double dpj = 0;
            for (size_t c = 0; c < hd; c++) {
                dpj += dy[i * lddy + c] * v[j * ldkv + c];
                dv[j * ldkv + c] += a[j] * dy[i * lddy + c];
            }
            dot += a[j] * dpj;
        }
        for (size_t j = 0; j <= i; j++) {
            double dpj = 0, ds;
            for (size_t c = 0; c < hd; c++)
                dpj += dy[i * lddy + c] * v[j * ldkv + c];
            ds = a[j] * (dpj - dot) * scale;
            for (size_t c = 0; c < hd; c++) {
                dq[i * ldq + c] += ds * k[j * ldkv + c];
                dk[j * ldkv + c] += ds * q[i * ldq + c];
            }
        }
    }
}

// ---- SwiGLU ----

CK_CLONES void ck_swiglu_fwd(const float *h, size_t n, size_t F, float *a)
{
    for (size_t i = 0; i < n; i++) {
        const float *gi = h + i * 2 * F, *ui = gi + F;
        float *ai = a + i * F;
        for (size_t j = 0; j < F; j++)
            ai[j] = km_swiglu(gi[j], ui[j], km_sigmoid(gi[j]));
    }
}

CK_CLONES void ck_swiglu_bwd(const float *h, const float *da, size_t ldda, size_t n, size_t F,
                             float *dh)
{
    for (size_t i = 0; i < n; i++) {
        const float *gi = h + i * 2 * F, *ui = gi + F, *dai = da + i * ldda;
        float *dgi = dh + i * 2 * F, *dui = dgi + F;
        for (size_t j = 0; j < F; j++) {
            float d = dai[j], x = gi[j], sg = km_sigmoid(x);
            dgi[j] = km_swiglu_dgate(d, x, ui[j], sg);
            dui[j] = km_swiglu_dup(d, x, sg);
        }
    }
}

void ck_swiglu_fwd_ref(const double *h, size_t n, size_t F, double *a)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < F; j++) {
            double g = h[i * 2 * F + j];
            a[i * F + j] = g / (1.0 + exp(-g)) * h[i * 2 * F + F + j];
        }
}

void ck_swiglu_bwd_ref(const double *h, const double *da, size_t n, size_t F, double *dh)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < F; j++) {
            double g = h[i * 2 * F + j], u = h[i * 2 * F + F + j], s = 1.0 / (1.0 + exp(-g));
            dh[i * 2 * F + j] = da[i * F + j] * u * (s + g * s * (1.0 - s));
            dh[i * 2 * F + F + j] = da[i * F + j] * g * s;
        }
}

// ---- cross-entropy ----

CK_CLONES double ck_xent(float *logits, const int32_t *targets, size_t n, size_t V,
                         float grad_scale, float *nll, bool grad)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float *z = logits + i * V, mx = ck_max(z, V), sum = 0, lse, zt = z[targets[i]];
        if (!grad) {
            float buf[256]; /* the logits stay: exponentials go through a chunk */
            for (size_t j = 0; j < V; j += ARRAY_SIZE(buf)) {
                size_t c = min_sz(ARRAY_SIZE(buf), V - j);
                memcpy(buf, z + j, c * sizeof(float));
                sum += ck_exp_shift_sum(buf, c, mx);
            }
        } else {
            sum = ck_exp_shift_sum(z, V, mx);
        }
        lse = km_lse(mx, sum);
        if (nll) nll[i] = lse - zt;
        total += (double)(lse - zt);
        if (grad) {
            float k = grad_scale / sum;
            /* the target's term afterwards: the loop stays a plain vector multiply */
            for (size_t j = 0; j < V; j++)
                z[j] = km_xent_grad(z[j], k, 0, grad_scale);
            z[targets[i]] -= grad_scale;
        }
    }
    return total;
}

double ck_xent_ref(double *logits, const int32_t *targets, size_t n, size_t V, double grad_scale,
                   double *nll, bool grad)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double *z = logits + i * V, mx = -INFINITY, sum = 0, lse;
        for (size_t j = 0; j < V; j++)
            mx = z[j] > mx ? z[j] : mx;
        for (size_t j = 0; j < V; j++)
            sum += exp(z[j] - mx);
        lse = mx + log(sum);
        if (nll) nll[i] = lse - z[targets[i]];
        total += lse - z[targets[i]];
        if (grad) {
            for (size_t j = 0; j < V; j++)
                z[j] = exp(z[j] - lse) * grad_scale;
            z[targets[i]] -= grad_scale;
        }
    }
    return total;
}

// ---- optimizer ----

CK_CLONES void ck_adamw(float *p, const float *g, float *m, float *v, size_t n,
                        const ck_adamw_t *hp)
{
    float b1 = hp->beta1, b2 = hp->beta2, lr = hp->lr, wd = hp->wd, eps = hp->eps;
    float ib1 = 1.0f / hp->bc1, isb2 = 1.0f / sqrtf(hp->bc2), gs = hp->gscale;
    for (size_t i = 0; i < n; i++)
        km_adamw(&p[i], &m[i], &v[i], g[i], lr, b1, b2, eps, wd, ib1, isb2, gs);
}

void ck_adamw_ref(double *p, const double *g, double *m, double *v, size_t n, const ck_adamw_t *hp)
{
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] * hp->gscale;
        m[i] = hp->beta1 * m[i] + (1.0 - hp->beta1) * gi;
        v[i] = hp->beta2 * v[i] + (1.0 - hp->beta2) * gi * gi;
        p[i] -= hp->lr * (hp->wd * p[i] + (m[i] / hp->bc1) / (sqrt(v[i] / hp->bc2) + hp->eps));
    }
}

// ---- small vector helpers ----

double ck_sumsq(const float *x, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += (double)x[i] * (double)x[i];
    return acc;
}

void ck_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}
