/*
 * prepare_run.c - `carbs data prepare` as a library call: corpus, split,
 * tokenizer, token shards and MCQ sets for one vocabulary size.
 *
 * The order is what keeps the evaluation honest (docs/data.md): the split is
 * made by document before anything is fitted, the tokenizer sees only the
 * training part, and questions come from the MCQ parts after the leakage
 * filter.  Each output is written under a temporary name and renamed when
 * complete; the manifest is renamed last, so a cache with a manifest is a
 * whole cache, and an interrupted run is simply redone.
 */
#include "proto/common.h"
#include "trainer/prepare.h"

#include <errno.h>
#include <sys/stat.h>

#include "trainer/bpe.h"
#include "trainer/cache.h"
#include "trainer/mcq.h"

#define PREPARE_DEFAULT_VOCAB 2048

static const char *const files[] = {"tokenizer.bpe", "train.bin", "val.bin", "mcq_dev.bin",
                                    "mcq_test.bin", "manifest.txt"};

const char *prepare_data_dir(const char *dir)
{
    const char *env = getenv("CARBS_DATA");
    if (dir && *dir)
        return dir;
    return env && *env ? env : "./data-cache";
}

// ---- manifest ----

static const char *const task_names[] = {
#define X(id, name) name,
    MCQ_TASK_MAP(X)
#undef X
};

static int write_manifest(const char *path, const prepare_report_t *r, carbs_err_t *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", path, strerror(errno));
    fprintf(f, "# carbs data prepare: what this folder holds (docs/data.md)\n");
    fprintf(f, "format %d\nvocab_size %zu\nmerges %zu\nseed %llu\nseconds %.3f\n",
            CACHE_FORMAT_VERSION, r->vocab_size, r->n_merges, (unsigned long long)r->seed,
            r->seconds);
    for (int p = 0; p < CORPUS_PART_COUNT; p++) {
        const char *name = corpus_part_name((corpus_part_t)p);
        fprintf(f, "%s.docs %zu\n%s.sentences %zu\n%s.bytes %llu\n%s.tokens %llu\n", name,
                r->docs[p], name, r->sents[p], name, (unsigned long long)r->bytes[p], name,
                (unsigned long long)r->tokens[p]);
        if (p == CORPUS_MCQ_DEV || p == CORPUS_MCQ_TEST)
            for (int t = 0; t < MCQ_TASK_COUNT; t++)
                fprintf(f, "%s.%s %zu\n", name, task_names[t], r->items[p][t]);
    }
    if (ferror(f) | (fclose(f) != 0))
        return carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

/* Store value under key in r; unknown keys are ignored (a later version
 * may add some). */
static int manifest_set(prepare_report_t *r, const char *key, const char *value)
{
    size_t v = 0;
    double secs;
    if (strcmp(key, "seconds") == 0) {
        if (parse_double(value, 0, 1e9, &secs))
            return CARBS_EIO;
        r->seconds = secs;
        return 0;
    }
    if (parse_size(value, SIZE_MAX, &v))
        return CARBS_EIO;
    if (strcmp(key, "format") == 0)
        return v == CACHE_FORMAT_VERSION ? 0 : CARBS_EVERSION;
    if (strcmp(key, "vocab_size") == 0)
        r->vocab_size = v;
    else if (strcmp(key, "merges") == 0)
        r->n_merges = v;
    else if (strcmp(key, "seed") == 0)
        r->seed = v;
    const char *dot = strchr(key, '.');
    if (!dot)
        return 0;
    for (int p = 0; p < CORPUS_PART_COUNT; p++) {
        const char *name = corpus_part_name((corpus_part_t)p);
        if (strlen(name) != (size_t)(dot - key) || strncmp(key, name, strlen(name)) != 0)
            continue;
        const char *field = dot + 1;
        if (strcmp(field, "docs") == 0)
            r->docs[p] = v;
        else if (strcmp(field, "sentences") == 0)
            r->sents[p] = v;
        else if (strcmp(field, "bytes") == 0)
            r->bytes[p] = v;
        else if (strcmp(field, "tokens") == 0)
            r->tokens[p] = v;
        for (int t = 0; t < MCQ_TASK_COUNT; t++)
            if (strcmp(field, task_names[t]) == 0)
                r->items[p][t] = v;
    }
    return 0;
}

int prepare_read_manifest(const char *data_dir, size_t vocab_size, prepare_report_t *rep,
                          carbs_err_t *err)
{
    char path[4200], line[512], key[128], value[128];
    memset(rep, 0, sizeof(*rep));
    snprintf(rep->dir, sizeof(rep->dir), "%s/vocab_%zu", data_dir, vocab_size);
    snprintf(path, sizeof(path), "%s/manifest.txt", rep->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO,
                          "cannot open '%s': %s; run `carbs data prepare --vocab %zu`", path,
                          strerror(errno), vocab_size);
    int rc = 0;
    for (size_t lineno = 1; !rc && fgets(line, sizeof(line), f); lineno++) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%127s %127s", key, value) != 2)
            rc = CARBS_EIO;
        else
            rc = manifest_set(rep, key, value);
        if (rc)
            rc = carbs_fail(err, rc, "'%s' line %zu is malformed or of another version", path,
                            lineno);
    }
    fclose(f);
    if (!rc && rep->vocab_size != vocab_size)
        rc = carbs_fail(err, CARBS_EIO, "'%s' is for vocabulary %zu, not %zu", path,
                        rep->vocab_size, vocab_size);
    rep->skipped = true;
    return rc;
}

