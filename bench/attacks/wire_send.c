/*
 * wire_send.c - send raw JSON frames to a carbs service and print what comes
 * back: the attack scripts' client (bench/attacks/run.sh, docs/security.md).
 *
 *     wire_send --endpoint EP [--key F.key --server-key S.pub] [--id ID]
 *               [--repeat N] [--fresh] [--window W] [--wait MS] [--hold MS]
 *               [--quiet] FRAME...
 *
 * Each repeat sends every FRAME (JSON text; "{i}" stands for the repeat's
 * index) and reads one answer per frame, W frames in flight at most.  With
 * --fresh each repeat is its own connection (its routing id is ID with
 * "{i}" replaced); else one connection sends everything.  Answers go to
 * stdout, one per line (with --quiet only counted), and a summary line
 * "sent N answers M silent K types {...}" goes to stderr.  --hold keeps
 * reading for MS more at the end (an id stays live meanwhile).  The frames
 * need not be valid: that is the point.
 */
#include "proto/common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/wire.h"

#define WS_TYPES_MAX 16
#define WS_TEXT_MAX (1u << 20)

typedef struct ws {
    wire_client_config_t cc;
    const char *id;
    long repeat, window;
    int wait_ms, hold_ms;
    bool fresh, quiet;
    long sent, answers, silent;
    char types[WS_TYPES_MAX][32];
    long type_n[WS_TYPES_MAX];
    char id_buf[WIRE_PEER_ID_MAX * 2 + 1]; /* the routing id of the connection being opened */
} ws_t;

/* s with every "{i}" replaced by i, into out[cap]; false when too long. */
static bool subst(const char *s, long i, char *out, size_t cap)
{
    size_t k = 0;

    while (*s) {
        if (strncmp(s, "{i}", 3) == 0) {
            int n = snprintf(out + k, cap - k, "%ld", i);
            if (n < 0 || (size_t)n >= cap - k)
                return false;
            k += (size_t)n;
            s += 3;
            continue;
        }
        if (k + 1 >= cap)
            return false;
        out[k++] = *s++;
    }
    out[k] = '\0';
    return true;
}

/* Count the answer's "type" and print it unless quiet. */
static void take(ws_t *ws, const char *buf)
{
    const char *t = strstr(buf, "\"type\":\"");
    char name[32] = "?";
    int slot = -1;

    ws->answers++;
    if (!ws->quiet) {
        printf("%s\n", buf);
        fflush(stdout); /* a script reads it while we hold the connection */
    }
    if (t) {
        size_t n = strcspn(t + 8, "\"");
        snprintf(name, sizeof(name), "%.*s", (int)(n < 31 ? n : 31), t + 8);
    }
    for (int j = 0; j < WS_TYPES_MAX && slot < 0; j++)
        if (!ws->types[j][0] || strcmp(ws->types[j], name) == 0)
            slot = j;
    if (slot >= 0) {
        str_copy(ws->types[slot], sizeof(ws->types[slot]), name);
        ws->type_n[slot]++;
    }
}

/* Read answers until at most keep frames are in flight, waiting wait_ms for
 * each; one that does not come is counted silent. */
static int drain(ws_t *ws, wire_client_t *c, long *in_flight, long keep, int wait_ms)
{
    while (*in_flight > keep) {
        carbs_err_t err = {0};
        char *buf = NULL;
        size_t len = 0;
        int rc = wire_client_recv(c, &buf, &len, wait_ms, &err);
        if (rc == CARBS_ETIMEDOUT) {
            ws->silent += *in_flight - keep;
            *in_flight = keep;
            return 0;
        }
        if (rc) {
            fprintf(stderr, "wire_send: %s\n", err.msg);
            return rc;
        }
        take(ws, buf);
        free(buf);
        (*in_flight)--;
    }
    return 0;
}

static wire_client_t *connect_one(ws_t *ws, long i)
{
    carbs_err_t err = {0};
    wire_client_t *c;

    ws->cc.identity = NULL;
    if (ws->id) {
        if (!subst(ws->id, i, ws->id_buf, sizeof(ws->id_buf))) {
            fprintf(stderr, "wire_send: --id '%s' is too long\n", ws->id);
            return NULL;
        }
        ws->cc.identity = ws->id_buf;
    }
    c = wire_client_open(&ws->cc, &err);
    if (!c)
        fprintf(stderr, "wire_send: %s\n", err.msg);
    return c;
}

