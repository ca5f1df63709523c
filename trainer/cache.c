/*
 * cache.c - the token cache file formats: token shards and tokenized MCQ
 * sets, written by `carbs data prepare` and read back by dataset_load().
 *
 * Files are plain little-endian records behind a magic and a format version
 * (layout in cache.h and docs/data.md), so a reader on any host checks
 * what it is given and says which file is wrong.  Tokens are stored as
 * uint16: every vocabulary this project trains has at most 8192 ids.
 */
#include "proto/common.h"
#include "trainer/cache.h"

#include <errno.h>

static const char tok_magic[8] = {'C', 'A', 'R', 'B', 'S', 'T', 'O', 'K'};
static const char mcq_magic[8] = {'C', 'A', 'R', 'B', 'S', 'M', 'C', 'Q'};

// ---- little-endian helpers ----

static void put_u16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_header(unsigned char *h, const char magic[8], size_t vocab, uint64_t a, uint64_t b)
{
    memcpy(h, magic, 8);
    put_u32(h + 8, CACHE_FORMAT_VERSION);
    put_u32(h + 12, (uint32_t)vocab);
    put_u64(h + 16, a);
    put_u64(h + 24, b);
}

// ---- writing ----

static int write_file(const char *path, const unsigned char *buf, size_t n, carbs_err_t *err)
{
    int rc = 0;
    FILE *f = fopen(path, "wb");
    if (!f) return carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", path, strerror(errno));
    if (fwrite(buf, 1, n, f) != n)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fclose(f) != 0 && !rc)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

static int put_tokens(unsigned char *p, const int32_t *tok, size_t n, size_t vocab,
                      const char *path, carbs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < 0 || (size_t)tok[i] >= vocab)
            return carbs_fail(err, CARBS_EINVAL, "'%s': token %d outside vocabulary %zu", path,
                              (int)tok[i], vocab);
        put_u16(p + 2 * i, (uint32_t)tok[i]);
    }
    return 0;
}

int cache_write_tokens(const char *path, size_t vocab_size, const int32_t *tok, size_t n,
                       uint64_t n_bytes, carbs_err_t *err)
{
    if (vocab_size == 0 || vocab_size > 65536)
        return carbs_fail(err, CARBS_EINVAL, "'%s': vocabulary %zu does not fit uint16", path,
                          vocab_size);
    unsigned char *buf = carbs_malloc(CACHE_HEADER_BYTES + 2 * n);
    if (!buf) return carbs_fail(err, CARBS_ENOMEM, "out of memory writing '%s'", path);
    put_header(buf, tok_magic, vocab_size, n, n_bytes);
    int rc = put_tokens(buf + CACHE_HEADER_BYTES, tok, n, vocab_size, path, err);
    if (!rc) rc = write_file(path, buf, CACHE_HEADER_BYTES + 2 * n, err);
    free(buf);
    return rc;
}

int cache_write_mcq(const char *path, size_t vocab_size, const mcq_set_t *set, carbs_err_t *err)
{
    if (vocab_size == 0 || vocab_size > 65536)
        return carbs_fail(err, CARBS_EINVAL, "'%s': vocabulary %zu does not fit uint16", path,
                          vocab_size);
    size_t items = CACHE_MCQ_ITEM_BYTES * set->n;
    size_t size = CACHE_HEADER_BYTES + items + 2 * set->pool_n;
    unsigned char *buf = carbs_malloc(size);
    if (!buf) return carbs_fail(err, CARBS_ENOMEM, "out of memory writing '%s'", path);
    put_header(buf, mcq_magic, vocab_size, set->n, set->pool_n);
    for (size_t i = 0; i < set->n; i++) {
        const mcq_item_t *it = &set->v[i];
        unsigned char *p = buf + CACHE_HEADER_BYTES + CACHE_MCQ_ITEM_BYTES * i;
        put_u32(p, (uint32_t)it->task);
        put_u32(p + 4, (uint32_t)it->answer);
        put_u64(p + 8, it->context);
        put_u64(p + 16, it->n_context);
        for (int c = 0; c < MCQ_CHOICES; c++) {
            put_u64(p + 24 + 24 * c, it->choice[c]);
            put_u64(p + 32 + 24 * c, it->n_choice[c]);
            put_u64(p + 40 + 24 * c, it->choice_bytes[c]);
        }
    }
    int rc =
        put_tokens(buf + CACHE_HEADER_BYTES + items, set->pool, set->pool_n, vocab_size, path, err);
    if (!rc) rc = write_file(path, buf, size, err);
    free(buf);
    return rc;
}

// ---- reading ----

/* Read the whole file after checking its header; *body gets the bytes after
 * the header (caller frees), *a and *b the header's two counts. */
