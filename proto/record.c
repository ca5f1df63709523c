/*
 * record.c - the export record (docs/protocol.md, The export record) to and
 * from JSON.
 *
 * One record is one trial as `carbs export` prints it and `carbs import`
 * reads it.  The encoder writes every key in the order of the design's
 * list (absent optional ones left out) so exports diff cleanly; the decoder
 * needs only params, output, cost and is_failure, so records written by
 * hand or by another tool import too.
 */
#include "proto/common.h"
#include "proto/record.h"

#include <limits.h>
#include <math.h>

#include "proto/json_internal.h"

// ---- life cycle ----

void proto_record_init(proto_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    carbs_result_init(&rec->metrics);
    rec->output = NAN;
}

void proto_record_release(proto_record_t *rec)
{
    carbs_params_release(&rec->params);
    carbs_result_release(&rec->metrics);
    proto_record_init(rec);
}

// ---- encoding ----

static int record_put(json_t *o, const char *what, const proto_record_t *rec, carbs_err_t *err)
{
    const carbs_result_t *m = &rec->metrics;
    int rc = 0;

    if ((unsigned)rec->state >= CARBS_TRIAL_STATE_COUNT)
        return carbs_fail(err, CARBS_EINVAL, "%s: field 'state' is %d, not a trial state", what,
                          (int)rec->state);
    if (!isfinite(rec->output) && !rec->is_failure)
        return carbs_fail(err, CARBS_EINVAL,
                          "%s: field 'output' must be a finite number unless is_failure", what);
    if ((unsigned)m->failure >= CARBS_FAILURE_COUNT)
        return carbs_fail(err, CARBS_EINVAL, "%s: field 'failure' is %d, not a failure kind",
                          what, (int)m->failure);
    if (rec->id)
        rc = json__put_int(o, what, "id", rec->id, 1, err);
    if (rc == 0 && !(memchr(rec->sweep, '\0', sizeof(rec->sweep)) && !rec->sweep[0]))
        rc = json__put_str(o, what, "sweep", rec->sweep, sizeof(rec->sweep), err);
    if (rc == 0)
        rc = json__put_str(o, what, "state", carbs_trial_state_name(rec->state), 0, err);
    if (rc == 0)
        rc = json__params_put(o, what, "params", &rec->params, err);
    if (rc == 0)
        rc = json__result_put(o, what, m, 0, err);
    if (rc == 0)
        rc = isfinite(rec->output) ? json__put_num(o, what, "output", rec->output, err)
                                   : json__put(o, what, "output", json_null(), err);
    if (rc == 0)
        rc = json__put_num(o, what, "cost", rec->cost, err);
    if (rc == 0)
        rc = json__put(o, what, "is_failure", json_boolean(rec->is_failure), err);
    if (rc == 0 && rec->attempt)
        rc = json__put_int(o, what, "attempt", rec->attempt, 1, err);
    if (rc == 0 && !(memchr(rec->worker, '\0', sizeof(rec->worker)) && !rec->worker[0]))
        rc = json__put_str(o, what, "worker", rec->worker, sizeof(rec->worker), err);
    if (rc == 0 && rec->started != 0)
        rc = json__put_num(o, what, "started", rec->started, err);
    if (rc == 0 && rec->finished != 0)
        rc = json__put_num(o, what, "finished", rec->finished, err);
    if (rc == 0 && m->failure != CARBS_FAILURE_NONE)
        rc = json__put_str(o, what, "failure", carbs_failure_name(m->failure), 0, err);
    if (rc == 0 && !(memchr(m->message, '\0', sizeof(m->message)) && !m->message[0]))
        rc = json__put_str(o, what, "message", m->message, sizeof(m->message), err);
    return rc;
}

int proto_record_encode(const proto_record_t *rec, char **out, size_t *len, carbs_err_t *err)
{
    json_t *o = json_object();
    int rc;

    *out = NULL;
    if (!o)
        return carbs_fail(err, CARBS_ENOMEM, "record: out of memory encoding JSON");
    rc = record_put(o, "record", rec, err);
    if (rc == 0)
        rc = json__dump(o, "record", out, len, err);
    json_decref(o);
    return rc;
}

int proto_records_encode(const proto_record_t *v, size_t n, char **out, size_t *len,
                         carbs_err_t *err)
{
    json_t *arr = json_array();
    char what[32];
    int rc = arr ? 0 : carbs_fail(err, CARBS_ENOMEM, "records: out of memory encoding JSON");

    *out = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *o = json_object();

        snprintf(what, sizeof(what), "record %zu", i);
        rc = o ? record_put(o, what, &v[i], err)
               : carbs_fail(err, CARBS_ENOMEM, "%s: out of memory encoding JSON", what);
        if (rc < 0)
            json_decref(o);
        else if (json_array_append_new(arr, o))
            rc = carbs_fail(err, CARBS_ENOMEM, "%s: out of memory encoding JSON", what);
    }
    if (rc == 0)
        rc = json__dump(arr, "records", out, len, err);
    json_decref(arr);
    return rc;
}

