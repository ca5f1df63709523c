/*
 * carbs.h - the CARBS optimizer behind an ask/tell seam (docs/algorithm.md).
 *
 * Pure computation: no I/O, no logging, no clocks.  One carbs_t holds one
 * sweep's search: the parameter space, the observations (successes S and
 * failures F, in the order they were told), the pending suggestions W keyed
 * by the caller's 64-bit ids, the resample counter and the random generator.
 * A handle is not thread-safe; distinct handles share nothing.
 *
 * The life of a suggestion:
 *
 *   carbs_suggest(c, &s, err)            // draw one: random, resample or BO
 *   id = <the caller's trial id>         // e.g. the store's row id
 *   carbs_pending_add(c, id, &s.params, s.u, err)   // fantasized from now on
 *   ... the trial runs ...
 *   carbs_observe(c, &obs{.id = id, ...}, err)      // removes id from W
 *   or carbs_forget(c, id, err)          // infrastructure failure: no observation
 *
 * Persistence (docs/algorithm.md, Persistence; the RNG is added): the caller
 * keeps the observations and pending suggestions in its own store and a
 * snapshot from carbs_snapshot().  To resume, create a handle with the same
 * space and config, replay the observations with carbs_observe() and the
 * pending suggestions with carbs_pending_add() in their original order, then
 * carbs_restore() the snapshot: the next suggestion is bit-identical to what
 * the uninterrupted handle would have given.  The generator is never
 * re-seeded by a restore.
 *
 * Deviations from the reference are listed in docs/algorithm.md.
 */
#ifndef CARBS_OPTIMIZER_CARBS_H
#define CARBS_OPTIMIZER_CARBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/carbs_config.h"
#include "proto/types.h"

// ---- configuration ----

/* carbs_config_t, its defaults and its checks are the options table of
 * proto/carbs_config.h, shared with the sweep file and ask-tell. */

// ---- the handle ----

typedef struct carbs carbs_t;

/* A new optimizer over space (copied; borrowed) with cfg (copied).  Returns
 * NULL and fills err: CARBS_EINVAL for a bad space or config, CARBS_ENOMEM. */
carbs_t *carbs_new(const carbs_space_t *space, const carbs_config_t *cfg, carbs_err_t *err);

/* Free c.  c may be NULL. */
void carbs_free(carbs_t *c);

/* Basic-space dimension (categoricals count one per value). */
size_t carbs_dim(const carbs_t *c);

// ---- suggest ----

/* What a suggestion is (docs/algorithm.md, Dispatch). */
#define CARBS_SUGGEST_KIND_MAP(X)                                                                  \
    X(RANDOM, "random")     /* warm-up: around the search center */                                \
    X(RESAMPLE, "resample") /* a Pareto point again, for noise control */                          \
    X(BO, "bo")             /* the acquisition winner */                                           \
    X(FALLBACK, "fallback") /* random around the Pareto set: BO found nothing */

typedef enum carbs_suggest_kind {
#define X(id, name) CARBS_SUGGEST_##id,
    CARBS_SUGGEST_KIND_MAP(X)
#undef X
        CARBS_SUGGEST_KIND_COUNT
} carbs_suggest_kind_t;

const char *carbs_suggest_kind_name(carbs_suggest_kind_t k);

/* One suggestion.  Owns params and u; release with carbs_suggestion_release.
 * All-zero is a valid empty value. */
typedef struct carbs_suggestion {
    carbs_suggest_kind_t kind;
    carbs_params_t params; /* every parameter of the space, integers rounded */
    double *u;             /* the basic point, carbs_dim() entries */
    double pred_output;    /* surrogate predictions in the caller's units; NaN when none */
    double pred_cost;
    double p_success;      /* predicted probability of success; NaN when none */
} carbs_suggestion_t;

void carbs_suggestion_release(carbs_suggestion_t *s);

/* Draw the next suggestion into *out (an empty suggestion).  Nothing is
 * remembered: register it with carbs_pending_add once it has an id.
 * Returns 0, or CARBS_ENOMEM.  Numerical trouble (a kernel matrix that is
 * not positive definite, no valid candidate) never fails: it falls back to
 * a random suggestion, as the reference does. */
