/*
 * bpe.c - byte-level BPE: training with incremental pair counts, encoding
 * by merge rank, decoding, and the tokenizer file.
 *
 * Training first counts the distinct pre-tokenization chunks ("words") of the
 * text, so the work is over word types weighted by their counts, not over
 * every byte.  A hash table maps each adjacent pair to its count and to the
 * words that contain it; a max-heap with lazy deletion picks the next merge.
 * A merge rewrites only the words listed under its pair: their old pairs are
 * subtracted and their new pairs added.  Counts of pairs not involving the
 * new id can only fall, so a popped heap entry whose count is stale is pushed
 * back with the current count, and only pairs with the new id are pushed.
 * Legend: a, b = left and right id of a pair; wc = a word's count.
 */
#include "proto/common.h"
#include "trainer/bpe.h"

#include <assert.h>
#include <errno.h>

struct bpe {
    size_t vocab_size;
    size_t n_merges;
    int32_t (*merges)[2];      /* [n_merges] */
    unsigned char *bytes;      /* every token's bytes, concatenated */
    size_t *tok_off, *tok_len; /* [256 + n_merges] into bytes */
    uint64_t *map_key;         /* open addressing: (a << 32 | b) + 1, 0 = empty */
    uint32_t *map_rank;
    size_t map_cap;            /* power of two */
};

// ---- byte classes and chunks ----

enum { CLS_LETTER, CLS_DIGIT, CLS_SPACE, CLS_OTHER };

static int byte_class(unsigned char c)
{
    if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return CLS_LETTER;
    if (c >= '0' && c <= '9')
        return CLS_DIGIT;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        return CLS_SPACE;
    return CLS_OTHER;
}

static size_t run_end(const unsigned char *s, size_t n, size_t pos, int cls)
{
    while (pos < n && byte_class(s[pos]) == cls)
        pos++;
    return pos;
}

size_t bpe_next_chunk(const char *text, size_t n, size_t pos)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t end;
    if (pos >= n)
        return n;
    if (s[pos] == ' ' && pos + 1 < n && byte_class(s[pos + 1]) != CLS_SPACE) {
        end = run_end(s, n, pos + 1, byte_class(s[pos + 1]));
    } else if (s[pos] == '\'' && pos + 1 < n && byte_class(s[pos + 1]) == CLS_LETTER) {
        end = run_end(s, n, pos + 1, CLS_LETTER);
    } else if (byte_class(s[pos]) == CLS_SPACE) {
        end = run_end(s, n, pos, CLS_SPACE);
        /* leave a final space to the word after the run */
        if (end < n && end - pos > 1 && s[end - 1] == ' ')
            end--;
    } else {
        end = run_end(s, n, pos, byte_class(s[pos]));
    }
    if (end - pos > BPE_MAX_CHUNK)
        end = pos + BPE_MAX_CHUNK;
    return end;
}

size_t bpe_count_chunks(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t pos = 0; pos < n; pos = bpe_next_chunk(s, n, pos))
        k++;
    return k;
}

// ---- hashing ----

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return mix64(h);
}

static uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
}

// ---- training state ----

typedef struct word {
    const unsigned char *src; /* chunk bytes in the training text */
    size_t len;               /* chunk bytes */
    int64_t count;
    size_t off, n; /* symbols in train_t.sym[off .. off + n) */
    size_t stamp;  /* last merge that rewrote it, + 1 */
} word_t;

typedef struct pair {
    int32_t a, b;
    int64_t count;
    DA_TYPE(uint32_t) words; /* may hold stale entries; never a word twice in a row */
    bool touched;
} pair_t;

typedef struct heap_entry {
    int64_t count;
    int32_t a, b;
} heap_entry_t;

typedef struct train {
    DA_TYPE(word_t) words;
    size_t *word_slot; /* chunk hash table: word index + 1, 0 = empty */
    size_t word_cap;
    int32_t *sym;
    DA_TYPE(pair_t) pairs;
    size_t *pair_slot; /* pair hash table: pair index + 1 */
    size_t pair_cap;
    DA_TYPE(heap_entry_t) heap;
    DA_TYPE(size_t) touched;
} train_t;