// ---- decoding ----

static int record_get(json_t *o, const char *what, proto_record_t *rec, carbs_err_t *err)
{
    char state[CARBS_NAME_MAX] = "", failure[CARBS_NAME_MAX] = "";
    json_t *v;
    int64_t x;
    int rc;

    if (!json_is_object(o))
        return carbs_fail(err, CARBS_EPROTO, "%s: expected a JSON object", what);
    rc = json__get_int(o, what, "id", JSON__OPT, 1, INT64_MAX, &rec->id, err);
    if (rc == 0)
        rc = json__get_str(o, what, "sweep", JSON__OPT, rec->sweep, sizeof(rec->sweep), err);
    if (rc == 0)
        rc = json__get_str(o, what, "state", JSON__OPT, state, sizeof(state), err);
    if (rc == 0 && state[0] && carbs_trial_state_parse(state) < 0)
        rc = carbs_fail(err, CARBS_EPROTO, "%s: field 'state' names no trial state ('%s')", what,
                        state);
    v = json_object_get(o, "params");
    if (rc == 0 && !v)
        rc = carbs_fail(err, CARBS_EPROTO, "%s: missing field 'params'", what);
    if (rc == 0)
        rc = json__params_get(v, what, "params", &rec->params, err);
    if (rc == 0)
        rc = json__result_get(o, what, &rec->metrics, 0, err);
    if (rc == 0)
        rc = json__get_bool(o, what, "is_failure", 0, &rec->is_failure, err);
    v = json_object_get(o, "output");
    if (rc == 0 && !(rec->is_failure && json_is_null(v)))
        rc = json__get_num(o, what, "output", 0, &rec->output, err);
    if (rc == 0)
        rc = json__get_num(o, what, "cost", 0, &rec->cost, err);
    x = 0;
    if (rc == 0)
        rc = json__get_int(o, what, "attempt", JSON__OPT, 1, INT_MAX, &x, err);
    rec->attempt = (int)x;
    if (rc == 0)
        rc = json__get_str(o, what, "worker", JSON__OPT, rec->worker, sizeof(rec->worker), err);
    if (rc == 0)
        rc = json__get_num(o, what, "started", JSON__OPT, &rec->started, err);
    if (rc == 0)
        rc = json__get_num(o, what, "finished", JSON__OPT, &rec->finished, err);
    if (rc == 0)
        rc = json__get_str(o, what, "failure", JSON__OPT, failure, sizeof(failure), err);
    if (rc == 0 && failure[0]) {
        int f = carbs_failure_parse(failure);
        if (f < 0)
            rc = carbs_fail(err, CARBS_EPROTO, "%s: field 'failure' names no failure kind ('%s')",
                            what, failure);
        else
            rec->metrics.failure = (carbs_failure_t)f;
    }
    if (rc == 0)
        rc = json__get_str(o, what, "message", JSON__OPT, rec->metrics.message,
                           sizeof(rec->metrics.message), err);
    if (rc < 0)
        return rc;
    if (state[0])
        rec->state = (carbs_trial_state_t)carbs_trial_state_parse(state);
    else
        rec->state = rec->is_failure ? CARBS_TRIAL_FAILED : CARBS_TRIAL_DONE;
    rec->metrics.ok = !rec->is_failure;
    return 0;
}

int proto_record_decode(const char *buf, size_t len, proto_record_t *rec, carbs_err_t *err)
{
    json_t *o;
    int rc;

    proto_record_init(rec);
    rc = json__load(buf, len, "record", &o, err);
    if (rc < 0)
        return rc;
    rc = record_get(o, "record", rec, err);
    if (rc < 0)
        proto_record_release(rec);
    json_decref(o);
    return rc;
}

int proto_records_decode(const char *buf, size_t len, proto_record_t **v, size_t *n,
                         carbs_err_t *err)
{
    proto_record_t *recs = NULL;
    json_t *arr, *o;
    char what[32];
    size_t i, count = 0;
    int rc;

    *v = NULL;
    *n = 0;
    rc = json__load_value(buf, len, "records", &arr, err);
    if (rc < 0)
        return rc;
    if (!json_is_array(arr)) {
        rc = carbs_fail(err, CARBS_EPROTO, "records: expected a JSON array");
        goto out;
    }
    recs = carbs_malloc(json_array_size(arr) * sizeof(*recs));
    if (!recs) {
        rc = carbs_fail(err, CARBS_ENOMEM, "records: out of memory decoding JSON");
        goto out;
    }
    json_array_foreach(arr, i, o)
    {
        snprintf(what, sizeof(what), "record %zu", i);
        proto_record_init(&recs[i]);
        count = i + 1;
        rc = record_get(o, what, &recs[i], err);
        if (rc < 0)
            goto out;
    }
out:
    if (rc < 0) {
        for (i = 0; i < count; i++)
            proto_record_release(&recs[i]);
        free(recs);
    } else {
        *v = recs;
        *n = count;
    }
    json_decref(arr);
    return rc;
}
