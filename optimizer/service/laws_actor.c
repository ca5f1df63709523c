/*
 * laws_actor.c - see laws_actor.h.  The owner's half keeps the policy (how
 * many results each sweep had since its last full fit, whether one is
 * under way) and writes; the actor's half only reads and fits.  They talk
 * in two commands over the actor's pipe:
 *
 *   owner -> actor  FULL  "<sweep id>"
 *   actor -> owner  LAW   "<sweep id> <the fit's JSON>"   (proto/laws.h)
 *                   FAIL  "<sweep id> <status code> <message>"
 */
#include "proto/common.h"
#include "optimizer/service/laws_actor.h"

#include <inttypes.h>

#include "optimizer/service/laws_data.h"
#include "proto/actor.h"
#include "proto/log.h"

typedef struct sweep_count {
    int64_t sweep;
    int since_full; /* results since the last full fit was sent */
} sweep_count_t;

struct laws_actor {
    actor_t *actor;
    int every;
    DA_TYPE(sweep_count_t) counts;
    size_t n_full;
    bool busy; /* a full fit is under way */
};

// ---- the actor ----

/* Fit the sweep named by body in full and send LAW or FAIL. */
static void fit_full(actor_pipe_t *pipe, store_t *st, const char *body)
{
    carbs_err_t err = {0};
    int64_t sweep = 0;
    char *json = NULL, *out = NULL;
    size_t cap;
    int rc, n;

    if (sscanf(body, "%" SCNd64, &sweep) != 1)
        rc = carbs_fail(&err, CARBS_EPROTO, "laws: a malformed request '%.40s'", body);
    else
        rc = laws_data_refit_json(st, sweep, true, &json, &err);
    if (rc == 0) {
        cap = strlen(json) + 32;
        out = carbs_malloc(cap);
        if (out) {
            n = snprintf(out, cap, "%" PRId64 " %s", sweep, json);
            actor_pipe_send(pipe, "LAW", out, (size_t)n, NULL);
        } else {
            rc = carbs_fail(&err, CARBS_ENOMEM, "laws: out of memory for the fit's JSON");
        }
    }
    if (rc) {
        char msg[32 + sizeof(err.msg)];
        n = snprintf(msg, sizeof(msg), "%" PRId64 " %d %s", sweep, rc, err.msg);
        actor_pipe_send(pipe, "FAIL", msg, (size_t)n, NULL);
    }
    free(out);
    free(json);
}

/* arg: the store's path, read before ready. */
static void laws_main(actor_pipe_t *pipe, void *arg)
{
    laws_data_actor_loop(pipe, arg, "FULL", fit_full);
}

// ---- the owner ----

laws_actor_t *laws_actor_new(const char *db_path, int every, carbs_err_t *err)
{
    laws_actor_t *la = xcalloc(1, sizeof(*la));
    char *path = xstrdup(db_path); /* the actor's until it is ready */

    la->every = every > 0 ? every : LAWS_ACTOR_EVERY;
    la->actor = actor_new(laws_main, path, err);
    free(path);
    if (!la->actor) {
        carbs_err_prefix(err, "the scaling-law actor");
        free(la);
        return NULL;
    }
    return la;
}

static sweep_count_t *find_count(laws_actor_t *la, int64_t sweep)
{
    for (size_t i = 0; i < la->counts.n; i++)
        if (la->counts.v[i].sweep == sweep)
            return &la->counts.v[i];
    return NULL;
}

/* Take the full fit's answer if it came within timeout_ms (negative: wait
 * for it) and store a fit with st.  Returns 1 when one was stored. */
static int collect(laws_actor_t *la, store_t *st, int timeout_ms)
{
    carbs_err_t err = {0};
    actor_msg_t m;
    int64_t sweep = 0;
    int code = 0, off = 0, stored = 0;
    int rc;

    if (!la->busy)
        return 0;
    rc = actor_recv(la->actor, &m, timeout_ms, &err);
    if (rc == CARBS_ETIMEDOUT)
        return 0;
    la->busy = false;
    if (rc) {
        log_warn("laws: a full fit was lost: %s", err.msg);
        return 0;
    }
    if (strcmp(m.cmd, "LAW") == 0 && sscanf(m.body, "%" SCNd64 " %n", &sweep, &off) == 1 && off) {
        const sweep_count_t *c = find_count(la, sweep);
        if (!st) {
            /* nowhere to store it */
        } else if (c && c->since_full > 0) {
            /* Results came after it was asked for, and the cheap fit of
             * each is already stored: the newer data wins over the fuller
             * fit of older data.  The next full fit catches up. */
            log_debug("laws: the full fit of sweep %" PRId64 " is older than the stored one: "
                      "dropped", sweep);
        } else if (store_law_put(st, sweep, m.body + off, &err) == 0) {
            la->n_full++;
            stored = 1;
        } else {
            log_warn("laws: cannot store the full fit of sweep %" PRId64 ": %s", sweep, err.msg);
        }
    } else if (strcmp(m.cmd, "FAIL") == 0 &&
               sscanf(m.body, "%" SCNd64 " %d %n", &sweep, &code, &off) == 2 && off) {
        if (code != CARBS_ESTATE)
            log_warn("laws: the full fit of sweep %" PRId64 " failed: %s", sweep, m.body + off);
    } else {
        log_warn("laws: the actor sent an unexpected %s", m.cmd);
    }
    actor_msg_release(&m);
    return stored;
}

static sweep_count_t *count_of(laws_actor_t *la, int64_t sweep)
{
    sweep_count_t c = {.sweep = sweep};
    sweep_count_t *have = find_count(la, sweep);

    if (have)
        return have;
    if (DA_PUSH(&la->counts, c))
        return NULL;
    return &la->counts.v[la->counts.n - 1];
}

int laws_actor_after_result(laws_actor_t *la, store_t *st, int64_t sweep_id, carbs_err_t *err)
{
    int rc = laws_data_refit_store(st, sweep_id, false, err);
    sweep_count_t *c;

    c = count_of(la, sweep_id);
    if (c)
        c->since_full++; /* before collect: this result's cheap fit is stored */
    collect(la, st, 0);
    if (!c)
        return rc;
    /* Not before the cheap fit has data: a full fit would say the same. */
    if (rc == 0 && c->since_full >= la->every && !la->busy) {
        carbs_err_t e = {0};
        char body[32];
        int n = snprintf(body, sizeof(body), "%" PRId64, sweep_id);
        if (actor_send(la->actor, "FULL", body, (size_t)n, &e) == 0) {
            la->busy = true;
            c->since_full = 0;
        } else {
            log_warn("laws: cannot start the full fit of sweep %" PRId64 ": %s", sweep_id, e.msg);
        }
    }
    return rc;
}

int laws_actor_poll(laws_actor_t *la, store_t *st)
{
    return la ? collect(la, st, 0) : 0;
}

size_t laws_actor_n_full(const laws_actor_t *la)
{
    return la ? la->n_full : 0;
}

void laws_actor_free(laws_actor_t *la, store_t *st)
{
    if (!la)
        return;
    while (la->busy)
        collect(la, st, -1);
    actor_free(la->actor);
    DA_FREE(&la->counts);
    free(la);
}
