/*
 * mcq.h - multiple-choice questions derived from held-out text (docs/data.md,
 * "Multiple-choice questions").
 *
 * Two tasks, four choices each, one correct:
 *
 *   - word cloze: the target is the last content word of a held-out
 *     sentence (tag nn, nns, vb, vbd, vbg or jj; a lower-case ASCII word);
 *     the context is the one or two sentences before it and the sentence up
 *     to the target; the three distractors have the target's part-of-speech
 *     tag and log2-frequency bin in the training split and do not occur in
 *     the context, and are mostly written in lower case.  Brown sentences carry their own tags; SOTU words are
 *     tagged with their dominant tag in the training part of Brown when that
 *     tag is unambiguous enough (mcq_config_t.lexicon_share).
 *   - continuation: the context is two consecutive held-out sentences, the
 *     correct choice the sentence after them, the distractors three
 *     sentences of other documents of the same part and source (Brown or
 *     SOTU, so style does not give the answer away) whose length is within
 *     length_tolerance of the correct one.
 *
 * Lengths are counted in bpe chunks (bpe_next_chunk: words, numbers and
 * punctuation runs), which do not depend on the vocabulary size, so every
 * vocabulary sees the same questions.  Every choice begins with the space
 * that joins it to its context, and a context never ends in a space, so the
 * context and a choice tokenize separately exactly as they would together.
 *
 * Leakage filter: an item is dropped when its context followed by its
 * correct choice shares a leak_n-gram of chunks (leak_n_short-gram for an
 * item shorter than short_chunks) with any training document.  Chunks are
 * compared without their leading whitespace and with ASCII case folded.
 *
 * Everything is deterministic: the items of a part depend only on the
 * corpus, the part, the config and its seed (not on which other parts were
 * built before).
 */
#ifndef CARBS_TRAINER_MCQ_H
#define CARBS_TRAINER_MCQ_H

#include "proto/common.h"
#include "trainer/bpe.h"
#include "trainer/corpus.h"
#include "trainer/dataset.h"

/* How questions are built.  All-zero gives the documented defaults. */
typedef struct mcq_config {
    uint64_t seed;             /* distractor draws and answer positions */
    size_t max_context_chunks; /* 0: 64; longer contexts keep their last chunks (docs/data.md) */
    size_t min_choice_chunks;  /* 0: 4; shorter continuation answers are skipped */
    size_t max_choice_chunks;  /* 0: 48; bounds scoring cost (docs/data.md) */
    size_t cont_stride;        /* 0: 3; continuation answers every 3rd sentence, so items
                                  share no sentence */
    double length_tolerance;   /* 0: 0.2; continuation distractors' relative length range */
    double lexicon_share;      /* 0: 0.9; share of a word's Brown tags its dominant tag
                                  needs for a SOTU cloze target */
    size_t leak_n;             /* 0: 13 */
    size_t leak_n_short;       /* 0: 8 */
    size_t short_chunks;       /* 0: 32; items with fewer chunks use leak_n_short */
    size_t max_draws;          /* 0: 64; random draws tried per distractor set */
} mcq_config_t;

/* One question as text: byte ranges of the owning set's text pool. */
typedef struct mcq_text_item {
    mcq_task_t task;
    int answer;      /* index of the correct choice */
    size_t doc;      /* corpus index of the document it came from */
    size_t sent;     /* the sentence whose word or whole text is the answer */
    size_t context, n_context;
    size_t choice[MCQ_CHOICES], n_choice[MCQ_CHOICES];
} mcq_text_item_t;

typedef struct mcq_text_set {
    mcq_text_item_t *v;
    size_t n, cap;
    char *text; /* owned pool; NUL-free, not terminated */
    size_t text_n, text_cap;
} mcq_text_set_t;

/* What happened to the candidates of one build, per task. */
typedef struct mcq_stats {
    size_t candidates[MCQ_TASK_COUNT];     /* sentences that gave a target and context */
    size_t no_distractors[MCQ_TASK_COUNT]; /* dropped: fewer than three fair distractors */
    size_t leaked[MCQ_TASK_COUNT];         /* dropped by the leakage filter */
    size_t kept[MCQ_TASK_COUNT];
} mcq_stats_t;

typedef struct mcq_builder mcq_builder_t;

/* Learn what the builder needs from c's training part: word frequencies,
 * Brown tags per word and the distractor pools.  Borrows c, which must
 * outlive the builder and keep its parts.  Returns a builder the caller
 * frees with mcq_builder_free(), or NULL with err filled: CARBS_EINVAL for
 * a config out of range (leak_n_short > leak_n, a tolerance outside (0, 1),
 * a share outside (0, 1]), CARBS_ENOMEM. */
mcq_builder_t *mcq_builder_new(const corpus_t *c, const mcq_config_t *cfg, carbs_err_t *err);

/* Free b.  b may be NULL. */
void mcq_builder_free(mcq_builder_t *b);

/* Append the questions of part's documents to out (caller owns, release
 * with mcq_text_set_release): cloze items first, then continuation items,
 * each in document and sentence order.  stats (may be NULL) is overwritten.
 * Returns 0, CARBS_EINVAL for part CORPUS_TRAIN, or CARBS_ENOMEM (out then
 * holds the items added before the failure). */
int mcq_build(mcq_builder_t *b, corpus_part_t part, mcq_text_set_t *out, mcq_stats_t *stats,
              carbs_err_t *err);

/* Tokenize every item of in with bpe and append it to out (the trainer's
 * form, dataset.h), keeping order, answers and each choice's byte length.
 * Returns 0 or CARBS_ENOMEM. */
int mcq_encode(const mcq_text_set_t *in, const bpe_t *bpe, mcq_set_t *out, carbs_err_t *err);

/* Items of in with the given task. */
size_t mcq_text_count(const mcq_text_set_t *in, mcq_task_t task);

void mcq_text_set_release(mcq_text_set_t *set);

#endif
