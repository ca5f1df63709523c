/*
 * laws_actor.h - the service's scaling-law refits (docs/scaling-laws.md):
 * the cheap fit of the Pareto power laws after every result, on the event
 * loop, and every LAWS_ACTOR_EVERY results of a sweep the full fit
 * (bootstrap intervals, the model-size and tokens law, the holdout) in an
 * actor (proto/actor.h): a thread with its own read-only store connection
 * that is told which sweep to fit and sends the fit's JSON back.  The
 * event loop, the store's one writer, appends both to the laws table.
 *
 * The service drives it (service.h: cfg.laws); by hand:
 *
 *   laws_actor_t *la = laws_actor_new(db_path, 0, err);
 *   ... after each result of sweep S is committed:
 *       laws_actor_after_result(la, st, S, err);
 *   ... on each turn of the loop: laws_actor_poll(la, st);
 *   laws_actor_free(la, st);   // waits for a full fit under way and stores it
 *
 * One full fit at a time: a sweep that comes due while another's runs is
 * sent on its next result after that one finished.  A laws_actor_t and the
 * st given to it belong to the owner's thread; the actor shares nothing.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_LAWS_ACTOR_H
#define CARBS_OPTIMIZER_SERVICE_LAWS_ACTOR_H

#include "store/store.h"

/* Results of one sweep between two full fits. */
#define LAWS_ACTOR_EVERY 10

typedef struct laws_actor laws_actor_t;

/* Start the actor for the store at db_path, which it opens read-only;
 * every = results between full fits, 0 = LAWS_ACTOR_EVERY.  Returns NULL
 * with err filled when the store cannot be opened (store_open's errors) or
 * the actor cannot start (CARBS_EIO). */
laws_actor_t *laws_actor_new(const char *db_path, int every, carbs_err_t *err);

/* A result of sweep_id was committed with st (the owner's connection, which
 * writes): store the cheap fit now, and send the actor the sweep's full fit
 * when it is due and no other is under way.  Returns the cheap fit's
 * status: 0, CARBS_ESTATE when there is not enough data yet (nothing
 * stored, no full fit sent), or the store's or the fit's error. */
int laws_actor_after_result(laws_actor_t *la, store_t *st, int64_t sweep_id, carbs_err_t *err);

/* Without waiting: if the full fit under way has come back, store it with
 * st.  Returns 1 when a fit was stored, else 0 (a failed fit or store is
 * logged).  la may be NULL. */
int laws_actor_poll(laws_actor_t *la, store_t *st);

/* Full fits stored so far. */
size_t laws_actor_n_full(const laws_actor_t *la);

/* Wait for a full fit under way and store it when st is not NULL, stop the
 * actor and free la.  la may be NULL. */
void laws_actor_free(laws_actor_t *la, store_t *st);

#endif
