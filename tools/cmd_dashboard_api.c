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
 *
 * Speed (docs/performance.md, Dashboard): nothing that answers a poll
 * reads a sweep's trials whole.  Progress comes from aggregate queries and
 * the front from the successful results' (trial, cost, output) alone
 * (store/store_summary.h); the sweep sends its charts' columns, the trials
 * table asks for one sorted page, and a trial's metrics come when it is
 * clicked.  What comes from the results alone (the front, the charts'
 * columns, the laws behind "at cost") is derived once per change of the
 * sweep's results and kept (dash_cache_t), so a poll of a sweep whose
 * results did not change reads only its aggregates.
 */
#include "proto/common.h"
#include "tools/cmd_dashboard.h"

#include <inttypes.h>
#include <math.h>

#include "optimizer/scaling.h"
#include "optimizer/service/service.h"
#include "tools/laws_at.h"
#include "tools/verb.h"

/* How much dearer than the dearest trial the law's band is drawn: far
 * enough to show where the law heads, near enough to stay readable. */
#define BAND_REACH 2.0

typedef dash_front_pt_t front_pt_t;
typedef dash_front_t front_t;

/* One sweep's progress. */
typedef struct progress {
    store_summary_t sum;
    double eta;           /* seconds; NaN when none */
    const front_t *front; /* borrowed from the cache */
    dash_entry_t *entry;  /* the sweep's, in the cache */
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
    const store_summary_t *s = &p->sum;
    size_t finished = s->counts[CARBS_TRIAL_DONE] + s->counts[CARBS_TRIAL_FAILED];
    double elapsed = now - s->first_started;
    double eta = NAN;

    if (state != CARBS_SWEEP_ACTIVE || finished == 0 || s->first_started <= 0 || elapsed <= 0)
        return NAN;
    if (spec->budget.trials > 0) {
        double left = (double)spec->budget.trials - (double)finished;
        eta = fmax(0.0, left) * elapsed / (double)finished;
    }
    if (spec->budget.cost > 0 && s->cost_spent > 0) {
        double left = spec->budget.cost - s->cost_spent;
        double t = fmax(0.0, left) * elapsed / s->cost_spent;
        eta = isfinite(eta) ? fmin(eta, t) : t;
    }
    return eta;
}

/* The front of the n candidates c (trial id order) into the empty *out,
 * by the rule of `carbs pareto` (tools/report.c): finite output and cost
 * only, then scaling_front. */
static int front_of(const front_pt_t *c, size_t n_c, bool maximize, front_t *out,
                    carbs_err_t *err)
{
    size_t n = 0, nf = 0;
    double *cost = carbs_malloc((n_c + 1) * sizeof(double));
    double *output = carbs_malloc((n_c + 1) * sizeof(double));
    size_t *map = carbs_malloc((n_c + 1) * sizeof(size_t));
    size_t *idx = carbs_malloc((n_c + 1) * sizeof(size_t));
    int rc = 0;

    if (!cost || !output || !map || !idx) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_c; i++) {
        if (!isfinite(c[i].output) || !isfinite(c[i].cost))
            continue;
        cost[n] = c[i].cost;
        output[n] = c[i].output;
        map[n++] = i;
    }
    /* scaling_front sorts; an empty array has nothing to sort (UBSan). */
    if (n)
        rc = scaling_front(cost, output, n, maximize, idx, &nf);
    if (rc < 0) {
        rc = carbs_fail(err, rc, "cannot find the front");
        goto out;
    }
    for (size_t k = 0; k < nf && rc == 0; k++)
        if (DA_PUSH(out, c[map[idx[k]]]))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
out:
    free(cost);
    free(output);
    free(map);
    free(idx);
    return rc;
}

// ---- the cache ----

static void points_clear(dash_points_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].params_json);
    DA_FREE(p);
}

/* Forget what e derived from its results, keeping the results themselves
 * (merge_results brings them up to date). */
static void entry_stale(dash_entry_t *e)
{
    free(e->points_json);
    e->points_json = NULL;
    e->has_results = false;
}

static void fit_forget(dash_entry_t *e)
{
    if (e->has_fit && e->fit.rc == 0)
        laws_release(&e->fit.laws);
    e->has_fit = false;
}

