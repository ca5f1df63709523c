/*
 * synthetic.h - built-in test functions for synthetic trials
 * (`trainer: synthetic`; docs/sweep-file.md, Synthetic functions), for tests
 * and benchmarks of the whole loop.
 *
 * A synthetic trial names a function and gives its inputs as parameters
 * (searched `params` first, then the sweep's `fixed`).  synthetic_eval() is
 * pure: it computes the output, the cost and the failure the trial should
 * report, and what the process running it should do (finish, crash, hang);
 * the runner does the sleeping (seconds_per_cost x cost) and the dying.
 * docs/worker.md gives every formula.
 *
 * Functions (parameter names -> output; cost):
 *   branin      x, y                      -> Branin-Hoo, min 0.397887;  exp((x+5)/15 + y/15)
 *   hartmann6   x1..x6 in [0,1]           -> Hartmann 6-d, min -3.32237; exp(2 mean(x))
 *   rosenbrock  x1..xd, d >= 2            -> sum 100(x_{i+1}-x_i^2)^2 + (1-x_i)^2, min 0;
 *                                            1 + mean(x_i^2)
 *   sphere      x1..xd, d >= 1            -> sum x_i^2, min 0;  exp(mean(x))
 *   scaling     n_params (or d_model and n_layers), tokens, learning_rate (optional)
 *               -> the LM loss surface of synthetic_scaling_loss(); cost 6 N D flops
 *
 * Failure controls, read like any parameter:
 *   fail_above {name: threshold}  a parameter (or "output", "cost") above its
 *                                 threshold fails the trial as diverged;
 *   fail_rate  (number in [0,1])  the probability that the trial fails, drawn
 *                                 from the trial id (and, for the
 *                                 infrastructure kinds, the attempt);
 *   fail_kind  (string)           how: diverged (default), oom, error, infra,
 *                                 crash (the process dies by SIGABRT) or hang
 *                                 (it never finishes).
 */
#ifndef CARBS_WORKER_SYNTHETIC_H
#define CARBS_WORKER_SYNTHETIC_H

#include "proto/types.h"

#define SYNTHETIC_FUNCTION_MAP(X)                                                                  \
    X(BRANIN, "branin")                                                                            \
    X(HARTMANN6, "hartmann6")                                                                      \
    X(ROSENBROCK, "rosenbrock")                                                                    \
    X(SPHERE, "sphere")                                                                            \
    X(SCALING, "scaling")

typedef enum synthetic_function {
#define X(id, name) SYNTHETIC_##id,
    SYNTHETIC_FUNCTION_MAP(X)
#undef X
        SYNTHETIC_COUNT
} synthetic_function_t;

/* The function for a name, or -1. */
int synthetic_function_parse(const char *name);
/* The name of f, or "unknown".  Static string. */
const char *synthetic_function_name(synthetic_function_t f);

/* What the process running the trial does once the output is known. */
typedef enum synthetic_action {
    SYNTHETIC_FINISH = 0, /* report the outcome */
    SYNTHETIC_CRASH = 1,  /* die by SIGABRT half way through (an infrastructure failure) */
    SYNTHETIC_HANG = 2,   /* never finish (tests time limits and cancellation) */
} synthetic_action_t;

/* A synthetic trial's inputs.  Every pointer is borrowed; fixed and
 * fail_above may be NULL. */
typedef struct synthetic_input {
    const char *function;
    const carbs_params_t *params;
    const carbs_params_t *fixed;
    const carbs_params_t *fail_above;
    int64_t trial_id; /* seeds fail_rate */
    int attempt;      /* seeds fail_rate for the infrastructure kinds */
} synthetic_input_t;

typedef struct synthetic_outcome {
    double output;                  /* the function's value */
    double cost;                    /* > 0 */
    double n_params, tokens, flops; /* scaling only; NaN for the others */
    carbs_failure_t failure;        /* NONE, or the kind the trial reports */
    synthetic_action_t action;
    char message[CARBS_MSG_MAX]; /* why it failed; empty when it did not */
} synthetic_outcome_t;

/* Evaluate in's function into *out.  Returns 0 (a trial made to fail is
 * still 0, with out->failure set), or CARBS_EINVAL with err naming the
 * problem: an unknown function, a missing or non-numeric input, a
 * fail_above name the trial does not have, a fail_rate outside [0, 1], an
 * unknown fail_kind, or inputs outside the function's domain (a
 * non-positive n_params, tokens or learning_rate). */
int synthetic_eval(const synthetic_input_t *in, synthetic_outcome_t *out, carbs_err_t *err);

// ---- the functions themselves (pure; for tests and benchmarks) ----

double synthetic_branin(double x, double y);
double synthetic_hartmann6(const double x[6]);
double synthetic_rosenbrock(const double *x, size_t d);
double synthetic_sphere(const double *x, size_t d);

/* The scaling surface: L = E + A N^-alpha + B D^-beta + gamma ln^2(lr / lr*(N))
 * with E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28 (Hoffmann et al.
 * 2022, approach 3), gamma 0.1 and lr*(N) = 3e-3 (N / 1e7)^-0.3.  N = model
 * size (parameters), D = training tokens, lr = learning rate. */
double synthetic_scaling_loss(double n_params, double tokens, double learning_rate);
/* The learning rate that minimises the surface at model size N. */
double synthetic_scaling_best_lr(double n_params);
/* The compute-optimal point at C = 6 N D flops: N* = G (C/6)^(beta/(alpha+beta)),
 * G = (alpha A / (beta B))^(1/(alpha+beta)), D* = C / (6 N*), lr* = lr*(N*);
 * the loss there goes into *loss.  Any output pointer may be NULL. */
void synthetic_scaling_optimum(double flops, double *n_params, double *tokens,
                               double *learning_rate, double *loss);
/* A learning rate above this multiple of lr*(N) diverges. */
#define SYNTHETIC_SCALING_LR_DIVERGE 16.0

#endif
