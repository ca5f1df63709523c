/*
 * service_request.c - client requests to a running service (DESIGN.md §5
 * writer rule: while the service runs, the CLI sends it its changes):
 * sweep_create, status, pause, resume, stop, ask, tell, import.  Each is
 * answered with one `reply`.
 */
#include "proto/common.h"
#include "optimizer/service/service_internal.h"

#include <inttypes.h>
#include <stdarg.h>

#include "proto/log.h"

#include <math.h>

#include "proto/json.h"
#include "proto/record.h"


static void reply(service_t *svc, const wire_peer_t *peer, bool ok, int64_t sweep_id,
                  int64_t trial_id, const char *message)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_REPLY);
    m.reply.ok = ok;
    m.reply.sweep_id = sweep_id;
    m.reply.trial_id = trial_id;
    if (message)
        str_copy(m.reply.message, sizeof(m.reply.message), message);
    svc_send(svc, peer, &m);
    proto_msg_release(&m);
}

// ---- status ----

static void on_status(service_t *svc, const wire_peer_t *peer, const char *which)
{
    proto_status_t st = {0};
    proto_msg_t m;
    carbs_err_t err = {0};
    double now = now_wall();
    int rc = 0;

    if (which[0] && !svc_sweep_find(svc, which)) {
        char msg[CARBS_MSG_MAX];
        snprintf(msg, sizeof(msg), "no active or paused sweep '%s' in this service", which);
        reply(svc, peer, false, 0, 0, msg);
        return;
    }
    for (size_t i = 0; rc == 0 && i < svc->sweeps.n; i++) {
        const svc_sweep_t *sw = svc->sweeps.v[i];
        proto_status_sweep_t v = {0};
        if (which[0] && sw != svc_sweep_find(svc, which))
            continue;
        v.id = sw->id;
        str_copy(v.name, sizeof(v.name), sw->name);
        v.state = sw->state;
        for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
            v.trials[s] = (int64_t)sw->counts[s];
        str_copy(v.metric, sizeof(v.metric), sw->spec.metric.name);
        v.best = sw->best_output;
        v.best_trial = sw->best_trial;
        v.cost_spent = sw->cost_spent;
        rc = DA_PUSH(&st.sweeps, v);
    }
    for (size_t i = 0; rc == 0 && i < svc->workers.n; i++) {
        const svc_worker_t *w = &svc->workers.v[i];
        proto_status_worker_t v = {0};
        str_copy(v.id, sizeof(v.id), w->id);
        str_copy(v.host, sizeof(v.host), w->host);
        v.slots = w->slots;
        v.connected = w->connected;
        v.quarantined = w->quarantined;
        v.idle_seconds = now - w->last_seen;
        rc = DA_PUSH(&st.workers, v);
    }
    for (size_t i = 0; rc == 0 && i < svc->running.n; i++) {
        const svc_trial_t *t = &svc->running.v[i];
        proto_status_trial_t v = {0};
        v.trial = t->id;
        str_copy(v.sweep, sizeof(v.sweep), t->sw->name);
        str_copy(v.worker, sizeof(v.worker), t->worker);
        v.attempt = t->attempt;
        v.lease_seconds = t->is_ask ? NAN : t->deadline - now;
        rc = DA_PUSH(&st.running, v);
    }

    proto_msg_init(&m, PROTO_MSG_REPLY);
    if (rc)
        rc = carbs_fail(&err, rc, "out of memory describing the service");
    else
        rc = proto_status_encode(&st, &m.reply.data, NULL, &err);
    if (rc) {
        log_warn("status: %s", err.msg);
        str_copy(m.reply.message, sizeof(m.reply.message), err.msg);
    }
    m.reply.ok = rc == 0;
    svc_send(svc, peer, &m);
    proto_msg_release(&m); /* frees the data */
    proto_status_release(&st);
}

// ---- sweep lifecycle ----

static void on_create(service_t *svc, const wire_peer_t *peer, const char *spec_json)
{
    carbs_err_t err = {0};
    sweep_spec_t spec = {0};
    store_sweep_t row = {0};
    char *canon = NULL;
    int64_t id = 0;

    if (sweep_spec_from_json(spec_json, &spec, &err) || sweep_spec_to_json(&spec, &canon, &err) ||
        store_sweep_create(svc->st, spec.name, canon, &id, &err) ||
        store_sweep_get_id(svc->st, id, &row, &err) || svc_sweep_load(svc, &row, &err)) {
        reply(svc, peer, false, id, 0, err.msg);
        goto out;
    }
    log_info("sweep %s: created by request (id %" PRId64 ")", spec.name, id);
    reply(svc, peer, true, id, 0, NULL);
out:
    free(canon);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
}

