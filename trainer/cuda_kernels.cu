/*
 * cuda_kernels.cu - the CUDA backend's own kernels: everything between the
 * cuBLAS matrix multiplies (embedding, RMSNorm, RoPE with the head
 * reshapes, the causal softmax, SwiGLU, cross-entropy, AdamW, bf16 casts).
 *
 * The per-element arithmetic is trainer/kernel_math.h, shared with the CPU
 * backend and tested on the CPU (tests/test_kernel_math.c); what lives here
 * is the indexing and the reductions.  A row-wise kernel runs one block
 * of ROW_THREADS threads per row and reduces through warp shuffles; an
 * elementwise kernel runs one thread per element (or pair, for RoPE).
 * Legend as in model.h and cuda_internal.h.
 */
#include "trainer/cuda_internal.h"

extern "C" {
#include "trainer/kernel_math.h"
}

/* Threads of a row-wise kernel's block: eight warps, enough to cover a row
 * of d_model up to a few thousand in a handful of strides. */
#define ROW_THREADS 256
/* Threads of an elementwise kernel's block. */
#define EW_THREADS 256
/* Most blocks of a grid-stride kernel (AdamW, sums of squares): a few per
 * SM of the largest GPUs, so each thread does many elements. */
#define GRID_MAX 4096
/* Row chunks of the RMSNorm gain gradient: each chunk sums its rows, then
 * one atomic add per column and chunk. */
#define DG_CHUNKS 64

__device__ static inline bf16_t to_bf16(float x)
{
    return __ushort_as_bfloat16(km_bf16(x));
}

__device__ static inline float from_bf16(bf16_t h)
{
    return km_bf16_to_float(__bfloat16_as_ushort(h));
}

static inline unsigned blocks_for(size_t n, int threads)
{
    size_t b = (n + (size_t)threads - 1) / (size_t)threads;
    return (unsigned)(b ? b : 1);
}

static inline unsigned grid_for(size_t n, int threads)
{
    unsigned b = blocks_for(n, threads);
    return b < GRID_MAX ? b : GRID_MAX;
}

// ---- reductions ----

__device__ static inline float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ static inline float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* The block's sum (every thread gets it); sh holds 32 floats. */
__device__ static float block_sum(float v, float *sh)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum(v);
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.0f;
    v = warp_sum(v);
    __syncthreads();
    return v;
}

__device__ static float block_max(float v, float *sh)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max(v);
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : -INFINITY;
    v = warp_max(v);
    __syncthreads();
    return v;
}

/* Storage row of the i-th row of a slice. */
__device__ static inline int slice_row(cu_rows_t r, int i, int *t)
{
    int w = r.r1 - r.r0, b = i / w;
    *t = r.r0 + i % w;
    return b * r.T + *t;
}

// ---- embedding ----

__global__ static void k_embed(const float *wte, const int *tok, cu_rows_t rows, int C, float *x)
{
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int i = (int)(e / (size_t)C), c = (int)(e % (size_t)C), t, n;
    if (i >= rows.nseq * (rows.r1 - rows.r0))
        return;
    n = slice_row(rows, i, &t);
    x[(size_t)n * C + c] = wte[(size_t)tok[n] * C + c];
}

cudaError_t cu__embed(cudaStream_t s, const float *wte, const int *tok, cu_rows_t rows, int C,
                      float *x)
{
    size_t n = (size_t)rows.nseq * (size_t)(rows.r1 - rows.r0) * (size_t)C;
    k_embed<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, s>>>(wte, tok, rows, C, x);
    return cudaGetLastError();
}

__global__ static void k_embed_bwd(const float *dx, const int *tok, int n, int C, float *dwte)
{
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int i = (int)(e / (size_t)C), c = (int)(e % (size_t)C);
    if (i >= n)
        return;
    atomicAdd(dwte + (size_t)tok[i] * C + c, dx[e]);
}

cudaError_t cu__embed_bwd(cudaStream_t s, const float *dx, const int *tok, int n, int C,
                          float *dwte)
{
    k_embed_bwd<<<blocks_for((size_t)n * C, EW_THREADS), EW_THREADS, 0, s>>>(dx, tok, n, C,
                                                                             dwte);
    return cudaGetLastError();
}

