/*
 * corpus.h - the training corpus as documents of sentences, read from the
 * fetched Brown and State of the Union texts, and split by document
 * (docs/data.md).
 *
 * A document's text is its sentences joined by single spaces; each sentence
 * is a byte range of that text.  Brown documents also keep every token with
 * its part-of-speech tag (the MCQ builder's distractors need them); SOTU
 * documents have no tags.  The split is a pure function of document names,
 * so every run and every vocabulary size sees the same split.
 */
#ifndef CARBS_TRAINER_CORPUS_H
#define CARBS_TRAINER_CORPUS_H

#include "proto/common.h"

typedef enum corpus_source {
    CORPUS_BROWN = 0,
    CORPUS_SOTU = 1,
} corpus_source_t;

#define CORPUS_PART_MAP(X)                                                                         \
    X(TRAIN, "train")                                                                              \
    X(VAL, "val")                                                                                  \
    X(MCQ_DEV, "mcq_dev")                                                                          \
    X(MCQ_TEST, "mcq_test")

typedef enum corpus_part {
#define X(id, name) CORPUS_##id,
    CORPUS_PART_MAP(X)
#undef X
        CORPUS_PART_COUNT
} corpus_part_t;

/* A tagged Brown token: bytes [off, off + len) of the document text. */
typedef struct corpus_word {
    size_t off, len;
    char tag[16]; /* lower-case Brown tag, e.g. "nn", "vbd", "nn-tl" (truncated) */
} corpus_word_t;

typedef struct corpus_sent {
    size_t off, len;             /* bytes of the document text */
    size_t first_word, n_words;  /* Brown: its tokens in doc->words; SOTU: 0, 0 */
} corpus_sent_t;

typedef struct corpus_doc {
    char name[96]; /* "brown/ca10", "sotu/1790_george_washington_n" */
    corpus_source_t source;
    int year;      /* SOTU: the address's year; Brown: 0 */
    corpus_part_t part;
    char *text;    /* owned, NUL-terminated */
    size_t n_text;
    DA_TYPE(corpus_sent_t) sents;
    DA_TYPE(corpus_word_t) words;
} corpus_doc_t;

typedef struct corpus {
    corpus_doc_t *v;
    size_t n, cap;
} corpus_t;

/* Name of a part ("train", "val", "mcq_dev", "mcq_test"). */
const char *corpus_part_name(corpus_part_t part);

/* Parse one Brown file (one sentence a line of word/TAG tokens) and append
 * it as document name.  Tags are split off at the last '/', `` and '' become
 * '"', doubled ";", "?" and "!" collapse, and spaces before closing
 * punctuation and after opening quotes and brackets are removed.  Returns 0,
 * CARBS_EINVAL when raw is not UTF-8 or holds no sentence, CARBS_ENOMEM. */
int corpus_add_brown(corpus_t *c, const char *name, const char *raw, size_t n, carbs_err_t *err);

/* Parse one State of the Union address (plain text) and append it as
 * document name; year is its year.  Editorial annotations ("[Laughter]",
 * "[Applause]", "[p.8]", "[sic]", "[missing text]", footnote numbers) are
 * removed, other brackets keep their words, whitespace runs become single
 * spaces, a space is put back where a lost paragraph break glued two
 * sentences ("forms.Each"), and the text is cut into sentences after '.', '?' or '!' followed
 * by a space and a capital, digit or quote, except after a common
 * abbreviation or an initial.  Returns like corpus_add_brown. */
int corpus_add_sotu(corpus_t *c, const char *name, int year, const char *raw, size_t n,
                    carbs_err_t *err);

/* Read every Brown file (names c<genre><number>) from brown_dir and every
 * "<year>_<name>.txt" from sotu_dir, in name order; either dir may be NULL.
 * Returns 0, CARBS_ENOTFOUND when a given folder cannot be opened or both
 * hold nothing (the message says to run tools/fetch-corpus.sh), CARBS_EIO,
 * CARBS_EINVAL, CARBS_ENOMEM. */
int corpus_read(corpus_t *c, const char *brown_dir, const char *sotu_dir, carbs_err_t *err);

/* Assign every document its part.  Held out: Brown files whose number is
 * 0 mod 10 within their genre, and the middle address (in year order) of
 * each decade of SOTU.  Held-out Brown files, in name order, go
 * dev, test, dev, test, val (repeating); held-out addresses go val, dev,
 * test (repeating): cloze items come from Brown only, so Brown leans to the
 * MCQ parts.  Deterministic. */
void corpus_split(corpus_t *c);

/* Concatenate the texts of part's documents, each followed by "\n\n", into
 * a new malloc'd NUL-terminated buffer (caller frees).  Returns 0 or
 * CARBS_ENOMEM. */
int corpus_part_text(const corpus_t *c, corpus_part_t part, char **out, size_t *n_out);

void corpus_release(corpus_t *c);

#endif
