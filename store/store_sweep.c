/*
 * store_sweep.c - sweeps, their scaling-law fits and their optimizer state.
 *
 * A sweep is named by its id or its unique name (docs/store.md); names made
 * only of digits are refused so "42" always means one thing.  Law fits are
 * appended, never replaced, so the history of fits stays queryable; the
 * latest is the one with the highest id.  The optimizer state is one row per
 * sweep, replaced whole.
 */
#include "proto/common.h"
#include "store/store.h"

#include <math.h>

#include "store/store_internal.h"

void store_sweep_release(store_sweep_t *s)
{
    if (!s)
        return;
    free(s->spec_json);
    memset(s, 0, sizeof(*s));
}

bool store__all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Read "id, name, spec, state, created" into *out. */
static int sweep_read(sqlite3_stmt *s, store_sweep_t *out, carbs_err_t *err)
{
    const unsigned char *state = sqlite3_column_text(s, 3);
    int k = carbs_sweep_state_parse(state ? (const char *)state : "");

    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(s, 0);
    store__col_copy(s, 1, out->name, sizeof(out->name));
    if (store__col_strdup(s, 2, &out->spec_json) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "out of memory reading sweep %lld",
                          (long long)out->id);
    out->state = k < 0 ? CARBS_SWEEP_ACTIVE : (carbs_sweep_state_t)k;
    out->created = store__col_time(s, 4);
    return 0;
}

// ---- create, get, set state ----

static const char sql_sweep_insert[] =
    "INSERT INTO sweeps (name, spec, state, created) VALUES (?1, ?2, 'active', ?3)";
static const char sql_sweep_by_name[] =
    "SELECT id, name, spec, state, created FROM sweeps WHERE name = ?1";
static const char sql_sweep_by_id[] =
    "SELECT id, name, spec, state, created FROM sweeps WHERE id = ?1";

/* The checks of a sweep's new name (create, rename). */
static int name_check(const char *name, carbs_err_t *err)
{
    if (!name[0])
        return carbs_fail(err, CARBS_EINVAL, "empty sweep name");
    if (strlen(name) >= CARBS_NAME_MAX || !utf8_valid(name, strlen(name)))
        return carbs_fail(err, CARBS_EINVAL, "sweep name '%.32s' is too long or not UTF-8", name);
    if (store__all_digits(name))
        return carbs_fail(err, CARBS_EINVAL, "sweep name '%s' is all digits (ids look like that)",
                          name);
    return 0;
}

int store_sweep_create(store_t *st, const char *name, const char *spec_json, int64_t *id,
                       carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    if (!name)
        return carbs_fail(err, CARBS_EINVAL, "empty sweep name");
    rc = name_check(name, err);
    if (rc)
        return rc;
    if (!spec_json)
        return carbs_fail(err, CARBS_EINVAL, "sweep '%s' has no spec", name);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_sweep_by_name, &s, err);
    if (rc >= 0) {
        store__bind_text(s, 1, name);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            rc = carbs_fail(err, CARBS_EEXIST, "a sweep named '%s' already exists in '%s'", name,
                            st->path);
        else if (rc == SQLITE_DONE)
            rc = 0;
        else
            rc = store__fail(st, "look up a sweep in", err);
    }
    if (rc >= 0)
        rc = store__stmt(st, sql_sweep_insert, &s, err);
    if (rc >= 0) {
        store__bind_text(s, 1, name);
        store__bind_text(s, 2, spec_json);
        sqlite3_bind_double(s, 3, now_wall());
        rc = store__step_done(st, s, "create a sweep in", err);
    }
    if (rc >= 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return store__end(st, rc, err);
}

/* One lookup by id or by name inside the caller's transaction: 0 with *out
 * filled, CARBS_ENOTFOUND (err untouched), or another failure. */
static int sweep_lookup(store_t *st, const char *sql, int64_t id, const char *name,
                        store_sweep_t *out, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql, &s, err);
    if (rc < 0)
        return rc;
    if (name)
        store__bind_text(s, 1, name);
    else
        sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return sweep_read(s, out, err);
    if (rc == SQLITE_DONE)
        return CARBS_ENOTFOUND;
    return store__fail(st, "look up a sweep in", err);
}

int store_sweep_get(store_t *st, const char *id_or_name, store_sweep_t *out, carbs_err_t *err)
{
    long id;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!id_or_name || !id_or_name[0])
        return carbs_fail(err, CARBS_EINVAL, "empty sweep name");
    rc = store__begin(st, false, err);
    if (rc < 0)
        return rc;
    rc = CARBS_ENOTFOUND;
    if (store__all_digits(id_or_name) && parse_long(id_or_name, 1, INT64_MAX, &id) == 0)
        rc = sweep_lookup(st, sql_sweep_by_id, id, NULL, out, err);
    if (rc == CARBS_ENOTFOUND)
        rc = sweep_lookup(st, sql_sweep_by_name, 0, id_or_name, out, err);
    if (rc == CARBS_ENOTFOUND)
        rc = carbs_fail(err, CARBS_ENOTFOUND, "no sweep '%s' in '%s'", id_or_name, st->path);
    return store__end(st, rc, err);
}

