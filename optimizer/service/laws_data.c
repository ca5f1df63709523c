/*
 * laws_data.c - from the store to the scaling-law fits and back: gather a
 * sweep's successful trials as arrays (cost, output, basic coordinates,
 * model size and tokens), fit them with optimizer/scaling.c, name the
 * result's parts, and append the fit's JSON to the store.
 */
#include "proto/common.h"
#include "optimizer/service/laws_data.h"

#include <inttypes.h>
#include <math.h>

#include "optimizer/space.h"
#include "proto/json.h"

void laws_data_release(laws_data_t *d)
{
    if (!d)
        return;
    free(d->trial_id);
    free(d->cost);
    free(d->output);
    free(d->n_params);
    free(d->tokens);
    free(d->u);
    free(d->param);
    memset(d, 0, sizeof(*d));
}

/* A number named name from the result's metrics, else from the params. */
static double lookup(const carbs_result_t *r, const carbs_params_t *ps, const char *name)
{
    double x;
    const carbs_value_t *v;

    if (!name[0])
        return NAN;
    x = carbs_result_get(r, name);
    if (isfinite(x))
        return x;
    v = carbs_params_find(ps, name);
    return v && !v->is_str ? v->num : NAN;
}

/* Resize *p to cap elements of size sz.  0 or CARBS_ENOMEM (*p kept). */
static int grow_one(void **p, size_t cap, size_t sz)
{
    void *q = carbs_realloc(*p, cap * sz);

    if (!q)
        return CARBS_ENOMEM;
    *p = q;
    return 0;
}

static int grow(laws_data_t *d, size_t cap)
{
    size_t row = (d->d ? d->d : 1) * sizeof(double);

    if (grow_one((void **)&d->trial_id, cap, sizeof(int64_t)) ||
        grow_one((void **)&d->cost, cap, sizeof(double)) ||
        grow_one((void **)&d->output, cap, sizeof(double)) ||
        grow_one((void **)&d->n_params, cap, sizeof(double)) ||
        grow_one((void **)&d->tokens, cap, sizeof(double)) || grow_one((void **)&d->u, cap, row))
        return CARBS_ENOMEM;
    return 0;
}

/* Whether id is one of the n verification runs v. */
static bool is_verify(const store_verify_t *v, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].trial_id == id)
            return true;
    return false;
}

int laws_data_gather(store_t *st, int64_t sweep_id, const sweep_spec_t *spec, laws_data_t *out,
                     carbs_err_t *err)
{
    return laws_data_gather_as(st, sweep_id, spec, NULL, out, err);
}

int laws_data_gather_as(store_t *st, int64_t sweep_id, const sweep_spec_t *spec,
                        const char *cost_name, laws_data_t *out, carbs_err_t *err)
{
    store_export_iter_t *it = NULL;
    const store_record_t *rec;
    store_verify_t *ver = NULL;
    size_t n_ver = 0, cap = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    str_copy(out->cost_name, sizeof(out->cost_name), cost_name ? cost_name : spec->cost.name);
    if ((rc = store_verify_list(st, sweep_id, &ver, &n_ver, err)))
        goto out;
    str_copy(out->model_size, sizeof(out->model_size), spec->scaling.model_size);
    str_copy(out->tokens_name, sizeof(out->tokens_name), spec->scaling.tokens);
    if (!out->model_size[0] && spec->trainer == PROTO_TRAINER_EMBEDDED) {
        str_copy(out->model_size, sizeof(out->model_size), "n_params");
        str_copy(out->tokens_name, sizeof(out->tokens_name), "tokens");
    }
    out->param = carbs_malloc((spec->parameters.n ? spec->parameters.n : 1) * sizeof(size_t));
    if (!out->param) {
        rc = carbs_fail(err, CARBS_ENOMEM, "laws: out of memory");
        goto out;
    }
    for (size_t j = 0; j < spec->parameters.n; j++)
        if (spec->parameters.v[j].space != CARBS_SPACE_CATEGORICAL)
            out->param[out->d++] = j;
    it = store_export_iter_new(st, sweep_id, err);
    if (!it) {
        rc = err ? err->code : CARBS_ESTORE;
        goto out;
    }
    while (store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        const store_result_t *res = &rec->result;
        carbs_params_t ps = {0};
        carbs_result_t r;
        if (!rec->has_result || !res->ok || !isfinite(res->output) || !isfinite(res->cost))
            continue;
        if (is_verify(ver, n_ver, rec->trial.id)) {
            out->n_verify++;
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            if (grow(out, cap)) {
                rc = carbs_fail(err, CARBS_ENOMEM, "laws: out of memory for %zu trials", cap);
                goto out;
            }
        }
        carbs_err_t why = {0};
        rc = proto_params_from_json(rec->trial.params_json ? rec->trial.params_json : "{}", &ps,
                                    &why);
        if (!rc && res->metrics_json)
            rc = proto_result_from_json(res->metrics_json, &r, &why);
        else
            carbs_result_init(&r);
        if (rc) {
            carbs_params_release(&ps);
            rc = carbs_fail(err, rc, "trial %" PRId64 ": %.200s", rec->trial.id, why.msg);
            goto out;
        }
        double cost = cost_name ? lookup(&r, &ps, cost_name) : res->cost;
        if (!(isfinite(cost) && cost > 0)) {
            carbs_result_release(&r);
            carbs_params_release(&ps);
            continue;
        }
        size_t i = out->n++;
        out->trial_id[i] = rec->trial.id;
        out->cost[i] = cost;
        out->output[i] = res->output;
        out->n_params[i] = lookup(&r, &ps, out->model_size);
        out->tokens[i] = lookup(&r, &ps, out->tokens_name);
        for (size_t j = 0; j < out->d; j++) {
            const carbs_param_t *p = &spec->parameters.v[out->param[j]];
            const carbs_value_t *v = carbs_params_find(&ps, p->name);
            out->u[i * out->d + j] = v && !v->is_str ? space_param_to_basic(p, v->num) : NAN;
        }
        carbs_result_release(&r);
        carbs_params_release(&ps);
    }
out:
    store_export_iter_free(it);
    free(ver);
    if (rc)
        laws_data_release(out);
    return rc;
}

