/*
 * sweep.h - the sweep file: YAML or JSON in, one validated sweep_spec_t out,
 * and the canonical JSON the store keeps (docs/sweep-file.md).
 *
 * Invariants:
 * - A sweep_spec_t filled by sweep_spec_parse(), sweep_spec_load() or
 *   sweep_spec_from_json() is fully validated: every rule of
 *   docs/sweep-file.md holds, every default is filled in, and the optimizer,
 *   the service and the worker can use it without further checks.
 * - All-zero is the empty spec (safe to release); it is not a valid sweep.
 * - Every validation error is CARBS_EINVAL with a message of the form
 *   "FILE:LINE: FIELD.PATH: what is wrong", e.g.
 *   "sweep.yaml:14: parameters.learning_rate.min: must be > 0 for a log
 *   space (got -1)".  Nothing is half-filled on error: *out is left empty.
 *   A file is checked to the end: err holds the first error, and the
 *   *_all() entry points list every one.
 * - A W&B sweep file (method, program, distribution, ...) is read too and
 *   converted to the same spec; what the conversion assumed or left out is
 *   kept as notes (docs/sweep-file.md "W&B sweep files").
 * - The canonical JSON is a function of the spec alone: compact, keys in a
 *   fixed order, defaults written out, numbers in their shortest exact form.
 *   sweep_spec_from_json(sweep_spec_to_json(s)) gives back s, so spec ->
 *   json -> spec -> json is a fixed point.
 *
 * Reading: YAML through libyaml (which gives line numbers); JSON (a file
 * whose first non-blank character is '{' and that parses as JSON) is
 * checked by jansson, which reports syntax errors by line and column, and
 * then read by a small line-counting reader of our own, because libyaml
 * refuses some valid JSON (tabs, surrogate-pair escapes).  No libyaml or
 * jansson type appears here (docs/style.md H21).
 */
#ifndef CARBS_PROTO_SWEEP_H
#define CARBS_PROTO_SWEEP_H

#include "proto/carbs_config.h"
#include "proto/msg.h"
#include "proto/types.h"

/* The largest sweep file accepted, in bytes (it must also fit in one
 * sweep_create frame, PROTO_FRAME_MAX). */
#define SWEEP_FILE_MAX (256 * 1024)
/* The most search dimensions a sweep may have (a numeric parameter takes
 * one, a categorical with K values K): the optimizer's time per suggestion
 * grows with them, and the service holds every worker up while it suggests
 * (docs/sweep-file.md, docs/performance.md). */
#define SWEEP_DIMS_MAX 256
/* The deepest nesting of mappings and lists a file may have. */
#define SWEEP_DEPTH_MAX 16
/* The default cost metric. */
#define SWEEP_DEFAULT_COST "wall_seconds"

/* Macros a command's argument may be, whole (the W&B names): the worker
 * puts the trial's parameters there, as "--name=value" arguments, as
 * "name=value" arguments, as one JSON object argument, or as the path of a
 * file holding that object.  A command with none of them gets the
 * "--name=value" arguments at its end (worker/command.h). */
#define SWEEP_MACRO_ARGS "${args}"
#define SWEEP_MACRO_ARGS_NO_HYPHENS "${args_no_hyphens}"
#define SWEEP_MACRO_ARGS_JSON "${args_json}"
#define SWEEP_MACRO_ARGS_JSON_FILE "${args_json_file}"

// ---- name tables ----

/* metric.goal.  MINIMIZE gives CARBS better_direction_sign -1. */
#define SWEEP_GOAL_MAP(X)                                                                          \
    X(MINIMIZE, "minimize")                                                                        \
    X(MAXIMIZE, "maximize")

typedef enum sweep_goal {
#define X(id, name) SWEEP_GOAL_##id,
    SWEEP_GOAL_MAP(X)
#undef X
        SWEEP_GOAL_COUNT
} sweep_goal_t;

/* synthetic.function: test functions for the synthetic trainer.  "scaling"
 * is a synthetic language-model scaling law for cost-aware tests. */
#define SWEEP_SYNTH_MAP(X)                                                                         \
    X(BRANIN, "branin")                                                                            \
    X(HARTMANN6, "hartmann6")                                                                      \
    X(ROSENBROCK, "rosenbrock")                                                                    \
    X(SPHERE, "sphere")                                                                            \
    X(SCALING, "scaling")

typedef enum sweep_synth {
#define X(id, name) SWEEP_SYNTH_##id,
    SWEEP_SYNTH_MAP(X)
#undef X
        SWEEP_SYNTH_COUNT
} sweep_synth_t;

/* Names for the enums above ("unknown" when out of range), and the value
 * for a name (-1 when unknown).  The strings are static. */
const char *sweep_goal_name(sweep_goal_t g);
int sweep_goal_parse(const char *name);
const char *sweep_synth_name(sweep_synth_t f);
int sweep_synth_parse(const char *name);

// ---- the spec ----

