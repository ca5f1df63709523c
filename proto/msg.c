/*
 * msg.c - encode and decode the protocol messages of msg.h.
 *
 * Idea: each message is a table of fields (wire key, kind, flags, offset
 * into proto_msg_t, buffer size, smallest value), built from the structs
 * of msg.h.  One loop encodes, one decodes, one initialises and one
 * releases, so a message's wire shape is written down exactly once and the
 * encoder and decoder cannot disagree on it.  The encoder refuses what the
 * decoder would refuse, which makes decode(encode(m)) total and lets the
 * fuzz harness check that re-encoding is stable.  See docs/protocol.md.
 */
#include "proto/common.h"
#include "proto/msg.h"

#include <limits.h>
#include <math.h>

#include "proto/json_internal.h"

// ---- field tables ----

typedef enum field_kind {
    F_I64,     /* int64_t in [min, 2^53]; OPT: 0 is omitted */
    F_INT,     /* int in [min, INT_MAX]; OPT: 0 is omitted */
    F_NUM,     /* finite double; OPT: a non-finite value is omitted, absent is NaN */
    F_BOOL,    /* bool; OPT: false is omitted, absent is false */
    F_STR,     /* char[size]; OPT: "" is omitted */
    F_HSTR,    /* char * owned by the message; OPT: NULL is omitted */
    F_ARGV,    /* proto_argv_t as an array of strings; OPT: empty is omitted */
    F_PARAMS,  /* carbs_params_t as a flat object; OPT: empty is omitted */
    F_RESULT,  /* carbs_result_t as inline keys; OPT: "status" may be absent */
    F_DEVICES, /* proto_devices_t as an array of strings */
    F_CAPS,    /* proto_caps_t as an object of booleans */
    F_TRAINER, /* proto_trainer_t as its name */
    F_SYNTH,   /* proto_synthetic_t as an object; OPT: no function is omitted */
    F_CODE,    /* a negative status code as its table name */
} field_kind_t;

typedef struct field {
    const char *key; /* wire key; for F_RESULT only a label */
    field_kind_t kind;
    unsigned flags; /* JSON__OPT, JSON__NONEMPTY */
    size_t off;     /* offset of the member in proto_msg_t */
    size_t size;    /* sizeof the member (the buffer size of an F_STR) */
    int64_t min;    /* smallest value of an F_I64 or F_INT */
} field_t;

#define FIELD(msg, key, kind, flags, member, min)                                                  \
    {                                                                                              \
        key, kind, flags, offsetof(proto_msg_t, msg.member),                                       \
            sizeof(((proto_msg_t *)0)->msg.member), min                                            \
    }
#define OPT JSON__OPT
#define NONEMPTY JSON__NONEMPTY

