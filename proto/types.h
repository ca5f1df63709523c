/*
 * types.h - the shared value types: parameter space, parameter values,
 * trial, result, and the one list of names (docs/sweep-file.md, The one list
 * of names).
 *
 * Plain public structs (docs/style.md H8): all-zero is a valid empty value, and
 * each has carbs_<type>_release() for what it owns.  Names are fixed-size
 * strings so values can be copied with '=' and cross threads and the wire
 * without ownership questions.  Every name table is an X-macro so the C
 * enum, the wire/store spelling and the docs cannot drift apart.
 */
#ifndef CARBS_PROTO_TYPES_H
#define CARBS_PROTO_TYPES_H

#include "proto/common.h"

#define CARBS_NAME_MAX 64   /* parameter, metric, worker and sweep names, with NUL */
#define CARBS_VALUE_MAX 64  /* a categorical value or string parameter, with NUL */
#define CARBS_VALUES_MAX 32 /* categories of one categorical parameter */
#define CARBS_MSG_MAX 256   /* a failure message, with NUL */

// ---- spaces ----

#define CARBS_SPACE_MAP(X)                                                                         \
    X(LINEAR, "linear")                                                                            \
    X(LOG, "log")                                                                                  \
    X(LOGIT, "logit")                                                                              \
    X(CATEGORICAL, "categorical")

typedef enum carbs_space_kind {
#define X(id, name) CARBS_SPACE_##id,
    CARBS_SPACE_MAP(X)
#undef X
        CARBS_SPACE_COUNT
} carbs_space_kind_t;

/* One searched parameter.  Bounds are in param units; a missing bound is
 * -inf/+inf for linear, 0/+inf for log and 0/1 for logit (docs/algorithm.md,
 * Transforms).  For a categorical, values[0..n_values) are the categories,
 * center is the index of the center category and min/max/scale/round are
 * unused. */
typedef struct carbs_param {
    char name[CARBS_NAME_MAX];
    carbs_space_kind_t space;
    double min, max;
    double center;
    double scale;      /* basic units per param unit; 1 when not given */
    bool is_integer;   /* linear and log only */
    double round;      /* rounding factor rho for integers; 1 when not given */
    size_t n_values;
    char values[CARBS_VALUES_MAX][CARBS_VALUE_MAX];
} carbs_param_t;

/* An ordered parameter space: dimension order is declaration order. */
typedef struct carbs_space {
    carbs_param_t *v;
    size_t n, cap;
} carbs_space_t;

/* Append a copy of p.  Returns 0, CARBS_EEXIST for a duplicate name or
 * CARBS_ENOMEM. */
int carbs_space_add(carbs_space_t *sp, const carbs_param_t *p);
/* The parameter called name, or NULL.  Borrowed: valid until sp changes. */
const carbs_param_t *carbs_space_find(const carbs_space_t *sp, const char *name);
void carbs_space_release(carbs_space_t *sp);

const char *carbs_space_name(carbs_space_kind_t k);
/* The kind for a name, or -1. */
int carbs_space_parse(const char *name);

// ---- parameter values ----

/* One parameter's value: a number, or a string (categorical or fixed text). */
typedef struct carbs_value {
    char name[CARBS_NAME_MAX];
    bool is_str;
    double num;
    char str[CARBS_VALUE_MAX];
} carbs_value_t;

/* An assignment of values to names, in insertion order. */
typedef struct carbs_params {
    carbs_value_t *v;
    size_t n, cap;
} carbs_params_t;

/* Set name to a number or string, replacing an earlier value of the same
 * name.  Returns 0, CARBS_ETOOBIG for an over-long name or string, or
 * CARBS_ENOMEM. */
int carbs_params_set_num(carbs_params_t *ps, const char *name, double num);
int carbs_params_set_str(carbs_params_t *ps, const char *name, const char *str);
/* The value called name, or NULL.  Borrowed: valid until ps changes. */
const carbs_value_t *carbs_params_find(const carbs_params_t *ps, const char *name);
/* Deep copy src into *dst (which must be empty).  0 or CARBS_ENOMEM. */
int carbs_params_copy(carbs_params_t *dst, const carbs_params_t *src);
void carbs_params_release(carbs_params_t *ps);

// ---- trials ----

/* Trial states (docs/store.md, Trial states); the strings are the store's and the wire's. */
#define CARBS_TRIAL_STATE_MAP(X)                                                                   \
    X(PENDING, "pending")                                                                          \
    X(RUNNING, "running")                                                                          \
    X(DONE, "done")                                                                                \
    X(FAILED, "failed")                                                                            \
    X(LOST, "lost")                                                                                \
    X(CANCELLED, "cancelled")

