/*
 * asktell.c - the codec of `carbs ask-tell` lines (see asktell.h for the
 * grammar).  Each request is parsed with jansson into an asktell_cmd_t and
 * the tree dropped before returning; each reply is built with the shared
 * putters of json_internal.h so numbers print the same way as everywhere
 * else (17 significant digits, integers without ".0").
 */
#include "proto/common.h"
#include "proto/asktell.h"

#include <math.h>

#include "proto/json_internal.h"

#define WHAT "ask-tell"

static const char *const cmd_names[] = {
#define X(id, name) name,
    ASKTELL_CMD_MAP(X)
#undef X
};

void asktell_cmd_release(asktell_cmd_t *cmd)
{
    if (!cmd)
        return;
    carbs_space_release(&cmd->space);
    carbs_params_release(&cmd->params);
    memset(cmd, 0, sizeof(*cmd));
}

// ---- decoding ----

/* The id of observe/forget: a string, or an integer given as a number. */
static int get_id(json_t *obj, char *dst, carbs_err_t *err)
{
    json_t *v = json_object_get(obj, "id");
    double x;

    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return json__get_str(obj, WHAT, "id", 0, dst, ASKTELL_ID_MAX, err);
    x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(x == trunc(x)) || fabs(x) > JSON__INT_MAX)
        return carbs_fail(err, CARBS_EPROTO, WHAT ": field 'id' must be a string or an integer");
    snprintf(dst, ASKTELL_ID_MAX, "%lld", (long long)x);
    return 0;
}

static int get_output(json_t *obj, double *dst, carbs_err_t *err)
{
    json_t *v = json_object_get(obj, "output");

    *dst = NAN;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return carbs_fail(err, CARBS_EPROTO, WHAT ": field 'output' must be a number or null");
    *dst = json_number_value(v);
    return 0;
}

static int get_values(json_t *p, carbs_param_t *param, carbs_err_t *err)
{
    json_t *vals = json_object_get(p, "values"), *v;
    size_t i;

    if (!json_is_array(vals) || json_array_size(vals) == 0 ||
        json_array_size(vals) > CARBS_VALUES_MAX)
        return carbs_fail(err, CARBS_EPROTO,
                          WHAT ": parameter '%s' needs 'values', an array of 1 to %d strings",
                          param->name, CARBS_VALUES_MAX);
    json_array_foreach(vals, i, v)
    {
        if (!json_is_string(v))
            return carbs_fail(err, CARBS_EPROTO, WHAT ": parameter '%s' value %zu is not a string",
                              param->name, i);
        if (str_copy(param->values[i], CARBS_VALUE_MAX, json_string_value(v)) < 0)
            return carbs_fail(err, CARBS_ETOOBIG, WHAT ": parameter '%s' value %zu is too long",
                              param->name, i);
    }
    param->n_values = json_array_size(vals);
    return 0;
}

/* The center of a categorical: a value's name or its index. */
static int get_category_center(json_t *p, carbs_param_t *param, carbs_err_t *err)
{
    json_t *v = json_object_get(p, "center");

    param->center = 0;
    if (!v)
        return 0;
    if (json_is_string(v)) {
        for (size_t i = 0; i < param->n_values; i++) {
            if (strcmp(param->values[i], json_string_value(v)) == 0) {
                param->center = (double)i;
                return 0;
            }
        }
        return carbs_fail(err, CARBS_EPROTO, WHAT ": parameter '%s' center is not one of its values",
                          param->name);
    }
    return json__get_num(p, WHAT, "center", 0, &param->center, err);
}

