/*
 * test_worker.c - the worker daemon against a fake service built from
 * wire_server_* over ipc:// in a temp dir: hello -> ready -> trial ->
 * heartbeat/progress -> result -> ack; a service that goes away and comes
 * back (the worker reconnects, re-attaches its running trial and re-sends
 * the unacknowledged result); a service that stops answering; a crashing
 * trial (failure reported, the worker keeps serving); cancel; the stop flag
 * and SIGTERM on the real `carbs worker` (bye "preempted"); --once; CURVE
 * keys, allowed and refused; and the default worker ids.
 */
#include "proto/common.h"
#include "worker/worker.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/msg.h"
#include "proto/wire.h"
#include "tests/check.h"
#include "tests/fixture.h"
#include "worker/synthetic.h"

static int endpoint_seq;
static volatile sig_atomic_t test_stop;

static void on_term(int sig)
{
    UNUSED(sig);
    test_stop = 1;
}

// ---- a fake service ----

typedef struct svc {
    wire_server_t *srv;
    char endpoint[256];
    wire_peer_t peer;
    size_t heartbeats, progress, hellos;
    int64_t last_hb_trial;
    int64_t hb_trials[8]; /* the trials named by heartbeats since the last reset */
    size_t n_hb_trials;
} svc_t;

static void svc_open(svc_t *s, const char *endpoint)
{
    wire_server_config_t cfg = {.endpoint = endpoint};
    carbs_err_t err = {0};

    s->srv = wire_server_open(&cfg, &err);
    if (!s->srv) fprintf(stderr, "wire_server_open: %s\n", err.msg);
    CHECK(s->srv != NULL);
    str_copy(s->endpoint, sizeof(s->endpoint), endpoint);
}

static void svc_new(svc_t *s)
{
    char ep[256];

    memset(s, 0, sizeof(*s));
    fx_ipc(ep, sizeof(ep), "svc%d.sock", ++endpoint_seq);
    svc_open(s, ep);
}

static void svc_close(svc_t *s)
{
    wire_server_close(s->srv);
    s->srv = NULL;
}

static void svc_send(svc_t *s, proto_msg_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    carbs_err_t err = {0};

    CHECK_EQ(proto_msg_encode(m, &buf, &len, &err), 0);
    if (buf) CHECK_EQ(wire_server_send(s->srv, &s->peer, buf, len, &err), 0);
    free(buf);
    proto_msg_release(m);
}

/* Pump the worker (when given) and the service until a frame of type
 * `want` arrives (then 1, with it in *out unless out is NULL), or timeout_s
 * passes (0).  Heartbeats, progress and hellos on the way are counted. */
static int expect(svc_t *s, worker_t *w, proto_msg_type_t want, proto_msg_t *out, double timeout_s)
{
    double end = now_monotonic() + timeout_s;
    carbs_err_t err = {0};

    while (now_monotonic() < end) {
        char *buf = NULL;
        size_t len = 0;
        proto_msg_t m;

        if (w) {
            int rc = worker_step(w, 5, &err);
            if (rc < 0) fprintf(stderr, "worker_step: %s\n", err.msg);
            CHECK(rc >= 0);
        }
        if (!s->srv || wire_server_recv(s->srv, &s->peer, &buf, &len, 5, &err) != 0) continue;
        CHECK_EQ(proto_msg_decode(buf, len, &m, &err), 0);
        free(buf);
        if (m.type == PROTO_MSG_HEARTBEAT) {
            s->heartbeats++;
            s->last_hb_trial = m.heartbeat.trial_id;
            if (s->n_hb_trials < 8) s->hb_trials[s->n_hb_trials++] = m.heartbeat.trial_id;
        }
        if (m.type == PROTO_MSG_PROGRESS) s->progress++;
        if (m.type == PROTO_MSG_HELLO) s->hellos++;
        if (m.type == want) {
            if (out)
                *out = m;
            else
                proto_msg_release(&m);
            return 1;
        }
        proto_msg_release(&m);
    }
    return 0;
}

