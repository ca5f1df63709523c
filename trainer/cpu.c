/*
 * cpu.c - the CPU backend: forward, backward, AdamW and evaluation of the
 * model of model.h in float32 on OpenBLAS sgemm and OpenMP.
 *
 * The batch is one (N, C) matrix with N = B * T rows, so each linear layer
 * is one sgemm (weights (out, in): y = x W^T, dx = dy W, dW += dy^T x).
 * OpenBLAS runs single-threaded (ck_blas_single_thread); parallelism is
 * ours: sgemms split their output rows across threads, elementwise kernels
 * split rows (or columns where they reduce over rows, so results do not
 * depend on the thread count), attention runs one (sequence, head) per
 * task forward and one (sequence, kv head) per task backward so heads
 * sharing keys and values accumulate without races.
 *
 * Memory: one 64-byte aligned slab carved at open (cpu_carve): parameters,
 * gradients, AdamW m and v, the activations backward needs for every layer
 * (residual inputs, normalised inputs and 1/rms, q k v after RoPE, the
 * attention probabilities (B, H, T, T), attention output, the mid-block
 * residual, SwiGLU input and output), logits, and backward scratch.
 */
#include "proto/common.h"
#include "trainer/backend.h"

#include <math.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "trainer/cpu_kernels.h"

typedef struct cpu {
    model_layout_t lay;
    size_t B, T, N, nt;
    double busy; /* process CPU seconds spent inside the compute ops */
    unsigned char *slab;
    size_t slab_bytes;
    float *params, *grads, *m, *v;
    float *rope_cos, *rope_sin;
    int32_t *tokens, *targets;
    /* activations, per layer l at l * (N x width) */
    float *res;    /* (L+1, N, C): input of each layer; res[L] feeds the final norm */
    float *rstd1, *rstd2; /* (L, N) */
    float *xn1, *xn2;     /* (L, N, C) */
    float *qkv;           /* (L, N, C + 2 Dkv) after RoPE */
    float *att;           /* (L, B, H, T, T) */
    float *y;             /* (L, N, C) attention output before wo */
    float *mid;           /* (L, N, C) residual after attention */
    float *h;             /* (L, N, 2F) SwiGLU gate | up */
    float *a;             /* (L, N, F) SwiGLU output */
    float *rstdf;         /* (N) */
    float *xnf;           /* (N, C) */
    float *logits;        /* (N, V); gradients of the logits after backward */
    float *nll;           /* (N) */
    /* backward scratch */
    float *dres, *dxn, *dy; /* (N, C) */
    float *dqkv;            /* (N, C + 2 Dkv) */
    float *dh;              /* (N, 2F) */
    float *dp;              /* (nt, MODEL_ATT_BLOCK, T) */
} cpu_t;

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// ---- slab ----

typedef struct carve {
    unsigned char *base; /* NULL: only measure */
    size_t used;
} carve_t;

static void *carve(carve_t *c, size_t bytes)
{
    size_t off = (c->used + 63) & ~(size_t)63;
    c->used = off + bytes;
    return c->base ? c->base + off : NULL;
}

#define CARVE_F(c, n) ((float *)carve((c), (n) * sizeof(float)))

