/*
 * report.h - read a sweep's finished trials from the store for the CLI:
 * the observed Pareto front and one-line summaries.  Read-only: nothing
 * here writes.
 *
 * The front is scaling_front()'s (optimizer/scaling.h), the one the laws
 * are fitted to: successful trials with a finite output and a cost > 0,
 * cheapest first, each strictly better than every cheaper one, and of
 * equal costs only the best (the earliest trial among exact ties).
 */
#ifndef CARBS_TOOLS_REPORT_H
#define CARBS_TOOLS_REPORT_H

#include "proto/types.h"
#include "store/store.h"

typedef struct report_point {
    int64_t trial_id;
    double output, cost;
    char *params_json; /* owned */
} report_point_t;

typedef struct report_front {
    report_point_t *v;
    size_t n, cap;
    size_t n_done;   /* successful trials with a finite output and cost */
    char metric[CARBS_NAME_MAX];
    char cost[CARBS_NAME_MAX];
} report_front_t;

/* The Pareto front of sweep_id's successful trials into the empty *out
 * (release with report_front_release).  maximize says which way the metric
 * is better.  Returns 0 or the store's error. */
int report_front(store_t *st, int64_t sweep_id, bool maximize, report_front_t *out,
                 carbs_err_t *err);
void report_front_release(report_front_t *f);

/* Print the front as a table (format "table"), CSV ("csv") or JSON lines
 * ("json") to out. */
void report_front_print(const report_front_t *f, const char *format, FILE *out);

#endif
