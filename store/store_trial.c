/*
 * store_trial.c - the life of a trial in the store (docs/service.md):
 * add, claim with a lease, renew, lose, re-queue, finish, cancel.
 *
 * Each transition reads the trial's state and changes it inside one
 * BEGIN IMMEDIATE transaction, so two connections can never both move the
 * same trial.  Finishing writes the results row, the curve and the new state
 * together: "done or failed" and "has a results row" are the same fact.
 * The basic-space point is a BLOB of d doubles in the machine's byte order.
 */
#include "proto/common.h"
#include "store/store.h"

#include <math.h>

#include "store/store_internal.h"

// ---- reading rows ----

void store_trial_release(store_trial_t *t)
{
    if (!t)
        return;
    free(t->params_json);
    free(t->u);
    memset(t, 0, sizeof(*t));
}

void store_result_release(store_result_t *r)
{
    if (!r)
        return;
    free(r->metrics_json);
    memset(r, 0, sizeof(*r));
}

int store__trial_read(sqlite3_stmt *s, int col, store_trial_t *t, carbs_err_t *err)
{
    const unsigned char *state = sqlite3_column_text(s, col + 2);
    const void *blob;
    size_t bytes;
    int k = carbs_trial_state_parse(state ? (const char *)state : "");

    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(s, col);
    t->sweep_id = sqlite3_column_int64(s, col + 1);
    t->state = k < 0 ? CARBS_TRIAL_PENDING : (carbs_trial_state_t)k;
    t->attempt = sqlite3_column_int(s, col + 3);
    if (store__col_strdup(s, col + 4, &t->params_json) < 0)
        goto nomem;
    blob = sqlite3_column_blob(s, col + 5);
    bytes = (size_t)sqlite3_column_bytes(s, col + 5);
    t->d = bytes / sizeof(double);
    if (blob && t->d) {
        t->u = carbs_malloc(t->d * sizeof(double));
        if (!t->u)
            goto nomem;
        memcpy(t->u, blob, t->d * sizeof(double));
    }
    store__col_copy(s, col + 6, t->worker, sizeof(t->worker));
    t->lease_deadline = store__col_time(s, col + 7);
    t->pred_output = store__col_real(s, col + 8);
    t->pred_cost = store__col_real(s, col + 9);
    t->created = store__col_time(s, col + 10);
    t->started = store__col_time(s, col + 11);
    t->finished = store__col_time(s, col + 12);
    return 0;
nomem:
    store_trial_release(t);
    return carbs_fail(err, CARBS_ENOMEM, "out of memory reading trial %lld",
                      (long long)sqlite3_column_int64(s, col));
}

int store__result_read(sqlite3_stmt *s, int col, int64_t trial_id, store_result_t *r,
                       carbs_err_t *err)
{
    const unsigned char *status = sqlite3_column_text(s, col);
    const unsigned char *failure = sqlite3_column_text(s, col + 1);
    int f = carbs_failure_parse(failure ? (const char *)failure : "");

    memset(r, 0, sizeof(*r));
    r->trial_id = trial_id;
    r->ok = status && strcmp((const char *)status, "ok") == 0;
    r->failure = f < 0 ? CARBS_FAILURE_ERROR : (carbs_failure_t)f;
    store__col_copy(s, col + 2, r->message, sizeof(r->message));
    r->output = store__col_real(s, col + 3);
    r->cost = store__col_real(s, col + 4);
    if (store__col_strdup(s, col + 5, &r->metrics_json) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "out of memory reading the result of trial %lld",
                          (long long)trial_id);
    r->attempt = sqlite3_column_int(s, col + 6);
    r->created = store__col_time(s, col + 7);
    return 0;
}

static const char sql_trial_state[] = "SELECT state, attempt, worker FROM trials WHERE id = ?1";

/* The trial's state, attempt and worker (worker may be NULL) inside the
 * caller's transaction; CARBS_ENOTFOUND with a message when missing. */
