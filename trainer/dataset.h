/*
 * dataset.h - what the trainer trains and evaluates on: token streams for
 * training and validation, and the multiple-choice question sets
 * (docs/trainer.md, docs/data.md).
 *
 * A dataset_t is plain data the trainer reads and never changes.  It comes
 * from the caches `carbs data prepare` writes (dataset_load), from the
 * synthetic corpus generated in code so tests never need the network
 * (dataset_synthetic), or from a test that fills the struct by hand.
 * Tokens are int32_t ids in [0, vocab_size).
 */
#ifndef CARBS_TRAINER_DATASET_H
#define CARBS_TRAINER_DATASET_H

#include "proto/common.h"
#include "trainer/mcq_set.h"

typedef struct dataset {
    size_t vocab_size;
    int32_t *train; /* owned */
    size_t n_train;
    int32_t *val;   /* owned */
    size_t n_val;
    double val_bytes; /* UTF-8 bytes the validation tokens decode to: val_bpb =
                         (summed NLL in nats) / (ln 2 * val_bytes) */
    mcq_set_t mcq_dev;  /* what a sweep optimizes */
    mcq_set_t mcq_test; /* reported only */
} dataset_t;

/* Load the prepared caches for vocab_size from data_dir (the folder
 * `carbs data prepare` wrote; see docs/data.md).  Returns 0, CARBS_ENOTFOUND
 * with a message telling to run `carbs data prepare` when the cache for this
 * vocabulary size is missing, CARBS_EVERSION for a cache written by another
 * format version, CARBS_EIO / CARBS_ENOMEM.  Release with dataset_release. */
int dataset_load(const char *data_dir, size_t vocab_size, dataset_t *out, carbs_err_t *err);

/* A deterministic synthetic dataset generated in code: n_train training
 * tokens and n_train / 8 validation tokens from a small stochastic grammar
 * over vocab_size ids (learnable structure, so loss falls), plus MCQ sets
 * whose answers follow the grammar.  For tests; needs no files. */
int dataset_synthetic(size_t vocab_size, uint64_t seed, size_t n_train, dataset_t *out,
                      carbs_err_t *err);

void dataset_release(dataset_t *ds);

#endif