// ---- RMSNorm ----

__global__ static void k_rmsnorm(const float *x, const float *g, cu_rows_t rows, int C,
                                 bf16_t *y16, float *rstd)
{
    __shared__ float sh[32];
    int t, n = slice_row(rows, blockIdx.x, &t);
    const float *xr = x + (size_t)n * C;
    float ss = 0, r;

    for (int c = threadIdx.x; c < C; c += blockDim.x)
        ss += xr[c] * xr[c];
    ss = block_sum(ss, sh);
    r = km_rmsnorm_rstd(ss, (float)C);
    if (threadIdx.x == 0)
        rstd[n] = r;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        y16[(size_t)n * C + c] = to_bf16(km_rmsnorm_y(xr[c], r, g[c]));
}

cudaError_t cu__rmsnorm(cudaStream_t s, const float *x, const float *g, cu_rows_t rows, int C,
                        bf16_t *y16, float *rstd)
{
    unsigned n = (unsigned)(rows.nseq * (rows.r1 - rows.r0));
    k_rmsnorm<<<n, ROW_THREADS, 0, s>>>(x, g, rows, C, y16, rstd);
    return cudaGetLastError();
}

__global__ static void k_rmsnorm_dx(const float *dy, const float *x, const float *g,
                                    const float *rstd, int C, float *dx)
{
    __shared__ float sh[32];
    size_t off = (size_t)blockIdx.x * C;
    float r = rstd[blockIdx.x], dot = 0, k;

    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dot += dy[off + c] * g[c] * x[off + c];
    dot = block_sum(dot, sh);
    k = km_rmsnorm_k(dot, r, (float)C);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dx[off + c] += km_rmsnorm_dx(dy[off + c], x[off + c], g[c], r, k);
}

__global__ static void k_rmsnorm_dg(const float *dy, const float *x, const float *rstd, int n,
                                    int C, int per, float *dg)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x, i0 = blockIdx.y * per;
    int i1 = i0 + per < n ? i0 + per : n;
    float acc = 0;
    if (c >= C)
        return;
    for (int i = i0; i < i1; i++)
        acc += km_rmsnorm_dg(dy[(size_t)i * C + c], x[(size_t)i * C + c], rstd[i]);
    atomicAdd(dg + c, acc);
}

cudaError_t cu__rmsnorm_bwd(cudaStream_t s, const float *dy, const float *x, const float *g,
                            const float *rstd, int n, int C, float *dx, float *dg)
{
    int chunks = n < DG_CHUNKS ? n : DG_CHUNKS, per = (n + chunks - 1) / chunks;
    dim3 grid(blocks_for((size_t)C, EW_THREADS), (unsigned)chunks);
    cudaError_t e;

    k_rmsnorm_dx<<<(unsigned)n, ROW_THREADS, 0, s>>>(dy, x, g, rstd, C, dx);
    e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    k_rmsnorm_dg<<<grid, EW_THREADS, 0, s>>>(dy, x, rstd, n, C, per, dg);
    return cudaGetLastError();
}

// ---- attention reshapes with RoPE ----

__global__ static void k_qkv_split(const float *qkv, cu_rows_t rows, int H, int KV, int hd,
                                   const float *cos_t, const float *sin_t, bf16_t *q16,
                                   bf16_t *k16, bf16_t *v16)
{
    int C = H * hd, Dkv = KV * hd, W = C + 2 * Dkv, half = hd / 2, t, n, b, c, d;
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x, dst;
    int i = (int)(e / (size_t)(W / 2));
    float a, bb;

    if (i >= rows.nseq * (rows.r1 - rows.r0))
        return;
    n = slice_row(rows, i, &t);
    b = n / rows.T;
    c = 2 * (int)(e % (size_t)(W / 2));
    a = qkv[(size_t)n * W + c];
    bb = qkv[(size_t)n * W + c + 1];
    if (c < C + Dkv) {
        d = (c < C ? c : c - C) % hd;
        km_rope_pair(&a, &bb, cos_t[t * half + d / 2], sin_t[t * half + d / 2]);
    }
    if (c < C) {
        dst = (((size_t)b * H + c / hd) * rows.T + t) * hd + c % hd;
        q16[dst] = to_bf16(a);
        q16[dst + 1] = to_bf16(bb);
    } else if (c < C + Dkv) {
        dst = (((size_t)b * KV + (c - C) / hd) * rows.T + t) * hd + (c - C) % hd;
        k16[dst] = to_bf16(a);
        k16[dst + 1] = to_bf16(bb);
    } else {
        dst = (((size_t)b * KV + (c - C - Dkv) / hd) * rows.T + t) * hd + (c - C - Dkv) % hd;
        v16[dst] = to_bf16(a);
        v16[dst + 1] = to_bf16(bb);
    }
}