static void cpu_carve(cpu_t *st, carve_t *c)
{
    const model_layout_t *lay = &st->lay;
    size_t L = lay->shape.n_layers, C = lay->shape.d, F = lay->shape.ffn, V = lay->shape.vocab;
    size_t H = lay->shape.n_heads, N = st->N, T = st->T, P = lay->n_floats;

    st->params = CARVE_F(c, P);
    st->grads = CARVE_F(c, P);
    st->m = CARVE_F(c, P);
    st->v = CARVE_F(c, P);
    st->rope_cos = CARVE_F(c, T * lay->shape.head_dim / 2);
    st->rope_sin = CARVE_F(c, T * lay->shape.head_dim / 2);
    st->tokens = (int32_t *)carve(c, N * sizeof(int32_t));
    st->targets = (int32_t *)carve(c, N * sizeof(int32_t));
    st->res = CARVE_F(c, (L + 1) * N * C);
    st->rstd1 = CARVE_F(c, L * N);
    st->rstd2 = CARVE_F(c, L * N);
    st->xn1 = CARVE_F(c, L * N * C);
    st->xn2 = CARVE_F(c, L * N * C);
    st->qkv = CARVE_F(c, L * N * lay->qkv);
    st->att = CARVE_F(c, L * st->B * H * T * T);
    st->y = CARVE_F(c, L * N * C);
    st->mid = CARVE_F(c, L * N * C);
    st->h = CARVE_F(c, L * N * 2 * F);
    st->a = CARVE_F(c, L * N * F);
    st->rstdf = CARVE_F(c, N);
    st->xnf = CARVE_F(c, N * C);
    st->logits = CARVE_F(c, N * V);
    st->nll = CARVE_F(c, N);
    st->dres = CARVE_F(c, N * C);
    st->dxn = CARVE_F(c, N * C);
    st->dy = CARVE_F(c, N * C);
    st->dqkv = CARVE_F(c, N * lay->qkv);
    st->dh = CARVE_F(c, N * 2 * F);
    st->dp = CARVE_F(c, st->nt * MODEL_ATT_BLOCK * T);
}

static void cpu_dims(cpu_t *st, const model_layout_t *lay, const backend_opts_t *opt)
{
    st->lay = *lay;
    st->B = opt && opt->batch ? opt->batch : 1;
    st->T = lay->shape.seq_len;
    st->N = st->B * st->T;
    st->nt = opt && opt->threads > 0 ? (size_t)opt->threads : 1;
}

static void cpu_memory(const model_layout_t *lay, const backend_opts_t *opt, backend_mem_t *mem)
{
    cpu_t st;
    carve_t c = {NULL, 0};

    memset(&st, 0, sizeof(st));
    cpu_dims(&st, lay, opt);
    cpu_carve(&st, &c);
    mem->host = c.used + 64 + sizeof(cpu_t);
    mem->device = 0;
}

static int cpu_probe(const backend_opts_t *opt, size_t *free_bytes, carbs_err_t *err)
{
    if (opt && opt->n_devices > 1)
        return carbs_fail(err, CARBS_ENOTFOUND, "cpu: one device only, not %d", opt->n_devices);
    *free_bytes = SIZE_MAX;
    return 0;
}

/* Process CPU time (every thread), for device_seconds. */
static double cpu_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- parallel helpers ----

/* C = alpha op(A) op(B) + beta C with C's rows split across threads. */
static void gemm_par(const cpu_t *st, bool ta, bool tb, size_t M, size_t N, size_t K, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc)
{
    size_t nt = st->nt;
    if (nt < 2 || M < 32 * nt) {
        ck_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t t = 0; t < nt; t++) {
        /* split at multiples of 16 rows (the sgemm micro-kernel's height) */
        size_t m0 = (M * t / nt) & ~(size_t)15, m1 = t + 1 == nt ? M : (M * (t + 1) / nt) & ~(size_t)15;
        const float *At = ta ? A + m0 : A + m0 * lda;
        ck_gemm(ta, tb, m1 - m0, N, K, alpha, At, lda, B, ldb, beta, C + m0 * ldc, ldc);
    }
}

static void rmsnorm_fwd_par(const cpu_t *st, const float *x, const float *g, size_t n, float *y,
                            float *rstd)
{
    size_t nt = st->nt, C = st->lay.shape.d;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t t = 0; t < nt; t++) {
        size_t r0 = n * t / nt, r1 = n * (t + 1) / nt;
        ck_rmsnorm_fwd(x + r0 * C, g, r1 - r0, C, y + r0 * C, rstd + r0);
    }
}

