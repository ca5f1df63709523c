/*
 * test_corpus.c - the Brown and State of the Union readers and the split by
 * document, on small hand-written texts in tests/data/corpus/ (sentences
 * written for these tests, in each corpus's format and with its quirks).
 */
#include "proto/common.h"
#include "trainer/corpus.h"

#include <sys/stat.h>
#include <unistd.h>

#include "tests/check.h"

/* Sentence k of doc as a NUL-terminated copy in buf. */
static const char *sent(const corpus_doc_t *d, size_t k, char *buf, size_t cap)
{
    if (k >= d->sents.n)
        return "(no such sentence)";
    const corpus_sent_t *s = &d->sents.v[k];
    snprintf(buf, cap, "%.*s", (int)s->len, d->text + s->off);
    return buf;
}

static const corpus_doc_t *find_doc(const corpus_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}

static void data_dir(char *buf, size_t cap, const char *sub)
{
    const char *root = getenv("CARBS_SOURCE_ROOT");
    snprintf(buf, cap, "%s/tests/data/corpus/%s", root ? root : "..", sub);
}

static void test_corpus_brown_parse(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    char brown[512], buf[512];
    data_dir(brown, sizeof(brown), "brown");
    CHECK_EQ(corpus_read(&c, brown, NULL, &err), 0);
    CHECK_EQ(c.n, 3); /* README is not a Brown file name */
    const corpus_doc_t *d = find_doc(&c, "brown/ca01");
    CHECK(d != NULL);
    if (!d)
        goto out;
    CHECK_EQ(d->source, CORPUS_BROWN);
    CHECK_EQ(d->sents.n, 4);
    CHECK_STR(sent(d, 0, buf, sizeof(buf)),
              "The harbor pilot guided seven trawlers past the reef.");
    CHECK_STR(sent(d, 1, buf, sizeof(buf)), "Why did the lighthouse keeper ignore the storm?");
    CHECK_STR(sent(d, 2, buf, sizeof(buf)), "\"Nobody warned us\", she said; the crew nodded.");
    CHECK_STR(sent(d, 3, buf, sizeof(buf)), "He paid $12 for 1-1/2 pounds of cod (fresh).");
    /* sentences are joined by one space and make up the whole text */
    CHECK_EQ(d->sents.v[0].off, 0);
    CHECK_EQ(d->sents.v[1].off, d->sents.v[0].len + 1);
    CHECK_EQ(d->n_text, d->sents.v[3].off + d->sents.v[3].len);
    CHECK_EQ(strlen(d->text), d->n_text);
    CHECK(strchr(d->text, '/') == d->text + d->sents.v[3].off + 19); /* only "1-1/2" */
    /* tags: lower case, kept per word, the doubled ";" and "?" counted once */
    const corpus_sent_t *s0 = &d->sents.v[0], *s1 = &d->sents.v[1], *s2 = &d->sents.v[2];
    CHECK_EQ(s0->n_words, 10);
    CHECK_EQ(s1->n_words, 9);
    CHECK_EQ(s2->n_words, 13);
    const corpus_word_t *w = &d->words.v[s0->first_word + 1];
    CHECK_EQ(w->len, 6);
    CHECK(memcmp(d->text + w->off, "harbor", 6) == 0);
    CHECK_STR(w->tag, "nn-tl");
    CHECK_STR(d->words.v[s0->first_word + 3].tag, "vbd");
    CHECK_STR(d->words.v[s1->first_word + 8].tag, ".");
    const corpus_word_t *q = &d->words.v[s2->first_word];
    CHECK_EQ(q->len, 1);
    CHECK_EQ(d->text[q->off], '"');
    const corpus_word_t *frac = &d->words.v[d->sents.v[3].first_word + 5];
    CHECK(frac->len == 5 && memcmp(d->text + frac->off, "1-1/2", 5) == 0);
    CHECK_STR(frac->tag, "cd");
    d = find_doc(&c, "brown/ca10");
    CHECK(d != NULL);
    if (d)
        CHECK_STR(sent(d, 1, buf, sizeof(buf)), "Marigolds bloomed beside the crooked fence!");
out:
    corpus_release(&c);
    CHECK(c.v == NULL && c.n == 0);
}

