/*
 * runner_child.c - the forked child that runs one trial and reports it to
 * the worker over a pipe (runner_internal.h gives the line format).
 *
 * The child puts itself in its own process group, dies with its parent,
 * restores default signal handling (so SIGTERM from the worker stops it),
 * closes every inherited descriptor but its pipe and stdio, runs the
 * trial's kind, collects the learning curve from progress, writes
 * one result line and leaves with _exit(): nothing inherited from the
 * worker (its ZeroMQ context, its atexit handlers) is touched.
 */
#include "proto/common.h"
#include "worker/runner_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "trainer/backend.h"
#include "trainer/config.h"
#include "trainer/dataset.h"
#include "trainer/prepare.h"
#include "trainer/trainer.h"
#include "worker/command.h"
#include "worker/synthetic.h"

typedef struct child {
    const runner_config_t *cfg;
    const proto_trial_t *trial;
    int fd;
    double started;       /* monotonic */
    double last_progress; /* monotonic time of the last progress line sent */
    bool pending;         /* a progress report is waiting for the throttle */
    proto_progress_t latest;
    DA_TYPE(carbs_curve_point_t) curve;
    size_t stride, seen; /* keep every stride-th point once the curve is full */
} child_t;

// ---- writing to the worker ----

/* Write all of buf; the worker gone (EPIPE) ends the child. */
static void write_all(child_t *c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(3);
        buf += w;
        n -= (size_t)w;
    }
}

static void send_line(child_t *c, char tag, const char *json, size_t len)
{
    char head[2] = {tag, ' '};

    write_all(c, head, 2);
    write_all(c, json, len);
    write_all(c, "\n", 1);
}

static void send_msg(child_t *c, char tag, const proto_msg_t *m)
{
    char *json = NULL;
    size_t len = 0;

    if (proto_msg_encode(m, &json, &len, NULL) == 0) send_line(c, tag, json, len);
    free(json);
}

static void flush_progress(child_t *c)
{
    proto_msg_t m;

    if (!c->pending) return;
    proto_msg_init(&m, PROTO_MSG_PROGRESS);
    m.progress = c->latest;
    send_msg(c, 'P', &m);
    c->pending = false;
    c->last_progress = now_monotonic();
}

/* Record a progress point in the curve and report it (throttled). */
static void progress(child_t *c, int64_t step, double tokens, double loss)
{
    carbs_curve_point_t pt = {
        .step = step, .tokens = isfinite(tokens) ? tokens : 0.0, .loss = loss};
    bool keep = c->seen % c->stride == 0;

    c->seen++;
    if (keep && DA_PUSH(&c->curve, pt) == 0 && c->curve.n >= RUNNER_CURVE_MAX) {
        /* Full: keep every other point and from now on every 2nd more. */
        size_t k = 0;
        for (size_t i = 0; i < c->curve.n; i += 2)
            c->curve.v[k++] = c->curve.v[i];
        c->curve.n = k;
        c->stride *= 2;
    }
    c->latest.trial_id = c->trial->trial_id;
    c->latest.attempt = c->trial->attempt;
    c->latest.step = step < 0 ? 0 : step;
    c->latest.tokens = pt.tokens;
    c->latest.train_loss = isfinite(loss) ? loss : NAN;
    c->latest.elapsed_seconds = now_monotonic() - c->started;
    c->pending = true;
    if (now_monotonic() - c->last_progress >= RUNNER_PROGRESS_MIN_S) flush_progress(c);
}

/* Send r (taking its curve from the progress seen when it has none) and
 * leave. */
static void finish(child_t *c, carbs_result_t *r) __attribute__((noreturn));
static void finish(child_t *c, carbs_result_t *r)
{
    proto_msg_t m;
    char *json = NULL;
    size_t len = 0;
    carbs_err_t err = {0};

    flush_progress(c);
    r->trial_id = c->trial->trial_id;
    r->attempt = c->trial->attempt;
    if (r->curve.n == 0 && c->curve.n > 0) {
        DA_FREE(&r->curve);
        r->curve.v = c->curve.v;
        r->curve.n = c->curve.n;
        r->curve.cap = c->curve.cap;
        c->curve.v = NULL;
        c->curve.n = c->curve.cap = 0;
    }
    proto_msg_init(&m, PROTO_MSG_RESULT);
    m.result.r = *r;
    if (proto_msg_encode(&m, &json, &len, &err) < 0) {
        /* Too big or malformed: report what went wrong instead. */
        carbs_result_t bare;
        carbs_result_init(&bare);
        bare.trial_id = r->trial_id;
        bare.attempt = r->attempt;
        bare.failure = CARBS_FAILURE_ERROR;
        snprintf(bare.message, sizeof(bare.message), "cannot send the result: %.200s", err.msg);
        m.result.r = bare;
        proto_msg_encode(&m, &json, &len, NULL);
    }
    if (json) send_line(c, 'R', json, len);
    _exit(0);
}

