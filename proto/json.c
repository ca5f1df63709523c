/*
 * json.c - the jansson boundary: load/dump, typed field getters and putters
 * with error messages that name the field, and the codecs for parameter
 * values and results that msg.c and record.c share.
 *
 * Idea: decode straight into the plain structs of types.h and drop the
 * json_t at once (docs/design.md).  Every number is read as a double
 * (JSON_DECODE_INT_AS_REAL) and integer fields are checked for integrality
 * and a 2^53 bound here, so the rules live in one place.  Encodings are
 * deterministic: insertion order, compact, %.17g reals (RFC 8259 §6).
 */
#include "proto/common.h"
#include "proto/json.h"

#include <math.h>

#include "proto/json_internal.h"

// ---- load and dump ----

void proto_json_init(void)
{
    json_set_alloc_funcs(carbs_malloc, free);
}

/* True when jansson's error says it ran out of memory.  It leaves the text
 * empty when its very first allocation fails. */
static bool load_oom(const json_error_t *je)
{
    return json_error_code(je) == json_error_out_of_memory || je->text[0] == '\0';
}

int json__load_value(const char *buf, size_t len, const char *what, json_t **out,
                     carbs_err_t *err)
{
    json_error_t je, again;

    /* jansson does not set the error code when its first allocation fails */
    memset(&je, 0, sizeof(je));
    memset(&again, 0, sizeof(again));
    *out = json_loadb(buf, len, JSON__LOAD_FLAGS, &je);
    if (*out)
        return 0;
    if (load_oom(&je))
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory parsing JSON", what);
    /* jansson's string scanner reports a failed allocation as a syntax error
     * ("string or '}' expected").  Parsing is deterministic, so a second
     * parse fails the same way exactly when the input is malformed; any
     * other outcome means the first failure was a lost allocation. */
    *out = json_loadb(buf, len, JSON__LOAD_FLAGS, &again);
    if (*out)
        return 0;
    if (load_oom(&again) || again.position != je.position || strcmp(again.text, je.text) != 0)
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory parsing JSON", what);
    return carbs_fail(err, CARBS_EPROTO, "%s: invalid JSON at line %d column %d: %s", what,
                      je.line, je.column, je.text);
}

int json__load(const char *buf, size_t len, const char *what, json_t **out, carbs_err_t *err)
{
    int rc = json__load_value(buf, len, what, out, err);

    if (rc < 0)
        return rc;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return carbs_fail(err, CARBS_EPROTO, "%s: expected a JSON object", what);
    }
    return 0;
}

int json__dump(const json_t *root, const char *what, char **out, size_t *len, carbs_err_t *err)
{
    char *s = json_dumps(root, JSON__DUMP_FLAGS);

    *out = s;
    if (!s)
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory encoding JSON", what);
    if (len)
        *len = strlen(s);
    return 0;
}

// ---- building ----

json_t *json__number(double x)
{
    if (x == trunc(x) && fabs(x) <= JSON__INT_MAX && !(x == 0 && signbit(x)))
        return json_integer((json_int_t)x);
    return json_real(x);
}

int json__put(json_t *obj, const char *what, const char *key, json_t *val, carbs_err_t *err)
{
    /* json_object_set_new drops val when obj is NULL or the insert fails */
    if (!val || json_object_set_new(obj, key, val) != 0)
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory encoding field '%s'", what, key);
    return 0;
}

int json__put_str(json_t *obj, const char *what, const char *key, const char *s, size_t cap,
                  carbs_err_t *err)
{
    size_t n;

    if (!s)
        return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' is NULL", what, key);
    if (cap && !memchr(s, '\0', cap))
        return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' is not terminated within %zu bytes",
                          what, key, cap);
    n = strlen(s);
    if (!utf8_valid(s, n))
        return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' is not valid UTF-8", what, key);
    return json__put(obj, what, key, json_stringn(s, n), err);
}

int json__put_num(json_t *obj, const char *what, const char *key, double x, carbs_err_t *err)
{
    if (!isfinite(x))
        return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' must be a finite number", what, key);
    return json__put(obj, what, key, json__number(x), err);
}

