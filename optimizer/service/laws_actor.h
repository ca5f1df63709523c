/*
 * laws_bg.h - the service's scaling-law refits (docs/scaling-laws.md): the
 * cheap fit of the Pareto power laws after every result, on the event loop,
 * and every LAWS_BG_EVERY results of a sweep the full fit (bootstrap
 * intervals, the model-size and tokens law, the holdout) on a thread of its
 * own with its own read-only store connection, stored by the event loop
 * when it is ready.  Both are appended to the store's laws table.
 *
 *   laws_bg_t *bg = laws_bg_new(db_path, 0);
 *   cfg.after_result = laws_bg_after_result; cfg.after_result_ctx = bg;
 *   ... loop: service_step(svc, ...); laws_bg_poll(bg, service_store(svc));
 *   laws_bg_free(bg, service_store(svc)); service_close(svc);
 */
#ifndef CARBS_OPTIMIZER_SERVICE_LAWS_BG_H
#define CARBS_OPTIMIZER_SERVICE_LAWS_BG_H

#include "store/store.h"

/* Results of one sweep between two full fits. */
#define LAWS_BG_EVERY 10

typedef struct laws_bg laws_bg_t;

/* A refitter for the store at db_path (which the background connections
 * open read-only); every = results between full fits, 0 = LAWS_BG_EVERY.
 * NULL only when out of memory. */
laws_bg_t *laws_bg_new(const char *db_path, int every);

/* The service's after_result hook (service.h), ctx = the laws_bg_t: stores
 * the cheap fit now and starts a full fit when the sweep is due and no
 * other is running.  Returns the cheap fit's status (CARBS_ESTATE: not
 * enough data yet). */
int laws_bg_after_result(store_t *st, int64_t sweep_id, void *ctx, carbs_err_t *err);

/* On the event loop: if a full fit has finished, store it with st (the
 * service's connection).  Returns 1 when one was stored, else 0. */
int laws_bg_poll(laws_bg_t *bg, store_t *st);

/* Full fits stored so far. */
size_t laws_bg_n_full(const laws_bg_t *bg);

/* Wait for a running full fit, store it when st is not NULL, free bg.
 * bg may be NULL. */
void laws_bg_free(laws_bg_t *bg, store_t *st);

#endif
