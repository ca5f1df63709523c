/*
 * model_ref.c - the whole model's loss and gradient in double precision,
 * composed of the _ref kernels of cpu_kernels.c with naive loops: the
 * oracle that tests/test_gradcheck.c checks against finite differences and
 * the float backends are compared with.  Same math and buffer layout as
 * model.h; sequences are processed one at a time; nothing here is fast.
 */
#include "proto/common.h"
#include "trainer/model.h"

#include <math.h>

#include "trainer/cpu_kernels.h"

/* y (n, out) = x (n, in) W^T for W (out, in). */
static void lin(const double *x, const double *w, size_t n, size_t in, size_t out, double *y)
{
    ck_gemm_ref(false, true, n, out, in, 1, x, in, w, in, 0, y, out);
}

/* dW += dy^T x; dx = dy W. */
static void lin_bwd(const double *x, const double *w, const double *dy, size_t n, size_t in,
                    size_t out, double *dw, double *dx)
{
    ck_gemm_ref(true, false, out, in, n, 1, dy, out, x, in, 1, dw, in);
    ck_gemm_ref(false, false, n, in, out, 1, dy, out, w, in, 0, dx, in);
}

typedef struct ref_bufs {
    double *res, *rstd1, *rstd2, *xn1, *xn2, *qkv, *att, *y, *mid, *h, *a, *rstdf, *xnf, *logits;
    double *dres, *dxn, *dy, *dqkv, *dh, *da;
} ref_bufs_t;

