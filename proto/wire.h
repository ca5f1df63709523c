/*
 * wire.h - the ZeroMQ wire: opaque byte frames between the service and its
 * workers and CLI clients, with optional CurveZMQ encryption and a ZAP
 * allow-list of worker and admin keys (docs/wire.md).
 *
 * The service binds one wire_server_t (a ROUTER); each worker or CLI client
 * connects one wire_client_t (a DEALER).  A frame is any byte string of at
 * most frame_max bytes; what is inside (one JSON message) is proto/msg.h's
 * business, not the wire's.
 *
 * Invariants and rules:
 * - Each handle owns its own ZeroMQ context and sockets; no globals, no
 *   background threads of ours (libzmq runs its I/O thread).  A handle is
 *   used from one thread at a time.
 * - The server is single-threaded: CURVE authentication (ZAP) requests are
 *   answered inside wire_server_recv()/wire_server_wait(), so a connecting
 *   client completes its handshake only while the service is polling.
 * - Binding an endpoint that is not local (wire_endpoint_is_local) requires
 *   CURVE keys, unless the config says insecure.  wire_server_open() enforces
 *   this rule; nothing else needs to.
 * - Frames above frame_max are never delivered: libzmq drops the sending
 *   connection (ZMQ_MAXMSGSIZE) and the receive path checks again.  Frames
 *   the sender queued behind the oversized one on that connection are lost
 *   with it; the client reconnects on its own and later frames arrive.
 *   Both ends default to the same limit, and wire_client_send refuses a frame
 *   over the client's own limit, so this only hits a misconfigured peer.
 * - No ZeroMQ type appears here; zmq.h is included only by proto/wire*.c.
 */
#ifndef CARBS_PROTO_WIRE_H
#define CARBS_PROTO_WIRE_H

#include "proto/common.h"

/* Longest endpoint string accepted, terminator excluded. */
#define WIRE_ENDPOINT_MAX 255
/* Longest ipc:// path: what fits in sockaddr_un.sun_path with its NUL. */
#define WIRE_IPC_PATH_MAX 107
/* Default and largest frame_max.  The default is the protocol's own limit
 * (PROTO_FRAME_MAX in proto/msg.h, 1 MiB), stated here again so the wire
 * stays independent of the codec; a caller may pass that constant. */
#define WIRE_FRAME_MAX_DEFAULT ((size_t)1 << 20)
#define WIRE_FRAME_MAX_LIMIT ((size_t)1 << 30)
/* A ROUTER routing id is 1..255 bytes. */
#define WIRE_PEER_ID_MAX 255
/* Key names (file stems, the user id an authenticated peer carries). */
#define WIRE_KEY_NAME_MAX 63
/* A CurveZMQ key in Z85 text: 40 characters. */
#define WIRE_KEY_Z85_LEN 40
/* The key directory layout behind `--keys DIR` (docs/wire.md): the service
 * reads DIR/service.key and allows every .pub in DIR/allow (worker keys)
 * and in DIR/allow/admin (admin keys); a worker reads DIR/<its name>.key and
 * DIR/service.pub. */
#define WIRE_SERVICE_KEY_NAME "service"
#define WIRE_ALLOW_DIR_NAME "allow"
#define WIRE_ADMIN_DIR_NAME "admin"

// ---- endpoints ----

typedef enum wire_transport {
    WIRE_TCP = 1,
    WIRE_IPC = 2,
    WIRE_INPROC = 3,
} wire_transport_t;

/* A parsed endpoint.  text is the endpoint as given (what ZeroMQ is handed).
 * For tcp, host is the host without IPv6 brackets ("*", "127.0.0.1", "::1",
 * "head-node") and port is 1..65535, or 0 for "*" (an ephemeral port, valid
 * only for binding).  For ipc and inproc, path is the part after "://". */
typedef struct wire_endpoint {
    wire_transport_t transport;
    char text[WIRE_ENDPOINT_MAX + 1];
    char host[WIRE_ENDPOINT_MAX + 1];
    int port;
    char path[WIRE_ENDPOINT_MAX + 1];
} wire_endpoint_t;

/* Parse s as tcp://HOST:PORT, tcp://[IPV6]:PORT, ipc://PATH or inproc://NAME
 * into *out.  HOST may be "*" (every interface, for binding); PORT is
 * 1..65535 or "*".  Returns 0, or
 * CARBS_EINVAL with err naming the endpoint and what is wrong (unknown
 * scheme, missing or invalid port, empty host or path, bad characters),
 * or CARBS_ETOOBIG when s or an ipc path is too long.  *out is undefined on
 * failure. */
int wire_endpoint_parse(const char *s, wire_endpoint_t *out, carbs_err_t *err);

/* True when traffic on ep cannot leave this machine: ipc, inproc, and tcp to
 * 127.0.0.0/8, ::1 or "localhost".  "*", 0.0.0.0, :: and every other host
 * are not local. */
bool wire_endpoint_is_local(const wire_endpoint_t *ep);

// ---- peers ----

