/*
 * test_runner.c - trials in a forked child: synthetic trials with progress
 * and a curve, a crashing child (the parent survives and reports infra),
 * a hanging child stopped by the time limit and by a cancel, command
 * trials through the child, a result without the trial's metric, two trials at once, and the start
 * errors.
 */
#include "proto/common.h"
#include "worker/runner.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "worker/synthetic.h"

static char script_dir[512];

/* A sphere trial at x1; with fail_kind, one that always fails that way. */
static void sphere_trial(proto_msg_t *m, int64_t id, double x1, const char *fail_kind)
{
    fx_trial_init(m, id, PROTO_TRAINER_SYNTHETIC);
    snprintf(m->trial.synthetic.function, sizeof(m->trial.synthetic.function), "sphere");
    CHECK_EQ(carbs_params_set_num(&m->trial.params, "x1", x1), 0);
    if (fail_kind) {
        CHECK_EQ(carbs_params_set_num(&m->trial.fixed, "fail_rate", 1.0), 0);
        CHECK_EQ(carbs_params_set_str(&m->trial.fixed, "fail_kind", fail_kind), 0);
    }
}

/* A command trial running `sh tests/data/command/SCRIPT`. */
static void script_trial(proto_msg_t *m, int64_t id, const char *script)
{
    char path[640];

    fx_trial_init(m, id, PROTO_TRAINER_COMMAND);
    snprintf(path, sizeof(path), "%s/%s", script_dir, script);
    CHECK_EQ(DA_PUSH(&m->trial.argv, xstrdup("sh")), 0);
    CHECK_EQ(DA_PUSH(&m->trial.argv, xstrdup(path)), 0);
}

/* Poll a cancelled run until it ends (bounded by 30 s from t0). */
static int wait_end(runner_t *run, double t0)
{
    carbs_err_t err = {0};
    proto_progress_t p;
    bool has;
    int rc = CARBS_CONTINUE;

    while (rc == CARBS_CONTINUE && now_monotonic() - t0 < 30.0)
        rc = runner_poll(run, -1, &p, &has, &err);
    return rc;
}

static void test_runner_synthetic(void)
{
    proto_msg_t m;
    runner_config_t cfg = {0};
    carbs_result_t r;
    fx_progress_t pl = {0};
    double secs, cost = exp((1.25 + 5.0) / 15.0 + 8.5 / 15.0);

    fx_trial_init(&m, 101, PROTO_TRAINER_SYNTHETIC);
    snprintf(m.trial.synthetic.function, sizeof(m.trial.synthetic.function), "branin");
    m.trial.synthetic.seconds_per_cost = 0.3 / cost; /* 0.3 s in all */
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "x", 1.25), 0);
    CHECK_EQ(carbs_params_set_num(&m.trial.fixed, "y", 8.5), 0);
    secs = fx_run_trial(&cfg, &m.trial, &r, &pl);
    CHECK(secs >= 0.29);
    CHECK(r.ok);
    CHECK_EQ(r.trial_id, 101);
    CHECK_EQ(r.attempt, 1);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], synthetic_branin(1.25, 8.5), 0.0);
    CHECK_NEAR(carbs_result_get(&r, "cost_units"), cost, 1e-12);
    /* Measured figures fill what the trial did not report. */
    CHECK(r.metric[CARBS_METRIC_WALL_SECONDS] >= 0.29);
    CHECK(r.metric[CARBS_METRIC_WALL_SECONDS] < 30.0);
    CHECK(r.metric[CARBS_METRIC_CPU_SECONDS] >= 0.0);
    CHECK_NEAR(r.metric[CARBS_METRIC_DEVICE_SECONDS], r.metric[CARBS_METRIC_CPU_SECONDS], 0.0);
    CHECK(r.metric[CARBS_METRIC_PEAK_RSS_BYTES] > 1e5);
    /* The curve has every step; progress is throttled. */
    CHECK_EQ(r.curve.n, RUNNER_SYNTHETIC_STEPS);
    if (r.curve.n == RUNNER_SYNTHETIC_STEPS) {
        CHECK_NEAR(r.curve.v[r.curve.n - 1].loss, synthetic_branin(1.25, 8.5), 1e-12);
        CHECK_EQ(r.curve.v[0].step, 1);
    }
    CHECK(pl.n >= 1);
    CHECK(pl.n <= RUNNER_SYNTHETIC_STEPS);
    for (size_t i = 0; i < pl.n; i++) {
        CHECK_EQ(pl.v[i].trial_id, 101);
        CHECK(pl.v[i].elapsed_seconds >= 0.0);
        if (i > 0) CHECK(pl.v[i].step > pl.v[i - 1].step);
    }
    if (pl.n > 0) CHECK_EQ(pl.v[pl.n - 1].step, RUNNER_SYNTHETIC_STEPS);
    DA_FREE(&pl);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

