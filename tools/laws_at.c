/*
 * laws_at.c - a fitted law read at one cost (tools/laws_at.h).  The
 * metric's band comes from the bootstrap replicates, a parameter's from
 * its line's t interval (optimizer/scaling.h); a parameter's value goes
 * back from its basic coordinate to its own units through the space
 * transform (optimizer/space.h).  N and D follow from C = 6 N D, which
 * holds for training FLOPs only.
 */
#include "proto/common.h"
#include "tools/laws_at.h"

#include <math.h>

#include "optimizer/scaling.h"
#include "optimizer/space.h"

void laws_at_predict(const laws_t *l, double C, laws_at_t *a)
{
    a->cost = C;
    a->extrapolated = C > l->loss.c_max;
    a->valid_max_cost = isfinite(l->holdout.valid_max_cost) ? l->holdout.valid_max_cost
                                                            : l->loss.c_max;
    a->beyond_validated = C > a->valid_max_cost;
    /* a law that failed its checks predicts nothing past its data */
    a->refused = l->loss.status != 0 && a->extrapolated;
    scaling_power_predict(&l->loss, l->level, C, &a->metric[0], &a->metric[1], &a->metric[2]);
    a->N = a->D = NAN;
    a->nd_why[0] = 0;
    /* C = 6 N D holds for training FLOPs only, and an N, D law pinned to
     * the edge of its exponent grid has no optimum worth reading. */
    if (a->refused)
        snprintf(a->nd_why, sizeof(a->nd_why), "the loss law cannot predict at this cost");
    else if (l->nd.status)
        snprintf(a->nd_why, sizeof(a->nd_why), "no model-size and tokens law");
    else if (strcmp(l->cost, "flops") != 0)
        snprintf(a->nd_why, sizeof(a->nd_why),
                 "the cost is %s, not flops: C = 6 N D needs training FLOPs; ask with --at-flops",
                 l->cost);
    else if (l->nd.why[0])
        snprintf(a->nd_why, sizeof(a->nd_why),
                 "the model-size and tokens exponents did not converge inside their range");
    else
        scaling_nd_optimum(&l->nd, C, &a->N, &a->D);
    if (!a->nd_why[0] && !isfinite(a->N))
        snprintf(a->nd_why, sizeof(a->nd_why), "the fitted law has no compute optimum");
}

void laws_at_param(const laws_line_t *ln, const sweep_spec_t *spec, double C, double v[3])
{
    const carbs_param_t *p = carbs_space_find(&spec->parameters, ln->name);
    double u[3];

    v[0] = v[1] = v[2] = NAN;
    if (!p)
        return;
    scaling_line_predict(ln, C, &u[0], &u[1], &u[2]);
    for (size_t i = 0; i < 3; i++)
        v[i] = isfinite(u[i]) ? space_param_from_basic(p, u[i], false) : NAN;
    if (v[1] > v[2]) {
        double t = v[1];
        v[1] = v[2];
        v[2] = t;
    }
}

bool laws_at_outside_range(const sweep_spec_t *spec, const char *name, double v)
{
    const carbs_param_t *p = carbs_space_find(&spec->parameters, name);
    double slack;

    if (!p || !isfinite(v) || p->space == CARBS_SPACE_CATEGORICAL)
        return false;
    slack = 1e-9 * fmax(fabs(p->min), fabs(p->max));
    return v < p->min - slack || v > p->max + slack;
}

/* key: {"value", "lo", "hi"}, with "outside_range" when outside >= 0. */
static void json_triple(jw_t *jw, const char *key, const double v[3], int outside)
{
    jw_object(jw, key);
    jw_num_or_null(jw, "value", v[0]);
    jw_num_or_null(jw, "lo", v[1]);
    jw_num_or_null(jw, "hi", v[2]);
    if (outside >= 0)
        jw_bool(jw, "outside_range", outside);
    jw_end(jw);
}

void laws_at_json(jw_t *jw, const laws_t *l, const sweep_spec_t *spec, const laws_at_t *a)
{
    jw_object(jw, NULL);
    jw_num_or_null(jw, "cost", a->cost);
    jw_str(jw, "cost_name", l->cost);
    jw_bool(jw, "extrapolated", a->extrapolated);
    jw_bool(jw, "beyond_validated", a->beyond_validated);
    jw_num_or_null(jw, "valid_max_cost", a->valid_max_cost);
    jw_num_or_null(jw, "level", l->level);
    jw_str(jw, "estimator", l->estimator);
    jw_str(jw, "status", carbs_errname(l->loss.status));
    jw_str(jw, "why", l->loss.why);
    jw_object(jw, "metric");
    jw_str(jw, "name", l->metric);
    if (a->refused)
        jw_null(jw, "predicted");
    else
        json_triple(jw, "predicted", a->metric, -1);
    jw_end(jw);
    jw_object(jw, "params");
    for (size_t i = 0; i < l->n_lines && !a->refused; i++) {
        double v[3];
        if (l->lines[i].status)
            continue;
        laws_at_param(&l->lines[i], spec, a->cost, v);
        json_triple(jw, l->lines[i].name, v, laws_at_outside_range(spec, l->lines[i].name, v[0]));
    }
    jw_end(jw);
    if (isfinite(a->N)) {
        jw_object(jw, "compute_optimal");
        jw_num_or_null(jw, "n_params", a->N);
        jw_num_or_null(jw, "tokens", a->D);
        jw_end(jw);
    } else {
        jw_null(jw, "compute_optimal");
        jw_str(jw, "compute_optimal_why", a->nd_why);
    }
    jw_end(jw);
}
