/*
 * store_export.c - a sweep's trials joined with their results, everything
 * one `carbs export` record needs (docs/protocol.md, The export record).
 *
 * The join is taken as a snapshot in one read transaction, so an export of
 * a live store is consistent: a trial is either shown done with its result
 * or still running without one, never in between.
 */
#include "proto/common.h"
#include "store/store.h"

#include "store/store_internal.h"

struct store_export_iter {
    DA_TYPE(store_record_t) rows;
    size_t pos;
};

static const char sql_export[] =
    "SELECT " STORE__TRIAL_COLS ", s.name, r.trial IS NOT NULL, " STORE__RESULT_COLS
    " FROM trials t JOIN sweeps s ON s.id = t.sweep LEFT JOIN results r ON r.trial = t.id"
    " WHERE t.sweep = ?1 ORDER BY t.id";

static void record_release(store_record_t *rec)
{
    store_trial_release(&rec->trial);
    store_result_release(&rec->result);
}

static int record_read(sqlite3_stmt *s, store_record_t *rec, carbs_err_t *err)
{
    int col = STORE__TRIAL_NCOLS;
    int rc;

    memset(rec, 0, sizeof(*rec));
    rc = store__trial_read(s, 0, &rec->trial, err);
    if (rc < 0)
        return rc;
    store__col_copy(s, col, rec->sweep, sizeof(rec->sweep));
    rec->has_result = sqlite3_column_int(s, col + 1) != 0;
    if (rec->has_result)
        rc = store__result_read(s, col + 2, rec->trial.id, &rec->result, err);
    if (rc < 0)
        record_release(rec);
    return rc;
}

store_export_iter_t *store_export_iter_new(store_t *st, int64_t sweep_id, carbs_err_t *err)
{
    store_export_iter_t *it = xcalloc(1, sizeof(*it));
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err), step = SQLITE_DONE;

    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0) {
        rc = store__stmt(st, sql_export, &s, err);
        if (rc >= 0)
            sqlite3_bind_int64(s, 1, sweep_id);
    }
    while (rc >= 0) {
        step = sqlite3_step(s);
        if (step != SQLITE_ROW)
            break;
        store_record_t rec;
        rc = record_read(s, &rec, err);
        if (rc >= 0 && DA_PUSH(&it->rows, rec) < 0) {
            record_release(&rec);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory exporting trials");
        }
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "export trials from", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        store_export_iter_free(it);
        return NULL;
    }
    return it;
}

int store_export_iter_next(store_export_iter_t *it, const store_record_t **row)
{
    if (it->pos >= it->rows.n)
        return 0;
    *row = &it->rows.v[it->pos++];
    return CARBS_CONTINUE;
}

size_t store_export_iter_count(const store_export_iter_t *it)
{
    return it->rows.n;
}

void store_export_iter_free(store_export_iter_t *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->rows.n; i++)
        record_release(&it->rows.v[i]);
    DA_FREE(&it->rows);
    free(it);
}
