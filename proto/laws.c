/*
 * laws.c - the JSON codec of a scaling-law fit (proto/laws.h).
 *
 * Idea: each part is a struct of doubles plus a few names, so the codec is
 * driven by tables of (key, offsetof) for the numbers and hand-written code
 * only for the names, the status and the arrays.  A number that is NaN (not
 * computed) or infinite travels as null and reads back as NaN.  Statuses
 * travel as their names (carbs_errname: "OK", "ESTATE"), as everywhere on
 * the wire.
 */
#include "proto/common.h"
#include "proto/laws.h"

#include <math.h>
#include <stddef.h>

#include "proto/json_internal.h"

#define WHAT "laws"

typedef struct num_field {
    const char *key;
    size_t off;
} num_field_t;

static const num_field_t power_fields[] = {
    {"E", offsetof(laws_power_t, E)},           {"A", offsetof(laws_power_t, A)},
    {"alpha", offsetof(laws_power_t, alpha)},   {"rmse", offsetof(laws_power_t, rmse)},
    {"c_min", offsetof(laws_power_t, c_min)},   {"c_max", offsetof(laws_power_t, c_max)},
    {"E_lo", offsetof(laws_power_t, E_lo)},     {"E_hi", offsetof(laws_power_t, E_hi)},
    {"A_lo", offsetof(laws_power_t, A_lo)},     {"A_hi", offsetof(laws_power_t, A_hi)},
    {"alpha_lo", offsetof(laws_power_t, alpha_lo)}, {"alpha_hi", offsetof(laws_power_t, alpha_hi)},
};
/* Fields added in version 2: optional on read (NaN when absent). */
static const num_field_t power_fields_v2[] = {
    {"bound", offsetof(laws_power_t, bound)},
    {"drift", offsetof(laws_power_t, drift)},
};

static const num_field_t line_fields[] = {
    {"intercept", offsetof(laws_line_t, intercept)},
    {"slope", offsetof(laws_line_t, slope)},
    {"intercept_lo", offsetof(laws_line_t, intercept_lo)},
    {"intercept_hi", offsetof(laws_line_t, intercept_hi)},
    {"slope_lo", offsetof(laws_line_t, slope_lo)},
    {"slope_hi", offsetof(laws_line_t, slope_hi)},
    {"r2", offsetof(laws_line_t, r2)},
    {"x_mean", offsetof(laws_line_t, x_mean)},
    {"sxx", offsetof(laws_line_t, sxx)},
    {"sigma", offsetof(laws_line_t, sigma)},
    {"t", offsetof(laws_line_t, t)},
    {"exponent", offsetof(laws_line_t, exponent)},
};

static const num_field_t nd_fields[] = {
    {"E", offsetof(laws_nd_t, E)},           {"A", offsetof(laws_nd_t, A)},
    {"B", offsetof(laws_nd_t, B)},           {"alpha", offsetof(laws_nd_t, alpha)},
    {"beta", offsetof(laws_nd_t, beta)},     {"rmse", offsetof(laws_nd_t, rmse)},
    {"a", offsetof(laws_nd_t, a)},           {"b", offsetof(laws_nd_t, b)},
    {"G", offsetof(laws_nd_t, G)},           {"alpha_lo", offsetof(laws_nd_t, alpha_lo)},
    {"alpha_hi", offsetof(laws_nd_t, alpha_hi)}, {"beta_lo", offsetof(laws_nd_t, beta_lo)},
    {"beta_hi", offsetof(laws_nd_t, beta_hi)}, {"a_lo", offsetof(laws_nd_t, a_lo)},
    {"a_hi", offsetof(laws_nd_t, a_hi)},     {"b_lo", offsetof(laws_nd_t, b_lo)},
    {"b_hi", offsetof(laws_nd_t, b_hi)},
};

/* Written only for an answer from a parameter's line (laws_nd_t from_line). */
static const num_field_t nd_line_fields[] = {
    {"ln_v0", offsetof(laws_nd_t, ln_v0)},
    {"ln_v_slope", offsetof(laws_nd_t, ln_v_slope)},
};

