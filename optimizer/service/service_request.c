/*
 * service_request.c - client requests to a running service: while it runs,
 * the CLI sends it its changes instead of writing the store (the writer
 * rule, docs/store.md).  sweep_create, status, pause, resume, stop, ask,
 * tell, import, verify; each is answered with one `reply`.  Requests see the
 * sweeps only through service_sweep.h.
 */
#include "proto/common.h"
#include "optimizer/service/service_request.h"

#include <inttypes.h>
#include <math.h>

#include "optimizer/service/service_sweep.h"
#include "optimizer/service/service_table.h"
#include "proto/json.h"
#include "proto/log.h"

/* The request being answered: the service, where replies go, and to whom. */
typedef struct req {
    service_t *svc;
    svc_outbox_t *out;
    const wire_peer_t *peer;
} req_t;

static void reply(const req_t *q, bool ok, int64_t sweep_id, int64_t trial_id,
                  const char *message)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_REPLY);
    m.reply.ok = ok;
    m.reply.sweep_id = sweep_id;
    m.reply.trial_id = trial_id;
    if (message)
        str_copy(m.reply.message, sizeof(m.reply.message), message);
    svc__send(q->out, q->peer, &m);
    proto_msg_release(&m);
}

/* The answer to a request that names a sweep this service does not hold. */
static void reply_no_sweep(const req_t *q, int64_t trial_id, const char *which)
{
    char msg[CARBS_MSG_MAX];

    snprintf(msg, sizeof(msg), "no active or paused sweep '%s' in this service", which);
    reply(q, false, 0, trial_id, msg);
}

// ---- status ----

/* The most workers, and running trials, a status reply lists; and the
 * most bytes of its document, which leaves room in the frame
 * (PROTO_FRAME_MAX) for the reply around it.  A list cut short says how
 * many it left out; `carbs workers` reads them all from the store. */
#define SVC_STATUS_LIST_MAX 1000
#define SVC_STATUS_BYTES_MAX (PROTO_FRAME_MAX - 4096)

/* The status of sweep which ("" = all) with at most list_max workers and
 * running trials, encoded into *out (caller frees) of *len bytes. */
static int status_encode(const req_t *q, const char *which, size_t list_max, char **out,
                         size_t *len, carbs_err_t *err)
{
    proto_status_t st = {0};
    double now = now_wall();
    const svc_sweep_t *sw;
    const svc_worker_t *w;
    const svc_trial_t *t;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && (sw = svc__sweep_at(q->svc, i)); i++) {
        proto_status_sweep_t v = {0};
        service_summary_t f;
        if (which[0] && sw != svc__sweep_find(q->svc, which))
            continue;
        svc__sweep_summary(sw, &f);
        v.id = f.sweep_id;
        str_copy(v.name, sizeof(v.name), f.name);
        v.state = f.state;
        for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
            v.trials[s] = (int64_t)f.counts[s];
        str_copy(v.metric, sizeof(v.metric), svc__sweep_spec(sw)->metric.name);
        v.best = f.best_output;
        v.best_trial = f.best_trial;
        v.cost_spent = f.cost_spent;
        str_copy(v.paused_because, sizeof(v.paused_because), f.pause_reason);
        rc = DA_PUSH(&st.sweeps, v);
    }
    for (i = 0; rc == 0 && (w = svc__worker_at(q->svc, i)); i++) {
        proto_status_worker_t v = {0};
        if (i >= list_max) {
            st.workers_unlisted++;
            continue;
        }
        str_copy(v.id, sizeof(v.id), w->id);
        str_copy(v.host, sizeof(v.host), w->host);
        v.slots = w->slots;
        v.connected = w->connected;
        v.quarantined = w->quarantined;
        v.idle_seconds = now - w->last_seen;
        rc = DA_PUSH(&st.workers, v);
    }
    for (i = 0; rc == 0 && (t = svc__running_at(q->svc, i)); i++) {
        proto_status_trial_t v = {0};
        if (i >= list_max) {
            st.running_unlisted++;
            continue;
        }
        v.trial = t->id;
        str_copy(v.sweep, sizeof(v.sweep), svc__sweep_name(t->sw));
        str_copy(v.worker, sizeof(v.worker), t->worker);
        v.attempt = t->attempt;
        v.lease_seconds = t->is_ask ? NAN : t->deadline - now;
        rc = DA_PUSH(&st.running, v);
    }
    if (rc)
        rc = carbs_fail(err, rc, "out of memory describing the service");
    else
        rc = proto_status_encode(&st, out, len, err);
    proto_status_release(&st);
    return rc;
}

