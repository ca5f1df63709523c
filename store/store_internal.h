/*
 * store_internal.h - what the store_*.c files share: the store_t body, the
 * statement cache, transactions, SQLite error mapping and row readers.
 *
 * Every public call follows one shape: store__begin(), cached statements
 * bound with parameters, then store__end(st, rc, err), which commits when rc
 * is not negative and rolls back otherwise, and resets every cached statement
 * so no read lock outlives the call.
 */
#ifndef CARBS_STORE_STORE_INTERNAL_H
#define CARBS_STORE_STORE_INTERNAL_H

#include "proto/common.h"
#include "store/store.h"

#include <sqlite3.h>

/* Distinct SQL texts a store may prepare; each statement is a static const
 * char, so the cache is keyed by its address. */
#define STORE__CACHE_MAX 64

struct store__cached {
    const char *sql;
    sqlite3_stmt *stmt;
};

struct store__ident;

struct store {
    sqlite3 *db;
    char *path; /* as the caller gave it: for messages */
    char *real; /* symlinks resolved: what SQLite opens, and the -wal and .lock names */
    struct store__ident *ident; /* this process's descriptor of the file (store_lock.c) */
    int flags;
    int busy_ms;
    int lock_fd; /* writer lock file, -1 when not held */
    bool in_write; /* the open transaction began with BEGIN IMMEDIATE */
    bool unsynced; /* STORE_SYNC_DEFER: a commit since the last store_sync() */
    struct store__cached cache[STORE__CACHE_MAX];
    size_t n_cache;
};

/* The cached statement for sql (prepared on first use), reset and with its
 * bindings cleared.  Returns 0 or CARBS_ESTORE. */
int store__stmt(store_t *st, const char *sql, sqlite3_stmt **out, carbs_err_t *err);

/* BEGIN IMMEDIATE when write, else BEGIN.  0, CARBS_EBUSY or CARBS_ESTORE. */
int store__begin(store_t *st, bool write, carbs_err_t *err);

/* Finish the call's transaction: COMMIT when rc >= 0, ROLLBACK otherwise
 * (err keeps the first failure).  Resets the cached statements.  Returns rc,
 * or the COMMIT's failure. */
int store__end(store_t *st, int rc, carbs_err_t *err);

/* Upsert a sweep's optimizer state inside the caller's transaction
 * (store_optstate_put, and store_trial_add with an optstate). */
int store__optstate_write(store_t *st, int64_t sweep_id, const store_optstate_t *os,
                          carbs_err_t *err);

/* Turn the connection's last SQLite error into a code and message:
 * CARBS_EBUSY for busy/locked, CARBS_EDENIED for read-only, CARBS_ESTORE
 * otherwise.  what says what failed ("add trial"). */
int store__fail(store_t *st, const char *what, carbs_err_t *err);

/* Step a statement that returns no rows; 0 or store__fail(). */
int store__step_done(store_t *st, sqlite3_stmt *s, const char *what, carbs_err_t *err);

// ---- binding and reading values ----

/* Bind a double, or NULL when x is NaN (SQLite has no NaN). */
int store__bind_real(sqlite3_stmt *s, int i, double x);
/* Bind text borrowed from the caller, or NULL when str is NULL. */
int store__bind_text(sqlite3_stmt *s, int i, const char *str);
/* A REAL column, NaN when NULL. */
double store__col_real(sqlite3_stmt *s, int i);
/* A REAL column, 0 when NULL (timestamps). */
double store__col_time(sqlite3_stmt *s, int i);
/* A heap copy of text[n] into *out (caller frees), stopping at a NUL, with
 * each byte that does not start valid UTF-8 replaced by U+FFFD, so nothing
 * the store hands out breaks a JSON writer.  Returns the bytes replaced
 * (0 for clean text) or CARBS_ENOMEM. */
int store__utf8_dup(const char *text, size_t n, char **out);
/* A heap copy of a TEXT column (NULL when NULL) into *out, repaired like
 * store__utf8_dup().  0 or ENOMEM. */
