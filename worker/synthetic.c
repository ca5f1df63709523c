/*
 * synthetic.c - the built-in test functions of synthetic trials.
 *
 * Classic optimisation benchmarks (Branin-Hoo, Hartmann 6, Rosenbrock,
 * sphere; Surjanovic & Bingham's "Virtual Library of Simulation
 * Experiments" gives their constants and optima) and a Chinchilla-shaped
 * language-model loss surface whose compute-optimal frontier is known in
 * closed form (Hoffmann et al. 2022, eq. 4 and approach 3), so tests can
 * check that a sweep walks towards the right place.  Each function has a
 * smooth positive cost, so cost-aware search has a real trade-off.
 *
 * Legend: N = model size (parameters), D = training tokens, C = 6 N D
 * flops, lr = learning rate, u = a uniform draw in [0, 1) from the trial id.
 */
#include "proto/common.h"
#include "worker/synthetic.h"

#include <math.h>

#include "proto/splitmix.h"

// ---- names ----

static const char *const function_names[SYNTHETIC_COUNT] = {
#define X(id, name) name,
    SYNTHETIC_FUNCTION_MAP(X)
#undef X
};

int synthetic_function_parse(const char *name)
{
    for (size_t i = 0; i < SYNTHETIC_COUNT; i++)
        if (name && strcmp(name, function_names[i]) == 0) return (int)i;
    return -1;
}

const char *synthetic_function_name(synthetic_function_t f)
{
    if ((int)f < 0 || f >= SYNTHETIC_COUNT) return "unknown";
    return function_names[f];
}

// ---- the functions ----

double synthetic_branin(double x, double y)
{
    const double a = 1.0, b = 5.1 / (4.0 * M_PI * M_PI), c = 5.0 / M_PI;
    const double r = 6.0, s = 10.0, t = 1.0 / (8.0 * M_PI);
    double q = y - b * x * x + c * x - r;

    return a * q * q + s * (1.0 - t) * cos(x) + s;
}