static int get_param(json_t *p, size_t idx, carbs_param_t *param, carbs_err_t *err)
{
    char kind[CARBS_NAME_MAX] = "linear";
    int k, rc;

    if (!json_is_object(p))
        return carbs_fail(err, CARBS_EPROTO, WHAT ": space entry %zu must be an object", idx);
    memset(param, 0, sizeof(*param));
    rc = json__get_str(p, WHAT, "name", JSON__NONEMPTY, param->name, sizeof(param->name), err);
    if (rc < 0)
        return rc;
    rc = json__get_str(p, WHAT, "kind", JSON__OPT, kind, sizeof(kind), err);
    if (rc < 0)
        return rc;
    k = carbs_space_parse(kind);
    if (k < 0)
        return carbs_fail(err, CARBS_EPROTO, WHAT ": parameter '%s' has unknown kind '%s'",
                          param->name, kind);
    param->space = (carbs_space_kind_t)k;
    param->scale = 1;
    param->round = 1;
    if (param->space == CARBS_SPACE_CATEGORICAL) {
        rc = get_values(p, param, err);
        return rc < 0 ? rc : get_category_center(p, param, err);
    }
    param->min = param->space == CARBS_SPACE_LINEAR ? -INFINITY : 0;
    param->max = param->space == CARBS_SPACE_LOGIT ? 1 : INFINITY;
    rc = json__get_num(p, WHAT, "min", JSON__OPT, &param->min, err);
    if (rc == 0)
        rc = json__get_num(p, WHAT, "max", JSON__OPT, &param->max, err);
    if (rc == 0)
        rc = json__get_num(p, WHAT, "center", 0, &param->center, err);
    if (rc == 0)
        rc = json__get_num(p, WHAT, "scale", JSON__OPT, &param->scale, err);
    if (rc == 0)
        rc = json__get_bool(p, WHAT, "is_integer", JSON__OPT, &param->is_integer, err);
    if (rc == 0)
        rc = json__get_num(p, WHAT, "rounding_factor", JSON__OPT, &param->round, err);
    return rc;
}

static int get_space(json_t *obj, carbs_space_t *sp, carbs_err_t *err)
{
    json_t *arr = json_object_get(obj, "space"), *p;
    carbs_param_t param;
    size_t i;
    int rc;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return carbs_fail(err, CARBS_EPROTO, WHAT ": field 'space' must be a non-empty array");
    json_array_foreach(arr, i, p)
    {
        rc = get_param(p, i, &param, err);
        if (rc < 0)
            return rc;
        rc = carbs_space_add(sp, &param);
        if (rc == CARBS_EEXIST)
            return carbs_fail(err, CARBS_EPROTO, WHAT ": parameter '%s' is declared twice",
                              param.name);
        if (rc < 0)
            return carbs_fail(err, rc, WHAT ": out of memory decoding the space");
    }
    return 0;
}

/* One config value v for option o, or the reason it is refused in why. */
static int set_option(carbs_config_t *cfg, const carbs_config_opt_t *o, json_t *v, char *why,
                      size_t cap)
{
    if (json_is_boolean(v))
        return carbs_config_set_bool(cfg, o, json_is_true(v), why, cap);
    if (json_is_number(v))
        return carbs_config_set_num(cfg, o, json_number_value(v), why, cap);
    /* an object or array is no value: the type's own complaint */
    return carbs_config_set_name(cfg, o, json_is_string(v) ? json_string_value(v) : NULL, why,
                                 cap);
}

/* Append key, quoted and cut to 64 bytes, to the list of used bytes in
 * list[cap].  Cuts fall between characters, so the list stays UTF-8 and
 * can go into the warning of the reply. */
