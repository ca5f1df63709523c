/*
 * test_rogue.c - a rogue client against the service: garbage, oversized
 * frames, unknown and misdirected message types, frames out of the
 * grammar's order, results for trials the sender never got and results for
 * the wrong attempt.  After each barrage the service must still be up
 * (a well-behaved worker completes a trial), every refused frame must have
 * had an `error` answer (or an `ack` that changes nothing, where the
 * protocol says so), and the store's trials and results must be exactly as
 * they were.  The service is stepped in this process on an ipc:// endpoint;
 * the rogue speaks through wire_client_t, so every frame reaches the
 * ROUTER as bytes of the rogue's choosing.
 */
#include "proto/common.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#include "check.h"
#include "fixture.h"
#include "store/store.h"

#define ANSWER_MS 3000 /* bound on waiting for one answer */
#define GARBAGE_FRAMES 300

static char g_db[128];
static char g_ep[128];
static int g_n;
static int64_t g_sweep;
static fx_rng_t g_rng;

static const char SPEC[] = "name: rogue\n" FX_SPEC_SYNTHETIC
                           "synthetic: {function: branin}\n" FX_SPEC_BRANIN_XY
                           "carbs: {seed: 23, num_random_samples: 3, resample_frequency: 0}\n"
                           "budget: {trials: 40, parallel: 4, max_retries: 2}\n";

static uint64_t rnd(void)
{
    return fx_rnd(&g_rng);
}

// ---- the service and its clients ----

static void fresh_store(void)
{
    g_n++;
    fx_path(g_db, sizeof(g_db), "r%d.db", g_n);
    fx_ipc(g_ep, sizeof(g_ep), "ep%d", g_n);
    g_sweep = fx_store_new(g_db, SPEC);
}

static service_t *open_svc(void)
{
    return fx_service_open(g_db, g_ep, 20000, NULL); /* nothing expires during a case */
}

static wire_client_t *client(const char *id, size_t frame_max)
{
    return fx_client(g_ep, id, frame_max);
}

static int pump(service_t *svc, wire_client_t *c, proto_msg_t *out)
{
    return fx_pump(svc, c, out, ANSWER_MS);
}

/* Expect an `error` frame for what c just sent; returns its code. */
static int expect_error(service_t *svc, wire_client_t *c)
{
    proto_msg_t r = {0};
    int code = 0;

    if (pump(svc, c, &r)) {
        CHECK(!"no answer to a refused frame");
        return 0;
    }
    CHECK_EQ(r.type, PROTO_MSG_ERROR);
    if (r.type == PROTO_MSG_ERROR) {
        code = r.error.code;
        CHECK(code < 0);
        CHECK(r.error.message[0] != '\0');
    }
    proto_msg_release(&r);
    return code;
}

/* ready -> trial into *t (caller releases). */
static void take_trial(service_t *svc, wire_client_t *c, proto_msg_t *t)
{
    CHECK_EQ(fx_ready(svc, c, t), PROTO_MSG_TRIAL);
}

/* A result frame for trial_id/attempt with a made-up loss. */
static void result_msg(proto_msg_t *m, int64_t trial_id, int attempt, double loss)
{
    fx_result_msg(m, trial_id, attempt, loss, 2.375);
}

/* A well-behaved worker finishes one trial: the service is up. */
static void honest_round(service_t *svc, const char *id)
{
    wire_client_t *w = client(id, 0);
    proto_msg_t t = {0}, m, r = {0};

    fx_hello(svc, w, id);
    take_trial(svc, w, &t);
    result_msg(&m, t.trial.trial_id, t.trial.attempt,
               0.5 + fabs(fx_param(&t.trial.params, "x")) / 7.0);
    CHECK_EQ(fx_request(svc, w, &m, &r, ANSWER_MS), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    CHECK_EQ(r.ack.trial_id, t.trial.trial_id);
    proto_msg_release(&r);
    proto_msg_release(&t);
    wire_client_close(w);
}

// ---- the store's contents, as one comparable string ----

typedef struct text {
    char *p;
    size_t n, cap;
} text_t;

static void text_add(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->n + (size_t)k + 1 > t->cap) {
        t->cap = 2 * (t->n + (size_t)k + 1);
        t->p = xrealloc(t->p, t->cap);
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)k;
}

/* Every trial and result of every sweep (not the workers table, which a
 * rogue's hello legitimately touches).  Caller frees. */
