/*
 * prepare.h - `carbs data prepare`: the pipeline that reads the corpus,
 * trains the tokenizer and writes the token cache (docs/data.md).
 *
 * Layout, per vocabulary size N under the data folder:
 *
 *   vocab_N/tokenizer.bpe            bpe_save() format
 *   vocab_N/train.bin, val.bin       token shards
 *   vocab_N/mcq_dev.bin, mcq_test.bin  tokenized multiple-choice sets
 *   vocab_N/manifest.txt             what prepare_run did (written last)
 *
 * Every integer is little-endian.  A token shard is a 32-byte header
 * (magic "CARBSTOK", u32 format version, u32 vocab size, u64 token count,
 * u64 UTF-8 bytes the tokens decode to) followed by the tokens as uint16
 * (vocabularies are at most 8192).  An MCQ file is a 32-byte header (magic
 * "CARBSMCQ", u32 version, u32 vocab size, u64 items, u64 pool tokens), then
 * per item 120 bytes (u32 task, u32 answer, u64 context offset, u64 context
 * tokens, and per choice u64 offset, u64 tokens, u64 bytes), then the pool
 * as uint16 tokens.
 */
#ifndef CARBS_TRAINER_PREPARE_H
#define CARBS_TRAINER_PREPARE_H

#include "proto/common.h"
#include "trainer/corpus.h"
#include "trainer/mcq_set.h"

/* What `carbs data prepare` does.  All-zero gives the defaults. */
typedef struct prepare_config {
    const char *data_dir;  /* NULL: $CARBS_DATA, else "./data-cache" */
    const char *brown_dir; /* NULL: <data_dir>/src/brown/package (tools/fetch-corpus.sh) */
    const char *sotu_dir;  /* NULL: <data_dir>/src/sotu/package/data */
    size_t vocab_size;     /* 0: 2048; else in [BPE_MIN_VOCAB, BPE_MAX_VOCAB] */
    uint64_t seed;         /* the MCQ builder's seed */
    bool force;            /* rebuild even when vocab_N/ is complete */
} prepare_config_t;

/* What a prepared cache holds, per part of the split. */
typedef struct prepare_report {
    bool skipped;      /* the cache was complete; figures read from its manifest */
    size_t vocab_size;
    size_t n_merges;
    uint64_t seed;
    double seconds;    /* wall time of the run that built the cache */
    size_t docs[CORPUS_PART_COUNT];
    size_t sents[CORPUS_PART_COUNT];
    uint64_t bytes[CORPUS_PART_COUNT];
    uint64_t tokens[CORPUS_PART_COUNT]; /* every part's text, tokenized (for the record) */
    size_t items[CORPUS_PART_COUNT][MCQ_TASK_COUNT]; /* MCQ parts only */
    char dir[4096];    /* the vocab_N folder */
} prepare_report_t;

/* The data folder: dir when given, else $CARBS_DATA, else "./data-cache".
 * Borrowed (from dir or the environment). */
const char *prepare_data_dir(const char *dir);

/* Run the pipeline for one vocabulary size: read the corpus, split it by
 * document, train the tokenizer on the training part only, tokenize the
 * training and validation parts into shards, build and tokenize the MCQ
 * dev and test sets (mcq.h), and write vocab_N/ under the data folder
 * (created if missing; files appear under their final names only when
 * complete, the manifest last).  When the manifest and every file already
 * exist and cfg->force is false, nothing is rebuilt and rep is read back
 * from the manifest.  rep (may be NULL) is overwritten.  Returns 0, or
 * CARBS_EINVAL (vocabulary out of range), CARBS_ENOTFOUND (no corpus: run
 * tools/fetch-corpus.sh), CARBS_EIO, CARBS_ENOMEM, with err saying which
 * file or step failed. */
int prepare_run(const prepare_config_t *cfg, prepare_report_t *rep, carbs_err_t *err);

/* Read the manifest of vocab_N/ under data_dir into rep (skipped set).
 * Returns 0, CARBS_ENOTFOUND (not prepared), CARBS_EIO (unreadable or
 * malformed manifest). */
int prepare_read_manifest(const char *data_dir, size_t vocab_size, prepare_report_t *rep,
                          carbs_err_t *err);

#endif