typedef enum carbs_trial_state {
#define X(id, name) CARBS_TRIAL_##id,
    CARBS_TRIAL_STATE_MAP(X)
#undef X
        CARBS_TRIAL_STATE_COUNT
} carbs_trial_state_t;

const char *carbs_trial_state_name(carbs_trial_state_t s);
int carbs_trial_state_parse(const char *name); /* the state, or -1 */

typedef struct carbs_trial {
    int64_t id;
    int64_t sweep_id;
    int attempt; /* 1 for the first run; grows with each re-queue after a loss */
    carbs_trial_state_t state;
    carbs_params_t params;
    char worker[CARBS_NAME_MAX]; /* empty when unassigned */
    double lease_deadline;       /* unix seconds; 0 when not running */
    double started, finished;    /* unix seconds; 0 when not yet */
    double pred_output, pred_cost; /* the optimizer's predictions; NaN when none */
} carbs_trial_t;

// ---- sweeps ----

#define CARBS_SWEEP_STATE_MAP(X)                                                                   \
    X(ACTIVE, "active")                                                                            \
    X(PAUSED, "paused")                                                                            \
    X(STOPPED, "stopped")                                                                          \
    X(DONE, "done")

typedef enum carbs_sweep_state {
#define X(id, name) CARBS_SWEEP_##id,
    CARBS_SWEEP_STATE_MAP(X)
#undef X
        CARBS_SWEEP_STATE_COUNT
} carbs_sweep_state_t;

const char *carbs_sweep_state_name(carbs_sweep_state_t s);
int carbs_sweep_state_parse(const char *name); /* the state, or -1 */

// ---- metrics and results ----

/* The metrics a trial reports (docs/sweep-file.md, The one list of names), canonical spelling.
 * n_params is the non-embedding count, n_params_total includes embeddings. */
#define CARBS_METRIC_MAP(X)                                                                        \
    X(TRAIN_LOSS, "train_loss")                                                                    \
    X(VAL_LOSS, "val_loss")                                                                        \
    X(VAL_BPB, "val_bpb")                                                                          \
    X(MCQ_ACC, "mcq_acc")                                                                          \
    X(MCQ_ACC_NORM, "mcq_acc_norm")                                                                \
    X(MCQ_PPL, "mcq_ppl")                                                                          \
    X(MCQ_PROB, "mcq_prob")                                                                        \
    X(N_PARAMS, "n_params")                                                                        \
    X(N_PARAMS_TOTAL, "n_params_total")                                                            \
    X(TOKENS, "tokens")                                                                            \
    X(FLOPS, "flops")                                                                              \
    X(WALL_SECONDS, "wall_seconds")                                                                \
    X(CPU_SECONDS, "cpu_seconds")                                                                  \
    X(DEVICE_SECONDS, "device_seconds")                                                            \
    X(PEAK_RSS_BYTES, "peak_rss_bytes")

typedef enum carbs_metric {
#define X(id, name) CARBS_METRIC_##id,
    CARBS_METRIC_MAP(X)
#undef X
        CARBS_METRIC_COUNT
} carbs_metric_t;

const char *carbs_metric_name(carbs_metric_t m);
int carbs_metric_parse(const char *name); /* the metric, or -1 */

/* Why a trial failed (docs/service.md, Failure semantics).  diverged/oom/error
 * are the config's fault (a failure observation); infra and preempted are not
 * (the trial is lost and re-queued). */
#define CARBS_FAILURE_MAP(X)                                                                       \
    X(NONE, "none")                                                                                \
    X(DIVERGED, "diverged")                                                                        \
    X(OOM, "oom")                                                                                  \
    X(ERROR, "error")                                                                              \
    X(INFRA, "infra")                                                                              \
    X(PREEMPTED, "preempted")

typedef enum carbs_failure {
#define X(id, name) CARBS_FAILURE_##id,
    CARBS_FAILURE_MAP(X)
#undef X
        CARBS_FAILURE_COUNT
} carbs_failure_t;

const char *carbs_failure_name(carbs_failure_t f);
int carbs_failure_parse(const char *name); /* the failure, or -1 */
/* True for failures the optimizer learns from (diverged, oom, error). */
bool carbs_failure_is_hyper(carbs_failure_t f);