static const field_t hello_fields[] = {
    FIELD(hello, "worker_id", F_STR, NONEMPTY, worker_id, 0),
    FIELD(hello, "host", F_STR, 0, host, 0),
    FIELD(hello, "pid", F_I64, 0, pid, 1),
    FIELD(hello, "slots", F_INT, 0, slots, 1),
    FIELD(hello, "devices", F_DEVICES, 0, devices, 0),
    FIELD(hello, "capabilities", F_CAPS, 0, caps, 0),
};
static const field_t ready_fields[] = {
    FIELD(ready, "slot", F_INT, 0, slot, 0),
};
static const field_t heartbeat_fields[] = {
    FIELD(heartbeat, "trial_id", F_I64, 0, trial_id, 0),
};
static const field_t progress_fields[] = {
    FIELD(progress, "trial_id", F_I64, 0, trial_id, 1),
    FIELD(progress, "attempt", F_INT, 0, attempt, 1),
    FIELD(progress, "step", F_I64, 0, step, 0),
    FIELD(progress, "tokens", F_NUM, 0, tokens, 0),
    FIELD(progress, "train_loss", F_NUM, OPT, train_loss, 0),
    FIELD(progress, "elapsed_seconds", F_NUM, 0, elapsed_seconds, 0),
};
static const field_t result_fields[] = {
    FIELD(result, "trial_id", F_I64, 0, r.trial_id, 1),
    FIELD(result, "attempt", F_INT, 0, r.attempt, 1),
    FIELD(result, "result", F_RESULT, 0, r, 0),
};
static const field_t bye_fields[] = {
    FIELD(bye, "reason", F_STR, 0, reason, 0),
};
static const field_t welcome_fields[] = {
    FIELD(welcome, "heartbeat_ms", F_INT, 0, heartbeat_ms, 1),
    FIELD(welcome, "lease_ms", F_INT, 0, lease_ms, 1),
    FIELD(welcome, "service_version", F_STR, 0, service_version, 0),
};
static const field_t trial_fields[] = {
    FIELD(trial, "trial_id", F_I64, 0, trial_id, 1),
    FIELD(trial, "sweep_id", F_I64, 0, sweep_id, 1),
    FIELD(trial, "attempt", F_INT, 0, attempt, 1),
    FIELD(trial, "trainer", F_TRAINER, 0, trainer, 0),
    FIELD(trial, "params", F_PARAMS, 0, params, 0),
    FIELD(trial, "fixed", F_PARAMS, OPT, fixed, 0),
    FIELD(trial, "argv", F_ARGV, OPT, argv, 0),
    FIELD(trial, "synthetic", F_SYNTH, OPT, synthetic, 0),
    FIELD(trial, "metric", F_STR, NONEMPTY, metric, 0),
    FIELD(trial, "cost", F_STR, NONEMPTY, cost, 0),
    FIELD(trial, "lease_ms", F_INT, 0, lease_ms, 1),
};
static const field_t wait_fields[] = {
    FIELD(wait, "retry_ms", F_INT, 0, retry_ms, 0),
};
static const field_t ack_fields[] = {
    FIELD(ack, "trial_id", F_I64, 0, trial_id, 1),
};
static const field_t cancel_fields[] = {
    FIELD(cancel, "trial_id", F_I64, 0, trial_id, 1),
    FIELD(cancel, "reason", F_STR, 0, reason, 0),
};
static const field_t error_fields[] = {
    FIELD(error, "code", F_CODE, 0, code, 0),
    FIELD(error, "message", F_STR, 0, message, 0),
};
static const field_t sweep_create_fields[] = {
    FIELD(sweep_create, "spec_json", F_HSTR, NONEMPTY, spec_json, 0),
};
static const field_t status_fields[] = {
    FIELD(status, "sweep", F_STR, 0, sweep, 0),
};
static const field_t pause_fields[] = {
    FIELD(pause, "sweep", F_STR, NONEMPTY, sweep, 0),
};
static const field_t resume_fields[] = {
    FIELD(resume, "sweep", F_STR, NONEMPTY, sweep, 0),
};
static const field_t stop_fields[] = {
    FIELD(stop, "sweep", F_STR, NONEMPTY, sweep, 0),
};
static const field_t release_fields[] = {
    FIELD(release, "worker", F_STR, NONEMPTY, worker, 0),
    FIELD(release, "unbind", F_BOOL, OPT, unbind, 0),
};
static const field_t sweep_admin_fields[] = {
    FIELD(sweep_admin, "sweep", F_STR, NONEMPTY, sweep, 0),
    FIELD(sweep_admin, "op", F_STR, NONEMPTY, op, 0),
    FIELD(sweep_admin, "trials", F_I64, OPT, trials, 0),
    FIELD(sweep_admin, "cost", F_NUM, OPT, cost, 0),
    FIELD(sweep_admin, "name", F_STR, OPT, name, 0),
};
static const field_t import_fields[] = {
    FIELD(import, "sweep", F_STR, NONEMPTY, sweep, 0),
    FIELD(import, "records", F_HSTR, 0, records, 0),
};
static const field_t ask_fields[] = {
    FIELD(ask, "sweep", F_STR, NONEMPTY, sweep, 0),
};
static const field_t tell_fields[] = {
    FIELD(tell, "sweep", F_STR, NONEMPTY, sweep, 0),
    FIELD(tell, "trial_id", F_I64, 0, trial_id, 1),
    FIELD(tell, "output", F_NUM, OPT, output, 0),
    FIELD(tell, "cost", F_NUM, 0, cost, 0),
    FIELD(tell, "is_failure", F_BOOL, 0, is_failure, 0),
    FIELD(tell, "result", F_RESULT, OPT, r, 0),
};
static const field_t verify_fields[] = {
    FIELD(verify, "sweep", F_STR, NONEMPTY, sweep, 0),
    FIELD(verify, "params", F_PARAMS, 0, params, 0),
    FIELD(verify, "cost", F_NUM, 0, cost, 0),
    FIELD(verify, "cost_name", F_STR, NONEMPTY, cost_name, 0),
    FIELD(verify, "estimator", F_STR, NONEMPTY, estimator, 0),
    FIELD(verify, "predicted", F_NUM, 0, predicted, 0),
    FIELD(verify, "lo", F_NUM, OPT, lo, 0),
    FIELD(verify, "hi", F_NUM, OPT, hi, 0),
    FIELD(verify, "level", F_NUM, OPT, level, 0),
};
static const field_t reply_fields[] = {
    FIELD(reply, "ok", F_BOOL, 0, ok, 0),
    FIELD(reply, "sweep_id", F_I64, OPT, sweep_id, 0),
    FIELD(reply, "trial_id", F_I64, OPT, trial_id, 0),
    FIELD(reply, "params", F_PARAMS, OPT, params, 0),
    FIELD(reply, "message", F_STR, OPT, message, 0),
    FIELD(reply, "data", F_HSTR, OPT, data, 0),
};