/* dx += input gradient, dg += gain gradient (columns split: no races). */
static void rmsnorm_bwd_par(const cpu_t *st, const float *dy, const float *x, const float *g,
                            const float *rstd, size_t n, float *dx, float *dg)
{
    size_t nt = st->nt, C = st->lay.shape.d;
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)thread_id(), tn = nt;
#ifdef _OPENMP
        tn = (size_t)omp_get_num_threads();
#endif
        size_t r0 = n * t / tn, r1 = n * (t + 1) / tn, c0 = C * t / tn, c1 = C * (t + 1) / tn;
        ck_rmsnorm_bwd(dy + r0 * C, x + r0 * C, g, rstd + r0, r1 - r0, C, dx + r0 * C);
        ck_rmsnorm_dg(dy, x, rstd, n, C, c0, c1, dg);
    }
}

// ---- forward ----

/* Rows [r0, r0 + n) of the batch matrix, through every layer and the LM
 * head.  Either all nseq full sequences (r0 = 0, n = nseq T) or rows of
 * sequence 0 whose earlier rows are already computed (score). */
static void forward(cpu_t *st, size_t nseq, size_t row0, size_t row1)
{
    const model_layout_t *lay = &st->lay;
    const trainer_shape_t *s = &lay->shape;
    size_t C = s->d, F = s->ffn, V = s->vocab, H = s->n_heads, hd = s->head_dim;
    size_t T = st->T, N = st->N, W = lay->qkv, grp = s->n_heads / s->n_kv_heads;
    size_t r0 = row0, n = nseq > 1 ? nseq * T : row1 - row0, nt = st->nt;
    const float *P = st->params;

    for (size_t l = 0; l < s->n_layers; l++) {
        const float *x = st->res + l * N * C;
        float *xn1 = st->xn1 + l * N * C, *qkv = st->qkv + l * N * W, *y = st->y + l * N * C;
        float *mid = st->mid + l * N * C, *xn2 = st->xn2 + l * N * C, *h = st->h + l * N * 2 * F;
        float *a = st->a + l * N * F, *out = st->res + (l + 1) * N * C;
        float *att = st->att + l * st->B * H * T * T;

        rmsnorm_fwd_par(st, x + r0 * C, P + model_offset(lay, MODEL_LN1, l), n, xn1 + r0 * C,
                        st->rstd1 + l * N + r0);
        gemm_par(st, false, true, n, W, C, 1, xn1 + r0 * C, C, P + model_offset(lay, MODEL_WQKV, l),
                 C, 0, qkv + r0 * W, W);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t b = 0; b < nseq; b++) /* q and k heads are adjacent columns: one pass */
            ck_rope(qkv + (b * T + row0) * W, W, row1 - row0, row0, H + s->n_kv_heads, hd,
                    st->rope_cos, st->rope_sin, false);
#pragma omp parallel for num_threads(nt) schedule(dynamic)
        for (size_t w = 0; w < nseq * H; w++) {
            size_t b = w / H, hh = w % H, g = hh / grp;
            const float *base = qkv + b * T * W;
            ck_attn_fwd(base + hh * hd, base + C + g * hd, base + C + lay->kv_dim + g * hd, W, W,
                        row0, row1, hd, T, att + (b * H + hh) * T * T, y + b * T * C + hh * hd, C);
        }
        memcpy(mid + r0 * C, x + r0 * C, n * C * sizeof(float));
        gemm_par(st, false, true, n, C, C, 1, y + r0 * C, C, P + model_offset(lay, MODEL_WO, l), C,
                 1, mid + r0 * C, C);
        rmsnorm_fwd_par(st, mid + r0 * C, P + model_offset(lay, MODEL_LN2, l), n, xn2 + r0 * C,
                        st->rstd2 + l * N + r0);
        gemm_par(st, false, true, n, 2 * F, C, 1, xn2 + r0 * C, C,
                 P + model_offset(lay, MODEL_W13, l), C, 0, h + r0 * 2 * F, 2 * F);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t t = 0; t < nt; t++) {
            size_t q0 = r0 + n * t / nt, q1 = r0 + n * (t + 1) / nt;
            ck_swiglu_fwd(h + q0 * 2 * F, q1 - q0, F, a + q0 * F);
        }
        memcpy(out + r0 * C, mid + r0 * C, n * C * sizeof(float));
        gemm_par(st, false, true, n, C, F, 1, a + r0 * F, F, P + model_offset(lay, MODEL_W2, l), F,
                 1, out + r0 * C, C);
    }
    rmsnorm_fwd_par(st, st->res + s->n_layers * N * C + r0 * C, P + model_offset(lay, MODEL_LNF, 0),
                    n, st->xnf + r0 * C, st->rstdf + r0);
    gemm_par(st, false, true, n, V, C, 1, st->xnf + r0 * C, C,
             P + model_offset(lay, MODEL_LM_HEAD, 0), C, 0, st->logits + r0 * V, V);
}

