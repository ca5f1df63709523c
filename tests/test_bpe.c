/*
 * test_bpe.c - the byte-level BPE tokenizer: merges are the most frequent
 * pairs, encode/decode round trips on any bytes, the vocabulary bound, the
 * chunking rule, and the tokenizer file (identity, corrupt files rejected).
 */
#include "proto/common.h"
#include "trainer/bpe.h"

#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"

static const char text[] =
    "the cat sat on the mat; the rat ate the hat. then the cat and the rat sat "
    "together on the mat, and that was that. The theory of the thermal theme "
    "is then thereby the thing: 1729 1729 1729 don't won't can't isn't.\n\n"
    "\xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 "
    "the cat, the rat, the hat, the mat.";

/* Brute-force count of adjacent pair (a, b) over the chunks of s. */
static size_t count_pair(const char *s, size_t n, char a, char b)
{
    size_t k = 0;
    for (size_t pos = 0; pos < n;) {
        size_t end = bpe_next_chunk(s, n, pos);
        for (size_t i = pos; i + 1 < end; i++)
            k += s[i] == a && s[i + 1] == b;
        pos = end;
    }
    return k;
}

static void test_bpe_first_merge_is_most_frequent(void)
{
    size_t n = strlen(text);
    carbs_err_t err = {0};
    bpe_t *b = bpe_train(text, n, 300, &err);
    CHECK(b != NULL);
    if (!b)
        return;
    int32_t l, r;
    bpe_merge(b, 0, &l, &r);
    CHECK(l < 256 && r < 256);
    size_t best = count_pair(text, n, (char)l, (char)r);
    /* no byte pair occurs more often than the first merge */
    for (int a = 1; a < 256; a++)
        for (int c = 1; c < 256; c++)
            CHECK(count_pair(text, n, (char)a, (char)c) <= best);
    CHECK_EQ(best, count_pair(text, n, 'h', 'e') > count_pair(text, n, 't', 'h')
                       ? count_pair(text, n, 'h', 'e')
                       : count_pair(text, n, 't', 'h'));
    bpe_free(b);
}

static void test_bpe_round_trip_any_bytes(void)
{
    carbs_err_t err = {0};
    bpe_t *b = bpe_train(text, strlen(text), 333, &err);
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK(bpe_n_merges(b) <= 333 - 256);
    CHECK(bpe_n_merges(b) > 20);
    CHECK_EQ(bpe_vocab_size(b), 333);
    unsigned char junk[777];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        junk[i] = i % 3 ? (unsigned char)x : (unsigned char)"the cat "[i % 8];
    }
    static const char s2[] = "\xff\xfe\x80 the\x00" "cat", s4[] = "  a   b\t\t\nc  ",
                      s5[] = "\xf0\x9f\x98\x80 emoji \xe4\xb8\xad";
    const char *samples[] = {text, (const char *)junk, s2, "", s4, s5};
    size_t lens[] = {strlen(text), sizeof(junk), sizeof(s2) - 1, 0, sizeof(s4) - 1, sizeof(s5) - 1};
    for (size_t s = 0; s < ARRAY_SIZE(samples); s++) {
        bpe_tokens_t tok = {0};
        CHECK_EQ(bpe_encode(b, samples[s], lens[s], &tok), 0);
        size_t bytes = 0;
        for (size_t i = 0; i < tok.n; i++) {
            CHECK(tok.v[i] >= 0 && tok.v[i] < 333);
            bytes += bpe_token_len(b, tok.v[i]);
        }
        CHECK_EQ(bytes, lens[s]);
        char *out = NULL;
        size_t n_out = 0;
        CHECK_EQ(bpe_decode(b, tok.v, tok.n, &out, &n_out), 0);
        CHECK_EQ(n_out, lens[s]);
        CHECK(n_out == lens[s] && memcmp(out, samples[s], n_out) == 0);
        free(out);
        DA_FREE(&tok);
    }
    /* trained text compresses */
    bpe_tokens_t tok = {0};
    CHECK_EQ(bpe_encode(b, text, strlen(text), &tok), 0);
    CHECK(tok.n * 2 < strlen(text));
    DA_FREE(&tok);
    int32_t bad[] = {5, 333};
    char *out = NULL;
    size_t n_out = 0;
    CHECK_EQ(bpe_decode(b, bad, 2, &out, &n_out), CARBS_EINVAL);
    CHECK(out == NULL);
    CHECK_EQ(bpe_token_len(b, -1), 0);
    bpe_free(b);
}