/* Keep both sides going for secs, dropping whatever arrives. */
static void pump(svc_t *s, worker_t *w, double secs)
{
    expect(s, w, PROTO_MSG_NONE, NULL, secs);
}

static void send_welcome(svc_t *s, int heartbeat_ms)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_WELCOME);
    m.welcome.heartbeat_ms = heartbeat_ms;
    m.welcome.lease_ms = 60000;
    str_copy(m.welcome.service_version, sizeof(m.welcome.service_version), "test");
    svc_send(s, &m);
}

static void send_ack(svc_t *s, int64_t trial_id)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_ACK);
    m.ack.trial_id = trial_id;
    svc_send(s, &m);
}

/* A synthetic trial: sphere at x1, lasting about `seconds`. */
static void send_sphere(svc_t *s, int64_t id, double x1, double seconds, const char *fail_kind)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_TRIAL);
    m.trial.trial_id = id;
    m.trial.sweep_id = 2;
    m.trial.attempt = 1;
    m.trial.trainer = PROTO_TRAINER_SYNTHETIC;
    m.trial.lease_ms = 60000;
    str_copy(m.trial.metric, sizeof(m.trial.metric), "val_loss");
    str_copy(m.trial.cost, sizeof(m.trial.cost), "cost_units");
    str_copy(m.trial.synthetic.function, sizeof(m.trial.synthetic.function), "sphere");
    m.trial.synthetic.seconds_per_cost = seconds / exp(x1);
    CHECK_EQ(carbs_params_set_num(&m.trial.params, "x1", x1), 0);
    if (fail_kind) {
        CHECK_EQ(carbs_params_set_num(&m.trial.fixed, "fail_rate", 1.0), 0);
        CHECK_EQ(carbs_params_set_str(&m.trial.fixed, "fail_kind", fail_kind), 0);
    }
    svc_send(s, &m);
}

static worker_t *open_worker(svc_t *s, const char *id, int slots, int max_trials)
{
    worker_config_t cfg = {
        .endpoint = s->endpoint,
        .worker_id = id,
        .host = "test-host",
        .slots = slots,
        .reply_timeout_ms = 1500,
        .backoff_min_ms = 50,
        .backoff_max_ms = 400,
        .max_trials = max_trials,
        .stop = &test_stop,
        .kill_grace_s = 1.0,
    };
    carbs_err_t err = {0};
    worker_t *w = worker_open(&cfg, &err);

    if (!w) fprintf(stderr, "worker_open: %s\n", err.msg);
    CHECK(w != NULL);
    return w;
}

/* hello -> welcome -> ready: a worker ready for work. */
static bool join(svc_t *s, worker_t *w, const char *id, int slots)
{
    proto_msg_t m;

    if (!expect(s, w, PROTO_MSG_HELLO, &m, 10.0)) return false;
    CHECK_STR(m.hello.worker_id, id);
    CHECK_STR(m.hello.host, "test-host");
    CHECK_EQ(m.hello.pid, getpid());
    CHECK_EQ(m.hello.slots, slots);
    CHECK_EQ(m.hello.devices.n, 1);
    CHECK_STR(m.hello.devices.v[0], "cpu");
    CHECK(m.hello.caps.command && m.hello.caps.synthetic && m.hello.caps.embedded);
    proto_msg_release(&m);
    send_welcome(s, 100);
    if (!expect(s, w, PROTO_MSG_READY, &m, 5.0)) return false;
    CHECK_EQ(m.ready.slot, 0);
    proto_msg_release(&m);
    return true;
}

/* A new fake service and a worker `id` (slots, max_trials) that joined it;
 * NULL when the worker did not open or join. */
static worker_t *start(svc_t *s, const char *id, int slots, int max_trials)
{
    worker_t *w;

    svc_new(s);
    w = open_worker(s, id, slots, max_trials);
    if (w && !join(s, w, id, slots)) {
        worker_close(w);
        return NULL;
    }
    return w;
}

// ---- cases ----

