/*
 * wire_internal.h - what proto/wire.c and proto/wire_curve.c share (docs/style.md
 * H5): the in-memory allow-list of worker public keys and the ZAP handler
 * that consults it.  Not part of the public API; zmq sockets appear here only
 * as the void pointers libzmq itself uses.
 */
#ifndef CARBS_PROTO_WIRE_INTERNAL_H
#define CARBS_PROTO_WIRE_INTERNAL_H

#include "proto/wire.h"

/* A CurveZMQ key in binary form. */
#define WIRE__KEY_BYTES 32

typedef struct wire__allowed {
    unsigned char key[WIRE__KEY_BYTES];
    char name[WIRE_KEY_NAME_MAX + 1]; /* file stem: the peer's user id */
    bool admin;                       /* from the admin/ folder of the allow-list */
} wire__allowed_t;

/* The ZAP metadata property that carries a client's public key (Z85) to
 * every frame of its connection (wire_server_recv fills peer.key from it). */
#define WIRE__KEY_PROPERTY "X-Carbs-Key"

/* Every *.pub key of one directory. */
typedef struct wire__allow {
    DA_TYPE(wire__allowed_t) keys;
} wire__allow_t;

/* Read every *.pub in dir, then in dir/admin when that folder exists (those
 * with admin set), into *out (which must be empty).  Returns 0, CARBS_EIO
 * when a folder cannot be read, CARBS_EINVAL for a malformed file, a name
 * over WIRE_KEY_NAME_MAX or one name in both folders, CARBS_ENOMEM; *out is
 * empty on failure. */
int wire__allow_load(const char *dir, wire__allow_t *out, carbs_err_t *err);

/* Free the list's memory; a is left empty. */
void wire__allow_release(wire__allow_t *a);

/* The allowed entry for a 32-byte key, or NULL. */
const wire__allowed_t *wire__allow_find(const wire__allow_t *a, const unsigned char *key);

/* The allowed entry named name (a peer's user id), or NULL. */
const wire__allowed_t *wire__allow_find_name(const wire__allow_t *a, const char *name);

/* Answer one ZAP request waiting on the REP socket zap (RFC 27): "200" with
 * the key's name as user id for a CURVE key in allow, "400" otherwise.  dir
 * names the allow-list in log lines.  Returns 0, or CARBS_EIO when the
 * socket fails. */
int wire__zap_serve(void *zap, const wire__allow_t *allow, const char *dir, carbs_err_t *err);

#endif