static int word_table_grow(train_t *t)
{
    size_t cap = t->word_cap ? t->word_cap * 2 : 1 << 14;
    size_t *slot = carbs_malloc(cap * sizeof(*slot));
    if (!slot)
        return CARBS_ENOMEM;
    memset(slot, 0, cap * sizeof(*slot));
    for (size_t i = 0; i < t->words.n; i++) {
        size_t h = hash_bytes(t->words.v[i].src, t->words.v[i].len) & (cap - 1);
        while (slot[h])
            h = (h + 1) & (cap - 1);
        slot[h] = i + 1;
    }
    free(t->word_slot);
    t->word_slot = slot;
    t->word_cap = cap;
    return 0;
}

static int word_add(train_t *t, const unsigned char *s, size_t len)
{
    if ((t->words.n + 1) * 2 > t->word_cap && word_table_grow(t))
        return CARBS_ENOMEM;
    size_t h = hash_bytes(s, len) & (t->word_cap - 1);
    while (t->word_slot[h]) {
        word_t *w = &t->words.v[t->word_slot[h] - 1];
        if (w->len == len && memcmp(w->src, s, len) == 0) {
            w->count++;
            return 0;
        }
        h = (h + 1) & (t->word_cap - 1);
    }
    word_t w = {.src = s, .len = len, .count = 1};
    if (DA_PUSH(&t->words, w))
        return CARBS_ENOMEM;
    t->word_slot[h] = t->words.n;
    return 0;
}

static int pair_table_grow(train_t *t)
{
    size_t cap = t->pair_cap ? t->pair_cap * 2 : 1 << 14;
    size_t *slot = carbs_malloc(cap * sizeof(*slot));
    if (!slot)
        return CARBS_ENOMEM;
    memset(slot, 0, cap * sizeof(*slot));
    for (size_t i = 0; i < t->pairs.n; i++) {
        size_t h = mix64(pair_key(t->pairs.v[i].a, t->pairs.v[i].b)) & (cap - 1);
        while (slot[h])
            h = (h + 1) & (cap - 1);
        slot[h] = i + 1;
    }
    free(t->pair_slot);
    t->pair_slot = slot;
    t->pair_cap = cap;
    return 0;
}

/* The index of pair (a, b), created with count 0 when create is set; SIZE_MAX
 * when absent (or on allocation failure, which sets *rc). */
static size_t pair_find(train_t *t, int32_t a, int32_t b, bool create, int *rc)
{
    if (create && (t->pairs.n + 1) * 2 > t->pair_cap && pair_table_grow(t)) {
        *rc = CARBS_ENOMEM;
        return SIZE_MAX;
    }
    if (!t->pair_cap)
        return SIZE_MAX;
    size_t h = mix64(pair_key(a, b)) & (t->pair_cap - 1);
    while (t->pair_slot[h]) {
        pair_t *p = &t->pairs.v[t->pair_slot[h] - 1];
        if (p->a == a && p->b == b)
            return t->pair_slot[h] - 1;
        h = (h + 1) & (t->pair_cap - 1);
    }
    if (!create)
        return SIZE_MAX;
    pair_t p = {.a = a, .b = b};
    if (DA_PUSH(&t->pairs, p)) {
        *rc = CARBS_ENOMEM;
        return SIZE_MAX;
    }
    t->pair_slot[h] = t->pairs.n;
    return t->pairs.n - 1;
}

