/*
 * cuda.cu - the CUDA backend: the model of model.h trained in bf16 with
 * fp32 master weights and fp32 accumulation, matrix multiplies through
 * cuBLAS (cublasGemmEx / cublasGemmStridedBatchedEx, bf16 in, fp32 out,
 * CUBLAS_COMPUTE_32F), the rest in cuda_kernels.cu, and with several GPUs
 * one trial data-parallel over them with an NCCL all-reduce.
 *
 * Precision: parameters, gradients and AdamW moments are fp32; a bf16 copy
 * of the parameters (refreshed by every AdamW step) feeds the matrix
 * multiplies, and so do bf16 copies of their other inputs (normalised
 * activations, attention q/k/v and probabilities, SwiGLU output, the
 * logits' gradient).  Everything a multiply writes, and every reduction,
 * is fp32.  The per-element math is kernel_math.h, shared with the CPU.
 *
 * Attention: q is rearranged head-major (B, H, T, hd) and k, v (B, KV, T,
 * hd), so with GQA the group's query heads j = 0 .. H/KV - 1 each run one
 * strided-batched multiply over the B * KV (sequence, kv head) pairs:
 * S = scale q k^T, P = causal softmax(S), y = P v; backward dP = dy v^T,
 * dS = softmax backward, dq = dS k, dk += dS^T q, dv += P^T dy.  The scores
 * are dense T x T (the causal half is computed and masked): simpler than a
 * fused kernel, and the FLOP count (model.h) stays the one of the blocked
 * CPU kernels, so MFU is not flattered by the masked work.
 *
 * Memory: one cudaMalloc per GPU at open, carved like the CPU slab (the
 * cuBLAS workspace included); NCCL keeps its own buffers.  Each GPU
 * ("rank") holds the full model and B / n_devices sequences of the batch;
 * gradients are summed by ncclAllReduce at the end of forward_backward, each
 * rank having scaled its loss by 1 / (global rows), so every rank then
 * applies the same AdamW step to the same parameters.  One GPU still
 * builds a one-rank communicator when NCCL is built, so the path is the
 * same.
 *
 * Errors: every CUDA, cuBLAS and NCCL call is checked (CU, BLAS, NC); the
 * failure text (call, file:line, the library's message) is kept in the
 * state for backend_ops_t.error, and the op returns CARBS_ECUDA.  A trial
 * runs in its own process (worker/runner.h), so a GPU context left
 * unusable dies with the trial and never with the worker.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>

#include "carbs_config.h"
#include "trainer/cuda_internal.h"

#if CARBS_HAVE_NCCL
#include <nccl.h>
#endif

extern "C" {
#include "proto/common.h"
#include "trainer/backend.h"
#include "trainer/cpu_kernels.h"
}

/* cuBLAS workspace carved from the slab; 32 MiB is what cuBLAS asks for on
 * Hopper for its best kernels. */
#define CUDA_WORKSPACE_BYTES ((size_t)32 << 20)

typedef struct rank {
    int dev;
    size_t B, N; /* this rank's sequences and rows */
    cudaStream_t s;
    cublasHandle_t blas;
    cudaEvent_t e0, e1;
#if CARBS_HAVE_NCCL
    ncclComm_t comm;
#endif
    unsigned char *slab;
    /* model */
    float *params, *grads, *m, *v;
    bf16_t *p16;
    float *rope_cos, *rope_sin;
    int *tokens, *targets;
    /* activations kept for backward, per layer l at l * (rows x width) */
    float *res; /* (L+1, N, C) */
    float *rstd1, *rstd2, *rstdf;
    bf16_t *xn1, *xn2;      /* (L, N, C) */
    bf16_t *q16, *k16, *v16; /* (L, B, H|KV, T, hd) */
    bf16_t *P16;            /* (L, B, H, T, T) */
    bf16_t *y16;            /* (L, N, C) */
    float *mid;             /* (L, N, C) */
    float *h;               /* (L, N, 2F) */
    bf16_t *a16;            /* (L, N, F) */
    bf16_t *xnf16;          /* (N, C) */
    float *logits;          /* (N, V) */
    bf16_t *dlog16;         /* (N, V) */
    float *nll;             /* (N) */
    /* scratch */
    float *qkv;             /* (N, C + 2 Dkv) */
    float *S;               /* (B, H, T, T): scores, then dP */
    float *yh;              /* (B, H, T, hd): head-major y, then dq */
    float *dk, *dv;         /* (B, KV, T, hd) */
    float *dres, *dxn;      /* (N, C) */
    bf16_t *dres16, *dyh16; /* (N, C) */
    float *da;              /* (N, F) */
    bf16_t *dh16;           /* (N, 2F) */
    bf16_t *dS16;           /* (B, H, T, T) */
    bf16_t *dqkv16;         /* (N, C + 2 Dkv) */
    double *norm;           /* (1) */
    void *workspace;
} rank_t;

typedef struct cuda {
    model_layout_t lay;
    size_t T, N_all;
    int n;
    rank_t r[BACKEND_DEVICES_MAX];
    float *host_params; /* (host_floats): init_params builds here */
    float *host_nll;    /* (N_all) */
    double busy, peak;
    char msg[256];
} cuda_t;

// ---- errors ----

