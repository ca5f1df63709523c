/*
 * cmd_dashboard.c - `carbs dashboard [--db PATH] [--bind ADDR:PORT]`: a
 * read-only web page over the store, live while a service runs and after
 * it stopped (docs/dashboard.md).
 *
 * An HTTP server (libmicrohttpd, one internal thread, so the read-only
 * store_t is used from one thread only) serves the page's own files,
 * embedded at build time, uPlot's two files from --assets when they are
 * there, and a small JSON API (tools/cmd_dashboard.h) that the page polls.
 * The scaling laws behind "at cost" are fitted by an actor with its own
 * connection (cmd_dashboard_fit.c), so a long fit never stalls the polls.
 *
 * Safe by default: it binds 127.0.0.1, checks that the Host header names a
 * loopback address (a page on another site cannot reach it through DNS
 * rebinding), and needs a token on every request when bound to any other
 * address (or with --require-token): 128 random bits printed at start,
 * given as ?token= or the X-Carbs-Token header and compared in constant
 * time.  Only GET and HEAD exist; nothing can change the store, which is
 * opened read-only (docs/store.md, the writer rule).  A bad request gets a
 * 4xx with {"error": reason}.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <sys/random.h>

#include "tools/cmd_dashboard.h"
#include "tools/verb.h"

#include "carbs_config.h"

static const char usage_text[] = "carbs dashboard [--db PATH] [--bind ADDR:PORT] [--assets DIR] "
                                 "[--require-token]";

#define DEFAULT_BIND "127.0.0.1:8600"
#define TOKEN_BYTES 16 /* 128 bits: beyond guessing over a network */
#define TOKEN_HEADER "X-Carbs-Token"
/* uPlot's files inside --assets, and where the page asks for them. */
#define UPLOT_JS "uPlot.iife.min.js"
#define UPLOT_CSS "uPlot.min.css"

/* The page may load its own files only, talk to this server only, and be
 * framed by nobody; uPlot sets styles through the CSSOM, which style-src
 * does not restrict. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'; form-action 'none'";

typedef struct asset {
    char *data; /* owned; NULL when missing */
    size_t size;
} asset_t;

typedef struct dash {
    store_t *st;
    const char *db;
    char token[2 * TOKEN_BYTES + 1]; /* "" = none needed */
    bool loopback;
    unsigned port;
    char *index; /* index.html with its placeholders filled; owned */
    size_t index_len;
    asset_t uplot_js, uplot_css;
    dash_cache_t cache; /* what each sweep's results gave, while they stand */
    dash_fitter_t *fitter; /* fits the laws for "at cost" */
} dash_t;

// ---- replies ----

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *r, const char *type, bool cache)
{
    enum MHD_Result ok;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache ? "max-age=3600" : "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* {"error": why} with status. */
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char why[CARBS_MSG_MAX];
    jw_t jw;
    char *text;
    size_t len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    /* A URL may hold any bytes; JSON carries UTF-8 only. */
    if (!utf8_valid(why, strlen(why)))
        for (char *q = why; *q; q++)
            if ((unsigned char)*q >= 0x80)
                *q = '?';
    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_str(&jw, "error", why);
    jw_end(&jw);
    text = jw_detach(&jw, &len);
    if (!text)
        return MHD_NO;
    return queue(c, status, MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE),
                 "application/json", false);
}

static enum MHD_Result reply_static(struct MHD_Connection *c, const void *data, size_t size,
                                    const char *type, bool cache)
{
    return queue(c, MHD_HTTP_OK,
                 MHD_create_response_from_buffer(size, (void *)(uintptr_t)data,
                                                 MHD_RESPMEM_PERSISTENT),
                 type, cache);
}

/* 202 {"fitting": true, "why": why}: the answer is on its way, ask again. */
static enum MHD_Result reply_fitting(struct MHD_Connection *c, const char *why)
{
    jw_t jw;
    char *text;
    size_t len;

    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_bool(&jw, "fitting", true);
    jw_str(&jw, "why", why);
    jw_end(&jw);
    text = jw_detach(&jw, &len);
    if (!text)
        return MHD_NO;
    return queue(c, MHD_HTTP_ACCEPTED,
                 MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE),
                 "application/json", false);
}

