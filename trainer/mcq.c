/*
 * mcq.c - the multiple-choice question builder: word cloze and continuation
 * items from held-out documents, with fair distractors and a leakage filter
 * against the training split (docs/data.md; the rules are in mcq.h).
 *
 * The builder first reads the training part once: how often each word
 * occurs (ASCII case folded), which Brown tags it carries, and from those
 * the distractor pools, one per (content tag, floor(log2 frequency)).  A
 * build then forms every candidate item of a part, hashes the chunk
 * n-grams of each item's context plus answer into a small set, streams the
 * training documents once through that set, and keeps the items none of
 * whose n-grams turned up.  Only the held-out items' n-grams are stored, so
 * the filter needs memory in proportion to the questions, not the corpus.
 */
#include "proto/common.h"
#include "trainer/mcq.h"

#include "proto/splitmix.h"

#define N_CONTENT 6
#define TAG_OTHER N_CONTENT
#define N_BINS 40
#define MAX_WORD 48

static const char *const content_tags[N_CONTENT] = {"nn", "nns", "vb", "vbd", "vbg", "jj"};

typedef struct word {
    size_t off;   /* folded bytes in b->names */
    uint32_t len;
    uint32_t count;                 /* occurrences in the training text */
    uint32_t lower;                 /* of which written in lower case */
    uint32_t tags[N_CONTENT + 1];   /* Brown training tags: content tags, then other */
} word_t;

typedef DA_TYPE(uint32_t) id_list_t;
typedef DA_TYPE(uint64_t) u64_list_t;

/* A continuation distractor candidate: sentence sent of document doc. */
typedef struct sent_ref {
    size_t len; /* chunks */
    size_t doc, sent;
} sent_ref_t;

typedef DA_TYPE(sent_ref_t) sent_refs_t;

struct mcq_builder {
    const corpus_t *c;
    mcq_config_t cfg;
    DA_TYPE(word_t) words;
    DA_TYPE(char) names;
    uint32_t *slots; /* word id + 1, 0 = empty; open addressing */
    size_t n_slots;  /* power of two */
    id_list_t pool[N_CONTENT][N_BINS];
};

// ---- hashing and random numbers ----

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return mix64(h);
}

// ---- words ----

static char fold(char ch)
{
    return (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
}

/* True when s[0..n) is 1..MAX_WORD ASCII letters; *lower says all lower case. */
static bool is_word(const char *s, size_t n, bool *lower)
{
    if (!n || n > MAX_WORD)
        return false;
    *lower = true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            *lower = false;
        else if (s[i] < 'a' || s[i] > 'z')
            return false;
    }
    return true;
}

static uint64_t fold_hash(const char *s, size_t n)
{
    char f[MAX_WORD];
    for (size_t i = 0; i < n; i++)
        f[i] = fold(s[i]);
    return hash_bytes(f, n);
}

/* The id of the folded word s[0..n), or -1. */
static long word_find(const mcq_builder_t *b, const char *s, size_t n)
{
    if (!b->n_slots)
        return -1;
    size_t mask = b->n_slots - 1;
    for (size_t i = (size_t)fold_hash(s, n) & mask; b->slots[i]; i = (i + 1) & mask) {
        const word_t *w = &b->words.v[b->slots[i] - 1];
        if (w->len != n)
            continue;
        size_t k = 0;
        while (k < n && b->names.v[w->off + k] == fold(s[k]))
            k++;
        if (k == n)
            return (long)(b->slots[i] - 1);
    }
    return -1;
}

