/*
 * cmd_dashboard_api.c - the JSON documents of `carbs dashboard`
 * (docs/dashboard.md has their shapes): read from the store, written with
 * the one JSON writer (proto/jw.h), so every string from a sweep arrives
 * in the page JSON-escaped and the page puts it in the DOM as text.
 *
 * Progress per sweep: the trial counts and the cost spent against the
 * budget (trials, cost), the best result and its trial (the last point of
 * the observed front, tools/report.h), and an ETA: the finished trials so
 * far over the time since the first trial started give a rate, and the
 * rest of the budget at that rate is the ETA; the tighter of the trials and
 * the cost budgets wins.  No ETA for a sweep without a budget, one that is
 * not active, or before the first trial finished.
 */
#include "proto/common.h"
#include "tools/cmd_dashboard.h"

#include <inttypes.h>
#include <math.h>

#include "optimizer/scaling.h"
#include "optimizer/service/service.h"
#include "tools/laws_at.h"
#include "optimizer/service/laws_data.h"
#include "tools/report.h"
#include "tools/verb.h"

/* How much dearer than the dearest trial the law's band is drawn: far
 * enough to show where the law heads, near enough to stay readable. */
#define BAND_REACH 2.0

/* One sweep's progress, gathered from its trials. */
typedef struct progress {
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    double cost_spent;
    double first_started; /* earliest trial start; 0 when none */
    double eta;           /* seconds; NaN when none */
    report_front_t front;
} progress_t;

static int open_sweep(store_t *st, int64_t sweep_id, store_sweep_t *row, sweep_spec_t *spec,
                      carbs_err_t *err)
{
    int rc = store_sweep_get_id(st, sweep_id, row, err);

    if (rc == 0)
        rc = sweep_spec_from_json(row->spec_json, spec, err);
    if (rc)
        store_sweep_release(row);
    return rc;
}

static double eta_of(const progress_t *p, const sweep_spec_t *spec, carbs_sweep_state_t state,
                     double now)
{
    size_t finished = p->counts[CARBS_TRIAL_DONE] + p->counts[CARBS_TRIAL_FAILED];
    double elapsed = now - p->first_started;
    double eta = NAN;

    if (state != CARBS_SWEEP_ACTIVE || finished == 0 || p->first_started <= 0 || elapsed <= 0)
        return NAN;
    if (spec->budget.trials > 0) {
        double left = (double)spec->budget.trials - (double)finished;
        eta = fmax(0.0, left) * elapsed / (double)finished;
    }
    if (spec->budget.cost > 0 && p->cost_spent > 0) {
        double left = spec->budget.cost - p->cost_spent;
        double t = fmax(0.0, left) * elapsed / p->cost_spent;
        eta = isfinite(eta) ? fmin(eta, t) : t;
    }
    return eta;
}

static int progress_read(store_t *st, const store_sweep_t *row, const sweep_spec_t *spec,
                         progress_t *p, carbs_err_t *err)
{
    store_trial_filter_t f = {.sweep_id = row->id};
    store_trial_iter_t *it;
    const store_trial_t *t;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = store_sweep_counts(st, row->id, p->counts, &p->cost_spent, err);
    /* A sweep with no successful trial has no front; report_front() would
     * sort an empty array, which UBSan flags. */
    if (rc == 0 && p->counts[CARBS_TRIAL_DONE] > 0)
        rc = report_front(st, row->id, spec->metric.goal == SWEEP_GOAL_MAXIMIZE, &p->front, err);
    if (rc)
        return rc;
    it = store_trial_iter_new(st, &f, err);
    if (!it)
        return err ? err->code : CARBS_ESTORE;
    while (store_trial_iter_next(it, &t) == CARBS_CONTINUE)
        if (t->started > 0 && (p->first_started <= 0 || t->started < p->first_started))
            p->first_started = t->started;
    store_trial_iter_free(it);
    p->eta = eta_of(p, spec, row->state, now_wall());
    return 0;
}

