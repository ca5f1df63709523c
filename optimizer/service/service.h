/*
 * service.h - `carbs serve`: every active sweep of a store behind one
 * ZeroMQ ROUTER (docs/service.md).
 *
 * A single-threaded event loop.  The caller owns the loop:
 *
 *   service_t *svc = service_open(&cfg, err);
 *   while (!stop && !service_done(svc))
 *       service_step(svc, 200, err);      // one frame or a timeout, then leases
 *   service_close(svc);
 *
 * Every state change is written to the store before the service answers:
 * a trial is stored as running before `trial` is sent, a result is
 * committed before `ack`, and only then does the sweep's optimizer observe
 * it.  The service holds the store's writer lock (store_writer_lock) from
 * open to close, so CLI commands send it their changes instead of writing.
 *
 * Restart: service_open rebuilds each active sweep's optimizer from the
 * store (observations in commit order, open trials as pending suggestions,
 * then the optimizer snapshot), and gives every running trial a fresh lease
 * so its worker has time to come back and re-attach.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/types.h"

#define SERVICE_HEARTBEAT_MS 5000 /* workers send a heartbeat at least this often */
#define SERVICE_LEASE_MS 60000    /* silence this long loses a worker's trials (12 beats) */
#define SERVICE_QUARANTINE_LOSSES 3 /* host losses within the window that quarantine a worker */
#define SERVICE_LOSS_WINDOW_S 3600  /* the window: counted from its first host loss */
#define SERVICE_QUARANTINE_S 600    /* how long a quarantine lasts */
#define SERVICE_WAIT_MS 1000      /* what `wait` tells an idle worker */
/* The most worker ids one CURVE key holds at once (connected or holding a
 * trial), so one key cannot fill the service's table of 10,000 workers and
 * keep the others out; a node's workers share its key, hence the room. */
#define SERVICE_WORKERS_PER_KEY 1000

typedef struct service_config {
    const char *db_path;   /* the store; created when missing */
    const char *endpoint;  /* where to bind, e.g. "tcp://0.0.0.0:5555" or "ipc:///run/carbs" */
    const char *key;       /* the service's key pair file; NULL = no CURVE */
    const char *allow;     /* directory of allowed worker *.pub files (with key) */
    bool insecure;         /* allow a non-local bind without CURVE */
    int heartbeat_ms;      /* 0 = SERVICE_HEARTBEAT_MS */
    int lease_ms;          /* 0 = SERVICE_LEASE_MS */
    int quarantine_losses; /* 0 = SERVICE_QUARANTINE_LOSSES */
    int quarantine_s;      /* 0 = SERVICE_QUARANTINE_S; then the worker gets trials again */
    int wait_ms;           /* 0 = SERVICE_WAIT_MS */
    int workers_per_key;   /* 0 = SERVICE_WORKERS_PER_KEY */
    const char *only_sweep; /* serve only this sweep (id or name); NULL = every active one */
    bool no_sweeps;         /* load none at open (a one-shot service for a CLI request) */
    bool sync_normal;       /* commit with STORE_SYNC_NORMAL (store/store.h): survives a
                               killed service, not a power loss; faster on a real disk */
    /* Refit each sweep's scaling laws as its results come in and store the
     * fits (docs/scaling-laws.md): the cheap fit after every result, on
     * the loop; the full one every laws_every results of a sweep (0 =
     * LAWS_ACTOR_EVERY, optimizer/service/laws_actor.h) in an actor
     * thread, stored when it is back; service_close() waits for one under
     * way.  A failed fit is logged and never stops the service. */
    bool laws;
    int laws_every;
} service_config_t;

typedef struct service service_t;

/* Open the store, take its writer lock, load every active sweep, bind and,
 * with cfg->laws, start the law actor.  Returns NULL with err filled: the
 * store's errors (CARBS_EBUSY when another service holds the store), the
 * wire's (CARBS_EDENIED for a non-local bind without keys), CARBS_EINVAL
 * for a stored sweep whose spec cannot be read, CARBS_ENOTFOUND for an
 * unknown only_sweep, CARBS_EIO when the law actor cannot start. */
service_t *service_open(const service_config_t *cfg, carbs_err_t *err);

/* The local control endpoint of the service that holds the store at
 * db_path: an ipc:// socket under /tmp named after the store file's identity
 * (device and inode, so a symlink or a hard link to the store names the same
 * endpoint; the real path for a file that does not exist yet) and the user
 * id, which the service binds beside its worker endpoint (without
 * CURVE: the socket file is created with mode 0600 whatever the umask, so
 * only the service's user can connect, and every client there is an admin,
 * docs/service.md).  CLI commands that
 * change a sweep while a service runs send their request here
 * (the writer rule, docs/store.md).  Writes at most cap bytes into out; returns 0 or
 * CARBS_ETOOBIG. */
int service_control_endpoint(const char *db_path, char *out, size_t cap);

/* Wait for a full law fit under way and store it, unbind, release the
 * writer lock and close the store.  Trials still running stay `running` in
 * the store; a later service re-attaches them.  svc may be NULL. */
void service_close(service_t *svc);

/* The endpoint actually bound (any "*" port resolved).  Borrowed. */
const char *service_endpoint(const service_t *svc);

/* Wait up to timeout_ms for one frame and handle it, then expire leases
 * that ran out and store a full law fit that has come back.  Returns 0
 * (also on a timeout), or CARBS_EIO when the socket failed.  A store
 * failure on one request is answered with an error frame and logged; it
 * does not end the loop. */
int service_step(service_t *svc, int timeout_ms, carbs_err_t *err);

/* True when no sweep is active any more (each is done, stopped or paused)
 * and no trial is running. */
bool service_done(const service_t *svc);

/* A sweep's figures, for progress lines and `status`. */
typedef struct service_summary {
    int64_t sweep_id;
    char name[CARBS_NAME_MAX];
    carbs_sweep_state_t state;
    size_t counts[CARBS_TRIAL_STATE_COUNT]; /* trials per state */
    size_t imported;      /* of the done and failed, those from `carbs import` */
    size_t workers;       /* workers connected now (all sweeps) */
    size_t quarantined;   /* of those, the quarantined ones */
    double cost_spent;    /* known costs of finished trials, failed ones included,
                           * imported ones left out (store_sweep_counts) */
    double best_output;   /* the best output so far; NaN when none */
    int64_t best_trial;   /* 0 when none */
    /* Why the service paused the sweep itself (too many failures in a row,
     * docs/service.md); "" when it did not. */
    char pause_reason[CARBS_MSG_MAX];
} service_summary_t;

/* Fill *out for sweep i, in load order (0 for the only one of a service
 * opened with only_sweep).  Returns 0, or CARBS_ENOTFOUND past the last
 * sweep. */
int service_summary(const service_t *svc, size_t i, service_summary_t *out);

#endif
