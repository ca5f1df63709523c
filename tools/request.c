/*
 * request.c - a client request to the service that holds a store, or to a
 * one-shot service opened for it (request.h).
 */
#include "proto/common.h"
#include "tools/request.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "optimizer/service/service.h"
#include "proto/wire.h"
#include "store/store.h"

#define REQUEST_STEP_MS 20

static int send_msg(wire_client_t *cli, const proto_msg_t *m, carbs_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(m, &buf, &len, err);

    if (rc == 0)
        rc = wire_client_send(cli, buf, len, err);
    free(buf);
    return rc;
}

static int take_reply(wire_client_t *cli, int timeout_ms, proto_msg_t *reply, carbs_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = wire_client_recv(cli, &buf, &len, timeout_ms, err);

    if (rc == 0) {
        rc = proto_msg_decode(buf, len, reply, err);
        if (rc)
            carbs_err_prefix(err, "the service's reply");
    }
    free(buf);
    return rc;
}

/* The store is held by a running service: ask it. */
static int via_service(const char *db, long pid, const proto_msg_t *m, proto_msg_t *reply,
                       carbs_err_t *err)
{
    wire_client_config_t cc = {0};
    wire_client_t *cli;
    char ep[WIRE_ENDPOINT_MAX + 1];
    int rc;

    if ((rc = service_control_endpoint(db, ep, sizeof(ep))))
        return carbs_fail(err, rc, "the control endpoint for '%s' is too long", db);
    if (access(ep + strlen("ipc://"), F_OK) != 0)
        return carbs_fail(err, CARBS_EBUSY,
                          "'%s' is held by a running service (pid %ld) without a control "
                          "endpoint (%s): is it a carbs of another user or version?",
                          db, pid, ep);
    cc.endpoint = ep;
    cli = wire_client_open(&cc, err);
    if (!cli)
        return err ? err->code : CARBS_EIO;
    rc = send_msg(cli, m, err);
    if (rc == 0) {
        rc = take_reply(cli, REQUEST_TIMEOUT_MS, reply, err);
        if (rc == CARBS_ETIMEDOUT)
            carbs_fail(err, rc, "the service (pid %ld) holding '%s' did not answer within %d s",
                       pid, db, REQUEST_TIMEOUT_MS / 1000);
    }
    wire_client_close(cli);
    return rc;
}

/* Nobody holds the store: open a one-shot service on it for this request. */
static int one_shot(const char *db, const char *sweep, const proto_msg_t *m, proto_msg_t *reply,
                    carbs_err_t *err)
{
    char dir[] = "/tmp/carbs-req-XXXXXX", ep[96], sock[80];
    service_config_t cfg = {0};
    wire_client_config_t cc = {0};
    service_t *svc = NULL;
    wire_client_t *cli = NULL;
    double until;
    int rc;

    if (!mkdtemp(dir))
        return carbs_fail(err, CARBS_EIO, "cannot make a folder in /tmp: %s", strerror(errno));
    snprintf(sock, sizeof(sock), "%s/s", dir);
    snprintf(ep, sizeof(ep), "ipc://%s", sock);
    cfg.db_path = db;
    cfg.endpoint = ep;
    cfg.only_sweep = sweep;
    cfg.no_sweeps = sweep == NULL;
    svc = service_open(&cfg, err);
    if (!svc) {
        rc = err ? err->code : CARBS_EIO;
        goto out;
    }
    cc.endpoint = ep;
    cli = wire_client_open(&cc, err);
    if (!cli) {
        rc = err ? err->code : CARBS_EIO;
        goto out;
    }
    if ((rc = send_msg(cli, m, err)))
        goto out;
    until = now_monotonic() + REQUEST_TIMEOUT_MS / 1000.0;
    rc = CARBS_ETIMEDOUT;
    while (now_monotonic() < until) {
        if ((rc = service_step(svc, REQUEST_STEP_MS, err)))
            goto out;
        rc = take_reply(cli, 0, reply, err);
        if (rc != CARBS_ETIMEDOUT)
            break;
    }
    if (rc == CARBS_ETIMEDOUT)
        carbs_fail(err, rc, "no answer to the request within %d s", REQUEST_TIMEOUT_MS / 1000);
out:
    wire_client_close(cli);
    service_close(svc);
    unlink(sock);
    rmdir(dir);
    return rc;
}

int request_send(const char *db, const char *sweep, const proto_msg_t *m, proto_msg_t *reply,
                 carbs_err_t *err)
{
    long pid = 0;

    if (store_writer_holder(db, &pid, NULL) == 0 && pid != 0)
        return via_service(db, pid, m, reply, err);
    return one_shot(db, sweep, m, reply, err);
}
