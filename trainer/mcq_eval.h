/*
 * mcq_eval.h - multiple-choice scoring (docs/trainer.md, docs/data.md): each
 * choice's log-likelihood given the context, with the context's forward
 * pass computed once and shared across the four choices, and the four
 * metrics accumulated over items.
 *
 * Metrics over the items scored:
 *   mcq_acc      the choice with the highest summed log-likelihood is right;
 *   mcq_acc_norm the highest log-likelihood per UTF-8 byte of the choice
 *                (per token when an item has no byte counts) is right;
 *   mcq_ppl      exp(total NLL of the correct choices' tokens / their count);
 *   mcq_prob     mean over items of the softmax over the four summed
 *                log-likelihoods at the correct choice.
 * Ties count as wrong, so a constant model scores 0 accuracy, not 25 %.
 */
#ifndef CARBS_TRAINER_MCQ_EVAL_H
#define CARBS_TRAINER_MCQ_EVAL_H

#include "trainer/backend.h"
#include "trainer/dataset.h"

typedef struct mcq_eval {
    size_t n;             /* items scored */
    size_t skipped;       /* items that could not fit seq_len or had no context */
    double correct, correct_norm, prob_sum;
    double answer_nll;    /* summed NLL of correct choices' tokens */
    double answer_tokens;
} mcq_eval_t;

/* Add one item given each choice's summed log-likelihood ll (natural log),
 * token count and byte count (bytes may be NULL or zero: tokens are used). */
void mcq_eval_add(mcq_eval_t *acc, const double ll[MCQ_CHOICES], const size_t n_tok[MCQ_CHOICES],
                  const size_t *bytes, int answer);

/* Which item of a set of n_set to score as the i-th of n_scored (i <
 * n_scored <= n_set): evenly spaced over the whole set, first item first.
 * A prepared set lists its cloze items before its continuation items, each
 * in document order, so the first n_scored items would all be cloze from
 * the first documents; spaced ones keep both tasks and every document in
 * proportion, and are the same items in every trial. */
size_t mcq_eval_index(size_t n_set, size_t n_scored, size_t i);

/* The four metrics (NaN when no item was scored). */
void mcq_eval_metrics(const mcq_eval_t *acc, double *mcq_acc, double *mcq_acc_norm,
                      double *mcq_ppl, double *mcq_prob);

/* Score item it of set with backend ops/state for the model lay.  seq
 * (seq_len ids) and nll (seq_len floats) are the caller's scratch.  The
 * context is cut from the left so context + longest choice fits seq_len.
 * Returns 0 and ll[], CARBS_CONTINUE when the item cannot be scored (no
 * context, or a choice of seq_len tokens or more; ll untouched), or the
 * backend's error.  *flops (may be NULL) grows by the forward FLOPs run. */
int mcq_eval_item(const backend_ops_t *ops, void *state, const model_layout_t *lay,
                  const mcq_set_t *set, const mcq_item_t *it, int32_t *seq, float *nll,
                  double ll[MCQ_CHOICES], double *flops);

#endif
