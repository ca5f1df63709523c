/*
 * laws_verify.h - predict, then verify (docs/scaling-laws.md): the
 * configuration a fitted law predicts to be optimal at one cost, and a
 * sweep's verification runs read back beside their predictions, for
 * `carbs laws --verify` and the verification part of `carbs laws`.
 *
 * A verification run is a trial of the sweep queued by `carbs laws --verify
 * --at-cost C` (store_verify_add): its parameters are the law's at C, and
 * the store keeps the prediction (value, interval, cost, estimator) beside
 * it.  It is never part of the fit it checks (laws_data_gather leaves it
 * out), so predicted and observed stay an honest out-of-sample comparison.
 */
#ifndef CARBS_TOOLS_LAWS_VERIFY_H
#define CARBS_TOOLS_LAWS_VERIFY_H

#include "proto/jw.h"
#include "proto/laws.h"
#include "proto/sweep.h"
#include "store/store.h"
#include "tools/laws_at.h"

/* One verification run and what became of it. */
typedef struct laws_verify {
    store_verify_t v;            /* the prediction as stored */
    carbs_trial_state_t state;   /* the trial's state */
    double observed;             /* its metric; NaN until it succeeded */
    double observed_cost;        /* its cost in v.cost_name; NaN when not reported */
    int inside;                  /* observed within [lo, hi]: 1 or 0; -1 unknown */
    char message[CARBS_MSG_MAX]; /* a failed run's message */
} laws_verify_t;

/* The verification runs of sweep_id (spec borrowed: the sweep's cost
 * metric) with their outcomes into *rows (caller frees with free(); NULL
 * when none) and *n.  Returns 0 or the store's error. */
int laws_verify_load(store_t *st, int64_t sweep_id, const sweep_spec_t *spec, laws_verify_t **rows,
                     size_t *n, carbs_err_t *err);

/* The configuration to run at a->cost into *out (initialised here; the
 * caller releases it): the searched model size and tokens at the
 * compute-optimal N and D where a has them (they spend exactly a->cost in
 * FLOPs), every other numeric parameter at its optimum line (rounded for
 * an integer), each categorical at its value in the sweep's best
 * successful trial that is not itself a verification run.  Returns 0, or
 * CARBS_ESTATE with "cannot predict: ..." in err when the law refuses to
 * predict at a->cost or a numeric parameter has no usable line, or the
 * store's error. */
int laws_verify_config(const laws_t *l, const sweep_spec_t *spec, const laws_at_t *a, store_t *st,
                       int64_t sweep_id, carbs_params_t *out, carbs_err_t *err);

/* Print rows as the table's "verification runs" part (nothing when n = 0). */
void laws_verify_table(const laws_verify_t *rows, size_t n, const char *metric, FILE *f);

/* Write rows as the array "verifications" of jw's open object: each
 * {"trial", "state", "cost", "cost_name", "estimator", "predicted", "lo",
 * "hi", "level", "observed", "observed_cost", "inside" (null while
 * unknown), "message"}. */
void laws_verify_json(jw_t *jw, const laws_verify_t *rows, size_t n);

#endif