int carbs_suggest(carbs_t *c, carbs_suggestion_t *out, carbs_err_t *err);

/* Register a pending suggestion under id (>= 1): later fits fantasize its
 * outcome.  u (carbs_dim() entries) is the basic point if known, else NULL
 * and params are mapped.  Returns 0, CARBS_EEXIST for an id already
 * pending, CARBS_EINVAL for params outside the space, CARBS_ENOMEM. */
int carbs_pending_add(carbs_t *c, int64_t id, const carbs_params_t *params, const double *u,
                      carbs_err_t *err);

// ---- tell ----

typedef struct carbs_obs {
    int64_t id;             /* the pending suggestion it answers; 0 = none */
    carbs_params_t params;  /* every parameter of the space; other names ignored */
    double output;          /* NaN or infinite = a failure */
    double cost;            /* finite and > 0 (ignored for a failure) */
    bool is_failure;
} carbs_obs_t;

/* Record an observation and forget its pending suggestion.  Returns 0, or
 * CARBS_EINVAL (params missing or outside the space, cost <= 0 or not finite
 * for a success), CARBS_ENOTFOUND when obs->id is not pending (the
 * observation is still recorded: err says the id was unknown), CARBS_ENOMEM.
 * A non-finite output is recorded as a failure, not an error. */
int carbs_observe(carbs_t *c, const carbs_obs_t *obs, carbs_err_t *err);

/* Drop pending suggestion id without an observation (a crash unrelated to
 * the hyperparameters).  0 or CARBS_ENOTFOUND. */
int carbs_forget(carbs_t *c, int64_t id, carbs_err_t *err);

/* Bulk-load n observations from another source (an import, a warm start),
 * as the reference's initialize_from_observations (docs/algorithm.md,
 * Observations): each is told with carbs_observe (ids not pending are fine),
 * then the search center moves to the input of the best success among them;
 * a failure never becomes the center (deviation 4).  Not for resuming a
 * handle: replay and carbs_restore do that.  Returns 0 or the first
 * observation's error (CARBS_EINVAL, CARBS_ENOMEM), with the earlier ones
 * kept. */
int carbs_load(carbs_t *c, const carbs_obs_t *obs, size_t n, carbs_err_t *err);

size_t carbs_n_success(const carbs_t *c);
size_t carbs_n_failure(const carbs_t *c);
size_t carbs_n_pending(const carbs_t *c);
/* Sum of the successes' costs. */
double carbs_cost_spent(const carbs_t *c);

// ---- the Pareto set ----

typedef struct carbs_pareto_point {
    int64_t id;            /* the observation's id, 0 when it had none */
    carbs_params_t params; /* owned */
    double output, cost;   /* the group's mean output and cost */
    size_t n;              /* observations in the group (resamples) */
} carbs_pareto_point_t;

/* The observed Pareto set (the standard rule of docs/algorithm.md, Pareto,
 * with no cost bucketing) in ascending cost, into a new array *pts of *n
 * points (free with carbs_pareto_free).  Returns 0 (n = 0 without successes)
 * or CARBS_ENOMEM. */
int carbs_pareto(const carbs_t *c, carbs_pareto_point_t **pts, size_t *n, carbs_err_t *err);
void carbs_pareto_free(carbs_pareto_point_t *pts, size_t n);

// ---- snapshot ----

/* Serialize what observations cannot rebuild (generator state, resample
 * counter, the search center, the last fitted GP hyperparameters that warm
 * start the next fit) into a new byte buffer *buf of *len bytes (caller
 * frees).  The format is versioned and portable (little-endian). */
int carbs_snapshot(const carbs_t *c, uint8_t **buf, size_t *len, carbs_err_t *err);

/* Restore a snapshot into c, after its observations and pending
 * suggestions were replayed.  Returns 0, or CARBS_EINVAL for a truncated or
 * foreign buffer or one taken from a different space dimension,
 * CARBS_EVERSION for a newer format; c is unchanged on error. */
int carbs_restore(carbs_t *c, const uint8_t *buf, size_t len, carbs_err_t *err);

#endif