static void embed_par(cpu_t *st, size_t r0, size_t n)
{
    size_t nt = st->nt, C = st->lay.shape.d;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t t = 0; t < nt; t++) {
        size_t q0 = r0 + n * t / nt, q1 = r0 + n * (t + 1) / nt;
        ck_embed_fwd(st->params + st->lay.off_wte, st->tokens + q0, q1 - q0, C, st->res + q0 * C);
    }
}

/* Cross-entropy of rows [r0, r0 + n) against targets; with grad the logits
 * become their gradient scaled by grad_scale.  Returns the summed NLL. */
static double xent_par(cpu_t *st, size_t r0, size_t n, const int32_t *targets, float grad_scale,
                       bool grad)
{
    size_t nt = st->nt, V = st->lay.shape.vocab;
    double total = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : total)
    for (size_t t = 0; t < nt; t++) {
        size_t q0 = n * t / nt, q1 = n * (t + 1) / nt;
        total += ck_xent(st->logits + (r0 + q0) * V, targets + q0, q1 - q0, V, grad_scale,
                         st->nll + r0 + q0, grad);
    }
    return total;
}

// ---- backward ----

static void attn_bwd_par(cpu_t *st, size_t l)
{
    const model_layout_t *lay = &st->lay;
    const trainer_shape_t *s = &lay->shape;
    size_t C = s->d, H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim, T = st->T;
    size_t W = lay->qkv, grp = H / KV, nt = st->nt;
    const float *qkv = st->qkv + l * st->N * W, *att = st->att + l * st->B * H * T * T;

    memset(st->dqkv, 0, st->N * W * sizeof(float));
#pragma omp parallel for num_threads(nt) schedule(dynamic)
    for (size_t w = 0; w < st->B * KV; w++) {
        size_t b = w / KV, g = w % KV;
        const float *base = qkv + b * T * W;
        float *dbase = st->dqkv + b * T * W, *dp = st->dp + (size_t)thread_id() * MODEL_ATT_BLOCK * T;
        for (size_t hh = g * grp; hh < (g + 1) * grp; hh++)
            ck_attn_bwd(base + hh * hd, base + C + g * hd, base + C + lay->kv_dim + g * hd, W, W,
                        att + (b * H + hh) * T * T, st->dy + b * T * C + hh * hd, C, T, hd, T, dp,
                        dbase + hh * hd, dbase + C + g * hd, dbase + C + lay->kv_dim + g * hd);
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t b = 0; b < st->B; b++)
        ck_rope(st->dqkv + b * T * W, W, T, 0, H + KV, hd, st->rope_cos, st->rope_sin, true);
}

