/*
 * service_sweep.c - the service's sweeps (service_sweep.h): rebuilding an
 * optimizer from the store, creating sweeps and changing their state,
 * handing out trials, taking results and imports, losing and re-queueing
 * trials.
 *
 * Order of effects, always: the store first, then the answer on the wire,
 * then the optimizer.  A crash between any two leaves the store consistent
 * and the optimizer rebuildable from it (docs/service.md, "Restart").
 */
#include "proto/common.h"
#include "optimizer/service/service_sweep.h"

#include <inttypes.h>
#include <math.h>

#include "optimizer/carbs.h"
#include "optimizer/service/service_internal.h"
#include "proto/json.h"
#include "proto/log.h"

/* A success whose cost is missing, not positive or smaller is observed at
 * this cost, so the optimizer still learns its output and its log-cost
 * scale does not stretch over decades no trial will cost. */
#define SVC_COST_FLOOR 1e-9

struct svc_sweep {
    int64_t id;
    char name[CARBS_NAME_MAX];
    carbs_sweep_state_t state;
    sweep_spec_t spec;
    carbs_t *opt;
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    size_t imported; /* finished trials that came from `import`: no budget spent */
    double cost_spent; /* the one definition: store_sweep_counts() */
    double best_output; /* NaN when none */
    int64_t best_trial;
    DA_TYPE(int64_t) queue; /* pending (re-queued) trials, oldest first */
    /* Verification runs (svc__sweep_verify): trials that check a law's
     * prediction.  They run like any trial, but the optimizer never sees
     * them and the budget does not count them. */
    DA_TYPE(int64_t) verify;
    /* The failures in a row with the same cause (note_outcome), and why
     * the sweep paused itself ("" when it did not). */
    int fail_run;
    char fail_cause[CARBS_MSG_MAX];
    char pause_reason[CARBS_MSG_MAX];
};

// ---- the table and what a sweep shows ----

svc_sweep_t *svc__sweep_find(service_t *svc, const char *id_or_name)
{
    for (size_t i = 0; i < svc->sweeps.n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%" PRId64, svc->sweeps.v[i]->id);
        if (strcmp(svc->sweeps.v[i]->name, id_or_name) == 0 || strcmp(id, id_or_name) == 0)
            return svc->sweeps.v[i];
    }
    return NULL;
}

static svc_sweep_t *sweep_by_id(service_t *svc, int64_t id)
{
    for (size_t i = 0; i < svc->sweeps.n; i++)
        if (svc->sweeps.v[i]->id == id)
            return svc->sweeps.v[i];
    return NULL;
}

svc_sweep_t *svc__sweep_at(const service_t *svc, size_t i)
{
    return i < svc->sweeps.n ? svc->sweeps.v[i] : NULL;
}

int64_t svc__sweep_id(const svc_sweep_t *sw)
{
    return sw->id;
}

const char *svc__sweep_name(const svc_sweep_t *sw)
{
    return sw->name;
}

carbs_sweep_state_t svc__sweep_state(const svc_sweep_t *sw)
{
    return sw->state;
}

const sweep_spec_t *svc__sweep_spec(const svc_sweep_t *sw)
{
    return &sw->spec;
}

void svc__sweep_summary(const svc_sweep_t *sw, service_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    out->sweep_id = sw->id;
    str_copy(out->name, sizeof(out->name), sw->name);
    out->state = sw->state;
    memcpy(out->counts, sw->counts, sizeof(out->counts));
    out->imported = sw->imported;
    out->cost_spent = sw->cost_spent;
    out->best_output = sw->best_output;
    out->best_trial = sw->best_trial;
    str_copy(out->pause_reason, sizeof(out->pause_reason), sw->pause_reason);
}

void svc__sweep_free(svc_sweep_t *sw)
{
    if (!sw)
        return;
    sweep_spec_release(&sw->spec);
    carbs_free(sw->opt);
    DA_FREE(&sw->queue);
    DA_FREE(&sw->verify);
    free(sw);
}

static void config_from_spec(const sweep_spec_t *sp, carbs_config_t *cfg)
{
    *cfg = sp->carbs; /* the spec holds the optimizer's config as it stands */
}

/* better(a, b): a is a better output than b for the sweep's goal. */
static bool better(const svc_sweep_t *sw, double a, double b)
{
    if (!isfinite(b))
        return true;
    return sw->spec.metric.goal == SWEEP_GOAL_MAXIMIZE ? a > b : a < b;
}

static bool is_verify(const svc_sweep_t *sw, int64_t trial_id)
{
    for (size_t i = 0; i < sw->verify.n; i++)
        if (sw->verify.v[i] == trial_id)
            return true;
    return false;
}

/* A finished trial's figures: its known cost is spent whether or not it
 * succeeded, unless it was imported (the budget is this sweep's own runs;
 * store_sweep_counts() sums the same); a success may be the best. */
static void note_finished(svc_sweep_t *sw, const store_result_t *res, bool imported)
{
    if (imported)
        sw->imported++;
    else if (isfinite(res->cost) && res->cost > 0) /* an older store may hold less */
        sw->cost_spent += res->cost;
    if (res->ok && isfinite(res->output) && better(sw, res->output, sw->best_output)) {
        sw->best_output = res->output;
        sw->best_trial = res->trial_id;
    }
}

/* The one mapping from a finished trial to what its sweep's optimizer
 * learns, for a result just reported, a record just imported and a trial
 * replayed at open alike: a resumed sweep then holds the observations the
 * live one held, and suggests what it would have.  An infrastructure
 * failure (lost, preempted) is not the configuration's fault and teaches
 * nothing: returns false.  A success is observed at its cost, raised to
 * SVC_COST_FLOOR; a failure at cost 1 (the optimizer ignores it).
 * obs->params borrows params. */
static bool observation(const store_result_t *res, const carbs_params_t *params, carbs_obs_t *obs)
{
    if (!res->ok && !carbs_failure_is_hyper(res->failure))
        return false;
    memset(obs, 0, sizeof(*obs));
    obs->id = res->trial_id;
    obs->params = *params;
    obs->output = res->ok ? res->output : NAN;
    obs->cost = 1.0;
    if (res->ok)
        obs->cost = isfinite(res->cost) ? fmax(res->cost, SVC_COST_FLOOR) : SVC_COST_FLOOR;
    obs->is_failure = !res->ok;
    return true;
}

/* The cost of result r: the sweep's cost metric, and nothing else (never
 * wall_seconds in a sum of flops); NaN when r does not report it, or when
 * the sweep is not loaded here (its cost metric is unknown). */
static double result_cost(const svc_sweep_t *sw, const carbs_result_t *r)
{
    return sw ? carbs_result_get(r, sw->spec.cost.name) : NAN;
}

/* A success must cost something: finite and > 0, or it would give budget
 * back (a negative cost) or stretch the optimizer's log-cost scale without
 * end.  A reported result that fails this becomes a failed trial; an
 * imported record or a tell is refused.  Returns true when cost passes,
 * else false with the reason in msg[cap] (name NULL: the cost is not a
 * metric). */