typedef struct sweep_budget {
    int64_t trials;  /* 0 = unlimited */
    double cost;     /* total cost in the cost metric's units; 0 = unlimited */
    int parallel;    /* trials running at once; default 1 */
    int max_retries; /* re-queues of a lost trial; default 3 */
    /* The service pauses the sweep after this many trials in a row failed
     * with the same message (docs/service.md); 0 = never.  Default
     * SWEEP_MAX_CONSECUTIVE_FAILURES. */
    int max_consecutive_failures;
} sweep_budget_t;

#define SWEEP_MAX_CONSECUTIVE_FAILURES 5

/* A command trial's argv: n heap strings (NUL-terminated, owned). */
typedef struct sweep_argv {
    char **v;
    size_t n, cap;
} sweep_argv_t;

typedef struct sweep_synthetic {
    sweep_synth_t function;
    double seconds_per_cost;   /* sleep this long per unit of cost; 0 = none */
    carbs_params_t fail_above; /* a trial fails when a parameter exceeds its value */
    double fail_rate;          /* probability of a random failure, in [0, 1] */
} sweep_synthetic_t;

typedef struct sweep_spec {
    char name[CARBS_NAME_MAX];
    struct {
        char name[CARBS_NAME_MAX];
        sweep_goal_t goal;
    } metric;
    struct {
        char name[CARBS_NAME_MAX]; /* SWEEP_DEFAULT_COST when not given */
    } cost;
    proto_trainer_t trainer;     /* the one trainer table, proto/msg.h */
    sweep_argv_t command;        /* trainer command: n >= 1; else empty */
    sweep_synthetic_t synthetic; /* used with trainer synthetic only */
    struct {
        char model_size[CARBS_NAME_MAX]; /* metric names for N and D; empty = none */
        char tokens[CARBS_NAME_MAX];
    } scaling;
    /* Searched parameters in declaration order.  Missing bounds are filled
     * as types.h says; center is always set (a categorical's is the index of
     * its center value); scale and round are 1 when not given. */
    carbs_space_t parameters;
    carbs_params_t fixed; /* fixed settings; booleans are stored as 1 and 0 */
    /* Every CARBS option, from the table of proto/carbs_config.h: what
     * the file gives, the defaults for the rest, and better_direction_sign
     * from metric.goal (-1 minimize, +1 maximize).  It is the optimizer's
     * config as it stands. */
    carbs_config_t carbs;
    sweep_budget_t budget;
    /* Lines kept with the sweep for people: what converting a W&B file
     * assumed ("assumed: ..."), left out ("ignored: ...") or does not do
     * ("warning: ..."); empty for a carbs file that gives none. */
    sweep_argv_t notes;
} sweep_spec_t;

/* Free what s owns and zero it.  s may be NULL. */
void sweep_spec_release(sweep_spec_t *s);

// ---- reading and writing ----

/* Parse and validate the len bytes at text (YAML or JSON, told apart by
 * content).  filename names the source in error messages (NULL: "<input>");
 * a ".json" ending makes a '{'-first text that is not valid JSON a JSON
 * syntax error rather than a YAML one.  On success fills the empty *out
 * (caller releases it) and returns 0; otherwise returns CARBS_EINVAL
 * (invalid file) or CARBS_ENOMEM with err filled and *out empty. */
int sweep_spec_parse(const char *text, size_t len, const char *filename, sweep_spec_t *out,
                     carbs_err_t *err);

/* Read the file at path and sweep_spec_parse() it, with path as the file
 * name in messages.  CARBS_EIO when it cannot be read, CARBS_EINVAL when it
 * is larger than SWEEP_FILE_MAX or invalid. */
int sweep_spec_load(const char *path, sweep_spec_t *out, carbs_err_t *err);

/* sweep_spec_parse() and sweep_spec_load() that also append every error
 * found to *errors (when not NULL; one "FILE:LINE: FIELD: what is wrong"
 * each, in the order the rules ran; err still holds the first).  The
 * caller releases *errors with sweep_argv_release(), success or not. */
int sweep_spec_parse_all(const char *text, size_t len, const char *filename, sweep_spec_t *out,
                         sweep_argv_t *errors, carbs_err_t *err);
int sweep_spec_load_all(const char *path, sweep_spec_t *out, sweep_argv_t *errors,
                        carbs_err_t *err);

/* Free the strings of a and a's array, and zero it.  a may be NULL. */
void sweep_argv_release(sweep_argv_t *a);

/* Encode s as canonical JSON into a new string *out (caller frees with
 * free()).  Returns 0, CARBS_EINVAL when s holds something JSON cannot say
 * (a non-finite number, a string that is not UTF-8) or CARBS_ENOMEM; *out
 * is NULL on failure.  s is not otherwise validated. */
int sweep_spec_to_json(const sweep_spec_t *s, char **out, carbs_err_t *err);

/* Parse and validate canonical (or any JSON) sweep text, as stored; errors
 * name the source "spec".  Same contract as sweep_spec_parse(). */
int sweep_spec_from_json(const char *json, sweep_spec_t *out, carbs_err_t *err);

/* Check a sweep name: 1..CARBS_NAME_MAX-1 letters, digits, '-', '_' or '.',
 * not all digits (it would read as an id).  Returns 0 or CARBS_EINVAL with
 * the reason in err. */
int sweep_name_check(const char *name, carbs_err_t *err);

#endif
