/*
 * test_quarantine.c - what stops a worker or a sweep (docs/service.md,
 * Quarantine; Budget and states), through an in-process service and fake
 * workers (tests/fixture.h):
 *
 *   - crashes a worker reports, and preemptions (bye), are no fault of its
 *     host: they never quarantine it;
 *   - leases that run out do; the quarantine ends after its time, or at
 *     once with a release request (`carbs workers release`);
 *   - budget.max_consecutive_failures failures in a row with the same
 *     cause pause the sweep, with the reason in its summary; failures of
 *     the configurations (diverged) do not.
 */
#include "proto/common.h"

#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "store/store.h"

#define PUMP_MS 3000

static char g_db[128];
static char g_ep[128];
static int g_n;

/* A fresh store holding a Branin sweep with the budget line given. */
static int64_t fresh_store(const char *budget)
{
    char spec[1024];

    snprintf(spec, sizeof(spec),
             "name: quarantine\n" FX_SPEC_SYNTHETIC
             "synthetic: {function: branin}\n" FX_SPEC_BRANIN_XY
             "carbs: {seed: 5, num_random_samples: 3, resample_frequency: 0}\n"
             "budget: %s\n",
             budget);
    g_n++;
    fx_path(g_db, sizeof(g_db), "q%d.db", g_n);
    fx_ipc(g_ep, sizeof(g_ep), "q%d", g_n);
    return fx_store_new(g_db, spec);
}

/* A service quarantining after 2 host losses, for quarantine_s seconds. */
static service_t *open_svc(int lease_ms, int quarantine_s)
{
    service_config_t cfg;
    carbs_err_t err = {0};
    service_t *svc;

    fx_service_config(&cfg, g_db, g_ep, lease_ms);
    cfg.quarantine_losses = 2;
    cfg.quarantine_s = quarantine_s;
    svc = service_open(&cfg, &err);
    if (!svc)
        fx_fail("service_open %s: %s", g_db, err.msg);
    return svc;
}

/* A fresh store with the budget line given (fresh_store), its service
 * (open_svc) into *svc, and a worker client with routing id id. */
static wire_client_t *start(const char *budget, int lease_ms, int quarantine_s, const char *id,
                            service_t **svc)
{
    fresh_store(budget);
    *svc = open_svc(lease_ms, quarantine_s);
    return fx_client(g_ep, id, 0);
}

/* Send a failed result (failure kind, message) for t; expect an ack. */
static void result_failed(service_t *svc, wire_client_t *c, const proto_trial_t *t,
                          carbs_failure_t failure, const char *message)
{
    proto_msg_t m, r = {0};

    proto_msg_init(&m, PROTO_MSG_RESULT);
    m.result.r.trial_id = t->trial_id;
    m.result.r.attempt = t->attempt;
    m.result.r.ok = false;
    m.result.r.failure = failure;
    str_copy(m.result.r.message, sizeof(m.result.r.message), message);
    CHECK_EQ(fx_request(svc, c, &m, &r, PUMP_MS), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    proto_msg_release(&r);
}

/* The stored row of worker id into *out; false when there is none. */
static bool worker_row(const char *id, store_worker_t *out)
{
    carbs_err_t err = {0};
    store_t *st = store_open(g_db, STORE_READONLY, &err);
    bool ok = st && store_worker_get(st, id, out, &err) == 0;

    store_close(st);
    return ok;
}

static bool worker_quarantined(const char *id)
{
    store_worker_t w = {0};
    bool q = worker_row(id, &w) && w.quarantined;

    store_worker_release(&w);
    return q;
}

static int64_t worker_losses(const char *id)
{
    store_worker_t w = {0};
    int64_t n = worker_row(id, &w) ? w.losses : 0;

    store_worker_release(&w);
    return n;
}

// ---- cases ----

static void test_reported_crashes_are_not_the_hosts(void)
{
    service_t *svc;
    wire_client_t *w;

    w = start("{trials: 20, max_retries: 10, max_consecutive_failures: 0}", 5000, 600, "w-crash", &svc);
    CHECK_EQ(fx_hello(svc, w, "w-crash"), 0);
    /* Every run of the trial crashes; the worker says so each time. */
    for (int i = 0; i < 5; i++) {
        proto_msg_t t = {0};
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        if (t.type != PROTO_MSG_TRIAL) {
            proto_msg_release(&t);
            break;
        }
        result_failed(svc, w, &t.trial, CARBS_FAILURE_INFRA, "killed by signal 11");
        proto_msg_release(&t);
    }
    CHECK(!worker_quarantined("w-crash"));
    wire_client_close(w);
    service_close(svc);
}

static void test_preemption_is_not_the_hosts(void)
{
    service_t *svc;
    wire_client_t *w;

    w = start("{trials: 20, max_retries: 10}", 5000, 600, "w-spot", &svc);
    /* Three clean preemptions (SIGTERM, bye "preempted"), the same id back
     * each time as under a Slurm requeue. */
    for (int i = 0; i < 4; i++) {
        proto_msg_t t = {0}, bye;
        carbs_err_t err = {0};
        CHECK_EQ(fx_hello(svc, w, "w-spot"), 0);
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        proto_msg_release(&t);
        proto_msg_init(&bye, PROTO_MSG_BYE);
        str_copy(bye.bye.reason, sizeof(bye.bye.reason), "preempted");
        fx_send(w, &bye);
        proto_msg_release(&bye);
        for (int k = 0; k < 10; k++)
            CHECK_EQ(service_step(svc, 10, &err), 0);
    }
    CHECK(!worker_quarantined("w-spot"));
    wire_client_close(w);
    service_close(svc);
}

/* Two lost leases of worker id on svc, which quarantines it. */
static void lose_two_leases(service_t *svc, wire_client_t *w, const char *id)
{
    for (int i = 0; i < 2; i++) {
        carbs_err_t err = {0};
        proto_msg_t t = {0};
        double until;
        CHECK_EQ(fx_hello(svc, w, id), 0);
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        proto_msg_release(&t);
        /* The worker stays silent: step the service until the lease has
         * run out and the loss is counted (a generous bound for a loaded
         * machine). */
        until = now_monotonic() + 10.0;
        while (worker_losses(id) < i + 1 && now_monotonic() < until)
            CHECK_EQ(service_step(svc, 20, &err), 0);
        CHECK_EQ(worker_losses(id), i + 1);
    }
}

static void test_lost_leases_quarantine_for_a_while(void)
{
    service_t *svc;
    wire_client_t *w;
    proto_msg_t t = {0};

    w = start("{trials: 20, max_retries: 10}", 200, 1, "w-flaky", &svc);
    /* The worker takes a trial and goes silent past its lease, twice. */
    lose_two_leases(svc, w, "w-flaky");
    CHECK(worker_quarantined("w-flaky"));
    CHECK_EQ(fx_hello(svc, w, "w-flaky"), 0);
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_ERROR);
    CHECK(strstr(t.error.message, "carbs workers release w-flaky") != NULL);
    proto_msg_release(&t);
    /* The quarantine ends a second after it began: ask until a trial
     * comes, within a generous bound for a loaded machine. */
    {
        double until = now_monotonic() + 10.0;
        proto_msg_type_t got = PROTO_MSG_ERROR;
        while (got == PROTO_MSG_ERROR && now_monotonic() < until) {
            got = fx_ready(svc, w, &t);
            if (got == PROTO_MSG_ERROR) {
                proto_msg_release(&t);
                usleep(100 * 1000); /* between polls, not instead of a condition */
            }
        }
        CHECK_EQ(got, PROTO_MSG_TRIAL);
        proto_msg_release(&t);
    }
    CHECK(!worker_quarantined("w-flaky"));
    wire_client_close(w);
    service_close(svc);
}