static void test_worker_default_id(void)
{
    char id[CARBS_NAME_MAX];
    char longhost[200];
    worker_id_env_t env = {.host = "node17.cluster", .pid = 4242};

    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK_STR(id, "node17.cluster-4242");
    env.slurm_job_id = "913";
    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK_STR(id, "slurm-913");
    env.slurm_array_job_id = "900";
    env.slurm_array_task_id = "13";
    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK_STR(id, "slurm-900_13");
    env.slurm_procid = "3";
    env.slurm_ntasks = "1";
    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK_STR(id, "slurm-900_13");
    env.slurm_ntasks = "4";
    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK_STR(id, "slurm-900_13.3");
    env.carbs_worker_id = "gpu-node-17/w3";
    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK_STR(id, "gpu-node-17/w3");
    env.carbs_worker_id = "";
    env.slurm_array_job_id = env.slurm_job_id = NULL;
    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    env.host = longhost;
    CHECK_EQ(worker_default_id(&env, id, sizeof(id)), 0);
    CHECK(strlen(id) < CARBS_NAME_MAX);
    CHECK(strstr(id, "-4242") != NULL);
    CHECK_EQ(worker_default_id(&env, id, 4), CARBS_ETOOBIG);
}

static void test_worker_open_errors(void)
{
    worker_config_t cfg = {.endpoint = "ipc:///tmp/carbs-none.sock", .worker_id = "w"};
    carbs_err_t err = {0};
    char longid[80];

    cfg.endpoint = NULL;
    CHECK(worker_open(&cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    cfg.endpoint = "ipc:///tmp/carbs-none.sock";
    cfg.worker_id = "";
    CHECK(worker_open(&cfg, &err) == NULL);
    memset(longid, 'w', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    cfg.worker_id = longid;
    CHECK(worker_open(&cfg, &err) == NULL);
    CHECK(strstr(err.msg, "1-63 bytes") != NULL);
    cfg.worker_id = "w";
    cfg.slots = WORKER_SLOTS_MAX + 1;
    CHECK(worker_open(&cfg, &err) == NULL);
    cfg.slots = 1;
    cfg.device = "tpu:0";
    CHECK(worker_open(&cfg, &err) == NULL);
    CHECK(strstr(err.msg, "tpu:0") != NULL);
    cfg.device = NULL;
    cfg.endpoint = "tcp://*:5555";
    CHECK(worker_open(&cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    cfg.endpoint = "ipc:///tmp/carbs-none.sock";
    cfg.key = "/nonexistent/w.key";
    cfg.server_key = "/nonexistent/service.pub";
    CHECK(worker_open(&cfg, &err) == NULL);
    worker_close(NULL);
}

/* A worker started on a GPU that does not answer (no driver, no device, no
 * cuda backend) says so and announces the CPU only.  On a machine with an
 * NVIDIA driver the GPU may answer, so the check applies where there is
 * none (/dev/nvidiactl absent: every CI machine). */
static void test_worker_no_gpu_offers_cpu(void)
{
    svc_t s;
    proto_msg_t m;
    worker_t *w;
    carbs_err_t err = {0};
    worker_config_t cfg = {.worker_id = "gpu-w", .host = "test-host", .device = "cuda:0",
                           .reply_timeout_ms = 1500, .stop = &test_stop};

    if (access("/dev/nvidiactl", F_OK) == 0) {
        fprintf(stderr, "  an NVIDIA driver is present: the no-GPU path is not exercised\n");
        return;
    }
    svc_new(&s);
    cfg.endpoint = s.endpoint;
    w = worker_open(&cfg, &err);
    CHECK(w != NULL);
    if (w && expect(&s, w, PROTO_MSG_HELLO, &m, 10.0)) {
        CHECK_EQ(m.hello.devices.n, 1);
        CHECK_STR(m.hello.devices.v[0], "cpu");
        proto_msg_release(&m);
    }
    worker_close(w);
    svc_close(&s);
}

static void test_worker_trial_cycle(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;
    worker_stats_t st;
    double t0;

    w = start(&s, "cycle-1", 1, 0);
    if (!w) goto out;
    send_sphere(&s, 501, 0.6875, 0.6, NULL);
    /* While it runs: heartbeats naming it, and progress. */
    CHECK(expect(&s, w, PROTO_MSG_PROGRESS, &m, 5.0));
    CHECK_EQ(m.progress.trial_id, 501);
    CHECK_EQ(m.progress.attempt, 1);
    proto_msg_release(&m);
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 10.0));
    CHECK_EQ(m.result.r.trial_id, 501);
    CHECK(m.result.r.ok);
    CHECK_NEAR(m.result.r.metric[CARBS_METRIC_VAL_LOSS], 0.6875 * 0.6875, 0.0);
    CHECK_NEAR(carbs_result_get(&m.result.r, "cost_units"), exp(0.6875), 1e-12);
    CHECK(m.result.r.metric[CARBS_METRIC_WALL_SECONDS] >= 0.55);
    CHECK_EQ(m.result.r.curve.n, 20);
    proto_msg_release(&m);
    CHECK(s.heartbeats >= 2);
    CHECK(s.progress >= 1);
    worker_stats(w, &st);
    CHECK(st.online);
    CHECK_EQ(st.unacked, 1);
    CHECK_EQ(st.trials, 1);
    send_ack(&s, 501);
    /* Acknowledged: the slot asks again; `wait` delays the next ready. */
    CHECK(expect(&s, w, PROTO_MSG_READY, NULL, 5.0));
    worker_stats(w, &st);
    CHECK_EQ(st.unacked, 0);
    CHECK_EQ(st.acked, 1);
    proto_msg_init(&m, PROTO_MSG_WAIT);
    m.wait.retry_ms = 300;
    svc_send(&s, &m);
    t0 = now_monotonic();
    CHECK(expect(&s, w, PROTO_MSG_READY, NULL, 5.0));
    CHECK(now_monotonic() - t0 >= 0.28);
    /* Idle heartbeats name no trial. */
    s.heartbeats = 0;
    pump(&s, w, 0.35);
    CHECK(s.heartbeats >= 1);
    CHECK_EQ(s.last_hb_trial, 0);
out:
    worker_close(w);
    svc_close(&s);
}

static void test_worker_service_restart(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;
    worker_stats_t st;
    bool named = false;

    w = start(&s, "restart-1", 1, 0);
    if (!w) goto out;
    send_sphere(&s, 601, -0.4375, 2.0, NULL);
    CHECK(expect(&s, w, PROTO_MSG_PROGRESS, NULL, 5.0));
    /* The service goes away while the trial runs ... */
    svc_close(&s);
    pump(&s, w, 0.5);
    worker_stats(w, &st);
    CHECK(!st.online);
    CHECK_EQ(st.running, 1);
    /* ... and comes back on the same endpoint: hello with the same id,
     * then heartbeats name the running trial (re-attach). */
    svc_open(&s, s.endpoint);
    CHECK(expect(&s, w, PROTO_MSG_HELLO, &m, 10.0));
    CHECK_STR(m.hello.worker_id, "restart-1");
    proto_msg_release(&m);
    send_welcome(&s, 100);
    s.n_hb_trials = 0;
    pump(&s, w, 0.3);
    for (size_t i = 0; i < s.n_hb_trials; i++)
        named |= s.hb_trials[i] == 601;
    CHECK(named);
    /* The result comes; the service vanishes before acknowledging it. */
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 10.0));
    CHECK_EQ(m.result.r.trial_id, 601);
    CHECK(m.result.r.ok);
    proto_msg_release(&m);
    svc_close(&s);
    pump(&s, w, 0.3);
    svc_open(&s, s.endpoint);
    CHECK(expect(&s, w, PROTO_MSG_HELLO, NULL, 10.0));
    send_welcome(&s, 100);
    /* The unacknowledged result is sent again (idempotent by trial id). */
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 5.0));
    CHECK_EQ(m.result.r.trial_id, 601);
    CHECK_NEAR(m.result.r.metric[CARBS_METRIC_VAL_LOSS], 0.4375 * 0.4375, 0.0);
    proto_msg_release(&m);
    send_ack(&s, 601);
    CHECK(expect(&s, w, PROTO_MSG_READY, NULL, 5.0));
    worker_stats(w, &st);
    CHECK_EQ(st.acked, 1);
    CHECK_EQ(st.unacked, 0);
    CHECK(st.welcomes >= 3);
    CHECK(st.results_sent >= 2);
