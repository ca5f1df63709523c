/*
 * test_trust.c - the service's trust boundaries (docs/service.md, Who may
 * do what): a worker key may only do worker things; the control endpoint
 * is its user's only; `tell` is for trials handed out by `ask`; a worker
 * id belongs to the key (and, without keys, the live connection) that said
 * hello with it first; a cost that is not finite and > 0 fails its trial.
 *
 * The service is stepped in this process on tcp://127.0.0.1, with and
 * without CURVE; the other side speaks through wire_client_t, so every
 * frame reaches the ROUTER as bytes of the test's choosing.
 */
#include "proto/common.h"

#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "store/store.h"

#define ANSWER_MS 3000 /* bound on waiting for one answer */

static char g_db[128];
static char g_keys[128]; /* service.key/.pub; allow/<worker>.key; allow/admin/<admin>.key */
static int g_n;

static const char SPEC[] = "name: trust\n" FX_SPEC_SYNTHETIC "synthetic: {function: branin}\n"
    FX_SPEC_BRANIN_XY "carbs: {seed: 29, num_random_samples: 3, resample_frequency: 0}\n"
                           "budget: {trials: 40, cost: 3, parallel: 4, max_retries: 2}\n";

// ---- the service and its clients ----

static void fresh_store(void)
{
    fx_path(g_db, sizeof(g_db), "t%d.db", ++g_n);
    CHECK(fx_store_new(g_db, SPEC) > 0);
}

/* The key directory, made once: the service's pair, worker keys good and
 * other, admin key boss. */
static void make_keys(void)
{
    carbs_err_t err = {0};
    char allow[192], admin[256];

    fx_path(g_keys, sizeof(g_keys), "keys");
    snprintf(allow, sizeof(allow), "%s/%s", g_keys, WIRE_ALLOW_DIR_NAME);
    snprintf(admin, sizeof(admin), "%s/%s", allow, WIRE_ADMIN_DIR_NAME);
    CHECK_EQ(wire_keygen(g_keys, WIRE_SERVICE_KEY_NAME, &err), 0);
    CHECK_EQ(wire_keygen(allow, "good", &err), 0);
    CHECK_EQ(wire_keygen(allow, "other", &err), 0);
    CHECK_EQ(wire_keygen(admin, "boss", &err), 0);
}

static service_t *open_svc_per_key(bool curve, int workers_per_key)
{
    carbs_err_t err = {0};
    service_config_t cfg;
    char key[192], allow[192];
    service_t *svc;

    snprintf(key, sizeof(key), "%s/%s.key", g_keys, WIRE_SERVICE_KEY_NAME);
    snprintf(allow, sizeof(allow), "%s/%s", g_keys, WIRE_ALLOW_DIR_NAME);
    fx_service_config(&cfg, g_db, "tcp://127.0.0.1:*", 20000); /* nothing expires in a case */
    cfg.key = curve ? key : NULL;
    cfg.allow = curve ? allow : NULL;
    cfg.workers_per_key = workers_per_key;
    svc = service_open(&cfg, &err);
    if (!svc)
        fprintf(stderr, "service_open: %s\n", err.msg);
    CHECK(svc != NULL);
    return svc;
}

/* The service of g_db, with CURVE or without. */
static service_t *open_svc(bool curve)
{
    return open_svc_per_key(curve, 0);
}

/* A client of svc: key NULL for plain, else "good", "other" (worker keys)
 * or "boss" (the admin key); id NULL for a random routing id. */
static wire_client_t *client(service_t *svc, const char *key, const char *id)
{
    carbs_err_t err = {0};
    wire_client_config_t cc = {0};
    char kp[256], sp[192];
    wire_client_t *c;

    snprintf(kp, sizeof(kp), "%s/%s%s/%s.key", g_keys, WIRE_ALLOW_DIR_NAME,
             key && strcmp(key, "boss") == 0 ? "/" WIRE_ADMIN_DIR_NAME : "", key ? key : "");
    snprintf(sp, sizeof(sp), "%s/%s.pub", g_keys, WIRE_SERVICE_KEY_NAME);
    cc.endpoint = service_endpoint(svc);
    cc.identity = id;
    cc.key = key ? kp : NULL;
    cc.server_key = key ? sp : NULL;
    cc.reconnect_ms = 20;
    c = wire_client_open(&cc, &err);
    if (!c)
        fprintf(stderr, "wire_client_open: %s\n", err.msg);
    CHECK(c != NULL);
    return c;
}

