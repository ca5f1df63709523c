/*
 * test_laws_data.c - optimizer/service/laws_data.c against a real store in a temp dir:
 * gathering trials (basic coordinates, N and D from the metrics or the
 * params, failures and unfinished trials left out), the names the fit
 * gets, laws_data_refit_store() appending a fit that reads back, and the
 * not-enough-data answer that stores nothing.
 */
#include "proto/common.h"
#include "optimizer/service/laws_data.h"

#include <math.h>
#include <unistd.h>

#include "optimizer/service/laws_actor.h"
#include "optimizer/space.h"
#include "proto/json.h"
#include "tests/check.h"

static const char sweep_yaml[] =
    "name: laws-data\n"
    "metric: {name: loss, goal: minimize}\n"
    "cost: {name: flops}\n"
    "trainer: command\n"
    "command: [python3, train.py]\n"
    "scaling: {model_size: n_params, tokens: tokens}\n"
    "parameters:\n"
    "  n_params: {space: log, min: 1e5, max: 1e10, center: 1e7}\n"
    "  warmup_frac: {space: logit, min: 0.001, max: 0.5, center: 0.05}\n"
    "  decay: {values: [cosine, linear]}\n"
    "carbs: {seed: 23}\n";

typedef struct fixture {
    char dir[64];
    char path[96];
    store_t *st;
    sweep_spec_t spec;
    int64_t sweep_id;
} fixture_t;

static int fixture_open(fixture_t *f)
{
    carbs_err_t err = {0};
    char *json = NULL;
    int rc;

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/carbs-laws-data.XXXXXX");
    if (!mkdtemp(f->dir))
        return CARBS_EIO;
    snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
    f->st = store_open(f->path, STORE_CREATE, &err);
    rc = f->st ? 0 : err.code;
    if (!rc)
        rc = sweep_spec_parse(sweep_yaml, strlen(sweep_yaml), "laws.yaml", &f->spec, &err);
    if (!rc)
        rc = sweep_spec_to_json(&f->spec, &json, &err);
    if (!rc)
        rc = store_sweep_create(f->st, "laws-data", json, &f->sweep_id, &err);
    free(json);
    if (rc)
        fprintf(stderr, "fixture: %s\n", err.msg);
    return rc;
}

static void fixture_close(fixture_t *f)
{
    store_close(f->st);
    sweep_spec_release(&f->spec);
    unlink(f->path);
    {
        char p[128];
        snprintf(p, sizeof(p), "%s/s.db-wal", f->dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/s.db-shm", f->dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/s.db.lock", f->dir);
        unlink(p);
    }
    rmdir(f->dir);
}

/* Add one finished trial: N in params, tokens in the metrics (so both
 * lookups are used), warmup_frac and decay in params. */
static int add_trial(fixture_t *f, double N, double D, double warm, bool ok, double loss)
{
    carbs_params_t ps = {0};
    carbs_result_t r;
    char *pj = NULL, *mj = NULL;
    int64_t id = 0;
    carbs_err_t err = {0};
    int rc;

    carbs_result_init(&r);
    r.ok = ok;
    r.failure = ok ? CARBS_FAILURE_NONE : CARBS_FAILURE_DIVERGED;
    r.metric[CARBS_METRIC_TOKENS] = D;
    rc = carbs_params_set_num(&ps, "n_params", N);
    if (!rc)
        rc = carbs_params_set_num(&ps, "warmup_frac", warm);
    if (!rc)
        rc = carbs_params_set_str(&ps, "decay", "linear");
    if (!rc)
        rc = proto_params_to_json(&ps, &pj, &err);
    if (!rc)
        rc = proto_result_to_json(&r, 0, &mj, &err);
    store_trial_new_t tn = {.sweep_id = f->sweep_id, .params_json = pj, .pred_output = NAN,
                            .pred_cost = NAN};
    if (!rc)
        rc = store_trial_add(f->st, &tn, &id, &err);
    if (!rc)
        rc = store_trial_claim(f->st, id, "w-1", 1e12, NULL, &err);
    store_result_t res = {.trial_id = id, .ok = ok, .failure = r.failure,
                          .output = ok ? loss : NAN, .cost = 6.0 * N * D, .metrics_json = mj};
    if (!rc)
        rc = store_trial_finish(f->st, &res, NULL, 0, NULL, &err);
    if (rc)
        fprintf(stderr, "add_trial: %s\n", err.msg);
    free(pj);
    free(mj);
    carbs_params_release(&ps);
    carbs_result_release(&r);
    return rc;
}

static double surface(double N, double D)
{
    return 1.69 + 406.4 * pow(N, -0.34) + 410.7 * pow(D, -0.28);
}