static void backward(cpu_t *st)
{
    const model_layout_t *lay = &st->lay;
    const trainer_shape_t *s = &lay->shape;
    size_t C = s->d, F = s->ffn, V = s->vocab, N = st->N, W = lay->qkv, nt = st->nt;
    const float *P = st->params;
    float *G = st->grads;

    memset(G, 0, lay->n_floats * sizeof(float));
    memset(st->dres, 0, N * C * sizeof(float));
    /* LM head: logits = xnf E^T */
    gemm_par(st, true, false, V, C, N, 1, st->logits, V, st->xnf, C, 1,
             G + model_offset(lay, MODEL_LM_HEAD, 0), C);
    gemm_par(st, false, false, N, C, V, 1, st->logits, V, P + model_offset(lay, MODEL_LM_HEAD, 0),
             C, 0, st->dxn, C);
    rmsnorm_bwd_par(st, st->dxn, st->res + s->n_layers * N * C, P + model_offset(lay, MODEL_LNF, 0),
                    st->rstdf, N, st->dres, G + model_offset(lay, MODEL_LNF, 0));

    for (size_t l = s->n_layers; l-- > 0;) {
        const float *x = st->res + l * N * C, *h = st->h + l * N * 2 * F;
        const float *mid = st->mid + l * N * C;

        /* MLP: out = mid + a W2^T, a = swiglu(h), h = xn2 W13^T */
        gemm_par(st, true, false, C, F, N, 1, st->dres, C, st->a + l * N * F, F, 1,
                 G + model_offset(lay, MODEL_W2, l), F);
        gemm_par(st, false, false, N, F, C, 1, st->dres, C, P + model_offset(lay, MODEL_W2, l), F,
                 0, st->dh + F, 2 * F);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t t = 0; t < nt; t++) {
            size_t q0 = N * t / nt, q1 = N * (t + 1) / nt;
            ck_swiglu_bwd(h + q0 * 2 * F, st->dh + q0 * 2 * F + F, 2 * F, q1 - q0, F,
                          st->dh + q0 * 2 * F);
        }
        gemm_par(st, true, false, 2 * F, C, N, 1, st->dh, 2 * F, st->xn2 + l * N * C, C, 1,
                 G + model_offset(lay, MODEL_W13, l), C);
        gemm_par(st, false, false, N, C, 2 * F, 1, st->dh, 2 * F,
                 P + model_offset(lay, MODEL_W13, l), C, 0, st->dxn, C);
        rmsnorm_bwd_par(st, st->dxn, mid, P + model_offset(lay, MODEL_LN2, l), st->rstd2 + l * N, N,
                        st->dres, G + model_offset(lay, MODEL_LN2, l));

        /* attention: mid = x + y Wo^T, y = attn(rope(xn1 Wqkv^T)) */
        gemm_par(st, true, false, C, C, N, 1, st->dres, C, st->y + l * N * C, C, 1,
                 G + model_offset(lay, MODEL_WO, l), C);
        gemm_par(st, false, false, N, C, C, 1, st->dres, C, P + model_offset(lay, MODEL_WO, l), C, 0,
                 st->dy, C);
        attn_bwd_par(st, l);
        gemm_par(st, true, false, W, C, N, 1, st->dqkv, W, st->xn1 + l * N * C, C, 1,
                 G + model_offset(lay, MODEL_WQKV, l), C);
        gemm_par(st, false, false, N, C, W, 1, st->dqkv, W, P + model_offset(lay, MODEL_WQKV, l), C,
                 0, st->dxn, C);
        rmsnorm_bwd_par(st, st->dxn, x, P + model_offset(lay, MODEL_LN1, l), st->rstd1 + l * N, N,
                        st->dres, G + model_offset(lay, MODEL_LN1, l));
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t t = 0; t < nt; t++)
        ck_embed_bwd(st->dres, st->tokens, N, C, C * t / nt, C * (t + 1) / nt,
                     G + lay->off_wte);
}

// ---- the ops ----