static int slots_grow(mcq_builder_t *b)
{
    size_t n = b->n_slots ? 2 * b->n_slots : 4096;
    uint32_t *slots = carbs_malloc(n * sizeof(uint32_t));
    if (!slots)
        return CARBS_ENOMEM;
    memset(slots, 0, n * sizeof(uint32_t));
    for (size_t id = 0; id < b->words.n; id++) {
        const word_t *w = &b->words.v[id];
        size_t i = (size_t)hash_bytes(b->names.v + w->off, w->len) & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->n_slots = n;
    return 0;
}

/* The id of word s[0..n) (a word per is_word), added when new. */
static int word_intern(mcq_builder_t *b, const char *s, size_t n, size_t *id)
{
    long found = word_find(b, s, n);
    if (found >= 0) {
        *id = (size_t)found;
        return 0;
    }
    if (2 * (b->words.n + 1) > b->n_slots && slots_grow(b))
        return CARBS_ENOMEM;
    word_t w = {.off = b->names.n, .len = (uint32_t)n};
    if (DA_RESERVE(&b->names, n) || DA_RESERVE(&b->words, 1))
        return CARBS_ENOMEM;
    for (size_t k = 0; k < n; k++)
        b->names.v[b->names.n++] = fold(s[k]);
    size_t mask = b->n_slots - 1;
    size_t i = (size_t)fold_hash(s, n) & mask;
    while (b->slots[i])
        i = (i + 1) & mask;
    b->slots[i] = (uint32_t)b->words.n + 1;
    *id = b->words.n;
    b->words.v[b->words.n++] = w;
    return 0;
}

static int tag_index(const char *tag)
{
    for (int t = 0; t < N_CONTENT; t++)
        if (strcmp(tag, content_tags[t]) == 0)
            return t;
    return TAG_OTHER;
}

/* Dominant Brown tag of word w (ties: the lower index) and its share. */
static int word_tag(const word_t *w, double *share)
{
    uint32_t total = 0, best = 0;
    int t_best = TAG_OTHER;
    for (int t = 0; t <= N_CONTENT; t++) {
        total += w->tags[t];
        if (w->tags[t] > best) {
            best = w->tags[t];
            t_best = t;
        }
    }
    *share = total ? (double)best / total : 0.0;
    return total ? t_best : -1;
}

static int freq_bin(uint32_t count)
{
    int k = 0;
    while (count > 1 && k < N_BINS - 1) {
        count >>= 1;
        k++;
    }
    return k;
}

/* Skip the leading whitespace of chunk [*s, e). */
static void chunk_trim(const char *text, size_t *s, size_t e)
{
    while (*s < e && (text[*s] == ' ' || text[*s] == '\n' || text[*s] == '\t'))
        (*s)++;
}

// ---- learning from the training part ----

static int learn_doc(mcq_builder_t *b, const corpus_doc_t *d)
{
    bool lower;
    size_t id;
    for (size_t pos = 0; pos < d->n_text;) {
        size_t e = bpe_next_chunk(d->text, d->n_text, pos), s = pos;
        pos = e;
        chunk_trim(d->text, &s, e);
        if (!is_word(d->text + s, e - s, &lower))
            continue;
        if (word_intern(b, d->text + s, e - s, &id))
            return CARBS_ENOMEM;
        b->words.v[id].count++;
        b->words.v[id].lower += lower;
    }
    for (size_t i = 0; i < d->words.n; i++) {
        const corpus_word_t *w = &d->words.v[i];
        if (!is_word(d->text + w->off, w->len, &lower))
            continue;
        if (word_intern(b, d->text + w->off, w->len, &id))
            return CARBS_ENOMEM;
        b->words.v[id].tags[tag_index(w->tag)]++;
    }
    return 0;
}

/* Pools: words whose dominant tag is a content tag held by a majority,
 * and which are mostly written in lower case (no "spanish"). */
static int build_pools(mcq_builder_t *b)
{
    for (size_t id = 0; id < b->words.n; id++) {
        const word_t *w = &b->words.v[id];
        double share;
        int t = word_tag(w, &share);
        if (t < 0 || t == TAG_OTHER || share <= 0.5 || 2 * w->lower <= w->count)
            continue;
        if (DA_PUSH(&b->pool[t][freq_bin(w->count)], (uint32_t)id))
            return CARBS_ENOMEM;
    }
    return 0;
}

mcq_builder_t *mcq_builder_new(const corpus_t *c, const mcq_config_t *cfg, carbs_err_t *err)
{
    mcq_config_t k = cfg ? *cfg : (mcq_config_t){0};
    k.max_context_chunks = k.max_context_chunks ? k.max_context_chunks : 64;
    k.min_choice_chunks = k.min_choice_chunks ? k.min_choice_chunks : 4;
    k.max_choice_chunks = k.max_choice_chunks ? k.max_choice_chunks : 48;
    k.cont_stride = k.cont_stride ? k.cont_stride : 3;
    k.length_tolerance = k.length_tolerance != 0.0 ? k.length_tolerance : 0.2;
    k.lexicon_share = k.lexicon_share != 0.0 ? k.lexicon_share : 0.9;
    k.leak_n = k.leak_n ? k.leak_n : 13;
    k.leak_n_short = k.leak_n_short ? k.leak_n_short : 8;
    k.short_chunks = k.short_chunks ? k.short_chunks : 32;
    k.max_draws = k.max_draws ? k.max_draws : 64;
    if (k.leak_n_short > k.leak_n || !(k.length_tolerance > 0.0 && k.length_tolerance < 1.0) ||
        !(k.lexicon_share > 0.0 && k.lexicon_share <= 1.0) ||
        k.min_choice_chunks > k.max_choice_chunks) {
        carbs_fail(err, CARBS_EINVAL,
                   "mcq config out of range (leak_n %zu, leak_n_short %zu, length_tolerance "
                   "%g, lexicon_share %g, choice chunks %zu..%zu)",
                   k.leak_n, k.leak_n_short, k.length_tolerance, k.lexicon_share,
                   k.min_choice_chunks, k.max_choice_chunks);
        return NULL;
    }
    mcq_builder_t *b = xcalloc(1, sizeof(*b));
    b->c = c;
    b->cfg = k;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].part == CORPUS_TRAIN && learn_doc(b, &c->v[i]))
            goto nomem;
    }
    if (build_pools(b))
        goto nomem;
    return b;
