/*
 * cmd_asktell.c - `carbs ask-tell`: drive one optimizer over stdin/stdout,
 * one JSON object per line each way (the grammar is in proto/asktell.h), so
 * a program in any language can run a CARBS loop without the service.
 *
 * The command keeps one carbs_t and hands out suggestion ids "1", "2", ...
 * (registered as pending at once, so later suggestions fantasize them).  A
 * bad line gets {"ok":false,"error":...} and the loop goes on; logs go to
 * stderr; end of input or {"cmd":"quit"} ends it with exit status 0.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>

#include "optimizer/carbs.h"
#include "proto/asktell.h"

#define ASKTELL_USAGE "carbs ask-tell [--help]"

/* A line longer than this is refused: the largest real request (a space of
 * a few hundred parameters) is a few tens of kilobytes. */
#define ASKTELL_LINE_MAX (1u << 20)

typedef struct session {
    carbs_t *c;
    int64_t next_id;
} session_t;

// ---- configuration ----

typedef enum opt_field {
    F_SIGN,
    F_SEED,
    F_RANDOM,
    F_RADIUS,
    F_BIAS,
    F_CANDIDATES,
    F_RESAMPLE,
    F_MAX_COST,
    F_FRACTION,
    F_CONSERVATIVE,
    F_CLAMP,
    F_ALWAYS_MAX,
    F_ESTIMATOR,
    F_GP_FIT,
    F_MAX_FIT,
} opt_field_t;

static const struct {
    const char *name;
    opt_field_t field;
} config_keys[] = {
    {"better_direction_sign", F_SIGN},
    {"seed", F_SEED},
    {"num_random_samples", F_RANDOM},
    {"initial_search_radius", F_RADIUS},
    {"exploration_bias", F_BIAS},
    {"num_candidates_for_suggestion_per_dim", F_CANDIDATES},
    {"resample_frequency", F_RESAMPLE},
    {"max_suggestion_cost", F_MAX_COST},
    {"min_pareto_cost_fraction", F_FRACTION},
    {"is_pareto_group_selection_conservative", F_CONSERVATIVE},
    {"is_expected_improvement_pareto_value_clamped", F_CLAMP},
    {"is_expected_improvement_value_always_max", F_ALWAYS_MAX},
    {"outstanding_suggestion_estimator", F_ESTIMATOR},
    {"gp_fit", F_GP_FIT},
    {"max_fit_observations", F_MAX_FIT},
};

/* An integral number in [lo, hi]. */
static int opt_int(const asktell_opt_t *o, double lo, double hi, long long *out, carbs_err_t *err)
{
    if (o->type != ASKTELL_OPT_NUM || o->num != trunc(o->num) || o->num < lo || o->num > hi)
        return carbs_fail(err, CARBS_EINVAL, "config '%s' must be an integer in [%g, %g]",
                          o->name, lo, hi);
    *out = (long long)o->num;
    return 0;
}

static int opt_num(const asktell_opt_t *o, double *out, carbs_err_t *err)
{
    if (o->type != ASKTELL_OPT_NUM)
        return carbs_fail(err, CARBS_EINVAL, "config '%s' must be a number", o->name);
    *out = o->num;
    return 0;
}

static int opt_bool(const asktell_opt_t *o, bool *out, carbs_err_t *err)
{
    if (o->type != ASKTELL_OPT_BOOL)
        return carbs_fail(err, CARBS_EINVAL, "config '%s' must be true or false", o->name);
    *out = o->b;
    return 0;
}

static int opt_enum(const asktell_opt_t *o, int (*parse)(const char *), int *out,
                    carbs_err_t *err)
{
    int v = o->type == ASKTELL_OPT_STR ? parse(o->str) : -1;

    if (v < 0)
        return carbs_fail(err, CARBS_EINVAL, "config '%s' has an unknown value", o->name);
    *out = v;
    return 0;
}

