/*
 * corpus.c - readers for the Brown corpus (NLTK word/TAG format) and the
 * State of the Union addresses, and the split by document.
 *
 * Brown is detokenized into ordinary prose so the tokenizer and the model
 * see text, not annotation; its tags are kept beside the text for the MCQ
 * builder.  SOTU loses its editorial annotations and is cut into sentences
 * with a small rule (see corpus.h).  References: docs/data.md.
 */
#include "proto/common.h"
#include "trainer/corpus.h"

#include <dirent.h>
#include <errno.h>

typedef DA_TYPE(char) corpus_buf_t;

static const char *const part_names[] = {
#define X(id, name) name,
    CORPUS_PART_MAP(X)
#undef X
};

const char *corpus_part_name(corpus_part_t part)
{
    return (unsigned)part < CORPUS_PART_COUNT ? part_names[part] : "?";
}

static int buf_put(corpus_buf_t *b, const char *s, size_t n)
{
    if (DA_RESERVE(b, n + 1))
        return CARBS_ENOMEM;
    memcpy(b->v + b->n, s, n);
    b->n += n;
    b->v[b->n] = '\0';
    return 0;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void doc_free(corpus_doc_t *d)
{
    free(d->text);
    DA_FREE(&d->sents);
    DA_FREE(&d->words);
}

static int doc_push(corpus_t *c, corpus_doc_t *d, corpus_buf_t *text, const char *name,
                    carbs_err_t *err)
{
    if (!d->sents.n) {
        doc_free(d);
        free(text->v);
        return carbs_fail(err, CARBS_EINVAL, "'%s' holds no sentence", name);
    }
    d->text = text->v;
    d->n_text = text->n;
    if (DA_PUSH(c, *d)) {
        doc_free(d);
        return carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", name);
    }
    return 0;
}

// ---- Brown ----

static bool in_list(const char *w, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, w, n) == 0)
            return true;
    return false;
}

static const char *const attach_left[] = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'", "%",
                                          NULL};
static const char *const attach_right[] = {"``", "(", "[", "$", NULL};

int corpus_add_brown(corpus_t *c, const char *name, const char *raw, size_t n, carbs_err_t *err)
{
    corpus_doc_t d = {.source = CORPUS_BROWN, .part = CORPUS_TRAIN};
    corpus_buf_t text = {0};
    int rc = 0;
    if (!utf8_valid(raw, n))
        return carbs_fail(err, CARBS_EINVAL, "'%s' is not UTF-8", name);
    str_copy(d.name, sizeof(d.name), name);
    for (size_t pos = 0; pos < n;) {
        size_t eol = pos;
        while (eol < n && raw[eol] != '\n')
            eol++;
        corpus_sent_t s = {.first_word = d.words.n};
        const char *prev = NULL;
        size_t prev_n = 0;
        bool glue = false; /* the previous token takes no space after it */
        for (size_t i = pos; i < eol;) {
            while (i < eol && is_space(raw[i]))
                i++;
            size_t j = i;
            while (j < eol && !is_space(raw[j]))
                j++;
            if (j == i)
                break;
            size_t slash = j;
            while (slash > i && raw[slash - 1] != '/')
                slash--;
            const char *w = raw + i, *tag = "";
            size_t wn = j - i, tn = 0;
            if (slash > i + 1) {
                wn = slash - 1 - i;
                tag = raw + slash;
                tn = j - slash;
            }
            i = j;
            if (prev && wn == 1 && prev_n == 1 && *w == *prev && strchr(";?!", *w))
                continue; /* the doubled ";;", "??", "!!" of this edition */
            if (prev && wn == 1 && *w == '.' && prev_n > 1 && prev[prev_n - 1] == '.')
                continue; /* "Jr. ." ends a sentence with one full stop */
            bool first = s.n_words == 0;
            if (first) {
                if (text.n)
                    rc = buf_put(&text, " ", 1);
            } else if (!glue && !in_list(w, wn, attach_left)) {
                rc = buf_put(&text, " ", 1);
            }
            if (rc)
                goto nomem;
            if (first)
                s.off = text.n;
            corpus_word_t cw = {.off = text.n};
            if (wn == 2 && (memcmp(w, "``", 2) == 0 || memcmp(w, "''", 2) == 0))
                rc = buf_put(&text, "\"", 1);
            else
                rc = buf_put(&text, w, wn);
            if (rc)
                goto nomem;
            cw.len = text.n - cw.off;
            for (size_t k = 0; k < tn && k + 1 < sizeof(cw.tag); k++)
                cw.tag[k] = (char)(tag[k] >= 'A' && tag[k] <= 'Z' ? tag[k] + 32 : tag[k]);
            if (DA_PUSH(&d.words, cw))
                goto nomem;
            s.n_words++;
            glue = in_list(w, wn, attach_right);
            prev = w;
            prev_n = wn;
        }
        if (s.n_words) {
            s.len = text.n - s.off;
            if (DA_PUSH(&d.sents, s))
                goto nomem;
        }
        pos = eol + 1;
    }
    return doc_push(c, &d, &text, name, err);
nomem:
    doc_free(&d);
    free(text.v);
    return carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", name);
}