static void test_corpus_sotu_parse(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    char sotu[512], buf[512];
    data_dir(sotu, sizeof(sotu), "sotu");
    CHECK_EQ(corpus_read(&c, NULL, sotu, &err), 0);
    CHECK_EQ(c.n, 2); /* the .json file is skipped */
    const corpus_doc_t *d = find_doc(&c, "sotu/1801_imaginary_president");
    CHECK(d != NULL);
    if (!d)
        goto out;
    CHECK_EQ(d->year, 1801);
    CHECK_EQ(d->source, CORPUS_SOTU);
    CHECK_EQ(d->words.n, 0);
    CHECK_EQ(d->sents.n, 6);
    CHECK_STR(sent(d, 0, buf, sizeof(buf)), "Gentlemen of the Congress: The harvest of this year "
                                            "was generous and the granaries are full.");
    CHECK_STR(sent(d, 1, buf, sizeof(buf)),
              "Our envoy, Mr. Tallow of Ohio, returned from the coast with a treaty.");
    CHECK_STR(sent(d, 2, buf, sizeof(buf)), "It grants our merchants free passage on the river.");
    CHECK_STR(sent(d, 3, buf, sizeof(buf)),
              "The debt fell by 4.5 percent in the U.S. Treasury accounts!");
    CHECK_STR(sent(d, 4, buf, sizeof(buf)), "Will the unsettled lands be surveyed?");
    CHECK_STR(sent(d, 5, buf, sizeof(buf)), "\"We shall see,\" said J. Q. Marsh.");
    CHECK(strstr(d->text, "[") == NULL && strstr(d->text, "pplause") == NULL &&
          strstr(d->text, "aughter") == NULL && strstr(d->text, "  ") == NULL);
    d = find_doc(&c, "sotu/1805_imaginary_president");
    CHECK(d != NULL);
    if (!d)
        goto out;
    CHECK_EQ(d->year, 1805);
    CHECK_STR(d->text, "Citizens: The new canal opened in May. Barges carried iron ore to the "
                       "mills. We thank the workers. Their toil built it.");
    CHECK_EQ(d->sents.n, 4);
    CHECK_STR(sent(d, 1, buf, sizeof(buf)), "Barges carried iron ore to the mills.");
out:
    corpus_release(&c);
}

static void test_corpus_errors(void)
{
    corpus_t c = {0};
    carbs_err_t err = {0};
    char brown[512];
    CHECK_EQ(corpus_read(&c, "/nonexistent/carbs-corpus-7361", NULL, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "fetch-corpus.sh") != NULL);
    CHECK_EQ(corpus_read(&c, NULL, NULL, &err), CARBS_ENOTFOUND);
    /* a folder with no corpus files */
    data_dir(brown, sizeof(brown), "brown");
    CHECK_EQ(corpus_read(&c, NULL, brown, &err), CARBS_ENOTFOUND);
    CHECK_EQ(c.n, 0);
    CHECK_EQ(corpus_add_brown(&c, "brown/cx01", "\xff\xfe/nn\n", 6, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "UTF-8") != NULL);
    CHECK_EQ(corpus_add_brown(&c, "brown/cx02", "\n\n\t  \n", 5, &err), CARBS_EINVAL);
    CHECK_EQ(corpus_add_sotu(&c, "sotu/1900_x", 1900, "  [Applause]  ", 14, &err), CARBS_EINVAL);
    CHECK_EQ(corpus_add_sotu(&c, "sotu/1900_y", 1900, "ok.\xc0\xaf", 5, &err), CARBS_EINVAL);
    CHECK_EQ(c.n, 0);
    CHECK_STR(corpus_part_name(CORPUS_MCQ_TEST), "mcq_test");
    CHECK_STR(corpus_part_name(CORPUS_PART_COUNT), "?");
    corpus_release(&c);
}

/* Every allocation failure comes back as CARBS_ENOMEM with nothing leaked. */
static void test_corpus_oom(void)
{
    char brown[512], sotu[512];
    data_dir(brown, sizeof(brown), "brown");
    data_dir(sotu, sizeof(sotu), "sotu");
    int rc = CARBS_ENOMEM;
    size_t k;
    for (k = 1; rc == CARBS_ENOMEM && k < 5000; k++) {
        corpus_t c = {0};
        carbs_err_t err = {0};
        carbs_fault_fail_at(k);
        rc = corpus_read(&c, brown, sotu, &err);
        CHECK(rc == 0 || rc == CARBS_ENOMEM);
        corpus_release(&c);
    }
    carbs_fault_fail_at(0);
    CHECK_EQ(rc, 0);
    CHECK(k > 10);
}