// ---- the pipeline ----

static bool exists(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int make_dir(const char *dir, carbs_err_t *err)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", dir, strerror(errno));
    return 0;
}

/* Rename dir/name.tmp to dir/name. */
static int publish(const char *dir, const char *name, carbs_err_t *err)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (rename(tmp, path) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
    return 0;
}

/* Tokenize part's text; write it as dir/name when name is not NULL. */
static int tokenize_part(const corpus_t *c, corpus_part_t part, const bpe_t *bpe,
                         const char *dir, const char *name, prepare_report_t *r,
                         carbs_err_t *err)
{
    char *text = NULL, path[4200];
    size_t n = 0;
    bpe_tokens_t tok = {0};
    int rc = corpus_part_text(c, part, &text, &n);
    if (!rc)
        rc = bpe_encode(bpe, text, n, &tok);
    if (rc) {
        rc = carbs_fail(err, rc, "cannot tokenize the %s part: %s", corpus_part_name(part),
                        carbs_strerror(rc));
        goto out;
    }
    r->tokens[part] = tok.n;
    if (name) {
        snprintf(path, sizeof(path), "%s/%s.tmp", dir, name);
        rc = cache_write_tokens(path, bpe_vocab_size(bpe), tok.v, tok.n, n, err);
        if (!rc)
            rc = publish(dir, name, err);
    }
out:
    free(text);
    DA_FREE(&tok);
    return rc;
}

static int write_mcq(mcq_builder_t *mb, corpus_part_t part, const bpe_t *bpe, const char *dir,
                     prepare_report_t *r, carbs_err_t *err)
{
    mcq_text_set_t text = {0};
    mcq_set_t set = {0};
    char name[64], path[4200];
    mcq_stats_t st;
    int rc = mcq_build(mb, part, &text, &st, err);
    if (!rc)
        rc = mcq_encode(&text, bpe, &set, err);
    if (rc)
        goto out;
    for (int t = 0; t < MCQ_TASK_COUNT; t++)
        r->items[part][t] = st.kept[t];
    snprintf(name, sizeof(name), "%s.bin", corpus_part_name(part));
    snprintf(path, sizeof(path), "%s/%s.tmp", dir, name);
    rc = cache_write_mcq(path, bpe_vocab_size(bpe), &set, err);
    if (!rc)
        rc = publish(dir, name, err);
out:
    mcq_text_set_release(&text);
    mcq_set_release(&set);
    return rc;
}