static char *store_digest(void)
{
    carbs_err_t err = {0};
    store_t *st = store_open(g_db, STORE_READONLY, &err);
    store_sweep_iter_t *si;
    const store_sweep_t *sw;
    text_t t = {0};

    text_add(&t, "%s", "");
    CHECK(st != NULL);
    if (!st)
        return t.p;
    si = store_sweep_iter_new(st, 0, &err);
    CHECK(si != NULL);
    while (si && store_sweep_iter_next(si, &sw) == CARBS_CONTINUE) {
        store_export_iter_t *ei = store_export_iter_new(st, sw->id, &err);
        const store_record_t *rec;
        text_add(&t, "sweep %" PRId64 " %s %d\n", sw->id, sw->name, (int)sw->state);
        CHECK(ei != NULL);
        while (ei && store_export_iter_next(ei, &rec) == CARBS_CONTINUE) {
            const store_trial_t *tr = &rec->trial;
            text_add(&t, "trial %" PRId64 " %s a%d %s w=%s", tr->id,
                     carbs_trial_state_name(tr->state), tr->attempt, tr->params_json, tr->worker);
            if (rec->has_result)
                text_add(&t, " result ok=%d f=%d out=%.17g cost=%.17g %s", rec->result.ok,
                         (int)rec->result.failure, rec->result.output, rec->result.cost,
                         rec->result.metrics_json ? rec->result.metrics_json : "-");
            text_add(&t, "\n");
        }
        store_export_iter_free(ei);
    }
    store_sweep_iter_free(si);
    store_close(st);
    return t.p;
}

static void check_unchanged(const char *before)
{
    char *after = store_digest();

    CHECK_STR(after, before);
    free(after);
}

// ---- cases ----

/* Random bytes, truncated and mutated valid frames, JSON of the wrong
 * shape: each gets an error, and nothing is stored. */
static void test_rogue_garbage(void)
{
    service_t *svc;
    wire_client_t *rogue;
    char *before;
    static const char *valid[] = {
        "{\"v\":1,\"type\":\"hello\",\"worker_id\":\"r\",\"host\":\"h\",\"pid\":3,\"slots\":1,"
        "\"devices\":[\"cpu\"],\"capabilities\":{\"synthetic\":true}}",
        "{\"v\":1,\"type\":\"result\",\"trial_id\":1,\"attempt\":1,\"status\":\"ok\","
        "\"metrics\":{\"loss\":0.4375,\"cost\":2.5}}",
        "{\"v\":1,\"type\":\"ready\",\"slot\":0}",
        "{\"v\":1,\"type\":\"tell\",\"sweep\":\"rogue\",\"trial_id\":1,\"output\":1.25,"
        "\"cost\":3,\"is_failure\":false}",
    };
    static const char *shaped[] = {
        "", " ", "null", "[]", "42", "\"hello\"", "{}", "{\"v\":1}", "{\"type\":\"hello\"}",
        "{\"v\":\"1\",\"type\":\"ready\",\"slot\":0}", "{\"v\":1.5,\"type\":\"ready\",\"slot\":0}",
        "{\"v\":1,\"type\":\"ready\",\"slot\":-1}", "{\"v\":1,\"type\":\"ready\",\"slot\":0,"
        "\"slot\":1}", "{\"v\":1,\"type\":\"ready\",\"slot\":0} {}",
        "{\"v\":1,\"type\":\"result\",\"trial_id\":1,\"attempt\":1,\"status\":\"ok\","
        "\"metrics\":{\"loss\":NaN}}",
        "{\"v\":1,\"type\":\"result\",\"trial_id\":1e999,\"attempt\":1,\"status\":\"ok\"}",
        "{\"v\":1,\"type\":\"result\",\"trial_id\":-3,\"attempt\":1,\"status\":\"ok\"}",
        "{\"v\":1,\"type\":\"hello\",\"worker_id\":\"a\\u0000b\",\"host\":\"h\",\"pid\":1,"
        "\"slots\":1}",
        "{\"v\":3,\"type\":\"hello\",\"worker_id\":\"future\",\"host\":\"h\",\"pid\":1,"
        "\"slots\":1}",
    };
    int n_err = 0;

    fresh_store();
    svc = open_svc();
    rogue = client("rogue-1", 0);
    honest_round(svc, "honest-1"); /* something in the store to keep */
    before = store_digest();

    for (size_t i = 0; i < ARRAY_SIZE(shaped); i++) {
        fx_send_raw(rogue, shaped[i], strlen(shaped[i]));
        n_err += expect_error(svc, rogue) < 0;
    }
    CHECK_EQ(n_err, (int)ARRAY_SIZE(shaped));
    for (int i = 0; i < GARBAGE_FRAMES; i++) {
        char buf[512];
        size_t len;
        const char *v = valid[rnd() % ARRAY_SIZE(valid)];
        size_t vl = strlen(v);
        switch (rnd() % 3) {
        case 0: /* random bytes */
            len = 1 + rnd() % sizeof(buf);
            for (size_t k = 0; k < len; k++)
                buf[k] = (char)(rnd() & 0xff);
            break;
        case 1: /* a valid frame cut short */
            len = rnd() % vl;
            memcpy(buf, v, len);
            break;
        default: /* a valid frame with a few bytes flipped, so it no longer parses */
            memcpy(buf, v, vl);
            len = vl;
            buf[rnd() % 6] = (char)(rnd() & 0xff); /* inside {"v":1 */
            for (int k = 0; k < 3; k++)
                buf[rnd() % len] = (char)(rnd() & 0xff);
            break;
        }
        fx_send_raw(rogue, buf, len);
        n_err += expect_error(svc, rogue) < 0;
    }
    CHECK_EQ(n_err, (int)ARRAY_SIZE(shaped) + GARBAGE_FRAMES);
    check_unchanged(before);
    honest_round(svc, "honest-2");
    free(before);
    wire_client_close(rogue);
    service_close(svc);
}