cudaError_t cu__qkv_split(cudaStream_t s, const float *qkv, cu_rows_t rows, int H, int KV, int hd,
                          const float *cos_t, const float *sin_t, bf16_t *q16, bf16_t *k16,
                          bf16_t *v16)
{
    size_t n = (size_t)rows.nseq * (size_t)(rows.r1 - rows.r0) * (size_t)((H + 2 * KV) * hd / 2);
    k_qkv_split<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, s>>>(qkv, rows, H, KV, hd, cos_t,
                                                                 sin_t, q16, k16, v16);
    return cudaGetLastError();
}

__global__ static void k_qkv_merge(const float *dq, const float *dk, const float *dv, int B, int T,
                                   int H, int KV, int hd, const float *cos_t, const float *sin_t,
                                   bf16_t *dqkv16)
{
    int C = H * hd, Dkv = KV * hd, W = C + 2 * Dkv, half = hd / 2, n, b, t, c, d;
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x, src;
    float a, bb;

    n = (int)(e / (size_t)(W / 2));
    if (n >= B * T)
        return;
    b = n / T;
    t = n % T;
    c = 2 * (int)(e % (size_t)(W / 2));
    if (c < C) {
        src = (((size_t)b * H + c / hd) * T + t) * hd + c % hd;
        a = dq[src];
        bb = dq[src + 1];
    } else if (c < C + Dkv) {
        src = (((size_t)b * KV + (c - C) / hd) * T + t) * hd + (c - C) % hd;
        a = dk[src];
        bb = dk[src + 1];
    } else {
        src = (((size_t)b * KV + (c - C - Dkv) / hd) * T + t) * hd + (c - C - Dkv) % hd;
        a = dv[src];
        bb = dv[src + 1];
    }
    if (c < C + Dkv) {
        d = (c < C ? c : c - C) % hd;
        km_rope_pair(&a, &bb, cos_t[t * half + d / 2], -sin_t[t * half + d / 2]);
    }
    dqkv16[(size_t)n * W + c] = to_bf16(a);
    dqkv16[(size_t)n * W + c + 1] = to_bf16(bb);
}

cudaError_t cu__qkv_merge(cudaStream_t s, const float *dq, const float *dk, const float *dv,
                          int B, int T, int H, int KV, int hd, const float *cos_t,
                          const float *sin_t, bf16_t *dqkv16)
{
    size_t n = (size_t)B * T * (size_t)((H + 2 * KV) * hd / 2);
    k_qkv_merge<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, s>>>(dq, dk, dv, B, T, H, KV, hd,
                                                                 cos_t, sin_t, dqkv16);
    return cudaGetLastError();
}

__global__ static void k_heads_merge(const float *yh, cu_rows_t rows, int H, int hd, bf16_t *y16)
{
    int C = H * hd, t, n, b, c;
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int i = (int)(e / (size_t)C);
    if (i >= rows.nseq * (rows.r1 - rows.r0))
        return;
    n = slice_row(rows, i, &t);
    b = n / rows.T;
    c = (int)(e % (size_t)C);
    y16[(size_t)n * C + c] = to_bf16(yh[(((size_t)b * H + c / hd) * rows.T + t) * hd + c % hd]);
}

cudaError_t cu__heads_merge(cudaStream_t s, const float *yh, cu_rows_t rows, int H, int hd,
                            bf16_t *y16)
{
    size_t n = (size_t)rows.nseq * (size_t)(rows.r1 - rows.r0) * (size_t)(H * hd);
    k_heads_merge<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, s>>>(yh, rows, H, hd, y16);
    return cudaGetLastError();
}

