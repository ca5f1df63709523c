/*
 * store_check.c - finding damage and getting away from it: the check a
 * writer makes when it opens a store, store_check(), the row-by-row audit
 * behind `carbs store check`, store_recover() behind `carbs store recover`,
 * and the backup (docs/store.md, "Damage").
 *
 * The audit and the recovery are one walk: every row of every table is read
 * on its own, by key, so that a damaged page costs the rows on it and not
 * the rest of the table (a full scan stops at the first bad page).  Each
 * row read is checked (text is UTF-8, states and kinds are known, JSON
 * columns decode through the caller's codecs) and, when recovering, copied
 * with the same ids into a new store, whose own constraints refuse a row
 * whose sweep or trial did not make it.
 */
#include "proto/common.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "store/store_internal.h"

// ---- the check at open ----

/* A store up to this size gets a whole PRAGMA quick_check when a writer
 * opens it: about 0.1 s here.  quick_check reads every page, so its cost
 * grows with the file (0.7 s for 100k trials with 20-point curves, 88 MB,
 * warm; 3 s cold); a larger store gets the bounded check below. */
#define STORE__CHECK_FULL_BYTES (16 << 20)
/* Rows of the large tables read at each end by the bounded check. */
#define STORE__CHECK_SAMPLE 256

static const char sql_size[] =
    "SELECT (SELECT page_count FROM pragma_page_count) * (SELECT page_size FROM pragma_page_size)";

/* The tables small enough to check whole at every open. */
static const char sql_quick_small[] =
    "SELECT quick_check FROM pragma_quick_check('sweeps') UNION ALL "
    "SELECT quick_check FROM pragma_quick_check('workers') UNION ALL "
    "SELECT quick_check FROM pragma_quick_check('laws') UNION ALL "
    "SELECT quick_check FROM pragma_quick_check('optimizer_state')";
static const char sql_quick_all[] = "PRAGMA quick_check";

/* Every column of the newest and the oldest rows of the large tables: the
 * pages the next writes go to, and the ones a resume reads first. */
static const char *const sql_samples[] = {
    "SELECT " STORE__TRIAL_COLS " FROM trials t ORDER BY t.id DESC LIMIT ?1",
    "SELECT " STORE__TRIAL_COLS " FROM trials t ORDER BY t.id LIMIT ?1",
    "SELECT r.trial, " STORE__RESULT_COLS " FROM results r ORDER BY r.trial DESC LIMIT ?1",
    "SELECT * FROM curves ORDER BY trial DESC, step DESC LIMIT ?1",
};

/* The way out, for every message about damage. */
#define STORE__DAMAGE_HINT "see `carbs store check`; `carbs store recover --db %s --out NEW.db` saves what reads"

static int damaged(store_t *st, const char *what, carbs_err_t *err)
{
    char first[64];
    const char *p = what;
    size_t n;

    /* quick_check answers "*** in database main ***\nPage 8: ...\n...":
     * the first problem is enough here, and the hint must fit. */
    if (strncmp(p, "***", 3) == 0 && strchr(p, '\n'))
        p = strchr(p, '\n') + 1;
    n = strcspn(p, "\n");
    snprintf(first, sizeof(first), "%.*s%s", (int)(n < 56 ? n : 56), p,
             n > 56 || p[n] == '\n' ? " ..." : "");
    return carbs_fail(err, CARBS_ESTORE, "'%s' is damaged (%s): " STORE__DAMAGE_HINT, st->path,
                      first, st->path);
}

/* Run a pragma that answers "ok" or lines of problems. */
static int run_check(store_t *st, const char *sql, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql, &s, err), step;

    if (rc < 0)
        return damaged(st, err->msg, err);
    step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        return 0;
    if (step != SQLITE_ROW)
        return damaged(st, sqlite3_errmsg(st->db), err);
    do {
        const unsigned char *text = sqlite3_column_text(s, 0);
        if (!text || strcmp((const char *)text, "ok") != 0)
            return damaged(st, text ? (const char *)text : "?", err);
    } while ((step = sqlite3_step(s)) == SQLITE_ROW);
    if (step != SQLITE_DONE)
        return damaged(st, sqlite3_errmsg(st->db), err);
    return 0;
}