typedef struct msg_def {
    const char *name;
    const field_t *fields;
    size_t n_fields;
} msg_def_t;

static const msg_def_t defs[PROTO_MSG_COUNT] = {
    [PROTO_MSG_NONE] = {"none", NULL, 0},
#define X(wire, id, ctype) [PROTO_MSG_##id] = {#wire, wire##_fields, ARRAY_SIZE(wire##_fields)},
    PROTO_MSG_MAP(X)
#undef X
};

static const char *const trainer_names[] = {
#define X(id, name) name,
    PROTO_TRAINER_MAP(X)
#undef X
};

// ---- names ----

const char *proto_msg_type_name(proto_msg_type_t t)
{
    return (t > PROTO_MSG_NONE && t < PROTO_MSG_COUNT) ? defs[t].name : "unknown";
}

proto_msg_type_t proto_msg_type_parse(const char *name)
{
    for (int t = PROTO_MSG_NONE + 1; name && t < PROTO_MSG_COUNT; t++)
        if (strcmp(name, defs[t].name) == 0)
            return (proto_msg_type_t)t;
    return PROTO_MSG_NONE;
}

const char *proto_trainer_name(proto_trainer_t t)
{
    return ((unsigned)t < PROTO_TRAINER_COUNT) ? trainer_names[t] : "unknown";
}

int proto_trainer_parse(const char *name)
{
    for (int t = 0; name && t < PROTO_TRAINER_COUNT; t++)
        if (strcmp(name, trainer_names[t]) == 0)
            return t;
    return -1;
}

// ---- life cycle ----

static void argv_release(proto_argv_t *av)
{
    for (size_t i = 0; i < av->n; i++)
        free(av->v[i]);
    DA_FREE(av);
}

void proto_msg_init(proto_msg_t *m, proto_msg_type_t type)
{
    memset(m, 0, sizeof(*m));
    m->type = (type > PROTO_MSG_NONE && type < PROTO_MSG_COUNT) ? type : PROTO_MSG_NONE;
    for (size_t i = 0; i < defs[m->type].n_fields; i++) {
        const field_t *f = &defs[m->type].fields[i];
        char *p = (char *)m + f->off;

        if (f->kind == F_NUM && (f->flags & OPT))
            *(double *)p = NAN;
        else if (f->kind == F_RESULT)
            carbs_result_init((carbs_result_t *)p);
    }
}

void proto_msg_release(proto_msg_t *m)
{
    proto_msg_type_t t = m->type;

    for (size_t i = 0; t > PROTO_MSG_NONE && t < PROTO_MSG_COUNT && i < defs[t].n_fields; i++) {
        const field_t *f = &defs[t].fields[i];
        char *p = (char *)m + f->off;

        switch (f->kind) {
        case F_HSTR:
            free(*(char **)p);
            break;
        case F_ARGV:
            argv_release((proto_argv_t *)p);
            break;
        case F_PARAMS:
            carbs_params_release((carbs_params_t *)p);
            break;
        case F_RESULT:
            carbs_result_release((carbs_result_t *)p);
            break;
        case F_SYNTH:
            carbs_params_release(&((proto_synthetic_t *)p)->fail_above);
            break;
        default:
            break;
        }
    }
    memset(m, 0, sizeof(*m));
}

// ---- encoding ----