static void entry_clear(dash_entry_t *e)
{
    entry_stale(e);
    fit_forget(e);
    free(e->spec_json);
    e->spec_json = NULL;
    points_clear(&e->points);
    DA_FREE(&e->results);
    DA_FREE(&e->front);
    e->open_from = 0;
}

void dash_cache_release(dash_cache_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->v[i]);
    DA_FREE(c);
}

/* The cache's entry for sweep row->id with its aggregates, read again
 * when the store changed, and emptied of all it derived from them unless
 * it was derived from the same results and row's spec.  Borrowed until
 * the next call (the cache may move). */
static int entry_for(store_t *st, dash_cache_t *c, const store_sweep_t *row, dash_entry_t **out,
                     carbs_err_t *err)
{
    dash_entry_t *e = NULL;
    int64_t version;
    int rc = store_data_version(st, &version, err);

    if (rc)
        return rc;
    if (!c->has_version || c->version != version) {
        int64_t n_results, last_result;
        rc = store_results_mark(st, &n_results, &last_result, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < c->n; i++) {
            c->v[i].has_counts = false;
            if (!c->has_version || n_results != c->n_results || last_result != c->last_result)
                c->v[i].has_sum = false;
        }
        c->has_version = true;
        c->version = version;
        c->n_results = n_results;
        c->last_result = last_result;
    }
    for (size_t i = 0; i < c->n && !e; i++)
        if (c->v[i].sweep_id == row->id)
            e = &c->v[i];
    if (!e) {
        dash_entry_t empty = {.sweep_id = row->id};
        if (DA_PUSH(c, empty))
            return carbs_fail(err, CARBS_ENOMEM, "out of memory");
        e = &c->v[c->n - 1];
    }
    /* Before its first result a sweep's first start may come with any claim. */
    if (!e->has_sum || (!e->has_counts && e->sum.first_started <= 0))
        rc = store_sweep_summary(st, row->id, &e->sum, err);
    else if (!e->has_counts)
        rc = store_sweep_counts(st, row->id, e->sum.counts, NULL, err);
    if (rc)
        return rc;
    e->has_sum = e->has_counts = true;
    if (!e->spec_json || e->n_results != e->sum.n_results ||
        e->last_result != e->sum.last_result || e->last_result_at != e->sum.last_result_at ||
        strcmp(e->spec_json, row->spec_json) != 0) {
        /* A new spec may change the goal: start over; new results: merge. */
        if (e->spec_json && strcmp(e->spec_json, row->spec_json) != 0)
            entry_clear(e);
        entry_stale(e);
        free(e->spec_json);
        e->spec_json = xstrdup(row->spec_json);
        e->n_results = e->sum.n_results;
        e->last_result = e->sum.last_result;
        e->last_result_at = e->sum.last_result_at;
    }
    *out = e;
    return 0;
}

static void point_text(char buf[DASH_NUM_TEXT], double x)
{
    if (isfinite(x))
        snprintf(buf, DASH_NUM_TEXT, "%.17g", x);
    else
        snprintf(buf, DASH_NUM_TEXT, "null");
}

/* The point of a successful result; takes its params. */
static dash_point_t point_of(store_point_t *r)
{
    dash_point_t p = {.trial_id = r->trial_id, .cost = r->cost, .output = r->output,
                      .params_json = r->params_json};

    r->params_json = NULL;
    snprintf(p.text[0], DASH_NUM_TEXT, "%" PRId64, p.trial_id);
    point_text(p.text[1], p.cost);
    point_text(p.text[2], p.output);
    return p;
}

