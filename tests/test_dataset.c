/*
 * test_dataset.c - MCQ sets, the synthetic corpus, and the token cache
 * round trip through dataset_load with every error return it has.
 */
#include "proto/common.h"
#include "trainer/dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "trainer/cache.h"
#include "trainer/prepare.h"

static void test_dataset_mcq_add(void)
{
    mcq_set_t s = {0};
    int32_t ctx[] = {17, 301, 44}, a[] = {5}, b[] = {6, 7}, c[] = {8}, d[] = {9, 10, 11};
    const int32_t *ch[MCQ_CHOICES] = {a, b, c, d};
    size_t n[MCQ_CHOICES] = {1, 2, 1, 3}, bytes[MCQ_CHOICES] = {4, 9, 3, 12};
    CHECK_EQ(mcq_set_add(&s, MCQ_TASK_CLOZE, ctx, 3, ch, n, bytes, 2), 0);
    CHECK_EQ(mcq_set_add(&s, MCQ_TASK_CONTINUATION, ctx + 1, 2, ch, n, bytes, 0), 0);
    CHECK_EQ(mcq_set_add(&s, MCQ_TASK_CLOZE, ctx, 3, ch, n, bytes, 4), CARBS_EINVAL);
    CHECK_EQ(mcq_set_add(&s, MCQ_TASK_CLOZE, ctx, 3, ch, n, bytes, -1), CARBS_EINVAL);
    size_t n0[MCQ_CHOICES] = {1, 0, 1, 3};
    CHECK_EQ(mcq_set_add(&s, MCQ_TASK_CLOZE, ctx, 3, ch, n0, bytes, 1), CARBS_EINVAL);
    CHECK_EQ(s.n, 2);
    CHECK_EQ(s.pool_n, 2 * 7 + 3 + 2);
    const mcq_item_t *it = &s.v[1];
    CHECK_EQ(it->task, MCQ_TASK_CONTINUATION);
    CHECK_EQ(it->n_context, 2);
    CHECK_EQ(s.pool[it->context], 301);
    CHECK_EQ(s.pool[it->choice[3] + 2], 11);
    CHECK_EQ(it->n_choice[1], 2);
    CHECK_EQ(it->choice_bytes[1], 9);
    mcq_set_release(&s);
    CHECK(s.v == NULL && s.n == 0);
}

static void test_dataset_synthetic(void)
{
    dataset_t a, b, c;
    carbs_err_t err = {0};
    CHECK_EQ(dataset_synthetic(97, 4242, 5000, &a, &err), 0);
    CHECK_EQ(dataset_synthetic(97, 4242, 5000, &b, &err), 0);
    CHECK_EQ(dataset_synthetic(97, 4243, 5000, &c, &err), 0);
    CHECK_EQ(a.n_train, 5000);
    CHECK_EQ(a.n_val, 625);
    CHECK_EQ(a.vocab_size, 97);
    CHECK_NEAR(a.val_bytes, 3.0 * 625, 1e-9);
    CHECK(memcmp(a.train, b.train, 5000 * sizeof(int32_t)) == 0);
    CHECK(memcmp(a.val, b.val, 625 * sizeof(int32_t)) == 0);
    CHECK(memcmp(a.train, c.train, 5000 * sizeof(int32_t)) != 0);
    size_t hist[97] = {0};
    for (size_t i = 0; i < a.n_train; i++) {
        CHECK(a.train[i] >= 0 && a.train[i] < 97);
        if (a.train[i] >= 0 && a.train[i] < 97)
            hist[a.train[i]]++;
    }
    CHECK(hist[0] > 50); /* sentence ends */
    CHECK_EQ(a.mcq_dev.n, 128);
    CHECK_EQ(a.mcq_test.n, 128);
    CHECK_EQ(a.mcq_dev.pool_n, b.mcq_dev.pool_n);
    CHECK(memcmp(a.mcq_dev.pool, b.mcq_dev.pool, a.mcq_dev.pool_n * sizeof(int32_t)) == 0);
    int seen[MCQ_CHOICES] = {0}, tasks[MCQ_TASK_COUNT] = {0};
    for (size_t i = 0; i < a.mcq_dev.n; i++) {
        const mcq_item_t *it = &a.mcq_dev.v[i];
        seen[it->answer]++;
        tasks[it->task]++;
        CHECK(it->n_context >= 6);
        for (int k = 0; k < MCQ_CHOICES; k++) {
            CHECK(it->n_choice[k] >= 1);
            CHECK_EQ(it->choice_bytes[k], 3 * it->n_choice[k]);
            CHECK(it->choice[k] + it->n_choice[k] <= a.mcq_dev.pool_n);
        }
    }
    for (int k = 0; k < MCQ_CHOICES; k++)
        CHECK(seen[k] > 10);
    CHECK_EQ(tasks[MCQ_TASK_CLOZE], 64);
    CHECK_EQ(tasks[MCQ_TASK_CONTINUATION], 64);
    dataset_t e;
    CHECK_EQ(dataset_synthetic(8, 1, 5000, &e, &err), CARBS_EINVAL);
    CHECK_EQ(dataset_synthetic(97, 1, 10, &e, &err), CARBS_EINVAL);
    CHECK(e.train == NULL);
    dataset_release(&a);
    dataset_release(&b);
    dataset_release(&c);
    dataset_release(NULL);
}

static size_t read_raw(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap, f) : 0;
    if (f)
        fclose(f);
    return n;
}

