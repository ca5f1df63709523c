/*
 * store_verify.c - verification runs: a trial queued to check a
 * scaling-law prediction, stored with the prediction in the same
 * transaction so a trial is never a verification without its prediction
 * (docs/store.md, docs/scaling-laws.md "Predict, then verify").
 */
#include "proto/common.h"
#include "store/store.h"

#include <math.h>

#include "store/store_internal.h"

static const char sql_verify_insert[] =
    "INSERT INTO verifications (trial, sweep, cost, cost_name, estimator, predicted, lo, hi,"
    " level, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

int store_verify_add(store_t *st, const store_trial_new_t *tn, const store_verify_t *v, int64_t *id,
                     carbs_err_t *err)
{
    sqlite3_stmt *s;
    int64_t tid = 0;
    int rc = store__trial_new_check(tn, err);

    if (rc) return rc;
    if (!(isfinite(v->cost) && v->cost > 0))
        return carbs_fail(err, CARBS_EINVAL, "verification cost %g is not finite and > 0", v->cost);
    if (!isfinite(v->predicted))
        return carbs_fail(err, CARBS_EINVAL, "verification of sweep %lld has no prediction",
                          (long long)tn->sweep_id);
    if (!v->cost_name[0] || !v->estimator[0])
        return carbs_fail(err, CARBS_EINVAL, "verification of sweep %lld names no %s",
                          (long long)tn->sweep_id, v->cost_name[0] ? "estimator" : "cost");
    rc = store__begin(st, true, err);
    if (rc >= 0) rc = store__trial_insert(st, tn, &tid, err);
    if (rc >= 0) rc = store__stmt(st, sql_verify_insert, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, tid);
        sqlite3_bind_int64(s, 2, tn->sweep_id);
        sqlite3_bind_double(s, 3, v->cost);
        store__bind_text(s, 4, v->cost_name);
        store__bind_text(s, 5, v->estimator);
        sqlite3_bind_double(s, 6, v->predicted);
        store__bind_real(s, 7, v->lo);
        store__bind_real(s, 8, v->hi);
        store__bind_real(s, 9, v->level);
        sqlite3_bind_double(s, 10, now_wall());
        rc = store__step_done(st, s, "add a verification run to", err);
    }
    rc = store__end(st, rc, err);
    if (rc >= 0 && id) *id = tid;
    return rc;
}

static const char sql_verify_list[] =
    "SELECT trial, sweep, cost, cost_name, estimator, predicted, lo, hi, level, created"
    " FROM verifications WHERE sweep = ?1 ORDER BY trial";

int store_verify_list(store_t *st, int64_t sweep_id, store_verify_t **out, size_t *n,
                      carbs_err_t *err)
{
    DA_TYPE(store_verify_t) rows = {0};
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err), step = SQLITE_DONE;

    *out = NULL;
    *n = 0;
    if (rc >= 0) rc = store__stmt(st, sql_verify_list, &s, err);
    if (rc >= 0) sqlite3_bind_int64(s, 1, sweep_id);
    while (rc >= 0) {
        store_verify_t v = {0};
        step = sqlite3_step(s);
        if (step != SQLITE_ROW) break;
        v.trial_id = sqlite3_column_int64(s, 0);
        v.sweep_id = sqlite3_column_int64(s, 1);
        v.cost = store__col_real(s, 2);
        store__col_copy(s, 3, v.cost_name, sizeof(v.cost_name));
        store__col_copy(s, 4, v.estimator, sizeof(v.estimator));
        v.predicted = store__col_real(s, 5);
        v.lo = store__col_real(s, 6);
        v.hi = store__col_real(s, 7);
        v.level = store__col_real(s, 8);
        v.created = store__col_real(s, 9);
        if (DA_PUSH(&rows, v) < 0)
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory listing verification runs");
    }
    if (rc >= 0 && step != SQLITE_DONE) rc = store__fail(st, "list the verification runs in", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        DA_FREE(&rows);
        return rc;
    }
    *out = rows.v;
    *n = rows.n;
    return 0;
}
