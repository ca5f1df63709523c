/*
 * cmd_asktell.c - `carbs ask-tell`: drive one optimizer over stdin/stdout,
 * one JSON object per line each way (the grammar is in proto/asktell.h), so
 * a program in any language can run a CARBS loop without the service.
 *
 * The command keeps one carbs_t and hands out suggestion ids "1", "2", ...
 * (registered as pending at once, so later suggestions fantasize them).  A
 * bad line gets {"ok":false,"error":...} and the loop goes on (a blank line
 * is skipped without a reply; a second observe of one suggestion id is
 * refused, so it counts once); logs go to stderr; end of input or {"cmd":"quit"} ends it with exit status 0.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <getopt.h>
#include <limits.h>

#include "optimizer/carbs.h"
#include "proto/asktell.h"

#define ASKTELL_USAGE "carbs ask-tell [--help]"

/* A line longer than this is refused: the largest real request (a space of
 * a few hundred parameters) is a few tens of kilobytes. */
#define ASKTELL_LINE_MAX (1u << 20)

typedef struct session {
    carbs_t *c;
    int64_t next_id;
    DA_TYPE(bool) observed; /* [id - 1]: suggestion id was observed */
} session_t;

// ---- commands ----

static int reply_ok(const char *warning, char **out, carbs_err_t *err)
{
    return asktell_encode_ok(warning, out, err);
}

static int do_init(session_t *s, const asktell_cmd_t *cmd, char **out, carbs_err_t *err)
{
    const carbs_config_t *cfg = &cmd->config; /* checked by the codec */
    char warning[ASKTELL_IGNORED_MAX + 32];
    carbs_t *c;

    c = carbs_new(&cmd->space, cfg, err);
    if (!c)
        return err->code;
    carbs_free(s->c);
    s->c = c;
    s->next_id = 1;
    s->observed.n = 0;
    log_info("ask-tell: optimizer ready dim=%zu seed=%llu sign=%d", carbs_dim(c),
             (unsigned long long)cfg->seed, cfg->better_direction_sign);
    if (!cmd->ignored[0])
        return reply_ok(NULL, out, err);
    snprintf(warning, sizeof(warning), "ignored config keys: %s", cmd->ignored);
    return reply_ok(warning, out, err);
}

static int do_suggest(session_t *s, char **out, carbs_err_t *err)
{
    carbs_suggestion_t sug = {0};
    char id[32];
    asktell_suggestion_t as;
    int rc;

    rc = carbs_suggest(s->c, &sug, err);
    if (rc < 0)
        goto out;
    if (DA_PUSH(&s->observed, false)) {
        rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
        goto out;
    }
    rc = carbs_pending_add(s->c, s->next_id, &sug.params, sug.u, err);
    if (rc < 0) {
        s->observed.n--;
        goto out;
    }
    snprintf(id, sizeof(id), "%lld", (long long)s->next_id++);
    as = (asktell_suggestion_t){
        .id = id,
        .kind = carbs_suggest_kind_name(sug.kind),
        .params = &sug.params,
        .pred_output = sug.pred_output,
        .pred_cost = sug.pred_cost,
        .p_success = sug.p_success,
    };
    log_debug("ask-tell: suggestion %s (%s)", id, as.kind);
    rc = asktell_encode_suggestion(&as, out, err);
out:
    carbs_suggestion_release(&sug);
    return rc;
}

/* The handle's id for a request id: our ids are positive decimals; any
 * other text is no pending suggestion (0). */
static int64_t parse_id(const char *id)
{
    long v;

    if (parse_long(id, 1, LONG_MAX, &v) < 0)
        return 0;
    return (int64_t)v;
}

static int do_observe(session_t *s, asktell_cmd_t *cmd, char **out, carbs_err_t *err)
{
    carbs_obs_t obs = {
        .id = parse_id(cmd->id),
        .params = cmd->params,
        .output = cmd->output,
        .cost = cmd->cost,
        .is_failure = cmd->is_failure,
    };
    char warning[300];
    int rc;

    /* One of our suggestions observed twice would count twice. */
    if (obs.id > 0 && obs.id < s->next_id && s->observed.v[obs.id - 1])
        return carbs_fail(err, CARBS_EEXIST,
                          "suggestion '%s' was observed already; this observation is not "
                          "recorded",
                          cmd->id);
    rc = carbs_observe(s->c, &obs, err);
    if (obs.id > 0 && obs.id < s->next_id && (rc == 0 || rc == CARBS_ENOTFOUND))
        s->observed.v[obs.id - 1] = true;
    if (rc == 0 && cmd->id[0] && obs.id == 0) {
        snprintf(warning, sizeof(warning),
                 "observation recorded, but suggestion '%s' was not pending", cmd->id);
        log_warn("ask-tell: %s", warning);
        return reply_ok(warning, out, err);
    }
    if (rc == CARBS_ENOTFOUND) {
        log_warn("ask-tell: %s", err->msg);
        return reply_ok(err->msg, out, err);
    }
    if (rc < 0)
        return rc;
    return reply_ok(NULL, out, err);
}

