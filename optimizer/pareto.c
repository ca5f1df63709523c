/*
 * pareto.c - grouping repeated configurations and choosing the Pareto groups
 * (docs/algorithm.md, Pareto).
 *
 * Grouping: sort the observations by their basic inputs lexicographically;
 * repeatedly take the last remaining one e and, scanning the rest from the
 * end, collect every x close to e in all coordinates.  Groups come out in
 * descending lexicographic order and their first member represents them.
 * Front: a cheap bucket (groups with mean cost at or below the
 * min_cost_fraction quantile of the individual costs) gives one point, its
 * best group; the costlier groups follow in stable cost order whenever they
 * beat the running best (standard), or, conservatively, when a repeated group
 * beats the best mean or a single run beats the best single run.
 * Legend: n = observations, d = basic dims, sign = better-direction sign.
 */
#include "proto/common.h"
#include "optimizer/pareto.h"

#include <math.h>

#include "optimizer/stats.h"

typedef struct sort_ctx {
    const double *u;
    size_t d;
} sort_ctx_t;

static int cmp_lex(const void *a, const void *b, void *arg)
{
    const sort_ctx_t *ctx = arg;
    const double *x = ctx->u + *(const size_t *)a * ctx->d;
    const double *y = ctx->u + *(const size_t *)b * ctx->d;

    for (size_t i = 0; i < ctx->d; i++) {
        if (x[i] < y[i])
            return -1;
        if (x[i] > y[i])
            return 1;
    }
    /* equal inputs keep their observation order, so the sort is deterministic */
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool close_to(const double *x, const double *e, size_t d)
{
    for (size_t i = 0; i < d; i++) {
        if (x[i] == e[i])
            continue; /* also infinities equal to themselves */
        if (!(fabs(x[i] - e[i]) <= PARETO_ATOL + PARETO_RTOL * fabs(e[i])))
            return false;
    }
    return true;
}

static int reserve(pareto_t *p, size_t n)
{
    size_t cap = n < 16 ? 16 : n;
    void *g, *m, *f, *o, *a, *c;

    if (n <= p->cap_obs)
        return 0;
    g = carbs_realloc(p->group, cap * sizeof(*p->group));
    if (g)
        p->group = g;
    m = carbs_realloc(p->member, cap * sizeof(*p->member));
    if (m)
        p->member = m;
    f = carbs_realloc(p->front, cap * sizeof(*p->front));
    if (f)
        p->front = f;
    o = carbs_realloc(p->order, cap * sizeof(*p->order));
    if (o)
        p->order = o;
    a = carbs_realloc(p->alive, cap * sizeof(*p->alive));
    if (a)
        p->alive = a;
    c = carbs_realloc(p->costs, cap * sizeof(*p->costs));
    if (c)
        p->costs = c;
    if (!g || !m || !f || !o || !a || !c)
        return CARBS_ENOMEM;
    p->cap_obs = cap;
    return 0;
}

static void group_observations(pareto_t *p, const double *u, size_t n, size_t d, const double *y,
                               const double *c, double sign)
{
    sort_ctx_t ctx = {u, d};
    size_t n_members = 0;

    for (size_t i = 0; i < n; i++) {
        p->order[i] = i;
        p->alive[i] = true;
    }
    qsort_r(p->order, n, sizeof(*p->order), cmp_lex, &ctx);
    p->n_groups = 0;
    for (size_t k = n; k-- > 0;) {
        size_t e = p->order[k];
        pareto_group_t *g;
        double sum_c = 0, sum_y = 0;

        if (!p->alive[k])
            continue;
        g = &p->group[p->n_groups++];
        g->first = n_members;
        g->rep = e;
        p->alive[k] = false;
        p->member[n_members++] = e;
        for (size_t j = k; j-- > 0;) {
            if (p->alive[j] && close_to(u + p->order[j] * d, u + e * d, d)) {
                p->alive[j] = false;
                p->member[n_members++] = p->order[j];
            }
        }
        g->n = n_members - g->first;
        g->best = -INFINITY;
        for (size_t i = g->first; i < n_members; i++) {
            size_t o = p->member[i];
            sum_c += c[o];
            sum_y += y[o];
            if (sign * y[o] > g->best)
                g->best = sign * y[o];
        }
        g->cost = sum_c / (double)g->n;
        g->output = sum_y / (double)g->n;
    }
}

/* Stable ascending sort of group indices by mean cost (insertion sort keeps
 * equal costs in grouping order, as the reference's stable sort does). */
static void sort_by_cost(const pareto_group_t *g, size_t *idx, size_t k)
{
    for (size_t i = 1; i < k; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && g[idx[j - 1]].cost > g[v].cost) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

int pareto_compute(pareto_t *p, const pareto_config_t *cfg, const double *u, size_t n, size_t d,
                   const double *y, const double *c)
{
    const pareto_group_t *g;
    double thr, bm, bx;
    size_t first = SIZE_MAX, n_rest = 0, cheapest = 0;
    bool bucket_has_repeat = false, any_in_bucket = false;
    int rc;

    if ((cfg->sign != 1 && cfg->sign != -1) || !(cfg->min_cost_fraction >= 0) ||
        cfg->min_cost_fraction > 1)
        return CARBS_EINVAL;
    p->n_groups = p->n_front = 0;
    if (!n)
        return 0;
    rc = reserve(p, n);
    if (rc)
        return rc;
    group_observations(p, u, n, d, y, c, cfg->sign);
    g = p->group;

    memcpy(p->costs, c, n * sizeof(*c));
    qsort(p->costs, n, sizeof(*p->costs), cmp_double);
    thr = stats_quantile_sorted(p->costs, n, cfg->min_cost_fraction);

    for (size_t i = 0; i < p->n_groups; i++) {
        if (g[i].cost < g[cheapest].cost)
            cheapest = i;
        if (g[i].cost <= thr) {
            any_in_bucket = true;
            if (g[i].n >= 2)
                bucket_has_repeat = true;
        }
    }
    /* Deviation 3 (docs/algorithm.md): an empty bucket takes the cheapest
     * group instead of failing. */
    for (size_t i = 0; i < p->n_groups; i++) {
        bool in_bucket = any_in_bucket ? g[i].cost <= thr : i == cheapest;
        if (!in_bucket) {
            p->order[n_rest++] = i;
            continue;
        }
        if (cfg->conservative && bucket_has_repeat && g[i].n < 2)
            continue;
        if (first == SIZE_MAX || cfg->sign * g[i].output > cfg->sign * g[first].output)
            first = i;
    }
    p->front[p->n_front++] = first;
    bm = cfg->sign * g[first].output;
    bx = g[first].best;
    sort_by_cost(g, p->order, n_rest);
    for (size_t k = 0; k < n_rest; k++) {
        size_t i = p->order[k];
        double mean = cfg->sign * g[i].output;
        bool take;

        if (!cfg->conservative)
            take = mean > bm;
        else if (g[i].n >= 2)
            take = mean > bm;
        else
            take = g[i].best > bx;
        if (take) {
            p->front[p->n_front++] = i;
            bm = mean;
            bx = g[i].best;
        }
    }
    return 0;
}

size_t pareto_resample_pick(const pareto_t *p, const double *u, size_t d, const double *w,
                            size_t n_pending)
{
    size_t best = SIZE_MAX, best_count = SIZE_MAX;

    /* the front is already in increasing cost, so the first minimum is the cheapest */
    for (size_t k = 0; k < p->n_front; k++) {
        const pareto_group_t *g = &p->group[p->front[k]];
        size_t count = g->n;
        for (size_t j = 0; j < n_pending; j++)
            if (close_to(w + j * d, u + g->rep * d, d))
                count++;
        if (count < best_count) {
            best_count = count;
            best = p->front[k];
        }
    }
    return best;
}

double pareto_area(const pareto_t *p)
{
    double area = 0;

    for (size_t j = 1; j < p->n_front; j++) {
        const pareto_group_t *a = &p->group[p->front[j - 1]], *b = &p->group[p->front[j]];
        area += (b->cost - a->cost) * a->output;
    }
    return area;
}

void pareto_release(pareto_t *p)
{
    free(p->group);
    free(p->member);
    free(p->front);
    free(p->order);
    free(p->alive);
    free(p->costs);
    memset(p, 0, sizeof(*p));
}