static const num_field_t holdout_fields[] = {
    {"train_max_cost", offsetof(laws_holdout_t, train_max_cost)},
    {"max_abs_err", offsetof(laws_holdout_t, max_abs_err)},
    {"tol", offsetof(laws_holdout_t, tol)},
    {"valid_max_cost", offsetof(laws_holdout_t, valid_max_cost)},
};
static const num_field_t holdout_fields_v2[] = {
    {"max_rel_err", offsetof(laws_holdout_t, max_rel_err)},
};

void laws_release(laws_t *l)
{
    if (!l)
        return;
    free(l->loss.boot);
    free(l->lines);
    free(l->holdout.cost);
    free(l->holdout.actual);
    free(l->holdout.predicted);
    memset(l, 0, sizeof(*l));
}

// ---- encoding ----

/* A number, or null when it is not finite.  NULL when out of memory. */
static json_t *num_or_null(double x)
{
    return isfinite(x) ? json__number(x) : json_null();
}

static int put_nums(json_t *obj, const void *base, const num_field_t *f, size_t n,
                    carbs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        double x = *(const double *)((const char *)base + f[i].off);
        int rc = json__put(obj, WHAT, f[i].key, num_or_null(x), err);
        if (rc)
            return rc;
    }
    return 0;
}

/* "status" and "why" of a part. */
static int put_status(json_t *obj, int status, const char *why, carbs_err_t *err)
{
    int rc = json__put(obj, WHAT, "status", json_string(carbs_errname(status)), err);
    if (!rc)
        rc = json__put_str(obj, WHAT, "why", why, LAWS_WHY_MAX, err);
    return rc;
}

