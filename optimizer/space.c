/*
 * space.c - the param <-> basic transforms, rounding and bounds of
 * docs/algorithm.md, Spaces and categoricals, and space_t, the validated
 * per-sweep copy.
 *
 * Every transform is a pure function of one carbs_param_t, so the facade can
 * use them on a single value; space_t adds the dimension layout (offsets and
 * widths, a categorical spanning one dimension per value) and the basic
 * bounds computed once.  A scale or rounding factor of 0 means "not given"
 * and reads as 1 everywhere, so a zero-initialised carbs_param_t is handled
 * the same before and after space_new fills it in.
 *
 * Legend: p = param value, u = basic value, s = scale, rho = rounding factor,
 * lo'/hi' = effective param bounds, lo_u/hi_u = basic bounds, K = number of
 * categories of a categorical.
 */
#include "proto/common.h"
#include "optimizer/space.h"

#include <math.h>

#include "proto/param.h"

struct space {
    size_t n_params, dim, n_bounded;
    carbs_param_t *params; /* n_params, scale and round filled in */
    size_t *offset;        /* first basic dimension of each parameter */
    size_t *width;         /* 1, or K for a categorical */
    double *lo, *hi;       /* dim basic bounds */
};

// ---- helpers ----

static double eff_scale(const carbs_param_t *p)
{
    return p->scale == 0.0 ? 1.0 : p->scale;
}

static double eff_round(const carbs_param_t *p)
{
    return p->round == 0.0 ? 1.0 : p->round;
}

static bool is_numeric(const carbs_param_t *p)
{
    return p->space == CARBS_SPACE_LINEAR || p->space == CARBS_SPACE_LOG ||
           p->space == CARBS_SPACE_LOGIT;
}

/* Integer rounding applies to linear and log spaces only (docs/algorithm.md, Transforms). */
static bool rounds(const carbs_param_t *p)
{
    return p->is_integer && (p->space == CARBS_SPACE_LINEAR || p->space == CARBS_SPACE_LOG);
}

/* Index of the largest of u[0..k), the first on ties; k when one is NaN. */
static size_t argmax(const double *u, size_t k)
{
    size_t best = 0;
    for (size_t j = 0; j < k; j++) {
        if (isnan(u[j]))
            return k;
        if (u[j] > u[best])
            best = j;
    }
    return best;
}

static void one_hot(double *u, size_t k, size_t hot)
{
    for (size_t j = 0; j < k; j++)
        u[j] = j == hot ? SPACE_CATEGORY_HOT : 0.0;
}

// ---- one parameter ----

static int check_categorical(const carbs_param_t *p, carbs_err_t *err)
{
    if (p->n_values < 1 || p->n_values > CARBS_VALUES_MAX)
        return carbs_fail(err, CARBS_EINVAL, "parameter '%s' needs 1 to %d values, has %zu",
                          p->name, CARBS_VALUES_MAX, p->n_values);
    for (size_t i = 0; i < p->n_values; i++) {
        if (!p->values[i][0] || !memchr(p->values[i], '\0', CARBS_VALUE_MAX))
            return carbs_fail(err, CARBS_EINVAL, "parameter '%s' has an empty or unterminated "
                              "value", p->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->values[i], p->values[j]) == 0)
                return carbs_fail(err, CARBS_EINVAL, "parameter '%s' lists value '%s' twice",
                                  p->name, p->values[i]);
    }
    if (!(p->center >= 0) || p->center != floor(p->center) || p->center >= (double)p->n_values)
        return carbs_fail(err, CARBS_EINVAL, "center of parameter '%s' is not a value index "
                          "in [0, %zu)", p->name, p->n_values);
    return CARBS_OK;
}

/* The one numeric validator of proto/param.c on a complete parameter: a
 * bound equal to the space's default, and a scale or rounding factor of 0,
 * count as not given; the center always is. */
