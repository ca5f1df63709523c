/*
 * store.h - the SQLite store: sweeps, trials, results, curves, workers,
 * scaling-law fits and optimizer state (docs/store.md, the writer rule
 * included).
 *
 * Invariants:
 * - A store_t is one SQLite connection in WAL mode with foreign keys on and a
 *   busy timeout of STORE_BUSY_TIMEOUT_MS.  Its file carries
 *   STORE_APPLICATION_ID and a schema version (PRAGMA user_version) no newer
 *   than STORE_SCHEMA_VERSION; store_open() refuses anything else and never
 *   modifies a file it refuses.
 * - Every public call is exactly one transaction (BEGIN IMMEDIATE when it
 *   writes): it either happens whole or not at all.  How durable a call that
 *   returned 0 is depends on the open flags: by default (synchronous=FULL)
 *   it is on disk and survives a power loss; with STORE_SYNC_NORMAL it
 *   survives the death of the process but a power loss may undo the last
 *   commits; with STORE_SYNC_DEFER it is like NORMAL until the next
 *   store_sync(), which makes every commit before it as durable as FULL.
 *   The file is never corrupted in any mode.
 * - Trial ids are unique across the store and never reused.  Trial states
 *   move pending -> running -> done | failed | lost, lost -> pending (re-queue)
 *   and anything unfinished -> cancelled; see docs/store.md.
 * - JSON travels as text (params_json, spec_json, metrics_json ...): the
 *   store never parses it; the proto/ codecs encode and decode it.
 * - A store_t is not thread-safe: use it from one thread at a time.  Two
 *   store_t on the same file (in one process or several) are fine; SQLite
 *   serialises writers, and a writer blocked longer than the busy timeout
 *   gets CARBS_EBUSY.
 *
 * Errors: 0 on success or a negative CARBS_E* code with err filled in:
 * CARBS_ESTORE for SQLite failures (the SQLite message is in err),
 * CARBS_ENOTFOUND for a missing sweep/trial/worker/row, CARBS_ESTATE for a
 * state transition that is not allowed, CARBS_EEXIST for a taken sweep name,
 * CARBS_EBUSY for a locked database, CARBS_EINVAL for bad arguments.
 * Messages are lower case and name the path or the object first.
 *
 * Ownership: arguments are borrowed.  Value structs filled by the store own
 * their heap members; release them with the matching _release().  Iterators
 * are a snapshot taken by _new in one read transaction, so the caller may
 * write to the store while iterating; _next() returns CARBS_CONTINUE with a
 * borrowed row (valid until the next _next() or _free()), 0 at the end, and
 * never fails; free them with _free() (NULL is a no-op).
 */
#ifndef CARBS_STORE_STORE_H
#define CARBS_STORE_STORE_H

#include "proto/common.h"
#include "proto/types.h"

/* PRAGMA application_id of a carbs store: "CRBS" (0x43524253). */
#define STORE_APPLICATION_ID 1129464403
/* The newest schema version this build knows (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 3
/* How long a call waits for another connection's write lock before
 * returning CARBS_EBUSY.  Five seconds covers any single transaction of the
 * service (they are milliseconds) with a wide margin, and is short enough that
 * a CLI command facing a stuck writer fails visibly. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* Host names longer than this (with NUL) are refused (CARBS_EINVAL); worker
 * ids and sweep names are limited to CARBS_NAME_MAX like everywhere else. */
#define STORE_HOST_MAX 256

/* store_open() flags. */
#define STORE_READONLY 0x1 /* open for reading only (status, export ...) */
#define STORE_CREATE 0x2   /* create the file and the schema when missing */
/* Commit with synchronous = NORMAL instead of FULL: in WAL mode a commit
 * then survives the death of the process (kill -9, a crash) but not of the
 * machine: a power loss or kernel crash may undo the last commits, though
 * never corrupt the file.  Several times more commits per second on a real
 * disk; for sweeps whose trials are cheap to run again. */
#define STORE_SYNC_NORMAL 0x4
/* Group commit for a writer that answers others: synchronous = NORMAL, and
 * the caller makes every commit since the last call durable at once with
 * store_sync() before it tells anyone about them (one fsync of the WAL for
 * many commits).  What was synced is as safe as with FULL. */