static void test_release_lifts_quarantine(void)
{
    service_t *svc;
    wire_client_t *w, *admin;
    proto_msg_t t = {0}, m, r = {0};

    w = start("{trials: 20, max_retries: 10}", 200, 600, "w-held", &svc);
    admin = fx_client(g_ep, NULL, 0);
    lose_two_leases(svc, w, "w-held");
    CHECK(worker_quarantined("w-held"));
    CHECK_EQ(fx_hello(svc, w, "w-held"), 0);
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_ERROR);
    proto_msg_release(&t);
    /* An unknown worker is refused; the quarantined one released. */
    proto_msg_init(&m, PROTO_MSG_RELEASE);
    str_copy(m.release.worker, sizeof(m.release.worker), "w-nobody");
    CHECK_EQ(fx_request(svc, admin, &m, &r, PUMP_MS), 0);
    CHECK(r.type == PROTO_MSG_REPLY && !r.reply.ok);
    proto_msg_release(&r);
    proto_msg_init(&m, PROTO_MSG_RELEASE);
    str_copy(m.release.worker, sizeof(m.release.worker), "w-held");
    CHECK_EQ(fx_request(svc, admin, &m, &r, PUMP_MS), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok);
    proto_msg_release(&r);
    CHECK(!worker_quarantined("w-held"));
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
    proto_msg_release(&t);
    wire_client_close(admin);
    wire_client_close(w);
    service_close(svc);
}

static void test_failures_in_a_row_pause_the_sweep(void)
{
    service_t *svc;
    wire_client_t *w;
    service_summary_t s;
    proto_msg_t t = {0};

    w = start("{trials: 20, max_consecutive_failures: 3}", 5000, 600, "w-typo", &svc);
    CHECK_EQ(fx_hello(svc, w, "w-typo"), 0);
    /* Diverged trials are the configurations' fault: no pause. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        result_failed(svc, w, &t.trial, CARBS_FAILURE_DIVERGED, "loss is NaN");
        proto_msg_release(&t);
    }
    CHECK_EQ(service_summary(svc, 0, &s), 0);
    CHECK_EQ(s.state, CARBS_SWEEP_ACTIVE);
    /* Two errors, a different one, then three of the same: paused. */
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_TRIAL);
        result_failed(svc, w, &t.trial, CARBS_FAILURE_ERROR,
                      i == 2 ? "bad value" : "cannot run 'trian.py'");
        proto_msg_release(&t);
        CHECK_EQ(service_summary(svc, 0, &s), 0);
        CHECK_EQ(s.state, i < 5 ? CARBS_SWEEP_ACTIVE : CARBS_SWEEP_PAUSED);
    }
    CHECK(strstr(s.pause_reason, "3 trials in a row failed with error: cannot run 'trian.py'") !=
          NULL);
    CHECK_EQ(fx_ready(svc, w, &t), PROTO_MSG_WAIT);
    proto_msg_release(&t);
    wire_client_close(w);
    service_close(svc);
}

int main(void)
{
    if (FX_SETUP("quarantine"))
        return 1;
    RUN(test_reported_crashes_are_not_the_hosts);
    RUN(test_preemption_is_not_the_hosts);
    RUN(test_lost_leases_quarantine_for_a_while);
    RUN(test_release_lifts_quarantine);
    RUN(test_failures_in_a_row_pause_the_sweep);
    return FX_FINISH();
}
