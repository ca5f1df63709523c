/*
 * test_wire.c - the ZeroMQ wire (proto/wire.c) and its CurveZMQ keys and ZAP
 * allow-list (proto/wire_curve.c).
 *
 * Everything runs on this machine: ipc:// sockets in a mkdtemp directory and
 * tcp://127.0.0.1 on a port the kernel picks.  The server is single-threaded,
 * so a test that waits on a client also pumps the server (which answers
 * authentication requests inside its own poll); every wait is bounded by a
 * deadline, never a sleep.  Payloads are random bytes, NULs included.
 */
#include "proto/common.h"
#include "proto/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"

// ---- helpers ----

/* n random bytes, any value (NULs and high bytes included). */
static char *rnd_bytes(fx_rng_t *r, size_t n)
{
    char *b = xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)(fx_rnd(r) & 0xff);
    return b;
}

/* snprintf that treats truncation as a broken test setup. */
static void fmt(char *dst, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));

static void fmt(char *dst, size_t cap, const char *f, ...)
{
    va_list ap;
    int n;

    va_start(ap, f);
    n = vsnprintf(dst, cap, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "test path too long: %s\n", dst);
        exit(1);
    }
}

/* A path under the test's temp directory; points into a static ring. */
static const char *tmp_path(const char *name)
{
    static char ring[8][256];
    static size_t next;
    char *p = ring[next++ % ARRAY_SIZE(ring)];
    fx_path(p, sizeof(ring[0]), "%s", name);
    return p;
}

static char *read_file(const char *path, size_t *n)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    *n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

/* Receive one frame on the server within timeout_ms. */
static int srv_get(wire_server_t *srv, wire_peer_t *peer, char **buf, size_t *len, int ms)
{
    carbs_err_t err = {0};
    return wire_server_recv(srv, peer, buf, len, ms, &err);
}

/* Wait for a client's reply while pumping the server (so it can answer ZAP);
 * a frame the server receives meanwhile is counted in *srv_frames.  Returns
 * what the client's last recv returned. */
static int cli_get_pumping(wire_client_t *cli, wire_server_t *srv, char **buf, size_t *len,
                           int total_ms, int *srv_frames, carbs_err_t *err)
{
    double end = now_monotonic() + total_ms / 1e3;
    int rc = CARBS_ETIMEDOUT;

    while (now_monotonic() < end) {
        wire_peer_t peer;
        char *got = NULL;
        size_t got_len = 0;

        if (srv_get(srv, &peer, &got, &got_len, 20) == 0) {
            (*srv_frames)++;
            free(got);
        }
        rc = wire_client_recv(cli, buf, len, 20, err);
        if (rc == 0 || rc == CARBS_EDENIED) return rc;
    }
    return rc;
}

// ---- endpoints ----

