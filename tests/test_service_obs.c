/*
 * test_service_obs.c - a sweep resumed from the store suggests what the
 * live one would have: the service maps a finished trial to an
 * observation the same way whether it was just imported, just reported or
 * replayed at open (cost floor included).  Each case drives a real service
 * over ipc:// with `sweep_create`, `import`, `ask` and `tell` requests,
 * once straight through and once with a restart in between, and compares
 * the suggestions.
 */
#include "proto/common.h"

#include <math.h>
#include <unistd.h>

#include "check.h"
#include "optimizer/service/service.h"
#include "proto/json.h"
#include "proto/log.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/sweep.h"
#include "proto/wire.h"

#define WAIT_S 3.0 /* bound on waiting for one reply */
#define ROUNDS 4   /* ask/tell rounds after the import */

static const char SPEC[] = "name: obs\n"
                           "metric: {name: loss, goal: minimize}\n"
                           "cost: {name: cost}\n"
                           "trainer: synthetic\n"
                           "synthetic: {function: branin}\n"
                           "parameters:\n"
                           "  x: {space: linear, min: -5, max: 10, center: 2.5, scale: 5}\n"
                           "  y: {space: linear, min: 0, max: 15, center: 7.5, scale: 5}\n"
                           "carbs: {seed: 5, num_random_samples: 2, resample_frequency: 0}\n";

/* The imported history: costs far below the service's cost floor (a
 * success is observed at the floor at the least, or the log-cost scale
 * would stretch over hundreds of decades); a failure teaches too. */
static const struct {
    double x, y, output, cost;
    bool is_failure;
} HISTORY[] = {
    {1.0, 2.0, 30.0, 1e-300, false}, {4.0, 9.0, 12.0, 3e-200, false},
    {-2.0, 5.0, 45.0, 0.75, false}, {7.0, 1.0, 22.0, 2.5, false},
    {9.0, 14.0, NAN, 4.0, true},    {3.0, 3.0, 8.0, 1e-250, false},
};

static char g_dir[64];

typedef struct session {
    char db[128], ep[128];
    service_t *svc;
    wire_client_t *cl;
} session_t;

static void session_open(session_t *s)
{
    carbs_err_t err = {0};
    service_config_t cfg = {0};
    wire_client_config_t cc = {0};

    cfg.db_path = s->db;
    cfg.endpoint = s->ep;
    s->svc = service_open(&cfg, &err);
    if (!s->svc)
        fprintf(stderr, "service_open: %s\n", err.msg);
    CHECK(s->svc != NULL);
    cc.endpoint = s->ep;
    s->cl = wire_client_open(&cc, &err);
    CHECK(s->cl != NULL);
}

static void session_close(session_t *s)
{
    wire_client_close(s->cl);
    service_close(s->svc);
    s->cl = NULL;
    s->svc = NULL;
}

/* Send request m (released here) and step the service until its reply
 * arrives in *r, which must say ok. */
static void request(session_t *s, proto_msg_t *m, proto_msg_t *r)
{
    carbs_err_t err = {0};
    char *buf = NULL;
    size_t len = 0;
    double until = now_monotonic() + WAIT_S;

    CHECK_EQ(proto_msg_encode(m, &buf, &len, &err), 0);
    CHECK_EQ(wire_client_send(s->cl, buf, len, &err), 0);
    free(buf);
    proto_msg_release(m);
    memset(r, 0, sizeof(*r));
    while (now_monotonic() < until) {
        CHECK_EQ(service_step(s->svc, 5, &err), 0);
        buf = NULL;
        if (wire_client_recv(s->cl, &buf, &len, 5, &err) == 0) {
            CHECK_EQ(proto_msg_decode(buf, len, r, &err), 0);
            free(buf);
            break;
        }
    }
    CHECK_EQ(r->type, PROTO_MSG_REPLY);
    if (!r->reply.ok)
        fprintf(stderr, "reply: %s\n", r->reply.message);
    CHECK(r->reply.ok);
}

