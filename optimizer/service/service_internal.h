/*
 * service_internal.h - the service's private state, shared by service.c
 * (the loop, workers, leases) and service_sweep.c (sweeps, assignment,
 * results).  Nothing here is API.
 *
 * The store is the truth; these tables are its in-memory index:
 * - svc_worker_t: a worker that said hello (keyed by its worker id, which
 *   is also its ZeroMQ routing id);
 * - svc_trial_t: a trial that is running now (keyed by trial id), with the
 *   lease deadline kept in memory and written to the store only when it
 *   moved far enough (SVC_LEASE_WRITE_FRAC);
 * - svc_sweep_t: an active or paused sweep with its optimizer.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_INTERNAL_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_INTERNAL_H

#include "optimizer/carbs.h"
#include "optimizer/service/laws_actor.h"
#include "optimizer/service/service.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/sweep.h"
#include "proto/wire.h"
#include "store/store.h"

/* A stored lease deadline is refreshed once the in-memory one is ahead of
 * it by this fraction of the lease: a restart grants a fresh lease anyway,
 * so the store needs only a coarse copy. */
#define SVC_LEASE_WRITE_FRAC 0.25
/* How often (ms) the loop looks for expired leases at the latest. */
#define SVC_TICK_MS 250
#define SVC_BATCH_MAX 64 /* frames handled before one sync and the replies */
/* Trials taken by `ask` and `import` have no worker: these holders stand in
 * for one, and an `ask` trial's lease is a year (nothing renews it). */
#define SVC_ASK_WORKER "(ask)"
#define SVC_IMPORT_WORKER "(import)"
#define SVC_ASK_LEASE_S (365.0 * 24 * 3600)

typedef struct svc_sweep {
    int64_t id;
    char name[CARBS_NAME_MAX];
    carbs_sweep_state_t state;
    sweep_spec_t spec;
    carbs_t *opt;
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    double cost_spent;
    double best_output; /* NaN when none */
    int64_t best_trial;
    DA_TYPE(int64_t) queue; /* pending (re-queued) trials, oldest first */
} svc_sweep_t;

typedef struct svc_worker {
    char id[CARBS_NAME_MAX];
    wire_peer_t peer;
    char host[PROTO_HOST_MAX];
    int slots;
    proto_caps_t caps;
    double last_seen;
    bool connected; /* said hello and neither bye nor went silent since */
    bool quarantined;
} svc_worker_t;

typedef struct svc_trial {
    int64_t id;
    int attempt;
    svc_sweep_t *sw;
    char worker[CARBS_NAME_MAX];
    double deadline;        /* unix seconds, in memory */
    double stored_deadline; /* what the store holds */
    /* The worker named this trial (heartbeat, progress, result, or the
     * trial was sent to it) since its last hello; only then does its other
     * traffic renew the lease.  A restarted worker that forgot the trial
     * lets it expire. */
    bool confirmed;
    bool is_ask; /* handed out by an `ask` request: no worker, no lease */
} svc_trial_t;

/* A reply held back until the store is synced. */
typedef struct svc_out {
    wire_server_t *to;
    wire_peer_t peer;
    char *buf;
    size_t len;
    proto_msg_type_t type;
} svc_out_t;

struct service {
    service_config_t cfg;
    store_t *st;
    wire_server_t *srv;
    wire_server_t *ctl; /* the local control endpoint (service_control_endpoint) */
    wire_server_t *cur_from; /* while a frame is handled: the socket it came in on */
    wire_peer_t cur_peer;    /* and its sender */
    DA_TYPE(svc_sweep_t *) sweeps;
    DA_TYPE(svc_worker_t) workers;
    DA_TYPE(svc_trial_t) running;
    size_t rr; /* round-robin position over sweeps for assignment */
    double next_tick;
    /* Group commit: replies wait here until the end of the service_step
     * that made them, when one store_sync() has made every commit they
     * report durable (DESIGN.md §5: committed before acknowledged). */
    DA_TYPE(svc_out_t) outbox;
    laws_actor_t *laws; /* with cfg.laws: the full law fits (laws_actor.h) */
};

// ---- service.c ----

/* Encode and send m to peer; failures are logged (the peer may be gone). */
void svc_send(service_t *svc, const wire_peer_t *peer, const proto_msg_t *m);
void svc_send_error(service_t *svc, const wire_peer_t *peer, int code, const char *message);
svc_trial_t *svc_running_find(service_t *svc, int64_t trial_id);
void svc_running_remove(service_t *svc, int64_t trial_id);
svc_worker_t *svc_worker_find(service_t *svc, const char *id);

// ---- service_sweep.c ----

/* Load the sweep row into a new svc_sweep_t, rebuild its optimizer from the
 * store and append it to svc->sweeps; running trials are added to
 * svc->running with a fresh lease.  Returns 0 or an error naming it. */
int svc_sweep_load(service_t *svc, const store_sweep_t *row, carbs_err_t *err);
void svc_sweep_free(svc_sweep_t *sw);
svc_sweep_t *svc_sweep_find(service_t *svc, const char *id_or_name);

/* A worker slot is free: hand it a trial (send `trial`) or tell it to
 * wait. */
void svc_assign(service_t *svc, svc_worker_t *w);

/* A result arrived from peer (a worker, or a `tell` from a client when
 * is_tell). */
void svc_on_result(service_t *svc, const wire_peer_t *peer, const carbs_result_t *r,
                   bool is_tell);

/* The trial's lease ran out, its worker left, or it was preempted: mark it
 * lost and re-queue it (or fail it as infra once out of retries). */
void svc_lose(service_t *svc, int64_t trial_id, const char *why);

/* Take the next trial of sw (re-queued first, else a new suggestion) for
 * holder until deadline and track it as running.  Returns 0 with *id and
 * *attempt, CARBS_ENOTFOUND when the budget allows no new trial, or the
 * store's or optimizer's error. */
int svc_take_trial(service_t *svc, svc_sweep_t *sw, const char *holder, double deadline,
                   bool is_ask, int64_t *id, int *attempt, carbs_err_t *err);

/* Store an imported record as a finished trial of sw and observe it. */
int svc_import_record(service_t *svc, svc_sweep_t *sw, const proto_record_t *rec,
                      const char *holder, carbs_err_t *err);

/* Client requests: each answers peer with one reply. */
void svc_on_request(service_t *svc, const wire_peer_t *peer, const proto_msg_t *m);

/* Fill the state of sw after its counts changed: done when its budget is
 * spent and nothing runs. */
void svc_sweep_update_state(service_t *svc, svc_sweep_t *sw);

#endif