static void test_runner_synthetic_failures(void)
{
    proto_msg_t m;
    runner_config_t cfg = {0};
    carbs_result_t r;

    /* A hyperparameter failure: no output, but the cost. */
    sphere_trial(&m, 102, 0.875, NULL);
    CHECK_EQ(carbs_params_set_num(&m.trial.synthetic.fail_above, "x1", 0.5), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_DIVERGED);
    CHECK(strstr(r.message, "'x1' = 0.875 is above fail_above 0.5") != NULL);
    CHECK(isnan(r.metric[CARBS_METRIC_VAL_LOSS]));
    CHECK_NEAR(carbs_result_get(&r, "cost_units"), exp(0.875), 1e-12);
    carbs_result_release(&r);
    proto_msg_release(&m);

    /* A config the function cannot use. */
    fx_trial_init(&m, 103, PROTO_TRAINER_SYNTHETIC);
    snprintf(m.trial.synthetic.function, sizeof(m.trial.synthetic.function), "branin");
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "x", 0.5), 0);
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK(strstr(r.message, "needs parameter 'y'") != NULL);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

static void test_runner_crash(void)
{
    proto_msg_t m;
    runner_config_t cfg = {0};
    carbs_result_t r;

    sphere_trial(&m, 104, 0.25, "crash");
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_INFRA);
    CHECK(strstr(r.message, "died by signal 6") != NULL);
    CHECK_EQ(r.trial_id, 104);
    CHECK(r.metric[CARBS_METRIC_WALL_SECONDS] >= 0.0);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

static void test_runner_time_limit(void)
{
    proto_msg_t m;
    runner_config_t cfg = {.time_limit_s = 0.5, .kill_grace_s = 1.0};
    carbs_result_t r;
    double secs;

    sphere_trial(&m, 105, 0.25, "hang");
    secs = fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK_STR(r.message, "time limit of 0.5 s exceeded");
    CHECK(secs >= 0.49);
    CHECK(secs < 10.0);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

static bool pid_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno != ESRCH;
}