static int trial_state(store_t *st, int64_t trial_id, carbs_trial_state_t *state, int *attempt,
                       char *worker, carbs_err_t *err)
{
    sqlite3_stmt *s;
    const unsigned char *name;
    int rc = store__stmt(st, sql_trial_state, &s, err), k;

    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, trial_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return carbs_fail(err, CARBS_ENOTFOUND, "no trial %lld in '%s'", (long long)trial_id,
                          st->path);
    if (rc != SQLITE_ROW)
        return store__fail(st, "read a trial from", err);
    name = sqlite3_column_text(s, 0);
    k = carbs_trial_state_parse(name ? (const char *)name : "");
    if (k < 0)
        return carbs_fail(err, CARBS_ESTORE, "trial %lld in '%s' has unknown state '%s'",
                          (long long)trial_id, st->path, name ? (const char *)name : "");
    *state = (carbs_trial_state_t)k;
    if (attempt)
        *attempt = sqlite3_column_int(s, 1);
    if (worker)
        store__col_copy(s, 2, worker, CARBS_NAME_MAX);
    sqlite3_reset(s);
    return 0;
}

static int wrong_state(store_t *st, int64_t trial_id, carbs_trial_state_t state, const char *want,
                       carbs_err_t *err)
{
    return carbs_fail(err, CARBS_ESTATE, "trial %lld in '%s' is %s, not %s", (long long)trial_id,
                      st->path, carbs_trial_state_name(state), want);
}

// ---- add and get ----

static const char sql_trial_insert[] =
    "INSERT INTO trials (sweep, params, point, state, attempt, pred_output, pred_cost, created)"
    " VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6)";

int store__trial_insert(store_t *st, const store_trial_new_t *tn, int64_t *id, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__sweep_exists(st, tn->sweep_id, err);

    if (rc >= 0)
        rc = store__stmt(st, sql_trial_insert, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, tn->sweep_id);
        store__bind_text(s, 2, tn->params_json);
        if (tn->d)
            sqlite3_bind_blob(s, 3, tn->u, (int)(tn->d * sizeof(double)), SQLITE_STATIC);
        store__bind_real(s, 4, tn->pred_output);
        store__bind_real(s, 5, tn->pred_cost);
        sqlite3_bind_double(s, 6, now_wall());
        rc = store__step_done(st, s, "add a trial to", err);
    }
    if (rc >= 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    if (rc >= 0 && tn->optstate)
        rc = store__optstate_write(st, tn->sweep_id, tn->optstate, err);
    return rc;
}

int store__trial_new_check(const store_trial_new_t *tn, carbs_err_t *err)
{
    if (!tn->params_json)
        return carbs_fail(err, CARBS_EINVAL, "trial for sweep %lld has no params",
                          (long long)tn->sweep_id);
    if (tn->d && !tn->u)
        return carbs_fail(err, CARBS_EINVAL, "trial point of %zu dims with no values", tn->d);
    if (tn->d > INT32_MAX / sizeof(double))
        return carbs_fail(err, CARBS_ETOOBIG, "trial point of %zu dims", tn->d);
    return 0;
}

int store_trial_add(store_t *st, const store_trial_new_t *tn, int64_t *id, carbs_err_t *err)
{
    int rc = store__trial_new_check(tn, err);

    if (rc)
        return rc;
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__trial_insert(st, tn, id, err);
    return store__end(st, rc, err);
}

static const char sql_trial_get[] = "SELECT " STORE__TRIAL_COLS " FROM trials t WHERE t.id = ?1";

int store_trial_get(store_t *st, int64_t trial_id, store_trial_t *out, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_trial_get, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            rc = store__trial_read(s, 0, out, err);
        else if (rc == SQLITE_DONE)
            rc = carbs_fail(err, CARBS_ENOTFOUND, "no trial %lld in '%s'", (long long)trial_id,
                            st->path);
        else
            rc = store__fail(st, "read a trial from", err);
    }
    return store__end(st, rc, err);
}

static const char sql_result_get[] =
    "SELECT " STORE__RESULT_COLS " FROM results r WHERE r.trial = ?1";

int store_result_get(store_t *st, int64_t trial_id, store_result_t *out, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_result_get, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            rc = store__result_read(s, 0, trial_id, out, err);
        else if (rc == SQLITE_DONE)
            rc = carbs_fail(err, CARBS_ENOTFOUND, "trial %lld in '%s' has no result",
                            (long long)trial_id, st->path);
        else
            rc = store__fail(st, "read a result from", err);
    }
    return store__end(st, rc, err);
}

// ---- claim, renew, lose, requeue, cancel ----

