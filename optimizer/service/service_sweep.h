/*
 * service_sweep.h - the service's sweeps, as the event loop (service.c)
 * and the client requests (service_request.c) use them: the table of
 * loaded sweeps, what a sweep shows, and the changes a sweep goes through
 * (trials handed out, results, imports, losses, pause/resume/stop).
 * Internal to optimizer/service/; nothing here is API.
 *
 * svc_sweep_t is opaque: an active or paused sweep of the store with its
 * optimizer, its trial counts and its queue of re-queued trials.  The
 * service owns every one; a pointer holds until service_close.
 *
 * Order of effects, always: the store first, then the answer on the wire,
 * then the optimizer (docs/service.md).  Functions that answer a peer do
 * so through the service's outbox (service_outbox.h).
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_SWEEP_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_SWEEP_H

#include "optimizer/service/service.h"
#include "optimizer/service/service_table.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/sweep.h"
#include "store/store.h"

/* Trials taken by `ask` and `import` have no worker: these holders stand in
 * for one, and an `ask` trial's lease is a year (nothing renews it). */
#define SVC_ASK_WORKER "(ask)"
#define SVC_IMPORT_WORKER STORE_IMPORT_WORKER
#define SVC_ASK_LEASE_S (365.0 * 24 * 3600)

typedef struct svc_sweep svc_sweep_t;

// ---- the table ----

/* Load the sweep row: rebuild its optimizer from the store (observations
 * in commit order, open trials as pending, then the optimizer snapshot),
 * track its running trials with the lease the store gives them
 * (svc__lease_on_load) and re-queue its lost ones.
 * Returns 0, or an error naming the sweep (a spec that cannot be read, the
 * store's error). */
int svc__sweep_load(service_t *svc, const store_sweep_t *row, carbs_err_t *err);

/* Create a sweep from spec_json (a sweep file as JSON) in the store and
 * load it; *id is its id once stored (0 before).  Returns 0, CARBS_EINVAL
 * for a bad spec, or the store's error (CARBS_EEXIST for a taken name). */
int svc__sweep_create(service_t *svc, const char *spec_json, int64_t *id, carbs_err_t *err);

/* Free sw and its optimizer.  sw may be NULL. */
void svc__sweep_free(svc_sweep_t *sw);

/* The loaded sweep named id_or_name (its name or its id in decimal), or
 * NULL. */
svc_sweep_t *svc__sweep_find(service_t *svc, const char *id_or_name);

/* Sweep i in load order, or NULL past the end. */
svc_sweep_t *svc__sweep_at(const service_t *svc, size_t i);

// ---- what a sweep shows ----

int64_t svc__sweep_id(const svc_sweep_t *sw);
const char *svc__sweep_name(const svc_sweep_t *sw); /* borrowed */
carbs_sweep_state_t svc__sweep_state(const svc_sweep_t *sw);
const sweep_spec_t *svc__sweep_spec(const svc_sweep_t *sw); /* borrowed */

/* Fill *out with sw's figures (id, name, state, trial counts, cost spent,
 * best); out->workers is left 0 (workers are not a sweep's). */
void svc__sweep_summary(const svc_sweep_t *sw, service_summary_t *out);

// ---- changes ----

/* Pause (CARBS_SWEEP_PAUSED), resume (CARBS_SWEEP_ACTIVE) or stop
 * (CARBS_SWEEP_STOPPED) sw: stored first, then held in memory.  Stopping
 * cancels every open trial (their workers get `cancel`).  Returns 0,
 * CARBS_ESTATE for a sweep that is done or stopped already, or the store's
 * error; err says which. */
int svc__sweep_set_state(service_t *svc, svc_sweep_t *sw, carbs_sweep_state_t to,
                         carbs_err_t *err);

/* An active sweep whose budget is spent with nothing running or queued
 * becomes done (stored, then held). */
void svc__sweep_update_state(service_t *svc, svc_sweep_t *sw);

/* Take the next trial of sw (re-queued first, else a new suggestion) for
 * holder until deadline and track it as running.  Returns 0 with *id and
 * *attempt, CARBS_ENOTFOUND when the budget allows no new trial, or the
 * store's or optimizer's error. */