/* A tiny Brown file under name, its number's last digit marking held-out. */
static void add_brown(corpus_t *c, const char *name)
{
    static const char raw[] = "\n\n\tThe/at gull/nn circled/vbd ./.\n";
    carbs_err_t err = {0};
    CHECK_EQ(corpus_add_brown(c, name, raw, sizeof(raw) - 1, &err), 0);
}

static void add_sotu(corpus_t *c, int year)
{
    static const char raw[] = "The union endures.";
    char name[64];
    carbs_err_t err = {0};
    snprintf(name, sizeof(name), "sotu/%d_someone", year);
    CHECK_EQ(corpus_add_sotu(c, name, year, raw, sizeof(raw) - 1, &err), 0);
}

static void test_corpus_split_rule(void)
{
    corpus_t c = {0};
    static const struct {
        char genre;
        int files;
    } genres[] = {{'a', 44}, {'b', 27}, {'f', 48}, {'r', 9}};
    char name[32];
    size_t n_brown = 0;
    for (size_t g = 0; g < ARRAY_SIZE(genres); g++) {
        for (int i = 1; i <= genres[g].files; i++) {
            snprintf(name, sizeof(name), "brown/c%c%02d", genres[g].genre, i);
            add_brown(&c, name);
            n_brown++;
        }
    }
    /* decades: 1790s with 3 addresses, 1800s with 4, 1810s with 1, 2020s with 2 */
    static const int years[] = {1790, 1791, 1793, 1801, 1802, 1805, 1809, 1814, 2021, 2022};
    for (size_t i = 0; i < ARRAY_SIZE(years); i++)
        add_sotu(&c, years[i]);
    corpus_split(&c);
    static const corpus_part_t brown_want[] = {CORPUS_MCQ_DEV, CORPUS_MCQ_TEST, CORPUS_MCQ_DEV,
                                               CORPUS_MCQ_TEST, CORPUS_VAL};
    size_t held = 0, count[CORPUS_PART_COUNT] = {0};
    for (size_t i = 0; i < n_brown; i++) {
        const corpus_doc_t *d = &c.v[i];
        int num = (d->name[8] - '0') * 10 + (d->name[9] - '0');
        if (num % 10 == 0) {
            CHECK_EQ(d->part, brown_want[held % 5]);
            held++;
        } else {
            CHECK_EQ(d->part, CORPUS_TRAIN);
        }
        count[d->part]++;
    }
    CHECK_EQ(held, 4 + 2 + 4 + 0);
    CHECK_EQ(count[CORPUS_MCQ_DEV], 4);
    CHECK_EQ(count[CORPUS_MCQ_TEST], 4);
    CHECK_EQ(count[CORPUS_VAL], 2);
    /* the middle address of each decade, cycling val, dev, test */
    static const corpus_part_t sotu_want[] = {CORPUS_TRAIN, CORPUS_VAL,      CORPUS_TRAIN,
                                              CORPUS_TRAIN, CORPUS_TRAIN,    CORPUS_MCQ_DEV,
                                              CORPUS_TRAIN, CORPUS_MCQ_TEST, CORPUS_TRAIN,
                                              CORPUS_VAL};
    for (size_t i = 0; i < ARRAY_SIZE(years); i++)
        CHECK_EQ(c.v[n_brown + i].part, sotu_want[i]);
    /* idempotent, and a pure function of the names */
    corpus_part_t before[256];
    for (size_t i = 0; i < c.n; i++)
        before[i] = c.v[i].part;
    c.v[3].part = CORPUS_VAL;
    corpus_split(&c);
    for (size_t i = 0; i < c.n; i++)
        CHECK_EQ(c.v[i].part, before[i]);
    /* part text: each document followed by a blank line */
    char *text = NULL;
    size_t n = 0;
    CHECK_EQ(corpus_part_text(&c, CORPUS_VAL, &text, &n), 0);
    CHECK_EQ(n, 2 * strlen("The gull circled.\n\n") + 2 * strlen("The union endures.\n\n"));
    CHECK(text && strncmp(text, "The gull circled.\n\nThe gull circled.\n\nThe union", 47) == 0);
    free(text);
    CHECK_EQ(corpus_part_text(&c, CORPUS_MCQ_DEV, &text, &n), 0);
    CHECK_EQ(n, 4 * strlen("The gull circled.\n\n") + strlen("The union endures.\n\n"));
    free(text);
    corpus_release(&c);
}

int main(void)
{
    RUN(test_corpus_brown_parse);
    RUN(test_corpus_sotu_parse);
    RUN(test_corpus_errors);
    RUN(test_corpus_oom);
    RUN(test_corpus_split_rule);
    return check_summary();
}