int store__check_open(store_t *st, carbs_err_t *err)
{
    sqlite3_stmt *s;
    sqlite3_int64 bytes = 0;
    int rc = store__begin(st, false, err);

    if (rc >= 0 && (rc = store__stmt(st, sql_size, &s, err)) >= 0) {
        if (sqlite3_step(s) == SQLITE_ROW)
            bytes = sqlite3_column_int64(s, 0);
        else
            rc = damaged(st, sqlite3_errmsg(st->db), err);
    }
    if (rc >= 0 && bytes <= STORE__CHECK_FULL_BYTES) {
        rc = run_check(st, sql_quick_all, err);
    } else if (rc >= 0) {
        rc = run_check(st, sql_quick_small, err);
        for (size_t i = 0; rc >= 0 && i < ARRAY_SIZE(sql_samples); i++) {
            int step;
            if ((rc = store__stmt(st, sql_samples[i], &s, err)) < 0)
                break;
            sqlite3_bind_int(s, 1, STORE__CHECK_SAMPLE);
            while ((step = sqlite3_step(s)) == SQLITE_ROW)
                for (int c = 0; c < sqlite3_column_count(s); c++)
                    sqlite3_column_bytes(s, c); /* reads overflow pages too */
            if (step != SQLITE_DONE)
                rc = damaged(st, sqlite3_errmsg(st->db), err);
        }
    }
    return store__end(st, rc, err);
}

// ---- store_check ----

static const char sql_integrity[] = "PRAGMA integrity_check";
static const char sql_fk_check[] = "PRAGMA foreign_key_check";

int store_check(store_t *st, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err);

    if (rc >= 0)
        rc = store__stmt(st, sql_integrity, &s, err);
    if (rc >= 0) {
        int step = sqlite3_step(s);
        const unsigned char *text = step == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
        if (step != SQLITE_ROW)
            rc = store__fail(st, "check the integrity of", err);
        else if (!text || strcmp((const char *)text, "ok") != 0)
            rc = carbs_fail(err, CARBS_ESTORE, "'%s' failed its integrity check: %s", st->path,
                            text ? (const char *)text : "?");
    }
    if (rc >= 0)
        rc = store__stmt(st, sql_fk_check, &s, err);
    if (rc >= 0) {
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            rc = carbs_fail(err, CARBS_ESTORE,
                            "'%s' failed its foreign key check: row %lld of table '%s' points "
                            "to a missing row of '%s'",
                            st->path, (long long)sqlite3_column_int64(s, 1),
                            (const char *)sqlite3_column_text(s, 0),
                            (const char *)sqlite3_column_text(s, 2));
        else if (step != SQLITE_DONE)
            rc = store__fail(st, "check the foreign keys of", err);
    }
    return store__end(st, rc, err);
}

// ---- the walk: every row by key ----

/* What a column holds, for the row checks. */
enum col_kind {
    COL_ANY,
    COL_TEXT,        /* NOT NULL text */
    COL_TEXT_NULL,   /* text or NULL */
    COL_JSON,        /* NOT NULL JSON */
    COL_JSON_NULL,   /* JSON or NULL */
    COL_SWEEP_STATE, /* a carbs_sweep_state_t name */
    COL_TRIAL_STATE, /* a carbs_trial_state_t name */
    COL_STATUS,      /* ok | failed */
    COL_FAILURE,     /* a carbs_failure_t name */
};

#define STORE__COLS_MAX 13
#define STORE__MAX(a, b) ((a) > (b) ? (a) : (b))

struct table {
    const char *name;
    const char *key; /* the rowid's name in SELECTs */
    size_t n_cols;
    const char *cols[STORE__COLS_MAX];
    enum col_kind kinds[STORE__COLS_MAX];
};

/* Parents first, so the new store's foreign keys find them.  Column order
 * is the schema's (store_schema.c); curves, keyed by (trial, step) without
 * a rowid, are walked per trial. */