/* Cancel every open trial of sw (stop). */
static void cancel_open(service_t *svc, svc_sweep_t *sw, const char *reason)
{
    carbs_err_t err = {0};
    DA_TYPE(int64_t) ids = {0};

    for (size_t i = 0; i < svc->running.n; i++) {
        svc_trial_t *t = &svc->running.v[i];
        svc_worker_t *w;
        if (t->sw != sw)
            continue;
        DA_PUSH(&ids, t->id);
        if (!t->is_ask && (w = svc_worker_find(svc, t->worker)) && w->connected) {
            proto_msg_t m;
            proto_msg_init(&m, PROTO_MSG_CANCEL);
            m.cancel.trial_id = t->id;
            str_copy(m.cancel.reason, sizeof(m.cancel.reason), reason);
            svc_send(svc, &w->peer, &m);
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
            if (sw->counts[row.state])
                sw->counts[row.state]--;
            sw->counts[CARBS_TRIAL_CANCELLED]++;
            carbs_forget(sw->opt, ids.v[i], NULL);
        } else {
            log_warn("trial %" PRId64 ": not cancelled: %s", ids.v[i], err.msg);
        }
        store_trial_release(&row);
        svc_running_remove(svc, ids.v[i]);
    }
    DA_FREE(&ids);
}

static void on_state(service_t *svc, const wire_peer_t *peer, proto_msg_type_t type,
                     const char *which)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc_sweep_find(svc, which);
    carbs_sweep_state_t to;
    char msg[CARBS_MSG_MAX];

    if (!sw) {
        snprintf(msg, sizeof(msg), "no active or paused sweep '%s' in this service", which);
        reply(svc, peer, false, 0, 0, msg);
        return;
    }
    to = type == PROTO_MSG_PAUSE    ? CARBS_SWEEP_PAUSED
         : type == PROTO_MSG_RESUME ? CARBS_SWEEP_ACTIVE
                                    : CARBS_SWEEP_STOPPED;
    if (sw->state == CARBS_SWEEP_DONE || sw->state == CARBS_SWEEP_STOPPED) {
        snprintf(msg, sizeof(msg), "sweep '%s' is %s: it cannot be %s", sw->name,
                 carbs_sweep_state_name(sw->state),
                 to == CARBS_SWEEP_PAUSED ? "paused" : to == CARBS_SWEEP_ACTIVE ? "resumed" : "stopped");
        reply(svc, peer, false, sw->id, 0, msg);
        return;
    }
    if (store_sweep_set_state(svc->st, sw->id, to, &err)) {
        reply(svc, peer, false, sw->id, 0, err.msg);
        return;
    }
    sw->state = to;
    if (to == CARBS_SWEEP_STOPPED) {
        snprintf(msg, sizeof(msg), "sweep '%s' stopped", sw->name);
        cancel_open(svc, sw, msg);
    }
    log_info("sweep %s: %s by request", sw->name, carbs_sweep_state_name(to));
    svc_sweep_update_state(svc, sw);
    reply(svc, peer, true, sw->id, 0, NULL);
}

// ---- ask, tell, import ----

static void on_ask(service_t *svc, const wire_peer_t *peer, const char *which)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc_sweep_find(svc, which);
    proto_msg_t m;
    store_trial_t row = {0};
    int64_t id = 0;
    int attempt = 0;
    char msg[CARBS_MSG_MAX];

    if (!sw || sw->state != CARBS_SWEEP_ACTIVE) {
        snprintf(msg, sizeof(msg), "no active sweep '%s' in this service", which);
        reply(svc, peer, false, sw ? sw->id : 0, 0, msg);
        return;
    }
    if (svc_take_trial(svc, sw, SVC_ASK_WORKER, now_wall() + SVC_ASK_LEASE_S, true, &id, &attempt,
                       &err)) {
        reply(svc, peer, false, sw->id, 0, err.msg);
        return;
    }
    proto_msg_init(&m, PROTO_MSG_REPLY);
    if (store_trial_get(svc->st, id, &row, &err) ||
        proto_params_from_json(row.params_json, &m.reply.params, &err)) {
        m.reply.ok = false;
        str_copy(m.reply.message, sizeof(m.reply.message), err.msg);
    } else {
        m.reply.ok = true;
    }
    m.reply.sweep_id = sw->id;
    m.reply.trial_id = id;
    svc_send(svc, peer, &m);
    proto_msg_release(&m);
    store_trial_release(&row);
}