nomem:
    mcq_builder_free(b);
    carbs_fail(err, CARBS_ENOMEM, "out of memory learning the training vocabulary");
    return NULL;
}

void mcq_builder_free(mcq_builder_t *b)
{
    if (!b)
        return;
    DA_FREE(&b->words);
    DA_FREE(&b->names);
    free(b->slots);
    for (int t = 0; t < N_CONTENT; t++)
        for (int k = 0; k < N_BINS; k++)
            DA_FREE(&b->pool[t][k]);
    free(b);
}

// ---- text sets ----

static int pool_put(mcq_text_set_t *s, const char *a, size_t na, const char *z, size_t nz,
                    size_t *off)
{
    if (da__grow((void **)&s->text, &s->text_cap, s->text_n + na + nz, 1))
        return CARBS_ENOMEM;
    *off = s->text_n;
    memcpy(s->text + s->text_n, a, na);
    if (nz)
        memcpy(s->text + s->text_n + na, z, nz);
    s->text_n += na + nz;
    return 0;
}

/* Append an item: the context, and choices each made of prefix + body. */
static int item_add(mcq_text_set_t *s, mcq_text_item_t it, const char *ctx, size_t n_ctx,
                    const char *prefix, size_t n_prefix, const char *const body[MCQ_CHOICES],
                    const size_t n_body[MCQ_CHOICES])
{
    size_t mark = s->text_n;
    if (DA_RESERVE(s, 1) || pool_put(s, ctx, n_ctx, NULL, 0, &it.context))
        goto nomem;
    it.n_context = n_ctx;
    for (int k = 0; k < MCQ_CHOICES; k++) {
        if (pool_put(s, prefix, n_prefix, body[k], n_body[k], &it.choice[k]))
            goto nomem;
        it.n_choice[k] = n_prefix + n_body[k];
    }
    s->v[s->n++] = it;
    return 0;
nomem:
    s->text_n = mark;
    return CARBS_ENOMEM;
}

