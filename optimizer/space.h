/*
 * space.h - parameter space <-> CARBS basic space (docs/algorithm.md, Spaces
 * and categoricals).
 *
 * The optimizer works in "basic space": one real coordinate per numeric
 * parameter, where a Gaussian step of radius r means the same thing in every
 * dimension.  With s = scale, rho = rounding factor and base 10 for logs:
 *
 *   linear   u = p / s                 p = u s
 *   log      u = log10(p) / s          p = 10^(u s)          (p = 0 -> -inf)
 *   logit    u = log10(p/(1-p)) / s    p = 1 / (1 + 10^(-u s))
 *
 * Integer linear and log parameters round after the inverse transform,
 * p <- rho * rint(p / rho), with rint's default half-to-even mode (so 2.5 ->
 * 2).  Effective param bounds widen integers by SPACE_INTEGER_WIDEN on each
 * side so that a sample just outside an integer bound can still round onto
 * it; basic bounds are the forward transform of those, and a basic point is
 * valid only when lo_u < u < hi_u strictly in every dimension.
 *
 * Categorical parameters (an extension: CARBS itself has none) use a relaxed
 * one-hot encoding: a categorical with K values takes K basic dimensions;
 * category k is the vertex with SPACE_CATEGORY_HOT in dimension k and 0
 * elsewhere.  A basic point decodes to the category of its largest coordinate
 * (the first on ties).  Basic-space rounding snaps the K coordinates to that
 * vertex, the way integer rounding snaps to the grid, so the surrogate only
 * ever sees vertices and distances between categories are all equal
 * (sqrt 2 * SPACE_CATEGORY_HOT).  Categorical dimensions are unbounded
 * (every finite coordinate decodes to some category) and do not count as
 * bounded dimensions.  See docs/algorithm.md "Spaces and categoricals".
 *
 * A space_t is an immutable, validated copy of a carbs_space_t with the
 * per-dimension bounds precomputed; dimension order is declaration order,
 * a categorical's K dimensions in value order.  Read-only after space_new,
 * so several threads may share one.
 */
#ifndef CARBS_OPTIMIZER_SPACE_H
#define CARBS_OPTIMIZER_SPACE_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/param.h"
#include "proto/types.h"

#define SPACE_LOG_BASE PARAM_LOG_BASE           /* LogSpace base in the reference */
#define SPACE_INTEGER_WIDEN PARAM_INTEGER_WIDEN /* integer bound widening */
/* One-hot amplitude.  A Gaussian step of radius r moves a point to a given
 * other category when that coordinate overtakes the hot one, with
 * probability P(N(0, 2 r^2) > hot): 12 % at r = 0.3 with 0.5, 1 % with 1.0.
 * 0.5 lets the local search try other categories now and then while the
 * categories stay sqrt(2) * 0.5 = 0.71 apart, more than two initial
 * lengthscales, so the GP treats them as nearly independent. */
#define SPACE_CATEGORY_HOT 0.5

// ---- one parameter ----

/* Check that p is usable: a name; a numeric parameter passes the one
 * validator of proto/param.h, param_numeric(), with a scale or rounding
 * factor of 0 and a bound equal to the kind's default (linear -inf/+inf,
 * log 0/+inf, logit 0/1) read as not given: min < max inside the kind's
 * open domain, scale and rounding factor finite and > 0, logit never
 * integer, an integer log min > SPACE_INTEGER_WIDEN, a multiple of the
 * rounding factor inside finite integer bounds, and the center strictly
 * inside (min, max), widened for an integer; a categorical has
 * 1..CARBS_VALUES_MAX distinct non-empty values and an integral center
 * index.  Returns 0 or CARBS_EINVAL with the parameter and field named in
 * err ("parameter 'lr' min: must be > 0 for a log space (got -1)"). */
int space_param_check(const carbs_param_t *p, carbs_err_t *err);

/* Forward transform of a numeric parameter's value x (no checks: -inf/+inf
 * and NaN come out where the formulas give them).  NaN for a categorical. */
double space_param_to_basic(const carbs_param_t *p, double x);

/* Inverse transform of u; integer linear/log parameters are rounded when
 * round is true.  NaN for a categorical. */
double space_param_from_basic(const carbs_param_t *p, double u, bool round);

/* Basic-space rounding of one coordinate (docs/algorithm.md, Transforms):
 * integer linear and log coordinates move to the basic value of the nearest
 * grid point; anything else is returned unchanged.  A log grid point of 0
 * gives -inf. */
double space_param_round_basic(const carbs_param_t *p, double u);

/* Effective param-space bounds lo', hi' (integers widened). */
void space_param_bounds(const carbs_param_t *p, double *lo, double *hi);

// ---- a whole space ----

typedef struct space space_t;

/* Build a space from sp (copied; sp is borrowed).  Returns NULL and fills err
 * (CARBS_EINVAL naming the parameter) when sp is empty or a parameter fails
 * space_param_check, or CARBS_ENOMEM.  Release with space_free(). */
space_t *space_new(const carbs_space_t *sp, carbs_err_t *err);

/* Free s.  s may be NULL. */
void space_free(space_t *s);

/* Number of basic dimensions (categoricals count their values). */
size_t space_dim(const space_t *s);

/* Number of parameters. */
size_t space_n_params(const space_t *s);

/* Parameter i (i < space_n_params), with scale and rounding factor filled in.
 * Borrowed from s. */
const carbs_param_t *space_param(const space_t *s, size_t i);

/* The first basic dimension of parameter i, and how many it has. */
size_t space_offset(const space_t *s, size_t i);
size_t space_width(const space_t *s, size_t i);

/* Basic lower and upper bounds, space_dim() entries each, possibly
 * infinite.  Borrowed from s. */
const double *space_lo(const space_t *s);
const double *space_hi(const space_t *s);

/* Number of parameters with a finite effective bound in param space
 * (docs/algorithm.md, Bounds: a default log space and every logit space
 * count; categoricals do not). */
size_t space_n_bounded(const space_t *s);

/* True when lo_u[i] < u[i] < hi_u[i] for every i (NaN is never valid). */
bool space_valid(const space_t *s, const double *u);

/* Round u[dim] in place: integer grids (docs/algorithm.md, Transforms) and
 * categorical vertices. */
void space_round(const space_t *s, double *u);

/* Write the basic point of the search centers into u[dim]. */
void space_center(const space_t *s, double *u);

/* Map the values in ps to u[dim].  Names in ps that are not parameters are
 * ignored (they may be fixed settings; see space_check_names).  Returns 0, or
 * fills err: CARBS_ENOTFOUND when a parameter has no value, CARBS_EINVAL for a
 * string given to a numeric parameter or a number to a categorical, an
 * unknown category, a non-finite number or one outside the effective bounds
 * [lo', hi'].  u is partly written on error. */
int space_to_basic(const space_t *s, const carbs_params_t *ps, double *u, carbs_err_t *err);

/* CARBS_ENOTFOUND (naming it) when ps holds a name that is no parameter of s,
 * else 0. */
int space_check_names(const space_t *s, const carbs_params_t *ps, carbs_err_t *err);

/* Map u[dim] to parameter values, set into *out (an initialised params set;
 * existing values of the same names are replaced).  Integer parameters are
 * rounded when round is true; categoricals decode by argmax.  Returns 0, or
 * CARBS_EINVAL when a coordinate is NaN or maps to a non-finite value,
 * CARBS_ENOMEM. */
int space_from_basic(const space_t *s, const double *u, bool round, carbs_params_t *out,
                     carbs_err_t *err);

#endif
