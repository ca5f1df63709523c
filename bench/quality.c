/*
 * quality.c - does CARBS find the cheap end of the front first, then move
 * toward higher cost, and beat uniform random search at equal total cost?
 *
 * Two cost-aware problems (minimize):
 *   demo    the CARBS demo problem of docs/algorithm.md, Tests:
 *           (log10 lr + 3)^2 * 512 / epochs + U(0, 0.1), cost = epochs;
 *   scaling a model-size x tokens x learning-rate loss of our own design,
 *           L = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28 + 0.25 (log10 lr - lr*(N))^2,
 *           lr*(N) = log10(3e-3) - 0.3 log10(N / 1e7), cost = 6 N D (FLOPs),
 *           N in [1e6, 1e9], D in [1e7, 1e11]: at every cost the optimum
 *           is known (the Chinchilla-style split and lr*(N)).
 * For each seed CARBS runs `trials` trials; uniform random search (in
 * basic space, the same bounds) then runs until it has spent the same
 * total cost.  Printed per problem: the median over seeds of the best loss
 * of each method, the cost of CARBS's first and last Pareto points, and
 * the fraction of seeds where CARBS wins.
 *
 *   quality [seeds] [trials]      (defaults 5 and 60)
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>

#include "optimizer/rng.h"
#include "tests/fixture.h"

typedef struct problem {
    const char *name;
    size_t n;
    carbs_param_t p[3];
    double (*loss)(const double *x, rng_t *noise);
    double (*cost)(const double *x);
} problem_t;

static double demo_loss(const double *x, rng_t *noise)
{
    return pow(log10(x[0]) + 3, 2) * 512 / x[2] + 0.1 * rng_uniform(noise);
}

static double demo_cost(const double *x)
{
    return x[2];
}

static double scaling_loss(const double *x, rng_t *noise)
{
    double n = x[0], d = x[1], lr = x[2];
    double lr_star = log10(3e-3) - 0.3 * log10(n / 1e7);

    return 1.69 + 406.4 / pow(n, 0.34) + 410.7 / pow(d, 0.28) +
           0.25 * pow(log10(lr) - lr_star, 2) + 0.005 * rng_normal(noise);
}

static double scaling_cost(const double *x)
{
    return 6 * x[0] * x[1] / 1e15;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One CARBS run; returns the best loss, the total cost spent in *spent and
 * the costs of the cheapest and dearest Pareto points. */
static double run_carbs(const problem_t *pb, uint64_t seed, int trials, double *spent,
                        double *c_lo, double *c_hi)
{
    carbs_space_t sp = {0};
    carbs_config_t cfg;
    carbs_err_t err = {0};
    carbs_pareto_point_t *pts = NULL;
    size_t n_pts = 0;
    rng_t noise;
    double best = INFINITY;
    carbs_t *c;

    for (size_t i = 0; i < pb->n; i++)
        carbs_space_add(&sp, &pb->p[i]);
    carbs_config_defaults(&cfg);
    cfg.seed = seed;
    c = carbs_new(&sp, &cfg, &err);
    rng_seed(&noise, seed * 7919 + 1);
    *spent = 0;
    for (int t = 0; c && t < trials; t++) {
        carbs_suggestion_t s = {0};
        double x[3];

        if (carbs_suggest(c, &s, &err) < 0)
            break;
        carbs_pending_add(c, t + 1, &s.params, s.u, &err);
        for (size_t i = 0; i < pb->n; i++)
            x[i] = carbs_params_find(&s.params, pb->p[i].name)->num;
        {
            carbs_obs_t o = {.id = t + 1, .params = s.params, .output = pb->loss(x, &noise),
                             .cost = pb->cost(x)};
            best = fmin(best, o.output);
            *spent += o.cost;
            carbs_observe(c, &o, &err);
        }
        carbs_suggestion_release(&s);
    }
    *c_lo = *c_hi = NAN;
    if (c && carbs_pareto(c, &pts, &n_pts, &err) == 0 && n_pts) {
        *c_lo = pts[0].cost;
        *c_hi = pts[n_pts - 1].cost;
    }
    carbs_pareto_free(pts, n_pts);
    carbs_free(c);
    carbs_space_release(&sp);
    return best;
}

/* Uniform random search in basic space (log-uniform for log spaces) until
 * the budget is spent; returns the best loss. */
static double run_random(const problem_t *pb, uint64_t seed, double budget)
{
    rng_t r, noise;
    double spent = 0, best = INFINITY;

    rng_seed(&r, seed * 104729 + 3);
    rng_seed(&noise, seed * 7919 + 1);
    while (spent < budget) {
        double x[3];

        for (size_t i = 0; i < pb->n; i++) {
            const carbs_param_t *p = &pb->p[i];
            double u = rng_uniform(&r);

            if (p->space == CARBS_SPACE_LOG)
                x[i] = pow(10, log10(p->min) + u * (log10(p->max) - log10(p->min)));
            else if (p->space == CARBS_SPACE_LOGIT)
                x[i] = p->min + u * (p->max - p->min);
            else
                x[i] = p->min + u * (p->max - p->min);
            if (p->is_integer)
                x[i] = rint(x[i]);
        }
        best = fmin(best, pb->loss(x, &noise));
        spent += pb->cost(x);
    }
    return best;
}

int main(int argc, char **argv)
{
    problem_t pbs[2] = {
        {"demo", 3,
         {fx_num_param("lr", CARBS_SPACE_LOG, 1e-6, 1, 1e-4, 0.5, false),
          fx_num_param("momentum", CARBS_SPACE_LOGIT, 0.01, 0.99, 0.9, 1, false),
          fx_num_param("epochs", CARBS_SPACE_LOG, 2, 512, 10, 1, true)},
         demo_loss, demo_cost},
        {"scaling", 3,
         {fx_num_param("n_params", CARBS_SPACE_LOG, 1e6, 1e9, 3e6, 1, false),
          fx_num_param("tokens", CARBS_SPACE_LOG, 1e7, 1e11, 3e7, 1, false),
          fx_num_param("learning_rate", CARBS_SPACE_LOG, 1e-5, 1e-1, 1e-3, 1, false)},
         scaling_loss, scaling_cost},
    };
    long seeds = 5, trials = 60;

    if ((argc > 1 && parse_long(argv[1], 1, 100, &seeds) < 0) ||
        (argc > 2 && parse_long(argv[2], 5, 10000, &trials) < 0)) {
        fprintf(stderr, "usage: quality [seeds] [trials]\n");
        return 2;
    }
    for (size_t k = 0; k < ARRAY_SIZE(pbs); k++) {
        double bc[100], br[100], lo[100], hi[100];
        int wins = 0;

        for (long s = 0; s < seeds; s++) {
            double spent;

            bc[s] = run_carbs(&pbs[k], (uint64_t)s + 1, (int)trials, &spent, &lo[s], &hi[s]);
            br[s] = run_random(&pbs[k], (uint64_t)s + 1, spent);
            wins += bc[s] < br[s];
        }
        printf("%-8s seeds=%ld trials=%ld  median best: carbs=%.4f random=%.4f  carbs wins "
               "%d/%ld  pareto cost: cheapest=%.4g dearest=%.4g (medians)\n",
               pbs[k].name, seeds, trials, median(bc, (size_t)seeds), median(br, (size_t)seeds),
               wins, seeds, median(lo, (size_t)seeds), median(hi, (size_t)seeds));
    }
    return 0;
}
