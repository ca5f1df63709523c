/*
 * test_service.c - the service end to end in one process: a real store, a
 * real ROUTER on ipc://, and fake workers and clients built from
 * wire_client_t that speak proto messages.  The service is stepped by the
 * test, so every exchange is deterministic.
 */
#include "proto/common.h"

#include <math.h>

#include "check.h"
#include "fixture.h"
#include "proto/laws.h"
#include "store/store.h"

#define PUMP_MS 3000 /* bound on waiting for one answer */

static char g_db[128];
static char g_ep[128];
static int g_n;

static const char SPEC[] = "name: branin-svc\n" FX_SPEC_SYNTHETIC
                           "synthetic: {function: branin}\n" FX_SPEC_BRANIN_XY
                           "carbs: {seed: 11, num_random_samples: 3, resample_frequency: 0}\n"
                           "budget: {trials: 8, parallel: 2, max_retries: 1}\n";

/* A fresh store with the SPEC sweep in it, on a fresh endpoint; returns the
 * sweep id. */
static int64_t fresh_store(void)
{
    g_n++;
    fx_path(g_db, sizeof(g_db), "s%d.db", g_n);
    fx_ipc(g_ep, sizeof(g_ep), "ep%d", g_n);
    return fx_store_new(g_db, SPEC);
}

static service_t *open_svc(int lease_ms)
{
    return fx_service_open(g_db, g_ep, lease_ms, NULL);
}

static wire_client_t *client(const char *id)
{
    return fx_client(g_ep, id, 0);
}

static int pump(service_t *svc, wire_client_t *c, proto_msg_t *out)
{
    return fx_pump(svc, c, out, PUMP_MS);
}

/* Send m (released) and take the answer into *out. */
static int request(service_t *svc, wire_client_t *c, proto_msg_t *m, proto_msg_t *out)
{
    return fx_request(svc, c, m, out, PUMP_MS);
}

/* Send the branin result of trial t and expect an ack. */
static void result_ok(service_t *svc, wire_client_t *c, const proto_trial_t *t)
{
    proto_msg_t m, r = {0};
    double x = fx_param(&t->params, "x");

    fx_result_msg(&m, t->trial_id, t->attempt, fx_branin(x, fx_param(&t->params, "y")),
                  1.5 + x + 5);
    CHECK_EQ(request(svc, c, &m, &r), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    CHECK_EQ(r.ack.trial_id, t->trial_id);
    proto_msg_release(&r);
}

static void counts(int64_t sweep, size_t c[CARBS_TRIAL_STATE_COUNT])
{
    fx_counts(g_db, sweep, c);
}

// ---- cases ----

static void test_trial_round_trip(void)
{
    int64_t sweep = fresh_store();
    service_t *svc = open_svc(2000);
    wire_client_t *w = client("w-a");
    proto_msg_t t = {0}, r = {0};
    size_t c[CARBS_TRIAL_STATE_COUNT];
    proto_msg_t dup;

    fx_hello(svc, w, "w-a");
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
    CHECK_EQ(t.trial.sweep_id, sweep);
    CHECK_EQ(t.trial.attempt, 1);
    CHECK_STR(t.trial.metric, "loss");
    CHECK_STR(t.trial.synthetic.function, "branin");
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_RUNNING], 1); /* stored before it was sent */
    result_ok(svc, w, &t.trial);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 1);
    CHECK_EQ(c[CARBS_TRIAL_RUNNING], 0);

    /* The same result again: acknowledged, nothing changes. */
    proto_msg_init(&dup, PROTO_MSG_RESULT);
    dup.result.r.trial_id = t.trial.trial_id;
    dup.result.r.attempt = t.trial.attempt;
    dup.result.r.ok = true;
    CHECK_EQ(carbs_result_set(&dup.result.r, "loss", 123.25), 0);
    CHECK_EQ(request(svc, w, &dup, &r), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    proto_msg_release(&r);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 1);

    proto_msg_release(&t);
    wire_client_close(w);
    service_close(svc);
}

