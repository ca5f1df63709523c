/*
 * kernel_math.h - the per-element arithmetic of the trainer's kernels, one
 * definition for the CPU backend (cpu_kernels.c) and the CUDA backend
 * (cuda.cu): RMSNorm, RoPE, SwiGLU, softmax / cross-entropy, the AdamW
 * update, e^x, and bf16 rounding.  Everything is a small static inline
 * function over scalars; loops, reductions and memory layout stay in each
 * backend.  Under nvcc (__CUDACC__) every function is __host__ __device__.
 *
 * Because both backends call these, tests/test_kernel_math.c checks them on
 * the CPU (against the double _ref kernels and exact bf16 cases), and CI
 * covers most of the GPU's arithmetic without a GPU (docs/trainer.md).
 *
 * Legend as in model.h: x an input element, g a gain, r = rstd =
 * 1/sqrt(mean(x^2) + MODEL_NORM_EPS), (a, b) a RoPE pair rotated by
 * (c, s) = (cos, sin) of pos * base^(-2i/hd); SwiGLU a = silu(gate) * up;
 * softmax p_j = e^(z_j - max) / sum; AdamW as in cpu_kernels.h.
 */
#ifndef CARBS_TRAINER_KERNEL_MATH_H
#define CARBS_TRAINER_KERNEL_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define KM_FN static inline __host__ __device__
#else
#define KM_FN static inline
#endif

/* RMSNorm's epsilon, as MODEL_NORM_EPS (model.h) in float. */
#define KM_NORM_EPS 1e-5f

/* 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer
 * held in the low mantissa bits. */
#define KM_ROUND_MAGIC 12582912.0f

// ---- bit casts ----

KM_FN uint32_t km_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

KM_FN float km_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof(x));
    return x;
}

// ---- e^x ----

/* e^x in float, within 1 ulp on [-87.3, 88] (Cody-Waite reduction by ln 2
 * in two parts, then a degree-6 polynomial for e^r on |r| <= ln2/2 and 2^n
 * built in the exponent bits).  Branch-free and without libm so that CPU
 * loops over it vectorize, and the GPU computes the very same value; NaN
 * stays NaN; below -87.3 it gives e^-87.3 (1e-38) and above 88 e^88
 * (1.7e38), which to the softmax and sigmoid callers are zero and infinity
 * all the same. */
KM_FN float km_exp(float x)
{
    float t, n, r, p;

    x = x < -87.3f ? -87.3f : x;
    x = x > 88.0f ? 88.0f : x;
    t = x * 1.44269504f + KM_ROUND_MAGIC;
    n = t - KM_ROUND_MAGIC;
    r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    return p * km_from_bits((km_bits(t) - km_bits(KM_ROUND_MAGIC) + 127u) << 23);
}

KM_FN float km_sigmoid(float x)
{
    return 1.0f / (1.0f + km_exp(-x));
}

// ---- RMSNorm ----

/* rstd of a row from its sum of squares over C columns. */
KM_FN float km_rmsnorm_rstd(float sumsq, float C)
{
    return 1.0f / sqrtf(sumsq / C + KM_NORM_EPS);
}

KM_FN float km_rmsnorm_y(float x, float r, float g)
{
    return x * r * g;
}

/* Backward: with dot = sum_c dy_c g_c x_c over the row, k = dot r^2 / C
 * and dx = r (dy g - x k); the gain's gradient gets dy x r. */
KM_FN float km_rmsnorm_k(float dot, float r, float C)
{
    return dot * r * r / C;
}

KM_FN float km_rmsnorm_dx(float dy, float x, float g, float r, float k)
{
    return r * (dy * g - x * k);
}

KM_FN float km_rmsnorm_dg(float dy, float x, float r)
{
    return dy * x * r;
}

// ---- RoPE ----

/* Rotate the pair (a, b) by the angle with cosine c and sine s (pass -s
 * for the inverse rotation, the backward pass). */
KM_FN void km_rope_pair(float *a, float *b, float c, float s)
{
    float x = *a, y = *b;
    *a = x * c - y * s;
    *b = x * s + y * c;
}

// ---- SwiGLU ----

/* a = silu(gate) * up, given sg = sigmoid(gate). */
KM_FN float km_swiglu(float gate, float up, float sg)
{
    return gate * sg * up;
}

/* The gate's and the up's gradient from da. */
KM_FN float km_swiglu_dgate(float da, float gate, float up, float sg)
{
    return da * up * sg * (1.0f + gate * (1.0f - sg));
}

KM_FN float km_swiglu_dup(float da, float gate, float sg)
{
    return da * gate * sg;
}

// ---- softmax and cross-entropy ----

/* log sum_j e^(z_j) from the row's max and sum_j e^(z_j - max). */
KM_FN float km_lse(float mx, float sum)
{
    return mx + logf(sum);
}

/* The cross-entropy gradient of logit j: (p_j - [j == target]) * scale,
 * with e = e^(z_j - max) and k = scale / sum. */
KM_FN float km_xent_grad(float e, float k, int is_target, float scale)
{
    return e * k - (is_target ? scale : 0.0f);
}

/* Softmax backward for attention: dS_j = P_j (dP_j - sum_i P_i dP_i) *
 * scale, scale = 1/sqrt(hd) folded in. */
KM_FN float km_softmax_bwd(float p, float dp, float dot, float scale)
{
    return p * (dp - dot) * scale;
}

// ---- AdamW ----

/* One element of AdamW (cpu_kernels.h): gs = the clipping scale, ib1 =
 * 1 / bc1, isb2 = 1 / sqrt(bc2). */
KM_FN void km_adamw(float *p, float *m, float *v, float g, float lr, float b1, float b2, float eps,
                    float wd, float ib1, float isb2, float gs)
{
    float gi = g * gs;
    *m = b1 * *m + (1.0f - b1) * gi;
    *v = b2 * *v + (1.0f - b2) * gi * gi;
    *p -= lr * (wd * *p + (*m * ib1) / (sqrtf(*v) * isb2 + eps));
}

// ---- bf16 ----

/* float to bf16 bits, rounding to nearest with ties to even; a NaN stays a
 * (quiet) NaN with its sign, infinities stay infinite, a finite value past
 * bf16's largest rounds to infinity as IEEE rounding does. */
KM_FN uint16_t km_bf16(float x)
{
    uint32_t u = km_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

KM_FN float km_bf16_to_float(uint16_t h)
{
    return km_from_bits((uint32_t)h << 16);
}

/* x rounded through bf16 and back: what a bf16 copy of x holds. */
KM_FN float km_bf16_round(float x)
{
    return km_bf16_to_float(km_bf16(x));
}

#endif