/* Append s to the array arr: 0, CARBS_EINVAL (NULL, not terminated within
 * cap when cap > 0, or not UTF-8) or CARBS_ENOMEM. */
static int strv_append(json_t *arr, const char *s, size_t cap)
{
    if (!s || (cap && !memchr(s, '\0', cap)) || !utf8_valid(s, strlen(s)))
        return CARBS_EINVAL;
    return json_array_append_new(arr, json_string(s)) ? CARBS_ENOMEM : 0;
}

/* An array of strings from argv (av) or from the device list (d). */
static int strv_put(json_t *obj, const char *what, const char *key, const proto_argv_t *av,
                    const proto_devices_t *d, carbs_err_t *err)
{
    size_t n = av ? av->n : d->n;
    json_t *arr = json_array();
    int rc = arr ? 0 : CARBS_ENOMEM;
    size_t i;

    if (!av && n > PROTO_DEVICES_MAX)
        rc = CARBS_EINVAL;
    for (i = 0; rc == 0 && i < n; i++)
        rc = av ? strv_append(arr, av->v[i], 0) : strv_append(arr, d->v[i], CARBS_NAME_MAX);
    if (rc < 0) {
        json_decref(arr);
        if (rc == CARBS_ENOMEM)
            return carbs_fail(err, rc, "%s: out of memory encoding field '%s'", what, key);
        if (!av && n > PROTO_DEVICES_MAX)
            return carbs_fail(err, rc, "%s: field '%s' has more than %d entries", what, key,
                              PROTO_DEVICES_MAX);
        return carbs_fail(err, rc, "%s: field '%s' entry %zu is not a valid string", what, key,
                          i - 1);
    }
    return json__put(obj, what, key, arr, err);
}

static int synth_put(json_t *obj, const char *what, const field_t *f, const proto_synthetic_t *s,
                     carbs_err_t *err)
{
    char sub[64];
    json_t *so;
    int rc;

    snprintf(sub, sizeof(sub), "%s.%s", what, f->key);
    if (!memchr(s->function, '\0', sizeof(s->function)) || !s->function[0])
        return carbs_fail(err, CARBS_EINVAL, "%s: field 'function' must be a non-empty name", sub);
    if (!(s->seconds_per_cost >= 0))
        return carbs_fail(err, CARBS_EINVAL, "%s: field 'seconds_per_cost' must be >= 0", sub);
    so = json_object();
    rc = json__put_str(so, sub, "function", s->function, sizeof(s->function), err);
    if (rc == 0)
        rc = json__put_num(so, sub, "seconds_per_cost", s->seconds_per_cost, err);
    if (rc == 0 && s->fail_above.n)
        rc = json__params_put(so, sub, "fail_above", &s->fail_above, err);
    if (rc < 0) {
        json_decref(so);
        return rc;
    }
    return json__put(obj, what, f->key, so, err);
}

static int caps_put(json_t *obj, const char *what, const char *key, const proto_caps_t *c,
                    carbs_err_t *err)
{
    json_t *co = json_object();

    if (json__put(co, what, "embedded", json_boolean(c->embedded), err) < 0 ||
        json__put(co, what, "command", json_boolean(c->command), err) < 0 ||
        json__put(co, what, "synthetic", json_boolean(c->synthetic), err) < 0) {
        json_decref(co);
        return CARBS_ENOMEM;
    }
    return json__put(obj, what, key, co, err);
}