/* An array of rows of cols numbers each from v (row-major). */
static json_t *rows_new(const double *const *cols, size_t n_cols, size_t n_rows)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n_rows; i++) {
        json_t *row = json_array();
        for (size_t j = 0; row && j < n_cols; j++) {
            if (json_array_append_new(row, num_or_null(cols[j][i]))) {
                json_decref(row);
                row = NULL;
            }
        }
        if (!row || json_array_append_new(arr, row)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static int put_power(json_t *root, const laws_power_t *p, carbs_err_t *err)
{
    json_t *o = json_object();
    double *e = NULL, *a = NULL, *al = NULL;
    int rc = json__put(root, WHAT, "loss", o, err);

    if (!rc)
        rc = put_status(o, p->status, p->why, err);
    if (!rc)
        rc = json__put_int(o, WHAT, "n", (int64_t)p->n, 0, err);
    if (!rc)
        rc = put_nums(o, p, power_fields, ARRAY_SIZE(power_fields), err);
    if (!rc)
        rc = put_nums(o, p, power_fields_v2, ARRAY_SIZE(power_fields_v2), err);
    if (rc)
        return rc;
    /* the replicates as [E, A, alpha] rows: split the row-major array into columns */
    if (p->n_boot) {
        e = carbs_malloc(3 * p->n_boot * sizeof(double));
        if (!e)
            return carbs_fail(err, CARBS_ENOMEM, "laws: out of memory");
        a = e + p->n_boot;
        al = a + p->n_boot;
        for (size_t i = 0; i < p->n_boot; i++) {
            e[i] = p->boot[3 * i];
            a[i] = p->boot[3 * i + 1];
            al[i] = p->boot[3 * i + 2];
        }
    }
    const double *cols[3] = {e, a, al};
    rc = json__put(o, WHAT, "boot", rows_new(cols, 3, p->n_boot), err);
    free(e);
    return rc;
}

static int put_lines(json_t *root, const laws_t *l, carbs_err_t *err)
{
    json_t *arr = json_array();
    int rc = json__put(root, WHAT, "lines", arr, err);

    for (size_t i = 0; !rc && i < l->n_lines; i++) {
        const laws_line_t *ln = &l->lines[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o))
            return carbs_fail(err, CARBS_ENOMEM, "laws: out of memory");
        rc = json__put_str(o, WHAT, "name", ln->name, sizeof(ln->name), err);
        if (!rc)
            rc = put_status(o, ln->status, ln->why, err);
        if (!rc)
            rc = json__put_int(o, WHAT, "n", (int64_t)ln->n, 0, err);
        if (!rc)
            rc = put_nums(o, ln, line_fields, ARRAY_SIZE(line_fields), err);
    }
    return rc;
}

static int put_nd(json_t *root, const laws_nd_t *nd, carbs_err_t *err)
{
    json_t *o = json_object();
    int rc = json__put(root, WHAT, "nd", o, err);

    if (!rc)
        rc = put_status(o, nd->status, nd->why, err);
    if (!rc)
        rc = json__put_str(o, WHAT, "model_size", nd->model_size, sizeof(nd->model_size), err);
    if (!rc)
        rc = json__put_str(o, WHAT, "tokens", nd->tokens, sizeof(nd->tokens), err);
    if (!rc)
        rc = json__put_int(o, WHAT, "n", (int64_t)nd->n, 0, err);
    if (!rc)
        rc = put_nums(o, nd, nd_fields, ARRAY_SIZE(nd_fields), err);
    if (!rc)
        rc = json__put_str(o, WHAT, "source", nd->from_line ? "line" : "law", 8, err);
    if (!rc && nd->from_line)
        rc = json__put_str(o, WHAT, "line_param", nd->line_param, sizeof(nd->line_param), err);
    if (!rc && nd->from_line)
        rc = json__put_str(o, WHAT, "line_of", nd->line_tokens ? "tokens" : "model_size", 16,
                           err);
    if (!rc && nd->from_line)
        rc = json__put_str(o, WHAT, "law_why", nd->law_why, sizeof(nd->law_why), err);
    if (!rc && nd->from_line)
        rc = put_nums(o, nd, nd_line_fields, ARRAY_SIZE(nd_line_fields), err);
    return rc;
}

static int put_holdout(json_t *root, const laws_holdout_t *h, carbs_err_t *err)
{
    json_t *o = json_object();
    const double *cols[3] = {h->cost, h->actual, h->predicted};
    int rc = json__put(root, WHAT, "holdout", o, err);

    if (!rc)
        rc = put_status(o, h->status, h->why, err);
    if (!rc)
        rc = json__put_int(o, WHAT, "k", (int64_t)h->k, 0, err);
    if (!rc)
        rc = json__put(o, WHAT, "passed", json_boolean(h->passed), err);
    if (!rc)
        rc = put_nums(o, h, holdout_fields, ARRAY_SIZE(holdout_fields), err);
    if (!rc)
        rc = put_nums(o, h, holdout_fields_v2, ARRAY_SIZE(holdout_fields_v2), err);
    if (!rc)
        rc = json__put(o, WHAT, "points", rows_new(cols, 3, h->k), err);
    return rc;
}

int laws_to_json(const laws_t *l, char **out, carbs_err_t *err)
{
    json_t *root = json_object();
    int rc = json__put_int(root, WHAT, "v", LAWS_VERSION, 0, err);

    *out = NULL;
    if (!rc)
        rc = json__put_str(root, WHAT, "metric", l->metric, sizeof(l->metric), err);
    if (!rc)
        rc = json__put_str(root, WHAT, "cost", l->cost, sizeof(l->cost), err);
    if (!rc)
        rc = json__put(root, WHAT, "maximize", json_boolean(l->maximize), err);
    if (!rc)
        rc = json__put(root, WHAT, "full", json_boolean(l->full), err);
    if (!rc)
        rc = json__put_str(root, WHAT, "estimator", l->estimator, sizeof(l->estimator), err);
    if (!rc)
        rc = json__put(root, WHAT, "level", num_or_null(l->level), err);
    if (!rc)
        rc = json__put_int(root, WHAT, "n_trials", (int64_t)l->n_trials, 0, err);
    if (!rc)
        rc = json__put_int(root, WHAT, "n_front", (int64_t)l->n_front, 0, err);
    if (!rc)
        rc = put_power(root, &l->loss, err);
    if (!rc)
        rc = put_lines(root, l, err);
    if (!rc)
        rc = put_nd(root, &l->nd, err);
    if (!rc)
        rc = put_holdout(root, &l->holdout, err);
    if (!rc)
        rc = json__dump(root, WHAT, out, NULL, err);
    json_decref(root);
    return rc;
}

// ---- decoding ----

/* obj[key] as a number, null as NaN. */
static int get_numn(json_t *obj, const char *key, double *dst, carbs_err_t *err)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return carbs_fail(err, CARBS_EPROTO, "laws: missing field '%s'", key);
    if (json_is_null(v)) {
        *dst = NAN;
        return 0;
    }
    if (!json_is_number(v))
        return carbs_fail(err, CARBS_EPROTO, "laws: field '%s' must be a number or null", key);
    *dst = json_number_value(v);
    return 0;
}