/* A frame over PROTO_FRAME_MAX never reaches the codec: the connection it
 * came on is dropped.  The service stays up, answers the same client after
 * it reconnects, and a frame of exactly the limit is parsed and refused. */
static void test_rogue_oversized(void)
{
    service_t *svc;
    wire_client_t *rogue;
    char *before, *big;
    size_t big_len = PROTO_FRAME_MAX + 1 + rnd() % 4096;
    proto_msg_t r = {0};
    int answered = 0;

    fresh_store();
    svc = open_svc();
    honest_round(svc, "honest-1");
    before = store_digest();
    /* The rogue's own limit is raised so its wire lets the frame out. */
    rogue = client("rogue-big", 4u << 20);
    big = xmalloc(big_len);
    memset(big, ' ', big_len);
    memcpy(big, "{\"v\":1,\"type\":\"ready\",\"slot\":0,\"pad\":\"", 39);
    for (size_t k = 39; k + 2 < big_len; k++)
        big[k] = (char)('a' + rnd() % 26);
    memcpy(big + big_len - 2, "\"}", 2);
    fx_send_raw(rogue, big, big_len);
    /* No answer comes for it. */
    CHECK_EQ(fx_pump(svc, rogue, &r, 400), -1);
    proto_msg_release(&r);

    /* Exactly the limit: parsed, refused (no hello), answered. */
    memcpy(big + PROTO_FRAME_MAX - 2, "\"}", 2);
    for (int tries = 0; tries < 50 && !answered; tries++) {
        /* The dropped connection comes back on its own; frames sent before
         * it does may be lost with it, so send until one is answered. */
        fx_send_raw(rogue, big, PROTO_FRAME_MAX);
        if (fx_pump(svc, rogue, &r, 200) == 0) {
            CHECK_EQ(r.type, PROTO_MSG_ERROR);
            answered = 1;
        }
        proto_msg_release(&r);
    }
    CHECK(answered);
    /* The service is still up for everyone, the store as it was. */
    check_unchanged(before);
    honest_round(svc, "honest-2");
    free(big);
    free(before);
    wire_client_close(rogue);
    service_close(svc);
}

/* Unknown types, and the service's own messages sent to it, before and
 * after hello: each answered with an error. */