int store__col_strdup(sqlite3_stmt *s, int i, char **out);
/* Copy a TEXT column into buf[cap] ("" when NULL), repaired like
 * store__utf8_dup(), truncating between characters. */
void store__col_copy(sqlite3_stmt *s, int i, char *buf, size_t cap);

/* Check what a new trial carries: 0 or CARBS_EINVAL / CARBS_ETOOBIG. */
int store__trial_new_check(const store_trial_new_t *tn, carbs_err_t *err);

/* Insert a pending trial (and its optimizer state) inside the caller's
 * write transaction; *id (may be NULL) is its id.  0 or an error code. */
int store__trial_insert(store_t *st, const store_trial_new_t *tn, int64_t *id,
                        carbs_err_t *err);

/* The column list store__trial_read() expects, for table alias t. */
#define STORE__TRIAL_COLS                                                                          \
    "t.id, t.sweep, t.state, t.attempt, t.params, t.point, t.worker, t.lease_deadline, "           \
    "t.pred_output, t.pred_cost, t.created, t.started, t.finished"
#define STORE__TRIAL_NCOLS 13

/* Read STORE__TRIAL_COLS starting at column col into *t (zeroed first).
 * 0 or CARBS_ENOMEM (t then owns nothing). */
int store__trial_read(sqlite3_stmt *s, int col, store_trial_t *t, carbs_err_t *err);

/* Read "status, failure, message, output, cost, metrics, attempt, created"
 * starting at column col into *r for trial_id.  0 or CARBS_ENOMEM. */
#define STORE__RESULT_COLS                                                                         \
    "r.status, r.failure, r.message, r.output, r.cost, r.metrics, r.attempt, r.created"
int store__result_read(sqlite3_stmt *s, int col, int64_t trial_id, store_result_t *r,
                       carbs_err_t *err);

/* Whether sweep_id exists, inside the caller's transaction.  0 or
 * CARBS_ENOTFOUND / CARBS_ESTORE. */
int store__sweep_exists(store_t *st, int64_t sweep_id, carbs_err_t *err);

/* Whether s is non-empty and all digits (a sweep name never is). */
bool store__all_digits(const char *s);

/* Validate a worker id: non-empty and shorter than CARBS_NAME_MAX. */
int store__check_worker(const char *id, carbs_err_t *err);

// ---- the file and its writer lock (store_lock.c) ----

/* path with every symlink resolved, into *out (caller frees).  With create,
 * a missing file is fine when its folder exists (a symlink to nothing is
 * not).  0, CARBS_ENOTFOUND, CARBS_EINVAL, CARBS_ETOOBIG or CARBS_EIO. */
int store__real_path(const char *path, bool create, char **out, carbs_err_t *err);

/* Count one more connection of this process to the file at real (which
 * must exist), opening the process's descriptor of it on the first.  Every
 * connection takes one before it reads and drops it after sqlite3_close()
 * (closing a descriptor of the file would drop SQLite's fcntl locks).
 * 0, CARBS_ENOTFOUND, CARBS_EDENIED or CARBS_EIO. */
int store__ident_ref(const char *real, struct store__ident **out, carbs_err_t *err);

/* Drop a reference taken by store__ident_ref(), releasing st's writer lock
 * if st (may be NULL) holds it.  id may be NULL. */
void store__ident_unref(struct store__ident *id, const store_t *st);

/* For a connection opened to write: CARBS_EBUSY naming the holder when
 * another connection holds the writer lock through another name of the
 * same file (a hard link: another -wal that SQLite would not see). */
int store__writer_guard(store_t *st, carbs_err_t *err);

// ---- damage (store_check.c) ----

/* The check a writer makes at open: PRAGMA quick_check on a small store;
 * on a large one the small tables whole and the newest and oldest rows of
 * the large ones.  0, or CARBS_ESTORE saying what is damaged and the way
 * out. */
int store__check_open(store_t *st, carbs_err_t *err);

// ---- schema (store_schema.c) ----

/* Bring the database to STORE_SCHEMA_VERSION, one transaction per step,
 * starting from user_version.  0 or a store__fail() code. */
int store__migrate(store_t *st, int user_version, carbs_err_t *err);

#endif
