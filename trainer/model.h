/*
 * model.h - the embedded trainer's transformer: parameter layout, seeded
 * initialisation, FLOP counts and a double-precision reference.
 *
 * Model (docs/trainer.md): token embedding, n_layers x (RMSNorm -> grouped-query
 * attention with RoPE -> residual, RMSNorm -> SwiGLU MLP -> residual), final
 * RMSNorm, LM head (the embedding itself when tied).
 *
 * Every parameter lives in one flat float buffer of lay->n_floats entries.
 * Matrices are row-major (out, in), as torch.nn.Linear stores them, so a
 * linear layer is y = x W^T.  Order in the buffer:
 *
 *   wte (V, C) | layer 0 .. L-1 each [wqkv (C + 2 Dkv, C) | wo (C, C) |
 *   w13 (2F, C) | w2 (C, F)] | lm_head (V, C) when untied |
 *   ln1[0..L) (C) | ln2[0..L) (C) | lnf (C)
 *
 * wqkv stacks the query, key and value projections (rows 0..C, C..C+Dkv,
 * C+Dkv..C+2Dkv); w13 stacks the SwiGLU gate (rows 0..F) and up (F..2F)
 * projections, so each is one matrix multiply.  Matrices come first and
 * the RMSNorm gains last: weight decay applies to [0, n_decay) only.
 *
 * Legend: B = sequences per step, T = seq_len, C = d_model, H = heads,
 * KV = kv heads, hd = head dimension, Dkv = KV * hd, F = SwiGLU width,
 * V = vocabulary, L = layers, N = B * T rows.
 */
#ifndef CARBS_TRAINER_MODEL_H
#define CARBS_TRAINER_MODEL_H

#include "trainer/config.h"

/* RMSNorm's epsilon inside the square root; 1e-5 as in LLaMA, small next to
 * mean(x^2) ~ 1 of a residual stream at init. */
#define MODEL_NORM_EPS 1e-5

/* Attention processes query rows in blocks of this many and skips the key
 * columns past each block's last row (the causal mask): about 1 - (n+1)/2n
 * of QK^T and PV for n blocks per sequence.  64 keeps each sgemm big
 * enough for OpenBLAS to reach most of its speed. */
#define MODEL_ATT_BLOCK 64

#define MODEL_TENSOR_MAP(X)                                                                        \
    X(WTE, "wte")                                                                                  \
    X(WQKV, "wqkv")                                                                                \
    X(WO, "wo")                                                                                    \
    X(W13, "w13")                                                                                  \
    X(W2, "w2")                                                                                    \
    X(LM_HEAD, "lm_head")                                                                          \
    X(LN1, "ln1")                                                                                  \
    X(LN2, "ln2")                                                                                  \
    X(LNF, "lnf")

typedef enum model_tensor {
#define X(id, name) MODEL_##id,
    MODEL_TENSOR_MAP(X)
#undef X
        MODEL_TENSOR_COUNT
} model_tensor_t;

typedef struct model_layout {
    trainer_shape_t shape;
    bool tied;
    double rope_base; /* from the config: RoPE's frequency base */
    size_t kv_dim;   /* Dkv = n_kv_heads * head_dim */
    size_t qkv;      /* C + 2 Dkv: width of the fused projection's output */
    size_t n_floats; /* every parameter (== shape.n_params_total) */
    size_t n_decay;  /* parameters [0, n_decay) are matrices and get weight decay */
    size_t off_wte, off_layers, layer_stride, off_lm_head, off_norms;
    size_t l_wqkv, l_wo, l_w13, l_w2; /* offsets inside one layer */
} model_layout_t;

/* Derive the shape (trainer_shape) and the buffer layout for cfg.  Returns
 * 0 or CARBS_EINVAL with err naming the offending parameter. */
int model_layout(const trainer_config_t *cfg, model_layout_t *lay, carbs_err_t *err);

/* Offset in floats of tensor t of layer (ignored for wte, lm_head, lnf).
 * For MODEL_LM_HEAD of a tied model this is wte's offset. */
size_t model_offset(const model_layout_t *lay, model_tensor_t t, size_t layer);

/* Rows and columns of tensor t (gains are 1 x C). */
void model_tensor_dims(const model_layout_t *lay, model_tensor_t t, size_t *rows, size_t *cols);

/* "wte", "wqkv", ...: the names parity dumps and docs use.  Static string. */
const char *model_tensor_name(model_tensor_t t);

/* True when the tensor is stored (lm_head only when untied). */
bool model_has_tensor(const model_layout_t *lay, model_tensor_t t);

/* Initialise params[0..n_floats): matrices ~ N(0, init_std^2), the output
 * projections wo and w2 scaled by 1/sqrt(2 L) (GPT-2), gains 1.  The
 * normals come from splitmix64 seeded with seed ^ 0x6d6f64656c (so the
 * batch sampler's stream differs) through Box-Muller in double, in buffer
 * order: a reference implementation can reproduce them. */
void model_init(const model_layout_t *lay, double init_std, uint64_t seed, float *params);

/* Matrix-multiply FLOPs of one pass over query rows [row0, row1) of one
 * sequence whose earlier rows are already computed (keys [0, row1)):
 * forward only, or forward and backward (the backward pass computes both
 * the input and the weight gradients: twice the forward's FLOPs).  The
 * LM head is included and the embedding lookup is not (docs/trainer.md);
 * attention counts the blocks the kernels execute (MODEL_ATT_BLOCK). */
double model_flops_rows(const model_layout_t *lay, size_t row0, size_t row1, bool backward);

/* FLOPs of one training step: batch full sequences, forward and backward. */
double model_flops_step(const model_layout_t *lay, size_t batch);

// ---- double-precision reference (model_ref.c) ----

/* Loss and gradient of the whole model in double with naive loops: the
 * oracle the float backends and the finite-difference checks are compared
 * with.  params and grad have lay->n_floats entries; tokens and targets
 * hold batch * T ids.  The loss is the mean cross-entropy over all rows;
 * grad is overwritten.  Allocates its own scratch: returns 0 or
 * CARBS_ENOMEM.  Slow: for tiny models in tests. */
int model_ref_loss_grad(const model_layout_t *lay, const double *params, const int32_t *tokens,
                        const int32_t *targets, size_t batch, double *loss, double *grad);

#endif