__global__ static void k_heads_split(const float *dy, int B, int T, int H, int hd, bf16_t *dyh16)
{
    int C = H * hd;
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int n = (int)(e / (size_t)C), c = (int)(e % (size_t)C), b, t;
    if (n >= B * T)
        return;
    b = n / T;
    t = n % T;
    dyh16[(((size_t)b * H + c / hd) * T + t) * hd + c % hd] = to_bf16(dy[e]);
}

cudaError_t cu__heads_split(cudaStream_t s, const float *dy, int B, int T, int H, int hd,
                            bf16_t *dyh16)
{
    size_t n = (size_t)B * T * (size_t)(H * hd);
    k_heads_split<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, s>>>(dy, B, T, H, hd, dyh16);
    return cudaGetLastError();
}

// ---- causal softmax ----

/* One block per score row of (sequence, head, position t): keys [0, t]. */
__global__ static void k_softmax(const float *S, cu_rows_t rows, int H, bf16_t *P16)
{
    __shared__ float sh[32];
    int w = rows.r1 - rows.r0, i = blockIdx.x, bh = i / w, t = rows.r0 + i % w;
    size_t off = ((size_t)bh * rows.T + t) * rows.T;
    float mx = -INFINITY, sum = 0, inv;

    (void)H;
    for (int j = threadIdx.x; j <= t; j += blockDim.x)
        mx = fmaxf(mx, S[off + j]);
    mx = block_max(mx, sh);
    for (int j = threadIdx.x; j <= t; j += blockDim.x)
        sum += km_exp(S[off + j] - mx);
    sum = block_sum(sum, sh);
    inv = 1.0f / sum;
    for (int j = threadIdx.x; j < rows.r1; j += blockDim.x)
        P16[off + j] = to_bf16(j <= t ? km_exp(S[off + j] - mx) * inv : 0.0f);
}

cudaError_t cu__softmax(cudaStream_t s, const float *S, cu_rows_t rows, int H, bf16_t *P16)
{
    unsigned n = (unsigned)(rows.nseq * H * (rows.r1 - rows.r0));
    k_softmax<<<n, ROW_THREADS, 0, s>>>(S, rows, H, P16);
    return cudaGetLastError();
}

__global__ static void k_softmax_bwd(const bf16_t *P16, const float *dP, int T, float scale,
                                     bf16_t *dS16)
{
    __shared__ float sh[32];
    int t = blockIdx.x % T;
    size_t off = (size_t)blockIdx.x * T;
    float dot = 0;

    for (int j = threadIdx.x; j <= t; j += blockDim.x)
        dot += from_bf16(P16[off + j]) * dP[off + j];
    dot = block_sum(dot, sh);
    for (int j = threadIdx.x; j < T; j += blockDim.x)
        dS16[off + j] =
            to_bf16(j <= t ? km_softmax_bwd(from_bf16(P16[off + j]), dP[off + j], dot, scale)
                           : 0.0f);
}

cudaError_t cu__softmax_bwd(cudaStream_t s, const bf16_t *P16, const float *dP, int B, int H,
                            int T, float scale, bf16_t *dS16)
{
    k_softmax_bwd<<<(unsigned)(B * H * T), ROW_THREADS, 0, s>>>(P16, dP, T, scale, dS16);
    return cudaGetLastError();
}

// ---- SwiGLU ----

__global__ static void k_swiglu(const float *h, cu_rows_t rows, int F, bf16_t *a16)
{
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int i = (int)(e / (size_t)F), j = (int)(e % (size_t)F), t, n;
    float g, u;
    if (i >= rows.nseq * (rows.r1 - rows.r0))
        return;
    n = slice_row(rows, i, &t);
    g = h[(size_t)n * 2 * F + j];
    u = h[(size_t)n * 2 * F + F + j];
    a16[(size_t)n * F + j] = to_bf16(km_swiglu(g, u, km_sigmoid(g)));
}

cudaError_t cu__swiglu(cudaStream_t s, const float *h, cu_rows_t rows, int F, bf16_t *a16)
{
    size_t n = (size_t)rows.nseq * (size_t)(rows.r1 - rows.r0) * (size_t)F;
    k_swiglu<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, s>>>(h, rows, F, a16);
    return cudaGetLastError();
}