/* The document jw holds, or the error rc as a 4xx or 5xx. */
static enum MHD_Result reply_doc(struct MHD_Connection *c, jw_t *jw, int rc,
                                 const carbs_err_t *err)
{
    char *text;
    size_t len;

    if (rc == 0 && jw->sb.err)
        rc = jw->sb.err;
    if (rc) {
        unsigned status = rc == CARBS_ENOTFOUND ? MHD_HTTP_NOT_FOUND
                          : rc == CARBS_EINVAL  ? MHD_HTTP_BAD_REQUEST
                          : rc == CARBS_ESTATE  ? MHD_HTTP_CONFLICT
                          : rc == CARBS_EBUSY   ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                : MHD_HTTP_INTERNAL_SERVER_ERROR;
        jw_release(jw);
        return reply_error(c, status, "%s", err->msg[0] ? err->msg : carbs_strerror(rc));
    }
    text = jw_detach(jw, &len);
    if (!text)
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return queue(c, MHD_HTTP_OK, MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE),
                 "application/json", false);
}

// ---- who may ask ----

/* Whether given equals want, in a time that depends on want's length only. */
static bool token_equal(const char *given, const char *want)
{
    size_t n_given = strlen(given), n_want = strlen(want);
    unsigned char diff = n_given != n_want;

    for (size_t i = 0; i < n_want; i++)
        diff |= (unsigned char)(want[i] ^ (i < n_given ? given[i] : 0));
    return diff == 0;
}

/* Whether host (a Host header) names this server by a loopback name. */
static bool host_is_loopback(const char *host, unsigned port)
{
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
    char want[64];

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        snprintf(want, sizeof(want), "%s:%u", names[i], port);
        if (strcasecmp(host, want) == 0 || (port == 80 && strcasecmp(host, names[i]) == 0))
            return true;
    }
    return false;
}

/* 0 when the request may go on, else the status to refuse it with. */
static unsigned check_access(const dash_t *d, struct MHD_Connection *c)
{
    if (d->token[0]) {
        const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, TOKEN_HEADER);
        if (!t)
            t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        return t && token_equal(t, d->token) ? 0 : MHD_HTTP_UNAUTHORIZED;
    }
    if (d->loopback) {
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        if (host && !host_is_loopback(host, d->port))
            return MHD_HTTP_FORBIDDEN;
    }
    return 0;
}

// ---- routes ----

/* The sweep id at the start of *path ("12" or "12/curves"): digits only,
 * > 0.  Advances *path past it.  False for anything else. */
static bool take_id(const char **path, int64_t *id)
{
    const char *p = *path;
    int64_t v = 0;

    if (*p < '1' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *path = p;
    *id = v;
    return true;
}

/* The sort keys of ?sort= (a parameter is "p:NAME"). */
static const struct {
    const char *name;
    store_sort_t sort;
} sort_keys[] = {
    {"id", STORE_SORT_ID},           {"state", STORE_SORT_STATE},
    {"worker", STORE_SORT_WORKER},   {"output", STORE_SORT_OUTPUT},
    {"cost", STORE_SORT_COST},       {"attempt", STORE_SORT_ATTEMPT},
    {"duration", STORE_SORT_DURATION}, {"message", STORE_SORT_MESSAGE},
};

/* A page of trials: ?state=S&sort=KEY&dir=asc|desc&offset=N&limit=N, all
 * optional (docs/dashboard.md). */
static enum MHD_Result api_trials(struct MHD_Connection *c, store_t *st, int64_t id)
{
    const char *state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    const char *sort = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sort");
    const char *dir = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dir");
    const char *offset = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "offset");
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    store_page_query_t q = {.sweep_id = id, .limit = DASH_PAGE_DEFAULT};
    carbs_err_t err = {0};
    long v;
    jw_t jw;
    int rc;

    if (state && state[0]) {
        int k = carbs_trial_state_parse(state);
        if (k < 0)
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "state '%s' is not a trial state", state);
        q.states = 1u << k;
    }
    if (sort && strncmp(sort, "p:", 2) == 0) {
        q.sort = STORE_SORT_PARAM;
        q.param = sort + 2;
    } else if (sort) {
        size_t i = 0;
        while (i < ARRAY_SIZE(sort_keys) && strcmp(sort_keys[i].name, sort) != 0)
            i++;
        if (i == ARRAY_SIZE(sort_keys))
            return reply_error(c, MHD_HTTP_BAD_REQUEST,
                               "sort '%s' is not a column (id, state, worker, output, cost, "
                               "attempt, duration, message or p:PARAM)",
                               sort);
        q.sort = sort_keys[i].sort;
    }
    if (dir && strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0)
        return reply_error(c, MHD_HTTP_BAD_REQUEST, "dir '%s' is not asc or desc", dir);
    q.descending = dir && strcmp(dir, "desc") == 0;
    if (offset) {
        if (parse_long(offset, 0, LONG_MAX, &v))
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "offset '%s' is not a count", offset);
        q.offset = (size_t)v;
    }
    if (limit) {
        if (parse_long(limit, 1, DASH_PAGE_MAX, &v))
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "limit '%s' is not a count from 1 to %d",
                               limit, DASH_PAGE_MAX);
        q.limit = (size_t)v;
    }
    jw_init(&jw);
    rc = dash_trials(st, &q, &jw, &err);
    if (rc == CARBS_ENOTFOUND)
        carbs_fail(&err, rc, "no sweep %" PRId64, id);
    return reply_doc(c, &jw, rc, &err);
}