int json__put_int(json_t *obj, const char *what, const char *key, int64_t x, int64_t min,
                  carbs_err_t *err)
{
    if (x < min || (double)x > JSON__INT_MAX)
        return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' is %lld, outside [%lld, 2^53]", what,
                          key, (long long)x, (long long)min);
    return json__put(obj, what, key, json_integer((json_int_t)x), err);
}

// ---- reading ----

/* obj[key], or NULL after filling err (missing and required) or not. */
static json_t *field(json_t *obj, const char *what, const char *key, unsigned flags, int *rc,
                     carbs_err_t *err)
{
    json_t *v = json_object_get(obj, key);

    *rc = 0;
    if (!v && !(flags & JSON__OPT))
        *rc = carbs_fail(err, CARBS_EPROTO, "%s: missing field '%s'", what, key);
    return v;
}

int json__get_str(json_t *obj, const char *what, const char *key, unsigned flags, char *dst,
                  size_t cap, carbs_err_t *err)
{
    int rc;
    json_t *v = field(obj, what, key, flags, &rc, err);
    size_t n;

    if (!v)
        return rc;
    if (!json_is_string(v))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be a string", what, key);
    n = json_string_length(v);
    if (n >= cap)
        return carbs_fail(err, CARBS_ETOOBIG, "%s: field '%s' is longer than %zu bytes", what, key,
                          cap - 1);
    if (n == 0 && (flags & JSON__NONEMPTY))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must not be empty", what, key);
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return 0;
}

int json__get_hstr(json_t *obj, const char *what, const char *key, unsigned flags, char **dst,
                   carbs_err_t *err)
{
    int rc;
    json_t *v = field(obj, what, key, flags, &rc, err);
    size_t n;
    char *s;

    if (!v)
        return rc;
    if (!json_is_string(v))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be a string", what, key);
    n = json_string_length(v);
    if (n == 0 && (flags & JSON__NONEMPTY))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must not be empty", what, key);
    s = carbs_malloc(n + 1);
    if (!s)
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory decoding field '%s'", what, key);
    memcpy(s, json_string_value(v), n);
    s[n] = '\0';
    free(*dst);
    *dst = s;
    return 0;
}

int json__get_num(json_t *obj, const char *what, const char *key, unsigned flags, double *dst,
                  carbs_err_t *err)
{
    int rc;
    json_t *v = field(obj, what, key, flags, &rc, err);

    if (!v)
        return rc;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be a finite number", what, key);
    *dst = json_number_value(v);
    return 0;
}

int json__get_int(json_t *obj, const char *what, const char *key, unsigned flags, int64_t min,
                  int64_t max, int64_t *dst, carbs_err_t *err)
{
    int rc;
    json_t *v = field(obj, what, key, flags, &rc, err);
    double x;

    if (!v)
        return rc;
    x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(x == trunc(x)) || x < (double)min) {
        if (min == 1)
            return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be a positive integer", what,
                              key);
        if (min == 0)
            return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be a non-negative integer",
                              what, key);
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be an integer of at least %lld",
                          what, key, (long long)min);
    }
    if (x > (double)max || x > JSON__INT_MAX)
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be at most %lld", what, key,
                          (long long)(max < (int64_t)JSON__INT_MAX ? max : (int64_t)JSON__INT_MAX));
    *dst = (int64_t)x;
    return 0;
}

int json__get_bool(json_t *obj, const char *what, const char *key, unsigned flags, bool *dst,
                   carbs_err_t *err)
{
    int rc;
    json_t *v = field(obj, what, key, flags, &rc, err);

    if (!v)
        return rc;
    if (!json_is_boolean(v))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be true or false", what, key);
    *dst = json_is_true(v);
    return 0;
}

// ---- parameter values ----

/* True when name[cap] is terminated, non-empty and UTF-8. */
static bool name_ok(const char *name, size_t cap)
{
    return memchr(name, '\0', cap) && name[0] && utf8_valid(name, strlen(name));
}

