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
#include "fixture.h"
#include "proto/record.h"

#define WAIT_MS 3000 /* bound on waiting for one reply */
#define ROUNDS 4   /* ask/tell rounds after the import */

static const char SPEC[] = "name: obs\n" FX_SPEC_SYNTHETIC "synthetic: {function: branin}\n"
    FX_SPEC_BRANIN_XY "carbs: {seed: 5, num_random_samples: 2, resample_frequency: 0}\n";

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

typedef struct session {
    char db[128], ep[128];
    service_t *svc;
    wire_client_t *cl;
} session_t;

static void session_open(session_t *s)
{
    s->svc = fx_service_open(s->db, s->ep, 0, NULL);
    CHECK(s->svc != NULL);
    s->cl = fx_client(s->ep, NULL, 0);
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
    memset(r, 0, sizeof(*r));
    fx_request(s->svc, s->cl, m, r, WAIT_MS);
    CHECK_EQ(r->type, PROTO_MSG_REPLY);
    if (!r->reply.ok)
        fprintf(stderr, "reply: %s\n", r->reply.message);
    CHECK(r->reply.ok);
}

static void create_and_import(session_t *s)
{
    carbs_err_t err = {0};
    proto_record_t recs[sizeof(HISTORY) / sizeof(HISTORY[0])];
    size_t n = sizeof(HISTORY) / sizeof(HISTORY[0]);
    proto_msg_t m, r;

    proto_msg_init(&m, PROTO_MSG_SWEEP_CREATE);
    m.sweep_create.spec_json = fx_spec_json(SPEC);
    CHECK(m.sweep_create.spec_json != NULL);
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

    fx_path(s.db, sizeof(s.db), "obs%d.db", k);
    fx_ipc(s.ep, sizeof(s.ep), "ep%d", k);
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
    if (FX_SETUP("obs"))
        return 1;
    RUN(test_resumed_sweep_suggests_what_the_live_one_would);
    return FX_FINISH();
}