static void test_dataset_load_round_trip(void)
{
    char root[] = "/tmp/carbs_test_dataset_XXXXXX", dir[256], path[300];
    carbs_err_t err = {0};
    dataset_t syn, ds;
    CHECK(mkdtemp(root) != NULL);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "carbs data prepare") != NULL);
    CHECK_EQ(dataset_load(root, 100, &ds, &err), CARBS_EINVAL);
    snprintf(dir, sizeof(dir), "%s/vocab_300", root);
    CHECK_EQ(mkdir(dir, 0755), 0);
    CHECK_EQ(dataset_synthetic(300, 77, 3000, &syn, &err), 0);
    snprintf(path, sizeof(path), "%s/train.bin", dir);
    CHECK_EQ(cache_write_tokens(path, 300, syn.train, syn.n_train, 8123, &err), 0);
    snprintf(path, sizeof(path), "%s/val.bin", dir);
    CHECK_EQ(cache_write_tokens(path, 300, syn.val, syn.n_val, 1111, &err), 0);
    snprintf(path, sizeof(path), "%s/mcq_dev.bin", dir);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "mcq_dev.bin") != NULL);
    CHECK_EQ(cache_write_mcq(path, 300, &syn.mcq_dev, &err), 0);
    snprintf(path, sizeof(path), "%s/mcq_test.bin", dir);
    CHECK_EQ(cache_write_mcq(path, 300, &syn.mcq_test, &err), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), 0);
    CHECK_EQ(ds.vocab_size, 300);
    CHECK_EQ(ds.n_train, syn.n_train);
    CHECK(memcmp(ds.train, syn.train, syn.n_train * sizeof(int32_t)) == 0);
    CHECK(memcmp(ds.val, syn.val, syn.n_val * sizeof(int32_t)) == 0);
    CHECK_NEAR(ds.val_bytes, 1111.0, 1e-9);
    CHECK_EQ(ds.mcq_test.n, syn.mcq_test.n);
    CHECK_EQ(ds.mcq_test.pool_n, syn.mcq_test.pool_n);
    for (size_t i = 0; i < syn.mcq_test.n && i < ds.mcq_test.n; i++) {
        const mcq_item_t *x = &ds.mcq_test.v[i], *y = &syn.mcq_test.v[i];
        CHECK(x->task == y->task && x->answer == y->answer && x->context == y->context &&
              x->n_context == y->n_context);
        for (int k = 0; k < MCQ_CHOICES; k++)
            CHECK(x->choice[k] == y->choice[k] && x->n_choice[k] == y->n_choice[k] &&
                  x->choice_bytes[k] == y->choice_bytes[k]);
    }
    CHECK(memcmp(ds.mcq_dev.pool, syn.mcq_dev.pool, syn.mcq_dev.pool_n * sizeof(int32_t)) == 0);
    dataset_release(&ds);

    /* damage val.bin and mcq_test.bin each way the readers check */
    static unsigned char good[1 << 16], bad[1 << 16];
    snprintf(path, sizeof(path), "%s/val.bin", dir);
    size_t n = read_raw(path, good, sizeof(good));
    CHECK_EQ(n, 32 + 2 * syn.n_val);
    memcpy(bad, good, n);
    bad[3] = 'x';
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EIO);
    CHECK(strstr(err.msg, "bad magic") != NULL);
    memcpy(bad, good, n);
    bad[8] = 2;
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EVERSION);
    memcpy(bad, good, n);
    bad[12] = 0x2d; /* vocabulary 301 */
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EIO);
    CHECK(strstr(err.msg, "vocabulary 301") != NULL);
    CHECK_EQ(fx_write_file(path, good, n - 2), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EIO);
    memcpy(bad, good, n);
    bad[32] = 0x2c; /* token 300 */
    bad[33] = 0x01;
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EIO);
    CHECK_EQ(fx_write_file(path, good, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), 0);
    dataset_release(&ds);

    snprintf(path, sizeof(path), "%s/mcq_test.bin", dir);
    n = read_raw(path, good, sizeof(good));
    memcpy(bad, good, n);
    bad[32 + 4] = 4; /* answer 4 */
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EIO);
    CHECK(strstr(err.msg, "item 0") != NULL);
    memcpy(bad, good, n);
    bad[32 + 8 + 7] = 1; /* context offset far outside the pool */
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EIO);
    memcpy(bad, good, n);
    bad[8] = 9;
    CHECK_EQ(fx_write_file(path, bad, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), CARBS_EVERSION);
    CHECK(ds.train == NULL && ds.mcq_dev.v == NULL);
    CHECK_EQ(fx_write_file(path, good, n), 0);
    CHECK_EQ(dataset_load(root, 300, &ds, &err), 0);
    dataset_release(&ds);

    int32_t over[] = {3, 300};
    snprintf(path, sizeof(path), "%s/x.bin", dir);
    CHECK_EQ(cache_write_tokens(path, 300, over, 2, 5, &err), CARBS_EINVAL);
    CHECK_EQ(cache_write_tokens("/nonexistent/dir/x.bin", 300, over, 1, 5, &err), CARBS_EIO);
    const char *names[] = {"train.bin", "val.bin", "mcq_dev.bin", "mcq_test.bin", "x.bin"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    rmdir(root);
    dataset_release(&syn);
}

int main(void)
{
    RUN(test_dataset_mcq_add);
    RUN(test_dataset_synthetic);
    RUN(test_dataset_load_round_trip);
    return check_summary();
}