static int field_put(json_t *obj, const char *what, const field_t *f, const char *p,
                     carbs_err_t *err)
{
    bool opt = f->flags & OPT;

    switch (f->kind) {
    case F_I64: {
        int64_t x = *(const int64_t *)p;
        if (opt && x == 0)
            return 0;
        return json__put_int(obj, what, f->key, x, f->min, err);
    }
    case F_INT: {
        int x = *(const int *)p;
        if (opt && x == 0)
            return 0;
        return json__put_int(obj, what, f->key, x, f->min, err);
    }
    case F_NUM: {
        double x = *(const double *)p;
        if (opt && !isfinite(x))
            return 0;
        return json__put_num(obj, what, f->key, x, err);
    }
    case F_BOOL:
        if (opt && !*(const bool *)p)
            return 0;
        return json__put(obj, what, f->key, json_boolean(*(const bool *)p), err);
    case F_STR:
        if (memchr(p, '\0', f->size) && p[0] == '\0') {
            if (opt)
                return 0;
            if (f->flags & NONEMPTY)
                return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' must not be empty", what,
                                  f->key);
        }
        return json__put_str(obj, what, f->key, p, f->size, err);
    case F_HSTR: {
        const char *s = *(char *const *)p;
        if (opt && !s)
            return 0;
        if ((f->flags & NONEMPTY) && s && !s[0])
            return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' must not be empty", what, f->key);
        return json__put_str(obj, what, f->key, s, 0, err);
    }
    case F_ARGV: {
        const proto_argv_t *av = (const proto_argv_t *)p;
        if (opt && av->n == 0)
            return 0;
        return strv_put(obj, what, f->key, av, NULL, err);
    }
    case F_PARAMS: {
        const carbs_params_t *ps = (const carbs_params_t *)p;
        if (opt && ps->n == 0)
            return 0;
        return json__params_put(obj, what, f->key, ps, err);
    }
    case F_RESULT:
        return json__result_put(obj, what, (const carbs_result_t *)p,
                                JSON__RESULT_STATUS | JSON__RESULT_CURVE, err);
    case F_DEVICES:
        return strv_put(obj, what, f->key, NULL, (const proto_devices_t *)p, err);
    case F_CAPS:
        return caps_put(obj, what, f->key, (const proto_caps_t *)p, err);
    case F_TRAINER: {
        proto_trainer_t t = *(const proto_trainer_t *)p;
        if ((unsigned)t >= PROTO_TRAINER_COUNT)
            return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' is %d, not a trainer kind", what,
                              f->key, (int)t);
        return json__put_str(obj, what, f->key, proto_trainer_name(t), 0, err);
    }
    case F_SYNTH: {
        const proto_synthetic_t *s = (const proto_synthetic_t *)p;
        if (opt && memchr(s->function, '\0', sizeof(s->function)) && !s->function[0])
            return 0;
        return synth_put(obj, what, f, s, err);
    }
    case F_CODE: {
        int code = *(const int *)p;
        if (code >= 0 || strcmp(carbs_errname(code), "EUNKNOWN") == 0)
            return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' is %d, not an error code", what,
                              f->key, code);
        return json__put_str(obj, what, f->key, carbs_errname(code), 0, err);
    }
    }
    return carbs_fail(err, CARBS_EINVAL, "%s: field '%s' has no codec", what, f->key);
}

/* Rules across fields: what a trial's trainer needs.  code is CARBS_EINVAL
 * when encoding and CARBS_EPROTO when decoding. */
static int check_msg(const proto_msg_t *m, int code, carbs_err_t *err)
{
    if (m->type != PROTO_MSG_TRIAL)
        return 0;
    if (m->trial.trainer == PROTO_TRAINER_COMMAND && m->trial.argv.n == 0)
        return carbs_fail(err, code, "trial: field 'argv' is required for a command trial");
    if (m->trial.trainer == PROTO_TRAINER_SYNTHETIC && !m->trial.synthetic.function[0])
        return carbs_fail(err, code, "trial: field 'synthetic' is required for a synthetic trial");
    return 0;
}

int proto_msg_encode(const proto_msg_t *m, char **out, size_t *len, carbs_err_t *err)
{
    json_t *root = NULL;
    const char *what;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (len)
        *len = 0;
    if (m->type <= PROTO_MSG_NONE || m->type >= PROTO_MSG_COUNT)
        return carbs_fail(err, CARBS_EINVAL, "cannot encode a message of type %d", (int)m->type);
    what = defs[m->type].name;
    rc = check_msg(m, CARBS_EINVAL, err);
    if (rc < 0)
        return rc;
    root = json_object();
    rc = json__put(root, what, "v", json_integer(PROTO_VERSION), err);
    if (rc == 0)
        rc = json__put_str(root, what, "type", what, 0, err);
    for (size_t i = 0; rc == 0 && i < defs[m->type].n_fields; i++) {
        const field_t *f = &defs[m->type].fields[i];
        rc = field_put(root, what, f, (const char *)m + f->off, err);
    }
    if (rc == 0)
        rc = json__dump(root, what, out, &n, err);
    if (rc == 0 && n > PROTO_FRAME_MAX) {
        rc = carbs_fail(err, CARBS_ETOOBIG, "%s: frame of %zu bytes exceeds the %d-byte limit",
                        what, n, PROTO_FRAME_MAX);
        free(*out);
        *out = NULL;
    }
    if (rc == 0 && len)
        *len = n;
    json_decref(root);
    return rc;
}

