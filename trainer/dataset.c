/*
 * dataset.c - the dataset the trainer reads: the prepared caches (read
 * through cache.h) and a synthetic corpus generated in code for tests.
 *
 * The synthetic grammar: SYN_WORDS "words", each a fixed sequence of one to
 * three token ids in [1, vocab_size); sentences are random walks of a
 * bigram model in which each word has four successors with probabilities
 * 0.5, 0.25, 0.15, 0.1, and a sentence ends (token 0) with probability
 * SYN_P_END after each word.  A model that learns the successor table beats
 * the unigram entropy, so the loss falls.  MCQ items ask for the next word
 * (cloze) or the next three words (continuation) after a walk; the correct
 * choice follows the table and the distractors start with a word that is not
 * a successor of the context's last word.  Every token counts as
 * SYN_BYTES_PER_TOKEN bytes, for val_bytes and choice_bytes alike.
 */
#include "proto/common.h"
#include "trainer/dataset.h"

#include <sys/stat.h>

#include "proto/splitmix.h"
#include "trainer/bpe.h"
#include "trainer/cache.h"

#define SYN_WORDS 256
#define SYN_SUCC 4
#define SYN_P_END 0.1
#define SYN_BYTES_PER_TOKEN 3
#define SYN_ITEMS_PER_TASK 64
#define SYN_MIN_VOCAB 16

void dataset_release(dataset_t *ds)
{
    if (!ds)
        return;
    free(ds->train);
    free(ds->val);
    mcq_set_release(&ds->mcq_dev);
    mcq_set_release(&ds->mcq_test);
    memset(ds, 0, sizeof(*ds));
}

// ---- loading the caches ----

int dataset_load(const char *data_dir, size_t vocab_size, dataset_t *out, carbs_err_t *err)
{
    char dir[4096], path[4200];
    uint64_t bytes = 0, val_bytes = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    if (vocab_size < BPE_MIN_VOCAB || vocab_size > BPE_MAX_VOCAB)
        return carbs_fail(err, CARBS_EINVAL, "vocabulary size %zu outside [%d, %d]", vocab_size,
                          BPE_MIN_VOCAB, BPE_MAX_VOCAB);
    snprintf(dir, sizeof(dir), "%s/vocab_%zu", data_dir, vocab_size);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return carbs_fail(err, CARBS_ENOTFOUND,
                          "no prepared data for vocabulary %zu in '%s'; run `carbs data prepare "
                          "--out %s --vocab %zu`",
                          vocab_size, data_dir, data_dir, vocab_size);
    out->vocab_size = vocab_size;
    snprintf(path, sizeof(path), "%s/train.bin", dir);
    rc = cache_read_tokens(path, vocab_size, &out->train, &out->n_train, &bytes, err);
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "%s/val.bin", dir);
    rc = cache_read_tokens(path, vocab_size, &out->val, &out->n_val, &val_bytes, err);
    if (rc)
        goto out;
    out->val_bytes = (double)val_bytes;
    snprintf(path, sizeof(path), "%s/mcq_dev.bin", dir);
    rc = cache_read_mcq(path, vocab_size, &out->mcq_dev, err);
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "%s/mcq_test.bin", dir);
    rc = cache_read_mcq(path, vocab_size, &out->mcq_test, err);
out:
    if (rc)
        dataset_release(out);
    return rc;
}

// ---- synthetic corpus ----

typedef struct syn {
    uint64_t rng;
    size_t vocab;
    int32_t tok[SYN_WORDS][3];
    size_t len[SYN_WORDS];
    size_t succ[SYN_WORDS][SYN_SUCC];
} syn_t;

static double syn_uniform(syn_t *g)
{
    return splitmix_uniform(&g->rng);
}

static size_t syn_below(syn_t *g, size_t n)
{
    return (size_t)splitmix_below(&g->rng, n);
}

static void syn_init(syn_t *g, size_t vocab, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    g->rng = seed ^ 0x5eed5eed5eedULL;
    g->vocab = vocab;
    for (size_t w = 0; w < SYN_WORDS; w++) {
        g->len[w] = 1 + syn_below(g, 3);
        for (size_t k = 0; k < g->len[w]; k++)
            g->tok[w][k] = (int32_t)(1 + syn_below(g, vocab - 1));
        for (size_t s = 0; s < SYN_SUCC; s++)
            g->succ[w][s] = syn_below(g, SYN_WORDS);
    }
}

static size_t syn_step(syn_t *g, size_t w)
{
    static const double cum[SYN_SUCC] = {0.5, 0.75, 0.9, 1.0};
    double u = syn_uniform(g);
    size_t s = 0;
    while (s + 1 < SYN_SUCC && u >= cum[s])
        s++;
    return g->succ[w][s];
}