static const struct table tables[] = {
    {"sweeps", "id", 5, {"id", "name", "spec", "state", "created"},
     {COL_ANY, COL_TEXT, COL_JSON, COL_SWEEP_STATE, COL_ANY}},
    {"trials", "id", 13,
     {"id", "sweep", "params", "point", "state", "attempt", "worker", "lease_deadline",
      "pred_output", "pred_cost", "created", "started", "finished"},
     {COL_ANY, COL_ANY, COL_JSON, COL_ANY, COL_TRIAL_STATE, COL_ANY, COL_TEXT_NULL, COL_ANY,
      COL_ANY, COL_ANY, COL_ANY, COL_ANY, COL_ANY}},
    {"results", "trial", 9,
     {"trial", "status", "failure", "message", "output", "cost", "metrics", "attempt", "created"},
     {COL_ANY, COL_STATUS, COL_FAILURE, COL_TEXT, COL_ANY, COL_ANY, COL_JSON_NULL, COL_ANY,
      COL_ANY}},
    {"workers", "rowid", 9,
     {"id", "host", "devices", "first_seen", "last_seen", "losses", "quarantined", "key_name",
      "key"},
     {COL_TEXT, COL_TEXT, COL_JSON_NULL, COL_ANY, COL_ANY, COL_ANY, COL_ANY, COL_TEXT_NULL,
      COL_TEXT_NULL}},
    {"laws", "id", 4, {"id", "sweep", "fitted_at", "law"}, {COL_ANY, COL_ANY, COL_ANY, COL_JSON}},
    {"optimizer_state", "sweep", 4, {"sweep", "resample_count", "rng", "state"},
     {COL_ANY, COL_ANY, COL_ANY, COL_JSON_NULL}},
    {"verifications", "trial", 10,
     {"trial", "sweep", "cost", "cost_name", "estimator", "predicted", "lo", "hi", "level",
      "created"},
     {COL_ANY, COL_ANY, COL_ANY, COL_TEXT, COL_TEXT, COL_ANY, COL_ANY, COL_ANY, COL_ANY,
      COL_ANY}},
};

struct walk {
    store_t *src;
    store_t *dst; /* NULL: audit only */
    const store_audit_t *a;
    store_audit_stats_t *stats;
    int64_t hi[ARRAY_SIZE(tables)]; /* the highest key seen or known, per table */
    size_t orphans;                  /* rows of this table whose parent was left out */
};

static void report(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct walk *w, const char *fmt, ...)
{
    char msg[CARBS_MSG_MAX];
    va_list ap;

    w->stats->problems++;
    if (!w->a || !w->a->report)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->a->report(w->a->ctx, msg);
}

/* The largest key of t that can be told: max(rowid) when its page path
 * reads, else the last key of a scan from each end, and never less than
 * sqlite_sequence's count for the table. */