static void test_bpe_chunks(void)
{
    const char *s = "Hello, world's  42nd\n\n  test";
    size_t n = strlen(s), pos = 0, k = 0;
    const char *want[] = {"Hello", ",", " world", "'s", " ", " 42", "nd", "\n\n ", " test"};
    while (pos < n && k < ARRAY_SIZE(want)) {
        size_t end = bpe_next_chunk(s, n, pos);
        CHECK_EQ(end - pos, strlen(want[k]));
        CHECK(memcmp(s + pos, want[k], strlen(want[k])) == 0);
        pos = end;
        k++;
    }
    CHECK_EQ(pos, n);
    CHECK_EQ(bpe_count_chunks(s, n), ARRAY_SIZE(want));
    char longrun[200];
    memset(longrun, 'q', sizeof(longrun));
    CHECK_EQ(bpe_next_chunk(longrun, sizeof(longrun), 0), BPE_MAX_CHUNK);
    /* no merge crosses a chunk boundary: "t c" never becomes one token */
    carbs_err_t err = {0};
    bpe_t *b = bpe_train(text, strlen(text), 400, &err);
    CHECK(b != NULL);
    for (size_t r = 0; b && r < bpe_n_merges(b); r++) {
        int32_t id = (int32_t)(256 + r);
        size_t len = bpe_token_len(b, id);
        const char *p = (const char *)bpe_token_bytes(b, id);
        CHECK_EQ(bpe_next_chunk(p, len, 0), len);
    }
    bpe_free(b);
}

static void test_bpe_bad_vocab(void)
{
    carbs_err_t err = {0};
    CHECK(bpe_train(text, 10, 255, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(bpe_train(text, 10, 8193, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
}

static void test_bpe_save_load(void)
{
    char path[] = "/tmp/carbs_test_bpe_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    carbs_err_t err = {0};
    bpe_t *b = bpe_train(text, strlen(text), 311, &err);
    CHECK_EQ(bpe_save(b, path, &err), 0);
    bpe_t *c = bpe_load(path, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ(bpe_vocab_size(c), 311);
        CHECK_EQ(bpe_n_merges(c), bpe_n_merges(b));
        for (size_t r = 0; r < bpe_n_merges(b); r++) {
            int32_t l1, r1, l2, r2;
            bpe_merge(b, r, &l1, &r1);
            bpe_merge(c, r, &l2, &r2);
            CHECK(l1 == l2 && r1 == r2);
        }
        bpe_tokens_t t1 = {0}, t2 = {0};
        bpe_encode(b, text, strlen(text), &t1);
        bpe_encode(c, text, strlen(text), &t2);
        CHECK(t1.n == t2.n && memcmp(t1.v, t2.v, t1.n * sizeof(int32_t)) == 0);
        DA_FREE(&t1);
        DA_FREE(&t2);
    }
    /* read the file back and damage it in each way the loader checks */
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    CHECK(n == 24 + 8 * bpe_n_merges(b));
    unsigned char bad[4096];
    memcpy(bad, buf, n);
    bad[0] = 'X';
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK(bpe_load(path, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    memcpy(bad, buf, n);
    bad[8] = 7;
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK(bpe_load(path, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EVERSION);
    CHECK_EQ(fx_write_file(path, buf, n - 3), 0);
    CHECK(bpe_load(path, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    memcpy(bad, buf, n);
    bad[n] = 0;
    CHECK_EQ(fx_write_file(path, bad, n + 1), 0);
    CHECK(bpe_load(path, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    memcpy(bad, buf, n);
    bad[24] = 0x40; /* merge 0 names id 320 */
    bad[25] = 0x01;
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK(bpe_load(path, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    unlink(path);
    CHECK(bpe_load(path, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    bpe_free(b);
    bpe_free(c);
}

int main(void)
{
    RUN(test_bpe_first_merge_is_most_frequent);
    RUN(test_bpe_round_trip_any_bytes);
    RUN(test_bpe_chunks);
    RUN(test_bpe_bad_vocab);
    RUN(test_bpe_save_load);
    return check_summary();
}