static int cpu_open(void **state, const model_layout_t *lay, const trainer_config_t *cfg,
                    const backend_opts_t *opt, carbs_err_t *err)
{
    cpu_t *st = xcalloc(1, sizeof(*st));
    carve_t c = {NULL, 0};

    *state = NULL;
    cpu_dims(st, lay, opt);
    cpu_carve(st, &c);
    st->slab_bytes = c.used;
    st->slab = carbs_malloc(c.used + 64);
    if (!st->slab) {
        free(st);
        return carbs_fail(err, CARBS_ENOMEM, "cpu: cannot allocate %.1f MiB for the model",
                          (double)c.used / 1048576.0);
    }
    /* touch every page now: memory use is known before the first step */
    memset(st->slab, 0, c.used + 64);
    c.base = (unsigned char *)(((uintptr_t)st->slab + 63) & ~(uintptr_t)63);
    c.used = 0;
    cpu_carve(st, &c);
    ck_rope_table(st->T, lay->shape.head_dim, cfg->rope_base, st->rope_cos, st->rope_sin);
    ck_blas_single_thread();
    *state = st;
    return 0;
}

static void cpu_close(void *state)
{
    cpu_t *st = state;
    if (!st)
        return;
    free(st->slab);
    free(st);
}

static void zero_moments(cpu_t *st)
{
    memset(st->m, 0, st->lay.n_floats * sizeof(float));
    memset(st->v, 0, st->lay.n_floats * sizeof(float));
}

static int cpu_init_params(void *state, double init_std, uint64_t seed)
{
    cpu_t *st = state;
    model_init(&st->lay, init_std, seed, st->params);
    zero_moments(st);
    return 0;
}

static int cpu_set_params(void *state, const float *params)
{
    cpu_t *st = state;
    memcpy(st->params, params, st->lay.n_floats * sizeof(float));
    zero_moments(st);
    return 0;
}

static int cpu_get_params(void *state, float *params)
{
    cpu_t *st = state;
    memcpy(params, st->params, st->lay.n_floats * sizeof(float));
    return 0;
}

static int cpu_get_grads(void *state, float *grads)
{
    cpu_t *st = state;
    memcpy(grads, st->grads, st->lay.n_floats * sizeof(float));
    return 0;
}

static int cpu_load_batch(void *state, const int32_t *tokens, const int32_t *targets)
{
    cpu_t *st = state;
    for (size_t i = 0; i < st->N; i++)
        if (tokens[i] < 0 || (size_t)tokens[i] >= st->lay.shape.vocab || targets[i] < 0 ||
            (size_t)targets[i] >= st->lay.shape.vocab)
            return CARBS_EINVAL;
    memcpy(st->tokens, tokens, st->N * sizeof(int32_t));
    memcpy(st->targets, targets, st->N * sizeof(int32_t));
    return 0;
}

static int cpu_forward_backward(void *state, float *loss_out)
{
    cpu_t *st = state;
    double total, t0 = cpu_clock();

    embed_par(st, 0, st->N);
    forward(st, st->B, 0, st->T);
    total = xent_par(st, 0, st->N, st->targets, 1.0f / (float)st->N, true);
    backward(st);
    *loss_out = (float)(total / (double)st->N);
    st->busy += cpu_clock() - t0;
    return 0;
}

static int cpu_eval(void *state, float *loss_out)
{
    cpu_t *st = state;
    double total, t0 = cpu_clock();

    embed_par(st, 0, st->N);
    forward(st, st->B, 0, st->T);
    total = xent_par(st, 0, st->N, st->targets, 0, false);
    *loss_out = (float)(total / (double)st->N);
    st->busy += cpu_clock() - t0;
    return 0;
}

