/*
 * config.h - the embedded trainer's configuration and the model shape it
 * implies (docs/trainer.md).
 *
 * trainer_config_t holds every embedded-trainer parameter under its
 * canonical name (proto/types.h CARBS_TRAINER_PARAM_MAP); all-zero means
 * "not set" and trainer_config_defaults() fills the documented defaults.
 * trainer_config_apply() maps a sweep's parameter values onto it by name,
 * and trainer_shape() derives the head counts and sizes, so any swept
 * d_model gives a valid model or a clear error.
 */
#ifndef CARBS_TRAINER_CONFIG_H
#define CARBS_TRAINER_CONFIG_H

#include "proto/types.h"

typedef enum trainer_decay {
    TRAINER_DECAY_COSINE = 0,
    TRAINER_DECAY_LINEAR = 1,
} trainer_decay_t;

typedef struct trainer_config {
    /* model */
    int64_t d_model;     /* residual width */
    int64_t n_layers;
    int64_t head_dim;    /* wanted head dimension; the real one divides d_model and is even */
    double kv_ratio;     /* n_kv_heads ~ n_heads * kv_ratio (grouped-query attention) */
    double ffn_mult;     /* SwiGLU hidden width ~ ffn_mult * d_model */
    int64_t seq_len;
    int64_t vocab_size;  /* each size has its own tokenizer and token cache */
    bool tie_embeddings;
    double init_std;
    double rope_base;
    /* optimization */
    int64_t batch_size;  /* sequences per step */
    double tokens;       /* training tokens */
    double learning_rate;
    double warmup_frac;
    trainer_decay_t decay;
    double min_lr_frac;
    double weight_decay;
    double beta1, beta2, eps;
    double grad_clip;    /* global gradient-norm clip; 0 = off */
    uint64_t seed;
} trainer_config_t;

/* The model shape a config implies. */
typedef struct trainer_shape {
    size_t d;          /* d_model */
    size_t n_layers;
    size_t n_heads;    /* the divisor of d with an even quotient nearest d / head_dim */
    size_t n_kv_heads; /* the divisor of n_heads nearest n_heads * kv_ratio */
    size_t head_dim;   /* d / n_heads, even (RoPE rotates pairs) */
    size_t ffn;        /* SwiGLU hidden width: ffn_mult * d rounded to TRAINER_FFN_ROUND */
    size_t seq_len;
    size_t vocab;
    size_t steps;      /* ceil(tokens / (batch_size * seq_len)) */
    double n_params;        /* without the token embedding (and LM head when untied) */
    double n_params_total;  /* everything */
} trainer_shape_t;

/* The SwiGLU hidden width is rounded to a multiple of this (cache-friendly
 * sgemm shapes); 8 keeps tiny models close to ffn_mult * d_model. */
#define TRAINER_FFN_ROUND 8

/* Fill every field with its default: d_model 64, n_layers 2, head_dim 16,
 * kv_ratio 0.5, ffn_mult 8/3, seq_len 256, vocab_size 2048, tied
 * embeddings, init_std 0.02, rope_base 10000, batch_size 16, tokens 5e5,
 * learning_rate 3e-3, warmup_frac 0.05, cosine decay, min_lr_frac 0.1,
 * weight_decay 0.1, betas 0.9 / 0.95, eps 1e-8, grad_clip 1.0, seed 0. */
void trainer_config_defaults(trainer_config_t *cfg);

/* Set one parameter by canonical name from a value (numbers for numeric
 * fields, "cosine"/"linear" for decay; tie_embeddings takes 0/1 or
 * "true"/"false").  Integer fields must hold integral values.  Returns 0,
 * CARBS_ENOTFOUND for a name not in CARBS_TRAINER_PARAM_MAP, or
 * CARBS_EINVAL for a wrong type or value, with err naming the parameter. */
int trainer_config_set(trainer_config_t *cfg, const carbs_value_t *v, carbs_err_t *err);

/* trainer_config_set() for every value of ps, in order. */
int trainer_config_apply(trainer_config_t *cfg, const carbs_params_t *ps, carbs_err_t *err);

/* Check ranges and derive the shape.  Returns 0 or CARBS_EINVAL naming the
 * offending parameter (e.g. an odd d_model, which leaves no even head
 * dimension, or beta2 outside [0, 1)). */
int trainer_shape(const trainer_config_t *cfg, trainer_shape_t *out, carbs_err_t *err);

#endif
