/*
 * test_prepare.c - the whole `carbs data prepare` pipeline (prepare_run)
 * on the hand-written texts of tests/data/corpus/: the files it writes,
 * its manifest, loading the result with dataset_load, skipping a complete
 * cache, --force, and its error returns.
 */
#include "proto/common.h"
#include "trainer/prepare.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "trainer/dataset.h"

static void corpus_dirs(char *brown, char *sotu, size_t cap)
{
    const char *root = getenv("CARBS_SOURCE_ROOT");
    snprintf(brown, cap, "%s/tests/data/corpus/brown", root ? root : "..");
    snprintf(sotu, cap, "%s/tests/data/corpus/sotu", root ? root : "..");
}

static double mtime(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) != 0)
        return -1;
    return (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
}

/* Set a file's times 10 s into the past, so a rewrite shows in its mtime
 * whatever the clock's resolution (no sleep). */
static void backdate(const char *dir, const char *name)
{
    char path[4200];
    struct timespec ts[2];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= 10;
    ts[1] = ts[0];
    CHECK_EQ(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void remove_tree(const char *dir)
{
    static const char *const names[] = {"tokenizer.bpe", "train.bin",   "val.bin",
                                        "mcq_dev.bin",   "mcq_test.bin", "manifest.txt"};
    char path[4200];
    snprintf(path, sizeof(path), "%s/vocab_300", dir);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char file[4300];
        snprintf(file, sizeof(file), "%s/%s", path, names[i]);
        unlink(file);
    }
    rmdir(path);
    rmdir(dir);
}

static void test_prepare_pipeline(void)
{
    char tmpl[] = "/tmp/carbs-test-prepare-XXXXXX", brown[512], sotu[512], data[512];
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (!dir)
        return;
    snprintf(data, sizeof(data), "%s/data", dir); /* created by prepare_run */
    corpus_dirs(brown, sotu, sizeof(brown));
    prepare_config_t cfg = {
        .data_dir = data, .brown_dir = brown, .sotu_dir = sotu, .vocab_size = 300, .seed = 4};
    prepare_report_t r;
    carbs_err_t err = {0};
    CHECK_EQ(prepare_run(&cfg, &r, &err), 0);
    CHECK(!r.skipped);
    CHECK_EQ(r.vocab_size, 300);
    CHECK(r.n_merges > 0 && r.n_merges <= 44);
    /* ca01 and the 1801 address train; ca10 is dev, cb20 test, 1805 val */
    CHECK_EQ(r.docs[CORPUS_TRAIN], 2);
    CHECK_EQ(r.docs[CORPUS_VAL], 1);
    CHECK_EQ(r.docs[CORPUS_MCQ_DEV], 1);
    CHECK_EQ(r.docs[CORPUS_MCQ_TEST], 1);
    CHECK_EQ(r.sents[CORPUS_TRAIN], 4 + 6);
    CHECK_EQ(r.sents[CORPUS_VAL], 4);
    CHECK(r.tokens[CORPUS_TRAIN] > 0 && r.tokens[CORPUS_TRAIN] < r.bytes[CORPUS_TRAIN]);
    CHECK(r.seconds > 0);
    CHECK(strstr(r.dir, "/data/vocab_300") != NULL);

    /* what the trainer reads */
    dataset_t ds;
    CHECK_EQ(dataset_load(data, 300, &ds, &err), 0);
    CHECK_EQ(ds.n_train, r.tokens[CORPUS_TRAIN]);
    CHECK_EQ(ds.n_val, r.tokens[CORPUS_VAL]);
    CHECK_NEAR(ds.val_bytes, (double)r.bytes[CORPUS_VAL] + 2.0, 1e-9); /* + the "\n\n" */
    CHECK_EQ(ds.mcq_dev.n, r.items[CORPUS_MCQ_DEV][0] + r.items[CORPUS_MCQ_DEV][1]);
    dataset_release(&ds);

    /* the manifest says the same */
    prepare_report_t m;
    CHECK_EQ(prepare_read_manifest(data, 300, &m, &err), 0);
    CHECK(m.skipped);
    CHECK_EQ(m.n_merges, r.n_merges);
    CHECK_EQ(m.seed, 4);
    for (int p = 0; p < CORPUS_PART_COUNT; p++) {
        CHECK_EQ(m.docs[p], r.docs[p]);
        CHECK_EQ(m.sents[p], r.sents[p]);
        CHECK_EQ(m.bytes[p], r.bytes[p]);
        CHECK_EQ(m.tokens[p], r.tokens[p]);
        for (int t = 0; t < MCQ_TASK_COUNT; t++)
            CHECK_EQ(m.items[p][t], r.items[p][t]);
    }
    prepare_report_t none;
    CHECK_EQ(prepare_read_manifest(data, 512, &none, &err), CARBS_ENOTFOUND);

    /* a complete cache is left alone; --force rebuilds it */
    double t_train = mtime(r.dir, "train.bin");
    CHECK_EQ(prepare_run(&cfg, &r, &err), 0);
    CHECK(r.skipped);
    CHECK_EQ(r.tokens[CORPUS_TRAIN], m.tokens[CORPUS_TRAIN]);
    CHECK(mtime(r.dir, "train.bin") == t_train);
    backdate(r.dir, "train.bin");
    t_train = mtime(r.dir, "train.bin");
    cfg.force = true;
    CHECK_EQ(prepare_run(&cfg, &r, &err), 0);
    CHECK(!r.skipped);
    CHECK(mtime(r.dir, "train.bin") > t_train);
    /* a cache without its manifest is incomplete and rebuilt */
    char path[4200];
    snprintf(path, sizeof(path), "%s/manifest.txt", r.dir);
    CHECK_EQ(unlink(path), 0);
    cfg.force = false;
    CHECK_EQ(prepare_run(&cfg, &r, &err), 0);
    CHECK(!r.skipped);
    /* a malformed manifest is an error, not a silent skip */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("format 1\nvocab_size three hundred\n", f);
        fclose(f);
    }
    CHECK_EQ(prepare_run(&cfg, &r, &err), CARBS_EIO);
    CHECK(strstr(err.msg, "manifest.txt") != NULL);
    f = fopen(path, "w");
    if (f) {
        fputs("format 7\nvocab_size 300\n", f);
        fclose(f);
    }
    CHECK_EQ(prepare_read_manifest(data, 300, &m, &err), CARBS_EVERSION);
    remove_tree(data);
    rmdir(dir);
}

static void test_prepare_errors(void)
{
    char brown[512], sotu[512];
    carbs_err_t err = {0};
    prepare_report_t r;
    corpus_dirs(brown, sotu, sizeof(brown));
    prepare_config_t cfg = {.data_dir = "/tmp", .brown_dir = brown, .vocab_size = 100};
    CHECK_EQ(prepare_run(&cfg, &r, &err), CARBS_EINVAL);
    cfg.vocab_size = 9000;
    CHECK_EQ(prepare_run(&cfg, NULL, &err), CARBS_EINVAL);
    cfg.vocab_size = 300;
    cfg.brown_dir = "/nonexistent/carbs-brown-5521";
    cfg.force = true;
    CHECK_EQ(prepare_run(&cfg, &r, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "fetch-corpus.sh") != NULL);
    CHECK_STR(prepare_data_dir("/some/where"), "/some/where");
    CHECK(prepare_data_dir(NULL) != NULL);
}

int main(void)
{
    RUN(test_prepare_pipeline);
    RUN(test_prepare_errors);
    return check_summary();
}