/* Who sent a frame to the server: the ROUTER routing id (the client's
 * identity, or 5 random bytes starting with 0 when it set none) and, for a
 * CURVE peer, the name of the allow-list key it authenticated with and
 * whether that key is an admin key (in the allow-list's admin/ folder as
 * the frame arrived).  What a peer may do is the service's business; the
 * wire only says who it is.  A plain value: copy it freely; compare with
 * wire_peer_equal(). */
typedef struct wire_peer {
    unsigned char id[WIRE_PEER_ID_MAX];
    size_t id_len;
    char user[WIRE_KEY_NAME_MAX + 1]; /* "" without CURVE */
    /* The public key (Z85) the connection authenticated with, as the ZAP
     * handler saw it at the handshake ("" without CURVE): unlike user, it
     * names the key itself, whatever file the allow-list holds it in. */
    char key[WIRE_KEY_Z85_LEN + 1];
    bool admin; /* false without CURVE */
} wire_peer_t;

/* Room for wire_peer_format's longest output: "0x" + 2 hex digits per byte. */
#define WIRE_PEER_STR_MAX (2 + 2 * WIRE_PEER_ID_MAX + 1)

/* True when a and b have the same routing id (user is not compared). */
bool wire_peer_equal(const wire_peer_t *a, const wire_peer_t *b);

/* Write p's routing id into out[cap] for logs: the id itself when every byte
 * is printable ASCII other than space, else "0x" and lower-case hex.  Always
 * terminated; truncated when cap < WIRE_PEER_STR_MAX.  Returns out. */
const char *wire_peer_format(const wire_peer_t *p, char *out, size_t cap);

// ---- server (the service's ROUTER) ----

/* Server settings; all-zero is not enough only because endpoint is required.
 * Pointers are borrowed for the duration of wire_server_open(). */
typedef struct wire_server_config {
    const char *endpoint; /* where to bind; tcp port "*" picks a free one */
    size_t frame_max;     /* largest frame in bytes; 0 = WIRE_FRAME_MAX_DEFAULT */
    const char *key;      /* the service's key pair file (<name>.key); NULL = no CURVE */
    const char *allow;    /* directory whose *.pub files may connect, and whose admin/
                             folder holds the admin keys; needed with key */
    bool insecure;        /* allow a non-local bind without CURVE */
} wire_server_config_t;

typedef struct wire_server wire_server_t;

/* Bind a server as cfg says.  With cfg->key, clients must speak CURVE with
 * the service's public key and hold a key whose .pub is in cfg->allow (read
 * once here; see wire_server_reload_allow).  Returns the server (the caller
 * closes it with wire_server_close), or NULL with err filled: CARBS_EINVAL
 * for a bad endpoint or config or a malformed key file or allow-list entry,
 * CARBS_ETOOBIG for an over-long endpoint, CARBS_EDENIED for a non-local
 * endpoint without keys or --insecure, CARBS_EIO when a key file or the
 * allow-list cannot be read or the bind fails (address in use).  An empty
 * allow-list is allowed (no client can connect; a warning is logged). */
wire_server_t *wire_server_open(const wire_server_config_t *cfg, carbs_err_t *err);

/* Unbind and free everything; frames not yet sent are dropped.  srv may be
 * NULL. */
void wire_server_close(wire_server_t *srv);

/* The endpoint actually bound, with any "*" port resolved (for example
 * "tcp://127.0.0.1:41237").  Borrowed, valid until wire_server_close(). */
const char *wire_server_endpoint(const wire_server_t *srv);

/* Wait up to timeout_ms (0 = just look, negative = forever) for the next
 * frame.  On 0, *peer says who sent it and *buf (caller frees with free())
 * holds *len bytes plus a terminating NUL not counted in *len.  Returns
 * CARBS_ETIMEDOUT when nothing arrived in time, also when a signal cut the
 * wait short (so the caller's loop can look at its stop flag); CARBS_ENOMEM
 * when the buffer cannot be allocated (that frame is lost); CARBS_EIO on a
 * socket failure.  Multi-part and oversized messages are dropped with a
 * warning and the wait goes on. */
int wire_server_recv(wire_server_t *srv, wire_peer_t *peer, char **buf, size_t *len, int timeout_ms,
                     carbs_err_t *err);

/* Wait up to timeout_ms (as above) until a frame can be received, answering
 * authentication requests meanwhile, without taking the frame.  For an event
 * loop with its own deadlines: wait until the nearest deadline, then call
 * wire_server_recv(srv, ..., 0, err) while this returns 0.  Returns 0 when a
 * frame is ready, CARBS_ETIMEDOUT when none (or a signal arrived), CARBS_EIO
 * on a socket failure. */
int wire_server_wait(wire_server_t *srv, int timeout_ms, carbs_err_t *err);

/* Queue len bytes from buf for peer without blocking.  Returns 0,
 * CARBS_ETOOBIG above frame_max, CARBS_ENOTFOUND when peer is not connected
 * (gone, or reconnecting), CARBS_EBUSY when its send queue is full (it is
 * not reading), CARBS_EIO otherwise. */
