/*
 * laws_at.h - what a sweep's fitted laws predict at one cost, the answer
 * of `carbs laws --at-cost C` and of the dashboard's at-cost query
 * (docs/scaling-laws.md): the best metric with its interval, each numeric
 * parameter's Pareto-optimal value, the compute-optimal model size and
 * tokens where the law has them, and whether C lies beyond the fitted or
 * the holdout-validated range.  A law that failed its checks (a nonzero
 * loss status) may not predict past its data: there the answer is refused
 * and carries no number, only the law's "cannot predict: ..." reason.
 *
 * Pure computation over a laws_t (proto/laws.h) and the sweep's spec; the
 * one owner of the at-cost rule, so the command line (tools/cmd_laws.c)
 * and the dashboard (tools/cmd_dashboard_api.c) give the same answer.
 */
#ifndef CARBS_TOOLS_LAWS_AT_H
#define CARBS_TOOLS_LAWS_AT_H

#include "proto/jw.h"
#include "proto/laws.h"
#include "proto/sweep.h"

typedef struct laws_at {
    double cost;
    bool extrapolated;     /* beyond the dearest front point */
    bool beyond_validated; /* beyond the holdout-validated range */
    bool refused;          /* the law may not predict here: no numbers */
    double valid_max_cost;
    double metric[3]; /* mid, lo, hi */
    double N, D;      /* compute-optimal model size and tokens; NaN without */
    char nd_why[LAWS_WHY_MAX]; /* why N and D are not given ("" when they are) */
} laws_at_t;

/* The prediction of l at cost C (> 0) into *a. */
void laws_at_predict(const laws_t *l, double C, laws_at_t *a);

/* Line ln at cost C in its parameter's own units, v = {mid, lo, hi}
 * (lo <= hi), or NaN when the line or its parameter (looked up in spec)
 * is not there. */
void laws_at_param(const laws_line_t *ln, const sweep_spec_t *spec, double C, double v[3]);

/* Whether v lies outside the range spec searched for parameter name: the
 * law then extrapolates past every trial in that parameter too.  False
 * for a categorical, an unknown name or a value that is not finite. */
bool laws_at_outside_range(const sweep_spec_t *spec, const char *name, double v);

/* Write a as the top-level object of jw: {"cost", "cost_name" (what cost
 * is in: the law's cost, flops for --at-flops), "extrapolated",
 * "beyond_validated", "valid_max_cost", "level", "estimator", "status"
 * (the loss law's status name, "OK" when it passed), "why", "metric":
 * {"name", "predicted": {"value", "lo", "hi"}}, "params": {name: {"value",
 * "lo", "hi", "outside_range"}}, "compute_optimal": {"n_params", "tokens"}
 * or null with "compute_optimal_why"}.  A refused answer has "predicted"
 * null and "params" empty.  jw's errors are sticky (proto/jw.h). */
void laws_at_json(jw_t *jw, const laws_t *l, const sweep_spec_t *spec, const laws_at_t *a);

#endif