int store_sweep_get_id(store_t *st, int64_t sweep_id, store_sweep_t *out, carbs_err_t *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store__begin(st, false, err);
    if (rc < 0)
        return rc;
    rc = sweep_lookup(st, sql_sweep_by_id, sweep_id, NULL, out, err);
    if (rc == CARBS_ENOTFOUND)
        rc = carbs_fail(err, CARBS_ENOTFOUND, "no sweep with id %lld in '%s'",
                        (long long)sweep_id, st->path);
    return store__end(st, rc, err);
}

static const char sql_sweep_set_state[] = "UPDATE sweeps SET state = ?2 WHERE id = ?1";

int store_sweep_set_state(store_t *st, int64_t sweep_id, carbs_sweep_state_t state,
                          carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    if ((int)state < 0 || state >= CARBS_SWEEP_STATE_COUNT)
        return carbs_fail(err, CARBS_EINVAL, "bad sweep state %d", (int)state);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_sweep_set_state, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        store__bind_text(s, 2, carbs_sweep_state_name(state));
        rc = store__step_done(st, s, "set a sweep's state in", err);
    }
    return store__end(st, rc, err);
}

// ---- change, rename, delete ----

static const char sql_sweep_set_spec[] = "UPDATE sweeps SET spec = ?2 WHERE id = ?1";
static const char sql_sweep_set_name[] = "UPDATE sweeps SET name = ?2 WHERE id = ?1";

int store_sweep_update(store_t *st, int64_t sweep_id, const char *name, const char *spec_json,
                       int state, carbs_err_t *err)
{
    store_sweep_t other = {0};
    sqlite3_stmt *s;
    int rc;

    rc = name ? name_check(name, err) : 0;
    if (rc)
        return rc;
    if (state >= CARBS_SWEEP_STATE_COUNT)
        return carbs_fail(err, CARBS_EINVAL, "bad sweep state %d", state);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0 && name) {
        rc = sweep_lookup(st, sql_sweep_by_name, 0, name, &other, err);
        if (rc == 0 && other.id != sweep_id)
            rc = carbs_fail(err, CARBS_EEXIST, "a sweep named '%s' already exists in '%s'", name,
                            st->path);
        else if (rc == 0 || rc == CARBS_ENOTFOUND)
            rc = 0;
        store_sweep_release(&other);
    }
    if (rc >= 0 && name)
        rc = store__stmt(st, sql_sweep_set_name, &s, err);
    if (rc >= 0 && name) {
        sqlite3_bind_int64(s, 1, sweep_id);
        store__bind_text(s, 2, name);
        rc = store__step_done(st, s, "rename a sweep in", err);
    }
    if (rc >= 0 && spec_json)
        rc = store__stmt(st, sql_sweep_set_spec, &s, err);
    if (rc >= 0 && spec_json) {
        sqlite3_bind_int64(s, 1, sweep_id);
        store__bind_text(s, 2, spec_json);
        rc = store__step_done(st, s, "change a sweep's spec in", err);
    }
    if (rc >= 0 && state >= 0)
        rc = store__stmt(st, sql_sweep_set_state, &s, err);
    if (rc >= 0 && state >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        store__bind_text(s, 2, carbs_sweep_state_name((carbs_sweep_state_t)state));
        rc = store__step_done(st, s, "set a sweep's state in", err);
    }
    return store__end(st, rc, err);
}

/* Children first: the foreign keys point from curves and results to
 * trials, and from trials, laws and the optimizer state to the sweep. */
static const char *const sql_sweep_delete[] = {
    "DELETE FROM curves WHERE trial IN (SELECT id FROM trials WHERE sweep = ?1)",
    "DELETE FROM results WHERE trial IN (SELECT id FROM trials WHERE sweep = ?1)",
    "DELETE FROM trials WHERE sweep = ?1",
    "DELETE FROM laws WHERE sweep = ?1",
    "DELETE FROM optimizer_state WHERE sweep = ?1",
    "DELETE FROM sweeps WHERE id = ?1",
};

int store_sweep_delete(store_t *st, int64_t sweep_id, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    for (size_t i = 0; rc >= 0 && i < ARRAY_SIZE(sql_sweep_delete); i++) {
        rc = store__stmt(st, sql_sweep_delete[i], &s, err);
        if (rc >= 0) {
            sqlite3_bind_int64(s, 1, sweep_id);
            rc = store__step_done(st, s, "delete a sweep from", err);
        }
    }
    return store__end(st, rc, err);
}

