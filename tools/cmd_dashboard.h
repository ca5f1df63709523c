/*
 * cmd_dashboard.h - the parts of `carbs dashboard` (docs/dashboard.md):
 * the JSON documents built from the store (cmd_dashboard_api.c), the
 * page's own files embedded at build time (tools/dashboard/, turned into
 * C by tools/dashboard/embed.py) and the HTTP server (cmd_dashboard.c).
 *
 * Every document is read from a store opened read-only: nothing here
 * writes.  The store_t is used from the server's one thread only
 * (store.h: a store_t is not thread-safe).
 */
#ifndef CARBS_TOOLS_CMD_DASHBOARD_H
#define CARBS_TOOLS_CMD_DASHBOARD_H

#include "proto/jw.h"
#include "proto/laws.h"
#include "store/store.h"
#include "store/store_summary.h"

/* Points of the fitted law's band sent with a sweep, log-spaced from the
 * cheapest trial to a few times the dearest: enough for a smooth curve on
 * a chart a few hundred pixels wide. */
#define DASH_BAND_POINTS 64

/* Rows a page of the trials table holds when the request does not say,
 * and the most it may ask for: a screenful or two, so neither the answer
 * nor the page's table grows with the sweep. */
#define DASH_PAGE_DEFAULT 100
#define DASH_PAGE_MAX 1000

/* A point of a sweep's observed front (tools/report.h's rule). */
typedef struct dash_front_pt {
    int64_t trial_id;
    double cost, output;
} dash_front_pt_t;

typedef DA_TYPE(dash_front_pt_t) dash_front_t;

/* The laws of a sweep as the fitting thread sends them back
 * (cmd_dashboard_fit.c), with the results they were fitted on. */
typedef struct dash_fit {
    int64_t sweep_id;
    int64_t n_results, last_result; /* store_summary_t's, as the fit began */
    double last_result_at;
    int rc;                  /* 0: laws holds the fit; else the fit's error */
    char why[CARBS_MSG_MAX]; /* the error's message */
    laws_t laws;             /* owned when rc == 0 */
} dash_fit_t;

/* The thread that fits the laws for "at cost" off the server's thread: a
 * full fit of a large sweep takes as long as `carbs laws --at-cost`. */
typedef struct dash_fitter dash_fitter_t;

/* Start it on its own read-only connection to the store at db_path.  NULL
 * with err filled when the store cannot be opened or the thread started. */
dash_fitter_t *dash_fitter_new(const char *db_path, carbs_err_t *err);

/* Stop it, after the fit under way (may be NULL). */
void dash_fitter_free(dash_fitter_t *f);

/* Ask for a fit of sweep_id, which comes back through dash_fitter_take.
 * Never blocks.  Returns 0 or the pipe's error. */
int dash_fitter_send(dash_fitter_t *f, int64_t sweep_id, carbs_err_t *err);

/* Without waiting: a fit that came back into *out (the caller releases
 * out->laws), returning 1, or 0 when none did. */
int dash_fitter_take(dash_fitter_t *f, dash_fit_t *out);

/* Room for a number as JSON: "%.17g" of a double, or null. */
#define DASH_NUM_TEXT 32

/* A successful trial as the charts get it, its numbers already written as
 * JSON (so a new result costs the writing of its own numbers only). */
typedef struct dash_point {
    int64_t trial_id;
    double cost, output;
    char *params_json; /* owned */
    char text[3][DASH_NUM_TEXT]; /* trial_id, cost, output */
} dash_point_t;

typedef DA_TYPE(dash_point_t) dash_points_t;
typedef DA_TYPE(int64_t) dash_ids_t;

/* What the dashboard derives from one sweep's results, kept while they
 * stay what it was derived from.  The key is store_summary_t's n_results,
 * last_result and last_result_at (results are only ever added) and the
 * sweep's spec text (its goal and parameters).  When the key moves, the
 * results since open_from are read (store_sweep_points) and merged in, the
 * front is taken again over the old front and the new points (a point off
 * the front stays off it), and the rest is derived again when asked for:
 * the charts' columns by the sweep's request (from the numbers already
 * written), the laws by "at cost".  A poll of a sweep whose results did
 * not change reads only its aggregates. */