static int run(ws_t *ws, char **frames, int n_frames)
{
    char *text = xmalloc(WS_TEXT_MAX);
    wire_client_t *c = NULL;
    long in_flight = 0;
    int rc = 0;

    for (long i = 0; i < ws->repeat && rc == 0; i++) {
        if (!c && !(c = connect_one(ws, i))) {
            rc = 1;
            break;
        }
        for (int f = 0; f < n_frames && rc == 0; f++) {
            carbs_err_t err = {0};
            if (!subst(frames[f], i, text, WS_TEXT_MAX)) {
                fprintf(stderr, "wire_send: frame %d is over %u bytes\n", f + 1, WS_TEXT_MAX);
                rc = 1;
                break;
            }
            if ((rc = wire_client_send(c, text, strlen(text), &err))) {
                fprintf(stderr, "wire_send: %s\n", err.msg);
                break;
            }
            ws->sent++;
            in_flight++;
            rc = drain(ws, c, &in_flight, ws->window - 1, ws->wait_ms);
        }
        if (ws->fresh && rc == 0) {
            rc = drain(ws, c, &in_flight, 0, ws->wait_ms);
            wire_client_close(c);
            c = NULL;
        }
    }
    if (c && rc == 0)
        rc = drain(ws, c, &in_flight, 0, ws->wait_ms);
    if (c && rc == 0 && ws->hold_ms > 0) {
        long none = 1;
        drain(ws, c, &none, 0, ws->hold_ms); /* anything more that comes */
        if (none == 0)
            ws->silent--; /* a hold is not an unanswered frame */
    }
    wire_client_close(c);
    free(text);
    fprintf(stderr, "sent %ld answers %ld silent %ld types {", ws->sent, ws->answers, ws->silent);
    for (int j = 0; j < WS_TYPES_MAX && ws->types[j][0]; j++)
        fprintf(stderr, "%s%s: %ld", j ? ", " : "", ws->types[j], ws->type_n[j]);
    fprintf(stderr, "}\n");
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'}, {"key", required_argument, NULL, 'k'},
        {"server-key", required_argument, NULL, 's'}, {"id", required_argument, NULL, 'i'},
        {"repeat", required_argument, NULL, 'r'},   {"window", required_argument, NULL, 'w'},
        {"wait", required_argument, NULL, 't'},     {"hold", required_argument, NULL, 'o'},
        {"fresh", no_argument, NULL, 'f'},          {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    ws_t ws = {.repeat = 1, .window = 1, .wait_ms = 2000};
    long v;
    int c;

    ws.cc.reconnect_ms = 50;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            ws.cc.endpoint = optarg;
            break;
        case 'k':
            ws.cc.key = optarg;
            break;
        case 's':
            ws.cc.server_key = optarg;
            break;
        case 'i':
            ws.id = optarg;
            break;
        case 'f':
            ws.fresh = true;
            break;
        case 'q':
            ws.quiet = true;
            break;
        case 'r':
        case 'w':
        case 't':
        case 'o':
            if (parse_long(optarg, 0, 100000000L, &v) < 0) {
                fprintf(stderr, "wire_send: '%s' is not a count\n", optarg);
                return 2;
            }
            if (c == 'r')
                ws.repeat = v;
            else if (c == 'w')
                ws.window = v > 0 ? v : 1;
            else if (c == 't')
                ws.wait_ms = (int)v;
            else
                ws.hold_ms = (int)v;
            break;
        default:
            return 2;
        }
    }
    if (!ws.cc.endpoint || optind >= argc) {
        fprintf(stderr, "usage: wire_send --endpoint EP [--key F.key --server-key S.pub] [--id ID]"
                        " [--repeat N] [--fresh] [--window W] [--wait MS] [--hold MS] [--quiet]"
                        " FRAME...\n");
        return 2;
    }
    return run(&ws, argv + optind, argc - optind);
}