static void test_runner_cancel(void)
{
    proto_msg_t m;
    runner_config_t cfg = {.kill_grace_s = 0.5};
    carbs_err_t err = {0};
    carbs_result_t r;
    runner_t *run;
    proto_progress_t p;
    bool has;
    double t0 = now_monotonic();
    pid_t pid;

    sphere_trial(&m, 106, 0.25, "hang");
    run = runner_start(&cfg, &m.trial, &err);
    CHECK(run != NULL);
    if (!run) return;
    pid = runner_pid(run);
    CHECK_EQ(runner_poll(run, 50, &p, &has, &err), CARBS_CONTINUE);
    CHECK_EQ(runner_result(run, &r), CARBS_ESTATE);
    runner_cancel(run, CARBS_FAILURE_PREEMPTED, "the worker is stopping");
    runner_cancel(run, CARBS_FAILURE_ERROR, "ignored: already cancelled");
    CHECK_EQ(wait_end(run, t0), 0);
    CHECK_EQ(runner_result(run, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_PREEMPTED);
    CHECK_STR(r.message, "the worker is stopping");
    CHECK(!pid_alive(pid));
    carbs_result_release(&r);
    runner_free(run);

    /* runner_free kills a running child. */
    run = runner_start(&cfg, &m.trial, &err);
    CHECK(run != NULL);
    if (run) {
        pid = runner_pid(run);
        runner_free(run);
        CHECK(!pid_alive(pid));
    }
    runner_free(NULL);
    proto_msg_release(&m);
}

static void test_runner_command(void)
{
    proto_msg_t m;
    runner_config_t cfg = {.device = "cpu"};
    carbs_result_t r;
    fx_progress_t pl = {0};

    script_trial(&m, 107, "progress.sh");
    fx_run_trial(&cfg, &m.trial, &r, &pl);
    CHECK(r.ok);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 3.0625, 0.0);
    CHECK_EQ(r.curve.n, 40);
    if (r.curve.n == 40) CHECK_EQ(r.curve.v[39].step, 1000);
    CHECK(pl.n >= 1 && pl.n <= 40);
    if (pl.n > 0) CHECK_EQ(pl.v[pl.n - 1].step, 1000);
    DA_FREE(&pl);
    carbs_result_release(&r);

    /* The trial's metric is missing from an ok result. */
    snprintf(m.trial.metric, sizeof(m.trial.metric), "mcq_acc");
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK_STR(r.message, "the result has no metric 'mcq_acc'");
    carbs_result_release(&r);
    proto_msg_release(&m);

    script_trial(&m, 108, "crash.sh");
    fx_run_trial(&cfg, &m.trial, &r, NULL);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_INFRA);
    CHECK(strstr(r.message, "killed by signal 11") != NULL);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

/* More progress than a curve keeps: every other point goes, in order. */
static void test_runner_long_curve(void)
{
    proto_msg_t m;
    carbs_result_t r;
    fx_progress_t pl = {0};

    script_trial(&m, 120, "many.sh");
    fx_run_trial(NULL, &m.trial, &r, &pl);
    CHECK(r.ok);
    CHECK(r.curve.n >= RUNNER_CURVE_MAX / 2);
    CHECK(r.curve.n < RUNNER_CURVE_MAX);
    if (r.curve.n > 0) {
        CHECK_EQ(r.curve.v[0].step, 1);
        CHECK_NEAR(r.curve.v[0].tokens, 64.0, 0.0);
    }
    for (size_t i = 1; i < r.curve.n; i++) {
        CHECK(r.curve.v[i].step > r.curve.v[i - 1].step);
        CHECK_EQ(r.curve.v[i].step - r.curve.v[i - 1].step, r.curve.v[1].step - r.curve.v[0].step);
        CHECK_NEAR(r.curve.v[i].loss, 5.0 - (double)r.curve.v[i].step / 2000.0, 1e-4);
    }
    /* Throttled: far fewer reports than lines, the last one included. */
    CHECK(pl.n >= 1 && pl.n < 1000);
    if (pl.n > 0) CHECK_EQ(pl.v[pl.n - 1].step, 5000);
    DA_FREE(&pl);
    carbs_result_release(&r);
    proto_msg_release(&m);
}

/* True when dir has no entries but . and .. */
static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (!d) return false;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n == 0;
}

