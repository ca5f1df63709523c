/*
 * service.c - the service's event loop: open and close, frames in,
 * workers (hello, ready, heartbeat, progress, bye), their table and that
 * of running trials (service_table.h), and leases.  Sweeps, assignment and
 * results are in service_sweep.c, client requests in service_request.c,
 * the send path in service_outbox.c.
 */
#include "proto/common.h"
#include "optimizer/service/service_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carbs_config.h"
#include "optimizer/service/service_request.h"
#include "proto/log.h"

/* A stored lease deadline is refreshed once the in-memory one is ahead of
 * it by this fraction of the lease, so the true deadline is at most this
 * much later than the stored one (svc__lease_on_load). */
#define SVC_LEASE_WRITE_FRAC 0.25
/* Heartbeats a worker gets after a restart to name its trial again, when
 * the stored lease has run out meanwhile. */
#define SVC_LEASE_GRACE_BEATS 2
/* How often (ms) the loop looks for expired leases at the latest. */
#define SVC_TICK_MS 250
#define SVC_BATCH_MAX 64 /* frames handled before one sync and the replies */
/* The most workers kept in memory at once: connected, or holding a trial
 * (a worker that left and holds nothing is forgotten; its store row
 * stays).  A hello beyond is refused. */
#define SVC_WORKERS_MAX 10000

// ---- the control endpoint ----