#define STORE_SYNC_DEFER 0x8

typedef struct store store_t;

// ---- open and close ----

/* Open the store at path, symlinks resolved (the -wal and -shm files are
 * those of the real file).  Without STORE_CREATE a missing file is
 * CARBS_ENOTFOUND, and an empty database CARBS_EINVAL.  A file that is not
 * SQLite, or is SQLite but not a carbs store (another application_id, or
 * tables of its own), is CARBS_EINVAL and is left untouched.  A schema newer
 * than this build is CARBS_EVERSION; an older one is migrated (one
 * transaction per step) unless STORE_READONLY, then CARBS_EVERSION too.  A
 * file that cannot be opened for writing without STORE_READONLY is
 * CARBS_EDENIED; a database locked past the busy timeout is CARBS_EBUSY,
 * and so is opening for writing through another name of a file (a hard
 * link) whose writer lock is held through that other name.  Returns NULL
 * with err filled on failure; caller owns the result and closes it with
 * store_close(). */
store_t *store_open(const char *path, int flags, carbs_err_t *err);

/* The connection's synchronous level as SQLite reports it: 2 (FULL, the
 * default) or 1 (NORMAL, with STORE_SYNC_NORMAL or STORE_SYNC_DEFER);
 * negative on error. */
int store_synchronous(store_t *st);

/* With STORE_SYNC_DEFER: flush the write-ahead log to disk (fsync) if
 * anything was committed since the last call; otherwise nothing to do.
 * Returns 0, or CARBS_ESTORE naming the error (then the commits since the
 * last sync may not survive a power loss, though a killed process loses
 * nothing). */
int store_sync(store_t *st, carbs_err_t *err);

/* Whether a commit awaits store_sync(). */
bool store_unsynced(const store_t *st);

/* Close st, finalizing its statements and releasing the writer lock if held.
 * st may be NULL. */
void store_close(store_t *st);

/* The path st was opened with.  Borrowed: valid until store_close(). */
const char *store_path(const store_t *st);

/* Change how long calls on st wait for a locked database (milliseconds,
 * >= 0).  Returns 0 or CARBS_EINVAL. */
int store_set_busy_timeout(store_t *st, int ms, carbs_err_t *err);

/* Run PRAGMA integrity_check and foreign_key_check.  Returns 0 when both are
 * clean, or CARBS_ESTORE with the first problem in err. */
int store_check(store_t *st, carbs_err_t *err);

/* Write a consistent copy of the store to dest_path (VACUUM INTO), safe
 * while a writer runs.  dest_path must not exist (CARBS_EEXIST). */
int store_backup(store_t *st, const char *dest_path, carbs_err_t *err);

// ---- damage: the audit and the recovery (docs/store.md) ----

/* How store_audit() and store_recover() judge JSON columns and tell what
 * they find.  The store never parses JSON (docs/style.md H21): json_ok is
 * the caller's codec for table.column (sweeps.spec, trials.params,
 * results.metrics, workers.devices, laws.law, optimizer_state.state); it
 * returns false with the reason in why[cap] when text does not decode.
 * NULL json_ok checks no JSON.  report gets one line per problem (NULL:
 * counted only).  ctx is passed back to both. */
typedef struct store_audit {
    bool (*json_ok)(void *ctx, const char *table, const char *column, const char *text, char *why,
                    size_t cap);
    void (*report)(void *ctx, const char *line);
    void *ctx;
} store_audit_t;

typedef struct store_audit_stats {
    size_t problems;   /* lines reported */
    size_t copied;     /* rows that read and passed every check (recover: copied) */
    size_t skipped;    /* rows that read but failed a check or lost their parent */
    size_t unreadable; /* keys, or trials' curves, that could not be read */
    size_t repaired;   /* values not UTF-8, or optional JSON that does not decode (recover:
                        * bad bytes replaced, the JSON set to null) */
} store_audit_stats_t;

