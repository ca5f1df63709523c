/*
 * msg_status.c - the status document of msg.h: what a `status` request's
 * reply carries in reply.data, and what `carbs status` prints from it.
 *
 * The encoder writes with proto/jw.h, in the key order the service has
 * always used, so the text is the one older clients read; the decoder
 * reads it back through the jansson helpers of json_internal.h into the
 * plain structs of msg.h.  A non-finite number is written as null and read
 * back as NaN: null is how the document says "none".
 */
#include "proto/common.h"
#include "proto/msg.h"

#include <math.h>

#include "proto/json_internal.h"

void proto_status_release(proto_status_t *s)
{
    DA_FREE(&s->sweeps);
    DA_FREE(&s->workers);
    DA_FREE(&s->running);
    s->workers_unlisted = s->running_unlisted = 0;
}

// ---- encoding ----

/* True when s[cap] is terminated and UTF-8 (and non-empty when asked). */
static bool str_ok(const char *s, size_t cap, bool nonempty)
{
    return memchr(s, '\0', cap) && (!nonempty || s[0]) && utf8_valid(s, strlen(s));
}

static int check_sweep(const proto_status_sweep_t *sw, size_t i, carbs_err_t *err)
{
    const char *bad = NULL;

    if (sw->id < 1 || (double)sw->id > JSON__INT_MAX)
        bad = "id";
    else if (!str_ok(sw->name, sizeof(sw->name), true))
        bad = "name";
    else if ((unsigned)sw->state >= CARBS_SWEEP_STATE_COUNT)
        bad = "state";
    else if (!str_ok(sw->metric, sizeof(sw->metric), false))
        bad = "metric";
    else if (!str_ok(sw->paused_because, sizeof(sw->paused_because), false))
        bad = "paused_because";
    else if (sw->best_trial < 0 || (double)sw->best_trial > JSON__INT_MAX)
        bad = "best_trial";
    for (int s = 0; !bad && s < CARBS_TRIAL_STATE_COUNT; s++)
        if (sw->trials[s] < 0 || (double)sw->trials[s] > JSON__INT_MAX)
            bad = "trials";
    if (bad)
        return carbs_fail(err, CARBS_EINVAL, "status: sweeps[%zu]: field '%s' is not valid", i,
                          bad);
    return 0;
}

static int check_worker(const proto_status_worker_t *w, size_t i, carbs_err_t *err)
{
    const char *bad = NULL;

    if (!str_ok(w->id, sizeof(w->id), true))
        bad = "id";
    else if (!str_ok(w->host, sizeof(w->host), false))
        bad = "host";
    else if (w->slots < 0)
        bad = "slots";
    if (bad)
        return carbs_fail(err, CARBS_EINVAL, "status: workers[%zu]: field '%s' is not valid", i,
                          bad);
    return 0;
}

static int check_trial(const proto_status_trial_t *t, size_t i, carbs_err_t *err)
{
    const char *bad = NULL;

    if (t->trial < 1 || (double)t->trial > JSON__INT_MAX)
        bad = "trial";
    else if (!str_ok(t->sweep, sizeof(t->sweep), true))
        bad = "sweep";
    else if (!str_ok(t->worker, sizeof(t->worker), false))
        bad = "worker";
    else if (t->attempt < 1)
        bad = "attempt";
    if (bad)
        return carbs_fail(err, CARBS_EINVAL, "status: running[%zu]: field '%s' is not valid", i,
                          bad);
    return 0;
}

