/*
 * diag_carbs.c - print what CARBS decides at every suggestion on the demo
 * problem of docs/algorithm.md, Tests, to see where a search goes wrong.
 *
 * The demo: minimize (log10 lr + 3)^2 * 512 / epochs + U(0, 0.1), cost =
 * epochs; lr LogSpace(scale 0.5) centre 1e-4, momentum LogitSpace centre
 * 0.9, epochs LogSpace(integer, [2, 512]) centre 10, resampling off.  The
 * optimum is lr = 1e-3 at any epochs.
 *
 * Per suggestion it prints the kind, the parameters, the outcome, and for a
 * BO suggestion the surrogates' view of the winner read back from the
 * handle's fitted GPs: the output GP's mean and standard deviation there,
 * the front's value at the predicted cost, the distance to the nearest
 * Pareto origin (basic units), and each GP's fitted hyperparameters
 * (exp of theta: aL, aM, lengthscales, noise).  The handle's inside comes
 * from carbs_internal.h: this is a diagnostic, not a user of the API.
 *
 *   diag_carbs [seed] [observations] [gp_fit: mle|reference]
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <limits.h>
#include <math.h>

#include "optimizer/carbs_internal.h"
#include "tests/fixture.h"

static void print_theta(const char *label, const gp_t *gp)
{
    const double *th;

    if (!gp || !gp_n_obs(gp))
        return;
    th = gp_theta(gp);
    printf("    %-7s", label);
    for (size_t j = 0; j < gp_n_theta(gp); j++)
        printf(" %.3g", exp(th[j]));
    printf("\n");
}

/* The BO view of the winner u, from the GPs the handle just fitted. */
static void print_bo(carbs_t *c, const double *u)
{
    gp_t *gpo = c->gp[CARBS_N_SURROGATES] && c->w_id.n ? c->gp[CARBS_N_SURROGATES]
                                                        : c->gp[CARBS_GP_OUTPUT];
    double mu = NAN, var = NAN, dmin = INFINITY, z[64];
    size_t n = c->s_y.n;

    /* the GPs see inputs minus the mean fitted input (all of S here) */
    for (size_t i = 0; i < c->d && i < ARRAY_SIZE(z); i++) {
        double m = 0;
        for (size_t a = 0; a < n; a++)
            m += c->s_u.v[a * c->d + i];
        z[i] = u[i] - m / (double)n;
    }
    if (gpo && c->d <= ARRAY_SIZE(z) && gp_predict(gpo, z, 1, &mu, &var) == 0)
        printf("    winner: mu=%.3f sd=%.3f", mu, sqrt(var));
    for (size_t k = 0; k < c->pareto.n_front; k++) {
        const double *a = c->s_u.v + c->pareto.group[c->pareto.front[k]].rep * c->d;
        double s = 0;
        for (size_t i = 0; i < c->d; i++)
            s += (u[i] - a[i]) * (u[i] - a[i]);
        dmin = fmin(dmin, sqrt(s));
    }
    printf(" dist=%.3f front=%zu\n", dmin, c->pareto.n_front);
    print_theta("output", c->gp[CARBS_GP_OUTPUT]);
    print_theta("cost", c->gp[CARBS_GP_COST]);
    print_theta("pareto", c->gp[CARBS_GP_PARETO]);
}

int main(int argc, char **argv)
{
    carbs_param_t ps[3] = {
        fx_num_param("lr", CARBS_SPACE_LOG, 0, INFINITY, 1e-4, 0.5, false),
        fx_num_param("momentum", CARBS_SPACE_LOGIT, 0, 1, 0.9, 1, false),
        fx_num_param("epochs", CARBS_SPACE_LOG, 2, 512, 10, 1, true),
    };
    carbs_space_t sp = {0};
    carbs_config_t cfg;
    carbs_err_t err = {0};
    rng_t noise;
    long seed = 1013, n_obs = 20;
    double best = INFINITY;
    carbs_t *c;
    int rc = 1;

    carbs_config_defaults(&cfg);
    if ((argc > 1 && parse_long(argv[1], 0, LONG_MAX, &seed) < 0) ||
        (argc > 2 && parse_long(argv[2], 1, 10000, &n_obs) < 0) ||
        (argc > 3 && carbs_gp_fit_parse(argv[3]) < 0)) {
        fprintf(stderr, "usage: diag_carbs [seed] [observations] [mle|reference]\n");
        return 2;
    }
    if (argc > 3)
        cfg.gp_fit = (carbs_gp_fit_t)carbs_gp_fit_parse(argv[3]);
    for (size_t i = 0; i < ARRAY_SIZE(ps); i++)
        carbs_space_add(&sp, &ps[i]);
    cfg.resample_frequency = 0;
    cfg.seed = (uint64_t)seed;
    c = carbs_new(&sp, &cfg, &err);
    if (!c) {
        fprintf(stderr, "diag_carbs: %s\n", err.msg);
        goto out;
    }
    rng_seed(&noise, (uint64_t)seed ^ 0x5eed);
    for (long t = 0; t < n_obs; t++) {
        carbs_suggestion_t s = {0};
        carbs_obs_t o = {0};
        double lr, ep, y;

        if (carbs_suggest(c, &s, &err) < 0 ||
            carbs_pending_add(c, t + 1, &s.params, s.u, &err) < 0) {
            fprintf(stderr, "diag_carbs: %s\n", err.msg);
            carbs_suggestion_release(&s);
            goto out;
        }
        lr = carbs_params_find(&s.params, "lr")->num;
        ep = carbs_params_find(&s.params, "epochs")->num;
        y = pow(log10(lr) + 3, 2) * 512 / ep + 0.1 * rng_uniform(&noise);
        best = fmin(best, y);
        printf("%3ld %-8s lr=%.3g mom=%.3f ep=%-4.0f y=%-9.4g best=%-9.4g pred_y=%.4g "
               "pred_c=%.4g\n",
               t + 1, carbs_suggest_kind_name(s.kind), lr,
               carbs_params_find(&s.params, "momentum")->num, ep, y, best, s.pred_output,
               s.pred_cost);
        if (s.kind == CARBS_SUGGEST_BO)
            print_bo(c, s.u);
        o.id = t + 1;
        o.params = s.params;
        o.output = y;
        o.cost = ep;
        if (carbs_observe(c, &o, &err) < 0) {
            fprintf(stderr, "diag_carbs: %s\n", err.msg);
            carbs_suggestion_release(&s);
            goto out;
        }
        carbs_suggestion_release(&s);
    }
    rc = 0;
out:
    carbs_free(c);
    carbs_space_release(&sp);
    return rc;
}