__global__ static void k_swiglu_bwd(const float *h, const float *da, int n, int F, bf16_t *dh16)
{
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t i = e / (size_t)F, j = e % (size_t)F;
    float g, u, sg, d;
    if (i >= (size_t)n)
        return;
    g = h[i * 2 * F + j];
    u = h[i * 2 * F + F + j];
    d = da[e];
    sg = km_sigmoid(g);
    dh16[i * 2 * F + j] = to_bf16(km_swiglu_dgate(d, g, u, sg));
    dh16[i * 2 * F + F + j] = to_bf16(km_swiglu_dup(d, g, sg));
}

cudaError_t cu__swiglu_bwd(cudaStream_t s, const float *h, const float *da, int n, int F,
                           bf16_t *dh16)
{
    k_swiglu_bwd<<<blocks_for((size_t)n * F, EW_THREADS), EW_THREADS, 0, s>>>(h, da, n, F, dh16);
    return cudaGetLastError();
}

// ---- cross-entropy ----

__global__ static void k_xent(const float *logits, const int *targets, int V, float scale,
                              float *nll, bf16_t *dlog16)
{
    __shared__ float sh[32];
    size_t off = (size_t)blockIdx.x * V;
    const float *z = logits + off;
    int tg = targets[blockIdx.x];
    float mx = -INFINITY, sum = 0, k;

    for (int j = threadIdx.x; j < V; j += blockDim.x)
        mx = fmaxf(mx, z[j]);
    mx = block_max(mx, sh);
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        sum += km_exp(z[j] - mx);
    sum = block_sum(sum, sh);
    if (threadIdx.x == 0)
        nll[blockIdx.x] = km_lse(mx, sum) - z[tg];
    if (!dlog16)
        return;
    k = scale / sum;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        dlog16[off + j] = to_bf16(km_xent_grad(km_exp(z[j] - mx), k, j == tg, scale));
}

cudaError_t cu__xent(cudaStream_t s, const float *logits, const int *targets, int n, int V,
                     float scale, float *nll, bf16_t *dlog16)
{
    if (n <= 0)
        return cudaSuccess;
    k_xent<<<(unsigned)n, ROW_THREADS, 0, s>>>(logits, targets, V, scale, nll, dlog16);
    return cudaGetLastError();
}

// ---- optimizer and casts ----

__global__ static void k_sumsq(const float *x, size_t n, double *out)
{
    __shared__ float sh[32];
    double acc = 0;
    float part;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += (double)x[i] * (double)x[i];
    /* a float per thread is enough for the block's sum: the gradient norm
     * is compared with thresholds, not reproduced bit for bit */
    part = block_sum((float)acc, sh);
    if (threadIdx.x == 0)
        atomicAdd(out, (double)part);
}

cudaError_t cu__sumsq(cudaStream_t s, const float *x, size_t n, double *out)
{
    k_sumsq<<<grid_for(n, ROW_THREADS), ROW_THREADS, 0, s>>>(x, n, out);
    return cudaGetLastError();
}

__global__ static void k_adamw(float *p, const float *g, float *m, float *v, bf16_t *p16, size_t n,
                               size_t n_decay, float lr, float b1, float b2, float eps, float wd,
                               float ib1, float isb2, float gs)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        km_adamw(&p[i], &m[i], &v[i], g[i], lr, b1, b2, eps, i < n_decay ? wd : 0.0f, ib1, isb2,
                 gs);
        p16[i] = to_bf16(p[i]);
    }
}

cudaError_t cu__adamw(cudaStream_t s, float *p, const float *g, float *m, float *v, bf16_t *p16,
                      size_t n, size_t n_decay, float lr, float b1, float b2, float eps, float wd,
                      float ib1, float isb2, float gs)
{
    k_adamw<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(p, g, m, v, p16, n, n_decay, lr, b1, b2,
                                                           eps, wd, ib1, isb2, gs);
    return cudaGetLastError();
}

__global__ static void k_to_bf16(const float *x, size_t n, bf16_t *y16)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y16[i] = to_bf16(x[i]);
}

cudaError_t cu__to_bf16(cudaStream_t s, const float *x, size_t n, bf16_t *y16)
{
    k_to_bf16<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(x, n, y16);
    return cudaGetLastError();
}