typedef struct dash_entry {
    int64_t sweep_id;
    store_summary_t sum; /* the sweep's aggregates */
    bool has_sum;        /* sum holds while the store's results stay */
    bool has_counts;     /* sum.counts hold while the store's data version stays */
    int64_t n_results, last_result; /* the key */
    double last_result_at;
    char *spec_json; /* owned */
    bool has_results;      /* points, results and open_from match the key */
    dash_points_t points;  /* the successful trials, by id */
    dash_ids_t results;    /* every trial id with a result, ascending */
    int64_t open_from;     /* where new results can come from (store_sweep_points) */
    dash_front_t front;    /* matches the key when has_results */
    char *points_json; /* owned: the "points" JSON object; NULL until asked */
    bool fitting;      /* a fit of this sweep is with the fitting thread */
    bool has_fit;
    dash_fit_t fit;    /* the latest fit back, for the results its key says */
} dash_entry_t;

/* One entry per sweep asked about, the store's data version
 * (store_data_version) and its results' mark (store_results_mark) the
 * entries' aggregates were read at.  While no one writes, a poll reads no
 * trial and no result; while writes bring no result (claims, leases, curve
 * points), only the trial counts.  Zeroed = empty; release with
 * dash_cache_release.  Used from the server's one thread. */
typedef struct dash_cache {
    dash_entry_t *v; /* the fields of DA_TYPE(dash_entry_t) */
    size_t n, cap;
    bool has_version;
    int64_t version;
    int64_t n_results, last_result; /* the results' mark */
} dash_cache_t;

void dash_cache_release(dash_cache_t *c);

/* Every sweep with its progress, and every worker, into jw:
 * {"now", "served_by", "sweeps": [...], "workers": [...]}.  served_by is
 * the pid holding the store's writer lock (0: no service). */
int dash_overview(store_t *st, dash_cache_t *cache, long served_by, jw_t *jw, carbs_err_t *err);

/* Sweep sweep_id into jw: its progress, parameters, front, the latest
 * stored law with its band, the running trials with their latest curve
 * point, and "points": the trial id, cost, output and params of every
 * successful trial as parallel arrays (what the charts draw).  No trial's
 * metrics or message: those come a page (dash_trials) or a trial
 * (dash_trial) at a time.  CARBS_ENOTFOUND for an unknown sweep. */
int dash_sweep(store_t *st, dash_cache_t *cache, int64_t sweep_id, jw_t *jw, carbs_err_t *err);

/* One page of the sweep's trials table into jw: {"total", "offset",
 * "limit", "trials": [...]}, the trials q selects (store_summary.h), each
 * without its metrics.  q->param must name one of the sweep's parameters
 * (CARBS_EINVAL).  CARBS_ENOTFOUND for an unknown sweep. */
int dash_trials(store_t *st, const store_page_query_t *q, jw_t *jw, carbs_err_t *err);

/* Trial trial_id of sweep sweep_id in full into jw: its row as in
 * dash_trials with "metrics" and, while it runs, "last_point".
 * CARBS_ENOTFOUND when the sweep or the trial is unknown, or the trial
 * belongs to another sweep. */
int dash_trial(store_t *st, int64_t sweep_id, int64_t trial_id, jw_t *jw, carbs_err_t *err);

/* The learning curves of the sweep's trials into jw:
 * {"curves": {"<trial id>": [[step, tokens, loss], ...]}}, oldest trial
 * first; latest > 0 keeps only the latest trials (by id) that have a curve.
 * CARBS_ENOTFOUND for an unknown sweep. */
int dash_curves(store_t *st, int64_t sweep_id, size_t latest, jw_t *jw, carbs_err_t *err);

/* What `carbs laws SWEEP --at-cost C --format json` prints, into jw: the
 * laws fitted from the store's trials as that command fits them
 * (optimizer/service/laws_data.h), read at cost C (tools/laws_at.h).  The
 * fit is made by fitter and kept in cache while the sweep's results are
 * unchanged; until it is there this returns CARBS_CONTINUE with err saying
 * so, having asked fitter for it once: ask again.  CARBS_ENOTFOUND for an
 * unknown sweep, CARBS_ESTATE when there is not enough data for a fit. */
int dash_at_cost(store_t *st, dash_cache_t *cache, dash_fitter_t *fitter, int64_t sweep_id,
                 double C, jw_t *jw, carbs_err_t *err);

/* A file of the page, embedded at build time. */
typedef struct dash_file {
    const char *name; /* "index.html", "dashboard.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t size;
} dash_file_t;

/* The embedded file called name, or NULL. */
const dash_file_t *dash_file_find(const char *name);

#endif
