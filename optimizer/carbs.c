/*
 * carbs.c - the CARBS handle: configuration, observations, pending
 * suggestions, and the dispatch of carbs_suggest between random warm-up,
 * resampling of the Pareto set and the BO suggestion (docs/algorithm.md:
 * Options, Dispatch, Observations, Resampling, Random suggestions and
 * fallbacks).
 *
 * The handle keeps only what the reference keeps (docs/algorithm.md, The
 * handle) plus the generator, the search center and the last fitted GP
 * hyperparameters.  The BO path lives in carbs_bo.c, persistence in
 * carbs_state.c.
 * Legend: d = basic dims, S = successes, F = failures, W = pending points,
 * r = initial_search_radius, sign = better_direction_sign.
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>

#include "optimizer/carbs_internal.h"

// ---- names ----

static const char *const kind_names[] = {
#define X(id, name) name,
    CARBS_SUGGEST_KIND_MAP(X)
#undef X
};

const char *carbs_suggest_kind_name(carbs_suggest_kind_t k)
{
    return (unsigned)k < CARBS_SUGGEST_KIND_COUNT ? kind_names[k] : "unknown";
}

// ---- the handle ----

uint64_t carbs__oversample_max(const carbs_t *c)
{
    size_t e = c->d < CARBS_OVERSAMPLE_LOG2_MAX ? c->d : CARBS_OVERSAMPLE_LOG2_MAX;
    return (uint64_t)1 << e;
}

carbs_t *carbs_new(const carbs_space_t *space, const carbs_config_t *cfg, carbs_err_t *err)
{
    carbs_t *c;
    size_t b;

    if (!space || !cfg) {
        carbs_fail(err, CARBS_EINVAL, "carbs: space and config are required");
        return NULL;
    }
    if (carbs_config_check(cfg, err) < 0) {
        carbs_err_prefix(err, "carbs: config");
        return NULL;
    }
    c = carbs_malloc(sizeof(*c));
    if (!c) {
        carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
        return NULL;
    }
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    arena_init(&c->arena);
    c->space = space_new(space, err);
    if (!c->space) {
        carbs_err_prefix(err, "carbs: space");
        goto fail;
    }
    c->d = space_dim(c->space);
    c->center = carbs_malloc(c->d * sizeof(*c->center));
    if (!c->center) {
        carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
        goto fail;
    }
    space_center(c->space, c->center);
    rng_seed(&c->rng, cfg->seed);
    /* The factor starts at 2^floor(B/2) for B bounded parameters (docs/algorithm.md, Random
     * suggestions and fallbacks) */
    b = space_n_bounded(c->space) / 2;
    c->oversample = (uint64_t)1 << (b < CARBS_OVERSAMPLE_LOG2_MAX ? b : CARBS_OVERSAMPLE_LOG2_MAX);
    if (c->oversample > carbs__oversample_max(c))
        c->oversample = carbs__oversample_max(c);
    return c;
fail:
    carbs_free(c);
    return NULL;
}

void carbs_free(carbs_t *c)
{
    if (!c)
        return;
    space_free(c->space);
    free(c->center);
    DA_FREE(&c->s_u);
    DA_FREE(&c->s_y);
    DA_FREE(&c->s_c);
    DA_FREE(&c->s_id);
    for (size_t i = 0; i < c->s_params.n; i++)
        carbs_params_release(&c->s_params.v[i]);
    DA_FREE(&c->s_params);
    DA_FREE(&c->f_u);
    DA_FREE(&c->f_id);
    DA_FREE(&c->w_u);
    DA_FREE(&c->w_id);
    for (size_t k = 0; k < CARBS_N_SURROGATES; k++)
        free(c->hyper[k]);
    for (size_t k = 0; k <= CARBS_N_SURROGATES; k++)
        gp_free(c->gp[k]);
    warp_release(&c->warp);
    arena_release(&c->arena);
    pareto_release(&c->pareto);
    free(c);
}

size_t carbs_dim(const carbs_t *c)
{
    return c->d;
}

size_t carbs_n_success(const carbs_t *c)
{
    return c->s_y.n;
}

size_t carbs_n_failure(const carbs_t *c)
{
    return c->f_id.n;
}

size_t carbs_n_pending(const carbs_t *c)
{
    return c->w_id.n;
}

double carbs_cost_spent(const carbs_t *c)
{
    double sum = 0;

    for (size_t i = 0; i < c->s_c.n; i++)
        sum += c->s_c.v[i];
    return sum;
}

