/*
 * cpu_kernels.h - the CPU backend's numeric kernels, each with a naive
 * double-precision twin (_ref) that is its specification and test oracle.
 *
 * Every kernel is serial and allocation-free; the backend (cpu.c) splits
 * rows or columns across OpenMP threads and hands each thread its slice.
 * This file is the only caller of cblas_sgemm (H27).  Matrices are
 * row-major with explicit leading dimensions.  Legend as in model.h; per
 * (sequence, head) attention sees q (T, hd) with row stride ldq, k and v
 * (T, hd) with row stride ldkv, and its probabilities att (T, T).
 */
#ifndef CARBS_TRAINER_CPU_KERNELS_H
#define CARBS_TRAINER_CPU_KERNELS_H

#include "proto/common.h"

/* Tell OpenBLAS to run every call on the calling thread: the backend makes
 * its own threads (OpenMP) and gives each a slice, so BLAS threads would
 * only oversubscribe the cores.  A process-wide library setting; idempotent. */
void ck_blas_single_thread(void);

// ---- matrix multiply ----

/* C = alpha op(A) op(B) + beta C with op(A) (M, K), op(B) (K, N), C (M, N);
 * ta / tb transpose A / B.  Through cblas_sgemm. */
void ck_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
void ck_gemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, double alpha, const double *A,
                 size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);

// ---- embedding ----

/* x[i] = wte[tok[i]] for n rows of width C. */
void ck_embed_fwd(const float *wte, const int32_t *tok, size_t n, size_t C, float *x);
/* dwte[tok[i]][c] += dx[i][c] for columns [c0, c1) only (threads split columns). */
void ck_embed_bwd(const float *dx, const int32_t *tok, size_t n, size_t C, size_t c0, size_t c1,
                  float *dwte);

// ---- RMSNorm: y = x * rstd * g, rstd = 1 / sqrt(mean(x^2) + MODEL_NORM_EPS) ----

void ck_rmsnorm_fwd(const float *x, const float *g, size_t n, size_t C, float *y, float *rstd);
/* dx += the input gradient for n rows, given dy, x, g and the forward's rstd. */
void ck_rmsnorm_bwd(const float *dy, const float *x, const float *g, const float *rstd, size_t n,
                    size_t C, float *dx);
/* dg[c] += sum_i dy[i][c] x[i][c] rstd[i] for columns [c0, c1). */
void ck_rmsnorm_dg(const float *dy, const float *x, const float *rstd, size_t n, size_t C,
                   size_t c0, size_t c1, float *dg);
void ck_rmsnorm_fwd_ref(const double *x, const double *g, size_t n, size_t C, double *y,
                        double *rstd);
/* dx += and dg += as the two float kernels together. */
void ck_rmsnorm_bwd_ref(const double *dy, const double *x, const double *g, const double *rstd,
                        size_t n, size_t C, double *dx, double *dg);

// ---- RoPE: rotate pairs (2i, 2i+1) of each head by pos * base^(-2i/hd) ----

/* cos / sin tables (T, hd/2) for positions 0..T-1. */
void ck_rope_table(size_t T, size_t hd, double base, float *cos_t, float *sin_t);
/* Rotate n rows in place (positions p0 .. p0+n-1), n_heads heads of hd
 * columns each from x; inverse rotates back (the backward pass). */
void ck_rope(float *x, size_t ld, size_t n, size_t p0, size_t n_heads, size_t hd,
             const float *cos_t, const float *sin_t, bool inverse);
void ck_rope_ref(double *x, size_t ld, size_t n, size_t p0, size_t n_heads, size_t hd,
                 double base, bool inverse);

// ---- causal attention for one (sequence, head) ----

/* Query rows [row0, row1) attend to keys [0, row): att rows get softmax(
 * q k^T / sqrt(hd)) with zeros past the diagonal, and y rows = att v.
 * Rows below row0 of k and v must be filled (a cached prefix).  att has
 * leading dimension T.  The fast kernel works in MODEL_ATT_BLOCK row blocks
 * and never touches key columns past a block's last row. */
void ck_attn_fwd(const float *q, const float *k, const float *v, size_t ldq, size_t ldkv,
                 size_t row0, size_t row1, size_t hd, size_t T, float *att, float *y, size_t ldy);
/* Backward of ck_attn_fwd over rows [0, n): dq rows are written, dk and dv
 * rows [0, n) accumulated (+=, so heads sharing a kv head add up).  dp is
 * scratch of MODEL_ATT_BLOCK x T floats. */
void ck_attn_bwd(const float *q, const float *k, const float *v, size_t ldq, size_t ldkv,
                 const float *att, const float *dy, size_t lddy, size_t n, size_t hd, size_t T,
                 float *dp, float *dq, float *dk, float *dv);
void ck_attn_fwd_ref(const double *q, const double *k, const double *v, size_t ldq, size_t ldkv,
                     size_t n, size_t hd, size_t T, double *att, double *y, size_t ldy);
void ck_attn_bwd_ref(const double *q, const double *k, const double *v, size_t ldq, size_t ldkv,
                     const double *att, const double *dy, size_t lddy, size_t n, size_t hd,
                     size_t T, double *dq, double *dk, double *dv);

// ---- SwiGLU: a = silu(h[:, :F]) * h[:, F:] ----

void ck_swiglu_fwd(const float *h, size_t n, size_t F, float *a);
/* dh (n, 2F) from da (n, F) with row stride ldda; da may be dh + F with
 * ldda = 2F (each element is read before its row's outputs are written). */
void ck_swiglu_bwd(const float *h, const float *da, size_t ldda, size_t n, size_t F, float *dh);
void ck_swiglu_fwd_ref(const double *h, size_t n, size_t F, double *a);
void ck_swiglu_bwd_ref(const double *h, const double *da, size_t n, size_t F, double *dh);

// ---- cross-entropy over the vocabulary ----

/* For n rows of logits (V wide) and their targets, store each row's
 * negative log-likelihood in nll (may be NULL) and return their sum.  With
 * grad, each row is overwritten by (softmax - onehot) * grad_scale. */
double ck_xent(float *logits, const int32_t *targets, size_t n, size_t V, float grad_scale,
               float *nll, bool grad);
double ck_xent_ref(double *logits, const int32_t *targets, size_t n, size_t V, double grad_scale,
                   double *nll, bool grad);

// ---- optimizer ----

/* One AdamW update (decoupled weight decay, Loshchilov & Hutter 2019) as
 * torch.optim.AdamW computes it: g = grad * gscale, m = b1 m + (1-b1) g,
 * v = b2 v + (1-b2) g^2, p -= lr (wd p + (m / bc1) / (sqrt(v / bc2) + eps))
 * with bc1 = 1 - b1^t, bc2 = 1 - b2^t. */
typedef struct ck_adamw {
    float lr, beta1, beta2, eps, wd, bc1, bc2, gscale;
} ck_adamw_t;

void ck_adamw(float *p, const float *g, float *m, float *v, size_t n, const ck_adamw_t *hp);
void ck_adamw_ref(double *p, const double *g, double *m, double *v, size_t n,
                  const ck_adamw_t *hp);

// ---- small vector helpers ----

/* Sum of squares in double (gradient norms). */
double ck_sumsq(const float *x, size_t n);
/* y += x. */
void ck_add(float *y, const float *x, size_t n);

#endif
