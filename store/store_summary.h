/*
 * store_summary.h - narrow reads of the store module for views over large
 * sweeps (docs/dashboard.md, Speed): a sweep's progress from aggregate
 * queries, its successful results as (trial, cost, output, params) only,
 * one sorted and filtered page of its trials, and the newest trials that
 * have a learning curve.  Part of the store module (store.h's invariants
 * and error rules hold): each call is one read transaction, and none
 * writes, so all of them work on a store opened read-only.
 *
 * The one place the store looks inside stored JSON: store_trial_page()
 * orders by a parameter through SQLite's json_extract() on the trial's
 * params.  It reads one member to sort by and hands nothing decoded out;
 * the proto/ codecs still decode everything the program uses.
 */
#ifndef CARBS_STORE_STORE_SUMMARY_H
#define CARBS_STORE_STORE_SUMMARY_H

#include "store/store.h"

/* Pages of the file a connection may keep in its own cache after
 * store_keep_pages(): 64 MiB, a store of some 80,000 trials with their
 * curves, so that a reader polling a large sweep reads memory rather than
 * asking the OS for every page again (SQLite's default is 2 MiB). */
#define STORE_KEEP_PAGES_BYTES (64u << 20)

/* Let st keep up to STORE_KEEP_PAGES_BYTES of the file in its page cache
 * (filled only as pages are read; kept across read transactions while no
 * one writes them).  For a long-lived reader such as `carbs dashboard`.
 * Returns 0 or CARBS_ESTORE. */
int store_keep_pages(store_t *st, carbs_err_t *err);

/* A number that changes whenever another connection commits to the store
 * (PRAGMA data_version): while it stays, nothing this connection could
 * read has changed, and what it derived from the store still holds.
 * Costs no read of the file.  Returns 0 or CARBS_ESTORE. */
int store_data_version(store_t *st, int64_t *version, carbs_err_t *err);

/* How many results the whole store holds and the largest trial id among
 * them: results are only ever added (and removed with their sweep), so
 * while both stay, no sweep's results changed.  Reads the results' primary
 * key only.  Returns 0 or CARBS_ESTORE. */
int store_results_mark(store_t *st, int64_t *count, int64_t *last, carbs_err_t *err);

/* A sweep's progress.  n_results, last_result and last_result_at change
 * whenever a result is stored for the sweep (results are never changed in
 * place), so together they key anything computed from its results. */
typedef struct store_summary {
    size_t counts[CARBS_TRIAL_STATE_COUNT]; /* trials by state */
    double cost_spent;    /* sum of its results' costs (NULL costs count 0) */
    double first_started; /* earliest trial start, unix seconds; 0 when none */
    int64_t n_results;
    int64_t last_result;   /* largest trial id with a result; 0 when none */
    double last_result_at; /* when the newest result was stored; 0 when none */
} store_summary_t;

/* Fill *out for sweep_id from aggregate queries (no row is read into
 * memory).  CARBS_ENOTFOUND for an unknown sweep. */
int store_sweep_summary(store_t *st, int64_t sweep_id, store_summary_t *out, carbs_err_t *err);

/* A result: what a chart or the front needs of a trial. */
typedef struct store_point {
    int64_t trial_id;
    bool ok;             /* a success (the trial is done) */
    double output, cost; /* NaN when NULL */
    char *params_json;   /* owned; NULL for a failure */
} store_point_t;

typedef DA_TYPE(store_point_t) store_points_t;

/* The results of sweep_id's trials with id >= since (0: every one), in
 * trial id order, into the empty *out (release with store_points_release),
 * and in *open_from, read in the same snapshot, the smallest id a result
 * of this sweep can come for next: its least trial still pending, running
 * or lost, else one past the store's largest trial id.  A later call with
 * since = that *open_from sees every result stored in between (and some
 * seen before, which the caller tells by id): ids are never reused and
 * only open trials get a result.  The rows come through the results'
 * primary key from since on, so the call costs what it returns.
 * CARBS_ENOTFOUND for an unknown sweep, CARBS_ENOMEM. */
int store_sweep_points(store_t *st, int64_t sweep_id, int64_t since, store_points_t *out,
                       int64_t *open_from, carbs_err_t *err);
void store_points_release(store_points_t *p);

/* What a page of trials is ordered by; ties go by trial id, ascending. */
typedef enum store_sort {
    STORE_SORT_ID,
    STORE_SORT_STATE,
    STORE_SORT_WORKER,
    STORE_SORT_OUTPUT,
    STORE_SORT_COST,
    STORE_SORT_ATTEMPT,
    STORE_SORT_DURATION, /* finished - started */
    STORE_SORT_MESSAGE,  /* the result's message */
    STORE_SORT_PARAM,    /* the parameter called param */
} store_sort_t;

/* One page of a sweep's trials.  A zeroed query with sweep_id and limit set
 * is the first page in id order over every state. */
typedef struct store_page_query {
    int64_t sweep_id;
    unsigned states;   /* mask of (1u << carbs_trial_state_t); 0 = every state */
    store_sort_t sort;
    const char *param; /* with STORE_SORT_PARAM: a parameter name */
    bool descending;   /* values descending; trials without a value still last */
    size_t offset, limit;
} store_page_query_t;

typedef DA_TYPE(store_record_t) store_records_t;

/* The trials of q->sweep_id in q->states, ordered by q->sort (a trial
 * without the value, such as one without a result, comes last in either
 * direction), from q->offset, at most q->limit of them, each joined with
 * its result like an export record (store.h) into the empty *out (release
 * with store_records_release); *total is how many trials match before the
 * page is cut.  CARBS_ENOTFOUND for an unknown sweep, CARBS_EINVAL for a
 * STORE_SORT_PARAM without a name or one with a '"' or '\'. */
int store_trial_page(store_t *st, const store_page_query_t *q, store_records_t *out,
                     size_t *total, carbs_err_t *err);
void store_records_release(store_records_t *r);

/* A running trial and who holds it. */
typedef struct store_held {
    int64_t trial_id, sweep_id;
    char worker[CARBS_NAME_MAX];
} store_held_t;

/* The running trials of sweep_id (0: of every sweep), in id order, into
 * *out (caller frees with free(); NULL when none) and *n, through the
 * index on trial states: as fast on a store of a million trials as on an
 * empty one.  Returns 0, CARBS_ENOMEM or CARBS_ESTORE. */
int store_running(store_t *st, int64_t sweep_id, store_held_t **out, size_t *n,
                  carbs_err_t *err);

/* The ids of sweep_id's latest (by id) trials that have at least one curve
 * point, newest first, at most limit of them, into *ids (caller frees with
 * free(); NULL when none) and *n.  CARBS_ENOTFOUND for an unknown sweep. */
int store_curve_latest(store_t *st, int64_t sweep_id, size_t limit, int64_t **ids, size_t *n,
                       carbs_err_t *err);

#endif
