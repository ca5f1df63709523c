/*
 * param.c - the one validator of a numeric search parameter, with its
 * defaults and its basic-space transform (docs/algorithm.md "Spaces and
 * categoricals").
 *
 * The rules run in the order a person reads a parameter (bounds, scale,
 * integer and rounding, center), so the first fault is the one to fix
 * first.  Whether a field was given matters twice: a log or logit bound
 * written out must lie inside the open domain (a bound of 0 or 1 is what
 * leaving it out means), and a center left out is computed here.
 */
#include "proto/common.h"
#include "proto/param.h"

#include <math.h>
#include <stdarg.h>

const char *param_field_name(unsigned field)
{
    switch (field) {
    case PARAM_MIN:
        return "min";
    case PARAM_MAX:
        return "max";
    case PARAM_CENTER:
        return "center";
    case PARAM_SCALE:
        return "scale";
    case PARAM_ROUND:
        return "round";
    case PARAM_INTEGER:
        return "integer";
    default:
        return "?";
    }
}

double param_to_basic(carbs_space_kind_t kind, double s, double x)
{
    switch (kind) {
    case CARBS_SPACE_LINEAR:
        return x / s;
    case CARBS_SPACE_LOG:
        return x == 0.0 ? -INFINITY : log10(x) / s;
    case CARBS_SPACE_LOGIT:
        if (x == 0.0)
            return -INFINITY;
        if (x == 1.0)
            return INFINITY;
        return log10(x / (1.0 - x)) / s;
    default:
        return NAN;
    }
}

double param_from_basic(carbs_space_kind_t kind, double s, double u)
{
    switch (kind) {
    case CARBS_SPACE_LINEAR:
        return u * s;
    case CARBS_SPACE_LOG:
        return pow(PARAM_LOG_BASE, u * s);
    case CARBS_SPACE_LOGIT:
        return 1.0 / (1.0 + pow(PARAM_LOG_BASE, -u * s));
    default:
        return NAN;
    }
}

static int fault(param_fault_t *f, unsigned field, bool quote, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fault(param_fault_t *f, unsigned field, bool quote, const char *fmt, ...)
{
    va_list ap;

    f->field = field;
    f->quote = quote;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    return CARBS_EINVAL;
}

/* A bound given for a log or logit space must lie inside its open domain. */
static int check_bound(const carbs_param_t *p, unsigned field, double x, param_fault_t *f)
{
    if (isnan(x))
        return fault(f, field, true, "must be a number");
    if (p->space == CARBS_SPACE_LOG && x <= 0)
        return fault(f, field, true, "must be > 0 for a log space");
    if (p->space == CARBS_SPACE_LOGIT && (x <= 0 || x >= 1))
        return fault(f, field, true, "must be in (0, 1) for a logit space");
    return 0;
}

/* A scale or rounding factor: finite and > 0. */
static int check_factor(unsigned field, double x, param_fault_t *f)
{
    if (!(x > 0))
        return fault(f, field, true, "must be > 0");
    if (!isfinite(x))
        return fault(f, field, true, "must be finite");
    return 0;
}

/* The center when none is given: the basic-space midpoint of the bounds,
 * on the rounding grid for an integer when that stays inside (lo, hi). */
static int default_center(carbs_param_t *p, double lo, double hi, param_fault_t *f)
{
    double ulo = param_to_basic(p->space, p->scale, p->min);
    double uhi = param_to_basic(p->space, p->scale, p->max);
    double mid;

    if (!isfinite(ulo) || !isfinite(uhi))
        return fault(f, PARAM_CENTER, false,
                     "required unless min and max bound the space on both sides");
    mid = param_from_basic(p->space, p->scale, ulo / 2 + uhi / 2);
    p->center = mid;
    if (p->is_integer) {
        double r = p->round * rint(mid / p->round);
        if (r > lo && r < hi)
            p->center = r;
    }
    if (!(p->center > lo && p->center < hi) || !isfinite(p->center))
        return fault(f, PARAM_CENTER, false, "the bounds leave no room for a center; give one");
    return 0;
}

int param_numeric(carbs_param_t *p, unsigned given, param_fault_t *f)
{
    double lo, hi;
    int rc;

    if (!(given & PARAM_MIN))
        p->min = p->space == CARBS_SPACE_LINEAR ? -HUGE_VAL : 0;
    if (!(given & PARAM_MAX))
        p->max = p->space == CARBS_SPACE_LOGIT ? 1 : HUGE_VAL;
    if (!(given & PARAM_SCALE))
        p->scale = 1;
    if (!(given & PARAM_ROUND))
        p->round = 1;

    /* bounds */
    if ((given & PARAM_MIN) && (rc = check_bound(p, PARAM_MIN, p->min, f)) < 0)
        return rc;
    if ((given & PARAM_MAX) && (rc = check_bound(p, PARAM_MAX, p->max, f)) < 0)
        return rc;
    if (!(p->min < p->max))
        return given & PARAM_MAX ? fault(f, PARAM_MAX, true, "must be greater than min %g", p->min)
                                 : fault(f, PARAM_MIN, true, "must be less than max %g", p->max);

    /* scale, integer, rounding */
    if ((rc = check_factor(PARAM_SCALE, p->scale, f)) < 0)
        return rc;
    if (p->is_integer && p->space == CARBS_SPACE_LOGIT)
        return fault(f, PARAM_INTEGER, false, "only linear and log spaces can be integer");
    if ((rc = check_factor(PARAM_ROUND, p->round, f)) < 0)
        return rc;
    if (p->is_integer && p->space == CARBS_SPACE_LOG) {
        if (!(given & PARAM_MIN))
            return fault(f, PARAM_MIN, false, "required for an integer log space (must be > %g)",
                         PARAM_INTEGER_WIDEN);
        if (p->min <= PARAM_INTEGER_WIDEN)
            return fault(f, PARAM_MIN, true, "must be > %g for an integer log space",
                         PARAM_INTEGER_WIDEN);
    }
    if (p->is_integer && isfinite(p->min) && isfinite(p->max) &&
        ceil(p->min / p->round) * p->round > p->max)
        return fault(f, PARAM_ROUND, false, "no multiple of %g lies in [%g, %g]", p->round,
                     p->min, p->max);

    /* the search center */
    lo = p->is_integer ? p->min - PARAM_INTEGER_WIDEN : p->min;
    hi = p->is_integer ? p->max + PARAM_INTEGER_WIDEN : p->max;
    if (!(given & PARAM_CENTER))
        return default_center(p, lo, hi, f);
    if (!(p->center > lo && p->center < hi))
        return fault(f, PARAM_CENTER, true, "must lie strictly inside (%g, %g)", lo, hi);
    return 0;
}