static void test_bad_frames(void)
{
    int64_t sweep = fresh_store();
    service_t *svc = open_svc(2000);
    wire_client_t *rogue = client("rogue");
    proto_msg_t r = {0};
    size_t c[CARBS_TRIAL_STATE_COUNT];
    static const char *bad[] = {
        "{\"v\":1,\"type\":\"hullo\"}",
        "{\"v\":2,\"type\":\"hello\",\"worker_id\":\"x\"}",
        "{\"v\":1,\"type\":\"result\",\"trial_id\":1",
        "\xff\xfe not utf8",
        "{\"v\":1,\"type\":\"ready\",\"slot\":0}", /* no hello first */
        "{\"v\":1,\"type\":\"tell\",\"sweep\":\"branin-svc\",\"trial_id\":99,\"cost\":1,"
        "\"is_failure\":false,\"output\":1}",
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        fx_send_raw(rogue, bad[i], strlen(bad[i]));
        CHECK_EQ(pump(svc, rogue, &r), 0);
        CHECK(r.type == PROTO_MSG_ERROR || (r.type == PROTO_MSG_REPLY && !r.reply.ok));
        proto_msg_release(&r);
    }
    counts(sweep, c);
    for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
        CHECK_EQ(c[s], 0);
    wire_client_close(rogue);
    service_close(svc);
}

/* The loss count of worker id in the store. */
static int64_t losses_of(const char *id)
{
    carbs_err_t err = {0};
    store_t *st = store_open(g_db, STORE_READONLY, &err);
    store_worker_t row = {0};
    int64_t n = -1;

    CHECK(st != NULL);
    if (st && store_worker_get(st, id, &row, &err) == 0)
        n = row.losses;
    store_worker_release(&row);
    store_close(st);
    return n;
}

/* Step svc for s seconds while worker w sends heartbeats that name no
 * trial. */
static void chat(service_t *svc, wire_client_t *w, double s)
{
    carbs_err_t err = {0};
    double until = now_monotonic() + s;

    while (now_monotonic() < until) {
        proto_msg_t hb;
        proto_msg_init(&hb, PROTO_MSG_HEARTBEAT);
        fx_send(w, &hb);
        proto_msg_release(&hb);
        CHECK_EQ(service_step(svc, 20, &err), 0);
    }
}

static void test_lease_expiry_requeues(void)
{
    int64_t sweep = fresh_store();
    service_t *svc = open_svc(300);
    wire_client_t *a = client("w-a"), *b = client("w-b");
    proto_msg_t ta = {0}, tb = {0}, r = {0}, late;
    size_t c[CARBS_TRIAL_STATE_COUNT];

    fx_hello(svc, a, "w-a");
    fx_hello(svc, b, "w-b");
    CHECK_EQ(fx_ready(svc, b, &tb), PROTO_MSG_TRIAL);
    /* b goes silent; a keeps talking until b's lease runs out. */
    chat(svc, a, 1.0);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_PENDING], 1);
    CHECK_EQ(c[CARBS_TRIAL_RUNNING], 0);
    CHECK_EQ(losses_of("w-b"), 1); /* it had the trial: its loss */
    /* a gets the same trial, second attempt, same params */
    CHECK_EQ(fx_ready(svc, a, &ta), PROTO_MSG_TRIAL);
    CHECK_EQ(ta.trial.trial_id, tb.trial.trial_id);
    CHECK_EQ(ta.trial.attempt, 2);
    CHECK_NEAR(fx_param(&ta.trial.params, "x"), fx_param(&tb.trial.params, "x"), 0);
    /* b's late result for attempt 1 is acknowledged and ignored */
    proto_msg_init(&late, PROTO_MSG_RESULT);
    late.result.r.trial_id = tb.trial.trial_id;
    late.result.r.attempt = 1;
    late.result.r.ok = true;
    CHECK_EQ(carbs_result_set(&late.result.r, "loss", -1e6), 0);
    CHECK_EQ(request(svc, b, &late, &r), 0);
    CHECK(r.type == PROTO_MSG_ACK || r.type == PROTO_MSG_ERROR);
    proto_msg_release(&r);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 0);
    CHECK_EQ(c[CARBS_TRIAL_RUNNING], 1);
    result_ok(svc, a, &ta.trial);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 1);

    proto_msg_release(&ta);
    proto_msg_release(&tb);
    wire_client_close(a);
    wire_client_close(b);
    service_close(svc);
}