int carbs__hyper_set(carbs_t *c, size_t k, const double *v, size_t n)
{
    double *p;

    if (n != c->hyper_n[k] || !c->hyper[k]) {
        p = carbs_malloc((n ? n : 1) * sizeof(*p));
        if (!p)
            return CARBS_ENOMEM;
        free(c->hyper[k]);
        c->hyper[k] = p;
        c->hyper_n[k] = n;
    }
    if (n)
        memcpy(c->hyper[k], v, n * sizeof(*v));
    return 0;
}

// ---- pending suggestions ----

static size_t pending_find(const carbs_t *c, int64_t id)
{
    for (size_t i = 0; i < c->w_id.n; i++)
        if (c->w_id.v[i] == id)
            return i;
    return SIZE_MAX;
}

static void pending_remove(carbs_t *c, size_t i)
{
    size_t n = c->w_id.n, d = c->d;

    memmove(c->w_id.v + i, c->w_id.v + i + 1, (n - i - 1) * sizeof(*c->w_id.v));
    memmove(c->w_u.v + i * d, c->w_u.v + (i + 1) * d, (n - i - 1) * d * sizeof(*c->w_u.v));
    c->w_id.n--;
    c->w_u.n -= d;
}

/* Map params to the basic point u, with the missing-name case reported as
 * CARBS_EINVAL (CARBS_ENOTFOUND is kept for unknown ids). */
static int params_to_basic(const carbs_t *c, const carbs_params_t *params, double *u,
                           carbs_err_t *err)
{
    int rc = space_to_basic(c->space, params, u, err);

    if (rc == CARBS_ENOTFOUND) {
        if (err)
            err->code = CARBS_EINVAL;
        rc = CARBS_EINVAL;
    }
    return rc;
}

