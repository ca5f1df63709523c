/*
 * test_mcq.c - the question builder on a generated corpus: cloze targets
 * and their distractors (same tag, same frequency bin, not in the context),
 * continuation distractors (other documents, length within 20 %), the
 * leakage filter on a planted 13-gram, determinism, tokenizing, and every
 * error return.
 *
 * The corpus: sentences "The ADJ NOUN VERBED a NOUN (with the ADJ NOUN)*."
 * in Brown word/TAG form (and as plain text for SOTU-style documents).  Half
 * the nouns are drawn from a common third of the list, so the training
 * counts fall into two log2 bins and bin matching is tested for real.
 */
#include "proto/common.h"
#include "trainer/mcq.h"

#include <strings.h>

#include "tests/check.h"

static const char *const nouns[] = {
    "lantern", "meadow", "harbor",  "kettle", "violin",  "orchard", "saddle", "pebble",
    "glacier", "ledger", "compass", "thimble", "quarry", "banner",  "anchor", "furnace",
    "lagoon",  "trellis", "walnut", "cinder", "parcel",  "gravel",  "falcon", "mitten",
    "barrel",  "chimney", "ribbon", "tunnel", "beacon",  "saucer",  "pillow", "ladder",
    "basket",  "cabinet", "carpet", "feather", "garden", "hammer",  "island", "jacket",
    "kennel",  "lobster", "marble", "needle", "oyster",  "pocket",  "rocket", "spindle"};
static const char *const verbs[] = {"carried", "painted", "found",  "mended", "sold",   "polished",
                                    "buried",  "counted", "lifted", "traded", "washed", "folded"};
static const char *const adjs[] = {"quiet", "rusty", "narrow",  "golden", "bitter", "hollow",
                                   "gentle", "crooked", "frozen", "tidy",   "pale",   "brisk"};

#define N_NOUNS ARRAY_SIZE(nouns)
#define SENTS_PER_DOC 40

typedef struct gen {
    uint64_t s;
} gen_t;