int wire_server_send(wire_server_t *srv, const wire_peer_t *peer, const char *buf, size_t len,
                     carbs_err_t *err);

/* Re-read the allow-list directory (for example on SIGHUP), replacing the
 * keys in use for new handshakes; connections already up stay, and their
 * next frames carry the admin flag of the new list.  Returns 0,
 * CARBS_ESTATE on a server without CURVE, or the loader's error (the old
 * list is then kept). */
int wire_server_reload_allow(wire_server_t *srv, carbs_err_t *err);

/* Number of keys in the allow-list, admin keys included (0 without CURVE). */
size_t wire_server_n_allowed(const wire_server_t *srv);

// ---- client (a worker's or the CLI's DEALER) ----

/* Client settings.  Pointers are borrowed for the duration of
 * wire_client_open(). */
typedef struct wire_client_config {
    const char *endpoint;   /* the service's endpoint; no "*" host or port */
    size_t frame_max;       /* largest frame either way; 0 = WIRE_FRAME_MAX_DEFAULT */
    const char *key;        /* this client's key pair file; NULL = no CURVE */
    const char *server_key; /* the service's .pub file; needed with key */
    const char *identity;   /* routing id (the worker id), 1..255 bytes; NULL = random */
    int reconnect_ms;       /* first reconnect delay; 0 = 250; doubles up to 5000 */
} wire_client_config_t;

typedef struct wire_client wire_client_t;

/* Connect a client as cfg says.  Connecting is asynchronous: this succeeds
 * while the service is down, and libzmq keeps reconnecting.  Returns the
 * client (closed with wire_client_close), or NULL with err filled:
 * CARBS_EINVAL for a bad endpoint, identity or config, CARBS_EIO or
 * CARBS_EINVAL when a key file cannot be read or is malformed. */
wire_client_t *wire_client_open(const wire_client_config_t *cfg, carbs_err_t *err);

/* Close, giving queued frames at most 250 ms to leave.  cli may be NULL. */
void wire_client_close(wire_client_t *cli);

/* Queue len bytes from buf for the service without blocking.  While the
 * service is down (or has not accepted this client), frames wait in the
 * client's queue and leave on (re)connection; a client the service rejects
 * also sees 0 here, and its frames are dropped.  Returns 0, CARBS_ETOOBIG
 * above frame_max, CARBS_EBUSY when the queue is full (1000 frames),
 * CARBS_EIO otherwise. */
int wire_client_send(wire_client_t *cli, const char *buf, size_t len, carbs_err_t *err);

/* Wait up to timeout_ms (0 = just look, negative = forever) for a frame from
 * the service; on 0, *buf (caller frees) holds *len bytes plus a NUL not
 * counted.  Returns CARBS_ETIMEDOUT on silence (or a signal), and when the
 * service refused this client's credentials during the wait or before it,
 * CARBS_EDENIED instead, saying so; CARBS_ENOMEM when the buffer cannot be
 * allocated (that frame is lost); CARBS_EIO on a socket failure. */
int wire_client_recv(wire_client_t *cli, char **buf, size_t *len, int timeout_ms, carbs_err_t *err);

/* True once a handshake with the service has succeeded and the connection
 * has not dropped since, as far as the events seen by the last
 * wire_client_recv() tell. */
bool wire_client_connected(const wire_client_t *cli);

// ---- CurveZMQ keys ----

/* A key pair in Z85 text, each NUL-terminated. */
typedef struct wire_keypair {
    char public_z85[WIRE_KEY_Z85_LEN + 1];
    char secret_z85[WIRE_KEY_Z85_LEN + 1];
} wire_keypair_t;

/* Make a new key pair and write <dir>/<name>.key (both keys, mode 0600) and
 * <dir>/<name>.pub (public key only, mode 0644); creates dir (mode 0700, not
 * its parents) when it does not exist.  name is 1..63 of [A-Za-z0-9._-], not starting with '.'.
 * Never overwrites: returns CARBS_EEXIST when either file exists.  Returns 0,
 * CARBS_EINVAL for a bad name, CARBS_EIO when a file cannot be written
 * (nothing is left behind). */
int wire_keygen(const char *dir, const char *name, carbs_err_t *err);

/* Read a key pair file written by wire_keygen into *out and check that its
 * public key belongs to its secret key.  Returns 0, CARBS_EIO when the file
 * cannot be read, CARBS_EINVAL when it is malformed (naming the file and
 * line).  *out is wiped on failure. */
int wire_key_load_pair(const char *path, wire_keypair_t *out, carbs_err_t *err);

/* Read the public key from a .pub (or .key) file into out (41 bytes, Z85,
 * terminated).  Errors as wire_key_load_pair. */
int wire_key_load_public(const char *path, char *out, carbs_err_t *err);

/* Wipe a key pair from memory.  kp may be NULL. */
void wire_keypair_wipe(wire_keypair_t *kp);

#endif