static void test_restart_reattaches(void)
{
    int64_t sweep = fresh_store();
    service_t *svc = open_svc(2000);
    wire_client_t *w = client("w-a");
    proto_msg_t t = {0};
    size_t c[CARBS_TRIAL_STATE_COUNT];

    fx_hello(svc, w, "w-a");
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
    service_close(svc); /* the service dies with a trial running */
    svc = open_svc(2000);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_RUNNING], 1);
    fx_hello(svc, w, "w-a"); /* the worker comes back and re-sends its result */
    result_ok(svc, w, &t.trial);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 1);
    CHECK_EQ(c[CARBS_TRIAL_RUNNING], 0);
    proto_msg_release(&t);
    wire_client_close(w);
    service_close(svc);
}

/* The service dies right after handing out a trial, before the frame
 * reaches the worker: the restarted service loses the trial when its worker
 * never names it, and re-queues it, but does not count the loss against
 * the worker, which never had it; three such kills must not quarantine a
 * healthy worker. */
static void test_restart_unnamed_trial_is_not_blamed(void)
{
    int64_t sweep = fresh_store();
    service_t *svc = open_svc(300);
    wire_client_t *w = client("w-a");
    size_t c[CARBS_TRIAL_STATE_COUNT];

    for (int k = 0; k < 3; k++) {
        proto_msg_t t = {0};
        /* (hello again: the checks below may outlast the short lease, and a
         * worker silent that long is taken as gone) */
        fx_hello(svc, w, "w-a");
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        proto_msg_release(&t); /* as if the frame died with the service */
        service_close(svc);
        svc = open_svc(300);
        fx_hello(svc, w, "w-a");
        chat(svc, w, 0.8); /* past the taken-over lease, naming nothing */
        counts(sweep, c);
        CHECK_EQ(c[CARBS_TRIAL_RUNNING], 0);
        CHECK_EQ(c[CARBS_TRIAL_LOST], 0);
        CHECK_EQ(losses_of("w-a"), 0);
    }
    /* (max_retries 1: the first trial failed at its second loss, the next
     * one is pending again.) */
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_FAILED], 1);
    CHECK_EQ(c[CARBS_TRIAL_PENDING], 1);
    {
        proto_msg_t t = {0};
        fx_hello(svc, w, "w-a");
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        proto_msg_release(&t);
    }
    wire_client_close(w);
    service_close(svc);
}

/* ask/tell through requests, n rounds; restart the service after every
 * tell when restart is set.  Writes the suggested x1 values to xs. */
static void ask_tell_rounds(bool restart, int n, double *xs, double *ys)
{
    service_t *svc;
    wire_client_t *cl;

    fresh_store();
    cl = client(NULL);
    svc = open_svc(2000);
    for (int i = 0; i < n; i++) {
        proto_msg_t m, r = {0};
        int64_t tid;
        double x1, x2;
        proto_msg_init(&m, PROTO_MSG_ASK);
        str_copy(m.ask.sweep, sizeof(m.ask.sweep), "branin-svc");
        CHECK_EQ(request(svc, cl, &m, &r), 0);
        CHECK_EQ(r.type, PROTO_MSG_REPLY);
        CHECK(r.reply.ok);
        tid = r.reply.trial_id;
        x1 = fx_param(&r.reply.params, "x");
        x2 = fx_param(&r.reply.params, "y");
        xs[i] = x1;
        ys[i] = x2;
        proto_msg_release(&r);

        proto_msg_init(&m, PROTO_MSG_TELL);
        str_copy(m.tell.sweep, sizeof(m.tell.sweep), "branin-svc");
        m.tell.trial_id = tid;
        m.tell.output = fx_branin(x1, x2);
        m.tell.cost = 2.0 + x1 + 5;
        CHECK_EQ(request(svc, cl, &m, &r), 0);
        CHECK_EQ(r.type, PROTO_MSG_REPLY);
        CHECK(r.reply.ok);
        proto_msg_release(&r);
        if (restart) {
            service_close(svc);
            svc = open_svc(2000);
        }
    }
    wire_client_close(cl);
    service_close(svc);
}

