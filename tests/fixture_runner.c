/*
 * fixture_runner.c - tests/fixture.h's trial run through the runner child.
 */
#include "proto/common.h"
#include "tests/fixture.h"

void fx_trial_init(proto_msg_t *m, int64_t id, proto_trainer_t kind)
{
    proto_msg_init(m, PROTO_MSG_TRIAL);
    m->trial.trial_id = id;
    m->trial.sweep_id = 4;
    m->trial.attempt = 1;
    m->trial.trainer = kind;
    m->trial.lease_ms = 60000;
    snprintf(m->trial.metric, sizeof(m->trial.metric), "val_loss");
    snprintf(m->trial.cost, sizeof(m->trial.cost), "cost_units");
}

double fx_run_trial(const runner_config_t *cfg, const proto_trial_t *t, carbs_result_t *r,
                    fx_progress_t *pl)
{
    carbs_err_t err = {0};
    runner_t *run = runner_start(cfg, t, &err);
    double t0 = now_monotonic();
    int rc = CARBS_CONTINUE;
    carbs_result_t again;

    carbs_result_init(r);
    if (!run) {
        fx_fail("runner_start of trial %lld: %s", (long long)t->trial_id, err.msg);
        return 0;
    }
    if (runner_pid(run) <= 0 || runner_trial_id(run) != t->trial_id ||
        runner_attempt(run) != t->attempt)
        fx_fail("a started runner: pid %ld, trial %lld attempt %d", (long)runner_pid(run),
                (long long)runner_trial_id(run), runner_attempt(run));
    while (rc == CARBS_CONTINUE && now_monotonic() - t0 < 60.0) {
        proto_progress_t p;
        bool has = false;
        rc = runner_poll(run, 500, &p, &has, &err);
        if (has && pl && DA_PUSH(pl, p))
            fx_fail("out of memory");
    }
    if (rc)
        fx_fail("runner_poll of trial %lld: %d %s", (long long)t->trial_id, rc, err.msg);
    if (runner_pid(run) != 0 || runner_fd(run) != -1)
        fx_fail("a finished runner: pid %ld, fd %d", (long)runner_pid(run), runner_fd(run));
    if (runner_result(run, r))
        fx_fail("no result of trial %lld", (long long)t->trial_id);
    if (runner_result(run, &again) != CARBS_ESTATE)
        fx_fail("a second result of trial %lld", (long long)t->trial_id);
    runner_free(run);
    return now_monotonic() - t0;
}
