/*
 * test_store_summary.c - the store's narrow reads (store/store_summary.h)
 * against what the whole-record reads of store.h say about the same
 * trials: a sweep's aggregates, its successful points, a page of trials
 * sorted, filtered and cut by SQLite, the running trials, the latest
 * curves, and the two marks (data version, results) that tell a reader
 * whether what it derived still holds.
 */
#include "proto/common.h"
#include "store/store_summary.h"

#include <math.h>

#include "tests/check.h"
#include "tests/fixture.h"

/* A store name with sweep "s" of 8 trials, x = 0..7 (params {"x": i}): trial i claimed by
 * worker "w<i%2>"; trials 0-4 finished (1 and 3 failed with a message and
 * no output),
 * 5 and 6 running, 7 pending; cost 10 - i, output i * i. */
static store_t *build(const char *name, int64_t *sweep_id, int64_t ids[8])
{
    char path[512];
    carbs_err_t err = {0};
    store_t *st;

    fx_path(path, sizeof(path), "%s", name);
    st = store_open(path, STORE_CREATE, &err);
    if (!st || store_sweep_create(st, "s", "{}", sweep_id, &err)) {
        fprintf(stderr, "store: %s\n", err.msg);
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        char params[32], worker[8];
        store_trial_new_t tn = {.sweep_id = *sweep_id, .params_json = params,
                                .pred_output = NAN, .pred_cost = NAN};
        snprintf(params, sizeof(params), "{\"x\":%d}", i);
        snprintf(worker, sizeof(worker), "w%d", i % 2);
        CHECK_EQ(store_trial_add(st, &tn, &ids[i], &err), 0);
        if (i == 7)
            continue;
        CHECK_EQ(store_trial_claim(st, ids[i], worker, 1e12, NULL, &err), 0);
        if (i >= 5)
            continue;
        store_result_t res = {.trial_id = ids[i], .ok = i != 1 && i != 3,
                              .failure = CARBS_FAILURE_ERROR, .output = i * i, .cost = 10 - i};
        if (!res.ok) {
            res.output = NAN;
            snprintf(res.message, sizeof(res.message), "failed %d", i);
        }
        carbs_curve_point_t pt = {.step = 1, .tokens = 10, .loss = 1};
        CHECK_EQ(store_trial_finish(st, &res, &pt, 1, NULL, &err), 0);
    }
    return st;
}

static void test_summary_and_points(void)
{
    int64_t sid, ids[8];
    carbs_err_t err = {0};
    store_t *st = build("sum.db", &sid, ids);
    store_summary_t sum;
    store_points_t pts = {0};

    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_summary(st, sid, &sum, &err), 0);
    CHECK_EQ(sum.counts[CARBS_TRIAL_DONE], 3);
    CHECK_EQ(sum.counts[CARBS_TRIAL_FAILED], 2);
    CHECK_EQ(sum.counts[CARBS_TRIAL_RUNNING], 2);
    CHECK_EQ(sum.counts[CARBS_TRIAL_PENDING], 1);
    CHECK_NEAR(sum.cost_spent, 10 + 9 + 8 + 7 + 6, 1e-12);
    CHECK_EQ(sum.n_results, 5);
    CHECK_EQ(sum.last_result, ids[4]);
    CHECK(sum.first_started > 1.7e9 && sum.last_result_at >= sum.first_started);
    CHECK_EQ(store_sweep_summary(st, 999, &sum, &err), CARBS_ENOTFOUND);

    /* every result in id order, params for the successes; open from trial 5 */
    int64_t open_from = 0;
    CHECK_EQ(store_sweep_points(st, sid, 0, &pts, &open_from, &err), 0);
    CHECK_EQ(pts.n, 5);
    CHECK_EQ(open_from, ids[5]);
    for (size_t k = 0; k < pts.n && k < 5; k++) {
        char params[32];
        bool ok = k % 2 == 0;
        snprintf(params, sizeof(params), "{\"x\":%d}", (int)k);
        CHECK_EQ(pts.v[k].trial_id, ids[k]);
        CHECK_EQ(pts.v[k].ok, ok);
        CHECK(pts.v[k].cost == 10.0 - (double)k);
        if (ok) {
            CHECK(pts.v[k].output == (double)(k * k));
            CHECK_STR(pts.v[k].params_json, params);
        } else {
            CHECK(isnan(pts.v[k].output) && pts.v[k].params_json == NULL);
        }
    }
    store_points_release(&pts);
    /* from trial 3 on: 3 and 4 */
    CHECK_EQ(store_sweep_points(st, sid, ids[3], &pts, &open_from, &err), 0);
    CHECK(pts.n == 2 && pts.v[0].trial_id == ids[3] && pts.v[1].trial_id == ids[4]);
    store_points_release(&pts);
    /* a result for trial 6, then none open but 5 and 7 */
    store_result_t res = {.trial_id = ids[6], .ok = true, .output = 1, .cost = 1};
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, NULL, &err), 0);
    CHECK_EQ(store_sweep_points(st, sid, open_from, &pts, &open_from, &err), 0);
    CHECK(pts.n == 1 && pts.v[0].trial_id == ids[6] && open_from == ids[5]);
    store_points_release(&pts);
    CHECK_EQ(store_trial_cancel(st, ids[5], &err), 0);
    CHECK_EQ(store_trial_cancel(st, ids[7], &err), 0);
    CHECK_EQ(store_sweep_points(st, sid, ids[6], &pts, &open_from, &err), 0);
    CHECK(pts.n == 1 && open_from == ids[7] + 1);
    store_points_release(&pts);
    CHECK_EQ(store_sweep_points(st, 999, 0, &pts, &open_from, &err), CARBS_ENOTFOUND);
    store_close(st);
}