static const char sql_trial_claim[] =
    "UPDATE trials SET state = 'running', attempt = attempt + 1, worker = ?2,"
    " lease_deadline = ?3, started = ?4, finished = NULL WHERE id = ?1";

int store_trial_claim(store_t *st, int64_t trial_id, const char *worker, double lease_deadline,
                      int *attempt, carbs_err_t *err)
{
    carbs_trial_state_t state;
    sqlite3_stmt *s;
    int rc, old_attempt = 0;

    rc = store__check_worker(worker, err);
    if (rc < 0)
        return rc;
    if (!isfinite(lease_deadline))
        return carbs_fail(err, CARBS_EINVAL, "lease deadline is not finite");
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = trial_state(st, trial_id, &state, &old_attempt, NULL, err);
    if (rc >= 0 && state != CARBS_TRIAL_PENDING)
        rc = wrong_state(st, trial_id, state, "pending", err);
    if (rc >= 0)
        rc = store__stmt(st, sql_trial_claim, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        store__bind_text(s, 2, worker);
        sqlite3_bind_double(s, 3, lease_deadline);
        sqlite3_bind_double(s, 4, now_wall());
        rc = store__step_done(st, s, "claim a trial in", err);
    }
    rc = store__end(st, rc, err);
    if (rc >= 0 && attempt)
        *attempt = old_attempt + 1;
    return rc;
}

static const char sql_trial_renew[] = "UPDATE trials SET lease_deadline = ?2 WHERE id = ?1";

int store_trial_renew(store_t *st, int64_t trial_id, const char *worker, double lease_deadline,
                      carbs_err_t *err)
{
    carbs_trial_state_t state;
    char holder[CARBS_NAME_MAX];
    sqlite3_stmt *s;
    int rc = store__check_worker(worker, err);

    if (rc < 0)
        return rc;
    if (!isfinite(lease_deadline))
        return carbs_fail(err, CARBS_EINVAL, "lease deadline is not finite");
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = trial_state(st, trial_id, &state, NULL, holder, err);
    if (rc >= 0 && state != CARBS_TRIAL_RUNNING)
        rc = wrong_state(st, trial_id, state, "running", err);
    if (rc >= 0 && strcmp(holder, worker) != 0)
        rc = carbs_fail(err, CARBS_ESTATE, "trial %lld in '%s' is held by worker '%s', not '%s'",
                        (long long)trial_id, st->path, holder, worker);
    if (rc >= 0)
        rc = store__stmt(st, sql_trial_renew, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        sqlite3_bind_double(s, 2, lease_deadline);
        rc = store__step_done(st, s, "renew a lease in", err);
    }
    return store__end(st, rc, err);
}

static const char sql_trial_set_lost[] =
    "UPDATE trials SET state = 'lost', lease_deadline = NULL WHERE id = ?1";
static const char sql_worker_add_loss[] =
    "INSERT INTO workers (id, host, first_seen, last_seen, losses) VALUES (?1, '', ?2, ?2, 1)"
    " ON CONFLICT (id) DO UPDATE SET losses = losses + 1";

/* running -> lost, with a loss for the holder when count_loss. */
static int trial_lose(store_t *st, int64_t trial_id, bool count_loss, carbs_err_t *err)
{
    carbs_trial_state_t state;
    char holder[CARBS_NAME_MAX];
    sqlite3_stmt *s;
    int rc = store__begin(st, true, err);

    if (rc >= 0)
        rc = trial_state(st, trial_id, &state, NULL, holder, err);
    if (rc >= 0 && state != CARBS_TRIAL_RUNNING)
        rc = wrong_state(st, trial_id, state, "running", err);
    if (rc >= 0)
        rc = store__stmt(st, sql_trial_set_lost, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        rc = store__step_done(st, s, "mark a trial lost in", err);
    }
    if (rc >= 0 && count_loss && holder[0])
        rc = store__stmt(st, sql_worker_add_loss, &s, err);
    if (rc >= 0 && count_loss && holder[0]) {
        store__bind_text(s, 1, holder);
        sqlite3_bind_double(s, 2, now_wall());
        rc = store__step_done(st, s, "count a worker's loss in", err);
    }
    return store__end(st, rc, err);
}

int store_trial_lose(store_t *st, int64_t trial_id, carbs_err_t *err)
{
    return trial_lose(st, trial_id, true, err);
}