int proto_status_put(jw_t *jw, const proto_status_t *s, carbs_err_t *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < s->sweeps.n; i++)
        rc = check_sweep(&s->sweeps.v[i], i, err);
    for (size_t i = 0; rc == 0 && i < s->workers.n; i++)
        rc = check_worker(&s->workers.v[i], i, err);
    for (size_t i = 0; rc == 0 && i < s->running.n; i++)
        rc = check_trial(&s->running.v[i], i, err);
    if (rc)
        return rc;

    jw_array(jw, "sweeps");
    for (size_t i = 0; i < s->sweeps.n; i++) {
        const proto_status_sweep_t *sw = &s->sweeps.v[i];
        jw_object(jw, NULL);
        jw_int(jw, "id", sw->id);
        jw_str(jw, "name", sw->name);
        jw_str(jw, "state", carbs_sweep_state_name(sw->state));
        jw_object(jw, "trials");
        for (int st = 0; st < CARBS_TRIAL_STATE_COUNT; st++)
            jw_int(jw, carbs_trial_state_name(st), sw->trials[st]);
        jw_end(jw);
        jw_str(jw, "metric", sw->metric);
        jw_num_or_null(jw, "best", sw->best);
        jw_int(jw, "best_trial", sw->best_trial);
        jw_num_or_null(jw, "cost_spent", sw->cost_spent);
        if (sw->paused_because[0])
            jw_str(jw, "paused_because", sw->paused_because);
        jw_end(jw);
    }
    jw_end(jw);
    jw_array(jw, "workers");
    for (size_t i = 0; i < s->workers.n; i++) {
        const proto_status_worker_t *w = &s->workers.v[i];
        jw_object(jw, NULL);
        jw_str(jw, "id", w->id);
        jw_str(jw, "host", w->host);
        jw_int(jw, "slots", w->slots);
        jw_bool(jw, "connected", w->connected);
        jw_bool(jw, "quarantined", w->quarantined);
        jw_num_or_null(jw, "idle_seconds", w->idle_seconds);
        jw_end(jw);
    }
    jw_end(jw);
    if (s->workers_unlisted > 0)
        jw_int(jw, "workers_unlisted", s->workers_unlisted);
    jw_array(jw, "running");
    for (size_t i = 0; i < s->running.n; i++) {
        const proto_status_trial_t *t = &s->running.v[i];
        jw_object(jw, NULL);
        jw_int(jw, "trial", t->trial);
        jw_str(jw, "sweep", t->sweep);
        jw_str(jw, "worker", t->worker);
        jw_int(jw, "attempt", t->attempt);
        jw_num_or_null(jw, "lease_seconds", t->lease_seconds);
        jw_end(jw);
    }
    jw_end(jw);
    if (s->running_unlisted > 0)
        jw_int(jw, "running_unlisted", s->running_unlisted);
    return 0;
}

int proto_status_encode(const proto_status_t *s, char **out, size_t *len, carbs_err_t *err)
{
    jw_t jw;
    int rc;

    *out = NULL;
    if (len)
        *len = 0;
    jw_init(&jw);
    jw_object(&jw, NULL);
    rc = proto_status_put(&jw, s, err);
    jw_end(&jw);
    if (rc) {
        jw_release(&jw);
        return rc;
    }
    *out = jw_detach(&jw, len);
    if (!*out)
        return carbs_fail(err, CARBS_ENOMEM, "status: out of memory encoding JSON");
    return 0;
}

// ---- decoding ----

/* obj[key] as a number or null (NaN). */
static int get_num_or_null(json_t *obj, const char *what, const char *key, double *dst,
                           carbs_err_t *err)
{
    json_t *v = json_object_get(obj, key);

    if (v && json_is_null(v)) {
        *dst = NAN;
        return 0;
    }
    return json__get_num(obj, what, key, 0, dst, err);
}

/* obj[key] as the name of an enum value: parse returns the value or -1. */
static int get_name(json_t *obj, const char *what, const char *key, int (*parse)(const char *),
                    int *dst, carbs_err_t *err)
{
    char name[32];
    int rc = json__get_str(obj, what, key, 0, name, sizeof(name), err);

    if (rc == 0 || rc == CARBS_ETOOBIG) {
        int x = rc == 0 ? parse(name) : -1;
        if (x < 0)
            return carbs_fail(err, CARBS_EPROTO, "%s: field '%s' is not a known state", what, key);
        *dst = x;
    }
    return rc;
}

/* The getters take void * so get_array() can call them; p is the entry. */
static int get_sweep(json_t *o, const char *what, void *p, carbs_err_t *err)
{
    proto_status_sweep_t *sw = p;
    json_t *counts;
    int state = 0, rc;

    rc = json__get_int(o, what, "id", 0, 1, INT64_MAX, &sw->id, err);
    if (rc == 0)
        rc = json__get_str(o, what, "name", JSON__NONEMPTY, sw->name, sizeof(sw->name), err);
    if (rc == 0)
        rc = get_name(o, what, "state", carbs_sweep_state_parse, &state, err);
    sw->state = (carbs_sweep_state_t)state;
    counts = json_object_get(o, "trials");
    if (rc == 0 && !json_is_object(counts))
        rc = carbs_fail(err, CARBS_EPROTO, "%s: field 'trials' must be an object", what);
    for (int s = 0; rc == 0 && s < CARBS_TRIAL_STATE_COUNT; s++)
        rc = json__get_int(counts, what, carbs_trial_state_name(s), 0, 0, INT64_MAX,
                           &sw->trials[s], err);
    if (rc == 0)
        rc = json__get_str(o, what, "metric", 0, sw->metric, sizeof(sw->metric), err);
    if (rc == 0)
        rc = get_num_or_null(o, what, "best", &sw->best, err);
    if (rc == 0)
        rc = json__get_int(o, what, "best_trial", 0, 0, INT64_MAX, &sw->best_trial, err);
    if (rc == 0)
        rc = get_num_or_null(o, what, "cost_spent", &sw->cost_spent, err);
    if (rc == 0)
        rc = json__get_str(o, what, "paused_because", JSON__OPT, sw->paused_because,
                           sizeof(sw->paused_because), err);
    return rc;
}