static void test_wire_endpoint_parse_good(void)
{
    static const struct {
        const char *s;
        wire_transport_t transport;
        const char *host;
        int port;
        const char *path;
    } cases[] = {
        {"tcp://127.0.0.1:5555", WIRE_TCP, "127.0.0.1", 5555, ""},
        {"tcp://*:1", WIRE_TCP, "*", 1, ""},
        {"tcp://*:*", WIRE_TCP, "*", 0, ""},
        {"tcp://head-node.cluster_7:65535", WIRE_TCP, "head-node.cluster_7", 65535, ""},
        {"tcp://[::1]:40917", WIRE_TCP, "::1", 40917, ""},
        {"tcp://[fe80::1:2a]:*", WIRE_TCP, "fe80::1:2a", 0, ""},
        {"tcp://localhost:8081", WIRE_TCP, "localhost", 8081, ""},
        {"ipc:///tmp/carbs/s.ipc", WIRE_IPC, "", 0, "/tmp/carbs/s.ipc"},
        {"ipc://rel/x", WIRE_IPC, "", 0, "rel/x"},
        {"inproc://svc-3", WIRE_INPROC, "", 0, "svc-3"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        wire_endpoint_t ep;
        carbs_err_t err = {0};
        CHECK_EQ(wire_endpoint_parse(cases[i].s, &ep, &err), 0);
        CHECK_EQ(ep.transport, cases[i].transport);
        CHECK_STR(ep.text, cases[i].s);
        CHECK_STR(ep.host, cases[i].host);
        CHECK_EQ(ep.port, cases[i].port);
        CHECK_STR(ep.path, cases[i].path);
    }
}

static void test_wire_endpoint_parse_bad(void)
{
    static const struct {
        const char *s;
        int code;
        const char *msg;
    } cases[] = {
        {"", CARBS_EINVAL, "empty endpoint"},
        {"udp://h:1", CARBS_EINVAL,
         "invalid endpoint 'udp://h:1': unknown scheme 'udp' (use tcp, ipc or inproc)"},
        {"127.0.0.1:5555", CARBS_EINVAL,
         "invalid endpoint '127.0.0.1:5555': expected tcp://HOST:PORT, ipc://PATH or "
         "inproc://NAME"},
        {"tcp://host", CARBS_EINVAL,
         "invalid endpoint 'tcp://host': missing port (tcp://HOST:PORT)"},
        {"tcp://host:", CARBS_EINVAL,
         "invalid endpoint 'tcp://host:': missing port (tcp://HOST:PORT)"},
        {"tcp://:5555", CARBS_EINVAL, "invalid endpoint 'tcp://:5555': empty host"},
        {"tcp://h:0", CARBS_EINVAL, "invalid endpoint 'tcp://h:0': port must be 1-65535 or '*'"},
        {"tcp://h:65536", CARBS_EINVAL,
         "invalid endpoint 'tcp://h:65536': port must be 1-65535 or '*'"},
        {"tcp://h:-7", CARBS_EINVAL, "invalid endpoint 'tcp://h:-7': port must be 1-65535 or '*'"},
        {"tcp://h:80x", CARBS_EINVAL,
         "invalid endpoint 'tcp://h:80x': port must be 1-65535 or '*'"},
        {"tcp://::1:5555", CARBS_EINVAL,
         "invalid endpoint 'tcp://::1:5555': an IPv6 address goes in brackets "
         "(tcp://[::1]:PORT)"},
        {"tcp://[::1:5555", CARBS_EINVAL,
         "invalid endpoint 'tcp://[::1:5555': missing ']' after the IPv6 address"},
        {"tcp://[]:5555", CARBS_EINVAL, "invalid endpoint 'tcp://[]:5555': empty host"},
        {"tcp://[::1]5555", CARBS_EINVAL,
         "invalid endpoint 'tcp://[::1]5555': missing port (tcp://HOST:PORT)"},
        {"tcp://[::g]:1", CARBS_EINVAL,
         "invalid endpoint 'tcp://[::g]:1': bad character in the IPv6 address"},
        {"tcp://a/b:1", CARBS_EINVAL, "invalid endpoint 'tcp://a/b:1': bad character in the host"},
        {"tcp://a b:1", CARBS_EINVAL,
         "invalid endpoint 'tcp://a b:1': contains a space or control character"},
        {"ipc://", CARBS_EINVAL, "invalid endpoint 'ipc://': empty path"},
        {"inproc://", CARBS_EINVAL, "invalid endpoint 'inproc://': empty name"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        wire_endpoint_t ep;
        carbs_err_t err = {0};
        CHECK_EQ(wire_endpoint_parse(cases[i].s, &ep, &err), cases[i].code);
        CHECK_EQ(err.code, cases[i].code);
        CHECK_STR(err.msg, cases[i].msg);
    }
}

static void test_wire_endpoint_too_long(void)
{
    char s[WIRE_ENDPOINT_MAX + 32];
    wire_endpoint_t ep;
    carbs_err_t err = {0};
    size_t n;

    /* An ipc path one over sun_path's room, and exactly at it. */
    n = (size_t)snprintf(s, sizeof(s), "ipc://");
    memset(s + n, 'p', WIRE_IPC_PATH_MAX + 1);
    s[n + WIRE_IPC_PATH_MAX + 1] = '\0';
    CHECK_EQ(wire_endpoint_parse(s, &ep, &err), CARBS_ETOOBIG);
    CHECK(strstr(err.msg, "ipc path is too long (108 bytes, at most 107)") != NULL);
    s[n + WIRE_IPC_PATH_MAX] = '\0';
    CHECK_EQ(wire_endpoint_parse(s, &ep, &err), 0);
    CHECK_EQ(strlen(ep.path), WIRE_IPC_PATH_MAX);

    /* The whole endpoint over WIRE_ENDPOINT_MAX. */
    n = (size_t)snprintf(s, sizeof(s), "inproc://");
    memset(s + n, 'q', WIRE_ENDPOINT_MAX + 1 - n);
    s[WIRE_ENDPOINT_MAX + 1] = '\0';
    CHECK_EQ(wire_endpoint_parse(s, &ep, &err), CARBS_ETOOBIG);
    CHECK(strstr(err.msg, "is too long (256 bytes, at most 255)") != NULL);
    s[WIRE_ENDPOINT_MAX] = '\0';
    CHECK_EQ(wire_endpoint_parse(s, &ep, &err), 0);
}

static void test_wire_endpoint_local_rule(void)
{
    static const struct {
        const char *s;
        bool local;
    } cases[] = {
        {"ipc:///tmp/x.ipc", true},      {"inproc://a", true},
        {"tcp://127.0.0.1:5555", true},  {"tcp://127.203.7.91:5555", true},
        {"tcp://localhost:5555", true},  {"tcp://LocalHost:5555", true},
        {"tcp://[::1]:5555", true},      {"tcp://[::ffff:127.0.0.1]:5555", true},
        {"tcp://*:5555", false},         {"tcp://*:*", false},
        {"tcp://0.0.0.0:5555", false},   {"tcp://[::]:5555", false},
        {"tcp://128.0.0.1:5555", false}, {"tcp://10.1.2.3:5555", false},
        {"tcp://head:5555", false},      {"tcp://localhost.example.org:5555", false},
        {"tcp://eth0:5555", false},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        wire_endpoint_t ep;
        carbs_err_t err = {0};
        CHECK_EQ(wire_endpoint_parse(cases[i].s, &ep, &err), 0);
        if (wire_endpoint_is_local(&ep) != cases[i].local) {
            fprintf(stderr, "local rule wrong for %s\n", cases[i].s);
            CHECK(false);
        }
    }
}

// ---- peers ----

static void test_wire_peer_format_and_equal(void)
{
    wire_peer_t a = {.id = "w-17", .id_len = 4};
    wire_peer_t b = {.id = {0x00, 0x6b, 0x8b, 0x45, 0xff}, .id_len = 5};
    wire_peer_t c = a;
    char out[WIRE_PEER_STR_MAX];
    char small[5];

    CHECK_STR(wire_peer_format(&a, out, sizeof(out)), "w-17");
    CHECK_STR(wire_peer_format(&b, out, sizeof(out)), "0x006b8b45ff");
    CHECK_STR(wire_peer_format(&b, small, sizeof(small)), "0x00");
    CHECK(wire_peer_equal(&a, &c));
    c.id[3] = '8';
    CHECK(!wire_peer_equal(&a, &c));
    c = a;
    c.id_len = 3;
    CHECK(!wire_peer_equal(&a, &c));
    CHECK(!wire_peer_equal(&a, &b));
    memset(&c, 0xab, sizeof(c));
    c.id_len = WIRE_PEER_ID_MAX;
    CHECK_EQ(strlen(wire_peer_format(&c, out, sizeof(out))), 2 + 2 * WIRE_PEER_ID_MAX);
}

// ---- config errors ----

static void test_wire_open_config_errors(void)
{
    carbs_err_t err = {0};
    wire_server_config_t scfg = {0};
    wire_client_config_t ccfg = {0};

    wire_server_close(NULL);
    wire_client_close(NULL);
    wire_keypair_wipe(NULL);

    CHECK(wire_server_open(&scfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    scfg.endpoint = "tcp://127.0.0.1:*";
    scfg.frame_max = WIRE_FRAME_MAX_LIMIT + 1;
    CHECK(wire_server_open(&scfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "frame limit") != NULL);
    scfg.frame_max = 0;
    scfg.key = tmp_path("nothing.key");
    CHECK(wire_server_open(&scfg, &err) == NULL);
    CHECK_STR(err.msg, "curve needs both the service key file and the allow-list directory");
    scfg.allow = tmp_path("no-such-dir");
    CHECK(wire_server_open(&scfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    CHECK(strstr(err.msg, "nothing.key") != NULL);

    CHECK(wire_client_open(&ccfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    ccfg.endpoint = "tcp://*:5555";
    CHECK(wire_client_open(&ccfg, &err) == NULL);
    CHECK_STR(err.msg, "cannot connect to 'tcp://*:5555': a wildcard host or port is for "
                       "binding only");
    ccfg.endpoint = "tcp://127.0.0.1:*";
    CHECK(wire_client_open(&ccfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    ccfg.endpoint = "ipc://x";
    ccfg.identity = "";
    CHECK(wire_client_open(&ccfg, &err) == NULL);
    CHECK_STR(err.msg, "identity must be 1-255 bytes");
    ccfg.identity = NULL;
    ccfg.key = tmp_path("nothing.key");
    CHECK(wire_client_open(&ccfg, &err) == NULL);
    CHECK_STR(err.msg, "curve needs both this client's key file and the service's public key "
                       "file");
    ccfg.server_key = tmp_path("nothing.pub");
    CHECK(wire_client_open(&ccfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    CHECK(strstr(err.msg, "cannot open '") != NULL);
}

static void test_wire_server_refuses_open_bind(void)
{
    static const char *open_endpoints[] = {"tcp://*:*", "tcp://0.0.0.0:*", "tcp://[::]:*"};
    for (size_t i = 0; i < ARRAY_SIZE(open_endpoints); i++) {
        wire_server_config_t cfg = {.endpoint = open_endpoints[i]};
        carbs_err_t err = {0};
        wire_server_t *srv = wire_server_open(&cfg, &err);

        CHECK(srv == NULL);
        CHECK_EQ(err.code, CARBS_EDENIED);
        CHECK(strstr(err.msg, open_endpoints[i]) != NULL);
        CHECK(strstr(err.msg, "--keys DIR") != NULL);
        CHECK(strstr(err.msg, "--insecure") != NULL);
    }
    /* With insecure the same bind works (and the port is resolved). */
    {
        wire_server_config_t cfg = {.endpoint = "tcp://0.0.0.0:*", .insecure = true};
        carbs_err_t err = {0};
        wire_server_t *srv = wire_server_open(&cfg, &err);
        CHECK(srv != NULL);
        if (srv) {
            CHECK(strncmp(wire_server_endpoint(srv), "tcp://0.0.0.0:", 14) == 0);
            CHECK(strcmp(wire_server_endpoint(srv), "tcp://0.0.0.0:*") != 0);
            CHECK_EQ(wire_server_n_allowed(srv), 0);
            CHECK_EQ(wire_server_reload_allow(srv, &err), CARBS_ESTATE);
        }
        wire_server_close(srv);
    }
}

// ---- round trips ----

#define N_CLIENTS 3

/* Three clients (two named, one with a random routing id) each send a
 * random frame; the server answers every peer with a frame derived from
 * what that peer sent, and each client must get exactly its own answer. */
static void round_trip(const char *bind, uint64_t seed)
{
    fx_rng_t r = {seed};
    carbs_err_t err = {0};
    wire_server_config_t scfg = {.endpoint = bind, .frame_max = 70000};
    wire_server_t *srv = wire_server_open(&scfg, &err);
    wire_client_t *cli[N_CLIENTS] = {0};
    char *sent[N_CLIENTS] = {0};
    size_t sent_len[N_CLIENTS];
    wire_peer_t peers[N_CLIENTS];
    static const char *ids[N_CLIENTS] = {"worker-a7", "worker-b3", NULL};

    CHECK(srv != NULL);
    if (!srv) {
        fprintf(stderr, "open %s: %s\n", bind, err.msg);
        return;
    }
    for (size_t i = 0; i < N_CLIENTS; i++) {
        wire_client_config_t ccfg = {.endpoint = wire_server_endpoint(srv),
                                     .frame_max = 70000,
                                     .identity = ids[i],
                                     .reconnect_ms = 50};
        cli[i] = wire_client_open(&ccfg, &err);
        CHECK(cli[i] != NULL);
        if (!cli[i]) goto out;
        sent_len[i] = 1 + (size_t)(fx_rnd(&r) % 60000);
        sent[i] = rnd_bytes(&r, sent_len[i]);
        sent[i][0] = (char)('0' + i); /* tells the server which client it was */
        CHECK_EQ(wire_client_send(cli[i], sent[i], sent_len[i], &err), 0);
    }
    for (size_t k = 0; k < N_CLIENTS; k++) {
        wire_peer_t peer;
        char *buf = NULL;
        size_t len = 0;
        size_t i;

        CHECK_EQ(srv_get(srv, &peer, &buf, &len, 5000), 0);
        if (!buf) goto out;
        i = (size_t)(buf[0] - '0');
        CHECK(i < N_CLIENTS);
        if (i >= N_CLIENTS) {
            free(buf);
            goto out;
        }
        CHECK_EQ(len, sent_len[i]);
        CHECK(memcmp(buf, sent[i], len) == 0);
        CHECK_EQ(buf[len], '\0');
        CHECK_STR(peer.user, "");
        CHECK_STR(peer.key, "");
        if (ids[i]) {
            CHECK_EQ(peer.id_len, strlen(ids[i]));
            CHECK(memcmp(peer.id, ids[i], peer.id_len) == 0);
        } else {
            CHECK_EQ(peer.id_len, 5);
            CHECK_EQ(peer.id[0], 0);
        }
        peers[i] = peer;
        /* The reply is the request reversed: unique to this client. */
        for (size_t j = 0; j < len / 2; j++) {
            char t = buf[j];
            buf[j] = buf[len - 1 - j];
            buf[len - 1 - j] = t;
        }
        CHECK_EQ(wire_server_send(srv, &peer, buf, len, &err), 0);
        free(buf);
    }
    for (size_t i = 0; i < N_CLIENTS; i++) {
        for (size_t j = i + 1; j < N_CLIENTS; j++)
            CHECK(!wire_peer_equal(&peers[i], &peers[j]));
    }
    for (size_t i = 0; i < N_CLIENTS; i++) {
        char *buf = NULL;
        size_t len = 0;
        bool same = true;

        CHECK_EQ(wire_client_recv(cli[i], &buf, &len, 5000, &err), 0);
        if (!buf) continue;
        CHECK_EQ(len, sent_len[i]);
        for (size_t j = 0; j < len && j < sent_len[i]; j++)
            same = same && buf[j] == sent[i][sent_len[i] - 1 - j];
        CHECK(same);
        CHECK(wire_client_connected(cli[i]));
        free(buf);
        /* Nothing else is waiting for this client. */
        CHECK_EQ(wire_client_recv(cli[i], &buf, &len, 0, &err), CARBS_ETIMEDOUT);
    }
out:
    for (size_t i = 0; i < N_CLIENTS; i++) {
        wire_client_close(cli[i]);
        free(sent[i]);
    }
    wire_server_close(srv);
}

static void test_wire_round_trip_ipc(void)
{
    char ep[300];
    fmt(ep, sizeof(ep), "ipc://%s", tmp_path("svc.ipc"));
    round_trip(ep, 0x9e3779b97f4a7c15ULL);
}

static void test_wire_round_trip_tcp(void)
{
    round_trip("tcp://127.0.0.1:*", 0xd1b54a32d192ed03ULL);
}

static void test_wire_wait_then_recv(void)
{
    carbs_err_t err = {0};
    wire_server_config_t scfg = {.endpoint = "tcp://127.0.0.1:*"};
    wire_server_t *srv = wire_server_open(&scfg, &err);
    wire_client_t *cli = NULL;
    wire_peer_t peer, ghost = {.id = "gone-9", .id_len = 6};
    char *buf = NULL;
    size_t len = 0;
    double t0;

    CHECK(srv != NULL);
    if (!srv) return;
    t0 = now_monotonic();
    CHECK_EQ(wire_server_wait(srv, 60, &err), CARBS_ETIMEDOUT);
    CHECK_EQ(err.code, CARBS_ETIMEDOUT);
    CHECK(strstr(err.msg, "no frame on 'tcp://127.0.0.1:") != NULL);
    CHECK(now_monotonic() - t0 >= 0.055);
    CHECK_EQ(wire_server_wait(srv, 0, &err), CARBS_ETIMEDOUT);
    {
        /* The same port twice: the second bind fails, saying so. */
        wire_server_config_t again = {.endpoint = wire_server_endpoint(srv)};
        CHECK(wire_server_open(&again, &err) == NULL);
        CHECK_EQ(err.code, CARBS_EIO);
        CHECK(strstr(err.msg, "Address already in use") != NULL);
    }
    CHECK_EQ(wire_server_recv(srv, &peer, &buf, &len, 0, &err), CARBS_ETIMEDOUT);
    {
        wire_client_config_t ccfg = {.endpoint = wire_server_endpoint(srv), .identity = "w"};
        cli = wire_client_open(&ccfg, &err);
    }
    CHECK(cli != NULL);
    if (!cli) goto out;
    CHECK_EQ(wire_client_send(cli, "", 0, &err), 0);
    CHECK_EQ(wire_server_wait(srv, 5000, &err), 0);
    CHECK_EQ(wire_server_recv(srv, &peer, &buf, &len, 0, &err), 0);
    CHECK_EQ(len, 0);
    CHECK(buf != NULL && buf[0] == '\0');
    free(buf);
    CHECK_EQ(wire_server_send(srv, &ghost, "x", 1, &err), CARBS_ENOTFOUND);
    CHECK_STR(err.msg, "peer 'gone-9' is not connected");
out:
    wire_client_close(cli);
    wire_server_close(srv);
}

/* True when buf is one of the k 333-byte frames payload + 0 .. payload + k-1. */
static bool frame_from_loop(const char *buf, const char *payload, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        if (memcmp(buf, payload + i, 333) == 0) return true;
    }
    return false;
}

/* A frame over the server's limit is dropped (with the sender's connection);
 * the server goes on serving, and the sender gets through again once it has
 * reconnected. */
static void test_wire_oversized_frame_dropped(void)
{
    fx_rng_t r = {0x2545f4914f6cdd1dULL};
    carbs_err_t err = {0};
    char ep[300];
    wire_server_config_t scfg = {.frame_max = 1024};
    wire_server_t *srv;
    wire_client_t *big = NULL, *small = NULL;
    wire_peer_t peer;
    char *payload = rnd_bytes(&r, 4096);
    char *buf = NULL;
    size_t len = 0;

    fmt(ep, sizeof(ep), "ipc://%s", tmp_path("big.ipc"));
    scfg.endpoint = ep;
    srv = wire_server_open(&scfg, &err);
    CHECK(srv != NULL);
    if (!srv) goto out;
    {
        wire_client_config_t a = {
            .endpoint = ep, .frame_max = 8192, .identity = "big", .reconnect_ms = 20};
        wire_client_config_t b = {.endpoint = ep, .frame_max = 1024, .identity = "small"};
        big = wire_client_open(&a, &err);
        small = wire_client_open(&b, &err);
    }
    CHECK(big != NULL && small != NULL);
    if (!big || !small) goto out;
    /* The client's own limit is checked before anything is queued. */
    CHECK_EQ(wire_client_send(small, payload, 1025, &err), CARBS_ETOOBIG);
    CHECK_STR(err.msg, "frame of 1025 bytes is over the limit of 1024");

    CHECK_EQ(wire_client_send(big, payload, 4096, &err), 0);
    CHECK_EQ(wire_client_send(small, payload + 7, 1024, &err), 0);
    CHECK_EQ(srv_get(srv, &peer, &buf, &len, 5000), 0);
    CHECK_EQ(peer.id_len, 5);
    CHECK(memcmp(peer.id, "small", 5) == 0);
    CHECK_EQ(len, 1024);
    CHECK(buf && memcmp(buf, payload + 7, 1024) == 0);
    free(buf);
    buf = NULL;
    CHECK_EQ(wire_server_send(srv, &peer, payload, 1025, &err), CARBS_ETOOBIG);

    /* The big sender is not lost for good.  Frames it sent before noticing
     * the dropped connection are lost with it, so it repeats a normal frame
     * (a different one each time) until one arrives; none may be the big one. */
    {
        double end = now_monotonic() + 5.0;
        int got = CARBS_ETIMEDOUT;
        size_t k;

        for (k = 0; got != 0 && now_monotonic() < end; k++) {
            CHECK_EQ(wire_client_send(big, payload + k, 333, &err), 0);
            got = srv_get(srv, &peer, &buf, &len, 50);
        }
        CHECK_EQ(got, 0);
        CHECK_EQ(peer.id_len, 3);
        CHECK(memcmp(peer.id, "big", 3) == 0);
        CHECK_EQ(len, 333);
        CHECK(buf && frame_from_loop(buf, payload, k));
        free(buf);
        buf = NULL;
        /* Whatever else arrives is from the loop too, never the big frame. */
        while (srv_get(srv, &peer, &buf, &len, 100) == 0) {
            CHECK_EQ(len, 333);
            CHECK(frame_from_loop(buf, payload, k));
            free(buf);
            buf = NULL;
        }
    }
out:
    free(payload);
    wire_client_close(big);
    wire_client_close(small);
    wire_server_close(srv);
}

// ---- keys ----

static mode_t file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return (mode_t)-1;
    return st.st_mode & 07777;
}

static void test_wire_keygen_files_and_modes(void)
{
    carbs_err_t err = {0};
    wire_keypair_t kp;
    char pub[WIRE_KEY_Z85_LEN + 1], pub_of_key[WIRE_KEY_Z85_LEN + 1];
    const char *dir = tmp_path("keys-a");
    char key_path[300], pub_path[300];
    mode_t old = umask(077); /* the .pub must still come out 0644 */

    CHECK_EQ(wire_keygen(dir, "node-07.gpu", &err), 0);
    umask(old);
    fmt(key_path, sizeof(key_path), "%s/node-07.gpu.key", dir);
    fmt(pub_path, sizeof(pub_path), "%s/node-07.gpu.pub", dir);
    CHECK_EQ(file_mode(dir), 0700);
    CHECK_EQ(file_mode(key_path), 0600);
    CHECK_EQ(file_mode(pub_path), 0644);
    CHECK_EQ(wire_key_load_pair(key_path, &kp, &err), 0);
    CHECK_EQ(strlen(kp.public_z85), WIRE_KEY_Z85_LEN);
    CHECK_EQ(strlen(kp.secret_z85), WIRE_KEY_Z85_LEN);
    CHECK_EQ(wire_key_load_public(pub_path, pub, &err), 0);
    CHECK_STR(pub, kp.public_z85);
    CHECK_EQ(wire_key_load_public(key_path, pub_of_key, &err), 0);
    CHECK_STR(pub_of_key, kp.public_z85);
    {
        size_t n = 0;
        const char *text = read_file(pub_path, &n);
        CHECK(text && strstr(text, kp.public_z85) != NULL);
        CHECK(text && strstr(text, kp.secret_z85) == NULL);
    }
    wire_keypair_wipe(&kp);
    CHECK_EQ(kp.public_z85[0], 0);

    /* Never overwrites; bad names are refused before anything is written. */
    CHECK_EQ(wire_keygen(dir, "node-07.gpu", &err), CARBS_EEXIST);
    CHECK(strstr(err.msg, "already exists") != NULL);
    CHECK_EQ(wire_keygen(dir, ".hidden", &err), CARBS_EINVAL);
    CHECK_EQ(wire_keygen(dir, "a/b", &err), CARBS_EINVAL);
    CHECK_EQ(wire_keygen(dir, "", &err), CARBS_EINVAL);
    CHECK_EQ(
        wire_keygen(dir, "x234567890123456789012345678901234567890123456789012345678901234", &err),
        CARBS_EINVAL);
    CHECK_EQ(wire_keygen("", "w", &err), CARBS_EINVAL);
    CHECK_EQ(wire_keygen(tmp_path("no/such/parent"), "w", &err), CARBS_EIO);

    /* Two key pairs differ. */
    CHECK_EQ(wire_keygen(dir, "second", &err), 0);
    {
        char p2[WIRE_KEY_Z85_LEN + 1];
        char path2[300];
        fmt(path2, sizeof(path2), "%s/second.pub", dir);
        CHECK_EQ(wire_key_load_public(path2, p2, &err), 0);
        CHECK(strcmp(p2, pub) != 0);
    }
}

static void test_wire_key_loaders_reject_bad_files(void)
{
    carbs_err_t err = {0};
    wire_keypair_t kp, other;
    char pub[WIRE_KEY_Z85_LEN + 1];
    const char *dir = tmp_path("keys-b");
    const char *bad = tmp_path("keys-b/bad.key");
    const char *bad_pub = tmp_path("keys-b/bad.pub");
    char key_path[300], text[1024], full[1024];
    size_t n = 0;
    const char *orig;

    CHECK_EQ(wire_keygen(dir, "w", &err), 0);
    CHECK_EQ(wire_keygen(dir, "v", &err), 0);
    fmt(key_path, sizeof(key_path), "%s/w.key", dir);
    orig = read_file(key_path, &n);
    CHECK(orig != NULL);
    if (!orig) return;
    memcpy(full, orig, n + 1);

    /* Every truncation of the key file is refused, each with a reason. */
    for (size_t cut = 0; cut + 1 < n; cut++) {
        CHECK_EQ(fx_write_file(bad, full, cut), 0);
        err.msg[0] = '\0';
        if (wire_key_load_pair(bad, &kp, &err) != CARBS_EINVAL) {
            fprintf(stderr, "truncated at %zu accepted\n", cut);
            CHECK(false);
        }
        CHECK(strstr(err.msg, bad) != NULL);
        CHECK_EQ(kp.secret_z85[0], 0);
    }
    CHECK_EQ(fx_write_file(bad, full, n - 60), 0);
    CHECK_EQ(wire_key_load_pair(bad, &kp, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "is not a 40-character Z85 key") != NULL);

    CHECK_EQ(wire_key_load_pair(tmp_path("keys-b/missing.key"), &kp, &err), CARBS_EIO);
    CHECK(strstr(err.msg, "No such file") != NULL);

    /* A public key that does not belong to the secret key. */
    CHECK_EQ(wire_key_load_pair(key_path, &kp, &err), 0);
    fmt(key_path, sizeof(key_path), "%s/v.key", dir);
    CHECK_EQ(wire_key_load_pair(key_path, &other, &err), 0);
    fmt(text, sizeof(text), "public = %s\nsecret = %s\n", other.public_z85, kp.secret_z85);
    CHECK_EQ(fx_write_file(bad, text, strlen(text)), 0);
    CHECK_EQ(wire_key_load_pair(bad, &kp, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "does not match the secret key") != NULL);

    /* A .pub must not carry a secret; unknown fields and junk are refused. */
    CHECK_EQ(fx_write_file(bad_pub, text, strlen(text)), 0);
    CHECK_EQ(wire_key_load_public(bad_pub, pub, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "must not hold a secret key") != NULL);
    fmt(text, sizeof(text), "# comment\n\n  public = %s  \r\n", other.public_z85);
    CHECK_EQ(fx_write_file(bad_pub, text, strlen(text)), 0);
    CHECK_EQ(wire_key_load_public(bad_pub, pub, &err), 0);
    CHECK_STR(pub, other.public_z85);
    fmt(text, sizeof(text), "public = %s\ncolour = blue\n", other.public_z85);
    CHECK_EQ(fx_write_file(bad_pub, text, strlen(text)), 0);
    CHECK_EQ(wire_key_load_public(bad_pub, pub, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "line 2: unknown field 'colour'") != NULL);
    CHECK_EQ(fx_write_file(bad_pub, "public\n", 7), 0);
    CHECK_EQ(wire_key_load_public(bad_pub, pub, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "line 1: expected 'public = KEY'") != NULL);
    CHECK_EQ(fx_write_file(bad_pub, "public = a\0b", 12), 0);
    CHECK_EQ(wire_key_load_public(bad_pub, pub, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "binary data") != NULL);
    /* Z85 with a character outside the alphabet. */
    memcpy(text, "public = ", 9);
    memcpy(text + 9, other.public_z85, WIRE_KEY_Z85_LEN);
    text[9 + 17] = '~';
    CHECK_EQ(fx_write_file(bad_pub, text, 9 + WIRE_KEY_Z85_LEN), 0);
    CHECK_EQ(wire_key_load_public(bad_pub, pub, &err), CARBS_EINVAL);
    wire_keypair_wipe(&kp);
    wire_keypair_wipe(&other);
}

/* Run "$CARBS_BIN keygen ARGS" with stdout to out_file; returns the exit code. */
static int run_keygen(const char *args, const char *out_file)
{
    const char *bin = getenv("CARBS_BIN");
    char cmd[1024];
    int st;

    fmt(cmd, sizeof(cmd), "'%s' keygen %s >'%s' 2>/dev/null", bin, args, out_file);
    st = system(cmd);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_wire_cli_keygen(void)
{
    const char *out = tmp_path("keygen.out");
    char args[512], line[128], path[300];
    char pub[WIRE_KEY_Z85_LEN + 1];
    carbs_err_t err = {0};
    size_t n = 0;
    const char *text;

    if (!getenv("CARBS_BIN")) {
        fprintf(stderr, "CARBS_BIN not set: skipping the keygen command checks\n");
        return;
    }
    fmt(args, sizeof(args), "--dir '%s' --name w-cli.3", tmp_path("cli-keys"));
    CHECK_EQ(run_keygen(args, out), 0);
    fmt(path, sizeof(path), "%s/w-cli.3.pub", tmp_path("cli-keys"));
    CHECK_EQ(wire_key_load_public(path, pub, &err), 0);
    CHECK_EQ(file_mode(path), 0644);
    text = read_file(out, &n);
    CHECK(text != NULL);
    if (text) {
        fmt(line, sizeof(line), "public_key: %s\n", pub);
        CHECK(strstr(text, line) != NULL);
        CHECK(strstr(text, "secret_key_file: ") == text);
        CHECK(strstr(text, "/w-cli.3.key\npublic_key_file: ") != NULL);
    }
    fmt(path, sizeof(path), "%s/w-cli.3.key", tmp_path("cli-keys"));
    CHECK_EQ(file_mode(path), 0600);
    CHECK_EQ(run_keygen(args, out), 1); /* exists: a runtime failure */
    CHECK_EQ(run_keygen("--help", out), 0);
    text = read_file(out, &n);
    CHECK(text && strncmp(text, "usage: carbs keygen", 19) == 0);
    CHECK_EQ(run_keygen("--no-such-option", out), 2);
    CHECK_EQ(run_keygen("--name 'bad/name'", out), 2);
    CHECK_EQ(run_keygen("stray", out), 2);
}

// ---- CURVE and the allow-list ----

typedef struct curve_fixture {
    char keys[300];  /* every key pair */
    char allow[300]; /* the allow-list: w-allowed.pub only */
    char svc_key[300], svc_pub[300];
} curve_fixture_t;

static int curve_setup(curve_fixture_t *fx, const char *tag)
{
    carbs_err_t err = {0};
    char src[300], dst[300];
    size_t n = 0;
    const char *text;

    fmt(fx->keys, sizeof(fx->keys), "%s", tmp_path(tag));
    fmt(fx->allow, sizeof(fx->allow), "%s/allow", fx->keys);
    fmt(fx->svc_key, sizeof(fx->svc_key), "%s/service.key", fx->keys);
    fmt(fx->svc_pub, sizeof(fx->svc_pub), "%s/service.pub", fx->keys);
    if (wire_keygen(fx->keys, "service", &err) || wire_keygen(fx->keys, "w-allowed", &err) ||
        wire_keygen(fx->keys, "w-stranger", &err) || mkdir(fx->allow, 0700) != 0) {
        fprintf(stderr, "curve setup: %s\n", err.msg);
        return -1;
    }
    fmt(src, sizeof(src), "%s/w-allowed.pub", fx->keys);
    fmt(dst, sizeof(dst), "%s/w-allowed.pub", fx->allow);
    text = read_file(src, &n);
    if (!text || fx_write_file(dst, text, n) != 0) return -1;
    /* Files the allow-list must skip. */
    fmt(dst, sizeof(dst), "%s/README", fx->allow);
    return fx_write_file(dst, "not a key\n", 10);
}

/* curve_setup, then a CURVE server on endpoint with fx's key and
 * allow-list; NULL (a failed check) when either fails. */
static wire_server_t *curve_server(curve_fixture_t *fx, const char *tag, const char *endpoint)
{
    carbs_err_t err = {0};
    wire_server_config_t scfg = {.endpoint = endpoint};
    wire_server_t *srv;

    if (curve_setup(fx, tag) < 0) {
        CHECK(false);
        return NULL;
    }
    scfg.key = fx->svc_key;
    scfg.allow = fx->allow;
    srv = wire_server_open(&scfg, &err);
    CHECK(srv != NULL);
    if (!srv) fprintf(stderr, "%s\n", err.msg);
    return srv;
}

static wire_client_t *curve_client(const curve_fixture_t *fx, const wire_server_t *srv,
                                   const char *name, const char *identity)
{
    carbs_err_t err = {0};
    char key[300];
    wire_client_config_t cfg = {
        .endpoint = wire_server_endpoint(srv), .identity = identity, .reconnect_ms = 50};
    wire_client_t *cli;

    if (name) {
        fmt(key, sizeof(key), "%s/%s.key", fx->keys, name);
        cfg.key = key;
        cfg.server_key = fx->svc_pub;
    }
    cli = wire_client_open(&cfg, &err);
    if (!cli) fprintf(stderr, "curve client %s: %s\n", name ? name : "(plain)", err.msg);
    return cli;
}

/* A listener that resets every connection at once, the way a CURVE service
 * may answer a plain client: after a few such handshakes in a row the client
 * says why instead of waiting forever; one reset alone is only a drop. */
static void test_wire_plain_client_reset_in_a_row(void)
{
    carbs_err_t err = {0};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sa_len = sizeof(sa);
    char endpoint[64];
    wire_client_config_t ccfg = {.endpoint = endpoint, .reconnect_ms = 20};
    wire_client_t *cli = NULL;
    char *buf = NULL;
    size_t len = 0;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), resets = 0, rc = CARBS_ETIMEDOUT;
    double end;

    CHECK(lfd >= 0);
    if (lfd < 0) return;
    CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CHECK_EQ(listen(lfd, 8), 0);
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&sa, &sa_len), 0);
    snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    cli = wire_client_open(&ccfg, &err);
    CHECK(cli != NULL);
    if (!cli) goto out;
    CHECK_EQ(wire_client_send(cli, "hi", 2, &err), 0);

    end = now_monotonic() + 10.0;
    while (now_monotonic() < end) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};

        if (poll(&p, 1, 20) == 1) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            int fd = accept(lfd, NULL, NULL);

            if (fd >= 0) {
                /* Wait for the client's greeting, then reset (linger 0). */
                struct pollfd q = {.fd = fd, .events = POLLIN};
                poll(&q, 1, 1000);
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(fd);
                resets++;
            }
        }
        rc = wire_client_recv(cli, &buf, &len, 0, &err);
        if (rc != CARBS_ETIMEDOUT) break;
        /* One reset is a drop, never a refusal. */
        if (resets == 1) CHECK(!wire_client_connected(cli));
    }
    CHECK_EQ(rc, CARBS_EDENIED);
    CHECK(strstr(err.msg, "do both ends use curve") != NULL);
    CHECK(resets >= 3);
    CHECK(buf == NULL);
out:
    wire_client_close(cli);
    close(lfd);
}

static void test_wire_curve_allow_list(void)
{
    curve_fixture_t fx;
    carbs_err_t err = {0};
    wire_server_t *srv = NULL;
    wire_client_t *good = NULL, *stranger = NULL, *plain = NULL;
    wire_peer_t peer;
    char *buf = NULL;
    size_t len = 0;
    int srv_frames = 0;
    static const char hello[] = "{\"v\":1,\"type\":\"hello\",\"worker\":\"w-allowed\"}";

    srv = curve_server(&fx, "curve-a", "tcp://127.0.0.1:*");
    if (!srv) return;
    CHECK_EQ(wire_server_n_allowed(srv), 1);

    /* An allowed key gets through, the server sees its name, the reply arrives. */
    good = curve_client(&fx, srv, "w-allowed", "node-1");
    CHECK(good != NULL);
    if (!good) goto out;
    CHECK_EQ(wire_client_send(good, hello, sizeof(hello) - 1, &err), 0);
    CHECK_EQ(srv_get(srv, &peer, &buf, &len, 5000), 0);
    CHECK_EQ(len, sizeof(hello) - 1);
    CHECK(buf && memcmp(buf, hello, len) == 0);
    CHECK_STR(peer.user, "w-allowed");
    /* ... and the public key it authenticated with (the ZAP reply's
     * metadata), which a service binds worker ids to. */
    {
        char pub[WIRE_KEY_Z85_LEN + 1] = "", path[320];
        fmt(path, sizeof(path), "%s/w-allowed.pub", fx.allow);
        CHECK_EQ(wire_key_load_public(path, pub, &err), 0);
        CHECK_EQ(strlen(peer.key), WIRE_KEY_Z85_LEN);
        CHECK_STR(peer.key, pub);
    }
    CHECK_EQ(peer.id_len, 6);
    free(buf);
    buf = NULL;
    CHECK_EQ(wire_server_send(srv, &peer, "welcome\0!", 9, &err), 0);
    CHECK_EQ(wire_client_recv(good, &buf, &len, 5000, &err), 0);
    CHECK_EQ(len, 9);
    CHECK(buf && memcmp(buf, "welcome\0!", 9) == 0);
    CHECK(wire_client_connected(good));
    free(buf);
    buf = NULL;

    /* A key outside the allow-list: its send "succeeds", nothing arrives
     * either way within the bound, and the client learns why. */
    stranger = curve_client(&fx, srv, "w-stranger", "node-2");
    CHECK(stranger != NULL);
    if (!stranger) goto out;
    CHECK_EQ(wire_client_send(stranger, hello, sizeof(hello) - 1, &err), 0);
    CHECK_EQ(cli_get_pumping(stranger, srv, &buf, &len, 5000, &srv_frames, &err), CARBS_EDENIED);
    CHECK(strstr(err.msg, "refused this client's key (status 400)") != NULL);
    CHECK_EQ(srv_frames, 0);
    CHECK(!wire_client_connected(stranger));

    /* A plain client to a CURVE server gets nothing either. */
    plain = curve_client(&fx, srv, NULL, "node-3");
    CHECK(plain != NULL);
    if (!plain) goto out;
    CHECK_EQ(wire_client_send(plain, hello, sizeof(hello) - 1, &err), 0);
    CHECK_EQ(cli_get_pumping(plain, srv, &buf, &len, 5000, &srv_frames, &err), CARBS_EDENIED);
    CHECK(strstr(err.msg, "do both ends use curve") != NULL);
    CHECK(buf == NULL);
    CHECK_EQ(srv_frames, 0);

    /* The allowed client is still served after all that. */
    CHECK_EQ(wire_client_send(good, "again", 5, &err), 0);
    CHECK_EQ(srv_get(srv, &peer, &buf, &len, 5000), 0);
    CHECK(buf && len == 5 && memcmp(buf, "again", 5) == 0);
    CHECK_STR(peer.user, "w-allowed");
    free(buf);
out:
    wire_client_close(good);
    wire_client_close(stranger);
    wire_client_close(plain);
    wire_server_close(srv);
}

/* Keys bound to a non-local address are fine; a reloaded allow-list admits
 * a new worker; a client holding the wrong service key gets nothing. */
static void test_wire_curve_reload_and_wrong_server_key(void)
{
    curve_fixture_t fx;
    carbs_err_t err = {0};
    wire_server_config_t scfg = {.endpoint = "tcp://127.0.0.1:*"};
    wire_server_t *srv = NULL, *local = NULL;
    wire_client_t *cli = NULL, *wrong = NULL;
    wire_peer_t peer;
    char *buf = NULL, ep[300], src[300], dst[300];
    size_t len = 0;
    int srv_frames = 0;
    const char *text;

    srv = curve_server(&fx, "curve-b", "tcp://0.0.0.0:*");
    if (!srv) return;
    scfg.key = fx.svc_key;
    scfg.allow = fx.allow;
    local = wire_server_open(&scfg, &err);
    CHECK(local != NULL);
    if (!local) goto out;
    wire_server_close(srv);
    srv = local;

    fmt(src, sizeof(src), "%s/w-stranger.pub", fx.keys);
    fmt(dst, sizeof(dst), "%s/w-stranger.pub", fx.allow);
    text = read_file(src, &len);
    CHECK(text && fx_write_file(dst, text, len) == 0);
    CHECK_EQ(wire_server_reload_allow(srv, &err), 0);
    CHECK_EQ(wire_server_n_allowed(srv), 2);
    cli = curve_client(&fx, srv, "w-stranger", NULL);
    CHECK(cli != NULL);
    if (!cli) goto out;
    CHECK_EQ(wire_client_send(cli, "hi", 2, &err), 0);
    CHECK_EQ(srv_get(srv, &peer, &buf, &len, 5000), 0);
    CHECK_STR(peer.user, "w-stranger");
    free(buf);
    buf = NULL;

    /* A malformed file in the allow-list fails the reload; the old list stays. */
    fmt(dst, sizeof(dst), "%s/broken.pub", fx.allow);
    CHECK_EQ(fx_write_file(dst, "public = short\n", 15), 0);
    CHECK_EQ(wire_server_reload_allow(srv, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "broken.pub") != NULL);
    CHECK_EQ(wire_server_n_allowed(srv), 2);
    CHECK_EQ(remove(dst), 0);
    /* So does a good key under a name that cannot be a user id. */
    fmt(src, sizeof(src), "%s/w-stranger.pub", fx.keys);
    fmt(dst, sizeof(dst), "%s/two words.pub", fx.allow);
    text = read_file(src, &len);
    CHECK(text && fx_write_file(dst, text, len) == 0);
    CHECK_EQ(wire_server_reload_allow(srv, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "'two words.pub' is not a key name") != NULL);
    CHECK_EQ(wire_server_n_allowed(srv), 2);

    /* The right client key, but another key as the service's public key. */
    {
        char key[300], wrong_pub[300];
        wire_client_config_t cfg = {.endpoint = wire_server_endpoint(srv)};
        fmt(key, sizeof(key), "%s/w-allowed.key", fx.keys);
        fmt(wrong_pub, sizeof(wrong_pub), "%s/w-stranger.pub", fx.keys);
        cfg.key = key;
        cfg.server_key = wrong_pub;
        wrong = wire_client_open(&cfg, &err);
    }
    CHECK(wrong != NULL);
    if (!wrong) goto out;
    CHECK_EQ(wire_client_send(wrong, "hi", 2, &err), 0);
    CHECK_EQ(cli_get_pumping(wrong, srv, &buf, &len, 5000, &srv_frames, &err), CARBS_EDENIED);
    CHECK(buf == NULL);
    CHECK_EQ(srv_frames, 0);

    /* A server with a missing key pair file or allow-list does not open. */
    fmt(ep, sizeof(ep), "%s/nope.key", fx.keys);
    scfg.key = ep;
    CHECK(wire_server_open(&scfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    scfg.key = fx.svc_key;
    scfg.allow = tmp_path("curve-b/no-allow");
    CHECK(wire_server_open(&scfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    CHECK(strstr(err.msg, "cannot open allow-list directory") != NULL);
out:
    wire_client_close(cli);
    wire_client_close(wrong);
    wire_server_close(srv);
}

int main(void)
{
    if (FX_SETUP("wire"))
        return 1;
    RUN(test_wire_endpoint_parse_good);
    RUN(test_wire_endpoint_parse_bad);
    RUN(test_wire_endpoint_too_long);
    RUN(test_wire_endpoint_local_rule);
    RUN(test_wire_peer_format_and_equal);
    RUN(test_wire_open_config_errors);
    RUN(test_wire_server_refuses_open_bind);
    RUN(test_wire_round_trip_ipc);
    RUN(test_wire_round_trip_tcp);
    RUN(test_wire_wait_then_recv);
    RUN(test_wire_oversized_frame_dropped);
    RUN(test_wire_keygen_files_and_modes);
    RUN(test_wire_key_loaders_reject_bad_files);
    RUN(test_wire_cli_keygen);
    RUN(test_wire_plain_client_reset_in_a_row);
    RUN(test_wire_curve_allow_list);
    RUN(test_wire_curve_reload_and_wrong_server_key);
    return FX_FINISH();
}