out:
    worker_close(w);
    svc_close(&s);
}

static void test_worker_silent_service(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;
    double t0;

    w = start(&s, "silent-1", 1, 0);
    if (!w) goto out;
    send_sphere(&s, 701, 0.25, 0.1, NULL);
    CHECK(expect(&s, w, PROTO_MSG_RESULT, NULL, 10.0));
    /* No ack: after reply_timeout_ms the worker starts over with hello and
     * sends the result again. */
    t0 = now_monotonic();
    CHECK(expect(&s, w, PROTO_MSG_HELLO, NULL, 10.0));
    CHECK(now_monotonic() - t0 >= 1.0);
    send_welcome(&s, 100);
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 5.0));
    CHECK_EQ(m.result.r.trial_id, 701);
    proto_msg_release(&m);
    send_ack(&s, 701);
    CHECK(expect(&s, w, PROTO_MSG_READY, NULL, 5.0));

    /* A service that forgot us answers ESTATE: the worker says hello. */
    proto_msg_init(&m, PROTO_MSG_ERROR);
    m.error.code = CARBS_ESTATE;
    str_copy(m.error.message, sizeof(m.error.message), "send hello first");
    svc_send(&s, &m);
    CHECK(expect(&s, w, PROTO_MSG_HELLO, NULL, 5.0));