/* The whole check behind `carbs store check`: PRAGMA integrity_check (every
 * page and index) and foreign_key_check, then every row of every table read
 * on its own: unreadable keys, text that is not UTF-8, unknown states and
 * kinds, all-digit sweep names, JSON that a->json_ok refuses, finished
 * trials without a result.  Reports each problem through a (may be NULL)
 * and fills *stats; stats->problems == 0 means a clean store.  Returns 0
 * when the audit ran (whatever it found), or the error that stopped it.
 * Takes a read snapshot only: safe while a writer runs, and on a store
 * opened read-only. */
int store_audit(store_t *st, const store_audit_t *a, store_audit_stats_t *stats, carbs_err_t *err);

/* Copy what can be read of the (damaged) store at src_path into a new
 * store at dest_path, which must not exist (CARBS_EEXIST): the walk of
 * store_audit(), keeping ids, leaving out rows that fail a check or whose
 * sweep or trial was left out, replacing bad UTF-8 bytes by U+FFFD, then
 * marking unfinished trials that have a result done or failed, finished
 * ones whose result was lost cancelled, and keeping every id ever handed
 * out unused.  Reports through a, fills *stats.  Returns 0, or the error of
 * opening either store or of writing the new one (dest_path is then
 * removed). */
int store_recover(const char *src_path, const char *dest_path, const store_audit_t *a,
                  store_audit_stats_t *stats, carbs_err_t *err);

// ---- the writer rule (docs/store.md) ----

/* Become the store's only writer: take an exclusive flock(2) on the store
 * file itself (its identity: every path to it, hard links included, meets
 * the same lock) and one on "<real path>.lock" (created if missing, never
 * removed), and write this pid into the latter.  Held until store_close().
 * Returns 0 (also when st already holds it), CARBS_EBUSY naming the
 * holder's pid and, when it differs and can be told, its path, when another
 * store_t (in any process, through any path) holds it, CARBS_EDENIED for a
 * read-only store, or CARBS_EIO. */
int store_writer_lock(store_t *st, carbs_err_t *err);

/* Tell whether some process holds the writer lock of the store at path,
 * through this path or any other to the same file.  Sets *pid to the
 * holder's pid, to 0 when nobody holds it (also when the file does not
 * exist), or to -1 when it is held but the pid could not be read.  Returns
 * 0 or CARBS_EIO.  Opens no SQLite connection. */
int store_writer_holder(const char *path, long *pid, carbs_err_t *err);

// ---- sweeps ----

typedef struct store_sweep {
    int64_t id;
    char name[CARBS_NAME_MAX];
    char *spec_json; /* owned */
    carbs_sweep_state_t state;
    double created; /* unix seconds */
} store_sweep_t;

void store_sweep_release(store_sweep_t *s);

/* Store a new sweep, state active, and set *id (may be NULL).  name must be
 * non-empty, shorter than CARBS_NAME_MAX and not all digits (CARBS_EINVAL);
 * a taken name is CARBS_EEXIST.  spec_json is stored verbatim. */
int store_sweep_create(store_t *st, const char *name, const char *spec_json, int64_t *id,
                       carbs_err_t *err);

/* Find a sweep by id or name: a string of digits is tried as an id first,
 * then as a name.  Fills *out (caller releases it) or returns
 * CARBS_ENOTFOUND. */
int store_sweep_get(store_t *st, const char *id_or_name, store_sweep_t *out, carbs_err_t *err);

/* Same, by id only. */
int store_sweep_get_id(store_t *st, int64_t sweep_id, store_sweep_t *out, carbs_err_t *err);

/* Set a sweep's state.  CARBS_ENOTFOUND for an unknown sweep. */
int store_sweep_set_state(store_t *st, int64_t sweep_id, carbs_sweep_state_t state,
                          carbs_err_t *err);

/* Change a sweep in one transaction: its name (NULL: keep; checked like
 * store_sweep_create's, CARBS_EEXIST when another sweep has it), its spec
 * (NULL: keep; stored verbatim) and its state (< 0: keep).
 * CARBS_ENOTFOUND for an unknown sweep. */
int store_sweep_update(store_t *st, int64_t sweep_id, const char *name, const char *spec_json,
                       int state, carbs_err_t *err);