double synthetic_hartmann6(const double x[6])
{
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {
        {10, 3, 17, 3.5, 1.7, 8},
        {0.05, 10, 17, 0.1, 8, 14},
        {3, 3.5, 1.7, 10, 17, 8},
        {17, 8, 0.05, 10, 0.1, 14},
    };
    static const double P[4][6] = {
        {0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
        {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
        {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
        {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381},
    };
    double f = 0.0;

    for (size_t i = 0; i < 4; i++) {
        double e = 0.0;
        for (size_t j = 0; j < 6; j++)
            e += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
        f -= alpha[i] * exp(-e);
    }
    return f;
}

double synthetic_rosenbrock(const double *x, size_t d)
{
    double f = 0.0;

    for (size_t i = 0; i + 1 < d; i++) {
        double p = x[i + 1] - x[i] * x[i], q = 1.0 - x[i];
        f += 100.0 * p * p + q * q;
    }
    return f;
}

double synthetic_sphere(const double *x, size_t d)
{
    double f = 0.0;

    for (size_t i = 0; i < d; i++)
        f += x[i] * x[i];
    return f;
}

// ---- the scaling surface ----

/* Hoffmann et al. (2022), approach 3 fit, and a learning-rate valley whose
 * centre moves as N^-0.3 (wider models want smaller steps). */
#define SC_E 1.69
#define SC_A 406.4
#define SC_B 410.7
#define SC_ALPHA 0.34
#define SC_BETA 0.28
#define SC_GAMMA 0.1
#define SC_LR0 3e-3
#define SC_N0 1e7
#define SC_KAPPA 0.3

double synthetic_scaling_best_lr(double n_params)
{
    return SC_LR0 * pow(n_params / SC_N0, -SC_KAPPA);
}

double synthetic_scaling_loss(double n_params, double tokens, double learning_rate)
{
    double g = log(learning_rate / synthetic_scaling_best_lr(n_params));

    return SC_E + SC_A * pow(n_params, -SC_ALPHA) + SC_B * pow(tokens, -SC_BETA) + SC_GAMMA * g * g;
}

void synthetic_scaling_optimum(double flops, double *n_params, double *tokens,
                               double *learning_rate, double *loss)
{
    double ab = SC_ALPHA + SC_BETA;
    double G = pow(SC_ALPHA * SC_A / (SC_BETA * SC_B), 1.0 / ab);
    double N = G * pow(flops / 6.0, SC_BETA / ab);
    double D = flops / (6.0 * N);
    double lr = synthetic_scaling_best_lr(N);

    if (n_params) *n_params = N;
    if (tokens) *tokens = D;
    if (learning_rate) *learning_rate = lr;
    if (loss) *loss = synthetic_scaling_loss(N, D, lr);
}

// ---- inputs ----

static const carbs_value_t *find_input(const synthetic_input_t *in, const char *name)
{
    const carbs_value_t *v = in->params ? carbs_params_find(in->params, name) : NULL;

    if (!v && in->fixed) v = carbs_params_find(in->fixed, name);
    return v;
}

/* The number called name: 0, or CARBS_ENOTFOUND when absent (not an error
 * for optional inputs), or CARBS_EINVAL when it is a string. */
static int get_num(const synthetic_input_t *in, const char *name, double *out, carbs_err_t *err)
{
    const carbs_value_t *v = find_input(in, name);

    if (!v) return CARBS_ENOTFOUND;
    if (v->is_str)
        return carbs_fail(err, CARBS_EINVAL, "synthetic: parameter '%s' must be a number, not '%s'",
                          name, v->str);
    *out = v->num;
    return 0;
}

static int need_num(const synthetic_input_t *in, const char *name, double *out, carbs_err_t *err)
{
    int rc = get_num(in, name, out, err);

    if (rc == CARBS_ENOTFOUND)
        return carbs_fail(err, CARBS_EINVAL, "synthetic: function '%s' needs parameter '%s'",
                          in->function, name);
    return rc;
}

/* x1, x2, ... as long as they exist, at most cap of them, into x[]. */
static int get_vector(const synthetic_input_t *in, double *x, size_t cap, size_t *d,
                      carbs_err_t *err)
{
    char name[16];
    int rc = 0;

    *d = 0;
    while (*d < cap) {
        snprintf(name, sizeof(name), "x%zu", *d + 1);
        rc = get_num(in, name, &x[*d], err);
        if (rc == CARBS_ENOTFOUND) return 0;
        if (rc < 0) return rc;
        (*d)++;
    }
    return 0;
}

// ---- evaluation ----

#define SYNTHETIC_DIMS_MAX 64 /* x1..x64 for rosenbrock and sphere */

static int eval_function(const synthetic_input_t *in, synthetic_function_t fn,
                         synthetic_outcome_t *out, carbs_err_t *err)
{
    double x[SYNTHETIC_DIMS_MAX], s = 0.0;
    size_t d = 0;
    int rc = 0;

    switch (fn) {
    case SYNTHETIC_BRANIN:
        rc = need_num(in, "x", &x[0], err);
        if (rc == 0) rc = need_num(in, "y", &x[1], err);
        if (rc < 0) return rc;
        out->output = synthetic_branin(x[0], x[1]);
        out->cost = exp((x[0] + 5.0) / 15.0 + x[1] / 15.0);
        return 0;
    case SYNTHETIC_HARTMANN6:
        for (size_t j = 0; j < 6 && rc == 0; j++) {
            char name[8];
            snprintf(name, sizeof(name), "x%zu", j + 1);
            rc = need_num(in, name, &x[j], err);
            s += x[j];
        }
        if (rc < 0) return rc;
        out->output = synthetic_hartmann6(x);
        out->cost = exp(2.0 * s / 6.0);
        return 0;
    case SYNTHETIC_ROSENBROCK:
    case SYNTHETIC_SPHERE:
        rc = get_vector(in, x, SYNTHETIC_DIMS_MAX, &d, err);
        if (rc < 0) return rc;
        if (d < (fn == SYNTHETIC_ROSENBROCK ? 2u : 1u))
            return carbs_fail(err, CARBS_EINVAL,
                              "synthetic: function '%s' needs parameters x1..xd (d >= %d)",
                              in->function, fn == SYNTHETIC_ROSENBROCK ? 2 : 1);
        if (fn == SYNTHETIC_ROSENBROCK) {
            out->output = synthetic_rosenbrock(x, d);
            out->cost = 1.0 + synthetic_sphere(x, d) / (double)d;
        } else {
            for (size_t i = 0; i < d; i++)
                s += x[i];
            out->output = synthetic_sphere(x, d);
            out->cost = exp(s / (double)d);
        }
        return 0;
    case SYNTHETIC_SCALING:
        break;
    default:
        return carbs_fail(err, CARBS_EINVAL, "synthetic: no function '%s'", in->function);
    }

    /* scaling: N from n_params, or 12 n_layers d_model^2 (the transformer
     * blocks without embeddings). */
    double N = 0.0, D = 0.0, lr = 0.0, width = 0.0, depth = 0.0;
    rc = get_num(in, "n_params", &N, err);
    if (rc == CARBS_ENOTFOUND) {
        rc = need_num(in, "d_model", &width, err);
        if (rc == 0) rc = need_num(in, "n_layers", &depth, err);
        N = 12.0 * depth * width * width;
    }
    if (rc == 0) rc = need_num(in, "tokens", &D, err);
    if (rc < 0) return rc;
    if (!(N > 0.0) || !(D > 0.0) || !isfinite(N) || !isfinite(D))
        return carbs_fail(err, CARBS_EINVAL,
                          "synthetic: scaling needs a positive model size and tokens (got %g, %g)",
                          N, D);
    rc = get_num(in, "learning_rate", &lr, err);
    if (rc == CARBS_ENOTFOUND)
        lr = synthetic_scaling_best_lr(N);
    else if (rc < 0)
        return rc;
    if (!(lr > 0.0) || !isfinite(lr))
        return carbs_fail(err, CARBS_EINVAL, "synthetic: learning_rate must be positive (got %g)",
                          lr);
    out->output = synthetic_scaling_loss(N, D, lr);
    out->n_params = N;
    out->tokens = D;
    out->flops = 6.0 * N * D;
    out->cost = out->flops;
    if (lr > SYNTHETIC_SCALING_LR_DIVERGE * synthetic_scaling_best_lr(N)) {
        out->failure = CARBS_FAILURE_DIVERGED;
        snprintf(out->message, sizeof(out->message),
                 "learning_rate %g diverges at %.3g parameters (limit %g)", lr, N,
                 SYNTHETIC_SCALING_LR_DIVERGE * synthetic_scaling_best_lr(N));
    }
    return 0;
}

/* The first threshold in fail_above that the trial passes, as a diverged
 * failure. */
static int check_fail_above(const synthetic_input_t *in, synthetic_outcome_t *out, carbs_err_t *err)
{
    if (!in->fail_above) return 0;
    for (size_t i = 0; i < in->fail_above->n; i++) {
        const carbs_value_t *t = &in->fail_above->v[i];
        double v;
        int rc;

        if (t->is_str)
            return carbs_fail(err, CARBS_EINVAL, "synthetic: fail_above '%s' must be a number",
                              t->name);
        if (strcmp(t->name, "output") == 0) {
            v = out->output;
        } else if (strcmp(t->name, "cost") == 0) {
            v = out->cost;
        } else {
            rc = get_num(in, t->name, &v, err);
            if (rc == CARBS_ENOTFOUND)
                return carbs_fail(err, CARBS_EINVAL,
                                  "synthetic: fail_above names '%s', which the trial does not have",
                                  t->name);
            if (rc < 0) return rc;
        }
        if (v > t->num) {
            out->failure = CARBS_FAILURE_DIVERGED;
            snprintf(out->message, sizeof(out->message), "'%s' = %g is above fail_above %g",
                     t->name, v, t->num);
            return 0;
        }
    }
    return 0;
}

static int check_fail_rate(const synthetic_input_t *in, synthetic_outcome_t *out, carbs_err_t *err)
{
    double rate = 0.0, u;
    const carbs_value_t *kind = find_input(in, "fail_kind");
    carbs_failure_t f = CARBS_FAILURE_DIVERGED;
    synthetic_action_t action = SYNTHETIC_FINISH;
    uint64_t seed;
    int rc = get_num(in, "fail_rate", &rate, err);

    if (rc == CARBS_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    if (!(rate >= 0.0 && rate <= 1.0))
        return carbs_fail(err, CARBS_EINVAL, "synthetic: fail_rate must be in [0, 1] (got %g)",
                          rate);
    if (kind && !kind->is_str)
        return carbs_fail(err, CARBS_EINVAL, "synthetic: fail_kind must be a string");
    if (kind && strcmp(kind->str, "crash") == 0) {
        f = CARBS_FAILURE_INFRA;
        action = SYNTHETIC_CRASH;
    } else if (kind && strcmp(kind->str, "hang") == 0) {
        f = CARBS_FAILURE_INFRA;
        action = SYNTHETIC_HANG;
    } else if (kind) {
        int k = carbs_failure_parse(kind->str);
        if (k <= CARBS_FAILURE_NONE || k == CARBS_FAILURE_PREEMPTED)
            return carbs_fail(err, CARBS_EINVAL,
                              "synthetic: fail_kind '%s' is not one of diverged, oom, error, "
                              "infra, crash, hang",
                              kind->str);
        f = (carbs_failure_t)k;
    }
    /* Hyperparameter failures follow the trial (a retry fails again); the
     * infrastructure kinds are drawn again for each attempt. */
    seed = splitmix_mix((uint64_t)in->trial_id);
    if (!carbs_failure_is_hyper(f)) seed = splitmix_mix(seed ^ (uint64_t)in->attempt);
    u = (double)(seed >> 11) * 0x1.0p-53;
    if (u >= rate) return 0;
    out->action = action;
    if (out->failure == CARBS_FAILURE_NONE) {
        out->failure = f;
        snprintf(out->message, sizeof(out->message), "synthetic %s (fail_rate %g, draw %.4f)",
                 kind ? kind->str : "diverged", rate, u);
    }
    return 0;
}

int synthetic_eval(const synthetic_input_t *in, synthetic_outcome_t *out, carbs_err_t *err)
{
    int fn = synthetic_function_parse(in->function);
    int rc;

    memset(out, 0, sizeof(*out));
    out->n_params = out->tokens = out->flops = NAN;
    out->failure = CARBS_FAILURE_NONE;
    if (fn < 0)
        return carbs_fail(err, CARBS_EINVAL,
                          "synthetic: no function '%s' (branin, hartmann6, rosenbrock, sphere, "
                          "scaling)",
                          in->function ? in->function : "");
    rc = eval_function(in, (synthetic_function_t)fn, out, err);
    if (rc == 0 && out->failure == CARBS_FAILURE_NONE) rc = check_fail_above(in, out, err);
    if (rc == 0) rc = check_fail_rate(in, out, err);
    if (rc == 0 && !(isfinite(out->output) && isfinite(out->cost) && out->cost > 0.0)) {
        out->failure = CARBS_FAILURE_DIVERGED;
        snprintf(out->message, sizeof(out->message), "output %g or cost %g is not finite",
                 out->output, out->cost);
    }
    return rc;
}
