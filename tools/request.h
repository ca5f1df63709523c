/*
 * request.h - send a client request (sweep_create, status, pause, resume,
 * stop, ask, tell, import) for a store and wait for the reply, following the
 * writer rule (docs/store.md, The writer rule and the lock): when a service
 * holds the store, the request goes to its control endpoint
 * (service_control_endpoint); when none does, a one-shot service is opened
 * on the store in this process, answers the request on a private ipc://
 * endpoint and is closed again.  Either way the same code makes the change,
 * so the CLI never writes a sweep behind a running service's back.
 */
#ifndef CARBS_TOOLS_REQUEST_H
#define CARBS_TOOLS_REQUEST_H

#include "proto/msg.h"

/* How long a request may take before the CLI gives up (a service busy
 * refitting a large sweep answers between two steps). */
#define REQUEST_TIMEOUT_MS 60000

/* Send m about the store at db and fill *reply (caller releases; a reply
 * or error message).  sweep names the sweep the one-shot service must load
 * (NULL for sweep_create and status of all sweeps).  Returns 0 when a
 * reply came, CARBS_ETIMEDOUT, or the error of opening the store, the
 * one-shot service or the connection. */
int request_send(const char *db, const char *sweep, const proto_msg_t *m, proto_msg_t *reply,
                 carbs_err_t *err);

#endif