static void test_runner_command_cancel(void)
{
    proto_msg_t m;
    char tmpl[] = "/tmp/carbs-test-runner-XXXXXX";
    const char *tmp = mkdtemp(tmpl);
    runner_config_t cfg = {.kill_grace_s = 0.5, .tmp_dir = tmp};
    carbs_err_t err = {0};
    carbs_result_t r;
    runner_t *run;
    proto_progress_t p;
    bool has;
    double t0 = now_monotonic();

    script_trial(&m, 109, "timeout.sh");
    run = runner_start(&cfg, &m.trial, &err);
    CHECK(run != NULL);
    if (!run) return;
    /* Give the child time to start the program, then stop everything. */
    runner_poll(run, 300, &p, &has, &err);
    CHECK(!dir_empty(tmp)); /* the trial's directory */
    runner_cancel(run, CARBS_FAILURE_PREEMPTED, "preempted");
    CHECK_EQ(wait_end(run, t0), 0);
    CHECK(now_monotonic() - t0 < 10.0);
    CHECK_EQ(runner_result(run, &r), 0);
    CHECK_EQ(r.failure, CARBS_FAILURE_PREEMPTED);
    carbs_result_release(&r);
    runner_free(run);
    /* The child died before it could clean up; the runner did. */
    CHECK(dir_empty(tmp));
    if (tmp) rmdir(tmp);
    proto_msg_release(&m);
}

static void test_runner_two_at_once(void)
{
    proto_msg_t a, b;
    runner_config_t cfg = {0};
    carbs_err_t err = {0};
    runner_t *ra, *rb;
    carbs_result_t res_a, res_b;
    int rc_a = CARBS_CONTINUE, rc_b = CARBS_CONTINUE;
    double t0 = now_monotonic();

    sphere_trial(&a, 111, 0.375, NULL);
    sphere_trial(&b, 112, -1.625, NULL);
    a.trial.synthetic.seconds_per_cost = b.trial.synthetic.seconds_per_cost = 0.1;
    ra = runner_start(&cfg, &a.trial, &err);
    rb = runner_start(&cfg, &b.trial, &err);
    CHECK(ra && rb);
    while (ra && rb && (rc_a == CARBS_CONTINUE || rc_b == CARBS_CONTINUE) &&
           now_monotonic() - t0 < 30.0) {
        proto_progress_t p;
        bool has;
        rc_a = runner_poll(ra, 20, &p, &has, &err);
        if (has) CHECK_EQ(p.trial_id, 111);
        rc_b = runner_poll(rb, 20, &p, &has, &err);
        if (has) CHECK_EQ(p.trial_id, 112);
    }
    if (ra && rb) {
        CHECK_EQ(runner_result(ra, &res_a), 0);
        CHECK_EQ(runner_result(rb, &res_b), 0);
        CHECK_NEAR(res_a.metric[CARBS_METRIC_VAL_LOSS], 0.375 * 0.375, 0.0);
        CHECK_NEAR(res_b.metric[CARBS_METRIC_VAL_LOSS], 1.625 * 1.625, 0.0);
        carbs_result_release(&res_a);
        carbs_result_release(&res_b);
    }
    runner_free(ra);
    runner_free(rb);
    proto_msg_release(&a);
    proto_msg_release(&b);
}

static void test_runner_start_errors(void)
{
    proto_msg_t m;
    carbs_err_t err = {0};

    fx_trial_init(&m, 113, PROTO_TRAINER_COMMAND);
    CHECK(runner_start(NULL, &m.trial, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "argv") != NULL);
    proto_msg_release(&m);
    fx_trial_init(&m, 114, PROTO_TRAINER_SYNTHETIC);
    CHECK(runner_start(NULL, &m.trial, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "function") != NULL);
    proto_msg_release(&m);
}

int main(void)
{
    const char *root = getenv("CARBS_SOURCE_ROOT");

    snprintf(script_dir, sizeof(script_dir), "%s/tests/data/command", root ? root : "..");
    FX_USE_CHECK();
    RUN(test_runner_synthetic);
    RUN(test_runner_synthetic_failures);
    RUN(test_runner_crash);
    RUN(test_runner_time_limit);
    RUN(test_runner_cancel);
    RUN(test_runner_command);
    RUN(test_runner_long_curve);
    RUN(test_runner_command_cancel);
    RUN(test_runner_two_at_once);
    RUN(test_runner_start_errors);
    return check_summary();
}