static int64_t table_hi(struct walk *w, const struct table *t)
{
    char sql[160];
    sqlite3_stmt *s = NULL;
    int64_t hi = 0;

    snprintf(sql, sizeof(sql), "SELECT max(%s) FROM %s", t->key, t->name);
    if (sqlite3_prepare_v2(w->src->db, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        hi = sqlite3_column_int64(s, 0);
    } else {
        for (int desc = 0; desc < 2; desc++) {
            sqlite3_finalize(s);
            snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s%s", t->key, t->name, t->key,
                     desc ? " DESC" : "");
            s = NULL;
            if (sqlite3_prepare_v2(w->src->db, sql, -1, &s, NULL) != SQLITE_OK)
                continue;
            while (sqlite3_step(s) == SQLITE_ROW)
                hi = STORE__MAX(hi, sqlite3_column_int64(s, 0));
        }
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(w->src->db, "SELECT seq FROM sqlite_sequence WHERE name = ?1", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, t->name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            hi = STORE__MAX(hi, sqlite3_column_int64(s, 0));
    }
    sqlite3_finalize(s);
    return hi;
}

/* Check column c of the row in s, whose text (repaired) is text.  Returns
 * NULL when fine, else what is wrong. */
static const char *col_problem(struct walk *w, const struct table *t, size_t c, sqlite3_stmt *s,
                               const char *text, char *why, size_t cap)
{
    bool null = sqlite3_column_type(s, (int)c) == SQLITE_NULL;

    switch (t->kinds[c]) {
    case COL_ANY:
        return NULL;
    case COL_TEXT:
    case COL_JSON:
        if (null)
            return "is missing";
        break;
    case COL_TEXT_NULL:
    case COL_JSON_NULL:
        if (null)
            return NULL;
        break;
    case COL_SWEEP_STATE:
        return carbs_sweep_state_parse(text ? text : "") < 0 ? "is not a sweep state" : NULL;
    case COL_TRIAL_STATE:
        return carbs_trial_state_parse(text ? text : "") < 0 ? "is not a trial state" : NULL;
    case COL_STATUS:
        return text && (strcmp(text, "ok") == 0 || strcmp(text, "failed") == 0)
                   ? NULL
                   : "is neither ok nor failed";
    case COL_FAILURE:
        return carbs_failure_parse(text ? text : "") < 0 ? "is not a failure kind" : NULL;
    }
    if (sqlite3_column_type(s, (int)c) != SQLITE_TEXT)
        return "is not text";
    if (strcmp(t->name, "sweeps") == 0 && c == 1 && store__all_digits(text))
        return "is all digits";
    UNUSED(w);
    UNUSED(why);
    UNUSED(cap);
    return NULL;
}

/* Whether the JSON column c decodes with the caller's codec (true when it
 * is no JSON column, NULL, or there is no codec). */
static bool json_fine(struct walk *w, const struct table *t, size_t c, const char *text,
                      char *why, size_t cap)
{
    if (t->kinds[c] != COL_JSON && t->kinds[c] != COL_JSON_NULL)
        return true;
    if (!text || !w->a || !w->a->json_ok)
        return true;
    return w->a->json_ok(w->a->ctx, t->name, t->cols[c], text, why, cap);
}

/* Bind column c of the row in s to the insert ins, text repaired. */
static void bind_col(sqlite3_stmt *ins, int c, sqlite3_stmt *s, char *text)
{
    if (text)
        sqlite3_bind_text(ins, c + 1, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_value(ins, c + 1, sqlite3_column_value(s, c));
}

/* Check (and copy) the row of t the statement s stands on; key names it in
 * reports.  Returns 0, or the destination's error that must stop the walk. */
static int take_row(struct walk *w, const struct table *t, sqlite3_stmt *s, sqlite3_stmt *ins,
                    int64_t key, carbs_err_t *err)
{
    char *text[STORE__COLS_MAX] = {0};
    bool nulled[STORE__COLS_MAX] = {0};
    char why[CARBS_MSG_MAX];
    const char *bad = NULL;
    size_t bad_col = 0;
    int rc = 0;

    for (size_t c = 0; c < t->n_cols; c++) {
        const char *raw;
        if (sqlite3_column_type(s, (int)c) != SQLITE_TEXT)
            continue;
        raw = (const char *)sqlite3_column_text(s, (int)c);
        if (!raw) {
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", w->src->path);
            goto out;
        }
        if (store__utf8_dup(raw, (size_t)sqlite3_column_bytes(s, (int)c), &text[c]) > 0) {
            report(w, "%s %" PRId64 ": %s is not UTF-8%s", t->name, key, t->cols[c],
                   w->dst ? " (bad bytes replaced)" : "");
            w->stats->repaired++;
        }
    }
    for (size_t c = 0; c < t->n_cols && !bad; c++) {
        if ((bad = col_problem(w, t, c, s, text[c], why, sizeof(why)))) {
            bad_col = c;
        } else if (!json_fine(w, t, c, text[c], why, sizeof(why))) {
            if (t->kinds[c] == COL_JSON) {
                bad = why;
                bad_col = c;
            } else { /* optional: the row stands without it */
                report(w, "%s %" PRId64 ": %s %s%s", t->name, key, t->cols[c], why,
                       w->dst ? " (set to null)" : "");
                w->stats->repaired++;
                nulled[c] = true;
            }
        }
    }
    if (bad) {
        report(w, "%s %" PRId64 ": %s %s%s", t->name, key, t->cols[bad_col], bad,
               w->dst ? " (row left out)" : "");
        w->stats->skipped++;
        goto out;
    }
    if (!ins) {
        w->stats->copied++;
        goto out;
    }
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    for (size_t c = 0; c < t->n_cols; c++) {
        if (nulled[c])
            sqlite3_bind_null(ins, (int)c + 1);
        else
            bind_col(ins, (int)c, s, text[c]);
    }
    if (sqlite3_step(ins) == SQLITE_DONE) {
        w->stats->copied++;
    } else if (sqlite3_extended_errcode(w->dst->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
        w->orphans++; /* its sweep or trial was left out: told once per table */
        w->stats->skipped++;
    } else if ((sqlite3_errcode(w->dst->db) & 0xff) == SQLITE_CONSTRAINT) {
        report(w, "%s %" PRId64 ": %s (row left out)", t->name, key, sqlite3_errmsg(w->dst->db));
        w->stats->skipped++;
    } else {
        rc = store__fail(w->dst, "write the recovered rows to", err);
    }
out:
    for (size_t c = 0; c < t->n_cols; c++)
        free(text[c]);
    return rc;
}

/* Report the keys lo..hi of t that could not be read. */
static void unreadable(struct walk *w, const struct table *t, int64_t lo, int64_t hi,
                       const char *why)
{
    if (lo == hi)
        report(w, "%s %" PRId64 ": unreadable (%s)", t->name, lo, why);
    else
        report(w, "%s %" PRId64 "..%" PRId64 ": unreadable (%s)", t->name, lo, hi, why);
    w->stats->unreadable += (size_t)(hi - lo + 1);
}

static int insert_sql(const struct table *t, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "INSERT INTO %s (", t->name);
    for (size_t c = 0; c < t->n_cols && n < cap; c++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", c ? ", " : "", t->cols[c]);
    for (size_t c = 0; c < t->n_cols && n < cap; c++)
        n += (size_t)snprintf(buf + n, cap - n, "%s?%zu", c ? ", " : ") VALUES (", c + 1);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ")");
    return n < cap ? 0 : CARBS_ETOOBIG;
}

static int select_sql(const struct table *t, const char *where, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "SELECT ");
    for (size_t c = 0; c < t->n_cols && n < cap; c++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", c ? ", " : "", t->cols[c]);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " FROM %s WHERE %s", t->name, where);
    return n < cap ? 0 : CARBS_ETOOBIG;
}

static int walk_table(struct walk *w, size_t ti, carbs_err_t *err)
{
    const struct table *t = &tables[ti];
    char sql[512], where[64];
    sqlite3_stmt *s = NULL, *ins = NULL;
    int64_t bad_lo = 0;
    int rc = 0;

    snprintf(where, sizeof(where), "%s = ?1", t->key);
    if (select_sql(t, where, sql, sizeof(sql)) < 0 ||
        sqlite3_prepare_v2(w->src->db, sql, -1, &s, NULL) != SQLITE_OK) {
        report(w, "%s: cannot be read (%s)", t->name, sqlite3_errmsg(w->src->db));
        goto out;
    }
    if (w->dst && (insert_sql(t, sql, sizeof(sql)) < 0 ||
                   sqlite3_prepare_v2(w->dst->db, sql, -1, &ins, NULL) != SQLITE_OK)) {
        rc = store__fail(w->dst, "prepare the recovery of", err);
        goto out;
    }
    w->hi[ti] = STORE__MAX(w->hi[ti], table_hi(w, t));
    for (int64_t key = 1; key <= w->hi[ti] && rc >= 0; key++) {
        int step;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, key);
        step = sqlite3_step(s);
        if (step == SQLITE_ROW || step == SQLITE_DONE) {
            if (bad_lo)
                unreadable(w, t, bad_lo, key - 1, sqlite3_errstr(SQLITE_CORRUPT));
            bad_lo = 0;
            if (step == SQLITE_ROW)
                rc = take_row(w, t, s, ins, key, err);
        } else if (!bad_lo) {
            bad_lo = key;
        }
    }
    if (bad_lo)
        unreadable(w, t, bad_lo, w->hi[ti], sqlite3_errstr(SQLITE_CORRUPT));
    if (w->orphans)
        report(w, "%s: %zu rows left out: the sweep or trial they belong to was left out",
               t->name, w->orphans);
    w->orphans = 0;
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(s);
    return rc;
}

/* Curves, per trial: the points that read, in order, up to a bad page. */
static int walk_curves(struct walk *w, int64_t trials_hi, carbs_err_t *err)
{
    sqlite3_stmt *s = NULL, *ins = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(w->src->db,
                           "SELECT trial, step, tokens, loss FROM curves WHERE trial = ?1 "
                           "ORDER BY step",
                           -1, &s, NULL) != SQLITE_OK) {
        report(w, "curves: cannot be read (%s)", sqlite3_errmsg(w->src->db));
        return 0;
    }
    if (w->dst && sqlite3_prepare_v2(w->dst->db,
                                     "INSERT INTO curves (trial, step, tokens, loss) "
                                     "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS "
                                     "(SELECT 1 FROM trials WHERE id = ?1)",
                                     -1, &ins, NULL) != SQLITE_OK) {
        rc = store__fail(w->dst, "prepare the recovery of", err);
        goto out;
    }
    for (int64_t trial = 1; trial <= trials_hi && rc >= 0; trial++) {
        int step;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, trial);
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            if (!ins)
                continue;
            sqlite3_reset(ins);
            for (int c = 0; c < 4; c++)
                sqlite3_bind_value(ins, c + 1, sqlite3_column_value(s, c));
            if (sqlite3_step(ins) != SQLITE_DONE) {
                rc = store__fail(w->dst, "write the recovered rows to", err);
                break;
            }
        }
        if (step != SQLITE_DONE && rc >= 0) {
            report(w, "curves of trial %" PRId64 ": unreadable from some step on (%s)", trial,
                   sqlite3_errmsg(w->src->db));
            w->stats->unreadable++;
        }
    }
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(s);
    return rc;
}