int prepare_run(const prepare_config_t *cfg, prepare_report_t *rep, carbs_err_t *err)
{
    prepare_config_t k = cfg ? *cfg : (prepare_config_t){0};
    prepare_report_t r = {0};
    corpus_t c = {0};
    bpe_t *bpe = NULL;
    mcq_builder_t *mb = NULL;
    char *train = NULL, brown[4200], sotu[4200], path[4200];
    size_t n_train = 0;
    int rc;
    double t0 = now_monotonic();
    const char *data = prepare_data_dir(k.data_dir);
    r.vocab_size = k.vocab_size ? k.vocab_size : PREPARE_DEFAULT_VOCAB;
    r.seed = k.seed;
    if (r.vocab_size < BPE_MIN_VOCAB || r.vocab_size > BPE_MAX_VOCAB)
        return carbs_fail(err, CARBS_EINVAL, "vocabulary size %zu outside [%d, %d]",
                          r.vocab_size, BPE_MIN_VOCAB, BPE_MAX_VOCAB);
    snprintf(r.dir, sizeof(r.dir), "%s/vocab_%zu", data, r.vocab_size);
    if (!k.force) {
        bool complete = true;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
            complete = complete && exists(r.dir, files[i]);
        if (complete) {
            rc = prepare_read_manifest(data, r.vocab_size, &r, err);
            goto out;
        }
    }
    snprintf(brown, sizeof(brown), "%s/src/brown/package", data);
    snprintf(sotu, sizeof(sotu), "%s/src/sotu/package/data", data);
    rc = corpus_read(&c, k.brown_dir ? k.brown_dir : brown, k.sotu_dir ? k.sotu_dir : sotu, err);
    if (rc)
        goto out;
    corpus_split(&c);
    for (size_t i = 0; i < c.n; i++) {
        r.docs[c.v[i].part]++;
        r.sents[c.v[i].part] += c.v[i].sents.n;
        r.bytes[c.v[i].part] += c.v[i].n_text;
    }
    if ((rc = make_dir(data, err)) || (rc = make_dir(r.dir, err)))
        goto out;
    /* a manifest left from an older cache must not vouch for new files */
    snprintf(path, sizeof(path), "%s/manifest.txt", r.dir);
    if (remove(path) != 0 && errno != ENOENT) {
        rc = carbs_fail(err, CARBS_EIO, "cannot remove '%s': %s", path, strerror(errno));
        goto out;
    }
    rc = corpus_part_text(&c, CORPUS_TRAIN, &train, &n_train);
    if (rc) {
        rc = carbs_fail(err, rc, "out of memory joining the training text");
        goto out;
    }
    bpe = bpe_train(train, n_train, r.vocab_size, err);
    if (!bpe) {
        rc = err ? err->code : CARBS_ENOMEM;
        goto out;
    }
    r.n_merges = bpe_n_merges(bpe);
    snprintf(path, sizeof(path), "%s/tokenizer.bpe.tmp", r.dir);
    if ((rc = bpe_save(bpe, path, err)) || (rc = publish(r.dir, "tokenizer.bpe", err)))
        goto out;
    if ((rc = tokenize_part(&c, CORPUS_TRAIN, bpe, r.dir, "train.bin", &r, err)) ||
        (rc = tokenize_part(&c, CORPUS_VAL, bpe, r.dir, "val.bin", &r, err)) ||
        (rc = tokenize_part(&c, CORPUS_MCQ_DEV, bpe, r.dir, NULL, &r, err)) ||
        (rc = tokenize_part(&c, CORPUS_MCQ_TEST, bpe, r.dir, NULL, &r, err)))
        goto out;
    mb = mcq_builder_new(&c, &(mcq_config_t){.seed = k.seed}, err);
    if (!mb) {
        rc = err ? err->code : CARBS_ENOMEM;
        goto out;
    }
    if ((rc = write_mcq(mb, CORPUS_MCQ_DEV, bpe, r.dir, &r, err)) ||
        (rc = write_mcq(mb, CORPUS_MCQ_TEST, bpe, r.dir, &r, err)))
        goto out;
    r.seconds = now_monotonic() - t0;
    snprintf(path, sizeof(path), "%s/manifest.txt.tmp", r.dir);
    if ((rc = write_manifest(path, &r, err)))
        goto out;
    rc = publish(r.dir, "manifest.txt", err);
out:
    if (rep)
        *rep = r;
    mcq_builder_free(mb);
    bpe_free(bpe);
    free(train);
    corpus_release(&c);
    return rc;
}
