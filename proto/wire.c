/*
 * wire.c - endpoints, the service's ROUTER and the clients' DEALER over
 * ZeroMQ (docs/protocol.md, docs/wire.md).
 *
 * Each handle owns a zmq context.  The server binds a ROUTER and, with CURVE,
 * a ZAP REP socket at inproc://zeromq.zap.01 in that same context; both are
 * polled together, so authentication is answered on the caller's thread and
 * the service stays one event loop (docs/style.md H23).  A client is a DEALER with
 * a socket monitor, read during recv, that turns a refused handshake into
 * CARBS_EDENIED instead of endless silence.  Keys and ZAP: proto/wire_curve.c.
 */
#include "proto/common.h"
#include "proto/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <strings.h>
#include <zmq.h>

#include "proto/log.h"
#include "proto/wire_internal.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "carbs"
#define MONITOR_ENDPOINT "inproc://wire-client-monitor"
/* Defaults the header promises. */
#define CLIENT_LINGER_MS 250
#define CLIENT_RECONNECT_MS 250
#define CLIENT_RECONNECT_MAX_MS 5000
#define CLIENT_RESETS_MISMATCH 3 /* handshakes reset in a row that mean a mismatch */

// ---- endpoints ----

static int bad_endpoint(carbs_err_t *err, const char *s, const char *why)
{
    return carbs_fail(err, CARBS_EINVAL, "invalid endpoint '%s': %s", s, why);
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static int parse_tcp(const char *s, const char *rest, wire_endpoint_t *out, carbs_err_t *err)
{
    const char *port;
    size_t host_len;
    long p = 0;

    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close) return bad_endpoint(err, s, "missing ']' after the IPv6 address");
        host_len = (size_t)(close - rest - 1);
        if (host_len == 0) return bad_endpoint(err, s, "empty host");
        for (size_t i = 0; i < host_len; i++) {
            char c = rest[1 + i];
            bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                      c == ':' || c == '.';
            if (!ok) return bad_endpoint(err, s, "bad character in the IPv6 address");
        }
        memcpy(out->host, rest + 1, host_len);
        out->host[host_len] = '\0';
        if (close[1] != ':') return bad_endpoint(err, s, "missing port (tcp://HOST:PORT)");
        port = close + 2;
    } else {
        const char *colon = strrchr(rest, ':');
        if (!colon) return bad_endpoint(err, s, "missing port (tcp://HOST:PORT)");
        host_len = (size_t)(colon - rest);
        if (host_len == 0) return bad_endpoint(err, s, "empty host");
        if (memchr(rest, ':', host_len))
            return bad_endpoint(err, s, "an IPv6 address goes in brackets (tcp://[::1]:PORT)");
        if (!(host_len == 1 && rest[0] == '*')) {
            for (size_t i = 0; i < host_len; i++) {
                if (!host_char_ok(rest[i]))
                    return bad_endpoint(err, s, "bad character in the host");
            }
        }
        memcpy(out->host, rest, host_len);
        out->host[host_len] = '\0';
        port = colon + 1;
    }
    if (*port == '\0') return bad_endpoint(err, s, "missing port (tcp://HOST:PORT)");
    if (strcmp(port, "*") == 0) {
        out->port = 0;
        return 0;
    }
    if (parse_long(port, 1, 65535, &p) < 0)
        return bad_endpoint(err, s, "port must be 1-65535 or '*'");
    out->port = (int)p;
    return 0;
}