static void fail(child_t *c, carbs_failure_t f, const char *msg) __attribute__((noreturn));
static void fail(child_t *c, carbs_failure_t f, const char *msg)
{
    carbs_result_t r;

    carbs_result_init(&r);
    r.ok = false;
    r.failure = f;
    str_copy(r.message, sizeof(r.message), msg);
    finish(c, &r);
}

static void sleep_s(double s)
{
    struct timespec ts;

    if (!(s > 0)) return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

// ---- synthetic ----

static void run_synthetic(child_t *c) __attribute__((noreturn));
static void run_synthetic(child_t *c)
{
    const proto_trial_t *t = c->trial;
    synthetic_input_t in = {.function = t->synthetic.function,
                            .params = &t->params,
                            .fixed = &t->fixed,
                            .fail_above = &t->synthetic.fail_above,
                            .trial_id = t->trial_id,
                            .attempt = t->attempt};
    synthetic_outcome_t out;
    carbs_err_t err = {0};
    carbs_result_t r;
    double duration, scale;
    size_t steps = RUNNER_SYNTHETIC_STEPS;

    if (synthetic_eval(&in, &out, &err) < 0) fail(c, CARBS_FAILURE_ERROR, err.msg);
    duration = t->synthetic.seconds_per_cost * out.cost;
    if (out.failure != CARBS_FAILURE_NONE || out.action == SYNTHETIC_CRASH)
        duration *= 0.5; /* failures happen part way */
    /* A made-up learning curve that ends at the output. */
    scale = isfinite(out.output) ? fabs(out.output) + 1.0 : 1.0;
    for (size_t i = 1; i <= steps; i++) {
        double frac = (double)i / (double)steps;
        double total = isfinite(out.tokens) ? out.tokens : out.cost;
        sleep_s(duration / (double)steps);
        progress(c, (int64_t)i, frac * total, out.output + scale * (1.0 - frac) * (1.0 - frac));
    }
    if (out.action == SYNTHETIC_CRASH) {
        struct rlimit none = {0, 0};
        flush_progress(c);
        setrlimit(RLIMIT_CORE, &none);
        abort();
    }
    for (int64_t i = (int64_t)steps + 1; out.action == SYNTHETIC_HANG; i++) {
        sleep_s(1.0);
        progress(c, i, NAN, NAN);
    }
    carbs_result_init(&r);
    r.ok = out.failure == CARBS_FAILURE_NONE;
    r.failure = out.failure;
    str_copy(r.message, sizeof(r.message), out.message);
    if (r.ok) carbs_result_set(&r, t->metric, out.output);
    carbs_result_set(&r, t->cost, out.cost);
    if (isfinite(out.n_params)) {
        r.metric[CARBS_METRIC_N_PARAMS] = out.n_params;
        r.metric[CARBS_METRIC_TOKENS] = out.tokens;
        r.metric[CARBS_METRIC_FLOPS] = out.flops;
    }
    finish(c, &r);
}

// ---- command ----

static void run_command(child_t *c) __attribute__((noreturn));
static void run_command(child_t *c)
{
    const proto_trial_t *t = c->trial;
    command_config_t cc = {
        .argv = (const char *const *)t->argv.v,
        .argc = t->argv.n,
        .params = &t->params,
        .fixed = &t->fixed,
        .trial_id = t->trial_id,
        .sweep_id = t->sweep_id,
        .attempt = t->attempt,
        .metric = t->metric,
        .cost = t->cost,
        .device = c->cfg->device ? c->cfg->device : "cpu",
        .tmp_dir = c->cfg->tmp_dir,
        .time_limit_s = c->cfg->time_limit_s,
        .kill_grace_s = c->cfg->kill_grace_s,
    };
    carbs_err_t err = {0};
    command_t *cmd = command_start(&cc, &err);
    carbs_result_t r;
    char line[32];
    int rc = CARBS_CONTINUE;

    if (!cmd) fail(c, err.code == CARBS_EIO ? CARBS_FAILURE_INFRA : CARBS_FAILURE_ERROR, err.msg);
    snprintf(line, sizeof(line), "%ld", (long)command_pid(cmd));
    send_line(c, 'G', line, strlen(line));
    while (rc == CARBS_CONTINUE) {
        carbs_curve_point_t p;
        bool has = false;

        rc = command_poll(cmd, 1000, &p, &has, &err);
        if (has)
            progress(c, p.step, p.tokens, p.loss);
        else if (c->pending && now_monotonic() - c->last_progress >= RUNNER_PROGRESS_MIN_S)
            flush_progress(c);
    }
    if (rc < 0) {
        command_free(cmd);
        fail(c, CARBS_FAILURE_INFRA, err.msg);
    }
    command_result(cmd, &r);
    command_free(cmd);
    finish(c, &r);
}

// ---- embedded ----

/* The trainer's config from the trial: defaults, then fixed, then the
 * searched values; `data` (a string: "synthetic" or a folder) picks the
 * data and is not a trainer parameter. */
static int embedded_config(child_t *c, trainer_config_t *cfg, trainer_options_t *opt,
                           const char **data, bool *synth, carbs_err_t *err)
{
    const carbs_params_t *src[2] = {&c->trial->fixed, &c->trial->params};

    trainer_config_defaults(cfg);
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < src[k]->n; i++) {
            const carbs_value_t *v = &src[k]->v[i];
            int rc;

            if (strcmp(v->name, "data") == 0 && v->is_str) {
                *synth = strcmp(v->str, "synthetic") == 0;
                *data = *synth ? NULL : v->str;
                continue;
            }
            /* an evaluation option (eval_tokens, mcq_items) or else a model setting */
            rc = trainer_options_set(opt, v, err);
            if (rc == CARBS_ENOTFOUND) rc = trainer_config_set(cfg, v, err);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

static void run_embedded(child_t *c) __attribute__((noreturn));
static void run_embedded(child_t *c)
{
    const runner_config_t *rc_cfg = c->cfg;
    const char *device = rc_cfg->device ? rc_cfg->device : "cpu";
    char local_device[128];
    trainer_config_t cfg;
    trainer_options_t opt = {.backend = "cpu",
                             .threads = rc_cfg->threads > 0 ? rc_cfg->threads : 1};
    const char *data = rc_cfg->data_dir;
    bool synth = rc_cfg->synthetic_data;
    trainer_progress_t p;
    carbs_err_t err = {0};
    carbs_result_t r;
    dataset_t ds;
    trainer_t *tr;
    int rc;

    if (embedded_config(c, &cfg, &opt, &data, &synth, &err) < 0)
        fail(c, CARBS_FAILURE_ERROR, err.msg);
    if (strncmp(device, "cuda", 4) == 0) {
        /* The trial sees only its worker's GPUs, renumbered from 0: "cuda:2,3"
         * sets CUDA_VISIBLE_DEVICES=2,3 and trains on cuda:0,1. */
        backend_opts_t bo;
        const char *name;
        char visible[128];
        size_t nv = 0, nl;

        if (backend_parse_device(device, &name, &bo, &err) < 0) fail(c, CARBS_FAILURE_ERROR, err.msg);
        nl = (size_t)snprintf(local_device, sizeof(local_device), "cuda:");
        visible[0] = 0;
        for (int i = 0; i < bo.n_devices; i++) { /* fits: at most 16 ordinals of 4 digits */
            nv += (size_t)snprintf(visible + nv, sizeof(visible) - nv, "%s%d", i ? "," : "",
                                   bo.devices[i]);
            nl += (size_t)snprintf(local_device + nl, sizeof(local_device) - nl, "%s%d",
                                   i ? "," : "", i);
        }
        setenv("CUDA_VISIBLE_DEVICES", visible, 1);
        opt.backend = NULL;
        opt.device = local_device;
    }
    if (synth)
        rc = dataset_synthetic((size_t)cfg.vocab_size, cfg.seed, RUNNER_SYNTHETIC_DATA_TOKENS, &ds,
                               &err);
    else
        rc = dataset_load(prepare_data_dir(data), (size_t)cfg.vocab_size, &ds, &err);
    if (rc < 0) /* this node's setup, not the config: let another node try */
        fail(c, rc == CARBS_EINVAL ? CARBS_FAILURE_ERROR : CARBS_FAILURE_INFRA, err.msg);
    carbs_result_init(&r);
    tr = trainer_open(&cfg, &opt, &ds, &err);
    if (!tr) {
        rc = err.code;
    } else {
        do {
            rc = trainer_step(tr, &p, &err);
            if (rc >= 0) progress(c, p.step, p.tokens, p.loss);
        } while (rc == CARBS_CONTINUE);
        if (rc == 0) rc = trainer_finish(tr, &r, &err);
        if (rc < 0) trainer_partial_result(tr, &r);
    }
    if (rc == CARBS_ENOTFOUND) { /* no such backend in this build */
        r.ok = false;
        r.failure = CARBS_FAILURE_INFRA;
        str_copy(r.message, sizeof(r.message), err.msg);
    } else if (rc < 0) {
        trainer_fail_result(&r, rc, &err);
    }
    trainer_close(tr);
    dataset_release(&ds);
    finish(c, &r);
}

// ---- entry ----

void runner__child_main(const runner_config_t *cfg, const proto_trial_t *trial, int fd,
                        pid_t parent)
{
    child_t c = {.cfg = cfg, .trial = trial, .fd = fd, .stride = 1};
    sigset_t none;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(2);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_IGN); /* a gone worker shows up as EPIPE in write_all */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Let go of everything inherited from the worker (its sockets above
     * all: a connection must close when the worker closes it, not when the
     * trial ends). */
    if (fd > 3) close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0U, 0);
    c.started = now_monotonic();
    c.last_progress = c.started;
    switch (trial->trainer) {
    case PROTO_TRAINER_SYNTHETIC:
        run_synthetic(&c);
    case PROTO_TRAINER_COMMAND:
        run_command(&c);
    case PROTO_TRAINER_EMBEDDED:
        run_embedded(&c);
    default:
        fail(&c, CARBS_FAILURE_ERROR, "unknown trainer kind");
    }
}
