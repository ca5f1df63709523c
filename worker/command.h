/*
 * command.h - run any program as a trial (`trainer: command`; step 5 of
 * docs/service.md, The life of a trial); docs/worker.md states the contract
 * a program follows.
 *
 * The program gets the trial three ways: `--name=value` arguments appended
 * to its argv (the sweep's fixed parameters, then the searched ones; an
 * argument that is one of the macros of proto/sweep.h, "${args}" and its
 * kin, is replaced by them instead, in the macro's form), the
 * environment (CARBS_TRIAL_ID, CARBS_ATTEMPT, CARBS_SWEEP_ID, CARBS_DEVICE,
 * CARBS_PARAM_<NAME> for every parameter, CARBS_PARAMS_FILE: a JSON object
 * of them, CARBS_RESULT_FILE: where it may write its result,
 * CARBS_TRIAL_DIR: scratch space removed afterwards), and stdin from
 * /dev/null.  It reports by printing JSON lines on stdout: a line with
 * "step" and no "status" is progress ("step", "tokens", "train_loss"); the
 * last other line that is a JSON object of metric names is the result,
 * unless the result file holds one.  NaN and Infinity are accepted as
 * numbers; a non-finite loss makes the trial `diverged`.
 *
 * The program runs in its own process group, which is killed when the
 * program ends (no leftovers), on the time limit, or by command_stop().
 * How exits map to failures:
 *   could not start, killed by a signal, exit 75 (EX_TEMPFAIL) -> infra;
 *   time limit -> error; nonzero exit -> the result line's failure, else oom
 *   when stderr says "out of memory" (or MemoryError, bad_alloc), else error;
 *   exit 0 without a result -> error.
 * The failure message ends with the last line of stderr (or stdout).
 *
 * A command_t is used from one thread.  It forks; in a process with other
 * threads the child only execs (everything it needs is prepared first).
 */
#ifndef CARBS_WORKER_COMMAND_H
#define CARBS_WORKER_COMMAND_H

#include <sys/types.h>

#include "proto/types.h"

/* Exit status a program uses to say "not my fault, run me elsewhere". */
#define COMMAND_EXIT_TEMPFAIL 75
/* Default time between SIGTERM and SIGKILL (seconds). */
#define COMMAND_KILL_GRACE_S 5.0
/* Longest stdout line looked at; longer ones are skipped. */
#define COMMAND_LINE_MAX (1024 * 1024)
/* Bytes of stdout and of stderr kept for failure messages. */
#define COMMAND_TAIL_MAX 4096

/* What to run.  Every pointer is borrowed for the duration of
 * command_start(); all-zero besides argv is a valid config. */
typedef struct command_config {
    const char *const *argv;      /* program (looked up in PATH) and its own arguments */
    size_t argc;                  /* >= 1 */
    const carbs_params_t *params; /* the suggestion; may be NULL */
    const carbs_params_t *fixed;  /* the sweep's fixed parameters; may be NULL */
    int64_t trial_id;             /* CARBS_TRIAL_ID; 0 = not set */
    int64_t sweep_id;             /* CARBS_SWEEP_ID; 0 = not set */
    int attempt;                  /* CARBS_ATTEMPT; 0 = not set */
    const char *metric;  /* the trial's output metric: non-finite = diverged; NULL = none */
    const char *cost;    /* the trial's cost metric: non-finite = failed (error); NULL = none */
    const char *device;  /* CARBS_DEVICE ("cpu", "cuda:0"); NULL = not set */
    const char *tmp_dir; /* parent of the trial directory; NULL = $TMPDIR, else /tmp */
    double time_limit_s; /* wall-clock limit; 0 = none */
    double kill_grace_s; /* SIGTERM to SIGKILL; 0 = COMMAND_KILL_GRACE_S */
} command_config_t;

typedef struct command command_t;

/* Write the parameter file, make the trial directory and start the program.
 * A program that cannot be executed is not an error here: it finishes at
 * once with an infra failure ("cannot run 'x': No such file or
 * directory").  Returns the handle (free with command_free), or NULL with
 * err filled: CARBS_EINVAL for an empty argv or unusable parameters,
 * CARBS_EIO when the directory, a file, a pipe or the fork fails. */
command_t *command_start(const command_config_t *cfg, carbs_err_t *err);

/* The program's pid, which is also its process group id. */
pid_t command_pid(const command_t *c);

/* Read the program's output for up to timeout_ms (0 = just look, negative =
 * until something happens), enforcing the time limit.  Returns
 * CARBS_CONTINUE while the program runs or progress is queued, with
 * *has_progress telling whether *progress holds the next progress line
 * (step, tokens, and loss = train_loss, NaN when absent); returns 0 once it
 * has finished and every progress line was handed out (then call
 * command_result), and keeps returning 0.  Returns CARBS_EIO when waiting
 * on the program fails. */
int command_poll(command_t *c, int timeout_ms, carbs_curve_point_t *progress, bool *has_progress,
                 carbs_err_t *err);

/* Ask the program to stop: SIGTERM to its group, SIGKILL after the grace
 * time (driven by command_poll).  The result becomes failed/preempted
 * ("stopped") unless it had already finished. */
void command_stop(command_t *c);

/* Move the outcome into *out (initialised here; the caller releases it):
 * status, failure, message and every metric the program reported.
 * Returns 0, or CARBS_ESTATE before command_poll has returned 0. */
int command_result(command_t *c, carbs_result_t *out);

/* Kill the program's group if it still runs, reap it, remove the trial
 * directory and free everything.  c may be NULL. */
void command_free(command_t *c);

// ---- the line contract, for tests and the runner ----

typedef enum command_line_kind {
    COMMAND_LINE_OTHER = 0,    /* not a JSON object we understand: plain output */
    COMMAND_LINE_PROGRESS = 1, /* has "step" and no "status" */
    COMMAND_LINE_RESULT = 2,   /* a result: "status" and/or metric names */
} command_line_kind_t;

/* Classify one line (without its newline) and decode it: a progress line
 * into *progress, a result into *result (initialised here either way; the
 * caller releases it).  metric, when not NULL, is the trial's output
 * metric, which like the losses makes the result diverged when not finite;
 * cost, when not NULL, is its cost metric, which makes the result failed
 * (error) when not finite: a cost that cannot be told must not be taken
 * for a missing one, which another metric (the worker's clock) would fill
 * (docs/service.md, Failure semantics).
 * Both flat objects ({"val_loss": 2.5, "status": "ok"}; NaN and Infinity
 * allowed) and the nested shape of proto_result_to_json ({"status": ...,
 * "metrics": {...}, "curve": [...]}) are results.  Never fails: what it
 * cannot read is OTHER. */
command_line_kind_t command_parse_line(const char *line, size_t len, const char *metric,
                                       const char *cost, carbs_curve_point_t *progress,
                                       carbs_result_t *result);

/* Find the result in the len bytes of a result file (CARBS_RESULT_FILE; no
 * NUL needed): the whole text as one object (pretty-printed JSON may span
 * lines), else its last line that is a result.  Fills *result (initialised
 * here; the caller releases it) and returns true, or returns false with
 * *result empty.  metric and cost are as for command_parse_line(). */
bool command_parse_result_file(const char *text, size_t len, const char *metric, const char *cost,
                               carbs_result_t *result);

#endif