int carbs_pending_add(carbs_t *c, int64_t id, const carbs_params_t *params, const double *u,
                      carbs_err_t *err)
{
    const double *lo = space_lo(c->space), *hi = space_hi(c->space);
    double *point;
    int rc;

    if (id < 1)
        return carbs_fail(err, CARBS_EINVAL, "carbs: pending id must be >= 1, not %lld",
                          (long long)id);
    if (pending_find(c, id) != SIZE_MAX)
        return carbs_fail(err, CARBS_EEXIST, "carbs: suggestion %lld is already pending",
                          (long long)id);
    if (DA_RESERVE(&c->w_u, c->d) < 0 || DA_RESERVE(&c->w_id, 1) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
    point = c->w_u.v + c->w_u.n;
    if (u) {
        for (size_t i = 0; i < c->d; i++) {
            if (!(u[i] >= lo[i] && u[i] <= hi[i]) || !isfinite(u[i]))
                return carbs_fail(err, CARBS_EINVAL,
                                  "carbs: pending point coordinate %zu is outside the space", i);
            point[i] = u[i];
        }
    } else {
        if (!params)
            return carbs_fail(err, CARBS_EINVAL, "carbs: pending suggestion needs params or u");
        rc = params_to_basic(c, params, point, err);
        if (rc < 0)
            return carbs_err_prefix(err, "carbs: pending suggestion");
    }
    c->w_u.n += c->d;
    c->w_id.v[c->w_id.n++] = id;
    return 0;
}

int carbs_forget(carbs_t *c, int64_t id, carbs_err_t *err)
{
    size_t i = pending_find(c, id);

    if (i == SIZE_MAX)
        return carbs_fail(err, CARBS_ENOTFOUND, "carbs: suggestion %lld is not pending",
                          (long long)id);
    pending_remove(c, i);
    return 0;
}

// ---- observations ----

int carbs_observe(carbs_t *c, const carbs_obs_t *obs, carbs_err_t *err)
{
    double *u = NULL;
    carbs_params_t copy = {0};
    bool failure;
    size_t w;
    int rc;

    if (!obs)
        return carbs_fail(err, CARBS_EINVAL, "carbs: observation is NULL");
    u = carbs_malloc(c->d * sizeof(*u));
    if (!u)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
    rc = params_to_basic(c, &obs->params, u, err);
    if (rc < 0) {
        carbs_err_prefix(err, "carbs: observation");
        goto out;
    }
    /* Non-finite outputs are failures (docs/algorithm.md, Observations); a success needs a
     * usable cost (deviation 8) */
    failure = obs->is_failure || !isfinite(obs->output);
    if (!failure && !(isfinite(obs->cost) && obs->cost > 0)) {
        rc = carbs_fail(err, CARBS_EINVAL, "carbs: observation cost %g must be finite and > 0",
                        obs->cost);
        goto out;
    }
    if (failure) {
        if (DA_RESERVE(&c->f_u, c->d) < 0 || DA_RESERVE(&c->f_id, 1) < 0)
            goto oom;
        memcpy(c->f_u.v + c->f_u.n, u, c->d * sizeof(*u));
        c->f_u.n += c->d;
        c->f_id.v[c->f_id.n++] = obs->id;
    } else {
        if (DA_RESERVE(&c->s_u, c->d) < 0 || DA_RESERVE(&c->s_y, 1) < 0 ||
            DA_RESERVE(&c->s_c, 1) < 0 || DA_RESERVE(&c->s_id, 1) < 0 ||
            DA_RESERVE(&c->s_params, 1) < 0 || carbs_params_copy(&copy, &obs->params) < 0)
            goto oom;
        memcpy(c->s_u.v + c->s_u.n, u, c->d * sizeof(*u));
        c->s_u.n += c->d;
        c->s_y.v[c->s_y.n++] = obs->output;
        c->s_c.v[c->s_c.n++] = obs->cost;
        c->s_id.v[c->s_id.n++] = obs->id;
        c->s_params.v[c->s_params.n++] = copy;
        copy = (carbs_params_t){0};
    }
    rc = 0;
    if (obs->id != 0) {
        w = pending_find(c, obs->id);
        if (w == SIZE_MAX)
            rc = carbs_fail(err, CARBS_ENOTFOUND,
                            "carbs: observation recorded, but suggestion %lld was not pending",
                            (long long)obs->id);
        else
            pending_remove(c, w);
    }
    goto out;
oom:
    rc = carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
out:
    carbs_params_release(&copy);
    free(u);
    return rc;
}

// ---- the Pareto set ----

int carbs__pareto(carbs_t *c, bool conservative, double fraction)
{
    pareto_config_t pc = {
        .sign = c->cfg.better_direction_sign,
        .min_cost_fraction = fraction,
        .conservative = conservative,
    };

    return pareto_compute(&c->pareto, &pc, c->s_u.v, carbs__n_s(c), c->d, c->s_y.v, c->s_c.v);
}

void carbs_pareto_free(carbs_pareto_point_t *pts, size_t n)
{
    for (size_t i = 0; pts && i < n; i++)
        carbs_params_release(&pts[i].params);
    free(pts);
}

int carbs_pareto(const carbs_t *c, carbs_pareto_point_t **pts, size_t *n, carbs_err_t *err)
{
    pareto_t p = {0};
    pareto_config_t pc = {
        .sign = c->cfg.better_direction_sign,
        .min_cost_fraction = 0,
        .conservative = false,
    };
    carbs_pareto_point_t *out = NULL;
    int rc;

    *pts = NULL;
    *n = 0;
    rc = pareto_compute(&p, &pc, c->s_u.v, carbs__n_s(c), c->d, c->s_y.v, c->s_c.v);
    if (rc < 0)
        goto oom;
    if (!p.n_front)
        goto out;
    out = carbs_malloc(p.n_front * sizeof(*out));
    if (!out)
        goto oom;
    memset(out, 0, p.n_front * sizeof(*out));
    for (size_t k = 0; k < p.n_front; k++) {
        const pareto_group_t *g = &p.group[p.front[k]];

        out[k].id = c->s_id.v[g->rep];
        out[k].output = g->output;
        out[k].cost = g->cost;
        out[k].n = g->n;
        if (carbs_params_copy(&out[k].params, &c->s_params.v[g->rep]) < 0) {
            carbs_pareto_free(out, p.n_front);
            out = NULL;
            goto oom;
        }
    }
    *pts = out;
    *n = p.n_front;
    goto out;
oom:
    rc = carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory computing the pareto set");
out:
    pareto_release(&p);
    return rc < 0 ? rc : 0;
}

// ---- random and resample suggestions ----

void carbs__random_point(carbs_t *c, const double *origins, size_t n_origins, double *u)
{
    const double r = c->cfg.initial_search_radius;
    const uint64_t dd = c->d ? c->d : 1;
    uint64_t left = CARBS_RANDOM_BATCH + CARBS_DRAW_BUDGET / dd; /* draws, over all attempts */
    double *x = NULL;
    bool found = false;

    x = xmalloc((c->d ? c->d : 1) * sizeof(*x));
    for (int attempt = 0; attempt < CARBS_RANDOM_TRIES && left > 0; attempt++) {
        uint64_t draws = CARBS_RANDOM_BATCH * c->oversample;
        size_t valid = 0;

        if (draws > left)
            draws = left;
        left -= draws;

        /* The reference draws the whole batch, keeps the valid ones, returns
         * the first and cranks the factor when fewer than the batch size were
         * valid; stopping once the batch is full gives the same answer. */
        for (uint64_t k = 0; k < draws && valid < CARBS_RANDOM_BATCH; k++) {
            const double *a = origins + rng_below(&c->rng, n_origins) * c->d;

            for (size_t i = 0; i < c->d; i++)
                x[i] = a[i] + r * rng_normal(&c->rng);
            if (!space_valid(c->space, x))
                continue;
            if (!valid++ && !found) {
                memcpy(u, x, c->d * sizeof(*u));
                found = true;
            }
        }
        if (valid < CARBS_RANDOM_BATCH && c->oversample < carbs__oversample_max(c))
            c->oversample *= 2;
        if (found)
            break;
    }
    if (!found)
        memcpy(u, origins, c->d * sizeof(*u));
    free(x);
}

/* Whether the next suggestion is warm-up (docs/algorithm.md, Dispatch, rule 1, with
 * deviation 6). */
static bool in_warmup(const carbs_t *c)
{
    size_t n_s = carbs__n_s(c), n_all = n_s + carbs_n_failure(c);
    size_t want = (size_t)c->cfg.num_random_samples;

    if (n_s >= want)
        return false;
    return n_s == 0 || n_all < CARBS_WARMUP_FAILURE_FACTOR * want;
}

static bool resample_due(const carbs_t *c)
{
    size_t f = c->cfg.resample_frequency > 0 ? (size_t)c->cfg.resample_frequency : 0;

    return f > 0 && carbs__n_s(c) > (c->resample_count + 1) * f;
}

/* The fallback of docs/algorithm.md, Dispatch: random around the Pareto representatives. */
static int fallback_point(carbs_t *c, double *u, carbs_err_t *err)
{
    double *origins;
    size_t m;

    if (carbs__pareto(c, c->cfg.is_pareto_group_selection_conservative,
                      c->cfg.min_pareto_cost_fraction) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory computing the pareto set");
    m = c->pareto.n_front;
    if (!m) {
        carbs__random_point(c, c->center, 1, u);
        return 0;
    }
    origins = carbs_malloc(m * c->d * sizeof(*origins));
    if (!origins)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
    for (size_t k = 0; k < m; k++)
        memcpy(origins + k * c->d, c->s_u.v + c->pareto.group[c->pareto.front[k]].rep * c->d,
               c->d * sizeof(*origins));
    carbs__random_point(c, origins, m, u);
    free(origins);
    return 0;
}

static int resample_point(carbs_t *c, double *u, carbs_err_t *err)
{
    size_t g;

    if (carbs__pareto(c, false, c->cfg.min_pareto_cost_fraction) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory computing the pareto set");
    g = pareto_resample_pick(&c->pareto, c->s_u.v, c->d, c->w_u.v, carbs_n_pending(c));
    if (g == SIZE_MAX) /* no successes: cannot happen after warm-up, handled anyway */
        return fallback_point(c, u, err);
    memcpy(u, c->s_u.v + c->pareto.group[g].rep * c->d, c->d * sizeof(*u));
    c->resample_count++;
    return 0;
}

// ---- suggest ----

void carbs_suggestion_release(carbs_suggestion_t *s)
{
    if (!s)
        return;
    carbs_params_release(&s->params);
    free(s->u);
    s->u = NULL;
}

int carbs_suggest(carbs_t *c, carbs_suggestion_t *out, carbs_err_t *err)
{
    double *u;
    int rc;

    out->pred_output = out->pred_cost = out->p_success = NAN;
    u = carbs_malloc(c->d * sizeof(*u));
    if (!u)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory");
    if (in_warmup(c)) {
        out->kind = CARBS_SUGGEST_RANDOM;
        carbs__random_point(c, c->center, 1, u);
        rc = 0;
    } else if (resample_due(c)) {
        out->kind = CARBS_SUGGEST_RESAMPLE;
        rc = resample_point(c, u, err);
    } else {
        out->kind = CARBS_SUGGEST_BO;
        rc = carbs__bo(c, u, out, err);
        if (rc == 0) {
            out->kind = CARBS_SUGGEST_FALLBACK;
            out->pred_output = out->pred_cost = out->p_success = NAN;
            rc = fallback_point(c, u, err);
        } else if (rc > 0) {
            rc = 0;
        }
    }
    if (rc < 0)
        goto fail;
    rc = space_from_basic(c->space, u, true, &out->params, err);
    if (rc < 0) {
        carbs_err_prefix(err, "carbs: suggestion");
        goto fail;
    }
    out->u = u;
    return 0;
fail:
    free(u);
    carbs_params_release(&out->params);
    return rc;
}