static bool syn_is_succ(const syn_t *g, size_t w, size_t x)
{
    for (size_t s = 0; s < SYN_SUCC; s++)
        if (g->succ[w][s] == x)
            return true;
    return false;
}

/* Fill tok[0..n) with sentences of the grammar. */
static void syn_stream(syn_t *g, int32_t *tok, size_t n)
{
    size_t i = 0, w = syn_below(g, SYN_WORDS);
    while (i < n) {
        for (size_t k = 0; k < g->len[w] && i < n; k++)
            tok[i++] = g->tok[w][k];
        if (syn_uniform(g) < SYN_P_END) {
            if (i < n)
                tok[i++] = 0;
            w = syn_below(g, SYN_WORDS);
        } else {
            w = syn_step(g, w);
        }
    }
}

typedef DA_TYPE(int32_t) syn_buf_t;

static int syn_push_word(const syn_t *g, size_t w, syn_buf_t *b)
{
    for (size_t k = 0; k < g->len[w]; k++)
        if (DA_PUSH(b, g->tok[w][k]))
            return CARBS_ENOMEM;
    return 0;
}

/* One item: a walk of 6..12 words, then choices of n_words words each. */
static int syn_item(syn_t *g, mcq_set_t *set, mcq_task_t task, size_t n_words)
{
    syn_buf_t ctx = {0}, ch[MCQ_CHOICES] = {{0}};
    int rc = 0;
    size_t w = syn_below(g, SYN_WORDS), walk = 6 + syn_below(g, 7);
    for (size_t i = 0; i < walk && !rc; i++) {
        rc = syn_push_word(g, w, &ctx);
        if (i + 1 < walk)
            w = syn_step(g, w);
    }
    int answer = (int)syn_below(g, MCQ_CHOICES);
    for (int c = 0; c < MCQ_CHOICES && !rc; c++) {
        size_t x;
        if (c == answer) {
            x = syn_step(g, w);
        } else {
            do {
                x = syn_below(g, SYN_WORDS);
            } while (syn_is_succ(g, w, x));
        }
        for (size_t k = 0; k < n_words && !rc; k++) {
            rc = syn_push_word(g, x, &ch[c]);
            x = syn_step(g, x);
        }
    }
    if (!rc) {
        const int32_t *cp[MCQ_CHOICES];
        size_t cn[MCQ_CHOICES], cb[MCQ_CHOICES];
        for (int c = 0; c < MCQ_CHOICES; c++) {
            cp[c] = ch[c].v;
            cn[c] = ch[c].n;
            cb[c] = SYN_BYTES_PER_TOKEN * ch[c].n;
        }
        rc = mcq_set_add(set, task, ctx.v, ctx.n, cp, cn, cb, answer);
    }
    DA_FREE(&ctx);
    for (int c = 0; c < MCQ_CHOICES; c++)
        DA_FREE(&ch[c]);
    return rc;
}

static int syn_mcq(syn_t *g, mcq_set_t *set)
{
    for (size_t i = 0; i < SYN_ITEMS_PER_TASK; i++) {
        int rc = syn_item(g, set, MCQ_TASK_CLOZE, 1);
        if (!rc)
            rc = syn_item(g, set, MCQ_TASK_CONTINUATION, 3);
        if (rc)
            return rc;
    }
    return 0;
}

int dataset_synthetic(size_t vocab_size, uint64_t seed, size_t n_train, dataset_t *out,
                      carbs_err_t *err)
{
    syn_t *g = NULL;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (vocab_size < SYN_MIN_VOCAB || vocab_size > (1u << 24) || n_train < 64)
        return carbs_fail(err, CARBS_EINVAL,
                          "synthetic dataset needs vocab_size in [%d, 2^24] and n_train >= 64 "
                          "(got %zu, %zu)",
                          SYN_MIN_VOCAB, vocab_size, n_train);
    g = xmalloc(sizeof(*g));
    syn_init(g, vocab_size, seed);
    out->vocab_size = vocab_size;
    out->n_train = n_train;
    out->n_val = n_train / 8;
    out->train = carbs_malloc(n_train * sizeof(int32_t));
    out->val = carbs_malloc(out->n_val * sizeof(int32_t));
    if (!out->train || !out->val) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory for %zu synthetic tokens", n_train);
        goto out;
    }
    syn_stream(g, out->train, out->n_train);
    syn_stream(g, out->val, out->n_val);
    out->val_bytes = (double)(SYN_BYTES_PER_TOKEN * out->n_val);
    rc = syn_mcq(g, &out->mcq_dev);
    if (!rc)
        rc = syn_mcq(g, &out->mcq_test);
    if (rc)
        carbs_fail(err, rc, "out of memory building synthetic mcq sets");
out:
    free(g);
    if (rc)
        dataset_release(out);
    return rc;
}
