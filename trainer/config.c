/*
 * config.c - the embedded trainer's parameters: defaults, setting them by
 * name from a sweep's values, and the model shape they imply.
 *
 * Head counts derive from head_dim and kv_ratio so that every swept d_model
 * gives a valid grouped-query model: n_heads is the divisor of d_model whose
 * quotient (the real head dimension) is even and nearest head_dim, and
 * n_kv_heads the divisor of n_heads nearest n_heads * kv_ratio.  Parameter
 * counts follow docs/trainer.md: per layer 2 d^2 (q, o) + 2 d kv hd (k, v) +
 * 3 d ffn (SwiGLU) + 2 d (two RMSNorms), a final RMSNorm, and V d for the
 * embedding (twice when the LM head is untied).
 */
#include "proto/common.h"
#include "trainer/config.h"

#include <math.h>

void trainer_config_defaults(trainer_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->d_model = 64;
    cfg->n_layers = 2;
    cfg->head_dim = 16;
    cfg->kv_ratio = 0.5;
    cfg->ffn_mult = 8.0 / 3.0;
    cfg->seq_len = 256;
    cfg->vocab_size = 2048;
    cfg->tie_embeddings = true;
    cfg->init_std = 0.02;
    cfg->rope_base = 10000;
    cfg->batch_size = 16;
    cfg->tokens = 5e5;
    cfg->learning_rate = 3e-3;
    cfg->warmup_frac = 0.05;
    cfg->decay = TRAINER_DECAY_COSINE;
    cfg->min_lr_frac = 0.1;
    cfg->weight_decay = 0.1;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.95;
    cfg->eps = 1e-8;
    cfg->grad_clip = 1.0;
    cfg->seed = 0;
}

// ---- setting by name ----

static int want_number(const carbs_value_t *v, carbs_err_t *err)
{
    if (v->is_str || !isfinite(v->num))
        return carbs_fail(err, CARBS_EINVAL, "trainer: '%s' must be a finite number", v->name);
    return 0;
}

static int want_int(const carbs_value_t *v, int64_t lo, int64_t *out, carbs_err_t *err)
{
    int rc = want_number(v, err);

    if (rc)
        return rc;
    if (v->num != floor(v->num) || v->num < (double)lo || v->num > 9.0e15)
        return carbs_fail(err, CARBS_EINVAL, "trainer: '%s' must be an integer >= %lld (got %g)",
                          v->name, (long long)lo, v->num);
    *out = (int64_t)v->num;
    return 0;
}

static int want_double(const carbs_value_t *v, double *out, carbs_err_t *err)
{
    int rc = want_number(v, err);

    if (!rc)
        *out = v->num;
    return rc;
}

static int set_bool(const carbs_value_t *v, bool *out, carbs_err_t *err)
{
    if (v->is_str && (strcmp(v->str, "true") == 0 || strcmp(v->str, "false") == 0)) {
        *out = v->str[0] == 't';
        return 0;
    }
    if (!v->is_str && (v->num == 0 || v->num == 1)) {
        *out = v->num == 1;
        return 0;
    }
    return carbs_fail(err, CARBS_EINVAL, "trainer: '%s' must be true or false", v->name);
}

int trainer_config_set(trainer_config_t *cfg, const carbs_value_t *v, carbs_err_t *err)
{
    int64_t seed = 0;
    int rc;

    switch (carbs_trainer_param_parse(v->name)) {
    case CARBS_TP_D_MODEL:
        return want_int(v, 1, &cfg->d_model, err);
    case CARBS_TP_N_LAYERS:
        return want_int(v, 1, &cfg->n_layers, err);
    case CARBS_TP_HEAD_DIM:
        return want_int(v, 2, &cfg->head_dim, err);
    case CARBS_TP_KV_RATIO:
        return want_double(v, &cfg->kv_ratio, err);
    case CARBS_TP_FFN_MULT:
        return want_double(v, &cfg->ffn_mult, err);
    case CARBS_TP_SEQ_LEN:
        return want_int(v, 1, &cfg->seq_len, err);
    case CARBS_TP_VOCAB_SIZE:
        return want_int(v, 1, &cfg->vocab_size, err);
    case CARBS_TP_BATCH_SIZE:
        return want_int(v, 1, &cfg->batch_size, err);
    case CARBS_TP_TOKENS:
        return want_double(v, &cfg->tokens, err);
    case CARBS_TP_LEARNING_RATE:
        return want_double(v, &cfg->learning_rate, err);
    case CARBS_TP_WARMUP_FRAC:
        return want_double(v, &cfg->warmup_frac, err);
    case CARBS_TP_DECAY:
        if (v->is_str && strcmp(v->str, "cosine") == 0)
            cfg->decay = TRAINER_DECAY_COSINE;
        else if (v->is_str && strcmp(v->str, "linear") == 0)
            cfg->decay = TRAINER_DECAY_LINEAR;
        else
            return carbs_fail(err, CARBS_EINVAL, "trainer: 'decay' must be cosine or linear");
        return 0;
    case CARBS_TP_MIN_LR_FRAC:
        return want_double(v, &cfg->min_lr_frac, err);
    case CARBS_TP_WEIGHT_DECAY:
        return want_double(v, &cfg->weight_decay, err);
    case CARBS_TP_BETA1:
        return want_double(v, &cfg->beta1, err);
    case CARBS_TP_BETA2:
        return want_double(v, &cfg->beta2, err);
    case CARBS_TP_EPS:
        return want_double(v, &cfg->eps, err);
    case CARBS_TP_GRAD_CLIP:
        return want_double(v, &cfg->grad_clip, err);
    case CARBS_TP_INIT_STD:
        return want_double(v, &cfg->init_std, err);
    case CARBS_TP_ROPE_BASE:
        return want_double(v, &cfg->rope_base, err);
    case CARBS_TP_TIE_EMBEDDINGS:
        return set_bool(v, &cfg->tie_embeddings, err);
    case CARBS_TP_SEED:
        rc = want_int(v, 0, &seed, err);
        if (!rc)
            cfg->seed = (uint64_t)seed;
        return rc;
    default:
        return carbs_fail(err, CARBS_ENOTFOUND,
                          "trainer: unknown parameter '%s' (not an embedded-trainer parameter)",
                          v->name);
    }
}