int json__params_put(json_t *obj, const char *what, const char *key, const carbs_params_t *ps,
                     carbs_err_t *err)
{
    json_t *o = json_object();
    int rc = 0;

    for (size_t i = 0; o && i < ps->n; i++) {
        const carbs_value_t *v = &ps->v[i];

        if (!name_ok(v->name, sizeof(v->name))) {
            rc = carbs_fail(err, CARBS_EINVAL, "%s: field '%s' entry %zu has a bad name", what,
                            key, i);
            goto out;
        }
        if (json_object_get(o, v->name)) {
            rc = carbs_fail(err, CARBS_EINVAL, "%s: field '%s' names '%s' twice", what, key,
                            v->name);
            goto out;
        }
        if (v->is_str) {
            if (!memchr(v->str, '\0', sizeof(v->str)) || !utf8_valid(v->str, strlen(v->str))) {
                rc = carbs_fail(err, CARBS_EINVAL, "%s: field '%s.%s' is not a valid string", what,
                                key, v->name);
                goto out;
            }
            rc = json__put(o, what, v->name, json_string(v->str), err);
        } else {
            if (!isfinite(v->num)) {
                rc = carbs_fail(err, CARBS_EINVAL, "%s: field '%s.%s' must be a finite number",
                                what, key, v->name);
                goto out;
            }
            rc = json__put(o, what, v->name, json__number(v->num), err);
        }
        if (rc < 0)
            goto out;
    }
    if (json__put(obj, what, key, o, err) < 0)
        return CARBS_ENOMEM; /* json__put dropped o */
    return 0;
out:
    json_decref(o);
    return rc;
}

int json__params_get(json_t *val, const char *what, const char *key, carbs_params_t *ps,
                     carbs_err_t *err)
{
    const char *name;
    json_t *v;
    int rc;

    if (!json_is_object(val))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be an object", what, key);
    json_object_foreach(val, name, v)
    {
        size_t n = strlen(name);

        if (n == 0)
            return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' has an empty name", what, key);
        if (n >= CARBS_NAME_MAX)
            return carbs_fail(err, CARBS_ETOOBIG, "%s: field '%s' has a name longer than %d bytes",
                              what, key, CARBS_NAME_MAX - 1);
        if (json_is_string(v)) {
            if (json_string_length(v) >= CARBS_VALUE_MAX)
                return carbs_fail(err, CARBS_ETOOBIG,
                                  "%s: field '%s.%s' is longer than %d bytes", what, key, name,
                                  CARBS_VALUE_MAX - 1);
            rc = carbs_params_set_str(ps, name, json_string_value(v));
        } else if (json_is_number(v) && isfinite(json_number_value(v))) {
            rc = carbs_params_set_num(ps, name, json_number_value(v));
        } else {
            return carbs_fail(err, CARBS_EPROTO,
                              "%s: field '%s.%s' must be a number or a string", what, key, name);
        }
        if (rc < 0)
            return carbs_fail(err, rc, "%s: out of memory decoding field '%s'", what, key);
    }
    return 0;
}

// ---- results ----

static int metrics_put(json_t *obj, const char *what, const carbs_result_t *r, carbs_err_t *err)
{
    json_t *mo = json_object();
    int rc = 0;

    for (size_t i = 0; mo && i < CARBS_METRIC_COUNT; i++) {
        if (!isfinite(r->metric[i]))
            continue; /* NaN = not reported; an infinite metric is not reported either */
        rc = json__put(mo, what, carbs_metric_name((carbs_metric_t)i),
                       json__number(r->metric[i]), err);
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; mo && i < r->extra.n; i++) {
        const carbs_extra_metric_t *e = &r->extra.v[i];

        if (!name_ok(e->name, sizeof(e->name)) || carbs_metric_parse(e->name) >= 0 ||
            json_object_get(mo, e->name)) {
            rc = carbs_fail(err, CARBS_EINVAL,
                            "%s: field 'metrics' has a bad, canonical or repeated extra name at "
                            "entry %zu",
                            what, i);
            goto out;
        }
        if (!isfinite(e->value))
            continue;
        rc = json__put(mo, what, e->name, json__number(e->value), err);
        if (rc < 0)
            goto out;
    }
    if (!mo)
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory encoding field 'metrics'", what);
    if (json_object_size(mo) == 0) {
        json_decref(mo);
        return 0;
    }
    return json__put(obj, what, "metrics", mo, err);
out:
    json_decref(mo);
    return rc;
}