/* The ids of a page of q. */
static size_t page_ids(store_t *st, const store_page_query_t *q, int64_t out[8], size_t *total)
{
    store_records_t r = {0};
    carbs_err_t err = {0};
    size_t n = 0;

    CHECK_EQ(store_trial_page(st, q, &r, total, &err), 0);
    for (size_t i = 0; i < r.n && i < 8; i++)
        out[n++] = r.v[i].trial.id;
    store_records_release(&r);
    return n;
}

static void test_page(void)
{
    int64_t sid, ids[8], got[8];
    size_t total = 0;
    carbs_err_t err = {0};
    store_t *st = build("page.db", &sid, ids);
    store_records_t r = {0};

    CHECK(st != NULL);
    if (!st)
        return;
    /* by id, cut at offset 2, limit 3 */
    store_page_query_t q = {.sweep_id = sid, .offset = 2, .limit = 3};
    CHECK_EQ(page_ids(st, &q, got, &total), 3);
    CHECK(total == 8 && got[0] == ids[2] && got[1] == ids[3] && got[2] == ids[4]);
    q.descending = true;
    q.offset = 0;
    CHECK_EQ(page_ids(st, &q, got, &total), 3);
    CHECK(got[0] == ids[7] && got[1] == ids[6] && got[2] == ids[5]);
    /* by output descending: 16, 4, 0, then trials without an output by id */
    store_page_query_t o = {.sweep_id = sid, .sort = STORE_SORT_OUTPUT, .descending = true,
                            .limit = 8};
    CHECK_EQ(page_ids(st, &o, got, &total), 8);
    CHECK(got[0] == ids[4] && got[1] == ids[2] && got[2] == ids[0] && got[3] == ids[1] &&
          got[7] == ids[7]);
    o.descending = false;
    CHECK_EQ(page_ids(st, &o, got, &total), 8);
    CHECK(got[0] == ids[0] && got[2] == ids[4] && got[3] == ids[1]);
    /* a state filter and a parameter, descending */
    store_page_query_t f = {.sweep_id = sid, .states = 1u << CARBS_TRIAL_FAILED, .limit = 8,
                            .sort = STORE_SORT_PARAM, .param = "x", .descending = true};
    CHECK_EQ(page_ids(st, &f, got, &total), 2);
    CHECK(total == 2 && got[0] == ids[3] && got[1] == ids[1]);
    /* the rows come whole, with their result */
    CHECK_EQ(store_trial_page(st, &f, &r, &total, &err), 0);
    CHECK(r.n == 2 && r.v[0].has_result && !r.v[0].result.ok);
    if (r.n == 2)
        CHECK_STR(r.v[0].result.message, "failed 3");
    store_records_release(&r);
    /* the worker, then the message: trials without one last */
    store_page_query_t m = {.sweep_id = sid, .sort = STORE_SORT_MESSAGE, .limit = 8};
    CHECK_EQ(page_ids(st, &m, got, &total), 8);
    CHECK(got[0] == ids[1] && got[1] == ids[3] && got[2] == ids[0]);
    store_page_query_t bad = {.sweep_id = sid, .sort = STORE_SORT_PARAM, .param = "a\"b",
                              .limit = 1};
    CHECK_EQ(store_trial_page(st, &bad, &r, &total, &err), CARBS_EINVAL);
    bad.param = NULL;
    CHECK_EQ(store_trial_page(st, &bad, &r, &total, &err), CARBS_EINVAL);
    store_page_query_t none = {.sweep_id = 999, .limit = 1};
    CHECK_EQ(store_trial_page(st, &none, &r, &total, &err), CARBS_ENOTFOUND);
    store_close(st);
}

