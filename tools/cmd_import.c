/*
 * cmd_import.c - `carbs import SWEEP FILE|-`: add finished trials from
 * elsewhere (an export of another sweep, another tool's results) to a
 * sweep, so the optimizer learns from them.
 *
 * The input is JSON lines or one JSON array of export records
 * (docs/protocol.md, The export record; only params, output, cost and
 * is_failure are required).  Everything is checked before anything is sent:
 * the JSON of every record, its parameters against the sweep's space (every
 * parameter present, inside its bounds, a known category; no names that are
 * neither parameters nor fixed settings) and a positive cost for a success.
 * A bad record names its line and field and the command exits 2 with nothing
 * stored.  Then the records go to the service in `import` requests
 * (request_send(), the writer rule of docs/store.md), each frame under
 * PROTO_FRAME_MAX.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <errno.h>
#include <math.h>

#include "optimizer/space.h"
#include "tools/format.h"
#include "tools/request.h"
#include "tools/verb.h"

static const char usage_text[] = "carbs import SWEEP FILE|- [--db PATH] [--chunk-bytes N]";

/* Room left in a frame for the envelope: {"v":1,"type":"import",
 * "sweep":"<63 bytes>","records":"..."} is well under this. */
#define IMPORT_ENVELOPE 1024

/* One record of the input and the line it starts on. */
typedef struct item {
    proto_record_t rec;
    size_t line;
} item_t;

typedef DA_TYPE(item_t) items_t;

