/*
 * runner.h - run one trial of any kind (embedded, command, synthetic) in a
 * forked child process, so that nothing the trial does (a crash, a hang,
 * running out of memory) can take the worker down (docs/service.md, Failure
 * semantics).
 *
 * The child is the leader of its own process group and dies with the
 * worker (PR_SET_PDEATHSIG).  It reports over a pipe: progress at most
 * every RUNNER_PROGRESS_MIN_S, then exactly one result, then it exits.  A
 * child that dies without a result is an infra failure naming the signal
 * or exit status.  The parent side never blocks for long: runner_poll()
 * takes a timeout, and runner_fd() can join an event loop's poll set.
 *
 * Every result leaves here with trial_id and attempt set and with
 * wall_seconds, cpu_seconds, peak_rss_bytes (and, on a cpu device,
 * device_seconds) filled from the child's resource usage when the trial
 * did not report them.  A result that says ok but lacks the trial's
 * metric becomes an error failure.
 *
 * Embedded trials map the trial's fixed and searched values onto
 * trainer_config_t by name (trainer_config_set; a string value `data`
 * names the data folder, or "synthetic" for dataset_synthetic) and train
 * on data_dir (else $CARBS_DATA, else ./data-cache) or, with
 * synthetic_data, on the synthetic corpus.  Missing data or a backend not
 * in this build is infra (another node may have it); what the trainer
 * rejects, diverges on or cannot fit is the config's fault.
 */
#ifndef CARBS_WORKER_RUNNER_H
#define CARBS_WORKER_RUNNER_H

#include <sys/types.h>

#include "proto/msg.h"

#define RUNNER_KILL_GRACE_S 5.0   /* SIGTERM, then SIGKILL this much later */
#define RUNNER_PROGRESS_MIN_S 0.2 /* the child reports progress at most this often */
#define RUNNER_CURVE_MAX 2048     /* curve points kept; beyond, every other one is dropped */
#define RUNNER_SYNTHETIC_STEPS 20 /* progress reports over a synthetic trial's sleep */
#define RUNNER_SYNTHETIC_DATA_TOKENS (1u << 21) /* training tokens of the synthetic corpus */

/* How to run trials.  Pointers are borrowed for the duration of
 * runner_start(); all-zero is a valid config. */
typedef struct runner_config {
    const char *device;   /* "cpu" (NULL means cpu) or "cuda:K" */
    const char *tmp_dir;  /* command trials' directories (removed after); NULL = $TMPDIR, /tmp */
    double time_limit_s;  /* wall-clock limit per trial; 0 = none */
    double kill_grace_s;  /* 0 = RUNNER_KILL_GRACE_S */
    const char *data_dir; /* embedded: prepared data; NULL = $CARBS_DATA, else ./data-cache */
    bool synthetic_data;  /* embedded: train on the synthetic corpus instead */
    int threads;          /* embedded: CPU threads; 0 = 1 */
} runner_config_t;

typedef struct runner runner_t;

/* Fork a child that runs trial (the message is copied as needed; the
 * caller keeps it).  Returns the runner (free with runner_free), or NULL
 * with err filled: CARBS_EINVAL for a trial without its kind's settings
 * (a command without argv, a synthetic without a function), CARBS_EIO when
 * the pipe or the fork fails. */
runner_t *runner_start(const runner_config_t *cfg, const proto_trial_t *trial, carbs_err_t *err);

/* Wait up to timeout_ms (0 = just look, negative = until something
 * happens) for news from the child, enforcing the time limit and the kill
 * grace.  Returns CARBS_CONTINUE while the trial runs or progress is
 * queued, with *has_progress telling whether *progress holds the next
 * progress report (trial_id, attempt, step, tokens, train_loss,
 * elapsed_seconds); returns 0 once the child has been reaped and all its
 * progress handed out (then call runner_result), and keeps returning 0. */
int runner_poll(runner_t *r, int timeout_ms, proto_progress_t *progress, bool *has_progress,
                carbs_err_t *err);

/* A file descriptor that becomes readable when the child has news, or -1
 * once it has none left; for an event loop's poll().  Borrowed. */
int runner_fd(const runner_t *r);

/* Stop the trial: SIGTERM to the child's group (and the command's), SIGKILL
 * after the grace time.  Unless the trial had already sent its result, the
 * result becomes failed with kind why and message reason.  Idempotent. */
void runner_cancel(runner_t *r, carbs_failure_t why, const char *reason);

/* Move the result into *out (the caller releases it).  Returns 0, or
 * CARBS_ESTATE before runner_poll() has returned 0 or after it was taken. */
int runner_result(runner_t *r, carbs_result_t *out);

int64_t runner_trial_id(const runner_t *r);
int runner_attempt(const runner_t *r);
/* The child's pid (its process group id); 0 once reaped. */
pid_t runner_pid(const runner_t *r);

/* Kill the child's groups if they still run, reap, free.  r may be NULL. */
void runner_free(runner_t *r);

#endif