static void on_status(const req_t *q, const char *which)
{
    proto_msg_t m;
    carbs_err_t err = {0};
    size_t len = 0, list_max = SVC_STATUS_LIST_MAX;
    int rc;

    if (which[0] && !svc__sweep_find(q->svc, which)) {
        reply_no_sweep(q, 0, which);
        return;
    }
    proto_msg_init(&m, PROTO_MSG_REPLY);
    /* Long host names escape to six bytes a character: halve the lists
     * until the document fits. */
    rc = status_encode(q, which, list_max, &m.reply.data, &len, &err);
    while (rc == 0 && len > SVC_STATUS_BYTES_MAX && list_max > 0) {
        free(m.reply.data);
        m.reply.data = NULL;
        list_max /= 2;
        rc = status_encode(q, which, list_max, &m.reply.data, &len, &err);
    }
    if (rc == 0 && len > SVC_STATUS_BYTES_MAX)
        rc = carbs_fail(&err, CARBS_ETOOBIG, "the status of %s does not fit one frame",
                        which[0] ? which : "every sweep");
    if (rc) {
        log_warn("status: %s", err.msg);
        free(m.reply.data);
        m.reply.data = NULL;
        str_copy(m.reply.message, sizeof(m.reply.message), err.msg);
    }
    m.reply.ok = rc == 0;
    svc__send(q->out, q->peer, &m);
    proto_msg_release(&m); /* frees the data */
}

// ---- sweep lifecycle ----

static void on_create(const req_t *q, const char *spec_json)
{
    carbs_err_t err = {0};
    int64_t id = 0;

    if (svc__sweep_create(q->svc, spec_json, &id, &err))
        reply(q, false, id, 0, err.msg);
    else
        reply(q, true, id, 0, NULL);
}

static void on_state(const req_t *q, proto_msg_type_t type, const char *which)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc__sweep_find(q->svc, which);
    carbs_sweep_state_t to = type == PROTO_MSG_PAUSE    ? CARBS_SWEEP_PAUSED
                             : type == PROTO_MSG_RESUME ? CARBS_SWEEP_ACTIVE
                                                        : CARBS_SWEEP_STOPPED;

    if (!sw)
        reply_no_sweep(q, 0, which);
    else if (svc__sweep_set_state(q->svc, sw, to, &err))
        reply(q, false, svc__sweep_id(sw), 0, err.msg);
    else
        reply(q, true, svc__sweep_id(sw), 0, NULL);
}

// ---- ask, tell, import ----