/* Delete a sweep and everything that belongs to it (trials, results,
 * curves, laws, optimizer state) in one transaction; workers and other
 * sweeps are untouched, and the trial ids it used are never handed out
 * again.  The caller decides whether the sweep may go (the service refuses
 * an active or paused one).  CARBS_ENOTFOUND for an unknown sweep. */
int store_sweep_delete(store_t *st, int64_t sweep_id, carbs_err_t *err);

/* The sweep's latest results that failed in a row with one cause: an
 * `error` or `infra` failure with one message (what pauses a sweep,
 * docs/service.md).  Looks at the last limit results at most. */
typedef struct store_failure_run {
    int run; /* 0 when the latest result is not such a failure */
    carbs_failure_t failure;
    char message[CARBS_MSG_MAX];
} store_failure_run_t;

/* Fill *out for sweep_id.  Returns 0, CARBS_ENOTFOUND for an unknown sweep,
 * or the store's error. */
int store_sweep_failure_run(store_t *st, int64_t sweep_id, int limit, store_failure_run_t *out,
                            carbs_err_t *err);

/* The worker name of imported trials (`carbs import`). */
#define STORE_IMPORT_WORKER "(import)"

/* Count the sweep's trials by state into counts[] (indexed by
 * carbs_trial_state_t) and put its cost spent into *cost_spent (may be
 * NULL): the sum of the known costs of its finished trials, failed ones
 * included (a budget is spent whether or not the trial succeeded), imported
 * trials (worker STORE_IMPORT_WORKER) left out; an unknown (NULL) cost
 * counts 0.  This is the one definition of cost_spent (docs/service.md,
 * Budget and states).  CARBS_ENOTFOUND for an unknown sweep. */
int store_sweep_counts(store_t *st, int64_t sweep_id, size_t counts[CARBS_TRIAL_STATE_COUNT],
                       double *cost_spent, carbs_err_t *err);

typedef struct store_sweep_iter store_sweep_iter_t;

/* Snapshot of the sweeps whose state is in states, a mask of
 * (1u << carbs_sweep_state_t) bits (0 = every state), in id order.
 * NULL with err on failure. */
store_sweep_iter_t *store_sweep_iter_new(store_t *st, unsigned states, carbs_err_t *err);
int store_sweep_iter_next(store_sweep_iter_t *it, const store_sweep_t **row);
size_t store_sweep_iter_count(const store_sweep_iter_t *it);
void store_sweep_iter_free(store_sweep_iter_t *it);

// ---- trials ----

typedef struct store_trial {
    int64_t id;
    int64_t sweep_id;
    carbs_trial_state_t state;
    int attempt;       /* 0 until first claimed; +1 at each claim */
    char *params_json; /* owned */
    double *u;         /* owned: the basic-space point, d doubles; NULL when d = 0 */
    size_t d;
    char worker[CARBS_NAME_MAX]; /* last worker to claim it; empty when never claimed */
    double lease_deadline;       /* unix seconds; 0 when not running */
    double pred_output, pred_cost; /* NaN when none */
    double created, started, finished; /* unix seconds; 0 when not yet */
} store_trial_t;

void store_trial_release(store_trial_t *t);

/* What a new trial carries: params_json (required), the basic-space point
 * u[d] (u may be NULL when d = 0) and the optimizer's predictions (NaN for
 * none).  All borrowed. */
typedef struct store_trial_new {
    int64_t sweep_id;
    const char *params_json;
    const double *u;
    size_t d;
    double pred_output, pred_cost;
    /* The optimizer state after this suggestion, written in the same
     * transaction so a crash cannot separate the two; NULL = leave it. */
    const struct store_optstate *optstate;
} store_trial_new_t;

/* Add a pending trial and set *id (may be NULL).  CARBS_ENOTFOUND for an
 * unknown sweep, CARBS_EINVAL for a NULL params_json. */
int store_trial_add(store_t *st, const store_trial_new_t *tn, int64_t *id, carbs_err_t *err);

/* pending -> running for worker until lease_deadline (unix seconds);
 * attempt += 1, started = now.  CARBS_ESTATE when the trial is not pending,
 * CARBS_ENOTFOUND when it does not exist.  On success *attempt (may be NULL)
 * is the new attempt number. */