/* Optional numbers: NaN when absent (fields a version-1 fit lacks). */
static int get_nums_opt(json_t *obj, void *base, const num_field_t *f, size_t n,
                        carbs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        double *dst = (double *)((char *)base + f[i].off);
        int rc = 0;
        if (json_object_get(obj, f[i].key))
            rc = get_numn(obj, f[i].key, dst, err);
        else
            *dst = NAN;
        if (rc)
            return rc;
    }
    return 0;
}

static int get_nums(json_t *obj, void *base, const num_field_t *f, size_t n, carbs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = get_numn(obj, f[i].key, (double *)((char *)base + f[i].off), err);
        if (rc)
            return rc;
    }
    return 0;
}

static int get_size(json_t *obj, const char *key, size_t *dst, carbs_err_t *err)
{
    int64_t v = 0;
    int rc = json__get_int(obj, WHAT, key, 0, 0, (int64_t)1 << 40, &v, err);

    *dst = (size_t)v;
    return rc;
}

static int get_status(json_t *obj, int *status, char *why, carbs_err_t *err)
{
    char name[32];
    int rc = json__get_str(obj, WHAT, "status", 0, name, sizeof(name), err);

    if (rc)
        return rc;
    *status = carbs_errcode(name);
    if (*status == 0 && strcmp(name, "OK") != 0)
        return carbs_fail(err, CARBS_EPROTO, "laws: unknown status '%s'", name);
    return json__get_str(obj, WHAT, "why", 0, why, LAWS_WHY_MAX, err);
}

/* The part called key, which must be an object. */
static int get_part(json_t *root, const char *key, json_t **out, carbs_err_t *err)
{
    *out = json_object_get(root, key);
    if (!json_is_object(*out))
        return carbs_fail(err, CARBS_EPROTO, "laws: field '%s' must be an object", key);
    return 0;
}

/* Read key, an array of rows of n_cols numbers (null = NaN), into new
 * column arrays cols[j] (carbs_malloc'd, caller frees) and *n_rows. */
