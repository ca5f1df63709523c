/*
 * service_table.h - the service's tables of workers and running trials,
 * kept by service.c and read or edited by the sweeps (service_sweep.c) and
 * the `status` request (service_request.c).  Internal to
 * optimizer/service/; nothing here is API.
 *
 * The store is the truth; these rows are its in-memory index:
 * - svc_worker_t: a worker that said hello and is connected or holds a
 *   trial (keyed by its worker id, which is also its ZeroMQ routing id;
 *   one id per connection);
 * - svc_trial_t: a trial that is running now (keyed by trial id), with the
 *   lease deadline kept in memory and written to the store only when it
 *   moved far enough (service.c).
 * Pointers into a table hold until the table changes (a hello, a claim, a
 * removal).
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_TABLE_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_TABLE_H

#include "optimizer/service/service.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "store/store.h"

typedef struct svc_sweep svc_sweep_t; /* service_sweep.h */

typedef struct svc_worker {
    char id[CARBS_NAME_MAX];
    wire_peer_t peer;
    /* The CURVE key its first hello came with ("" without CURVE): the id
     * is that key's from then on, while the row lives: a worker that left
     * and holds no trial is forgotten (service.c). */
    char key[WIRE_KEY_NAME_MAX + 1];
    char host[PROTO_HOST_MAX];
    int slots;
    proto_caps_t caps;
    double last_seen;
    bool connected; /* said hello and neither bye nor went silent since */
    bool quarantined;
    /* Losses that point at its host (service_sweep.c) since window_start;
     * the window restarts SERVICE_LOSS_WINDOW_S after it began. */
    int host_losses;
    double window_start;
} svc_worker_t;

typedef struct svc_trial {
    int64_t id;
    int attempt;
    svc_sweep_t *sw;
    char worker[CARBS_NAME_MAX]; /* its holder: a worker id, or a stand-in (service_sweep.h) */
    double deadline;        /* unix seconds, in memory */
    double stored_deadline; /* what the store holds */
    /* The worker named this trial (heartbeat, progress, result, or the
     * trial was sent to it) since its last hello; only then does its other
     * traffic renew the lease.  A restarted worker that forgot the trial
     * lets it expire. */
    bool confirmed;
    /* Taken over from the store at open and not named by its worker since:
     * its `trial` frame may have died with the previous service, so losing
     * it is not the worker's fault (no loss counted). */
    bool inherited;
    bool is_ask; /* handed out by an `ask` request: no worker, no lease */
} svc_trial_t;

/* The store the service writes (its one writer connection). */
store_t *svc__store(service_t *svc);

/* The worker with this id, or NULL. */
svc_worker_t *svc__worker_find(service_t *svc, const char *id);

/* Worker i in hello order, or NULL past the end. */
const svc_worker_t *svc__worker_at(const service_t *svc, size_t i);

/* The running trial with this id, or NULL. */
svc_trial_t *svc__running_find(service_t *svc, int64_t trial_id);

/* Running trial i, or NULL past the end. */
const svc_trial_t *svc__running_at(const service_t *svc, size_t i);

/* The lease deadline of a trial found running in the store at load, whose
 * stored deadline is stored (written coarsely, service.c): the lease it
 * had, else a grace of two heartbeats from now for its worker to say hello
 * and name it again (docs/service.md, Restart).  Never a fresh lease: a
 * service that restarts often would keep the trials of dead workers
 * running for ever. */
double svc__lease_on_load(const service_t *svc, double stored, double now);

/* Track t as running (copied). */
void svc__running_add(service_t *svc, const svc_trial_t *t);

/* Stop tracking trial_id as running; nothing when it is not. */
void svc__running_remove(service_t *svc, int64_t trial_id);

#endif