static bool cost_valid(const char *name, double cost, char *msg, size_t cap)
{
    if (isfinite(cost) && cost > 0)
        return true;
    if (isnan(cost))
        snprintf(msg, cap, "the cost '%s' was not reported", name ? name : "cost");
    else if (name)
        snprintf(msg, cap, "cost %s = %g is not finite and > 0", name, cost);
    else
        snprintf(msg, cap, "cost %g is not finite and > 0", cost);
    return false;
}

/* The optimizer of sw learns finished trial res (params NULL: they could
 * not be read, so only the sweep's figures move); imported says it came
 * from `import`. */
static void learn(svc_sweep_t *sw, const store_result_t *res, const carbs_params_t *params,
                  bool imported)
{
    carbs_obs_t obs;
    carbs_err_t err = {0};
    int rc;

    /* CARBS_ENOTFOUND: the trial was not pending (an import, a replay); the
     * observation is recorded all the same. */
    if (params && observation(res, params, &obs) &&
        (rc = carbs_observe(sw->opt, &obs, &err)) && rc != CARBS_ENOTFOUND)
        log_warn("sweep %s: trial %" PRId64 " not observed: %s", sw->name, res->trial_id,
                 err.msg);
    note_finished(sw, res, imported);
}

static void count_move(svc_sweep_t *sw, carbs_trial_state_t from, carbs_trial_state_t to)
{
    if (sw->counts[from])
        sw->counts[from]--;
    sw->counts[to]++;
}

// ---- rebuilding a sweep from the store ----

typedef struct replay_obs {
    int64_t id;
    double created;
    carbs_params_t params;
    double output, cost;
    bool ok, imported;
    carbs_failure_t failure;
} replay_obs_t;