int wire_endpoint_parse(const char *s, wire_endpoint_t *out, carbs_err_t *err)
{
    const char *sep;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (!s || !*s) return carbs_fail(err, CARBS_EINVAL, "empty endpoint");
    n = strlen(s);
    if (n > WIRE_ENDPOINT_MAX)
        return carbs_fail(err, CARBS_ETOOBIG,
                          "endpoint '%.32s...' is too long (%zu bytes, at most %d)", s, n,
                          WIRE_ENDPOINT_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return bad_endpoint(err, s, "contains a space or control character");
    }
    memcpy(out->text, s, n + 1);
    sep = strstr(s, "://");
    if (!sep) return bad_endpoint(err, s, "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME");
    if (sep - s == 3 && memcmp(s, "tcp", 3) == 0) {
        out->transport = WIRE_TCP;
        return parse_tcp(s, sep + 3, out, err);
    }
    if (sep - s == 3 && memcmp(s, "ipc", 3) == 0) {
        out->transport = WIRE_IPC;
        if (!sep[3]) return bad_endpoint(err, s, "empty path");
        if (strlen(sep + 3) > WIRE_IPC_PATH_MAX)
            return carbs_fail(err, CARBS_ETOOBIG,
                              "invalid endpoint '%s': ipc path is too long (%zu bytes, at most %d)",
                              s, strlen(sep + 3), WIRE_IPC_PATH_MAX);
        memcpy(out->path, sep + 3, strlen(sep + 3) + 1);
        return 0;
    }
    if (sep - s == 6 && memcmp(s, "inproc", 6) == 0) {
        out->transport = WIRE_INPROC;
        if (!sep[3]) return bad_endpoint(err, s, "empty name");
        memcpy(out->path, sep + 3, strlen(sep + 3) + 1);
        return 0;
    }
    return carbs_fail(err, CARBS_EINVAL,
                      "invalid endpoint '%s': unknown scheme '%.*s' (use tcp, ipc or inproc)", s,
                      (int)(sep - s > 16 ? 16 : sep - s), s);
}

