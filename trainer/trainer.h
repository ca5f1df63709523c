/*
 * trainer.h - one training run of the embedded trainer: config and data
 * in, metrics and cost out (docs/trainer.md).
 *
 * The caller owns the loop: trainer_open() checks the
 * config, estimates memory and fails cleanly (CARBS_ENOMEM) before
 * allocating anything when the model cannot fit, then allocates everything
 * once; trainer_step() runs one optimizer step and returns CARBS_CONTINUE
 * while steps remain; trainer_finish() evaluates (validation loss and bits
 * per byte, multiple-choice scores) and fills a carbs_result_t.  No
 * callbacks and no logging: the caller prints progress from
 * trainer_progress_t.  trainer_run() is that loop for callers without
 * progress output.
 *
 * Determinism: parameters and batches come from splitmix64 streams seeded
 * with cfg->seed (model.h documents the initialiser; batch starts are
 * next() % (n_train - seq_len) from seed ^ 0x6261746368), so two runs with
 * one thread give bit-identical losses.
 *
 * Failures that are the config's fault (docs/service.md) come back as codes
 * that trainer_fail_result() maps onto the result: CARBS_EDIVERGED
 * (non-finite loss or gradient, or a loss above diverge_mult * ln V),
 * CARBS_ENOMEM (too large), CARBS_EINVAL (an invalid config).
 */
#ifndef CARBS_TRAINER_TRAINER_H
#define CARBS_TRAINER_TRAINER_H

#include "proto/types.h"
#include "trainer/config.h"
#include "trainer/dataset.h"

typedef struct trainer trainer_t;

/* Defaults for trainer_options_t's zero fields. */
#define TRAINER_EVAL_TOKENS 131072 /* validation tokens scored: ~0.3 % noise on val_loss */
#define TRAINER_MCQ_ITEMS 500      /* docs/data.md: ~a tenth of a 0.5M-token trial's cost */
#define TRAINER_DIVERGE_MULT 3.0   /* uniform guessing scores ln V; 3 ln V is a blow-up */
#define TRAINER_CURVE_POINTS 100

/* How to run (not what to learn: these never change the trained model). */
typedef struct trainer_options {
    const char *backend;   /* "cpu" (default when NULL and no device) or another compiled-in
                              backend; must agree with device when both are set */
    const char *device;    /* "cpu", "cuda", "cuda:K" or "cuda:K,L,..." (backend_parse_device):
                              the backend and the devices it spreads each step over;
                              NULL = backend's device 0 */
    int threads;           /* CPU threads; 0 = 1 */
    size_t eval_tokens;    /* validation tokens scored by finish; 0 = TRAINER_EVAL_TOKENS */
    size_t mcq_items;      /* MCQ-dev items scored by finish; 0 = TRAINER_MCQ_ITEMS */
    bool mcq_test;         /* finish also scores MCQ-test (as many items), reported as the
                              extra metrics test_mcq_acc, _acc_norm, _ppl, _prob, _items;
                              never for a sweep: docs/data.md keeps the test set for reports */
    double diverge_mult;   /* 0 = TRAINER_DIVERGE_MULT */
    size_t curve_points;   /* learning-curve points kept; 0 = TRAINER_CURVE_POINTS */
    size_t memory_limit;   /* host bytes the run may use; 0 = MemAvailable of /proc/meminfo */
    size_t device_memory_limit; /* device bytes per device; 0 = the least free memory of the
                                   devices (the backend's probe) */
} trainer_options_t;

/* Set one option by name (proto/types.h CARBS_TRAINER_OPTION_MAP: eval_tokens, mcq_items), as
 * a sweep's fixed value or `carbs train --set` gives it: a whole number from 1 to
 * CARBS_TRAINER_OPTION_MAX.  Returns 0, CARBS_ENOTFOUND for a name that is no option (the caller
 * then tries trainer_config_set), or CARBS_EINVAL naming the option and the value. */