/* In the new store: "done or failed <=> a results row", and ids never
 * reused (sqlite_sequence no lower than in the old one). */
static const char sql_fix_finished[] =
    "UPDATE trials SET state = (SELECT CASE status WHEN 'ok' THEN 'done' ELSE 'failed' END"
    " FROM results WHERE trial = trials.id)"
    " WHERE state NOT IN ('done', 'failed') AND id IN (SELECT trial FROM results)";
static const char sql_fix_resultless[] =
    "UPDATE trials SET state = 'cancelled'"
    " WHERE state IN ('done', 'failed') AND id NOT IN (SELECT trial FROM results)";
static const char sql_seq_bump[] = "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1";
static const char sql_seq_add[] =
    "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2"
    " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)";

static int fix_up(struct walk *w, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_exec(w->dst->db, sql_fix_finished, NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(w->dst, "repair the trial states of", err);
    if (sqlite3_changes(w->dst->db))
        report(w, "trials: %d unfinished trials had a result: marked done or failed",
               sqlite3_changes(w->dst->db));
    if (sqlite3_exec(w->dst->db, sql_fix_resultless, NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(w->dst, "repair the trial states of", err);
    if (sqlite3_changes(w->dst->db))
        report(w, "trials: %d finished trials lost their result: marked cancelled",
               sqlite3_changes(w->dst->db));
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
        const char *name = tables[i].name;
        if (strcmp(name, "sweeps") && strcmp(name, "trials") && strcmp(name, "laws"))
            continue; /* the AUTOINCREMENT tables */
        for (int k = 0; k < 2; k++) {
            if ((rc = store__stmt(w->dst, k ? sql_seq_add : sql_seq_bump, &s, err)) < 0)
                return rc;
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, w->hi[i]);
            if ((rc = store__step_done(w->dst, s, "keep the ids of", err)) < 0)
                return rc;
        }
    }
    return 0;
}

static int walk_all(struct walk *w, carbs_err_t *err)
{
    int rc = 0;
    int64_t trials_hi = 0;

    for (size_t i = 0; i < ARRAY_SIZE(tables) && rc >= 0; i++) {
        /* A results row is keyed by its trial, an optimizer state by its
         * sweep: their parents' range bounds them too. */
        if (strcmp(tables[i].name, "results") == 0 ||
            strcmp(tables[i].name, "verifications") == 0)
            w->hi[i] = w->hi[1];
        if (strcmp(tables[i].name, "optimizer_state") == 0)
            w->hi[i] = w->hi[0];
        rc = walk_table(w, i, err);
        if (strcmp(tables[i].name, "trials") == 0)
            trials_hi = w->hi[i];
    }
    if (rc >= 0)
        rc = walk_curves(w, trials_hi, err);
    return rc;
}

// ---- audit and recovery ----

int store_audit(store_t *st, const store_audit_t *a, store_audit_stats_t *stats, carbs_err_t *err)
{
    struct walk w = {.src = st, .a = a, .stats = stats};
    sqlite3_stmt *s = NULL;
    int rc, step;

    memset(stats, 0, sizeof(*stats));
    /* SQLite's own view first: every page, every index. */
    if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check(1000)", -1, &s, NULL) != SQLITE_OK) {
        report(&w, "integrity check: %s", sqlite3_errmsg(st->db));
    } else {
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            const char *text = (const char *)sqlite3_column_text(s, 0);
            if (text && strcmp(text, "ok") != 0)
                report(&w, "integrity check: %s", text);
        }
        if (step != SQLITE_DONE)
            report(&w, "integrity check: %s", sqlite3_errmsg(st->db));
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &s, NULL) == SQLITE_OK) {
        while ((step = sqlite3_step(s)) == SQLITE_ROW)
            report(&w, "%s %lld: points to a missing row of %s",
                   (const char *)sqlite3_column_text(s, 0), (long long)sqlite3_column_int64(s, 1),
                   (const char *)sqlite3_column_text(s, 2));
        if (step != SQLITE_DONE)
            report(&w, "foreign key check: %s", sqlite3_errmsg(st->db));
    }
    sqlite3_finalize(s);
    /* Then ours, row by row, in one read snapshot. */
    rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = walk_all(&w, err);
    if (rc >= 0 && sqlite3_prepare_v2(st->db, "SELECT count(*) FROM trials WHERE state IN "
                                              "('done','failed') AND id NOT IN (SELECT trial "
                                              "FROM results)",
                                      -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0)
            report(&w, "trials: %lld finished trials have no result",
                   (long long)sqlite3_column_int64(s, 0));
        sqlite3_finalize(s);
    }
    /* Only read: roll back, which cannot trip over the damage a COMMIT
     * would report again. */
    store__end(st, CARBS_ESTORE, NULL);
    return rc;
}