int svc__sweep_take_trial(service_t *svc, svc_sweep_t *sw, const char *holder, double deadline,
                          bool is_ask, int64_t *id, int *attempt, carbs_err_t *err);

/* Store rec as a finished trial of sw held by holder, then observe it.
 * Returns 0, CARBS_EINVAL (params outside the space, a success without a
 * positive cost: nothing stored) or the store's error. */
int svc__sweep_import(service_t *svc, svc_sweep_t *sw, const proto_record_t *rec,
                      const char *holder, carbs_err_t *err);

/* Queue v's configuration as a verification run of sw (docs/scaling-laws.md,
 * "Predict, then verify"): a pending trial stored with its prediction
 * (store_verify_add), handed out before any new suggestion, never shown to
 * the optimizer and not counted by the budget.  A done sweep becomes
 * active again until it has run.  v->params must already be checked
 * against the sweep's space.  Returns 0 with *id, CARBS_ESTATE for a
 * stopped sweep, or the store's error. */
int svc__sweep_verify(service_t *svc, svc_sweep_t *sw, const proto_verify_t *v, int64_t *id,
                      carbs_err_t *err);

// ---- sweep_admin: extend, rename, delete (docs/cli.md) ----

/* The sweep which (name or id) of the store, loaded here or not, gets
 * `trials` more trials (> 0, or 0 for none) and `cost` more cost (> 0, or
 * NaN or 0 for none) in its budget: the spec is rewritten in the store, and
 * a done sweep becomes active again (loaded here and handing out trials,
 * unless this service serves one sweep only or none).  Refused, with
 * nothing changed: a stopped sweep (CARBS_ESTATE), nothing to add, a budget
 * that is unlimited (CARBS_EINVAL), or a budget still spent after the
 * extension (CARBS_ESTATE, naming what is short).  On success *id is the
 * sweep's id and msg[cap] says what changed. */
int svc__sweep_extend(service_t *svc, const char *which, int64_t trials, double cost,
                      int64_t *id, char *msg, size_t cap, carbs_err_t *err);

/* Rename sweep which to name (the sweep file's name rules; CARBS_EEXIST
 * when taken), in the store and here.  *id as above. */
int svc__sweep_rename(service_t *svc, const char *which, const char *name, int64_t *id,
                      carbs_err_t *err);

/* Delete sweep which with all its trials from the store (and from this
 * service).  An active or paused sweep is refused (CARBS_ESTATE): stop it
 * first.  *id as above. */
int svc__sweep_delete(service_t *svc, const char *which, int64_t *id, carbs_err_t *err);

// ---- trials, for the event loop ----

/* A worker slot is free: hand w a trial (send `trial`) from the next sweep
 * in turn that has one it can run, or tell it to wait. */
void svc__assign(service_t *svc, svc_worker_t *w);

/* A result for r->trial_id arrived from peer (a worker, or a `tell` from a
 * client when is_tell): commit it, answer peer (`ack`, or a `reply` for a
 * tell), then let the optimizer learn it. */
void svc__on_result(service_t *svc, const wire_peer_t *peer, const carbs_result_t *r,
                    bool is_tell);

/* The trial's lease ran out, its worker left, or it was preempted: mark it
 * lost and re-queue it (or fail it as infra once out of retries).  Nothing
 * when trial_id is not running.  host_fault: the loss points at the
 * holder's host (its lease ran out: the worker died or went silent), so it
 * counts towards the holder's quarantine; a bye, a preemption or a crash
 * the worker reported does not (docs/service.md, Quarantine). */
void svc__lose(service_t *svc, int64_t trial_id, const char *why, bool host_fault);

/* End worker id's quarantine now (`carbs workers release`): in the store
 * and, when it is connected, here; its count of host losses starts over.
 * With unbind, also free the id from the CURVE key it is bound to (in the
 * store; a connected worker keeps its connection, and its next hello binds
 * the id again).  Returns 0 (also when it was not quarantined or bound),
 * CARBS_ENOTFOUND for a worker the store does not know, or the store's
 * error. */
int svc__worker_release(service_t *svc, const char *id, bool unbind, carbs_err_t *err);

#endif
