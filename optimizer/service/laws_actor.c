/*
 * laws_bg.c - see laws_bg.h.  One background thread at a time: a sweep
 * that comes due while another sweep's fit runs waits for the next result
 * after it finishes.  The thread touches only its own store connection and
 * the job fields below; the event loop reads them after `done` is set
 * (release/acquire), and joins the thread before starting another.
 */
#include "proto/common.h"
#include "optimizer/service/laws_actor.h"

#include <pthread.h>
#include <stdatomic.h>

#include "proto/log.h"
#include "optimizer/service/laws_data.h"

typedef struct sweep_count {
    int64_t sweep;
    int since_full; /* results since the last full fit started */
} sweep_count_t;

struct laws_bg {
    char *db;
    int every;
    sweep_count_t *counts;
    size_t n_counts;
    size_t n_full;
    /* the job */
    bool running;
    pthread_t th;
    atomic_bool done;
    int64_t job_sweep;
    char *job_json;
    int job_rc;
    carbs_err_t job_err;
};

laws_bg_t *laws_bg_new(const char *db_path, int every)
{
    laws_bg_t *bg = calloc(1, sizeof(*bg));

    if (!bg)
        return NULL;
    bg->db = strdup(db_path);
    if (!bg->db) {
        free(bg);
        return NULL;
    }
    bg->every = every > 0 ? every : LAWS_BG_EVERY;
    atomic_init(&bg->done, false);
    return bg;
}

static void *job_main(void *arg)
{
    laws_bg_t *bg = arg;
    store_t *st = store_open(bg->db, STORE_READONLY, &bg->job_err);

    bg->job_rc = st ? laws_data_refit_json(st, bg->job_sweep, true, &bg->job_json, &bg->job_err)
                    : bg->job_err.code;
    store_close(st);
    atomic_store_explicit(&bg->done, true, memory_order_release);
    return NULL;
}

/* Join a finished (or, with wait, a running) job; store its fit with st. */
static int job_collect(laws_bg_t *bg, store_t *st, bool wait)
{
    carbs_err_t err = {0};
    int stored = 0;

    if (!bg->running)
        return 0;
    if (!wait && !atomic_load_explicit(&bg->done, memory_order_acquire))
        return 0;
    pthread_join(bg->th, NULL);
    bg->running = false;
    if (bg->job_rc == 0 && st) {
        if (store_law_put(st, bg->job_sweep, bg->job_json, &err) == 0) {
            bg->n_full++;
            stored = 1;
        } else {
            log_warn("laws: cannot store the full fit of sweep %lld: %s",
                     (long long)bg->job_sweep, err.msg);
        }
    } else if (bg->job_rc && bg->job_rc != CARBS_ESTATE) {
        log_warn("laws: the full fit of sweep %lld failed: %s", (long long)bg->job_sweep,
                 bg->job_err.msg);
    }
    free(bg->job_json);
    bg->job_json = NULL;
    return stored;
}

static sweep_count_t *count_of(laws_bg_t *bg, int64_t sweep)
{
    sweep_count_t *grown;

    for (size_t i = 0; i < bg->n_counts; i++)
        if (bg->counts[i].sweep == sweep)
            return &bg->counts[i];
    grown = realloc(bg->counts, (bg->n_counts + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    bg->counts = grown;
    bg->counts[bg->n_counts] = (sweep_count_t){.sweep = sweep};
    return &bg->counts[bg->n_counts++];
}

int laws_bg_after_result(store_t *st, int64_t sweep_id, void *ctx, carbs_err_t *err)
{
    laws_bg_t *bg = ctx;
    int rc = laws_data_refit_store(st, sweep_id, false, err);
    sweep_count_t *c;

    job_collect(bg, st, false);
    c = count_of(bg, sweep_id);
    if (!c)
        return rc;
    c->since_full++;
    /* Not before the cheap fit has data: a full fit would say the same. */
    if (rc == 0 && c->since_full >= bg->every && !bg->running) {
        bg->job_sweep = sweep_id;
        bg->job_json = NULL;
        bg->job_rc = 0;
        memset(&bg->job_err, 0, sizeof(bg->job_err));
        atomic_store_explicit(&bg->done, false, memory_order_relaxed);
        if (pthread_create(&bg->th, NULL, job_main, bg) == 0) {
            bg->running = true;
            c->since_full = 0;
        } else {
            log_warn("laws: cannot start the full fit of sweep %lld", (long long)sweep_id);
        }
    }
    return rc;
}

int laws_bg_poll(laws_bg_t *bg, store_t *st)
{
    return bg ? job_collect(bg, st, false) : 0;
}

size_t laws_bg_n_full(const laws_bg_t *bg)
{
    return bg ? bg->n_full : 0;
}

void laws_bg_free(laws_bg_t *bg, store_t *st)
{
    if (!bg)
        return;
    job_collect(bg, st, true);
    free(bg->counts);
    free(bg->db);
    free(bg);
}