static bool heap_before(const heap_entry_t *x, const heap_entry_t *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    if (x->a != y->a)
        return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(train_t *t, int64_t count, int32_t a, int32_t b)
{
    heap_entry_t e = {count, a, b};
    if (DA_PUSH(&t->heap, e))
        return CARBS_ENOMEM;
    heap_entry_t *h = t->heap.v;
    size_t i = t->heap.n - 1;
    while (i > 0 && heap_before(&h[i], &h[(i - 1) / 2])) {
        heap_entry_t tmp = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return 0;
}

static heap_entry_t heap_pop(train_t *t)
{
    heap_entry_t *h = t->heap.v;
    heap_entry_t top = h[0];
    size_t n = --t->heap.n;
    h[0] = h[n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_before(&h[l], &h[m]))
            m = l;
        if (r < n && heap_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        heap_entry_t tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
    return top;
}

/* Add delta * wc to every adjacent pair of word wi; when adding, list the
 * word under pairs that contain id fresh (and mark them touched). */
static int word_pairs(train_t *t, size_t wi, int64_t sign, int32_t fresh)
{
    word_t *w = &t->words.v[wi];
    const int32_t *s = t->sym + w->off;
    int rc = 0;
    for (size_t i = 0; i + 1 < w->n; i++) {
        size_t pi = pair_find(t, s[i], s[i + 1], sign > 0, &rc);
        if (pi == SIZE_MAX) {
            if (rc)
                return rc;
            continue;
        }
        pair_t *p = &t->pairs.v[pi];
        p->count += sign * w->count;
        if (sign > 0 && (fresh < 0 || s[i] == fresh || s[i + 1] == fresh)) {
            if ((!p->words.n || p->words.v[p->words.n - 1] != wi) &&
                DA_PUSH(&p->words, (uint32_t)wi))
                return CARBS_ENOMEM;
            if (fresh >= 0 && !p->touched) {
                p->touched = true;
                if (DA_PUSH(&t->touched, pi))
                    return CARBS_ENOMEM;
            }
        }
    }
    return 0;
}

/* Rewrite word wi with (a, b) -> id; false when it holds no such pair. */
static bool word_merge(train_t *t, size_t wi, int32_t a, int32_t b, int32_t id)
{
    word_t *w = &t->words.v[wi];
    int32_t *s = t->sym + w->off;
    size_t j = 0;
    bool hit = false;
    for (size_t i = 0; i < w->n; i++) {
        if (i + 1 < w->n && s[i] == a && s[i + 1] == b) {
            s[j++] = id;
            i++;
            hit = true;
        } else {
            s[j++] = s[i];
        }
    }
    w->n = j;
    return hit;
}

static bool word_has(const train_t *t, size_t wi, int32_t a, int32_t b)
{
    const word_t *w = &t->words.v[wi];
    const int32_t *s = t->sym + w->off;
    for (size_t i = 0; i + 1 < w->n; i++)
        if (s[i] == a && s[i + 1] == b)
            return true;
    return false;
}

static void train_release(train_t *t)
{
    for (size_t i = 0; i < t->pairs.n; i++)
        DA_FREE(&t->pairs.v[i].words);
    DA_FREE(&t->pairs);
    DA_FREE(&t->words);
    DA_FREE(&t->heap);
    DA_FREE(&t->touched);
    free(t->word_slot);
    free(t->pair_slot);
    free(t->sym);
}

// ---- the tokenizer object ----

/* Build token bytes and the merge lookup from b->merges[0 .. n_merges). */
static int bpe_finish(bpe_t *b)
{
    size_t n_tok = 256 + b->n_merges, total = 256;
    b->tok_off = carbs_malloc(n_tok * sizeof(size_t));
    b->tok_len = carbs_malloc(n_tok * sizeof(size_t));
    if (!b->tok_off || !b->tok_len)
        return CARBS_ENOMEM;
    for (size_t i = 0; i < 256; i++) {
        b->tok_off[i] = i;
        b->tok_len[i] = 1;
    }
    for (size_t r = 0; r < b->n_merges; r++) {
        b->tok_len[256 + r] = b->tok_len[b->merges[r][0]] + b->tok_len[b->merges[r][1]];
        total += b->tok_len[256 + r];
    }
    b->bytes = carbs_malloc(total);
    if (!b->bytes)
        return CARBS_ENOMEM;
    for (size_t i = 0; i < 256; i++)
        b->bytes[i] = (unsigned char)i;
    size_t at = 256;
    for (size_t r = 0; r < b->n_merges; r++) {
        int32_t l = b->merges[r][0], q = b->merges[r][1];
        b->tok_off[256 + r] = at;
        memcpy(b->bytes + at, b->bytes + b->tok_off[l], b->tok_len[l]);
        memcpy(b->bytes + at + b->tok_len[l], b->bytes + b->tok_off[q], b->tok_len[q]);
        at += b->tok_len[256 + r];
    }
    b->map_cap = 16;
    while (b->map_cap < 2 * b->n_merges + 2)
        b->map_cap *= 2;
    b->map_key = carbs_malloc(b->map_cap * sizeof(uint64_t));
    b->map_rank = carbs_malloc(b->map_cap * sizeof(uint32_t));
    if (!b->map_key || !b->map_rank)
        return CARBS_ENOMEM;
    memset(b->map_key, 0, b->map_cap * sizeof(uint64_t));
    for (size_t r = 0; r < b->n_merges; r++) {
        uint64_t key = pair_key(b->merges[r][0], b->merges[r][1]);
        size_t h = mix64(key) & (b->map_cap - 1);
        while (b->map_key[h])
            h = (h + 1) & (b->map_cap - 1);
        b->map_key[h] = key;
        b->map_rank[h] = (uint32_t)r;
    }
    return 0;
}

static size_t merge_rank(const bpe_t *b, int32_t l, int32_t r)
{
    uint64_t key = pair_key(l, r);
    size_t h = mix64(key) & (b->map_cap - 1);
    while (b->map_key[h]) {
        if (b->map_key[h] == key)
            return b->map_rank[h];
        h = (h + 1) & (b->map_cap - 1);
    }
    return SIZE_MAX;
}

void bpe_free(bpe_t *b)
{
    if (!b)
        return;
    free(b->merges);
    free(b->bytes);
    free(b->tok_off);
    free(b->tok_len);
    free(b->map_key);
    free(b->map_rank);
    free(b);
}

// ---- training ----

static int train_count(train_t *t, const char *text, size_t n)
{
    size_t n_sym = 0;
    for (size_t pos = 0; pos < n;) {
        size_t end = bpe_next_chunk(text, n, pos);
        if (word_add(t, (const unsigned char *)text + pos, end - pos))
            return CARBS_ENOMEM;
        pos = end;
    }
    for (size_t i = 0; i < t->words.n; i++)
        n_sym += t->words.v[i].len;
    t->sym = carbs_malloc((n_sym ? n_sym : 1) * sizeof(int32_t));
    if (!t->sym)
        return CARBS_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < t->words.n; i++) {
        word_t *w = &t->words.v[i];
        w->off = at;
        w->n = w->len;
        for (size_t k = 0; k < w->len; k++)
            t->sym[at++] = w->src[k];
    }
    for (size_t i = 0; i < t->words.n; i++) {
        int rc = word_pairs(t, i, +1, -1);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < t->pairs.n; i++)
        if (heap_push(t, t->pairs.v[i].count, t->pairs.v[i].a, t->pairs.v[i].b))
            return CARBS_ENOMEM;
    return 0;
}

/* Apply merge m (a, b) -> 256 + m to every word listed under pair pi. */
static int train_merge(train_t *t, size_t pi, size_t m)
{
    int32_t a = t->pairs.v[pi].a, b = t->pairs.v[pi].b, id = (int32_t)(256 + m);
    uint32_t *list = t->pairs.v[pi].words.v; /* stays put: only pairs with id grow */
    size_t n_list = t->pairs.v[pi].words.n;
    int rc;
    t->touched.n = 0;
    for (size_t k = 0; k < n_list; k++) {
        size_t wi = list[k];
        if (t->words.v[wi].stamp == m + 1 || !word_has(t, wi, a, b))
            continue;
        t->words.v[wi].stamp = m + 1;
        rc = word_pairs(t, wi, -1, -1);
        if (rc)
            return rc;
        word_merge(t, wi, a, b, id);
        rc = word_pairs(t, wi, +1, id);
        if (rc)
            return rc;
    }
    DA_FREE(&t->pairs.v[pi].words);
    for (size_t k = 0; k < t->touched.n; k++) {
        pair_t *p = &t->pairs.v[t->touched.v[k]];
        p->touched = false;
        if (p->count > 0 && heap_push(t, p->count, p->a, p->b))
            return CARBS_ENOMEM;
    }
    return 0;
}

bpe_t *bpe_train(const char *text, size_t n, size_t vocab_size, carbs_err_t *err)
{
    train_t t = {0};
    bpe_t *b = NULL;
    int rc = 0;
    if (vocab_size < BPE_MIN_VOCAB || vocab_size > BPE_MAX_VOCAB) {
        carbs_fail(err, CARBS_EINVAL, "vocabulary size %zu outside [%d, %d]", vocab_size,
                   BPE_MIN_VOCAB, BPE_MAX_VOCAB);
        return NULL;
    }
    b = xcalloc(1, sizeof(*b));
    b->vocab_size = vocab_size;
    b->merges = carbs_malloc((vocab_size - 256 + 1) * sizeof(*b->merges));
    if (!b->merges) {
        rc = CARBS_ENOMEM;
        goto out;
    }
    rc = train_count(&t, text, n);
    if (rc)
        goto out;
    while (b->n_merges < vocab_size - 256 && t.heap.n) {
        heap_entry_t e = heap_pop(&t);
        size_t pi = pair_find(&t, e.a, e.b, false, &rc);
        assert(pi != SIZE_MAX);
        int64_t cur = t.pairs.v[pi].count;
        if (cur != e.count) {
            if (cur > 0 && heap_push(&t, cur, e.a, e.b)) {
                rc = CARBS_ENOMEM;
                goto out;
            }
            continue;
        }
        if (cur < 2)
            break;
        b->merges[b->n_merges][0] = e.a;
        b->merges[b->n_merges][1] = e.b;
        rc = train_merge(&t, pi, b->n_merges);
        if (rc)
            goto out;
        b->n_merges++;
    }
    rc = bpe_finish(b);
out:
    train_release(&t);
    if (rc) {
        bpe_free(b);
        carbs_fail(err, rc, "bpe: out of memory training %zu merges on %zu bytes",
                   vocab_size - 256, n);
        return NULL;
    }
    return b;
}

// ---- encode and decode ----

size_t bpe_vocab_size(const bpe_t *b)
{
    return b->vocab_size;
}

size_t bpe_n_merges(const bpe_t *b)
{
    return b->n_merges;
}

void bpe_merge(const bpe_t *b, size_t r, int32_t *left, int32_t *right)
{
    assert(r < b->n_merges);
    *left = b->merges[r][0];
    *right = b->merges[r][1];
}

size_t bpe_token_len(const bpe_t *b, int32_t id)
{
    if (id < 0 || (size_t)id >= 256 + b->n_merges)
        return 0;
    return b->tok_len[id];
}

const unsigned char *bpe_token_bytes(const bpe_t *b, int32_t id)
{
    if (id < 0 || (size_t)id >= 256 + b->n_merges)
        return NULL;
    return b->bytes + b->tok_off[id];
}

/* Encode one chunk (at most BPE_MAX_CHUNK bytes) into s, returning its length. */
static size_t encode_chunk(const bpe_t *b, const unsigned char *c, size_t len, int32_t *s)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++)
        s[i] = c[i];
    while (n > 1) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i + 1 < n; i++) {
            size_t r = merge_rank(b, s[i], s[i + 1]);
            if (r < best)
                best = r;
        }
        if (best == SIZE_MAX)
            break;
        int32_t l = b->merges[best][0], q = b->merges[best][1], id = (int32_t)(256 + best);
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == l && s[i + 1] == q) {
                s[j++] = id;
                i++;
            } else {
                s[j++] = s[i];
            }
        }
        n = j;
    }
    return n;
}