// ---- State of the Union ----

/* True when the bracketed text [s, s + n) is an annotation to drop. */
static bool is_annotation(const char *s, size_t n)
{
    static const char *const notes[] = {"laughter", "applause", "missing text", "sic", NULL};
    char low[32];
    if (n >= sizeof(low))
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    if (in_list(low, n, notes))
        return true;
    size_t i = 0;
    if (n > 2 && low[0] == 'p' && low[1] == '.')
        i = 2;
    for (; i < n; i++)
        if (low[i] < '0' || low[i] > '9')
            return false;
    return n > 0;
}

static bool is_abbreviation(const char *text, size_t dot)
{
    static const char *const abbr[] = {"Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Gen", "Gov",
                                       "Hon", "No", "Co", "Inc", "Mt", "Ft", "vs", "Jan", "Feb",
                                       "Mar", "Apr", "Aug", "Sept", "Sep", "Oct", "Nov", "Dec",
                                       "Rev", "Messrs", "Lt", "Col", "Capt", "Adm", NULL};
    size_t start = dot;
    while (start > 0 && !is_space(text[start - 1]) && text[start - 1] != '(' &&
           text[start - 1] != '"')
        start--;
    size_t n = dot - start;
    if (n == 1 && text[start] >= 'A' && text[start] <= 'Z')
        return true; /* an initial */
    if (memchr(text + start, '.', n))
        return true; /* "U.S." and the like */
    return in_list(text + start, n, abbr);
}

static bool starts_sentence(const unsigned char *p, size_t left)
{
    if (!left)
        return false;
    return (p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= '0' && p[0] <= '9') || p[0] == '"' ||
           p[0] == '\'' || (p[0] == 0xe2 && left > 2 && p[1] == 0x80);
}