int store_trial_claim(store_t *st, int64_t trial_id, const char *worker, double lease_deadline,
                      int *attempt, carbs_err_t *err);

/* Move the lease deadline of a running trial held by worker.  CARBS_ESTATE
 * when it is not running or held by another worker. */
int store_trial_renew(store_t *st, int64_t trial_id, const char *worker, double lease_deadline,
                      carbs_err_t *err);

/* running -> lost; the holding worker's loss count grows by one (its row is
 * created if missing).  CARBS_ESTATE when not running. */
int store_trial_lose(store_t *st, int64_t trial_id, carbs_err_t *err);

/* running -> lost like store_trial_lose, but the holder's loss count stays:
 * for a trial its holder may never have received (the service that handed
 * it out died before the worker named it, docs/service.md). */
int store_trial_lose_unblamed(store_t *st, int64_t trial_id, carbs_err_t *err);

/* lost -> pending with the same params, keeping attempt, clearing worker
 * and lease.  A trial is re-queued at most max_retries times: allowed while
 * attempt <= max_retries (so it runs at most max_retries + 1 times).
 * CARBS_ESTATE when not lost or out of retries; the caller then finishes it
 * as failed (failure infra) with store_trial_finish(). */
int store_trial_requeue(store_t *st, int64_t trial_id, int max_retries, carbs_err_t *err);

/* A trial's result as stored.  Passed to store_trial_finish() with every
 * member borrowed; filled by store_result_get() with metrics_json owned. */
typedef struct store_result {
    int64_t trial_id;
    int attempt; /* the attempt it is for; 0 in finish = the current one */
    bool ok;     /* status ok: done; otherwise failed */
    carbs_failure_t failure;
    char message[CARBS_MSG_MAX];
    double output, cost; /* NaN = none */
    char *metrics_json;  /* NULL = none */
    double created;      /* unix seconds; set by the store */
} store_result_t;

void store_result_release(store_result_t *r);

/* running (or lost, for a late result of the same attempt) -> done when
 * res->ok, failed otherwise; inserts the results row and the curve points
 * curve[n_curve] (replacing progress points of the same step), all in one
 * transaction.  Idempotent by trial id: a result for a trial that already
 * has one changes nothing, sets *duplicate (may be NULL) and returns 0.
 * CARBS_ESTATE for a trial that is pending or cancelled, or when res->attempt
 * is not 0 and differs from the trial's attempt; CARBS_ENOTFOUND for an
 * unknown trial. */
int store_trial_finish(store_t *st, const store_result_t *res, const carbs_curve_point_t *curve,
                       size_t n_curve, bool *duplicate, carbs_err_t *err);

/* pending, running or lost -> cancelled.  CARBS_ESTATE for a finished or
 * already cancelled trial. */
int store_trial_cancel(store_t *st, int64_t trial_id, carbs_err_t *err);

/* Fill *out (caller releases) or CARBS_ENOTFOUND. */
int store_trial_get(store_t *st, int64_t trial_id, store_trial_t *out, carbs_err_t *err);

/* The result row of a trial: fills *out (caller releases) or
 * CARBS_ENOTFOUND when it has none. */
int store_result_get(store_t *st, int64_t trial_id, store_result_t *out, carbs_err_t *err);

/* Which trials a trial iterator yields; all-zero = every trial. */
typedef struct store_trial_filter {
    int64_t sweep_id; /* 0 = every sweep */
    unsigned states;  /* mask of (1u << carbs_trial_state_t); 0 = every state */
    const char *worker; /* NULL or "" = any worker */
} store_trial_filter_t;

typedef struct store_trial_iter store_trial_iter_t;

/* Snapshot of the trials matching f (NULL = all), in id order. */
store_trial_iter_t *store_trial_iter_new(store_t *st, const store_trial_filter_t *f,
                                         carbs_err_t *err);
/* Snapshot of running trials whose lease_deadline < now (all sweeps), in
 * lease order. */