static int do_forget(session_t *s, const asktell_cmd_t *cmd, char **out, carbs_err_t *err)
{
    int64_t id = parse_id(cmd->id);
    int rc;

    if (id == 0)
        return carbs_fail(err, CARBS_ENOTFOUND, "suggestion '%s' is not pending", cmd->id);
    rc = carbs_forget(s->c, id, err);
    if (rc < 0)
        return rc;
    return reply_ok(NULL, out, err);
}

static int do_pareto(session_t *s, char **out, carbs_err_t *err)
{
    carbs_pareto_point_t *pts = NULL;
    asktell_point_t *ap = NULL;
    char (*ids)[32] = NULL;
    size_t n = 0;
    int rc;

    rc = carbs_pareto(s->c, &pts, &n, err);
    if (rc < 0)
        return rc;
    ap = xcalloc(n ? n : 1, sizeof(*ap));
    ids = xcalloc(n ? n : 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        if (pts[i].id)
            snprintf(ids[i], sizeof(ids[i]), "%lld", (long long)pts[i].id);
        ap[i] = (asktell_point_t){ids[i], &pts[i].params, pts[i].output, pts[i].cost, pts[i].n};
    }
    rc = asktell_encode_pareto(ap, n, out, err);
    free(ids);
    free(ap);
    carbs_pareto_free(pts, n);
    return rc;
}

/* Answer one line into *out; returns 1 after quit, else 0. */
static int handle_line(session_t *s, const char *line, size_t len, char **out)
{
    asktell_cmd_t cmd;
    carbs_err_t err = {0};
    int rc, quit = 0;

    rc = asktell_decode(line, len, &cmd, &err);
    if (rc < 0)
        goto reply;
    if (!s->c && cmd.kind != ASKTELL_INIT && cmd.kind != ASKTELL_QUIT) {
        rc = carbs_fail(&err, CARBS_ESTATE, "no optimizer yet: send {\"cmd\":\"init\",...} first");
        goto reply;
    }
    switch (cmd.kind) {
    case ASKTELL_INIT:
        rc = do_init(s, &cmd, out, &err);
        break;
    case ASKTELL_SUGGEST:
        rc = do_suggest(s, out, &err);
        break;
    case ASKTELL_OBSERVE:
        rc = do_observe(s, &cmd, out, &err);
        break;
    case ASKTELL_FORGET:
        rc = do_forget(s, &cmd, out, &err);
        break;
    case ASKTELL_PARETO:
        rc = do_pareto(s, out, &err);
        break;
    case ASKTELL_QUIT:
    default:
        quit = 1;
        rc = reply_ok(NULL, out, &err);
        break;
    }
reply:
    asktell_cmd_release(&cmd);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        log_debug("ask-tell: error: %s", err.msg);
        if (asktell_encode_error(err.msg[0] ? err.msg : carbs_strerror(rc), out, NULL) < 0)
            *out = NULL;
    }
    return quit;
}

int cmd_asktell(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    session_t s = {.c = NULL, .next_id = 1};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int c, status = CLI_EXIT_OK;

    UNUSED(g);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: %s\n\nRead one JSON request per line on stdin (init, suggest, observe,\n"
                   "forget, pareto, quit) and write one JSON reply per line on stdout.\n",
                   ASKTELL_USAGE);
            return CLI_EXIT_OK;
        }
        return cli_usage_error(ASKTELL_USAGE, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(ASKTELL_USAGE, "unexpected argument '%s'", argv[optind]);
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        char *out = NULL;
        int quit = 0;

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue; /* a blank line is skipped, with no reply */
        if ((size_t)n > ASKTELL_LINE_MAX) {
            if (asktell_encode_error("line is longer than 1 MiB", &out, NULL) < 0)
                out = NULL;
        } else {
            quit = handle_line(&s, line, (size_t)n, &out);
        }
        if (out) {
            fputs(out, stdout);
            fputc('\n', stdout);
        } else {
            fputs("{\"ok\":false,\"error\":\"out of memory\"}\n", stdout);
        }
        free(out);
        if (fflush(stdout) != 0) {
            status = CLI_EXIT_FAIL;
            break;
        }
        if (quit)
            break;
    }
    free(line);
    carbs_free(s.c);
    DA_FREE(&s.observed);
    return status;
}
