/*
 * service_outbox.h - the service's send path: every frame the service sends
 * is encoded at once and held in an outbox until the end of the
 * service_step that made it, when one store_sync() has made every commit it
 * reports durable (group commit: committed before acknowledged,
 * docs/service.md).  Internal to optimizer/service/; nothing here is API.
 *
 * A leaf: it knows the wire, the messages and the store's sync, and nothing
 * of sweeps, trials or workers.  An answer to the frame being handled goes
 * back on the socket that frame came in on (the worker endpoint or the
 * control endpoint); anything else (trial, wait, cancel) goes out on the
 * main socket.
 */
#ifndef CARBS_OPTIMIZER_SERVICE_SERVICE_OUTBOX_H
#define CARBS_OPTIMIZER_SERVICE_SERVICE_OUTBOX_H

#include "proto/msg.h"
#include "proto/wire.h"
#include "store/store.h"

typedef struct svc_outbox svc_outbox_t;

/* An empty outbox whose unsolicited frames go out on main (borrowed: it
 * must outlive the outbox).  Aborts when out of memory. */
svc_outbox_t *svc__outbox_new(wire_server_t *main);

/* Drop the frames still held, unsent, and free ob.  ob may be NULL. */
void svc__outbox_free(svc_outbox_t *ob);

/* A frame from peer that came in on from is being handled: frames to peer
 * go back on from until the next call.  from NULL: none is being handled.
 * Both are borrowed; peer is copied. */
void svc__outbox_reply_to(svc_outbox_t *ob, wire_server_t *from, const wire_peer_t *peer);

/* Encode m for peer and hold it.  Failures (an encoding error, out of
 * memory) are logged and the frame dropped: the peer resends or times
 * out, as it would for a frame lost on the way. */
void svc__send(svc_outbox_t *ob, const wire_peer_t *peer, const proto_msg_t *m);

/* svc__send an `error` frame: code (CARBS_EPROTO unless negative) and
 * message. */
void svc__send_error(svc_outbox_t *ob, const wire_peer_t *peer, int code, const char *message);

/* Sync st, then send every frame held and empty the outbox.  A failed
 * sync sends nothing (the peers resend what they did not hear
 * acknowledged) and returns the store's error, filling err (may be NULL);
 * send failures are logged.  Returns 0 or the store's error. */
int svc__outbox_flush(svc_outbox_t *ob, store_t *st, carbs_err_t *err);

#endif