static void test_restart_continues_the_same_search(void)
{
    enum { N = 7 };
    double xa[N], ya[N], xb[N], yb[N];

    ask_tell_rounds(false, N, xa, ya);
    ask_tell_rounds(true, N, xb, yb);
    for (int i = 0; i < N; i++) {
        CHECK(xa[i] == xb[i]);
        CHECK(ya[i] == yb[i]);
    }
}

static void test_budget_and_done(void)
{
    int64_t sweep = fresh_store();
    service_t *svc = open_svc(2000);
    wire_client_t *w = client("w-a");
    size_t c[CARBS_TRIAL_STATE_COUNT];
    int n = 0;

    fx_hello(svc, w, "w-a");
    for (;;) {
        proto_msg_t t = {0};
        proto_msg_type_t k = fx_ready(svc, w, &t);
        if (k != PROTO_MSG_TRIAL) {
            CHECK_EQ(k, PROTO_MSG_WAIT);
            proto_msg_release(&t);
            break;
        }
        result_ok(svc, w, &t.trial);
        proto_msg_release(&t);
        if (++n > 20)
            break;
    }
    CHECK_EQ(n, 8); /* budget.trials */
    CHECK(service_done(svc));
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 8);
    wire_client_close(w);
    service_close(svc);
}

static void test_pause_and_stop(void)
{
    fresh_store();
    service_t *svc = open_svc(2000);
    wire_client_t *w = client("w-a"), *cl = client(NULL);
    proto_msg_t m, r = {0}, t = {0};

    fx_hello(svc, w, "w-a");
    proto_msg_init(&m, PROTO_MSG_PAUSE);
    str_copy(m.pause.sweep, sizeof(m.pause.sweep), "branin-svc");
    CHECK_EQ(request(svc, cl, &m, &r), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok);
    proto_msg_release(&r);
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_WAIT);
    proto_msg_release(&t);

    proto_msg_init(&m, PROTO_MSG_STATUS);
    CHECK_EQ(request(svc, cl, &m, &r), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok && r.reply.data);
    CHECK(r.reply.data && strstr(r.reply.data, "\"state\":\"paused\"") != NULL);
    proto_msg_release(&r);

    proto_msg_init(&m, PROTO_MSG_STOP);
    str_copy(m.stop.sweep, sizeof(m.stop.sweep), "branin-svc");
    CHECK_EQ(request(svc, cl, &m, &r), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok);
    proto_msg_release(&r);

    proto_msg_init(&m, PROTO_MSG_RESUME);
    str_copy(m.resume.sweep, sizeof(m.resume.sweep), "branin-svc");
    CHECK_EQ(request(svc, cl, &m, &r), 0);
    CHECK(r.type == PROTO_MSG_REPLY && !r.reply.ok); /* a stopped sweep stays stopped */
    proto_msg_release(&r);
    CHECK(service_done(svc));

    wire_client_close(w);
    wire_client_close(cl);
    service_close(svc);
}

/* A verify request for branin-svc at x, y with a prediction at cost 40. */
static void verify_msg(proto_msg_t *m, double x, double y)
{
    proto_msg_init(m, PROTO_MSG_VERIFY);
    str_copy(m->verify.sweep, sizeof(m->verify.sweep), "branin-svc");
    carbs_params_set_num(&m->verify.params, "x", x);
    carbs_params_set_num(&m->verify.params, "y", y);
    m->verify.cost = 40.25;
    str_copy(m->verify.cost_name, sizeof(m->verify.cost_name), "cost");
    str_copy(m->verify.estimator, sizeof(m->verify.estimator), "joint");
    m->verify.predicted = 0.3979;
    m->verify.lo = 0.25;
    m->verify.hi = 0.61;
    m->verify.level = 0.9;
}