void mcq_text_set_release(mcq_text_set_t *set)
{
    free(set->v);
    free(set->text);
    memset(set, 0, sizeof(*set));
}

size_t mcq_text_count(const mcq_text_set_t *in, mcq_task_t task)
{
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++)
        k += in->v[i].task == task;
    return k;
}

// ---- contexts ----

/* Chunks in text[s, e). */
static size_t chunks(const char *text, size_t s, size_t e)
{
    return bpe_count_chunks(text + s, e - s);
}

/* The start of a context ending at end (> the start of sentence first):
 * the start of sentence first, else of a later sentence up to last that
 * begins before end, whichever is the earliest that keeps the context
 * within max chunks; failing all, the last max chunks from the latest of
 * those starts, leading spaces skipped. */
static size_t context_start(const corpus_doc_t *d, size_t first, size_t last, size_t end,
                            size_t max)
{
    size_t s = d->sents.v[first].off;
    for (size_t k = first; k <= last && d->sents.v[k].off < end; k++) {
        s = d->sents.v[k].off;
        if (chunks(d->text, s, end) <= max)
            return s;
    }
    size_t n = chunks(d->text, s, end);
    while (n > max && s < end) {
        s = bpe_next_chunk(d->text, end, s);
        n--;
    }
    chunk_trim(d->text, &s, end);
    return s;
}

// ---- word cloze ----

/* The target of sentence k: the last content word.  Fills *w_off, *w_len,
 * *tag; false when the sentence has none that can be asked. */
static bool cloze_target(const mcq_builder_t *b, const corpus_doc_t *d, size_t k, size_t *w_off,
                         size_t *w_len, int *tag)
{
    const corpus_sent_t *s = &d->sents.v[k];
    bool lower;
    if (d->source == CORPUS_BROWN) {
        for (size_t i = s->n_words; i-- > 0;) {
            const corpus_word_t *w = &d->words.v[s->first_word + i];
            int t = tag_index(w->tag);
            if (t == TAG_OTHER)
                continue;
            if (!is_word(d->text + w->off, w->len, &lower) || !lower)
                return false;
            *w_off = w->off;
            *w_len = w->len;
            *tag = t;
            return true;
        }
        return false;
    }
    /* untagged text: the Brown training lexicon tags it */
    size_t last_off = 0, last_len = 0;
    int last_tag = -1;
    double last_share = 0.0;
    bool last_lower = false;
    for (size_t pos = s->off; pos < s->off + s->len;) {
        size_t e = bpe_next_chunk(d->text, s->off + s->len, pos), st = pos;
        pos = e;
        chunk_trim(d->text, &st, e);
        if (!is_word(d->text + st, e - st, &lower))
            continue;
        long id = word_find(b, d->text + st, e - st);
        if (id < 0)
            continue;
        double share;
        int t = word_tag(&b->words.v[id], &share);
        if (t < 0 || t == TAG_OTHER)
            continue;
        last_off = st;
        last_len = e - st;
        last_tag = t;
        last_share = share;
        last_lower = lower;
    }
    if (last_tag < 0 || !last_lower || last_share < b->cfg.lexicon_share)
        return false;
    *w_off = last_off;
    *w_len = last_len;
    *tag = last_tag;
    return true;
}

/* Word ids occurring in text[s, e), into ids (at most cap; the rest ignored). */
static size_t context_words(const mcq_builder_t *b, const char *text, size_t s, size_t e,
                            uint32_t *ids, size_t cap)
{
    size_t n = 0;
    bool lower;
    for (size_t pos = s; pos < e && n < cap;) {
        size_t ce = bpe_next_chunk(text, e, pos), st = pos;
        pos = ce;
        chunk_trim(text, &st, ce);
        if (!is_word(text + st, ce - st, &lower))
            continue;
        long id = word_find(b, text + st, ce - st);
        if (id >= 0)
            ids[n++] = (uint32_t)id;
    }
    return n;
}