static int curve_put(json_t *obj, const char *what, const carbs_result_t *r, carbs_err_t *err)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < r->curve.n; i++) {
        const carbs_curve_point_t *p = &r->curve.v[i];
        json_t *pt;

        if (p->step < 0 || (double)p->step > JSON__INT_MAX || !isfinite(p->tokens)) {
            json_decref(arr);
            return carbs_fail(err, CARBS_EINVAL,
                              "%s: field 'curve' point %zu needs a step in [0, 2^53] and finite "
                              "tokens",
                              what, i);
        }
        pt = json_array();
        /* json_array_append_new drops the value it is given when it fails */
        if (!pt || json_array_append_new(pt, json_integer((json_int_t)p->step)) ||
            json_array_append_new(pt, json__number(p->tokens)) ||
            json_array_append_new(pt, isfinite(p->loss) ? json__number(p->loss) : json_null())) {
            json_decref(pt);
            break;
        }
        if (json_array_append_new(arr, pt))
            break;
    }
    if (!arr || json_array_size(arr) < r->curve.n) {
        json_decref(arr);
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory encoding field 'curve'", what);
    }
    return json__put(obj, what, "curve", arr, err);
}

int json__result_put(json_t *obj, const char *what, const carbs_result_t *r, unsigned flags,
                     carbs_err_t *err)
{
    int rc;

    if (flags & JSON__RESULT_STATUS) {
        rc = json__put_str(obj, what, "status", r->ok ? "ok" : "failed", 0, err);
        if (rc < 0)
            return rc;
        if ((unsigned)r->failure >= CARBS_FAILURE_COUNT)
            return carbs_fail(err, CARBS_EINVAL, "%s: field 'failure' is %d, not a failure kind",
                              what, (int)r->failure);
        if (r->failure != CARBS_FAILURE_NONE) {
            rc = json__put_str(obj, what, "failure", carbs_failure_name(r->failure), 0, err);
            if (rc < 0)
                return rc;
        }
        if (!memchr(r->message, '\0', sizeof(r->message)) || r->message[0]) {
            rc = json__put_str(obj, what, "message", r->message, sizeof(r->message), err);
            if (rc < 0)
                return rc;
        }
    }
    rc = metrics_put(obj, what, r, err);
    if (rc < 0)
        return rc;
    if ((flags & JSON__RESULT_CURVE) && r->curve.n)
        return curve_put(obj, what, r, err);
    return 0;
}

static int metrics_get(json_t *mo, const char *what, carbs_result_t *r, carbs_err_t *err)
{
    const char *name;
    json_t *v;

    if (!json_is_object(mo))
        return carbs_fail(err, CARBS_EPROTO, "%s: field 'metrics' must be an object", what);
    json_object_foreach(mo, name, v)
    {
        size_t n = strlen(name);
        int m = carbs_metric_parse(name);
        double x = json_is_number(v) ? json_number_value(v) : NAN;

        if (!isfinite(x))
            return carbs_fail(err, CARBS_EPROTO, "%s: field 'metrics.%.64s' must be a finite number",
                              what, name);
        if (m >= 0) {
            r->metric[m] = x;
            continue;
        }
        if (n == 0 || n >= CARBS_NAME_MAX)
            return carbs_fail(err, n ? CARBS_ETOOBIG : CARBS_EPROTO,
                              "%s: field 'metrics' has a name that is empty or longer than %d "
                              "bytes",
                              what, CARBS_NAME_MAX - 1);
        if (carbs_result_set(r, name, x) < 0)
            return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory decoding field 'metrics'",
                              what);
    }
    return 0;
}

static int curve_get(json_t *arr, const char *what, carbs_result_t *r, carbs_err_t *err)
{
    size_t i;
    json_t *pt;

    if (!json_is_array(arr))
        return carbs_fail(err, CARBS_EPROTO, "%s: field 'curve' must be an array", what);
    if (DA_RESERVE(&r->curve, json_array_size(arr)))
        return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory decoding field 'curve'", what);
    json_array_foreach(arr, i, pt)
    {
        json_t *loss = json_array_get(pt, 2);
        double step = json_number_value(json_array_get(pt, 0));
        double tokens = json_number_value(json_array_get(pt, 1));
        carbs_curve_point_t p;

        if (!json_is_array(pt) || json_array_size(pt) != 3 ||
            !json_is_number(json_array_get(pt, 0)) || !(step == trunc(step)) || step < 0 ||
            step > JSON__INT_MAX || !json_is_number(json_array_get(pt, 1)) || !isfinite(tokens) ||
            !(json_is_null(loss) || json_is_number(loss)))
            return carbs_fail(err, CARBS_EPROTO,
                              "%s: field 'curve' point %zu must be [step, tokens, loss|null]",
                              what, i);
        p.step = (int64_t)step;
        p.tokens = tokens;
        p.loss = json_is_null(loss) ? NAN : json_number_value(loss);
        r->curve.v[r->curve.n++] = p;
    }
    return 0;
}