store_trial_iter_t *store_trials_expired(store_t *st, double now, carbs_err_t *err);
int store_trial_iter_next(store_trial_iter_t *it, const store_trial_t **row);
size_t store_trial_iter_count(const store_trial_iter_t *it);
void store_trial_iter_free(store_trial_iter_t *it);

// ---- curves ----

/* Record a progress point.  A point for a step already stored is ignored.
 * CARBS_ENOTFOUND for an unknown trial. */
int store_curve_append(store_t *st, int64_t trial_id, int64_t step, double tokens, double loss,
                       carbs_err_t *err);

/* The trial's curve in step order: *pts (caller frees with free(); NULL
 * when empty) and *n.  An unknown trial has an empty curve. */
int store_curve_get(store_t *st, int64_t trial_id, carbs_curve_point_t **pts, size_t *n,
                    carbs_err_t *err);

// ---- workers ----

/* Room (with NUL) for a key name or a Z85 public key in a worker row. */
#define STORE_KEY_MAX 64

typedef struct store_worker {
    char id[CARBS_NAME_MAX];
    char host[STORE_HOST_MAX];
    char *devices_json; /* owned; NULL when never told */
    double first_seen, last_seen; /* unix seconds */
    int64_t losses;               /* trials lost while it held them */
    bool quarantined;
    /* When it was quarantined (unix seconds; what the service's quarantine
     * expiry counts from).  A store written before this was recorded holds
     * 1 here: a quarantine long expired. */
    double quarantined_at;
    /* The CURVE key the id is bound to: its name in the allow-list and its
     * public key (Z85); both "" when not bound (docs/service.md). */
    char key_name[STORE_KEY_MAX];
    char key[STORE_KEY_MAX];
} store_worker_t;

void store_worker_release(store_worker_t *w);

/* Record traffic from worker id: insert it (first_seen = last_seen = now) or
 * update last_seen.  host and devices_json replace the stored ones when not
 * NULL (hello), and are left as they are when NULL (any other message). */
int store_worker_seen(store_t *st, const char *id, const char *host, const char *devices_json,
                      carbs_err_t *err);

/* Fill *out (caller releases) or CARBS_ENOTFOUND. */
int store_worker_get(store_t *st, const char *id, store_worker_t *out, carbs_err_t *err);

/* Set (with quarantined_at = now) or clear a worker's quarantine.
 * CARBS_ENOTFOUND if unknown. */
int store_worker_quarantine(store_t *st, const char *id, bool quarantined, carbs_err_t *err);

/* Bind worker id to the CURVE key named key_name whose public key is key
 * (Z85), or unbind it when key is NULL or "".  CARBS_ENOTFOUND if the
 * worker is unknown, CARBS_EINVAL for a name or key of STORE_KEY_MAX bytes
 * or more. */
int store_worker_bind(store_t *st, const char *id, const char *key_name, const char *key,
                      carbs_err_t *err);

typedef struct store_worker_iter store_worker_iter_t;

/* Snapshot of every worker, ordered by id. */
store_worker_iter_t *store_worker_iter_new(store_t *st, carbs_err_t *err);
int store_worker_iter_next(store_worker_iter_t *it, const store_worker_t **row);
size_t store_worker_iter_count(const store_worker_iter_t *it);
void store_worker_iter_free(store_worker_iter_t *it);

// ---- scaling laws ----

/* Append a fit (fitted_at = now) for the sweep.  CARBS_ENOTFOUND for an
 * unknown sweep. */
int store_law_put(store_t *st, int64_t sweep_id, const char *law_json, carbs_err_t *err);

/* The latest fit: *law_json (caller frees with free()) and *fitted_at (may
 * be NULL).  CARBS_ENOTFOUND when the sweep has none. */
int store_law_get(store_t *st, int64_t sweep_id, char **law_json, double *fitted_at,
                  carbs_err_t *err);

// ---- verification runs ----

/* A trial that checks a scaling-law prediction (docs/scaling-laws.md,
 * "Predict, then verify"): the predicted-optimal configuration at a cost,
 * queued as a trial of the sweep, and the prediction it was queued with. */