// ---- decoding ----

static int strv_get(json_t *v, const char *what, const field_t *f, proto_argv_t *av,
                    proto_devices_t *d, carbs_err_t *err)
{
    size_t i;
    json_t *s;

    if (!json_is_array(v))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be an array of strings", what,
                          f->key);
    if (d && json_array_size(v) > PROTO_DEVICES_MAX)
        return carbs_fail(err, CARBS_ETOOBIG, "%s: field '%s' has more than %d entries", what,
                          f->key, PROTO_DEVICES_MAX);
    json_array_foreach(v, i, s)
    {
        size_t n = json_string_length(s);
        char *copy;

        if (!json_is_string(s))
            return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be an array of strings",
                              what, f->key);
        if (d) {
            if (n >= CARBS_NAME_MAX)
                return carbs_fail(err, CARBS_ETOOBIG,
                                  "%s: field '%s' entry %zu is longer than %d bytes", what, f->key,
                                  i, CARBS_NAME_MAX - 1);
            memcpy(d->v[i], json_string_value(s), n + 1);
            d->n = i + 1;
            continue;
        }
        copy = carbs_malloc(n + 1);
        if (!copy || DA_PUSH(av, copy)) {
            free(copy);
            return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory decoding field '%s'", what,
                              f->key);
        }
        memcpy(copy, json_string_value(s), n + 1);
    }
    return 0;
}

static int synth_get(json_t *v, const char *what, const field_t *f, proto_synthetic_t *s,
                     carbs_err_t *err)
{
    char sub[64];
    json_t *fa;
    int rc;

    snprintf(sub, sizeof(sub), "%s.%s", what, f->key);
    if (!json_is_object(v))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be an object", what, f->key);
    rc = json__get_str(v, sub, "function", NONEMPTY, s->function, sizeof(s->function), err);
    if (rc == 0)
        rc = json__get_num(v, sub, "seconds_per_cost", 0, &s->seconds_per_cost, err);
    if (rc == 0 && s->seconds_per_cost < 0)
        rc = carbs_fail(err, CARBS_EPROTO, "%s: field 'seconds_per_cost' must be >= 0", sub);
    fa = json_object_get(v, "fail_above");
    if (rc == 0 && fa)
        rc = json__params_get(fa, sub, "fail_above", &s->fail_above, err);
    return rc;
}

static int caps_get(json_t *v, const char *what, const field_t *f, proto_caps_t *c,
                    carbs_err_t *err)
{
    char sub[64];
    int rc;

    snprintf(sub, sizeof(sub), "%s.%s", what, f->key);
    if (!json_is_object(v))
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must be an object", what, f->key);
    rc = json__get_bool(v, sub, "embedded", OPT, &c->embedded, err);
    if (rc == 0)
        rc = json__get_bool(v, sub, "command", OPT, &c->command, err);
    if (rc == 0)
        rc = json__get_bool(v, sub, "synthetic", OPT, &c->synthetic, err);
    return rc;
}