static void add_ignored(char *list, size_t cap, size_t used, const char *key)
{
    size_t n = strlen(key);

    if (n > 64) {
        n = 64;
        while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(list + used, cap - used, "%s'%.*s'", used ? ", " : "", (int)n, key);
    used = strlen(list);
    while (used > 0 && !utf8_valid(list, used))
        list[--used] = '\0';
}

/* The "config" object: options by the table, other keys listed in
 * cmd->ignored, null = keep the default. */
static int get_config(json_t *obj, asktell_cmd_t *cmd, carbs_err_t *err)
{
    json_t *cfg = json_object_get(obj, "config"), *v;
    const char *key;
    char why[160];

    if (!cfg || json_is_null(cfg))
        return 0;
    if (!json_is_object(cfg))
        return carbs_fail(err, CARBS_EPROTO, WHAT ": field 'config' must be an object");
    json_object_foreach(cfg, key, v)
    {
        const carbs_config_opt_t *o = carbs_config_find(key);
        size_t used = strlen(cmd->ignored);

        if (json_is_null(v))
            continue;
        if (!o) {
            add_ignored(cmd->ignored, sizeof(cmd->ignored), used, key);
            continue;
        }
        if (set_option(&cmd->config, o, v, why, sizeof(why)) == 0)
            continue;
        if (json_is_number(v))
            return carbs_fail(err, CARBS_EPROTO, WHAT ": config '%s': %s (got %g)", key, why,
                              json_number_value(v));
        if (json_is_string(v))
            return carbs_fail(err, CARBS_EPROTO, WHAT ": config '%s': %s (got '%.40s')", key,
                              why, json_string_value(v));
        return carbs_fail(err, CARBS_EPROTO, WHAT ": config '%s': %s", key, why);
    }
    return 0;
}

static int decode_init(json_t *obj, asktell_cmd_t *cmd, carbs_err_t *err)
{
    static const char *const top[] = {"seed", "better_direction_sign"};
    char why[160];
    int rc;

    carbs_config_defaults(&cmd->config);
    rc = get_space(obj, &cmd->space, err);
    if (rc == 0)
        rc = get_config(obj, cmd, err);
    /* the top-level seed and sign win over the config's */
    for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(top); i++) {
        json_t *v = json_object_get(obj, top[i]);

        if (!v)
            continue;
        if (!json_is_number(v) ||
            carbs_config_set_num(&cmd->config, carbs_config_find(top[i]), json_number_value(v),
                                 why, sizeof(why)) < 0)
            rc = carbs_fail(err, CARBS_EPROTO, WHAT ": field '%s' %s", top[i],
                            json_is_number(v) ? why : "must be a number");
    }
    return rc;
}

static int decode_observe(json_t *obj, asktell_cmd_t *cmd, carbs_err_t *err)
{
    json_t *params = json_object_get(obj, "params");
    int rc;

    rc = get_id(obj, cmd->id, err);
    if (rc < 0)
        return rc;
    if (!params)
        return carbs_fail(err, CARBS_EPROTO, WHAT ": missing field 'params'");
    rc = json__params_get(params, WHAT, "params", &cmd->params, err);
    if (rc < 0)
        return rc;
    rc = get_output(obj, &cmd->output, err);
    if (rc < 0)
        return rc;
    cmd->cost = 1;
    rc = json__get_num(obj, WHAT, "cost", JSON__OPT, &cmd->cost, err);
    if (rc < 0)
        return rc;
    return json__get_bool(obj, WHAT, "is_failure", JSON__OPT, &cmd->is_failure, err);
}

int asktell_decode(const char *line, size_t len, asktell_cmd_t *cmd, carbs_err_t *err)
{
    char name[CARBS_NAME_MAX] = "";
    json_t *obj = NULL;
    int rc;

    memset(cmd, 0, sizeof(*cmd));
    cmd->output = NAN;
    cmd->cost = 1;
    rc = json__load(line, len, WHAT, &obj, err);
    if (rc < 0)
        return rc;
    rc = json__get_str(obj, WHAT, "cmd", JSON__NONEMPTY, name, sizeof(name), err);
    if (rc < 0)
        goto out;
    rc = CARBS_EPROTO;
    for (size_t i = 0; i < ARRAY_SIZE(cmd_names); i++) {
        if (strcmp(name, cmd_names[i]) == 0) {
            cmd->kind = (asktell_cmd_kind_t)i;
            rc = 0;
        }
    }
    if (rc < 0) {
        carbs_fail(err, rc, WHAT ": unknown cmd '%s'", name);
        goto out;
    }
    switch (cmd->kind) {
    case ASKTELL_INIT:
        rc = decode_init(obj, cmd, err);
        break;
    case ASKTELL_OBSERVE:
        rc = decode_observe(obj, cmd, err);
        break;
    case ASKTELL_FORGET:
        rc = get_id(obj, cmd->id, err);
        if (rc == 0 && !cmd->id[0])
            rc = carbs_fail(err, CARBS_EPROTO, WHAT ": missing field 'id'");
        break;
    default:
        break;
    }
out:
    json_decref(obj);
    if (rc < 0) {
        asktell_cmd_release(cmd);
        cmd->output = NAN;
    }
    return rc;
}