out:
    worker_close(w);
    svc_close(&s);
}

static void test_worker_crash_keeps_serving(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;

    w = start(&s, "crash-1", 1, 0);
    if (!w) goto out;
    send_sphere(&s, 801, 0.5, 0.1, "crash");
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 10.0));
    CHECK_EQ(m.result.r.trial_id, 801);
    CHECK(!m.result.r.ok);
    CHECK_EQ(m.result.r.failure, CARBS_FAILURE_INFRA);
    CHECK(strstr(m.result.r.message, "signal 6") != NULL);
    proto_msg_release(&m);
    send_ack(&s, 801);
    CHECK(expect(&s, w, PROTO_MSG_READY, NULL, 5.0));
    send_sphere(&s, 802, 1.5, 0.1, NULL);
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 10.0));
    CHECK_EQ(m.result.r.trial_id, 802);
    CHECK(m.result.r.ok);
    CHECK_NEAR(m.result.r.metric[CARBS_METRIC_VAL_LOSS], 2.25, 0.0);
    proto_msg_release(&m);
    /* A trial nobody asked for is handed back. */
    send_sphere(&s, 803, 0.5, 0.1, NULL);
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 5.0));
    CHECK_EQ(m.result.r.trial_id, 803);
    CHECK_EQ(m.result.r.failure, CARBS_FAILURE_PREEMPTED);
    proto_msg_release(&m);
out:
    worker_close(w);
    svc_close(&s);
}

static void test_worker_cancel(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;

    w = start(&s, "cancel-1", 1, 0);
    if (!w) goto out;
    send_sphere(&s, 901, 0.5, 0.1, "hang");
    CHECK(expect(&s, w, PROTO_MSG_PROGRESS, NULL, 5.0));
    proto_msg_init(&m, PROTO_MSG_CANCEL);
    m.cancel.trial_id = 901;
    str_copy(m.cancel.reason, sizeof(m.cancel.reason), "sweep 'x' stopped");
    svc_send(&s, &m);
    CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 10.0));
    CHECK_EQ(m.result.r.trial_id, 901);
    CHECK_EQ(m.result.r.failure, CARBS_FAILURE_PREEMPTED);
    CHECK_STR(m.result.r.message, "cancelled by the service: sweep 'x' stopped");
    proto_msg_release(&m);
out:
    worker_close(w);
    svc_close(&s);
}

