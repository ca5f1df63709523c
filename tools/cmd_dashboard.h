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
#include "store/store.h"

/* Points of the fitted law's band sent with a sweep, log-spaced from the
 * cheapest trial to a few times the dearest: enough for a smooth curve on
 * a chart a few hundred pixels wide. */
#define DASH_BAND_POINTS 64

/* Every sweep with its progress, and every worker, into jw:
 * {"now", "served_by", "sweeps": [...], "workers": [...]}.  served_by is
 * the pid holding the store's writer lock (0: no service). */
int dash_overview(store_t *st, long served_by, jw_t *jw, carbs_err_t *err);

/* Sweep sweep_id in full into jw: its progress, parameters, trials, front,
 * running trials' latest curve point and the latest stored law with its
 * band.  CARBS_ENOTFOUND for an unknown sweep. */
int dash_sweep(store_t *st, int64_t sweep_id, jw_t *jw, carbs_err_t *err);

/* The learning curves of the sweep's trials into jw:
 * {"curves": {"<trial id>": [[step, tokens, loss], ...]}}, oldest trial
 * first; latest > 0 keeps only the latest trials (by id) that have a curve.
 * CARBS_ENOTFOUND for an unknown sweep. */
int dash_curves(store_t *st, int64_t sweep_id, size_t latest, jw_t *jw, carbs_err_t *err);

/* What `carbs laws SWEEP --at-cost C --format json` prints, into jw: the
 * laws fitted on the spot from the store's trials (optimizer/service/laws_data.h),
 * read at cost C (tools/laws_at.h).  CARBS_ENOTFOUND for an unknown sweep,
 * CARBS_ESTATE while there is not enough data for a fit. */
int dash_at_cost(store_t *st, int64_t sweep_id, double C, jw_t *jw, carbs_err_t *err);

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
