/*
 * pareto.h - groups of repeated configurations and the cost/output Pareto
 * set (docs/algorithm.md, Pareto).
 *
 * pareto_compute() groups the successful observations whose basic inputs are
 * close (App. A.5), then picks the Pareto groups in increasing cost with
 * strictly increasing sign * output under the standard or the conservative
 * rule.  Everything it returns lives in the pareto_t and is valid until the
 * next pareto_compute() or pareto_release().
 */
#ifndef CARBS_OPTIMIZER_PARETO_H
#define CARBS_OPTIMIZER_PARETO_H

#include <stdbool.h>
#include <stddef.h>

/* Closeness of two basic coordinates: |x - e| <= PARETO_ATOL + PARETO_RTOL |e|. */
#define PARETO_ATOL 1e-8
#define PARETO_RTOL 1e-5

typedef struct pareto_group {
    size_t first, n; /* members are member[first .. first+n): observation indices */
    size_t rep;      /* the representative observation (the group's first member) */
    double cost;     /* mean member cost, raw */
    double output;   /* mean member output, raw */
    double best;     /* max member sign * output */
} pareto_group_t;

typedef struct pareto {
    pareto_group_t *group; /* in grouping order: descending lexicographic input */
    size_t n_groups;
    size_t *member;        /* observation indices, grouped */
    size_t *front;         /* indices into group[], increasing cost */
    size_t n_front;
    size_t cap_obs;        /* capacity of the buffers, in observations */
    size_t *order;         /* scratch */
    bool *alive;           /* scratch */
    double *costs;         /* scratch */
} pareto_t;

typedef struct pareto_config {
    double sign;                /* +1 maximize, -1 minimize */
    double min_cost_fraction;   /* quantile of the individual costs forming the cheap bucket */
    bool conservative;          /* the conservative rule, else the standard one
                                 * (docs/algorithm.md, Pareto) */
} pareto_config_t;

/* Group the n observations (inputs u, n x d row-major; raw outputs y; raw
 * costs c) and compute the front.  n = 0 gives an empty front.  An empty
 * cheap bucket (possible when resampled groups have mixed costs) does not
 * fail as in the reference (quirk 4; deviation 3): the cheapest group forms the bucket.
 * Returns 0, CARBS_EINVAL (sign not +-1, fraction outside [0, 1]) or
 * CARBS_ENOMEM. */
int pareto_compute(pareto_t *p, const pareto_config_t *cfg, const double *u, size_t n, size_t d,
                   const double *y, const double *c);

/* The resampling choice (docs/algorithm.md, Resampling), on a front
 * computed with the standard rule:
 * the first (cheapest) front group with the fewest runs, counting its members
 * plus the pending points w[k*d .. k*d+d), k < n_pending, close to its
 * representative (inputs u as given to pareto_compute).  Returns the index
 * into p->group, or SIZE_MAX when the front is empty. */
size_t pareto_resample_pick(const pareto_t *p, const double *u, size_t d, const double *w,
                            size_t n_pending);

/* The left Riemann sum of the front in raw units (docs/algorithm.md, Area); 0 below 2 groups. */
double pareto_area(const pareto_t *p);

void pareto_release(pareto_t *p);

#endif