static int check_numeric(const carbs_param_t *p, carbs_err_t *err)
{
    carbs_param_t q = *p;
    unsigned given = PARAM_CENTER;
    param_fault_t f;
    double x;

    if (!(p->min == (p->space == CARBS_SPACE_LINEAR ? -INFINITY : 0.0)))
        given |= PARAM_MIN;
    if (!(p->max == (p->space == CARBS_SPACE_LOGIT ? 1.0 : INFINITY)))
        given |= PARAM_MAX;
    if (p->scale != 0.0)
        given |= PARAM_SCALE;
    if (p->round != 0.0)
        given |= PARAM_ROUND;
    if (param_numeric(&q, given, &f) == 0)
        return CARBS_OK;
    switch (f.field) {
    case PARAM_MIN:
        x = q.min;
        break;
    case PARAM_MAX:
        x = q.max;
        break;
    case PARAM_SCALE:
        x = q.scale;
        break;
    case PARAM_ROUND:
        x = q.round;
        break;
    default:
        x = q.center;
        break;
    }
    if (f.quote)
        return carbs_fail(err, CARBS_EINVAL, "parameter '%s' %s: %s (got %g)", p->name,
                          param_field_name(f.field), f.why, x);
    return carbs_fail(err, CARBS_EINVAL, "parameter '%s' %s: %s", p->name,
                      param_field_name(f.field), f.why);
}

int space_param_check(const carbs_param_t *p, carbs_err_t *err)
{
    if (!p)
        return carbs_fail(err, CARBS_EINVAL, "no parameter given");
    if (!p->name[0] || !memchr(p->name, '\0', CARBS_NAME_MAX))
        return carbs_fail(err, CARBS_EINVAL, "parameter without a name");
    if (p->space == CARBS_SPACE_CATEGORICAL)
        return check_categorical(p, err);
    if (!is_numeric(p))
        return carbs_fail(err, CARBS_EINVAL, "parameter '%s' has an unknown space kind %d",
                          p->name, (int)p->space);
    return check_numeric(p, err);
}

double space_param_to_basic(const carbs_param_t *p, double x)
{
    return param_to_basic(p->space, eff_scale(p), x);
}

double space_param_from_basic(const carbs_param_t *p, double u, bool round)
{
    double rho = eff_round(p), x = param_from_basic(p->space, eff_scale(p), u);

    if (round && rounds(p))
        x = rho * rint(x / rho);
    return x;
}

double space_param_round_basic(const carbs_param_t *p, double u)
{
    double s = eff_scale(p), rho = eff_round(p), q;

    if (!rounds(p))
        return u;
    if (p->space == CARBS_SPACE_LINEAR)
        return rho * rint(u * s / rho) / s;
    q = rho * rint(pow(SPACE_LOG_BASE, u * s) / rho);
    return q == 0.0 ? -INFINITY : log10(q) / s;
}

void space_param_bounds(const carbs_param_t *p, double *lo, double *hi)
{
    if (!is_numeric(p)) {
        *lo = -INFINITY;
        *hi = INFINITY;
        return;
    }
    *lo = p->min;
    *hi = p->max;
    if (rounds(p)) {
        *lo -= SPACE_INTEGER_WIDEN;
        *hi += SPACE_INTEGER_WIDEN;
    }
}

// ---- a whole space ----

void space_free(space_t *s)
{
    if (!s)
        return;
    free(s->params);
    free(s->offset);
    free(s->width);
    free(s->lo);
    free(s->hi);
    free(s);
}