static int get_worker(json_t *o, const char *what, void *p, carbs_err_t *err)
{
    proto_status_worker_t *w = p;
    int64_t slots = 0;
    int rc;

    rc = json__get_str(o, what, "id", JSON__NONEMPTY, w->id, sizeof(w->id), err);
    if (rc == 0)
        rc = json__get_str(o, what, "host", 0, w->host, sizeof(w->host), err);
    if (rc == 0)
        rc = json__get_int(o, what, "slots", 0, 0, INT32_MAX, &slots, err);
    w->slots = (int)slots;
    if (rc == 0)
        rc = json__get_bool(o, what, "connected", 0, &w->connected, err);
    if (rc == 0)
        rc = json__get_bool(o, what, "quarantined", 0, &w->quarantined, err);
    if (rc == 0)
        rc = get_num_or_null(o, what, "idle_seconds", &w->idle_seconds, err);
    return rc;
}

static int get_trial(json_t *o, const char *what, void *p, carbs_err_t *err)
{
    proto_status_trial_t *t = p;
    int64_t attempt = 0;
    int rc;

    rc = json__get_int(o, what, "trial", 0, 1, INT64_MAX, &t->trial, err);
    if (rc == 0)
        rc = json__get_str(o, what, "sweep", JSON__NONEMPTY, t->sweep, sizeof(t->sweep), err);
    if (rc == 0)
        rc = json__get_str(o, what, "worker", 0, t->worker, sizeof(t->worker), err);
    if (rc == 0)
        rc = json__get_int(o, what, "attempt", 0, 1, INT32_MAX, &attempt, err);
    t->attempt = (int)attempt;
    if (rc == 0)
        rc = get_num_or_null(o, what, "lease_seconds", &t->lease_seconds, err);
    return rc;
}

/* The array root[key]: each entry, an object, is read into a new element
 * of elem bytes at the end of the array {*v, *n, *cap} by get. */
static int get_array(json_t *root, const char *key, void **v, size_t *n, size_t *cap, size_t elem,
                     int (*get)(json_t *, const char *, void *, carbs_err_t *), carbs_err_t *err)
{
    json_t *arr = json_object_get(root, key), *o;
    char what[64];
    size_t i;

    if (!arr)
        return carbs_fail(err, CARBS_EPROTO, "status: missing field '%s'", key);
    if (!json_is_array(arr))
        return carbs_fail(err, CARBS_EPROTO, "status: field '%s' must be an array", key);
    json_array_foreach(arr, i, o)
    {
        char *slot;
        int rc;

        snprintf(what, sizeof(what), "status: %s[%zu]", key, i);
        if (!json_is_object(o))
            return carbs_fail(err, CARBS_EPROTO, "%s: must be an object", what);
        if (da__grow(v, cap, *n + 1, elem))
            return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory", what);
        slot = (char *)*v + *n * elem;
        memset(slot, 0, elem);
        rc = get(o, what, slot, err);
        if (rc)
            return rc;
        (*n)++;
    }
    return 0;
}

int proto_status_decode(const char *buf, size_t len, proto_status_t *out, carbs_err_t *err)
{
    json_t *root = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!utf8_valid(buf, len))
        return carbs_fail(err, CARBS_EPROTO, "status: not valid UTF-8");
    rc = json__load(buf, len, "status", &root, err);
    if (rc)
        return rc;
    rc = get_array(root, "sweeps", (void **)&out->sweeps.v, &out->sweeps.n, &out->sweeps.cap,
                   sizeof(*out->sweeps.v), get_sweep, err);
    if (rc == 0)
        rc = get_array(root, "workers", (void **)&out->workers.v, &out->workers.n,
                       &out->workers.cap, sizeof(*out->workers.v), get_worker, err);
    if (rc == 0)
        rc = get_array(root, "running", (void **)&out->running.v, &out->running.n,
                       &out->running.cap, sizeof(*out->running.v), get_trial, err);
    if (rc == 0)
        rc = json__get_int(root, "status", "workers_unlisted", JSON__OPT, 0, INT64_MAX,
                           &out->workers_unlisted, err);
    if (rc == 0)
        rc = json__get_int(root, "status", "running_unlisted", JSON__OPT, 0, INT64_MAX,
                           &out->running_unlisted, err);
    json_decref(root);
    if (rc)
        proto_status_release(out);
    return rc;
}
