/*
 * types.c - helpers for the shared value types and their name tables.
 *
 * Each name table in types.h expands here into a string array and a lookup,
 * so the spelling of every state, metric and parameter lives in one place.
 */
#include "proto/common.h"
#include "proto/types.h"

#include <math.h>

// ---- name tables ----

#define NAME_TABLE(fn_name, fn_parse, type, MAP, COUNT)                                            \
    static const char *const fn_name##_names[] = {MAP(NAME_ENTRY)};                                \
    const char *fn_name(type v)                                                                    \
    {                                                                                              \
        return ((size_t)v < (size_t)(COUNT)) ? fn_name##_names[v] : "unknown";                     \
    }                                                                                              \
    int fn_parse(const char *name)                                                                 \
    {                                                                                              \
        for (size_t i = 0; name && i < (size_t)(COUNT); i++)                                       \
            if (strcmp(name, fn_name##_names[i]) == 0)                                             \
                return (int)i;                                                                     \
        return -1;                                                                                 \
    }
#define NAME_ENTRY(id, name) name,

NAME_TABLE(carbs_space_name, carbs_space_parse, carbs_space_kind_t, CARBS_SPACE_MAP,
           CARBS_SPACE_COUNT)
NAME_TABLE(carbs_trial_state_name, carbs_trial_state_parse, carbs_trial_state_t,
           CARBS_TRIAL_STATE_MAP, CARBS_TRIAL_STATE_COUNT)
NAME_TABLE(carbs_sweep_state_name, carbs_sweep_state_parse, carbs_sweep_state_t,
           CARBS_SWEEP_STATE_MAP, CARBS_SWEEP_STATE_COUNT)
NAME_TABLE(carbs_metric_name, carbs_metric_parse, carbs_metric_t, CARBS_METRIC_MAP,
           CARBS_METRIC_COUNT)
NAME_TABLE(carbs_failure_name, carbs_failure_parse, carbs_failure_t, CARBS_FAILURE_MAP,
           CARBS_FAILURE_COUNT)
NAME_TABLE(carbs_trainer_param_name, carbs_trainer_param_parse, carbs_trainer_param_t,
           CARBS_TRAINER_PARAM_MAP, CARBS_TP_COUNT)
NAME_TABLE(carbs_trainer_option_name, carbs_trainer_option_parse, carbs_trainer_option_t,
           CARBS_TRAINER_OPTION_MAP, CARBS_TO_COUNT)

bool carbs_failure_is_hyper(carbs_failure_t f)
{
    return f == CARBS_FAILURE_DIVERGED || f == CARBS_FAILURE_OOM || f == CARBS_FAILURE_ERROR;
}

// ---- spaces ----

int carbs_space_add(carbs_space_t *sp, const carbs_param_t *p)
{
    if (carbs_space_find(sp, p->name))
        return CARBS_EEXIST;
    return DA_PUSH(sp, *p);
}

const carbs_param_t *carbs_space_find(const carbs_space_t *sp, const char *name)
{
    for (size_t i = 0; i < sp->n; i++)
        if (strcmp(sp->v[i].name, name) == 0)
            return &sp->v[i];
    return NULL;
}

void carbs_space_release(carbs_space_t *sp)
{
    DA_FREE(sp);
}

// ---- parameter values ----

static carbs_value_t *params_slot(carbs_params_t *ps, const char *name, int *rc)
{
    carbs_value_t v;

    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].name, name) == 0)
            return &ps->v[i];
    memset(&v, 0, sizeof(v));
    if (str_copy(v.name, sizeof(v.name), name)) {
        *rc = CARBS_ETOOBIG;
        return NULL;
    }
    *rc = DA_PUSH(ps, v);
    return *rc ? NULL : &ps->v[ps->n - 1];
}

int carbs_params_set_num(carbs_params_t *ps, const char *name, double num)
{
    int rc = 0;
    carbs_value_t *v = params_slot(ps, name, &rc);

    if (!v)
        return rc;
    v->is_str = false;
    v->num = num;
    v->str[0] = '\0';
    return 0;
}

int carbs_params_set_str(carbs_params_t *ps, const char *name, const char *str)
{
    int rc = 0;
    carbs_value_t *v;

    if (strlen(str) >= CARBS_VALUE_MAX)
        return CARBS_ETOOBIG;
    v = params_slot(ps, name, &rc);
    if (!v)
        return rc;
    v->is_str = true;
    v->num = NAN;
    str_copy(v->str, sizeof(v->str), str);
    return 0;
}

const carbs_value_t *carbs_params_find(const carbs_params_t *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].name, name) == 0)
            return &ps->v[i];
    return NULL;
}

int carbs_params_copy(carbs_params_t *dst, const carbs_params_t *src)
{
    if (DA_RESERVE(dst, src->n))
        return CARBS_ENOMEM;
    if (src->n)
        memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
    dst->n += src->n;
    return 0;
}

void carbs_params_release(carbs_params_t *ps)
{
    DA_FREE(ps);
}

// ---- results ----

void carbs_result_init(carbs_result_t *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < CARBS_METRIC_COUNT; i++)
        r->metric[i] = NAN;
}

void carbs_result_release(carbs_result_t *r)
{
    DA_FREE(&r->extra);
    DA_FREE(&r->curve);
}

int carbs_result_copy(carbs_result_t *dst, const carbs_result_t *src)
{
    carbs_result_t tmp = *src;

    memset(&tmp.extra, 0, sizeof(tmp.extra));
    memset(&tmp.curve, 0, sizeof(tmp.curve));
    if (DA_RESERVE(&tmp.extra, src->extra.n) || DA_RESERVE(&tmp.curve, src->curve.n)) {
        carbs_result_release(&tmp);
        return CARBS_ENOMEM;
    }
    if (src->extra.n)
        memcpy(tmp.extra.v, src->extra.v, src->extra.n * sizeof(*src->extra.v));
    if (src->curve.n)
        memcpy(tmp.curve.v, src->curve.v, src->curve.n * sizeof(*src->curve.v));
    tmp.extra.n = src->extra.n;
    tmp.curve.n = src->curve.n;
    carbs_result_release(dst);
    *dst = tmp;
    return 0;
}

double carbs_result_get(const carbs_result_t *r, const char *name)
{
    int m = carbs_metric_parse(name);

    if (m >= 0)
        return r->metric[m];
    for (size_t i = 0; i < r->extra.n; i++)
        if (strcmp(r->extra.v[i].name, name) == 0)
            return r->extra.v[i].value;
    return NAN;
}

int carbs_result_set(carbs_result_t *r, const char *name, double value)
{
    int m = carbs_metric_parse(name);
    carbs_extra_metric_t e;

    if (m >= 0) {
        r->metric[m] = value;
        return 0;
    }
    for (size_t i = 0; i < r->extra.n; i++) {
        if (strcmp(r->extra.v[i].name, name) == 0) {
            r->extra.v[i].value = value;
            return 0;
        }
    }
    memset(&e, 0, sizeof(e));
    if (str_copy(e.name, sizeof(e.name), name))
        return CARBS_ETOOBIG;
    e.value = value;
    return DA_PUSH(&r->extra, e);
}