/* The fields an overview row and a sweep's page share. */
static void put_summary(jw_t *jw, const store_sweep_t *row, const sweep_spec_t *spec,
                        const progress_t *p)
{
    const report_front_t *fr = &p->front;

    jw_int(jw, "id", row->id);
    jw_str(jw, "name", row->name);
    jw_str(jw, "state", carbs_sweep_state_name(row->state));
    jw_str(jw, "metric", spec->metric.name);
    jw_str(jw, "goal", sweep_goal_name(spec->metric.goal));
    jw_str(jw, "cost_name", spec->cost.name);
    jw_num_or_null(jw, "created", row->created);
    jw_object(jw, "budget");
    jw_int(jw, "trials", spec->budget.trials);
    jw_num_or_null(jw, "cost", spec->budget.cost);
    jw_int(jw, "parallel", spec->budget.parallel);
    jw_end(jw);
    jw_object(jw, "counts");
    for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
        jw_int(jw, carbs_trial_state_name(s), (int64_t)p->counts[s]);
    jw_end(jw);
    jw_num_or_null(jw, "cost_spent", p->cost_spent);
    jw_num_or_null(jw, "best", fr->n ? fr->v[fr->n - 1].output : NAN);
    if (fr->n)
        jw_int(jw, "best_trial", fr->v[fr->n - 1].trial_id);
    else
        jw_null(jw, "best_trial");
    jw_int(jw, "front_size", (int64_t)fr->n);
    jw_num_or_null(jw, "first_started", p->first_started > 0 ? p->first_started : NAN);
    jw_num_or_null(jw, "eta_seconds", p->eta);
}

// ---- the overview ----

/* A running trial and who holds it. */
typedef struct held {
    int64_t trial, sweep;
    char worker[CARBS_NAME_MAX];
} held_t;

typedef DA_TYPE(held_t) helds_t;

static int put_workers(store_t *st, long served_by, jw_t *jw, carbs_err_t *err)
{
    store_trial_filter_t f = {.states = 1u << CARBS_TRIAL_RUNNING};
    store_trial_iter_t *ti = store_trial_iter_new(st, &f, err);
    store_worker_iter_t *wi = ti ? store_worker_iter_new(st, err) : NULL;
    const store_worker_t *w;
    const store_trial_t *t;
    helds_t held = {0};
    double now = now_wall();
    int rc = 0;

    if (!wi) {
        store_trial_iter_free(ti);
        return err ? err->code : CARBS_ESTORE;
    }
    while (rc == 0 && store_trial_iter_next(ti, &t) == CARBS_CONTINUE) {
        held_t h = {.trial = t->id, .sweep = t->sweep_id};
        str_copy(h.worker, sizeof(h.worker), t->worker);
        if (DA_PUSH(&held, h))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
    }
    jw_array(jw, "workers");
    while (rc == 0 && store_worker_iter_next(wi, &w) == CARBS_CONTINUE) {
        double idle = w->last_seen > 0 ? now - w->last_seen : NAN;
        jw_object(jw, NULL);
        jw_str(jw, "id", w->id);
        jw_str(jw, "host", w->host);
        /* The store cannot see a socket: a worker heard from within one
         * lease while a service holds the store is as connected as the
         * service would still call it. */
        jw_bool(jw, "connected",
                served_by != 0 && isfinite(idle) && idle * 1000.0 < SERVICE_LEASE_MS);
        jw_bool(jw, "quarantined", w->quarantined);
        jw_int(jw, "losses", w->losses);
        jw_num_or_null(jw, "last_seen", w->last_seen > 0 ? w->last_seen : NAN);
        jw_num_or_null(jw, "idle_seconds", idle);
        jw_array(jw, "running");
        for (size_t i = 0; i < held.n; i++) {
            if (strcmp(held.v[i].worker, w->id) != 0)
                continue;
            jw_object(jw, NULL);
            jw_int(jw, "trial", held.v[i].trial);
            jw_int(jw, "sweep", held.v[i].sweep);
            jw_end(jw);
        }
        jw_end(jw);
        jw_end(jw);
    }
    jw_end(jw);
    DA_FREE(&held);
    store_worker_iter_free(wi);
    store_trial_iter_free(ti);
    return rc;
}

int dash_overview(store_t *st, long served_by, jw_t *jw, carbs_err_t *err)
{
    store_sweep_iter_t *it = store_sweep_iter_new(st, 0, err);
    const store_sweep_t *row;
    int rc = 0;

    if (!it)
        return err ? err->code : CARBS_ESTORE;
    jw_object(jw, NULL);
    jw_num(jw, "now", now_wall());
    jw_int(jw, "served_by", served_by);
    jw_array(jw, "sweeps");
    while (rc == 0 && store_sweep_iter_next(it, &row) == CARBS_CONTINUE) {
        sweep_spec_t spec = {0};
        progress_t p;
        rc = sweep_spec_from_json(row->spec_json, &spec, err);
        if (rc == 0)
            rc = progress_read(st, row, &spec, &p, err);
        if (rc == 0) {
            jw_object(jw, NULL);
            put_summary(jw, row, &spec, &p);
            jw_end(jw);
            report_front_release(&p.front);
        }
        sweep_spec_release(&spec);
    }
    store_sweep_iter_free(it);
    jw_end(jw);
    if (rc == 0)
        rc = put_workers(st, served_by, jw, err);
    jw_end(jw);
    return rc;
}

// ---- one sweep ----