int trainer_options_set(trainer_options_t *opt, const carbs_value_t *v, carbs_err_t *err);

/* Where a run stands after a step. */
typedef struct trainer_progress {
    int64_t step, steps; /* steps done, steps in all */
    double tokens;       /* training tokens consumed so far */
    float loss;          /* this step's mean training loss */
    float grad_norm;     /* before clipping */
    float lr;            /* this step's learning rate */
    double tokens_per_s; /* over the training steps so far */
    double eta_s;        /* training time left at that rate */
} trainer_progress_t;

/* Bytes a run of cfg would allocate, apart: *host (the backend's host
 * memory plus the trainer's own buffers; checked against MemAvailable)
 * and *device (per device; 0 on the CPU; checked against the devices'
 * free memory).  The pre-allocation estimate open() checks.  Either
 * pointer may be NULL.  Returns 0, CARBS_EINVAL for a bad config or
 * device, or CARBS_ENOTFOUND for a backend not in this build. */
int trainer_memory_bytes(const trainer_config_t *cfg, const trainer_options_t *opt,
                         size_t *host, size_t *device, carbs_err_t *err);

/* Validate cfg against ds (vocabulary size, enough tokens for one
 * sequence), check memory, allocate everything and initialise the model.
 * cfg and opt are copied; ds is borrowed and must outlive the trainer.
 * opt may be NULL.  Returns NULL with err filled: CARBS_EINVAL,
 * CARBS_ENOMEM (too large: before any big allocation when the estimate
 * exceeds the limit), CARBS_ENOTFOUND (no such backend, or its devices
 * cannot be used: err says why in one line, e.g. no usable GPU). */
trainer_t *trainer_open(const trainer_config_t *cfg, const trainer_options_t *opt,
                        const dataset_t *ds, carbs_err_t *err);

/* Run one training step (sample a batch, forward, backward, clip, AdamW
 * with the scheduled learning rate) and fill p (may be NULL).  Returns
 * CARBS_CONTINUE while steps remain, 0 after the last one (and at once if
 * called again), or CARBS_EDIVERGED.  Allocates nothing. */
int trainer_step(trainer_t *tr, trainer_progress_t *p, carbs_err_t *err);

/* Evaluate and fill res (initialised by the caller with
 * carbs_result_init): status ok, every metric of docs/trainer.md and the
 * learning curve, plus extras eval_seconds, eval_flops and train_seconds
 * (and peak_flops and mfu where the backend knows its peak).
 * Call after trainer_step returned 0.  Returns 0, CARBS_ESTATE when
 * training has not finished, or CARBS_ENOMEM (the result's arrays). */
int trainer_finish(trainer_t *tr, carbs_result_t *res, carbs_err_t *err);

/* The metrics known so far (n_params, tokens, flops, times, the curve)
 * into res; trainer_finish calls it, and so does a caller reporting a
 * failed run.  Returns 0 or CARBS_ENOMEM. */
int trainer_partial_result(const trainer_t *tr, carbs_result_t *res);

/* Free everything; NULL is a no-op. */
void trainer_close(trainer_t *tr);

/* The learning-rate schedule: warmup over round(warmup_frac * steps)
 * steps, then cosine or linear decay to min_lr_frac * learning_rate at the
 * last step.  step is 0-based. */
double trainer_lr(const trainer_config_t *cfg, size_t step, size_t steps);

/* Mark res failed from a code and its message: EDIVERGED -> diverged,
 * ENOMEM -> oom, anything else -> error (all hyperparameter failures). */
void trainer_fail_result(carbs_result_t *res, int rc, const carbs_err_t *err);

/* open, step to the end, finish, close.  res (initialised by the caller)
 * is always filled, with ok or a failure; returns 0 or the failure code. */
int trainer_run(const trainer_config_t *cfg, const trainer_options_t *opt, const dataset_t *ds,
                carbs_result_t *res, carbs_err_t *err);

#endif
