/*
 * service_request.h - client requests to a running service: sweep_create,
 * status, pause, resume, stop, ask, tell, import (docs/service.md).
 * Internal to optimizer/service/; nothing here is API.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_REQUEST_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_REQUEST_H

#include "optimizer/service/service.h"
#include "optimizer/service/service_outbox.h"
#include "proto/msg.h"
#include "proto/wire.h"

/* Handle request m from peer and answer it with one `reply` through out
 * (a `tell` with what svc__on_result answers).  m is borrowed. */
void svc__on_request(service_t *svc, svc_outbox_t *out, const wire_peer_t *peer,
                     const proto_msg_t *m);

#endif