/* A metric outside the canonical list, as a command trial may report. */
typedef struct carbs_extra_metric {
    char name[CARBS_NAME_MAX];
    double value;
} carbs_extra_metric_t;

/* One point of a learning curve. */
typedef struct carbs_curve_point {
    int64_t step;
    double tokens;
    double loss;
} carbs_curve_point_t;

typedef struct carbs_result {
    int64_t trial_id;
    int attempt;
    bool ok;                 /* status: ok | failed */
    carbs_failure_t failure; /* CARBS_FAILURE_NONE when ok */
    char message[CARBS_MSG_MAX];
    double metric[CARBS_METRIC_COUNT]; /* NaN = not reported */
    DA_TYPE(carbs_extra_metric_t) extra;
    DA_TYPE(carbs_curve_point_t) curve;
} carbs_result_t;

/* Empty result: every metric NaN, no extras, no curve. */
void carbs_result_init(carbs_result_t *r);
void carbs_result_release(carbs_result_t *r);
/* Deep copy src into an initialised, empty *dst.  0 or CARBS_ENOMEM. */
int carbs_result_copy(carbs_result_t *dst, const carbs_result_t *src);
/* Value of a metric by name, canonical or extra; NaN when not reported. */
double carbs_result_get(const carbs_result_t *r, const char *name);
/* Set a metric by name, canonical or extra.  0, CARBS_ETOOBIG or ENOMEM. */
int carbs_result_set(carbs_result_t *r, const char *name, double value);

// ---- embedded-trainer parameter names (docs/sweep-file.md, The one list of names) ----

#define CARBS_TRAINER_PARAM_MAP(X)                                                                 \
    X(D_MODEL, "d_model")                                                                          \
    X(N_LAYERS, "n_layers")                                                                        \
    X(HEAD_DIM, "head_dim")                                                                        \
    X(KV_RATIO, "kv_ratio")                                                                        \
    X(FFN_MULT, "ffn_mult")                                                                        \
    X(SEQ_LEN, "seq_len")                                                                          \
    X(VOCAB_SIZE, "vocab_size")                                                                    \
    X(BATCH_SIZE, "batch_size")                                                                    \
    X(TOKENS, "tokens")                                                                            \
    X(LEARNING_RATE, "learning_rate")                                                              \
    X(WARMUP_FRAC, "warmup_frac")                                                                  \
    X(DECAY, "decay")                                                                              \
    X(MIN_LR_FRAC, "min_lr_frac")                                                                  \
    X(WEIGHT_DECAY, "weight_decay")                                                                \
    X(BETA1, "beta1")                                                                              \
    X(BETA2, "beta2")                                                                              \
    X(EPS, "eps")                                                                                  \
    X(GRAD_CLIP, "grad_clip")                                                                      \
    X(INIT_STD, "init_std")                                                                        \
    X(ROPE_BASE, "rope_base")                                                                      \
    X(TIE_EMBEDDINGS, "tie_embeddings")                                                            \
    X(SEED, "seed")

typedef enum carbs_trainer_param {
#define X(id, name) CARBS_TP_##id,
    CARBS_TRAINER_PARAM_MAP(X)
#undef X
        CARBS_TP_COUNT
} carbs_trainer_param_t;

const char *carbs_trainer_param_name(carbs_trainer_param_t p);
int carbs_trainer_param_parse(const char *name); /* the parameter, or -1 */

/* Embedded-trainer options: how a trial is evaluated, never what the model
 * learns (trainer_options_t).  A sweep may fix them (docs/sweep-file.md),
 * not search them: they change no trained weight, only how many validation
 * tokens and MCQ-dev items the trial scores at its end. */
#define CARBS_TRAINER_OPTION_MAP(X)                                                                \
    X(EVAL_TOKENS, "eval_tokens")                                                                  \
    X(MCQ_ITEMS, "mcq_items")

typedef enum carbs_trainer_option {
#define X(id, name) CARBS_TO_##id,
    CARBS_TRAINER_OPTION_MAP(X)
#undef X
        CARBS_TO_COUNT
} carbs_trainer_option_t;

/* The largest value an option takes: far past any split (the validation shard holds about
 * 141k tokens, MCQ-dev about 4.2k items, docs/data.md), so a larger one is a typo. */
#define CARBS_TRAINER_OPTION_MAX 100000000

const char *carbs_trainer_option_name(carbs_trainer_option_t o);
int carbs_trainer_option_parse(const char *name); /* the option, or -1 */

#endif