int service_control_endpoint(const char *db_path, char *out, size_t cap)
{
    char real[PATH_MAX];
    struct stat sb;
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    const char *p = realpath(db_path, real) ? real : db_path;

    /* Named after the file's identity, so that every path to the store (a
     * symlink, a hard link) reaches the one service holding it, as every
     * path meets the one writer lock (store/store_lock.c).  A store not
     * created yet has no service: its path does for a name. */
    if (stat(p, &sb) == 0) {
        uint64_t key[2] = {(uint64_t)sb.st_dev, (uint64_t)sb.st_ino};
        const unsigned char *b = (const unsigned char *)key;
        for (size_t i = 0; i < sizeof(key); i++)
            h = (h ^ b[i]) * 1099511628211ull;
    } else {
        for (; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
    }
    if ((size_t)snprintf(out, cap, "ipc:///tmp/carbs-%u-%016" PRIx64 ".ctl", (unsigned)getuid(),
                         h) >= cap)
        return CARBS_ETOOBIG;
    return 0;
}

// ---- tables ----

store_t *svc__store(service_t *svc)
{
    return svc->st;
}

svc_worker_t *svc__worker_find(service_t *svc, const char *id)
{
    for (size_t i = 0; i < svc->workers.n; i++)
        if (strcmp(svc->workers.v[i].id, id) == 0)
            return &svc->workers.v[i];
    return NULL;
}

/* The connected worker peer speaks for: the same routing id and the same
 * key, so a client that took a worker's routing id with another key (a
 * ROUTER hands the route over) is nobody's worker. */
static svc_worker_t *worker_by_peer(service_t *svc, const wire_peer_t *peer)
{
    for (size_t i = 0; i < svc->workers.n; i++) {
        svc_worker_t *w = &svc->workers.v[i];
        if (w->connected && wire_peer_equal(&w->peer, peer) && strcmp(w->key, peer->user) == 0)
            return w;
    }
    return NULL;
}

const svc_worker_t *svc__worker_at(const service_t *svc, size_t i)
{
    return i < svc->workers.n ? &svc->workers.v[i] : NULL;
}

svc_trial_t *svc__running_find(service_t *svc, int64_t trial_id)
{
    for (size_t i = 0; i < svc->running.n; i++)
        if (svc->running.v[i].id == trial_id)
            return &svc->running.v[i];
    return NULL;
}

const svc_trial_t *svc__running_at(const service_t *svc, size_t i)
{
    return i < svc->running.n ? &svc->running.v[i] : NULL;
}

void svc__running_add(service_t *svc, const svc_trial_t *t)
{
    DA_PUSH(&svc->running, *t);
}

void svc__running_remove(service_t *svc, int64_t trial_id)
{
    for (size_t i = 0; i < svc->running.n; i++) {
        if (svc->running.v[i].id == trial_id) {
            svc->running.v[i] = svc->running.v[--svc->running.n];
            return;
        }
    }
}

// ---- leases ----

static double lease_s(const service_t *svc)
{
    return svc->cfg.lease_ms / 1000.0;
}

double svc__lease_on_load(const service_t *svc, double stored, double now)
{
    double grace = SVC_LEASE_GRACE_BEATS * svc->cfg.heartbeat_ms / 1000.0;

    return fmax(stored + SVC_LEASE_WRITE_FRAC * lease_s(svc), now + grace);
}

/* Push t's lease out to now + lease; write it through when the stored copy
 * lags by more than SVC_LEASE_WRITE_FRAC of a lease. */
static void lease_renew(service_t *svc, svc_trial_t *t, double now)
{
    carbs_err_t err = {0};

    if (t->is_ask)
        return;
    t->deadline = now + lease_s(svc);
    if (t->deadline - t->stored_deadline < SVC_LEASE_WRITE_FRAC * lease_s(svc))
        return;
    if (store_trial_renew(svc->st, t->id, t->worker, t->deadline, &err)) {
        log_warn("trial %" PRId64 ": cannot renew its lease: %s", t->id, err.msg);
        return;
    }
    t->stored_deadline = t->deadline;
}

/* Any frame from w renews the leases of the trials it confirmed. */
static void worker_touch(service_t *svc, svc_worker_t *w, double now)
{
    w->last_seen = now;
    for (size_t i = 0; i < svc->running.n; i++) {
        svc_trial_t *t = &svc->running.v[i];
        if (t->confirmed && strcmp(t->worker, w->id) == 0)
            lease_renew(svc, t, now);
    }
}

/* Whether a trial is held by worker id. */
static bool worker_holds(const service_t *svc, const char *id)
{
    for (size_t i = 0; i < svc->running.n; i++)
        if (strcmp(svc->running.v[i].worker, id) == 0)
            return true;
    return false;
}

/* Forget the workers that left and hold no trial: the table keeps only
 * those that can still send or own something, so hellos with ever new
 * ids (a long campaign, or a peer making them up) do not pile up. */
static void forget_idle_workers(service_t *svc)
{
    size_t k = 0;
    double now = now_wall();

    for (size_t i = 0; i < svc->workers.n; i++) {
        const svc_worker_t *w = &svc->workers.v[i];
        /* Kept while it has host losses in the window or is quarantined:
         * forgetting them would forgive a host that keeps losing trials. */
        bool owes = w->quarantined ||
                    (w->host_losses > 0 && now - w->window_start <= SERVICE_LOSS_WINDOW_S);
        if (!w->connected && !owes && !worker_holds(svc, w->id)) {
            log_debug("worker %s: gone and idle, forgotten", w->id);
            continue;
        }
        if (k != i)
            svc->workers.v[k] = *w;
        k++;
    }
    svc->workers.n = k;
}

static void expire_leases(service_t *svc, double now)
{
    /* svc__lose() edits svc->running: collect first. */
    DA_TYPE(int64_t) dead = {0};

    for (size_t i = 0; i < svc->running.n; i++) {
        const svc_trial_t *t = &svc->running.v[i];
        if (!t->is_ask && t->deadline < now)
            DA_PUSH(&dead, t->id);
    }
    for (size_t i = 0; i < dead.n; i++)
        svc__lose(svc, dead.v[i], "its lease expired", true);
    DA_FREE(&dead);
    for (size_t i = 0; i < svc->workers.n; i++) {
        svc_worker_t *w = &svc->workers.v[i];
        if (w->connected && now - w->last_seen > lease_s(svc)) {
            log_warn("worker %s: silent for %.0f s, taken as gone", w->id, now - w->last_seen);
            w->connected = false;
        }
    }
    forget_idle_workers(svc);
}

// ---- worker messages ----

static void devices_json(const proto_devices_t *d, char *out, size_t cap)
{
    size_t k = 0;

    k += (size_t)snprintf(out + k, cap - k, "[");
    for (size_t i = 0; i < d->n && k < cap; i++) {
        k += (size_t)snprintf(out + k, cap - k, "%s\"", i ? "," : "");
        for (const char *s = d->v[i]; *s && k + 2 < cap; s++)
            if (*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
                out[k++] = *s;
        if (k < cap)
            k += (size_t)snprintf(out + k, cap - k, "\"");
    }
    if (k < cap)
        snprintf(out + k, cap - k, "]");
    else
        snprintf(out, cap, "[]");
}

/* Whether peer may say hello as worker w (NULL: a new id), and why not in
 * err.  A worker id belongs to the key of its first hello; without keys,
 * to the connection that holds it while that one is alive (a restarted
 * worker comes back with its id as routing id, so it is the same peer). */
static bool hello_allowed(const service_t *svc, const svc_worker_t *w, const wire_peer_t *peer,
                          double now, carbs_err_t *err)
{
    if (!w)
        return true;
    if (w->key[0] && strcmp(w->key, peer->user) != 0) {
        carbs_fail(err, CARBS_EDENIED, "worker id '%s' belongs to key '%s', not to key '%s'",
                   w->id, w->key, peer->user);
        return false;
    }
    if (!w->key[0] && w->connected && now - w->last_seen <= lease_s(svc) &&
        !wire_peer_equal(&w->peer, peer)) {
        carbs_fail(err, CARBS_EDENIED,
                   "worker id '%s' is in use by another connection; start this worker with "
                   "another --id",
                   w->id);
        return false;
    }
    return true;
}

/* w is gone: it is no longer connected, and the trials it holds are lost
 * (why). */
static void worker_leave(service_t *svc, svc_worker_t *w, const char *why)
{
    DA_TYPE(int64_t) held = {0};

    w->connected = false;
    for (size_t i = 0; i < svc->running.n; i++)
        if (!svc->running.v[i].is_ask && strcmp(svc->running.v[i].worker, w->id) == 0)
            DA_PUSH(&held, svc->running.v[i].id);
    for (size_t i = 0; i < held.n; i++)
        svc__lose(svc, held.v[i], why, false); /* a bye or a new id: no host fault */
    DA_FREE(&held);
}

/* One worker id per connection: the workers peer spoke for under another
 * id than id leave (a worker restarted with a new --id, or a peer making
 * ids up, which then holds at most one worker's slots). */
static void leave_other_ids(service_t *svc, const wire_peer_t *peer, const char *id)
{
    for (size_t i = 0; i < svc->workers.n; i++) {
        svc_worker_t *o = &svc->workers.v[i];
        if (o->connected && wire_peer_equal(&o->peer, peer) && strcmp(o->key, peer->user) == 0 &&
            strcmp(o->id, id) != 0) {
            log_info("worker %s left: its connection said hello as %s", o->id, id);
            worker_leave(svc, o, "its connection said hello as another worker");
        }
    }
}

/* Whether the store's binding of worker id lets peer say hello as it, and
 * why not in err; *bind is set when the id is not bound yet and peer has a
 * key to bind it to.  The binding is stored at the first hello under CURVE
 * and outlives the service, so after a restart an impostor cannot take a
 * known id before its worker reconnects; `carbs workers release ID
 * --unbind` frees it.  Without CURVE a peer has no key, and every peer is
 * trusted anyway (docs/service.md, Who may do what). */
static bool hello_key_allowed(service_t *svc, const char *id, const wire_peer_t *peer, bool *bind,
                              carbs_err_t *err)
{
    store_worker_t row = {0};
    bool ok = true;
    int rc;

    *bind = false;
    if (!peer->key[0])
        return true;
    rc = store_worker_get(svc->st, id, &row, err);
    if (rc == CARBS_ENOTFOUND || (rc == 0 && !row.key[0])) {
        *bind = true;
    } else if (rc) {
        ok = false; /* err says why */
    } else if (strcmp(row.key, peer->key) != 0) {
        carbs_fail(err, CARBS_EDENIED,
                   "worker id '%s' is bound to key '%s' (its first hello); key '%s' is another "
                   "key (`carbs workers release %s --unbind` frees the id)",
                   id, row.key_name, peer->user, id);
        ok = false;
    }
    store_worker_release(&row);
    return ok;
}

/* How many worker ids the key named key holds in the table (connected, or
 * holding a trial). */
static int key_share(const service_t *svc, const char *key)
{
    int n = 0;

    for (size_t i = 0; i < svc->workers.n; i++)
        if (strcmp(svc->workers.v[i].key, key) == 0)
            n++;
    return n;
}

static void on_hello(service_t *svc, const wire_peer_t *peer, const proto_hello_t *h, double now)
{
    carbs_err_t err = {0};
    store_worker_t row = {0};
    bool bind = false;
    char devs[PROTO_DEVICES_MAX * (CARBS_NAME_MAX + 3) + 3];
    char who[WIRE_PEER_STR_MAX];
    svc_worker_t *w = svc__worker_find(svc, h->worker_id);
    proto_msg_t m;

    if (!hello_allowed(svc, w, peer, now, &err) ||
        !hello_key_allowed(svc, h->worker_id, peer, &bind, &err)) {
        log_warn("hello from %s refused: %s", wire_peer_format(peer, who, sizeof(who)), err.msg);
        svc__send_error(svc->out, peer, err.code, err.msg);
        return;
    }
    leave_other_ids(svc, peer, h->worker_id);
    if (!w && peer->user[0] && key_share(svc, peer->user) >= svc->cfg.workers_per_key) {
        forget_idle_workers(svc);
        if (key_share(svc, peer->user) >= svc->cfg.workers_per_key) {
            carbs_fail(&err, CARBS_EBUSY,
                       "key '%s' holds %d worker ids already, the most one key may; "
                       "try again once one has left",
                       peer->user, svc->cfg.workers_per_key);
            log_warn("hello from %s refused: %s", wire_peer_format(peer, who, sizeof(who)),
                     err.msg);
            svc__send_error(svc->out, peer, err.code, err.msg);
            return;
        }
    }
    if (!w && svc->workers.n >= SVC_WORKERS_MAX) {
        forget_idle_workers(svc);
        if (svc->workers.n >= SVC_WORKERS_MAX) {
            carbs_fail(&err, CARBS_EBUSY,
                       "the service serves at most %d workers at once; try again later",
                       SVC_WORKERS_MAX);
            log_warn("hello from %s refused: %s", wire_peer_format(peer, who, sizeof(who)),
                     err.msg);
            svc__send_error(svc->out, peer, err.code, err.msg);
            return;
        }
    }
    devices_json(&h->devices, devs, sizeof(devs));
    if (store_worker_seen(svc->st, h->worker_id, h->host, devs, &err) ||
        (bind && store_worker_bind(svc->st, h->worker_id, peer->user, peer->key, &err))) {
        svc__send_error(svc->out, peer, err.code, err.msg);
        return;
    }
    if (!w) {
        svc_worker_t nw = {0};
        str_copy(nw.id, sizeof(nw.id), h->worker_id);
        str_copy(nw.key, sizeof(nw.key), peer->user);
        DA_PUSH(&svc->workers, nw);
        w = &svc->workers.v[svc->workers.n - 1];
    }
    w->peer = *peer;
    str_copy(w->host, sizeof(w->host), h->host);
    w->slots = h->slots;
    w->caps = h->caps;
    w->last_seen = now;
    w->connected = true;
    if (store_worker_get(svc->st, h->worker_id, &row, &err) == 0)
        w->quarantined = row.quarantined;
    store_worker_release(&row);
    /* A restarted worker must name its trials again before they renew. */
    for (size_t i = 0; i < svc->running.n; i++)
        if (strcmp(svc->running.v[i].worker, w->id) == 0)
            svc->running.v[i].confirmed = false;
    log_info("worker %s (%s, %d slot%s) joined%s", w->id, w->host, w->slots,
             w->slots == 1 ? "" : "s", w->quarantined ? " quarantined: it gets no trials" : "");

    proto_msg_init(&m, PROTO_MSG_WELCOME);
    m.welcome.heartbeat_ms = svc->cfg.heartbeat_ms;
    m.welcome.lease_ms = svc->cfg.lease_ms;
    str_copy(m.welcome.service_version, sizeof(m.welcome.service_version), CARBS_VERSION);
    svc__send(svc->out, peer, &m);
    proto_msg_release(&m);
}

/* The trial a worker names: confirm and renew it when the worker holds it. */
static void worker_names_trial(service_t *svc, svc_worker_t *w, int64_t trial_id, double now)
{
    svc_trial_t *t = svc__running_find(svc, trial_id);

    if (!t || strcmp(t->worker, w->id) != 0)
        return;
    t->confirmed = true;
    t->inherited = false;
    lease_renew(svc, t, now);
}

static void on_progress(service_t *svc, svc_worker_t *w, const proto_progress_t *p, double now)
{
    carbs_err_t err = {0};
    svc_trial_t *t = svc__running_find(svc, p->trial_id);

    if (!t || strcmp(t->worker, w->id) != 0 || t->attempt != p->attempt)
        return; /* a stale report: the trial moved on */
    worker_names_trial(svc, w, p->trial_id, now);
    if (store_curve_append(svc->st, p->trial_id, p->step, p->tokens, p->train_loss, &err))
        log_warn("trial %" PRId64 ": progress not stored: %s", p->trial_id, err.msg);
}

static void on_bye(service_t *svc, svc_worker_t *w, const proto_bye_t *b)
{
    log_info("worker %s left (%s)", w->id, b->reason[0] ? b->reason : "no reason");
    worker_leave(svc, w, strcmp(b->reason, "preempted") == 0 ? "its worker was preempted"
                                                            : "its worker left");
}

// ---- dispatch ----

/* What a worker sends; everything else is an admin's request. */
static bool is_worker_message(proto_msg_type_t t)
{
    switch (t) {
    case PROTO_MSG_HELLO:
    case PROTO_MSG_READY:
    case PROTO_MSG_HEARTBEAT:
    case PROTO_MSG_PROGRESS:
    case PROTO_MSG_RESULT:
    case PROTO_MSG_BYE:
        return true;
    default:
        return false;
    }
}

/* Who may do what (docs/service.md, Who may do what): the control endpoint
 * is only this user's (service_open makes its socket 0600), and without
 * CURVE there is no key to tell peers apart, so both are admins; with CURVE
 * only the keys of the allow-list's admin/ folder are. */
static bool peer_is_admin(const service_t *svc, const wire_server_t *from, const wire_peer_t *peer)
{
    return from == svc->ctl || !svc->cfg.key || peer->admin;
}

/* The client requests, answered by svc__on_request (service_request.c).
 * A new request is registered here and in that switch, nowhere else: it
 * is an admin's by default, since handle_frame refuses every type that
 * is_worker_message does not list unless peer_is_admin says yes (add its
 * frame to tests/test_trust.c, test_worker_key_is_not_an_admin). */
static bool is_request(proto_msg_type_t t)
{
    switch (t) {
    case PROTO_MSG_SWEEP_CREATE:
    case PROTO_MSG_STATUS:
    case PROTO_MSG_PAUSE:
    case PROTO_MSG_RESUME:
    case PROTO_MSG_STOP:
    case PROTO_MSG_IMPORT:
    case PROTO_MSG_ASK:
    case PROTO_MSG_TELL:
    case PROTO_MSG_RELEASE:
    case PROTO_MSG_VERIFY:
    case PROTO_MSG_SWEEP_ADMIN:
        return true;
    default:
        return false;
    }
}

static void handle_frame(service_t *svc, wire_server_t *from, const wire_peer_t *peer,
                         const char *buf, size_t len)
{
    carbs_err_t err = {0};
    proto_msg_t m = {0};
    double now = now_wall();
    svc_worker_t *w;
    char who[WIRE_PEER_STR_MAX];

    svc__outbox_reply_to(svc->out, from, peer);
    if (proto_msg_decode(buf, len, &m, &err)) {
        log_warn("frame from %s refused: %s", wire_peer_format(peer, who, sizeof(who)), err.msg);
        svc__send_error(svc->out, peer, err.code, err.msg);
        svc__outbox_reply_to(svc->out, NULL, NULL);
        return;
    }
    if (!is_worker_message(m.type) && !peer_is_admin(svc, from, peer)) {
        snprintf(err.msg, sizeof(err.msg),
                 "'%s' needs an admin key; key '%s' is a worker key (it may send hello, ready, "
                 "heartbeat, progress, result and bye)",
                 proto_msg_type_name(m.type), peer->user);
        log_warn("frame from %s refused: %s", wire_peer_format(peer, who, sizeof(who)), err.msg);
        svc__send_error(svc->out, peer, CARBS_EDENIED, err.msg);
        goto out;
    }
    if (m.type == PROTO_MSG_HELLO) {
        on_hello(svc, peer, &m.hello, now);
        goto out;
    }
    if (is_request(m.type)) {
        svc__on_request(svc, svc->out, peer, &m);
        goto out;
    }
    if (from == svc->ctl) {
        svc__send_error(svc->out, peer, CARBS_EPROTO,
                       "the control endpoint takes client requests only; workers connect to "
                       "the service's bind endpoint");
        goto out;
    }
    w = worker_by_peer(svc, peer);
    if (!w) {
        /* A worker whose hello we never saw (the service restarted): ask
         * it to introduce itself; its frame is not acted on. */
        svc__send_error(svc->out, peer, CARBS_ESTATE,
                       "send hello first (the service does not know this worker)");
        goto out;
    }
    worker_touch(svc, w, now);
    switch (m.type) {
    case PROTO_MSG_READY:
        svc__assign(svc, w);
        break;
    case PROTO_MSG_HEARTBEAT:
        if (m.heartbeat.trial_id)
            worker_names_trial(svc, w, m.heartbeat.trial_id, now);
        break;
    case PROTO_MSG_PROGRESS:
        on_progress(svc, w, &m.progress, now);
        break;
    case PROTO_MSG_RESULT: {
        /* The current attempt of a trial another worker holds: not this
         * worker's to report (a stale attempt is acknowledged below). */
        const svc_trial_t *t = svc__running_find(svc, m.result.r.trial_id);
        if (t && t->attempt == m.result.r.attempt && strcmp(t->worker, w->id) != 0) {
            svc__send_error(svc->out, peer, CARBS_EPROTO, "this trial is held by another worker");
            break;
        }
        worker_names_trial(svc, w, m.result.r.trial_id, now);
        svc__on_result(svc, peer, &m.result.r, false);
        break;
    }
    case PROTO_MSG_BYE:
        on_bye(svc, w, &m.bye);
        break;
    default:
        snprintf(err.msg, sizeof(err.msg), "'%s' is not a message a worker sends",
                 proto_msg_type_name(m.type));
        svc__send_error(svc->out, peer, CARBS_EPROTO, err.msg);
        break;
    }
out:
    proto_msg_release(&m);
    svc__outbox_reply_to(svc->out, NULL, NULL);
}

// ---- open, step, close ----

service_t *service_open(const service_config_t *cfg, carbs_err_t *err)
{
    service_t *svc = xcalloc(1, sizeof(*svc));
    wire_server_config_t wc = {0};
    store_sweep_iter_t *it = NULL;
    const store_sweep_t *row;
    int rc;

    svc->cfg = *cfg;
    if (svc->cfg.heartbeat_ms <= 0)
        svc->cfg.heartbeat_ms = SERVICE_HEARTBEAT_MS;
    if (svc->cfg.lease_ms <= 0)
        svc->cfg.lease_ms = SERVICE_LEASE_MS;
    if (svc->cfg.quarantine_losses <= 0)
        svc->cfg.quarantine_losses = SERVICE_QUARANTINE_LOSSES;
    if (svc->cfg.quarantine_s <= 0)
        svc->cfg.quarantine_s = SERVICE_QUARANTINE_S;
    if (svc->cfg.wait_ms <= 0)
        svc->cfg.wait_ms = SERVICE_WAIT_MS;
    if (svc->cfg.workers_per_key <= 0)
        svc->cfg.workers_per_key = SERVICE_WORKERS_PER_KEY;
    if (svc->cfg.lease_ms <= svc->cfg.heartbeat_ms) {
        carbs_fail(err, CARBS_EINVAL, "the lease (%d ms) must be longer than the heartbeat (%d ms)",
                   svc->cfg.lease_ms, svc->cfg.heartbeat_ms);
        goto fail;
    }

    svc->st = store_open(cfg->db_path,
                         STORE_CREATE | (cfg->sync_normal ? STORE_SYNC_NORMAL : STORE_SYNC_DEFER),
                         err);
    if (!svc->st || store_writer_lock(svc->st, err))
        goto fail;
    if (cfg->laws && !(svc->laws = laws_actor_new(cfg->db_path, cfg->laws_every, err)))
        goto fail;

    it = store_sweep_iter_new(svc->st, (1u << CARBS_SWEEP_ACTIVE) | (1u << CARBS_SWEEP_PAUSED), err);
    if (!it)
        goto fail;
    while ((rc = store_sweep_iter_next(it, &row)) == CARBS_CONTINUE) {
        if (cfg->no_sweeps)
            break;
        if (cfg->only_sweep && strcmp(cfg->only_sweep, row->name) != 0) {
            char id[32];
            snprintf(id, sizeof(id), "%" PRId64, row->id);
            if (strcmp(cfg->only_sweep, id) != 0)
                continue;
        }
        if (svc__sweep_load(svc, row, err)) {
            if (cfg->only_sweep)
                goto fail;
            /* One sweep whose rows do not decode does not hold up the rest. */
            log_error("sweep %s (id %" PRId64 ") not served: %s", row->name, row->id,
                      err ? err->msg : "cannot load it");
        }
    }
    if (rc < 0) {
        carbs_fail(err, rc, "cannot list the sweeps of '%s'", cfg->db_path);
        goto fail;
    }
    store_sweep_iter_free(it);
    it = NULL;
    if (cfg->only_sweep && svc->sweeps.n == 0) {
        carbs_fail(err, CARBS_ENOTFOUND, "no active or paused sweep '%s' in '%s'", cfg->only_sweep,
                   cfg->db_path);
        goto fail;
    }

    wc.endpoint = cfg->endpoint;
    wc.frame_max = PROTO_FRAME_MAX;
    wc.key = cfg->key;
    wc.allow = cfg->allow;
    wc.insecure = cfg->insecure;
    svc->srv = wire_server_open(&wc, err);
    if (!svc->srv)
        goto fail;
    svc->out = svc__outbox_new(svc->srv);
    {
        wire_server_config_t cc = {0};
        char ctl[WIRE_ENDPOINT_MAX + 1];
        mode_t mask;
        if ((rc = service_control_endpoint(cfg->db_path, ctl, sizeof(ctl)))) {
            carbs_fail(err, rc, "the control endpoint for '%s' is too long", cfg->db_path);
            goto fail;
        }
        /* A stale socket file of a service that was killed: we hold the
         * writer lock, so nobody else is using it. */
        str_copy(svc->ctl_path, sizeof(svc->ctl_path), ctl + strlen("ipc://"));
        unlink(svc->ctl_path);
        cc.endpoint = ctl;
        cc.frame_max = PROTO_FRAME_MAX;
        /* Whoever connects here is an admin: the socket is born 0600 (the
         * bind runs on this thread), so only this user can connect. */
        mask = umask(0177);
        svc->ctl = wire_server_open(&cc, err);
        umask(mask);
        if (!svc->ctl)
            goto fail;
    }
    for (size_t i = 0; i < svc->sweeps.n; i++)
        svc__sweep_update_state(svc, svc->sweeps.v[i]);
    log_info("serving %zu sweep%s from %s on %s", svc->sweeps.n, svc->sweeps.n == 1 ? "" : "s",
             cfg->db_path, wire_server_endpoint(svc->srv));
    return svc;

fail:
    store_sweep_iter_free(it);
    service_close(svc);
    return NULL;
}

void service_close(service_t *svc)
{
    if (!svc)
        return;
    laws_actor_free(svc->laws, svc->st);
    wire_server_close(svc->srv);
    if (svc->ctl) {
        wire_server_close(svc->ctl);
        unlink(svc->ctl_path); /* the name of the file it bound, whatever happened to the store */
    }
    for (size_t i = 0; i < svc->sweeps.n; i++)
        svc__sweep_free(svc->sweeps.v[i]);
    DA_FREE(&svc->sweeps);
    DA_FREE(&svc->workers);
    DA_FREE(&svc->running);
    svc__outbox_free(svc->out);
    store_close(svc->st);
    free(svc);
}

const char *service_endpoint(const service_t *svc)
{
    return wire_server_endpoint(svc->srv);
}

int service_step(service_t *svc, int timeout_ms, carbs_err_t *err)
{
    wire_peer_t peer;
    char *buf = NULL;
    size_t len = 0;
    double now;
    int rc;

    if (timeout_ms > SVC_TICK_MS)
        timeout_ms = SVC_TICK_MS;
    rc = wire_server_recv(svc->srv, &peer, &buf, &len, timeout_ms, err);
    /* Handle what has arrived, up to a batch, before one sync for all. */
    for (int k = 1; rc == 0; k++) {
        handle_frame(svc, svc->srv, &peer, buf, len);
        free(buf);
        buf = NULL;
        if (k == SVC_BATCH_MAX)
            break;
        rc = wire_server_recv(svc->srv, &peer, &buf, &len, 0, err);
    }
    if (rc != 0 && rc != CARBS_ETIMEDOUT && rc != CARBS_ENOMEM) {
        svc__outbox_flush(svc->out, svc->st, NULL);
        return rc;
    }
    /* Control requests are rare: look without waiting. */
    buf = NULL;
    rc = wire_server_recv(svc->ctl, &peer, &buf, &len, 0, err);
    if (rc == 0) {
        handle_frame(svc, svc->ctl, &peer, buf, len);
        free(buf);
    } else if (rc != CARBS_ETIMEDOUT && rc != CARBS_ENOMEM) {
        svc__outbox_flush(svc->out, svc->st, NULL);
        return rc;
    }
    now = now_wall();
    if (now >= svc->next_tick) {
        expire_leases(svc, now);
        svc->next_tick = now + SVC_TICK_MS / 1000.0;
    }
    laws_actor_poll(svc->laws, svc->st);
    rc = svc__outbox_flush(svc->out, svc->st, err);
    if (rc)
        log_error("the store could not be synced: replies withheld; stopping");
    return rc;
}

bool service_done(const service_t *svc)
{
    for (size_t i = 0; i < svc->sweeps.n; i++)
        if (svc__sweep_state(svc->sweeps.v[i]) == CARBS_SWEEP_ACTIVE)
            return false;
    return svc->running.n == 0;
}

int service_summary(const service_t *svc, size_t i, service_summary_t *out)
{
    if (i >= svc->sweeps.n)
        return CARBS_ENOTFOUND;
    svc__sweep_summary(svc->sweeps.v[i], out);
    for (size_t k = 0; k < svc->workers.n; k++)
    {
        out->workers += svc->workers.v[k].connected;
        out->quarantined += svc->workers.v[k].connected && svc->workers.v[k].quarantined;
    }
    return 0;
}