int model_ref_loss_grad(const model_layout_t *lay, const double *params, const int32_t *tokens,
                        const int32_t *targets, size_t batch, double *loss, double *grad)
{
    const trainer_shape_t *s = &lay->shape;
    size_t T = s->seq_len, C = s->d, F = s->ffn, V = s->vocab, L = s->n_layers;
    size_t H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim, W = lay->qkv;
    size_t grp = H / KV, Dkv = lay->kv_dim, total = 0;
    size_t sizes[20];
    double *mem, *p;
    double **slots[20];
    ref_bufs_t b;
    double nll_sum = 0, scale = 1.0 / (double)(batch * T);

    /* per sequence scratch, all layers */
    sizes[0] = (L + 1) * T * C, slots[0] = &b.res;
    sizes[1] = L * T, slots[1] = &b.rstd1;
    sizes[2] = L * T, slots[2] = &b.rstd2;
    sizes[3] = L * T * C, slots[3] = &b.xn1;
    sizes[4] = L * T * C, slots[4] = &b.xn2;
    sizes[5] = L * T * W, slots[5] = &b.qkv;
    sizes[6] = L * H * T * T, slots[6] = &b.att;
    sizes[7] = L * T * C, slots[7] = &b.y;
    sizes[8] = L * T * C, slots[8] = &b.mid;
    sizes[9] = L * T * 2 * F, slots[9] = &b.h;
    sizes[10] = L * T * F, slots[10] = &b.a;
    sizes[11] = T, slots[11] = &b.rstdf;
    sizes[12] = T * C, slots[12] = &b.xnf;
    sizes[13] = T * V, slots[13] = &b.logits;
    sizes[14] = T * C, slots[14] = &b.dres;
    sizes[15] = T * C, slots[15] = &b.dxn;
    sizes[16] = T * C, slots[16] = &b.dy;
    sizes[17] = T * W, slots[17] = &b.dqkv;
    sizes[18] = T * 2 * F, slots[18] = &b.dh;
    sizes[19] = T * F, slots[19] = &b.da;
    for (size_t i = 0; i < 20; i++)
        total += sizes[i];
    mem = carbs_malloc(total * sizeof(double));
    if (!mem)
        return CARBS_ENOMEM;
    p = mem;
    for (size_t i = 0; i < 20; i++) {
        *slots[i] = p;
        p += sizes[i];
    }
    memset(grad, 0, lay->n_floats * sizeof(double));

    for (size_t sq = 0; sq < batch; sq++) {
        const int32_t *tok = tokens + sq * T, *tgt = targets + sq * T;
        const double *wte = params + lay->off_wte, *head = params + lay->off_lm_head;

        memset(mem, 0, total * sizeof(double));
        for (size_t t = 0; t < T; t++)
            memcpy(b.res + t * C, wte + (size_t)tok[t] * C, C * sizeof(double));
        // ---- forward ----
        for (size_t l = 0; l < L; l++) {
            const double *x = b.res + l * T * C;
            double *xn1 = b.xn1 + l * T * C, *qkv = b.qkv + l * T * W, *y = b.y + l * T * C;
            double *mid = b.mid + l * T * C, *xn2 = b.xn2 + l * T * C, *h = b.h + l * T * 2 * F;
            double *a = b.a + l * T * F, *out = b.res + (l + 1) * T * C;

            ck_rmsnorm_fwd_ref(x, params + model_offset(lay, MODEL_LN1, l), T, C, xn1,
                               b.rstd1 + l * T);
            lin(xn1, params + model_offset(lay, MODEL_WQKV, l), T, C, W, qkv);
            ck_rope_ref(qkv, W, T, 0, H + KV, hd, lay->rope_base, false);
            for (size_t hh = 0; hh < H; hh++) {
                size_t g = hh / grp;
                ck_attn_fwd_ref(qkv + hh * hd, qkv + C + g * hd, qkv + C + Dkv + g * hd, W, W, T,
                                hd, T, b.att + (l * H + hh) * T * T, y + hh * hd, C);
            }
            lin(y, params + model_offset(lay, MODEL_WO, l), T, C, C, mid);
            for (size_t i = 0; i < T * C; i++)
                mid[i] += x[i];
            ck_rmsnorm_fwd_ref(mid, params + model_offset(lay, MODEL_LN2, l), T, C, xn2,
                               b.rstd2 + l * T);
            lin(xn2, params + model_offset(lay, MODEL_W13, l), T, C, 2 * F, h);
            ck_swiglu_fwd_ref(h, T, F, a);
            lin(a, params + model_offset(lay, MODEL_W2, l), T, F, C, out);
            for (size_t i = 0; i < T * C; i++)
                out[i] += mid[i];
        }
        ck_rmsnorm_fwd_ref(b.res + L * T * C, params + model_offset(lay, MODEL_LNF, 0), T, C,
                           b.xnf, b.rstdf);
        lin(b.xnf, head, T, C, V, b.logits);
        nll_sum += ck_xent_ref(b.logits, tgt, T, V, scale, NULL, true);

        // ---- backward ----
        lin_bwd(b.xnf, head, b.logits, T, C, V, grad + lay->off_lm_head, b.dxn);
        ck_rmsnorm_bwd_ref(b.dxn, b.res + L * T * C, params + model_offset(lay, MODEL_LNF, 0),
                           b.rstdf, T, C, b.dres, grad + model_offset(lay, MODEL_LNF, 0));
        for (size_t l = L; l-- > 0;) {
            const double *x = b.res + l * T * C;
            lin_bwd(b.a + l * T * F, params + model_offset(lay, MODEL_W2, l), b.dres, T, F, C,
                    grad + model_offset(lay, MODEL_W2, l), b.da);
            ck_swiglu_bwd_ref(b.h + l * T * 2 * F, b.da, T, F, b.dh);
            lin_bwd(b.xn2 + l * T * C, params + model_offset(lay, MODEL_W13, l), b.dh, T, C, 2 * F,
                    grad + model_offset(lay, MODEL_W13, l), b.dxn);
            ck_rmsnorm_bwd_ref(b.dxn, b.mid + l * T * C, params + model_offset(lay, MODEL_LN2, l),
                               b.rstd2 + l * T, T, C, b.dres, grad + model_offset(lay, MODEL_LN2, l));
            lin_bwd(b.y + l * T * C, params + model_offset(lay, MODEL_WO, l), b.dres, T, C, C,
                    grad + model_offset(lay, MODEL_WO, l), b.dy);
            memset(b.dqkv, 0, T * W * sizeof(double));
            for (size_t hh = 0; hh < H; hh++) {
                size_t g = hh / grp;
                const double *qkv = b.qkv + l * T * W;
                ck_attn_bwd_ref(qkv + hh * hd, qkv + C + g * hd, qkv + C + Dkv + g * hd, W, W,
                                b.att + (l * H + hh) * T * T, b.dy + hh * hd, C, T, hd, T,
                                b.dqkv + hh * hd, b.dqkv + C + g * hd, b.dqkv + C + Dkv + g * hd);
            }
            ck_rope_ref(b.dqkv, W, T, 0, H + KV, hd, lay->rope_base, true);
            lin_bwd(b.xn1 + l * T * C, params + model_offset(lay, MODEL_WQKV, l), b.dqkv, T, C, W,
                    grad + model_offset(lay, MODEL_WQKV, l), b.dxn);
            ck_rmsnorm_bwd_ref(b.dxn, x, params + model_offset(lay, MODEL_LN1, l), b.rstd1 + l * T,
                               T, C, b.dres, grad + model_offset(lay, MODEL_LN1, l));
        }
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < C; c++)
                grad[lay->off_wte + (size_t)tok[t] * C + c] += b.dres[t * C + c];
    }
    *loss = nll_sum * scale;
    free(mem);
    return 0;
}