static void test_rogue_unknown_types(void)
{
    static const char *frames[] = {
        "{\"v\":1,\"type\":\"hullo\"}",
        "{\"v\":1,\"type\":\"HELLO\",\"worker_id\":\"x\"}",
        "{\"v\":1,\"type\":\"welcome\",\"heartbeat_ms\":5,\"lease_ms\":50,"
        "\"service_version\":\"9\"}",
        "{\"v\":1,\"type\":\"wait\",\"retry_ms\":7}",
        "{\"v\":1,\"type\":\"ack\",\"trial_id\":1}",
        "{\"v\":1,\"type\":\"cancel\",\"trial_id\":1,\"reason\":\"because\"}",
        "{\"v\":1,\"type\":\"error\",\"code\":\"EPROTO\",\"message\":\"no\"}",
        "{\"v\":1,\"type\":\"reply\",\"ok\":true}",
    };
    service_t *svc;
    wire_client_t *rogue;
    char *before;

    fresh_store();
    svc = open_svc();
    honest_round(svc, "honest-1");
    before = store_digest();
    rogue = client("rogue-types", 0);
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            fx_hello(svc, rogue, "rogue-types");
        for (size_t i = 0; i < ARRAY_SIZE(frames); i++) {
            int code;
            fx_send_raw(rogue, frames[i], strlen(frames[i]));
            code = expect_error(svc, rogue);
            CHECK(code == CARBS_EPROTO || code == CARBS_ESTATE);
        }
    }
    check_unchanged(before);
    honest_round(svc, "honest-2");
    free(before);
    wire_client_close(rogue);
    service_close(svc);
}

/* Frames out of the grammar's order, results for trials the rogue never
 * got and for the wrong attempt.  An honest worker holds a trial
 * throughout; it must come out of this untouched and finish normally. */
static void test_rogue_out_of_order(void)
{
    service_t *svc;
    wire_client_t *rogue, *w;
    proto_msg_t t = {0}, m, r = {0};
    char *before;
    int64_t tid;
    int attempt;

    fresh_store();
    svc = open_svc();
    honest_round(svc, "honest-1");
    w = client("honest-2", 0);
    fx_hello(svc, w, "honest-2");
    take_trial(svc, w, &t);
    tid = t.trial.trial_id;
    attempt = t.trial.attempt;
    before = store_digest();
    rogue = client("rogue-order", 0);

    /* Before hello: every worker frame is refused. */
    proto_msg_init(&m, PROTO_MSG_READY);
    fx_send(rogue, &m);
    proto_msg_release(&m);
    CHECK_EQ(expect_error(svc, rogue), CARBS_ESTATE);
    proto_msg_init(&m, PROTO_MSG_HEARTBEAT);
    m.heartbeat.trial_id = tid;
    fx_send(rogue, &m);
    proto_msg_release(&m);
    CHECK_EQ(expect_error(svc, rogue), CARBS_ESTATE);
    result_msg(&m, tid, attempt, -1e6);
    fx_send(rogue, &m);
    proto_msg_release(&m);
    CHECK_EQ(expect_error(svc, rogue), CARBS_ESTATE);
    proto_msg_init(&m, PROTO_MSG_BYE);
    str_copy(m.bye.reason, sizeof(m.bye.reason), "preempted");
    fx_send(rogue, &m);
    proto_msg_release(&m);
    CHECK_EQ(expect_error(svc, rogue), CARBS_ESTATE);
    check_unchanged(before);

    /* After hello, with no trial of its own. */
    fx_hello(svc, rogue, "rogue-order");
    /* Progress and a heartbeat naming the honest worker's trial: ignored. */
    proto_msg_init(&m, PROTO_MSG_PROGRESS);
    m.progress.trial_id = tid;
    m.progress.attempt = attempt;
    m.progress.step = 17;
    m.progress.tokens = 4352;
    m.progress.train_loss = 3.8125;
    m.progress.elapsed_seconds = 0.75;
    fx_send(rogue, &m);
    proto_msg_release(&m);
    proto_msg_init(&m, PROTO_MSG_HEARTBEAT);
    m.heartbeat.trial_id = tid;
    fx_send(rogue, &m);
    proto_msg_release(&m);
    /* A result for the honest worker's trial, right attempt: refused. */
    result_msg(&m, tid, attempt, -1e6);
    CHECK_EQ(fx_request(svc, rogue, &m, &r, ANSWER_MS), 0);
    CHECK_EQ(r.type, PROTO_MSG_ERROR);
    proto_msg_release(&r);
    check_unchanged(before);
    /* The wrong attempt, and trials that do not exist: acknowledged (the
     * worker may stop re-sending) and dropped. */
    {
        int64_t ids[] = {tid, tid + 1000 + (int64_t)(rnd() % 1000), 1};
        int attempts[] = {attempt + 1 + (int)(rnd() % 5), 1, 2};
        for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
            result_msg(&m, ids[i], attempts[i], -2e6);
            CHECK_EQ(fx_request(svc, rogue, &m, &r, ANSWER_MS), 0);
            CHECK(r.type == PROTO_MSG_ACK || r.type == PROTO_MSG_ERROR);
            proto_msg_release(&r);
        }
    }
    /* A bye holding nothing loses nothing. */
    proto_msg_init(&m, PROTO_MSG_BYE);
    str_copy(m.bye.reason, sizeof(m.bye.reason), "preempted");
    CHECK_EQ(fx_request(svc, rogue, &m, &r, 200), -1); /* bye has no answer */
    proto_msg_release(&r);
    check_unchanged(before);

    /* The honest worker's trial is intact and finishes. */
    result_msg(&m, tid, attempt, 0.8125);
    CHECK_EQ(fx_request(svc, w, &m, &r, ANSWER_MS), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    proto_msg_release(&r);
    {
        carbs_err_t err = {0};
        store_t *st = store_open(g_db, STORE_READONLY, &err);
        store_result_t res = {0};
        CHECK(st != NULL);
        CHECK_EQ(store_result_get(st, tid, &res, &err), 0);
        CHECK_NEAR(res.output, 0.8125, 0);
        CHECK_EQ(res.attempt, attempt);
        store_result_release(&res);
        store_close(st);
    }
    free(before);
    proto_msg_release(&t);
    wire_client_close(rogue);
    wire_client_close(w);
    service_close(svc);
}