static uint64_t gen_next(gen_t *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *pick_noun(gen_t *g)
{
    if (gen_next(g) % 2)
        return nouns[gen_next(g) % (N_NOUNS / 3)];
    return nouns[gen_next(g) % N_NOUNS];
}

typedef DA_TYPE(char) text_t;

static void put(text_t *t, const char *s)
{
    size_t n = strlen(s);
    CHECK_EQ(DA_RESERVE(t, n + 1), 0);
    memcpy(t->v + t->n, s, n + 1);
    t->n += n;
}

/* Append one sentence, tagged (Brown) or plain. */
static void sentence(gen_t *g, text_t *t, bool tagged)
{
    char buf[128];
    int extra = (int)(gen_next(g) % 4);
    const char *w[6 + 4 * 3];
    const char *tags[6 + 4 * 3];
    size_t n = 0;
    w[n] = "The", tags[n++] = "at";
    w[n] = adjs[gen_next(g) % ARRAY_SIZE(adjs)], tags[n++] = "jj";
    w[n] = pick_noun(g), tags[n++] = "nn";
    w[n] = verbs[gen_next(g) % ARRAY_SIZE(verbs)], tags[n++] = "vbd";
    w[n] = "a", tags[n++] = "at";
    w[n] = pick_noun(g), tags[n++] = "nn";
    for (int k = 0; k < extra; k++) {
        w[n] = "with", tags[n++] = "in";
        w[n] = "the", tags[n++] = "at";
        w[n] = adjs[gen_next(g) % ARRAY_SIZE(adjs)], tags[n++] = "jj";
        w[n] = pick_noun(g), tags[n++] = "nn";
    }
    if (tagged)
        put(t, "\n\n\t");
    else if (t->n)
        put(t, " ");
    for (size_t i = 0; i < n; i++) {
        if (tagged)
            snprintf(buf, sizeof(buf), "%s%s/%s", i ? " " : "", w[i], tags[i]);
        else
            snprintf(buf, sizeof(buf), "%s%s", i ? " " : "", w[i]);
        put(t, buf);
    }
    put(t, tagged ? " ./.\n" : ".");
}

#define PLANT_TAGGED                                                                               \
    "\n\n\tThe/at golden/jj falcon/nn traded/vbd a/at ledger/nn with/in the/at pale/jj walnut/nn " \
    "with/in the/at hollow/jj quarry/nn ./.\n"
#define PLANT_TEXT "The golden falcon traded a ledger with the pale walnut with the hollow quarry."
#define PLANT_DOC "brown/cb01"
#define PLANT_SENT 5

/* Train: 30 Brown + 6 SOTU documents; dev and test: 6 Brown + 3 SOTU each.
 * With plant, the sentence PLANT_SENT of PLANT_DOC also appears in a
 * training document. */
static void make_corpus(corpus_t *c, uint64_t seed, bool plant)
{
    static const struct {
        char genre;
        int docs;
        corpus_part_t part;
    } brown[] = {{'a', 30, CORPUS_TRAIN}, {'b', 6, CORPUS_MCQ_DEV}, {'c', 6, CORPUS_MCQ_TEST}};
    gen_t g = {seed};
    carbs_err_t err = {0};
    char name[64];
    for (size_t s = 0; s < ARRAY_SIZE(brown); s++) {
        for (int i = 1; i <= brown[s].docs; i++) {
            text_t t = {0};
            snprintf(name, sizeof(name), "brown/c%c%02d", brown[s].genre, i);
            bool here = strcmp(name, PLANT_DOC) == 0;
            for (int k = 0; k < SENTS_PER_DOC; k++) {
                if ((here && k == PLANT_SENT) || (plant && s == 0 && i == 7 && k == 20))
                    put(&t, PLANT_TAGGED);
                else
                    sentence(&g, &t, true);
            }
            CHECK_EQ(corpus_add_brown(c, name, t.v, t.n, &err), 0);
            c->v[c->n - 1].part = brown[s].part;
            DA_FREE(&t);
        }
    }
    static const corpus_part_t sotu[] = {CORPUS_TRAIN,   CORPUS_TRAIN,    CORPUS_MCQ_DEV,
                                         CORPUS_TRAIN,   CORPUS_MCQ_TEST, CORPUS_TRAIN,
                                         CORPUS_MCQ_DEV, CORPUS_TRAIN,    CORPUS_MCQ_TEST,
                                         CORPUS_MCQ_DEV, CORPUS_TRAIN,    CORPUS_MCQ_TEST};
    for (size_t i = 0; i < ARRAY_SIZE(sotu); i++) {
        text_t t = {0};
        for (int k = 0; k < SENTS_PER_DOC; k++)
            sentence(&g, &t, false);
        snprintf(name, sizeof(name), "sotu/%zu_someone", 1850 + i);
        CHECK_EQ(corpus_add_sotu(c, name, (int)(1850 + i), t.v, t.n, &err), 0);
        c->v[c->n - 1].part = sotu[i];
        DA_FREE(&t);
    }
}

// ---- helpers that recompute what the builder should have used ----

/* Occurrences of word in the training documents (whole words, case folded). */
static size_t train_count(const corpus_t *c, const char *word)
{
    size_t n = 0, wn = strlen(word);
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].part != CORPUS_TRAIN)
            continue;
        const char *t = c->v[i].text;
        for (size_t p = 0; p + wn <= c->v[i].n_text; p++) {
            bool start = p == 0 || t[p - 1] == ' ';
            bool end = p + wn == c->v[i].n_text || t[p + wn] == ' ' || t[p + wn] == '.';
            if (start && end && strncasecmp(t + p, word, wn) == 0)
                n++;
        }
    }
    return n;
}

static int bin_of(size_t count)
{
    int k = 0;
    while (count > 1) {
        count >>= 1;
        k++;
    }
    return k;
}

static bool is_noun(const char *w)
{
    for (size_t i = 0; i < N_NOUNS; i++)
        if (strcmp(w, nouns[i]) == 0)
            return true;
    return false;
}

/* True when word occurs in text[0..n) as a whole word. */
static bool has_word(const char *text, size_t n, const char *word)
{
    size_t wn = strlen(word);
    for (size_t p = 0; p + wn <= n; p++) {
        bool start = p == 0 || text[p - 1] == ' ';
        bool end = p + wn == n || text[p + wn] == ' ' || text[p + wn] == '.';
        if (start && end && strncasecmp(text + p, word, wn) == 0)
            return true;
    }
    return false;
}

static void copy_span(char *buf, size_t cap, const char *s, size_t n)
{
    snprintf(buf, cap, "%.*s", (int)n, s);
}

static const corpus_sent_t *doc_sent(const corpus_t *c, size_t doc, size_t k)
{
    return &c->v[doc].sents.v[k];
}

// ---- tests ----