int store_recover(const char *src_path, const char *dest_path, const store_audit_t *a,
                  store_audit_stats_t *stats, carbs_err_t *err)
{
    struct walk w = {.a = a, .stats = stats};
    struct stat sb;
    int rc;

    memset(stats, 0, sizeof(*stats));
    if (!dest_path || !dest_path[0])
        return carbs_fail(err, CARBS_EINVAL, "empty path for the recovered store");
    if (stat(dest_path, &sb) == 0)
        return carbs_fail(err, CARBS_EEXIST, "cannot recover '%s' into '%s': file exists",
                          src_path, dest_path);
    w.src = store_open(src_path, STORE_READONLY, err);
    if (!w.src)
        return err->code;
    w.dst = store_open(dest_path, STORE_CREATE, err);
    if (!w.dst) {
        store_close(w.src);
        return err->code;
    }
    w.stats = stats;
    rc = store__begin(w.src, false, err);
    if (rc >= 0)
        rc = store__begin(w.dst, true, err);
    if (rc >= 0)
        rc = walk_all(&w, err);
    if (rc >= 0)
        rc = fix_up(&w, err);
    rc = store__end(w.dst, rc, err);
    store__end(w.src, CARBS_ESTORE, NULL); /* a read: roll back */
    store_close(w.dst);
    store_close(w.src);
    if (rc < 0)
        remove(dest_path); /* nothing half-made is left behind */
    return rc;
}

// ---- backup ----

static const char sql_vacuum_into[] = "VACUUM INTO ?1";

int store_backup(store_t *st, const char *dest_path, carbs_err_t *err)
{
    sqlite3_stmt *s;
    struct stat sb;
    int rc;

    if (!dest_path || !dest_path[0])
        return carbs_fail(err, CARBS_EINVAL, "empty backup path");
    if (stat(dest_path, &sb) == 0)
        return carbs_fail(err, CARBS_EEXIST, "cannot back up '%s' to '%s': file exists", st->path,
                          dest_path);
    /* VACUUM cannot run inside a transaction; it is one by itself. */
    rc = store__stmt(st, sql_vacuum_into, &s, err);
    if (rc < 0)
        return rc;
    store__bind_text(s, 1, dest_path);
    rc = store__step_done(st, s, "back up", err);
    store__end(st, rc, NULL); /* resets the cached statements */
    return rc;
}