static enum MHD_Result api(dash_t *d, struct MHD_Connection *c, const char *path)
{
    carbs_err_t err = {0};
    int64_t id;
    jw_t jw;
    int rc;

    jw_init(&jw);
    if (strcmp(path, "sweeps") == 0) {
        long pid = 0;
        rc = store_writer_holder(d->db, &pid, &err);
        if (rc == 0)
            rc = dash_overview(d->st, &d->cache, pid, &jw, &err);
        return reply_doc(c, &jw, rc, &err);
    }
    if (strncmp(path, "sweeps/", 7) != 0)
        return reply_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint '/api/%s'", path);
    path += 7;
    if (!take_id(&path, &id))
        return reply_error(c, MHD_HTTP_NOT_FOUND, "'%s' is not a sweep id", path);
    if (*path == 0) {
        rc = dash_sweep(d->st, &d->cache, id, &jw, &err);
    } else if (strcmp(path, "/trials") == 0) {
        return api_trials(c, d->st, id);
    } else if (strncmp(path, "/trials/", 8) == 0) {
        int64_t tid;
        const char *rest = path + 8;
        if (!take_id(&rest, &tid) || *rest)
            return reply_error(c, MHD_HTTP_NOT_FOUND, "'%s' is not a trial id", path + 8);
        /* dash_trial says which of the two is missing */
        return reply_doc(c, &jw, dash_trial(d->st, id, tid, &jw, &err), &err);
    } else if (strcmp(path, "/curves") == 0) {
        const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "latest");
        long latest = 0;
        if (arg && parse_long(arg, 1, 1000000000L, &latest))
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "latest '%s' is not a count", arg);
        rc = dash_curves(d->st, id, (size_t)latest, &jw, &err);
    } else if (strcmp(path, "/at-cost") == 0) {
        const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cost");
        double cost;
        if (!arg)
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "missing ?cost=");
        if (parse_double(arg, 1e-300, 1e300, &cost))
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "cost '%s' is not a positive number",
                               arg);
        rc = dash_at_cost(d->st, &d->cache, d->fitter, id, cost, &jw, &err);
        if (rc == CARBS_CONTINUE)
            return reply_fitting(c, err.msg);
    } else {
        return reply_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint '%s' of a sweep", path);
    }
    if (rc == CARBS_ENOTFOUND)
        carbs_fail(&err, rc, "no sweep %" PRId64, id);
    return reply_doc(c, &jw, rc, &err);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    dash_t *d = cls;
    const dash_file_t *f;
    unsigned refuse;

    UNUSED(version);
    UNUSED(upload_data);
    UNUSED(upload_data_size);
    UNUSED(con_cls);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "method %s not allowed: the dashboard is read-only (GET, HEAD)",
                           method);
    refuse = check_access(d, c);
    if (refuse == MHD_HTTP_UNAUTHORIZED)
        return reply_error(c, refuse, "a token is required: ?token= or the %s header",
                           TOKEN_HEADER);
    if (refuse)
        return reply_error(c, refuse, "the Host header must name a loopback address");
    if (strncmp(url, "/api/", 5) == 0)
        return api(d, c, url + 5);
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply_static(c, d->index, d->index_len, "text/html; charset=utf-8", false);
    if (strcmp(url, "/assets/" UPLOT_JS) == 0 && d->uplot_js.data)
        return reply_static(c, d->uplot_js.data, d->uplot_js.size,
                            "text/javascript; charset=utf-8", true);
    if (strcmp(url, "/assets/" UPLOT_CSS) == 0 && d->uplot_css.data)
        return reply_static(c, d->uplot_css.data, d->uplot_css.size, "text/css; charset=utf-8",
                            true);
    f = url[0] == '/' && strcmp(url + 1, "index.html") != 0 ? dash_file_find(url + 1) : NULL;
    if (f)
        return reply_static(c, f->data, f->size, f->type, false);
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such page '%s'", url);
}