static void test_mcq_cloze_items(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    mcq_text_set_t s = {0};
    mcq_stats_t st;
    make_corpus(&c, 0x7d3a91c2ULL, false);
    mcq_config_t cfg = {.seed = 918273};
    mcq_builder_t *b = mcq_builder_new(&c, &cfg, &err);
    CHECK(b != NULL);
    if (!b)
        goto out;
    CHECK_EQ(mcq_build(b, CORPUS_MCQ_DEV, &s, &st, &err), 0);
    size_t n_cloze = mcq_text_count(&s, MCQ_TASK_CLOZE), from_sotu = 0, answers[4] = {0};
    CHECK_EQ(n_cloze, st.kept[MCQ_TASK_CLOZE]);
    CHECK(n_cloze > 250); /* 9 documents of 40 sentences */
    CHECK_EQ(st.candidates[MCQ_TASK_CLOZE], 9 * (SENTS_PER_DOC - 1));
    CHECK_EQ(st.kept[MCQ_TASK_CLOZE] + st.leaked[MCQ_TASK_CLOZE] +
                 st.no_distractors[MCQ_TASK_CLOZE],
             st.candidates[MCQ_TASK_CLOZE]);
    for (size_t i = 0; i < s.n; i++) {
        const mcq_text_item_t *it = &s.v[i];
        if (it->task != MCQ_TASK_CLOZE)
            continue;
        const corpus_doc_t *d = &c.v[it->doc];
        CHECK_EQ(d->part, CORPUS_MCQ_DEV);
        from_sotu += d->source == CORPUS_SOTU;
        answers[it->answer]++;
        /* the answer is the sentence's last noun; the context ends just before it */
        const corpus_sent_t *sn = doc_sent(&c, it->doc, it->sent);
        char sentence[512], target[64], ctx[1024];
        copy_span(sentence, sizeof(sentence), d->text + sn->off, sn->len);
        char *last = strrchr(sentence, ' ');
        CHECK(last != NULL);
        if (!last)
            continue;
        copy_span(target, sizeof(target), last, strlen(last) - 1); /* " noun" without "." */
        char ans[64];
        copy_span(ans, sizeof(ans), s.text + it->choice[it->answer], it->n_choice[it->answer]);
        CHECK_STR(ans, target);
        copy_span(ctx, sizeof(ctx), s.text + it->context, it->n_context);
        *last = '\0';
        CHECK(strlen(ctx) >= strlen(sentence) &&
              strcmp(ctx + strlen(ctx) - strlen(sentence), sentence) == 0);
        CHECK(it->n_context <= 64 * 12); /* at most 64 chunks of short words */
        CHECK(bpe_count_chunks(ctx, strlen(ctx)) <= 64);
        int bin = bin_of(train_count(&c, target + 1));
        for (int k = 0; k < MCQ_CHOICES; k++) {
            char w[64];
            copy_span(w, sizeof(w), s.text + it->choice[k], it->n_choice[k]);
            CHECK(w[0] == ' ');
            for (int j = 0; j < k; j++)
                CHECK(it->n_choice[j] != it->n_choice[k] ||
                      memcmp(s.text + it->choice[j], w, it->n_choice[k]) != 0);
            if (k == it->answer)
                continue;
            CHECK(is_noun(w + 1));                       /* same tag */
            CHECK_EQ(bin_of(train_count(&c, w + 1)), bin); /* same frequency bin */
            CHECK(!has_word(ctx, strlen(ctx), w + 1));   /* not in the context */
        }
    }
    CHECK(from_sotu > 60); /* untagged documents get targets through the lexicon */
    for (int k = 0; k < MCQ_CHOICES; k++)
        CHECK(answers[k] > n_cloze / 8);
out:
    mcq_text_set_release(&s);
    mcq_builder_free(b);
    corpus_release(&c);
}