/* A fresh store (fresh_store) and its service (open_svc); NULL when it
 * does not open. */
static service_t *fresh_svc(bool curve)
{
    fresh_store();
    return open_svc(curve);
}

/* A client of svc (client) that said hello as id, expecting welcome. */
static wire_client_t *worker(service_t *svc, const char *key, const char *id)
{
    wire_client_t *w = client(svc, key, id);

    CHECK_EQ(fx_hello(svc, w, id), 0);
    return w;
}

static void send_text(wire_client_t *c, const char *json)
{
    CHECK_EQ(fx_send_raw(c, json, strlen(json)), 0);
}

/* Expect an `error` frame with code for what c just sent. */
static void expect_error(service_t *svc, wire_client_t *c, int code)
{
    proto_msg_t r = {0};

    if (fx_pump(svc, c, &r, ANSWER_MS)) {
        CHECK(!"no answer to a refused frame");
        return;
    }
    CHECK_EQ(r.type, PROTO_MSG_ERROR);
    if (r.type == PROTO_MSG_ERROR) {
        CHECK_EQ(r.error.code, code);
        CHECK(r.error.message[0] != '\0');
    }
    proto_msg_release(&r);
}

/* Expect a `reply`; returns its ok, with its message in msg[cap]. */
static bool expect_reply(service_t *svc, wire_client_t *c, char *msg, size_t cap)
{
    proto_msg_t r = {0};
    bool ok = false;

    if (fx_pump(svc, c, &r, ANSWER_MS)) {
        CHECK(!"no reply");
        return false;
    }
    CHECK_EQ(r.type, PROTO_MSG_REPLY);
    if (r.type == PROTO_MSG_REPLY) {
        ok = r.reply.ok;
        if (msg)
            str_copy(msg, cap, r.reply.message);
    }
    proto_msg_release(&r);
    return ok;
}

/* The verification runs of the sweep (id 1) in the store at g_db. */
static size_t count_verifications(void)
{
    carbs_err_t err = {0};
    store_verify_t *v = NULL;
    size_t n = (size_t)-1;
    store_t *st = store_open(g_db, STORE_READONLY, &err);

    if (st && store_verify_list(st, 1, &v, &n, &err) != 0)
        n = (size_t)-1;
    free(v);
    store_close(st);
    return n;
}

static void send_hello(wire_client_t *c, const char *id)
{
    proto_msg_t m;

    fx_hello_msg(&m, id);
    CHECK_EQ(fx_send(c, &m), 0);
    proto_msg_release(&m);
}

/* ready -> trial into *t (caller releases). */
static void take_trial(service_t *svc, wire_client_t *c, proto_msg_t *t)
{
    CHECK_EQ(fx_ready(svc, c, t), PROTO_MSG_TRIAL);
}

/* A success for trial_id/attempt: loss, and cost (or wall_seconds when
 * cost_name says so). */
static void send_result(wire_client_t *c, int64_t trial_id, int attempt, double loss,
                        const char *cost_name, double cost)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_RESULT);
    m.result.r.trial_id = trial_id;
    m.result.r.attempt = attempt;
    m.result.r.ok = true;
    CHECK_EQ(carbs_result_set(&m.result.r, "loss", loss), 0);
    CHECK_EQ(carbs_result_set(&m.result.r, cost_name, cost), 0);
    CHECK_EQ(fx_send(c, &m), 0);
    proto_msg_release(&m);
}