int corpus_add_sotu(corpus_t *c, const char *name, int year, const char *raw, size_t n,
                    carbs_err_t *err)
{
    corpus_doc_t d = {.source = CORPUS_SOTU, .year = year, .part = CORPUS_TRAIN};
    corpus_buf_t text = {0};
    if (!utf8_valid(raw, n))
        return carbs_fail(err, CARBS_EINVAL, "'%s' is not UTF-8", name);
    str_copy(d.name, sizeof(d.name), name);
    /* clean: drop annotations, unwrap other brackets, squeeze whitespace */
    for (size_t i = 0; i < n; i++) {
        char ch = raw[i];
        if (ch == '[' || ch == '(') {
            char close = ch == '[' ? ']' : ')';
            size_t j = i + 1;
            while (j < n && j < i + 48 && raw[j] != close && raw[j] != ch)
                j++;
            if (j < n && raw[j] == close) {
                size_t len = j - i - 1;
                if (ch == '(' && len && raw[j - 1] == '.')
                    len--; /* "(Applause.)" */
                if (is_annotation(raw + i + 1, len)) {
                    i = j;
                    continue;
                }
            }
            if (j < n && raw[j] == close && ch == '[') {
                if (buf_put(&text, raw + i + 1, j - i - 1))
                    goto nomem;
                i = j;
                continue;
            }
        }
        if (is_space(ch)) {
            if (text.n && text.v[text.n - 1] != ' ' && buf_put(&text, " ", 1))
                goto nomem;
            continue;
        }
        if (buf_put(&text, &ch, 1))
            goto nomem;
        /* "forms.Each": a paragraph break the edition lost */
        if ((ch == '.' || ch == '?' || ch == '!') && i > 0 && raw[i - 1] >= 'a' &&
            raw[i - 1] <= 'z' && i + 2 < n && raw[i + 1] >= 'A' && raw[i + 1] <= 'Z' &&
            raw[i + 2] >= 'a' && raw[i + 2] <= 'z' && buf_put(&text, " ", 1))
            goto nomem;
    }
    while (text.n && text.v[text.n - 1] == ' ')
        text.v[--text.n] = '\0';
    /* a space left before punctuation by a dropped annotation */
    size_t w = 0;
    for (size_t i = 0; i < text.n; i++) {
        if (text.v[i] == ' ' && i + 1 < text.n && strchr(",.;:?!", text.v[i + 1]))
            continue;
        text.v[w++] = text.v[i];
    }
    text.n = w;
    if (text.v)
        text.v[w] = '\0';
    size_t start = 0;
    while (start < text.n && text.v[start] == ' ')
        start++;
    for (size_t i = start; i < text.n; i++) {
        char ch = text.v[i];
        if (ch != '.' && ch != '?' && ch != '!')
            continue;
        size_t j = i + 1;
        while (j < text.n && (text.v[j] == '"' || text.v[j] == '\'' || text.v[j] == ')'))
            j++;
        while (j + 2 < text.n && (unsigned char)text.v[j] == 0xe2 &&
               (unsigned char)text.v[j + 1] == 0x80 &&
               ((unsigned char)text.v[j + 2] == 0x9d || (unsigned char)text.v[j + 2] == 0x99))
            j += 3;
        bool end = j >= text.n;
        if (!end && text.v[j] == ' ' &&
            starts_sentence((const unsigned char *)text.v + j + 1, text.n - j - 1))
            end = ch != '.' || !is_abbreviation(text.v, i);
        if (!end)
            continue;
        corpus_sent_t s = {.off = start, .len = j - start};
        if (s.len && DA_PUSH(&d.sents, s))
            goto nomem;
        start = j + 1;
        i = j;
    }
    if (start < text.n) {
        corpus_sent_t s = {.off = start, .len = text.n - start};
        if (DA_PUSH(&d.sents, s))
            goto nomem;
    }
    return doc_push(c, &d, &text, name, err);
nomem:
    doc_free(&d);
    free(text.v);
    return carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", name);
}

// ---- reading folders ----

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool brown_name(const char *s)
{
    return strlen(s) == 4 && s[0] == 'c' && s[1] >= 'a' && s[1] <= 'r' && s[2] >= '0' &&
           s[2] <= '9' && s[3] >= '0' && s[3] <= '9';
}

static bool sotu_name(const char *s)
{
    size_t n = strlen(s);
    return n > 9 && strcmp(s + n - 4, ".txt") == 0 && s[0] >= '1' && s[0] <= '2' && s[4] == '_';
}

static int read_whole(const char *path, char **out, size_t *n, carbs_err_t *err)
{
    int rc = 0;
    long len;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    *out = carbs_malloc((size_t)len + 1);
    if (!*out) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    if (fread(*out, 1, (size_t)len, f) != (size_t)len) {
        rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
        free(*out);
        *out = NULL;
        goto out;
    }
    (*out)[len] = '\0';
    *n = (size_t)len;
out:
    fclose(f);
    return rc;
}