// ---- setting up ----

static int read_asset(const char *dir, const char *name, asset_t *a)
{
    char path[4096];
    FILE *fp;
    long n = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "rb");
    if (!fp)
        return CARBS_ENOTFOUND;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0) {
        a->data = xmalloc((size_t)n);
        a->size = fread(a->data, 1, (size_t)n, fp);
    }
    fclose(fp);
    if (a->data && a->size == (size_t)n)
        return 0;
    free(a->data);
    a->data = NULL;
    return CARBS_EIO;
}

/* index.html with "@Q@" replaced by the token query (or nothing) and
 * "@UPLOT@" by uPlot's tags when its files are there. */
static int build_index(dash_t *d)
{
    const dash_file_t *f = dash_file_find("index.html");
    strbuf_t sb = STRBUF_INIT;
    char q[64] = "";
    char tags[512] = "";
    const char *p, *end;

    assert(f);
    if (d->token[0])
        snprintf(q, sizeof(q), "?token=%s", d->token);
    if (d->uplot_js.data && d->uplot_css.data)
        snprintf(tags, sizeof(tags),
                 "<link rel=\"stylesheet\" href=\"assets/" UPLOT_CSS "%s\">\n"
                 "<script src=\"assets/" UPLOT_JS "%s\"></script>",
                 q, q);
    p = (const char *)f->data;
    end = p + f->size;
    while (p < end) {
        const char *at = memchr(p, '@', (size_t)(end - p));
        if (!at) {
            strbuf_add(&sb, p, (size_t)(end - p));
            break;
        }
        strbuf_add(&sb, p, (size_t)(at - p));
        if ((size_t)(end - at) >= 3 && memcmp(at, "@Q@", 3) == 0) {
            strbuf_adds(&sb, q);
            p = at + 3;
        } else if ((size_t)(end - at) >= 7 && memcmp(at, "@UPLOT@", 7) == 0) {
            strbuf_adds(&sb, tags);
            p = at + 7;
        } else {
            strbuf_addch(&sb, '@');
            p = at + 1;
        }
    }
    d->index = strbuf_detach(&sb, &d->index_len);
    return d->index ? 0 : CARBS_ENOMEM;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" (numeric addresses) into *res (caller
 * frees with freeaddrinfo). */
static int parse_bind(const char *bind, struct addrinfo **res, carbs_err_t *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    char host[256];
    const char *colon = strrchr(bind, ':');
    size_t n;
    long port;
    int gai;

    if (!colon || parse_long(colon + 1, 0, 65535, &port))
        return carbs_fail(err, CARBS_EINVAL, "--bind '%s': expected ADDR:PORT", bind);
    n = (size_t)(colon - bind);
    if (n >= 2 && bind[0] == '[' && bind[n - 1] == ']') {
        bind++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(host))
        return carbs_fail(err, CARBS_EINVAL, "--bind '%s': expected ADDR:PORT", bind);
    memcpy(host, bind, n);
    host[n] = 0;
    gai = getaddrinfo(host, colon + 1, &hints, res);
    if (gai)
        return carbs_fail(err, CARBS_EINVAL, "--bind '%s': %s (a numeric address is needed)",
                          host, gai_strerror(gai));
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    UNUSED(cls);
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = 0;
    log_warn("dashboard: %s", line);
}