// ---- encoding ----

static int finish(json_t *obj, char **out, carbs_err_t *err)
{
    int rc = json__dump(obj, WHAT, out, NULL, err);

    json_decref(obj);
    return rc;
}

int asktell_encode_ok(const char *warning, char **out, carbs_err_t *err)
{
    json_t *obj = json_object();
    int rc;

    *out = NULL;
    rc = json__put(obj, WHAT, "ok", json_true(), err);
    if (rc == 0 && warning)
        rc = json__put_str(obj, WHAT, "warning", warning, 0, err);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    return finish(obj, out, err);
}

int asktell_encode_error(const char *msg, char **out, carbs_err_t *err)
{
    json_t *obj = json_object();
    char *clean = xstrdup(msg ? msg : "");
    size_t n = strlen(clean);
    int rc;

    *out = NULL;
    /* a message quoting a bad line may hold invalid UTF-8: blank out non-ASCII */
    if (!utf8_valid(clean, n))
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)clean[i] >= 0x80)
                clean[i] = '?';
    rc = json__put(obj, WHAT, "ok", json_false(), err);
    if (rc == 0)
        rc = json__put_str(obj, WHAT, "error", clean, 0, err);
    free(clean);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    return finish(obj, out, err);
}

static int put_opt_num(json_t *obj, const char *key, double x, carbs_err_t *err)
{
    return isfinite(x) ? json__put_num(obj, WHAT, key, x, err) : 0;
}

int asktell_encode_suggestion(const asktell_suggestion_t *s, char **out, carbs_err_t *err)
{
    json_t *obj = json_object();
    int rc;

    *out = NULL;
    rc = json__put_str(obj, WHAT, "id", s->id, 0, err);
    if (rc == 0)
        rc = json__put_str(obj, WHAT, "kind", s->kind, 0, err);
    if (rc == 0)
        rc = json__params_put(obj, WHAT, "params", s->params, err);
    if (rc == 0)
        rc = put_opt_num(obj, "pred_output", s->pred_output, err);
    if (rc == 0)
        rc = put_opt_num(obj, "pred_cost", s->pred_cost, err);
    if (rc == 0)
        rc = put_opt_num(obj, "p_success", s->p_success, err);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    return finish(obj, out, err);
}

int asktell_encode_pareto(const asktell_point_t *pts, size_t n, char **out, carbs_err_t *err)
{
    json_t *obj = json_object(), *arr = json_array();
    int rc = 0;

    *out = NULL;
    for (size_t i = 0; arr && i < n; i++) {
        json_t *p = json_object();

        if (pts[i].id && pts[i].id[0])
            rc = json__put_str(p, WHAT, "id", pts[i].id, 0, err);
        else
            rc = json__put(p, WHAT, "id", json_null(), err);
        if (rc == 0)
            rc = json__params_put(p, WHAT, "params", pts[i].params, err);
        if (rc == 0)
            rc = json__put_num(p, WHAT, "output", pts[i].output, err);
        if (rc == 0)
            rc = json__put_num(p, WHAT, "cost", pts[i].cost, err);
        if (rc == 0)
            rc = json__put(p, WHAT, "n", json_integer((json_int_t)pts[i].n), err);
        if (rc < 0) {
            json_decref(p);
            break;
        }
        /* json_array_append_new drops p when it fails */
        if (json_array_append_new(arr, p) != 0) {
            rc = carbs_fail(err, CARBS_ENOMEM, WHAT ": out of memory encoding the front");
            break;
        }
    }
    if (rc < 0) {
        json_decref(arr);
        json_decref(obj);
        return rc;
    }
    rc = json__put(obj, WHAT, "pareto", arr, err);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    return finish(obj, out, err);
}