/* Send verify m (released); the trial id it queued, or 0 when refused
 * (the reply's message into why). */
static int64_t verify_req(service_t *svc, wire_client_t *cl, proto_msg_t *m, char *why,
                          size_t cap)
{
    proto_msg_t r = {0};
    int64_t id = 0;

    CHECK_EQ(request(svc, cl, m, &r), 0);
    CHECK_EQ(r.type, PROTO_MSG_REPLY);
    if (r.type == PROTO_MSG_REPLY && r.reply.ok)
        id = r.reply.trial_id;
    if (why)
        str_copy(why, cap, r.type == PROTO_MSG_REPLY ? r.reply.message : "");
    proto_msg_release(&r);
    return id;
}

/* A verification run is handed out before any new suggestion, also past
 * the budget and outside the space; the budget does not count it, a done
 * sweep becomes active for it and done again, and a restart with one
 * pending (outside the space, so the optimizer would refuse it) hands it
 * out again.  Bad configurations are refused with nothing queued (a
 * stopped sweep's refusal is in tests/test_verify.sh). */
static void test_verification_runs(void)
{
    int64_t sweep = fresh_store(), v1, v2;
    service_t *svc = open_svc(2000);
    wire_client_t *w = client("w-a"), *cl = client(NULL);
    size_t c[CARBS_TRIAL_STATE_COUNT];
    proto_msg_t m, t = {0};
    char why[CARBS_MSG_MAX];
    int n = 0;

    fx_hello(svc, w, "w-a");
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL); /* one search trial first */
    result_ok(svc, w, &t.trial);
    proto_msg_release(&t);

    /* refused: an unknown parameter, a missing one, a value outside the kind */
    verify_msg(&m, 2.5, 7.5);
    carbs_params_set_num(&m.verify.params, "z", 1);
    CHECK_EQ(verify_req(svc, cl, &m, why, sizeof(why)), 0);
    CHECK(strstr(why, "'z' is not a parameter of sweep 'branin-svc'") != NULL);
    proto_msg_init(&m, PROTO_MSG_VERIFY);
    verify_msg(&m, 2.5, 7.5);
    m.verify.params.n = 1;
    CHECK_EQ(verify_req(svc, cl, &m, why, sizeof(why)), 0);
    CHECK(strstr(why, "no value for parameter 'y'") != NULL);
    verify_msg(&m, 2.5, 7.5);
    m.verify.predicted = 0.9;
    CHECK_EQ(verify_req(svc, cl, &m, why, sizeof(why)), 0);
    CHECK(strstr(why, "outside its interval") != NULL);
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_PENDING], 0);

    /* x = 20 lies outside the searched [-5, 10]: allowed */
    verify_msg(&m, 20.125, 3.5);
    v1 = verify_req(svc, cl, &m, why, sizeof(why));
    CHECK(v1 > 1);
    CHECK(strstr(why, "verification trial") != NULL);
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
    CHECK_EQ(t.trial.trial_id, v1);
    CHECK_NEAR(fx_param(&t.trial.params, "x"), 20.125, 0);
    result_ok(svc, w, &t.trial);
    proto_msg_release(&t);

    /* the search still gets its 8 trials */
    for (n = 1; n <= 20; n++) {
        proto_msg_type_t k = fx_ready(svc, w, &t);
        if (k != PROTO_MSG_TRIAL) {
            CHECK_EQ(k, PROTO_MSG_WAIT);
            proto_msg_release(&t);
            break;
        }
        result_ok(svc, w, &t.trial);
        proto_msg_release(&t);
    }
    CHECK_EQ(n, 8);
    CHECK(service_done(svc));
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 9);

    /* a done sweep takes one more, and survives a restart with it pending */
    verify_msg(&m, 11.5, 16.5);
    v2 = verify_req(svc, cl, &m, NULL, 0);
    CHECK(v2 > v1);
    CHECK(!service_done(svc));
    wire_client_close(w);
    wire_client_close(cl);
    service_close(svc);
    svc = open_svc(2000);
    CHECK(svc != NULL);
    if (!svc)
        return;
    w = client("w-b");
    cl = client(NULL);
    fx_hello(svc, w, "w-b");
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
    CHECK_EQ(t.trial.trial_id, v2);
    result_ok(svc, w, &t.trial);
    proto_msg_release(&t);
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_WAIT);
    proto_msg_release(&t);
    CHECK(service_done(svc));
    counts(sweep, c);
    CHECK_EQ(c[CARBS_TRIAL_DONE], 10);

    wire_client_close(w);
    wire_client_close(cl);
    service_close(svc);
}

