/*
 * mcq_set.h - a set of multiple-choice questions as token ids: what the
 * question builder (mcq.h) produces, the token cache (cache.h) stores and
 * the trainer (mcq_eval.h) scores.
 *
 * An mcq_set_t owns one pool of tokens; each item's context and choices
 * are offsets into it, so a set is two allocations however many items it
 * holds, and it is written to and read from a cache file as it is.
 * All-zero is an empty set.
 */
#ifndef CARBS_TRAINER_MCQ_SET_H
#define CARBS_TRAINER_MCQ_SET_H

#include "proto/common.h"

#define MCQ_CHOICES 4

#define MCQ_TASK_MAP(X)                                                                            \
    X(CLOZE, "cloze")                                                                              \
    X(CONTINUATION, "continuation")

typedef enum mcq_task {
#define X(id, name) MCQ_TASK_##id,
    MCQ_TASK_MAP(X)
#undef X
        MCQ_TASK_COUNT
} mcq_task_t;

/* One question: a context and four candidate continuations, one correct.
 * Token arrays are offsets into the owning set's pool (which may move as the
 * set grows): the context is set->pool[context .. context + n_context). */
typedef struct mcq_item {
    mcq_task_t task;
    size_t context;
    size_t n_context;
    size_t choice[MCQ_CHOICES];
    size_t n_choice[MCQ_CHOICES];
    size_t choice_bytes[MCQ_CHOICES]; /* UTF-8 bytes of each choice's text (for acc_norm) */
    int answer;                       /* index of the correct choice */
} mcq_item_t;

typedef struct mcq_set {
    mcq_item_t *v;
    size_t n, cap;
    int32_t *pool; /* owned storage of every item's tokens */
    size_t pool_n, pool_cap;
} mcq_set_t;

/* Append an item whose token arrays are copied into the set's pool.
 * Returns 0, CARBS_EINVAL (answer out of range, an empty choice) or
 * CARBS_ENOMEM. */
int mcq_set_add(mcq_set_t *set, mcq_task_t task, const int32_t *context, size_t n_context,
                const int32_t *const choice[MCQ_CHOICES], const size_t n_choice[MCQ_CHOICES],
                const size_t choice_bytes[MCQ_CHOICES], int answer);
/* Free the items and the pool and make *set empty.  Safe on an empty set. */
void mcq_set_release(mcq_set_t *set);

#endif