// ---- reading ----

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int read_all(const char *path, char **text, size_t *len, carbs_err_t *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    DA_TYPE(char) buf = {0};
    int rc = 0;

    if (!f)
        return carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (DA_RESERVE(&buf, 65536 + 1)) {
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", path);
            break;
        }
        got = fread(buf.v + buf.n, 1, buf.cap - buf.n - 1, f);
        buf.n += got;
        if (got == 0) {
            if (ferror(f))
                rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (rc) {
        DA_FREE(&buf);
        return rc;
    }
    buf.v[buf.n] = '\0';
    *text = buf.v;
    *len = buf.n;
    return 0;
}

static int push_item(items_t *items, const char *src, const char *p, size_t n, size_t line,
                     carbs_err_t *err)
{
    item_t it = {.line = line};
    int rc = proto_record_decode(p, n, &it.rec, err);

    if (rc) {
        char where[256];
        snprintf(where, sizeof(where), "%s:%zu", src, line);
        carbs_err_prefix(err, where);
        err->code = rc == CARBS_ENOMEM ? rc : CARBS_EINVAL;
        return err->code;
    }
    if (DA_PUSH(items, it)) {
        proto_record_release(&it.rec);
        return carbs_fail(err, CARBS_ENOMEM, "out of memory reading '%s'", src);
    }
    return 0;
}

/* JSON lines: every non-blank line is one record. */
static int decode_lines(const char *src, const char *text, size_t len, items_t *items,
                        carbs_err_t *err)
{
    size_t line = 1;

    for (size_t i = 0; i < len; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t a = i, b = end;

        while (a < b && is_ws(text[a]))
            a++;
        while (b > a && is_ws(text[b - 1]))
            b--;
        if (b > a) {
            int rc = push_item(items, src, text + a, b - a, line, err);
            if (rc)
                return rc;
        }
        i = end + 1;
    }
    return 0;
}

/* One JSON array: find where each element starts and ends (strings and
 * nesting respected), then decode every element on its own so an error
 * names the line it starts on.  The decoder checks each element's JSON; the
 * scan checks the array around them. */
static int decode_array(const char *src, const char *text, size_t len, items_t *items,
                        carbs_err_t *err)
{
    size_t line = 1, depth = 0, start = 0, start_line = 0, i;
    bool in_str = false, esc = false, open = false, closed = false, want = true;
    int rc;

    for (i = 0; i < len && !closed; i++) {
        char ch = text[i];
        if (ch == '\n')
            line++;
        if (in_str) {
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (is_ws(ch))
            continue;
        if (depth == 1 && (ch == ',' || ch == ']')) {
            if (open) {
                size_t b = i;
                while (b > start && is_ws(text[b - 1]))
                    b--;
                rc = push_item(items, src, text + start, b - start, start_line, err);
                if (rc)
                    return rc;
                open = false;
            } else if (ch == ',' || !want || items->n > 0) {
                return carbs_fail(err, CARBS_EINVAL, "%s:%zu: an empty element in the array",
                                  src, line);
            }
            want = ch == ',';
            if (ch == ']') {
                depth = 0;
                closed = true;
            }
            continue;
        }
        if (depth == 0) {
            if (ch != '[')
                return carbs_fail(err, CARBS_EINVAL, "%s:%zu: expected '['", src, line);
            depth = 1;
            continue;
        }
        if (depth == 1 && !open) {
            if (!want)
                return carbs_fail(err, CARBS_EINVAL, "%s:%zu: expected ',' or ']'", src, line);
            open = true;
            want = false;
            start = i;
            start_line = line;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == '{' || ch == '[')
            depth++;
        else if ((ch == '}' || ch == ']') && depth > 1)
            depth--;
    }
    if (!closed)
        return carbs_fail(err, CARBS_EINVAL, "%s:%zu: the array is not closed", src, line);
    for (; i < len; i++) {
        if (text[i] == '\n')
            line++;
        else if (!is_ws(text[i]))
            return carbs_fail(err, CARBS_EINVAL, "%s:%zu: text after the array", src, line);
    }
    return 0;
}

// ---- checking against the sweep ----

static int check_items(const char *src, const verb_sweep_t *vs, const items_t *items,
                       carbs_err_t *err)
{
    space_t *space = space_new(&vs->spec.parameters, err);
    double *u = NULL;
    int rc = 0;

    if (!space)
        return carbs_err_prefix(err, "the sweep's space");
    u = xcalloc(space_dim(space) ? space_dim(space) : 1, sizeof(*u));
    for (size_t i = 0; rc == 0 && i < items->n; i++) {
        const proto_record_t *r = &items->v[i].rec;
        carbs_err_t e = {0};

        if (space_to_basic(space, &r->params, u, &e)) {
            rc = carbs_fail(err, CARBS_EINVAL, "%s:%zu: record: field 'params': %s", src,
                            items->v[i].line, e.msg);
            break;
        }
        for (size_t k = 0; k < r->params.n; k++) {
            const char *name = r->params.v[k].name;
            if (!carbs_space_find(&vs->spec.parameters, name) &&
                !carbs_params_find(&vs->spec.fixed, name)) {
                rc = carbs_fail(err, CARBS_EINVAL,
                                "%s:%zu: record: field 'params.%s' is not a parameter of sweep "
                                "'%s'",
                                src, items->v[i].line, name, vs->row.name);
                break;
            }
        }
        if (rc == 0 && !r->is_failure && !(isfinite(r->cost) && r->cost > 0))
            rc = carbs_fail(err, CARBS_EINVAL,
                            "%s:%zu: record: field 'cost' must be a positive number for a "
                            "success (got %g)",
                            src, items->v[i].line, r->cost);
    }
    free(u);
    space_free(space);
    return rc;
}

// ---- sending ----

/* The bytes one record takes inside the import frame: its JSON, escaped
 * once more as a string, and a comma. */
static int record_wire_size(const proto_record_t *rec, size_t *size, carbs_err_t *err)
{
    char *text = NULL;
    size_t len = 0, n;
    int rc = proto_record_encode(rec, &text, &len, err);

    if (rc)
        return rc;
    n = len + 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '"' || text[i] == '\\')
            n++;
    free(text);
    *size = n;
    return 0;
}

static int send_chunk(const char *db, const char *sweep, const items_t *items, size_t from,
                      size_t to, carbs_err_t *err)
{
    proto_record_t *v = xcalloc(to - from, sizeof(*v));
    proto_msg_t m, reply = {0};
    int rc;

    /* Shallow copies: the records stay owned by items. */
    for (size_t i = from; i < to; i++)
        v[i - from] = items->v[i].rec;
    proto_msg_init(&m, PROTO_MSG_IMPORT);
    str_copy(m.import.sweep, sizeof(m.import.sweep), sweep);
    rc = proto_records_encode(v, to - from, &m.import.records, NULL, err);
    free(v);
    if (rc == 0)
        rc = request_send(db, sweep, &m, &reply, err);
    if (rc == 0)
        rc = verb_reply_check(&reply, err);
    if (rc == 0 && reply.reply.message[0])
        log_info("import: %s", reply.reply.message);
    proto_msg_release(&reply);
    proto_msg_release(&m);
    return rc;
}

static int send_all(const char *db, const char *sweep, const items_t *items, size_t budget,
                    size_t *sent, size_t *requests, carbs_err_t *err)
{
    size_t from = 0, used = 0;
    int rc;

    *sent = *requests = 0;
    for (size_t i = 0; i <= items->n; i++) {
        size_t size = 0;
        rc = i < items->n ? record_wire_size(&items->v[i].rec, &size, err) : 0;
        if (rc)
            return rc;
        if (i < items->n && size > budget)
            return carbs_fail(err, CARBS_ETOOBIG,
                              "record on line %zu is %zu bytes encoded, more than a request "
                              "holds (%zu)",
                              items->v[i].line, size, budget);
        if (i > from && (i == items->n || used + size > budget)) {
            rc = send_chunk(db, sweep, items, from, i, err);
            if (rc)
                return rc;
            *sent += i - from;
            *requests += 1;
            from = i;
            used = 0;
        }
        used += size;
    }
    return 0;
}

int cmd_import(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"chunk-bytes", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *db, *sweep, *src;
    size_t budget = PROTO_FRAME_MAX - IMPORT_ENVELOPE, sent = 0, requests = 0, len = 0;
    items_t items = {0};
    verb_sweep_t vs = {0};
    carbs_err_t err = {0};
    char *text = NULL;
    const char *p;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\n"
                   "Add finished trials to SWEEP from FILE (- for stdin): JSON lines or one JSON\n"
                   "array of export records, as `carbs export` writes them (only params, output,\n"
                   "cost and is_failure are needed).  Every record is checked first; a bad one\n"
                   "names its line and field and nothing is stored (exit 2).  The records go to\n"
                   "the service holding the store (or a one-shot one) in requests of at most\n"
                   "--chunk-bytes bytes of records (default: what fits in one frame).\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'c':
            if (parse_size(optarg, PROTO_FRAME_MAX - IMPORT_ENVELOPE, &budget) || budget < 256)
                return cli_usage_error(usage_text, "--chunk-bytes '%s' is not a size in [256, %d]",
                                       optarg, PROTO_FRAME_MAX - IMPORT_ENVELOPE);
            break;
        default:
            return rc;
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(usage_text,
                               argc - optind < 2 ? "missing SWEEP or FILE" : "too many arguments");
    db = cli_pick_db(g, db_opt);
    sweep = argv[optind];
    src = strcmp(argv[optind + 1], "-") == 0 ? "<stdin>" : argv[optind + 1];
    if (verb_sweep_open(db, sweep, &vs, &err))
        return cli_fail(&err);
    if (vs.row.state != CARBS_SWEEP_ACTIVE && vs.row.state != CARBS_SWEEP_PAUSED) {
        rc = cli_error(CLI_EXIT_FAIL, "sweep '%s' is %s: nothing can be imported into it",
                       vs.row.name, carbs_sweep_state_name(vs.row.state));
        goto out;
    }
    if (read_all(argv[optind + 1], &text, &len, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    p = text;
    while (p < text + len && is_ws(*p))
        p++;
    if (p < text + len && *p == '[')
        rc = decode_array(src, text, len, &items, &err);
    else
        rc = decode_lines(src, text, len, &items, &err);
    if (rc == 0)
        rc = check_items(src, &vs, &items, &err);
    if (rc) {
        rc = cli_error(rc == CARBS_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE, "%s", err.msg);
        goto out;
    }
    if (items.n == 0) {
        rc = cli_error(CLI_EXIT_USAGE, "%s: no records", src);
        goto out;
    }
    verb_sweep_close(&vs); /* the request's service opens the store for writing */
    if (send_all(db, sweep, &items, budget, &sent, &requests, &err)) {
        if (sent)
            log_error("import: %zu of %zu records were stored by earlier requests", sent,
                      items.n);
        rc = cli_fail(&err);
        goto out;
    }
    log_info("import: imported trials teach the optimizer but use up none of the sweep's "
             "budget.trials or budget.cost (docs/cli.md, carbs import)");
    printf("{\"sweep\":");
    format_json_str(stdout, sweep);
    printf(",\"imported\":%zu,\"requests\":%zu}\n", sent, requests);
out:
    for (size_t i = 0; i < items.n; i++)
        proto_record_release(&items.v[i].rec);
    DA_FREE(&items);
    free(text);
    verb_sweep_close(&vs);
    return rc;
}
