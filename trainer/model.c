/*
 * model.c - the parameter layout of the embedded trainer's transformer,
 * its seeded initialisation and its FLOP count (see model.h for the buffer
 * order and the legend).
 *
 * FLOPs follow docs/trainer.md: the matrix multiplies a step executes, 2 m n k
 * each, forward and backward, LM head included, embedding lookup excluded.
 * Attention is counted block by block exactly as cpu_kernels.c runs it, so
 * the figure is what the hardware did, not a dense T x T idealisation.
 */
#include "proto/common.h"
#include "trainer/model.h"

#include <math.h>

#include "proto/splitmix.h"

static const char *const tensor_names[] = {
#define X(id, name) name,
    MODEL_TENSOR_MAP(X)
#undef X
};

const char *model_tensor_name(model_tensor_t t)
{
    return (unsigned)t < MODEL_TENSOR_COUNT ? tensor_names[t] : "unknown";
}

// ---- layout ----

int model_layout(const trainer_config_t *cfg, model_layout_t *lay, carbs_err_t *err)
{
    trainer_shape_t s;
    size_t C, V, L, F, off;
    int rc = trainer_shape(cfg, &s, err);

    if (rc)
        return rc;
    memset(lay, 0, sizeof(*lay));
    lay->shape = s;
    lay->tied = cfg->tie_embeddings;
    lay->rope_base = cfg->rope_base;
    C = s.d;
    V = s.vocab;
    L = s.n_layers;
    F = s.ffn;
    lay->kv_dim = s.n_kv_heads * s.head_dim;
    lay->qkv = C + 2 * lay->kv_dim;

    lay->l_wqkv = 0;
    lay->l_wo = lay->l_wqkv + lay->qkv * C;
    lay->l_w13 = lay->l_wo + C * C;
    lay->l_w2 = lay->l_w13 + 2 * F * C;
    lay->layer_stride = lay->l_w2 + C * F;

    lay->off_wte = 0;
    lay->off_layers = V * C;
    off = lay->off_layers + L * lay->layer_stride;
    lay->off_lm_head = lay->tied ? lay->off_wte : off;
    if (!lay->tied)
        off += V * C;
    lay->n_decay = off;
    lay->off_norms = off;
    lay->n_floats = off + (2 * L + 1) * C;
    if ((double)lay->n_floats != s.n_params_total)
        return carbs_fail(err, CARBS_EINVAL, "trainer: layout holds %zu parameters, shape %.0f",
                          lay->n_floats, s.n_params_total);
    return 0;
}

size_t model_offset(const model_layout_t *lay, model_tensor_t t, size_t layer)
{
    size_t base = lay->off_layers + layer * lay->layer_stride;
    size_t C = lay->shape.d, L = lay->shape.n_layers;

    switch (t) {
    case MODEL_WTE:
        return lay->off_wte;
    case MODEL_WQKV:
        return base + lay->l_wqkv;
    case MODEL_WO:
        return base + lay->l_wo;
    case MODEL_W13:
        return base + lay->l_w13;
    case MODEL_W2:
        return base + lay->l_w2;
    case MODEL_LM_HEAD:
        return lay->off_lm_head;
    case MODEL_LN1:
        return lay->off_norms + layer * C;
    case MODEL_LN2:
        return lay->off_norms + (L + layer) * C;
    case MODEL_LNF:
        return lay->off_norms + 2 * L * C;
    default:
        return 0;
    }
}

void model_tensor_dims(const model_layout_t *lay, model_tensor_t t, size_t *rows, size_t *cols)
{
    size_t C = lay->shape.d, F = lay->shape.ffn, V = lay->shape.vocab;
    size_t r = 1, c = C;

    switch (t) {
    case MODEL_WTE:
    case MODEL_LM_HEAD:
        r = V;
        break;
    case MODEL_WQKV:
        r = lay->qkv;
        break;
    case MODEL_WO:
        r = C;
        break;
    case MODEL_W13:
        r = 2 * F;
        break;
    case MODEL_W2:
        r = C;
        c = F;
        break;
    default:
        break;
    }
    *rows = r;
    *cols = c;
}

bool model_has_tensor(const model_layout_t *lay, model_tensor_t t)
{
    return t != MODEL_LM_HEAD || !lay->tied;
}

// ---- initialisation ----

/* Fill x[0..n) with N(0, std^2): Box-Muller on pairs of uniforms in (0, 1]. */
static void fill_normal(uint64_t *rng, float *x, size_t n, double std)
{
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = splitmix_uniform(rng) + 0x1.0p-53; /* (0, 1]: log(u1) is finite */
        double u2 = splitmix_uniform(rng);
        double r = sqrt(-2.0 * log(u1)) * std;
        x[i] = (float)(r * cos(two_pi * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(two_pi * u2));
    }
}

void model_init(const model_layout_t *lay, double init_std, uint64_t seed, float *params)
{
    uint64_t rng = seed ^ 0x6d6f64656cULL;
    double out_std = init_std / sqrt(2.0 * (double)lay->shape.n_layers);

    fill_normal(&rng, params + lay->off_wte, lay->shape.vocab * lay->shape.d, init_std);
    for (size_t l = 0; l < lay->shape.n_layers; l++) {
        float *base = params + lay->off_layers + l * lay->layer_stride;
        fill_normal(&rng, base + lay->l_wqkv, lay->l_wo - lay->l_wqkv, init_std);
        fill_normal(&rng, base + lay->l_wo, lay->l_w13 - lay->l_wo, out_std);
        fill_normal(&rng, base + lay->l_w13, lay->l_w2 - lay->l_w13, init_std);
        fill_normal(&rng, base + lay->l_w2, lay->layer_stride - lay->l_w2, out_std);
    }
    if (!lay->tied)
        fill_normal(&rng, params + lay->off_lm_head, lay->shape.vocab * lay->shape.d, init_std);
    for (size_t i = lay->off_norms; i < lay->n_floats; i++)
        params[i] = 1.0f;
}

// ---- FLOPs ----

/* sum over query blocks of (block rows) x (keys seen): the m n of QK^T. */
static double att_pairs(size_t row0, size_t row1)
{
    double pairs = 0;
    for (size_t s = row0; s < row1; s += MODEL_ATT_BLOCK) {
        size_t e = s + MODEL_ATT_BLOCK < row1 ? s + MODEL_ATT_BLOCK : row1;
        pairs += (double)(e - s) * (double)e;
    }
    return pairs;
}

double model_flops_rows(const model_layout_t *lay, size_t row0, size_t row1, bool backward)
{
    const trainer_shape_t *s = &lay->shape;
    double rows = (double)(row1 - row0), C = (double)s->d, F = (double)s->ffn;
    double linear = C * (double)lay->qkv + C * C + 2 * F * C + F * C;
    /* per head: QK^T and PV forward; backward dP, dV, dQ, dK */
    double att = (double)s->n_heads * (double)s->head_dim * att_pairs(row0, row1);
    double fwd = 2 * rows * linear * (double)s->n_layers + 2 * 2 * att * (double)s->n_layers +
                 2 * rows * C * (double)s->vocab;
    return backward ? 3 * fwd : fwd;
}

double model_flops_step(const model_layout_t *lay, size_t batch)
{
    return (double)batch * model_flops_rows(lay, 0, lay->shape.seq_len, true);
}