static int get_rows(json_t *obj, const char *key, double **cols, size_t n_cols, size_t *n_rows,
                    carbs_err_t *err)
{
    json_t *arr = json_object_get(obj, key);
    size_t n;

    if (!json_is_array(arr))
        return carbs_fail(err, CARBS_EPROTO, "laws: field '%s' must be an array", key);
    n = json_array_size(arr);
    *n_rows = n;
    for (size_t j = 0; j < n_cols; j++) {
        cols[j] = NULL;
        if (n && !(cols[j] = carbs_malloc(n * sizeof(double))))
            return carbs_fail(err, CARBS_ENOMEM, "laws: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(arr, i);
        if (!json_is_array(row) || json_array_size(row) != n_cols)
            return carbs_fail(err, CARBS_EPROTO, "laws: %s[%zu] must be an array of %zu numbers",
                              key, i, n_cols);
        for (size_t j = 0; j < n_cols; j++) {
            json_t *v = json_array_get(row, j);
            if (json_is_null(v))
                cols[j][i] = NAN;
            else if (json_is_number(v))
                cols[j][i] = json_number_value(v);
            else
                return carbs_fail(err, CARBS_EPROTO, "laws: %s[%zu] must hold numbers", key, i);
        }
    }
    return 0;
}

static int get_power(json_t *root, laws_power_t *p, carbs_err_t *err)
{
    json_t *o;
    double *cols[3] = {NULL, NULL, NULL};
    int rc = get_part(root, "loss", &o, err);

    if (!rc)
        rc = get_status(o, &p->status, p->why, err);
    if (!rc)
        rc = get_size(o, "n", &p->n, err);
    if (!rc)
        rc = get_nums(o, p, power_fields, ARRAY_SIZE(power_fields), err);
    if (!rc)
        rc = get_nums_opt(o, p, power_fields_v2, ARRAY_SIZE(power_fields_v2), err);
    if (!rc)
        rc = get_rows(o, "boot", cols, 3, &p->n_boot, err);
    if (!rc && p->n_boot) {
        p->boot = carbs_malloc(3 * p->n_boot * sizeof(double));
        if (!p->boot)
            rc = carbs_fail(err, CARBS_ENOMEM, "laws: out of memory");
        for (size_t i = 0; !rc && i < p->n_boot; i++)
            for (size_t j = 0; j < 3; j++)
                p->boot[3 * i + j] = cols[j][i];
    }
    if (rc)
        p->n_boot = 0;
    for (size_t j = 0; j < 3; j++)
        free(cols[j]);
    return rc;
}

static int get_lines(json_t *root, laws_t *l, carbs_err_t *err)
{
    json_t *arr = json_object_get(root, "lines");
    size_t n;

    if (!json_is_array(arr))
        return carbs_fail(err, CARBS_EPROTO, "laws: field 'lines' must be an array");
    n = json_array_size(arr);
    if (n && !(l->lines = carbs_malloc(n * sizeof(*l->lines))))
        return carbs_fail(err, CARBS_ENOMEM, "laws: out of memory");
    for (size_t i = 0; i < n; i++) {
        laws_line_t *ln = &l->lines[i];
        json_t *o = json_array_get(arr, i);
        int rc;
        memset(ln, 0, sizeof(*ln));
        l->n_lines = i + 1;
        if (!json_is_object(o))
            return carbs_fail(err, CARBS_EPROTO, "laws: lines[%zu] must be an object", i);
        rc = json__get_str(o, WHAT, "name", 0, ln->name, sizeof(ln->name), err);
        if (!rc)
            rc = get_status(o, &ln->status, ln->why, err);
        if (!rc)
            rc = get_size(o, "n", &ln->n, err);
        if (!rc)
            rc = get_nums(o, ln, line_fields, ARRAY_SIZE(line_fields), err);
        if (rc)
            return rc;
    }
    return 0;
}

static int get_nd(json_t *root, laws_nd_t *nd, carbs_err_t *err)
{
    json_t *o;
    int rc = get_part(root, "nd", &o, err);

    if (!rc)
        rc = get_status(o, &nd->status, nd->why, err);
    if (!rc)
        rc = json__get_str(o, WHAT, "model_size", 0, nd->model_size, sizeof(nd->model_size), err);
    if (!rc)
        rc = json__get_str(o, WHAT, "tokens", 0, nd->tokens, sizeof(nd->tokens), err);
    if (!rc)
        rc = get_size(o, "n", &nd->n, err);
    if (!rc)
        rc = get_nums(o, nd, nd_fields, ARRAY_SIZE(nd_fields), err);
    char source[8] = "law";
    if (!rc)
        rc = json__get_str(o, WHAT, "source", JSON__OPT, source, sizeof(source), err);
    if (!rc && strcmp(source, "law") != 0 && strcmp(source, "line") != 0)
        rc = carbs_fail(err, CARBS_EPROTO, "%s: nd.source \"%s\" is neither law nor line", WHAT,
                        source);
    nd->from_line = strcmp(source, "line") == 0;
    if (!rc)
        rc = json__get_str(o, WHAT, "line_param", JSON__OPT, nd->line_param,
                           sizeof(nd->line_param), err);
    char line_of[16] = "model_size";
    if (!rc)
        rc = json__get_str(o, WHAT, "line_of", JSON__OPT, line_of, sizeof(line_of), err);
    if (!rc && strcmp(line_of, "model_size") != 0 && strcmp(line_of, "tokens") != 0)
        rc = carbs_fail(err, CARBS_EPROTO, "%s: nd.line_of \"%s\" is neither model_size nor tokens",
                        WHAT, line_of);
    nd->line_tokens = strcmp(line_of, "tokens") == 0;
    if (!rc)
        rc = json__get_str(o, WHAT, "law_why", JSON__OPT, nd->law_why, sizeof(nd->law_why), err);
    if (!rc)
        rc = get_nums_opt(o, nd, nd_line_fields, ARRAY_SIZE(nd_line_fields), err);
    return rc;
}

static int get_holdout(json_t *root, laws_holdout_t *h, carbs_err_t *err)
{
    json_t *o;
    double *cols[3] = {NULL, NULL, NULL};
    size_t n = 0;
    int rc = get_part(root, "holdout", &o, err);

    if (!rc)
        rc = get_status(o, &h->status, h->why, err);
    if (!rc)
        rc = json__get_bool(o, WHAT, "passed", 0, &h->passed, err);
    if (!rc)
        rc = get_nums(o, h, holdout_fields, ARRAY_SIZE(holdout_fields), err);
    if (!rc)
        rc = get_nums_opt(o, h, holdout_fields_v2, ARRAY_SIZE(holdout_fields_v2), err);
    if (!rc)
        rc = get_rows(o, "points", cols, 3, &n, err);
    h->cost = cols[0];
    h->actual = cols[1];
    h->predicted = cols[2];
    h->k = n;
    return rc;
}

int laws_from_json(const char *text, laws_t *l, carbs_err_t *err)
{
    json_t *root = NULL;
    int64_t v = 0;
    int rc;

    memset(l, 0, sizeof(*l));
    rc = json__load(text, strlen(text), WHAT, &root, err);
    if (!rc)
        rc = json__get_int(root, WHAT, "v", 0, 1, INT32_MAX, &v, err);
    if (!rc && v > LAWS_VERSION)
        rc = carbs_fail(err, CARBS_EVERSION, "laws: version %lld is newer than this build's %d",
                        (long long)v, LAWS_VERSION);
    l->version = (int)v;
    if (!rc)
        rc = json__get_str(root, WHAT, "metric", 0, l->metric, sizeof(l->metric), err);
    if (!rc)
        rc = json__get_str(root, WHAT, "cost", 0, l->cost, sizeof(l->cost), err);
    if (!rc)
        rc = json__get_bool(root, WHAT, "maximize", 0, &l->maximize, err);
    if (!rc)
        rc = json__get_bool(root, WHAT, "full", 0, &l->full, err);
    if (!rc && json_object_get(root, "estimator"))
        rc = json__get_str(root, WHAT, "estimator", 0, l->estimator, sizeof(l->estimator), err);
    else if (!rc)
        str_copy(l->estimator, sizeof(l->estimator), "front");
    if (!rc)
        rc = get_numn(root, "level", &l->level, err);
    if (!rc)
        rc = get_size(root, "n_trials", &l->n_trials, err);
    if (!rc)
        rc = get_size(root, "n_front", &l->n_front, err);
    if (!rc)
        rc = get_power(root, &l->loss, err);
    if (!rc)
        rc = get_lines(root, l, err);
    if (!rc)
        rc = get_nd(root, &l->nd, err);
    if (!rc)
        rc = get_holdout(root, &l->holdout, err);
    json_decref(root);
    if (rc)
        laws_release(l);
    return rc;
}