static void test_mcq_continuation_items(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    mcq_text_set_t s = {0};
    mcq_stats_t st;
    make_corpus(&c, 0x51e0b77aULL, false);
    mcq_builder_t *b = mcq_builder_new(&c, &(mcq_config_t){.seed = 31337}, &err);
    CHECK(b != NULL);
    if (!b)
        goto out;
    CHECK_EQ(mcq_build(b, CORPUS_MCQ_TEST, &s, &st, &err), 0);
    size_t n_cont = mcq_text_count(&s, MCQ_TASK_CONTINUATION);
    CHECK_EQ(n_cont, st.kept[MCQ_TASK_CONTINUATION]);
    CHECK(n_cont > 80);
    for (size_t i = 0; i < s.n; i++) {
        const mcq_text_item_t *it = &s.v[i];
        if (it->task != MCQ_TASK_CONTINUATION)
            continue;
        const corpus_doc_t *d = &c.v[it->doc];
        CHECK_EQ(d->part, CORPUS_MCQ_TEST);
        CHECK_EQ((it->sent - 2) % 3, 0);
        const corpus_sent_t *ans = doc_sent(&c, it->doc, it->sent);
        const corpus_sent_t *prev = doc_sent(&c, it->doc, it->sent - 1);
        const corpus_sent_t *prev2 = doc_sent(&c, it->doc, it->sent - 2);
        /* context: the two sentences before, exactly */
        CHECK_EQ(it->n_context, prev->off + prev->len - prev2->off);
        CHECK(memcmp(s.text + it->context, d->text + prev2->off, it->n_context) == 0);
        CHECK_EQ(it->n_choice[it->answer], ans->len + 1);
        CHECK(memcmp(s.text + it->choice[it->answer] + 1, d->text + ans->off, ans->len) == 0);
        size_t len = bpe_count_chunks(d->text + ans->off, ans->len);
        for (int k = 0; k < MCQ_CHOICES; k++) {
            if (k == it->answer)
                continue;
            const char *w = s.text + it->choice[k] + 1;
            size_t wn = it->n_choice[k] - 1, found = 0;
            /* a whole sentence of another document of the same part and source */
            for (size_t j = 0; j < c.n; j++) {
                for (size_t q = 0; q < c.v[j].sents.n; q++) {
                    const corpus_sent_t *x = &c.v[j].sents.v[q];
                    /* (a short sentence may also occur, by chance, elsewhere) */
                    if (x->len == wn && memcmp(c.v[j].text + x->off, w, wn) == 0 &&
                        j != it->doc && c.v[j].part == CORPUS_MCQ_TEST &&
                        c.v[j].source == d->source)
                        found++;
                }
            }
            CHECK(found >= 1);
            size_t dl = bpe_count_chunks(w, wn);
            CHECK((double)dl >= 0.8 * (double)len && (double)dl <= 1.2 * (double)len);
        }
    }
out:
    mcq_text_set_release(&s);
    mcq_builder_free(b);
    corpus_release(&c);
}

/* Whether s holds a task item for sentence sent of the document named doc. */
static bool has_item(const corpus_t *c, const mcq_text_set_t *s, mcq_task_t task,
                     const char *doc, size_t sent)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].task == task && s->v[i].sent == sent &&
            strcmp(c->v[s->v[i].doc].name, doc) == 0)
            return true;
    return false;
}

static void test_mcq_leakage_filter(void)
{
    carbs_err_t err = {0};
    size_t leaked_short = 0;
    for (int plant = 0; plant < 3; plant++) {
        corpus_t c = {0};
        mcq_text_set_t s = {0};
        mcq_stats_t st;
        make_corpus(&c, 0x2bad5eedULL, plant == 1);
        /* every item long enough for the 13-gram rule, except in round 2 where
         * every item counts as short and the 8-gram rule applies */
        mcq_config_t cfg = {.seed = 5, .short_chunks = plant == 2 ? 1000 : 9};
        mcq_builder_t *b = mcq_builder_new(&c, &cfg, &err);
        CHECK(b != NULL);
        if (b)
            CHECK_EQ(mcq_build(b, CORPUS_MCQ_DEV, &s, &st, &err), 0);
        /* the planted sentence is in the held-out document either way */
        const corpus_doc_t *d = NULL;
        for (size_t i = 0; i < c.n; i++)
            if (strcmp(c.v[i].name, PLANT_DOC) == 0)
                d = &c.v[i];
        CHECK(d != NULL);
        if (d) {
            char buf[256];
            const corpus_sent_t *x = &d->sents.v[PLANT_SENT];
            copy_span(buf, sizeof(buf), d->text + x->off, x->len);
            CHECK_STR(buf, PLANT_TEXT);
        }
        bool cloze = has_item(&c, &s, MCQ_TASK_CLOZE, PLANT_DOC, PLANT_SENT);
        bool cont = has_item(&c, &s, MCQ_TASK_CONTINUATION, PLANT_DOC, PLANT_SENT);
        /* the sentence after it has the 13-gram in its context */
        bool next = has_item(&c, &s, MCQ_TASK_CLOZE, PLANT_DOC, PLANT_SENT + 1);
        if (plant == 2) {
            /* this corpus's short sentences repeat 8-grams of the training text */
            leaked_short = st.leaked[MCQ_TASK_CLOZE] + st.leaked[MCQ_TASK_CONTINUATION];
            CHECK(leaked_short > 0);
        } else if (plant) {
            CHECK(!cloze && !cont && !next);
            CHECK(st.leaked[MCQ_TASK_CLOZE] >= 2);
            CHECK(st.leaked[MCQ_TASK_CONTINUATION] >= 1);
        } else {
            CHECK(cloze && cont && next);
            CHECK_EQ(st.leaked[MCQ_TASK_CLOZE], 0);
            CHECK_EQ(st.leaked[MCQ_TASK_CONTINUATION], 0);
        }
        mcq_text_set_release(&s);
        mcq_builder_free(b);
        corpus_release(&c);
    }
}

