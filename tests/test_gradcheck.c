/*
 * test_gradcheck.c - every backward pass against central finite differences
 * in double precision, then every compiled-in backend (float CPU, bf16
 * CUDA where a GPU answers) against the double reference model.
 *
 * Per layer: each _ref kernel's backward is checked on the scalar
 * L = sum(w * f(x)) with random weights w (RMSNorm, RoPE, attention,
 * SwiGLU, cross-entropy, linear).  Whole model: model_ref_loss_grad's
 * gradient of every tensor (embedding, gains, qkv with GQA and RoPE,
 * output, SwiGLU, LM head tied and untied) against differences of its loss.
 * Tolerances: |fd - analytic| <= 1e-6 + 1e-5 |analytic| with step 1e-5
 * (central differences: error ~ h^2 f''' plus roundoff 1e-16 / h).
 */
#include "proto/common.h"
#include "trainer/model.h"

#include <math.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "trainer/backend.h"
#include "trainer/cpu_kernels.h"

#define FD_H 1e-5
#define FD_ABS 1e-6
#define FD_REL 1e-5

static uint64_t rng_state = 0x13198a2e03707344ULL;

static double unif(void)
{
    return fx_splitmix_signed(&rng_state); /* [-1, 1) */
}

static void fill(double *x, size_t n, double scale, double shift)
{
    for (size_t i = 0; i < n; i++)
        x[i] = shift + unif() * scale;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static bool close_enough(double fd, double an)
{
    bool ok = fabs(fd - an) <= FD_ABS + FD_REL * fabs(an);
    if (!ok)
        fprintf(stderr, "  finite difference %.10g vs analytic %.10g\n", fd, an);
    return ok;
}

// ---- per layer ----

/* A layer under test: y = f(x) into y, for the scalar sum(w y). */
typedef void (*layer_fn)(const double *x, double *y, void *ctx);

/* Check dx (the analytic gradient of sum(w f(x))) at every coordinate. */
static void check_layer(layer_fn f, void *ctx, double *x, size_t nx, size_t ny, const double *w,
                        const double *dx)
{
    double *y = xmalloc(ny * sizeof(double));
    for (size_t i = 0; i < nx; i++) {
        double keep = x[i], lp, lm;
        x[i] = keep + FD_H;
        f(x, y, ctx);
        lp = dot(w, y, ny);
        x[i] = keep - FD_H;
        f(x, y, ctx);
        lm = dot(w, y, ny);
        x[i] = keep;
        CHECK(close_enough((lp - lm) / (2 * FD_H), dx[i]));
    }
    free(y);
}

typedef struct rms_ctx {
    size_t n, C;
    const double *g;
    bool wrt_g; /* x holds the gains; the input is fixed */
    const double *xin;
} rms_ctx_t;

static void rms_fn(const double *x, double *y, void *ctx)
{
    rms_ctx_t *c = ctx;
    double rstd[8];
    if (c->wrt_g)
        ck_rmsnorm_fwd_ref(c->xin, x, c->n, c->C, y, rstd);
    else
        ck_rmsnorm_fwd_ref(x, c->g, c->n, c->C, y, rstd);
}

static void test_gradcheck_rmsnorm(void)
{
    enum { n = 5, C = 12 };
    double x[n * C], g[C], w[n * C], y[n * C], rstd[n], dx[n * C] = {0}, dg[C] = {0};
    rms_ctx_t c = {n, C, g, false, x};

    fill(x, n * C, 2.3, 0.1);
    fill(g, C, 0.5, 1.0);
    fill(w, n * C, 1.0, 0);
    ck_rmsnorm_fwd_ref(x, g, n, C, y, rstd);
    ck_rmsnorm_bwd_ref(w, x, g, rstd, n, C, dx, dg);
    check_layer(rms_fn, &c, x, n * C, n * C, w, dx);
    c.wrt_g = true;
    check_layer(rms_fn, &c, g, C, n * C, w, dg);
}

typedef struct rope_ctx {
    size_t n, ld, heads, hd;
} rope_ctx_t;

static void rope_fn(const double *x, double *y, void *ctx)
{
    rope_ctx_t *c = ctx;
    memcpy(y, x, c->n * c->ld * sizeof(double));
    ck_rope_ref(y, c->ld, c->n, 3, c->heads, c->hd, 500.0, false);
}

static void test_gradcheck_rope(void)
{
    enum { n = 6, ld = 14, heads = 3, hd = 4 };
    double x[n * ld], w[n * ld], dx[n * ld];
    rope_ctx_t c = {n, ld, heads, hd};

    fill(x, n * ld, 1.7, 0);
    fill(w, n * ld, 1.0, 0);
    /* the backward is the inverse rotation of the upstream gradient */
    memcpy(dx, w, sizeof(w));
    ck_rope_ref(dx, ld, n, 3, heads, hd, 500.0, true);
    check_layer(rope_fn, &c, x, n * ld, n * ld, w, dx);
}

/* Attention over packed q | k | v columns of width hd each (ld 3 hd). */
typedef struct att_ctx {
    size_t T, hd;
} att_ctx_t;

static void att_fn(const double *x, double *y, void *ctx)
{
    att_ctx_t *c = ctx;
    size_t T = c->T, hd = c->hd, ld = 3 * hd;
    double att[9 * 9];
    ck_attn_fwd_ref(x, x + hd, x + 2 * hd, ld, ld, T, hd, T, att, y, hd);
}

static void test_gradcheck_attention(void)
{
    enum { T = 9, hd = 6, ld = 3 * hd };
    double x[T * ld], w[T * hd], y[T * hd], att[T * T], dx[T * ld];
    att_ctx_t c = {T, hd};

    fill(x, T * ld, 1.9, 0);
    fill(w, T * hd, 1.0, 0);
    memset(dx, 0, sizeof(dx));
    ck_attn_fwd_ref(x, x + hd, x + 2 * hd, ld, ld, T, hd, T, att, y, hd);
    ck_attn_bwd_ref(x, x + hd, x + 2 * hd, ld, ld, att, w, hd, T, hd, T, dx, dx + hd, dx + 2 * hd);
    check_layer(att_fn, &c, x, T * ld, T * hd, w, dx);
}

typedef struct glu_ctx {
    size_t n, F;
} glu_ctx_t;

static void glu_fn(const double *x, double *y, void *ctx)
{
    glu_ctx_t *c = ctx;
    ck_swiglu_fwd_ref(x, c->n, c->F, y);
}

static void test_gradcheck_swiglu(void)
{
    enum { n = 4, F = 7 };
    double h[n * 2 * F], w[n * F], dh[n * 2 * F];
    glu_ctx_t c = {n, F};

    fill(h, n * 2 * F, 3.1, 0);
    fill(w, n * F, 1.0, 0);
    ck_swiglu_bwd_ref(h, w, n, F, dh);
    check_layer(glu_fn, &c, h, n * 2 * F, n * F, w, dh);
}

typedef struct xent_ctx {
    size_t n, V;
    const int32_t *t;
} xent_ctx_t;

static void xent_fn(const double *x, double *y, void *ctx)
{
    xent_ctx_t *c = ctx;
    double z[4 * 11];
    memcpy(z, x, c->n * c->V * sizeof(double));
    y[0] = ck_xent_ref(z, c->t, c->n, c->V, 0, NULL, false);
}

static void test_gradcheck_xent(void)
{
    enum { n = 4, V = 11 };
    int32_t t[n] = {3, 0, 10, 7};
    double z[n * V], dz[n * V], w[1] = {1.0};
    xent_ctx_t c = {n, V, t};

    fill(z, n * V, 4.0, 0);
    memcpy(dz, z, sizeof(z));
    ck_xent_ref(dz, t, n, V, 1.0, NULL, true);
    check_layer(xent_fn, &c, z, n * V, 1, w, dz);
}

typedef struct lin_ctx {
    size_t n, in, out;
    const double *w;
    bool wrt_w;
    const double *x;
} lin_ctx_t;

static void lin_fn(const double *x, double *y, void *ctx)
{
    lin_ctx_t *c = ctx;
    if (c->wrt_w)
        ck_gemm_ref(false, true, c->n, c->out, c->in, 1, c->x, c->in, x, c->in, 0, y, c->out);
    else
        ck_gemm_ref(false, true, c->n, c->out, c->in, 1, x, c->in, c->w, c->in, 0, y, c->out);
}

static void test_gradcheck_linear(void)
{
    enum { n = 5, in = 6, out = 4 };
    double x[n * in], W[out * in], w[n * out], dx[n * in], dW[out * in];
    lin_ctx_t c = {n, in, out, W, false, x};

    fill(x, n * in, 1.0, 0);
    fill(W, out * in, 1.0, 0);
    fill(w, n * out, 1.0, 0);
    ck_gemm_ref(false, false, n, in, out, 1, w, out, W, in, 0, dx, in);  /* dx = dy W */
    ck_gemm_ref(true, false, out, in, n, 1, w, out, x, in, 0, dW, in);   /* dW = dy^T x */
    check_layer(lin_fn, &c, x, n * in, n * out, w, dx);
    c.wrt_w = true;
    check_layer(lin_fn, &c, W, out * in, n * out, w, dW);
}

// ---- whole model ----

static void tiny_config(trainer_config_t *cfg, bool tied, int64_t T)
{
    trainer_config_defaults(cfg);
    cfg->d_model = 16;
    cfg->n_layers = 2;
    cfg->head_dim = 4;   /* 4 heads */
    cfg->kv_ratio = 0.5; /* 2 kv heads: grouped-query attention */
    cfg->ffn_mult = 2.5;
    cfg->seq_len = T;
    cfg->vocab_size = 23;
    cfg->tie_embeddings = tied;
    cfg->rope_base = 100;
    cfg->batch_size = 2;
}

/* Parameters with N(0, 0.3^2) matrices and gains 1 +- 0.3 (gain gradients
 * are checked away from the all-ones point too). */
static void tiny_params(const model_layout_t *lay, float *pf, double *pd, uint64_t seed)
{
    model_init(lay, 0.3, seed, pf);
    for (size_t i = lay->off_norms; i < lay->n_floats; i++)
        pf[i] = (float)(1.0 + 0.3 * unif());
    for (size_t i = 0; i < lay->n_floats; i++)
        pd[i] = pf[i];
}

static void tiny_batch(size_t n, size_t V, int32_t *tok, int32_t *tgt)
{
    for (size_t i = 0; i < n; i++) {
        tok[i] = (int32_t)((unif() + 1) * 0.5 * (double)V) % (int32_t)V;
        tgt[i] = (int32_t)((unif() + 1) * 0.5 * (double)V) % (int32_t)V;
    }
}

static void gradcheck_model(bool tied)
{
    trainer_config_t cfg;
    model_layout_t lay;
    size_t T = 5, B = 2;
    float *pf;
    double *pd, *grad, loss, lp, lm;
    int32_t tok[10], tgt[10];
    double *scratch;

    tiny_config(&cfg, tied, (int64_t)T);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    CHECK_EQ(lay.shape.n_heads, 4);
    CHECK_EQ(lay.shape.n_kv_heads, 2);
    pf = xmalloc(lay.n_floats * sizeof(float));
    pd = xmalloc(lay.n_floats * sizeof(double));
    grad = xmalloc(lay.n_floats * sizeof(double));
    scratch = xmalloc(lay.n_floats * sizeof(double));
    tiny_params(&lay, pf, pd, 11);
    tiny_batch(B * T, lay.shape.vocab, tok, tgt);
    CHECK_EQ(model_ref_loss_grad(&lay, pd, tok, tgt, B, &loss, grad), 0);
    CHECK(isfinite(loss) && loss > 0);
    /* 12 coordinates of every tensor of every layer, at random offsets */
    for (int t = 0; t < MODEL_TENSOR_COUNT; t++) {
        size_t rows, cols;
        if (!model_has_tensor(&lay, (model_tensor_t)t))
            continue;
        model_tensor_dims(&lay, (model_tensor_t)t, &rows, &cols);
        for (size_t l = 0; l < lay.shape.n_layers; l++) {
            size_t off = model_offset(&lay, (model_tensor_t)t, l);
            for (int k = 0; k < 12; k++) {
                size_t i = off + (size_t)((unif() + 1) * 0.5 * (double)(rows * cols)) % (rows * cols);
                double keep = pd[i];
                /* embedding rows of tokens in the batch carry the gradient */
                if (t == MODEL_WTE && k < 6)
                    i = off + (size_t)tok[k] * cols + (size_t)k % cols, keep = pd[i];
                pd[i] = keep + FD_H;
                model_ref_loss_grad(&lay, pd, tok, tgt, B, &lp, scratch);
                pd[i] = keep - FD_H;
                model_ref_loss_grad(&lay, pd, tok, tgt, B, &lm, scratch);
                pd[i] = keep;
                if (!close_enough((lp - lm) / (2 * FD_H), grad[i]))
                    fprintf(stderr, "  tensor %s layer %zu index %zu\n",
                            model_tensor_name((model_tensor_t)t), l, i - off);
                CHECK(close_enough((lp - lm) / (2 * FD_H), grad[i]));
            }
        }
    }
    free(pf), free(pd), free(grad), free(scratch);
}

static void test_gradcheck_model_tied(void)
{
    gradcheck_model(true);
}

static void test_gradcheck_model_untied(void)
{
    gradcheck_model(false);
}

/* Tolerances of a backend against the double model, per data type: the
 * float32 CPU backend within 1e-5 of the loss and 2e-3 of each tensor's
 * largest gradient (float32 through ~10 chained layers); a bf16 device
 * backend (8 significant bits, 2^-8 = 4e-3 relative per rounding, fp32
 * accumulation) within 1e-2 of the loss and 5e-2 of each tensor's largest
 * gradient. */
typedef struct tol {
    double loss, grad;
} tol_t;

static tol_t backend_tol(const char *name)
{
    tol_t t = {1e-5, 2e-3};
    if (strcmp(name, "cpu") != 0) {
        t.loss = 1e-2;
        t.grad = 5e-2;
    }
    return t;
}

/* A backend's loss and every gradient against the double reference, with
 * sequences longer than one attention block (T = 80 > 64). */
static void backend_vs_ref(const backend_ops_t *ops, bool tied, int threads)
{
    trainer_config_t cfg;
    model_layout_t lay;
    backend_opts_t opt = {.batch = 2, .threads = threads, .n_devices = 1};
    size_t T = 80, B = 2, free_bytes;
    float *pf, *gf, loss_f;
    double *pd, *gd, loss_d;
    int32_t *tok, *tgt;
    void *st = NULL;
    tol_t tol = backend_tol(ops->name);

    if (ops->probe(&opt, &free_bytes, NULL) != 0) {
        fprintf(stderr, "  backend '%s' has no usable device here: not checked\n", ops->name);
        return;
    }
    tok = xmalloc(B * T * sizeof(int32_t));
    tgt = xmalloc(B * T * sizeof(int32_t));
    tiny_config(&cfg, tied, (int64_t)T);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    pf = xmalloc(lay.n_floats * sizeof(float));
    gf = xmalloc(lay.n_floats * sizeof(float));
    pd = xmalloc(lay.n_floats * sizeof(double));
    gd = xmalloc(lay.n_floats * sizeof(double));
    tiny_params(&lay, pf, pd, 29);
    tiny_batch(B * T, lay.shape.vocab, tok, tgt);
    CHECK_EQ(ops->open(&st, &lay, &cfg, &opt, NULL), 0);
    CHECK_EQ(ops->set_params(st, pf), 0);
    CHECK_EQ(ops->load_batch(st, tok, tgt), 0);
    CHECK_EQ(ops->forward_backward(st, &loss_f), 0);
    CHECK_EQ(ops->get_grads(st, gf), 0);
    CHECK_EQ(model_ref_loss_grad(&lay, pd, tok, tgt, B, &loss_d, gd), 0);
    CHECK_NEAR(loss_f, loss_d, tol.loss * loss_d);
    for (int t = 0; t < MODEL_TENSOR_COUNT; t++) {
        size_t rows, cols, nl = t == MODEL_WTE || t == MODEL_LM_HEAD || t == MODEL_LNF ? 1 : 2;
        if (!model_has_tensor(&lay, (model_tensor_t)t))
            continue;
        model_tensor_dims(&lay, (model_tensor_t)t, &rows, &cols);
        for (size_t l = 0; l < nl; l++) {
            size_t off = model_offset(&lay, (model_tensor_t)t, l);
            double mx = 0, e = 0;
            for (size_t i = off; i < off + rows * cols; i++) {
                mx = fabs(gd[i]) > mx ? fabs(gd[i]) : mx;
                e = fabs(gd[i] - gf[i]) > e ? fabs(gd[i] - gf[i]) : e;
            }
            if (!(e <= tol.grad * mx))
                fprintf(stderr, "  %s: %s layer %zu: max error %g of max %g\n", ops->name,
                        model_tensor_name((model_tensor_t)t), l, e, mx);
            CHECK(mx > 0 && e <= tol.grad * mx);
        }
    }
    /* eval gives the same loss as the training forward */
    {
        float le;
        CHECK_EQ(ops->eval(st, &le), 0);
        CHECK_NEAR(le, loss_f, 1e-6 * loss_f);
    }
    ops->close(st);
    free(pf), free(gf), free(pd), free(gd), free(tok), free(tgt);
}

/* Every compiled-in backend (the cross-check): the CPU always, a device
 * backend where its device answers. */
static void test_gradcheck_backend_tied(void)
{
    for (const char *const *b = backend_names(); *b; b++)
        backend_vs_ref(backend_find(*b), true, 1);
}

static void test_gradcheck_backend_untied_two_threads(void)
{
    for (const char *const *b = backend_names(); *b; b++)
        backend_vs_ref(backend_find(*b), false, 2);
}

int main(void)
{
    RUN(test_gradcheck_rmsnorm);
    RUN(test_gradcheck_rope);
    RUN(test_gradcheck_attention);
    RUN(test_gradcheck_swiglu);
    RUN(test_gradcheck_xent);
    RUN(test_gradcheck_linear);
    RUN(test_gradcheck_model_tied);
    RUN(test_gradcheck_model_untied);
    RUN(test_gradcheck_backend_tied);
    RUN(test_gradcheck_backend_untied_two_threads);
    return check_summary();
}