static void test_worker_two_slots_and_once(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;
    bool got[2] = {false, false};
    carbs_err_t err = {0};
    int rc = CARBS_CONTINUE;
    double t0;

    w = start(&s, "once-2", 2, 2);
    if (!w) goto out;
    CHECK(expect(&s, w, PROTO_MSG_READY, &m, 5.0));
    CHECK_EQ(m.ready.slot, 1);
    proto_msg_release(&m);
    send_sphere(&s, 1001, 0.5, 0.5, NULL);
    send_sphere(&s, 1002, 1.0, 0.5, NULL);
    for (int k = 0; k < 2; k++) {
        CHECK(expect(&s, w, PROTO_MSG_RESULT, &m, 10.0));
        if (m.result.r.trial_id == 1001 || m.result.r.trial_id == 1002) {
            got[m.result.r.trial_id - 1001] = true;
            send_ack(&s, m.result.r.trial_id);
        }
        proto_msg_release(&m);
    }
    CHECK(got[0] && got[1]);
    /* Both slots ran their one trial: bye "shutdown", and the loop ends. */
    CHECK(expect(&s, w, PROTO_MSG_BYE, &m, 5.0));
    CHECK_STR(m.bye.reason, "shutdown");
    proto_msg_release(&m);
    t0 = now_monotonic();
    while (rc == CARBS_CONTINUE && now_monotonic() - t0 < 5.0)
        rc = worker_step(w, 10, &err);
    CHECK_EQ(rc, 0);
out:
    worker_close(w);
    svc_close(&s);
}

static void test_worker_stop_flag(void)
{
    svc_t s;
    worker_t *w;
    proto_msg_t m;
    struct sigaction sa, old;
    worker_stats_t st;
    carbs_err_t err = {0};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old);
    test_stop = 0;
    w = start(&s, "stop-1", 1, 0);
    if (!w) goto out;
    send_sphere(&s, 1101, 0.5, 0.1, "hang");
    CHECK(expect(&s, w, PROTO_MSG_PROGRESS, NULL, 5.0));
    worker_stats(w, &st);
    CHECK_EQ(st.running, 1);
    raise(SIGTERM);
    CHECK(test_stop);
    /* Children stopped, no result for the stopped trial, bye "preempted". */
    CHECK(expect(&s, w, PROTO_MSG_BYE, &m, 10.0));
    CHECK_STR(m.bye.reason, "preempted");
    proto_msg_release(&m);
    worker_stats(w, &st);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.results_sent, 0);
    CHECK_EQ(worker_step(w, 0, &err), 0);
out:
    worker_close(w);
    svc_close(&s);
    test_stop = 0;
    sigaction(SIGTERM, &old, NULL);
}

/* CURVE: an allowed key joins; a key not in the allow-list ends the worker
 * with EDENIED instead of retrying forever. */