static void expect_ack(service_t *svc, wire_client_t *c, int64_t trial_id)
{
    proto_msg_t r = {0};

    CHECK_EQ(fx_pump(svc, c, &r, ANSWER_MS), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    CHECK_EQ(r.ack.trial_id, trial_id);
    proto_msg_release(&r);
}

/* The stored row (when row) and result (when res) of trial id, read
 * through a read-only connection (the service commits before it answers). */
static void stored(int64_t id, store_trial_t *row, store_result_t *res)
{
    carbs_err_t err = {0};
    store_t *st = store_open(g_db, STORE_READONLY, &err);

    CHECK(st != NULL);
    if (st && row)
        CHECK_EQ(store_trial_get(st, id, row, &err), 0);
    if (st && res)
        CHECK_EQ(store_result_get(st, id, res, &err), 0);
    store_close(st);
}

static carbs_sweep_state_t sweep_state(service_t *svc)
{
    service_summary_t f;
    CHECK_EQ(service_summary(svc, 0, &f), 0);
    return f.state;
}

// ---- who may do what ----

/* Under CURVE, a worker key's requests are all refused with EDENIED and
 * change nothing (a verify queues no trial); an admin key's are served.
 * Before the admin role, the
 * worker key created a sweep that ran a command, and paused, resumed and
 * stopped sweeps. */
static void test_worker_key_is_not_an_admin(void)
{
    static const char *requests[] = {
        "{\"v\":1,\"type\":\"sweep_create\",\"spec_json\":\"{\\\"name\\\":\\\"pwn\\\","
        "\\\"trainer\\\":\\\"command\\\",\\\"command\\\":{\\\"argv\\\":[\\\"/bin/sh\\\",\\\"-c\\\","
        "\\\"touch /tmp/pwned\\\"]}}\"}",
        "{\"v\":1,\"type\":\"status\",\"sweep\":\"\"}",
        "{\"v\":1,\"type\":\"pause\",\"sweep\":\"trust\"}",
        "{\"v\":1,\"type\":\"resume\",\"sweep\":\"trust\"}",
        "{\"v\":1,\"type\":\"stop\",\"sweep\":\"trust\"}",
        "{\"v\":1,\"type\":\"ask\",\"sweep\":\"trust\"}",
        "{\"v\":1,\"type\":\"tell\",\"sweep\":\"trust\",\"trial_id\":1,\"output\":-12345,"
        "\"cost\":1,\"is_failure\":false}",
        "{\"v\":1,\"type\":\"import\",\"sweep\":\"trust\",\"records\":\"[{\\\"params\\\":"
        "{\\\"x\\\":1.5,\\\"y\\\":2},\\\"output\\\":-9,\\\"cost\\\":1,\\\"is_failure\\\":false}]\"}",
        "{\"v\":1,\"type\":\"verify\",\"sweep\":\"trust\",\"params\":{\"x\":1.5,\"y\":2},"
        "\"cost\":10,\"cost_name\":\"cost\",\"estimator\":\"joint\",\"predicted\":-9}",
        /* freeing another key's worker id would let this key take it */
        "{\"v\":1,\"type\":\"release\",\"worker\":\"good\",\"unbind\":true}",
        "{\"v\":1,\"type\":\"sweep_admin\",\"sweep\":\"trust\",\"op\":\"extend\",\"trials\":5}",
    };
    service_t *svc;
    wire_client_t *w, *boss;
    char msg[CARBS_MSG_MAX];

    svc = fresh_svc(true);
    if (!svc)
        return;
    w = worker(svc, "good", "good"); /* a worker key is still a worker */
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        send_text(w, requests[i]);
        expect_error(svc, w, CARBS_EDENIED);
    }
    CHECK_EQ(sweep_state(svc), CARBS_SWEEP_ACTIVE);
    CHECK_EQ(service_summary(svc, 1, &(service_summary_t){0}), CARBS_ENOTFOUND);

    boss = client(svc, "boss", NULL);
    send_text(boss, requests[2]); /* pause */
    CHECK(expect_reply(svc, boss, msg, sizeof(msg)));
    CHECK_EQ(sweep_state(svc), CARBS_SWEEP_PAUSED);
    send_text(boss, requests[3]); /* resume */
    CHECK(expect_reply(svc, boss, msg, sizeof(msg)));
    CHECK_EQ(sweep_state(svc), CARBS_SWEEP_ACTIVE);
    /* the worker's verify queued nothing; the admin's queues one run */
    CHECK_EQ(count_verifications(), 0);
    send_text(boss, requests[8]); /* verify */
    CHECK(expect_reply(svc, boss, msg, sizeof(msg)));
    CHECK(strstr(msg, "verification trial") != NULL);
    CHECK_EQ(count_verifications(), 1);
    wire_client_close(boss);
    wire_client_close(w);
    service_close(svc);
}

/* Without CURVE there is no key to tell peers apart: a plain client on
 * loopback is an admin, as the docs say. */
static void test_plain_tcp_is_admin(void)
{
    service_t *svc;
    wire_client_t *c;

    svc = fresh_svc(false);
    if (!svc)
        return;
    c = client(svc, NULL, NULL);
    send_text(c, "{\"v\":1,\"type\":\"pause\",\"sweep\":\"trust\"}");
    CHECK(expect_reply(svc, c, NULL, 0));
    CHECK_EQ(sweep_state(svc), CARBS_SWEEP_PAUSED);
    wire_client_close(c);
    service_close(svc);
}

/* Whoever reaches the control endpoint is an admin, so its socket is the
 * service's user's only, whatever the umask. */