static void on_ask(const req_t *q, const char *which)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc__sweep_find(q->svc, which);
    proto_msg_t m;
    store_trial_t row = {0};
    int64_t id = 0;
    int attempt = 0;
    char msg[CARBS_MSG_MAX];

    if (!sw || svc__sweep_state(sw) != CARBS_SWEEP_ACTIVE) {
        snprintf(msg, sizeof(msg), "no active sweep '%s' in this service", which);
        reply(q, false, sw ? svc__sweep_id(sw) : 0, 0, msg);
        return;
    }
    if (svc__sweep_take_trial(q->svc, sw, SVC_ASK_WORKER, now_wall() + SVC_ASK_LEASE_S, true,
                              &id, &attempt, &err)) {
        reply(q, false, svc__sweep_id(sw), 0, err.msg);
        return;
    }
    proto_msg_init(&m, PROTO_MSG_REPLY);
    if (store_trial_get(svc__store(q->svc), id, &row, &err) ||
        proto_params_from_json(row.params_json, &m.reply.params, &err)) {
        m.reply.ok = false;
        str_copy(m.reply.message, sizeof(m.reply.message), err.msg);
    } else {
        m.reply.ok = true;
    }
    m.reply.sweep_id = svc__sweep_id(sw);
    m.reply.trial_id = id;
    svc__send(q->out, q->peer, &m);
    proto_msg_release(&m);
    store_trial_release(&row);
}

/* Why tl may not be told, in msg[cap], or "" when it may: the trial must
 * be one `ask` handed out (holder SVC_ASK_WORKER) of sweep sw, and a
 * success needs a cost that is finite and > 0.  A trial a worker runs is
 * that worker's to report. */
static void tell_refusal(const req_t *q, const svc_sweep_t *sw, const proto_tell_t *tl, char *msg,
                         size_t cap)
{
    carbs_err_t err = {0};
    store_trial_t row = {0};
    int rc = store_trial_get(svc__store(q->svc), tl->trial_id, &row, &err);

    msg[0] = '\0';
    if (rc == CARBS_ENOTFOUND || (rc == 0 && row.sweep_id != svc__sweep_id(sw)))
        snprintf(msg, cap, "trial %" PRId64 " is not a trial of sweep '%s'", tl->trial_id,
                 svc__sweep_name(sw));
    else if (rc)
        snprintf(msg, cap, "%s", err.msg);
    else if (strcmp(row.worker, SVC_ASK_WORKER) != 0)
        snprintf(msg, cap,
                 "trial %" PRId64 " was not handed out by ask (%s%s): only its worker reports it",
                 tl->trial_id, row.worker[0] ? "held by " : "never claimed", row.worker);
    else if (!tl->is_failure && !(isfinite(tl->cost) && tl->cost > 0))
        snprintf(msg, cap, "cost %g is not finite and > 0", tl->cost);
    store_trial_release(&row);
}

static void on_tell(const req_t *q, const proto_tell_t *tl)
{
    svc_sweep_t *sw = svc__sweep_find(q->svc, tl->sweep);
    const sweep_spec_t *spec;
    carbs_result_t r;
    char why[CARBS_MSG_MAX];

    if (!sw) {
        reply_no_sweep(q, tl->trial_id, tl->sweep);
        return;
    }
    tell_refusal(q, sw, tl, why, sizeof(why));
    if (why[0]) {
        reply(q, false, svc__sweep_id(sw), tl->trial_id, why);
        return;
    }
    spec = svc__sweep_spec(sw);
    carbs_result_init(&r);
    if (carbs_result_copy(&r, &tl->r)) {
        reply(q, false, svc__sweep_id(sw), tl->trial_id, "out of memory");
        return;
    }
    r.trial_id = tl->trial_id;
    r.ok = !tl->is_failure;
    if (tl->is_failure && r.failure == CARBS_FAILURE_NONE)
        r.failure = CARBS_FAILURE_ERROR;
    if (!tl->is_failure)
        r.failure = CARBS_FAILURE_NONE;
    if ((isfinite(tl->output) && carbs_result_set(&r, spec->metric.name, tl->output)) ||
        carbs_result_set(&r, spec->cost.name, tl->cost))
        reply(q, false, svc__sweep_id(sw), tl->trial_id, "out of memory");
    else
        svc__on_result(q->svc, q->peer, &r, true);
    carbs_result_release(&r);
}