static void test_laws_data_gather_and_refit(void)
{
    fixture_t f;
    laws_data_t d;
    laws_t l;
    carbs_err_t err = {0};
    char *json = NULL;
    double at = 0.0;

    if (fixture_open(&f)) {
        CHECK(0);
        return;
    }
    /* 30 trials over a grid of N and D, the warmup on a line in ln cost,
     * every 7th diverged; one trial left pending (not gathered) */
    for (size_t i = 0; i < 30; i++) {
        double N = 1e6 * pow(10.0, 0.1 * (double)(i % 10) + 0.05 * (double)(i / 10));
        double D = 2e8 * pow(10.0, 0.13 * (double)(i % 7) + 0.41 * (double)(i / 10));
        double warm = 0.01 * pow(6.0 * N * D / 1e15, 0.07);
        CHECK_EQ(add_trial(&f, N, D, warm, i % 7 != 3, surface(N, D)), 0);
    }
    store_trial_new_t pending = {.sweep_id = f.sweep_id, .params_json = "{\"n_params\":5}",
                                 .pred_output = NAN, .pred_cost = NAN};
    CHECK_EQ(store_trial_add(f.st, &pending, NULL, &err), 0);

    CHECK_EQ(laws_data_gather(f.st, f.sweep_id, &f.spec, &d, &err), 0);
    CHECK_EQ(d.n, 26); /* i = 3, 10, 17 and 24 diverged */
    CHECK_EQ(d.d, 2);     /* n_params and warmup_frac; the categorical has no line */
    CHECK_STR(d.model_size, "n_params");
    if (d.n) {
        const carbs_param_t *p = carbs_space_find(&f.spec.parameters, "n_params");
        CHECK_NEAR(d.u[0], space_param_to_basic(p, 1e6), 1e-12);
        CHECK_NEAR(d.n_params[0], 1e6, 1e-6);
        CHECK_NEAR(d.tokens[0], 2e8, 1e-3);
    }
    CHECK_EQ(laws_data_fit(&d, &f.spec, false, NULL, &l, &err), 0);
    CHECK_STR(l.metric, "loss");
    CHECK_STR(l.cost, "flops");
    CHECK_STR(l.lines[0].name, "n_params");
    CHECK_STR(l.lines[1].name, "warmup_frac");
    CHECK(isfinite(l.lines[0].exponent));
    CHECK(isnan(l.lines[1].exponent)); /* a logit parameter has no power law */
    CHECK_EQ(l.nd.status, 0);
    CHECK_NEAR(l.nd.alpha, 0.34, 1e-4);
    CHECK_NEAR(l.nd.beta, 0.28, 1e-4);
    laws_release(&l);
    laws_data_release(&d);

    /* the service's call: a cheap fit appended to the store, read back */
    CHECK_EQ(store_law_get(f.st, f.sweep_id, &json, NULL, &err), CARBS_ENOTFOUND);
    CHECK_EQ(laws_data_refit_store(f.st, f.sweep_id, false, &err), 0);
    CHECK_EQ(store_law_get(f.st, f.sweep_id, &json, &at, &err), 0);
    CHECK(at > 1.7e9);
    if (json) {
        CHECK_EQ(laws_from_json(json, &l, &err), 0);
        CHECK(!l.full);
        CHECK_EQ(l.n_trials, 26);
        CHECK_STR(l.nd.tokens, "tokens");
        laws_release(&l);
        free(json);
        json = NULL;
    }
    CHECK_EQ(laws_data_refit_store(f.st, f.sweep_id, true, &err), 0);
    CHECK_EQ(store_law_get(f.st, f.sweep_id, &json, NULL, &err), 0);
    if (json) {
        CHECK_EQ(laws_from_json(json, &l, &err), 0);
        CHECK(l.full);
        CHECK(l.loss.n_boot > 0);
        laws_release(&l);
        free(json);
    }
    CHECK_EQ(laws_data_refit_store(f.st, 999, false, &err), CARBS_ENOTFOUND);
    fixture_close(&f);
}

static void test_laws_data_not_enough(void)
{
    fixture_t f;
    carbs_err_t err = {0};
    char *json = NULL;

    if (fixture_open(&f)) {
        CHECK(0);
        return;
    }
    CHECK_EQ(laws_data_refit_store(f.st, f.sweep_id, true, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "not enough data") != NULL);
    CHECK_EQ(add_trial(&f, 3e6, 4e8, 0.02, true, 4.1), 0);
    CHECK_EQ(add_trial(&f, 5e6, 7e8, 0.03, true, 3.9), 0);
    CHECK_EQ(laws_data_refit_store(f.st, f.sweep_id, false, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "2 pareto points") != NULL);
    CHECK_EQ(store_law_get(f.st, f.sweep_id, &json, NULL, &err), CARBS_ENOTFOUND);
    fixture_close(&f);
}

