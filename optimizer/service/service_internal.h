/*
 * service_internal.h - the inside of a service_t, shared by the event loop
 * (service.c: open and close, frames, workers, leases) and the sweeps
 * (service_sweep.c: rebuilding, assignment, results).  The requests
 * (service_request.c) and the send path (service_outbox.c) do not see it.
 * Internal to optimizer/service/; nothing here is API.
 *
 * The rows of workers and running trials are service_table.h's; the sweeps
 * are opaque (service_sweep.h), edited only by service_sweep.c.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_INTERNAL_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_INTERNAL_H

#include "optimizer/service/laws_actor.h"
#include "optimizer/service/service.h"
#include "optimizer/service/service_outbox.h"
#include "optimizer/service/service_sweep.h"
#include "optimizer/service/service_table.h"
#include "proto/wire.h"
#include "store/store.h"

struct service {
    service_config_t cfg; /* with the defaults filled in */
    store_t *st;
    wire_server_t *srv;
    wire_server_t *ctl; /* the local control endpoint (service_control_endpoint) */
    char ctl_path[WIRE_ENDPOINT_MAX + 1]; /* its socket file */
    svc_outbox_t *out;  /* every frame sent goes through it */
    DA_TYPE(svc_sweep_t *) sweeps;
    DA_TYPE(svc_worker_t) workers;
    DA_TYPE(svc_trial_t) running;
    size_t rr; /* round-robin position over sweeps for assignment */
    double next_tick;
    laws_actor_t *laws; /* with cfg.laws: the full law fits (laws_actor.h) */
};

#endif