static bool has_id(const dash_ids_t *ids, int64_t id)
{
    size_t lo = 0, hi = ids->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids->v[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ids->n && ids->v[lo] == id;
}

static int cmp_front_id(const void *a, const void *b)
{
    int64_t x = ((const front_pt_t *)a)->trial_id, y = ((const front_pt_t *)b)->trial_id;
    return (x > y) - (x < y);
}

/* e->results and the new ids add[n_add] (both ascending) merged into *out. */
static void merge_ids(const dash_ids_t *known, const int64_t *add, size_t n_add, dash_ids_t *out)
{
    size_t j = 0, a = 0;

    while (j < known->n || a < n_add)
        out->v[out->n++] =
            a == n_add || (j < known->n && known->v[j] < add[a]) ? known->v[j++] : add[a++];
}

/* Bring e's results up to its key: read those since e->open_from (all of
 * them the first time, or when the new ones do not add up to the count the
 * key says), merge the new ones in by id, and take the front again over
 * the old front and the new points. */
static int merge_results(store_t *st, dash_entry_t *e, bool maximize, carbs_err_t *err)
{
    store_points_t got = {0};
    dash_points_t pts = {0};
    dash_ids_t ids = {0};
    DA_TYPE(int64_t) add = {0};
    DA_TYPE(front_pt_t) cand = {0};
    front_t front = {0};
    int64_t open_from;
    size_t i = 0;
    bool all = e->open_from <= 0;
    int rc = store_sweep_points(st, e->sweep_id, all ? 0 : e->open_from, &got, &open_from, err);

    if (rc)
        return rc;
    for (size_t k = 0; rc == 0 && k < got.n; k++)
        if (!has_id(&e->results, got.v[k].trial_id) && DA_PUSH(&add, got.v[k].trial_id))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
    if (rc == 0 && !all && (int64_t)(e->results.n + add.n) != e->n_results) {
        /* something else happened (results gone with their trials): start over */
        store_points_release(&got);
        DA_FREE(&add);
        points_clear(&e->points);
        DA_FREE(&e->results);
        DA_FREE(&e->front);
        e->open_from = 0;
        return merge_results(st, e, maximize, err);
    }
    if (rc == 0 && (DA_RESERVE(&pts, e->points.n + got.n) ||
                    DA_RESERVE(&ids, e->results.n + add.n) ||
                    DA_RESERVE(&cand, e->front.n + got.n)))
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
    if (rc)
        goto out;
    /* both lists come by id: merge them, the new points taking their params */
    for (size_t k = 0; k < e->front.n; k++)
        cand.v[cand.n++] = e->front.v[k];
    for (size_t k = 0; k < got.n; k++) {
        store_point_t *r = &got.v[k];
        if (!r->ok || has_id(&e->results, r->trial_id))
            continue;
        while (i < e->points.n && e->points.v[i].trial_id < r->trial_id)
            pts.v[pts.n++] = e->points.v[i++];
        pts.v[pts.n++] = point_of(r);
        cand.v[cand.n++] = (front_pt_t){.trial_id = r->trial_id, .cost = r->cost,
                                        .output = r->output};
    }
    while (i < e->points.n)
        pts.v[pts.n++] = e->points.v[i++];
    merge_ids(&e->results, add.v, add.n, &ids);
    /* by id, so that of exact ties the earliest trial stays (report.h) */
    if (cand.n > 1)
        qsort(cand.v, cand.n, sizeof(*cand.v), cmp_front_id);
    rc = front_of(cand.v, cand.n, maximize, &front, err);
    if (rc) {
        /* pts shares e's params: free only the new ones, which e never had */
        for (size_t k = 0; k < pts.n; k++)
            if (!has_id(&e->results, pts.v[k].trial_id))
                free(pts.v[k].params_json);
        DA_FREE(&pts);
        goto out;
    }
    DA_FREE(&e->points); /* its params live on in pts */
    e->points = pts;
    DA_FREE(&e->results);
    e->results = ids;
    ids = (dash_ids_t){0};
    DA_FREE(&e->front);
    e->front = front;
    front = (front_t){0};
    e->open_from = open_from;
    e->has_results = true;
out:
    DA_FREE(&ids);
    DA_FREE(&front);
    DA_FREE(&add);
    DA_FREE(&cand);
    store_points_release(&got);
    return rc;
}

/* The charts' columns, {"id", "cost", "output", "params"}, from the
 * numbers the points already hold as text. */
static char *points_json(const dash_points_t *pts)
{
    static const char *const keys[] = {"{\"id\":[", "],\"cost\":[", "],\"output\":["};
    strbuf_t sb = STRBUF_INIT;

    for (size_t k = 0; k < 3; k++) {
        strbuf_adds(&sb, keys[k]);
        for (size_t i = 0; i < pts->n; i++) {
            if (i)
                strbuf_addch(&sb, ',');
            strbuf_adds(&sb, pts->v[i].text[k]);
        }
    }
    strbuf_adds(&sb, "],\"params\":[");
    for (size_t i = 0; i < pts->n; i++) {
        if (i)
            strbuf_addch(&sb, ',');
        strbuf_adds(&sb, pts->v[i].params_json ? pts->v[i].params_json : "{}");
    }
    strbuf_adds(&sb, "]}");
    return strbuf_detach(&sb, NULL);
}

/* The sweep's progress into *p, its front from the cache or, after new
 * results, merged with them; with want_points the cache's entry also gets
 * the charts' columns. */
static int progress_read(store_t *st, dash_cache_t *cache, const store_sweep_t *row,
                         const sweep_spec_t *spec, bool want_points, progress_t *p,
                         carbs_err_t *err)
{
    dash_entry_t *e;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = entry_for(st, cache, row, &e, err);
    if (rc)
        return rc;
    p->sum = e->sum;
    if (!e->has_results)
        rc = merge_results(st, e, spec->metric.goal == SWEEP_GOAL_MAXIMIZE, err);
    if (rc == 0 && want_points && !e->points_json) {
        e->points_json = points_json(&e->points);
        if (!e->points_json)
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
    }
    if (rc)
        return rc;
    p->front = &e->front;
    p->entry = e;
    p->eta = eta_of(p, spec, row->state, now_wall());
    return 0;
}

/* The fields an overview row and a sweep's page share. */
static void put_summary(jw_t *jw, const store_sweep_t *row, const sweep_spec_t *spec,
                        const progress_t *p)
{
    const front_t *fr = p->front;
    const store_summary_t *sum = &p->sum;

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
        jw_int(jw, carbs_trial_state_name(s), (int64_t)sum->counts[s]);
    jw_end(jw);
    jw_num_or_null(jw, "cost_spent", sum->cost_spent);
    jw_num_or_null(jw, "best", fr->n ? fr->v[fr->n - 1].output : NAN);
    if (fr->n)
        jw_int(jw, "best_trial", fr->v[fr->n - 1].trial_id);
    else
        jw_null(jw, "best_trial");
    jw_int(jw, "front_size", (int64_t)fr->n);
    jw_num_or_null(jw, "first_started", sum->first_started > 0 ? sum->first_started : NAN);
    jw_num_or_null(jw, "eta_seconds", p->eta);
}

// ---- the overview ----

static int put_workers(store_t *st, long served_by, jw_t *jw, carbs_err_t *err)
{
    store_held_t *held = NULL;
    size_t n_held = 0;
    store_worker_iter_t *wi;
    const store_worker_t *w;
    double now = now_wall();
    int rc = store_running(st, 0, &held, &n_held, err);

    if (rc)
        return rc;
    wi = store_worker_iter_new(st, err);
    if (!wi) {
        free(held);
        return err ? err->code : CARBS_ESTORE;
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
        for (size_t i = 0; i < n_held; i++) {
            if (strcmp(held[i].worker, w->id) != 0)
                continue;
            jw_object(jw, NULL);
            jw_int(jw, "trial", held[i].trial_id);
            jw_int(jw, "sweep", held[i].sweep_id);
            jw_end(jw);
        }
        jw_end(jw);
        jw_end(jw);
    }
    jw_end(jw);
    free(held);
    store_worker_iter_free(wi);
    return rc;
}

int dash_overview(store_t *st, dash_cache_t *cache, long served_by, jw_t *jw, carbs_err_t *err)
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
            rc = progress_read(st, cache, row, &spec, false, &p, err);
        if (rc == 0) {
            jw_object(jw, NULL);
            put_summary(jw, row, &spec, &p);
            jw_end(jw);
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

/* A trial's row of the table: everything but its metrics, which
 * with_metrics adds (the trial clicked). */
static void put_trial_row(jw_t *jw, const store_record_t *r, bool with_metrics)
{
    const store_trial_t *t = &r->trial;

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
        if (!with_metrics)
            return;
        if (r->result.metrics_json)
            jw_raw(jw, "metrics", r->result.metrics_json);
        else
            jw_null(jw, "metrics");
    } else {
        jw_null(jw, "output");
        jw_null(jw, "cost");
        if (with_metrics)
            jw_null(jw, "metrics");
    }
}

/* The running trials: {"id", "worker", "last_point"}; a sweep runs at most
 * its budget's parallel trials at once, so this stays short. */
static int put_running(store_t *st, int64_t sweep_id, jw_t *jw, carbs_err_t *err)
{
    store_held_t *held = NULL;
    size_t n = 0;
    int rc = store_running(st, sweep_id, &held, &n, err);

    if (rc)
        return rc;
    jw_array(jw, "running");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        jw_object(jw, NULL);
        jw_int(jw, "id", held[i].trial_id);
        jw_str(jw, "worker", held[i].worker);
        rc = put_last_point(st, held[i].trial_id, jw, err);
        jw_end(jw);
    }
    jw_end(jw);
    free(held);
    return rc;
}