static void put_params(jw_t *jw, const sweep_spec_t *spec)
{
    jw_array(jw, "params");
    for (size_t i = 0; i < spec->parameters.n; i++) {
        const carbs_param_t *p = &spec->parameters.v[i];
        jw_object(jw, NULL);
        jw_str(jw, "name", p->name);
        jw_str(jw, "space", carbs_space_name(p->space));
        if (p->space == CARBS_SPACE_CATEGORICAL) {
            jw_array(jw, "values");
            for (size_t k = 0; k < p->n_values; k++)
                jw_str(jw, NULL, p->values[k]);
            jw_end(jw);
        } else {
            jw_num_or_null(jw, "min", p->min);
            jw_num_or_null(jw, "max", p->max);
        }
        jw_end(jw);
    }
    jw_end(jw);
}

static void put_time(jw_t *jw, const char *key, double t)
{
    jw_num_or_null(jw, key, t > 0 ? t : NAN);
}

/* A curve point as [step, tokens, loss] (a loss that was not finite is
 * null). */
static void put_point(jw_t *jw, const char *key, const carbs_curve_point_t *p)
{
    jw_array(jw, key);
    jw_int(jw, NULL, p->step);
    jw_num_or_null(jw, NULL, p->tokens);
    jw_num_or_null(jw, NULL, p->loss);
    jw_end(jw);
}

/* The latest curve point of a running trial, or null. */
static int put_last_point(store_t *st, int64_t trial_id, jw_t *jw, carbs_err_t *err)
{
    carbs_curve_point_t *pts = NULL;
    size_t n = 0;
    int rc = store_curve_get(st, trial_id, &pts, &n, err);

    if (rc)
        return rc;
    if (n)
        put_point(jw, "last_point", &pts[n - 1]);
    else
        jw_null(jw, "last_point");
    free(pts);
    return 0;
}

static int put_trials(store_t *st, int64_t sweep_id, jw_t *jw, carbs_err_t *err)
{
    store_export_iter_t *it = store_export_iter_new(st, sweep_id, err);
    const store_record_t *r;
    int rc = 0;

    if (!it)
        return err ? err->code : CARBS_ESTORE;
    jw_array(jw, "trials");
    while (rc == 0 && store_export_iter_next(it, &r) == CARBS_CONTINUE) {
        const store_trial_t *t = &r->trial;
        jw_object(jw, NULL);
        jw_int(jw, "id", t->id);
        jw_str(jw, "state", carbs_trial_state_name(t->state));
        jw_int(jw, "attempt", t->attempt);
        jw_str(jw, "worker", t->worker);
        /* Stored JSON was written by the proto/ codecs (store.h). */
        jw_raw(jw, "params", t->params_json);
        put_time(jw, "created", t->created);
        put_time(jw, "started", t->started);
        put_time(jw, "finished", t->finished);
        jw_num_or_null(jw, "pred_output", t->pred_output);
        jw_num_or_null(jw, "pred_cost", t->pred_cost);
        if (r->has_result) {
            jw_num_or_null(jw, "output", r->result.output);
            jw_num_or_null(jw, "cost", r->result.cost);
            jw_str(jw, "failure", r->result.ok ? "none" : carbs_failure_name(r->result.failure));
            jw_str(jw, "message", r->result.message);
            if (r->result.metrics_json)
                jw_raw(jw, "metrics", r->result.metrics_json);
            else
                jw_null(jw, "metrics");
        } else {
            jw_null(jw, "output");
            jw_null(jw, "cost");
        }
        if (t->state == CARBS_TRIAL_RUNNING)
            rc = put_last_point(st, t->id, jw, err);
        jw_end(jw);
    }
    jw_end(jw);
    store_export_iter_free(it);
    return rc;
}

/* The latest stored law, its band from the cheapest trial to BAND_REACH
 * times the dearest front point, and when it was fitted; nulls without. */
static int put_law(store_t *st, int64_t sweep_id, const report_front_t *fr, jw_t *jw,
                   carbs_err_t *err)
{
    char *json = NULL;
    double fitted_at = 0;
    laws_t l = {0};
    carbs_err_t lerr = {0};
    int rc = store_law_get(st, sweep_id, &json, &fitted_at, err);

    if (rc == CARBS_ENOTFOUND) {
        carbs_err_clear(err);
        jw_null(jw, "law");
        jw_null(jw, "law_fitted_at");
        jw_null(jw, "law_band");
        return 0;
    }
    if (rc)
        return rc;
    jw_raw(jw, "law", json);
    jw_num_or_null(jw, "law_fitted_at", fitted_at);
    /* A stored fit this build cannot read still shows as JSON; only its
     * band is missing.  A law that may not predict gives its band over its
     * own costs only: nulls beyond (scaling_power_predict). */
    if (laws_from_json(json, &l, &lerr) || fr->n == 0) {
        jw_null(jw, "law_band");
    } else {
        double c0 = fmin(l.loss.c_min, fr->v[0].cost);
        double c1 = BAND_REACH * fmax(l.loss.c_max, fr->v[fr->n - 1].cost);
        jw_array(jw, "law_band");
        for (size_t i = 0; c0 > 0 && c1 > c0 && i < DASH_BAND_POINTS; i++) {
            double C = c0 * pow(c1 / c0, (double)i / (DASH_BAND_POINTS - 1));
            double y[3];
            scaling_power_predict(&l.loss, l.level, C, &y[0], &y[1], &y[2]);
            jw_array(jw, NULL);
            jw_num(jw, NULL, C);
            for (size_t k = 0; k < 3; k++)
                jw_num_or_null(jw, NULL, y[k]);
            jw_end(jw);
        }
        jw_end(jw);
    }
    laws_release(&l);
    free(json);
    return 0;
}