int bpe_encode(const bpe_t *b, const char *text, size_t n, bpe_tokens_t *out)
{
    int32_t s[BPE_MAX_CHUNK];
    for (size_t pos = 0; pos < n;) {
        size_t end = bpe_next_chunk(text, n, pos);
        size_t k = encode_chunk(b, (const unsigned char *)text + pos, end - pos, s);
        if (DA_RESERVE(out, k))
            return CARBS_ENOMEM;
        memcpy(out->v + out->n, s, k * sizeof(int32_t));
        out->n += k;
        pos = end;
    }
    return 0;
}

int bpe_decode(const bpe_t *b, const int32_t *ids, size_t n, char **out, size_t *n_out)
{
    size_t total = 0;
    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = bpe_token_len(b, ids[i]);
        if (!len)
            return CARBS_EINVAL;
        total += len;
    }
    char *buf = carbs_malloc(total + 1);
    if (!buf)
        return CARBS_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + at, b->bytes + b->tok_off[ids[i]], b->tok_len[ids[i]]);
        at += b->tok_len[ids[i]];
    }
    buf[at] = '\0';
    *out = buf;
    *n_out = at;
    return 0;
}

// ---- file ----

static const char bpe_magic[8] = {'C', 'A', 'R', 'B', 'S', 'B', 'P', 'E'};

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int bpe_save(const bpe_t *b, const char *path, carbs_err_t *err)
{
    size_t size = 24 + 8 * b->n_merges;
    unsigned char *buf = xmalloc(size);
    int rc = 0;
    memcpy(buf, bpe_magic, 8);
    put_u32(buf + 8, BPE_FORMAT_VERSION);
    put_u32(buf + 12, (uint32_t)b->vocab_size);
    put_u32(buf + 16, (uint32_t)b->n_merges);
    put_u32(buf + 20, 0);
    for (size_t r = 0; r < b->n_merges; r++) {
        put_u32(buf + 24 + 8 * r, (uint32_t)b->merges[r][0]);
        put_u32(buf + 28 + 8 * r, (uint32_t)b->merges[r][1]);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        rc = carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fwrite(buf, 1, size, f) != size)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fclose(f) != 0 && !rc)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
