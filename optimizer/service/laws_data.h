/*
 * laws_data.h - a sweep's observations gathered from the store for the
 * scaling-law fits (optimizer/scaling.h), the fit with its parameter names
 * filled in, and the refit-and-store call the service makes.
 *
 * What is gathered: every trial with a successful result whose output and
 * cost are finite.  Each numeric searched parameter becomes one basic-space
 * coordinate (optimizer/space.h); categoricals have no line and are left
 * out.  The model size and tokens are the metrics the sweep's `scaling:`
 * names (docs/sweep-file.md); with the embedded trainer and no `scaling:` they are
 * its reported n_params and tokens.  A name missing from a trial's metrics is
 * looked up in its parameters (a sweep may search tokens directly).
 *
 * Ownership: everything a laws_data_t holds is owned by it; release it with
 * laws_data_release().  The store is only read, except by
 * laws_data_refit_store(), which appends one fit.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_LAWS_DATA_H
#define CARBS_OPTIMIZER_SERVICE_LAWS_DATA_H

#include "optimizer/scaling.h"
#include "proto/actor.h"
#include "proto/laws.h"
#include "proto/sweep.h"
#include "store/store.h"

typedef struct laws_data {
    size_t n; /* gathered trials */
    int64_t *trial_id;
    double *cost, *output;
    double *n_params, *tokens; /* NaN where not reported */
    size_t d;                  /* numeric parameters = basic coordinates */
    double *u;                 /* n x d row-major */
    size_t *param;             /* d: index of each coordinate's parameter in the spec */
    char model_size[CARBS_NAME_MAX]; /* the names used for N and D; empty = none */
    char tokens_name[CARBS_NAME_MAX];
    char cost_name[CARBS_NAME_MAX]; /* what cost[] holds: the sweep's cost or another metric */
    size_t n_verify;                /* verification trials left out (store_verify_list) */
} laws_data_t;

/* Gather the sweep's successful trials into the zeroed *out, using spec
 * (the sweep's, borrowed) for the parameters and the scaling names.
 * Verification runs (store_verify_add) are left out: a law is never fitted
 * to the trial that checks it.  Returns 0 (possibly with n = 0), or the
 * store's error, CARBS_EPROTO for stored JSON that does not decode,
 * CARBS_ENOMEM; *out is released on failure. */
int laws_data_gather(store_t *st, int64_t sweep_id, const sweep_spec_t *spec, laws_data_t *out,
                     carbs_err_t *err);

/* The same with the cost read from the metric cost_name of each trial
 * (looked up in its metrics, then its parameters) instead of the sweep's
 * cost: "flops" fits the laws in training FLOPs whatever the sweep's cost
 * metric is.  A trial that does not report cost_name, finite and > 0, is
 * left out.  cost_name NULL is laws_data_gather(). */
int laws_data_gather_as(store_t *st, int64_t sweep_id, const sweep_spec_t *spec,
                        const char *cost_name, laws_data_t *out, carbs_err_t *err);

void laws_data_release(laws_data_t *d);

/* Fit d into *out (scaling_fit_all when full, else scaling_fit_cheap) and
 * fill what the numeric code cannot know: the metric and cost names (the
 * cost d was gathered in), the
 * goal, each line's parameter name and, for log parameters, its power-law
 * exponent, the names used for N and D.  cfg may be NULL (defaults, with
 * the sweep's seed).  Returns 0 or scaling's error (CARBS_ESTATE "not
 * enough data: ..." first among them). */
int laws_data_fit(const laws_data_t *d, const sweep_spec_t *spec, bool full,
                  const scaling_config_t *cfg, laws_t *out, carbs_err_t *err);

/* Read sweep_id's spec and trials from st, fit (with bootstrap when full)
 * and append the fit's JSON to the store (store_law_put).  For the service
 * after an observation (full = false) and every k observations or on demand
 * (full = true).  Measured on 500 trials: about 5 ms cheap, 90 ms full
 * (200 replicates of both bootstraps), so run full fits off the event
 * loop.  Returns 0, CARBS_ESTATE when there is not enough data yet (nothing
 * is stored), or the store's or the fit's error.  Uses st from the calling
 * thread only (store.h: a store_t is not thread-safe). */
int laws_data_refit_store(store_t *st, int64_t sweep_id, bool full, carbs_err_t *err);

/* The same fit as JSON into *json (caller frees), storing nothing: st may
 * be a read-only connection of another thread (laws_actor.h). */
int laws_data_refit_json(store_t *st, int64_t sweep_id, bool full, char **json, carbs_err_t *err);

/* One request to an actor that fits laws: the body of a message, answered
 * on pipe, with st the actor's read-only connection. */
typedef void laws_data_request_fn(actor_pipe_t *pipe, store_t *st, const char *body);

/* The body of such an actor (the service's laws actor, the dashboard's
 * fitter): open the store at path read-only, report ready (or the open's
 * error), then hand each message whose command is cmd to fn, until
 * ACTOR_TERM or the pipe closes. */
void laws_data_actor_loop(actor_pipe_t *pipe, const char *path, const char *cmd,
                          laws_data_request_fn *fn);

#endif