// ---- counts ----

static const char sql_sweep_state_counts[] =
    "SELECT state, count(*) FROM trials WHERE sweep = ?1 GROUP BY state";
static const char sql_sweep_cost[] =
    "SELECT total(r.cost) FROM results r JOIN trials t ON t.id = r.trial WHERE t.sweep = ?1"
    " AND t.worker IS NOT '" STORE_IMPORT_WORKER "'"
    " AND t.id NOT IN (SELECT trial FROM verifications WHERE sweep = ?1)";

int store_sweep_counts(store_t *st, int64_t sweep_id, size_t counts[CARBS_TRIAL_STATE_COUNT],
                       double *cost_spent, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc, step;

    for (int i = 0; i < CARBS_TRIAL_STATE_COUNT; i++)
        counts[i] = 0;
    if (cost_spent)
        *cost_spent = 0;
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_sweep_state_counts, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        for (;;) {
            step = sqlite3_step(s);
            if (step != SQLITE_ROW)
                break;
            const unsigned char *name = sqlite3_column_text(s, 0);
            int k = carbs_trial_state_parse(name ? (const char *)name : "");
            if (k >= 0)
                counts[k] = (size_t)sqlite3_column_int64(s, 1);
        }
        if (step != SQLITE_DONE)
            rc = store__fail(st, "count trials in", err);
    }
    if (rc >= 0 && cost_spent)
        rc = store__stmt(st, sql_sweep_cost, &s, err);
    if (rc >= 0 && cost_spent) {
        sqlite3_bind_int64(s, 1, sweep_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            *cost_spent = sqlite3_column_double(s, 0);
        else
            rc = store__fail(st, "sum costs in", err);
    }
    return store__end(st, rc, err);
}

// ---- failures in a row ----

static const char sql_sweep_last_results[] =
    "SELECT r.status, r.failure, r.message FROM results r JOIN trials t ON t.id = r.trial"
    " WHERE t.sweep = ?1 ORDER BY r.created DESC, r.trial DESC LIMIT ?2";

int store_sweep_failure_run(store_t *st, int64_t sweep_id, int limit, store_failure_run_t *out,
                            carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc, step;

    memset(out, 0, sizeof(*out));
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_sweep_last_results, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        sqlite3_bind_int(s, 2, limit);
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            const unsigned char *status = sqlite3_column_text(s, 0);
            const unsigned char *name = sqlite3_column_text(s, 1);
            char message[CARBS_MSG_MAX];
            int f = carbs_failure_parse(name ? (const char *)name : "");

            store__col_copy(s, 2, message, sizeof(message));
            if (!status || strcmp((const char *)status, "failed") != 0 ||
                (f != CARBS_FAILURE_ERROR && f != CARBS_FAILURE_INFRA))
                break;
            if (out->run == 0) {
                out->failure = (carbs_failure_t)f;
                str_copy(out->message, sizeof(out->message), message);
            } else if ((carbs_failure_t)f != out->failure || strcmp(message, out->message) != 0) {
                break;
            }
            out->run++;
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = store__fail(st, "read the last results in", err);
        sqlite3_reset(s);
    }
    return store__end(st, rc, err);
}

// ---- the sweep iterator ----

struct store_sweep_iter {
    DA_TYPE(store_sweep_t) rows;
    size_t pos;
};

static const char sql_sweep_all[] =
    "SELECT id, name, spec, state, created FROM sweeps ORDER BY id";

store_sweep_iter_t *store_sweep_iter_new(store_t *st, unsigned states, carbs_err_t *err)
{
    store_sweep_iter_t *it = xcalloc(1, sizeof(*it));
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err), step = SQLITE_DONE;

    if (rc >= 0)
        rc = store__stmt(st, sql_sweep_all, &s, err);
    while (rc >= 0) {
        step = sqlite3_step(s);
        if (step != SQLITE_ROW)
            break;
        store_sweep_t row;
        rc = sweep_read(s, &row, err);
        if (rc < 0)
            break;
        if (states && !(states & (1u << row.state))) {
            store_sweep_release(&row);
            continue;
        }
        if (DA_PUSH(&it->rows, row) < 0) {
            store_sweep_release(&row);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory listing sweeps");
        }
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "list sweeps in", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        store_sweep_iter_free(it);
        return NULL;
    }
    return it;
}

int store_sweep_iter_next(store_sweep_iter_t *it, const store_sweep_t **row)
{
    if (it->pos >= it->rows.n)
        return 0;
    *row = &it->rows.v[it->pos++];
    return CARBS_CONTINUE;
}