int store_trial_lose_unblamed(store_t *st, int64_t trial_id, carbs_err_t *err)
{
    return trial_lose(st, trial_id, false, err);
}

static const char sql_trial_requeue[] =
    "UPDATE trials SET state = 'pending', worker = NULL, lease_deadline = NULL, started = NULL"
    " WHERE id = ?1";

int store_trial_requeue(store_t *st, int64_t trial_id, int max_retries, carbs_err_t *err)
{
    carbs_trial_state_t state;
    sqlite3_stmt *s;
    int rc = store__begin(st, true, err), attempt = 0;

    if (rc >= 0)
        rc = trial_state(st, trial_id, &state, &attempt, NULL, err);
    if (rc >= 0 && state != CARBS_TRIAL_LOST)
        rc = wrong_state(st, trial_id, state, "lost", err);
    if (rc >= 0 && attempt > max_retries)
        rc = carbs_fail(err, CARBS_ESTATE,
                        "trial %lld in '%s' was lost %d times, more than max_retries %d",
                        (long long)trial_id, st->path, attempt, max_retries);
    if (rc >= 0)
        rc = store__stmt(st, sql_trial_requeue, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        rc = store__step_done(st, s, "re-queue a trial in", err);
    }
    return store__end(st, rc, err);
}

static const char sql_trial_cancel[] =
    "UPDATE trials SET state = 'cancelled', lease_deadline = NULL, finished = ?2 WHERE id = ?1";

int store_trial_cancel(store_t *st, int64_t trial_id, carbs_err_t *err)
{
    carbs_trial_state_t state;
    sqlite3_stmt *s;
    int rc = store__begin(st, true, err);

    if (rc >= 0)
        rc = trial_state(st, trial_id, &state, NULL, NULL, err);
    if (rc >= 0 && state != CARBS_TRIAL_PENDING && state != CARBS_TRIAL_RUNNING &&
        state != CARBS_TRIAL_LOST)
        rc = wrong_state(st, trial_id, state, "pending, running or lost", err);
    if (rc >= 0)
        rc = store__stmt(st, sql_trial_cancel, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        sqlite3_bind_double(s, 2, now_wall());
        rc = store__step_done(st, s, "cancel a trial in", err);
    }
    return store__end(st, rc, err);
}

// ---- finish ----

static const char sql_result_exists[] = "SELECT 1 FROM results WHERE trial = ?1";
static const char sql_result_insert[] =
    "INSERT INTO results (trial, status, failure, message, output, cost, metrics, attempt,"
    " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_curve_upsert[] =
    "INSERT INTO curves (trial, step, tokens, loss) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (trial, step) DO UPDATE SET tokens = excluded.tokens, loss = excluded.loss";
static const char sql_trial_set_final[] =
    "UPDATE trials SET state = ?2, lease_deadline = NULL, finished = ?3 WHERE id = ?1";

static int insert_result(store_t *st, const store_result_t *res, int attempt, double now,
                         carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql_result_insert, &s, err);
    carbs_failure_t f = res->failure;

    if (rc < 0)
        return rc;
    if ((int)f < 0 || f >= CARBS_FAILURE_COUNT)
        f = CARBS_FAILURE_ERROR;
    if (res->ok)
        f = CARBS_FAILURE_NONE;
    else if (f == CARBS_FAILURE_NONE)
        f = CARBS_FAILURE_ERROR;
    sqlite3_bind_int64(s, 1, res->trial_id);
    store__bind_text(s, 2, res->ok ? "ok" : "failed");
    store__bind_text(s, 3, carbs_failure_name(f));
    sqlite3_bind_text(s, 4, res->message, (int)strnlen(res->message, sizeof(res->message)),
                      SQLITE_STATIC);
    store__bind_real(s, 5, res->output);
    store__bind_real(s, 6, res->cost);
    store__bind_text(s, 7, res->metrics_json);
    sqlite3_bind_int(s, 8, attempt);
    sqlite3_bind_double(s, 9, now);
    return store__step_done(st, s, "store a result in", err);
}