space_t *space_new(const carbs_space_t *sp, carbs_err_t *err)
{
    space_t *s = NULL;
    size_t n, dim = 0;

    if (!sp || !sp->n) {
        carbs_fail(err, CARBS_EINVAL, "the parameter space is empty");
        return NULL;
    }
    n = sp->n;
    for (size_t i = 0; i < n; i++) {
        if (space_param_check(&sp->v[i], err) < 0)
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(sp->v[i].name, sp->v[j].name) == 0) {
                carbs_fail(err, CARBS_EINVAL, "parameter '%s' is declared twice", sp->v[i].name);
                return NULL;
            }
        dim += sp->v[i].space == CARBS_SPACE_CATEGORICAL ? sp->v[i].n_values : 1;
    }
    s = carbs_malloc(sizeof(*s));
    if (!s)
        goto nomem;
    memset(s, 0, sizeof(*s));
    s->params = carbs_malloc(n * sizeof(*s->params));
    s->offset = carbs_malloc(n * sizeof(size_t));
    s->width = carbs_malloc(n * sizeof(size_t));
    s->lo = carbs_malloc(dim * sizeof(double));
    s->hi = carbs_malloc(dim * sizeof(double));
    if (!s->params || !s->offset || !s->width || !s->lo || !s->hi)
        goto nomem;
    s->n_params = n;
    s->dim = dim;
    dim = 0;
    for (size_t i = 0; i < n; i++) {
        carbs_param_t *p = &s->params[i];
        double lo, hi;

        *p = sp->v[i];
        s->offset[i] = dim;
        if (p->space == CARBS_SPACE_CATEGORICAL) {
            s->width[i] = p->n_values;
            for (size_t j = 0; j < p->n_values; j++) {
                s->lo[dim + j] = -INFINITY;
                s->hi[dim + j] = INFINITY;
            }
            dim += p->n_values;
            continue;
        }
        p->scale = eff_scale(p);
        p->round = eff_round(p);
        s->width[i] = 1;
        space_param_bounds(p, &lo, &hi);
        s->n_bounded += isfinite(lo) || isfinite(hi);
        /* -inf/+inf and the logit end points map to infinities */
        s->lo[dim] = isinf(lo) ? -INFINITY : space_param_to_basic(p, lo);
        s->hi[dim] = isinf(hi) ? INFINITY : space_param_to_basic(p, hi);
        dim++;
    }
    return s;
nomem:
    space_free(s);
    carbs_fail(err, CARBS_ENOMEM, "out of memory for a space of %zu parameters", n);
    return NULL;
}

size_t space_dim(const space_t *s)
{
    return s->dim;
}

size_t space_n_params(const space_t *s)
{
    return s->n_params;
}

const carbs_param_t *space_param(const space_t *s, size_t i)
{
    return i < s->n_params ? &s->params[i] : NULL;
}

size_t space_offset(const space_t *s, size_t i)
{
    return s->offset[i];
}

size_t space_width(const space_t *s, size_t i)
{
    return s->width[i];
}

const double *space_lo(const space_t *s)
{
    return s->lo;
}

const double *space_hi(const space_t *s)
{
    return s->hi;
}

size_t space_n_bounded(const space_t *s)
{
    return s->n_bounded;
}

bool space_valid(const space_t *s, const double *u)
{
    for (size_t i = 0; i < s->dim; i++)
        if (!(s->lo[i] < u[i] && u[i] < s->hi[i]))
            return false;
    return true;
}

void space_round(const space_t *s, double *u)
{
    for (size_t i = 0; i < s->n_params; i++) {
        const carbs_param_t *p = &s->params[i];
        double *ui = u + s->offset[i];

        if (p->space == CARBS_SPACE_CATEGORICAL) {
            size_t k = argmax(ui, p->n_values);
            if (k < p->n_values)
                one_hot(ui, p->n_values, k);
        } else {
            *ui = space_param_round_basic(p, *ui);
        }
    }
}

void space_center(const space_t *s, double *u)
{
    for (size_t i = 0; i < s->n_params; i++) {
        const carbs_param_t *p = &s->params[i];

        if (p->space == CARBS_SPACE_CATEGORICAL)
            one_hot(u + s->offset[i], p->n_values, (size_t)p->center);
        else
            u[s->offset[i]] = space_param_to_basic(p, p->center);
    }
}

// ---- params <-> basic ----

/* The category index of a value: its text, or a number equal to a category
 * that reads as that number ("16" for 16).  n_values when none matches. */
static size_t category_of(const carbs_param_t *p, const carbs_value_t *v)
{
    for (size_t k = 0; k < p->n_values; k++) {
        double x;
        if (v->is_str && strcmp(v->str, p->values[k]) == 0)
            return k;
        if (!v->is_str && parse_double(p->values[k], -INFINITY, INFINITY, &x) == 0 &&
            x == v->num)
            return k;
    }
    return p->n_values;
}