// ---- a restart ----

static size_t running_count(void)
{
    size_t c[CARBS_TRIAL_STATE_COUNT] = {0};

    if (fx_counts(g_db, g_sweep, c))
        return (size_t)-1;
    return c[CARBS_TRIAL_RUNNING];
}

/* A restart keeps the leases the store holds.  Two workers hold a trial
 * each when the service stops, and both stored leases run out while it is
 * down.  The one that comes back says hello and names its trial within the
 * grace (two heartbeats) and keeps it; the dead one's trial is lost within
 * that grace, not after a fresh lease (4 s here). */
static void test_restart_keeps_stored_leases(void)
{
    carbs_err_t err = {0};
    service_t *svc;
    wire_client_t *dead, *live;
    proto_msg_t t1 = {0}, t2 = {0}, m;
    store_t *st;
    double t0;

    fresh_store();
    svc = fx_service_open(g_db, g_ep, 4000, NULL); /* heartbeat 1 s */
    dead = client("dies", 0);
    live = client("lives", 0);
    fx_hello(svc, dead, "dies");
    fx_hello(svc, live, "lives");
    take_trial(svc, dead, &t1);
    take_trial(svc, live, &t2);
    wire_client_close(dead);
    wire_client_close(live);
    service_close(svc);

    st = store_open(g_db, 0, &err);
    CHECK(st != NULL);
    CHECK_EQ(store_trial_renew(st, t1.trial.trial_id, "dies", now_wall() - 30, &err), 0);
    CHECK_EQ(store_trial_renew(st, t2.trial.trial_id, "lives", now_wall() - 30, &err), 0);
    store_close(st);

    svc = fx_service_open(g_db, g_ep, 4000, NULL);
    t0 = now_wall();
    CHECK_EQ(running_count(), 2); /* the grace */
    live = client("lives", 0);
    fx_hello(svc, live, "lives");
    while (now_wall() - t0 < 3.0) {
        proto_msg_init(&m, PROTO_MSG_HEARTBEAT);
        m.heartbeat.trial_id = t2.trial.trial_id;
        fx_send(live, &m);
        proto_msg_release(&m);
        for (double u = now_wall(); now_wall() - u < 0.5;)
            service_step(svc, 50, NULL);
    }
    CHECK_EQ(running_count(), 1);
    proto_msg_release(&t1);
    proto_msg_release(&t2);
    wire_client_close(live);
    service_close(svc);
}

// ---- a flood of hellos ----

#define FLOOD_IDS 3000

/* The service's status, as its `status` request answers it, into *st
 * (caller releases).  0, or -1 when the reply fails. */