static int upsert_curve(store_t *st, int64_t trial_id, const carbs_curve_point_t *curve,
                        size_t n_curve, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql_curve_upsert, &s, err);

    for (size_t i = 0; rc >= 0 && i < n_curve; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, trial_id);
        sqlite3_bind_int64(s, 2, curve[i].step);
        store__bind_real(s, 3, curve[i].tokens);
        store__bind_real(s, 4, curve[i].loss);
        rc = store__step_done(st, s, "store a curve in", err);
    }
    return rc;
}

int store_trial_finish(store_t *st, const store_result_t *res, const carbs_curve_point_t *curve,
                       size_t n_curve, bool *duplicate, carbs_err_t *err)
{
    carbs_trial_state_t state = CARBS_TRIAL_PENDING;
    sqlite3_stmt *s;
    double now = now_wall();
    int rc, attempt = 0;
    bool dup = false;

    if (duplicate)
        *duplicate = false;
    if (n_curve && !curve)
        return carbs_fail(err, CARBS_EINVAL, "curve of %zu points with no data", n_curve);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_result_exists, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, res->trial_id);
        rc = sqlite3_step(s);
        dup = rc == SQLITE_ROW;
        rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : store__fail(st, "read", err);
    }
    if (rc >= 0 && !dup)
        rc = trial_state(st, res->trial_id, &state, &attempt, NULL, err);
    if (rc >= 0 && !dup && state != CARBS_TRIAL_RUNNING && state != CARBS_TRIAL_LOST)
        rc = wrong_state(st, res->trial_id, state, "running or lost", err);
    if (rc >= 0 && !dup && res->attempt != 0 && res->attempt != attempt)
        rc = carbs_fail(err, CARBS_ESTATE,
                        "result for attempt %d of trial %lld in '%s', which is on attempt %d",
                        res->attempt, (long long)res->trial_id, st->path, attempt);
    if (rc >= 0 && !dup)
        rc = insert_result(st, res, attempt, now, err);
    if (rc >= 0 && !dup)
        rc = upsert_curve(st, res->trial_id, curve, n_curve, err);
    if (rc >= 0 && !dup)
        rc = store__stmt(st, sql_trial_set_final, &s, err);
    if (rc >= 0 && !dup) {
        sqlite3_bind_int64(s, 1, res->trial_id);
        store__bind_text(s, 2, carbs_trial_state_name(res->ok ? CARBS_TRIAL_DONE
                                                              : CARBS_TRIAL_FAILED));
        sqlite3_bind_double(s, 3, now);
        rc = store__step_done(st, s, "finish a trial in", err);
    }
    rc = store__end(st, rc, err);
    if (rc >= 0 && duplicate)
        *duplicate = dup;
    return rc;
}

// ---- curves ----

static const char sql_trial_exists[] = "SELECT 1 FROM trials WHERE id = ?1";
static const char sql_curve_insert[] =
    "INSERT OR IGNORE INTO curves (trial, step, tokens, loss) VALUES (?1, ?2, ?3, ?4)";
static const char sql_curve_get[] =
    "SELECT step, tokens, loss FROM curves WHERE trial = ?1 ORDER BY step";

int store_curve_append(store_t *st, int64_t trial_id, int64_t step, double tokens, double loss,
                       carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__begin(st, true, err);

    if (rc >= 0)
        rc = store__stmt(st, sql_trial_exists, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            rc = carbs_fail(err, CARBS_ENOTFOUND, "no trial %lld in '%s'", (long long)trial_id,
                            st->path);
        else if (rc == SQLITE_ROW)
            rc = 0;
        else
            rc = store__fail(st, "read a trial from", err);
    }
    if (rc >= 0)
        rc = store__stmt(st, sql_curve_insert, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, trial_id);
        sqlite3_bind_int64(s, 2, step);
        store__bind_real(s, 3, tokens);
        store__bind_real(s, 4, loss);
        rc = store__step_done(st, s, "append to a curve in", err);
    }
    return store__end(st, rc, err);
}

int store_curve_get(store_t *st, int64_t trial_id, carbs_curve_point_t **pts, size_t *n,
                    carbs_err_t *err)
{
    DA_TYPE(carbs_curve_point_t) curve = {0};
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err), step = SQLITE_DONE;

    *pts = NULL;
    *n = 0;
    if (rc >= 0)
        rc = store__stmt(st, sql_curve_get, &s, err);
    if (rc >= 0)
        sqlite3_bind_int64(s, 1, trial_id);
    while (rc >= 0) {
        step = sqlite3_step(s);
        if (step != SQLITE_ROW)
            break;
        carbs_curve_point_t p;
        p.step = sqlite3_column_int64(s, 0);
        p.tokens = store__col_real(s, 1);
        p.loss = store__col_real(s, 2);
        if (DA_PUSH(&curve, p) < 0)
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading a curve");
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "read a curve from", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        DA_FREE(&curve);
        return rc;
    }
    *pts = curve.v;
    *n = curve.n;
    return 0;
}

