/*
 * cuda_internal.h - what the CUDA backend's two files share: the kernel
 * launchers of cuda_kernels.cu, called by cuda.cu.  Included by .cu files
 * only; CUDA types stay inside these files (docs/style.md H32).
 *
 * Every launcher enqueues on stream s and returns cudaGetLastError()
 * (a bad launch configuration); failures inside a kernel surface at the
 * caller's next synchronisation.  Shapes follow model.h's legend; "16"
 * marks a bf16 buffer, everything else is float32.  Activations are
 * row-major (rows, width); attention works head-major: q (B, H, T, hd),
 * k and v (B, KV, T, hd), scores and probabilities (B, H, T, T).
 */
#ifndef CARBS_TRAINER_CUDA_INTERNAL_H
#define CARBS_TRAINER_CUDA_INTERNAL_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>

typedef __nv_bfloat16 bf16_t;

/* Rows [r0, r1) of nseq sequences of T positions: the slice the forward
 * kernels work on (all rows in training, new rows of sequence 0 in score). */
typedef struct cu_rows {
    int nseq, T, r0, r1;
} cu_rows_t;

/* x[row] = wte[tok[row]] (width C). */
cudaError_t cu__embed(cudaStream_t s, const float *wte, const int *tok, cu_rows_t rows, int C,
                      float *x);
/* dwte[tok[i]] += dx[i] for n rows (atomic: tokens repeat). */
cudaError_t cu__embed_bwd(cudaStream_t s, const float *dx, const int *tok, int n, int C,
                          float *dwte);
/* y16 = x rstd g and rstd per row. */
cudaError_t cu__rmsnorm(cudaStream_t s, const float *x, const float *g, cu_rows_t rows, int C,
                        bf16_t *y16, float *rstd);
/* dx += the input gradient, dg += the gain gradient, over n rows. */
cudaError_t cu__rmsnorm_bwd(cudaStream_t s, const float *dy, const float *x, const float *g,
                            const float *rstd, int n, int C, float *dx, float *dg);
/* qkv (rows, C + 2 Dkv) to head-major q16, k16, v16 with RoPE on q and k. */
cudaError_t cu__qkv_split(cudaStream_t s, const float *qkv, cu_rows_t rows, int H, int KV, int hd,
                          const float *cos_t, const float *sin_t, bf16_t *q16, bf16_t *k16,
                          bf16_t *v16);
/* Backward of cu__qkv_split over every row: dq (B, H, T, hd), dk, dv
 * (B, KV, T, hd) to dqkv16 (N, C + 2 Dkv), RoPE inverted. */
cudaError_t cu__qkv_merge(cudaStream_t s, const float *dq, const float *dk, const float *dv,
                          int B, int T, int H, int KV, int hd, const float *cos_t,
                          const float *sin_t, bf16_t *dqkv16);
/* Causal softmax of score rows [r0, r1) over keys [0, r1): P16 gets
 * softmax over keys <= the row's position, zeros after. */
cudaError_t cu__softmax(cudaStream_t s, const float *S, cu_rows_t rows, int H, bf16_t *P16);
/* dS16 = P (dP - rowsum(P dP)) scale over every row, zeros past the diagonal. */
cudaError_t cu__softmax_bwd(cudaStream_t s, const bf16_t *P16, const float *dP, int B, int H,
                            int T, float scale, bf16_t *dS16);
/* Head-major y (B, H, T, hd) rows [r0, r1) to row-major y16 (rows, C). */
cudaError_t cu__heads_merge(cudaStream_t s, const float *yh, cu_rows_t rows, int H, int hd,
                            bf16_t *y16);
/* Row-major dy (N, C) to head-major dyh16 (B, H, T, hd). */
cudaError_t cu__heads_split(cudaStream_t s, const float *dy, int B, int T, int H, int hd,
                            bf16_t *dyh16);
/* a16 = silu(h[:, :F]) h[:, F:] for the rows. */
cudaError_t cu__swiglu(cudaStream_t s, const float *h, cu_rows_t rows, int F, bf16_t *a16);
/* dh16 (n, 2F) from da (n, F). */
cudaError_t cu__swiglu_bwd(cudaStream_t s, const float *h, const float *da, int n, int F,
                           bf16_t *dh16);
/* Cross-entropy of n rows of logits (V wide) from row0 against targets:
 * nll[i] per row; with dlog16, (softmax - onehot) scale as bf16. */
cudaError_t cu__xent(cudaStream_t s, const float *logits, const int *targets, int n, int V,
                     float scale, float *nll, bf16_t *dlog16);
/* *out += sum of x[i]^2 (double; *out zeroed by the caller). */
cudaError_t cu__sumsq(cudaStream_t s, const float *x, size_t n, double *out);
/* AdamW (kernel_math.h km_adamw) on n floats, decay on [0, n_decay), then
 * p16 = bf16(p). */
cudaError_t cu__adamw(cudaStream_t s, float *p, const float *g, float *m, float *v, bf16_t *p16,
                      size_t n, size_t n_decay, float lr, float b1, float b2, float eps, float wd,
                      float ib1, float isb2, float gs);
/* y16 = bf16(x) for n floats. */
cudaError_t cu__to_bf16(cudaStream_t s, const float *x, size_t n, bf16_t *y16);

#endif
