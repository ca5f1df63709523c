/*
 * param.h - one numeric search parameter (linear, log or logit): the
 * defaults of what is not given, the rules a parameter must follow, and
 * the transform to the optimizer's basic space (docs/algorithm.md "Spaces
 * and categoricals", docs/sweep-file.md "Spaces").
 *
 * This is the one validator of a numeric parameter: the sweep file
 * (proto/sweep.c) calls it with the fields the file gave, the
 * optimizer's space_param_check() (optimizer/space.c) with a complete
 * carbs_param_t.  A fault names the field and says what is wrong; each
 * caller words the rest (file, line and path, or the parameter's name).
 */
#ifndef CARBS_PROTO_PARAM_H
#define CARBS_PROTO_PARAM_H

#include "proto/types.h"

/* Base of log and logit spaces. */
#define PARAM_LOG_BASE 10.0
/* Integer spaces widen their bounds by this much on each side, so that a
 * sample just outside a bound can still round onto it; an integer log
 * space therefore needs min above it. */
#define PARAM_INTEGER_WIDEN 0.1

/* The fields of a numeric parameter, as bits: a mask of those given, and
 * the field a fault is about. */
#define PARAM_MIN (1u << 0)
#define PARAM_MAX (1u << 1)
#define PARAM_CENTER (1u << 2)
#define PARAM_SCALE (1u << 3)
#define PARAM_ROUND (1u << 4)
#define PARAM_INTEGER (1u << 5) /* is_integer: never "not given" (false is its default) */

/* Why a parameter was refused. */
typedef struct param_fault {
    unsigned field; /* one PARAM_* bit */
    bool quote;     /* why is about the field's given value: callers show the value */
    char why[160];  /* e.g. "must be > 0 for a log space" */
} param_fault_t;

/* "min", "max", "center", "scale", "round" or "integer" for one bit. */
const char *param_field_name(unsigned field);

/* Complete and check the numeric parameter p (p->space linear, log or
 * logit).  Fields not in given take their defaults: min and max the
 * space's bounds (linear -inf/+inf, log 0/+inf, logit 0/1), scale and round
 * 1, center the basic-space midpoint of min and max (rounded for an
 * integer, when that stays inside).  Then, in this order: a given min or
 * max is a number inside the space's domain (log > 0, logit in (0, 1)) and
 * min < max; scale > 0 and finite; only linear and log can be integer; a
 * given round > 0 and finite; an integer log space has a given min > 0.1; an
 * integer space with finite bounds holds a multiple of round; the center
 * lies strictly inside (min, max), widened by PARAM_INTEGER_WIDEN for an
 * integer.  Returns 0, or CARBS_EINVAL with *f filled; p may be partly
 * completed then. */
int param_numeric(carbs_param_t *p, unsigned given, param_fault_t *f);

/* The forward transform of value x with scale s (u = log10(x) / s for
 * log, log10(x / (1 - x)) / s for logit, x / s for linear): -inf/+inf at
 * the edges of the domain, NaN for a categorical. */
double param_to_basic(carbs_space_kind_t kind, double s, double x);

/* The inverse transform of u, without rounding; NaN for a categorical. */
double param_from_basic(carbs_space_kind_t kind, double s, double u);

#endif
