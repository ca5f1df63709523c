/*
 * worker.h - the `carbs worker` daemon as a library: join a service, take
 * trials, run them in child processes, report, survive (docs/service.md,
 * docs/protocol.md, docs/worker.md).
 *
 * The caller owns the loop, so tests can drive a worker step by step:
 *
 *   worker_t *w = worker_open(&cfg, err);
 *   while ((rc = worker_step(w, 100, err)) == CARBS_CONTINUE)
 *       ;
 *   worker_close(w);
 *
 * What a worker does, in the protocol's words: hello, then on welcome one
 * ready per free slot; a trial runs in a runner_t child; heartbeats every
 * heartbeat_ms (one per running trial, or trial 0 when idle); progress is
 * forwarded; the result is re-sent until acknowledged (the service is
 * idempotent by trial id).  `trial` and `wait` answer the oldest
 * outstanding `ready` (they name no slot).
 *
 * Invariants and rules:
 * - The service is taken as gone when the connection drops, or when an
 *   expected answer (welcome, trial/wait, ack) does not come within
 *   reply_timeout_ms.  The worker then closes its socket (dropping stale
 *   frames) and reconnects with exponential backoff, says hello with the
 *   same worker id, re-attaches its running trials by naming them in
 *   heartbeats, and re-sends results that were not acknowledged.  Trials
 *   keep running meanwhile.
 * - The stop flag (set by SIGTERM/SIGINT) is preemption: every child is
 *   stopped, the results of stopped trials are dropped, and bye "preempted"
 *   tells the service to re-queue them.
 * - One thread; no globals.  The worker forks (runner.h), so a process
 *   embedding it must expect SIGCHLD-free waitpid() of its own children.
 */
#ifndef CARBS_WORKER_WORKER_H
#define CARBS_WORKER_WORKER_H

#include <signal.h>

#include "proto/types.h"

#define WORKER_REPLY_TIMEOUT_MS 15000 /* an expected answer later than this: service gone */
#define WORKER_BACKOFF_MIN_MS 250     /* first reconnect delay, doubled per failed attempt */
#define WORKER_BACKOFF_MAX_MS 30000   /* longest reconnect delay */
#define WORKER_HEARTBEAT_MS 5000      /* until the service's welcome says otherwise */
#define WORKER_SLOTS_MAX 64

/* Settings.  Strings are copied at worker_open(); the stop flag is
 * borrowed for the worker's life. */
typedef struct worker_config {
    const char *endpoint;   /* the service, e.g. "tcp://head:5555"; required */
    const char *worker_id;  /* 1..63 bytes, stable across restarts; required */
    const char *host;       /* NULL = gethostname() */
    int slots;              /* trials at once, 1..WORKER_SLOTS_MAX; 0 = 1 */
    const char *device;     /* "cpu" (NULL), "cuda:K" or "cuda:K,L,..." (one trial over
                               those GPUs); checked by a probe at open */
    const char *key;        /* this worker's CURVE key pair file; NULL = no CURVE */
    const char *server_key; /* the service's .pub file; needed with key */
    const char *tmp_dir;    /* for command trials' directories; NULL = $TMPDIR or /tmp */
    double time_limit_s;    /* per trial; 0 = none */
    double kill_grace_s;    /* SIGTERM to SIGKILL for a trial; 0 = 5 s */
    const char *data_dir;   /* embedded trials' data; NULL = $CARBS_DATA, else ./data-cache */
    bool synthetic_data;    /* embedded trials train on the synthetic corpus */
    int threads;            /* embedded trials' CPU threads; 0 = 1 */
    int reply_timeout_ms;   /* 0 = WORKER_REPLY_TIMEOUT_MS */
    int backoff_min_ms;     /* 0 = WORKER_BACKOFF_MIN_MS */
    int backoff_max_ms;     /* 0 = WORKER_BACKOFF_MAX_MS */
    int max_trials;         /* leave ("shutdown") after this many trials are reported; 0 = never */
    const volatile sig_atomic_t *stop; /* nonzero = preempted: stop trials, bye, finish */
} worker_config_t;

typedef struct worker worker_t;

/* Check cfg, copy it, and connect (asynchronously: the service may be
 * down).  Returns the worker (close with worker_close), or NULL with err
 * filled: CARBS_EINVAL for a missing endpoint or id, a bad slot count, a
 * bad device spec or a bad endpoint; the wire's errors for unreadable key
 * files.  A device whose GPUs cannot be used (no usable GPU, no CUDA
 * backend) is not an error: the worker logs one line saying so, offers
 * "cpu" in its hello, and its trials fail with the probe's message. */
worker_t *worker_open(const worker_config_t *cfg, carbs_err_t *err);

/* One turn of the loop: wait up to timeout_ms (0 = just look) for a frame
 * or a child's news, handle what arrived, then do what is due (reconnect,
 * hello, ready, heartbeats, re-sends, the stop flag).  Returns
 * CARBS_CONTINUE while the worker lives; 0 once it has left (bye sent, or
 * the service unreachable while leaving); a negative code when it cannot go
 * on: CARBS_EDENIED (the service refused this worker's key),
 * CARBS_EVERSION (refused at hello), CARBS_EIO (a socket failed). */
int worker_step(worker_t *w, int timeout_ms, carbs_err_t *err);

/* worker_step() until it returns something other than CARBS_CONTINUE. */
int worker_run(worker_t *w, carbs_err_t *err);

/* Begin leaving with bye reason (a stop flag does this with "preempted"):
 * running trials are stopped and their results dropped.  Idempotent. */
void worker_leave(worker_t *w, const char *reason);

/* Stop every child and close the socket without a bye.  w may be NULL. */
void worker_close(worker_t *w);

/* Figures for logs and tests. */
typedef struct worker_stats {
    bool online;         /* welcomed and connected */
    size_t running;      /* trials running now */
    size_t unacked;      /* results waiting for their ack */
    size_t trials;       /* trials received and started */
    size_t results_sent; /* result frames sent, re-sends included */
    size_t acked;        /* results acknowledged */
    size_t connects;     /* connection attempts (the first one included) */
    size_t welcomes;     /* welcomes received */
} worker_stats_t;

void worker_stats(const worker_t *w, worker_stats_t *out);

/* Where a worker's default id comes from (cmd_worker reads the
 * environment into this; tests fill it by hand).  NULL or "" = unset. */
typedef struct worker_id_env {
    const char *carbs_worker_id;     /* $CARBS_WORKER_ID */
    const char *slurm_array_job_id;  /* $SLURM_ARRAY_JOB_ID */
    const char *slurm_array_task_id; /* $SLURM_ARRAY_TASK_ID */
    const char *slurm_job_id;        /* $SLURM_JOB_ID */
    const char *slurm_procid;        /* $SLURM_PROCID */
    const char *slurm_ntasks;        /* $SLURM_NTASKS */
    const char *host;
    long pid;
} worker_id_env_t;

/* The default worker id into out[cap]: $CARBS_WORKER_ID; else under a
 * Slurm array "slurm-<array job>_<task>", else "slurm-<job>" (both stable
 * when Slurm re-queues the job, so the worker re-attaches), with
 * ".<procid>" added when the step runs several tasks; else "<host>-<pid>".
 * Returns 0, or CARBS_ETOOBIG when the id would not fit in cap or in 63
 * bytes (the host part is shortened first). */
int worker_default_id(const worker_id_env_t *env, char *out, size_t cap);

#endif