typedef struct store_verify {
    int64_t trial_id;
    int64_t sweep_id;
    double cost;                    /* the cost the prediction is for, > 0 */
    char cost_name[CARBS_NAME_MAX]; /* what cost is in: the sweep's cost metric, or flops */
    char estimator[16];             /* the law's estimator: front, envelope, joint */
    double predicted;               /* the predicted best metric */
    double lo, hi, level;           /* its interval and level; NaN when none */
    double created;                 /* unix seconds; set by the store */
} store_verify_t;

/* Add the pending trial tn and its verification row v (v->trial_id,
 * sweep_id and created are ignored: the trial's) in one transaction, and
 * set *id (may be NULL).  CARBS_EINVAL for a cost that is not finite and
 * > 0, a predicted value that is not finite or an empty cost name or
 * estimator; CARBS_ENOTFOUND for an unknown sweep. */
int store_verify_add(store_t *st, const store_trial_new_t *tn, const store_verify_t *v,
                     int64_t *id, carbs_err_t *err);

/* The sweep's verification runs in trial order into *out (caller frees
 * with free(); NULL when none) and *n.  An unknown sweep has none. */
int store_verify_list(store_t *st, int64_t sweep_id, store_verify_t **out, size_t *n,
                      carbs_err_t *err);

// ---- optimizer state ----

typedef struct store_optstate {
    int64_t resample_count;
    void *rng;    /* RNG state bytes, any length; owned when filled by the store */
    size_t rng_len;
    char *state_json; /* NULL = none; owned when filled by the store */
} store_optstate_t;

void store_optstate_release(store_optstate_t *s);

/* Replace the sweep's optimizer state (members borrowed).  CARBS_ENOTFOUND
 * for an unknown sweep. */
int store_optstate_put(store_t *st, int64_t sweep_id, const store_optstate_t *s,
                       carbs_err_t *err);

/* Fill *out (caller releases) or CARBS_ENOTFOUND when none was put. */
int store_optstate_get(store_t *st, int64_t sweep_id, store_optstate_t *out, carbs_err_t *err);

// ---- export ----

/* One export record (proto/record.h): the trial, its sweep's name and its
 * result.  is_failure = has_result && !result.ok. */
typedef struct store_record {
    store_trial_t trial;
    char sweep[CARBS_NAME_MAX];
    bool has_result;
    store_result_t result; /* valid when has_result */
} store_record_t;

typedef struct store_export_iter store_export_iter_t;

/* Snapshot of a sweep's trials joined with their results, in trial id
 * order.  CARBS_ENOTFOUND (NULL returned) for an unknown sweep. */
store_export_iter_t *store_export_iter_new(store_t *st, int64_t sweep_id, carbs_err_t *err);
int store_export_iter_next(store_export_iter_t *it, const store_record_t **row);
size_t store_export_iter_count(const store_export_iter_t *it);
void store_export_iter_free(store_export_iter_t *it);

// ---- test hooks (fault injection for the tests) ----

/* Make SQLite I/O fail: after this call the k-th following xWrite or xSync
 * (1-based, counted over every connection opened after the first call to
 * this function) returns SQLITE_IOERR, and later ones succeed again; k = 0
 * turns it off.  The first call registers a pass-through VFS as SQLite's
 * default.  Returns the writes and syncs counted since the previous call.
 * Process-wide test-only state, like carbs_fault_fail_at(). */
size_t store_fault_io(size_t k);

/* Like store_fault_io(), but the k-th write or sync fails as on a full
 * disk: a write with SQLITE_FULL, a sync with an I/O error whose errno is
 * ENOSPC. */
size_t store_fault_full(size_t k);

/* A bare SQLite connection to any file, with none of the store's checks:
 * tests use it to forge foreign databases, newer schemas and held locks. */
typedef struct store_raw store_raw_t;

/* Open (creating if missing) path.  NULL with err on failure. */
store_raw_t *store_raw_open(const char *path, carbs_err_t *err);
/* Run one or more SQL statements.  CARBS_EBUSY when locked, else
 * CARBS_ESTORE with SQLite's message. */
int store_raw_exec(store_raw_t *raw, const char *sql, carbs_err_t *err);
void store_raw_close(store_raw_t *raw);

#endif