// ---- the trial iterator ----

struct store_trial_iter {
    DA_TYPE(store_trial_t) rows;
    size_t pos;
};

static const char sql_trials_all[] =
    "SELECT " STORE__TRIAL_COLS " FROM trials t"
    " WHERE (?2 IS NULL OR instr(?2, ',' || t.state || ',') > 0)"
    " AND (?3 IS NULL OR t.worker = ?3) ORDER BY t.id";
static const char sql_trials_of_sweep[] =
    "SELECT " STORE__TRIAL_COLS " FROM trials t WHERE t.sweep = ?1"
    " AND (?2 IS NULL OR instr(?2, ',' || t.state || ',') > 0)"
    " AND (?3 IS NULL OR t.worker = ?3) ORDER BY t.id";
static const char sql_trials_expired[] =
    "SELECT " STORE__TRIAL_COLS " FROM trials t"
    " WHERE t.state = 'running' AND t.lease_deadline < ?1 ORDER BY t.lease_deadline, t.id";

/* Step s to the end, keeping every row in a new iterator. */
static store_trial_iter_t *collect(store_t *st, sqlite3_stmt *s, int rc, carbs_err_t *err)
{
    store_trial_iter_t *it = xcalloc(1, sizeof(*it));
    int step = SQLITE_DONE;

    while (rc >= 0) {
        step = sqlite3_step(s);
        if (step != SQLITE_ROW)
            break;
        store_trial_t row;
        rc = store__trial_read(s, 0, &row, err);
        if (rc >= 0 && DA_PUSH(&it->rows, row) < 0) {
            store_trial_release(&row);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory listing trials");
        }
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "list trials in", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        store_trial_iter_free(it);
        return NULL;
    }
    return it;
}

store_trial_iter_t *store_trial_iter_new(store_t *st, const store_trial_filter_t *f,
                                         carbs_err_t *err)
{
    static const store_trial_filter_t all = {0};
    char states[CARBS_TRIAL_STATE_COUNT * 16 + 2];
    size_t len = 0;
    sqlite3_stmt *s = NULL;
    int rc;

    if (!f)
        f = &all;
    states[0] = '\0';
    if (f->states) {
        len = 1;
        states[0] = ',';
        states[1] = '\0';
        for (int k = 0; k < CARBS_TRIAL_STATE_COUNT; k++) {
            if (f->states & (1u << k)) {
                int n = snprintf(states + len, sizeof(states) - len, "%s,",
                                 carbs_trial_state_name((carbs_trial_state_t)k));
                len += (size_t)n;
            }
        }
    }
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, f->sweep_id ? sql_trials_of_sweep : sql_trials_all, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, f->sweep_id);
        store__bind_text(s, 2, f->states ? states : NULL);
        store__bind_text(s, 3, f->worker && f->worker[0] ? f->worker : NULL);
    }
    return collect(st, s, rc, err);
}

store_trial_iter_t *store_trials_expired(store_t *st, double now, carbs_err_t *err)
{
    sqlite3_stmt *s = NULL;
    int rc = store__begin(st, false, err);

    if (rc >= 0)
        rc = store__stmt(st, sql_trials_expired, &s, err);
    if (rc >= 0)
        sqlite3_bind_double(s, 1, now);
    return collect(st, s, rc, err);
}

int store_trial_iter_next(store_trial_iter_t *it, const store_trial_t **row)
{
    if (it->pos >= it->rows.n)
        return 0;
    *row = &it->rows.v[it->pos++];
    return CARBS_CONTINUE;
}

size_t store_trial_iter_count(const store_trial_iter_t *it)
{
    return it->rows.n;
}

void store_trial_iter_free(store_trial_iter_t *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->rows.n; i++)
        store_trial_release(&it->rows.v[i]);
    DA_FREE(&it->rows);
    free(it);
}