bool wire_endpoint_is_local(const wire_endpoint_t *ep)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (ep->transport == WIRE_IPC || ep->transport == WIRE_INPROC) return true;
    if (ep->transport != WIRE_TCP) return false;
    if (strcasecmp(ep->host, "localhost") == 0) return true;
    if (inet_pton(AF_INET, ep->host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, ep->host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

// ---- peers ----

bool wire_peer_equal(const wire_peer_t *a, const wire_peer_t *b)
{
    return a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
}

const char *wire_peer_format(const wire_peer_t *p, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    bool text = p->id_len > 0;
    size_t o = 0;

    if (cap == 0) return out;
    for (size_t i = 0; i < p->id_len; i++) {
        if (p->id[i] <= ' ' || p->id[i] >= 0x7f) text = false;
    }
    if (text) {
        for (size_t i = 0; i < p->id_len && o + 1 < cap; i++)
            out[o++] = (char)p->id[i];
    } else {
        for (size_t i = 0; i < 2 && o + 1 < cap; i++)
            out[o++] = "0x"[i];
        for (size_t i = 0; i < p->id_len && o + 2 < cap; i++) {
            out[o++] = hex[p->id[i] >> 4];
            out[o++] = hex[p->id[i] & 15];
        }
    }
    out[o] = '\0';
    return out;
}

// ---- shared socket helpers ----

/* A deadline in monotonic milliseconds; -1 = none. */
static double deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_monotonic() * 1e3 + timeout_ms;
}

/* Milliseconds left until deadline for zmq_poll (-1 = forever, 0 = passed). */
static long ms_left(double deadline)
{
    double left;

    if (deadline < 0) return -1;
    left = deadline - now_monotonic() * 1e3;
    return left <= 0 ? 0 : (long)left + 1;
}

static int set_int(void *sock, int opt, int v, const char *what, carbs_err_t *err)
{
    if (zmq_setsockopt(sock, opt, &v, sizeof(v)) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot set %s: %s", what, zmq_strerror(errno));
    return 0;
}

/* Options both ends share: frame limit, IPv6 for bracketed hosts. */
static int set_common(void *sock, const wire_endpoint_t *ep, size_t frame_max, int linger_ms,
                      carbs_err_t *err)
{
    int64_t max = (int64_t)frame_max;

    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot set the frame limit: %s", zmq_strerror(errno));
    if (set_int(sock, ZMQ_LINGER, linger_ms, "linger", err) < 0) return err ? err->code : CARBS_EIO;
    if (ep->transport == WIRE_TCP && strchr(ep->host, ':'))
        return set_int(sock, ZMQ_IPV6, 1, "ipv6", err);
    return 0;
}

static int check_frame_max(size_t in, size_t *out, carbs_err_t *err)
{
    *out = in ? in : WIRE_FRAME_MAX_DEFAULT;
    if (*out > WIRE_FRAME_MAX_LIMIT)
        return carbs_fail(err, CARBS_EINVAL, "frame limit %zu is above the largest allowed, %zu",
                          in, WIRE_FRAME_MAX_LIMIT);
    return 0;
}

/* Copy a message into a fresh NUL-terminated buffer. */
static int take_frame(zmq_msg_t *m, char **buf, size_t *len, carbs_err_t *err)
{
    size_t n = zmq_msg_size(m);
    char *b = carbs_malloc(n + 1);

    if (!b) return carbs_fail(err, CARBS_ENOMEM, "no memory for a %zu-byte frame", n);
    if (n) memcpy(b, zmq_msg_data(m), n);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* Read and discard the rest of a multi-part message. */
static void drain_parts(void *sock)
{
    int more = 1;
    size_t more_len = sizeof(more);

    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
        more_len = sizeof(more);
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
    }
}

// ---- server ----

struct wire_server {
    void *ctx;
    void *sock; /* ROUTER */
    void *zap;  /* ZAP REP, NULL without CURVE */
    size_t frame_max;
    char endpoint[WIRE_ENDPOINT_MAX + 1]; /* as bound, port resolved */
    char *allow_dir;
    wire__allow_t allow;
};

/* Create the ROUTER (and the ZAP handler) and bind it. */
static int server_bind(wire_server_t *srv, const wire_endpoint_t *ep, const wire_keypair_t *kp,
                       carbs_err_t *err)
{
    size_t n = sizeof(srv->endpoint);

    if (kp) {
        srv->zap = zmq_socket(srv->ctx, ZMQ_REP);
        if (!srv->zap)
            return carbs_fail(err, CARBS_EIO, "cannot create the zap socket: %s",
                              zmq_strerror(errno));
        if (set_int(srv->zap, ZMQ_LINGER, 0, "linger", err) < 0) return CARBS_EIO;
        if (zmq_bind(srv->zap, ZAP_ENDPOINT) != 0)
            return carbs_fail(err, CARBS_EIO, "cannot bind the zap handler: %s",
                              zmq_strerror(errno));
    }
    srv->sock = zmq_socket(srv->ctx, ZMQ_ROUTER);
    if (!srv->sock)
        return carbs_fail(err, CARBS_EIO, "cannot create a router socket: %s", zmq_strerror(errno));
    if (set_common(srv->sock, ep, srv->frame_max, 0, err) < 0 ||
        set_int(srv->sock, ZMQ_ROUTER_MANDATORY, 1, "router mandatory", err) < 0 ||
        set_int(srv->sock, ZMQ_ROUTER_HANDOVER, 1, "router handover", err) < 0)
        return CARBS_EIO;
    if (kp) {
        if (set_int(srv->sock, ZMQ_CURVE_SERVER, 1, "curve server", err) < 0) return CARBS_EIO;
        if (zmq_setsockopt(srv->sock, ZMQ_CURVE_SECRETKEY, kp->secret_z85, WIRE_KEY_Z85_LEN + 1) !=
                0 ||
            zmq_setsockopt(srv->sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)
            return carbs_fail(err, CARBS_EIO, "cannot set the curve server key: %s",
                              zmq_strerror(errno));
    }
    if (zmq_bind(srv->sock, ep->text) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot bind '%s': %s", ep->text, zmq_strerror(errno));
    if (zmq_getsockopt(srv->sock, ZMQ_LAST_ENDPOINT, srv->endpoint, &n) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot read the bound endpoint: %s",
                          zmq_strerror(errno));
    return 0;
}

wire_server_t *wire_server_open(const wire_server_config_t *cfg, carbs_err_t *err)
{
    wire_endpoint_t ep;
    wire_keypair_t kp;
    wire_server_t *srv = NULL;
    int rc = 0;

    memset(&kp, 0, sizeof(kp));
    if (!cfg || !cfg->endpoint) {
        carbs_fail(err, CARBS_EINVAL, "no endpoint to bind");
        return NULL;
    }
    srv = xcalloc(1, sizeof(*srv));
    rc = wire_endpoint_parse(cfg->endpoint, &ep, err);
    if (rc < 0) goto out;
    rc = check_frame_max(cfg->frame_max, &srv->frame_max, err);
    if (rc < 0) goto out;
    if (!cfg->key != !cfg->allow) {
        rc = carbs_fail(err, CARBS_EINVAL,
                        "curve needs both the service key file and the "
                        "allow-list directory");
        goto out;
    }
    if (!cfg->key && !cfg->insecure && !wire_endpoint_is_local(&ep)) {
        rc = carbs_fail(err, CARBS_EDENIED,
                        "refusing to bind '%s' without encryption: it is reachable from other "
                        "machines; pass --keys DIR to require worker keys, or --insecure",
                        ep.text);
        goto out;
    }
    if (cfg->key) {
        rc = wire_key_load_pair(cfg->key, &kp, err);
        if (rc < 0) goto out;
        srv->allow_dir = xstrdup(cfg->allow);
        rc = wire__allow_load(cfg->allow, &srv->allow, err);
        if (rc < 0) goto out;
        if (srv->allow.keys.n == 0)
            log_warn("wire: allow-list '%s' holds no *.pub keys; no worker can connect",
                     cfg->allow);
    }
    srv->ctx = zmq_ctx_new();
    if (!srv->ctx) {
        rc = carbs_fail(err, CARBS_EIO, "cannot create a zmq context: %s", zmq_strerror(errno));
        goto out;
    }
    rc = server_bind(srv, &ep, cfg->key ? &kp : NULL, err);
    if (rc < 0) goto out;
    log_debug("wire: bound %s (%s, frame limit %zu)", srv->endpoint, cfg->key ? "curve" : "plain",
              srv->frame_max);
out:
    wire_keypair_wipe(&kp);
    if (rc < 0) {
        wire_server_close(srv);
        return NULL;
    }
    return srv;
}

void wire_server_close(wire_server_t *srv)
{
    if (!srv) return;
    if (srv->sock) zmq_close(srv->sock);
    if (srv->zap) zmq_close(srv->zap);
    if (srv->ctx) zmq_ctx_term(srv->ctx);
    wire__allow_release(&srv->allow);
    free(srv->allow_dir);
    free(srv);
}

const char *wire_server_endpoint(const wire_server_t *srv)
{
    return srv->endpoint;
}

size_t wire_server_n_allowed(const wire_server_t *srv)
{
    return srv->allow.keys.n;
}

int wire_server_reload_allow(wire_server_t *srv, carbs_err_t *err)
{
    wire__allow_t fresh = {{0}};
    int rc;

    if (!srv->zap)
        return carbs_fail(err, CARBS_ESTATE, "the server at '%s' does not use curve",
                          srv->endpoint);
    rc = wire__allow_load(srv->allow_dir, &fresh, err);
    if (rc < 0) return rc;
    wire__allow_release(&srv->allow);
    srv->allow = fresh;
    return 0;
}

/* Poll the router and the zap handler until a frame is ready or deadline. */
static int server_poll(wire_server_t *srv, double deadline, carbs_err_t *err)
{
    for (;;) {
        zmq_pollitem_t items[2] = {
            {srv->sock, 0, ZMQ_POLLIN, 0},
            {srv->zap, 0, ZMQ_POLLIN, 0},
        };
        long wait = ms_left(deadline);
        int n = zmq_poll(items, srv->zap ? 2 : 1, wait);

        if (n < 0) {
            if (errno == EINTR)
                return carbs_fail(err, CARBS_ETIMEDOUT, "wait on '%s' cut short by a signal",
                                  srv->endpoint);
            return carbs_fail(err, CARBS_EIO, "cannot poll '%s': %s", srv->endpoint,
                              zmq_strerror(errno));
        }
        if (srv->zap && (items[1].revents & ZMQ_POLLIN)) {
            int rc = wire__zap_serve(srv->zap, &srv->allow, srv->allow_dir, err);
            if (rc < 0) return rc;
        }
        if (items[0].revents & ZMQ_POLLIN) return 0;
        if (wait == 0)
            return carbs_fail(err, CARBS_ETIMEDOUT, "no frame on '%s' within the wait",
                              srv->endpoint);
    }
}

int wire_server_wait(wire_server_t *srv, int timeout_ms, carbs_err_t *err)
{
    return server_poll(srv, deadline_after(timeout_ms), err);
}

int wire_server_recv(wire_server_t *srv, wire_peer_t *peer, char **buf, size_t *len, int timeout_ms,
                     carbs_err_t *err)
{
    double deadline = deadline_after(timeout_ms);

    for (;;) {
        zmq_msg_t id, body;
        int more = 0, rc;
        size_t more_len = sizeof(more);
        const char *user, *pkey;
        const wire__allowed_t *key;

        rc = server_poll(srv, deadline, err);
        if (rc < 0) return rc;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, srv->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            if (errno == EAGAIN || errno == EINTR) continue;
            return carbs_fail(err, CARBS_EIO, "cannot receive on '%s': %s", srv->endpoint,
                              zmq_strerror(errno));
        }
        zmq_getsockopt(srv->sock, ZMQ_RCVMORE, &more, &more_len);
        if (!more || zmq_msg_size(&id) > WIRE_PEER_ID_MAX) {
            zmq_msg_close(&id);
            drain_parts(srv->sock);
            continue;
        }
        peer->id_len = zmq_msg_size(&id);
        memcpy(peer->id, zmq_msg_data(&id), peer->id_len);
        zmq_msg_close(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, srv->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&body);
            return carbs_fail(err, CARBS_EIO, "cannot receive on '%s': %s", srv->endpoint,
                              zmq_strerror(errno));
        }
        more_len = sizeof(more);
        zmq_getsockopt(srv->sock, ZMQ_RCVMORE, &more, &more_len);
        if (more || zmq_msg_size(&body) > srv->frame_max) {
            char who[WIRE_PEER_STR_MAX];
            log_warn("wire: dropped a %s message from %s", more ? "multi-part" : "oversized",
                     wire_peer_format(peer, who, sizeof(who)));
            zmq_msg_close(&body);
            drain_parts(srv->sock);
            continue;
        }
        user = zmq_msg_gets(&body, "User-Id");
        str_copy(peer->user, sizeof(peer->user), user ? user : "");
        pkey = user && user[0] ? zmq_msg_gets(&body, WIRE__KEY_PROPERTY) : NULL;
        str_copy(peer->key, sizeof(peer->key), pkey ? pkey : "");
        /* Looked up per frame, so a reloaded list takes an admin key's
         * rights away from connections already up. */
        key = user && user[0] ? wire__allow_find_name(&srv->allow, user) : NULL;
        peer->admin = key && key->admin;
        rc = take_frame(&body, buf, len, err);
        zmq_msg_close(&body);
        return rc;
    }
}

int wire_server_send(wire_server_t *srv, const wire_peer_t *peer, const char *buf, size_t len,
                     carbs_err_t *err)
{
    char who[WIRE_PEER_STR_MAX];

    if (len > srv->frame_max)
        return carbs_fail(err, CARBS_ETOOBIG, "frame of %zu bytes is over the limit of %zu", len,
                          srv->frame_max);
    if (zmq_send(srv->sock, peer->id, peer->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = errno;
        wire_peer_format(peer, who, sizeof(who));
        if (e == EHOSTUNREACH)
            return carbs_fail(err, CARBS_ENOTFOUND, "peer '%s' is not connected", who);
        if (e == EAGAIN)
            return carbs_fail(err, CARBS_EBUSY, "peer '%s' is not reading (send queue full)", who);
        return carbs_fail(err, CARBS_EIO, "cannot send to '%s': %s", who, zmq_strerror(e));
    }
    /* The rest of a multi-part message always goes out once the first part has. */
    if (zmq_send(srv->sock, buf, len, ZMQ_DONTWAIT) < 0)
        return carbs_fail(err, CARBS_EIO, "cannot send to '%s': %s",
                          wire_peer_format(peer, who, sizeof(who)), zmq_strerror(errno));
    return 0;
}

// ---- client ----

struct wire_client {
    void *ctx;
    void *sock; /* DEALER */
    void *mon;  /* PAIR reading the DEALER's socket monitor */
    size_t frame_max;
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    bool connected;
    bool curve;        /* speaks CURVE: a handshake can be refused */
    int refused;       /* last handshake failure event (0 = none since success) */
    int refused_value; /* its value: ZAP status code or protocol error */
    int resets;        /* handshakes cut short in a row, without CURVE */
};

static int client_keys(wire_client_t *cli, const wire_client_config_t *cfg, carbs_err_t *err)
{
    wire_keypair_t kp;
    char server_pub[WIRE_KEY_Z85_LEN + 1];
    int rc;

    memset(&kp, 0, sizeof(kp));
    rc = wire_key_load_pair(cfg->key, &kp, err);
    if (rc < 0) goto out;
    rc = wire_key_load_public(cfg->server_key, server_pub, err);
    if (rc < 0) goto out;
    if (zmq_setsockopt(cli->sock, ZMQ_CURVE_SERVERKEY, server_pub, WIRE_KEY_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(cli->sock, ZMQ_CURVE_PUBLICKEY, kp.public_z85, WIRE_KEY_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(cli->sock, ZMQ_CURVE_SECRETKEY, kp.secret_z85, WIRE_KEY_Z85_LEN + 1) != 0)
        rc =
            carbs_fail(err, CARBS_EIO, "cannot set the curve client keys: %s", zmq_strerror(errno));
out:
    wire_keypair_wipe(&kp);
    return rc;
}

static int client_setup(wire_client_t *cli, const wire_client_config_t *cfg,
                        const wire_endpoint_t *ep, carbs_err_t *err)
{
    int ivl = cfg->reconnect_ms > 0 ? cfg->reconnect_ms : CLIENT_RECONNECT_MS;
    int ivl_max = ivl > CLIENT_RECONNECT_MAX_MS ? ivl : CLIENT_RECONNECT_MAX_MS;
    int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;

    cli->ctx = zmq_ctx_new();
    if (!cli->ctx)
        return carbs_fail(err, CARBS_EIO, "cannot create a zmq context: %s", zmq_strerror(errno));
    cli->sock = zmq_socket(cli->ctx, ZMQ_DEALER);
    if (!cli->sock)
        return carbs_fail(err, CARBS_EIO, "cannot create a dealer socket: %s", zmq_strerror(errno));
    if (set_common(cli->sock, ep, cli->frame_max, CLIENT_LINGER_MS, err) < 0 ||
        set_int(cli->sock, ZMQ_RECONNECT_IVL, ivl, "reconnect interval", err) < 0 ||
        set_int(cli->sock, ZMQ_RECONNECT_IVL_MAX, ivl_max, "reconnect interval", err) < 0)
        return CARBS_EIO;
    if (cfg->identity &&
        zmq_setsockopt(cli->sock, ZMQ_ROUTING_ID, cfg->identity, strlen(cfg->identity)) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot set identity '%s': %s", cfg->identity,
                          zmq_strerror(errno));
    if (cfg->key && client_keys(cli, cfg, err) < 0) return err ? err->code : CARBS_EIO;
    cli->curve = cfg->key != NULL;
    /* The monitor must exist before connect so no handshake event is missed. */
    if (zmq_socket_monitor(cli->sock, MONITOR_ENDPOINT, events) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot monitor the client socket: %s",
                          zmq_strerror(errno));
    cli->mon = zmq_socket(cli->ctx, ZMQ_PAIR);
    if (!cli->mon || set_int(cli->mon, ZMQ_LINGER, 0, "linger", err) < 0 ||
        zmq_connect(cli->mon, MONITOR_ENDPOINT) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot read the client socket monitor: %s",
                          zmq_strerror(errno));
    if (zmq_connect(cli->sock, ep->text) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot connect to '%s': %s", ep->text,
                          zmq_strerror(errno));
    return 0;
}

wire_client_t *wire_client_open(const wire_client_config_t *cfg, carbs_err_t *err)
{
    wire_endpoint_t ep;
    wire_client_t *cli = NULL;
    int rc = 0;

    if (!cfg || !cfg->endpoint) {
        carbs_fail(err, CARBS_EINVAL, "no endpoint to connect to");
        return NULL;
    }
    cli = xcalloc(1, sizeof(*cli));
    rc = wire_endpoint_parse(cfg->endpoint, &ep, err);
    if (rc < 0) goto out;
    if (ep.transport == WIRE_TCP && (ep.port == 0 || strcmp(ep.host, "*") == 0)) {
        rc = carbs_fail(err, CARBS_EINVAL,
                        "cannot connect to '%s': a wildcard host or port is "
                        "for binding only",
                        ep.text);
        goto out;
    }
    str_copy(cli->endpoint, sizeof(cli->endpoint), ep.text);
    rc = check_frame_max(cfg->frame_max, &cli->frame_max, err);
    if (rc < 0) goto out;
    if (cfg->identity && (!*cfg->identity || strlen(cfg->identity) > WIRE_PEER_ID_MAX)) {
        rc = carbs_fail(err, CARBS_EINVAL, "identity must be 1-%d bytes", WIRE_PEER_ID_MAX);
        goto out;
    }
    if (!cfg->key != !cfg->server_key) {
        rc = carbs_fail(err, CARBS_EINVAL,
                        "curve needs both this client's key file and the "
                        "service's public key file");
        goto out;
    }
    rc = client_setup(cli, cfg, &ep, err);
out:
    if (rc < 0) {
        wire_client_close(cli);
        return NULL;
    }
    return cli;
}

void wire_client_close(wire_client_t *cli)
{
    if (!cli) return;
    if (cli->sock && cli->mon) zmq_socket_monitor(cli->sock, NULL, 0);
    if (cli->mon) zmq_close(cli->mon);
    if (cli->sock) zmq_close(cli->sock);
    if (cli->ctx) zmq_ctx_term(cli->ctx);
    free(cli);
}

bool wire_client_connected(const wire_client_t *cli)
{
    return cli->connected;
}

int wire_client_send(wire_client_t *cli, const char *buf, size_t len, carbs_err_t *err)
{
    if (len > cli->frame_max)
        return carbs_fail(err, CARBS_ETOOBIG, "frame of %zu bytes is over the limit of %zu", len,
                          cli->frame_max);
    if (zmq_send(cli->sock, buf, len, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN)
            return carbs_fail(err, CARBS_EBUSY,
                              "send queue to '%s' is full (the service is down or not reading)",
                              cli->endpoint);
        return carbs_fail(err, CARBS_EIO, "cannot send to '%s': %s", cli->endpoint,
                          zmq_strerror(errno));
    }
    return 0;
}

/* Read every pending monitor event into the connection state. */
static void client_read_events(wire_client_t *cli)
{
    for (;;) {
        zmq_msg_t m;
        uint16_t event = 0;
        uint32_t value = 0;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, cli->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_size(&m) >= 6) {
            memcpy(&event, zmq_msg_data(&m), 2);
            memcpy(&value, (const char *)zmq_msg_data(&m) + 2, 4);
        }
        zmq_msg_close(&m);
        drain_parts(cli->mon); /* the endpoint frame */
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            cli->connected = true;
            cli->refused = 0;
            cli->resets = 0;
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            cli->connected = false;
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && !cli->curve) {
            /* A system error (the service died mid-handshake: ECONNRESET);
             * without CURVE there is nothing to refuse, so once it is a
             * drop.  A CURVE service that meets a plain client may reset
             * the connection before its greeting is read, every time: so
             * several in a row, with no handshake between, are a mismatch. */
            cli->connected = false;
            if (++cli->resets >= CLIENT_RESETS_MISMATCH) {
                cli->refused = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
                cli->refused_value = 0;
            }
        } else if (event) {
            cli->connected = false;
            cli->refused = event;
            cli->refused_value = (int)value;
        }
    }
}

static int client_refused(const wire_client_t *cli, carbs_err_t *err)
{
    if (cli->refused == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return carbs_fail(err, CARBS_EDENIED,
                          "the service at '%s' refused this client's key (status %d): is its "
                          ".pub in the service's allow-list?",
                          cli->endpoint, cli->refused_value);
    return carbs_fail(err, CARBS_EDENIED,
                      "the handshake with '%s' failed: do both ends use curve, with the "
                      "service's public key?",
                      cli->endpoint);
}

int wire_client_recv(wire_client_t *cli, char **buf, size_t *len, int timeout_ms, carbs_err_t *err)
{
    double deadline = deadline_after(timeout_ms);

    for (;;) {
        zmq_pollitem_t items[2] = {
            {cli->sock, 0, ZMQ_POLLIN, 0},
            {cli->mon, 0, ZMQ_POLLIN, 0},
        };
        long wait = ms_left(deadline);
        zmq_msg_t m;
        int more = 0, rc;
        size_t more_len = sizeof(more);

        if (zmq_poll(items, 2, wait) < 0) {
            if (errno == EINTR)
                return carbs_fail(err, CARBS_ETIMEDOUT, "wait on '%s' cut short by a signal",
                                  cli->endpoint);
            return carbs_fail(err, CARBS_EIO, "cannot poll '%s': %s", cli->endpoint,
                              zmq_strerror(errno));
        }
        if (items[1].revents & ZMQ_POLLIN) client_read_events(cli);
        if (!(items[0].revents & ZMQ_POLLIN)) {
            if (cli->refused) return client_refused(cli, err);
            if (wait == 0)
                return carbs_fail(err, CARBS_ETIMEDOUT, "no reply from '%s' within %d ms",
                                  cli->endpoint, timeout_ms);
            continue;
        }
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, cli->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (errno == EAGAIN || errno == EINTR) continue;
            return carbs_fail(err, CARBS_EIO, "cannot receive from '%s': %s", cli->endpoint,
                              zmq_strerror(errno));
        }
        zmq_getsockopt(cli->sock, ZMQ_RCVMORE, &more, &more_len);
        if (more || zmq_msg_size(&m) > cli->frame_max) {
            log_warn("wire: dropped a %s message from '%s'", more ? "multi-part" : "oversized",
                     cli->endpoint);
            zmq_msg_close(&m);
            drain_parts(cli->sock);
            continue;
        }
        rc = take_frame(&m, buf, len, err);
        zmq_msg_close(&m);
        return rc;
    }
}