static int cpu_step(void *state, const backend_step_t *hp, float *grad_norm_out)
{
    cpu_t *st = state;
    size_t n = st->lay.n_floats, nd = st->lay.n_decay, nt = st->nt;
    double ss = 0, norm, t0 = cpu_clock();
    ck_adamw_t aw;

#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : ss)
    for (size_t t = 0; t < nt; t++)
        ss += ck_sumsq(st->grads + n * t / nt, n * (t + 1) / nt - n * t / nt);
    norm = sqrt(ss);
    *grad_norm_out = (float)norm;
    if (!isfinite(norm))
        return CARBS_EDIVERGED;
    aw.lr = hp->lr;
    aw.beta1 = hp->beta1;
    aw.beta2 = hp->beta2;
    aw.eps = hp->eps;
    aw.bc1 = (float)(1.0 - pow(hp->beta1, (double)hp->t));
    aw.bc2 = (float)(1.0 - pow(hp->beta2, (double)hp->t));
    aw.gscale = hp->grad_clip > 0 && norm > hp->grad_clip ? (float)(hp->grad_clip / norm) : 1.0f;
#pragma omp parallel for num_threads(nt) schedule(static) firstprivate(aw)
    for (size_t t = 0; t < nt; t++) {
        size_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
        /* matrices [0, nd) decay, the RMSNorm gains after them do not */
        if (i0 < nd) {
            size_t e = i1 < nd ? i1 : nd;
            aw.wd = hp->weight_decay;
            ck_adamw(st->params + i0, st->grads + i0, st->m + i0, st->v + i0, e - i0, &aw);
            i0 = e;
        }
        if (i0 < i1) {
            aw.wd = 0;
            ck_adamw(st->params + i0, st->grads + i0, st->m + i0, st->v + i0, i1 - i0, &aw);
        }
    }
    st->busy += cpu_clock() - t0;
    return 0;
}

static int cpu_score(void *state, const int32_t *tokens, size_t n_prefix, size_t n, float *nll)
{
    cpu_t *st = state;
    size_t V = st->lay.shape.vocab, p0;
    double t0 = cpu_clock();

    if (n > st->T || n_prefix >= n)
        return CARBS_EINVAL;
    for (size_t i = n_prefix; i < n; i++) {
        if (tokens[i] < 0 || (size_t)tokens[i] >= V)
            return CARBS_EINVAL;
        st->tokens[i] = tokens[i];
    }
    embed_par(st, n_prefix, n - n_prefix);
    forward(st, 1, n_prefix, n);
    /* target p is predicted by row p - 1, which an earlier call may own */
    p0 = n_prefix ? n_prefix : 1;
    if (p0 < n) {
        xent_par(st, p0 - 1, n - p0, tokens + p0, 0, false);
        memcpy(nll + p0, st->nll + p0 - 1, (n - p0) * sizeof(float));
    }
    st->busy += cpu_clock() - t0;
    return 0;
}

static double cpu_device_seconds(void *state)
{
    const cpu_t *st = state;
    return st->busy;
}

/* The CPU backend's ops fail only on bad arguments: nothing to add. */
static const char *cpu_error(void *state)
{
    UNUSED(state);
    return "";
}

/* A CPU's peak depends on its vector units and clocks, which nothing here
 * measures reliably: no MFU on the CPU. */
static double cpu_peak_flops(void *state)
{
    UNUSED(state);
    return 0;
}

static const backend_ops_t cpu_ops = {
    .name = "cpu",
    .memory = cpu_memory,
    .probe = cpu_probe,
    .open = cpu_open,
    .close = cpu_close,
    .init_params = cpu_init_params,
    .set_params = cpu_set_params,
    .get_params = cpu_get_params,
    .get_grads = cpu_get_grads,
    .load_batch = cpu_load_batch,
    .forward_backward = cpu_forward_backward,
    .step = cpu_step,
    .eval = cpu_eval,
    .score = cpu_score,
    .device_seconds = cpu_device_seconds,
    .peak_flops = cpu_peak_flops,
    .error = cpu_error,
};

const backend_ops_t *cpu_backend(void)
{
    return &cpu_ops;
}