static bool sets_equal(const mcq_text_set_t *a, const mcq_text_set_t *b)
{
    return a->n == b->n && a->text_n == b->text_n &&
           memcmp(a->v, b->v, a->n * sizeof(mcq_text_item_t)) == 0 &&
           memcmp(a->text, b->text, a->text_n) == 0;
}

static void test_mcq_determinism(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    mcq_text_set_t s[4] = {{0}};
    make_corpus(&c, 0x600dcafeULL, false);
    mcq_builder_t *b1 = mcq_builder_new(&c, &(mcq_config_t){.seed = 77}, &err);
    mcq_builder_t *b2 = mcq_builder_new(&c, &(mcq_config_t){.seed = 77}, &err);
    mcq_builder_t *b3 = mcq_builder_new(&c, &(mcq_config_t){.seed = 78}, &err);
    CHECK(b1 && b2 && b3);
    if (!b1 || !b2 || !b3)
        goto out;
    /* the same seed gives the same items, whichever part was built first */
    CHECK_EQ(mcq_build(b1, CORPUS_MCQ_DEV, &s[0], NULL, &err), 0);
    CHECK_EQ(mcq_build(b2, CORPUS_MCQ_TEST, &s[3], NULL, &err), 0);
    mcq_text_set_release(&s[3]);
    CHECK_EQ(mcq_build(b2, CORPUS_MCQ_DEV, &s[1], NULL, &err), 0);
    CHECK_EQ(mcq_build(b3, CORPUS_MCQ_DEV, &s[2], NULL, &err), 0);
    CHECK(s[0].n > 0);
    CHECK(sets_equal(&s[0], &s[1]));
    CHECK(!sets_equal(&s[0], &s[2]));
    /* another seed moves answers and distractors, not the questions asked */
    CHECK_EQ(s[0].n, s[2].n);
    size_t moved = 0;
    for (size_t i = 0; i < s[0].n && i < s[2].n; i++) {
        CHECK_EQ(s[0].v[i].sent, s[2].v[i].sent);
        moved += s[0].v[i].answer != s[2].v[i].answer;
    }
    CHECK(moved > s[0].n / 2);
    /* validation gives questions too; the training part none */
    CHECK_EQ(mcq_build(b1, CORPUS_VAL, &s[3], NULL, &err), 0);
    CHECK_EQ(s[3].n, 0); /* this corpus has no validation documents */
    CHECK_EQ(mcq_build(b1, CORPUS_TRAIN, &s[3], NULL, &err), CARBS_EINVAL);
    CHECK_EQ(mcq_build(b1, CORPUS_PART_COUNT, &s[3], NULL, &err), CARBS_EINVAL);
out:
    for (int i = 0; i < 4; i++)
        mcq_text_set_release(&s[i]);
    mcq_builder_free(b1);
    mcq_builder_free(b2);
    mcq_builder_free(b3);
    corpus_release(&c);
}

