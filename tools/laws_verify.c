/*
 * laws_verify.c - predict, then verify (tools/laws_verify.h): the
 * configuration to run at a cost, from the law's optimum lines, and a
 * sweep's verification runs with what they observed.  The numbers come
 * from tools/laws_at.c, so `--verify` queues exactly what `--at-cost`
 * prints.
 */
#include "proto/common.h"
#include "tools/laws_verify.h"

#include <math.h>

#include "optimizer/scaling.h"
#include "optimizer/space.h"
#include "proto/json.h"
#include "tools/format.h"

// ---- the runs and their outcomes ----

/* Fill r's outcome from the trial's row and result. */
static int outcome(store_t *st, const sweep_spec_t *spec, laws_verify_t *r, carbs_err_t *err)
{
    store_trial_t t = {0};
    store_result_t res = {0};
    int rc = store_trial_get(st, r->v.trial_id, &t, err);

    r->observed = r->observed_cost = NAN;
    r->inside = -1;
    if (rc) return rc;
    r->state = t.state;
    store_trial_release(&t);
    rc = store_result_get(st, r->v.trial_id, &res, err);
    if (rc == CARBS_ENOTFOUND) return 0;
    if (rc) return rc;
    str_copy(r->message, sizeof(r->message), res.message);
    if (res.ok) {
        r->observed = res.output;
        if (strcmp(r->v.cost_name, spec->cost.name) == 0) {
            r->observed_cost = res.cost;
        } else if (res.metrics_json) {
            carbs_result_t m;
            carbs_err_t ignored = {0};
            if (proto_result_from_json(res.metrics_json, &m, &ignored) == 0) {
                r->observed_cost = carbs_result_get(&m, r->v.cost_name);
                carbs_result_release(&m);
            }
        }
        if (isfinite(r->v.lo) && isfinite(r->v.hi) && isfinite(r->observed))
            r->inside = r->v.lo <= r->observed && r->observed <= r->v.hi;
    }
    store_result_release(&res);
    return 0;
}

int laws_verify_load(store_t *st, int64_t sweep_id, const sweep_spec_t *spec, laws_verify_t **rows,
                     size_t *n, carbs_err_t *err)
{
    store_verify_t *v = NULL;
    size_t nv = 0;
    int rc = store_verify_list(st, sweep_id, &v, &nv, err);

    *rows = NULL;
    *n = 0;
    if (rc || nv == 0) return rc;
    *rows = carbs_malloc(nv * sizeof(**rows));
    if (!*rows) {
        free(v);
        return carbs_fail(err, CARBS_ENOMEM, "out of memory reading %zu verification runs", nv);
    }
    for (size_t i = 0; i < nv && !rc; i++) {
        laws_verify_t *r = &(*rows)[i];
        memset(r, 0, sizeof(*r));
        r->v = v[i];
        rc = outcome(st, spec, r, err);
    }
    free(v);
    if (rc) {
        free(*rows);
        *rows = NULL;
        return rc;
    }
    *n = nv;
    return 0;
}

// ---- the configuration at a cost ----

/* The params of the best successful trial of sweep_id that is not a
 * verification run, into *out (initialised; empty when there is none). */
static int best_trial_params(store_t *st, int64_t sweep_id, const sweep_spec_t *spec,
                             carbs_params_t *out, carbs_err_t *err)
{
    store_verify_t *v = NULL;
    size_t nv = 0;
    store_export_iter_t *it = NULL;
    const store_record_t *rec;
    char *best = NULL;
    double best_y = NAN;
    bool max = spec->metric.goal == SWEEP_GOAL_MAXIMIZE;
    int rc = store_verify_list(st, sweep_id, &v, &nv, err);

    memset(out, 0, sizeof(*out));
    if (rc) return rc;
    it = store_export_iter_new(st, sweep_id, err);
    if (!it) {
        free(v);
        return err ? err->code : CARBS_ESTORE;
    }
    while (store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        bool ver = false;
        double y = rec->result.output;
        if (!rec->has_result || !rec->result.ok || !isfinite(y)) continue;
        for (size_t i = 0; i < nv; i++)
            ver = ver || v[i].trial_id == rec->trial.id;
        if (!ver && rec->trial.params_json && (!best || (max ? y > best_y : y < best_y))) {
            free(best);
            best = xstrdup(rec->trial.params_json);
            best_y = y;
        }
    }
    if (best) rc = proto_params_from_json(best, out, err);
    free(best);
    store_export_iter_free(it);
    free(v);
    return rc;
}