static void on_import(const req_t *q, const proto_import_t *im)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc__sweep_find(q->svc, im->sweep);
    proto_record_t *recs = NULL;
    size_t n = 0, done = 0;
    char msg[2 * CARBS_MSG_MAX];

    if (!sw) {
        reply_no_sweep(q, 0, im->sweep);
        return;
    }
    if (proto_records_decode(im->records, strlen(im->records), &recs, &n, &err)) {
        reply(q, false, svc__sweep_id(sw), 0, err.msg);
        return;
    }
    for (; done < n; done++) {
        if (svc__sweep_import(q->svc, sw, &recs[done], SVC_IMPORT_WORKER, &err)) {
            carbs_err_prefix(&err, "import");
            break;
        }
    }
    if (done == n) {
        snprintf(msg, sizeof(msg), "imported %zu record%s", n, n == 1 ? "" : "s");
        reply(q, true, svc__sweep_id(sw), 0, msg);
    } else {
        snprintf(msg, sizeof(msg), "record %zu: %s (%zu imported before it)", done, err.msg, done);
        reply(q, false, svc__sweep_id(sw), 0, msg);
    }
    for (size_t i = 0; i < n; i++)
        proto_record_release(&recs[i]);
    free(recs);
}

// ---- verify ----

/* Why configuration ps cannot run as a trial of spec, in msg[cap] ("" when
 * it can): it must give every searched parameter a value of its kind (a
 * finite number inside the kind's domain, or one of a categorical's
 * values) and nothing else.  A number outside the searched range is
 * allowed: a prediction at a cost no trial reached may lie past it. */
static void config_refusal(const sweep_spec_t *spec, const carbs_params_t *ps, char *msg,
                           size_t cap)
{
    msg[0] = '\0';
    for (size_t i = 0; i < ps->n; i++)
        if (!carbs_space_find(&spec->parameters, ps->v[i].name)) {
            snprintf(msg, cap, "'%s' is not a parameter of sweep '%s'", ps->v[i].name, spec->name);
            return;
        }
    for (size_t j = 0; j < spec->parameters.n; j++) {
        const carbs_param_t *p = &spec->parameters.v[j];
        const carbs_value_t *v = carbs_params_find(ps, p->name);
        bool ok;
        if (!v) {
            snprintf(msg, cap, "the configuration has no value for parameter '%s'", p->name);
            return;
        }
        if (p->space == CARBS_SPACE_CATEGORICAL) {
            ok = false;
            for (size_t k = 0; v->is_str && k < p->n_values; k++)
                ok = ok || strcmp(v->str, p->values[k]) == 0;
        } else {
            ok = !v->is_str && isfinite(v->num) &&
                 (p->space != CARBS_SPACE_LOG || v->num > 0) &&
                 (p->space != CARBS_SPACE_LOGIT || (v->num > 0 && v->num < 1));
        }
        if (!ok) {
            snprintf(msg, cap, "parameter '%s': %s%s%s is not a value of its %s space", p->name,
                     v->is_str ? "'" : "", v->is_str ? v->str : "a number", v->is_str ? "'" : "",
                     carbs_space_name(p->space));
            return;
        }
    }
}

/* The sweep which names: held by this service, or loaded from the store
 * (a done sweep, or any sweep in a one-shot service that loaded none).
 * NULL with the reason in err. */
static svc_sweep_t *sweep_for_verify(const req_t *q, const char *which, carbs_err_t *err)
{
    svc_sweep_t *sw = svc__sweep_find(q->svc, which);
    store_sweep_t row = {0};

    if (sw)
        return sw;
    if (store_sweep_get(svc__store(q->svc), which, &row, err) == 0 &&
        svc__sweep_load(q->svc, &row, err) == 0)
        sw = svc__sweep_find(q->svc, row.name);
    store_sweep_release(&row);
    return sw;
}