int trainer_config_apply(trainer_config_t *cfg, const carbs_params_t *ps, carbs_err_t *err)
{
    for (size_t i = 0; i < ps->n; i++) {
        int rc = trainer_config_set(cfg, &ps->v[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

// ---- shape ----

/* The divisor h of d with d / h even that is nearest want; ties take fewer
 * heads (the larger head dimension).  0 when d is odd. */
static size_t pick_heads(size_t d, double want)
{
    size_t best = 0;
    double best_gap = INFINITY;

    for (size_t h = 1; h <= d; h++) {
        double gap;
        if (d % h || (d / h) % 2)
            continue;
        gap = fabs((double)h - want);
        if (gap < best_gap) {
            best = h;
            best_gap = gap;
        }
    }
    return best;
}

/* The divisor of n nearest want (at least 1); ties take the larger. */
static size_t pick_kv_heads(size_t n, double want)
{
    size_t best = 1;
    double best_gap = INFINITY;

    for (size_t k = 1; k <= n; k++) {
        double gap;
        if (n % k)
            continue;
        gap = fabs((double)k - want);
        if (gap <= best_gap) {
            best = k;
            best_gap = gap;
        }
    }
    return best;
}

static int check_range(const char *name, double x, double lo, double hi, bool hi_open,
                       carbs_err_t *err)
{
    if (!isfinite(x) || x < lo || (hi_open ? x >= hi : x > hi))
        return carbs_fail(err, CARBS_EINVAL, "trainer: '%s' must be in [%g, %g%c (got %g)", name,
                          lo, hi, hi_open ? ')' : ']', x);
    return 0;
}

int trainer_shape(const trainer_config_t *cfg, trainer_shape_t *out, carbs_err_t *err)
{
    trainer_shape_t s;
    double per_layer, d, emb, per_step;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    if (cfg->d_model < 2 || cfg->n_layers < 1 || cfg->head_dim < 2 || cfg->seq_len < 2 ||
        cfg->vocab_size < 2 || cfg->batch_size < 1)
        return carbs_fail(err, CARBS_EINVAL,
                          "trainer: d_model, head_dim, seq_len and vocab_size must be >= 2 and "
                          "n_layers, batch_size >= 1");
    if (!rc)
        rc = check_range("kv_ratio", cfg->kv_ratio, 0, 1, false, err);
    if (!rc)
        rc = check_range("ffn_mult", cfg->ffn_mult, 0.25, 64, false, err);
    if (!rc)
        rc = check_range("tokens", cfg->tokens, 1, 1e15, false, err);
    if (!rc)
        rc = check_range("learning_rate", cfg->learning_rate, 0, 10, false, err);
    if (!rc)
        rc = check_range("warmup_frac", cfg->warmup_frac, 0, 1, false, err);
    if (!rc)
        rc = check_range("min_lr_frac", cfg->min_lr_frac, 0, 1, false, err);
    if (!rc)
        rc = check_range("weight_decay", cfg->weight_decay, 0, 10, false, err);
    if (!rc)
        rc = check_range("beta1", cfg->beta1, 0, 1, true, err);
    if (!rc)
        rc = check_range("beta2", cfg->beta2, 0, 1, true, err);
    if (!rc)
        rc = check_range("eps", cfg->eps, 0, 1, false, err);
    if (!rc)
        rc = check_range("grad_clip", cfg->grad_clip, 0, 1e6, false, err);
    if (!rc)
        rc = check_range("init_std", cfg->init_std, 0, 10, false, err);
    if (!rc)
        rc = check_range("rope_base", cfg->rope_base, 2, 1e9, false, err);
    if (rc)
        return rc;

    s.d = (size_t)cfg->d_model;
    s.n_layers = (size_t)cfg->n_layers;
    s.n_heads = pick_heads(s.d, (double)cfg->d_model / (double)cfg->head_dim);
    if (!s.n_heads)
        return carbs_fail(err, CARBS_EINVAL,
                          "trainer: 'd_model' must be even so heads have an even dimension "
                          "for RoPE (got %lld)",
                          (long long)cfg->d_model);
    s.head_dim = s.d / s.n_heads;
    s.n_kv_heads = pick_kv_heads(s.n_heads, (double)s.n_heads * cfg->kv_ratio);
    s.ffn = (size_t)llround(cfg->ffn_mult * (double)s.d / TRAINER_FFN_ROUND) * TRAINER_FFN_ROUND;
    if (!s.ffn)
        s.ffn = TRAINER_FFN_ROUND;
    s.seq_len = (size_t)cfg->seq_len;
    s.vocab = (size_t)cfg->vocab_size;
    per_step = (double)cfg->batch_size * (double)cfg->seq_len;
    s.steps = (size_t)ceil(cfg->tokens / per_step);

    d = (double)s.d;
    per_layer = 2 * d * d + 2 * d * (double)(s.n_kv_heads * s.head_dim) + 3 * d * (double)s.ffn +
                2 * d;
    emb = (double)s.vocab * d;
    s.n_params = (double)s.n_layers * per_layer + d;
    s.n_params_total = s.n_params + emb * (cfg->tie_embeddings ? 1 : 2);
    *out = s;
    return 0;
}
