/*
 * cache.h - the token cache files: written by `carbs data prepare`
 * (prepare.h) and read by dataset_load() (dataset.h); docs/data.md.
 *
 * Layout, per vocabulary size N under the data folder:
 *
 *   vocab_N/tokenizer.bpe            bpe_save() format
 *   vocab_N/train.bin, val.bin       token shards
 *   vocab_N/mcq_dev.bin, mcq_test.bin  tokenized multiple-choice sets
 *   vocab_N/manifest.txt             what prepare_run did (written last; prepare.h)
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
#ifndef CARBS_TRAINER_CACHE_H
#define CARBS_TRAINER_CACHE_H

#include "proto/common.h"
#include "trainer/mcq_set.h"

#define CACHE_FORMAT_VERSION 1
#define CACHE_HEADER_BYTES 32
#define CACHE_MCQ_ITEM_BYTES 120

/* Write n tokens (each < vocab_size <= 65536) as a token shard at path,
 * recording n_bytes as the text bytes they decode to.  Returns 0,
 * CARBS_EINVAL for a token out of range, or CARBS_EIO naming the file. */
int cache_write_tokens(const char *path, size_t vocab_size, const int32_t *tok, size_t n,
                       uint64_t n_bytes, carbs_err_t *err);

/* Write set as an MCQ file at path.  Returns 0, CARBS_EINVAL for a token
 * out of range, or CARBS_EIO naming the file. */
int cache_write_mcq(const char *path, size_t vocab_size, const mcq_set_t *set, carbs_err_t *err);

/* Read a token shard into a new array *tok of *n tokens (caller frees) and
 * its byte count into *n_bytes.  Returns 0, CARBS_ENOTFOUND (no such file),
 * CARBS_EVERSION (another format version), CARBS_EIO (bad magic, truncated,
 * a vocabulary other than vocab_size, a token out of range), CARBS_ENOMEM. */
int cache_read_tokens(const char *path, size_t vocab_size, int32_t **tok, size_t *n,
                      uint64_t *n_bytes, carbs_err_t *err);

/* Read an MCQ file into the empty set (release with mcq_set_release).  Same
 * returns as cache_read_tokens, and CARBS_EIO for an item pointing outside
 * the pool or with a bad task or answer; on failure set is left empty. */
int cache_read_mcq(const char *path, size_t vocab_size, mcq_set_t *set, carbs_err_t *err);

#endif