static void test_control_endpoint_is_private(void)
{
    char ep[WIRE_ENDPOINT_MAX + 1];
    struct stat st;
    service_t *svc;
    mode_t mask;

    fresh_store();
    mask = umask(0);
    svc = open_svc(false);
    umask(mask);
    if (!svc)
        return;
    CHECK_EQ(service_control_endpoint(g_db, ep, sizeof(ep)), 0);
    CHECK_EQ(stat(ep + strlen("ipc://"), &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ(st.st_mode & 077, 0);
    service_close(svc);
}

// ---- tell ----

/* A tell with the holder's and the cost's checks: the answer's ok, and
 * its message in msg[cap]. */
static bool tell(service_t *svc, wire_client_t *c, int64_t trial_id, double output, double cost,
                 char *msg, size_t cap)
{
    char json[256];

    snprintf(json, sizeof(json),
             "{\"v\":1,\"type\":\"tell\",\"sweep\":\"trust\",\"trial_id\":%" PRId64
             ",\"output\":%.17g,\"cost\":%.17g,\"is_failure\":false}",
             trial_id, output, cost);
    send_text(c, json);
    return expect_reply(svc, c, msg, cap);
}

/* `tell` is for trials `ask` handed out, of the named sweep, with a cost
 * finite and > 0.  Before the check, a tell for a worker's trial was
 * stored and the worker's real result dropped as a duplicate. */
static void test_tell_only_for_ask_trials(void)
{
    service_t *svc;
    wire_client_t *w, *c;
    proto_msg_t t = {0}, r = {0};
    store_result_t res = {0};
    char msg[CARBS_MSG_MAX];
    int64_t asked;

    svc = fresh_svc(false);
    if (!svc)
        return;
    w = client(svc, NULL, "w1");
    c = client(svc, NULL, NULL);
    CHECK_EQ(fx_hello(svc, w, "w1"), 0);
    take_trial(svc, w, &t);

    CHECK(!tell(svc, c, t.trial.trial_id, -12345, 1e9, msg, sizeof(msg)));
    CHECK(strstr(msg, "not handed out by ask") != NULL);
    CHECK(!tell(svc, c, 999, 1, 1, msg, sizeof(msg)));
    CHECK(strstr(msg, "not a trial of sweep 'trust'") != NULL);
    send_result(w, t.trial.trial_id, t.trial.attempt, 0.75, "cost", 0.5);
    expect_ack(svc, w, t.trial.trial_id);
    stored(t.trial.trial_id, NULL, &res);
    CHECK(res.ok);
    CHECK_NEAR(res.output, 0.75, 0);
    CHECK_NEAR(res.cost, 0.5, 0);
    store_result_release(&res);

    send_text(c, "{\"v\":1,\"type\":\"ask\",\"sweep\":\"trust\"}");
    CHECK_EQ(fx_pump(svc, c, &r, ANSWER_MS), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok);
    asked = r.reply.trial_id;
    proto_msg_release(&r);
    CHECK(!tell(svc, c, asked, 1.5, -1e9, msg, sizeof(msg)));
    CHECK(strstr(msg, "not finite and > 0") != NULL);
    CHECK(!tell(svc, c, asked, 1.5, 0, msg, sizeof(msg)));
    CHECK(tell(svc, c, asked, 1.5, 0.25, msg, sizeof(msg)));
    stored(asked, NULL, &res);
    CHECK(res.ok);
    CHECK_NEAR(res.output, 1.5, 0);
    CHECK_NEAR(res.cost, 0.25, 0);
    store_result_release(&res);

    proto_msg_release(&t);
    wire_client_close(c);
    wire_client_close(w);
    service_close(svc);
}

// ---- a worker id is its first key's ----

/* impostor says hello as the worker that holds trial t, then reports a
 * result for it: both are refused, and the holder's own result is the
 * one stored. */
static void impostor_round(service_t *svc, wire_client_t *holder, wire_client_t *impostor,
                           const char *id, const proto_msg_t *t)
{
    store_result_t res = {0};
    store_trial_t row = {0};

    send_hello(impostor, id);
    expect_error(svc, impostor, CARBS_EDENIED);
    send_result(impostor, t->trial.trial_id, t->trial.attempt, -12345, "cost", 0.5);
    expect_error(svc, impostor, CARBS_ESTATE);
    stored(t->trial.trial_id, &row, NULL);
    CHECK_EQ(row.state, CARBS_TRIAL_RUNNING);
    CHECK_STR(row.worker, id);
    store_trial_release(&row);
    if (!holder)
        return;
    send_result(holder, t->trial.trial_id, t->trial.attempt, 0.625, "cost", 0.5);
    expect_ack(svc, holder, t->trial.trial_id);
    stored(t->trial.trial_id, NULL, &res);
    CHECK(res.ok);
    CHECK_NEAR(res.output, 0.625, 0);
    store_result_release(&res);
}

/* Under CURVE, key other cannot take over the id of key good's worker,
 * neither with another routing id nor with good's own (which a ROUTER
 * hands over to the newer connection).  Before the binding, the hello
 * took the worker's route and its result for the worker's trial was
 * stored. */
static void test_worker_id_is_bound_to_its_key(void)
{
    service_t *svc;
    wire_client_t *good, *other, *thief;
    proto_msg_t t = {0}, t2 = {0};

    svc = fresh_svc(true);
    if (!svc)
        return;
    good = worker(svc, "good", "good");
    take_trial(svc, good, &t);
    take_trial(svc, good, &t2);
    other = client(svc, "other", NULL);
    impostor_round(svc, good, other, "good", &t);

    thief = client(svc, "other", "good");
    impostor_round(svc, NULL, thief, "good", &t2);
    wire_client_close(thief);

    proto_msg_release(&t2);
    proto_msg_release(&t);
    wire_client_close(other);
    wire_client_close(good);
    service_close(svc);
}

/* The binding outlives the service: after a restart, key other's hello
 * as good's worker (before good reconnects) is refused, with or without
 * good's routing id, and good gets its id back; `release --unbind` (an
 * admin's request) frees the id for another key.  Before the binding was
 * stored, the first hello after a restart took the id, whatever its key. */
static void test_worker_key_binding_survives_restart(void)
{
    service_t *svc;
    wire_client_t *good, *other, *boss;
    proto_msg_t m, r = {0};

    svc = fresh_svc(true);
    if (!svc)
        return;
    good = worker(svc, "good", "good");
    wire_client_close(good);
    service_close(svc);

    svc = open_svc(true);
    if (!svc)
        return;
    other = client(svc, "other", NULL);
    send_hello(other, "good");
    expect_error(svc, other, CARBS_EDENIED);
    wire_client_close(other);
    other = client(svc, "other", "good");
    send_hello(other, "good");
    expect_error(svc, other, CARBS_EDENIED);
    wire_client_close(other);
    good = worker(svc, "good", "good");
    wire_client_close(good);

    /* Freed by an admin: the next key binds it. */
    boss = client(svc, "boss", NULL);
    proto_msg_init(&m, PROTO_MSG_RELEASE);
    str_copy(m.release.worker, sizeof(m.release.worker), "good");
    m.release.unbind = true;
    CHECK_EQ(fx_request(svc, boss, &m, &r, ANSWER_MS), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok);
    proto_msg_release(&r);
    service_close(svc); /* and what the memory held goes too */
    svc = open_svc(true);
    if (!svc) {
        wire_client_close(boss);
        return;
    }
    other = worker(svc, "other", "good");
    wire_client_close(other);
    good = client(svc, "good", "good");
    send_hello(good, "good");
    expect_error(svc, good, CARBS_EDENIED);
    wire_client_close(good);
    wire_client_close(boss);
    service_close(svc);
}

/* One key holds at most workers_per_key worker ids at once; past that its
 * hello is refused with EBUSY, other keys are still welcome, and one of
 * its ids leaving makes room.  Before the limit, one key's connections,
 * each with an id of its own, filled the table of 10,000 workers (the
 * attack script's item 7) and every other worker got EBUSY for a lease. */
static void test_workers_per_key_are_bounded(void)
{
    wire_client_t *c[4], *good;
    service_t *svc;
    char id[16];

    fresh_store();
    svc = open_svc_per_key(true, 3);
    if (!svc)
        return;
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "o%d", i);
        c[i] = client(svc, "other", id);
        if (i < 3) {
            CHECK_EQ(fx_hello(svc, c[i], id), 0);
        } else {
            send_hello(c[i], id);
            expect_error(svc, c[i], CARBS_EBUSY);
        }
    }
    good = worker(svc, "good", "good");
    send_text(c[0], "{\"v\":1,\"type\":\"bye\",\"reason\":\"done\"}");
    for (int k = 0; k < 10; k++) /* the bye is handled before the next hello */
        CHECK(service_step(svc, 20, NULL) == 0);
    CHECK_EQ(fx_hello(svc, c[3], "o3"), 0); /* o0 left: room again */
    for (int i = 0; i < 4; i++)
        wire_client_close(c[i]);
    wire_client_close(good);
    service_close(svc);
}