int laws_data_fit(const laws_data_t *d, const sweep_spec_t *spec, bool full,
                  const scaling_config_t *cfg, laws_t *out, carbs_err_t *err)
{
    scaling_config_t c = cfg ? *cfg : (scaling_config_t){.seed = (uint64_t)spec->carbs.seed};
    bool has_nd = d->model_size[0] && d->tokens_name[0];
    scaling_input_t in = {
        .n = d->n,
        .cost = d->cost,
        .output = d->output,
        .d = d->d,
        .u = d->u,
        .n_params = has_nd ? d->n_params : NULL,
        .tokens = has_nd ? d->tokens : NULL,
        .maximize = spec->metric.goal == SWEEP_GOAL_MAXIMIZE,
    };
    int rc = full ? scaling_fit_all(&in, &c, out, err) : scaling_fit_cheap(&in, &c, out, err);

    if (rc)
        return rc;
    str_copy(out->metric, sizeof(out->metric), spec->metric.name);
    str_copy(out->cost, sizeof(out->cost), d->cost_name[0] ? d->cost_name : spec->cost.name);
    str_copy(out->nd.model_size, sizeof(out->nd.model_size), d->model_size);
    str_copy(out->nd.tokens, sizeof(out->nd.tokens), d->tokens_name);
    for (size_t j = 0; j < out->n_lines; j++) {
        const carbs_param_t *p = &spec->parameters.v[d->param[j]];
        laws_line_t *l = &out->lines[j];
        str_copy(l->name, sizeof(l->name), p->name);
        if (out->nd.from_line && out->nd.line_dim == j)
            str_copy(out->nd.line_param, sizeof(out->nd.line_param), p->name);
        /* log10 p = s u = s (a + b ln C) = s b ln 10 log10 C: p ~ C^(s b ln 10) */
        l->exponent = p->space == CARBS_SPACE_LOG && l->status == 0
                          ? (p->scale > 0.0 ? p->scale : 1.0) * l->slope * log(SPACE_LOG_BASE)
                          : NAN;
    }
    return 0;
}

int laws_data_refit_json(store_t *st, int64_t sweep_id, bool full, char **json, carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    laws_data_t d = {0};
    laws_t l = {0};
    int rc = store_sweep_get_id(st, sweep_id, &row, err);

    *json = NULL;
    if (!rc)
        rc = sweep_spec_from_json(row.spec_json, &spec, err);
    if (!rc)
        rc = laws_data_gather(st, sweep_id, &spec, &d, err);
    if (!rc)
        rc = laws_data_fit(&d, &spec, full, NULL, &l, err);
    if (!rc)
        rc = laws_to_json(&l, json, err);
    laws_release(&l);
    laws_data_release(&d);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

int laws_data_refit_store(store_t *st, int64_t sweep_id, bool full, carbs_err_t *err)
{
    char *json = NULL;
    int rc = laws_data_refit_json(st, sweep_id, full, &json, err);

    if (!rc)
        rc = store_law_put(st, sweep_id, json, err);
    free(json);
    return rc;
}

void laws_data_actor_loop(actor_pipe_t *pipe, const char *path, const char *cmd,
                          laws_data_request_fn *fn)
{
    carbs_err_t err = {0};
    store_t *st = store_open(path, STORE_READONLY, &err);

    actor_ready(pipe, st ? NULL : &err);
    if (!st)
        return;
    for (;;) {
        actor_msg_t m;
        int rc = actor_pipe_recv(pipe, &m, -1, NULL);
        if (rc == CARBS_EIO)
            break;
        if (rc)
            continue;
        bool term = strcmp(m.cmd, ACTOR_TERM) == 0;
        if (strcmp(m.cmd, cmd) == 0)
            fn(pipe, st, m.body);
        actor_msg_release(&m);
        if (term)
            break;
    }
    store_close(st);
}