static int help(void)
{
    printf("usage: %s\n\n"
           "Serve a live, read-only web page over the store: every sweep's progress, its\n"
           "Pareto front with the fitted law, each parameter against cost, learning\n"
           "curves, trials, workers and the scaling laws (docs/dashboard.md).  The page\n"
           "polls a JSON API under /api/ every 2 s; the store is opened read-only, so it\n"
           "runs beside `carbs serve` or after it stopped.\n\n"
           "  --bind ADDR:PORT  where to listen (default %s; port 0 picks one);\n"
           "                    any non-loopback address needs the token printed at start\n"
           "  --require-token   need the token on loopback too\n"
           "  --assets DIR      uPlot's %s and %s (default %s);\n"
           "                    without them the page shows tables only\n"
           "  --db PATH         the store\n",
           usage_text, DEFAULT_BIND, UPLOT_JS, UPLOT_CSS, CARBS_DASHBOARD_ASSETS);
    return CLI_EXIT_OK;
}

int cmd_dashboard(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"bind", required_argument, NULL, 'b'},
        {"assets", required_argument, NULL, 'a'},
        {"require-token", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *bind = DEFAULT_BIND, *assets = CARBS_DASHBOARD_ASSETS;
    bool require_token = false;
    struct addrinfo *ai = NULL;
    struct MHD_Daemon *daemon = NULL;
    const union MHD_DaemonInfo *info;
    carbs_err_t err = {0};
    dash_t d = {0};
    sigset_t stop;
    int c, sig, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            return help();
        case 'd':
            db_opt = optarg;
            break;
        case 'b':
            bind = optarg;
            break;
        case 'a':
            assets = optarg;
            break;
        case 't':
            require_token = true;
            break;
        default:
            return rc;
        }
    }
    if (optind < argc)
        return cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind]);
    if (parse_bind(bind, &ai, &err))
        return cli_usage_error(usage_text, "%s", err.msg);
    d.db = cli_pick_db(g, db_opt);
    d.loopback = addr_is_loopback(ai->ai_addr);
    if (!d.loopback || require_token) {
        unsigned char raw[TOKEN_BYTES];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
            freeaddrinfo(ai);
            return cli_error(CLI_EXIT_FAIL, "cannot draw a token: %s", strerror(errno));
        }
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(d.token + 2 * i, 3, "%02x", raw[i]);
    }
    d.st = verb_store_open(d.db, &err);
    if (!d.st || store_keep_pages(d.st, &err)) {
        store_close(d.st);
        freeaddrinfo(ai);
        return cli_fail(&err);
    }
    d.fitter = dash_fitter_new(d.db, &err);
    if (!d.fitter) {
        rc = cli_fail(&err);
        goto out;
    }
    if (read_asset(assets, UPLOT_JS, &d.uplot_js) || read_asset(assets, UPLOT_CSS, &d.uplot_css))
        log_warn("dashboard: no uPlot in '%s' (./carbs.sh fetches it): charts are unavailable, "
                 "tables still work",
                 assets);
    if (build_index(&d)) {
        rc = cli_error(CLI_EXIT_FAIL, "out of memory");
        goto out;
    }
    /* The server's thread inherits this mask: only the main thread takes
     * SIGINT and SIGTERM, in sigwait() below. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                                  (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                              0, NULL, NULL, on_request, &d, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                              NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!daemon) {
        rc = cli_error(CLI_EXIT_FAIL, "cannot listen on '%s' (in use, or not an address here)",
                       bind);
        goto out;
    }
    info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    d.port = info ? info->port : 0;
    {
        char host[INET6_ADDRSTRLEN + 2] = "";
        char num[INET6_ADDRSTRLEN];
        getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0, NI_NUMERICHOST);
        snprintf(host, sizeof(host), ai->ai_family == AF_INET6 ? "[%s]" : "%s", num);
        fprintf(stderr, "carbs dashboard: store %s on http://%s:%u/%s%s\n", d.db, host, d.port,
                d.token[0] ? "?token=" : "", d.token);
        fflush(stderr);
    }
    while (sigwait(&stop, &sig) != 0)
        ;
    log_info("dashboard: signal %d, stopping", sig);
out:
    if (daemon)
        MHD_stop_daemon(daemon);
    freeaddrinfo(ai);
    dash_fitter_free(d.fitter);
    store_close(d.st);
    dash_cache_release(&d.cache);
    free(d.index);
    free(d.uplot_js.data);
    free(d.uplot_css.data);
    return rc;
}