static int status_of(service_t *svc, wire_client_t *c, proto_status_t *st)
{
    proto_msg_t m, r = {0};
    int rc = -1;

    proto_msg_init(&m, PROTO_MSG_STATUS);
    if (fx_request(svc, c, &m, &r, ANSWER_MS) == 0 && r.type == PROTO_MSG_REPLY && r.reply.ok &&
        r.reply.data && proto_status_decode(r.reply.data, strlen(r.reply.data), st, NULL) == 0)
        rc = 0;
    else
        fprintf(stderr, "status: %s\n", r.type == PROTO_MSG_REPLY ? r.reply.message : "no reply");
    proto_msg_release(&r);
    return rc;
}

/* One connection says hello with FLOOD_IDS distinct worker ids.  It
 * speaks for one worker at a time: each new id leaves the one before (the
 * trial the first took is lost), the ids it left are forgotten in memory
 * (their store rows stay), and `status` fits its frame and lists the two
 * workers there are.  An honest worker's trial is untouched. */
static void test_rogue_hello_flood(void)
{
    service_t *svc;
    wire_client_t *rogue, *w;
    proto_msg_t t = {0}, rt = {0}, m, r = {0};
    proto_status_t st = {0};
    char id[32];
    int welcomes = 0;

    fresh_store();
    svc = open_svc();
    w = client("honest-flood", 0);
    fx_hello(svc, w, "honest-flood");
    take_trial(svc, w, &t);
    rogue = client("rogue-flood", 0);
    fx_hello(svc, rogue, "flood-0");
    take_trial(svc, rogue, &rt);
    CHECK_EQ(running_count(), 2);

    for (int i = 1; i <= FLOOD_IDS; i += 100) {
        for (int k = i; k < i + 100 && k <= FLOOD_IDS; k++) {
            snprintf(id, sizeof(id), "flood-%d", k);
            fx_hello_msg(&m, id);
            m.hello.slots = 64;
            fx_send(rogue, &m);
            proto_msg_release(&m);
        }
        for (int k = i; k < i + 100 && k <= FLOOD_IDS && pump(svc, rogue, &r) == 0; k++) {
            welcomes += r.type == PROTO_MSG_WELCOME;
            proto_msg_release(&r);
        }
        proto_msg_init(&m, PROTO_MSG_HEARTBEAT); /* the honest worker stays alive */
        m.heartbeat.trial_id = t.trial.trial_id;
        fx_send(w, &m);
        proto_msg_release(&m);
    }
    CHECK_EQ(welcomes, FLOOD_IDS);
    CHECK_EQ(running_count(), 1); /* flood-0's trial was lost */
    for (double u = now_wall(); now_wall() - u < 0.6;)
        service_step(svc, 50, NULL); /* a tick forgets the workers that left */

    CHECK_EQ(status_of(svc, w, &st), 0);
    CHECK_EQ(st.workers.n, 2);
    CHECK_EQ(st.workers_unlisted, 0);
    for (size_t i = 0; i < st.workers.n && st.workers.n <= 2; i++) {
        CHECK(st.workers.v[i].connected);
        CHECK(strcmp(st.workers.v[i].id, "honest-flood") == 0 ||
              strcmp(st.workers.v[i].id, "flood-3000") == 0);
    }
    CHECK_EQ(st.running.n, 1);
    if (st.running.n == 1)
        CHECK_EQ(st.running.v[0].trial, t.trial.trial_id);
    proto_status_release(&st);
    {
        carbs_err_t err = {0};
        store_t *db = store_open(g_db, STORE_READONLY, &err);
        store_worker_t row = {0};
        CHECK(db != NULL);
        CHECK_EQ(store_worker_get(db, "flood-17", &row, &err), 0); /* kept in the store */
        store_worker_release(&row);
        store_close(db);
    }

    /* The honest worker's trial finishes. */
    result_msg(&m, t.trial.trial_id, t.trial.attempt, 0.5625);
    CHECK_EQ(fx_request(svc, w, &m, &r, ANSWER_MS), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    proto_msg_release(&r);
    proto_msg_release(&t);
    proto_msg_release(&rt);
    wire_client_close(rogue);
    wire_client_close(w);
    service_close(svc);
}

int main(void)
{
    g_rng.s = fx_seed("test_rogue");
    if (FX_SETUP("rogue"))
        return 1;
    RUN(test_rogue_garbage);
    RUN(test_rogue_oversized);
    RUN(test_rogue_unknown_types);
    RUN(test_rogue_out_of_order);
    RUN(test_restart_keeps_stored_leases);
    RUN(test_rogue_hello_flood);
    return FX_FINISH();
}