int json__result_get(json_t *obj, const char *what, carbs_result_t *r, unsigned flags,
                     carbs_err_t *err)
{
    char status[16] = "ok", failure[CARBS_NAME_MAX] = "";
    json_t *v;
    int rc;

    if (flags & JSON__RESULT_STATUS) {
        rc = json__get_str(obj, what, "status", flags & JSON__OPT, status, sizeof(status), err);
        if (rc == CARBS_ETOOBIG || (rc == 0 && strcmp(status, "ok") && strcmp(status, "failed")))
            return carbs_fail(err, CARBS_EPROTO, "%s: field 'status' must be 'ok' or 'failed'",
                              what);
        if (rc < 0)
            return rc;
        r->ok = strcmp(status, "ok") == 0;
        rc = json__get_str(obj, what, "failure", JSON__OPT, failure, sizeof(failure), err);
        if (rc < 0)
            return rc;
        r->failure = CARBS_FAILURE_NONE;
        if (failure[0]) {
            int f = carbs_failure_parse(failure);
            if (f < 0)
                return carbs_fail(err, CARBS_EPROTO,
                                  "%s: field 'failure' names no failure kind ('%s')", what,
                                  failure);
            r->failure = (carbs_failure_t)f;
        }
        rc = json__get_str(obj, what, "message", JSON__OPT, r->message, sizeof(r->message), err);
        if (rc < 0)
            return rc;
    }
    v = json_object_get(obj, "metrics");
    if (v) {
        rc = metrics_get(v, what, r, err);
        if (rc < 0)
            return rc;
    }
    v = json_object_get(obj, "curve");
    if (v && (flags & JSON__RESULT_CURVE))
        return curve_get(v, what, r, err);
    return 0;
}

// ---- public codecs ----

int proto_params_to_json(const carbs_params_t *ps, char **out, carbs_err_t *err)
{
    json_t *root = json_object();
    json_t *o;
    int rc;

    *out = NULL;
    rc = json__params_put(root, "params", "params", ps, err);
    if (rc < 0)
        goto out;
    o = json_object_get(root, "params");
    rc = json__dump(o, "params", out, NULL, err);
out:
    json_decref(root);
    return rc;
}

int proto_params_from_json(const char *text, carbs_params_t *ps, carbs_err_t *err)
{
    json_t *root;
    int rc = json__load(text, strlen(text), "params", &root, err);

    if (rc < 0)
        return rc;
    rc = json__params_get(root, "params", "params", ps, err);
    if (rc < 0)
        carbs_params_release(ps);
    json_decref(root);
    return rc;
}

int proto_result_to_json(const carbs_result_t *r, unsigned flags, char **out, carbs_err_t *err)
{
    unsigned f = JSON__RESULT_STATUS | ((flags & PROTO_JSON_CURVE) ? JSON__RESULT_CURVE : 0);
    json_t *root = json_object();
    int rc;

    *out = NULL;
    if (!root)
        return carbs_fail(err, CARBS_ENOMEM, "result: out of memory encoding JSON");
    rc = json__result_put(root, "result", r, f, err);
    if (rc == 0)
        rc = json__dump(root, "result", out, NULL, err);
    json_decref(root);
    return rc;
}

int proto_result_from_json(const char *text, carbs_result_t *r, carbs_err_t *err)
{
    json_t *root;
    int rc;

    carbs_result_init(r);
    rc = json__load(text, strlen(text), "result", &root, err);
    if (rc < 0)
        return rc;
    rc = json__result_get(root, "result", r, JSON__RESULT_STATUS | JSON__RESULT_CURVE, err);
    if (rc < 0) {
        carbs_result_release(r);
        carbs_result_init(r);
    }
    json_decref(root);
    return rc;
}
