/*
 * service_outbox.c - the service's send path: encode now, send after the
 * batch's store sync (group commit, docs/service.md).  See
 * service_outbox.h.
 */
#include "proto/common.h"
#include "optimizer/service/service_outbox.h"

#include <stdlib.h>

#include "proto/log.h"

/* A frame held back until the store is synced. */
typedef struct out_frame {
    wire_server_t *to;
    wire_peer_t peer;
    char *buf;
    size_t len;
    proto_msg_type_t type;
} out_frame_t;

struct svc_outbox {
    wire_server_t *main;
    wire_server_t *from; /* while a frame is handled: the socket it came in on */
    wire_peer_t peer;    /* and its sender */
    DA_TYPE(out_frame_t) held;
};

svc_outbox_t *svc__outbox_new(wire_server_t *main)
{
    svc_outbox_t *ob = xcalloc(1, sizeof(*ob));

    ob->main = main;
    return ob;
}

void svc__outbox_free(svc_outbox_t *ob)
{
    if (!ob)
        return;
    for (size_t i = 0; i < ob->held.n; i++)
        free(ob->held.v[i].buf);
    DA_FREE(&ob->held);
    free(ob);
}

void svc__outbox_reply_to(svc_outbox_t *ob, wire_server_t *from, const wire_peer_t *peer)
{
    ob->from = from;
    if (from)
        ob->peer = *peer;
}

void svc__send(svc_outbox_t *ob, const wire_peer_t *peer, const proto_msg_t *m)
{
    carbs_err_t err = {0};
    char *buf = NULL;
    size_t len = 0;
    char who[WIRE_PEER_STR_MAX];
    wire_server_t *to = ob->from && wire_peer_equal(peer, &ob->peer) ? ob->from : ob->main;

    if (proto_msg_encode(m, &buf, &len, &err)) {
        log_warn("send %s to %s: %s", proto_msg_type_name(m->type),
                 wire_peer_format(peer, who, sizeof(who)), err.msg);
        return;
    }
    out_frame_t o = {.to = to, .peer = *peer, .buf = buf, .len = len, .type = m->type};
    if (DA_PUSH(&ob->held, o)) {
        log_warn("send %s to %s: out of memory", proto_msg_type_name(m->type),
                 wire_peer_format(peer, who, sizeof(who)));
        free(buf);
    }
}

void svc__send_error(svc_outbox_t *ob, const wire_peer_t *peer, int code, const char *message)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_ERROR);
    m.error.code = code < 0 ? code : CARBS_EPROTO;
    str_copy(m.error.message, sizeof(m.error.message), message);
    svc__send(ob, peer, &m);
    proto_msg_release(&m);
}

int svc__outbox_flush(svc_outbox_t *ob, store_t *st, carbs_err_t *err)
{
    carbs_err_t local = {0};
    int rc = store_sync(st, err ? err : &local);

    for (size_t i = 0; i < ob->held.n; i++) {
        out_frame_t *o = &ob->held.v[i];
        carbs_err_t e2 = {0};
        char who[WIRE_PEER_STR_MAX];

        if (!rc && wire_server_send(o->to, &o->peer, o->buf, o->len, &e2))
            log_warn("send %s to %s: %s", proto_msg_type_name(o->type),
                     wire_peer_format(&o->peer, who, sizeof(who)), e2.msg);
        free(o->buf);
    }
    ob->held.n = 0;
    return rc;
}