int laws_verify_config(const laws_t *l, const sweep_spec_t *spec, const laws_at_t *a, store_t *st,
                       int64_t sweep_id, carbs_params_t *out, carbs_err_t *err)
{
    carbs_params_t best = {0};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (a->refused) return carbs_fail(err, CARBS_ESTATE, "%s", l->loss.why);
    if (!isfinite(a->metric[0]))
        return carbs_fail(err, CARBS_ESTATE, "cannot predict: the %s law gives no %s at %s %g",
                          l->estimator, l->metric, l->cost, a->cost);
    for (size_t j = 0; j < spec->parameters.n && !rc; j++) {
        const carbs_param_t *p = &spec->parameters.v[j];
        const laws_line_t *ln = NULL;
        double u[3], x;
        if (p->space == CARBS_SPACE_CATEGORICAL) {
            const carbs_value_t *bv;
            if (!best.n && (rc = best_trial_params(st, sweep_id, spec, &best, err))) break;
            bv = carbs_params_find(&best, p->name);
            if (!bv || !bv->is_str)
                rc = carbs_fail(err, CARBS_ESTATE,
                                "cannot predict: no successful trial sets categorical '%s'",
                                p->name);
            else
                rc = carbs_params_set_str(out, p->name, bv->str);
            continue;
        }
        /* A searched model size and tokens take the compute-optimal N and D
         * where the law gives them: they spend exactly C = 6 N D, where two
         * lines fitted apart need not (docs/scaling-laws.md, part 3). */
        x = strcmp(p->name, l->nd.model_size) == 0 ? a->N
            : strcmp(p->name, l->nd.tokens) == 0   ? a->D
                                                   : NAN;
        if (isfinite(x)) {
            rc = carbs_params_set_num(out, p->name,
                                      space_param_from_basic(p, space_param_to_basic(p, x), true));
            continue;
        }
        for (size_t i = 0; i < l->n_lines && !ln; i++)
            if (strcmp(l->lines[i].name, p->name) == 0) ln = &l->lines[i];
        if (!ln || ln->status) {
            rc = carbs_fail(err, CARBS_ESTATE,
                            "cannot predict: parameter '%s' has no optimum "
                            "line: %s",
                            p->name, ln ? ln->why : "not fitted");
            break;
        }
        scaling_line_predict(ln, a->cost, &u[0], &u[1], &u[2]);
        x = isfinite(u[0]) ? space_param_from_basic(p, u[0], true) : NAN;
        if (!isfinite(x))
            rc = carbs_fail(err, CARBS_ESTATE,
                            "cannot predict: parameter '%s' has no value at %s %g", p->name,
                            l->cost, a->cost);
        else
            rc = carbs_params_set_num(out, p->name, x);
    }
    /* N and D from the model-size line: the size parameter was rounded
     * (d_model to its multiple), which moves N off N_opt; D = C / (6 N)
     * of the rounded size keeps the run at C (docs/scaling-laws.md,
     * "Predict, then verify") */
    if (!rc && l->nd.from_line && !l->nd.line_tokens && isfinite(a->N)) {
        const carbs_param_t *ps = carbs_space_find(&spec->parameters, l->nd.line_param);
        const carbs_param_t *pt = carbs_space_find(&spec->parameters, l->nd.tokens);
        const carbs_value_t *vs = ps ? carbs_params_find(out, ps->name) : NULL;
        if (ps && pt && vs && !vs->is_str) {
            double N = exp(l->nd.ln_v0 + l->nd.ln_v_slope * space_param_to_basic(ps, vs->num));
            double D = a->cost / (6.0 * N);
            rc = carbs_params_set_num(
                out, pt->name, space_param_from_basic(pt, space_param_to_basic(pt, D), true));
        }
    }
    carbs_params_release(&best);
    if (rc) carbs_params_release(out);
    return rc;
}

