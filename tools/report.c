/*
 * report.c - the observed Pareto front of a sweep, read from the store, by
 * the same rule as the scaling laws (scaling_front in optimizer/scaling.h),
 * so `carbs pareto`, `carbs plot` and `carbs laws` show one front.
 */
#include "proto/common.h"
#include "tools/report.h"

#include <inttypes.h>
#include <math.h>

#include "optimizer/scaling.h"

int report_front(store_t *st, int64_t sweep_id, bool maximize, report_front_t *out,
                 carbs_err_t *err)
{
    store_export_iter_t *it = store_export_iter_new(st, sweep_id, err);
    DA_TYPE(report_point_t) all = {0};
    const store_record_t *rec;
    double *cost = NULL, *output = NULL;
    size_t *idx = NULL, nf = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!it)
        return err ? err->code : CARBS_ESTORE;
    while ((rc = store_export_iter_next(it, &rec)) == CARBS_CONTINUE) {
        report_point_t p = {0};
        if (!rec->has_result || !rec->result.ok || !isfinite(rec->result.output) ||
            !isfinite(rec->result.cost))
            continue;
        p.trial_id = rec->trial.id;
        p.output = rec->result.output;
        p.cost = rec->result.cost;
        p.params_json = xstrdup(rec->trial.params_json ? rec->trial.params_json : "{}");
        DA_PUSH(&all, p);
    }
    store_export_iter_free(it);
    if (rc >= 0) {
        /* the one front rule of the project (optimizer/scaling.h): the laws
         * are fitted to exactly these points */
        size_t n = all.n ? all.n : 1;
        cost = xmalloc(n * sizeof(double));
        output = xmalloc(n * sizeof(double));
        idx = xmalloc(n * sizeof(size_t));
        for (size_t i = 0; i < all.n; i++) {
            cost[i] = all.v[i].cost;
            output[i] = all.v[i].output;
        }
        rc = scaling_front(cost, output, all.n, maximize, idx, &nf);
    }
    if (rc < 0) {
        for (size_t i = 0; i < all.n; i++)
            free(all.v[i].params_json);
        DA_FREE(&all);
        free(cost);
        free(output);
        free(idx);
        return carbs_fail(err, rc, "cannot read the trials of sweep %" PRId64, sweep_id);
    }
    out->n_done = all.n;
    for (size_t k = 0; k < nf; k++) {
        DA_PUSH(out, all.v[idx[k]]);
        all.v[idx[k]].params_json = NULL;
    }
    for (size_t i = 0; i < all.n; i++)
        free(all.v[i].params_json);
    DA_FREE(&all);
    free(cost);
    free(output);
    free(idx);
    return 0;
}

void report_front_release(report_front_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].params_json);
    DA_FREE(f);
    f->n_done = 0;
}

void report_front_print(const report_front_t *f, const char *format, FILE *out)
{
    const char *metric = f->metric[0] ? f->metric : "output";
    const char *cost = f->cost[0] ? f->cost : "cost";

    if (strcmp(format, "json") == 0) {
        for (size_t i = 0; i < f->n; i++)
            fprintf(out, "{\"trial\":%" PRId64 ",\"output\":%.17g,\"cost\":%.17g,\"params\":%s}\n",
                    f->v[i].trial_id, f->v[i].output, f->v[i].cost, f->v[i].params_json);
        return;
    }
    if (strcmp(format, "csv") == 0) {
        fprintf(out, "trial,%s,%s,params\n", metric, cost);
        for (size_t i = 0; i < f->n; i++) {
            fprintf(out, "%" PRId64 ",%.17g,%.17g,\"", f->v[i].trial_id, f->v[i].output,
                    f->v[i].cost);
            for (const char *s = f->v[i].params_json; *s; s++)
                fputs(*s == '"' ? "\"\"" : (char[2]){*s, 0}, out);
            fputs("\"\n", out);
        }
        return;
    }
    fprintf(out, "Pareto front: %zu of %zu successful trials\n", f->n, f->n_done);
    fprintf(out, "%8s  %14s  %14s  %s\n", "trial", cost, metric, "params");
    for (size_t i = 0; i < f->n; i++)
        fprintf(out, "%8" PRId64 "  %14.6g  %14.6g  %s\n", f->v[i].trial_id, f->v[i].cost,
                f->v[i].output, f->v[i].params_json);
}