static int apply_opt(carbs_config_t *cfg, opt_field_t f, const asktell_opt_t *o, carbs_err_t *err)
{
    long long i = 0;
    int e = 0, rc = 0;

    switch (f) {
    case F_SIGN:
        rc = opt_int(o, -1, 1, &i, err);
        cfg->better_direction_sign = (int)i;
        break;
    case F_SEED:
        rc = opt_int(o, 0, 9007199254740992.0, &i, err);
        cfg->seed = (uint64_t)i;
        break;
    case F_RANDOM:
        rc = opt_int(o, 1, 1e9, &i, err);
        cfg->num_random_samples = (int)i;
        break;
    case F_RADIUS:
        return opt_num(o, &cfg->initial_search_radius, err);
    case F_BIAS:
        return opt_num(o, &cfg->exploration_bias, err);
    case F_CANDIDATES:
        rc = opt_int(o, 1, 1e9, &i, err);
        cfg->num_candidates_for_suggestion_per_dim = (int)i;
        break;
    case F_RESAMPLE:
        rc = opt_int(o, -1e9, 1e9, &i, err);
        cfg->resample_frequency = (int)i;
        break;
    case F_MAX_COST:
        return opt_num(o, &cfg->max_suggestion_cost, err);
    case F_FRACTION:
        return opt_num(o, &cfg->min_pareto_cost_fraction, err);
    case F_CONSERVATIVE:
        return opt_bool(o, &cfg->is_pareto_group_selection_conservative, err);
    case F_CLAMP:
        return opt_bool(o, &cfg->is_expected_improvement_pareto_value_clamped, err);
    case F_ALWAYS_MAX:
        return opt_bool(o, &cfg->is_expected_improvement_value_always_max, err);
    case F_ESTIMATOR:
        rc = opt_enum(o, carbs_estimator_parse, &e, err);
        cfg->outstanding_suggestion_estimator = (carbs_estimator_t)e;
        break;
    case F_GP_FIT:
        rc = opt_enum(o, carbs_gp_fit_parse, &e, err);
        cfg->gp_fit = (carbs_gp_fit_t)e;
        break;
    case F_MAX_FIT:
        rc = opt_int(o, 0, 1e12, &i, err);
        cfg->max_fit_observations = (size_t)i;
        break;
    }
    return rc;
}

/* Build the config of an init request; names of ignored keys are appended
 * to ignored[cap]. */
static int build_config(const asktell_cmd_t *cmd, carbs_config_t *cfg, char *ignored, size_t cap,
                        carbs_err_t *err)
{
    carbs_config_defaults(cfg);
    for (size_t k = 0; k < cmd->config.n; k++) {
        const asktell_opt_t *o = &cmd->config.v[k];
        size_t j = 0;
        int rc;

        while (j < ARRAY_SIZE(config_keys) && strcmp(config_keys[j].name, o->name) != 0)
            j++;
        if (j == ARRAY_SIZE(config_keys)) {
            size_t used = strlen(ignored);
            snprintf(ignored + used, cap - used, "%s'%s'", used ? ", " : "", o->name);
            continue;
        }
        rc = apply_opt(cfg, config_keys[j].field, o, err);
        if (rc < 0)
            return rc;
    }
    if (cmd->has_seed)
        cfg->seed = cmd->seed;
    if (cmd->has_sign)
        cfg->better_direction_sign = cmd->sign;
    return 0;
}

// ---- commands ----

static int reply_ok(const char *warning, char **out, carbs_err_t *err)
{
    return asktell_encode_ok(warning, out, err);
}

static int do_init(session_t *s, const asktell_cmd_t *cmd, char **out, carbs_err_t *err)
{
    char ignored[512] = "", warning[600];
    carbs_config_t cfg;
    carbs_t *c;
    int rc;

    rc = build_config(cmd, &cfg, ignored, sizeof(ignored), err);
    if (rc < 0)
        return rc;
    c = carbs_new(&cmd->space, &cfg, err);
    if (!c)
        return err->code;
    carbs_free(s->c);
    s->c = c;
    s->next_id = 1;
    log_info("ask-tell: optimizer ready dim=%zu seed=%llu sign=%d", carbs_dim(c),
             (unsigned long long)cfg.seed, cfg.better_direction_sign);
    if (!ignored[0])
        return reply_ok(NULL, out, err);
    snprintf(warning, sizeof(warning), "ignored config keys: %s", ignored);
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
    rc = carbs_pending_add(s->c, s->next_id, &sug.params, sug.u, err);
    if (rc < 0)
        goto out;
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

    rc = carbs_observe(s->c, &obs, err);
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
    session_t s = {NULL, 1};
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
            continue;
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
    return status;
}