// ---- output ----

void laws_verify_table(const laws_verify_t *rows, size_t n, const char *metric, FILE *f)
{
    format_table_t t;

    if (!n) return;
    fprintf(f, "\nverification runs: predicted before the run, observed after it (never part "
               "of the fit)\n");
    format_table_init(&t, 8);
    format_table_add(&t, "  trial");
    format_table_add(&t, "at cost");
    format_table_add(&t, "estimator");
    format_table_addf(&t, "predicted %s", metric);
    format_table_add(&t, "interval");
    format_table_add(&t, "observed");
    format_table_add(&t, "its cost");
    format_table_add(&t, "inside");
    for (size_t i = 0; i < n; i++) {
        const laws_verify_t *r = &rows[i];
        format_table_addf(&t, "  %lld", (long long)r->v.trial_id);
        format_table_addf(&t, "%s %.4g", r->v.cost_name, r->v.cost);
        format_table_add(&t, r->v.estimator);
        format_table_addf(&t, "%.4g", r->v.predicted);
        if (isfinite(r->v.lo) && isfinite(r->v.hi))
            format_table_addf(&t, "[%.4g, %.4g] (%d%%)", r->v.lo, r->v.hi,
                              (int)lrint(100.0 * r->v.level));
        else
            format_table_add(&t, "-");
        if (isfinite(r->observed))
            format_table_addf(&t, "%.4g (%+.2f%%)", r->observed,
                              100.0 * (r->observed - r->v.predicted) / fabs(r->v.predicted));
        else
            format_table_add(&t, carbs_trial_state_name(r->state));
        if (isfinite(r->observed_cost))
            format_table_addf(&t, "%.4g", r->observed_cost);
        else
            format_table_add(&t, "-");
        format_table_add(&t, r->inside < 0 ? "-" : r->inside ? "yes" : "NO");
    }
    format_table_print(&t, f);
    format_table_release(&t);
    for (size_t i = 0; i < n; i++)
        if (rows[i].state == CARBS_TRIAL_FAILED)
            fprintf(f, "  trial %lld failed: %s\n", (long long)rows[i].v.trial_id, rows[i].message);
}

void laws_verify_json(jw_t *jw, const laws_verify_t *rows, size_t n)
{
    jw_array(jw, "verifications");
    for (size_t i = 0; i < n; i++) {
        const laws_verify_t *r = &rows[i];
        jw_object(jw, NULL);
        jw_int(jw, "trial", r->v.trial_id);
        jw_str(jw, "state", carbs_trial_state_name(r->state));
        jw_num_or_null(jw, "cost", r->v.cost);
        jw_str(jw, "cost_name", r->v.cost_name);
        jw_str(jw, "estimator", r->v.estimator);
        jw_num_or_null(jw, "predicted", r->v.predicted);
        jw_num_or_null(jw, "lo", r->v.lo);
        jw_num_or_null(jw, "hi", r->v.hi);
        jw_num_or_null(jw, "level", r->v.level);
        jw_num_or_null(jw, "observed", r->observed);
        jw_num_or_null(jw, "observed_cost", r->observed_cost);
        if (r->inside < 0)
            jw_null(jw, "inside");
        else
            jw_bool(jw, "inside", r->inside);
        jw_str(jw, "message", r->message);
        jw_end(jw);
    }
    jw_end(jw);
}