size_t store_sweep_iter_count(const store_sweep_iter_t *it)
{
    return it->rows.n;
}

void store_sweep_iter_free(store_sweep_iter_t *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->rows.n; i++)
        store_sweep_release(&it->rows.v[i]);
    DA_FREE(&it->rows);
    free(it);
}

// ---- scaling laws ----

static const char sql_law_insert[] =
    "INSERT INTO laws (sweep, fitted_at, law) VALUES (?1, ?2, ?3)";
static const char sql_law_latest[] =
    "SELECT law, fitted_at FROM laws WHERE sweep = ?1 ORDER BY id DESC LIMIT 1";

int store_law_put(store_t *st, int64_t sweep_id, const char *law_json, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    if (!law_json)
        return carbs_fail(err, CARBS_EINVAL, "no law to store for sweep %lld",
                          (long long)sweep_id);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_law_insert, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        sqlite3_bind_double(s, 2, now_wall());
        store__bind_text(s, 3, law_json);
        rc = store__step_done(st, s, "store a law in", err);
    }
    return store__end(st, rc, err);
}

int store_law_get(store_t *st, int64_t sweep_id, char **law_json, double *fitted_at,
                  carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    *law_json = NULL;
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_law_latest, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            rc = store__col_strdup(s, 0, law_json);
            if (rc < 0)
                rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading a law");
            else if (fitted_at)
                *fitted_at = store__col_time(s, 1);
        } else if (rc == SQLITE_DONE) {
            rc = carbs_fail(err, CARBS_ENOTFOUND, "no fitted laws for sweep %lld in '%s'",
                            (long long)sweep_id, st->path);
        } else {
            rc = store__fail(st, "read a law from", err);
        }
    }
    return store__end(st, rc, err);
}

// ---- optimizer state ----

void store_optstate_release(store_optstate_t *s)
{
    if (!s)
        return;
    free(s->rng);
    free(s->state_json);
    memset(s, 0, sizeof(*s));
}

static const char sql_optstate_put[] =
    "INSERT INTO optimizer_state (sweep, resample_count, rng, state) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (sweep) DO UPDATE SET resample_count = excluded.resample_count,"
    " rng = excluded.rng, state = excluded.state";
static const char sql_optstate_get[] =
    "SELECT resample_count, rng, state FROM optimizer_state WHERE sweep = ?1";

int store__optstate_write(store_t *st, int64_t sweep_id, const store_optstate_t *os,
                          carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    if (os->rng_len && !os->rng)
        return carbs_fail(err, CARBS_EINVAL, "rng state of %zu bytes with no data", os->rng_len);
    if (os->rng_len > INT32_MAX)
        return carbs_fail(err, CARBS_ETOOBIG, "rng state of %zu bytes", os->rng_len);
    rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_optstate_put, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        sqlite3_bind_int64(s, 2, os->resample_count);
        if (os->rng)
            sqlite3_bind_blob(s, 3, os->rng, (int)os->rng_len, SQLITE_STATIC);
        store__bind_text(s, 4, os->state_json);
        rc = store__step_done(st, s, "store optimizer state in", err);
    }
    return rc;
}

int store_optstate_put(store_t *st, int64_t sweep_id, const store_optstate_t *os,
                       carbs_err_t *err)
{
    int rc;

    if (os->rng_len && !os->rng)
        return carbs_fail(err, CARBS_EINVAL, "rng state of %zu bytes with no data", os->rng_len);
    if (os->rng_len > INT32_MAX)
        return carbs_fail(err, CARBS_ETOOBIG, "rng state of %zu bytes", os->rng_len);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__optstate_write(st, sweep_id, os, err);
    return store__end(st, rc, err);
}

int store_optstate_get(store_t *st, int64_t sweep_id, store_optstate_t *out, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_optstate_get, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const void *blob = sqlite3_column_blob(s, 1);
            size_t n = (size_t)sqlite3_column_bytes(s, 1);
            rc = 0;
            out->resample_count = sqlite3_column_int64(s, 0);
            if (blob && n) {
                out->rng = carbs_malloc(n);
                if (!out->rng)
                    rc = CARBS_ENOMEM;
                else
                    memcpy(out->rng, blob, n);
                out->rng_len = out->rng ? n : 0;
            }
            if (rc >= 0)
                rc = store__col_strdup(s, 2, &out->state_json);
            if (rc < 0) {
                store_optstate_release(out);
                rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading optimizer state");
            }
        } else if (rc == SQLITE_DONE) {
            rc = carbs_fail(err, CARBS_ENOTFOUND, "no optimizer state for sweep %lld in '%s'",
                            (long long)sweep_id, st->path);
        } else {
            rc = store__fail(st, "read optimizer state from", err);
        }
    }
    return store__end(st, rc, err);
}
