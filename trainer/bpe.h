/*
 * bpe.h - byte-level byte-pair-encoding tokenizer (docs/trainer.md, docs/data.md).
 *
 * Ids 0..255 are the raw bytes; id 256 + r is the r-th merge, which joins two
 * earlier ids.  Any byte string encodes (invalid UTF-8 included) and decodes
 * back to exactly itself.  Training and encoding both work inside word-like
 * chunks (bpe_next_chunk), so no token ever spans two words:
 *
 *   - a letter run (ASCII letters and every byte >= 0x80, so UTF-8 text is
 *     "letters"), a digit run, or a run of other non-space bytes, each
 *     optionally preceded by one space (" word", " 42", " --");
 *   - an apostrophe followed by letters ("'s", "'t");
 *   - a run of whitespace, leaving its last space to the chunk after it;
 *   - no chunk is longer than BPE_MAX_CHUNK bytes (longer runs are cut).
 *
 * A bpe_t is immutable after bpe_train()/bpe_load() and may be shared by
 * threads that only encode and decode.  vocab_size is the id bound the
 * tokenizer was asked for; it may hold fewer merges when the training text
 * runs out of pairs seen at least twice.
 */
#ifndef CARBS_TRAINER_BPE_H
#define CARBS_TRAINER_BPE_H

#include "proto/common.h"

#define BPE_MIN_VOCAB 256
#define BPE_MAX_VOCAB 8192
/* Longest pre-tokenization chunk in bytes: bounds the quadratic merge loop
 * of encoding a chunk; words longer than this are rare in English text. */
#define BPE_MAX_CHUNK 64
/* File format version written by bpe_save (magic "CARBSBPE"). */
#define BPE_FORMAT_VERSION 1

typedef struct bpe bpe_t;

/* A growing token array, as appended to by bpe_encode. */
typedef DA_TYPE(int32_t) bpe_tokens_t;

/* The end (exclusive) of the chunk that starts at pos < n in s[0..n).
 * Always > pos. */
size_t bpe_next_chunk(const char *s, size_t n, size_t pos);

/* Number of chunks in s[0..n): a tokenizer-independent length measure. */
size_t bpe_count_chunks(const char *s, size_t n);

/* Learn up to vocab_size - 256 merges from text[0..n), always merging the
 * most frequent adjacent pair (ties: the smaller left id, then the smaller
 * right id), and stopping early when no pair occurs twice.  Returns a new
 * tokenizer the caller frees with bpe_free(), or NULL with err filled:
 * CARBS_EINVAL for vocab_size outside [BPE_MIN_VOCAB, BPE_MAX_VOCAB],
 * CARBS_ENOMEM.  text is only read during the call. */
bpe_t *bpe_train(const char *text, size_t n, size_t vocab_size, carbs_err_t *err);

/* Free b.  b may be NULL. */
void bpe_free(bpe_t *b);

/* The id bound: every id encode produces is < bpe_vocab_size(b). */
size_t bpe_vocab_size(const bpe_t *b);

/* Merges learnt (<= vocab_size - 256). */
size_t bpe_n_merges(const bpe_t *b);

/* The two ids merge r joins (r < bpe_n_merges(b)). */
void bpe_merge(const bpe_t *b, size_t r, int32_t *left, int32_t *right);

/* Bytes of token id, or 0 for an id that is not in the tokenizer. */
size_t bpe_token_len(const bpe_t *b, int32_t id);

/* The bytes of token id (not NUL-terminated; length bpe_token_len), or NULL
 * for an unknown id.  Borrowed from b. */
const unsigned char *bpe_token_bytes(const bpe_t *b, int32_t id);

/* Append the tokens of text[0..n) to out (which the caller owns and frees
 * with DA_FREE).  Deterministic: inside each chunk the lowest-ranked merge
 * present is applied everywhere, left to right, until none applies.
 * Returns 0 or CARBS_ENOMEM (out then holds a prefix). */
int bpe_encode(const bpe_t *b, const char *text, size_t n, bpe_tokens_t *out);

/* Decode n ids into a new malloc'd buffer *out of *n_out bytes, followed by
 * a NUL not counted in *n_out (caller frees).  Returns 0, CARBS_EINVAL for
 * an id outside the tokenizer, or CARBS_ENOMEM; *out is NULL on failure. */
int bpe_decode(const bpe_t *b, const int32_t *ids, size_t n, char **out, size_t *n_out);

/* Write b to path: magic "CARBSBPE", u32 version, u32 vocab_size,
 * u32 n_merges, u32 zero, then n_merges (u32 left, u32 right) pairs, all
 * little-endian.  Returns 0 or CARBS_EIO naming the file. */
int bpe_save(const bpe_t *b, const char *path, carbs_err_t *err);

/* Read a tokenizer bpe_save wrote.  Returns it (caller frees), or NULL with
 * err filled: CARBS_ENOTFOUND when path does not exist, CARBS_EVERSION for
 * another format version, CARBS_EIO for an unreadable, truncated or corrupt
 * file (bad magic, a merge naming a later id, trailing bytes), CARBS_ENOMEM. */
bpe_t *bpe_load(const char *path, carbs_err_t *err);

#endif