static void on_tell(service_t *svc, const wire_peer_t *peer, const proto_tell_t *tl)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc_sweep_find(svc, tl->sweep);
    carbs_result_t r;
    char msg[CARBS_MSG_MAX];

    if (!sw) {
        snprintf(msg, sizeof(msg), "no active or paused sweep '%s' in this service", tl->sweep);
        reply(svc, peer, false, 0, tl->trial_id, msg);
        return;
    }
    carbs_result_init(&r);
    if (carbs_result_copy(&r, &tl->r)) {
        reply(svc, peer, false, sw->id, tl->trial_id, "out of memory");
        return;
    }
    r.trial_id = tl->trial_id;
    r.ok = !tl->is_failure;
    if (tl->is_failure && r.failure == CARBS_FAILURE_NONE)
        r.failure = CARBS_FAILURE_ERROR;
    if (!tl->is_failure)
        r.failure = CARBS_FAILURE_NONE;
    if ((isfinite(tl->output) && carbs_result_set(&r, sw->spec.metric.name, tl->output)) ||
        carbs_result_set(&r, sw->spec.cost.name, tl->cost)) {
        carbs_fail(&err, CARBS_ENOMEM, "out of memory");
        reply(svc, peer, false, sw->id, tl->trial_id, err.msg);
    } else {
        svc_on_result(svc, peer, &r, true);
    }
    carbs_result_release(&r);
}

static void on_import(service_t *svc, const wire_peer_t *peer, const proto_import_t *im)
{
    carbs_err_t err = {0};
    svc_sweep_t *sw = svc_sweep_find(svc, im->sweep);
    proto_record_t *recs = NULL;
    size_t n = 0, done = 0;
    char msg[2 * CARBS_MSG_MAX];

    if (!sw) {
        snprintf(msg, sizeof(msg), "no active or paused sweep '%s' in this service", im->sweep);
        reply(svc, peer, false, 0, 0, msg);
        return;
    }
    if (proto_records_decode(im->records, strlen(im->records), &recs, &n, &err)) {
        reply(svc, peer, false, sw->id, 0, err.msg);
        return;
    }
    for (; done < n; done++) {
        if (svc_import_record(svc, sw, &recs[done], SVC_IMPORT_WORKER, &err)) {
            carbs_err_prefix(&err, "import");
            break;
        }
    }
    if (done == n) {
        snprintf(msg, sizeof(msg), "imported %zu record%s", n, n == 1 ? "" : "s");
        reply(svc, peer, true, sw->id, 0, msg);
    } else {
        snprintf(msg, sizeof(msg), "record %zu: %s (%zu imported before it)", done, err.msg, done);
        reply(svc, peer, false, sw->id, 0, msg);
    }
    for (size_t i = 0; i < n; i++)
        proto_record_release(&recs[i]);
    free(recs);
}

void svc_on_request(service_t *svc, const wire_peer_t *peer, const proto_msg_t *m)
{
    switch (m->type) {
    case PROTO_MSG_SWEEP_CREATE:
        on_create(svc, peer, m->sweep_create.spec_json);
        break;
    case PROTO_MSG_STATUS:
        on_status(svc, peer, m->status.sweep);
        break;
    case PROTO_MSG_PAUSE:
        on_state(svc, peer, m->type, m->pause.sweep);
        break;
    case PROTO_MSG_RESUME:
        on_state(svc, peer, m->type, m->resume.sweep);
        break;
    case PROTO_MSG_STOP:
        on_state(svc, peer, m->type, m->stop.sweep);
        break;
    case PROTO_MSG_ASK:
        on_ask(svc, peer, m->ask.sweep);
        break;
    case PROTO_MSG_TELL:
        on_tell(svc, peer, &m->tell);
        break;
    case PROTO_MSG_IMPORT:
        on_import(svc, peer, &m->import);
        break;
    default:
        svc_send_error(svc, peer, CARBS_EPROTO, "not a request");
        break;
    }
}