/* The latest law fit stored for sweep: whether it is full and its trials.
 * False when there is none. */
static bool stored_law(int64_t sweep, bool *full, size_t *n_trials)
{
    carbs_err_t err = {0};
    store_t *st = store_open(g_db, STORE_READONLY, &err);
    char *json = NULL;
    laws_t l = {0};
    bool ok = st && store_law_get(st, sweep, &json, NULL, &err) == 0 &&
              laws_from_json(json, &l, &err) == 0;

    if (ok) {
        *full = l.full;
        *n_trials = l.n_trials;
    }
    laws_release(&l);
    free(json);
    store_close(st);
    return ok;
}

/* Send a result of trial t with the given loss and cost; expect an ack. */
static void result_at(service_t *svc, wire_client_t *c, const proto_trial_t *t, double loss,
                      double cost)
{
    proto_msg_t m, r = {0};

    fx_result_msg(&m, t->trial_id, t->attempt, loss, cost);
    CHECK_EQ(request(svc, c, &m, &r), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    proto_msg_release(&r);
}

/* With cfg.laws the service stores the cheap law fit after each result
 * and, every laws_every results of the sweep, the full fit its actor made;
 * service_close() waits for one under way.  Every result is on the front
 * (loss falls as cost rises), so three are enough for a fit. */
static void test_laws_refits(void)
{
    int64_t sweep = fresh_store();
    carbs_err_t err = {0};
    service_config_t cfg = {.db_path = g_db, .endpoint = g_ep, .wait_ms = 10, .laws = true,
                            .laws_every = 3};
    service_t *svc = service_open(&cfg, &err);
    wire_client_t *w;
    bool full = true;
    size_t n = 0;

    CHECK(svc != NULL);
    if (!svc)
        return;
    w = client("w-a");
    CHECK_EQ(fx_hello(svc, w, "w-a"), 0);
    for (int i = 1; i <= 6; i++) {
        proto_msg_t t = {0};
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        result_at(svc, w, &t.trial, 5.0 + 10.0 / i, (double)i);
        proto_msg_release(&t);
        if (i < 3)
            CHECK(!stored_law(sweep, &full, &n));
        if (i == 3) {
            /* the cheap fit at once; the full one when the loop sees it */
            double end = now_monotonic() + 30.0;
            CHECK(stored_law(sweep, &full, &n) && n == 3);
            while (!(stored_law(sweep, &full, &n) && full) && now_monotonic() < end)
                CHECK_EQ(service_step(svc, 5, &err), 0);
            CHECK(full && n == 3);
        }
        if (i == 4 || i == 5)
            CHECK(stored_law(sweep, &full, &n) && !full && n == (size_t)i);
    }
    /* the sixth result sent the next full fit: closing stores it */
    wire_client_close(w);
    service_close(svc);
    CHECK(stored_law(sweep, &full, &n) && full && n == 6);
}

int main(void)
{
    if (FX_SETUP("service"))
        return 1;
    RUN(test_trial_round_trip);
    RUN(test_bad_frames);
    RUN(test_lease_expiry_requeues);
    RUN(test_restart_reattaches);
    RUN(test_restart_unnamed_trial_is_not_blamed);
    RUN(test_restart_continues_the_same_search);
    RUN(test_budget_and_done);
    RUN(test_pause_and_stop);
    RUN(test_verification_runs);
    RUN(test_laws_refits);
    return FX_FINISH();
}