static int replay_cmp(const void *a, const void *b)
{
    const replay_obs_t *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Add a trial that is still open to the optimizer as pending. */
static int replay_pending(svc_sweep_t *sw, const store_trial_t *t, carbs_err_t *err)
{
    carbs_params_t ps = {0};
    int rc = proto_params_from_json(t->params_json, &ps, err);

    if (rc == 0)
        rc = carbs_pending_add(sw->opt, t->id, &ps,
                               t->d == carbs_dim(sw->opt) ? t->u : NULL, err);
    carbs_params_release(&ps);
    if (rc)
        carbs_err_prefix(err, "trial");
    return rc;
}

int svc__sweep_load(service_t *svc, const store_sweep_t *row, carbs_err_t *err)
{
    svc_sweep_t *sw = xcalloc(1, sizeof(*sw));
    carbs_config_t cfg;
    store_trial_filter_t f = {0};
    store_trial_iter_t *it = NULL;
    const store_trial_t *t;
    store_optstate_t os = {0};
    DA_TYPE(replay_obs_t) obs = {0};
    DA_TYPE(int64_t) lost = {0};
    double now = now_wall();
    int rc;

    sw->id = row->id;
    str_copy(sw->name, sizeof(sw->name), row->name);
    sw->state = row->state;
    sw->best_output = NAN;
    rc = sweep_spec_from_json(row->spec_json, &sw->spec, err);
    if (rc)
        goto out;
    config_from_spec(&sw->spec, &cfg);
    sw->opt = carbs_new(&sw->spec.parameters, &cfg, err);
    if (!sw->opt) {
        rc = err ? err->code : CARBS_EINVAL;
        goto out;
    }

    {
        store_verify_t *ver = NULL;
        size_t n_ver = 0;
        if ((rc = store_verify_list(svc->st, sw->id, &ver, &n_ver, err)))
            goto out;
        for (size_t i = 0; i < n_ver; i++)
            DA_PUSH(&sw->verify, ver[i].trial_id);
        free(ver);
    }
    f.sweep_id = sw->id;
    it = store_trial_iter_new(svc->st, &f, err);
    if (!it) {
        rc = err ? err->code : CARBS_ESTORE;
        goto out;
    }
    while ((rc = store_trial_iter_next(it, &t)) == CARBS_CONTINUE) {
        bool ver = is_verify(sw, t->id);
        sw->counts[t->state]++;
        switch (t->state) {
        case CARBS_TRIAL_PENDING:
            /* a verification run may lie outside the space: never the optimizer's */
            if (!ver && (rc = replay_pending(sw, t, err)))
                goto out;
            DA_PUSH(&sw->queue, t->id);
            break;
        case CARBS_TRIAL_RUNNING: {
            svc_trial_t st = {0};
            if (!ver && (rc = replay_pending(sw, t, err)))
                goto out;
            st.id = t->id;
            st.attempt = t->attempt;
            st.sw = sw;
            str_copy(st.worker, sizeof(st.worker), t->worker);
            st.is_ask = strcmp(t->worker, SVC_ASK_WORKER) == 0;
            st.deadline = svc__lease_on_load(svc, t->lease_deadline, now);
            st.stored_deadline = t->lease_deadline;
            st.inherited = !st.is_ask;
            svc__running_add(svc, &st);
            break;
        }
        case CARBS_TRIAL_LOST:
            if (!ver && (rc = replay_pending(sw, t, err)))
                goto out;
            DA_PUSH(&lost, t->id);
            break;
        case CARBS_TRIAL_DONE:
        case CARBS_TRIAL_FAILED: {
            store_result_t res = {0};
            replay_obs_t o = {0};
            if (ver)
                break; /* checks a law; teaches the search nothing */
            if (store_result_get(svc->st, t->id, &res, err) != 0)
                break; /* cannot happen for a finished trial; nothing to learn */
            o.id = t->id;
            o.created = res.created;
            o.output = res.output;
            o.cost = res.cost;
            o.ok = res.ok;
            o.failure = res.failure;
            o.imported = strcmp(t->worker, SVC_IMPORT_WORKER) == 0;
            store_result_release(&res);
            if ((rc = proto_params_from_json(t->params_json, &o.params, err))) {
                carbs_err_prefix(err, "trial");
                goto out;
            }
            DA_PUSH(&obs, o);
            break;
        }
        default:
            break;
        }
    }
    if (rc < 0)
        goto out;
    rc = 0;

    /* Observations in the order they were committed, as the live service
     * told them. */
    if (obs.n > 1)
        qsort(obs.v, obs.n, sizeof(*obs.v), replay_cmp);
    for (size_t i = 0; i < obs.n; i++) {
        const replay_obs_t *o = &obs.v[i];
        store_result_t res = {0};
        res.trial_id = o->id;
        res.ok = o->ok;
        res.failure = o->failure;
        res.output = o->output;
        res.cost = o->cost;
        learn(sw, &res, &o->params, o->imported);
    }

    if (store_optstate_get(svc->st, sw->id, &os, NULL) == 0 && os.rng_len) {
        carbs_err_t e2 = {0};
        if (carbs_restore(sw->opt, os.rng, os.rng_len, &e2))
            log_warn("sweep %s: optimizer snapshot not restored (%s); continuing from the "
                     "replayed history", sw->name, e2.msg);
    }
    store_optstate_release(&os);
    if (sw->state == CARBS_SWEEP_PAUSED && sw->spec.budget.max_consecutive_failures > 0) {
        /* Paused by an earlier service after failures in a row: say why
         * again, from the results that caused it. */
        store_failure_run_t fr;
        int limit = sw->spec.budget.max_consecutive_failures;
        if (store_sweep_failure_run(svc->st, sw->id, limit, &fr, NULL) == 0 && fr.run >= limit)
            snprintf(sw->pause_reason, sizeof(sw->pause_reason),
                     "%d trials in a row failed with %s: %.200s", fr.run,
                     carbs_failure_name(fr.failure), fr.message[0] ? fr.message : "(no message)");
    }
    DA_PUSH(&svc->sweeps, sw);
    /* Lost trials (a crash between losing and re-queueing): finish the job. */
    for (size_t i = 0; i < lost.n; i++) {
        svc_trial_t st = {0};
        st.id = lost.v[i];
        st.sw = sw;
        svc__running_add(svc, &st);
        count_move(sw, CARBS_TRIAL_LOST, CARBS_TRIAL_RUNNING);
        svc__lose(svc, lost.v[i], "it was lost before the service stopped", false);
    }
    log_info("sweep %s: %zu done, %zu failed, %zu pending, %zu running", sw->name,
             sw->counts[CARBS_TRIAL_DONE], sw->counts[CARBS_TRIAL_FAILED],
             sw->counts[CARBS_TRIAL_PENDING], sw->counts[CARBS_TRIAL_RUNNING]);
    sw = NULL;

out:
    for (size_t i = 0; i < obs.n; i++)
        carbs_params_release(&obs.v[i].params);
    DA_FREE(&obs);
    DA_FREE(&lost);
    store_trial_iter_free(it);
    if (sw) {
        carbs_err_prefix(err, row->name);
        /* drop running entries that point at this sweep */
        const svc_trial_t *rt;
        for (size_t i = 0; (rt = svc__running_at(svc, i));)
            if (rt->sw == sw)
                svc__running_remove(svc, rt->id);
            else
                i++;
        svc__sweep_free(sw);
    }
    return rc;
}

// ---- budget and state ----

/* The trials that use up budget.trials: every one but the cancelled, the
 * imported and the verification runs (docs/service.md, Budget and states). */
static size_t n_trials(const svc_sweep_t *sw)
{
    size_t n = 0;

    for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
        if (s != CARBS_TRIAL_CANCELLED)
            n += sw->counts[s];
    size_t less = sw->imported + sw->verify.n;

    return n > less ? n - less : 0;
}

/* Why budget b allows no new trial after n trials that spent cost, into
 * why[cap]; false when it allows one. */
static bool budget_spent(const sweep_budget_t *b, size_t n, double cost, char *why, size_t cap)
{
    if (b->trials > 0 && n >= (size_t)b->trials) {
        snprintf(why, cap, "%zu trials of budget.trials %" PRId64 " run", n, b->trials);
        return true;
    }
    if (b->cost > 0 && cost >= b->cost) {
        snprintf(why, cap, "cost %.6g of budget.cost %.6g spent", cost, b->cost);
        return true;
    }
    return false;
}

static bool budget_allows_new(const svc_sweep_t *sw)
{
    char why[128];

    return !budget_spent(&sw->spec.budget, n_trials(sw), sw->cost_spent, why, sizeof(why));
}

void svc__sweep_update_state(service_t *svc, svc_sweep_t *sw)
{
    carbs_err_t err = {0};

    if (sw->state != CARBS_SWEEP_ACTIVE || budget_allows_new(sw) || sw->queue.n ||
        sw->counts[CARBS_TRIAL_RUNNING])
        return;
    if (store_sweep_set_state(svc->st, sw->id, CARBS_SWEEP_DONE, &err)) {
        log_warn("sweep %s: %s", sw->name, err.msg);
        return;
    }
    sw->state = CARBS_SWEEP_DONE;
    log_info("sweep %s: done (%zu trials, best %.6g, cost %.6g)", sw->name, n_trials(sw),
             sw->best_output, sw->cost_spent);
}

// ---- requests: create, pause, resume, stop ----

int svc__sweep_create(service_t *svc, const char *spec_json, int64_t *id, carbs_err_t *err)
{
    sweep_spec_t spec = {0};
    store_sweep_t row = {0};
    char *canon = NULL;
    int rc;

    *id = 0;
    if ((rc = sweep_spec_from_json(spec_json, &spec, err)) ||
        (rc = sweep_spec_to_json(&spec, &canon, err)) ||
        (rc = store_sweep_create(svc->st, spec.name, canon, id, err)) ||
        (rc = store_sweep_get_id(svc->st, *id, &row, err)) ||
        (rc = svc__sweep_load(svc, &row, err)))
        goto out;
    log_info("sweep %s: created by request (id %" PRId64 ")", spec.name, *id);
out:
    free(canon);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

/* Cancel every open trial of sw (stop): its workers get `cancel`. */
static void cancel_open(service_t *svc, svc_sweep_t *sw, const char *reason)
{
    carbs_err_t err = {0};
    DA_TYPE(int64_t) ids = {0};
    const svc_trial_t *t;

    for (size_t i = 0; (t = svc__running_at(svc, i)); i++) {
        svc_worker_t *w;
        if (t->sw != sw)
            continue;
        DA_PUSH(&ids, t->id);
        if (!t->is_ask && (w = svc__worker_find(svc, t->worker)) && w->connected) {
            proto_msg_t m;
            proto_msg_init(&m, PROTO_MSG_CANCEL);
            m.cancel.trial_id = t->id;
            str_copy(m.cancel.reason, sizeof(m.cancel.reason), reason);
            svc__send(svc->out, &w->peer, &m);
            proto_msg_release(&m);
        }
    }
    for (size_t i = 0; i < sw->queue.n; i++)
        DA_PUSH(&ids, sw->queue.v[i]);
    sw->queue.n = 0;
    for (size_t i = 0; i < ids.n; i++) {
        store_trial_t row = {0};
        if (store_trial_get(svc->st, ids.v[i], &row, &err) == 0 &&
            store_trial_cancel(svc->st, ids.v[i], &err) == 0) {
            count_move(sw, row.state, CARBS_TRIAL_CANCELLED);
            carbs_forget(sw->opt, ids.v[i], NULL);
        } else {
            log_warn("trial %" PRId64 ": not cancelled: %s", ids.v[i], err.msg);
        }
        store_trial_release(&row);
        svc__running_remove(svc, ids.v[i]);
    }
    DA_FREE(&ids);
}

int svc__sweep_set_state(service_t *svc, svc_sweep_t *sw, carbs_sweep_state_t to,
                         carbs_err_t *err)
{
    int rc;

    if (sw->state == CARBS_SWEEP_DONE || sw->state == CARBS_SWEEP_STOPPED)
        return carbs_fail(err, CARBS_ESTATE, "sweep '%s' is %s: it cannot be %s", sw->name,
                          carbs_sweep_state_name(sw->state),
                          to == CARBS_SWEEP_PAUSED   ? "paused"
                          : to == CARBS_SWEEP_ACTIVE ? "resumed"
                                                     : "stopped");
    if ((rc = store_sweep_set_state(svc->st, sw->id, to, err)))
        return rc;
    sw->state = to;
    sw->fail_run = 0;
    sw->pause_reason[0] = '\0';
    if (to == CARBS_SWEEP_STOPPED) {
        char why[CARBS_MSG_MAX];
        snprintf(why, sizeof(why), "sweep '%s' stopped", sw->name);
        cancel_open(svc, sw, why);
    }
    log_info("sweep %s: %s by request", sw->name, carbs_sweep_state_name(to));
    svc__sweep_update_state(svc, sw);
    return 0;
}

/* A trial of sw finished.  A run of budget.max_consecutive_failures
 * failures with the same cause (an `error`, or `infra` once out of
 * retries: a broken command or script, not a bad configuration, which
 * fails as `diverged` or `oom`) pauses the sweep before it spends its
 * budget on the same failure (docs/service.md, Budget and states). */
static void note_outcome(service_t *svc, svc_sweep_t *sw, const store_result_t *res)
{
    int limit = sw->spec.budget.max_consecutive_failures;
    bool counts = !res->ok && (res->failure == CARBS_FAILURE_ERROR ||
                               res->failure == CARBS_FAILURE_INFRA);
    char cause[CARBS_MSG_MAX];
    carbs_err_t err = {0};

    snprintf(cause, sizeof(cause), "%s: %.200s", carbs_failure_name(res->failure),
             res->message[0] ? res->message : "(no message)");
    if (!counts || strcmp(cause, sw->fail_cause) != 0)
        sw->fail_run = 0;
    str_copy(sw->fail_cause, sizeof(sw->fail_cause), counts ? cause : "");
    if (!counts || ++sw->fail_run < limit || limit <= 0 || sw->state != CARBS_SWEEP_ACTIVE)
        return;
    if (store_sweep_set_state(svc->st, sw->id, CARBS_SWEEP_PAUSED, &err)) {
        log_error("sweep %s: cannot pause it: %s", sw->name, err.msg);
        return;
    }
    sw->state = CARBS_SWEEP_PAUSED;
    snprintf(sw->pause_reason, sizeof(sw->pause_reason), "%d trials in a row failed with %.200s",
             sw->fail_run, cause);
    log_error("sweep %s: paused: %s; fix the cause, then `carbs sweep resume %s`", sw->name,
              sw->pause_reason, sw->name);
}

// ---- handing out trials ----

static bool worker_can_run(const svc_worker_t *w, proto_trainer_t k)
{
    switch (k) {
    case PROTO_TRAINER_EMBEDDED:
        return w->caps.embedded;
    case PROTO_TRAINER_COMMAND:
        return w->caps.command;
    case PROTO_TRAINER_SYNTHETIC:
        return w->caps.synthetic;
    default:
        return false;
    }
}

/* Make a new trial from the optimizer: stored pending with its snapshot.
 * Returns 0 with *id set. */
static int new_trial(service_t *svc, svc_sweep_t *sw, int64_t *id, carbs_err_t *err)
{
    carbs_suggestion_t s = {0};
    store_trial_new_t tn = {0};
    store_optstate_t os = {0};
    uint8_t *snap = NULL;
    size_t snap_len = 0;
    uint8_t *undo = NULL;
    size_t undo_len = 0;
    char *pj = NULL;
    int rc;

    /* If the trial cannot be stored, the optimizer goes back to where it
     * was, so the live service keeps making the search a restart would. */
    if ((rc = carbs_snapshot(sw->opt, &undo, &undo_len, err)))
        return rc;
    rc = carbs_suggest(sw->opt, &s, err);

    /* The snapshot after the suggestion (generator, resample counter, warm
     * starts) is stored with the trial in one transaction: a crash leaves
     * both or neither, so a restart continues exactly.  Registering the
     * pending suggestion below does not change what a snapshot holds. */
    if (rc == 0)
        rc = proto_params_to_json(&s.params, &pj, err);
    if (rc == 0)
        rc = carbs_snapshot(sw->opt, &snap, &snap_len, err);
    if (rc)
        goto out;
    os.rng = snap;
    os.rng_len = snap_len;
    tn.sweep_id = sw->id;
    tn.params_json = pj;
    tn.u = s.u;
    tn.d = carbs_dim(sw->opt);
    tn.pred_output = s.pred_output;
    tn.pred_cost = s.pred_cost;
    tn.optstate = &os;
    if ((rc = store_trial_add(svc->st, &tn, id, err))) {
        carbs_err_t e2 = {0};
        if (carbs_restore(sw->opt, undo, undo_len, &e2))
            log_error("sweep %s: optimizer not rewound: %s", sw->name, e2.msg);
        goto out;
    }
    sw->counts[CARBS_TRIAL_PENDING]++;
    if ((rc = carbs_pending_add(sw->opt, *id, &s.params, s.u, err)))
        goto out;
    log_debug("sweep %s: trial %" PRId64 " (%s) %s", sw->name, *id, carbs_suggest_kind_name(s.kind),
              pj);
out:
    free(undo);
    free(snap);
    free(pj);
    carbs_suggestion_release(&s);
    return rc;
}

/* Take trial id (pending) for holder: claim it in the store and track it. */
static int claim(service_t *svc, svc_sweep_t *sw, int64_t id, const char *holder, double deadline,
                 bool is_ask, int *attempt, carbs_err_t *err)
{
    svc_trial_t t = {0};
    int rc = store_trial_claim(svc->st, id, holder, deadline, attempt, err);

    if (rc)
        return rc;
    count_move(sw, CARBS_TRIAL_PENDING, CARBS_TRIAL_RUNNING);
    t.id = id;
    t.attempt = *attempt;
    t.sw = sw;
    str_copy(t.worker, sizeof(t.worker), holder);
    t.deadline = t.stored_deadline = deadline;
    t.confirmed = true;
    t.is_ask = is_ask;
    svc__running_add(svc, &t);
    return 0;
}

/* A trial for sw: the oldest re-queued one, else a new suggestion.
 * Returns 0 with *id, CARBS_ENOTFOUND when the budget allows none. */
static int next_trial(service_t *svc, svc_sweep_t *sw, int64_t *id, carbs_err_t *err)
{
    if (sw->queue.n) {
        *id = sw->queue.v[0];
        memmove(sw->queue.v, sw->queue.v + 1, (sw->queue.n - 1) * sizeof(*sw->queue.v));
        sw->queue.n--;
        return 0;
    }
    if (!budget_allows_new(sw))
        return CARBS_ENOTFOUND;
    return new_trial(svc, sw, id, err);
}

static int send_trial(service_t *svc, svc_sweep_t *sw, svc_worker_t *w, int64_t id, int attempt,
                      carbs_err_t *err)
{
    store_trial_t row = {0};
    proto_msg_t m;
    proto_trial_t *tr;
    int rc;

    proto_msg_init(&m, PROTO_MSG_TRIAL);
    tr = &m.trial;
    if ((rc = store_trial_get(svc->st, id, &row, err)))
        goto out;
    tr->trial_id = id;
    tr->sweep_id = sw->id;
    tr->attempt = attempt;
    tr->trainer = sw->spec.trainer;
    if ((rc = proto_params_from_json(row.params_json, &tr->params, err)) ||
        (rc = carbs_params_copy(&tr->fixed, &sw->spec.fixed)))
        goto out;
    for (size_t i = 0; i < sw->spec.command.n; i++) {
        char *a = xstrdup(sw->spec.command.v[i]);
        if (DA_PUSH(&tr->argv, a)) {
            free(a);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (sw->spec.trainer == PROTO_TRAINER_SYNTHETIC) {
        str_copy(tr->synthetic.function, sizeof(tr->synthetic.function),
                 sweep_synth_name(sw->spec.synthetic.function));
        tr->synthetic.seconds_per_cost = sw->spec.synthetic.seconds_per_cost;
        if ((rc = carbs_params_copy(&tr->synthetic.fail_above, &sw->spec.synthetic.fail_above)))
            goto out;
        /* The trial message has no field for the random failure rate: the
         * worker reads it from the fixed settings (docs/worker.md). */
        if (sw->spec.synthetic.fail_rate > 0 &&
            (rc = carbs_params_set_num(&tr->fixed, "fail_rate", sw->spec.synthetic.fail_rate)))
            goto out;
    }
    str_copy(tr->metric, sizeof(tr->metric), sw->spec.metric.name);
    str_copy(tr->cost, sizeof(tr->cost), sw->spec.cost.name);
    tr->lease_ms = svc->cfg.lease_ms;
    svc__send(svc->out, &w->peer, &m);
out:
    store_trial_release(&row);
    proto_msg_release(&m);
    return rc;
}

static void send_wait(service_t *svc, const svc_worker_t *w, int retry_ms)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_WAIT);
    m.wait.retry_ms = retry_ms;
    svc__send(svc->out, &w->peer, &m);
    proto_msg_release(&m);
}

int svc__sweep_take_trial(service_t *svc, svc_sweep_t *sw, const char *holder, double deadline,
                          bool is_ask, int64_t *id, int *attempt, carbs_err_t *err)
{
    int rc = next_trial(svc, sw, id, err);

    if (rc == CARBS_ENOTFOUND)
        return carbs_fail(err, rc, "sweep '%s' has spent its budget", sw->name);
    if (rc == 0)
        rc = claim(svc, sw, *id, holder, deadline, is_ask, attempt, err);
    return rc;
}

int svc__sweep_import(service_t *svc, svc_sweep_t *sw, const proto_record_t *rec,
                      const char *holder, carbs_err_t *err)
{
    store_trial_new_t tn = {0};
    store_result_t res = {0};
    char *pj = NULL, *mj = NULL;
    char why[CARBS_MSG_MAX];
    int64_t id = 0;
    int attempt = 0;
    int rc;

    /* Validate against the space before anything is stored. */
    if ((rc = proto_params_to_json(&rec->params, &pj, err)))
        goto out;
    tn.sweep_id = sw->id;
    tn.params_json = pj;
    tn.pred_output = tn.pred_cost = NAN;
    if (!rec->is_failure && !cost_valid(NULL, rec->cost, why, sizeof(why))) {
        rc = carbs_fail(err, CARBS_EINVAL, "%s", why);
        goto out;
    }
    if ((rc = carbs_pending_add(sw->opt, INT64_MAX, &rec->params, NULL, err)))
        goto out; /* the params are outside the space: nothing stored */
    carbs_forget(sw->opt, INT64_MAX, NULL);
    if ((rc = store_trial_add(svc->st, &tn, &id, err)))
        goto out;
    sw->counts[CARBS_TRIAL_PENDING]++;
    if ((rc = store_trial_claim(svc->st, id, holder, now_wall(), &attempt, err)))
        goto out;
    count_move(sw, CARBS_TRIAL_PENDING, CARBS_TRIAL_RUNNING);
    res.trial_id = id;
    res.ok = !rec->is_failure;
    res.failure = rec->is_failure ? (rec->metrics.failure != CARBS_FAILURE_NONE
                                         ? rec->metrics.failure
                                         : CARBS_FAILURE_ERROR)
                                  : CARBS_FAILURE_NONE;
    str_copy(res.message, sizeof(res.message), rec->metrics.message);
    res.output = rec->is_failure ? NAN : rec->output;
    res.cost = rec->cost;
    if ((rc = proto_result_to_json(&rec->metrics, 0, &mj, err)))
        goto out;
    res.metrics_json = mj;
    if ((rc = store_trial_finish(svc->st, &res, NULL, 0, NULL, err)))
        goto out;
    count_move(sw, CARBS_TRIAL_RUNNING, res.ok ? CARBS_TRIAL_DONE : CARBS_TRIAL_FAILED);
    learn(sw, &res, &rec->params, true);
out:
    free(pj);
    free(mj);
    return rc;
}

// ---- verification runs ----

int svc__sweep_verify(service_t *svc, svc_sweep_t *sw, const proto_verify_t *v, int64_t *id,
                      carbs_err_t *err)
{
    store_trial_new_t tn = {0};
    store_verify_t sv = {0};
    char *pj = NULL;
    int rc;

    *id = 0;
    if (sw->state == CARBS_SWEEP_STOPPED)
        return carbs_fail(err, CARBS_ESTATE,
                          "sweep '%s' is stopped: it runs no more trials, verification or other",
                          sw->name);
    if ((rc = proto_params_to_json(&v->params, &pj, err)))
        return rc;
    tn.sweep_id = sw->id;
    tn.params_json = pj;
    tn.pred_output = v->predicted;
    tn.pred_cost = strcmp(v->cost_name, sw->spec.cost.name) == 0 ? v->cost : NAN;
    sv.cost = v->cost;
    str_copy(sv.cost_name, sizeof(sv.cost_name), v->cost_name);
    str_copy(sv.estimator, sizeof(sv.estimator), v->estimator);
    sv.predicted = v->predicted;
    sv.lo = v->lo;
    sv.hi = v->hi;
    sv.level = v->level;
    if ((rc = store_verify_add(svc->st, &tn, &sv, id, err)))
        goto out;
    sw->counts[CARBS_TRIAL_PENDING]++;
    if (DA_PUSH(&sw->verify, *id) || DA_PUSH(&sw->queue, *id)) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory queueing trial %" PRId64, *id);
        goto out;
    }
    /* A finished sweep runs again for the one trial, and is done again
     * when it has run (svc__sweep_update_state). */
    if (sw->state == CARBS_SWEEP_DONE) {
        if ((rc = store_sweep_set_state(svc->st, sw->id, CARBS_SWEEP_ACTIVE, err)))
            goto out;
        sw->state = CARBS_SWEEP_ACTIVE;
    }
    log_info("sweep %s: verification trial %" PRId64 " queued: %s, predicted %s %.6g at %s %.6g "
             "(%s)",
             sw->name, *id, pj, sw->spec.metric.name, v->predicted, v->cost_name, v->cost,
             v->estimator);
out:
    free(pj);
    return rc;
}

// ---- sweep_admin: extend, rename, delete ----

/* The store's row of sweep which, and the sweep as loaded here (NULL when
 * this service does not hold it). */
static int admin_target(service_t *svc, const char *which, store_sweep_t *row, svc_sweep_t **sw,
                        carbs_err_t *err)
{
    *sw = svc__sweep_find(svc, which);
    if (*sw)
        return store_sweep_get_id(svc->st, (*sw)->id, row, err);
    return store_sweep_get(svc->st, which, row, err);
}

/* Trials and cost sw has used of its budget: from the loaded sweep, else
 * from the store with the same definitions (store_sweep_counts). */
static int budget_used(service_t *svc, const store_sweep_t *row, const svc_sweep_t *sw, size_t *n,
                       double *cost, carbs_err_t *err)
{
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    store_trial_filter_t f = {0};
    store_trial_iter_t *it;
    int rc;

    if (sw) {
        *n = n_trials(sw);
        *cost = sw->cost_spent;
        return 0;
    }
    rc = store_sweep_counts(svc->st, row->id, counts, cost, err);
    if (rc)
        return rc;
    f.sweep_id = row->id;
    f.worker = SVC_IMPORT_WORKER;
    it = store_trial_iter_new(svc->st, &f, err);
    if (!it)
        return err ? err->code : CARBS_ESTORE;
    *n = 0;
    for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
        if (s != CARBS_TRIAL_CANCELLED)
            *n += counts[s];
    *n = *n > store_trial_iter_count(it) ? *n - store_trial_iter_count(it) : 0;
    store_trial_iter_free(it);
    return 0;
}

int svc__sweep_extend(service_t *svc, const char *which, int64_t trials, double cost,
                      int64_t *id, char *msg, size_t cap, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    svc_sweep_t *sw = NULL;
    carbs_sweep_state_t state;
    char *json = NULL, why[128];
    size_t n = 0;
    double spent = 0;
    bool more_cost = isfinite(cost) && cost > 0;
    int rc;

    *id = 0;
    rc = admin_target(svc, which, &row, &sw, err);
    if (rc)
        goto out;
    *id = row.id;
    state = sw ? sw->state : row.state;
    if (state == CARBS_SWEEP_STOPPED) {
        rc = carbs_fail(err, CARBS_ESTATE, "sweep '%s' is stopped, which is final: create it "
                                           "again under a new name to search on", row.name);
        goto out;
    }
    if (trials < 0 || (trials == 0 && !more_cost) || (isfinite(cost) && cost < 0)) {
        rc = carbs_fail(err, CARBS_EINVAL, "extend: give trials > 0, cost > 0 or both");
        goto out;
    }
    rc = sweep_spec_from_json(row.spec_json, &spec, err);
    if (rc)
        goto out;
    if (trials > 0 && spec.budget.trials == 0) {
        rc = carbs_fail(err, CARBS_EINVAL, "sweep '%s' has no trial budget (budget.trials is "
                                           "unlimited): there is nothing to extend", row.name);
        goto out;
    }
    if (more_cost && spec.budget.cost <= 0) {
        rc = carbs_fail(err, CARBS_EINVAL, "sweep '%s' has no cost budget (budget.cost is "
                                           "unlimited): there is nothing to extend", row.name);
        goto out;
    }
    if (trials > INT64_MAX / 2 - spec.budget.trials ||
        (more_cost && !isfinite(spec.budget.cost + cost))) {
        rc = carbs_fail(err, CARBS_EINVAL, "extend: the budget would overflow");
        goto out;
    }
    spec.budget.trials += trials;
    if (more_cost)
        spec.budget.cost += cost;
    rc = budget_used(svc, &row, sw, &n, &spent, err);
    if (rc)
        goto out;
    if (budget_spent(&spec.budget, n, spent, why, sizeof(why))) {
        rc = carbs_fail(err, CARBS_ESTATE, "sweep '%s' would still hand out no trial (%s): add "
                                           "more", row.name, why);
        goto out;
    }
    rc = sweep_spec_to_json(&spec, &json, err);
    if (rc == 0)
        rc = store_sweep_update(svc->st, row.id, NULL, json,
                                state == CARBS_SWEEP_DONE ? (int)CARBS_SWEEP_ACTIVE : -1, err);
    if (rc)
        goto out;
    if (state == CARBS_SWEEP_DONE)
        state = CARBS_SWEEP_ACTIVE;
    if (sw) {
        sw->spec.budget = spec.budget;
        sw->state = state;
    } else if (state != CARBS_SWEEP_STOPPED && !svc->cfg.only_sweep && !svc->cfg.no_sweeps) {
        /* A done sweep this service never held: serve it from now on. */
        store_sweep_t now = {0};
        carbs_err_t e2 = {0};
        if (store_sweep_get_id(svc->st, row.id, &now, &e2) || svc__sweep_load(svc, &now, &e2))
            log_error("sweep %s: extended, but not served: %s", row.name, e2.msg);
        store_sweep_release(&now);
    }
    snprintf(msg, cap, "budget trials %" PRId64 ", cost %.6g (used: %zu trials, cost %.6g); %s",
             spec.budget.trials, spec.budget.cost, n, spent, carbs_sweep_state_name(state));
    log_info("sweep %s: extended by request: %s", row.name, msg);
out:
    free(json);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

int svc__sweep_rename(service_t *svc, const char *which, const char *name, int64_t *id,
                      carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    svc_sweep_t *sw = NULL;
    char *json = NULL;
    int rc;

    *id = 0;
    rc = sweep_name_check(name, err);
    if (rc == 0)
        rc = admin_target(svc, which, &row, &sw, err);
    if (rc)
        goto out;
    *id = row.id;
    /* The stored spec carries the name too: both change in one transaction. */
    rc = sweep_spec_from_json(row.spec_json, &spec, err);
    if (rc)
        goto out;
    str_copy(spec.name, sizeof(spec.name), name);
    rc = sweep_spec_to_json(&spec, &json, err);
    if (rc == 0)
        rc = store_sweep_update(svc->st, row.id, name, json, -1, err);
    if (rc)
        goto out;
    if (sw) {
        str_copy(sw->name, sizeof(sw->name), name);
        str_copy(sw->spec.name, sizeof(sw->spec.name), name);
    }
    log_info("sweep %s: renamed %s by request", name, row.name);
out:
    free(json);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

int svc__sweep_delete(service_t *svc, const char *which, int64_t *id, carbs_err_t *err)
{
    store_sweep_t row = {0};
    svc_sweep_t *sw = NULL;
    carbs_sweep_state_t state;
    int rc;

    *id = 0;
    rc = admin_target(svc, which, &row, &sw, err);
    if (rc)
        goto out;
    *id = row.id;
    state = sw ? sw->state : row.state;
    if (state == CARBS_SWEEP_ACTIVE || state == CARBS_SWEEP_PAUSED ||
        (sw && sw->counts[CARBS_TRIAL_RUNNING])) {
        rc = carbs_fail(err, CARBS_ESTATE, "sweep '%s' is %s: stop it first (`carbs sweep stop "
                                           "%s`), then delete it", row.name,
                        carbs_sweep_state_name(state), row.name);
        goto out;
    }
    rc = store_sweep_delete(svc->st, row.id, err);
    if (rc)
        goto out;
    if (sw) {
        size_t i = 0;
        while (i < svc->sweeps.n && svc->sweeps.v[i] != sw)
            i++;
        memmove(svc->sweeps.v + i, svc->sweeps.v + i + 1,
                (svc->sweeps.n - i - 1) * sizeof(*svc->sweeps.v));
        svc->sweeps.n--;
        svc__sweep_free(sw);
    }
    log_info("sweep %s: deleted by request (id %" PRId64 ")", row.name, row.id);
out:
    store_sweep_release(&row);
    return rc;
}

// ---- quarantine ----

/* Nobody left to run trials: say so loudly, since nothing else will. */
static void warn_if_all_quarantined(const service_t *svc)
{
    size_t connected = 0;

    for (size_t i = 0; i < svc->workers.n; i++) {
        const svc_worker_t *w = &svc->workers.v[i];
        if (w->connected && !w->quarantined)
            return;
        connected += w->connected;
    }
    if (connected)
        log_error("every connected worker is quarantined: no trial is handed out until a "
                  "quarantine ends (after %d s) or `carbs workers release ID` lifts one",
                  svc->cfg.quarantine_s);
}

/* A loss that points at worker's host: count it in the worker's window
 * and quarantine the worker once the window holds quarantine_losses. */
static void count_host_loss(service_t *svc, const char *worker)
{
    svc_worker_t *w = svc__worker_find(svc, worker);
    carbs_err_t err = {0};
    double now = now_wall();

    if (!w || w->quarantined)
        return;
    if (w->host_losses == 0 || now - w->window_start > SERVICE_LOSS_WINDOW_S) {
        w->host_losses = 0;
        w->window_start = now;
    }
    if (++w->host_losses < svc->cfg.quarantine_losses)
        return;
    if (store_worker_quarantine(svc->st, worker, true, &err)) {
        log_warn("worker %s: %s", worker, err.msg);
        return;
    }
    w->quarantined = true;
    w->host_losses = 0;
    log_warn("worker %s: quarantined for %d s after %d lost trials within %.0f s "
             "(`carbs workers release %s` lifts it)",
             worker, svc->cfg.quarantine_s, svc->cfg.quarantine_losses, now - w->window_start,
             worker);
    warn_if_all_quarantined(svc);
}

/* True when w's quarantine has run out (or was lifted in the store), which
 * then ends it here too. */
static bool quarantine_over(service_t *svc, svc_worker_t *w)
{
    store_worker_t row = {0};
    carbs_err_t err = {0};
    bool over;

    if (store_worker_get(svc->st, w->id, &row, &err))
        return false;
    over = !row.quarantined || now_wall() - row.quarantined_at >= svc->cfg.quarantine_s;
    store_worker_release(&row);
    if (over && store_worker_quarantine(svc->st, w->id, false, &err) &&
        err.code != CARBS_ENOTFOUND) {
        log_warn("worker %s: %s", w->id, err.msg);
        return false;
    }
    if (over) {
        w->quarantined = false;
        log_info("worker %s: quarantine over, it gets trials again", w->id);
    }
    return over;
}

int svc__worker_release(service_t *svc, const char *id, bool unbind, carbs_err_t *err)
{
    svc_worker_t *w = svc__worker_find(svc, id);
    int rc = store_worker_quarantine(svc->st, id, false, err);

    if (rc == 0 && unbind)
        rc = store_worker_bind(svc->st, id, NULL, NULL, err);
    if (rc)
        return rc;
    if (unbind)
        log_info("worker %s: its key binding removed by request", id);
    if (w) {
        w->quarantined = false;
        w->host_losses = 0;
    }
    log_info("worker %s: released from quarantine by request", id);
    return 0;
}

void svc__assign(service_t *svc, svc_worker_t *w)
{
    carbs_err_t err = {0};
    size_t n = svc->sweeps.n;

    if (w->quarantined && !quarantine_over(svc, w)) {
        char msg[CARBS_MSG_MAX];
        snprintf(msg, sizeof(msg),
                 "this worker is quarantined after repeated lost trials: it gets trials again "
                 "%d s after the quarantine began, or when `carbs workers release %s` lifts it",
                 svc->cfg.quarantine_s, w->id);
        svc__send_error(svc->out, &w->peer, CARBS_EDENIED, msg);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        svc_sweep_t *sw = svc->sweeps.v[(svc->rr + k) % n];
        double deadline = now_wall() + svc->cfg.lease_ms / 1000.0;
        int64_t id = 0;
        int attempt = 0, rc;

        if (sw->state != CARBS_SWEEP_ACTIVE || !worker_can_run(w, sw->spec.trainer))
            continue;
        if (sw->spec.budget.parallel > 0 &&
            sw->counts[CARBS_TRIAL_RUNNING] >= (size_t)sw->spec.budget.parallel)
            continue;
        rc = next_trial(svc, sw, &id, &err);
        if (rc == CARBS_ENOTFOUND)
            continue;
        if (rc == 0)
            rc = claim(svc, sw, id, w->id, deadline, false, &attempt, &err);
        if (rc == 0)
            rc = send_trial(svc, sw, w, id, attempt, &err);
        if (rc) {
            log_error("sweep %s: cannot start a trial: %s", sw->name, err.msg);
            svc__send_error(svc->out, &w->peer, rc, err.msg);
            return;
        }
        svc->rr = (svc->rr + k + 1) % n;
        log_debug("trial %" PRId64 " (sweep %s, attempt %d) -> %s", id, sw->name, attempt, w->id);
        return;
    }
    send_wait(svc, w, svc->cfg.wait_ms);
}

// ---- results ----

static void send_ack(service_t *svc, const wire_peer_t *peer, int64_t trial_id, bool is_tell,
                     const char *message)
{
    proto_msg_t m;

    if (is_tell) {
        proto_msg_init(&m, PROTO_MSG_REPLY);
        m.reply.ok = message == NULL;
        m.reply.trial_id = trial_id;
        if (message)
            str_copy(m.reply.message, sizeof(m.reply.message), message);
    } else {
        proto_msg_init(&m, PROTO_MSG_ACK);
        m.ack.trial_id = trial_id;
    }
    svc__send(svc->out, peer, &m);
    proto_msg_release(&m);
}

void svc__lose(service_t *svc, int64_t trial_id, const char *why, bool host_fault)
{
    carbs_err_t err = {0};
    svc_trial_t *t = svc__running_find(svc, trial_id);
    svc_sweep_t *sw;
    char worker[CARBS_NAME_MAX];
    bool blame;
    int rc;

    if (!t)
        return;
    sw = t->sw;
    str_copy(worker, sizeof(worker), t->worker);
    /* A trial taken over at open that its worker never named may never have
     * reached it: not a loss of the worker's (docs/service.md, Quarantine). */
    blame = !t->inherited;
    svc__running_remove(svc, trial_id);
    rc = blame ? store_trial_lose(svc->st, trial_id, &err)
               : store_trial_lose_unblamed(svc->st, trial_id, &err);
    if (rc && rc != CARBS_ESTATE) { /* ESTATE: already lost (a replayed crash) */
        log_error("trial %" PRId64 ": cannot mark it lost: %s", trial_id, err.msg);
        return;
    }
    count_move(sw, CARBS_TRIAL_RUNNING, CARBS_TRIAL_LOST);
    if (blame && host_fault && worker[0] && worker[0] != '(')
        count_host_loss(svc, worker);
    rc = store_trial_requeue(svc->st, trial_id, sw->spec.budget.max_retries, &err);
    if (rc == 0) {
        count_move(sw, CARBS_TRIAL_LOST, CARBS_TRIAL_PENDING);
        DA_PUSH(&sw->queue, trial_id);
        log_warn("trial %" PRId64 " lost (%s): re-queued", trial_id, why);
        return;
    }
    if (rc == CARBS_ESTATE) {
        store_result_t res = {0};
        res.trial_id = trial_id;
        res.ok = false;
        res.failure = CARBS_FAILURE_INFRA;
        snprintf(res.message, sizeof(res.message), "lost %d times, last because %s",
                 sw->spec.budget.max_retries + 1, why);
        res.output = res.cost = NAN;
        if (store_trial_finish(svc->st, &res, NULL, 0, NULL, &err) == 0) {
            count_move(sw, CARBS_TRIAL_LOST, CARBS_TRIAL_FAILED);
            carbs_forget(sw->opt, trial_id, NULL);
            log_warn("trial %" PRId64 " failed: %s", trial_id, res.message);
            if (!is_verify(sw, trial_id))
                note_outcome(svc, sw, &res);
            svc__sweep_update_state(svc, sw);
            return;
        }
    }
    log_error("trial %" PRId64 ": cannot re-queue it: %s", trial_id, err.msg);
}

void svc__on_result(service_t *svc, const wire_peer_t *peer, const carbs_result_t *r, bool is_tell)
{
    carbs_err_t err = {0};
    store_trial_t row = {0};
    store_result_t res = {0};
    svc_sweep_t *sw;
    svc_trial_t *t;
    carbs_params_t params = {0};
    char *mj = NULL;
    bool dup = false;
    double output, cost;
    const char *cost_name;
    int rc;

    if ((rc = store_trial_get(svc->st, r->trial_id, &row, &err))) {
        if (rc == CARBS_ENOTFOUND)
            send_ack(svc, peer, r->trial_id, is_tell, "no such trial");
        else
            svc__send_error(svc->out, peer, rc, err.msg);
        goto out;
    }
    sw = sweep_by_id(svc, row.sweep_id);
    t = svc__running_find(svc, r->trial_id);
    if (!is_tell && r->attempt != row.attempt) {
        log_info("trial %" PRId64 ": result of attempt %d ignored (now at attempt %d)", r->trial_id,
                 r->attempt, row.attempt);
        send_ack(svc, peer, r->trial_id, false, NULL);
        goto out;
    }
    if (!r->ok && !carbs_failure_is_hyper(r->failure) && r->failure != CARBS_FAILURE_NONE) {
        /* infra or preempted: not the configuration's fault.  Lose and
         * re-queue (when it is still ours), then acknowledge. */
        if (t)
            svc__lose(svc, r->trial_id,
                      r->message[0] ? r->message : carbs_failure_name(r->failure), false);
        send_ack(svc, peer, r->trial_id, is_tell, NULL);
        goto out;
    }

    output = sw ? carbs_result_get(r, sw->spec.metric.name) : NAN;
    cost = result_cost(sw, r);
    cost_name = sw ? sw->spec.cost.name : "cost";
    res.trial_id = r->trial_id;
    res.attempt = is_tell ? 0 : r->attempt;
    res.ok = r->ok;
    res.failure = r->failure;
    str_copy(res.message, sizeof(res.message), r->message);
    /* A failure that names no kind is stored as `error`: map it here, so
     * the live sweep learns what a resumed one replays from the store. */
    if (!r->ok && r->failure == CARBS_FAILURE_NONE)
        res.failure = CARBS_FAILURE_ERROR;
    if (r->ok && sw && !isfinite(output)) {
        res.ok = false;
        res.failure = CARBS_FAILURE_ERROR;
        snprintf(res.message, sizeof(res.message), "the metric '%s' was %s", sw->spec.metric.name,
                 isnan(output) ? "not reported" : "not finite");
    } else if (r->ok && sw && !cost_valid(cost_name, cost, res.message, sizeof(res.message))) {
        res.ok = false;
        res.failure = CARBS_FAILURE_ERROR;
    }
    res.output = res.ok ? output : NAN;
    res.cost = isfinite(cost) && cost > 0 ? cost : NAN;
    if ((rc = proto_result_to_json(r, 0, &mj, &err)))
        goto refuse;
    res.metrics_json = mj;
    rc = store_trial_finish(svc->st, &res, r->curve.v, r->curve.n, &dup, &err);
    if (rc == CARBS_ESTATE) {
        /* pending again, or cancelled: this result is for a run that no
         * longer counts. */
        log_info("trial %" PRId64 ": result ignored: %s", r->trial_id, err.msg);
        send_ack(svc, peer, r->trial_id, is_tell, is_tell ? err.msg : NULL);
        goto out;
    }
    if (rc)
        goto refuse;
    send_ack(svc, peer, r->trial_id, is_tell, NULL);
    if (dup || !sw)
        goto out;

    /* Committed and acknowledged: now the optimizer learns it. */
    svc__running_remove(svc, r->trial_id);
    count_move(sw, row.state, res.ok ? CARBS_TRIAL_DONE : CARBS_TRIAL_FAILED);
    if (is_verify(sw, r->trial_id)) {
        log_info("sweep %s: verification trial %" PRId64 " %s: %s %.6g (predicted %.6g)",
                 sw->name, r->trial_id, res.ok ? "done" : "failed", sw->spec.metric.name,
                 res.output, row.pred_output);
        svc__sweep_update_state(svc, sw);
        goto out;
    }
    if ((rc = proto_params_from_json(row.params_json, &params, &err)))
        log_error("sweep %s: trial %" PRId64 " not observed: %s", sw->name, r->trial_id, err.msg);
    learn(sw, &res, rc ? NULL : &params, false);
    if (svc->laws) {
        carbs_err_t e2 = {0};
        int hr = laws_actor_after_result(svc->laws, svc->st, sw->id, &e2);
        if (hr && hr != CARBS_ESTATE)
            log_warn("sweep %s: laws after trial %" PRId64 ": %s", sw->name, r->trial_id, e2.msg);
    }
    if (res.ok)
        log_info("trial %" PRId64 " done: %s %.6g, cost %.6g%s%s", r->trial_id,
                 sw->spec.metric.name, res.output, res.cost, strcmp(cost_name, "cost") ? " " : "",
                 strcmp(cost_name, "cost") ? cost_name : "");
    else
        log_info("trial %" PRId64 " failed (%s)%s%s", r->trial_id, carbs_failure_name(res.failure),
                 res.message[0] ? ": " : "", res.message);
    if (!is_tell)
        note_outcome(svc, sw, &res);
    svc__sweep_update_state(svc, sw);
    goto out;

refuse:
    log_error("trial %" PRId64 ": result not stored: %s", r->trial_id, err.msg);
    if (is_tell)
        send_ack(svc, peer, r->trial_id, true, err.msg);
    else
        svc__send_error(svc->out, peer, rc, err.msg);
out:
    free(mj);
    carbs_params_release(&params);
    store_trial_release(&row);
}