static void test_worker_curve(void)
{
    char keys[200], allow[240], skey[300], spub[300], wkey[300], wpub[300], apub[300];
    char xkey[300], xpub[300];
    wire_server_config_t scfg = {0};
    worker_config_t cfg = {.worker_id = "curve-1", .host = "test-host", .reply_timeout_ms = 1500};
    carbs_err_t err = {0};
    svc_t s;
    worker_t *w = NULL;
    int rc = CARBS_CONTINUE;
    double t0;

    memset(&s, 0, sizeof(s));
    fx_path(keys, sizeof(keys), "keys");
    snprintf(allow, sizeof(allow), "%s/allow", keys);
    snprintf(skey, sizeof(skey), "%s/service.key", keys);
    snprintf(spub, sizeof(spub), "%s/service.pub", keys);
    snprintf(wkey, sizeof(wkey), "%s/w1.key", keys);
    snprintf(wpub, sizeof(wpub), "%s/w1.pub", keys);
    snprintf(xkey, sizeof(xkey), "%s/stranger.key", keys);
    snprintf(xpub, sizeof(xpub), "%s/stranger.pub", keys);
    snprintf(apub, sizeof(apub), "%s/w1.pub", allow);
    CHECK_EQ(wire_keygen(keys, "service", &err), 0);
    CHECK_EQ(wire_keygen(keys, "w1", &err), 0);
    CHECK_EQ(wire_keygen(keys, "stranger", &err), 0);
    CHECK_EQ(mkdir(allow, 0700), 0);
    CHECK_EQ(link(wpub, apub), 0);
    fx_ipc(s.endpoint, sizeof(s.endpoint), "svc%d.sock", ++endpoint_seq);
    scfg.endpoint = s.endpoint;
    scfg.key = skey;
    scfg.allow = allow;
    s.srv = wire_server_open(&scfg, &err);
    CHECK(s.srv != NULL);
    if (!s.srv) goto out;

    cfg.endpoint = s.endpoint;
    cfg.key = wkey;
    cfg.server_key = spub;
    w = worker_open(&cfg, &err);
    CHECK(w != NULL);
    if (w) CHECK(join(&s, w, "curve-1", 1));
    worker_close(w);

    cfg.worker_id = "stranger-1";
    cfg.key = xkey;
    w = worker_open(&cfg, &err);
    CHECK(w != NULL);
    t0 = now_monotonic();
    while (w && rc == CARBS_CONTINUE && now_monotonic() - t0 < 10.0) {
        char *buf = NULL;
        size_t len = 0;
        wire_peer_t peer;

        rc = worker_step(w, 5, &err);
        if (wire_server_recv(s.srv, &peer, &buf, &len, 5, NULL) == 0) free(buf);
    }
    CHECK_EQ(rc, CARBS_EDENIED);
    CHECK(strstr(err.msg, "refused") != NULL);
out:
    worker_close(w);
    svc_close(&s);
    const char *files[] = {skey, spub, wkey, wpub, xkey, xpub, apub};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        unlink(files[i]);
    rmdir(allow);
    rmdir(keys);
}

/* The real binary: SIGTERM while a trial runs -> bye "preempted", exit 0. */
static void test_worker_binary_sigterm(void)
{
    const char *bin = getenv("CARBS_BIN");
    svc_t s;
    proto_msg_t m;
    pid_t pid;
    int status = 0;
    bool reaped = false;

    if (!bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "CARBS_BIN not set: skipping the binary test\n");
        return;
    }
    svc_new(&s);
    pid = fork();
    if (pid == 0) {
        execl(bin, bin, "--log-level", "warn", "worker", "--connect", s.endpoint, "--id", "bin-1",
              (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    if (expect(&s, NULL, PROTO_MSG_HELLO, &m, 20.0)) {
        CHECK_STR(m.hello.worker_id, "bin-1");
        proto_msg_release(&m);
        send_welcome(&s, 200);
        CHECK(expect(&s, NULL, PROTO_MSG_READY, NULL, 10.0));
        send_sphere(&s, 1201, 0.5, 0.1, "hang");
        CHECK(expect(&s, NULL, PROTO_MSG_PROGRESS, NULL, 10.0));
        kill(pid, SIGTERM);
        CHECK(expect(&s, NULL, PROTO_MSG_BYE, &m, 20.0));
        CHECK_STR(m.bye.reason, "preempted");
        proto_msg_release(&m);
    }
    for (int i = 0; i < 2000 && !reaped; i++) {
        reaped = waitpid(pid, &status, WNOHANG) == pid;
        if (!reaped) usleep(10000);
    }
    CHECK(reaped);
    CHECK(reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    svc_close(&s);
}

int main(void)
{
    if (FX_SETUP("worker"))
        return 1;
    RUN(test_worker_default_id);
    RUN(test_worker_open_errors);
    RUN(test_worker_no_gpu_offers_cpu);
    RUN(test_worker_trial_cycle);
    RUN(test_worker_service_restart);
    RUN(test_worker_silent_service);
    RUN(test_worker_crash_keeps_serving);
    RUN(test_worker_cancel);
    RUN(test_worker_two_slots_and_once);
    RUN(test_worker_stop_flag);
    RUN(test_worker_curve);
    RUN(test_worker_binary_sigterm);
    return FX_FINISH();
}