static void test_running_curves_and_marks(void)
{
    int64_t sid, ids[8], *latest = NULL, version = 0, v2 = 0, count = 0, last = 0;
    size_t n = 0;
    carbs_err_t err = {0};
    store_t *st = build("marks.db", &sid, ids);
    store_held_t *held = NULL;
    char path[512];

    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_running(st, 0, &held, &n, &err), 0);
    CHECK(n == 2 && held[0].trial_id == ids[5] && held[1].trial_id == ids[6]);
    if (n == 2) {
        CHECK_STR(held[0].worker, "w1");
        CHECK_EQ(held[1].sweep_id, sid);
    }
    free(held);
    CHECK_EQ(store_running(st, sid + 1, &held, &n, &err), 0);
    CHECK(n == 0 && held == NULL);

    /* trials 0-4 have a curve: the latest two are 4 and 3 */
    CHECK_EQ(store_curve_latest(st, sid, 2, &latest, &n, &err), 0);
    CHECK(n == 2 && latest[0] == ids[4] && latest[1] == ids[3]);
    free(latest);
    CHECK_EQ(store_curve_latest(st, 999, 2, &latest, &n, &err), CARBS_ENOTFOUND);

    /* the marks: another connection's result moves both; its claim only the version */
    CHECK_EQ(store_results_mark(st, &count, &last, &err), 0);
    CHECK(count == 5 && last == ids[4]);
    CHECK_EQ(store_data_version(st, &version, &err), 0);
    CHECK_EQ(store_data_version(st, &v2, &err), 0);
    CHECK_EQ(v2, version);
    fx_path(path, sizeof(path), "marks.db");
    store_t *other = store_open(path, 0, &err);
    CHECK(other != NULL);
    if (other) {
        CHECK_EQ(store_trial_claim(other, ids[7], "w9", 1e12, NULL, &err), 0);
        CHECK_EQ(store_data_version(st, &v2, &err), 0);
        CHECK(v2 != version);
        CHECK_EQ(store_results_mark(st, &count, &last, &err), 0);
        CHECK(count == 5 && last == ids[4]);
        store_result_t res = {.trial_id = ids[7], .ok = true, .output = 1, .cost = 1};
        CHECK_EQ(store_trial_finish(other, &res, NULL, 0, NULL, &err), 0);
        CHECK_EQ(store_results_mark(st, &count, &last, &err), 0);
        CHECK(count == 6 && last == ids[7]);
        store_close(other);
    }
    CHECK_EQ(store_keep_pages(st, &err), 0);
    store_close(st);
}

int main(void)
{
    if (FX_SETUP("store_summary"))
        return 1;
    RUN(test_summary_and_points);
    RUN(test_page);
    RUN(test_running_curves_and_marks);
    return FX_FINISH();
}