static void create_and_import(session_t *s)
{
    carbs_err_t err = {0};
    sweep_spec_t spec = {0};
    proto_record_t recs[sizeof(HISTORY) / sizeof(HISTORY[0])];
    size_t n = sizeof(HISTORY) / sizeof(HISTORY[0]);
    proto_msg_t m, r;

    proto_msg_init(&m, PROTO_MSG_SWEEP_CREATE);
    CHECK_EQ(sweep_spec_parse(SPEC, strlen(SPEC), "obs.yaml", &spec, &err), 0);
    CHECK_EQ(sweep_spec_to_json(&spec, &m.sweep_create.spec_json, &err), 0);
    sweep_spec_release(&spec);
    request(s, &m, &r);
    proto_msg_release(&r);

    for (size_t i = 0; i < n; i++) {
        proto_record_init(&recs[i]);
        CHECK_EQ(carbs_params_set_num(&recs[i].params, "x", HISTORY[i].x), 0);
        CHECK_EQ(carbs_params_set_num(&recs[i].params, "y", HISTORY[i].y), 0);
        recs[i].output = HISTORY[i].output;
        recs[i].cost = HISTORY[i].cost;
        recs[i].is_failure = HISTORY[i].is_failure;
    }
    proto_msg_init(&m, PROTO_MSG_IMPORT);
    str_copy(m.import.sweep, sizeof(m.import.sweep), "obs");
    CHECK_EQ(proto_records_encode(recs, n, &m.import.records, NULL, &err), 0);
    for (size_t i = 0; i < n; i++)
        proto_record_release(&recs[i]);
    request(s, &m, &r);
    proto_msg_release(&r);
}

/* ROUNDS of ask and tell; the suggestions go to xs and ys.  The told cost
 * is tiny too, so the live result path meets the floor as well. */
static void ask_tell(session_t *s, bool restart, double *xs, double *ys)
{
    for (int i = 0; i < ROUNDS; i++) {
        proto_msg_t m, r;
        const carbs_value_t *x, *y;
        int64_t id;

        proto_msg_init(&m, PROTO_MSG_ASK);
        str_copy(m.ask.sweep, sizeof(m.ask.sweep), "obs");
        request(s, &m, &r);
        x = carbs_params_find(&r.reply.params, "x");
        y = carbs_params_find(&r.reply.params, "y");
        xs[i] = x ? x->num : NAN;
        ys[i] = y ? y->num : NAN;
        id = r.reply.trial_id;
        proto_msg_release(&r);

        proto_msg_init(&m, PROTO_MSG_TELL);
        str_copy(m.tell.sweep, sizeof(m.tell.sweep), "obs");
        m.tell.trial_id = id;
        m.tell.output = (xs[i] - 3) * (xs[i] - 3) + ys[i];
        m.tell.cost = i % 2 ? 1e-14 : 1.0 + ys[i];
        request(s, &m, &r);
        proto_msg_release(&r);
        if (restart) {
            session_close(s);
            session_open(s);
        }
    }
}

static void run(int k, bool restart, double *xs, double *ys)
{
    session_t s = {0};

    snprintf(s.db, sizeof(s.db), "%s/obs%d.db", g_dir, k);
    snprintf(s.ep, sizeof(s.ep), "ipc://%s/ep%d", g_dir, k);
    session_open(&s);
    create_and_import(&s);
    if (restart) {
        session_close(&s);
        session_open(&s);
    }
    ask_tell(&s, restart, xs, ys);
    session_close(&s);
}

// ---- cases ----

static void test_resumed_sweep_suggests_what_the_live_one_would(void)
{
    double xa[ROUNDS], ya[ROUNDS], xb[ROUNDS], yb[ROUNDS];

    run(1, false, xa, ya);
    run(2, true, xb, yb);
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(isfinite(xa[i]) && isfinite(ya[i]));
        if (xa[i] != xb[i] || ya[i] != yb[i])
            fprintf(stderr, "round %d: live (%.17g, %.17g), resumed (%.17g, %.17g)\n", i, xa[i],
                    ya[i], xb[i], yb[i]);
        CHECK(xa[i] == xb[i]);
        CHECK(ya[i] == yb[i]);
    }
}

int main(void)
{
    proto_json_init();
    log_setup(getenv("CARBS_TEST_LOG") ? LOG_DEBUG : LOG_ERROR, stderr);
    snprintf(g_dir, sizeof(g_dir), "/tmp/carbs-test-obs-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_resumed_sweep_suggests_what_the_live_one_would);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return check_summary();
}
