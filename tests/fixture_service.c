/*
 * fixture_service.c - tests/fixture.h's store with a sweep, the service
 * stepped by the test, and its fake workers and clients.
 */
#include "proto/common.h"
#include "tests/fixture.h"

#include "proto/sweep.h"
#include "store/store.h"

char *fx_spec_json(const char *yaml)
{
    carbs_err_t err = {0};
    sweep_spec_t spec = {0};
    char *canon = NULL;

    if (sweep_spec_parse(yaml, strlen(yaml), "fixture.yaml", &spec, &err) ||
        sweep_spec_to_json(&spec, &canon, &err)) {
        fx_fail("the sweep file is refused: %s", err.msg);
        canon = NULL;
    }
    sweep_spec_release(&spec);
    return canon;
}

int64_t fx_store_new(const char *db, const char *yaml)
{
    carbs_err_t err = {0};
    sweep_spec_t spec = {0};
    char *canon = NULL;
    int64_t id = -1;
    store_t *st = NULL;

    if (sweep_spec_parse(yaml, strlen(yaml), "fixture.yaml", &spec, &err) ||
        sweep_spec_to_json(&spec, &canon, &err) ||
        !(st = store_open(db, STORE_CREATE, &err)) ||
        store_sweep_create(st, spec.name, canon, &id, &err)) {
        fx_fail("store %s with a sweep: %s", db, err.msg);
        id = -1;
    }
    store_close(st);
    free(canon);
    sweep_spec_release(&spec);
    return id;
}

int fx_counts(const char *db, int64_t sweep, size_t c[CARBS_TRIAL_STATE_COUNT])
{
    carbs_err_t err = {0};
    store_t *st = store_open(db, STORE_READONLY, &err);
    int rc = st ? store_sweep_counts(st, sweep, c, NULL, &err) : -1;

    if (rc) {
        fx_fail("counts of sweep %lld in %s: %s", (long long)sweep, db, err.msg);
        for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
            c[s] = 0;
    }
    store_close(st);
    return rc ? -1 : 0;
}

void fx_service_config(service_config_t *cfg, const char *db, const char *ep, int lease_ms)
{
    *cfg = (service_config_t){.db_path = db,
                              .endpoint = ep,
                              .lease_ms = lease_ms,
                              .heartbeat_ms = lease_ms / 4,
                              .quarantine_losses = 1000,
                              .wait_ms = 10};
}

service_t *fx_service_open(const char *db, const char *ep, int lease_ms, carbs_err_t *err)
{
    service_config_t cfg;
    carbs_err_t own = {0};
    service_t *svc;

    fx_service_config(&cfg, db, ep, lease_ms);
    svc = service_open(&cfg, err ? err : &own);

    if (!svc && !err)
        fx_fail("service_open %s: %s", db, own.msg);
    return svc;
}

wire_client_t *fx_client(const char *ep, const char *id, size_t frame_max)
{
    wire_client_config_t cc = {
        .endpoint = ep, .identity = id, .frame_max = frame_max, .reconnect_ms = 20};
    carbs_err_t err = {0};
    wire_client_t *c = wire_client_open(&cc, &err);

    if (!c)
        fx_fail("wire_client_open %s: %s", ep, err.msg);
    return c;
}

int fx_send_raw(wire_client_t *c, const char *buf, size_t len)
{
    carbs_err_t err = {0};

    if (wire_client_send(c, buf, len, &err)) {
        fx_fail("send: %s", err.msg);
        return -1;
    }
    return 0;
}

int fx_send(wire_client_t *c, const proto_msg_t *m)
{
    carbs_err_t err = {0};
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (proto_msg_encode(m, &buf, &len, &err)) {
        fx_fail("encode '%s': %s", proto_msg_type_name(m->type), err.msg);
        return -1;
    }
    rc = fx_send_raw(c, buf, len);
    free(buf);
    return rc;
}

int fx_pump(service_t *svc, wire_client_t *c, proto_msg_t *out, int ms)
{
    carbs_err_t err = {0};
    double until = now_monotonic() + ms / 1000.0;

    while (now_monotonic() < until) {
        char *buf = NULL;
        size_t len = 0;
        if (service_step(svc, 2, &err)) {
            fx_fail("service_step: %s", err.msg);
            err = (carbs_err_t){0};
        }
        if (wire_client_recv(c, &buf, &len, 2, &err) == 0) {
            int rc = proto_msg_decode(buf, len, out, &err);
            if (rc)
                fx_fail("an answer that does not decode: %s", err.msg);
            free(buf);
            return rc ? -1 : 0;
        }
    }
    return -1;
}

int fx_request(service_t *svc, wire_client_t *c, proto_msg_t *m, proto_msg_t *out, int ms)
{
    int rc = fx_send(c, m);

    proto_msg_release(m);
    return rc ? -1 : fx_pump(svc, c, out, ms);
}

void fx_hello_msg(proto_msg_t *m, const char *id)
{
    proto_msg_init(m, PROTO_MSG_HELLO);
    str_copy(m->hello.worker_id, sizeof(m->hello.worker_id), id);
    str_copy(m->hello.host, sizeof(m->hello.host), "test-host");
    m->hello.pid = 4242;
    m->hello.slots = 1;
    m->hello.caps.synthetic = true;
}

int fx_hello(service_t *svc, wire_client_t *c, const char *id)
{
    proto_msg_t m, r = {0};
    int rc = 0;

    fx_hello_msg(&m, id);
    if (fx_request(svc, c, &m, &r, 5000) || r.type != PROTO_MSG_WELCOME) {
        fx_fail("hello from %s: no welcome (got '%s')", id, proto_msg_type_name(r.type));
        rc = -1;
    }
    proto_msg_release(&r);
    return rc;
}

proto_msg_type_t fx_ready(service_t *svc, wire_client_t *c, proto_msg_t *out)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_READY);
    if (fx_request(svc, c, &m, out, 5000))
        return PROTO_MSG_NONE;
    return out->type;
}

void fx_result_msg(proto_msg_t *m, int64_t trial_id, int attempt, double loss, double cost)
{
    proto_msg_init(m, PROTO_MSG_RESULT);
    m->result.r.trial_id = trial_id;
    m->result.r.attempt = attempt;
    m->result.r.ok = true;
    if (carbs_result_set(&m->result.r, "loss", loss) ||
        carbs_result_set(&m->result.r, "cost", cost))
        fx_fail("result of trial %lld", (long long)trial_id);
}