static bool in_ids(const uint32_t *ids, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Try to form the cloze item of sentence k.  Returns 1 when added, 0 when
 * the sentence gives no candidate, -1 when it has no fair distractors,
 * CARBS_ENOMEM. */
static int cloze_item(mcq_builder_t *b, const corpus_doc_t *d, size_t doc, size_t k,
                      uint64_t *rng, mcq_text_set_t *out)
{
    size_t w_off, w_len;
    int tag;
    if (k == 0 || !cloze_target(b, d, k, &w_off, &w_len, &tag))
        return 0;
    size_t end = w_off;
    while (end > d->sents.v[k].off && d->text[end - 1] == ' ')
        end--;
    size_t n_prefix = w_off - end; /* the space before the target, if any */
    size_t first = k >= 2 ? k - 2 : k - 1;
    size_t start = context_start(d, first, k, end, b->cfg.max_context_chunks);
    if (start >= end || chunks(d->text, start, end) + 1 < b->cfg.leak_n_short)
        return 0;
    long target = word_find(b, d->text + w_off, w_len);
    if (target < 0)
        return -1; /* never seen in training: no frequency to match */
    const id_list_t *pool = &b->pool[tag][freq_bin(b->words.v[target].count)];
    uint32_t ctx_ids[256], pick[MCQ_CHOICES - 1];
    size_t n_ctx = context_words(b, d->text, start, end, ctx_ids, ARRAY_SIZE(ctx_ids));
    size_t got = 0;
    for (size_t draw = 0; pool->n && got < MCQ_CHOICES - 1 && draw < b->cfg.max_draws; draw++) {
        uint32_t id = pool->v[(size_t)splitmix_below(rng, pool->n)];
        if (id == (uint32_t)target || in_ids(ctx_ids, n_ctx, id) || in_ids(pick, got, id))
            continue;
        pick[got++] = id;
    }
    if (got < MCQ_CHOICES - 1)
        return -1;
    mcq_text_item_t it = {.task = MCQ_TASK_CLOZE, .doc = doc, .sent = k};
    it.answer = (int)splitmix_below(rng, MCQ_CHOICES);
    const char *body[MCQ_CHOICES];
    size_t n_body[MCQ_CHOICES];
    for (int c = 0, j = 0; c < MCQ_CHOICES; c++) {
        if (c == it.answer) {
            body[c] = d->text + w_off;
            n_body[c] = w_len;
        } else {
            const word_t *w = &b->words.v[pick[j++]];
            body[c] = b->names.v + w->off;
            n_body[c] = w->len;
        }
    }
    if (item_add(out, it, d->text + start, end - start, d->text + end, n_prefix, body, n_body))
        return CARBS_ENOMEM;
    return 1;
}

// ---- continuation ----

static int cmp_sent_ref(const void *pa, const void *pb)
{
    const sent_ref_t *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    if (a->doc != b->doc)
        return a->doc < b->doc ? -1 : 1;
    return a->sent < b->sent ? -1 : a->sent > b->sent;
}

/* Every sentence of part usable as a continuation choice, by length. */
static int part_sentences(const mcq_builder_t *b, corpus_part_t part, sent_refs_t *out)
{
    const corpus_t *c = b->c;
    for (size_t i = 0; i < c->n; i++) {
        const corpus_doc_t *d = &c->v[i];
        if (d->part != part)
            continue;
        for (size_t k = 0; k < d->sents.n; k++) {
            size_t n = chunks(d->text, d->sents.v[k].off, d->sents.v[k].off + d->sents.v[k].len);
            sent_ref_t r = {.len = n, .doc = i, .sent = k};
            if (n >= b->cfg.min_choice_chunks && n <= b->cfg.max_choice_chunks &&
                DA_PUSH(out, r))
                return CARBS_ENOMEM;
        }
    }
    if (out->n)
        qsort(out->v, out->n, sizeof(sent_ref_t), cmp_sent_ref);
    return 0;
}

/* First index of refs with len >= want. */
static size_t lower_bound(const sent_ref_t *refs, size_t n, size_t want)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (refs[mid].len < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cont_item(mcq_builder_t *b, const corpus_doc_t *d, size_t doc, size_t k,
                     const sent_ref_t *refs, size_t n_refs, uint64_t *rng, mcq_text_set_t *out)
{
    const corpus_t *c = b->c;
    const corpus_sent_t *ans = &d->sents.v[k];
    size_t len = chunks(d->text, ans->off, ans->off + ans->len);
    if (len < b->cfg.min_choice_chunks || len > b->cfg.max_choice_chunks)
        return 0;
    size_t end = d->sents.v[k - 1].off + d->sents.v[k - 1].len;
    size_t start = context_start(d, k - 2, k - 2, end, b->cfg.max_context_chunks);
    if (start >= end)
        return 0;
    double tol = b->cfg.length_tolerance;
    size_t lo = (size_t)((double)len * (1.0 - tol) + 0.999999);
    size_t hi = (size_t)((double)len * (1.0 + tol));
    size_t r0 = lower_bound(refs, n_refs, lo), r1 = lower_bound(refs, n_refs, hi + 1);
    const sent_ref_t *pick[MCQ_CHOICES - 1];
    size_t got = 0;
    for (size_t draw = 0; r1 > r0 && got < MCQ_CHOICES - 1 && draw < b->cfg.max_draws; draw++) {
        const sent_ref_t *r = &refs[r0 + (size_t)splitmix_below(rng, r1 - r0)];
        const corpus_sent_t *s = &c->v[r->doc].sents.v[r->sent];
        bool dup = r->doc == doc || c->v[r->doc].source != d->source ||
                   (s->len == ans->len && memcmp(c->v[r->doc].text + s->off,
                                                                  d->text + ans->off,
                                                                  s->len) == 0);
        for (size_t j = 0; j < got && !dup; j++)
            dup = pick[j] == r;
        if (!dup)
            pick[got++] = r;
    }
    if (got < MCQ_CHOICES - 1)
        return -1;
    mcq_text_item_t it = {.task = MCQ_TASK_CONTINUATION, .doc = doc, .sent = k};
    it.answer = (int)splitmix_below(rng, MCQ_CHOICES);
    const char *body[MCQ_CHOICES];
    size_t n_body[MCQ_CHOICES];
    for (int ch = 0, j = 0; ch < MCQ_CHOICES; ch++) {
        if (ch == it.answer) {
            body[ch] = d->text + ans->off;
            n_body[ch] = ans->len;
        } else {
            const sent_ref_t *r = pick[j++];
            const corpus_sent_t *s = &c->v[r->doc].sents.v[r->sent];
            body[ch] = c->v[r->doc].text + s->off;
            n_body[ch] = s->len;
        }
    }
    if (item_add(out, it, d->text + start, end - start, " ", 1, body, n_body))
        return CARBS_ENOMEM;
    return 1;
}

// ---- leakage filter ----

/* Folded hash of each non-space chunk of text[0..n), appended to out. */
static int chunk_hashes(const char *text, size_t n, u64_list_t *out)
{
    char f[BPE_MAX_CHUNK];
    for (size_t pos = 0; pos < n;) {
        size_t e = bpe_next_chunk(text, n, pos), s = pos;
        pos = e;
        chunk_trim(text, &s, e);
        if (s == e)
            continue;
        for (size_t i = s; i < e; i++)
            f[i - s] = fold(text[i]);
        if (DA_PUSH(out, hash_bytes(f, e - s)))
            return CARBS_ENOMEM;
    }
    return 0;
}

static uint64_t gram_key(const uint64_t *h, size_t n)
{
    uint64_t k = mix64(n + 0x632be59bd9b4e019ULL);
    for (size_t i = 0; i < n; i++)
        k = mix64(k ^ (h[i] + 0x9e3779b97f4a7c15ULL));
    return k | 1; /* 0 marks an empty slot */
}

typedef struct gram_set {
    uint64_t *key;
    unsigned char *hit;
    size_t n_slots; /* power of two */
} gram_set_t;

static size_t gram_slot(const gram_set_t *g, uint64_t key)
{
    size_t i = (size_t)mix64(key) & (g->n_slots - 1);
    while (g->key[i] && g->key[i] != key)
        i = (i + 1) & (g->n_slots - 1);
    return i;
}

/* Mark the items of s[first..) that share an n-gram with the training
 * part: keep[i] false for those. */
static int leak_filter(const mcq_builder_t *b, const mcq_text_set_t *s, size_t first, bool *keep)
{
    u64_list_t h = {0}, keys = {0};
    DA_TYPE(size_t) item_end = {0};
    gram_set_t g = {0};
    int rc = CARBS_ENOMEM;
    bool used[2] = {false, false};
    const size_t ns[2] = {b->cfg.leak_n, b->cfg.leak_n_short};
    for (size_t i = first; i < s->n; i++) {
        const mcq_text_item_t *it = &s->v[i];
        h.n = 0;
        if (chunk_hashes(s->text + it->context, it->n_context, &h) ||
            chunk_hashes(s->text + it->choice[it->answer], it->n_choice[it->answer], &h))
            goto out;
        int which = h.n < b->cfg.short_chunks ? 1 : 0;
        size_t n = ns[which];
        used[which] = true;
        for (size_t j = 0; j + n <= h.n; j++)
            if (DA_PUSH(&keys, gram_key(h.v + j, n)))
                goto out;
        if (DA_PUSH(&item_end, keys.n))
            goto out;
    }
    g.n_slots = 1024;
    while (g.n_slots < 2 * keys.n)
        g.n_slots *= 2;
    g.key = carbs_malloc(g.n_slots * sizeof(uint64_t));
    g.hit = carbs_malloc(g.n_slots);
    if (!g.key || !g.hit)
        goto out;
    memset(g.key, 0, g.n_slots * sizeof(uint64_t));
    memset(g.hit, 0, g.n_slots);
    for (size_t j = 0; j < keys.n; j++)
        g.key[gram_slot(&g, keys.v[j])] = keys.v[j];
    for (size_t i = 0; i < b->c->n; i++) {
        const corpus_doc_t *d = &b->c->v[i];
        if (d->part != CORPUS_TRAIN)
            continue;
        h.n = 0;
        if (chunk_hashes(d->text, d->n_text, &h))
            goto out;
        for (int w = 0; w < 2; w++) {
            if (!used[w])
                continue;
            for (size_t j = 0; j + ns[w] <= h.n; j++) {
                size_t slot = gram_slot(&g, gram_key(h.v + j, ns[w]));
                if (g.key[slot])
                    g.hit[slot] = 1;
            }
        }
    }
    for (size_t i = first, j = 0; i < s->n; i++) {
        size_t k = i - first;
        keep[k] = true;
        for (; j < item_end.v[k]; j++)
            if (g.hit[gram_slot(&g, keys.v[j])])
                keep[k] = false;
    }
    rc = 0;
out:
    DA_FREE(&h);
    DA_FREE(&keys);
    DA_FREE(&item_end);
    free(g.key);
    free(g.hit);
    return rc;
}

// ---- building a part ----

static int copy_item(mcq_text_set_t *out, const mcq_text_set_t *in, size_t i)
{
    const mcq_text_item_t *it = &in->v[i];
    const char *body[MCQ_CHOICES];
    size_t n_body[MCQ_CHOICES];
    for (int c = 0; c < MCQ_CHOICES; c++) {
        body[c] = in->text + it->choice[c];
        n_body[c] = it->n_choice[c];
    }
    return item_add(out, *it, in->text + it->context, it->n_context, "", 0, body, n_body);
}

int mcq_build(mcq_builder_t *b, corpus_part_t part, mcq_text_set_t *out, mcq_stats_t *stats,
              carbs_err_t *err)
{
    mcq_text_set_t cand = {0};
    sent_refs_t refs = {0};
    mcq_stats_t st = {0};
    bool *keep = NULL;
    int rc = 0;
    if ((unsigned)part >= CORPUS_PART_COUNT || part == CORPUS_TRAIN)
        return carbs_fail(err, CARBS_EINVAL, "mcq: no questions from part '%s'",
                          corpus_part_name(part));
    const corpus_t *c = b->c;
    if (part_sentences(b, part, &refs))
        goto nomem;
    for (int task = 0; task < MCQ_TASK_COUNT; task++) {
        uint64_t rng = mix64(b->cfg.seed ^ mix64(0x5bd1e995ULL * (uint64_t)(part + 1) +
                                                 (uint64_t)task));
        for (size_t i = 0; i < c->n; i++) {
            const corpus_doc_t *d = &c->v[i];
            if (d->part != part)
                continue;
            if (task == MCQ_TASK_CLOZE) {
                for (size_t k = 1; k < d->sents.n; k++) {
                    int r = cloze_item(b, d, i, k, &rng, &cand);
                    if (r == CARBS_ENOMEM)
                        goto nomem;
                    st.candidates[task] += r != 0;
                    st.no_distractors[task] += r < 0;
                }
            } else {
                for (size_t k = 2; k < d->sents.n; k += b->cfg.cont_stride) {
                    int r = cont_item(b, d, i, k, refs.v, refs.n, &rng, &cand);
                    if (r == CARBS_ENOMEM)
                        goto nomem;
                    st.candidates[task] += r != 0;
                    st.no_distractors[task] += r < 0;
                }
            }
        }
    }
    keep = carbs_malloc((cand.n ? cand.n : 1) * sizeof(bool));
    if (!keep || leak_filter(b, &cand, 0, keep))
        goto nomem;
    for (size_t i = 0; i < cand.n; i++) {
        mcq_task_t task = cand.v[i].task;
        if (!keep[i]) {
            st.leaked[task]++;
            continue;
        }
        if (copy_item(out, &cand, i))
            goto nomem;
        st.kept[task]++;
    }
    goto out;
nomem:
    rc = carbs_fail(err, CARBS_ENOMEM, "out of memory building '%s' questions",
                    corpus_part_name(part));
out:
    if (stats)
        *stats = st;
    free(keep);
    DA_FREE(&refs);
    mcq_text_set_release(&cand);
    return rc;
}

// ---- tokenizing ----

int mcq_encode(const mcq_text_set_t *in, const bpe_t *bpe, mcq_set_t *out, carbs_err_t *err)
{
    bpe_tokens_t tok = {0};
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc; i++) {
        const mcq_text_item_t *it = &in->v[i];
        size_t at[MCQ_CHOICES + 1], n[MCQ_CHOICES], bytes[MCQ_CHOICES];
        const int32_t *choice[MCQ_CHOICES];
        tok.n = 0;
        rc = bpe_encode(bpe, in->text + it->context, it->n_context, &tok);
        at[0] = tok.n;
        for (int c = 0; c < MCQ_CHOICES && !rc; c++) {
            rc = bpe_encode(bpe, in->text + it->choice[c], it->n_choice[c], &tok);
            at[c + 1] = tok.n;
            bytes[c] = it->n_choice[c];
        }
        if (rc)
            break;
        for (int c = 0; c < MCQ_CHOICES; c++) {
            choice[c] = tok.v + at[c];
            n[c] = at[c + 1] - at[c];
        }
        rc = mcq_set_add(out, it->task, tok.v, at[0], choice, n, bytes, it->answer);
    }
    DA_FREE(&tok);
    if (rc)
        return carbs_fail(err, rc, "cannot tokenize the questions: %s", carbs_strerror(rc));
    return 0;
}