/* Without keys, a hello for the id of a live worker from another
 * connection is refused; a worker that reconnects with its id as routing
 * id (what carbs worker does) is the same peer and keeps its id. */
static void test_worker_id_is_bound_to_its_connection(void)
{
    service_t *svc;
    wire_client_t *w, *rogue;
    proto_msg_t t = {0};

    svc = fresh_svc(false);
    if (!svc)
        return;
    w = worker(svc, NULL, "w1");
    take_trial(svc, w, &t);
    wire_client_close(w);
    w = client(svc, NULL, "w1"); /* a restart */
    CHECK_EQ(fx_hello(svc, w, "w1"), 0);
    rogue = client(svc, NULL, NULL);
    impostor_round(svc, w, rogue, "w1", &t);
    proto_msg_release(&t);
    wire_client_close(rogue);
    wire_client_close(w);
    service_close(svc);
}

// ---- costs ----

/* A success reporting a cost that is not finite and > 0 is stored as a
 * failed trial (error) and spends nothing; an import of one is refused.
 * Before the check, a command trial with wall_seconds -5 was done with
 * cost -5, and a sweep with budget {cost: 3} ran on with cost_spent
 * going negative. */
static void test_negative_cost_fails_the_trial(void)
{
    static const struct {
        const char *name;
        double cost;
        const char *message;
    } cases[] = {
        /* wall_seconds is not this sweep's cost metric: never a stand-in */
        {"wall_seconds", -5, "the cost 'cost' was not reported"},
        {"cost", -5, "cost cost = -5 is not finite and > 0"},
        {"cost", 0, "cost cost = 0 is not finite and > 0"},
    };
    service_t *svc;
    wire_client_t *w, *c;
    service_summary_t f;
    char msg[CARBS_MSG_MAX];

    svc = fresh_svc(false);
    if (!svc)
        return;
    w = worker(svc, NULL, "w1");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        proto_msg_t t = {0};
        store_result_t res = {0};
        store_trial_t row = {0};

        take_trial(svc, w, &t);
        send_result(w, t.trial.trial_id, t.trial.attempt, 0.5, cases[i].name, cases[i].cost);
        expect_ack(svc, w, t.trial.trial_id);
        stored(t.trial.trial_id, &row, NULL);
        CHECK_EQ(row.state, CARBS_TRIAL_FAILED);
        stored(t.trial.trial_id, NULL, &res);
        CHECK(!res.ok);
        CHECK_EQ(res.failure, CARBS_FAILURE_ERROR);
        CHECK_STR(res.message, cases[i].message);
        CHECK(isnan(res.cost));
        store_result_release(&res);
        store_trial_release(&row);
        proto_msg_release(&t);
    }
    CHECK_EQ(service_summary(svc, 0, &f), 0);
    CHECK_EQ(f.counts[CARBS_TRIAL_FAILED], 3);
    CHECK_EQ(f.counts[CARBS_TRIAL_DONE], 0);
    CHECK_NEAR(f.cost_spent, 0, 0);

    c = client(svc, NULL, NULL);
    send_text(c, "{\"v\":1,\"type\":\"import\",\"sweep\":\"trust\",\"records\":\"[{"
                 "\\\"params\\\":{\\\"x\\\":1.5,\\\"y\\\":2},\\\"output\\\":0.5,"
                 "\\\"cost\\\":-1,\\\"is_failure\\\":false}]\"}");
    CHECK(!expect_reply(svc, c, msg, sizeof(msg)));
    CHECK(strstr(msg, "cost -1 is not finite and > 0") != NULL);
    CHECK_EQ(service_summary(svc, 0, &f), 0);
    CHECK_NEAR(f.cost_spent, 0, 0);
    wire_client_close(c);
    wire_client_close(w);
    service_close(svc);
}

int main(void)
{
    if (FX_SETUP("trust"))
        return 1;
    make_keys();
    RUN(test_worker_key_is_not_an_admin);
    RUN(test_plain_tcp_is_admin);
    RUN(test_control_endpoint_is_private);
    RUN(test_tell_only_for_ask_trials);
    RUN(test_worker_id_is_bound_to_its_key);
    RUN(test_worker_id_is_bound_to_its_connection);
    RUN(test_worker_key_binding_survives_restart);
    RUN(test_workers_per_key_are_bounded);
    RUN(test_negative_cost_fails_the_trial);
    return FX_FINISH();
}