static int read_checked(const char *path, const char magic[8], size_t vocab, unsigned char **body,
                        size_t *n_body, uint64_t *a, uint64_t *b, carbs_err_t *err)
{
    unsigned char h[CACHE_HEADER_BYTES];
    int rc = 0;
    long end;
    *body = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO,
                          "cannot open '%s': %s; run `carbs data prepare --vocab %zu`", path,
                          strerror(errno), vocab);
    if (fread(h, 1, sizeof(h), f) != sizeof(h) || memcmp(h, magic, 8) != 0) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' is not a carbs %s file (bad magic)", path,
                        magic == tok_magic ? "token" : "mcq");
        goto out;
    }
    if (get_u32(h + 8) != CACHE_FORMAT_VERSION) {
        rc = carbs_fail(err, CARBS_EVERSION,
                        "'%s' has format version %u, expected %d; run `carbs data prepare`", path,
                        get_u32(h + 8), CACHE_FORMAT_VERSION);
        goto out;
    }
    if (get_u32(h + 12) != vocab) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' holds vocabulary %u, expected %zu", path,
                        get_u32(h + 12), vocab);
        goto out;
    }
    *a = get_u64(h + 16);
    *b = get_u64(h + 24);
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < CACHE_HEADER_BYTES ||
        fseek(f, CACHE_HEADER_BYTES, SEEK_SET) != 0) {
        rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    *n_body = (size_t)end - CACHE_HEADER_BYTES;
    *body = carbs_malloc(*n_body + 1);
    if (!*body) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    if (fread(*body, 1, *n_body, f) != *n_body)
        rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
out:
    fclose(f);
    if (rc) {
        free(*body);
        *body = NULL;
    }
    return rc;
}

static int get_tokens(const unsigned char *p, size_t n, size_t vocab, int32_t *tok,
                      const char *path, carbs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t t = get_u16(p + 2 * i);
        if (t >= vocab)
            return carbs_fail(err, CARBS_EIO, "'%s' is corrupt: token %u outside vocabulary %zu",
                              path, t, vocab);
        tok[i] = (int32_t)t;
    }
    return 0;
}

int cache_read_tokens(const char *path, size_t vocab_size, int32_t **tok, size_t *n,
                      uint64_t *n_bytes, carbs_err_t *err)
{
    unsigned char *body;
    size_t n_body;
    uint64_t count, bytes;
    *tok = NULL;
    *n = 0;
    int rc = read_checked(path, tok_magic, vocab_size, &body, &n_body, &count, &bytes, err);
    if (rc) return rc;
    if (count > n_body / 2 || n_body != 2 * count) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' is corrupt: %zu bytes for %llu tokens", path, n_body,
                        (unsigned long long)count);
        goto out;
    }
    *tok = carbs_malloc((count ? count : 1) * sizeof(int32_t));
    if (!*tok) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    rc = get_tokens(body, count, vocab_size, *tok, path, err);
    if (rc) {
        free(*tok);
        *tok = NULL;
        goto out;
    }
    *n = count;
    *n_bytes = bytes;
out:
    free(body);
    return rc;
}

int cache_read_mcq(const char *path, size_t vocab_size, mcq_set_t *set, carbs_err_t *err)
{
    unsigned char *body;
    size_t n_body;
    uint64_t n_items, pool_n;
    memset(set, 0, sizeof(*set));
    int rc = read_checked(path, mcq_magic, vocab_size, &body, &n_body, &n_items, &pool_n, err);
    if (rc) return rc;
    if (n_items > n_body / CACHE_MCQ_ITEM_BYTES || pool_n > n_body / 2 ||
        n_body != CACHE_MCQ_ITEM_BYTES * n_items + 2 * pool_n) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' is corrupt: wrong length", path);
        goto out;
    }
    set->v = carbs_malloc((n_items ? n_items : 1) * sizeof(mcq_item_t));
    set->pool = carbs_malloc((pool_n ? pool_n : 1) * sizeof(int32_t));
    if (!set->v || !set->pool) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    set->cap = n_items ? n_items : 1;
    set->pool_cap = pool_n ? pool_n : 1;
    for (size_t i = 0; i < n_items; i++) {
        const unsigned char *p = body + CACHE_MCQ_ITEM_BYTES * i;
        mcq_item_t *it = &set->v[i];
        uint32_t task = get_u32(p), answer = get_u32(p + 4);
        bool ok = task < MCQ_TASK_COUNT && answer < MCQ_CHOICES;
        it->task = (mcq_task_t)task;
        it->answer = (int)answer;
        it->context = get_u64(p + 8);
        it->n_context = get_u64(p + 16);
        ok = ok && it->context <= pool_n && it->n_context <= pool_n - it->context;
        for (int c = 0; c < MCQ_CHOICES; c++) {
            it->choice[c] = get_u64(p + 24 + 24 * c);
            it->n_choice[c] = get_u64(p + 32 + 24 * c);
            it->choice_bytes[c] = get_u64(p + 40 + 24 * c);
            ok = ok && it->n_choice[c] > 0 && it->choice[c] <= pool_n &&
                 it->n_choice[c] <= pool_n - it->choice[c];
        }
        if (!ok) {
            rc = carbs_fail(err, CARBS_EIO, "'%s' is corrupt: item %zu is malformed", path, i);
            goto out;
        }
    }
    rc =
        get_tokens(body + CACHE_MCQ_ITEM_BYTES * n_items, pool_n, vocab_size, set->pool, path, err);
    if (rc) goto out;
    set->n = n_items;
    set->pool_n = pool_n;
out:
    free(body);
    if (rc) mcq_set_release(set);
    return rc;
}