int dash_sweep(store_t *st, int64_t sweep_id, jw_t *jw, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    progress_t p;
    int rc = open_sweep(st, sweep_id, &row, &spec, err);

    if (rc)
        return rc;
    rc = progress_read(st, &row, &spec, &p, err);
    if (rc)
        goto out;
    jw_object(jw, NULL);
    jw_num(jw, "now", now_wall());
    put_summary(jw, &row, &spec, &p);
    put_params(jw, &spec);
    jw_array(jw, "front");
    for (size_t i = 0; i < p.front.n; i++)
        jw_int(jw, NULL, p.front.v[i].trial_id);
    jw_end(jw);
    rc = put_law(st, sweep_id, &p.front, jw, err);
    if (rc == 0)
        rc = put_trials(st, sweep_id, jw, err);
    jw_end(jw);
    report_front_release(&p.front);
out:
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

// ---- curves and the prediction at a cost ----

/* One trial's curve, on its way into the answer. */
typedef struct dash_curve {
    int64_t trial;
    carbs_curve_point_t *pts;
    size_t n;
} dash_curve_t;

typedef DA_TYPE(dash_curve_t) dash_curves_t;

int dash_curves(store_t *st, int64_t sweep_id, size_t latest, jw_t *jw, carbs_err_t *err)
{
    store_trial_filter_t f = {.sweep_id = sweep_id};
    store_sweep_t row = {0};
    store_trial_iter_t *it;
    const store_trial_t *t;
    DA_TYPE(int64_t) ids = {0};
    dash_curves_t got = {0};
    int rc = store_sweep_get_id(st, sweep_id, &row, err);

    store_sweep_release(&row);
    if (rc)
        return rc;
    it = store_trial_iter_new(st, &f, err);
    if (!it)
        return err ? err->code : CARBS_ESTORE;
    while (rc == 0 && store_trial_iter_next(it, &t) == CARBS_CONTINUE)
        if (DA_PUSH(&ids, t->id))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
    store_trial_iter_free(it);
    /* Newest first, so that `latest` stops the reads early on a long sweep. */
    for (size_t i = ids.n; rc == 0 && i > 0 && (latest == 0 || got.n < latest); i--) {
        dash_curve_t c = {.trial = ids.v[i - 1]};
        rc = store_curve_get(st, c.trial, &c.pts, &c.n, err);
        if (rc || c.n == 0 || DA_PUSH(&got, c)) {
            if (rc == 0 && c.n)
                rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
            free(c.pts);
        }
    }
    if (rc == 0) {
        jw_object(jw, NULL);
        jw_object(jw, "curves");
        for (size_t i = got.n; i > 0; i--) {
            char key[24];
            snprintf(key, sizeof(key), "%" PRId64, got.v[i - 1].trial);
            jw_array(jw, key);
            for (size_t k = 0; k < got.v[i - 1].n; k++)
                put_point(jw, NULL, &got.v[i - 1].pts[k]);
            jw_end(jw);
        }
        jw_end(jw);
        jw_end(jw);
    }
    for (size_t i = 0; i < got.n; i++)
        free(got.v[i].pts);
    DA_FREE(&got);
    DA_FREE(&ids);
    return rc;
}

int dash_at_cost(store_t *st, int64_t sweep_id, double C, jw_t *jw, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    laws_data_t d = {0};
    laws_t l = {0};
    laws_at_t a;
    int rc = open_sweep(st, sweep_id, &row, &spec, err);

    if (rc)
        return rc;
    rc = laws_data_gather(st, sweep_id, &spec, &d, err);
    if (rc == 0)
        rc = laws_data_fit(&d, &spec, true, NULL, &l, err);
    if (rc == 0) {
        laws_at_predict(&l, C, &a);
        laws_at_json(jw, &l, &spec, &a);
    }
    laws_release(&l);
    laws_data_release(&d);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}