static int fail_msg(cuda_t *st, const char *what, const char *why, const char *file, int line)
{
    const char *base = strrchr(file, '/');
    snprintf(st->msg, sizeof(st->msg), "cuda: %.80s failed at %s:%d: %s", what,
             base ? base + 1 : file, line, why);
    return CARBS_ECUDA;
}

#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return fail_msg(st, #call, cudaGetErrorString(e_), __FILE__, __LINE__);                \
    } while (0)

#define BLAS(call)                                                                                 \
    do {                                                                                           \
        cublasStatus_t e_ = (call);                                                                \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return fail_msg(st, #call, cublasGetStatusString(e_), __FILE__, __LINE__);             \
    } while (0)

#if CARBS_HAVE_NCCL
#define NC(call)                                                                                   \
    do {                                                                                           \
        ncclResult_t e_ = (call);                                                                  \
        if (e_ != ncclSuccess)                                                                     \
            return fail_msg(st, #call, ncclGetErrorString(e_), __FILE__, __LINE__);                \
    } while (0)
#endif

/* Propagate a failed helper's code (its message is already kept). */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

// ---- the slab ----

typedef struct carve {
    unsigned char *base; /* NULL: only measure */
    size_t used;
} carve_t;

static void *carve(carve_t *c, size_t bytes)
{
    size_t off = (c->used + 255) & ~(size_t)255;
    c->used = off + bytes;
    return c->base ? c->base + off : NULL;
}

#define CARVE_F(c, n) ((float *)carve((c), (n) * sizeof(float)))
#define CARVE_H(c, n) ((bf16_t *)carve((c), (n) * sizeof(bf16_t)))

static void rank_carve(const model_layout_t *lay, size_t T, rank_t *r, carve_t *c)
{
    const trainer_shape_t *s = &lay->shape;
    size_t L = s->n_layers, C = s->d, F = s->ffn, V = s->vocab, H = s->n_heads;
    size_t N = r->N, B = r->B, P = lay->n_floats, W = lay->qkv, Dkv = lay->kv_dim;

    r->params = CARVE_F(c, P);
    r->grads = CARVE_F(c, P);
    r->m = CARVE_F(c, P);
    r->v = CARVE_F(c, P);
    r->p16 = CARVE_H(c, P);
    r->rope_cos = CARVE_F(c, T * s->head_dim / 2);
    r->rope_sin = CARVE_F(c, T * s->head_dim / 2);
    r->tokens = (int *)carve(c, N * sizeof(int));
    r->targets = (int *)carve(c, N * sizeof(int));
    r->res = CARVE_F(c, (L + 1) * N * C);
    r->rstd1 = CARVE_F(c, L * N);
    r->rstd2 = CARVE_F(c, L * N);
    r->rstdf = CARVE_F(c, N);
    r->xn1 = CARVE_H(c, L * N * C);
    r->xn2 = CARVE_H(c, L * N * C);
    r->q16 = CARVE_H(c, L * N * C);
    r->k16 = CARVE_H(c, L * N * Dkv);
    r->v16 = CARVE_H(c, L * N * Dkv);
    r->P16 = CARVE_H(c, L * B * H * T * T);
    r->y16 = CARVE_H(c, L * N * C);
    r->mid = CARVE_F(c, L * N * C);
    r->h = CARVE_F(c, L * N * 2 * F);
    r->a16 = CARVE_H(c, L * N * F);
    r->xnf16 = CARVE_H(c, N * C);
    r->logits = CARVE_F(c, N * V);
    r->dlog16 = CARVE_H(c, N * V);
    r->nll = CARVE_F(c, N);
    r->qkv = CARVE_F(c, N * W);
    r->S = CARVE_F(c, B * H * T * T);
    r->yh = CARVE_F(c, N * C);
    r->dk = CARVE_F(c, N * Dkv);
    r->dv = CARVE_F(c, N * Dkv);
    r->dres = CARVE_F(c, N * C);
    r->dxn = CARVE_F(c, N * C);
    r->dres16 = CARVE_H(c, N * C);
    r->dyh16 = CARVE_H(c, N * C);
    r->da = CARVE_F(c, N * F);
    r->dh16 = CARVE_H(c, N * 2 * F);
    r->dS16 = CARVE_H(c, B * H * T * T);
    r->dqkv16 = CARVE_H(c, N * W);
    r->norm = (double *)carve(c, sizeof(double));
    r->workspace = carve(c, CUDA_WORKSPACE_BYTES);
}

static int n_ranks(const backend_opts_t *opt)
{
    return opt && opt->n_devices > 0 ? opt->n_devices : 1;
}

static void dims(const model_layout_t *lay, const backend_opts_t *opt, size_t *B_all, size_t *B)
{
    *B_all = opt && opt->batch ? opt->batch : 1;
    *B = *B_all / (size_t)n_ranks(opt);
    if (!*B)
        *B = 1;
    UNUSED(lay);
}

/* Floats of the host staging buffer: the parameters, or the two RoPE
 * tables (T hd / 2 each) at open when they are larger. */
static size_t host_floats(const model_layout_t *lay)
{
    size_t rope = lay->shape.seq_len * lay->shape.head_dim;
    return lay->n_floats > rope ? lay->n_floats : rope;
}

static void cuda_memory(const model_layout_t *lay, const backend_opts_t *opt, backend_mem_t *mem)
{
    rank_t r;
    carve_t c = {NULL, 0};
    size_t B_all, T = lay->shape.seq_len;

    memset(&r, 0, sizeof(r));
    dims(lay, opt, &B_all, &r.B);
    r.N = r.B * T;
    rank_carve(lay, T, &r, &c);
    mem->device = c.used + 256;
    mem->host = sizeof(cuda_t) + host_floats(lay) * sizeof(float) + B_all * T * sizeof(float) + 128;
}

// ---- devices ----

static int cuda_probe(const backend_opts_t *opt, size_t *free_bytes, carbs_err_t *err)
{
    int count = 0, n = n_ranks(opt);
    cudaError_t e = cudaGetDeviceCount(&count);

    if (e != cudaSuccess)
        return carbs_fail(err, CARBS_ENOTFOUND, "cuda: no usable GPU (cudaGetDeviceCount: %s)",
                          cudaGetErrorString(e));
    if (count <= 0)
        return carbs_fail(err, CARBS_ENOTFOUND, "cuda: no usable GPU (no CUDA device found)");
    if (n > 1 && !CARBS_HAVE_NCCL)
        return carbs_fail(err, CARBS_ENOTFOUND,
                          "cuda: %d GPUs need NCCL, which this build lacks (-Dnccl)", n);
    *free_bytes = SIZE_MAX;
    for (int i = 0; i < n; i++) {
        int dev = opt ? opt->devices[i] : 0;
        size_t f = 0, total = 0;

        if (dev < 0 || dev >= count)
            return carbs_fail(err, CARBS_ENOTFOUND, "cuda: no GPU %d (%d found)", dev, count);
        e = cudaSetDevice(dev);
        if (e == cudaSuccess)
            e = cudaMemGetInfo(&f, &total);
        if (e != cudaSuccess)
            return carbs_fail(err, CARBS_ENOTFOUND, "cuda: GPU %d is not usable: %s", dev,
                              cudaGetErrorString(e));
        if (f < *free_bytes)
            *free_bytes = f;
    }
    return 0;
}

/* Dense bf16 peak of device dev in FLOP/s from NVIDIA's datasheets (no
 * sparsity), else SMs x clock x the architecture's bf16 FLOPs per clock
 * and SM (Ampere 2048, Hopper 4096); 0 when unknown. */
static double device_peak(int dev)
{
    static const struct {
        const char *name, *also;
        double flops;
    } known[] = {
        {"H100", "PCIe", 756e12}, {"H100", "NVL", 835e12}, {"H100", "", 989.4e12},
        {"H200", "", 989.4e12},   {"H800", "", 989.4e12},  {"A100", "", 312e12},
    };
    cudaDeviceProp p;
    int clock_khz = 0;
    double per_sm;

    if (cudaGetDeviceProperties(&p, dev) != cudaSuccess)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        if (strstr(p.name, known[i].name) && strstr(p.name, known[i].also))
            return known[i].flops;
    per_sm = p.major == 9 ? 4096 : p.major == 8 && p.minor == 0 ? 2048 : 0;
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev) != cudaSuccess)
        return 0;
    return per_sm * p.multiProcessorCount * clock_khz * 1e3;
}