/* The latest stored fit: full or cheap, and its number of trials. */
static bool latest_fit(fixture_t *f, bool *full, size_t *n_trials)
{
    carbs_err_t err = {0};
    char *json = NULL;
    laws_t l = {0};
    bool ok = store_law_get(f->st, f->sweep_id, &json, NULL, &err) == 0 &&
              laws_from_json(json, &l, &err) == 0;

    if (ok) {
        *full = l.full;
        *n_trials = l.n_trials;
    }
    laws_release(&l);
    free(json);
    return ok;
}

/* The service's refits (optimizer/service/laws_actor.c): a cheap fit
 * stored after each result, a full one every 3rd result built by the actor
 * and stored by poll; nothing starts before there is enough data. */
static void test_laws_data_background_refits(void)
{
    fixture_t f;
    carbs_err_t err = {0};
    laws_actor_t *la;
    bool full = true;
    size_t n = 0;
    double end;

    if (fixture_open(&f)) {
        CHECK(0);
        return;
    }
    la = laws_actor_new(f.path, 3, &err);
    CHECK(la != NULL);
    if (!la) {
        fixture_close(&f);
        return;
    }
    /* two results: not enough data, no fit, no job */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(add_trial(&f, 1e6 * (i + 1), 1e9 * (i + 1), 0.02, true, 4.0 - 0.2 * i), 0);
        CHECK_EQ(laws_actor_after_result(la, f.st, f.sweep_id, &err), CARBS_ESTATE);
    }
    CHECK_EQ(laws_actor_poll(la, f.st), 0);
    CHECK(!latest_fit(&f, &full, &n));
    /* the third point is enough: a cheap fit now, and the full job starts */
    CHECK_EQ(add_trial(&f, 4e6, 4e9, 0.02, true, 3.5), 0); /* on the front */
    CHECK_EQ(laws_actor_after_result(la, f.st, f.sweep_id, &err), 0);
    CHECK(latest_fit(&f, &full, &n) && !full && n == 3);
    end = now_monotonic() + 30.0;
    while (laws_actor_poll(la, f.st) == 0 && now_monotonic() < end)
        usleep(10000);
    CHECK_EQ(laws_actor_n_full(la), 1);
    CHECK(latest_fit(&f, &full, &n) && full && n == 3);
    /* two more results: cheap fits only; the third starts a job that
     * laws_actor_free waits for and stores */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(add_trial(&f, 8e6 * (i + 1), 9e9 * (i + 1), 0.02, true, 3.3 - 0.1 * i), 0);
        CHECK_EQ(laws_actor_after_result(la, f.st, f.sweep_id, &err), 0);
        if (i < 2)
            CHECK(latest_fit(&f, &full, &n) && !full && n == 4 + (size_t)i);
    }
    laws_actor_free(la, f.st);
    CHECK(latest_fit(&f, &full, &n) && full && n == 6);
    laws_actor_free(NULL, f.st);
    fixture_close(&f);
    /* the actor cannot open a store that is not there: it does not start */
    memset(&err, 0, sizeof(err));
    CHECK(laws_actor_new("/nonexistent/carbs-laws.db", 0, &err) == NULL);
    CHECK(err.code != 0 && strstr(err.msg, "the scaling-law actor") != NULL);
}

/* A full fit asked for before a later result is older than the cheap fit
 * that result stored: it must not overwrite it (a `carbs run` ending
 * under load stored the full fit of 10 trials out of 24). */
static void test_laws_data_stale_full_dropped(void)
{
    fixture_t f;
    carbs_err_t err = {0};
    laws_actor_t *la;
    bool full = true;
    size_t n = 0;

    if (fixture_open(&f)) {
        CHECK(0);
        return;
    }
    la = laws_actor_new(f.path, 3, &err);
    CHECK(la != NULL);
    if (!la) {
        fixture_close(&f);
        return;
    }
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(add_trial(&f, 1e6 * (i + 1), 1e9 * (i + 1), 0.02, true, 4.0 - 0.2 * i), 0);
        laws_actor_after_result(la, f.st, f.sweep_id, &err);
    }
    /* the full fit of the first three is under way; a fourth result comes */
    CHECK_EQ(add_trial(&f, 8e6, 9e9, 0.02, true, 3.3), 0);
    CHECK_EQ(laws_actor_after_result(la, f.st, f.sweep_id, &err), 0);
    laws_actor_free(la, f.st);
    CHECK(latest_fit(&f, &full, &n) && n == 4);
    fixture_close(&f);
}

int main(void)
{
    proto_json_init();
    RUN(test_laws_data_gather_and_refit);
    RUN(test_laws_data_not_enough);
    RUN(test_laws_data_background_refits);
    RUN(test_laws_data_stale_full_dropped);
    return check_summary();
}
