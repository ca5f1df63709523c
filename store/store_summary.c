/*
 * store_summary.c - the store's narrow reads for views over large sweeps
 * (store/store_summary.h): aggregates instead of rows, the few columns a
 * chart needs instead of whole records, and one page of trials sorted and
 * cut by SQLite instead of every trial sorted by the caller.
 *
 * On a sweep of 10,000 trials each is a few milliseconds: the aggregates
 * walk the trials_sweep_state index and the results' primary key, and a
 * page sorts one key per matching trial before it reads the page's rows
 * whole (docs/performance.md, Dashboard).
 */
#include "proto/common.h"
#include "store/store_summary.h"

#include "store/store_internal.h"

// ---- the page cache ----

/* SQLite takes a negative cache_size in KiB. */
static const char sql_keep_pages[] = "PRAGMA cache_size = -65536";
_Static_assert(STORE_KEEP_PAGES_BYTES == 65536u * 1024u, "sql_keep_pages says 64 MiB");

int store_keep_pages(store_t *st, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql_keep_pages, &s, err);

    if (rc >= 0)
        rc = store__step_done(st, s, "size the page cache of", err);
    return rc < 0 ? rc : 0;
}

static const char sql_data_version[] = "PRAGMA data_version";

int store_data_version(store_t *st, int64_t *version, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql_data_version, &s, err);

    if (rc < 0)
        return rc;
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = store__fail(st, "read the data version of", err);
        sqlite3_reset(s);
        return rc;
    }
    *version = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

static const char sql_results_mark[] = "SELECT count(*), coalesce(max(trial), 0) FROM results";

int store_results_mark(store_t *st, int64_t *count, int64_t *last, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err);

    if (rc >= 0)
        rc = store__stmt(st, sql_results_mark, &s, err);
    if (rc >= 0) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            *count = sqlite3_column_int64(s, 0);
            *last = sqlite3_column_int64(s, 1);
        } else {
            rc = store__fail(st, "count the results in", err);
        }
    }
    return store__end(st, rc, err);
}

// ---- progress ----

static const char sql_summary_states[] =
    "SELECT state, count(*) FROM trials WHERE sweep = ?1 GROUP BY state";
static const char sql_summary_results[] =
    "SELECT total(r.cost), count(r.trial), max(r.trial), max(r.created)"
    " FROM results r JOIN trials t ON t.id = r.trial WHERE t.sweep = ?1";
static const char sql_summary_started[] =
    "SELECT min(started) FROM trials WHERE sweep = ?1 AND started > 0";

int store_sweep_summary(store_t *st, int64_t sweep_id, store_summary_t *out, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc, step = SQLITE_DONE;

    memset(out, 0, sizeof(*out));
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_summary_states, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            const unsigned char *name = sqlite3_column_text(s, 0);
            int k = carbs_trial_state_parse(name ? (const char *)name : "");
            if (k >= 0)
                out->counts[k] = (size_t)sqlite3_column_int64(s, 1);
        }
        if (step != SQLITE_DONE)
            rc = store__fail(st, "count trials in", err);
    }
    if (rc >= 0)
        rc = store__stmt(st, sql_summary_results, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        if (sqlite3_step(s) == SQLITE_ROW) {
            out->cost_spent = sqlite3_column_double(s, 0);
            out->n_results = sqlite3_column_int64(s, 1);
            out->last_result = sqlite3_column_int64(s, 2);
            out->last_result_at = store__col_time(s, 3);
        } else {
            rc = store__fail(st, "sum the results in", err);
        }
    }
    if (rc >= 0)
        rc = store__stmt(st, sql_summary_started, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            out->first_started = store__col_time(s, 0);
        else
            rc = store__fail(st, "find the first start in", err);
    }
    return store__end(st, rc, err);
}

// ---- results ----

static const char sql_points_all[] =
    "SELECT t.id, r.status = 'ok', r.output, r.cost, t.params FROM trials t"
    " JOIN results r ON r.trial = t.id WHERE t.sweep = ?1 ORDER BY t.id";
/* From ?2 on through the results' primary key, whatever the sweep's size (the
 * unary + keeps SQLite off the sweep index, which would read all its trials). */
static const char sql_points_since[] =
    "SELECT t.id, r.status = 'ok', r.output, r.cost, t.params FROM results r"
    " JOIN trials t ON t.id = r.trial WHERE r.trial >= ?2 AND +t.sweep = ?1 ORDER BY r.trial";
static const char sql_open_from[] =
    "SELECT coalesce((SELECT min(id) FROM trials WHERE sweep = ?1"
    "  AND state IN ('pending', 'running', 'lost')),"
    " (SELECT coalesce(max(id), 0) + 1 FROM trials))";

void store_points_release(store_points_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].params_json);
    DA_FREE(p);
}