// ---- matrix multiplies ----

/* Row-major C (M, N) = alpha op(A) op(B) + beta C for batch matrices
 * strided by sA, sB, sC; A and B bf16, C fp32, fp32 accumulation.  cuBLAS
 * is column-major, so it computes C^T = op(B)^T op(A)^T (H26). */
static int mm(cuda_t *st, rank_t *r, bool ta, bool tb, size_t M, size_t N, size_t K, float alpha,
              const bf16_t *A, size_t lda, long long sA, const bf16_t *B, size_t ldb, long long sB,
              float beta, float *C, size_t ldc, long long sC, int batch)
{
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;

    if (!M || !N || !K)
        return 0;
    if (batch == 1)
        BLAS(cublasGemmEx(r->blas, ob, oa, (int)N, (int)M, (int)K, &alpha, B, CUDA_R_16BF,
                          (int)ldb, A, CUDA_R_16BF, (int)lda, &beta, C, CUDA_R_32F, (int)ldc,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    else
        BLAS(cublasGemmStridedBatchedEx(r->blas, ob, oa, (int)N, (int)M, (int)K, &alpha, B,
                                        CUDA_R_16BF, (int)ldb, sB, A, CUDA_R_16BF, (int)lda, sA,
                                        &beta, C, CUDA_R_32F, (int)ldc, sC, batch,
                                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* y (rows, out) = x (rows, in) W^T (+ y when acc), W (out, in) bf16. */
static int linear(cuda_t *st, rank_t *r, size_t rows, size_t out, size_t in, const bf16_t *x,
                  const bf16_t *W, float *y, bool acc)
{
    return mm(st, r, false, true, rows, out, in, 1.0f, x, in, 0, W, in, 0, acc ? 1.0f : 0.0f, y,
              out, 0, 1);
}

// ---- forward ----

/* Rows [r0, r1) of nseq sequences through every layer and the LM head
 * (nseq = B with r0 = 0, r1 = T in training; nseq = 1 in score, rows
 * below r0 kept from the previous call). */
static int forward(cuda_t *st, rank_t *r, int nseq, size_t r0, size_t r1)
{
    const model_layout_t *lay = &st->lay;
    const trainer_shape_t *s = &lay->shape;
    size_t C = s->d, F = s->ffn, V = s->vocab, H = s->n_heads, KV = s->n_kv_heads;
    size_t hd = s->head_dim, T = st->T, N = r->N, W = lay->qkv, Dkv = lay->kv_dim;
    size_t grp = H / KV, M = (size_t)nseq * (r1 - r0), BH = r->B * H;
    cu_rows_t rows = {nseq, (int)T, (int)r0, (int)r1};
    float scale = 1.0f / sqrtf((float)hd);
    const float *P = r->params;
    const bf16_t *P16 = r->p16;

    for (size_t l = 0; l < s->n_layers; l++) {
        const float *x = r->res + l * N * C;
        float *out = r->res + (l + 1) * N * C, *mid = r->mid + l * N * C;
        float *h = r->h + l * N * 2 * F, *rstd1 = r->rstd1 + l * N, *rstd2 = r->rstd2 + l * N;
        bf16_t *xn1 = r->xn1 + l * N * C, *xn2 = r->xn2 + l * N * C, *y16 = r->y16 + l * N * C;
        bf16_t *q16 = r->q16 + l * N * C, *k16 = r->k16 + l * N * Dkv, *v16 = r->v16 + l * N * Dkv;
        bf16_t *p16 = r->P16 + l * BH * T * T, *a16 = r->a16 + l * N * F;

        CU(cu__rmsnorm(r->s, x, P + model_offset(lay, MODEL_LN1, l), rows, (int)C, xn1, rstd1));
        TRY(linear(st, r, M, W, C, xn1 + r0 * C, P16 + model_offset(lay, MODEL_WQKV, l),
                   r->qkv + r0 * W, false));
        CU(cu__qkv_split(r->s, r->qkv, rows, (int)H, (int)KV, (int)hd, r->rope_cos, r->rope_sin,
                         q16, k16, v16));
        for (size_t j = 0; j < grp; j++)
            TRY(mm(st, r, false, true, r1 - r0, r1, hd, scale, q16 + (j * T + r0) * hd, hd,
                   (long long)(grp * T * hd), k16, hd, (long long)(T * hd), 0.0f,
                   r->S + (j * T + r0) * T, T, (long long)(grp * T * T), nseq * (int)KV));
        CU(cu__softmax(r->s, r->S, rows, (int)H, p16));
        for (size_t j = 0; j < grp; j++)
            TRY(mm(st, r, false, false, r1 - r0, hd, r1, 1.0f, p16 + (j * T + r0) * T, T,
                   (long long)(grp * T * T), v16, hd, (long long)(T * hd), 0.0f,
                   r->yh + (j * T + r0) * hd, hd, (long long)(grp * T * hd), nseq * (int)KV));
        CU(cu__heads_merge(r->s, r->yh, rows, (int)H, (int)hd, y16));
        CU(cudaMemcpyAsync(mid + r0 * C, x + r0 * C, M * C * sizeof(float),
                           cudaMemcpyDeviceToDevice, r->s));
        TRY(linear(st, r, M, C, C, y16 + r0 * C, P16 + model_offset(lay, MODEL_WO, l),
                   mid + r0 * C, true));
        CU(cu__rmsnorm(r->s, mid, P + model_offset(lay, MODEL_LN2, l), rows, (int)C, xn2, rstd2));
        TRY(linear(st, r, M, 2 * F, C, xn2 + r0 * C, P16 + model_offset(lay, MODEL_W13, l),
                   h + r0 * 2 * F, false));
        CU(cu__swiglu(r->s, h, rows, (int)F, a16));
        CU(cudaMemcpyAsync(out + r0 * C, mid + r0 * C, M * C * sizeof(float),
                           cudaMemcpyDeviceToDevice, r->s));
        TRY(linear(st, r, M, C, F, a16 + r0 * F, P16 + model_offset(lay, MODEL_W2, l),
                   out + r0 * C, true));
    }
    CU(cu__rmsnorm(r->s, r->res + s->n_layers * N * C, P + model_offset(lay, MODEL_LNF, 0), rows,
                   (int)C, r->xnf16, r->rstdf));
    TRY(linear(st, r, M, V, C, r->xnf16 + r0 * C, P16 + model_offset(lay, MODEL_LM_HEAD, 0),
               r->logits + r0 * V, false));
    return 0;
}

// ---- backward ----

static int backward(cuda_t *st, rank_t *r)
{
    const model_layout_t *lay = &st->lay;
    const trainer_shape_t *s = &lay->shape;
    size_t C = s->d, F = s->ffn, V = s->vocab, H = s->n_heads, KV = s->n_kv_heads;
    size_t hd = s->head_dim, T = st->T, N = r->N, W = lay->qkv, Dkv = lay->kv_dim;
    size_t grp = H / KV, BH = r->B * H;
    int nb = (int)(r->B * KV);
    float scale = 1.0f / sqrtf((float)hd);
    const float *P = r->params;
    const bf16_t *P16 = r->p16;
    float *G = r->grads;

    CU(cudaMemsetAsync(G, 0, lay->n_floats * sizeof(float), r->s));
    CU(cudaMemsetAsync(r->dres, 0, N * C * sizeof(float), r->s));
    /* LM head: logits = xnf E^T */
    TRY(mm(st, r, true, false, V, C, N, 1.0f, r->dlog16, V, 0, r->xnf16, C, 0, 1.0f,
           G + model_offset(lay, MODEL_LM_HEAD, 0), C, 0, 1));
    TRY(mm(st, r, false, false, N, C, V, 1.0f, r->dlog16, V, 0,
           P16 + model_offset(lay, MODEL_LM_HEAD, 0), C, 0, 0.0f, r->dxn, C, 0, 1));
    CU(cu__rmsnorm_bwd(r->s, r->dxn, r->res + s->n_layers * N * C,
                       P + model_offset(lay, MODEL_LNF, 0), r->rstdf, (int)N, (int)C, r->dres,
                       G + model_offset(lay, MODEL_LNF, 0)));

    for (size_t l = s->n_layers; l-- > 0;) {
        const bf16_t *q16 = r->q16 + l * N * C, *k16 = r->k16 + l * N * Dkv;
        const bf16_t *v16 = r->v16 + l * N * Dkv, *p16 = r->P16 + l * BH * T * T;

        /* MLP: out = mid + a W2^T, a = swiglu(h), h = xn2 W13^T */
        CU(cu__to_bf16(r->s, r->dres, N * C, r->dres16));
        TRY(mm(st, r, true, false, C, F, N, 1.0f, r->dres16, C, 0, r->a16 + l * N * F, F, 0,
               1.0f, G + model_offset(lay, MODEL_W2, l), F, 0, 1));
        TRY(mm(st, r, false, false, N, F, C, 1.0f, r->dres16, C, 0,
               P16 + model_offset(lay, MODEL_W2, l), F, 0, 0.0f, r->da, F, 0, 1));
        CU(cu__swiglu_bwd(r->s, r->h + l * N * 2 * F, r->da, (int)N, (int)F, r->dh16));
        TRY(mm(st, r, true, false, 2 * F, C, N, 1.0f, r->dh16, 2 * F, 0, r->xn2 + l * N * C, C,
               0, 1.0f, G + model_offset(lay, MODEL_W13, l), C, 0, 1));
        TRY(mm(st, r, false, false, N, C, 2 * F, 1.0f, r->dh16, 2 * F, 0,
               P16 + model_offset(lay, MODEL_W13, l), C, 0, 0.0f, r->dxn, C, 0, 1));
        CU(cu__rmsnorm_bwd(r->s, r->dxn, r->mid + l * N * C, P + model_offset(lay, MODEL_LN2, l),
                           r->rstd2 + l * N, (int)N, (int)C, r->dres,
                           G + model_offset(lay, MODEL_LN2, l)));

        /* attention: mid = x + y Wo^T, y = attn(rope(xn1 Wqkv^T)) */
        CU(cu__to_bf16(r->s, r->dres, N * C, r->dres16));
        TRY(mm(st, r, true, false, C, C, N, 1.0f, r->dres16, C, 0, r->y16 + l * N * C, C, 0, 1.0f,
               G + model_offset(lay, MODEL_WO, l), C, 0, 1));
        TRY(mm(st, r, false, false, N, C, C, 1.0f, r->dres16, C, 0,
               P16 + model_offset(lay, MODEL_WO, l), C, 0, 0.0f, r->dxn, C, 0, 1));
        CU(cu__heads_split(r->s, r->dxn, (int)r->B, (int)T, (int)H, (int)hd, r->dyh16));
        for (size_t j = 0; j < grp; j++) /* dP = dy v^T */
            TRY(mm(st, r, false, true, T, T, hd, 1.0f, r->dyh16 + j * T * hd, hd,
                   (long long)(grp * T * hd), v16, hd, (long long)(T * hd), 0.0f,
                   r->S + j * T * T, T, (long long)(grp * T * T), nb));
        CU(cu__softmax_bwd(r->s, p16, r->S, (int)r->B, (int)H, (int)T, scale, r->dS16));
        for (size_t j = 0; j < grp; j++) {
            long long sq = (long long)(grp * T * hd), sp = (long long)(grp * T * T);
            long long skv = (long long)(T * hd);
            float acc = j ? 1.0f : 0.0f;
            /* dq = dS k; dk += dS^T q; dv += P^T dy (the group's heads add up) */
            TRY(mm(st, r, false, false, T, hd, T, 1.0f, r->dS16 + j * T * T, T, sp, k16, hd, skv,
                   0.0f, r->yh + j * T * hd, hd, sq, nb));
            TRY(mm(st, r, true, false, T, hd, T, 1.0f, r->dS16 + j * T * T, T, sp,
                   q16 + j * T * hd, hd, sq, acc, r->dk, hd, skv, nb));
            TRY(mm(st, r, true, false, T, hd, T, 1.0f, p16 + j * T * T, T, sp,
                   r->dyh16 + j * T * hd, hd, sq, acc, r->dv, hd, skv, nb));
        }
        CU(cu__qkv_merge(r->s, r->yh, r->dk, r->dv, (int)r->B, (int)T, (int)H, (int)KV, (int)hd,
                         r->rope_cos, r->rope_sin, r->dqkv16));
        TRY(mm(st, r, true, false, W, C, N, 1.0f, r->dqkv16, W, 0, r->xn1 + l * N * C, C, 0, 1.0f,
               G + model_offset(lay, MODEL_WQKV, l), C, 0, 1));
        TRY(mm(st, r, false, false, N, C, W, 1.0f, r->dqkv16, W, 0,
               P16 + model_offset(lay, MODEL_WQKV, l), C, 0, 0.0f, r->dxn, C, 0, 1));
        CU(cu__rmsnorm_bwd(r->s, r->dxn, r->res + l * N * C, P + model_offset(lay, MODEL_LN1, l),
                           r->rstd1 + l * N, (int)N, (int)C, r->dres,
                           G + model_offset(lay, MODEL_LN1, l)));
    }
    CU(cu__embed_bwd(r->s, r->dres, r->tokens, (int)N, (int)C, G + lay->off_wte));
    return 0;
}

// ---- timing ----

static int begin(cuda_t *st)
{
    for (int i = 0; i < st->n; i++) {
        CU(cudaSetDevice(st->r[i].dev));
        CU(cudaEventRecord(st->r[i].e0, st->r[i].s));
    }
    return 0;
}

/* Wait for every rank and add the GPU time of the op since begin(). */
static int end(cuda_t *st)
{
    for (int i = 0; i < st->n; i++) {
        float ms = 0;
        CU(cudaSetDevice(st->r[i].dev));
        CU(cudaEventRecord(st->r[i].e1, st->r[i].s));
        CU(cudaEventSynchronize(st->r[i].e1));
        CU(cudaEventElapsedTime(&ms, st->r[i].e0, st->r[i].e1));
        st->busy += 1e-3 * (double)ms;
    }
    return 0;
}

// ---- open / close ----

static void cuda_close(void *state)
{
    cuda_t *st = (cuda_t *)state;
    if (!st)
        return;
    for (int i = 0; i < st->n; i++) {
        rank_t *r = &st->r[i];
        if (cudaSetDevice(r->dev) != cudaSuccess)
            continue;
#if CARBS_HAVE_NCCL
        if (r->comm)
            ncclCommDestroy(r->comm);
#endif
        if (r->blas)
            cublasDestroy(r->blas);
        if (r->e0)
            cudaEventDestroy(r->e0);
        if (r->e1)
            cudaEventDestroy(r->e1);
        if (r->s)
            cudaStreamDestroy(r->s);
        cudaFree(r->slab);
    }
    free(st->host_params);
    free(st->host_nll);
    free(st);
}

static int rank_open(cuda_t *st, rank_t *r, const trainer_config_t *cfg)
{
    carve_t c = {NULL, 0};
    size_t half = st->T * st->lay.shape.head_dim / 2;
    float *ct = st->host_params, *sn = st->host_params + half;

    rank_carve(&st->lay, st->T, r, &c);
    CU(cudaSetDevice(r->dev));
    CU(cudaStreamCreateWithFlags(&r->s, cudaStreamNonBlocking));
    CU(cudaEventCreate(&r->e0));
    CU(cudaEventCreate(&r->e1));
    CU(cudaMalloc((void **)&r->slab, c.used + 256));
    CU(cudaMemsetAsync(r->slab, 0, c.used + 256, r->s));
    c.base = (unsigned char *)(((uintptr_t)r->slab + 255) & ~(uintptr_t)255);
    c.used = 0;
    rank_carve(&st->lay, st->T, r, &c);
    BLAS(cublasCreate(&r->blas));
    BLAS(cublasSetStream(r->blas, r->s));
    BLAS(cublasSetWorkspace(r->blas, r->workspace, CUDA_WORKSPACE_BYTES));
    /* the RoPE tables as the CPU builds them, staged in the host buffer */
    ck_rope_table(st->T, st->lay.shape.head_dim, cfg->rope_base, ct, sn);
    CU(cudaMemcpyAsync(r->rope_cos, ct, half * sizeof(float), cudaMemcpyHostToDevice, r->s));
    CU(cudaMemcpyAsync(r->rope_sin, sn, half * sizeof(float), cudaMemcpyHostToDevice, r->s));
    CU(cudaStreamSynchronize(r->s));
    return 0;
}

static int cuda_open(void **state, const model_layout_t *lay, const trainer_config_t *cfg,
                     const backend_opts_t *opt, carbs_err_t *err)
{
    cuda_t *st;
    size_t B_all, B, free_bytes;
    int rc = cuda_probe(opt, &free_bytes, err);

    *state = NULL;
    if (rc)
        return rc;
    st = (cuda_t *)xcalloc(1, sizeof(*st));
    st->lay = *lay;
    st->T = lay->shape.seq_len;
    st->n = n_ranks(opt);
    dims(lay, opt, &B_all, &B);
    st->N_all = B * st->T * (size_t)st->n;
    st->host_params = (float *)carbs_malloc(host_floats(lay) * sizeof(float));
    st->host_nll = (float *)carbs_malloc(st->N_all * sizeof(float));
    if (!st->host_params || !st->host_nll) {
        cuda_close(st);
        return carbs_fail(err, CARBS_ENOMEM, "cuda: cannot allocate the host buffers");
    }
    for (int i = 0; i < st->n; i++) {
        rank_t *r = &st->r[i];
        r->dev = opt ? opt->devices[i] : 0;
        r->B = B;
        r->N = B * st->T;
        rc = rank_open(st, r, cfg);
        if (rc) {
            /* a failed cudaMalloc is a model too large for the GPU: oom */
            rc = strstr(st->msg, "cudaMalloc") ? CARBS_ENOMEM : rc;
            carbs_fail(err, rc, "%s", st->msg);
            cuda_close(st);
            return rc;
        }
        st->peak += device_peak(r->dev);
    }
#if CARBS_HAVE_NCCL
    {
        ncclComm_t comms[BACKEND_DEVICES_MAX];
        int devs[BACKEND_DEVICES_MAX];
        ncclResult_t e;

        for (int i = 0; i < st->n; i++)
            devs[i] = st->r[i].dev;
        e = ncclCommInitAll(comms, st->n, devs);
        if (e != ncclSuccess) {
            rc = carbs_fail(err, CARBS_ECUDA, "cuda: ncclCommInitAll over %d GPUs: %s", st->n,
                            ncclGetErrorString(e));
            cuda_close(st);
            return rc;
        }
        for (int i = 0; i < st->n; i++)
            st->r[i].comm = comms[i];
    }
#endif
    *state = st;
    return 0;
}

// ---- parameters ----

static void zero_msg(cuda_t *st)
{
    st->msg[0] = 0;
}

/* host_params to every rank: fp32 master, bf16 copy, zero moments. */
static int upload_params(cuda_t *st)
{
    size_t P = st->lay.n_floats;
    for (int i = 0; i < st->n; i++) {
        rank_t *r = &st->r[i];
        CU(cudaSetDevice(r->dev));
        CU(cudaMemcpyAsync(r->params, st->host_params, P * sizeof(float), cudaMemcpyHostToDevice,
                           r->s));
        CU(cudaMemsetAsync(r->m, 0, P * sizeof(float), r->s));
        CU(cudaMemsetAsync(r->v, 0, P * sizeof(float), r->s));
        CU(cu__to_bf16(r->s, r->params, P, r->p16));
        CU(cudaStreamSynchronize(r->s));
    }
    return 0;
}

static int cuda_init_params(void *state, double init_std, uint64_t seed)
{
    cuda_t *st = (cuda_t *)state;
    zero_msg(st);
    model_init(&st->lay, init_std, seed, st->host_params);
    return upload_params(st);
}

static int cuda_set_params(void *state, const float *params)
{
    cuda_t *st = (cuda_t *)state;
    zero_msg(st);
    memcpy(st->host_params, params, st->lay.n_floats * sizeof(float));
    return upload_params(st);
}

static int download(cuda_t *st, const float *src, float *dst)
{
    CU(cudaSetDevice(st->r[0].dev));
    CU(cudaMemcpyAsync(dst, src, st->lay.n_floats * sizeof(float), cudaMemcpyDeviceToHost,
                       st->r[0].s));
    CU(cudaStreamSynchronize(st->r[0].s));
    return 0;
}

static int cuda_get_params(void *state, float *params)
{
    cuda_t *st = (cuda_t *)state;
    zero_msg(st);
    return download(st, st->r[0].params, params);
}

static int cuda_get_grads(void *state, float *grads)
{
    cuda_t *st = (cuda_t *)state;
    zero_msg(st);
    return download(st, st->r[0].grads, grads);
}

// ---- training and evaluation ----

static int cuda_load_batch(void *state, const int32_t *tokens, const int32_t *targets)
{
    cuda_t *st = (cuda_t *)state;
    size_t V = st->lay.shape.vocab;

    zero_msg(st);
    for (size_t i = 0; i < st->N_all; i++)
        if (tokens[i] < 0 || (size_t)tokens[i] >= V || targets[i] < 0 || (size_t)targets[i] >= V)
            return CARBS_EINVAL;
    for (int i = 0; i < st->n; i++) {
        rank_t *r = &st->r[i];
        CU(cudaSetDevice(r->dev));
        CU(cudaMemcpyAsync(r->tokens, tokens + (size_t)i * r->N, r->N * sizeof(int),
                           cudaMemcpyHostToDevice, r->s));
        CU(cudaMemcpyAsync(r->targets, targets + (size_t)i * r->N, r->N * sizeof(int),
                           cudaMemcpyHostToDevice, r->s));
    }
    return 0;
}

/* Forward every rank's rows (and backward with grad), then the mean NLL
 * over all rows into *loss. */
static int run_batch(cuda_t *st, bool grad, float *loss)
{
    double total = 0;

    TRY(begin(st));
    for (int i = 0; i < st->n; i++) {
        rank_t *r = &st->r[i];
        cu_rows_t all = {(int)r->B, (int)st->T, 0, (int)st->T};

        CU(cudaSetDevice(r->dev));
        CU(cu__embed(r->s, r->params + st->lay.off_wte, r->tokens, all, (int)st->lay.shape.d,
                     r->res));
        TRY(forward(st, r, (int)r->B, 0, st->T));
        CU(cu__xent(r->s, r->logits, r->targets, (int)r->N, (int)st->lay.shape.vocab,
                    1.0f / (float)st->N_all, r->nll, grad ? r->dlog16 : NULL));
        if (grad)
            TRY(backward(st, r));
        CU(cudaMemcpyAsync(st->host_nll + (size_t)i * r->N, r->nll, r->N * sizeof(float),
                           cudaMemcpyDeviceToHost, r->s));
    }
#if CARBS_HAVE_NCCL
    if (grad) {
        NC(ncclGroupStart());
        for (int i = 0; i < st->n; i++) {
            rank_t *r = &st->r[i];
            NC(ncclAllReduce(r->grads, r->grads, st->lay.n_floats, ncclFloat32, ncclSum, r->comm,
                             r->s));
        }
        NC(ncclGroupEnd());
    }
#endif
    TRY(end(st));
    for (size_t i = 0; i < st->N_all; i++)
        total += st->host_nll[i];
    *loss = (float)(total / (double)st->N_all);
    return 0;
}

static int cuda_forward_backward(void *state, float *loss_out)
{
    cuda_t *st = (cuda_t *)state;
    zero_msg(st);
    return run_batch(st, true, loss_out);
}

static int cuda_eval(void *state, float *loss_out)
{
    cuda_t *st = (cuda_t *)state;
    zero_msg(st);
    return run_batch(st, false, loss_out);
}

static int cuda_step(void *state, const backend_step_t *hp, float *grad_norm_out)
{
    cuda_t *st = (cuda_t *)state;
    size_t P = st->lay.n_floats;
    double ss = 0, norm;
    float gs, ib1, isb2;

    zero_msg(st);
    TRY(begin(st));
    {
        rank_t *r = &st->r[0]; /* the gradients are the same on every rank */
        CU(cudaSetDevice(r->dev));
        CU(cudaMemsetAsync(r->norm, 0, sizeof(double), r->s));
        CU(cu__sumsq(r->s, r->grads, P, r->norm));
        CU(cudaMemcpyAsync(&ss, r->norm, sizeof(double), cudaMemcpyDeviceToHost, r->s));
        CU(cudaStreamSynchronize(r->s));
    }
    norm = sqrt(ss);
    *grad_norm_out = (float)norm;
    if (!isfinite(norm)) {
        TRY(end(st));
        return CARBS_EDIVERGED;
    }
    gs = hp->grad_clip > 0 && norm > hp->grad_clip ? (float)(hp->grad_clip / norm) : 1.0f;
    ib1 = (float)(1.0 / (1.0 - pow(hp->beta1, (double)hp->t)));
    isb2 = (float)(1.0 / sqrt(1.0 - pow(hp->beta2, (double)hp->t)));
    for (int i = 0; i < st->n; i++) {
        rank_t *r = &st->r[i];
        CU(cudaSetDevice(r->dev));
        CU(cu__adamw(r->s, r->params, r->grads, r->m, r->v, r->p16, P, st->lay.n_decay, hp->lr,
                     hp->beta1, hp->beta2, hp->eps, hp->weight_decay, ib1, isb2, gs));
    }
    return end(st);
}

static int cuda_score(void *state, const int32_t *tokens, size_t n_prefix, size_t n, float *nll)
{
    cuda_t *st = (cuda_t *)state;
    rank_t *r = &st->r[0];
    size_t V = st->lay.shape.vocab, p0 = n_prefix ? n_prefix : 1;
    cu_rows_t rows = {1, (int)st->T, (int)n_prefix, (int)n};

    zero_msg(st);
    if (n > st->T || n_prefix >= n)
        return CARBS_EINVAL;
    for (size_t i = n_prefix; i < n; i++)
        if (tokens[i] < 0 || (size_t)tokens[i] >= V)
            return CARBS_EINVAL;
    TRY(begin(st));
    CU(cudaSetDevice(r->dev));
    CU(cudaMemcpyAsync(r->tokens + n_prefix, tokens + n_prefix, (n - n_prefix) * sizeof(int),
                       cudaMemcpyHostToDevice, r->s));
    CU(cu__embed(r->s, r->params + st->lay.off_wte, r->tokens, rows, (int)st->lay.shape.d,
                 r->res));
    TRY(forward(st, r, 1, n_prefix, n));
    /* target p is predicted by row p - 1, which an earlier call may own */
    if (p0 < n) {
        CU(cudaMemcpyAsync(r->targets + p0 - 1, tokens + p0, (n - p0) * sizeof(int),
                           cudaMemcpyHostToDevice, r->s));
        CU(cu__xent(r->s, r->logits + (p0 - 1) * V, r->targets + p0 - 1, (int)(n - p0), (int)V,
                    0.0f, r->nll + p0 - 1, NULL));
        CU(cudaMemcpyAsync(nll + p0, r->nll + p0 - 1, (n - p0) * sizeof(float),
                           cudaMemcpyDeviceToHost, r->s));
    }
    return end(st);
}

static double cuda_device_seconds(void *state)
{
    return ((const cuda_t *)state)->busy;
}

static double cuda_peak_flops(void *state)
{
    return ((const cuda_t *)state)->peak;
}

static const char *cuda_error(void *state)
{
    return state ? ((const cuda_t *)state)->msg : "";
}

static const backend_ops_t cuda_ops = {
    "cuda",
    cuda_memory,
    cuda_probe,
    cuda_open,
    cuda_close,
    cuda_init_params,
    cuda_set_params,
    cuda_get_params,
    cuda_get_grads,
    cuda_load_batch,
    cuda_forward_backward,
    cuda_step,
    cuda_eval,
    cuda_score,
    cuda_device_seconds,
    cuda_peak_flops,
    cuda_error,
};

extern "C" const backend_ops_t *cuda_backend(void)
{
    return &cuda_ops;
}