static void test_mcq_encode(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    mcq_text_set_t s = {0};
    mcq_set_t set = {0};
    char *train = NULL;
    size_t n_train = 0;
    bpe_t *bpe = NULL;
    bpe_tokens_t joint = {0}, part = {0};
    make_corpus(&c, 0xfeedbeefULL, false);
    mcq_builder_t *b = mcq_builder_new(&c, NULL, &err);
    CHECK(b != NULL);
    if (!b)
        goto out;
    CHECK_EQ(mcq_build(b, CORPUS_MCQ_DEV, &s, NULL, &err), 0);
    CHECK_EQ(corpus_part_text(&c, CORPUS_TRAIN, &train, &n_train), 0);
    bpe = bpe_train(train, n_train, 300, &err);
    CHECK(bpe != NULL);
    if (!bpe)
        goto out;
    CHECK_EQ(mcq_encode(&s, bpe, &set, &err), 0);
    CHECK_EQ(set.n, s.n);
    for (size_t i = 0; i < s.n && i < set.n; i++) {
        const mcq_text_item_t *t = &s.v[i];
        const mcq_item_t *it = &set.v[i];
        CHECK_EQ(it->task, t->task);
        CHECK_EQ(it->answer, t->answer);
        char *out = NULL;
        size_t n_out = 0;
        CHECK_EQ(bpe_decode(bpe, set.pool + it->context, it->n_context, &out, &n_out), 0);
        CHECK(n_out == t->n_context && memcmp(out, s.text + t->context, n_out) == 0);
        free(out);
        for (int k = 0; k < MCQ_CHOICES; k++) {
            CHECK_EQ(it->choice_bytes[k], t->n_choice[k]);
            CHECK_EQ(bpe_decode(bpe, set.pool + it->choice[k], it->n_choice[k], &out, &n_out),
                     0);
            CHECK(n_out == t->n_choice[k] && memcmp(out, s.text + t->choice[k], n_out) == 0);
            free(out);
        }
        /* tokenizing the context and the answer apart equals tokenizing them together */
        if (i % 17 == 0) {
            char buf[4096];
            int a = t->answer;
            snprintf(buf, sizeof(buf), "%.*s%.*s", (int)t->n_context, s.text + t->context,
                     (int)t->n_choice[a], s.text + t->choice[a]);
            joint.n = part.n = 0;
            CHECK_EQ(bpe_encode(bpe, buf, strlen(buf), &joint), 0);
            CHECK_EQ(joint.n, it->n_context + it->n_choice[a]);
            CHECK(memcmp(joint.v, set.pool + it->context, it->n_context * sizeof(int32_t)) == 0);
            CHECK(memcmp(joint.v + it->n_context, set.pool + it->choice[a],
                         it->n_choice[a] * sizeof(int32_t)) == 0);
        }
    }
out:
    DA_FREE(&joint);
    DA_FREE(&part);
    bpe_free(bpe);
    free(train);
    mcq_set_release(&set);
    mcq_text_set_release(&s);
    mcq_builder_free(b);
    corpus_release(&c);
}

static void test_mcq_config_errors(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    make_corpus(&c, 11, false);
    CHECK(mcq_builder_new(&c, &(mcq_config_t){.leak_n = 5, .leak_n_short = 8}, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(mcq_builder_new(&c, &(mcq_config_t){.length_tolerance = 1.5}, &err) == NULL);
    CHECK(mcq_builder_new(&c, &(mcq_config_t){.lexicon_share = -0.25}, &err) == NULL);
    CHECK(mcq_builder_new(&c, &(mcq_config_t){.min_choice_chunks = 50}, &err) == NULL);
    CHECK(strstr(err.msg, "mcq config") != NULL);
    mcq_builder_free(NULL);
    corpus_release(&c);
}

/* Every allocation failure is CARBS_ENOMEM with nothing leaked. */
static void test_mcq_oom(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    make_corpus(&c, 0x0badf00dULL, false);
    /* a small corpus keeps the loop short: drop all but a few documents */
    int rc = CARBS_ENOMEM;
    size_t k;
    for (k = 1; rc == CARBS_ENOMEM && k < 100000; k += 1 + k / 64) {
        mcq_text_set_t s = {0};
        carbs_fault_fail_at(k);
        mcq_builder_t *b = mcq_builder_new(&c, NULL, &err);
        if (!b) {
            CHECK_EQ(err.code, CARBS_ENOMEM);
            continue;
        }
        rc = mcq_build(b, CORPUS_MCQ_DEV, &s, NULL, &err);
        CHECK(rc == 0 || rc == CARBS_ENOMEM);
        mcq_text_set_release(&s);
        mcq_builder_free(b);
    }
    carbs_fault_fail_at(0);
    CHECK_EQ(rc, 0);
    CHECK(k > 20);
    corpus_release(&c);
}

int main(void)
{
    RUN(test_mcq_cloze_items);
    RUN(test_mcq_continuation_items);
    RUN(test_mcq_leakage_filter);
    RUN(test_mcq_determinism);
    RUN(test_mcq_encode);
    RUN(test_mcq_config_errors);
    RUN(test_mcq_oom);
    return check_summary();
}