static int numeric_to_basic(const carbs_param_t *p, const carbs_value_t *v, double *u,
                            carbs_err_t *err)
{
    double lo, hi;

    if (v->is_str)
        return carbs_fail(err, CARBS_EINVAL, "parameter '%s' needs a number, got '%s'",
                          p->name, v->str);
    if (!isfinite(v->num))
        return carbs_fail(err, CARBS_EINVAL, "value of parameter '%s' is not finite", p->name);
    space_param_bounds(p, &lo, &hi);
    if (!(v->num >= lo && v->num <= hi))
        return carbs_fail(err, CARBS_EINVAL, "value %.17g of parameter '%s' is outside "
                          "[%.17g, %.17g]", v->num, p->name, lo, hi);
    *u = space_param_to_basic(p, v->num);
    if (!isfinite(*u))
        return carbs_fail(err, CARBS_EINVAL, "value %.17g of parameter '%s' has no finite "
                          "basic coordinate", v->num, p->name);
    return CARBS_OK;
}

int space_to_basic(const space_t *s, const carbs_params_t *ps, double *u, carbs_err_t *err)
{
    if (!s || !ps || !u)
        return carbs_fail(err, CARBS_EINVAL, "space_to_basic: null argument");
    for (size_t i = 0; i < s->n_params; i++) {
        const carbs_param_t *p = &s->params[i];
        const carbs_value_t *v = carbs_params_find(ps, p->name);
        size_t k;
        int rc;

        if (!v)
            return carbs_fail(err, CARBS_ENOTFOUND, "no value for parameter '%s'", p->name);
        if (p->space != CARBS_SPACE_CATEGORICAL) {
            rc = numeric_to_basic(p, v, u + s->offset[i], err);
            if (rc < 0)
                return rc;
            continue;
        }
        k = category_of(p, v);
        if (k == p->n_values) {
            if (v->is_str)
                return carbs_fail(err, CARBS_EINVAL, "'%s' is not a value of parameter '%s'",
                                  v->str, p->name);
            return carbs_fail(err, CARBS_EINVAL, "%.17g is not a value of parameter '%s'",
                              v->num, p->name);
        }
        one_hot(u + s->offset[i], p->n_values, k);
    }
    return CARBS_OK;
}

int space_check_names(const space_t *s, const carbs_params_t *ps, carbs_err_t *err)
{
    if (!s || !ps)
        return carbs_fail(err, CARBS_EINVAL, "space_check_names: null argument");
    for (size_t j = 0; j < ps->n; j++) {
        bool found = false;
        for (size_t i = 0; i < s->n_params && !found; i++)
            found = strcmp(ps->v[j].name, s->params[i].name) == 0;
        if (!found)
            return carbs_fail(err, CARBS_ENOTFOUND, "'%s' is not a parameter of the space",
                              ps->v[j].name);
    }
    return CARBS_OK;
}

int space_from_basic(const space_t *s, const double *u, bool round, carbs_params_t *out,
                     carbs_err_t *err)
{
    if (!s || !u || !out)
        return carbs_fail(err, CARBS_EINVAL, "space_from_basic: null argument");
    for (size_t i = 0; i < s->n_params; i++) {
        const carbs_param_t *p = &s->params[i];
        const double *ui = u + s->offset[i];
        int rc;

        if (p->space == CARBS_SPACE_CATEGORICAL) {
            size_t k = argmax(ui, p->n_values);
            if (k == p->n_values)
                return carbs_fail(err, CARBS_EINVAL, "basic coordinate of parameter '%s' is "
                                  "NaN", p->name);
            rc = carbs_params_set_str(out, p->name, p->values[k]);
        } else {
            double x = isnan(*ui) ? NAN : space_param_from_basic(p, *ui, round);
            if (!isfinite(x))
                return carbs_fail(err, CARBS_EINVAL, "basic coordinate %g of parameter '%s' "
                                  "maps to no finite value", *ui, p->name);
            rc = carbs_params_set_num(out, p->name, x);
        }
        if (rc < 0)
            return carbs_fail(err, rc, "cannot set parameter '%s': %s", p->name,
                              carbs_strerror(rc));
    }
    return CARBS_OK;
}