static int field_get(json_t *obj, const char *what, const field_t *f, char *p, carbs_err_t *err)
{
    json_t *v = json_object_get(obj, f->key);
    char name[32];
    int64_t x;
    int rc;

    switch (f->kind) {
    case F_I64:
    case F_INT:
        x = f->kind == F_I64 ? *(int64_t *)p : *(int *)p;
        rc = json__get_int(obj, what, f->key, f->flags, f->min,
                           f->kind == F_I64 ? INT64_MAX : INT_MAX, &x, err);
        if (rc == 0 && f->kind == F_I64)
            *(int64_t *)p = x;
        else if (rc == 0)
            *(int *)p = (int)x;
        return rc;
    case F_NUM:
        return json__get_num(obj, what, f->key, f->flags, (double *)p, err);
    case F_BOOL:
        return json__get_bool(obj, what, f->key, f->flags, (bool *)p, err);
    case F_STR:
        return json__get_str(obj, what, f->key, f->flags, p, f->size, err);
    case F_HSTR:
        return json__get_hstr(obj, what, f->key, f->flags, (char **)p, err);
    case F_RESULT:
        return json__result_get(obj, what, (carbs_result_t *)p,
                                JSON__RESULT_STATUS | JSON__RESULT_CURVE | (f->flags & OPT), err);
    default:
        break;
    }
    /* the kinds below are JSON containers or enum names read from v */
    if (!v)
        return (f->flags & OPT) ? 0
                                : carbs_fail(err, CARBS_EPROTO, "%s: missing field '%s'", what,
                                             f->key);
    switch (f->kind) {
    case F_ARGV:
        return strv_get(v, what, f, (proto_argv_t *)p, NULL, err);
    case F_DEVICES:
        return strv_get(v, what, f, NULL, (proto_devices_t *)p, err);
    case F_PARAMS:
        return json__params_get(v, what, f->key, (carbs_params_t *)p, err);
    case F_CAPS:
        return caps_get(v, what, f, (proto_caps_t *)p, err);
    case F_SYNTH:
        return synth_get(v, what, f, (proto_synthetic_t *)p, err);
    case F_TRAINER:
        if (!json_is_string(v) || proto_trainer_parse(json_string_value(v)) < 0)
            return carbs_fail(err, CARBS_EPROTO,
                              "%s: field '%s' must be 'embedded', 'command' or 'synthetic'", what,
                              f->key);
        *(proto_trainer_t *)p = (proto_trainer_t)proto_trainer_parse(json_string_value(v));
        return 0;
    case F_CODE:
        rc = json__get_str(obj, what, f->key, 0, name, sizeof(name), err);
        if (rc == CARBS_ETOOBIG || (rc == 0 && carbs_errcode(name) >= 0))
            return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' must name an error code", what,
                              f->key);
        if (rc == 0)
            *(int *)p = carbs_errcode(name);
        return rc;
    default:
        return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' has no codec", what, f->key);
    }
}

/* Check "v" and "type" of root and return the type; *what names it. */
static int header_get(json_t *root, const char **what, proto_msg_type_t *type, carbs_err_t *err)
{
    json_t *tv = json_object_get(root, "type");
    json_t *vv = json_object_get(root, "v");
    double v;

    *type = json_is_string(tv) ? proto_msg_type_parse(json_string_value(tv)) : PROTO_MSG_NONE;
    *what = *type != PROTO_MSG_NONE ? defs[*type].name : "message";
    if (!vv)
        return carbs_fail(err, CARBS_EPROTO, "%s: missing field 'v'", *what);
    v = json_is_number(vv) ? json_number_value(vv) : NAN;
    if (!(v == trunc(v)))
        return carbs_fail(err, CARBS_EPROTO, "%s: field 'v' must be an integer", *what);
    if (v != PROTO_VERSION)
        return carbs_fail(err, CARBS_EVERSION,
                          "%s: protocol version %g is not supported (this side speaks version %d)",
                          *what, v, PROTO_VERSION);
    if (!tv)
        return carbs_fail(err, CARBS_EPROTO, "message: missing field 'type'");
    if (!json_is_string(tv))
        return carbs_fail(err, CARBS_EPROTO, "message: field 'type' must be a string");
    if (*type == PROTO_MSG_NONE)
        return carbs_fail(err, CARBS_EPROTO, "unknown message type '%.64s'",
                          json_string_value(tv));
    return 0;
}

int proto_msg_decode(const char *buf, size_t len, proto_msg_t *out, carbs_err_t *err)
{
    json_t *root = NULL;
    proto_msg_type_t type;
    const char *what;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > PROTO_FRAME_MAX)
        return carbs_fail(err, CARBS_ETOOBIG, "frame of %zu bytes exceeds the %d-byte limit", len,
                          PROTO_FRAME_MAX);
    if (!utf8_valid(buf, len))
        return carbs_fail(err, CARBS_EPROTO, "frame is not valid UTF-8");
    rc = json__load(buf, len, "frame", &root, err);
    if (rc < 0)
        return rc;
    rc = header_get(root, &what, &type, err);
    if (rc < 0)
        goto out;
    proto_msg_init(out, type);
    for (size_t i = 0; rc == 0 && i < defs[type].n_fields; i++) {
        const field_t *f = &defs[type].fields[i];
        rc = field_get(root, what, f, (char *)out + f->off, err);
    }
    if (rc == 0)
        rc = check_msg(out, CARBS_EPROTO, err);
out:
    json_decref(root);
    if (rc < 0)
        proto_msg_release(out);
    return rc;
}