int store_sweep_points(store_t *st, int64_t sweep_id, int64_t since, store_points_t *out,
                       int64_t *open_from, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc, step = SQLITE_DONE;

    memset(out, 0, sizeof(*out));
    *open_from = 0;
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, since > 0 ? sql_points_since : sql_points_all, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        sqlite3_bind_int64(s, 2, since);
    }
    while (rc >= 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        store_point_t p = {.trial_id = sqlite3_column_int64(s, 0),
                           .ok = sqlite3_column_int(s, 1) != 0,
                           .output = store__col_real(s, 2),
                           .cost = store__col_real(s, 3)};
        if (p.ok && store__col_strdup(s, 4, &p.params_json) < 0)
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading results");
        else if (DA_PUSH(out, p) < 0) {
            free(p.params_json);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading results");
        }
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "read the results of", err);
    if (rc >= 0)
        rc = store__stmt(st, sql_open_from, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            *open_from = sqlite3_column_int64(s, 0);
        else
            rc = store__fail(st, "find the open trials of", err);
    }
    rc = store__end(st, rc, err);
    if (rc < 0)
        store_points_release(out);
    return rc;
}

// ---- a page of trials ----

/* ?2 is ",state,state," or NULL for every state; ?3 the store_sort_t and
 * ?4 the JSON path of the parameter; ?5 descending.  The page is chosen on
 * (id, key) alone, so the sorter never holds whole rows, and only its
 * rows are then read in full and put back in its order. */
static const char sql_page_count[] =
    "SELECT count(*) FROM trials t"
    " WHERE t.sweep = ?1 AND (?2 IS NULL OR instr(?2, ',' || t.state || ',') > 0)";
/* The page's rows in full, in the order the CTE "page" (id, k) chose. */
#define PAGE_ROWS                                                                                  \
    " SELECT " STORE__TRIAL_COLS ", s.name, r.trial IS NOT NULL, " STORE__RESULT_COLS             \
    " FROM page p JOIN trials t ON t.id = p.id JOIN sweeps s ON s.id = t.sweep"                    \
    " LEFT JOIN results r ON r.trial = t.id"                                                       \
    " ORDER BY p.k IS NULL, CASE WHEN ?5 THEN NULL ELSE p.k END, CASE WHEN ?5 THEN p.k END DESC," \
    " p.id"
static const char sql_page[] =
    "WITH page AS (SELECT t.id AS id,"
    " CASE ?3 WHEN 1 THEN t.state WHEN 2 THEN nullif(t.worker, '') WHEN 3 THEN r.output"
    "  WHEN 4 THEN r.cost WHEN 5 THEN t.attempt WHEN 6 THEN t.finished - t.started"
    "  WHEN 7 THEN nullif(r.message, '') WHEN 8 THEN json_extract(t.params, ?4)"
    "  ELSE t.id END AS k"
    " FROM trials t LEFT JOIN results r ON r.trial = t.id"
    " WHERE t.sweep = ?1 AND (?2 IS NULL OR instr(?2, ',' || t.state || ',') > 0)"
    " ORDER BY k IS NULL, CASE WHEN ?5 THEN NULL ELSE k END, CASE WHEN ?5 THEN k END DESC, t.id"
    " LIMIT ?6 OFFSET ?7)" PAGE_ROWS;
/* The table's default order, by id: the sweep's index alone chooses the
 * page, with no join (?3 and ?4 are not used: binding them is a no-op). */
static const char sql_page_by_id[] =
    "WITH page AS (SELECT t.id AS id, t.id AS k FROM trials t"
    " WHERE t.sweep = ?1 AND (?2 IS NULL OR instr(?2, ',' || t.state || ',') > 0)"
    " ORDER BY CASE WHEN ?5 THEN NULL ELSE t.id END, CASE WHEN ?5 THEN t.id END DESC"
    " LIMIT ?6 OFFSET ?7)" PAGE_ROWS;

_Static_assert(STORE_SORT_PARAM == 8, "sql_page numbers the sort keys");

void store_records_release(store_records_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        store_trial_release(&r->v[i].trial);
        store_result_release(&r->v[i].result);
    }
    DA_FREE(r);
}

static int page_row(sqlite3_stmt *s, store_record_t *rec, carbs_err_t *err)
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
    if (rc < 0) {
        store_trial_release(&rec->trial);
        store_result_release(&rec->result);
    }
    return rc;
}

/* Bind the state filter of q as ",a,b," (or NULL) at i of s. */
static void bind_states(sqlite3_stmt *s, int i, unsigned states, char *buf, size_t cap)
{
    size_t len = 0;

    if (states == 0) {
        sqlite3_bind_null(s, i);
        return;
    }
    buf[len++] = ',';
    for (int k = 0; k < CARBS_TRIAL_STATE_COUNT; k++) {
        if (!(states & (1u << k)))
            continue;
        int w = snprintf(buf + len, cap - len, "%s,", carbs_trial_state_name(k));
        if (w > 0 && (size_t)w < cap - len)
            len += (size_t)w;
    }
    buf[len] = 0;
    sqlite3_bind_text(s, i, buf, -1, SQLITE_STATIC);
}