out:
    free(buf);
    return rc;
}

bpe_t *bpe_load(const char *path, carbs_err_t *err)
{
    unsigned char head[24];
    unsigned char *body = NULL;
    bpe_t *b = NULL;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO, "cannot open '%s': %s",
                        path, strerror(errno));
        goto out;
    }
    if (fread(head, 1, sizeof(head), f) != sizeof(head) || memcmp(head, bpe_magic, 8) != 0) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' is not a carbs tokenizer (bad magic)", path);
        goto out;
    }
    if (get_u32(head + 8) != BPE_FORMAT_VERSION) {
        rc = carbs_fail(err, CARBS_EVERSION, "'%s' has tokenizer format %u, expected %d", path,
                        get_u32(head + 8), BPE_FORMAT_VERSION);
        goto out;
    }
    size_t vocab = get_u32(head + 12), n_merges = get_u32(head + 16);
    if (vocab < BPE_MIN_VOCAB || vocab > BPE_MAX_VOCAB || n_merges > vocab - 256) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' is corrupt: vocabulary %zu with %zu merges", path,
                        vocab, n_merges);
        goto out;
    }
    body = xmalloc(8 * n_merges + 1);
    if (fread(body, 1, 8 * n_merges + 1, f) != 8 * n_merges) {
        rc = carbs_fail(err, CARBS_EIO, "'%s' is corrupt: wrong length", path);
        goto out;
    }
    b = xcalloc(1, sizeof(*b));
    b->vocab_size = vocab;
    b->n_merges = n_merges;
    b->merges = xmalloc((n_merges + 1) * sizeof(*b->merges));
    for (size_t r = 0; r < n_merges; r++) {
        uint32_t l = get_u32(body + 8 * r), q = get_u32(body + 8 * r + 4);
        if (l >= 256 + r || q >= 256 + r) {
            rc = carbs_fail(err, CARBS_EIO, "'%s' is corrupt: merge %zu names a later token",
                            path, r);
            goto out;
        }
        b->merges[r][0] = (int32_t)l;
        b->merges[r][1] = (int32_t)q;
    }
    if (bpe_finish(b))
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory loading '%s'", path);
out:
    if (f)
        fclose(f);
    free(body);
    if (rc) {
        bpe_free(b);
        return NULL;
    }
    return b;
}