static int read_folder(corpus_t *c, const char *dir, corpus_source_t src, carbs_err_t *err)
{
    DA_TYPE(char *) names = {0};
    int rc = 0;
    DIR *dh = opendir(dir);
    if (!dh)
        return carbs_fail(err, CARBS_ENOTFOUND,
                          "cannot open '%s': %s; run tools/fetch-corpus.sh to fetch the corpus",
                          dir, strerror(errno));
    for (struct dirent *e = readdir(dh); e; e = readdir(dh)) {
        bool want = src == CORPUS_BROWN ? brown_name(e->d_name) : sotu_name(e->d_name);
        if (!want)
            continue;
        char *copy = xstrdup(e->d_name);
        if (DA_PUSH(&names, copy)) {
            free(copy);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory listing '%s'", dir);
            goto out;
        }
    }
    if (names.n)
        qsort(names.v, names.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < names.n && !rc; i++) {
        char path[4096], doc[96], *raw = NULL;
        size_t n = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
        rc = read_whole(path, &raw, &n, err);
        if (rc)
            break;
        if (src == CORPUS_BROWN) {
            snprintf(doc, sizeof(doc), "brown/%s", names.v[i]);
            rc = corpus_add_brown(c, doc, raw, n, err);
        } else {
            size_t len = strlen(names.v[i]) - 4;
            snprintf(doc, sizeof(doc), "sotu/%.*s", (int)(len < 80 ? len : 80), names.v[i]);
            int year = (names.v[i][0] - '0') * 1000 + (names.v[i][1] - '0') * 100 +
                       (names.v[i][2] - '0') * 10 + (names.v[i][3] - '0');
            rc = corpus_add_sotu(c, doc, year, raw, n, err);
        }
        free(raw);
    }
out:
    closedir(dh);
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    DA_FREE(&names);
    return rc;
}

int corpus_read(corpus_t *c, const char *brown_dir, const char *sotu_dir, carbs_err_t *err)
{
    int rc = 0;
    if (brown_dir)
        rc = read_folder(c, brown_dir, CORPUS_BROWN, err);
    if (!rc && sotu_dir)
        rc = read_folder(c, sotu_dir, CORPUS_SOTU, err);
    if (!rc && !c->n)
        rc = carbs_fail(err, CARBS_ENOTFOUND,
                        "no corpus documents found; run tools/fetch-corpus.sh to fetch them");
    return rc;
}

// ---- split ----

void corpus_split(corpus_t *c)
{
    static const corpus_part_t brown_cycle[] = {CORPUS_MCQ_DEV, CORPUS_MCQ_TEST, CORPUS_MCQ_DEV,
                                                CORPUS_MCQ_TEST, CORPUS_VAL};
    static const corpus_part_t sotu_cycle[] = {CORPUS_VAL, CORPUS_MCQ_DEV, CORPUS_MCQ_TEST};
    size_t k_brown = 0, k_sotu = 0;
    for (size_t i = 0; i < c->n; i++)
        c->v[i].part = CORPUS_TRAIN;
    /* documents are in name order within each source (corpus_read) */
    for (size_t i = 0; i < c->n; i++) {
        corpus_doc_t *d = &c->v[i];
        if (d->source == CORPUS_BROWN) {
            size_t len = strlen(d->name);
            if (len >= 2 && d->name[len - 1] == '0' && d->name[len - 2] >= '0' &&
                d->name[len - 2] <= '9')
                d->part = brown_cycle[k_brown++ % ARRAY_SIZE(brown_cycle)];
        }
    }
    for (size_t i = 0; i < c->n;) {
        if (c->v[i].source != CORPUS_SOTU) {
            i++;
            continue;
        }
        size_t j = i;
        int decade = c->v[i].year / 10;
        while (j < c->n && c->v[j].source == CORPUS_SOTU && c->v[j].year / 10 == decade)
            j++;
        c->v[i + (j - i) / 2].part = sotu_cycle[k_sotu++ % ARRAY_SIZE(sotu_cycle)];
        i = j;
    }
}

int corpus_part_text(const corpus_t *c, corpus_part_t part, char **out, size_t *n_out)
{
    corpus_buf_t b = {0};
    *out = NULL;
    *n_out = 0;
    if (buf_put(&b, "", 0))
        return CARBS_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].part != part)
            continue;
        if (buf_put(&b, c->v[i].text, c->v[i].n_text) || buf_put(&b, "\n\n", 2)) {
            free(b.v);
            return CARBS_ENOMEM;
        }
    }
    *out = b.v;
    *n_out = b.n;
    return 0;
}

void corpus_release(corpus_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        doc_free(&c->v[i]);
    DA_FREE(c);
}