int store_trial_page(store_t *st, const store_page_query_t *q, store_records_t *out,
                     size_t *total, carbs_err_t *err)
{
    char states[CARBS_TRIAL_STATE_COUNT * 16 + 2];
    char path[CARBS_NAME_MAX + 8] = "";
    sqlite3_stmt *s;
    int rc = 0, step = SQLITE_DONE;

    memset(out, 0, sizeof(*out));
    *total = 0;
    if ((int)q->sort < 0 || q->sort > STORE_SORT_PARAM)
        return carbs_fail(err, CARBS_EINVAL, "bad sort key %d", (int)q->sort);
    if (q->sort == STORE_SORT_PARAM) {
        if (!q->param || !q->param[0] || strpbrk(q->param, "\"\\") ||
            strlen(q->param) >= CARBS_NAME_MAX)
            return carbs_fail(err, CARBS_EINVAL, "cannot sort by parameter '%s'",
                              q->param ? q->param : "");
        snprintf(path, sizeof(path), "$.\"%s\"", q->param);
    }
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, q->sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_page_count, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, q->sweep_id);
        bind_states(s, 2, q->states, states, sizeof(states));
        if (sqlite3_step(s) == SQLITE_ROW)
            *total = (size_t)sqlite3_column_int64(s, 0);
        else
            rc = store__fail(st, "count trials in", err);
    }
    if (rc >= 0)
        rc = store__stmt(st, q->sort == STORE_SORT_ID ? sql_page_by_id : sql_page, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, q->sweep_id);
        bind_states(s, 2, q->states, states, sizeof(states));
        sqlite3_bind_int(s, 3, (int)q->sort);
        store__bind_text(s, 4, path[0] ? path : NULL);
        sqlite3_bind_int(s, 5, q->descending);
        sqlite3_bind_int64(s, 6, q->limit > INT64_MAX ? INT64_MAX : (int64_t)q->limit);
        sqlite3_bind_int64(s, 7, q->offset > INT64_MAX ? INT64_MAX : (int64_t)q->offset);
    }
    while (rc >= 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        store_record_t rec;
        rc = page_row(s, &rec, err);
        if (rc >= 0 && DA_PUSH(out, rec) < 0) {
            store_trial_release(&rec.trial);
            store_result_release(&rec.result);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading trials");
        }
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "read a page of trials from", err);
    rc = store__end(st, rc, err);
    if (rc < 0)
        store_records_release(out);
    return rc;
}

// ---- running trials ----

static const char sql_running[] =
    "SELECT t.id, t.sweep, t.worker FROM trials t INDEXED BY trials_state_lease"
    " WHERE t.state = 'running' AND (?1 = 0 OR t.sweep = ?1) ORDER BY t.id";

int store_running(store_t *st, int64_t sweep_id, store_held_t **out, size_t *n,
                  carbs_err_t *err)
{
    DA_TYPE(store_held_t) got = {0};
    sqlite3_stmt *s;
    int rc, step = SQLITE_DONE;

    *out = NULL;
    *n = 0;
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_running, &s, err);
    if (rc >= 0)
        sqlite3_bind_int64(s, 1, sweep_id);
    while (rc >= 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        store_held_t h = {.trial_id = sqlite3_column_int64(s, 0),
                          .sweep_id = sqlite3_column_int64(s, 1)};
        store__col_copy(s, 2, h.worker, sizeof(h.worker));
        if (DA_PUSH(&got, h) < 0)
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading running trials");
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "read the running trials of", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        DA_FREE(&got);
        return rc;
    }
    *out = got.v;
    *n = got.n;
    return 0;
}

// ---- curves ----

/* Newest first through the trials' primary key (the unary + keeps SQLite
 * off the sweep index, which would read every trial and sort): for the
 * sweep being written it stops after limit trials. */
static const char sql_curve_latest[] =
    "SELECT t.id FROM trials t WHERE +t.sweep = ?1"
    " AND EXISTS (SELECT 1 FROM curves c WHERE c.trial = t.id) ORDER BY t.id DESC LIMIT ?2";

int store_curve_latest(store_t *st, int64_t sweep_id, size_t limit, int64_t **ids, size_t *n,
                       carbs_err_t *err)
{
    DA_TYPE(int64_t) got = {0};
    sqlite3_stmt *s;
    int rc, step = SQLITE_DONE;

    *ids = NULL;
    *n = 0;
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__sweep_exists(st, sweep_id, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_curve_latest, &s, err);
    if (rc >= 0) {
        sqlite3_bind_int64(s, 1, sweep_id);
        sqlite3_bind_int64(s, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    }
    while (rc >= 0 && (step = sqlite3_step(s)) == SQLITE_ROW)
        if (DA_PUSH(&got, sqlite3_column_int64(s, 0)) < 0)
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading curves");
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "find the curves in", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        DA_FREE(&got);
        return rc;
    }
    *ids = got.v;
    *n = got.n;
    return 0;
}