static void on_verify(const req_t *q, const proto_verify_t *v)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = sweep_for_verify(q, v->sweep, &err);
    char msg[CARBS_MSG_MAX];
    int64_t id = 0;

    if (!sw) {
        reply(q, false, 0, 0, err.msg);
        return;
    }
    config_refusal(svc__sweep_spec(sw), &v->params, msg, sizeof(msg));
    if (!msg[0] && !(isfinite(v->cost) && v->cost > 0))
        snprintf(msg, sizeof(msg), "cost %g is not finite and > 0", v->cost);
    if (!msg[0] && isfinite(v->lo) && isfinite(v->hi) &&
        !(v->lo <= v->predicted && v->predicted <= v->hi))
        snprintf(msg, sizeof(msg), "the prediction %g lies outside its interval [%g, %g]",
                 v->predicted, v->lo, v->hi);
    if (msg[0]) {
        reply(q, false, svc__sweep_id(sw), 0, msg);
        return;
    }
    if (svc__sweep_verify(q->svc, sw, v, &id, &err)) {
        reply(q, false, svc__sweep_id(sw), id, err.msg);
        return;
    }
    snprintf(msg, sizeof(msg), "verification trial %" PRId64 " queued in sweep '%s'%s", id,
             svc__sweep_name(sw),
             svc__sweep_state(sw) == CARBS_SWEEP_PAUSED
                 ? " (the sweep is paused: it runs once the sweep is resumed)"
                 : "");
    reply(q, true, svc__sweep_id(sw), id, msg);
}

// ---- sweep_admin ----

static void on_admin(const req_t *q, const proto_sweep_admin_t *a)
{
    carbs_err_t err = {0};
    char msg[CARBS_MSG_MAX] = "";
    int64_t id = 0;
    int rc;

    if (strcmp(a->op, "extend") == 0)
        rc = svc__sweep_extend(q->svc, a->sweep, a->trials, a->cost, &id, msg, sizeof(msg), &err);
    else if (strcmp(a->op, "rename") == 0)
        rc = svc__sweep_rename(q->svc, a->sweep, a->name, &id, &err);
    else if (strcmp(a->op, "delete") == 0)
        rc = svc__sweep_delete(q->svc, a->sweep, &id, &err);
    else
        rc = carbs_fail(&err, CARBS_EINVAL,
                        "sweep_admin: unknown op '%s' (expected extend, rename or delete)", a->op);
    reply(q, rc == 0, id, 0, rc ? err.msg : msg);
}

void svc__on_request(service_t *svc, svc_outbox_t *out, const wire_peer_t *peer,
                     const proto_msg_t *m)
{
    const req_t q = {.svc = svc, .out = out, .peer = peer};

    switch (m->type) {
    case PROTO_MSG_SWEEP_CREATE:
        on_create(&q, m->sweep_create.spec_json);
        break;
    case PROTO_MSG_STATUS:
        on_status(&q, m->status.sweep);
        break;
    case PROTO_MSG_PAUSE:
        on_state(&q, m->type, m->pause.sweep);
        break;
    case PROTO_MSG_RESUME:
        on_state(&q, m->type, m->resume.sweep);
        break;
    case PROTO_MSG_STOP:
        on_state(&q, m->type, m->stop.sweep);
        break;
    case PROTO_MSG_ASK:
        on_ask(&q, m->ask.sweep);
        break;
    case PROTO_MSG_TELL:
        on_tell(&q, &m->tell);
        break;
    case PROTO_MSG_IMPORT:
        on_import(&q, &m->import);
        break;
    case PROTO_MSG_VERIFY:
        on_verify(&q, &m->verify);
        break;
    case PROTO_MSG_SWEEP_ADMIN:
        on_admin(&q, &m->sweep_admin);
        break;
    case PROTO_MSG_RELEASE: {
        carbs_err_t err = {0};
        bool ok = svc__worker_release(svc, m->release.worker, m->release.unbind, &err) == 0;
        reply(&q, ok, 0, 0, ok ? NULL : err.msg);
        break;
    }
    default:
        svc__send_error(out, peer, CARBS_EPROTO, "not a request");
        break;
    }
}