/* The latest stored law, its band from the cheapest trial to BAND_REACH
 * times the dearest front point, and when it was fitted; nulls without. */
static int put_law(store_t *st, int64_t sweep_id, const front_t *fr, jw_t *jw,
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

int dash_sweep(store_t *st, dash_cache_t *cache, int64_t sweep_id, jw_t *jw, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    progress_t p;
    int rc = open_sweep(st, sweep_id, &row, &spec, err);

    if (rc)
        return rc;
    rc = progress_read(st, cache, &row, &spec, true, &p, err);
    if (rc)
        goto out;
    jw_object(jw, NULL);
    jw_num(jw, "now", now_wall());
    put_summary(jw, &row, &spec, &p);
    put_params(jw, &spec);
    jw_array(jw, "front");
    for (size_t i = 0; i < p.front->n; i++)
        jw_int(jw, NULL, p.front->v[i].trial_id);
    jw_end(jw);
    rc = put_law(st, sweep_id, p.front, jw, err);
    if (rc == 0)
        rc = put_running(st, sweep_id, jw, err);
    /* the cache moves only in progress_read: p.entry still stands */
    jw_raw(jw, "points", p.entry->points_json);
    jw_end(jw);
out:
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

// ---- the trials table and one trial ----

int dash_trials(store_t *st, const store_page_query_t *q, jw_t *jw, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    store_records_t page = {0};
    size_t total = 0;
    int rc = open_sweep(st, q->sweep_id, &row, &spec, err);

    if (rc)
        return rc;
    if (q->sort == STORE_SORT_PARAM) {
        bool known = false;
        for (size_t i = 0; q->param && i < spec.parameters.n; i++)
            known |= strcmp(spec.parameters.v[i].name, q->param) == 0;
        if (!known)
            rc = carbs_fail(err, CARBS_EINVAL, "'%s' is not a parameter of sweep %" PRId64,
                            q->param ? q->param : "", q->sweep_id);
    }
    if (rc == 0)
        rc = store_trial_page(st, q, &page, &total, err);
    if (rc == 0) {
        jw_object(jw, NULL);
        jw_int(jw, "total", (int64_t)total);
        jw_int(jw, "offset", (int64_t)q->offset);
        jw_int(jw, "limit", (int64_t)q->limit);
        jw_array(jw, "trials");
        for (size_t i = 0; i < page.n; i++) {
            jw_object(jw, NULL);
            put_trial_row(jw, &page.v[i], false);
            jw_end(jw);
        }
        jw_end(jw);
        jw_end(jw);
    }
    store_records_release(&page);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

int dash_trial(store_t *st, int64_t sweep_id, int64_t trial_id, jw_t *jw, carbs_err_t *err)
{
    store_sweep_t row = {0};
    store_record_t r = {0};
    int rc = store_sweep_get_id(st, sweep_id, &row, err);

    store_sweep_release(&row);
    if (rc == CARBS_ENOTFOUND)
        return carbs_fail(err, rc, "no sweep %" PRId64, sweep_id);
    if (rc)
        return rc;
    rc = store_trial_get(st, trial_id, &r.trial, err);
    if (rc == 0 && r.trial.sweep_id != sweep_id)
        rc = carbs_fail(err, CARBS_ENOTFOUND, "no trial %" PRId64 " in sweep %" PRId64, trial_id,
                        sweep_id);
    if (rc == 0) {
        rc = store_result_get(st, trial_id, &r.result, err);
        r.has_result = rc == 0;
        if (rc == CARBS_ENOTFOUND) {
            carbs_err_clear(err);
            rc = 0;
        }
    }
    if (rc == 0) {
        jw_object(jw, NULL);
        put_trial_row(jw, &r, true);
        if (r.trial.state == CARBS_TRIAL_RUNNING)
            rc = put_last_point(st, trial_id, jw, err);
        jw_end(jw);
    } else if (rc == CARBS_ENOTFOUND) {
        carbs_fail(err, rc, "no trial %" PRId64 " in sweep %" PRId64, trial_id, sweep_id);
    }
    store_trial_release(&r.trial);
    store_result_release(&r.result);
    return rc;
}

// ---- curves and the prediction at a cost ----

int dash_curves(store_t *st, int64_t sweep_id, size_t latest, jw_t *jw, carbs_err_t *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    carbs_curve_point_t **pts;
    size_t *npts;
    int rc = store_curve_latest(st, sweep_id, latest ? latest : SIZE_MAX, &ids, &n, err);

    if (rc)
        return rc;
    pts = xcalloc(n + 1, sizeof(*pts));
    npts = xcalloc(n + 1, sizeof(*npts));
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = store_curve_get(st, ids[i], &pts[i], &npts[i], err);
    if (rc == 0) {
        /* oldest trial first */
        jw_object(jw, NULL);
        jw_object(jw, "curves");
        for (size_t i = n; i > 0; i--) {
            char key[24];
            snprintf(key, sizeof(key), "%" PRId64, ids[i - 1]);
            jw_array(jw, key);
            for (size_t k = 0; k < npts[i - 1]; k++)
                put_point(jw, NULL, &pts[i - 1][k]);
            jw_end(jw);
        }
        jw_end(jw);
        jw_end(jw);
    }
    for (size_t i = 0; i < n; i++)
        free(pts[i]);
    free(pts);
    free(npts);
    free(ids);
    return rc;
}

/* Every fit the fitter sent back, into its sweep's entry. */
static void take_fits(dash_cache_t *cache, dash_fitter_t *fitter)
{
    dash_fit_t f;

    while (dash_fitter_take(fitter, &f)) {
        dash_entry_t *e = NULL;
        for (size_t i = 0; i < cache->n && !e; i++)
            if (cache->v[i].sweep_id == f.sweep_id)
                e = &cache->v[i];
        if (!e) {
            if (f.rc == 0)
                laws_release(&f.laws);
            continue;
        }
        fit_forget(e);
        e->fit = f;
        e->has_fit = true;
        e->fitting = false;
    }
}

int dash_at_cost(store_t *st, dash_cache_t *cache, dash_fitter_t *fitter, int64_t sweep_id,
                 double C, jw_t *jw, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    dash_entry_t *e = NULL;
    laws_at_t a;
    int rc = open_sweep(st, sweep_id, &row, &spec, err);

    take_fits(cache, fitter);
    if (rc == 0)
        rc = entry_for(st, cache, &row, &e, err);
    if (rc)
        goto out;
    if (e->has_fit && e->fit.n_results == e->n_results && e->fit.last_result == e->last_result &&
        e->fit.last_result_at == e->last_result_at) {
        if (e->fit.rc) {
            rc = carbs_fail(err, e->fit.rc, "%s", e->fit.why);
        } else {
            laws_at_predict(&e->fit.laws, C, &a);
            laws_at_json(jw, &e->fit.laws, &spec, &a);
        }
        goto out;
    }
    if (!e->fitting) {
        rc = dash_fitter_send(fitter, sweep_id, err);
        if (rc)
            goto out;
        e->fitting = true;
    }
    rc = carbs_fail(err, CARBS_CONTINUE,
                    "fitting the laws of sweep %" PRId64 " on its %" PRId64 " results; ask again",
                    sweep_id, e->n_results);
out:
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}
