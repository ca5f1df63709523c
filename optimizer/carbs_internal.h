/*
 * carbs_internal.h - the inside of a carbs_t, shared by carbs.c (handle,
 * observations, dispatch, random and resample suggestions), carbs_bo.c (the
 * surrogate models and the acquisition) and carbs_state.c (snapshot,
 * restore, bulk load).  Not part of the public API.
 *
 * Invariants: s_u holds n_s rows of d basic coordinates, s_y/s_c/s_id/
 * s_params n_s entries each (successes in the order told); f_u/f_id the
 * failures likewise; w_u/w_id the pending suggestions in the order added.
 * Every stored basic point is finite in each coordinate that has a finite
 * bound.  oversample is a power of two in [1, 2^min(d, CARBS_OVERSAMPLE_LOG2_MAX)].
 */
#ifndef CARBS_OPTIMIZER_CARBS_INTERNAL_H
#define CARBS_OPTIMIZER_CARBS_INTERNAL_H

#include "optimizer/carbs.h"

#include "optimizer/arena.h"
#include "optimizer/gp.h"
#include "optimizer/pareto.h"
#include "optimizer/rng.h"
#include "optimizer/space.h"
#include "optimizer/warp.h"

/* Random suggestions (docs/algorithm.md, Random suggestions and fallbacks):
 * each attempt wants this many valid draws out of
 * CARBS_RANDOM_BATCH * oversample, and up to CARBS_RANDOM_TRIES attempts are
 * made; both are the reference's constants. */
#define CARBS_RANDOM_BATCH 32
#define CARBS_RANDOM_TRIES 8

/* The reference caps the over-generation factor at 2^D, which for D = 20
 * means a million draws per candidate (quirk 9 of docs/algorithm.md).  Past
 * 2^12 valid draws are so rare that the factor stops helping and only burns
 * time; the cap is deviation 7. */
#define CARBS_OVERSAMPLE_LOG2_MAX 12

/* The most coordinates drawn beyond the first batch for one random point,
 * or beyond the first M draws for one suggestion's BO candidates.  Where
 * valid draws are rare (many bounded dimensions with wide scales) the
 * capped factor still allows 8 * 32 * 2^12 * D normals for a random point
 * (268 M at D = 256: 15 s on a loaded machine) and M * 2^12 * D for the
 * candidates (billions), holding the service's loop for minutes.  Draws
 * that rare mean the search is failing anyway; 2^25 (about 0.3 s) leaves
 * every space where one draw in a few thousand is valid as it was.  This
 * is deviation 19 of docs/algorithm.md. */
#define CARBS_DRAW_BUDGET ((uint64_t)1 << 25)

/* Warm-up ends at num_random_samples successes (the reference), or, fixing
 * quirk 8 of docs/algorithm.md (deviation 6), once at least one success
 * exists and the observations, failures included, reach this multiple of
 * num_random_samples: a region where most runs fail must not keep the search
 * in random mode forever. */
#define CARBS_WARMUP_FAILURE_FACTOR 2

/* The MLE fit keeps every main-kernel lengthscale in [MIN_R r, MAX_R r]
 * (r = initial_search_radius) and the Pareto GP's in [MIN, MAX] scaled
 * log-cost units (the costs span [-1, 1]).  With the few observations of a
 * local search the likelihood prefers lengthscales far below the step r
 * (every point its own spike: no prediction between observations) or at
 * the bound (a dimension ignored for good); the box keeps the GP smooth
 * over the two or three radii a candidate reaches.  Measured choices
 * (docs/algorithm.md "Deviations", docs/performance.md "Quality"). */
#define CARBS_LENGTHSCALE_MIN_R 3.0
#define CARBS_LENGTHSCALE_MAX_R 10.0
#define CARBS_PARETO_LENGTHSCALE_MIN 0.3
#define CARBS_PARETO_LENGTHSCALE_MAX 3.0

/* A warm-start coordinate within this fraction of the fitter's theta
 * bound counts as stuck on it (the gradient there is zero) and restarts
 * from its initial value. */
#define CARBS_THETA_EDGE 1e-3

/* Hyperparameters kept between fits to warm-start the next one: for the
 * output, cost and success GPs (ln alpha_L, ln alpha_M, ln lambda_1..d,
 * ln s) and for the Pareto GP (ln alpha_R, ln lambda_R, ln s).  A slot is
 * used only when its valid flag is set. */
#define CARBS_N_SURROGATES 4
enum { CARBS_GP_OUTPUT = 0, CARBS_GP_COST = 1, CARBS_GP_SUCCESS = 2, CARBS_GP_PARETO = 3 };

typedef DA_TYPE(double) carbs__dvec_t;
typedef DA_TYPE(int64_t) carbs__ivec_t;
typedef DA_TYPE(carbs_params_t) carbs__pvec_t;

struct carbs {
    space_t *space;
    carbs_config_t cfg;
    size_t d;
    rng_t rng;
    double *center; /* d: the search center in basic space */

    carbs__dvec_t s_u, s_y, s_c; /* successes */
    carbs__ivec_t s_id;
    carbs__pvec_t s_params; /* the values as told, for carbs_pareto */
    carbs__dvec_t f_u;      /* failures */
    carbs__ivec_t f_id;
    carbs__dvec_t w_u; /* pending suggestions */
    carbs__ivec_t w_id;

    size_t resample_count;
    uint64_t oversample;

    /* warm-start hyperparameters: hyper[k] holds hyper_n[k] log-values */
    double *hyper[CARBS_N_SURROGATES];
    size_t hyper_n[CARBS_N_SURROGATES];

    /* the surrogates, kept so their buffers are reused: slots as above,
     * plus the output GP conditioned on the fantasies at CARBS_N_SURROGATES */
    gp_t *gp[CARBS_N_SURROGATES + 1];
    warp_t warp;     /* the output warping of the last BO suggestion */
    arena_t arena;   /* per-suggestion scratch of the BO path */
    pareto_t pareto; /* reused by every Pareto computation */
};

/* The number of successes / failures / pending points. */
static inline size_t carbs__n_s(const carbs_t *c)
{
    return c->s_y.n;
}

/* Compute the Pareto groups of S into c->pareto with the given rule and the
 * config's cost fraction.  0 or CARBS_ENOMEM. */
int carbs__pareto(carbs_t *c, bool conservative, double fraction);

/* Draw one random point around the origins (n_origins rows of d) into u
 * (docs/algorithm.md, Random suggestions and fallbacks).  Never fails: when
 * no attempt yields a valid point, u is the first origin (the reference
 * raises instead). */
void carbs__random_point(carbs_t *c, const double *origins, size_t n_origins, double *u);

/* The largest allowed oversample factor for this space. */
uint64_t carbs__oversample_max(const carbs_t *c);

/* The BO suggestion (docs/algorithm.md: Surrogates, Pareto, Acquisition).
 * Returns 1 with the winner in u and the predictions in out (pred_output,
 * pred_cost, p_success), 0 when there is no usable candidate (the caller
 * falls back to random), or CARBS_ENOMEM. */
int carbs__bo(carbs_t *c, double *u, carbs_suggestion_t *out, carbs_err_t *err);

/* Replace hyperparameter slot k by n values (copied).  0 or CARBS_ENOMEM. */
int carbs__hyper_set(carbs_t *c, size_t k, const double *v, size_t n);

#endif
